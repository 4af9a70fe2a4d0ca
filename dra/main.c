/* kyborg-dra-driver: the front end. Parses the command line, checks the
 * config (--check-config: what the driver will serve) or runs the driver
 * in libkyborg_dra, and turns the final error into an exit code. */
#include "dra.h"
#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/base/log.h"
#include "kyborg/state/paths.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROG "kyborg-dra-driver"

static void usage(FILE *f)
{
	fputs("usage: " PROG " --config FILE [--driver-name NAME] [--node-name NODE]\n"
	      "                         [--api-server URL --token-file FILE --ca-file FILE]\n"
	      "                         [--registration-dir DIR] [--plugin-dir DIR] [--cdi-dir DIR]\n"
	      "                         [--state-dir DIR] [--fetch-helper PATH] [--bitstream-dir DIR]\n"
	      "                         [--log-level LEVEL] [--check-config]\n"
	      "                         [--gpu-sharing auto|consumable|split] [--unhealthy-devices auto|taint|omit]\n"
	      "  --claims-dir DIR  testing only: ResourceClaims from DIR/<namespace>/<name>.json, not the API server\n",
	      f);
}

static int fail(const char *fmt, const char *arg)
{
	fprintf(stderr, PROG ": ");
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	return 2;
}

/* The index of s among words (NULL-terminated), or -1. */
static int word(const char *s, const char *const words[])
{
	for (int i = 0; words[i]; i++)
		if (strcmp(s, words[i]) == 0)
			return i;
	return -1;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "driver-name", required_argument, NULL, 'n' },
		{ "node-name", required_argument, NULL, 'N' },
		{ "api-server", required_argument, NULL, 'a' },
		{ "token-file", required_argument, NULL, 't' },
		{ "ca-file", required_argument, NULL, 'A' },
		{ "registration-dir", required_argument, NULL, 'r' },
		{ "plugin-dir", required_argument, NULL, 'p' },
		{ "cdi-dir", required_argument, NULL, 'C' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "fetch-helper", required_argument, NULL, 'f' },
		{ "bitstream-dir", required_argument, NULL, 'B' },
		{ "claims-dir", required_argument, NULL, 'T' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "check-config", no_argument, NULL, 'k' },
		{ "gpu-sharing", required_argument, NULL, 'g' },
		{ "unhealthy-devices", required_argument, NULL, 'u' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct dra_options opts = {
		.driver_name = DRA_DEFAULT_DRIVER,
		.node_name = getenv("NODE_NAME"),
		.registration_dir = KY_KUBELET_PLUGINS_REGISTRY_DEFAULT,
		.cdi_dir = KY_CDI_DIR_DEFAULT,
		.state_dir = KY_DRA_STATE_DIR_DEFAULT,
		.fetch_helper = KYBORG_FETCH_HELPER,
	};
	enum ky_log_level level = KY_LOG_INFO;
	bool check = false;
	int c, k;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			opts.config_path = optarg;
			break;
		case 'n':
			opts.driver_name = optarg;
			break;
		case 'N':
			opts.node_name = optarg;
			break;
		case 'a':
			opts.api_server = optarg;
			break;
		case 't':
			opts.token_file = optarg;
			break;
		case 'A':
			opts.ca_file = optarg;
			break;
		case 'r':
			opts.registration_dir = optarg;
			break;
		case 'p':
			opts.plugin_dir = optarg;
			break;
		case 'C':
			opts.cdi_dir = optarg;
			break;
		case 's':
			opts.state_dir = optarg;
			break;
		case 'f':
			opts.fetch_helper = optarg;
			break;
		case 'B':
			opts.bitstream_dir = optarg;
			break;
		case 'T':
			opts.claims_dir = optarg;
			break;
		case 'l':
			if (ky_log_level_parse(optarg, &level) < 0)
				return fail("--log-level: not one of error, warn, info, debug: %s", optarg);
			break;
		case 'k':
			check = true;
			break;
		case 'g':
			if ((k = word(optarg, (const char *const[]){ "auto", "consumable", "split", NULL })) < 0)
				return fail("--gpu-sharing: not one of auto, consumable, split: %s", optarg);
			opts.gpu_sharing = (enum dra_sharing)k;
			break;
		case 'u':
			if ((k = word(optarg, (const char *const[]){ "auto", "taint", "omit", NULL })) < 0)
				return fail("--unhealthy-devices: not one of auto, taint, omit: %s", optarg);
			opts.unhealthy = (enum dra_unhealthy)k;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf(PROG " %s\n", KYBORG_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return fail("unexpected argument: %s", argv[optind]);
	}
	if (!opts.config_path) {
		usage(stderr);
		return fail("--config FILE is required%s", "");
	}
	const char *problem = dra_driver_name_problem(opts.driver_name);
	if (problem) {
		fprintf(stderr, PROG ": --driver-name %s: %s\n", opts.driver_name, problem);
		return 2;
	}
	if (opts.node_name && *opts.node_name && (problem = dra_node_name_problem(opts.node_name))) {
		fprintf(stderr, PROG ": --node-name %s: %s\n", opts.node_name, problem);
		return 2;
	}
	if (!check && (!opts.node_name || !*opts.node_name))
		return fail("--node-name (or $NODE_NAME) is required: the pool is named after the node%s", "");
	/* In-cluster by default; explicitly, all three (what in-cluster config is). */
	if (opts.api_server) {
		if (strncmp(opts.api_server, "https://", 8) != 0)
			return fail("--api-server must be an https:// URL (the token never travels in clear): %s",
				    opts.api_server);
		if (!opts.token_file)
			return fail("--api-server needs --token-file%s", "");
	} else if (opts.token_file || opts.ca_file) {
		return fail("--token-file and --ca-file go with --api-server (without it: in-cluster)%s", "");
	}
	if (opts.fetch_helper[0] != '/')
		return fail("--fetch-helper must be an absolute path: %s", opts.fetch_helper);
	const char *dirs[] = { opts.registration_dir, opts.plugin_dir, opts.cdi_dir, opts.state_dir, opts.claims_dir,
			       opts.bitstream_dir };
	for (size_t i = 0; i < KY_ARRAY_SIZE(dirs); i++)
		if (dirs[i] && dirs[i][0] != '/')
			return fail("directories must be absolute paths: %s", dirs[i]);

	_cleanup_error_ struct ky_error *err = NULL;
	if (check) {
		if (dra_check_config(&opts, stdout, &err) < 0) {
			fprintf(stderr, PROG ": %s\n", ky_error_msg(err));
			return 1;
		}
		return 0;
	}
	if (ky_log_open(PROG, NULL, level, &err) < 0) {
		fprintf(stderr, PROG ": %s\n", ky_error_msg(err));
		return 1;
	}
	int r = dra_daemon_run(&opts, &err);
	if (r < 0)
		ky_log_err(KY_LOG_ERROR, "exit", err, "code=%d", -r);
	ky_log_close();
	return r < 0 ? 1 : 0;
}

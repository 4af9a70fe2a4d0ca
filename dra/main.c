/* kyborg-dra-driver: the front end. Parses the command line, checks the
 * config (--check-config: what the driver will serve) or a class's or
 * claim's opaque configs (--check-opaque-config), or runs the driver in
 * libkyborg_dra, and turns the final error into an exit code. */
#include "dra.h"
#include "kyborg/base/cleanup.h"
#include "kyborg/base/cli.h"
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
	      "       " PROG " --check-opaque-config FILE|- [--driver-name NAME] [--state-dir DIR] [--bitstream-dir DIR]\n"
	      "                         [--gpu-sharing auto|consumable|split] [--unhealthy-devices auto|taint|omit]\n"
	      "  --claims-dir DIR  testing only: ResourceClaims from DIR/<namespace>/<name>.json, not the API server\n",
	      f);
}

/* The index of s among words (NULL-terminated), or -1. */
static int word(const char *s, const char *const words[])
{
	for (int i = 0; words[i]; i++)
		if (strcmp(s, words[i]) == 0)
			return i;
	return -1;
}

static int run(const void *opts, struct ky_error **err)
{
	return dra_daemon_run(opts, err);
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
		{ "check-opaque-config", required_argument, NULL, 'o' },
		{ "gpu-sharing", required_argument, NULL, 'g' },
		{ "unhealthy-devices", required_argument, NULL, 'u' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	/* The DaemonSet sets it for this process's load only (GnuTLS, which
	 * libcurl's librtmp and libldap bring, left uninitialised: we never use
	 * it); an FPGA loader inherits our environment and may need GnuTLS's
	 * implicit initialisation. */
	unsetenv("GNUTLS_NO_IMPLICIT_INIT");
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
	const char *opaque_file = NULL;
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
				return ky_cli_usage_error(PROG, "--log-level: not one of error, warn, info, debug: %s",
							  optarg);
			break;
		case 'k':
			check = true;
			break;
		case 'o':
			opaque_file = optarg;
			break;
		case 'g':
			if ((k = word(optarg, (const char *const[]){ "auto", "consumable", "split", NULL })) < 0)
				return ky_cli_usage_error(PROG, "--gpu-sharing: not one of auto, consumable, split: %s",
							  optarg);
			opts.gpu_sharing = (enum dra_sharing)k;
			break;
		case 'u':
			if ((k = word(optarg, (const char *const[]){ "auto", "taint", "omit", NULL })) < 0)
				return ky_cli_usage_error(PROG, "--unhealthy-devices: not one of auto, taint, omit: %s",
							  optarg);
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
		return ky_cli_usage_error(PROG, "unexpected argument: %s", argv[optind]);
	}
	if (!opts.config_path && !opaque_file) {
		usage(stderr);
		return ky_cli_usage_error(PROG, "--config FILE is required");
	}
	const char *problem = dra_driver_name_problem(opts.driver_name);
	if (problem)
		return ky_cli_usage_error(PROG, "--driver-name %s: %s", opts.driver_name, problem);
	if (opts.node_name && *opts.node_name && (problem = dra_node_name_problem(opts.node_name)))
		return ky_cli_usage_error(PROG, "--node-name %s: %s", opts.node_name, problem);
	if (!check && !opaque_file && (!opts.node_name || !*opts.node_name))
		return ky_cli_usage_error(PROG,
					  "--node-name (or $NODE_NAME) is required: the pool is named after the node");
	/* In-cluster by default; explicitly, all three (what in-cluster config is). */
	if (opts.api_server) {
		if (strncmp(opts.api_server, "https://", 8) != 0)
			return ky_cli_usage_error(
				PROG, "--api-server must be an https:// URL (the token never travels in clear): %s",
				opts.api_server);
		if (!opts.token_file)
			return ky_cli_usage_error(PROG, "--api-server needs --token-file");
	} else if (opts.token_file || opts.ca_file) {
		return ky_cli_usage_error(PROG,
					  "--token-file and --ca-file go with --api-server (without it: in-cluster)");
	}
	if (opts.fetch_helper[0] != '/')
		return ky_cli_usage_error(PROG, "--fetch-helper must be an absolute path: %s", opts.fetch_helper);
	const char *dirs[] = { opts.registration_dir, opts.plugin_dir, opts.cdi_dir, opts.state_dir, opts.claims_dir,
			       opts.bitstream_dir };
	const char *relative = ky_cli_relative_path(dirs, KY_ARRAY_SIZE(dirs));
	if (relative)
		return ky_cli_usage_error(PROG, "directories must be absolute paths: %s", relative);

	if (opaque_file) {
		_cleanup_error_ struct ky_error *err = NULL;
		return dra_check_opaque_config(&opts, opaque_file, stdout, &err) < 0 ? ky_cli_error(PROG, err) : 0;
	}
	if (check) {
		_cleanup_error_ struct ky_error *err = NULL;
		return dra_check_config(&opts, stdout, &err) < 0 ? ky_cli_error(PROG, err) : 0;
	}
	return ky_cli_run_daemon(PROG, level, run, &opts);
}

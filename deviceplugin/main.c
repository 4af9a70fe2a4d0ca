/* kyborg-device-plugin: the front end. Parses the command line, checks the
 * config (--check-config) or runs the daemon in libkyborg_dp, and turns the
 * final error into an exit code. */
#include "dp.h"
#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/base/log.h"
#include "kyborg/base/strv.h"
#include "kyborg/device/device_watch.h"
#include "kyborg/state/paths.h"

#include <getopt.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The SR-IOV network device plugin's default config, where its DaemonSet
 * mounts the ConfigMap. */
#define SRIOVDP_CONFIG "/etc/pcidp/config.json"

static void usage(FILE *f)
{
	fputs("usage: kyborg-device-plugin [--config FILE] [--plugin-dir DIR] [--cdi-dir DIR] [--devinfo-dir DIR]\n"
	      "                            [--state-dir DIR] [--fetch-helper PATH] [--log-level LEVEL]\n"
	      "                            [--resource-prefix PREFIX] [--check-config]\n"
	      "The SR-IOV network device plugin's options are taken too: --config-file FILE (--config;\n"
	      "default " SRIOVDP_CONFIG "), --resource-prefix, --log-level N (a number: 4 and above is\n"
	      "debug), --log-dir DIR and --use-cdi (accepted: we log to stderr and always write CDI specs).\n",
	      f);
}

/* glog's -v verbosity, as SRIOV-DP's entrypoint passes --log-level=10. */
static int log_level_number(const char *s, enum ky_log_level *out)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (!*s || *end || v < 0)
		return -1;
	*out = v >= 4 ? KY_LOG_DEBUG : KY_LOG_INFO;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "config-file", required_argument, NULL, 'c' },
		{ "resource-prefix", required_argument, NULL, 'P' },
		{ "log-dir", required_argument, NULL, 'L' },
		{ "use-cdi", no_argument, NULL, 'U' },
		{ "plugin-dir", required_argument, NULL, 'p' },
		{ "cdi-dir", required_argument, NULL, 'C' },
		{ "devinfo-dir", required_argument, NULL, 'D' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "fetch-helper", required_argument, NULL, 'f' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "check-config", no_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct dp_options opts = {
		.plugin_dir = KY_KUBELET_PLUGIN_DIR_DEFAULT,
		.cdi_dir = DP_DEFAULT_CDI_DIR,
		.devinfo_dir = DP_DEFAULT_DEVINFO_DIR,
		.state_dir = KY_DP_STATE_DIR_DEFAULT,
		.fetch_helper = KYBORG_FETCH_HELPER,
	};
	enum ky_log_level level = KY_LOG_INFO;
	bool check = false;
	int c;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			opts.config_path = optarg;
			break;
		case 'p':
			opts.plugin_dir = optarg;
			break;
		case 'C':
			opts.cdi_dir = optarg;
			break;
		case 'D':
			opts.devinfo_dir = optarg;
			break;
		case 's':
			opts.state_dir = optarg;
			break;
		case 'f':
			opts.fetch_helper = optarg;
			break;
		case 'P':
			opts.resource_prefix = optarg;
			break;
		case 'L': /* SRIOV-DP's log directory: we log to stderr, as it does with it too */
		case 'U': /* CDI specs are always written (Allocate names them once they are) */
			break;
		case 'l':
			if (ky_log_level_parse(optarg, &level) < 0 && log_level_number(optarg, &level) < 0) {
				fprintf(stderr, "kyborg-device-plugin: --log-level: not one of error, warn, info, debug: %s\n",
					optarg);
				return 2;
			}
			break;
		case 'k':
			check = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("kyborg-device-plugin %s\n", KYBORG_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "kyborg-device-plugin: unexpected argument: %s\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (!opts.config_path)
		opts.config_path = SRIOVDP_CONFIG;
	if (opts.fetch_helper[0] != '/') {
		fprintf(stderr, "kyborg-device-plugin: --fetch-helper must be an absolute path: %s\n", opts.fetch_helper);
		return 2;
	}
	for (const char **dir = (const char *[]){ opts.plugin_dir, opts.cdi_dir, opts.devinfo_dir, opts.state_dir, NULL };
	     *dir; dir++) {
		if ((*dir)[0] != '/') {
			fprintf(stderr, "kyborg-device-plugin: directories must be absolute paths: %s\n", *dir);
			return 2;
		}
	}

	_cleanup_error_ struct ky_error *err = NULL;
	if (check) {
		_cleanup_(ky_device_config_freep) struct ky_device_config *cfg = NULL;
		_cleanup_strv_free_ char **lines = NULL, **notes = NULL;
		size_t n_lines = 0, n_notes = 0;
		const struct ky_device_config_opts copts = { .resource_prefix = opts.resource_prefix };
		if (ky_device_config_load_opts(opts.config_path, &copts, &cfg, &err) < 0 ||
		    dp_plugins_check(cfg, opts.plugin_dir, &err) < 0) {
			fprintf(stderr, "kyborg-device-plugin: %s\n", ky_error_msg(err));
			return 1;
		}
		/* What it would serve here, and what it names that is not here:
		 * warnings, never a failure (the node may not be this one). */
		if (ky_device_check(cfg, &lines, &n_lines, &notes, &n_notes, &err) < 0)
			fprintf(stderr, "kyborg-device-plugin: warning: cannot look at this node: %s\n", ky_error_msg(err));
		for (size_t i = 0; i < n_notes; i++)
			fprintf(stderr, "kyborg-device-plugin: warning: %s\n", notes[i]);
		printf("%s: OK, %zu resources%s\n", opts.config_path, cfg->n_resources,
		       cfg->schema == KY_DEVICE_SCHEMA_SRIOVDP ? " (the SR-IOV network device plugin's config.json)" : "");
		for (size_t i = 0; i < n_lines; i++)
			printf("  %s\n", lines[i]);
		return 0;
	}

	if (ky_log_open("kyborg-device-plugin", NULL, level, &err) < 0) {
		fprintf(stderr, "kyborg-device-plugin: %s\n", ky_error_msg(err));
		return 1;
	}
	/* Device lists, ListAndWatch messages and CDI specs for 10,000 devices
	 * are transient buffers of hundreds of KiB. glibc raises its mmap
	 * threshold after the first such buffer is freed, and later ones then
	 * come from the heap and leave it fragmented and resident: keep them
	 * mmap'd, so each free gives the memory back. */
	mallopt(M_MMAP_THRESHOLD, 64 * 1024);
	int r = dp_daemon_run(&opts, &err);
	if (r < 0)
		ky_log_err(KY_LOG_ERROR, "exit", err, "code=%d", -r);
	ky_log_close();
	return r < 0 ? 1 : 0;
}

/* kyborg-device-plugin: the front end. Parses the command line, checks the
 * config (--check-config) or runs the daemon in libkyborg_dp, and turns the
 * final error into an exit code. */
#include "dp.h"
#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/base/log.h"
#include "kyborg/state/paths.h"

#include <getopt.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>

static void usage(FILE *f)
{
	fputs("usage: kyborg-device-plugin --config FILE [--plugin-dir DIR] [--cdi-dir DIR] [--devinfo-dir DIR]\n"
	      "                            [--state-dir DIR] [--fetch-helper PATH] [--log-level LEVEL]\n"
	      "                            [--check-config]\n",
	      f);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
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
		case 'l':
			if (ky_log_level_parse(optarg, &level) < 0) {
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
	if (optind < argc || !opts.config_path) {
		if (optind < argc)
			fprintf(stderr, "kyborg-device-plugin: unexpected argument: %s\n", argv[optind]);
		else
			fputs("kyborg-device-plugin: --config FILE is required\n", stderr);
		usage(stderr);
		return 2;
	}
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
		if (ky_device_config_load(opts.config_path, &cfg, &err) < 0 || dp_plugins_check(cfg, opts.plugin_dir, &err) < 0) {
			fprintf(stderr, "kyborg-device-plugin: %s\n", ky_error_msg(err));
			return 1;
		}
		printf("%s: OK, %zu resources\n", opts.config_path, cfg->n_resources);
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

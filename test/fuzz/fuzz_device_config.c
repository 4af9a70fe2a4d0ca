/* The devices config as both front ends read it (common/src/device:
 * ky_device_config_parse, kyborg's schema "resources"; a "resourceList"
 * goes to SRIOV-DP's reader, which fuzz_device_sriovdp seeds), then what it
 * makes of a node (fuzz_device.h): device lists, what a container gets, the
 * notes. Checked: unique valid resource names, kinds, sharing within
 * bounds, a bitstream only for FPGAs and with a valid spec, loader commands
 * by absolute path; each function in one list at most, of the right kind,
 * IDs kubelet accepts and finds; allocations refused exactly for unhealthy
 * or unknown IDs; and that the device plugin can serve each of its
 * resources (dp_plugins_check: its socket path fits a unix address). */
#include "dp.h"
#include "fuzz_device.h"

/* kubelet's plugin dir, where each resource's socket goes. */
#define PLUGIN_DIR "/var/lib/kubelet/device-plugins"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet_logs();
	fuzz_node_init();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ky_device_config *cfg = NULL;
	_cleanup_error_ struct ky_error *err = NULL;
	int r = ky_device_config_parse((const char *)data, size, &cfg, &err);
	if (r < 0) {
		fuzz_check_refused(r, cfg, err);
		FUZZ_ASSERT(!fuzz_json_flawed(data, size) || strncmp(ky_error_msg(err), "cannot decode JSON", 18) == 0 ||
				    strstr(ky_error_msg(err), "duplicate field"),
			    "a flawed document refused for something else: %s", ky_error_msg(err));
		return 0;
	}
	FUZZ_ASSERT(!fuzz_json_flawed(data, size), "accepted a flawed document");
	fuzz_check_config(data, size, cfg);

	/* Served only where its socket fits: refused by name otherwise. */
	ky_error_clear(&err);
	r = dp_plugins_check(cfg, PLUGIN_DIR, &err);
	FUZZ_ASSERT(r == 0 || (r == -ENAMETOOLONG && strstr(ky_error_msg(err), "].name")),
		    "dp_plugins_check returned %d: %s", r, ky_error_msg(err));
	for (size_t i = 0; r == 0 && i < cfg->n_resources; i++)
		if (cfg->resources[i].frontend == KY_FRONTEND_DEVICE_PLUGIN)
			FUZZ_ASSERT(strlen(PLUGIN_DIR "/kyborg-.sock") + strlen(cfg->resources[i].name) < 108,
				    "%s passed, yet its socket path does not fit", cfg->resources[i].name);
	ky_device_config_free(cfg);
	return 0;
}

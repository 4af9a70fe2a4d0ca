/* The SR-IOV network device plugin's config.json ("resourceList"), as
 * kyborg-device-plugin takes it in SRIOV-DP's place
 * (common/src/device/device_sriovdp.c through ky_device_config_parse_opts),
 * read twice: with SRIOV-DP's default resource prefix and with
 * --resource-prefix example.com. Then what it makes of the node
 * (fuzz_device.h): the selectors (VF ranges of pfNames, rootDevices,
 * linkTypes, isRdma, acpiIndexes), netDevice's and accelerator's rules, the
 * env names, _INFO and device nodes a container gets. Checked beyond
 * fuzz_device.h's: both reads agree but for the prefix of the resources
 * that have none of their own; SRIOV-DP's kinds only; warnings one line. */
#include "fuzz_device.h"

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
	struct ky_device_config *cfg = NULL, *other = NULL;
	_cleanup_error_ struct ky_error *err = NULL, *err2 = NULL;
	const struct ky_device_config_opts opts = { .resource_prefix = "example.com" };
	int r = ky_device_config_parse_opts((const char *)data, size, NULL, &cfg, &err);
	int r2 = ky_device_config_parse_opts((const char *)data, size, &opts, &other, &err2);
	if (r < 0) {
		fuzz_check_refused(r, cfg, err);
		/* Another prefix may make a name kubelet takes or refuses. */
		if (r2 < 0)
			fuzz_check_refused(r2, other, err2);
		ky_device_config_free(other);
		return 0;
	}
	fuzz_check_config(data, size, cfg);
	if (r2 == 0) {
		FUZZ_ASSERT(other->schema == cfg->schema && other->n_resources == cfg->n_resources,
			    "the prefix changed the config's shape");
		for (size_t i = 0; i < cfg->n_resources; i++) {
			const char *a = cfg->resources[i].name, *b = other->resources[i].name;
			if (cfg->schema != KY_DEVICE_SCHEMA_SRIOVDP || strcmp(a, b) == 0)
				FUZZ_ASSERT(strcmp(a, b) == 0, "%s read as %s", a, b);
			else
				FUZZ_ASSERT(!strncmp(a, KY_DEVICE_SRIOVDP_PREFIX "/", strlen(KY_DEVICE_SRIOVDP_PREFIX) + 1) &&
						    !strncmp(b, "example.com/", 12) &&
						    !strcmp(a + strlen(KY_DEVICE_SRIOVDP_PREFIX) + 1, b + 12),
					    "%s read as %s with another default prefix", a, b);
		}
		fuzz_check_config(data, size, other);
	} else {
		fuzz_check_refused(r2, other, err2);
		FUZZ_ASSERT(cfg->schema == KY_DEVICE_SCHEMA_SRIOVDP, "the prefix refused kyborg's schema: %s",
			    ky_error_msg(err2));
	}
	ky_device_config_free(cfg);
	ky_device_config_free(other);
	return 0;
}

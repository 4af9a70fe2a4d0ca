/* kyborg-device-plugin's own modules (libkyborg_dp): GetPreferredAllocation's
 * choice, and the daemon that serves kubelet's device-plugin API over the
 * core's gRPC layer. What the devices are and give a container (config,
 * device lists, allocation answers, CDI specs, device-info files, FPGA
 * programming) is the core's device layer, shared with the DRA driver. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "kyborg/base/cleanup.h"
#include "kyborg/device/device_alloc.h"
#include "kyborg/device/device_config.h"
#include "kyborg/device/device_list.h"

struct ky_error;

/* ---- dp_preferred.c: GetPreferredAllocation (pure) ---- */

/* Chooses `size` IDs among `available` (n_available), every one of
 * `must` first, then one NUMA node's devices where it can, replicas packed
 * or spread by res->strategy. IDs unknown or unhealthy are never chosen
 * beyond `must`. *out is a malloc'd vector of borrowed strings (from
 * available/must), *n_out its length (fewer than size when too few). */
int dp_preferred(const struct ky_device_resource *res, const struct ky_devlist *list, const char *const *available,
		 size_t n_available, const char *const *must, size_t n_must, size_t size, const char ***out,
		 size_t *n_out, struct ky_error **err);

/* dp_checkpoint.c's spelling of the device layer's names: that file is in
 * other hands (the records' owners in state/) and takes the new names in
 * its next change; then these go. */
#define dp_device ky_device
static inline const struct ky_device *dp_devlist_find(const struct ky_devlist *list, const char *id)
{
	return ky_devlist_find(list, id);
}
static inline const char *dp_kind_name(enum ky_device_kind kind)
{
	return ky_device_kind_name(kind);
}

/* ---- dp_daemon.c: the daemon ---- */

struct dp_options {
	const char *config_path;
	const char *plugin_dir;
	const char *cdi_dir;
	const char *devinfo_dir;
	const char *state_dir;
	const char *fetch_helper; /* kyborg-fetch, exec'd for URL bitstreams */
	const char *resource_prefix; /* SRIOV-DP's --resource-prefix (NULL: intel.com) */
};

#define DP_DEFAULT_CDI_DIR "/var/run/cdi"
#define DP_DEFAULT_DEVINFO_DIR "/var/run/k8s.cni.cncf.io/devinfo/dp"
#define DP_KUBELET_SOCKET "kubelet.sock"

/* dp_plugin.c: every resource of cfg can be served in plugin_dir: its
 * socket path fits a unix socket address (-ENAMETOOLONG naming the
 * resource). Checked by --check-config, at start and on reload. */
int dp_plugins_check(const struct ky_device_config *cfg, const char *plugin_dir, struct ky_error **err);

/* Loads the config, discovers the devices, serves every resource and
 * registers it, until SIGTERM or SIGINT; then removes our sockets.
 * Returns 0 or -errno. */
int dp_daemon_run(const struct dp_options *opts, struct ky_error **err);

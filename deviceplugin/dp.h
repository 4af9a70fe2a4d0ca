/* kyborg-device-plugin's own modules (libkyborg_dp): the config, the device
 * lists per resource, allocation choices and answers (all pure), and the
 * daemon that serves them to kubelet over the core's gRPC layer. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "kyborg/base/cleanup.h"
#include "kyborg/pci/image_cache.h"
#include "kyborg/pci/pci.h"
#include "kyborg/pci/pci_selector.h"

struct ky_error;

/* ---- dp_config.c: the JSON config (pure) ---- */

enum dp_kind {
	DP_KIND_GPU = 0,
	DP_KIND_FPGA = 1,
	DP_KIND_NIC_VF = 2,
};

enum dp_strategy {
	DP_PACK = 0,   /* replicas of as few GPUs as possible */
	DP_SPREAD = 1, /* replicas of as many GPUs as possible */
};

struct dp_resource {
	char *name; /* "kyborg.io/gpu" */
	enum dp_kind kind;
	struct ky_pci_selector selector;
	unsigned replicas; /* >= 1 */
	enum dp_strategy strategy;
	bool has_bitstream;
	struct ky_image_spec bitstream;
	/* FPGA: the admin's loader command (argv with placeholders, see
	 * kyborg/fpga.h); NULL: the kernel's DFL partial reconfiguration. */
	char **program;
	size_t n_program;
};

struct dp_config {
	struct dp_resource *resources;
	size_t n_resources;
};

#define DP_MAX_REPLICAS 1024

const char *dp_kind_name(enum dp_kind kind);
/* Errors are -EINVAL "<json path>: <problem>". */
int dp_config_parse(const char *text, size_t len, struct dp_config **out, struct ky_error **err);
int dp_config_load(const char *path, struct dp_config **out, struct ky_error **err);
void dp_config_free(struct dp_config *cfg);
/* Same name, kind, selector, sharing and bitstream: a reload keeps serving it. */
bool dp_resource_equal(const struct dp_resource *a, const struct dp_resource *b);
/* An FPGA with a bitstream is programmed before its container starts
 * (kubelet calls PreStartContainer). */
bool dp_resource_pre_start_required(const struct dp_resource *res);
KY_DEFINE_CLEANUP(struct dp_config, dp_config_free)

/* ---- dp_devices.c: what each resource advertises (pure) ---- */

/* kubelet refuses longer device IDs. */
#define DP_MAX_ID_LEN 63

struct dp_device {
	char id[DP_MAX_ID_LEN + 1];
	const struct ky_pci_dev *pci; /* borrowed from the ky_pci_list */
	int replica;                  /* -1 for a device that is not a replica */
	int numa_node;                /* -1 when unknown */
	bool healthy;
};

struct dp_devlist {
	struct dp_device *devs;
	size_t n;
};

/* Whether the selector (and the kind) of res takes dev; `all` resolves a
 * VF's PF for pfNames. */
bool dp_resource_matches(const struct dp_resource *res, const struct ky_pci_dev *dev,
			 const struct ky_pci_list *all);
/* One list per resource (cfg->n_resources of them, in config order), each
 * device in at most one: the first resource that matches it. The lists
 * borrow from pci, which must outlive them. */
int dp_devices_build(const struct dp_config *cfg, const struct ky_pci_list *pci, struct dp_devlist **out,
		     struct ky_error **err);
void dp_devlists_free(struct dp_devlist *lists, size_t n);
const struct dp_device *dp_devlist_find(const struct dp_devlist *list, const char *id);
/* Whether kubelet would see the same list: IDs, health and NUMA nodes. */
bool dp_devlist_equal(const struct dp_devlist *a, const struct dp_devlist *b);

/* ---- dp_alloc.c: GetPreferredAllocation and Allocate answers (pure) ---- */

/* Chooses `size` IDs among `available` (n_available), every one of
 * `must` first, then one NUMA node's devices where it can, replicas packed
 * or spread by res->strategy. IDs unknown or unhealthy are never chosen
 * beyond `must`. *out is a malloc'd vector of borrowed strings (from
 * available/must), *n_out its length (fewer than size when too few). */
int dp_preferred(const struct dp_resource *res, const struct dp_devlist *list, const char *const *available,
		 size_t n_available, const char *const *must, size_t n_must, size_t size, const char ***out,
		 size_t *n_out, struct ky_error **err);

struct dp_kv {
	char *key;
	char *value;
};

struct dp_spec {
	char *host_path;
	char *container_path;
	char *permissions;
};

/* One container's answer, owned: free with dp_container_alloc_release. */
struct dp_container_alloc {
	struct dp_kv *envs;
	size_t n_envs;
	struct dp_spec *specs;
	size_t n_specs;
	struct dp_kv *annotations;
	size_t n_annotations;
	char **cdi_devices;
	size_t n_cdi_devices;
};

/* "PCIDEVICE_KYBORG_IO_GPU" for "kyborg.io/gpu" (malloc'd, NULL on ENOMEM). */
char *dp_env_name(const char *resource);
/* "kyborg.io/gpu=0000:3b:00.0::1": the CDI device name of an ID. */
char *dp_cdi_name(const char *resource, const char *id);
/* CDI names in annotations too, under "cdi.k8s.io/kyborg_kyborg.io_gpu"
 * (malloc'd); left out when the name after the '/' passes 63 characters. */
#define DP_CDI_ANNOTATION_PREFIX "cdi.k8s.io/"
char *dp_cdi_annotation_key(const char *resource);
/* An FPGA's container learns which bitstream its port holds. */
#define DP_ANNOTATION_BITSTREAM "kyborg.io/bitstream-id"
/* Checks every ID (unknown or unhealthy: -EINVAL naming it) and builds the
 * container's envs, device specs and annotations; CDI names only with
 * with_cdi (once spec files exist for the runtime to resolve them). */
int dp_allocate(const struct dp_resource *res, const struct dp_devlist *list, const char *const *ids, size_t n,
		bool with_cdi, struct dp_container_alloc *out, struct ky_error **err);
void dp_container_alloc_release(struct dp_container_alloc *a);
/* Only the device specs (nodes) one device gives a container (out->specs). */
int dp_device_specs(const struct dp_resource *res, const struct dp_device *d, struct dp_container_alloc *out);
const char *dp_kv_get(const struct dp_kv *kv, size_t n, const char *key);


/* ---- dp_devinfo.c: device-info files for the CNI side (k8snetworkplumbingwg
 * device-info spec 1.1.0) ---- */

/* "kyborg.io-sriov-vf-0000:18:01.0-device.json" (malloc'd; NULL on ENOMEM). */
char *dp_devinfo_name(const char *resource, const char *id);
/* {"type":"pci","version":"1.1.0","pci":{"pci-address":..,"pf-pci-address":..}} (pure). */
char *dp_devinfo_json(const struct ky_pci_dev *pci);
/* Writes the file for each device into dir (created when missing), each
 * atomically (a temporary file renamed over it). */
int dp_devinfo_write(const char *dir, const struct dp_resource *res, const struct dp_devlist *list,
		     const char *const *ids, size_t n, struct ky_error **err);

/* ---- dp_cdi.c: CDI spec files, one per resource ---- */

/* "kyborg-kyborg.io_gpu.json" (malloc'd). */
char *dp_cdi_spec_name(const char *resource);
/* The spec (pure): kind = the resource name, one device per healthy ID
 * with the device nodes Allocate gives it. Written as a stream: a document
 * tree for 10,000 devices would cost megabytes of small allocations. */
char *dp_cdi_spec_json(const struct dp_resource *res, const struct dp_devlist *list);
int dp_cdi_write(const char *dir, const struct dp_resource *res, const struct dp_devlist *list,
		 struct ky_error **err);
void dp_cdi_remove(const char *dir, const struct dp_resource *res);

/* ---- dp_daemon.c: the daemon ---- */

struct dp_options {
	const char *config_path;
	const char *plugin_dir;
	const char *cdi_dir;
	const char *devinfo_dir;
	const char *state_dir;
	const char *fetch_helper; /* kyborg-fetch, exec'd for URL bitstreams */
};

#define DP_DEFAULT_PLUGIN_DIR "/var/lib/kubelet/device-plugins"
#define DP_DEFAULT_CDI_DIR "/var/run/cdi"
#define DP_DEFAULT_DEVINFO_DIR "/var/run/k8s.cni.cncf.io/devinfo/dp"
#define DP_DEFAULT_STATE_DIR "/var/lib/kyborg"
#define DP_KUBELET_SOCKET "kubelet.sock"

/* dp_plugin.c: every resource of cfg can be served in plugin_dir: its
 * socket path fits a unix socket address (-ENAMETOOLONG naming the
 * resource). Checked by --check-config, at start and on reload. */
int dp_plugins_check(const struct dp_config *cfg, const char *plugin_dir, struct ky_error **err);

/* Loads the config, discovers the devices, serves every resource and
 * registers it, until SIGTERM or SIGINT; then removes our sockets.
 * Returns 0 or -errno. */
int dp_daemon_run(const struct dp_options *opts, struct ky_error **err);

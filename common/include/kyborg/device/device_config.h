/* The devices a node offers to Kubernetes, as the device plugin and the
 * DRA driver both read them: resources with a kind, a PCI selector, GPU
 * sharing, and for FPGAs the bitstream they are programmed with. JSON,
 * validated with the path of the first bad field. Pure. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "kyborg/base/cleanup.h"
#include "kyborg/pci/image_cache.h"
#include "kyborg/pci/pci_selector.h"

struct ky_error;
struct ky_jnode;

enum ky_device_kind {
	KY_DEVICE_GPU = 0,
	KY_DEVICE_FPGA = 1,
	KY_DEVICE_NIC_VF = 2,
	/* SRIOV-DP's deviceTypes, in its config (device_sriovdp.c): */
	KY_DEVICE_NET = 3,   /* "netDevice": NIC functions, VFs and PFs without VFs */
	KY_DEVICE_ACCEL = 4, /* "accelerator": processing accelerators and co-processors */
};

/* Which kubelet front end serves a resource's devices on a node: one config
 * (one ConfigMap) serves both binaries, each serving only its own resources.
 * A device still goes to the first resource that matches it, whichever
 * front end that resource has, so one device is never served by both. */
enum ky_device_frontend {
	KY_FRONTEND_DEVICE_PLUGIN = 0, /* "devicePlugin", the default */
	KY_FRONTEND_DRA = 1,           /* "dra" */
};

enum ky_device_strategy {
	KY_DEVICE_PACK = 0,   /* replicas of as few GPUs as possible */
	KY_DEVICE_SPREAD = 1, /* replicas of as many GPUs as possible */
};

/* Which schema a config came in: ours ("resources") or the SR-IOV network
 * device plugin's config.json ("resourceList"), whose resources answer a
 * container as SRIOV-DP does (env names, _INFO, device nodes, device-info). */
enum ky_device_schema {
	KY_DEVICE_SCHEMA_KYBORG = 0,
	KY_DEVICE_SCHEMA_SRIOVDP = 1,
};

/* A resource takes a function through the first of its selectors that
 * matches (SRIOV-DP's list of selector objects; ours have one). */
struct ky_device_selector {
	struct ky_pci_selector pci;
	bool vhost_net; /* SRIOV-DP's needVhostNet: /dev/vhost-net and /dev/net/tun too */
	char *path;     /* its JSON path ("resourceList[0].selectors[1]"), for notes */
};

struct ky_kv {
	char *key;
	char *value;
};

/* SRIOV-DP's additionalInfo: pairs for every device ("*") or one PCI address. */
struct ky_device_info {
	char *device;
	struct ky_kv *kvs;
	size_t n_kvs;
};

#define KY_DEVICE_MAX_SELECTORS 64

struct ky_device_resource {
	char *name; /* "kyborg.io/gpu", "intel.com/intel_sriov_netdevice" */
	enum ky_device_kind kind;
	enum ky_device_frontend frontend;
	enum ky_device_schema schema;
	char *path; /* its JSON path: "resources[1]", "resourceList[0]" */
	struct ky_device_selector *selectors;
	size_t n_selectors; /* >= 1 */
	unsigned replicas; /* >= 1; above 1 a GPU is shared (time-sliced) */
	enum ky_device_strategy strategy;
	bool has_bitstream;
	struct ky_image_spec bitstream;
	/* FPGA: the admin's loader command (argv with placeholders, see
	 * kyborg/pci/fpga.h); NULL: the kernel's DFL partial reconfiguration. */
	char **program;
	size_t n_program;
	/* NIC kinds: a device is Unhealthy while its PF (or, given as the
	 * device, itself) has no carrier (checkHealthOnPf; on by default). */
	bool check_pf_link;
	bool exclude_topology; /* no NUMA node to kubelet (excludeTopology) */
	struct ky_device_info *info;
	size_t n_info;
};

struct ky_device_config {
	struct ky_device_resource *resources;
	size_t n_resources;
	enum ky_device_schema schema;
	/* Fields read and ignored, as SRIOV-DP ignores them: for the log and
	 * --check-config, never silence. */
	char **warnings;
	size_t n_warnings;
};

#define KY_DEVICE_MAX_REPLICAS 1024

/* The config's kind names: "gpu", "fpga", "nic-vf"; SRIOV-DP's
 * "netDevice", "accelerator". */
const char *ky_device_kind_name(enum ky_device_kind kind);
/* The config's front end names: "devicePlugin", "dra". */
const char *ky_device_frontend_name(enum ky_device_frontend frontend);
/* Whether a kind is a network function (a VF, or SRIOV-DP's netDevice). */
bool ky_device_kind_is_nic(enum ky_device_kind kind);
/* What the command line adds to a config. */
struct ky_device_config_opts {
	/* SRIOV-DP's --resource-prefix: the prefix of a resourceList entry
	 * without resourcePrefix (NULL: SRIOV-DP's default, intel.com). */
	const char *resource_prefix;
};
#define KY_DEVICE_SRIOVDP_PREFIX "intel.com"

/* Either schema, told apart by its top-level key ("resources" or
 * "resourceList"). Errors are -EINVAL "<json path>: <problem>". */
int ky_device_config_parse(const char *text, size_t len, struct ky_device_config **out, struct ky_error **err);
int ky_device_config_parse_opts(const char *text, size_t len, const struct ky_device_config_opts *opts,
				struct ky_device_config **out, struct ky_error **err);
/* The same from a file (a regular file of at most 1 MiB); errors are
 * prefixed with its path. */
int ky_device_config_load(const char *path, struct ky_device_config **out, struct ky_error **err);
int ky_device_config_load_opts(const char *path, const struct ky_device_config_opts *opts,
			       struct ky_device_config **out, struct ky_error **err);
void ky_device_config_free(struct ky_device_config *cfg);
KY_DEFINE_CLEANUP(struct ky_device_config, ky_device_config_free)
/* What kubelet would refuse in an extended resource name ("<domain>/<name>",
 * the domain a DNS subdomain outside kubernetes.io, the name a qualified
 * name), or NULL when it takes it. */
const char *ky_device_resource_name_problem(const char *name);
/* SRIOV-DP's config.json alone (device_sriovdp.c). */
int ky_device_config_parse_sriovdp(const struct ky_jnode *root, const struct ky_device_config_opts *opts,
				   struct ky_device_config **out, struct ky_error **err);
/* Same name, kind, front end, selectors, sharing, bitstream and options:
 * a reload keeps serving it. */
bool ky_device_resource_equal(const struct ky_device_resource *a, const struct ky_device_resource *b);
/* An FPGA with a bitstream is programmed before a container gets it. */
bool ky_device_resource_programs(const struct ky_device_resource *res);
/* More than one holder at a time: a GPU with replicas (time-slicing). */
bool ky_device_resource_shared(const struct ky_device_resource *res);

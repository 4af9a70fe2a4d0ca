/* A claim's own configuration (issue 17): this driver's opaque parameters
 * in status.allocation.devices.config, parsed and validated, and the one
 * that configures each allocated device. Pure: no I/O.
 *
 * One kind per device family, apiVersion kyborg.io/v1alpha1, the field
 * names of the CNI config and the device plugin's config:
 *
 *   VfConfig    vlan, vlanQoS, vlanProto, mac, spoofchk, trust, link_state,
 *               min_tx_rate, max_tx_rate, driver (netdevice | vfio-pci)
 *   FpgaConfig  bitstream {id, path | url, sha256}
 *   GpuConfig   sharing (exclusive | timeSliced), env {NAME: value}
 *
 * Which config applies, as NVIDIA's GPU driver decides it
 * (GetOpaqueDeviceConfigs, prepareDevices): the class's configs first, then
 * the claim's, in their order; for each device the LAST config that covers
 * its request (no requests: every request; "main" also covers "main/sub")
 * and is of its family's kind wins whole: configs are not merged field by
 * field, so a claim's VfConfig replaces its class's default entirely. A
 * config that names the request but is of another family's kind fails
 * the claim (NVIDIA: "cannot apply GpuConfig to request"); one for every
 * request simply passes other families by, so one claim can configure a
 * GPU and a VF. Every config of this driver is validated, whether or not
 * it applies: an unknown kind, an unknown field or a bad value fails the
 * claim, naming the path: "config[0].opaque.parameters.vlan: must be
 * between 0 and 4094, got 5000" (the index is that of
 * status.allocation.devices.config, where the class's configs come first).
 * Other drivers' configs are not ours and are passed by. */
#pragma once

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "kyborg/device/device_config.h"
#include "kyborg/net/netlink_vf.h"
#include "kyborg/pci/image_cache.h"
#include "kyborg/state/dra_record.h"

struct ky_error;

#define DRA_CONFIG_API_VERSION "kyborg.io/v1alpha1"
#define DRA_CONFIG_MAX_ENV 64
#define DRA_CONFIG_MAX_ENV_VALUE 4096

enum dra_config_kind {
	DRA_CONFIG_VF = 0,   /* "VfConfig" */
	DRA_CONFIG_FPGA = 1, /* "FpgaConfig" */
	DRA_CONFIG_GPU = 2,  /* "GpuConfig" */
};
const char *dra_config_kind_name(enum dra_config_kind kind);

/* "exclusive", "timeSliced" */
enum dra_gpu_sharing {
	DRA_GPU_EXCLUSIVE = 0,
	DRA_GPU_TIME_SLICED = 1,
};
const char *dra_gpu_sharing_name(enum dra_gpu_sharing s);

/* One opaque config of this driver. */
struct dra_config {
	char path[32];   /* "config[1]": where it is in status.allocation.devices.config */
	bool from_class; /* source FromClass (else FromClaim) */
	char **requests; /* NULL-terminated; none: every request */
	size_t n_requests;
	enum dra_config_kind kind;
	/* VfConfig: the settings it names (vf.mask) and the driver. */
	struct ky_vf_config vf;
	enum ky_dra_vf_driver vf_driver;
	/* FpgaConfig */
	struct ky_image_spec bitstream;
	/* GpuConfig: sharing (has_sharing: given) and "NAME=value" in order. */
	bool has_sharing;
	enum dra_gpu_sharing sharing;
	char **env;
	size_t n_env;
};

/* This driver's configs, class's first, as they apply. */
struct dra_configs {
	struct dra_config *v;
	size_t n;
};

struct dra_config_rules {
	const char *driver;        /* opaque.driver of our configs ("kyborg.io") */
	/* Where a claim may take a bitstream from on the node: a path, or a
	 * file:/// URL, must lie under it (a claim must not make the driver
	 * read any file of the node). https:// URLs are fetched anywhere. */
	const char *bitstream_dir;
};

/* Parses status.allocation.devices.config (NULL: none). -EINVAL naming
 * the path; -ENOMEM. */
int dra_configs_parse(const cJSON *config, const struct dra_config_rules *rules, struct dra_configs *out,
		      struct ky_error **err);
void dra_configs_release(struct dra_configs *c);

/* The config of the result for `request` on `device`, a device of kind
 * `family`, or NULL when none applies (see above). -EINVAL when a config
 * naming the request is of another family's kind. */
int dra_configs_for(const struct dra_configs *c, const char *request, const char *device,
		    enum ky_device_kind family, const struct dra_config **out, struct ky_error **err);

/* Whether the config covers the request. */
bool dra_config_covers(const struct dra_config *cfg, const char *request);

/* ---- a shared GPU ---- */

/* How a claim uses a GPU: its GpuConfig, or without one the default
 * (timeSliced where the resource shares the GPU, exclusive otherwise, no
 * environment). gpu may be NULL. */
struct dra_gpu_use {
	enum dra_gpu_sharing sharing;
	char *const *env; /* "NAME=value" */
	size_t n_env;
};
void dra_gpu_use_of(const struct ky_dra_record_gpu *gpu, bool shared, struct dra_gpu_use *out);
int dra_gpu_sharing_parse(const char *s, enum dra_gpu_sharing *out);

/* Whether a claim using the GPU as `want` may join one that uses it as
 * `held`: NULL when they agree; otherwise the field where they differ,
 * relative to the parameters ("sharing", "env.NAME"), with what is wrong
 * in why ("claim ns/a holds it exclusively", "claim ns/a sets NAME=\"x\"")
 * given the holder's name. */
const char *dra_gpu_use_conflict(const struct dra_gpu_use *held, const struct dra_gpu_use *want, const char *holder,
				 char *field, size_t field_size, char *why, size_t why_size);

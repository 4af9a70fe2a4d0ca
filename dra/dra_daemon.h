/* The driver's state, one struct passed down (no globals): the loop, the
 * config and the devices found, the two sockets kubelet talks to and the
 * watch that keeps them there, the health streams, the claim source, the
 * checkpoint of prepared claims and the calls in flight. Each file owns
 * its part and is named in the comment above it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dra.h"
#include "dra_claims.h"
#include "kyborg/device/device_fpga.h"
#include "kyborg/device/device_list.h"
#include "kyborg/device/device_watch.h"
#include "kyborg/grpc/grpc.h"
#include "kyborg/k8s/k8s_client.h"
#include "kyborg/loop/loop.h"
#include "kyborg/state/dra_record.h"
#include "kyborg/state/state_store.h"

struct dra_call;
struct dra_publisher;

/* Registration: GetInfo, NotifyRegistrationStatus. DRA socket: Prepare and
 * Unprepare for v1 and v1beta1, NodeWatchResources for v1alpha1 health. */
#define DRA_REG_METHODS 2
#define DRA_METHODS 5

struct dra_daemon {
	const struct dra_options *opts;
	struct ky_loop *loop;
	uint64_t started_ms; /* ky_loop_now_ms() when the driver began */

	/* dra_devices.c, dra_hotplug.c: the config and what it takes of the
	 * node, as discovery last saw it, and every DRA name served since
	 * the start (a device removed since stays in the health list). */
	struct ky_device_config *cfg;
	struct ky_pci_list *pci;
	struct ky_devlist *lists; /* cfg->n_resources */
	struct ky_device_watch *watch;
	char **seen;
	size_t n_seen;

	/* FPGA images: the cache, and downloads started ahead (one per
	 * image, a claim's Prepare waiting on it within kubelet's deadline);
	 * where claims may take bitstreams from on the node. */
	char *image_cache;
	char *bitstream_dir;
	struct ky_device_images images;
	struct ky_device_prefetch *prefetches;

	/* dra_register.c, dra_server.c, dra_watch.c: the sockets. */
	char *plugin_dir;
	char *reg_path; /* <registration dir>/<driver>-reg.sock */
	char *dra_path; /* <plugin dir>/dra.sock */
	struct ky_grpc_method reg_methods[DRA_REG_METHODS];
	struct ky_grpc_method methods[DRA_METHODS];
	struct ky_grpc_server *reg_srv;
	struct ky_grpc_server *srv;
	int inotify_fd;
	struct ky_loop_io *inotify_io;
	struct ky_loop_timer *reconcile;

	/* dra_health.c: open NodeWatchResources streams, resent on a timer. */
	struct ky_grpc_stream **health;
	size_t n_health, cap_health;
	struct ky_loop_timer *health_timer;

	/* The API server (NULL with the stand-in claim source alone): the
	 * claim source reads claims through it, the ResourceSlice publisher
	 * writes slices through it. */
	struct ky_k8s_client *k8s;

	/* dra_claims.c and its source: where claims' allocations come from. */
	struct dra_claim_source *source;

	/* dra_checkpoint.c: <state dir>/dra-claims and its records in memory. */
	struct ky_state_store *store;
	struct ky_dra_record *records;
	size_t n_records, cap_records;

	/* dra_claimcfg.c: rtnetlink, opened on the first VfConfig. */
	struct ky_nl *nl;

	/* dra_prepare.c: Prepare calls in flight. */
	struct dra_call *calls;

	/* dra_publisher.c: the ResourceSlice publisher (NULL without an API
	 * server). */
	struct dra_publisher *publisher;
};

/* ---- dra_devices.c: the DRA view of the device lists (no I/O) ---- */

/* A DRA device found on this node: its resource and its first (or only)
 * entry in the resource's list. */
struct dra_device {
	const struct ky_device_resource *res;
	const struct ky_device *dev; /* the replica's entry for a replica's name */
	size_t list;                 /* index of res in cfg */
	int replica;                 /* -1: the whole function */
};

/* Each DRA device: the first entry of each PCI function in each list of
 * a resource the config gives this driver. */
#define DRA_FOREACH_DEVICE(d, i, k)                                                                  \
	for (size_t i = 0; i < (d)->cfg->n_resources; i++)                                         \
		for (size_t k = 0; k < (d)->lists[i].n; k++)                                       \
			if ((d)->cfg->resources[i].frontend == KY_FRONTEND_DRA &&                  \
			    (k == 0 || (d)->lists[i].devs[k].pci != (d)->lists[i].devs[k - 1].pci))

/* The device named `name` (a DRA name), or -EINVAL (not a name we give),
 * -ENODEV (no resource of the config takes such a function here), -EXDEV
 * (a resource the config gives the device plugin takes it: out->res). */
int dra_device_find(const struct dra_daemon *d, const char *name, struct dra_device *out);
/* Adds the names of the current devices to d->seen. 0 or -ENOMEM. */
int dra_devices_remember(struct dra_daemon *d);
/* Whether a record names a replica of a shared GPU (NULL: no). */
bool dra_record_names_replicas(const struct ky_dra_record *rec);
/* How many DRA devices the config takes on this node. */
size_t dra_devices_count(const struct dra_daemon *d);

enum dra_health {
	DRA_HEALTH_UNKNOWN = 0,
	DRA_HEALTH_HEALTHY = 1,
	DRA_HEALTH_UNHEALTHY = 2,
};
/* The health of a device by name: healthy, unhealthy with why ("no
 * driver bound", "removed from the node"). */
enum dra_health dra_device_health(const struct dra_daemon *d, const char *name, const char **why);

/* ---- dra_hotplug.c: discovery, and udev events answered by a new look ---- */

int dra_hotplug_start(struct dra_daemon *d, struct ky_error **err);
void dra_hotplug_stop(struct dra_daemon *d);

/* ---- dra_publisher.c: the ResourceSlice publisher ---- */

/* Started once the devices are known (nothing without d->k8s); told after
 * every change of the devices, their health or an FPGA's image; stopped
 * before the daemon goes, keeping the slices. */
int dra_publisher_start(struct dra_daemon *d, struct ky_error **err);
void dra_publisher_devices_changed(struct dra_daemon *d);
void dra_publisher_stop(struct dra_daemon *d);

/* ---- dra_checkpoint.c: prepared claims, durably, and in memory ---- */

int dra_checkpoint_open(struct dra_daemon *d, struct ky_error **err);
void dra_checkpoint_close(struct dra_daemon *d);
/* The record of a claim, or NULL. */
const struct ky_dra_record *dra_checkpoint_find(const struct dra_daemon *d, const char *uid);
/* How many claims other than `uid` hold the PCI function; *first is one of
 * them (NULL when none). */
size_t dra_checkpoint_holders(const struct dra_daemon *d, const char *pci, const char *uid,
			      const struct ky_dra_record **first);
/* A claim other than `uid` that holds the device named `device`, or NULL. */
const struct ky_dra_record *dra_checkpoint_holder_of(const struct dra_daemon *d, const char *device, const char *uid);
/* Writes rec under its claim UID, durably or only atomically
 * (ky_dra_record_save), and keeps it (taken: rec is zeroed, also on
 * failure, when it is freed). */
int dra_checkpoint_put(struct dra_daemon *d, struct ky_dra_record *rec, bool durable, struct ky_error **err);
/* Deletes the claim's record durably; none is no error. */
int dra_checkpoint_delete(struct dra_daemon *d, const char *uid, struct ky_error **err);

/* ---- dra_claimcfg.c: a claim's own configuration of its devices ---- */

struct dra_configs;

/* This driver's configs in the allocation's config (dra_config.h), with
 * the daemon's rules (its driver name, --bitstream-dir). */
int dra_claimcfg_parse(const struct dra_daemon *d, const cJSON *config, struct dra_configs *out,
		       struct ky_error **err);
/* Fills rd (a device of the plan, for result `request`) with the config
 * that applies to it (config_path, vf, fpga, gpu), and refuses a GPU whose
 * other claims use it otherwise (sharing, env). A claim error in *why
 * (malloc'd) with -EINVAL or -EBUSY; -ENOMEM. */
int dra_claimcfg_plan(const struct dra_daemon *d, const struct dra_configs *cfgs, const char *request,
		      const struct dra_device *dev, const char *uid, struct ky_dra_record_device *rd, char **why);
/* A "preparing" record left by a killed Prepare of the claim holds what
 * the node had before (the journal): plan keeps it rather than read the
 * node again, now changed. */
void dra_claimcfg_carry(struct ky_dra_record *plan, const struct ky_dra_record *old);
/* Applies each VfConfig of plan, device by device: the previous settings
 * and driver recorded durably first (once: a plan that has them keeps
 * them), then the settings, then the driver; each only where the VF
 * differs, so applying again changes nothing. Fault points
 * dra-prepare-vf-saved, dra-prepare-vf-configured, dra-prepare-vf-bound. */
int dra_claimcfg_apply(struct dra_daemon *d, struct ky_dra_record *plan, struct ky_error **err);
/* Puts back what the record's VfConfigs changed, last device first: the
 * driver, its override, then the settings (only where they differ now).
 * Goes on past a failure and returns the first. Fault point
 * dra-unprepare-vf-restored after each VF. */
int dra_claimcfg_undo(struct dra_daemon *d, const struct ky_dra_record *rec, struct ky_error **err);
void dra_claimcfg_release(struct dra_daemon *d);

/* ---- dra_cdi.c: a prepared claim's CDI spec ---- */

/* What a claim's CDI spec tells a device's container besides the device
 * plugin's variables: how the GPU is shared (GpuConfig.sharing, or the
 * default) and which image the FPGA holds. */
#define DRA_ENV_GPU_SHARING "KYBORG_GPU_SHARING"
#define DRA_ENV_BITSTREAM_ID "KYBORG_BITSTREAM_ID"
/* <cdi dir>/<driver>-claim_<uid>.json (malloc'd; NULL on ENOMEM). */
char *dra_cdi_spec_path(const struct dra_daemon *d, const char *uid);
/* Writes the spec of plan's devices at plan->cdi_spec, atomically. */
int dra_cdi_write(const struct dra_daemon *d, const struct ky_dra_record *plan, struct ky_error **err);
/* Removes the claim's spec (the recorded path, NULL when none, and the
 * path the UID gives now); a spec already gone is no error. */
int dra_cdi_remove(const struct dra_daemon *d, const char *recorded_path, const char *uid, struct ky_error **err);

/* ---- dra_health.c: NodeWatchResources ---- */

/* Kubelet counts a device not reported again within 30 s as Unknown. */
#define DRA_HEALTH_RESEND_MS 10000
#define DRA_HEALTH_TIMEOUT_S 30
int dra_health_init(struct dra_daemon *d, struct ky_error **err);
void dra_health_release(struct dra_daemon *d);
/* The stream method (path, handler, closed). */
void dra_health_method(struct dra_daemon *d, struct ky_grpc_method *m);
/* Sends the complete list on every open stream. */
void dra_health_broadcast(struct dra_daemon *d);

/* ---- dra_prepare.c: NodePrepareResources, claim by claim ---- */

/* Kubelet's deadline for NodePrepareResources (defaultClientCallTimeout),
 * for a call that carries no grpc-timeout. */
#define DRA_PREPARE_TIMEOUT_MS 45000

/* The v1 and v1beta1 methods (the same messages on the wire; v1 alone
 * carries share_id). */
void dra_prepare_methods(struct dra_daemon *d, struct ky_grpc_method *v1, struct ky_grpc_method *v1beta1);
/* Whether a Prepare of the claim is under way. */
bool dra_prepare_busy(const struct dra_daemon *d, const char *uid);
/* Forgets calls in flight (an FPGA load under way finishes on its own). */
void dra_prepare_release(struct dra_daemon *d);

/* ---- dra_unprepare.c: NodeUnprepareResources, from the checkpoint ---- */

void dra_unprepare_methods(struct dra_daemon *d, struct ky_grpc_method *v1, struct ky_grpc_method *v1beta1);

/* ---- dra_register.c and dra_server.c: the two sockets ---- */

/* GetInfo's supported_versions, v1 first: kubelet takes the first it knows. */
#define DRA_SERVICE_V1 "v1.DRAPlugin"
#define DRA_SERVICE_V1BETA1 "v1beta1.DRAPlugin"
#define DRA_SERVICE_HEALTH "v1alpha1.DRAResourceHealth"
void dra_register_methods(struct dra_daemon *d);
/* Serves the registration socket (again: an old one is replaced). */
int dra_register_start(struct dra_daemon *d, struct ky_error **err);
void dra_register_stop(struct dra_daemon *d);
bool dra_register_present(const struct dra_daemon *d);

void dra_server_methods(struct dra_daemon *d);
int dra_server_start(struct dra_daemon *d, struct ky_error **err);
void dra_server_stop(struct dra_daemon *d);
bool dra_server_present(const struct dra_daemon *d);

/* ---- dra_watch.c: both sockets served again when they are removed ---- */

int dra_watch_start(struct dra_daemon *d, struct ky_error **err);
void dra_watch_stop(struct dra_daemon *d);


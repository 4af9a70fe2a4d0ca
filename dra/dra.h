/* kyborg-dra-driver's own modules (libkyborg_dra): kubelet's DRA plugin
 * API (registration, NodePrepareResources, NodeUnprepareResources, device
 * health) over the core's gRPC layer, for the devices the core's device
 * layer finds from the same config as the device plugin's. */
#pragma once

#include <stdio.h>

#include "dra_publish.h"

struct ky_error;

struct dra_options {
	const char *config_path;
	const char *driver_name;      /* "kyborg.io": ResourceSlices, claims and CDI IDs name it */
	const char *node_name;        /* the pool's name, and the node's */
	const char *api_server;       /* NULL: in-cluster */
	const char *token_file;
	const char *ca_file;
	const char *registration_dir; /* kubelet's plugins_registry */
	const char *plugin_dir;       /* where the DRA socket is */
	const char *cdi_dir;
	const char *state_dir;
	const char *fetch_helper;     /* kyborg-fetch, exec'd for URL bitstreams */
	/* Where a claim's FpgaConfig may take a bitstream from on the node (a
	 * path or a file:/// URL); NULL: <state dir>/bitstreams. */
	const char *bitstream_dir;
	/* How ResourceSlices show a shared GPU and an unhealthy device (AUTO:
	 * as the cluster's feature gates allow, dra_publish.h). */
	enum dra_sharing gpu_sharing;
	enum dra_unhealthy unhealthy;
	/* Testing only: ResourceClaims read from
	 * <claims_dir>/<namespace>/<name>.json (dra_claims_file.c); without
	 * api_server nothing is published. */
	const char *claims_dir;
};

/* The other defaults are state/paths.h's; the plugin dir defaults to
 * KY_KUBELET_PLUGINS_DEFAULT/<driver name>. */
#define DRA_DEFAULT_DRIVER "kyborg.io"

/* The names kubelet's plugin manager and the kubeletplugin helper use:
 * <registration dir>/<driver>-reg.sock and <plugin dir>/dra.sock. */
#define DRA_REG_SOCKET_SUFFIX "-reg.sock"
#define DRA_SOCKET "dra.sock"

/* A driver name: a DNS subdomain of at most 63 characters (as ResourceSlices
 * require), starting with a letter (as CDI requires of a vendor). */
const char *dra_driver_name_problem(const char *name);
/* A node name: a DNS subdomain (the pool is named after it). */
const char *dra_node_name_problem(const char *name);

/* Loads the config, discovers the devices, serves kubelet's registration
 * and DRA sockets until SIGTERM or SIGINT; then removes both sockets.
 * Returns 0 or -errno. */
int dra_daemon_run(const struct dra_options *opts, struct ky_error **err);
/* --check-config: loads the config and discovers the node's devices, and
 * prints what the driver would serve (without touching the node). */
int dra_check_config(const struct dra_options *opts, FILE *out, struct ky_error **err);

/* kyborgctl status: the inventory with what is live on each device: the
 * front end that serves it (from the device config both front ends read),
 * the pods, attachments and claims using it now, a NIC PF's devlink eswitch
 * mode, an FPGA's loaded image and the firmware version the kernel reports
 * (read, never written). */
#pragma once

#include <stdio.h>

#include "kyborg/node/node_plan.h"

struct cJSON;
struct ky_device_config;
struct ky_device_host;
struct ky_error;
struct ky_pci_list;

/* Facts the kernel reports beyond PCI discovery, per function of list
 * (same order). NULL / KY_ESWITCH_UNKNOWN when it does not say. */
struct ky_dev_live {
	char *firmware;               /* ETHTOOL_GDRVINFO's fw_version of the function's first netdev */
	enum ky_eswitch_mode eswitch; /* NIC PFs only */
	char *fpga_image;             /* FPGAs: the port's afu_id */
};

/* Reads them for every function (devlink for non-VF NICs, ethtool for
 * functions with a netdev, the DFL port's afu_id for FPGAs). *out has list->n entries; free with
 * ky_node_live_free. Only running out of memory fails. */
int ky_node_live_read(const struct ky_pci_list *list, struct ky_dev_live **out, struct ky_error **err);
void ky_node_live_free(struct ky_dev_live *live, size_t n);

/* Which kubelet front end serves a function. */
enum ky_node_frontend {
	KY_NODE_FRONTEND_NONE = 0,          /* no resource of the config takes it */
	KY_NODE_FRONTEND_DEVICE_PLUGIN = 1, /* kyborg-device-plugin */
	KY_NODE_FRONTEND_DRA = 2,           /* kyborg-dra-driver */
};
/* "none", "devicePlugin", "dra": the config's names, for JSON. */
const char *ky_node_frontend_name(enum ky_node_frontend f);

struct ky_dev_served {
	enum ky_node_frontend frontend;
	const char *resource; /* the resource that takes it, borrowed from the config; NULL with none */
};

/* Per function of list (same order, list->n entries, free()): the first
 * resource of cfg that takes it, matched as both front ends match
 * (ky_devices_build_host; host may be NULL), and that resource's front
 * end. Pure; fails as ky_devices_build_host does. */
int ky_node_served(const struct ky_device_config *cfg, const struct ky_pci_list *list,
		   const struct ky_device_host *host, struct ky_dev_served **out, struct ky_error **err);

/* The same from the node: the device config at config_path
 * (ky_device_config_load's errors, -ENOENT when there is none) and what
 * the node offers besides its functions (ky_device_host_probe), as the
 * device plugin reads them. *cfg is what *out borrows from: free it after. */
int ky_node_served_read(const char *config_path, const struct ky_pci_list *list, struct ky_device_config **cfg,
			struct ky_dev_served **out, struct ky_error **err);

/* What a status report shows, all borrowed; only list is required. */
struct ky_node_status {
	const struct ky_pci_list *list;
	const struct ky_dev_live *live;     /* per function of list */
	const struct ky_node_usage *usage;
	const struct ky_dev_served *served; /* per function of list; NULL: front ends unknown */
	char *const *notes;                 /* why something is unknown ("no device config at ...") */
	size_t n_notes;
};

/* The inventory JSON (ky_inventory_to_json) with, per function,
 * "firmware_version" (string or null), "used_by" (list), "frontend"
 * ("devicePlugin", "dra", "none"; null when unknown) and "resource" (the
 * config's resource or null), for NIC PFs "eswitch_mode" ("legacy",
 * "switchdev" or null) and for FPGAs "fpga_image" (the loaded image id or
 * null); and "notes" (list). Pure. */
int ky_node_status_json(const struct ky_node_status *st, struct cJSON **out, struct ky_error **err);
/* The inventory tables, then the NIC PFs' eswitch mode, FPGAs' images,
 * firmware versions, and per function its front end, resource and who
 * holds it. Pure; -EIO when writing fails. */
int ky_node_status_write_text(const struct ky_node_status *st, FILE *f, struct ky_error **err);

/* kyborgctl status: the inventory with what is live on each device: the
 * pods and attachments using it now, a NIC PF's devlink eswitch mode, an
 * FPGA's loaded image and the firmware version the kernel reports (read,
 * never written). */
#pragma once

#include <stdio.h>

#include "kyborg/node/node_plan.h"

struct cJSON;
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

/* The inventory JSON (ky_inventory_to_json) with, per function,
 * "firmware_version" (string or null), "used_by" (list), for NIC PFs
 * "eswitch_mode" ("legacy", "switchdev" or null) and for FPGAs "fpga_image"
 * (the loaded image id or null). Pure; live may be NULL. */
int ky_node_status_json(const struct ky_pci_list *list, const struct ky_dev_live *live,
			const struct ky_node_usage *usage, struct cJSON **out, struct ky_error **err);
/* The inventory tables, then the NIC PFs' eswitch mode, FPGAs' images,
 * firmware versions and the
 * functions in use, by whom. Pure; -EIO when writing fails. */
int ky_node_status_write_text(const struct ky_pci_list *list, const struct ky_dev_live *live,
			      const struct ky_node_usage *usage, FILE *f, struct ky_error **err);

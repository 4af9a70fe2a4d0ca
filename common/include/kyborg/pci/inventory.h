/* The node's accelerator inventory, from a discovered PCI list: as a JSON
 * document for tools and as a table for people. Pure: no discovery here. */
#pragma once

#include <stdio.h>

struct cJSON;
struct ky_error;
struct ky_pci_list;

/* Builds
 *   { "pci_functions": [ { "address", "family", "vendor", "device",
 *                          "vendor_name", "device_name",
 *                          "subsystem_vendor", "subsystem_device", "class",
 *                          "driver", "numa_node", "iommu_group", "netdevs",
 *                          "devnodes", ["sriov": {"total_vfs", "num_vfs", "vfs"}],
 *                          ["physfn", "vf_index"] }, ... ],
 *     "summary": { "total", "gpu", "fpga", "nic", "other", "vf" } }
 * IDs and class are lower-case hex strings without "0x" ("10de", "030200");
 * unknown values (no driver, NUMA node or IOMMU group, no name from
 * ky_pci_names_fill) are null. The
 * caller owns *out (cJSON_Delete). */
int ky_inventory_to_json(const struct ky_pci_list *list, struct cJSON **out, struct ky_error **err);

/* Writes a table per family (GPUs, FPGAs, NICs), each VF indented under its
 * PF (names last, where known), and a count of the other PCI functions. -EIO when writing fails. */
int ky_inventory_write_text(const struct ky_pci_list *list, FILE *f, struct ky_error **err);

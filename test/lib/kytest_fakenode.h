/* A hand-built ky_pci_list shaped like the simulated node (two NVIDIA GPUs on
 * NUMA 0 and 1, an Intel FPGA, a PF ens1f0 with four iavf VFs), for the
 * pure tests of the device layer and the front ends, and the device lists a
 * config builds over it. Static storage: never ky_pci_list_free it. */
#pragma once

#include "kyborg/device/device_config.h"
#include "kyborg/device/device_list.h"
#include "kyborg/pci/pci.h"

extern struct ky_pci_dev fake_devs[8];
extern struct ky_pci_list fake_node;

/* Index of each function in fake_devs (sorted by address, as discovery is). */
enum { FAKE_PF, FAKE_VF0, FAKE_VF1, FAKE_VF2, FAKE_VF3, FAKE_GPU0, FAKE_GPU1, FAKE_FPGA };

/* Fills fake_devs afresh (a test may have changed them). */
void fake_node_init(void);

/* Parses config and builds its device lists over fake_node into *cfg and
 * *lists, freeing what they held. Asserts on failure. */
void kyt_fake_devices_build(const char *config, struct ky_device_config **cfg, struct ky_devlist **lists);
/* Frees *cfg and *lists (either may be NULL) and clears them. */
void kyt_fake_devices_free(struct ky_device_config **cfg, struct ky_devlist **lists);

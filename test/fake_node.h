/* A hand-built ky_pci_list shaped like the simulated node (two NVIDIA GPUs on
 * NUMA 0 and 1, an Intel FPGA, a PF ens1f0 with four iavf VFs), for the
 * pure tests of the device layer and the front ends. Static storage: never
 * ky_pci_list_free it. */
#pragma once

#include <string.h>

#include "kyborg/pci/pci.h"

static char *fake_pf_netdevs[] = { "ens1f0" };
static char *fake_vf_netdevs[4][1] = { { "ens1f0v0" }, { "ens1f0v1" }, { "ens1f0v2" }, { "ens1f0v3" } };
static char *fake_gpu0_nodes[] = { "/dev/dri/card0", "/dev/dri/renderD128" };
static char *fake_gpu1_nodes[] = { "/dev/dri/card1", "/dev/dri/renderD129" };
static char *fake_fpga_nodes[] = { "/dev/dfl-fme.0", "/dev/dfl-port.0" };
static char *fake_vfio_nodes[] = { "/dev/vfio/203" };

static struct ky_pci_dev fake_devs[8];
static struct ky_pci_list fake_node = { fake_devs, 8 };

/* Index of each function in fake_devs (sorted by address, as discovery is). */
enum { FAKE_PF, FAKE_VF0, FAKE_VF1, FAKE_VF2, FAKE_VF3, FAKE_GPU0, FAKE_GPU1, FAKE_FPGA };

static void fake_node_init(void)
{
	memset(fake_devs, 0, sizeof(fake_devs));
	struct ky_pci_dev *d = fake_devs;
	d[FAKE_PF] = (struct ky_pci_dev){ .addr = "0000:18:00.0", .vendor = 0x8086, .device = 0x1592,
					  .class_code = 0x020000, .driver = "ice", .numa_node = 0,
					  .iommu_group = 20, .sriov_totalvfs = 8, .sriov_numvfs = 4,
					  .netdevs = fake_pf_netdevs, .n_netdevs = 1 };
	for (int i = 0; i < 4; i++) {
		d[FAKE_VF0 + i] = (struct ky_pci_dev){ .vendor = 0x8086, .device = 0x1889, .class_code = 0x020000,
						       .driver = "iavf", .numa_node = 0, .iommu_group = 200 + i,
						       .sriov_totalvfs = -1, .sriov_numvfs = -1,
						       .physfn = "0000:18:00.0", .netdevs = fake_vf_netdevs[i],
						       .n_netdevs = 1 };
		snprintf(d[FAKE_VF0 + i].addr, KY_PCI_ADDR_LEN, "0000:18:01.%d", i);
	}
	/* VF3 is bound to vfio-pci: a VFIO group node and no netdev. */
	d[FAKE_VF3].driver = "vfio-pci";
	d[FAKE_VF3].n_netdevs = 0;
	d[FAKE_VF3].devnodes = fake_vfio_nodes;
	d[FAKE_VF3].n_devnodes = 1;
	d[FAKE_GPU0] = (struct ky_pci_dev){ .addr = "0000:3b:00.0", .vendor = 0x10de, .device = 0x2330,
					    .class_code = 0x030200, .driver = "nvidia", .numa_node = 0,
					    .iommu_group = 30, .sriov_totalvfs = -1, .sriov_numvfs = -1,
					    .devnodes = fake_gpu0_nodes, .n_devnodes = 2 };
	d[FAKE_GPU1] = d[FAKE_GPU0];
	strcpy(d[FAKE_GPU1].addr, "0000:86:00.0");
	d[FAKE_GPU1].numa_node = 1;
	d[FAKE_GPU1].iommu_group = 70;
	d[FAKE_GPU1].devnodes = fake_gpu1_nodes;
	d[FAKE_FPGA] = (struct ky_pci_dev){ .addr = "0000:af:00.0", .vendor = 0x8086, .device = 0x0b30,
					    .class_code = 0x120000, .driver = "dfl-pci", .numa_node = 1,
					    .iommu_group = 90, .sriov_totalvfs = -1, .sriov_numvfs = -1,
					    .devnodes = fake_fpga_nodes, .n_devnodes = 2 };
}

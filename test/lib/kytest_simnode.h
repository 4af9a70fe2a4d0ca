/* The simulated accelerator node (test/data/sim-node.umockdev) in an
 * umockdev testbed, and the paths tests need to find built binaries. */
#pragma once

#include <umockdev.h>

/* The PCI functions of the simulated node. */
#define KYT_SIM_GPU0 "0000:3b:00.0" /* NVIDIA 10de:2330, NUMA 0, IOMMU group 30 */
#define KYT_SIM_GPU1 "0000:86:00.0" /* NVIDIA 10de:2330, NUMA 1, IOMMU group 70 */
#define KYT_SIM_FPGA "0000:af:00.0" /* Intel 8086:0b30, dfl-pci, NUMA 1, IOMMU group 90 */
#define KYT_SIM_PF "0000:18:00.0"   /* Intel 8086:1592, ice, NUMA 0, 4 of 8 VFs */
#define KYT_SIM_VF0 "0000:18:01.0"  /* Intel 8086:1889, iavf, IOMMU group 200 + N */
#define KYT_SIM_VF1 "0000:18:01.1"
#define KYT_SIM_VF2 "0000:18:01.2"
#define KYT_SIM_VF3 "0000:18:01.3"
#define KYT_SIM_N_FUNCTIONS 8

/* The record with @PF@ and @VF0@..@VF3@ replaced by the given interface
 * names (each 1..15 characters, no '/', '@' or white space). Returns a
 * malloc'd string, or NULL (errno set). */
char *kyt_simnode_render(const char *pf_ifname, const char *const vf_ifnames[4]);

/* Renders the record and adds it to tb. Returns 0 or -errno; a parse
 * error from umockdev is printed to stderr. */
int kyt_simnode_load(UMockdevTestbed *tb, const char *pf_ifname, const char *const vf_ifnames[4]);

/* A fresh testbed holding the simulated node, its PF and VFs given unique
 * interface names (pf_name gets the PF's, 16 bytes; vf_names the VFs' when
 * not NULL). Asserts that the test runs under umockdev-wrapper and that
 * the node loads. The caller clears and unrefs the testbed in teardown. */
UMockdevTestbed *kyt_simnode_testbed(char pf_name[16], char vf_names[4][16]);

/* Clears and unrefs *tb, and sets it to NULL (NULL is fine): teardown. */
void kyt_testbed_free(UMockdevTestbed **tb);

/* The PCI functions of the anchors' configs (test/data/compat/node.umockdev,
 * loaded with kyt_testbed_add_file): host-device's kernelpath and pciBusID
 * examples, sriov-cni's configuration reference VF and its PF, and a VF
 * bound to vfio-pci for its DPDK example. Their netdevs are @KERNELPATH@,
 * @PCIBUSID@, @REFPF@, @REFVF@ and @DPDKPF@. */
#define KYT_COMPAT_KERNELPATH "/sys/devices/pci0000:00/0000:00:1f.6"
#define KYT_COMPAT_PCIBUSID "0000:3d:00.1"
#define KYT_COMPAT_REF_VF "0000:03:02.0"
#define KYT_COMPAT_DPDK_VF "0000:5e:01.1"

/* Adds the records of a file, each "@NAME@" replaced by the value given for
 * it in subs ({ "NAME", value, ..., NULL }); a placeholder not in subs
 * fails. Returns 0 or -errno. */
int kyt_testbed_add_file(UMockdevTestbed *tb, const char *path, const char *const subs[]);

/* Adds a record given as text (several devices allowed). Returns 0 or -EINVAL. */
int kyt_testbed_add(UMockdevTestbed *tb, const char *record);


/* The simulated node's GPU1 (0000:86:00.0) records alone: the function and
 * its DRM nodes, to take it away and bring it back (hot-plug). Malloc'd;
 * asserts on failure. */
char *kyt_simnode_gpu1_record(void);

/* A second PF (0000:5e:00.0, ice) whose one VF (0000:5e:01.0) is bound to
 * vfio-pci: no netdev. A printf format: the PF's interface name twice. */
extern const char kyt_simnode_userspace_vf_record[];

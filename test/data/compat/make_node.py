#!/usr/bin/python3
"""Writes sriovdp-node.umockdev: the simulated node the SR-IOV network
device plugin's own configs (this folder) run against. Each function is
described as the kernel shows it in sysfs (test/data/sim-node.umockdev is
the model): PCI attributes, driver and iommu_group links, physfn/virtfnN
links, net/ children with their link type, and for RDMA-capable functions
the infiniband/ device with its infiniband_verbs/ and infiniband_mad/
character devices. Interface names and addresses are the ones the configs
name. Run it again after a change: python3 make_node.py > sriovdp-node.umockdev"""

out = []


def rec(path, lines):
    out.append("P: " + path)
    out.extend(lines)
    out.append("")


def pci(root, addr, vid, did, cls, driver, numa, group=None, extra=()):
    """A PCI function under root port `root` ("pci0000:17/0000:17:00.0")."""
    path = "/devices/%s/%s" % (root, addr)
    lines = ["E: SUBSYSTEM=pci", "E: PCI_SLOT_NAME=" + addr, "E: PCI_ID=%s:%s" % (vid.upper(), did.upper()),
             "E: PCI_CLASS=%X" % cls]
    if driver:
        lines.append("E: DRIVER=" + driver)
    lines += ["A: vendor=0x" + vid, "A: device=0x" + did, "A: class=0x%06x" % cls, "A: numa_node=%d" % numa,
              "A: enable=1"]
    lines += list(extra)
    if driver:
        lines.append("L: driver=../../../../bus/pci/drivers/" + driver)
    if group is not None:
        lines.append("L: iommu_group=../../../../kernel/iommu_groups/%d" % group)
    return path, lines


def netdev(parent, name, ifindex, mac, link_type=1):
    rec(parent + "/net/" + name, ["E: INTERFACE=" + name, "E: IFINDEX=%d" % ifindex, "E: SUBSYSTEM=net",
                                  "A: ifindex=%d" % ifindex, "A: address=" + mac, "A: addr_len=%d" % (6 if link_type == 1 else 20),
                                  "A: mtu=1500", "A: operstate=up", "A: type=%d" % link_type,
                                  "L: device=../../../" + parent.rsplit("/", 1)[1]])


def rdma(parent, ibdev, n):
    """An RDMA device and its uverbsN, umadN, issmN (majors and minors as the kernel gives them)."""
    fn = parent.rsplit("/", 1)[1]
    rec(parent + "/infiniband/" + ibdev, ["E: NAME=" + ibdev, "E: SUBSYSTEM=infiniband",
                                          "A: node_type=1: CA", "L: device=../../../" + fn])
    for sub, kind, minor in (("infiniband_verbs", "uverbs", 192 + n), ("infiniband_mad", "umad", n),
                             ("infiniband_mad", "issm", 64 + n)):
        name = "%s%d" % (kind, n)
        rec("%s/%s/%s" % (parent, sub, name),
            ["N: infiniband/" + name, "E: DEVNAME=/dev/infiniband/" + name, "E: MAJOR=231", "E: MINOR=%d" % minor,
             "E: SUBSYSTEM=" + sub, "A: dev=231:%d" % minor, "A: ibdev=" + ibdev, "L: device=../../../" + fn])


def vf_addr(pf, i, first_slot, first_fn=0):
    """VF i's address: its routing ID is the PF's offset plus i (stride 1)."""
    dom, bus, _ = pf.split(":")
    n = first_fn + i
    return "%s:%s:%02x.%d" % (dom, bus, first_slot + n // 8, n % 8)


def sriov_pf(root, addr, vid, did, vf_did, driver, vf_driver, numa, name, n_vfs, total, first_slot, group,
             vf_names=None, vf_rdma=None, pf_rdma=None, link_type=1, vf_drivers=None, acpi=None, first_fn=0):
    vfs = [vf_addr(addr, i, first_slot, first_fn) for i in range(n_vfs)]
    extra = ["A: sriov_totalvfs=%d" % total, "A: sriov_numvfs=%d" % n_vfs]
    if acpi:
        extra.append("A: acpi_index=%s" % acpi)
    extra += ["L: virtfn%d=../%s" % (i, v) for i, v in enumerate(vfs)]
    path, lines = pci(root, addr, vid, did, 0x020000, driver, numa, group, extra)
    rec(path, lines)
    if name:
        netdev(path, name, 100 + group, "b4:96:91:%02x:%02x:00" % (group & 0xff, numa), link_type)
    if pf_rdma:
        rdma(path, *pf_rdma)
    for i, v in enumerate(vfs):
        drv = (vf_drivers or {}).get(i, vf_driver)
        g = group * 100 + i
        vpath, vlines = pci(root, v, vid, vf_did, 0x020000, drv, numa, g, ["L: physfn=../" + addr])
        rec(vpath, vlines)
        if drv != "vfio-pci" and vf_names is not False:
            netdev(vpath, "%sv%d" % (name, i), 1000 + g, "02:00:00:%02x:%02x:%02x" % (group & 0xff, numa, i), link_type)
        if vf_rdma and i in vf_rdma:
            rdma(vpath, *vf_rdma[i])


# Intel X710, port 0: four VFs, two on iavf, two on vfio-pci (DPDK).
sriov_pf("pci0000:17/0000:17:00.0", "0000:18:00.0", "8086", "1572", "154c", "i40e", "iavf", 0, "enp0s0f0", 4, 64,
         0x02, 18, vf_drivers={2: "vfio-pci", 3: "vfio-pci"})
# X710 port 1: SR-IOV capable, no VFs made: a PF as the device; ACPI index 101.
sriov_pf("pci0000:17/0000:17:00.0", "0000:18:00.1", "8086", "1572", "154c", "i40e", "iavf", 0, "enp2s2f1", 0, 64,
         0x0a, 19, acpi="101")
# X710 port 2: no VFs, bound to vfio-pci: a PF passed through whole.
p, l = pci("pci0000:17/0000:17:00.0", "0000:18:00.2", "8086", "1572", 0x020000, "vfio-pci", 0, 172,
           ["A: sriov_totalvfs=64", "A: sriov_numvfs=0"])
rec(p, l)
# Intel E810 ens785f0: ten VFs, the first two with RDMA (irdma).
sriov_pf("pci0000:85/0000:85:00.0", "0000:86:00.0", "8086", "1592", "1889", "ice", "iavf", 1, "ens785f0", 10, 128,
         0x01, 86, vf_rdma={0: ("rocep134s1f0", 10), 1: ("rocep134s1f1", 11)})
# E810 ens785f1: ten VFs.
sriov_pf("pci0000:85/0000:85:00.0", "0000:86:00.1", "8086", "1592", "1889", "ice", "iavf", 1, "ens785f1", 10, 128,
         0x11, 87)
# E810 netpf0: ten VFs (the README's "netpf0#0,2-7,9").
sriov_pf("pci0000:3c/0000:3c:00.0", "0000:3d:00.0", "8086", "1592", "1889", "ice", "iavf", 0, "netpf0", 10, 128,
         0x01, 61)
# Mellanox ConnectX-5: two VFs on mlx5_core, each with its RDMA device.
sriov_pf("pci0000:5d/0000:5d:00.0", "0000:5e:00.0", "15b3", "1017", "1018", "mlx5_core", "mlx5_core", 0,
         "ens1f0np0", 2, 8, 0x00, 94, pf_rdma=("mlx5_0", 0),
         vf_rdma={0: ("mlx5_2", 2), 1: ("mlx5_3", 3)}, first_fn=2)
# ConnectX-4 Lx: one VF with RDMA.
sriov_pf("pci0000:ae/0000:ae:00.0", "0000:af:00.0", "15b3", "1015", "1016", "mlx5_core", "mlx5_core", 1,
         "ens2f0np0", 1, 8, 0x00, 175, vf_rdma={0: ("mlx5_4", 4)}, first_fn=2)
# ConnectX-6 in InfiniBand mode, no VFs: a PF as the device, link type infiniband.
sriov_pf("pci0000:d7/0000:d7:00.0", "0000:d8:00.0", "15b3", "101b", "101c", "mlx5_core", "mlx5_core", 1, "ib0", 0,
         8, 0x00, 216, pf_rdma=("mlx5_6", 6), link_type=32)
# Broadcom BCM57508, no VFs: a PF as the device.
sriov_pf("pci0000:3a/0000:3a:00.0", "0000:3b:00.0", "14e4", "1750", "1806", "bnxt_en", "bnxt_en", 0,
         "enp59s0f0np0", 0, 128, 0x00, 59)
# Intel I350, the node's own port (the test gives eno1 the default route).
p, l = pci("pci0000:00/0000:00:1c.0", "0000:01:00.0", "8086", "1521", 0x020000, "igb", 0, 1, ["A: acpi_index=1"])
rec(p, l)
netdev(p, "eno1", 2, "3c:ec:ef:00:00:01")
# Intel PAC N3000 (processing accelerator, class 12).
p, l = pci("pci0000:1b/0000:1b:00.0", "0000:1c:00.0", "8086", "0d90", 0x120000, "dfl-pci", 0, 28)
rec(p, l)
# Intel QAT 4xxx (co-processor, class 0b40): two VFs on vfio-pci.
p, l = pci("pci0000:6a/0000:6a:00.0", "0000:6b:00.0", "8086", "4940", 0x0b4000, "4xxx", 0, 107,
           ["A: sriov_totalvfs=16", "A: sriov_numvfs=2", "L: virtfn0=../0000:6b:00.1", "L: virtfn1=../0000:6b:00.2"])
rec(p, l)
for i in (1, 2):
    p, l = pci("pci0000:6a/0000:6a:00.0", "0000:6b:00.%d" % i, "8086", "4941", 0x0b4000, "vfio-pci", 0, 300 + i,
               ["L: physfn=../0000:6b:00.0"])
    rec(p, l)

print("\n".join(out), end="")

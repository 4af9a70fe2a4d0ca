/* PCI discovery: the pure address and family logic, then libudev discovery
 * of the simulated node in a per-test umockdev testbed, then kyborgctl run
 * against that testbed. Runs under umockdev-wrapper. */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kyborg/json/json.h"
#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/base/log.h"
#include "kyborg/pci/pci.h"
#include "kytest.h"
#include "kytest_simnode.h"


/* ---- Pure: addresses and families ---- */

Test(pci_addr, canonical_address_is_kept)
{
	char out[KY_PCI_ADDR_LEN];
	cr_assert_eq(ky_pci_addr_normalize("0000:3b:00.0", out), 0);
	cr_assert_str_eq(out, "0000:3b:00.0");
	cr_assert(ky_pci_addr_valid("0000:18:01.3"));
}

Test(pci_addr, uppercase_becomes_lowercase)
{
	char out[KY_PCI_ADDR_LEN];
	cr_assert_eq(ky_pci_addr_normalize("0000:AF:1F.7", out), 0);
	cr_assert_str_eq(out, "0000:af:1f.7");
	cr_assert_eq(ky_pci_addr_normalize("ABCD:3B:00.0", out), 0);
	cr_assert_str_eq(out, "abcd:3b:00.0");
}

Test(pci_addr, short_form_means_domain_zero)
{
	char out[KY_PCI_ADDR_LEN];
	cr_assert_eq(ky_pci_addr_normalize("3B:00.0", out), 0);
	cr_assert_str_eq(out, "0000:3b:00.0");
}

Test(pci_addr, bad_addresses_are_einval)
{
	static const char *const bad[] = {
		"", "3b", "0000:3b:00", "0000:3b:00.8", "0000:3b:20.0", "0000:3g:00.0", "0000-3b-00.0",
		"0000:3b:00.0 ", " 0000:3b:00.0", "10000:3b:00.0", "000:3b:00.0", "0000:3b:0.0", "3b:00.00",
		"0000:3b:00.0.0", "+000:3b:00.0",
	};
	char out[KY_PCI_ADDR_LEN];
	for (size_t i = 0; i < KY_ARRAY_SIZE(bad); i++) {
		cr_expect_eq(ky_pci_addr_normalize(bad[i], out), -EINVAL, "\"%s\" accepted", bad[i]);
		cr_expect_not(ky_pci_addr_valid(bad[i]), "\"%s\" valid", bad[i]);
	}
	cr_assert_eq(ky_pci_addr_normalize(NULL, out), -EINVAL);
	cr_assert_not(ky_pci_addr_valid(NULL));
}

Test(pci_addr, nvidia_minor_comes_from_the_drivers_information_file)
{
	cr_assert_eq(ky_pci_nvidia_minor_parse("Model: \t\t NVIDIA H100\nIRQ:   \t\t 156\nDevice Minor: \t 3\nBus Location: \t 0000:3b:00.0\n"), 3);
	cr_assert_eq(ky_pci_nvidia_minor_parse("Model: x\n"), -1);
	cr_assert_eq(ky_pci_nvidia_minor_parse("Device Minor: \t x\n"), -1);
	cr_assert_eq(ky_pci_nvidia_minor_parse(NULL), -1);
}

Test(pci_addr, family_follows_class_and_known_fpga_ids)
{
	struct ky_pci_dev d = { 0 };

	d = (struct ky_pci_dev){ .vendor = 0x10de, .device = 0x2330, .class_code = 0x030200 };
	cr_assert_str_eq(ky_pci_family(&d), "gpu");
	d = (struct ky_pci_dev){ .vendor = 0x1002, .device = 0x740f, .class_code = 0x030000 };
	cr_assert_str_eq(ky_pci_family(&d), "gpu", "an AMD VGA controller is a GPU");
	d = (struct ky_pci_dev){ .vendor = 0x1a03, .device = 0x2000, .class_code = 0x030000 };
	cr_assert_str_eq(ky_pci_family(&d), "other", "a BMC's ASPEED VGA is no accelerator");
	d = (struct ky_pci_dev){ .vendor = 0x8086, .device = 0x0b30, .class_code = 0x120000 };
	cr_assert_str_eq(ky_pci_family(&d), "fpga");
	d = (struct ky_pci_dev){ .vendor = 0x10ee, .device = 0x5004, .class_code = 0x058000 };
	cr_assert_str_eq(ky_pci_family(&d), "fpga", "a Xilinx Alveo says memory controller");
	d = (struct ky_pci_dev){ .vendor = 0x8086, .device = 0x1592, .class_code = 0x020000 };
	cr_assert_str_eq(ky_pci_family(&d), "nic");
	d = (struct ky_pci_dev){ .vendor = 0x8086, .device = 0x347a, .class_code = 0x060400 };
	cr_assert_str_eq(ky_pci_family(&d), "other");
}

Test(pci_addr, vf_index_matches_any_spelling_and_misses_with_minus_one)
{
	char *vfs[] = { "0000:18:01.0", NULL, "0000:18:01.2" };
	struct ky_pci_dev pf = { .addr = "0000:18:00.0", .virtfns = vfs, .n_virtfns = 3 };
	cr_assert_eq(ky_pci_vf_index(&pf, "0000:18:01.0"), 0);
	cr_assert_eq(ky_pci_vf_index(&pf, "18:01.2"), 2);
	cr_assert_eq(ky_pci_vf_index(&pf, "0000:18:01.1"), -1, "a hole matches nothing");
	cr_assert_eq(ky_pci_vf_index(&pf, "bogus"), -1);
	cr_assert_eq(ky_pci_vf_index(NULL, "0000:18:01.0"), -1);
}

/* ---- libudev under umockdev ---- */

static UMockdevTestbed *tb;
static char pf_name[16], vf_names[4][16];

static void testbed_setup(void)
{
	tb = umockdev_testbed_new();
	cr_assert_not_null(tb);
	/* Only meaningful once a testbed exists: it checks what /sys is. */
	cr_assert(umockdev_in_mock_environment(), "run this test under umockdev-wrapper");
}

static void sim_setup(void)
{
	testbed_setup();
	kyt_unique_name(pf_name, sizeof(pf_name), "kypf");
	const char *vfs[4];
	for (int i = 0; i < 4; i++) {
		kyt_unique_name(vf_names[i], sizeof(vf_names[i]), "kyvf");
		vfs[i] = vf_names[i];
	}
	cr_assert_eq(kyt_simnode_load(tb, pf_name, vfs), 0);
}

static void testbed_teardown(void)
{
	if (tb) {
		umockdev_testbed_clear(tb);
		g_clear_object(&tb);
	}
	ky_log_close();
}

TestSuite(pci_discovery, .init = sim_setup, .fini = testbed_teardown);

static struct ky_pci_list *discover_ok(void)
{
	_cleanup_error_ struct ky_error *err = NULL;
	struct ky_pci_list *list = NULL;
	int r = ky_pci_discover(&list, &err);
	cr_assert_eq(r, 0, "discover: %s", ky_error_msg(err));
	cr_assert_not_null(list);
	return list;
}

static const struct ky_pci_dev *must_find(const struct ky_pci_list *list, const char *addr)
{
	const struct ky_pci_dev *d = ky_pci_list_find(list, addr);
	cr_assert_not_null(d, "%s not discovered", addr);
	return d;
}

static void assert_strv(char *const *v, size_t n, const char *const *want, size_t n_want, const char *what)
{
	cr_assert_eq(n, n_want, "%s: %zu entries, want %zu", what, n, n_want);
	for (size_t i = 0; i < n; i++) {
		cr_assert_not_null(v[i], "%s[%zu] is a hole", what, i);
		cr_assert_str_eq(v[i], want[i], "%s[%zu]", what, i);
	}
}

Test(pci_discovery, finds_every_function_of_the_simulated_node_sorted)
{
	_cleanup_(ky_pci_list_freep) struct ky_pci_list *list = discover_ok();
	static const char *const want[] = { KYT_SIM_PF,	 KYT_SIM_VF0,  KYT_SIM_VF1,  KYT_SIM_VF2,
					    KYT_SIM_VF3, KYT_SIM_GPU0, KYT_SIM_GPU1, KYT_SIM_FPGA };
	cr_assert_eq(list->n, KYT_SIM_N_FUNCTIONS);
	for (size_t i = 0; i < list->n; i++) {
		cr_assert_str_eq(list->devs[i].addr, want[i]);
		cr_assert_not_null(list->devs[i].syspath);
		cr_assert(strstr(list->devs[i].syspath, want[i]), "syspath %s", list->devs[i].syspath);
	}
}

Test(pci_discovery, reports_ids_classes_and_drivers)
{
	_cleanup_(ky_pci_list_freep) struct ky_pci_list *list = discover_ok();
	static const struct {
		const char *addr;
		uint16_t vendor, device, sv, sd;
		uint32_t class_code;
		const char *driver;
	} want[] = {
		{ KYT_SIM_GPU0, 0x10de, 0x2330, 0x10de, 0x16c1, 0x030200, "nvidia" },
		{ KYT_SIM_GPU1, 0x10de, 0x2330, 0x10de, 0x16c1, 0x030200, "nvidia" },
		{ KYT_SIM_FPGA, 0x8086, 0x0b30, 0x8086, 0x0000, 0x120000, "dfl-pci" },
		{ KYT_SIM_PF, 0x8086, 0x1592, 0x8086, 0x0002, 0x020000, "ice" },
		{ KYT_SIM_VF0, 0x8086, 0x1889, 0x8086, 0x0000, 0x020000, "iavf" },
		{ KYT_SIM_VF1, 0x8086, 0x1889, 0x8086, 0x0000, 0x020000, "iavf" },
		{ KYT_SIM_VF2, 0x8086, 0x1889, 0x8086, 0x0000, 0x020000, "iavf" },
		{ KYT_SIM_VF3, 0x8086, 0x1889, 0x8086, 0x0000, 0x020000, "iavf" },
	};
	for (size_t i = 0; i < KY_ARRAY_SIZE(want); i++) {
		const struct ky_pci_dev *d = must_find(list, want[i].addr);
		cr_assert_eq(d->vendor, want[i].vendor, "%s vendor %04x", d->addr, d->vendor);
		cr_assert_eq(d->device, want[i].device, "%s device %04x", d->addr, d->device);
		cr_assert_eq(d->subsys_vendor, want[i].sv, "%s subsystem vendor", d->addr);
		cr_assert_eq(d->subsys_device, want[i].sd, "%s subsystem device", d->addr);
		cr_assert_eq(d->class_code, want[i].class_code, "%s class %06x", d->addr, d->class_code);
		cr_assert_not_null(d->driver, "%s has no driver", d->addr);
		cr_assert_str_eq(d->driver, want[i].driver);
	}
}

Test(pci_discovery, reports_numa_nodes_and_iommu_groups)
{
	_cleanup_(ky_pci_list_freep) struct ky_pci_list *list = discover_ok();
	static const struct {
		const char *addr;
		int numa, group;
	} want[] = {
		{ KYT_SIM_GPU0, 0, 30 }, { KYT_SIM_GPU1, 1, 70 },  { KYT_SIM_FPGA, 1, 90 },  { KYT_SIM_PF, 0, 20 },
		{ KYT_SIM_VF0, 0, 200 }, { KYT_SIM_VF1, 0, 201 }, { KYT_SIM_VF2, 0, 202 }, { KYT_SIM_VF3, 0, 203 },
	};
	for (size_t i = 0; i < KY_ARRAY_SIZE(want); i++) {
		const struct ky_pci_dev *d = must_find(list, want[i].addr);
		cr_assert_eq(d->numa_node, want[i].numa, "%s numa %d", d->addr, d->numa_node);
		cr_assert_eq(d->iommu_group, want[i].group, "%s iommu group %d", d->addr, d->iommu_group);
	}
}

Test(pci_discovery, pf_reports_sriov_counts_and_virtfns_in_order)
{
	_cleanup_(ky_pci_list_freep) struct ky_pci_list *list = discover_ok();
	const struct ky_pci_dev *pf = must_find(list, KYT_SIM_PF);
	static const char *const vfs[] = { KYT_SIM_VF0, KYT_SIM_VF1, KYT_SIM_VF2, KYT_SIM_VF3 };
	cr_assert_eq(pf->sriov_totalvfs, 8);
	cr_assert_eq(pf->sriov_numvfs, 4);
	assert_strv(pf->virtfns, pf->n_virtfns, vfs, 4, "virtfns");
	cr_assert_str_eq(pf->physfn, "");
	cr_assert_not(ky_pci_is_vf(pf));

	const char *const others[] = { KYT_SIM_GPU0, KYT_SIM_GPU1, KYT_SIM_FPGA, KYT_SIM_VF0 };
	for (size_t i = 0; i < KY_ARRAY_SIZE(others); i++) {
		const struct ky_pci_dev *d = must_find(list, others[i]);
		cr_assert_eq(d->sriov_totalvfs, -1, "%s", d->addr);
		cr_assert_eq(d->sriov_numvfs, -1, "%s", d->addr);
		cr_assert_eq(d->n_virtfns, 0, "%s", d->addr);
	}
}

Test(pci_discovery, vfs_name_their_pf_and_index)
{
	_cleanup_(ky_pci_list_freep) struct ky_pci_list *list = discover_ok();
	const struct ky_pci_dev *pf = must_find(list, KYT_SIM_PF);
	static const char *const vfs[] = { KYT_SIM_VF0, KYT_SIM_VF1, KYT_SIM_VF2, KYT_SIM_VF3 };
	for (int i = 0; i < 4; i++) {
		const struct ky_pci_dev *vf = must_find(list, vfs[i]);
		cr_assert(ky_pci_is_vf(vf));
		cr_assert_str_eq(vf->physfn, KYT_SIM_PF);
		cr_assert_eq(ky_pci_vf_index(pf, vf->addr), i);
	}
	cr_assert_not(ky_pci_is_vf(must_find(list, KYT_SIM_GPU0)));
	cr_assert_eq(ky_pci_vf_index(pf, KYT_SIM_GPU0), -1);
}

Test(pci_discovery, netdevs_carry_the_substituted_names)
{
	_cleanup_(ky_pci_list_freep) struct ky_pci_list *list = discover_ok();
	const char *pf_want[] = { pf_name };
	const struct ky_pci_dev *pf = must_find(list, KYT_SIM_PF);
	assert_strv(pf->netdevs, pf->n_netdevs, pf_want, 1, "PF netdevs");
	static const char *const vfs[] = { KYT_SIM_VF0, KYT_SIM_VF1, KYT_SIM_VF2, KYT_SIM_VF3 };
	for (int i = 0; i < 4; i++) {
		const char *want[] = { vf_names[i] };
		const struct ky_pci_dev *vf = must_find(list, vfs[i]);
		assert_strv(vf->netdevs, vf->n_netdevs, want, 1, vf->addr);
		cr_assert_eq(vf->n_devnodes, 0, "a netdev has no device node");
	}
	cr_assert_eq(must_find(list, KYT_SIM_GPU0)->n_netdevs, 0);
	cr_assert_eq(must_find(list, KYT_SIM_FPGA)->n_netdevs, 0);
}

Test(pci_discovery, devnodes_come_from_each_function_s_children)
{
	_cleanup_(ky_pci_list_freep) struct ky_pci_list *list = discover_ok();
	static const char *const gpu0[] = { "/dev/dri/card0", "/dev/dri/renderD128" };
	static const char *const gpu1[] = { "/dev/dri/card1", "/dev/dri/renderD129" };
	static const char *const fpga[] = { "/dev/dfl-fme.0", "/dev/dfl-port.0" };
	const struct ky_pci_dev *d = must_find(list, KYT_SIM_GPU0);
	assert_strv(d->devnodes, d->n_devnodes, gpu0, 2, "GPU0 devnodes");
	d = must_find(list, KYT_SIM_GPU1);
	assert_strv(d->devnodes, d->n_devnodes, gpu1, 2, "GPU1 devnodes");
	d = must_find(list, KYT_SIM_FPGA);
	assert_strv(d->devnodes, d->n_devnodes, fpga, 2, "FPGA devnodes");
	cr_assert_eq(must_find(list, KYT_SIM_PF)->n_devnodes, 0);
	/* The nodes exist in the testbed's /dev, where a device plugin would mount them from. */
	cr_assert_eq(access("/dev/dri/renderD129", F_OK), 0);
	cr_assert_eq(access("/dev/dfl-port.0", F_OK), 0);
}

Test(pci_discovery, family_of_each_function)
{
	_cleanup_(ky_pci_list_freep) struct ky_pci_list *list = discover_ok();
	cr_assert_str_eq(ky_pci_family(must_find(list, KYT_SIM_GPU0)), "gpu");
	cr_assert_str_eq(ky_pci_family(must_find(list, KYT_SIM_GPU1)), "gpu");
	cr_assert_str_eq(ky_pci_family(must_find(list, KYT_SIM_FPGA)), "fpga");
	cr_assert_str_eq(ky_pci_family(must_find(list, KYT_SIM_PF)), "nic");
	cr_assert_str_eq(ky_pci_family(must_find(list, KYT_SIM_VF3)), "nic");
}

static void assert_same_dev(const struct ky_pci_dev *a, const struct ky_pci_dev *b)
{
	cr_assert_str_eq(a->addr, b->addr);
	cr_assert_str_eq(a->syspath, b->syspath);
	cr_assert_eq(a->vendor, b->vendor);
	cr_assert_eq(a->device, b->device);
	cr_assert_eq(a->class_code, b->class_code);
	cr_assert_str_eq(a->driver ? a->driver : "", b->driver ? b->driver : "");
	cr_assert_eq(a->numa_node, b->numa_node);
	cr_assert_eq(a->iommu_group, b->iommu_group);
	cr_assert_eq(a->sriov_totalvfs, b->sriov_totalvfs);
	cr_assert_eq(a->sriov_numvfs, b->sriov_numvfs);
	cr_assert_str_eq(a->physfn, b->physfn);
	assert_strv(a->virtfns, a->n_virtfns, (const char *const *)b->virtfns, b->n_virtfns, "virtfns");
	assert_strv(a->netdevs, a->n_netdevs, (const char *const *)b->netdevs, b->n_netdevs, "netdevs");
	assert_strv(a->devnodes, a->n_devnodes, (const char *const *)b->devnodes, b->n_devnodes, "devnodes");
}

Test(pci_discovery, lookup_reads_each_function_as_discover_does)
{
	_cleanup_(ky_pci_list_freep) struct ky_pci_list *list = discover_ok();
	for (size_t i = 0; i < list->n; i++) {
		_cleanup_error_ struct ky_error *err = NULL;
		_cleanup_(ky_pci_dev_freep) struct ky_pci_dev *d = NULL;
		cr_assert_eq(ky_pci_lookup(list->devs[i].addr, &d, &err), 0, "%s: %s", list->devs[i].addr,
			     ky_error_msg(err));
		assert_same_dev(d, &list->devs[i]);
	}
}

/* The libudev-free lookup the CNI plugin uses agrees on the network side. */
Test(pci_discovery, net_lookup_reads_links_and_netdevs_as_discover_does)
{
	_cleanup_(ky_pci_list_freep) struct ky_pci_list *list = discover_ok();
	for (size_t i = 0; i < list->n; i++) {
		const struct ky_pci_dev *b = &list->devs[i];
		_cleanup_error_ struct ky_error *err = NULL;
		_cleanup_(ky_pci_dev_freep) struct ky_pci_dev *a = NULL;
		cr_assert_eq(ky_pci_lookup_net(b->addr, &a, &err), 0, "%s: %s", b->addr, ky_error_msg(err));
		cr_assert_str_eq(a->addr, b->addr);
		cr_assert_str_eq(a->physfn, b->physfn, "%s physfn", b->addr);
		cr_expect_str_eq(a->driver ? a->driver : "", b->driver ? b->driver : "", "%s driver", b->addr);
		assert_strv(a->virtfns, a->n_virtfns, (const char *const *)b->virtfns, b->n_virtfns, "virtfns");
		assert_strv(a->netdevs, a->n_netdevs, (const char *const *)b->netdevs, b->n_netdevs, "netdevs");
		cr_assert_eq(a->n_devnodes, 0);
		cr_assert_eq(a->numa_node, -1);
	}
	_cleanup_error_ struct ky_error *err = NULL;
	struct ky_pci_dev *d = NULL;
	cr_assert_eq(ky_pci_lookup_net("0000:99:00.0", &d, &err), -ENODEV);
	cr_assert(strstr(ky_error_msg(err), "0000:99:00.0"), "%s", ky_error_msg(err));
	ky_error_clear(&err);
	cr_assert_eq(ky_pci_lookup_net("../../etc", &d, &err), -EINVAL);
}

Test(pci_discovery, lookup_accepts_uppercase_and_short_form)
{
	_cleanup_error_ struct ky_error *err = NULL;
	_cleanup_(ky_pci_dev_freep) struct ky_pci_dev *a = NULL;
	_cleanup_(ky_pci_dev_freep) struct ky_pci_dev *b = NULL;
	cr_assert_eq(ky_pci_lookup("0000:AF:00.0", &a, &err), 0, "%s", ky_error_msg(err));
	cr_assert_str_eq(a->addr, KYT_SIM_FPGA);
	cr_assert_eq(ky_pci_lookup("3b:00.0", &b, &err), 0, "%s", ky_error_msg(err));
	cr_assert_str_eq(b->addr, KYT_SIM_GPU0);
}

Test(pci_discovery, lookup_of_a_missing_address_is_enodev_naming_it)
{
	_cleanup_error_ struct ky_error *err = NULL;
	struct ky_pci_dev *d = NULL;
	cr_assert_eq(ky_pci_lookup("0000:99:00.0", &d, &err), -ENODEV);
	cr_assert_null(d);
	cr_assert_eq(ky_error_code(err), ENODEV);
	cr_assert(strstr(ky_error_msg(err), "0000:99:00.0"), "message: %s", ky_error_msg(err));
}

Test(pci_discovery, lookup_of_a_bad_address_is_einval)
{
	_cleanup_error_ struct ky_error *err = NULL;
	struct ky_pci_dev *d = NULL;
	cr_assert_eq(ky_pci_lookup("not-an-address", &d, &err), -EINVAL);
	cr_assert_null(d);
	cr_assert(strstr(ky_error_msg(err), "not-an-address"), "message: %s", ky_error_msg(err));
}

static const char unbound_gpu[] = "P: /devices/pci0000:c0/0000:c0:01.0/0000:c1:00.0\n"
				  "E: SUBSYSTEM=pci\n"
				  "A: vendor=0x10de\n"
				  "A: device=0x2330\n"
				  "A: class=0x030200\n"
				  "A: numa_node=-1\n";

Test(pci_discovery, unbound_function_has_no_driver)
{
	cr_assert_eq(kyt_testbed_add(tb, unbound_gpu), 0);
	_cleanup_(ky_pci_list_freep) struct ky_pci_list *list = discover_ok();
	cr_assert_eq(list->n, KYT_SIM_N_FUNCTIONS + 1);
	const struct ky_pci_dev *d = must_find(list, "0000:c1:00.0");
	cr_assert_null(d->driver, "driver %s", d->driver);
	cr_assert_eq(d->numa_node, -1, "numa_node \"-1\" is unknown");
	cr_assert_eq(d->iommu_group, -1, "no iommu_group link");
	cr_assert_eq(d->subsys_vendor, 0);
	cr_assert_eq(d->n_devnodes, 0);

	_cleanup_error_ struct ky_error *err = NULL;
	_cleanup_(ky_pci_dev_freep) struct ky_pci_dev *l = NULL;
	cr_assert_eq(ky_pci_lookup("0000:c1:00.0", &l, &err), 0, "%s", ky_error_msg(err));
	cr_assert_null(l->driver);
}

Test(pci_discovery, vfio_bound_function_owns_its_group_node)
{
	cr_assert_eq(kyt_testbed_add(tb, "P: /devices/pci0000:e0/0000:e0:02.0/0000:e1:00.0\n"
					 "E: SUBSYSTEM=pci\n"
					 "E: DRIVER=vfio-pci\n"
					 "A: vendor=0x10de\n"
					 "A: device=0x2330\n"
					 "A: class=0x030200\n"
					 "L: driver=../../../../bus/pci/drivers/vfio-pci\n"
					 "L: iommu_group=../../../../kernel/iommu_groups/77\n"),
		     0);
	_cleanup_(ky_pci_list_freep) struct ky_pci_list *list = discover_ok();
	const struct ky_pci_dev *d = must_find(list, "0000:e1:00.0");
	static const char *const want[] = { "/dev/vfio/77" };
	cr_assert_str_eq(d->driver, "vfio-pci");
	cr_assert_eq(d->iommu_group, 77);
	assert_strv(d->devnodes, d->n_devnodes, want, 1, "devnodes");
}

Test(pci_discovery, nodes_below_a_bridge_belong_to_the_nearest_function)
{
	cr_assert_eq(kyt_testbed_add(tb, "P: /devices/pci0000:c0/0000:c0:01.0\n"
					 "E: SUBSYSTEM=pci\n"
					 "E: DRIVER=pcieport\n"
					 "A: vendor=0x8086\n"
					 "A: device=0x347a\n"
					 "A: class=0x060400\n"
					 "L: driver=../../../bus/pci/drivers/pcieport\n"),
		     0);
	cr_assert_eq(kyt_testbed_add(tb, unbound_gpu), 0);
	cr_assert_eq(kyt_testbed_add(tb, "P: /devices/pci0000:c0/0000:c0:01.0/0000:c1:00.0/drm/card2\n"
					 "N: dri/card2=00\n"
					 "E: DEVNAME=/dev/dri/card2\n"
					 "E: SUBSYSTEM=drm\n"
					 "A: dev=226:2\n"),
		     0);
	_cleanup_(ky_pci_list_freep) struct ky_pci_list *list = discover_ok();
	static const char *const want[] = { "/dev/dri/card2" };
	const struct ky_pci_dev *bridge = must_find(list, "0000:c0:01.0");
	const struct ky_pci_dev *gpu = must_find(list, "0000:c1:00.0");
	cr_assert_eq(bridge->n_devnodes, 0, "the bridge took %s", bridge->n_devnodes ? bridge->devnodes[0] : "");
	assert_strv(gpu->devnodes, gpu->n_devnodes, want, 1, "GPU devnodes");
	cr_assert_str_eq(ky_pci_family(bridge), "other");
}

Test(pci_discovery, virtfn_holes_stay_in_place)
{
	cr_assert_eq(kyt_testbed_add(tb, "P: /devices/pci0000:5d/0000:5d:00.0/0000:5e:00.0\n"
					 "E: SUBSYSTEM=pci\n"
					 "A: vendor=0x15b3\n"
					 "A: device=0x101d\n"
					 "A: class=0x020000\n"
					 "A: sriov_totalvfs=16\n"
					 "A: sriov_numvfs=3\n"
					 "L: virtfn0=../0000:5e:00.2\n"
					 "L: virtfn2=../0000:5e:00.4\n"),
		     0);
	_cleanup_(ky_pci_list_freep) struct ky_pci_list *list = discover_ok();
	const struct ky_pci_dev *pf = must_find(list, "0000:5e:00.0");
	cr_assert_eq(pf->n_virtfns, 3);
	cr_assert_str_eq(pf->virtfns[0], "0000:5e:00.2");
	cr_assert_null(pf->virtfns[1]);
	cr_assert_str_eq(pf->virtfns[2], "0000:5e:00.4");
	cr_assert_eq(ky_pci_vf_index(pf, "0000:5e:00.4"), 2);
}

static const char bad_class[] = "P: /devices/pci0000:d7/0000:d7:00.0/0000:d8:00.0\n"
				"E: SUBSYSTEM=pci\n"
				"A: vendor=0x8086\n"
				"A: device=0x1592\n"
				"A: class=zzz\n";
static const char no_vendor[] = "P: /devices/pci0000:d7/0000:d7:00.0/0000:d9:00.0\n"
				"E: SUBSYSTEM=pci\n"
				"A: device=0x1592\n"
				"A: class=0x020000\n";

Test(pci_discovery, malformed_functions_are_skipped_with_a_warning)
{
	_cleanup_free_ char *dir = kyt_tmpdir("kypci");
	_cleanup_free_ char *log = NULL;
	cr_assert_geq(asprintf(&log, "%s/log", dir), 0);
	cr_assert_eq(ky_log_open("test", log, KY_LOG_WARN, NULL), 0);
	cr_assert_eq(kyt_testbed_add(tb, bad_class), 0);
	cr_assert_eq(kyt_testbed_add(tb, no_vendor), 0);

	_cleanup_(ky_pci_list_freep) struct ky_pci_list *list = discover_ok();
	cr_assert_eq(list->n, KYT_SIM_N_FUNCTIONS, "the rest of the node is still there");
	cr_assert_null(ky_pci_list_find(list, "0000:d8:00.0"));
	cr_assert_null(ky_pci_list_find(list, "0000:d9:00.0"));

	ky_log_close();
	_cleanup_free_ char *text = kyt_read_file(log);
	kyt_rmrf(dir);
	cr_assert_not_null(text);
	cr_assert(strstr(text, "event=pci-device-skipped"), "log: %s", text);
	cr_assert(strstr(text, "0000:d8:00.0: bad class zzz"), "log: %s", text);
	cr_assert(strstr(text, "0000:d9:00.0 has no vendor attribute"), "log: %s", text);
}

Test(pci_discovery, lookup_of_a_malformed_function_is_einval_naming_the_attribute)
{
	cr_assert_eq(kyt_testbed_add(tb, bad_class), 0);
	cr_assert_eq(kyt_testbed_add(tb, no_vendor), 0);
	_cleanup_error_ struct ky_error *err = NULL;
	struct ky_pci_dev *d = NULL;
	cr_assert_eq(ky_pci_lookup("0000:d8:00.0", &d, &err), -EINVAL);
	cr_assert_null(d);
	cr_assert(strstr(ky_error_msg(err), "class"), "message: %s", ky_error_msg(err));
	cr_assert_eq(ky_pci_lookup("0000:d9:00.0", &d, &err), -EINVAL);
	cr_assert_null(d);
	cr_assert(strstr(ky_error_msg(err), "vendor"), "message: %s", ky_error_msg(err));
}

Test(pci_discovery, malformed_optional_attributes_read_as_unknown)
{
	cr_assert_eq(kyt_testbed_add(tb, "P: /devices/pci0000:d7/0000:d7:00.0/0000:da:00.0\n"
					 "E: SUBSYSTEM=pci\n"
					 "A: vendor=0x8086\n"
					 "A: device=0x1592\n"
					 "A: class=0x020000\n"
					 "A: subsystem_vendor=0x123456\n"
					 "A: numa_node=abc\n"
					 "A: sriov_totalvfs=\n"
					 "A: sriov_numvfs=4x\n"
					 "L: iommu_group=../../../../kernel/iommu_groups/seven\n"
					 "L: physfn=../bogus\n"),
		     0);
	_cleanup_(ky_pci_list_freep) struct ky_pci_list *list = discover_ok();
	const struct ky_pci_dev *d = must_find(list, "0000:da:00.0");
	cr_assert_eq(d->subsys_vendor, 0);
	cr_assert_eq(d->numa_node, -1);
	cr_assert_eq(d->sriov_totalvfs, -1);
	cr_assert_eq(d->sriov_numvfs, -1);
	cr_assert_eq(d->iommu_group, -1);
	cr_assert_not(ky_pci_is_vf(d));
}

/* An empty testbed: the same code that runs on a node without PCI. */
TestSuite(pci_discovery_empty, .init = testbed_setup, .fini = testbed_teardown);

Test(pci_discovery_empty, finds_an_empty_list_not_an_error)
{
	_cleanup_(ky_pci_list_freep) struct ky_pci_list *list = discover_ok();
	cr_assert_eq(list->n, 0);
}

Test(pci_discovery_empty, lookup_is_enodev)
{
	_cleanup_error_ struct ky_error *err = NULL;
	struct ky_pci_dev *d = NULL;
	cr_assert_eq(ky_pci_lookup(KYT_SIM_GPU0, &d, &err), -ENODEV);
	cr_assert(strstr(ky_error_msg(err), KYT_SIM_GPU0), "message: %s", ky_error_msg(err));
}

/* ---- kyborgctl against the testbed: the child inherits the preload and
 * UMOCKDEV_DIR, so it sees the same simulated node ---- */

TestSuite(kyborgctl, .init = sim_setup, .fini = testbed_teardown);

static char *kyborgctl_path(void)
{
#ifdef KYBORGCTL_PATH
	char *path = strdup(KYBORGCTL_PATH);
	cr_assert_not_null(path);
	cr_assert_eq(access(path, X_OK), 0, "kyborgctl is not built at %s", path);
	return path;
#else
	cr_skip_test("kyborgctl is not part of this build");
	return NULL;
#endif
}

static const cJSON *fn_by_addr(const cJSON *fns, const char *addr)
{
	const cJSON *f;
	cJSON_ArrayForEach(f, fns)
	{
		const cJSON *a = cJSON_GetObjectItemCaseSensitive(f, "address");
		if (cJSON_IsString(a) && strcmp(a->valuestring, addr) == 0)
			return f;
	}
	cr_assert_fail("%s missing from the JSON", addr);
	return NULL;
}

static const char *json_str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	cr_assert(cJSON_IsString(v), "%s is not a string", key);
	return v->valuestring;
}

static double json_num(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	cr_assert(cJSON_IsNumber(v), "%s is not a number", key);
	return v->valuedouble;
}

Test(kyborgctl, status_json_lists_the_simulated_node)
{
	_cleanup_free_ char *bin = kyborgctl_path();
	_cleanup_free_ char *out = NULL;
	cr_assert_eq(kyt_run(&out, bin, "status", "--json", NULL), 0);
	cr_assert_not_null(out);
	_cleanup_(cJSON_Deletep) cJSON *doc = cJSON_Parse(out);
	cr_assert_not_null(doc, "not JSON: %s", out);

	const cJSON *fns = cJSON_GetObjectItemCaseSensitive(doc, "pci_functions");
	cr_assert(cJSON_IsArray(fns));
	cr_assert_eq(cJSON_GetArraySize(fns), KYT_SIM_N_FUNCTIONS);
	const cJSON *sum = cJSON_GetObjectItemCaseSensitive(doc, "summary");
	cr_assert_eq(json_num(sum, "total"), 8);
	cr_assert_eq(json_num(sum, "gpu"), 2);
	cr_assert_eq(json_num(sum, "fpga"), 1);
	cr_assert_eq(json_num(sum, "nic"), 5);
	cr_assert_eq(json_num(sum, "vf"), 4);

	const cJSON *gpu1 = fn_by_addr(fns, KYT_SIM_GPU1);
	cr_assert_str_eq(json_str(gpu1, "driver"), "nvidia");
	cr_assert_eq(json_num(gpu1, "numa_node"), 1);
	const cJSON *pf = fn_by_addr(fns, KYT_SIM_PF);
	cr_assert_str_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(pf, "netdevs"), 0)->valuestring, pf_name);
	cr_assert_eq(json_num(cJSON_GetObjectItem(pf, "sriov"), "num_vfs"), 4);
	const cJSON *vf3 = fn_by_addr(fns, KYT_SIM_VF3);
	cr_assert_str_eq(json_str(vf3, "physfn"), KYT_SIM_PF);
	cr_assert_eq(json_num(vf3, "vf_index"), 3);
	const cJSON *fpga = fn_by_addr(fns, KYT_SIM_FPGA);
	cr_assert_str_eq(json_str(fpga, "family"), "fpga");
	cr_assert_str_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(fpga, "devnodes"), 1)->valuestring, "/dev/dfl-port.0");
}

Test(kyborgctl, status_prints_a_table_per_family)
{
	_cleanup_free_ char *bin = kyborgctl_path();
	_cleanup_free_ char *out = NULL;
	cr_assert_eq(kyt_run(&out, bin, "status", NULL), 0);
	cr_assert_not_null(out);
	const char *gpus = strstr(out, "GPUs: 2\n");
	const char *fpgas = strstr(out, "FPGAs: 1\n");
	const char *nics = strstr(out, "NICs: 5\n");
	cr_assert(gpus && fpgas && nics && gpus < fpgas && fpgas < nics, "output:\n%s", out);
	cr_assert(strstr(out, "/dev/dri/card0, /dev/dri/renderD128"), "output:\n%s", out);
	const char *pf = strstr(out, "\n  " KYT_SIM_PF " ");
	const char *vf0 = strstr(out, "\n    " KYT_SIM_VF0 " ");
	cr_assert(pf && vf0 && pf < vf0, "VF not under its PF:\n%s", out);
	cr_assert(strstr(out, pf_name), "output:\n%s", out);
}

Test(kyborgctl, unknown_command_or_flag_is_a_usage_error)
{
	_cleanup_free_ char *bin = kyborgctl_path();
	cr_assert_eq(kyt_run(NULL, bin, "frobnicate", NULL), 2);
	cr_assert_eq(kyt_run(NULL, bin, "--frobnicate", "status", NULL), 2);
	cr_assert_eq(kyt_run(NULL, bin, "status", "--frobnicate", NULL), 2);
	cr_assert_eq(kyt_run(NULL, bin, "status", "extra", NULL), 2);
	cr_assert_eq(kyt_run(NULL, bin, NULL), 2);
}

Test(kyborgctl, help_goes_to_stdout_and_succeeds)
{
	_cleanup_free_ char *bin = kyborgctl_path();
	_cleanup_free_ char *out = NULL;
	_cleanup_free_ char *sout = NULL;
	cr_assert_eq(kyt_run(&out, bin, "--help", NULL), 0);
	cr_assert(out && strstr(out, "status"), "help: %s", out);
	cr_assert_eq(kyt_run(&sout, bin, "status", "--help", NULL), 0);
	cr_assert(sout && strstr(sout, "--json"), "help: %s", sout);
}

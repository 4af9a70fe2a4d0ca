/* What the DRA driver publishes about one device (dra/dra_attrs.c), the
 * API server's rules it is checked with (dra/dra_validate.c) and
 * quantities (dra/dra_quantity.c). The simulated node's functions are
 * discovered by the real libudev under umockdev, so the PCIe root, the
 * VF's PF and its index come from sysfs as on a node; the rules are the
 * ones the kube-apiserver stand-in enforces (test_dra_publish proves the
 * attributes pass it). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <umockdev.h>

#include "dra_attrs.h"
#include "dra_quantity.h"
#include "dra_validate.h"
#include "kyborg/base/error.h"
#include "kyborg/base/log.h"
#include "kyborg/device/device_list.h"
#include "kyborg/json/json.h"
#include "kyborg/pci/pci.h"
#include "kyborg/pci/pci_names.h"
#include "kytest.h"
#include "kytest_simnode.h"

/* ---- helpers ---- */

static const cJSON *attr(const cJSON *attrs, const char *name)
{
	return cJSON_GetObjectItemCaseSensitive(attrs, name);
}

static const char *attr_string(const cJSON *attrs, const char *name)
{
	const cJSON *a = attr(attrs, name);
	cr_assert_not_null(a, "attribute %s missing", name);
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(a, "string");
	cr_assert(cJSON_IsString(s), "attribute %s is not a string", name);
	cr_assert_eq(cJSON_GetArraySize(a), 1, "attribute %s has more than one value", name);
	return s->valuestring;
}

static long long attr_int(const cJSON *attrs, const char *name)
{
	const cJSON *a = attr(attrs, name);
	cr_assert_not_null(a, "attribute %s missing", name);
	const cJSON *i = cJSON_GetObjectItemCaseSensitive(a, "int");
	cr_assert(cJSON_IsNumber(i), "attribute %s is not an int", name);
	return (long long)i->valuedouble;
}

/* ---- the simulated node through libudev ---- */

static UMockdevTestbed *tb;
static struct ky_pci_list *node;
static char *dir;
static char pf_name[16], vf_names[4][16];

static void sim_setup(void)
{
	tb = umockdev_testbed_new();
	cr_assert_not_null(tb);
	cr_assert(umockdev_in_mock_environment(), "run this test under umockdev-wrapper");
	kyt_unique_name(pf_name, sizeof(pf_name), "kypf");
	const char *vfs[4];
	for (int i = 0; i < 4; i++) {
		kyt_unique_name(vf_names[i], sizeof(vf_names[i]), "kyvf");
		vfs[i] = vf_names[i];
	}
	cr_assert_eq(kyt_simnode_load(tb, pf_name, vfs), 0);
	struct ky_error *e = NULL;
	cr_assert_eq(ky_pci_discover(&node, &e), 0, "%s", ky_error_msg(e));
	cr_assert_eq(node->n, KYT_SIM_N_FUNCTIONS);
	dir = kyt_tmpdir("kydraattr");
	cr_assert_not_null(dir);
}

static void sim_teardown(void)
{
	ky_pci_list_free(node);
	node = NULL;
	if (tb) {
		umockdev_testbed_clear(tb);
		g_clear_object(&tb);
	}
	if (dir) {
		kyt_rmrf(dir);
		free(dir);
		dir = NULL;
	}
	ky_log_close();
}

TestSuite(dra_attrs, .init = sim_setup, .fini = sim_teardown, .timeout = 60);

static const struct ky_pci_dev *fn(const char *addr)
{
	const struct ky_pci_dev *d = ky_pci_list_find(node, addr);
	cr_assert_not_null(d, "%s not discovered", addr);
	return d;
}

static cJSON *attributes_of(const struct dra_dev *d, int replica)
{
	cJSON *a = NULL;
	struct ky_error *e = NULL;
	cr_assert_eq(dra_dev_attributes(d, replica, &a, &e), 0, "%s", ky_error_msg(e));
	/* Every attribute set passes the server's device rules. */
	cJSON *dev = cJSON_CreateObject();
	cJSON_AddStringToObject(dev, "name", "x");
	cJSON_AddItemReferenceToObject(dev, "attributes", a);
	cr_assert_eq(dra_check_device(dev, "spec.devices[0]", &e), 0, "%s", ky_error_msg(e));
	cJSON_Delete(dev);
	return a;
}

/* The names slices publish are the names claims are checked against
 * (dra_device_find parses them with the device layer): one maker. */
Test(dra_attrs, published_names_are_the_names_the_device_layer_parses_back)
{
	static const struct {
		enum dra_kind kind;
		enum ky_device_kind dev_kind;
	} kinds[] = { { DRA_KIND_GPU, KY_DEVICE_GPU }, { DRA_KIND_FPGA, KY_DEVICE_FPGA }, { DRA_KIND_VF, KY_DEVICE_NIC_VF } };
	static const int replicas[] = { -1, 0, 7, 1023 };
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		for (size_t r = 0; r < sizeof(replicas) / sizeof(replicas[0]); r++) {
			if (replicas[r] >= 0 && kinds[k].kind != DRA_KIND_GPU)
				continue;
			struct dra_dev d = { .kind = kinds[k].kind, .addr = "0000:3B:00.1" };
			char pub[DRA_NAME_MAX + 1], core[KY_DEVICE_DRA_NAME_MAX], addr[KY_PCI_ADDR_LEN];
			cr_assert_gt(dra_dev_name(&d, replicas[r], pub), 0);
			ky_device_dra_name(kinds[k].dev_kind, "0000:3b:00.1", replicas[r], core);
			cr_assert_str_eq(pub, core);
			cr_assert_eq(dra_kind_of(kinds[k].dev_kind), kinds[k].kind);
			enum ky_device_kind back;
			int rep;
			cr_assert_eq(ky_device_dra_name_parse(pub, &back, addr, &rep), 0, "%s", pub);
			cr_assert_eq(back, kinds[k].dev_kind);
			cr_assert_str_eq(addr, "0000:3b:00.1");
			cr_assert_eq(rep, replicas[r]);
		}
	}
	struct dra_dev pf = { .kind = DRA_KIND_PF, .addr = "0000:18:00.0" };
	char name[DRA_NAME_MAX + 1];
	cr_assert_gt(dra_dev_name(&pf, -1, name), 0);
	cr_assert_str_eq(name, "pf-0000-18-00-0");
}

Test(dra_attrs, gpu_is_named_by_its_address_and_carries_the_standard_attributes)
{
	struct dra_dev d;
	struct ky_error *e = NULL;
	cr_assert_eq(dra_dev_from_pci(fn(KYT_SIM_GPU0), node, DRA_KIND_GPU, "kyborg.io/gpu", &d, &e), 0, "%s",
		     ky_error_msg(e));
	char name[DRA_NAME_MAX + 1];
	cr_assert_eq(dra_dev_name(&d, -1, name), (int)strlen("gpu-0000-3b-00-0"));
	cr_assert_str_eq(name, "gpu-0000-3b-00-0");
	cr_assert(dra_is_dns_label(name));
	cJSON *a = attributes_of(&d, -1);
	cr_assert_str_eq(attr_string(a, "kind"), "gpu");
	cr_assert_str_eq(attr_string(a, "pciAddress"), KYT_SIM_GPU0);
	cr_assert_str_eq(attr_string(a, "resource.kubernetes.io/pciBusID"), KYT_SIM_GPU0);
	/* From the function's sysfs path, /sys/devices/pci0000:3a/...: the
	 * root complex a NIC must share for a matchAttribute constraint. */
	cr_assert_str_eq(attr_string(a, "resource.kubernetes.io/pcieRoot"), "pci0000:3a");
	cr_assert_eq(attr_int(a, "resource.kubernetes.io/numaNode"), 0);
	cr_assert_str_eq(attr_string(a, "vendorID"), "10de");
	cr_assert_str_eq(attr_string(a, "deviceID"), "2330");
	cr_assert_str_eq(attr_string(a, "driver"), "nvidia");
	cr_assert_eq(attr_int(a, "iommuGroup"), 30);
	cr_assert_str_eq(attr_string(a, "resourceName"), "kyborg.io/gpu");
	/* Nothing a GPU does not have. */
	cr_assert_null(attr(a, "k8s.cni.cncf.io/deviceID"));
	cr_assert_null(attr(a, "pfName"));
	cr_assert_null(attr(a, "shares"));
	cr_assert_null(attr(a, "replica"));
	cJSON_Delete(a);

	/* The other GPU sits under another root complex and NUMA node. */
	cr_assert_eq(dra_dev_from_pci(fn(KYT_SIM_GPU1), node, DRA_KIND_GPU, "kyborg.io/gpu", &d, &e), 0);
	a = attributes_of(&d, -1);
	cr_assert_str_eq(attr_string(a, "resource.kubernetes.io/pcieRoot"), "pci0000:85");
	cr_assert_eq(attr_int(a, "resource.kubernetes.io/numaNode"), 1);
	cJSON_Delete(a);
}

Test(dra_attrs, vf_names_its_pf_index_and_what_multus_reads)
{
	struct dra_dev d;
	struct ky_error *e = NULL;
	cr_assert_eq(dra_dev_from_pci(fn(KYT_SIM_VF2), node, DRA_KIND_VF, "kyborg.io/sriov-vf", &d, &e), 0, "%s",
		     ky_error_msg(e));
	char name[DRA_NAME_MAX + 1];
	dra_dev_name(&d, -1, name);
	cr_assert_str_eq(name, "vf-0000-18-01-2");
	cJSON *a = attributes_of(&d, -1);
	cr_assert_str_eq(attr_string(a, "kind"), "vf");
	cr_assert_str_eq(attr_string(a, "pfName"), pf_name);
	cr_assert_str_eq(attr_string(a, "pfPciAddress"), KYT_SIM_PF);
	cr_assert_eq(attr_int(a, "vfIndex"), 2);
	cr_assert_str_eq(attr_string(a, "k8s.cni.cncf.io/deviceID"), KYT_SIM_VF2);
	cr_assert_str_eq(attr_string(a, "k8s.cni.cncf.io/resourceName"), "kyborg.io/sriov-vf");
	cr_assert_str_eq(attr_string(a, "resource.kubernetes.io/pcieRoot"), "pci0000:17");
	cr_assert_str_eq(attr_string(a, "driver"), "iavf");
	/* The VF's own netdev is not published: it leaves the host's view
	 * when the VF moves into a pod, which would rewrite the slice. */
	cr_assert_null(attr(a, "interfaceName"));
	cJSON_Delete(a);

	/* The PF published as one device names its netdev. */
	cr_assert_eq(dra_dev_from_pci(fn(KYT_SIM_PF), node, DRA_KIND_PF, "kyborg.io/pf", &d, &e), 0);
	a = attributes_of(&d, -1);
	cr_assert_str_eq(attr_string(a, "kind"), "pf");
	cr_assert_str_eq(attr_string(a, "interfaceName"), pf_name);
	cr_assert_null(attr(a, "k8s.cni.cncf.io/deviceID"));
	cJSON_Delete(a);
}

Test(dra_attrs, a_function_without_pf_cannot_be_a_vf)
{
	struct dra_dev d;
	struct ky_error *e = NULL;
	cr_assert_eq(dra_dev_from_pci(fn(KYT_SIM_GPU0), node, DRA_KIND_VF, "kyborg.io/sriov-vf", &d, &e), -EINVAL);
	cr_assert_str_eq(ky_error_msg(e), "device 0000:3b:00.0: published as a VF but has no PF (physfn)");
	ky_error_free(e);
}

Test(dra_attrs, fpga_carries_its_loaded_image_and_a_share_its_replica)
{
	struct dra_dev d;
	struct ky_error *e = NULL;
	cr_assert_eq(dra_dev_from_pci(fn(KYT_SIM_FPGA), node, DRA_KIND_FPGA, "kyborg.io/fpga", &d, &e), 0);
	d.image_id = "d8424dc4a4a3c413f89e433683f9040b";
	cJSON *a = attributes_of(&d, -1);
	cr_assert_str_eq(attr_string(a, "kind"), "fpga");
	cr_assert_str_eq(attr_string(a, "imageID"), "d8424dc4a4a3c413f89e433683f9040b");
	cr_assert_str_eq(attr_string(a, "driver"), "dfl-pci");
	cJSON_Delete(a);

	cr_assert_eq(dra_dev_from_pci(fn(KYT_SIM_GPU0), node, DRA_KIND_GPU, "kyborg.io/gpu", &d, &e), 0);
	d.shares = 4;
	char name[DRA_NAME_MAX + 1];
	dra_dev_name(&d, 3, name);
	cr_assert_str_eq(name, "gpu-0000-3b-00-0-r3");
	a = attributes_of(&d, 3);
	cr_assert_eq(attr_int(a, "replica"), 3);
	cr_assert_eq(attr_int(a, "shares"), 4);
	cJSON_Delete(a);
}

Test(dra_attrs, names_come_from_the_pci_id_database_when_it_names_them)
{
	char ids[512];
	snprintf(ids, sizeof(ids), "%s/pci.ids", dir);
	cr_assert_eq(kyt_write_file(ids, "10de  NVIDIA Corporation\n"
					 "\t2330  GH100 [H100 SXM5 80GB]\n"
					 "8086  Intel Corporation\n"),
		     0);
	struct ky_error *e = NULL;
	cr_assert_eq(ky_pci_names_fill(ids, node, &e), 0, "%s", ky_error_msg(e));
	struct dra_dev d;
	cr_assert_eq(dra_dev_from_pci(fn(KYT_SIM_GPU0), node, DRA_KIND_GPU, "kyborg.io/gpu", &d, &e), 0);
	cJSON *a = attributes_of(&d, -1);
	cr_assert_str_eq(attr_string(a, "vendorName"), "NVIDIA Corporation");
	cr_assert_str_eq(attr_string(a, "deviceName"), "GH100 [H100 SXM5 80GB]");
	cJSON_Delete(a);
	/* A vendor the database knows, a device it does not: no deviceName. */
	cr_assert_eq(dra_dev_from_pci(fn(KYT_SIM_FPGA), node, DRA_KIND_FPGA, "kyborg.io/fpga", &d, &e), 0);
	a = attributes_of(&d, -1);
	cr_assert_str_eq(attr_string(a, "vendorName"), "Intel Corporation");
	cr_assert_null(attr(a, "deviceName"));
	cJSON_Delete(a);
}

/* ---- pure: a device built by hand ---- */

static struct dra_dev hand_gpu(void)
{
	return (struct dra_dev){ .kind = DRA_KIND_GPU, .addr = "0000:3b:00.0", .vendor = 0x10de, .device = 0x2330,
				 .numa_node = -1, .iommu_group = -1, .vf_index = -1, .healthy = true,
				 .resource = "kyborg.io/gpu" };
}

Test(dra_attrs, unknown_numa_node_and_root_are_left_out_not_published_as_minus_one)
{
	struct dra_dev d = hand_gpu();
	cJSON *a = attributes_of(&d, -1);
	cr_assert_null(attr(a, "resource.kubernetes.io/numaNode"));
	cr_assert_null(attr(a, "resource.kubernetes.io/pcieRoot"));
	cr_assert_null(attr(a, "iommuGroup"));
	cr_assert_null(attr(a, "driver"));
	cr_assert_null(attr(a, "subsystemVendorID"));
	cJSON_Delete(a);
	d.subsys_vendor = 0x10de;
	d.subsys_device = 0x16c1;
	a = attributes_of(&d, -1);
	cr_assert_str_eq(attr_string(a, "subsystemVendorID"), "10de");
	cr_assert_str_eq(attr_string(a, "subsystemDeviceID"), "16c1");
	cJSON_Delete(a);
}

Test(dra_attrs, pcie_root_is_the_first_component_under_devices)
{
	char root[DRA_PCIE_ROOT_LEN];
	cr_assert(dra_pcie_root("/sys/devices/pci0000:3a/0000:3a:00.0/0000:3b:00.0", root));
	cr_assert_str_eq(root, "pci0000:3a");
	cr_assert(dra_pcie_root("/sys/devices/pci10000:00/10000:00:01.0/10000:01:00.0", root));
	cr_assert_str_eq(root, "pci10000:00", "a VMD domain has five hex digits");
	cr_assert_not(dra_pcie_root("/sys/devices/platform/soc/1f00000.pcie", root));
	cr_assert_str_eq(root, "");
	cr_assert_not(dra_pcie_root("/sys/devices/pciXYZW:00/0000:00:01.0", root));
	cr_assert_not(dra_pcie_root(NULL, root));
	cr_assert_not(dra_pcie_root("relative/path", root));
}

Test(dra_attrs, long_and_odd_names_are_cut_and_cleaned_as_the_server_would_store_them)
{
	char out[DRA_VALUE_MAX + 1];
	char longname[200];
	memset(longname, 'x', sizeof(longname));
	longname[sizeof(longname) - 1] = '\0';
	dra_value_clean(longname, out);
	cr_assert_eq(strlen(out), DRA_VALUE_MAX);
	/* 63 ASCII bytes then a two-byte character: it does not fit whole,
	 * so it is left out rather than cut in half. */
	char s[80];
	memset(s, 'a', 63);
	strcpy(s + 63, "\xc3\xa9z");
	dra_value_clean(s, out);
	cr_assert_eq(strlen(out), 63);
	strcpy(s, "Br\xc3\xa4unlich \xff\x01 GmbH");
	dra_value_clean(s, out);
	cr_assert_str_eq(out, "Br\xc3\xa4unlich ?? GmbH", "UTF-8 kept, a bad byte and a control character as '?'");

	struct dra_dev d = hand_gpu();
	d.vendor_name = longname;
	cJSON *a = attributes_of(&d, -1);
	cr_assert_eq(strlen(attr_string(a, "vendorName")), DRA_VALUE_MAX);
	cJSON_Delete(a);
}

Test(dra_attrs, values_that_cannot_be_cut_are_refused_naming_device_and_field)
{
	struct dra_dev d = hand_gpu();
	struct ky_error *e = NULL;
	char longres[100];
	memset(longres, 'r', sizeof(longres));
	longres[sizeof(longres) - 1] = '\0';
	d.resource = longres;
	cJSON *a = NULL;
	cr_assert_eq(dra_dev_attributes(&d, -1, &a, &e), -EINVAL);
	cr_assert_null(a);
	cr_assert(strstr(ky_error_msg(e), "device 0000:3b:00.0: resourceName"), "%s", ky_error_msg(e));
	ky_error_clear(&e);

	d = hand_gpu();
	d.unhealthy_reason = "driver unbound";
	cr_assert_eq(dra_dev_check(&d, &e), -EINVAL);
	cr_assert(strstr(ky_error_msg(e), "unhealthy reason \"driver unbound\": must be a label value"), "%s",
		  ky_error_msg(e));
	ky_error_clear(&e);

	d = hand_gpu();
	d.kind = DRA_KIND_VF;
	d.shares = 2;
	cr_assert_eq(dra_dev_check(&d, &e), -EINVAL);
	cr_assert(strstr(ky_error_msg(e), "only a GPU is shared"), "%s", ky_error_msg(e));
	ky_error_clear(&e);

	d = hand_gpu();
	strcpy(d.addr, "3b:00.0x");
	cr_assert_eq(dra_dev_check(&d, &e), -EINVAL);
	ky_error_clear(&e);
}

Test(dra_attrs, at_most_32_attributes_even_for_the_richest_device)
{
	struct dra_dev d = { .kind = DRA_KIND_VF, .addr = "0000:18:01.1", .pf_addr = "0000:18:00.0",
			     .pcie_root = "pci0000:17", .vendor = 0x8086, .device = 0x1889, .subsys_vendor = 1,
			     .subsys_device = 2, .numa_node = 0, .iommu_group = 201, .vf_index = 1, .healthy = true,
			     .resource = "kyborg.io/sriov-vf", .driver = "iavf", .vendor_name = "Intel Corporation",
			     .device_name = "Ethernet Adaptive Virtual Function", .pf_name = "ens1f0" };
	cJSON *a = attributes_of(&d, -1);
	cr_assert_leq(cJSON_GetArraySize(a), DRA_MAX_ATTRS);
	cr_assert_eq(cJSON_GetArraySize(a), 19);
	cJSON_Delete(a);
}

/* ---- the server's rules ---- */

Test(dra_attrs, qualified_names_as_the_server_reads_them)
{
	struct ky_error *e = NULL;
	cr_assert_eq(dra_check_qualified_name("kind", "f", &e), 0);
	cr_assert_eq(dra_check_qualified_name("resource.kubernetes.io/pcieRoot", "f", &e), 0);
	cr_assert_eq(dra_check_qualified_name("Kyborg.IO/x", "f", &e), 0, "the domain is checked lower-cased");
	cr_assert_eq(dra_check_qualified_name("a/b/c", "f", &e), -EINVAL);
	cr_assert(strstr(ky_error_msg(e), "more than one slash"));
	cr_assert_eq(dra_check_qualified_name("/x", "f", &e), -EINVAL);
	cr_assert_eq(dra_check_qualified_name("x/", "f", &e), -EINVAL);
	cr_assert_eq(dra_check_qualified_name("9lives", "f", &e), -EINVAL);
	cr_assert_eq(dra_check_qualified_name("pci-address", "f", &e), -EINVAL);
	cr_assert_eq(dra_check_qualified_name("abcdefghijklmnopqrstuvwxyz0123456", "f", &e), -EINVAL, "33 characters");
	cr_assert_eq(dra_check_qualified_name("under_score_", "f", &e), 0);
	ky_error_free(e);
}

Test(dra_attrs, labels_subdomains_and_versions)
{
	cr_assert(dra_is_dns_label("gpu-0000-3b-00-0"));
	cr_assert_not(dra_is_dns_label("GPU_0"));
	cr_assert_not(dra_is_dns_label("-a"));
	cr_assert_not(dra_is_dns_label(""));
	char l64[65];
	memset(l64, 'a', 64);
	l64[64] = '\0';
	cr_assert_not(dra_is_dns_label(l64));
	cr_assert(dra_is_dns_subdomain("kyborg.io"));
	cr_assert_not(dra_is_dns_subdomain("kyborg..io"));
	cr_assert(dra_is_label_key("kyborg.io/unhealthy"));
	cr_assert(dra_is_label_key("unhealthy"));
	cr_assert_not(dra_is_label_key("kyborg.io/"));
	cr_assert(dra_is_label_value(""));
	cr_assert(dra_is_label_value("pf-down"));
	cr_assert_not(dra_is_label_value("pf down"));
	cr_assert(dra_is_semver("1.2.3"));
	cr_assert(dra_is_semver("1.2.3-rc.1+build.5"));
	cr_assert_not(dra_is_semver("1.2"));
	cr_assert_not(dra_is_semver("01.2.3"));
	cr_assert_not(dra_is_semver("1.2.3-01"));
	cr_assert_not(dra_is_semver("v1.2.3"));
}

Test(dra_attrs, a_device_the_server_would_refuse_is_refused_here)
{
	struct ky_error *e = NULL;
	cJSON *d = NULL;
	const char *bad[][2] = {
		{ "{\"name\":\"x\",\"attributes\":{\"a\":{\"string\":\"x\",\"int\":1}}}", "exactly one value" },
		{ "{\"name\":\"x\",\"attributes\":{\"a\":{}}}", "exactly one value" },
		{ "{\"name\":\"x\",\"attributes\":{\"a\":{\"version\":\"1.0\"}}}", "semantic version" },
		{ "{\"name\":\"x\",\"capacity\":{\"m\":{\"value\":\"lots\"}}}", "must be a quantity" },
		{ "{\"name\":\"x\",\"capacity\":{\"m\":{\"value\":\"4\",\"requestPolicy\":{\"default\":\"1\"}}}}",
		  "allowMultipleAllocations must be true" },
		{ "{\"name\":\"x\",\"taints\":[{\"key\":\"k\",\"effect\":\"Evict\"}]}", "effect" },
		{ "{\"name\":\"X\"}", "must be a DNS label" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(ky_json_parse(bad[i][0], strlen(bad[i][0]), &d, NULL), 0);
		cr_assert_eq(dra_check_device(d, "spec.devices[0]", &e), -EINVAL, "%s", bad[i][0]);
		cr_assert(strstr(ky_error_msg(e), bad[i][1]), "%s: %s", bad[i][0], ky_error_msg(e));
		cr_assert(!strncmp(ky_error_msg(e), "spec.devices[0]", 15), "%s", ky_error_msg(e));
		cJSON_Delete(d);
		ky_error_clear(&e);
	}
	/* 33 attributes and capacities. */
	d = cJSON_CreateObject();
	cJSON_AddStringToObject(d, "name", "x");
	cJSON *attrs = cJSON_AddObjectToObject(d, "attributes");
	for (int i = 0; i < 33; i++) {
		char n[16];
		snprintf(n, sizeof(n), "a%d", i);
		cJSON_AddNumberToObject(cJSON_AddObjectToObject(attrs, n), "int", i);
	}
	cr_assert_eq(dra_check_device(d, "spec.devices[0]", &e), -EINVAL);
	cr_assert(strstr(ky_error_msg(e), "33 attributes and capacities: must not exceed 32"), "%s", ky_error_msg(e));
	cJSON_Delete(d);
	ky_error_free(e);
}

/* ---- quantities ---- */

Test(dra_attrs, quantities_compare_by_value_as_the_server_canonicalises_them)
{
	cr_assert(dra_quantity_equal("1024Mi", "1Gi"));
	cr_assert(dra_quantity_equal("1000", "1k"));
	cr_assert(dra_quantity_equal("0.5", "500m"));
	cr_assert(dra_quantity_equal("1e3", "1k"));
	cr_assert(dra_quantity_equal("80Gi", "81920Mi"));
	cr_assert(dra_quantity_equal("+4", "4"));
	cr_assert_not(dra_quantity_equal("1Gi", "1G"));
	cr_assert_not(dra_quantity_equal("1", "2"));
	dra_quantity q;
	cr_assert_eq(dra_quantity_parse("1.5Ki", &q), 0);
	char buf[48];
	cr_assert_str_eq(dra_quantity_nano_string(q, buf, sizeof(buf)), "1536000000000");
	cr_assert_eq(dra_quantity_parse("1n", &q), 0);
	cr_assert_str_eq(dra_quantity_nano_string(q, buf, sizeof(buf)), "1");
	cr_assert_eq(dra_quantity_parse("0.1n", &q), 0);
	cr_assert_str_eq(dra_quantity_nano_string(q, buf, sizeof(buf)), "1", "finer than nano rounds up");
	cr_assert_eq(dra_quantity_parse("-2", &q), 0);
	cr_assert_str_eq(dra_quantity_nano_string(q, buf, sizeof(buf)), "-2000000000");
	const char *bad[] = { "", "Ki", "1.2.3", "1Kb", "1KiB", "1e", ".", "1 ", "0x10" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(dra_quantity_parse(bad[i], &q), -EINVAL, "\"%s\"", bad[i]);
	cr_assert_eq(dra_quantity_parse("999999999999999999999999999999Ei", &q), -ERANGE);
	/* Unparseable strings equal only themselves. */
	cr_assert(dra_quantity_equal("lots", "lots"));
	cr_assert_not(dra_quantity_equal("lots", "more"));
}

/* The inventory: JSON and text from a hand-built PCI list. Pure. */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kyborg/json/json.h"
#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/pci/inventory.h"
#include "kyborg/pci/pci.h"
#include "kyborg/pci/pci_names.h"
#include "kytest.h"


static char *gpu_nodes[] = { "/dev/dri/card0", "/dev/dri/renderD128" };
static char *fpga_nodes[] = { "/dev/dfl-fme.0", "/dev/dfl-port.0" };
static char *pf_vfs[] = { "0000:18:01.0", "0000:18:01.1" };
static char *pf_net[] = { "ens1f0" };
static char *vf0_net[] = { "ens1f0v0" };
static char *vfio_nodes[] = { "/dev/vfio/201" };

/* A small node: a GPU, an FPGA, a PF with two VFs (one on vfio-pci), a VF
 * whose PF is not listed, and a BMC's VGA. Deliberately not in address order. */
static struct ky_pci_dev devs[] = {
	{ .addr = "0000:18:01.1", .vendor = 0x8086, .device = 0x1889, .subsys_vendor = 0x8086, .class_code = 0x020000,
	  .driver = "vfio-pci", .numa_node = 0, .iommu_group = 201, .sriov_totalvfs = -1, .sriov_numvfs = -1,
	  .physfn = "0000:18:00.0", .devnodes = vfio_nodes, .n_devnodes = 1 },
	{ .addr = "0000:3b:00.0", .vendor = 0x10de, .device = 0x2330, .subsys_vendor = 0x10de, .subsys_device = 0x16c1,
	  .class_code = 0x030200, .driver = "nvidia", .numa_node = 0, .iommu_group = 30, .sriov_totalvfs = -1,
	  .sriov_numvfs = -1, .devnodes = gpu_nodes, .n_devnodes = 2 },
	{ .addr = "0000:af:00.0", .vendor = 0x8086, .device = 0x0b30, .subsys_vendor = 0x8086, .class_code = 0x120000,
	  .driver = "dfl-pci", .numa_node = 1, .iommu_group = 90, .sriov_totalvfs = -1, .sriov_numvfs = -1,
	  .devnodes = fpga_nodes, .n_devnodes = 2 },
	{ .addr = "0000:18:00.0", .vendor = 0x8086, .device = 0x1592, .subsys_vendor = 0x8086, .subsys_device = 0x0002,
	  .class_code = 0x020000, .driver = "ice", .numa_node = 0, .iommu_group = 20, .sriov_totalvfs = 8,
	  .sriov_numvfs = 2, .virtfns = pf_vfs, .n_virtfns = 2, .netdevs = pf_net, .n_netdevs = 1 },
	{ .addr = "0000:18:01.0", .vendor = 0x8086, .device = 0x1889, .subsys_vendor = 0x8086, .class_code = 0x020000,
	  .driver = "iavf", .numa_node = 0, .iommu_group = 200, .sriov_totalvfs = -1, .sriov_numvfs = -1,
	  .physfn = "0000:18:00.0", .netdevs = vf0_net, .n_netdevs = 1 },
	{ .addr = "0000:5e:00.3", .vendor = 0x15b3, .device = 0x101e, .class_code = 0x020000, .driver = NULL,
	  .numa_node = -1, .iommu_group = -1, .sriov_totalvfs = -1, .sriov_numvfs = -1, .physfn = "0000:5e:00.0" },
	{ .addr = "0000:03:00.0", .vendor = 0x1a03, .device = 0x2000, .class_code = 0x030000, .driver = "ast",
	  .numa_node = 0, .iommu_group = 5, .sriov_totalvfs = -1, .sriov_numvfs = -1 },
};
static const struct ky_pci_list node = { .devs = devs, .n = KY_ARRAY_SIZE(devs) };

static cJSON *to_json(const struct ky_pci_list *list)
{
	_cleanup_error_ struct ky_error *err = NULL;
	cJSON *doc = NULL;
	cr_assert_eq(ky_inventory_to_json(list, &doc, &err), 0, "%s", ky_error_msg(err));
	cr_assert_not_null(doc);
	/* What kyborgctl prints must parse back. */
	_cleanup_free_ char *text = cJSON_PrintUnformatted(doc);
	_cleanup_(cJSON_Deletep) cJSON *again = cJSON_Parse(text);
	cr_assert_not_null(again);
	return doc;
}

static const cJSON *fn(const cJSON *doc, const char *addr)
{
	const cJSON *f;
	cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(doc, "pci_functions"))
	{
		if (strcmp(cJSON_GetObjectItemCaseSensitive(f, "address")->valuestring, addr) == 0)
			return f;
	}
	cr_assert_fail("%s not in the JSON", addr);
	return NULL;
}

static const cJSON *get(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	cr_assert_not_null(v, "no \"%s\"", key);
	return v;
}

static void expect_str(const cJSON *o, const char *key, const char *want)
{
	const cJSON *v = get(o, key);
	cr_assert(cJSON_IsString(v), "\"%s\" is not a string", key);
	cr_assert_str_eq(v->valuestring, want, "\"%s\"", key);
}

static void expect_num(const cJSON *o, const char *key, double want)
{
	const cJSON *v = get(o, key);
	cr_assert(cJSON_IsNumber(v), "\"%s\" is not a number", key);
	cr_assert_eq(v->valuedouble, want, "\"%s\" is %g", key, v->valuedouble);
}

Test(inventory, json_lists_every_function_with_its_ids)
{
	_cleanup_(cJSON_Deletep) cJSON *doc = to_json(&node);
	cr_assert_eq(cJSON_GetArraySize(get(doc, "pci_functions")), (int)KY_ARRAY_SIZE(devs));
	const cJSON *gpu = fn(doc, "0000:3b:00.0");
	expect_str(gpu, "family", "gpu");
	expect_str(gpu, "vendor", "10de");
	expect_str(gpu, "device", "2330");
	expect_str(gpu, "subsystem_vendor", "10de");
	expect_str(gpu, "subsystem_device", "16c1");
	expect_str(gpu, "class", "030200");
	expect_str(gpu, "driver", "nvidia");
	expect_num(gpu, "numa_node", 0);
	expect_num(gpu, "iommu_group", 30);
	cr_assert_eq(cJSON_GetArraySize(get(gpu, "devnodes")), 2);
	cr_assert_str_eq(cJSON_GetArrayItem(get(gpu, "devnodes"), 1)->valuestring, "/dev/dri/renderD128");
	cr_assert_eq(cJSON_GetArraySize(get(gpu, "netdevs")), 0);
	cr_assert_null(cJSON_GetObjectItem(gpu, "sriov"), "no sriov block on a function without SR-IOV");
	cr_assert_null(cJSON_GetObjectItem(gpu, "physfn"));

	const cJSON *fpga = fn(doc, "0000:af:00.0");
	expect_str(fpga, "family", "fpga");
	expect_str(fpga, "class", "120000");
	expect_str(fpga, "subsystem_device", "0000");
	expect_str(fn(doc, "0000:03:00.0"), "family", "other");
}

Test(inventory, json_unknown_values_are_null)
{
	_cleanup_(cJSON_Deletep) cJSON *doc = to_json(&node);
	const cJSON *orphan = fn(doc, "0000:5e:00.3");
	cr_assert(cJSON_IsNull(get(orphan, "driver")));
	cr_assert(cJSON_IsNull(get(orphan, "numa_node")));
	cr_assert(cJSON_IsNull(get(orphan, "iommu_group")));
	expect_str(orphan, "physfn", "0000:5e:00.0");
	cr_assert(cJSON_IsNull(get(orphan, "vf_index")), "its PF is not listed");
}

Test(inventory, json_pf_lists_its_vfs_and_vfs_name_pf_and_index)
{
	_cleanup_(cJSON_Deletep) cJSON *doc = to_json(&node);
	const cJSON *sriov = get(fn(doc, "0000:18:00.0"), "sriov");
	expect_num(sriov, "total_vfs", 8);
	expect_num(sriov, "num_vfs", 2);
	const cJSON *vfs = get(sriov, "vfs");
	cr_assert_eq(cJSON_GetArraySize(vfs), 2);
	cr_assert_str_eq(cJSON_GetArrayItem(vfs, 0)->valuestring, "0000:18:01.0");
	cr_assert_str_eq(cJSON_GetArrayItem(vfs, 1)->valuestring, "0000:18:01.1");
	expect_str(fn(doc, "0000:18:00.0"), "family", "nic");
	cr_assert_str_eq(cJSON_GetArrayItem(get(fn(doc, "0000:18:00.0"), "netdevs"), 0)->valuestring, "ens1f0");

	const cJSON *vf1 = fn(doc, "0000:18:01.1");
	expect_str(vf1, "physfn", "0000:18:00.0");
	expect_num(vf1, "vf_index", 1);
	expect_str(vf1, "driver", "vfio-pci");
	cr_assert_str_eq(cJSON_GetArrayItem(get(vf1, "devnodes"), 0)->valuestring, "/dev/vfio/201");
}

Test(inventory, json_summary_counts_families_and_vfs)
{
	_cleanup_(cJSON_Deletep) cJSON *doc = to_json(&node);
	const cJSON *sum = get(doc, "summary");
	expect_num(sum, "total", 7);
	expect_num(sum, "gpu", 1);
	expect_num(sum, "fpga", 1);
	expect_num(sum, "nic", 4);
	expect_num(sum, "other", 1);
	expect_num(sum, "vf", 3);
}

Test(inventory, json_of_an_empty_node)
{
	struct ky_pci_list empty = { 0 };
	_cleanup_(cJSON_Deletep) cJSON *doc = to_json(&empty);
	cr_assert_eq(cJSON_GetArraySize(get(doc, "pci_functions")), 0);
	expect_num(get(doc, "summary"), "total", 0);
}

static char *to_text(const struct ky_pci_list *list)
{
	_cleanup_error_ struct ky_error *err = NULL;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	cr_assert_not_null(f);
	int r = ky_inventory_write_text(list, f, &err);
	fclose(f);
	cr_assert_eq(r, 0, "%s", ky_error_msg(err));
	return buf;
}

/* The line that starts with `prefix` (after the table's indentation). */
static const char *line_of(const char *text, const char *prefix)
{
	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (strncmp(l, prefix, strlen(prefix)) == 0)
			return l;
	cr_assert_fail("no line starting with \"%s\" in:\n%s", prefix, text);
	return NULL;
}

static bool line_has(const char *line, const char *s)
{
	const char *end = strchr(line, '\n');
	const char *hit = strstr(line, s);
	return hit && (!end || hit < end);
}

Test(inventory, text_groups_families_in_order)
{
	_cleanup_free_ char *text = to_text(&node);
	const char *gpus = line_of(text, "GPUs: 1");
	const char *fpgas = line_of(text, "FPGAs: 1");
	const char *nics = line_of(text, "NICs: 4");
	const char *other = line_of(text, "Other PCI functions: 1");
	cr_assert(gpus < fpgas && fpgas < nics && nics < other, "order:\n%s", text);
	const char *gpu =
		line_of(text, "  0000:3b:00.0  10de:2330  nvidia  0     30     /dev/dri/card0, /dev/dri/renderD128\n");
	cr_assert(gpus < gpu && gpu < fpgas);
	const char *fpga = line_of(text, "  0000:af:00.0  8086:0b30  dfl-pci  1     90     /dev/dfl-fme.0, /dev/dfl-port.0\n");
	cr_assert(fpgas < fpga && fpga < nics);
	cr_assert_null(strstr(text, "0000:03:00.0"), "the BMC's VGA is only counted:\n%s", text);
}

Test(inventory, text_puts_vfs_under_their_pf_in_virtfn_order)
{
	_cleanup_free_ char *text = to_text(&node);
	const char *pf = line_of(text, "  0000:18:00.0 ");
	const char *vf0 = line_of(text, "    0000:18:01.0 ");
	const char *vf1 = line_of(text, "    0000:18:01.1 ");
	const char *orphan = line_of(text, "  0000:5e:00.3 ");
	cr_assert(pf < vf0 && vf0 < vf1, "VFs not under the PF:\n%s", text);
	cr_assert(line_has(pf, " ens1f0 ") && line_has(pf, " 2/8 VFs"), "%s", text);
	cr_assert(line_has(vf0, " ens1f0v0 ") && line_has(vf0, " vf 0"), "%s", text);
	cr_assert(line_has(vf1, " vf 1") && line_has(vf1, " /dev/vfio/201\n"), "%s", text);

	char f[5][32];
	cr_assert_eq(sscanf(orphan, "%31s %31s %31s %31s %31s", f[0], f[1], f[2], f[3], f[4]), 5);
	cr_assert_str_eq(f[1], "15b3:101e");
	for (int i = 2; i < 5; i++)
		cr_assert_str_eq(f[i], "-", "unknowns are '-':\n%s", text);
}

Test(inventory, text_shows_only_columns_someone_fills)
{
	_cleanup_free_ char *text = to_text(&node);
	const char *gpus = line_of(text, "GPUs: 1");
	const char *head = line_of(gpus, "  ADDRESS");
	static const char want[] = "  ADDRESS       ID         DRIVER  NUMA  IOMMU  DEVICE NODES\n";
	cr_assert(strncmp(head, want, strlen(want)) == 0, "no NETDEV or SR-IOV for GPUs:\n%s", text);
	const char *nic_head = line_of(line_of(text, "NICs: 4"), "  ADDRESS");
	cr_assert(line_has(nic_head, " NETDEV ") && line_has(nic_head, " SR-IOV "), "%s", text);
	cr_assert(line_has(nic_head, " DEVICE NODES\n"), "a VF on vfio-pci has a node:\n%s", text);
}

Test(inventory, text_of_an_empty_node_says_none)
{
	struct ky_pci_list empty = { 0 };
	_cleanup_free_ char *text = to_text(&empty);
	cr_assert_str_eq(text, "GPUs: none\n\nFPGAs: none\n\nNICs: none\n\nOther PCI functions: 0\n");
}

Test(inventory, text_write_failure_is_eio)
{
	FILE *f = fopen("/dev/full", "we");
	cr_assert_not_null(f);
	_cleanup_error_ struct ky_error *err = NULL;
	cr_assert_eq(ky_inventory_write_text(&node, f, &err), -EIO);
	cr_assert(strstr(ky_error_msg(err), "write inventory"), "%s", ky_error_msg(err));
	fclose(f);
}

/* ---- Names from the PCI ID database ---- */

Test(pci_names, one_pass_names_vendors_and_devices_and_skips_subsystems_and_classes)
{
	_cleanup_free_ char *dir = kyt_tmpdir("kyids");
	char path[512];
	snprintf(path, sizeof(path), "%s/pci.ids", dir);
	cr_assert_eq(kyt_write_file(path, "# comment\n"
					  "10de  NVIDIA Corporation\n"
					  "\t2330  GH100[H100 SXM5 80GB]\n"
					  "\t\t10de 16c1  H100 SXM5 80GB\n"
					  "8086  Intel Corporation\n"
					  "\t1592  Ethernet Controller E810-C for QSFP\n"
					  "C 02  Network controller\n"
					  "\t00  Ethernet controller\n"),
		     0);
	struct ky_pci_dev devs[] = {
		{ .addr = "0000:3b:00.0", .vendor = 0x10de, .device = 0x2330, .class_code = 0x030200, .numa_node = -1,
		  .iommu_group = -1, .sriov_totalvfs = -1, .sriov_numvfs = -1 },
		{ .addr = "0000:18:00.0", .vendor = 0x8086, .device = 0x1592, .class_code = 0x020000, .numa_node = -1,
		  .iommu_group = -1, .sriov_totalvfs = -1, .sriov_numvfs = -1 },
		{ .addr = "0000:18:01.0", .vendor = 0x8086, .device = 0x1889, .class_code = 0x020000, .numa_node = -1,
		  .iommu_group = -1, .sriov_totalvfs = -1, .sriov_numvfs = -1 },
		{ .addr = "0000:00:00.0", .vendor = 0x1234, .device = 0x0002, .class_code = 0x060000, .numa_node = -1,
		  .iommu_group = -1, .sriov_totalvfs = -1, .sriov_numvfs = -1 },
	};
	struct ky_pci_list list = { .devs = devs, .n = KY_ARRAY_SIZE(devs) };
	_cleanup_error_ struct ky_error *err = NULL;
	cr_assert_eq(ky_pci_names_fill(path, &list, &err), 0, "%s", ky_error_msg(err));
	cr_assert_str_eq(devs[0].vendor_name, "NVIDIA Corporation");
	cr_assert_str_eq(devs[0].device_name, "GH100[H100 SXM5 80GB]", "not the subsystem line");
	cr_assert_str_eq(devs[1].device_name, "Ethernet Controller E810-C for QSFP");
	cr_assert_str_eq(devs[2].vendor_name, "Intel Corporation");
	cr_assert_null(devs[2].device_name, "not in this database");
	cr_assert_null(devs[3].vendor_name);

	_cleanup_free_ char *text = to_text(&list);
	cr_assert(line_has(line_of(text, "  0000:3b:00.0"), "NVIDIA Corporation GH100[H100 SXM5 80GB]"), "%s", text);
	_cleanup_(cJSON_Deletep) cJSON *doc = NULL;
	cr_assert_eq(ky_inventory_to_json(&list, &doc, &err), 0);
	const cJSON *nic = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "pci_functions"), 1);
	cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(nic, "device_name")), "Ethernet Controller E810-C for QSFP");
	cr_assert(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "pci_functions"), 3), "device_name")));
	for (size_t i = 0; i < list.n; i++) {
		free(devs[i].vendor_name);
		free(devs[i].device_name);
	}
	kyt_rmrf(dir);
}

Test(pci_names, a_missing_database_names_nothing)
{
	struct ky_pci_dev dev = { .addr = "0000:3b:00.0", .vendor = 0x10de, .device = 0x2330 };
	struct ky_pci_list list = { .devs = &dev, .n = 1 };
	cr_assert_eq(ky_pci_names_fill("/nonexistent/pci.ids", &list, NULL), 0);
	cr_assert_null(dev.vendor_name);
}

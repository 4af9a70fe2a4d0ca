/* What each resource advertises: replicas, VFs, selectors, first match
 * wins, kubelet's 63-character IDs, health and NUMA nodes. Pure, over a
 * hand-built node (fake_node.h); and the names DRA gives the devices. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "kyborg/device/device_list.h"
#include "fake_node.h"
#include "kyborg/base/error.h"

static struct ky_device_config *cfg;
static struct ky_devlist *lists;

static void setup(void)
{
	fake_node_init();
}

static void teardown(void)
{
	if (cfg)
		ky_devlists_free(lists, cfg->n_resources);
	ky_device_config_free(cfg);
	cfg = NULL;
	lists = NULL;
}

TestSuite(device_list, .init = setup, .fini = teardown);

static void build(const char *json)
{
	_cleanup_error_ struct ky_error *err = NULL;
	cr_assert_eq(ky_device_config_parse(json, strlen(json), &cfg, &err), 0, "%s", ky_error_msg(err));
	cr_assert_eq(ky_devices_build(cfg, &fake_node, &lists, &err), 0, "%s", ky_error_msg(err));
}

static void assert_ids(const struct ky_devlist *l, const char *const *ids, size_t n)
{
	cr_assert_eq(l->n, n, "%zu devices, want %zu", l->n, n);
	for (size_t i = 0; i < n; i++)
		cr_assert_str_eq(l->devs[i].id, ids[i], "device %zu", i);
}

#define ONE(kind, sel, extra) \
	"{\"resources\":[{\"name\":\"kyborg.io/r\",\"kind\":\"" kind "\",\"selector\":" sel extra "}]}"

Test(device_list, gpu_replicas_are_pci_address_and_index)
{
	build(ONE("gpu", "{\"vendors\":[\"10de\"]}", ",\"sharing\":{\"replicas\":3}"));
	static const char *const want[] = { "0000:3b:00.0::0", "0000:3b:00.0::1", "0000:3b:00.0::2",
					    "0000:86:00.0::0", "0000:86:00.0::1", "0000:86:00.0::2" };
	assert_ids(&lists[0], want, 6);
	cr_assert_eq(lists[0].devs[1].replica, 1);
	cr_assert_eq(lists[0].devs[1].pci, &fake_devs[FAKE_GPU0]);
	cr_assert_eq(lists[0].devs[0].numa_node, 0);
	cr_assert_eq(lists[0].devs[5].numa_node, 1);
	cr_assert(lists[0].devs[5].healthy);
	cr_assert_not_null(ky_devlist_find(&lists[0], "0000:86:00.0::2"));
	cr_assert_null(ky_devlist_find(&lists[0], "0000:86:00.0::3"));
	cr_assert_null(ky_devlist_find(&lists[0], "0000:86:00.0"));
}

Test(device_list, without_sharing_a_gpu_is_named_by_its_address)
{
	build(ONE("gpu", "{\"devices\":[\"2330\"]}", ""));
	static const char *const want[] = { "0000:3b:00.0", "0000:86:00.0" };
	assert_ids(&lists[0], want, 2);
	cr_assert_eq(lists[0].devs[0].replica, -1);
}

Test(device_list, vfs_of_a_named_pf_and_never_the_pf)
{
	build(ONE("nic-vf", "{\"pfNames\":[\"ens1f0\"]}", ""));
	static const char *const want[] = { "0000:18:01.0", "0000:18:01.1", "0000:18:01.2", "0000:18:01.3" };
	assert_ids(&lists[0], want, 4);
	for (size_t i = 0; i < 4; i++)
		cr_assert_eq(lists[0].devs[i].numa_node, 0);
}

Test(device_list, vf_driver_and_pf_name_must_all_match)
{
	build(ONE("nic-vf", "{\"pfNames\":[\"ens1f0\"],\"drivers\":[\"iavf\"]}", ""));
	static const char *const want[] = { "0000:18:01.0", "0000:18:01.1", "0000:18:01.2" };
	assert_ids(&lists[0], want, 3);
}

Test(device_list, another_pf_name_matches_nothing)
{
	build(ONE("nic-vf", "{\"pfNames\":[\"ens2f0\"]}", ""));
	cr_assert_eq(lists[0].n, 0);
}

Test(device_list, kind_keeps_an_intel_fpga_selector_off_the_intel_nic)
{
	build(ONE("fpga", "{\"vendors\":[\"8086\"]}", ""));
	static const char *const want[] = { "0000:af:00.0" };
	assert_ids(&lists[0], want, 1);
}

Test(device_list, class_numa_and_address_selectors)
{
	build("{\"resources\":["
	      "{\"name\":\"a.io/numa1\",\"kind\":\"gpu\",\"selector\":{\"classes\":[\"0302\"],\"numaNodes\":[1]}},"
	      "{\"name\":\"a.io/addr\",\"kind\":\"gpu\",\"selector\":{\"pciAddresses\":[\"3B:00.0\"]}},"
	      "{\"name\":\"a.io/cls\",\"kind\":\"fpga\",\"selector\":{\"classes\":[\"120000\"]}},"
	      "{\"name\":\"a.io/vga\",\"kind\":\"gpu\",\"selector\":{\"classes\":[\"0300\"]}}]}");
	static const char *const numa1[] = { "0000:86:00.0" }, *const addr[] = { "0000:3b:00.0" },
				 *const cls[] = { "0000:af:00.0" };
	assert_ids(&lists[0], numa1, 1);
	assert_ids(&lists[1], addr, 1);
	assert_ids(&lists[2], cls, 1);
	cr_assert_eq(lists[3].n, 0, "a 3D controller is not a VGA controller");
}

Test(device_list, first_matching_resource_wins)
{
	build("{\"resources\":["
	      "{\"name\":\"a.io/numa0\",\"kind\":\"gpu\",\"selector\":{\"numaNodes\":[0]}},"
	      "{\"name\":\"a.io/all\",\"kind\":\"gpu\",\"selector\":{\"vendors\":[\"10de\"]},\"sharing\":{\"replicas\":2}}]}");
	static const char *const n0[] = { "0000:3b:00.0" }, *const all[] = { "0000:86:00.0::0", "0000:86:00.0::1" };
	assert_ids(&lists[0], n0, 1);
	assert_ids(&lists[1], all, 2);
}

Test(device_list, the_first_of_two_equal_resources_takes_everything)
{
	build("{\"resources\":["
	      "{\"name\":\"a.io/all\",\"kind\":\"gpu\",\"selector\":{\"vendors\":[\"10de\"]}},"
	      "{\"name\":\"a.io/numa0\",\"kind\":\"gpu\",\"selector\":{\"numaNodes\":[0]}}]}");
	cr_assert_eq(lists[0].n, 2);
	cr_assert_eq(lists[1].n, 0);
}

Test(device_list, ids_stay_within_63_characters_and_unique_at_most_replicas)
{
	build(ONE("gpu", "{\"vendors\":[\"10de\"]}", ",\"sharing\":{\"replicas\":1024}"));
	cr_assert_eq(lists[0].n, 2048);
	cr_assert_str_eq(lists[0].devs[2047].id, "0000:86:00.0::1023");
	for (size_t i = 0; i < lists[0].n; i++) {
		cr_assert_leq(strlen(lists[0].devs[i].id), KY_DEVICE_MAX_ID_LEN);
		if (i)
			cr_assert_str_neq(lists[0].devs[i].id, lists[0].devs[i - 1].id);
	}
}

Test(device_list, unbound_device_is_listed_unhealthy_and_unknown_numa_has_none)
{
	fake_devs[FAKE_GPU1].driver = NULL;
	fake_devs[FAKE_GPU0].numa_node = -1;
	build(ONE("gpu", "{\"vendors\":[\"10de\"]}", ""));
	cr_assert_eq(lists[0].n, 2);
	cr_assert(lists[0].devs[0].healthy);
	cr_assert_eq(lists[0].devs[0].numa_node, -1);
	cr_assert_not(lists[0].devs[1].healthy);
}

Test(device_list, a_resource_without_devices_has_an_empty_list)
{
	build(ONE("gpu", "{\"vendors\":[\"1002\"]}", ""));
	cr_assert_eq(lists[0].n, 0);
}

Test(device_list, an_unbound_function_still_matches_a_drivers_selector_as_unhealthy)
{
	fake_devs[FAKE_VF1].driver = NULL;
	build(ONE("nic-vf", "{\"pfNames\":[\"ens1f0\"],\"drivers\":[\"iavf\"]}", ""));
	static const char *const want[] = { "0000:18:01.0", "0000:18:01.1", "0000:18:01.2" };
	assert_ids(&lists[0], want, 3);
	cr_assert_not(lists[0].devs[1].healthy);
	cr_assert(lists[0].devs[2].healthy, "VF3 bound to vfio-pci still does not match iavf");
}

Test(device_list, lists_compare_equal_only_with_the_same_ids_health_and_numa)
{
	build(ONE("gpu", "{\"vendors\":[\"10de\"]}", ",\"sharing\":{\"replicas\":2}"));
	_cleanup_error_ struct ky_error *err = NULL;
	struct ky_devlist *again = NULL;
	cr_assert_eq(ky_devices_build(cfg, &fake_node, &again, &err), 0);
	cr_assert(ky_devlist_equal(&lists[0], &again[0]));
	again[0].devs[3].healthy = false;
	cr_assert_not(ky_devlist_equal(&lists[0], &again[0]), "health changed");
	again[0].devs[3].healthy = true;
	again[0].devs[3].numa_node = 0;
	cr_assert_not(ky_devlist_equal(&lists[0], &again[0]), "NUMA node changed");
	again[0].n = 3;
	cr_assert_not(ky_devlist_equal(&lists[0], &again[0]), "a device went away");
	again[0].n = 4;
	ky_devlists_free(again, cfg->n_resources);
}

Test(device_list, find_parses_the_id_and_accepts_no_other_spelling)
{
	build(ONE("gpu", "{\"vendors\":[\"10de\"]}", ",\"sharing\":{\"replicas\":12}"));
	static const char *const found[] = { "0000:3b:00.0::0", "0000:3b:00.0::2", "0000:3b:00.0::10",
					     "0000:3b:00.0::11", "0000:86:00.0::0", "0000:86:00.0::9" };
	for (size_t i = 0; i < KY_ARRAY_SIZE(found); i++) {
		const struct ky_device *d = ky_devlist_find(&lists[0], found[i]);
		cr_assert_not_null(d, "%s", found[i]);
		cr_assert_str_eq(d->id, found[i]);
	}
	static const char *const missing[] = { "0000:3b:00.0", "0000:3b:00.0::12", "0000:3b:00.0::01",
					       "0000:3b:00.0::", "0000:3b:00.0:1", "0000:3b:00.0::1x", "0000:3B:00.0::1",
					       "0000:af:00.0::0", "", "0000", "0000:3b:00.0::-1" };
	for (size_t i = 0; i < KY_ARRAY_SIZE(missing); i++)
		cr_assert_null(ky_devlist_find(&lists[0], missing[i]), "\"%s\" found", missing[i]);
	cr_assert_null(ky_devlist_find(&lists[0], NULL));
}

Test(device_list, plain_devices_are_found_by_address)
{
	build(ONE("nic-vf", "{\"pfNames\":[\"ens1f0\"]}", ""));
	cr_assert_not_null(ky_devlist_find(&lists[0], "0000:18:01.3"));
	cr_assert_null(ky_devlist_find(&lists[0], "0000:18:01.3::0"));
	cr_assert_null(ky_devlist_find(&lists[0], "0000:18:00.0"));
}

Test(device_list, find_pci_gives_the_first_replica_of_a_function)
{
	build(ONE("gpu", "{\"vendors\":[\"10de\"]}", ",\"sharing\":{\"replicas\":3}"));
	const struct ky_device *d = ky_devlist_find_pci(&lists[0], "0000:86:00.0");
	cr_assert_not_null(d);
	cr_assert_str_eq(d->id, "0000:86:00.0::0");
	cr_assert_str_eq(ky_devlist_find_pci(&lists[0], "0000:3b:00.0")->id, "0000:3b:00.0::0");
	cr_assert_null(ky_devlist_find_pci(&lists[0], "0000:af:00.0"));
	cr_assert_null(ky_devlist_find_pci(&lists[0], NULL));
}

Test(device_list, dra_names_are_dns_labels_that_parse_back_to_the_function)
{
	char name[KY_DEVICE_DRA_NAME_MAX], addr[KY_PCI_ADDR_LEN];
	enum ky_device_kind kind;
	int replica;
	ky_device_dra_name(KY_DEVICE_GPU, "0000:3b:00.0", -1, name);
	cr_assert_str_eq(name, "gpu-0000-3b-00-0");
	ky_device_dra_name(KY_DEVICE_NIC_VF, "0000:18:01.1", -1, name);
	cr_assert_str_eq(name, "vf-0000-18-01-1");
	ky_device_dra_name(KY_DEVICE_FPGA, "0000:af:00.0", -1, name);
	cr_assert_str_eq(name, "fpga-0000-af-00-0");
	cr_assert_eq(ky_device_dra_name_parse(name, &kind, addr, &replica), 0);
	cr_assert_eq(kind, KY_DEVICE_FPGA);
	cr_assert_str_eq(addr, "0000:af:00.0");
	cr_assert_eq(replica, -1);
	ky_device_dra_name(KY_DEVICE_GPU, "0000:86:00.0", 1023, name);
	cr_assert_str_eq(name, "gpu-0000-86-00-0-r1023");
	cr_assert_eq(ky_device_dra_name_parse(name, &kind, addr, &replica), 0);
	cr_assert_eq(replica, 1023);
	cr_assert_str_eq(addr, "0000:86:00.0");
	cr_assert_eq(ky_device_dra_name_parse("gpu-0000-86-00-0-r0", &kind, addr, &replica), 0);
	cr_assert_eq(replica, 0);
	static const char *const bad[] = { "fpga-0000-AF-00-0", "gpu-0000-3b-00", "gpu-0000-3b-00-0-1", "nic-0000-18-01-1",
					   "gpu0000-3b-00-0", "gpu-0000:3b:00.0", "gpu-0000-3b-00-8", "", "gpu-",
					   "gpu-0000-3b-00-0-r", "gpu-0000-3b-00-0-r01", "gpu-0000-3b-00-0-r1024",
					   "gpu-0000-3b-00-0-rx", "vf-0000-18-01-1-r0", "gpu-0000-3b-00-0-r-1" };
	for (size_t i = 0; i < KY_ARRAY_SIZE(bad); i++)
		cr_assert_eq(ky_device_dra_name_parse(bad[i], &kind, addr, &replica), -EINVAL, "\"%s\" parsed", bad[i]);
	cr_assert_eq(ky_device_dra_name_parse(NULL, &kind, addr, &replica), -EINVAL);
}

/* The SR-IOV network device plugin's config.json in the device layer: read
 * as SRIOV-DP reads it (Go's encoding/json: keys in any case, null as
 * absent, unknown fields ignored, here with a warning), what we refuse and
 * why, VF ranges, what netDevice and accelerator take, the answers'
 * SRIOV-DP spellings, and health from PF links. Pure, over a hand-built
 * node (kytest_fakenode.h). */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "kytest_fakenode.h"
#include "kyborg/base/error.h"
#include "kyborg/device/device_alloc.h"
#include "kyborg/device/device_config.h"
#include "kyborg/device/device_health.h"
#include "kyborg/device/device_list.h"
#include "kyborg/json/json.h"
#include "kyborg/pci/pci_selector.h"

static struct ky_device_config *parse_ok(const char *text)
{
	_cleanup_error_ struct ky_error *err = NULL;
	struct ky_device_config *cfg = NULL;
	cr_assert_eq(ky_device_config_parse(text, strlen(text), &cfg, &err), 0, "%s: %s", text, ky_error_msg(err));
	return cfg;
}

static void parse_bad(const char *text, const char *want)
{
	_cleanup_error_ struct ky_error *err = NULL;
	struct ky_device_config *cfg = NULL;
	int r = ky_device_config_parse(text, strlen(text), &cfg, &err);
	cr_expect_eq(r, -EINVAL, "accepted: %s", text);
	cr_expect(strstr(ky_error_msg(err), want), "%s\n  got  \"%s\"\n  want \"%s\"", text, ky_error_msg(err), want);
	ky_device_config_free(cfg);
}

static bool warned(const struct ky_device_config *cfg, const char *want)
{
	for (size_t i = 0; i < cfg->n_warnings; i++)
		if (strstr(cfg->warnings[i], want))
			return true;
	return false;
}

#define ONE(res) "{\"resourceList\":[" res "]}"

/* ---- VF ranges ---- */

Test(sriovdp_vfset, ranges_take_exactly_their_indexes)
{
	struct ky_pci_vfset v = { 0 };
	const char *problem = NULL;
	cr_assert_eq(ky_pci_vfset_parse("netpf0#0,2-7,9", &v, &problem), 0);
	cr_assert_str_eq(v.pf, "netpf0");
	cr_assert_eq(v.n_ranges, 3);
	const bool want[12] = { 1, 0, 1, 1, 1, 1, 1, 1, 0, 1, 0, 0 };
	for (unsigned i = 0; i < 12; i++)
		cr_assert_eq(ky_pci_vfset_takes(&v, i), want[i], "index %u", i);
	_cleanup_free_ char *text = ky_pci_vfset_ranges_text(&v);
	cr_assert_str_eq(text, "0,2-7,9");
	ky_pci_vfset_release(&v);

	cr_assert_eq(ky_pci_vfset_parse("ens1f0", &v, &problem), 0);
	cr_assert_eq(v.n_ranges, 0);
	cr_assert(ky_pci_vfset_takes(&v, 0) && ky_pci_vfset_takes(&v, 65535), "no ranges: every VF");
	ky_pci_vfset_release(&v);
}

Test(sriovdp_vfset, a_malformed_range_says_what_is_wrong)
{
	static const char *const bad[][2] = {
		{ "ens1f0#", "no VF index after '#'" },
		{ "ens1f0#3-1", "runs backwards" },
		{ "ens1f0#1-", "a range is <first>-<last>" },
		{ "ens1f0#-1", "a range is <first>-<last>" },
		{ "ens1f0#+1", "decimal VF indexes" },
		{ "ens1f0#1,,2", "decimal VF indexes" },
		{ "ens1f0# 1", "decimal VF indexes" },
		{ "ens1f0#1-2-3", "one '-'" },
		{ "ens1f0#1#2", "more than one '#'" },
		{ "#1", "nothing before '#'" },
		{ "ens1f0#65536", "above 65535" },
	};
	for (size_t i = 0; i < KY_ARRAY_SIZE(bad); i++) {
		struct ky_pci_vfset v = { 0 };
		const char *problem = "";
		cr_expect_eq(ky_pci_vfset_parse(bad[i][0], &v, &problem), -EINVAL, "%s accepted", bad[i][0]);
		cr_expect(strstr(problem, bad[i][1]), "%s: %s", bad[i][0], problem);
		ky_pci_vfset_release(&v);
	}
}

/* ---- reading the config ---- */

Test(sriovdp_config, the_deployments_config_reads_with_srivodps_defaults)
{
	_cleanup_(ky_device_config_freep) struct ky_device_config *cfg = parse_ok(
		"{\"resourceList\":[{\"resourceName\":\"intel_sriov_netdevice\",\"selectors\":{\"vendors\":[\"8086\"],"
		"\"devices\":[\"154c\",\"10ed\",\"1889\"],\"drivers\":[\"i40evf\",\"iavf\",\"ixgbevf\"]}},"
		"{\"resourceName\":\"mlnx_sriov_rdma\",\"resourcePrefix\":\"mellanox.com\",\"selectors\":[{\"vendors\":"
		"[\"15b3\"],\"isRdma\":true},{\"pfNames\":[\"ens1f0#0-3\"],\"needVhostNet\":true}]},"
		"{\"resourceName\":\"fpga\",\"deviceType\":\"accelerator\",\"excludeTopology\":true,\"selectors\":"
		"[{\"devices\":[\"0d90\"]}]}]}");
	cr_assert_eq(cfg->schema, KY_DEVICE_SCHEMA_SRIOVDP);
	cr_assert_eq(cfg->n_resources, 3);
	const struct ky_device_resource *net = &cfg->resources[0], *rdma = &cfg->resources[1], *acc = &cfg->resources[2];
	cr_assert_str_eq(net->name, "intel.com/intel_sriov_netdevice", "the default prefix is SRIOV-DP's");
	cr_assert_eq(net->kind, KY_DEVICE_NET, "netDevice is the default deviceType");
	cr_assert_eq(net->schema, KY_DEVICE_SCHEMA_SRIOVDP);
	cr_assert(net->check_pf_link, "PF link health is on unless turned off");
	cr_assert_eq(net->n_selectors, 1);
	cr_assert_eq(net->selectors[0].pci.n_devices, 3);
	cr_assert_str_eq(net->selectors[0].path, "resourceList[0].selectors");
	cr_assert_str_eq(rdma->name, "mellanox.com/mlnx_sriov_rdma");
	cr_assert_eq(rdma->n_selectors, 2);
	cr_assert(rdma->selectors[0].pci.rdma);
	cr_assert_not(rdma->selectors[0].vhost_net);
	cr_assert(rdma->selectors[1].vhost_net);
	cr_assert_str_eq(rdma->selectors[1].pci.pf_names[0].pf, "ens1f0");
	cr_assert_eq(rdma->selectors[1].pci.pf_names[0].ranges[0].last, 3);
	cr_assert_str_eq(rdma->selectors[1].path, "resourceList[1].selectors[1]");
	cr_assert_eq(acc->kind, KY_DEVICE_ACCEL);
	cr_assert(acc->exclude_topology);
	cr_assert_eq(cfg->n_warnings, 0);
}

Test(sriovdp_config, keys_are_read_in_any_case_as_go_reads_them)
{
	/* The sriov-network-operator writes Go's field names as they are. */
	_cleanup_(ky_device_config_freep) struct ky_device_config *cfg = parse_ok(
		"{\"ResourceList\":[{\"ResourceName\":\"sriovnics\",\"selectors\":{\"PfNames\":[\"ens785f0#0-4\"],"
		"\"IsRdma\":true,\"NeedVhostNet\":false},\"SelectorObjs\":null,\"SelectorObj\":null}]}");
	cr_assert_str_eq(cfg->resources[0].name, "intel.com/sriovnics");
	cr_assert(cfg->resources[0].selectors[0].pci.rdma);
	cr_assert_eq(cfg->resources[0].selectors[0].pci.n_pf_names, 1);
	cr_assert_eq(cfg->n_warnings, 0, "Go's own rendering is no warning: %s", cfg->warnings ? cfg->warnings[0] : "");
	parse_bad(ONE("{\"resourceName\":\"a\",\"selectors\":{\"isRdma\":true,\"IsRdma\":false}}"),
		  "resourceList[0].selectors.IsRdma: duplicate field (isRdma is given in another case): give isRdma once");
}

Test(sriovdp_config, null_and_empty_lists_are_absent)
{
	_cleanup_(ky_device_config_freep) struct ky_device_config *cfg = parse_ok(
		ONE("{\"resourceName\":\"a\",\"resourcePrefix\":null,\"deviceType\":\"\",\"excludeTopology\":null,"
		    "\"selectors\":{\"vendors\":[\"8086\"],\"devices\":[],\"drivers\":null,\"pfNames\":null,"
		    "\"vdpaType\":\"\",\"ddpProfiles\":[],\"isRdma\":null}}"));
	const struct ky_pci_selector *s = &cfg->resources[0].selectors[0].pci;
	cr_assert_eq(s->n_vendors, 1);
	cr_assert_eq(s->n_devices, 0);
	cr_assert_eq(s->n_drivers, 0);
	cr_assert_eq(cfg->resources[0].kind, KY_DEVICE_NET);
	cr_assert_str_eq(cfg->resources[0].name, "intel.com/a");
}

Test(sriovdp_config, unknown_fields_are_warnings_and_near_misses_errors)
{
	_cleanup_(ky_device_config_freep) struct ky_device_config *cfg = parse_ok(
		"{\"resourceList\":[{\"resourceName\":\"a\",\"owner\":\"team-x\",\"selectors\":{\"vendors\":[\"8086\"],"
		"\"comment\":\"x\"}},{\"resourceName\":\"b\",\"deviceType\":\"accelerator\",\"selectors\":"
		"{\"vendors\":[\"8086\"],\"pfNames\":[\"ens1f0\"]}}],\"version\":2}");
	cr_assert(warned(cfg, "version: unknown field: ignored, as the SR-IOV network device plugin ignores it"));
	cr_assert(warned(cfg, "resourceList[0].owner: unknown field: ignored"));
	cr_assert(warned(cfg, "resourceList[0].selectors.comment: unknown field: ignored"));
	/* SRIOV-DP reads an accelerator's selectors without pfNames. */
	cr_assert(warned(cfg, "resourceList[1].selectors.pfNames: not a selector of deviceType accelerator: ignored"));
	cr_assert_eq(cfg->resources[1].selectors[0].pci.n_pf_names, 0, "and so do we");

	parse_bad(ONE("{\"resourceName\":\"a\",\"selectors\":{\"pfName\":[\"ens1f0\"]}}"),
		  "resourceList[0].selectors.pfName: unknown field; did you mean pfNames?");
	parse_bad(ONE("{\"resourceName\":\"a\",\"selectors\":{\"vendor\":[\"8086\"]}}"),
		  "resourceList[0].selectors.vendor: unknown field; did you mean vendors?");
	parse_bad(ONE("{\"resourceNmae\":\"a\",\"selectors\":{\"vendors\":[\"8086\"]}}"), "did you mean resourceName?");
	parse_bad(ONE("{\"resourceName\":\"a\",\"selectors\":{\"rootDevice\":[\"0000:86:00.0\"]}}"),
		  "did you mean rootDevices?");
}

Test(sriovdp_config, what_we_do_not_do_is_refused_naming_the_field)
{
	parse_bad(ONE("{\"resourceName\":\"a\",\"selectors\":[{\"vendors\":[\"15b3\"],\"vdpaType\":\"vhost\"}]}"),
		  "resourceList[0].selectors[0].vdpaType: vdpaType is not supported by kyborg-device-plugin");
	parse_bad(ONE("{\"resourceName\":\"a\",\"selectors\":{\"ddpProfiles\":[\"GTPv1-C/U IPv4/IPv6 payload\"]}}"),
		  "resourceList[0].selectors.ddpProfiles: ddpProfiles is not supported");
	parse_bad(ONE("{\"resourceName\":\"a\",\"selectors\":{\"linkTypes\":[\"infiniband\"],\"pKeys\":[\"0x1\"]}}"),
		  "resourceList[0].selectors.pKeys: pKeys is not supported");
	parse_bad(ONE("{\"resourceName\":\"a\",\"deviceType\":\"auxNetDevice\",\"selectors\":{\"auxTypes\":[\"sf\"]}}"),
		  "resourceList[0].deviceType: auxNetDevice (auxiliary network devices, such as subfunctions) is not "
		  "supported");
	parse_bad(ONE("{\"resourceName\":\"a\",\"deviceType\":\"gpu\",\"selectors\":{}}"),
		  "resourceList[0].deviceType: must be netDevice or accelerator, got \"gpu\"");
}

Test(sriovdp_config, every_malformed_resource_names_its_field)
{
	static const char *const bad[][2] = {
		{ ONE("{\"selectors\":{\"vendors\":[\"8086\"]}}"), "resourceList[0].resourceName: missing required field" },
		{ ONE("{\"resourceName\":\"a.b\",\"selectors\":{}}"),
		  "resourceList[0].resourceName: may hold only letters, digits, '_' and '-'" },
		{ ONE("{\"resourceName\":\"_a\",\"selectors\":{}}"),
		  "resourceList[0].resourceName: intel.com/_a: kubelet refuses it: the name after '/' must start and end" },
		{ ONE("{\"resourceName\":\"a\",\"resourcePrefix\":\"Intel.com\",\"selectors\":{}}"),
		  "resourceList[0].resourcePrefix: Intel.com/a: kubelet refuses it: the domain" },
		/* Found by fuzz_device_sriovdp: the name quoted raw, \u escapes and all. */
		{ ONE("{\"resourceName\":\"a\",\"resourcePrefix\":\"x\\u007f\\n.com\",\"selectors\":{}}"),
		  "resourceList[0].resourcePrefix: \"x\\u007f\\n.com/a\": kubelet refuses it: the domain" },
		{ ONE("{\"resourceName\":\"a\"}"), "resourceList[0].selectors: missing required field" },
		{ ONE("{\"resourceName\":\"a\",\"selectors\":null}"), "resourceList[0].selectors: missing required field" },
		{ ONE("{\"resourceName\":\"a\",\"selectors\":[]}"), "resourceList[0].selectors: needs at least one" },
		{ ONE("{\"resourceName\":\"a\",\"selectors\":\"8086\"}"), "resourceList[0].selectors: must be a selector object" },
		{ ONE("{\"resourceName\":\"a\",\"selectors\":[{\"vendors\":[\"8086\"]},3]}"),
		  "resourceList[0].selectors[1]: a selector must be an object" },
		{ ONE("{\"resourceName\":\"a\",\"selectors\":{\"isRdma\":\"true\"}}"), "resourceList[0].selectors.isRdma: " },
		{ ONE("{\"resourceName\":\"a\",\"selectors\":{\"vendors\":[\"0x8086\"]}}"),
		  "resourceList[0].selectors.vendors[0]: not a vendor ID of four hex digits" },
		{ ONE("{\"resourceName\":\"a\",\"selectors\":{\"pfNames\":[\"ens1f0#2-1\"]}}"),
		  "resourceList[0].selectors.pfNames[0]: \"ens1f0#2-1\": a range runs backwards" },
		{ ONE("{\"resourceName\":\"a\",\"selectors\":{\"rootDevices\":[\"86:00.0#0-1,3,4\",\"eth0#1\"]}}"),
		  "resourceList[0].selectors.rootDevices[1]: not a PF's PCI address" },
		{ ONE("{\"resourceName\":\"a\",\"selectors\":{\"linkTypes\":[\"ethernet\"]}}"),
		  "resourceList[0].selectors.linkTypes[0]: not a link type" },
		{ ONE("{\"resourceName\":\"a\",\"selectors\":{},\"additionalInfo\":{\"*\":{\"token\":3}}}"),
		  "resourceList[0].additionalInfo[\"*\"].token: " },
		{ ONE("{\"resourceName\":\"a\",\"selectors\":{},\"additionalInfo\":[]}"), "resourceList[0].additionalInfo: " },
		{ "{\"resourceList\":[{\"resourceName\":\"a\",\"selectors\":{}},{\"resourceName\":\"a\",\"selectors\":{}}]}",
		  "resourceList[1].resourceName: duplicate resource intel.com/a (also resourceList[0])" },
		{ "{\"resourceList\":{}}", "resourceList: " },
	};
	for (size_t i = 0; i < KY_ARRAY_SIZE(bad); i++)
		parse_bad(bad[i][0], bad[i][1]);
}

Test(sriovdp_config, what_takes_everything_or_nothing_is_said)
{
	_cleanup_(ky_device_config_freep) struct ky_device_config *empty = parse_ok("{\"resourceList\":[]}");
	cr_assert_eq(empty->n_resources, 0);
	cr_assert(warned(empty, "resourceList: no resources: nothing is served"));
	_cleanup_(ky_device_config_freep) struct ky_device_config *all = parse_ok(
		ONE("{\"resourceName\":\"a\",\"selectors\":[{\"needVhostNet\":true}],"
		    "\"additionalInfo\":{\"0000:86:00.0 \":{\"a\":\"b\"},\"86:01.0\":{\"a\":\"b\"}}}"));
	cr_assert(warned(all, "resourceList[0].selectors[0]: no selector field: it takes every network (netDevice) "
			      "function of the node that no earlier resource took"));
	cr_assert(warned(all, "neither \"*\" nor a PCI address: matches no device"));
	cr_assert(warned(all, "matches no device: SRIOV-DP compares it with the address as the kernel writes it "
			      "(0000:86:01.0)"));
}

/* ---- what each deviceType takes ---- */

/* The fake PF's virtfnN links, which VF ranges need. */
static char *fake_virtfns[] = { "0000:18:01.0", "0000:18:01.1", "0000:18:01.2", "0000:18:01.3" };

static void fake_node_with_virtfns(void)
{
	fake_node_init();
	fake_devs[FAKE_PF].virtfns = fake_virtfns;
	fake_devs[FAKE_PF].n_virtfns = 4;
}

static struct ky_devlist *build(const struct ky_device_config *cfg, const struct ky_device_host *host)
{
	_cleanup_error_ struct ky_error *err = NULL;
	struct ky_devlist *lists = NULL;
	cr_assert_eq(ky_devices_build_host(cfg, &fake_node, host, &lists, &err), 0, "%s", ky_error_msg(err));
	return lists;
}

static void assert_ids(const struct ky_devlist *l, const char *want)
{
	char got[512] = "";
	for (size_t i = 0; i < l->n; i++)
		snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s", i ? "," : "", l->devs[i].id);
	cr_assert_str_eq(got, want);
}

Test(sriovdp_devices, netdevice_takes_vfs_and_a_pf_only_without_vfs_and_off_the_default_route)
{
	fake_node_with_virtfns();
	_cleanup_(ky_device_config_freep) struct ky_device_config *cfg =
		parse_ok(ONE("{\"resourceName\":\"intel\",\"selectors\":{\"vendors\":[\"8086\"]}}"));
	struct ky_devlist *lists = build(cfg, NULL);
	/* The PF has four VFs made: they are the devices, not it; the FPGA is
	 * no network controller. */
	assert_ids(&lists[0], "0000:18:01.0,0000:18:01.1,0000:18:01.2,0000:18:01.3");
	ky_devlists_free(lists, 1);

	fake_devs[FAKE_PF].sriov_numvfs = 0;
	lists = build(cfg, NULL);
	assert_ids(&lists[0], "0000:18:00.0,0000:18:01.0,0000:18:01.1,0000:18:01.2,0000:18:01.3");
	ky_devlists_free(lists, 1);

	char *route[] = { "ens1f0", NULL };
	struct ky_device_host host = { .default_route = route, .n_default_route = 1 };
	lists = build(cfg, &host);
	assert_ids(&lists[0], "0000:18:01.0,0000:18:01.1,0000:18:01.2,0000:18:01.3");
	ky_devlists_free(lists, 1);
}

Test(sriovdp_devices, each_device_remembers_the_selector_that_took_it_and_excludetopology_hides_numa)
{
	fake_node_with_virtfns();
	_cleanup_(ky_device_config_freep) struct ky_device_config *cfg = parse_ok(
		ONE("{\"resourceName\":\"vfs\",\"excludeTopology\":true,\"selectors\":[{\"drivers\":[\"vfio-pci\"]},"
		    "{\"pfNames\":[\"ENS1F0#0-1\"],\"isRdma\":false}]}"));
	struct ky_devlist *lists = build(cfg, NULL);
	/* PF names compare in any case, as SRIOV-DP's EqualFold. */
	assert_ids(&lists[0], "0000:18:01.0,0000:18:01.1,0000:18:01.3");
	cr_assert_eq(lists[0].devs[0].selector, 1);
	cr_assert_eq(lists[0].devs[2].selector, 0, "the vfio-pci VF came through the first selector");
	for (size_t i = 0; i < lists[0].n; i++)
		cr_assert_eq(lists[0].devs[i].numa_node, -1);
	ky_devlists_free(lists, 1);
}

Test(sriovdp_devices, accelerator_takes_processing_accelerators_and_co_processors_only)
{
	fake_node_with_virtfns();
	_cleanup_(ky_device_config_freep) struct ky_device_config *cfg = parse_ok(
		ONE("{\"resourceName\":\"acc\",\"deviceType\":\"accelerator\",\"selectors\":{\"vendors\":[\"8086\"]}}"));
	fake_devs[FAKE_VF1].class_code = 0x0b4000; /* a QuickAssist VF, say */
	struct ky_devlist *lists = build(cfg, NULL);
	assert_ids(&lists[0], "0000:18:01.1,0000:af:00.0");
	ky_devlists_free(lists, 1);
}

/* ---- the answers ---- */

static struct ky_device_alloc alloc(const struct ky_device_config *cfg, const struct ky_devlist *lists, const char *id)
{
	_cleanup_error_ struct ky_error *err = NULL;
	struct ky_device_alloc a = { 0 };
	const char *ids[] = { id };
	cr_assert_eq(ky_device_allocate(&cfg->resources[0], &lists[0], ids, 1, false, &a, &err), 0, "%s",
		     ky_error_msg(err));
	return a;
}

Test(sriovdp_answer, env_names_are_srivodps_transformation)
{
	fake_node_with_virtfns();
	/* '.' and the '/' become '_', '-' stays: SRIOV-DP's names. */
	_cleanup_(ky_device_config_freep) struct ky_device_config *cfg = parse_ok(
		ONE("{\"resourceName\":\"sriov-net_a\",\"resourcePrefix\":\"my-corp.example.com\","
		    "\"selectors\":{\"pfNames\":[\"ens1f0\"]}}"));
	struct ky_devlist *lists = build(cfg, NULL);
	struct ky_device_alloc a = alloc(cfg, lists, "0000:18:01.0");
	cr_assert_str_eq(ky_kv_get(a.envs, a.n_envs, "PCIDEVICE_MY-CORP_EXAMPLE_COM_SRIOV-NET_A"), "0000:18:01.0");
	cr_assert_not_null(ky_kv_get(a.envs, a.n_envs, "PCIDEVICE_MY-CORP_EXAMPLE_COM_SRIOV-NET_A_INFO"));
	cr_assert_eq(a.n_envs, 2);
	ky_device_alloc_release(&a);
	ky_devlists_free(lists, 1);
}

Test(sriovdp_answer, info_is_printed_as_go_prints_it)
{
	fake_node_with_virtfns();
	/* Keys sorted at every level; <, > and & escaped as Go's HTML-safe
	 * encoder does; the device's own value wins over "*". */
	_cleanup_(ky_device_config_freep) struct ky_device_config *cfg = parse_ok(
		ONE("{\"resourceName\":\"vf\",\"selectors\":{\"pfNames\":[\"ens1f0\"]},\"additionalInfo\":{"
		    "\"0000:18:01.3\":{\"z\":\"own\",\"b\":\"x<y>&z\"},\"*\":{\"z\":\"all\",\"a\":\"tab\\there\\u2028\"}}}"));
	struct ky_devlist *lists = build(cfg, NULL);
	struct ky_device_alloc a = alloc(cfg, lists, "0000:18:01.3");
	cr_assert_str_eq(ky_kv_get(a.envs, a.n_envs, "PCIDEVICE_INTEL_COM_VF_INFO"),
			 "{\"0000:18:01.3\":{\"extra\":{\"a\":\"tab\\there\\u2028\",\"b\":\"x\\u003cy\\u003e\\u0026z\","
			 "\"z\":\"own\"},\"generic\":{\"deviceID\":\"0000:18:01.3\"},\"vfio\":{\"dev-mount\":"
			 "\"/dev/vfio/203\",\"mount\":\"/dev/vfio/vfio\"}}}");
	/* The VFIO nodes as SRIOV-DP orders them: the container node first. */
	cr_assert_eq(a.n_specs, 2);
	cr_assert_str_eq(a.specs[0].host_path, "/dev/vfio/vfio");
	cr_assert_str_eq(a.specs[1].host_path, "/dev/vfio/203");
	ky_device_alloc_release(&a);
	ky_devlists_free(lists, 1);
}

Test(sriovdp_answer, go_printing_of_strings_numbers_and_nesting)
{
	_cleanup_(cJSON_Deletep) cJSON *j = cJSON_Parse(
		"{\"b\":[1,2.5,true,null,\"\\u0001\\b\\f\"],\"a\":{\"y\":\"\\u00e9\",\"x\":\"\\\"\\\\/\"},\"B\":-3}");
	cr_assert_not_null(j);
	_cleanup_free_ char *s = ky_json_print_go(j);
	cr_assert_str_eq(s, "{\"B\":-3,\"a\":{\"x\":\"\\\"\\\\/\",\"y\":\"\xc3\xa9\"},\"b\":[1,2.5,true,null,"
			    "\"\\u0001\\b\\f\"]}");
	cJSON *bad = cJSON_CreateString("a\xff" "b");
	_cleanup_free_ char *t = ky_json_print_go(bad);
	cr_assert_str_eq(t, "\"a\\ufffdb\"", "invalid UTF-8 becomes U+FFFD, as in Go");
	cJSON_Delete(bad);
}

/* ---- health from PF links ---- */

static int links_state[3]; /* ens1f0: index 0 */

static int fake_link(void *userdata, const char *ifname)
{
	(void)userdata;
	return strcmp(ifname, "ens1f0") == 0 ? links_state[0] : -1;
}

Test(sriovdp_health, a_pf_without_carrier_makes_its_vfs_unhealthy_where_the_resource_checks_it)
{
	fake_node_with_virtfns();
	_cleanup_(ky_device_config_freep) struct ky_device_config *cfg = parse_ok(
		"{\"resourceList\":[{\"resourceName\":\"checked\",\"selectors\":{\"pfNames\":[\"ens1f0#0-1\"]}},"
		"{\"resourceName\":\"unchecked\",\"checkHealthOnPf\":false,\"selectors\":{\"pfNames\":[\"ens1f0#2-3\"]}},"
		"{\"resourceName\":\"fpga\",\"deviceType\":\"accelerator\",\"selectors\":{\"devices\":[\"0b30\"]}}]}");
	struct ky_devlist *lists = build(cfg, NULL);
	bool changed[3];
	links_state[0] = 0;
	ky_devices_link_health(cfg, lists, &fake_node, fake_link, NULL, changed);
	cr_assert(changed[0] && !changed[1] && !changed[2]);
	cr_assert_not(lists[0].devs[0].healthy);
	cr_assert_not(lists[0].devs[1].healthy);
	cr_assert(lists[1].devs[0].healthy && lists[1].devs[1].healthy, "checkHealthOnPf false");
	cr_assert(lists[2].devs[0].healthy, "an accelerator has no PF link");
	ky_devices_link_health(cfg, lists, &fake_node, fake_link, NULL, changed);
	cr_assert_not(changed[0], "nothing changed the second time");

	/* A link this namespace does not know (moved into a pod) is no reason. */
	links_state[0] = -1;
	ky_devices_link_health(cfg, lists, &fake_node, fake_link, NULL, changed);
	cr_assert(changed[0] && lists[0].devs[0].healthy);
	links_state[0] = 1;
	fake_devs[FAKE_VF0].driver = NULL;
	ky_devices_link_health(cfg, lists, &fake_node, fake_link, NULL, changed);
	cr_assert_not(lists[0].devs[0].healthy, "no driver is unhealthy whatever the link");
	cr_assert(lists[0].devs[1].healthy);
	ky_devlists_free(lists, 3);
}

Test(sriovdp_health, our_nic_vf_kind_checks_the_pf_link_too_unless_turned_off)
{
	fake_node_with_virtfns();
	_cleanup_(ky_device_config_freep) struct ky_device_config *cfg = parse_ok(
		"{\"resources\":[{\"name\":\"kyborg.io/vf\",\"kind\":\"nic-vf\",\"selector\":{\"pfNames\":[\"ens1f0\"]}},"
		"{\"name\":\"kyborg.io/gpu\",\"kind\":\"gpu\",\"selector\":{\"vendors\":[\"10de\"]}}]}");
	struct ky_devlist *lists = build(cfg, NULL);
	links_state[0] = 0;
	ky_devices_link_health(cfg, lists, &fake_node, fake_link, NULL, NULL);
	for (size_t i = 0; i < lists[0].n; i++)
		cr_assert_not(lists[0].devs[i].healthy);
	cr_assert(lists[1].devs[0].healthy);
	ky_devlists_free(lists, 2);
	parse_bad("{\"resources\":[{\"name\":\"kyborg.io/gpu\",\"kind\":\"gpu\",\"selector\":{\"vendors\":[\"10de\"]},"
		  "\"checkHealthOnPf\":false}]}",
		  "resources[0].checkHealthOnPf: only for kind nic-vf");
}

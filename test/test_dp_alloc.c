/* GetPreferredAllocation (must-include first, one NUMA node, replicas
 * packed or spread) and the Allocate answer (PCIDEVICE_<RESOURCE>,
 * NVIDIA_VISIBLE_DEVICES, the VF info env, device specs, CDI names). Pure. */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dp.h"
#include "dp_fake_node.h"
#include "kyborg/base/error.h"
#include "kyborg/json/json.h"

static struct dp_config *cfg;
static struct dp_devlist *lists;

/* The GPUs go to kyborg.io/gpu (the first match) unless `spread` names
 * the same GPUs first. */
#define CONFIG(gpu_strategy)                                                                                   \
	"{\"resources\":["                                                                                      \
	"{\"name\":\"kyborg.io/gpu\",\"kind\":\"gpu\",\"selector\":{\"vendors\":[\"10de\"]},"                \
	"  \"sharing\":{\"replicas\":2,\"strategy\":\"" gpu_strategy "\"}},"                                     \
	"{\"name\":\"kyborg.io/fpga-nlb\",\"kind\":\"fpga\",\"selector\":{\"vendors\":[\"8086\"]}},"    \
	"{\"name\":\"kyborg.io/sriov-vf\",\"kind\":\"nic-vf\",\"selector\":{\"pfNames\":[\"ens1f0\"]}}]}"

enum { GPU, FPGA, VF };

static const char *config = CONFIG("pack");

static void build(void)
{
	_cleanup_error_ struct ky_error *err = NULL;
	if (cfg) {
		dp_devlists_free(lists, cfg->n_resources);
		dp_config_free(cfg);
	}
	cr_assert_eq(dp_config_parse(config, strlen(config), &cfg, &err), 0, "%s", ky_error_msg(err));
	cr_assert_eq(dp_devices_build(cfg, &fake_node, &lists, &err), 0, "%s", ky_error_msg(err));
}

static void setup(void)
{
	fake_node_init();
	build();
}

static void teardown(void)
{
	dp_devlists_free(lists, cfg->n_resources);
	dp_config_free(cfg);
	cfg = NULL;
	lists = NULL;
}

/* ---- GetPreferredAllocation ---- */

TestSuite(dp_preferred, .init = setup, .fini = teardown);

#define G0(i) "0000:3b:00.0::" #i
#define G1(i) "0000:86:00.0::" #i

static void assert_preferred(int res, const char *const *avail, size_t n_avail, const char *const *must,
			     size_t n_must, size_t size, const char *const *want, size_t n_want)
{
	_cleanup_error_ struct ky_error *err = NULL;
	_cleanup_free_ const char **got = NULL;
	size_t n = 0;
	cr_assert_eq(dp_preferred(&cfg->resources[res], &lists[res], avail, n_avail, must, n_must, size, &got, &n,
				  &err),
		     0, "%s", ky_error_msg(err));
	cr_assert_eq(n, n_want, "%zu chosen, want %zu", n, n_want);
	for (size_t i = 0; i < n; i++)
		cr_assert_str_eq(got[i], want[i], "choice %zu", i);
}

Test(dp_preferred, must_include_comes_first_and_its_numa_node_is_filled)
{
	static const char *const avail[] = { G0(0), G0(1), G1(0), G1(1) }, *const must[] = { G1(1) };
	static const char *const want[] = { G1(1), G1(0) };
	assert_preferred(GPU, avail, 4, must, 1, 2, want, 2);
}

Test(dp_preferred, the_lowest_numa_node_that_holds_everything)
{
	static const char *const avail[] = { G0(0), G1(0), G0(1), G1(1) };
	static const char *const want[] = { G0(0), G0(1) };
	assert_preferred(GPU, avail, 4, NULL, 0, 2, want, 2);
}

Test(dp_preferred, a_node_that_holds_enough_beats_kubelet_order)
{
	static const char *const avail[] = { G0(0), G1(0), G1(1) };
	static const char *const want[] = { G1(0), G1(1) };
	assert_preferred(GPU, avail, 3, NULL, 0, 2, want, 2);
}

Test(dp_preferred, across_nodes_when_none_holds_enough)
{
	static const char *const avail[] = { G1(0), G0(0), G1(1) };
	static const char *const want[] = { G1(0), G1(1), G0(0) };
	assert_preferred(GPU, avail, 3, NULL, 0, 3, want, 3);
}

Test(dp_preferred, pack_fills_one_gpu_and_spread_takes_one_replica_of_each)
{
	fake_devs[FAKE_GPU1].numa_node = 0; /* both on one node: only the strategy decides */
	build();
	static const char *const avail[] = { G0(0), G0(1), G1(0), G1(1) };
	static const char *const packed[] = { G0(0), G0(1) }, *const spread[] = { G0(0), G1(0) };
	static const char *const must[] = { G1(1) };
	static const char *const packed_must[] = { G1(1), G1(0) }, *const spread_must[] = { G1(1), G0(0) };
	assert_preferred(GPU, avail, 4, NULL, 0, 2, packed, 2);
	assert_preferred(GPU, avail, 4, must, 1, 2, packed_must, 2);
	config = CONFIG("spread");
	build();
	config = CONFIG("pack");
	assert_preferred(GPU, avail, 4, NULL, 0, 2, spread, 2);
	assert_preferred(GPU, avail, 4, must, 1, 2, spread_must, 2);
}

Test(dp_preferred, unknown_and_unhealthy_devices_are_never_offered)
{
	fake_devs[FAKE_GPU0].driver = NULL;
	build();
	static const char *const avail[] = { "nope", G0(0), G0(1), G1(1) };
	static const char *const want[] = { G1(1) };
	assert_preferred(GPU, avail, 4, NULL, 0, 3, want, 1);
}

Test(dp_preferred, size_zero_or_all_must_include_returns_them)
{
	static const char *const avail[] = { G0(0), G0(1) }, *const must[] = { G0(1), G0(1) };
	static const char *const want[] = { G0(1) };
	assert_preferred(GPU, avail, 2, must, 2, 1, want, 1);
	assert_preferred(GPU, avail, 2, NULL, 0, 0, NULL, 0);
}

/* ---- Allocate ---- */

TestSuite(dp_allocate, .init = setup, .fini = teardown);

static struct dp_container_alloc alloc_ok(int res, const char *const *ids, size_t n, bool cdi)
{
	_cleanup_error_ struct ky_error *err = NULL;
	struct dp_container_alloc a = { 0 };
	cr_assert_eq(dp_allocate(&cfg->resources[res], &lists[res], ids, n, cdi, &a, &err), 0, "%s",
		     ky_error_msg(err));
	return a;
}

static void assert_specs(const struct dp_container_alloc *a, const char *const *nodes, size_t n)
{
	cr_assert_eq(a->n_specs, n, "%zu device specs, want %zu", a->n_specs, n);
	for (size_t i = 0; i < n; i++) {
		cr_assert_str_eq(a->specs[i].host_path, nodes[i]);
		cr_assert_str_eq(a->specs[i].container_path, nodes[i]);
		cr_assert_str_eq(a->specs[i].permissions, "rw");
	}
}

Test(dp_allocate, env_names_follow_the_sriov_plugin_convention)
{
	_cleanup_free_ char *a = dp_env_name("kyborg.io/gpu");
	_cleanup_free_ char *b = dp_env_name("intel.com/sriov-vf_x");
	cr_assert_str_eq(a, "PCIDEVICE_KYBORG_IO_GPU");
	cr_assert_str_eq(b, "PCIDEVICE_INTEL_COM_SRIOV_VF_X");
	_cleanup_free_ char *c = dp_cdi_name("kyborg.io/gpu", G0(1));
	cr_assert_str_eq(c, "kyborg.io/gpu=0000:3b:00.0::1");
}

Test(dp_allocate, gpu_replicas_give_each_address_once_and_nvidia_visible_devices)
{
	static const char *const ids[] = { G0(0), G1(1), G0(1) };
	struct dp_container_alloc a = alloc_ok(GPU, ids, 3, false);
	cr_assert_eq(a.n_envs, 2);
	cr_assert_str_eq(dp_kv_get(a.envs, a.n_envs, "PCIDEVICE_KYBORG_IO_GPU"), "0000:3b:00.0,0000:86:00.0");
	cr_assert_str_eq(dp_kv_get(a.envs, a.n_envs, "NVIDIA_VISIBLE_DEVICES"), "0000:3b:00.0,0000:86:00.0");
	static const char *const nodes[] = { "/dev/dri/card0", "/dev/dri/renderD128", "/dev/dri/card1",
					     "/dev/dri/renderD129" };
	assert_specs(&a, nodes, 4);
	cr_assert_eq(a.n_cdi_devices, 0, "no CDI names while no spec file names them");
	dp_container_alloc_release(&a);

	a = alloc_ok(GPU, ids, 1, true);
	cr_assert_eq(a.n_cdi_devices, 1);
	cr_assert_str_eq(a.cdi_devices[0], "kyborg.io/gpu=0000:3b:00.0::0");
	cr_assert_str_eq(dp_kv_get(a.envs, a.n_envs, "NVIDIA_VISIBLE_DEVICES"), "0000:3b:00.0");
	dp_container_alloc_release(&a);
}

Test(dp_allocate, fpga_gives_its_port_and_keeps_the_fme)
{
	static const char *const ids[] = { "0000:af:00.0" };
	struct dp_container_alloc a = alloc_ok(FPGA, ids, 1, false);
	cr_assert_eq(a.n_envs, 1);
	cr_assert_str_eq(dp_kv_get(a.envs, a.n_envs, "PCIDEVICE_KYBORG_IO_FPGA_NLB"), "0000:af:00.0");
	cr_assert_null(dp_kv_get(a.envs, a.n_envs, "NVIDIA_VISIBLE_DEVICES"));
	static const char *const nodes[] = { "/dev/dfl-port.0" };
	assert_specs(&a, nodes, 1);
	dp_container_alloc_release(&a);
}

Test(dp_allocate, vfs_get_the_info_env_and_vfio_nodes)
{
	static const char *const ids[] = { "0000:18:01.1", "0000:18:01.3" };
	struct dp_container_alloc a = alloc_ok(VF, ids, 2, false);
	cr_assert_str_eq(dp_kv_get(a.envs, a.n_envs, "PCIDEVICE_KYBORG_IO_SRIOV_VF"), "0000:18:01.1,0000:18:01.3");
	const char *info = dp_kv_get(a.envs, a.n_envs, "PCIDEVICE_KYBORG_IO_SRIOV_VF_INFO");
	cr_assert_not_null(info);
	_cleanup_(cJSON_Deletep) cJSON *j = cJSON_Parse(info);
	cr_assert_not_null(j, "not JSON: %s", info);
	const cJSON *v1 = cJSON_GetObjectItemCaseSensitive(j, "0000:18:01.1");
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(v1, "generic"), "deviceID");
	cr_assert(cJSON_IsString(id) && strcmp(id->valuestring, "0000:18:01.1") == 0, "%s", info);
	cr_assert_null(cJSON_GetObjectItemCaseSensitive(v1, "vfio"), "a netdev VF has no VFIO group");
	const cJSON *vfio = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "0000:18:01.3"), "vfio");
	const cJSON *mnt = cJSON_GetObjectItemCaseSensitive(vfio, "dev-mount");
	cr_assert(cJSON_IsString(mnt) && strcmp(mnt->valuestring, "/dev/vfio/203") == 0, "%s", info);
	static const char *const nodes[] = { "/dev/vfio/203", "/dev/vfio/vfio" };
	assert_specs(&a, nodes, 2);
	dp_container_alloc_release(&a);
}

Test(dp_allocate, allocating_twice_gives_the_same_answer)
{
	static const char *const ids[] = { "0000:18:01.0" };
	struct dp_container_alloc a = alloc_ok(VF, ids, 1, false), b = alloc_ok(VF, ids, 1, false);
	cr_assert_eq(a.n_envs, b.n_envs);
	for (size_t i = 0; i < a.n_envs; i++) {
		cr_assert_str_eq(a.envs[i].key, b.envs[i].key);
		cr_assert_str_eq(a.envs[i].value, b.envs[i].value);
	}
	dp_container_alloc_release(&a);
	dp_container_alloc_release(&b);
}

Test(dp_allocate, unknown_or_unhealthy_ids_are_einval_naming_them)
{
	fake_devs[FAKE_GPU1].driver = NULL;
	build();
	_cleanup_error_ struct ky_error *err = NULL;
	struct dp_container_alloc a = { 0 };
	static const char *const unknown[] = { G0(0), "0000:3b:00.0::7" }, *const sick[] = { G1(0) };
	cr_assert_eq(dp_allocate(&cfg->resources[GPU], &lists[GPU], unknown, 2, false, &a, &err), -EINVAL);
	cr_assert(strstr(ky_error_msg(err), "unknown device 0000:3b:00.0::7"), "%s", ky_error_msg(err));
	cr_assert_eq(a.n_envs, 0);
	cr_assert_eq(dp_allocate(&cfg->resources[GPU], &lists[GPU], sick, 1, false, &a, &err), -EINVAL);
	cr_assert(strstr(ky_error_msg(err), "0000:86:00.0::0 of kyborg.io/gpu is unhealthy"), "%s", ky_error_msg(err));
	static const char *const other[] = { "0000:af:00.0" };
	cr_assert_eq(dp_allocate(&cfg->resources[GPU], &lists[GPU], other, 1, false, &a, &err), -EINVAL,
		     "another resource's device is unknown here");
}

/* ---- device-info files ---- */

Test(dp_allocate, device_info_names_and_content_follow_the_spec)
{
	_cleanup_free_ char *name = dp_devinfo_name("kyborg.io/sriov-vf", "0000:18:01.0");
	cr_assert_str_eq(name, "kyborg.io-sriov-vf-0000:18:01.0-device.json");
	_cleanup_free_ char *json = dp_devinfo_json(&fake_devs[FAKE_VF0]);
	cr_assert_str_eq(json, "{\"type\":\"pci\",\"version\":\"1.1.0\",\"pci\":{\"pci-address\":\"0000:18:01.0\","
			       "\"pf-pci-address\":\"0000:18:00.0\"}}");
	_cleanup_free_ char *gpu = dp_devinfo_json(&fake_devs[FAKE_GPU0]);
	cr_assert_str_eq(gpu, "{\"type\":\"pci\",\"version\":\"1.1.0\",\"pci\":{\"pci-address\":\"0000:3b:00.0\"}}");
}

/* ---- CDI specs ---- */

Test(dp_allocate, cdi_spec_names_every_healthy_device_with_its_nodes)
{
	fake_devs[FAKE_GPU1].driver = NULL;
	build();
	_cleanup_free_ char *name = dp_cdi_spec_name("kyborg.io/gpu");
	cr_assert_str_eq(name, "kyborg-kyborg.io_gpu.json");
	_cleanup_free_ char *text = dp_cdi_spec_json(&cfg->resources[GPU], &lists[GPU]);
	cr_assert_not_null(text);
	_cleanup_(cJSON_Deletep) cJSON *j = cJSON_Parse(text);
	cr_assert_str_eq(cJSON_GetObjectItemCaseSensitive(j, "kind")->valuestring, "kyborg.io/gpu");
	const cJSON *devs = cJSON_GetObjectItemCaseSensitive(j, "devices");
	cr_assert_eq(cJSON_GetArraySize(devs), 2, "GPU0's two replicas; GPU1 is unbound: %s", text);
	const cJSON *d0 = cJSON_GetArrayItem(devs, 0);
	cr_assert_str_eq(cJSON_GetObjectItemCaseSensitive(d0, "name")->valuestring, G0(0));
	const cJSON *nodes = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(d0, "containerEdits"),
							      "deviceNodes");
	cr_assert_eq(cJSON_GetArraySize(nodes), 2);
	cr_assert_str_eq(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(nodes, 0), "path")->valuestring,
			 "/dev/dri/card0");
}

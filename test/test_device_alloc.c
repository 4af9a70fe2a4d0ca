/* What devices give a container, the device plugin's Allocate answer and a
 * DRA claim's CDI edits (PCIDEVICE_<RESOURCE>, NVIDIA_VISIBLE_DEVICES, the
 * VF info env, device specs, CDI names); device-info files and CDI specs.
 * Pure. */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "kytest_fakenode.h"
#include "kyborg/base/error.h"
#include "kyborg/device/cdi_spec.h"
#include "kyborg/device/devinfo.h"
#include "kyborg/json/json.h"

static struct ky_device_config *cfg;
static struct ky_devlist *lists;

static const char config[] =
	"{\"resources\":["
	"{\"name\":\"kyborg.io/gpu\",\"kind\":\"gpu\",\"selector\":{\"vendors\":[\"10de\"]},"
	"  \"sharing\":{\"replicas\":2,\"strategy\":\"pack\"}},"
	"{\"name\":\"kyborg.io/fpga-nlb\",\"kind\":\"fpga\",\"selector\":{\"vendors\":[\"8086\"]}},"
	"{\"name\":\"kyborg.io/sriov-vf\",\"kind\":\"nic-vf\",\"selector\":{\"pfNames\":[\"ens1f0\"]}}]}";

enum { GPU, FPGA, VF };

static void build(void)
{
	kyt_fake_devices_build(config, &cfg, &lists);
}

static void setup(void)
{
	fake_node_init();
	build();
}

static void teardown(void)
{
	kyt_fake_devices_free(&cfg, &lists);
}

/* ---- what a container gets ---- */

TestSuite(device_alloc, .init = setup, .fini = teardown);

#define G0(i) "0000:3b:00.0::" #i
#define G1(i) "0000:86:00.0::" #i

static struct ky_device_alloc alloc_ok(int res, const char *const *ids, size_t n, bool cdi)
{
	_cleanup_error_ struct ky_error *err = NULL;
	struct ky_device_alloc a = { 0 };
	cr_assert_eq(ky_device_allocate(&cfg->resources[res], &lists[res], ids, n, cdi, &a, &err), 0, "%s",
		     ky_error_msg(err));
	return a;
}

static void assert_specs(const struct ky_device_alloc *a, const char *const *nodes, size_t n)
{
	cr_assert_eq(a->n_specs, n, "%zu device specs, want %zu", a->n_specs, n);
	for (size_t i = 0; i < n; i++) {
		cr_assert_str_eq(a->specs[i].host_path, nodes[i]);
		cr_assert_str_eq(a->specs[i].container_path, nodes[i]);
		cr_assert_str_eq(a->specs[i].permissions, "rw");
	}
}

Test(device_alloc, env_names_follow_the_sriov_plugin_convention)
{
	_cleanup_free_ char *a = ky_device_env_name("kyborg.io/gpu");
	_cleanup_free_ char *b = ky_device_env_name("intel.com/sriov-vf_x");
	cr_assert_str_eq(a, "PCIDEVICE_KYBORG_IO_GPU");
	cr_assert_str_eq(b, "PCIDEVICE_INTEL_COM_SRIOV_VF_X");
	_cleanup_free_ char *c = ky_device_cdi_name("kyborg.io/gpu", G0(1));
	cr_assert_str_eq(c, "kyborg.io/gpu=0000:3b:00.0::1");
}

Test(device_alloc, gpu_replicas_give_each_address_once_and_nvidia_visible_devices)
{
	static const char *const ids[] = { G0(0), G1(1), G0(1) };
	struct ky_device_alloc a = alloc_ok(GPU, ids, 3, false);
	cr_assert_eq(a.n_envs, 2);
	cr_assert_str_eq(ky_kv_get(a.envs, a.n_envs, "PCIDEVICE_KYBORG_IO_GPU"), "0000:3b:00.0,0000:86:00.0");
	cr_assert_str_eq(ky_kv_get(a.envs, a.n_envs, "NVIDIA_VISIBLE_DEVICES"), "0000:3b:00.0,0000:86:00.0");
	static const char *const nodes[] = { "/dev/dri/card0", "/dev/dri/renderD128", "/dev/dri/card1",
					     "/dev/dri/renderD129" };
	assert_specs(&a, nodes, 4);
	cr_assert_eq(a.n_cdi_devices, 0, "no CDI names while no spec file names them");
	ky_device_alloc_release(&a);

	a = alloc_ok(GPU, ids, 1, true);
	cr_assert_eq(a.n_cdi_devices, 1);
	cr_assert_str_eq(a.cdi_devices[0], "kyborg.io/gpu=0000:3b:00.0::0");
	cr_assert_str_eq(ky_kv_get(a.envs, a.n_envs, "NVIDIA_VISIBLE_DEVICES"), "0000:3b:00.0");
	ky_device_alloc_release(&a);
}

Test(device_alloc, fpga_gives_its_port_and_keeps_the_fme)
{
	static const char *const ids[] = { "0000:af:00.0" };
	struct ky_device_alloc a = alloc_ok(FPGA, ids, 1, false);
	cr_assert_eq(a.n_envs, 1);
	cr_assert_str_eq(ky_kv_get(a.envs, a.n_envs, "PCIDEVICE_KYBORG_IO_FPGA_NLB"), "0000:af:00.0");
	cr_assert_null(ky_kv_get(a.envs, a.n_envs, "NVIDIA_VISIBLE_DEVICES"));
	static const char *const nodes[] = { "/dev/dfl-port.0" };
	assert_specs(&a, nodes, 1);
	ky_device_alloc_release(&a);
}

Test(device_alloc, vfs_get_the_info_env_and_vfio_nodes)
{
	static const char *const ids[] = { "0000:18:01.1", "0000:18:01.3" };
	struct ky_device_alloc a = alloc_ok(VF, ids, 2, false);
	cr_assert_str_eq(ky_kv_get(a.envs, a.n_envs, "PCIDEVICE_KYBORG_IO_SRIOV_VF"), "0000:18:01.1,0000:18:01.3");
	const char *info = ky_kv_get(a.envs, a.n_envs, "PCIDEVICE_KYBORG_IO_SRIOV_VF_INFO");
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
	ky_device_alloc_release(&a);
}

Test(device_alloc, allocating_twice_gives_the_same_answer)
{
	static const char *const ids[] = { "0000:18:01.0" };
	struct ky_device_alloc a = alloc_ok(VF, ids, 1, false), b = alloc_ok(VF, ids, 1, false);
	cr_assert_eq(a.n_envs, b.n_envs);
	for (size_t i = 0; i < a.n_envs; i++) {
		cr_assert_str_eq(a.envs[i].key, b.envs[i].key);
		cr_assert_str_eq(a.envs[i].value, b.envs[i].value);
	}
	ky_device_alloc_release(&a);
	ky_device_alloc_release(&b);
}

Test(device_alloc, unknown_or_unhealthy_ids_are_einval_naming_them)
{
	fake_devs[FAKE_GPU1].driver = NULL;
	build();
	_cleanup_error_ struct ky_error *err = NULL;
	struct ky_device_alloc a = { 0 };
	static const char *const unknown[] = { G0(0), "0000:3b:00.0::7" }, *const sick[] = { G1(0) };
	cr_assert_eq(ky_device_allocate(&cfg->resources[GPU], &lists[GPU], unknown, 2, false, &a, &err), -EINVAL);
	cr_assert(strstr(ky_error_msg(err), "unknown device 0000:3b:00.0::7"), "%s", ky_error_msg(err));
	cr_assert_eq(a.n_envs, 0);
	cr_assert_eq(ky_device_allocate(&cfg->resources[GPU], &lists[GPU], sick, 1, false, &a, &err), -EINVAL);
	cr_assert(strstr(ky_error_msg(err), "0000:86:00.0::0 of kyborg.io/gpu is unhealthy"), "%s", ky_error_msg(err));
	static const char *const other[] = { "0000:af:00.0" };
	cr_assert_eq(ky_device_allocate(&cfg->resources[GPU], &lists[GPU], other, 1, false, &a, &err), -EINVAL,
		     "another resource's device is unknown here");
}

Test(device_alloc, an_unknown_id_with_control_bytes_is_named_escaped_on_one_line)
{
	/* Found by fuzz_dp_proto: kubelet's ID went into the message raw. */
	_cleanup_error_ struct ky_error *err = NULL;
	struct ky_device_alloc a = { 0 };
	static const char *const ids[] = { "0000:18:01.0\n\x01level=error" };
	cr_assert_eq(ky_device_allocate(&cfg->resources[VF], &lists[VF], ids, 1, false, &a, &err), -EINVAL);
	cr_assert(strstr(ky_error_msg(err), "unknown device \"0000:18:01.0\\n\\u0001level=error\" for"), "%s",
		  ky_error_msg(err));
	for (const char *c = ky_error_msg(err); *c; c++)
		cr_assert((unsigned char)*c >= 0x20, "raw byte 0x%02x in %s", (unsigned char)*c, ky_error_msg(err));
}

/* ---- device-info files ---- */

TestSuite(devinfo, .init = setup, .fini = teardown);

Test(devinfo, device_info_names_and_content_follow_the_spec)
{
	_cleanup_free_ char *name = ky_devinfo_name("kyborg.io/sriov-vf", "0000:18:01.0");
	cr_assert_str_eq(name, "kyborg.io-sriov-vf-0000:18:01.0-device.json");
	_cleanup_free_ char *json = ky_devinfo_json(&fake_devs[FAKE_VF0]);
	cr_assert_str_eq(json, "{\"type\":\"pci\",\"version\":\"1.1.0\",\"pci\":{\"pci-address\":\"0000:18:01.0\","
			       "\"pf-pci-address\":\"0000:18:00.0\"}}");
	_cleanup_free_ char *gpu = ky_devinfo_json(&fake_devs[FAKE_GPU0]);
	cr_assert_str_eq(gpu, "{\"type\":\"pci\",\"version\":\"1.1.0\",\"pci\":{\"pci-address\":\"0000:3b:00.0\"}}");
}

/* ---- CDI specs ---- */

TestSuite(cdi_spec, .init = setup, .fini = teardown);

Test(cdi_spec, cdi_spec_names_every_healthy_device_with_its_nodes)
{
	fake_devs[FAKE_GPU1].driver = NULL;
	build();
	_cleanup_free_ char *name = ky_cdi_resource_spec_name("kyborg.io/gpu");
	cr_assert_str_eq(name, "kyborg-kyborg.io_gpu.json");
	_cleanup_free_ char *text = ky_cdi_resource_spec_json(&cfg->resources[GPU], &lists[GPU]);
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

Test(cdi_spec, a_claim_spec_gives_common_env_and_each_device_its_nodes_under_qualified_ids)
{
	static const char *const gpus[] = { G0(0) }, *const vfs[] = { "0000:18:01.3" };
	struct ky_device_alloc g = alloc_ok(GPU, gpus, 1, false), v = alloc_ok(VF, vfs, 1, false);
	struct ky_device_alloc gnodes = { 0 }, vnodes = { 0 };
	cr_assert_eq(ky_device_specs(&cfg->resources[GPU], ky_devlist_find(&lists[GPU], G0(0)), &gnodes), 0);
	cr_assert_eq(ky_device_specs(&cfg->resources[VF], ky_devlist_find(&lists[VF], "0000:18:01.3"), &vnodes), 0);
	_cleanup_free_ char *kind = ky_cdi_claim_kind("kyborg.io");
	_cleanup_free_ char *n0 = ky_cdi_claim_device_name("6f1c-uid", "gpu-0000-3b-00-0");
	_cleanup_free_ char *n1 = ky_cdi_claim_device_name("6f1c-uid", "vf-0000-18-01-3");
	_cleanup_free_ char *id = ky_cdi_claim_device_id("kyborg.io", "6f1c-uid", "gpu-0000-3b-00-0");
	_cleanup_free_ char *file = ky_cdi_claim_spec_name("kyborg.io", "6f1c-uid");
	cr_assert_str_eq(kind, "kyborg.io/claim");
	cr_assert_str_eq(id, "kyborg.io/claim=6f1c-uid-gpu-0000-3b-00-0");
	cr_assert_str_eq(file, "kyborg.io-claim_6f1c-uid.json");
	cr_assert(ky_cdi_name_valid(n0) && ky_cdi_vendor_valid("kyborg.io"));
	cr_assert_not(ky_cdi_vendor_valid("9kyborg.io") || ky_cdi_vendor_valid("kyborg.io-") || ky_cdi_name_valid("-a") ||
		      ky_cdi_name_valid("a/b"));
	/* The env of both devices is the claim's, common to its devices. */
	struct ky_device_alloc common = { 0 };
	common.envs = calloc(g.n_envs + v.n_envs, sizeof(*common.envs));
	for (size_t i = 0; i < g.n_envs; i++)
		common.envs[common.n_envs++] = g.envs[i];
	for (size_t i = 0; i < v.n_envs; i++)
		common.envs[common.n_envs++] = v.envs[i];
	struct ky_cdi_device devs[] = { { n0, &gnodes }, { n1, &vnodes } };
	_cleanup_free_ char *text = ky_cdi_spec_json(kind, &common, devs, 2);
	free(common.envs);
	cr_assert_not_null(text);
	_cleanup_(cJSON_Deletep) cJSON *j = cJSON_Parse(text);
	cr_assert_not_null(j, "not JSON: %s", text);
	cr_assert_str_eq(cJSON_GetObjectItemCaseSensitive(j, "cdiVersion")->valuestring, "0.5.0");
	cr_assert_str_eq(cJSON_GetObjectItemCaseSensitive(j, "kind")->valuestring, "kyborg.io/claim");
	const cJSON *env = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "containerEdits"), "env");
	cr_assert_eq(cJSON_GetArraySize(env), 4, "%s", text);
	cr_assert_str_eq(cJSON_GetArrayItem(env, 0)->valuestring, "PCIDEVICE_KYBORG_IO_GPU=0000:3b:00.0");
	cr_assert_str_eq(cJSON_GetArrayItem(env, 1)->valuestring, "NVIDIA_VISIBLE_DEVICES=0000:3b:00.0");
	cr_assert_str_eq(cJSON_GetArrayItem(env, 2)->valuestring, "PCIDEVICE_KYBORG_IO_SRIOV_VF=0000:18:01.3");
	cr_assert(strncmp(cJSON_GetArrayItem(env, 3)->valuestring, "PCIDEVICE_KYBORG_IO_SRIOV_VF_INFO={\"0000:18:01.3\"", 48) == 0,
		  "%s", cJSON_GetArrayItem(env, 3)->valuestring);
	const cJSON *d1 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "devices"), 1);
	cr_assert_str_eq(cJSON_GetObjectItemCaseSensitive(d1, "name")->valuestring, "6f1c-uid-vf-0000-18-01-3");
	const cJSON *nodes = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(d1, "containerEdits"),
							      "deviceNodes");
	cr_assert_eq(cJSON_GetArraySize(nodes), 2);
	cr_assert_str_eq(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(nodes, 0), "path")->valuestring,
			 "/dev/vfio/203");
	ky_device_alloc_release(&g);
	ky_device_alloc_release(&v);
	ky_device_alloc_release(&gnodes);
	ky_device_alloc_release(&vnodes);
}

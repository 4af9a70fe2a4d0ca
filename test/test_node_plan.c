/* kyborgctl's planner over a node built in memory: which devices a profile
 * takes, the changes that converge them, the pods a change would disrupt
 * and the refusal without --force; who uses a device, from CNI records,
 * kubelet's checkpoint, the device plugin's allocations and the DRA
 * driver's claims; the reports. Pure: no sysfs, no root (the DRA driver's
 * checkpoint is a state store in a temp dir). */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "kyborg/base/error.h"
#include "kyborg/json/json.h"
#include "kyborg/node/node_apply.h"
#include "kyborg/node/node_plan.h"
#include "kyborg/node/node_profile.h"
#include "kyborg/node/node_status.h"
#include "kyborg/device/device_config.h"
#include "kyborg/state/cni_record.h"
#include "kyborg/state/dp_record.h"
#include "kyborg/state/dra_record.h"
#include "kyborg/state/state_store.h"
#include "kytest.h"

#define PF "0000:18:00.0"
#define VF0 "0000:18:01.0"
#define VF1 "0000:18:01.1"
#define GPU "0000:3b:00.0"
#define FPGA "0000:af:00.0"

static char *vf_addrs[] = { VF0, VF1 };
static char *pf_netdevs[] = { "ens1f0" };

/* A PF with 2 of 8 VFs (on iavf), a GPU and an FPGA. */
static struct ky_pci_dev node_devs[] = {
	{ .addr = PF, .vendor = 0x8086, .device = 0x1592, .class_code = 0x020000, .driver = "ice", .numa_node = 0,
	  .sriov_totalvfs = 8, .sriov_numvfs = 2, .virtfns = vf_addrs, .n_virtfns = 2, .netdevs = pf_netdevs,
	  .n_netdevs = 1 },
	{ .addr = VF0, .vendor = 0x8086, .device = 0x1889, .class_code = 0x020000, .driver = "iavf",
	  .sriov_totalvfs = -1, .sriov_numvfs = -1, .physfn = PF },
	{ .addr = VF1, .vendor = 0x8086, .device = 0x1889, .class_code = 0x020000, .driver = "iavf",
	  .sriov_totalvfs = -1, .sriov_numvfs = -1, .physfn = PF },
	{ .addr = GPU, .vendor = 0x10de, .device = 0x2330, .class_code = 0x030200, .driver = "nvidia",
	  .sriov_totalvfs = -1, .sriov_numvfs = -1 },
	{ .addr = FPGA, .vendor = 0x8086, .device = 0x0b30, .class_code = 0x120000, .driver = "dfl-pci",
	  .sriov_totalvfs = -1, .sriov_numvfs = -1 },
};
static const struct ky_pci_list node = { .devs = node_devs, .n = KY_ARRAY_SIZE(node_devs) };

struct planned {
	struct ky_profile *profile;
	struct ky_node_targets *targets;
	struct ky_plan *plan;
};

static void planned_release(struct planned *p)
{
	ky_plan_free(p->plan);
	ky_node_targets_free(p->targets);
	ky_profile_free(p->profile);
}

/* Parses, resolves and plans; `cur` (may be NULL) sets the first target's
 * current state as ky_node_read_current would. */
static int plan_for(const char *json, const struct ky_dev_current *cur, const struct ky_node_usage *usage, bool force,
		    struct planned *out, struct ky_error **err)
{
	memset(out, 0, sizeof(*out));
	int r = ky_profile_parse(json, strlen(json), &out->profile, err);
	if (r < 0)
		return r;
	if ((r = ky_node_targets_resolve(out->profile, &node, &out->targets, err)) < 0)
		return r;
	if (cur && out->targets->n) {
		struct ky_dev_current *c = &out->targets->t[0].cur;
		c->eswitch = cur->eswitch;
		c->command_state = cur->command_state ? strdup(cur->command_state) : NULL;
	}
	return ky_node_plan(out->targets, &node, usage, force, &out->plan, err);
}

Test(node_plan, a_node_that_matches_the_profile_plans_nothing)
{
	_cleanup_error_ struct ky_error *err = NULL;
	_cleanup_(planned_release) struct planned p;
	struct ky_dev_current cur = { .eswitch = KY_ESWITCH_LEGACY };
	cr_assert_eq(plan_for("{\"devices\":[{\"pciAddress\":\"" PF "\",\"kind\":\"nic\",\"numVfs\":2,"
			      "\"eswitchMode\":\"legacy\",\"vfDriver\":\"iavf\"}]}",
			      &cur, NULL, false, &p, &err),
		     0, "%s", ky_error_msg(err));
	cr_assert_eq(p.targets->n, 1);
	cr_assert_eq(p.plan->n, 0);
	cr_assert_eq(ky_plan_result(p.plan, false), KY_PLAN_CONVERGED);
	cr_assert_eq(ky_plan_result(p.plan, true), KY_PLAN_CONVERGED);
}

Test(node_plan, nic_changes_come_in_order_count_then_eswitch_then_vf_driver)
{
	_cleanup_error_ struct ky_error *err = NULL;
	_cleanup_(planned_release) struct planned p;
	struct ky_dev_current cur = { .eswitch = KY_ESWITCH_LEGACY };
	cr_assert_eq(plan_for("{\"devices\":[{\"selector\":{\"pfNames\":[\"x\"],\"vendors\":[\"8086\"]},\"kind\":\"nic\","
			      "\"numVfs\":4,\"eswitchMode\":\"switchdev\",\"vfDriver\":\"vfio-pci\"}]}",
			      &cur, NULL, false, &p, &err),
		     0, "%s", ky_error_msg(err));
	/* pfNames picks VFs by their PF's name; a PF has no PF: nothing. */
	cr_assert_eq(p.targets->n, 0);
	cr_assert_eq(p.targets->n_notes, 1);
	cr_assert_str_eq(p.targets->notes[0], "devices[0].selector matches no NIC physical function on this node");
	planned_release(&p);

	cr_assert_eq(plan_for("{\"devices\":[{\"selector\":{\"vendors\":[\"8086\"]},\"kind\":\"nic\","
			      "\"numVfs\":4,\"eswitchMode\":\"switchdev\",\"vfDriver\":\"vfio-pci\"}]}",
			      &cur, NULL, false, &p, &err),
		     0, "%s", ky_error_msg(err));
	cr_assert_eq(p.targets->n, 1, "the selector takes the PF, not its VFs or the Intel FPGA");
	cr_assert_eq(p.targets->t[0].dev, &node_devs[0]);
	cr_assert_eq(p.plan->n, 3);
	cr_assert_eq(p.plan->acts[0].kind, KY_ACT_NUM_VFS);
	cr_assert_str_eq(p.plan->acts[0].from, "2");
	cr_assert_str_eq(p.plan->acts[0].to, "4");
	cr_assert_eq(p.plan->acts[1].kind, KY_ACT_ESWITCH);
	cr_assert_str_eq(p.plan->acts[1].from, "legacy");
	cr_assert_str_eq(p.plan->acts[1].to, "switchdev");
	cr_assert_eq(p.plan->acts[2].kind, KY_ACT_VF_DRIVER);
	cr_assert_str_eq(p.plan->acts[2].to, "vfio-pci");
	for (size_t i = 0; i < 3; i++)
		cr_assert_not(p.plan->acts[i].disruptive, "no pods, nothing disrupted");
	cr_assert_eq(ky_plan_result(p.plan, false), KY_PLAN_CHANGES);
}

Test(node_plan, a_vf_driver_change_alone_names_the_vfs_on_other_drivers)
{
	_cleanup_error_ struct ky_error *err = NULL;
	_cleanup_(planned_release) struct planned p;
	cr_assert_eq(plan_for("{\"devices\":[{\"pciAddress\":\"" PF "\",\"kind\":\"nic\",\"vfDriver\":\"vfio-pci\"}]}",
			      NULL, NULL, false, &p, &err),
		     0, "%s", ky_error_msg(err));
	cr_assert_eq(p.plan->n, 1);
	cr_assert_eq(p.plan->acts[0].kind, KY_ACT_VF_DRIVER);
	cr_assert_str_eq(p.plan->acts[0].from, "iavf on 2 of 2 VFs");
}

Test(node_plan, an_unreadable_eswitch_mode_is_planned_from_unknown)
{
	_cleanup_error_ struct ky_error *err = NULL;
	_cleanup_(planned_release) struct planned p;
	cr_assert_eq(plan_for("{\"devices\":[{\"pciAddress\":\"" PF "\",\"kind\":\"nic\",\"eswitchMode\":\"legacy\"}]}",
			      NULL, NULL, false, &p, &err),
		     0, "%s", ky_error_msg(err));
	cr_assert_eq(p.plan->n, 1);
	cr_assert_str_eq(p.plan->acts[0].from, "unknown");
}

static struct ky_node_usage *usage_of(const char *addr, const char *who)
{
	struct ky_node_usage *u = calloc(1, sizeof(*u));
	cr_assert_not_null(u);
	cr_assert_eq(ky_node_usage_add(u, addr, who), 0);
	return u;
}

Test(node_plan, a_change_to_a_vf_in_use_is_refused_unless_forced_and_names_the_pod)
{
	_cleanup_error_ struct ky_error *err = NULL;
	_cleanup_(planned_release) struct planned p;
	_cleanup_(ky_node_usage_freep) struct ky_node_usage *u = usage_of("18:01.1", "pod a container c (kyborg.io/vf)");
	const char *json = "{\"devices\":[{\"pciAddress\":\"" PF "\",\"kind\":\"nic\",\"numVfs\":4}]}";

	cr_assert_eq(plan_for(json, NULL, u, false, &p, &err), 0, "%s", ky_error_msg(err));
	cr_assert_eq(p.plan->n, 1);
	cr_assert(p.plan->acts[0].disruptive);
	cr_assert_eq(p.plan->acts[0].n_pods, 1);
	cr_assert_str_eq(p.plan->acts[0].pods[0], "pod a container c (kyborg.io/vf)");
	cr_assert(p.plan->refused);
	cr_assert_eq(ky_plan_result(p.plan, false), KY_PLAN_REFUSED);
	cr_assert_eq(ky_node_apply(p.plan, &(struct ky_apply_opts){ 0 }, &err), -EPERM, "a refused plan never runs");
	cr_assert_eq(p.plan->acts[0].status, KY_ACT_PLANNED);
	planned_release(&p);

	cr_assert_eq(plan_for(json, NULL, u, true, &p, &err), 0, "%s", ky_error_msg(err));
	cr_assert(p.plan->acts[0].disruptive);
	cr_assert_not(p.plan->refused);
	cr_assert_eq(ky_plan_result(p.plan, false), KY_PLAN_CHANGES);
}

Test(node_plan, a_user_of_another_device_does_not_block_a_change)
{
	_cleanup_error_ struct ky_error *err = NULL;
	_cleanup_(planned_release) struct planned p;
	_cleanup_(ky_node_usage_freep) struct ky_node_usage *u = usage_of(GPU, "pod a container c (kyborg.io/gpu)");
	cr_assert_eq(plan_for("{\"devices\":[{\"pciAddress\":\"" PF "\",\"kind\":\"nic\",\"numVfs\":0}]}", NULL, u, false,
			      &p, &err),
		     0, "%s", ky_error_msg(err));
	cr_assert_eq(p.plan->n, 1);
	cr_assert_not(p.plan->acts[0].disruptive);
	cr_assert_not(p.plan->refused);
}

#define GPU_ENTRY(extra)                                                                                   \
	"{\"devices\":[{\"pciAddress\":\"" GPU "\",\"kind\":\"gpu\",\"command\":{\"state\":\"mig-7\","     \
	"\"apply\":[\"/a\"],\"read\":[\"/r\"]" extra "}}]}"

Test(node_plan, a_gpu_runs_its_command_only_when_read_prints_another_state)
{
	_cleanup_error_ struct ky_error *err = NULL;
	_cleanup_(planned_release) struct planned p;
	_cleanup_(ky_node_usage_freep) struct ky_node_usage *u = usage_of(GPU, "pod a container c (kyborg.io/gpu)");
	struct ky_dev_current same = { .command_state = "mig-7" }, other = { .command_state = "whole" };

	cr_assert_eq(plan_for(GPU_ENTRY(""), &same, u, false, &p, &err), 0, "%s", ky_error_msg(err));
	cr_assert_eq(p.plan->n, 0);
	planned_release(&p);

	cr_assert_eq(plan_for(GPU_ENTRY(",\"reboot\":true"), &other, u, false, &p, &err), 0, "%s", ky_error_msg(err));
	cr_assert_eq(p.plan->n, 1);
	cr_assert_eq(p.plan->acts[0].kind, KY_ACT_COMMAND);
	cr_assert_str_eq(p.plan->acts[0].from, "whole");
	cr_assert_str_eq(p.plan->acts[0].to, "mig-7");
	cr_assert(p.plan->acts[0].reboot);
	cr_assert(p.plan->refused, "the GPU is in use");
	planned_release(&p);

	cr_assert_eq(plan_for(GPU_ENTRY(",\"disruptive\":false"), &other, u, false, &p, &err), 0, "%s",
		     ky_error_msg(err));
	cr_assert_not(p.plan->acts[0].disruptive, "the admin says this change leaves users alone");
	cr_assert_not(p.plan->refused);
}

struct resolve_case {
	const char *json;
	const char *want;
};

static const struct resolve_case unresolvable[] = {
	{ "{\"devices\":[{\"pciAddress\":\"0000:19:00.0\",\"kind\":\"nic\",\"numVfs\":2}]}",
	  "devices[0].pciAddress: no PCI function 0000:19:00.0 on this node" },
	{ "{\"devices\":[{\"pciAddress\":\"" GPU "\",\"kind\":\"nic\",\"numVfs\":2}]}",
	  "devices[0].pciAddress: 0000:3b:00.0 is not a NIC (kind nic)" },
	{ "{\"devices\":[{\"pciAddress\":\"" VF0 "\",\"kind\":\"nic\",\"numVfs\":2}]}",
	  "devices[0].pciAddress: 0000:18:01.0 is a VF; a nic entry takes physical functions (kind nic)" },
	{ "{\"devices\":[{\"pciAddress\":\"" PF "\",\"kind\":\"fpga\",\"image\":{\"id\":\"x\",\"path\":\"/x\","
	  "\"sha256\":\"0000000000000000000000000000000000000000000000000000000000000000\"}}]}",
	  "devices[0].pciAddress: 0000:18:00.0 is not an FPGA (kind fpga)" },
	{ "{\"devices\":[{\"pciAddress\":\"" PF "\",\"kind\":\"nic\",\"numVfs\":9}]}",
	  "devices[0].numVfs: 9 is more than 0000:18:00.0 can have (sriov_totalvfs 8)" },
	{ "{\"devices\":[{\"pciAddress\":\"" PF "\",\"kind\":\"nic\",\"numVfs\":2},"
	  "{\"selector\":{\"drivers\":[\"ice\"]},\"kind\":\"nic\",\"eswitchMode\":\"legacy\"}]}",
	  "devices[1]: chooses 0000:18:00.0, which devices[0] already does" },
};

Test(node_plan, a_profile_the_node_cannot_take_is_refused_naming_the_field)
{
	for (size_t i = 0; i < KY_ARRAY_SIZE(unresolvable); i++) {
		_cleanup_error_ struct ky_error *err = NULL;
		_cleanup_(planned_release) struct planned p;
		cr_expect_eq(plan_for(unresolvable[i].json, NULL, NULL, false, &p, &err), -EINVAL, "case %zu", i);
		cr_expect_str_eq(ky_error_msg(err), unresolvable[i].want, "case %zu", i);
		cr_expect_null(p.plan);
	}
}

Test(node_plan, the_json_report_carries_result_pods_and_steps)
{
	_cleanup_error_ struct ky_error *err = NULL;
	_cleanup_(planned_release) struct planned p;
	_cleanup_(ky_node_usage_freep) struct ky_node_usage *u = usage_of(VF0, "CNI net1 container abc interface net1");
	cr_assert_eq(plan_for("{\"devices\":[{\"pciAddress\":\"" PF "\",\"kind\":\"nic\",\"numVfs\":0}]}", NULL, u, true,
			      &p, &err),
		     0);
	p.plan->acts[0].status = KY_ACT_DONE;
	cr_assert_eq(ky_action_step(&p.plan->acts[0], "wrote \"%d\" to %s", 0, "sriov_numvfs"), 0);
	_cleanup_(cJSON_Deletep) cJSON *doc = NULL;
	cr_assert_eq(ky_plan_to_json(p.plan, p.targets, true, &doc, &err), 0);
	cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(doc, "result")), "changed");
	const cJSON *a = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "actions"), 0);
	cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(a, "device")), PF);
	cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(a, "entry")), "devices[0]");
	cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(a, "change")), "numVfs");
	cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(a, "disruptive")));
	cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetArrayItem(cJSON_GetObjectItem(a, "pods"), 0)),
			 "CNI net1 container abc interface net1");
	cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetArrayItem(cJSON_GetObjectItem(a, "steps"), 0)),
			 "wrote \"0\" to sriov_numvfs");
}

/* ---- Who uses a device ---- */

/* A CNI record from its JSON, read through the record module as kyborgctl
 * reads it. */
static struct ky_cni_record *cni_record(const char *json)
{
	_cleanup_(cJSON_Deletep) cJSON *doc = cJSON_Parse(json);
	struct ky_cni_record *rec = NULL;
	cr_assert_eq(ky_cni_record_from_json(doc, &rec, NULL), 0, "%s", json);
	return rec;
}

/* Each device of a device plugin's record, given to u. */
static int add_dp_json(struct ky_node_usage *u, const char *json)
{
	_cleanup_(cJSON_Deletep) cJSON *doc = cJSON_Parse(json);
	struct ky_dp_record *recs = NULL;
	size_t n = 0;
	cr_assert_eq(ky_dp_records_from_json(doc, &recs, &n, NULL), 0, "%s", json);
	int r = 0;
	for (size_t i = 0; i < n && r == 0; i++)
		r = ky_node_usage_add_dp_record(u, &recs[i]);
	ky_dp_records_free(recs, n);
	return r;
}

Test(node_usage, a_cni_record_of_this_boot_claims_its_pci_device)
{
	_cleanup_(ky_node_usage_freep) struct ky_node_usage *u = calloc(1, sizeof(*u));
	_cleanup_(ky_cni_record_freep) struct ky_cni_record *now = cni_record(
		"{\"network\":\"sriov\",\"containerID\":\"0123456789abcdef0123\",\"ifname\":\"net1\",\"bootID\":\"B1\","
		"\"device\":{\"name\":\"ens1f0v0\",\"pciID\":\"0000:18:01.0\"}}");
	_cleanup_(ky_cni_record_freep) struct ky_cni_record *old = cni_record(
		"{\"containerID\":\"x\",\"ifname\":\"net1\",\"bootID\":\"B0\",\"device\":{\"pciID\":\"0000:18:01.1\"}}");
	_cleanup_(ky_cni_record_freep) struct ky_cni_record *veth = cni_record("{\"containerID\":\"y\",\"device\":{\"name\":\"veth0\"}}");
	cr_assert_eq(ky_node_usage_add_cni_record(u, now, "B1"), 0);
	cr_assert_eq(ky_node_usage_add_cni_record(u, old, "B1"), 0);
	cr_assert_eq(ky_node_usage_add_cni_record(u, veth, "B1"), 0);
	cr_assert_eq(u->n, 1, "an earlier boot's record and a device without PCI address claim nothing");
	cr_assert_str_eq(u->users[0].addr, VF0);
	cr_assert_str_eq(u->users[0].who, "CNI sriov container 0123456789ab interface net1");
}

Test(node_usage, kubelet_checkpoint_ids_in_both_layouts_and_replicas_name_the_function)
{
	_cleanup_(ky_node_usage_freep) struct ky_node_usage *u = calloc(1, sizeof(*u));
	_cleanup_(cJSON_Deletep) cJSON *doc = cJSON_Parse(
		"{\"Data\":{\"PodDeviceEntries\":["
		"{\"PodUID\":\"u1\",\"ContainerName\":\"c1\",\"ResourceName\":\"kyborg.io/gpu\","
		" \"DeviceIDs\":{\"0\":[\"0000:3b:00.0::1\"],\"1\":[\"0000:86:00.0\"]}},"
		"{\"PodUID\":\"u2\",\"ContainerName\":\"c2\",\"ResourceName\":\"nvidia.com/gpu\","
		" \"DeviceIDs\":[\"GPU-5d1b2f\",\"0000:af:00.0\"]}"
		"]},\"Checksum\":1}");
	cr_assert_not_null(doc);
	cr_assert_eq(ky_node_usage_add_kubelet_checkpoint(u, doc), 0);
	cr_assert_eq(u->n, 3, "an ID that is no PCI address is another plugin's");
	cr_assert_str_eq(u->users[0].addr, GPU);
	cr_assert_str_eq(u->users[0].who, "pod u1 container c1 (kyborg.io/gpu)");
	cr_assert_str_eq(u->users[1].addr, "0000:86:00.0");
	cr_assert_str_eq(u->users[2].addr, FPGA);
	cr_assert_str_eq(u->users[2].who, "pod u2 container c2 (nvidia.com/gpu)");
}

Test(node_usage, missing_sources_mean_no_users_and_create_nothing)
{
	_cleanup_error_ struct ky_error *err = NULL;
	_cleanup_(ky_node_usage_freep) struct ky_node_usage *u = NULL;
	struct ky_usage_sources src = { .cni_state_dir = "/nonexistent/kyborg-cni",
					.kubelet_checkpoint = "/nonexistent/kubelet_internal_checkpoint",
					.dra_state_dir = "/nonexistent/kyborg" };
	cr_assert_eq(ky_node_usage_read(&src, &u, &err), 0, "%s", ky_error_msg(err));
	cr_assert_eq(u->n, 0);
	cr_assert_neq(access("/nonexistent", F_OK), 0);
}

Test(node_usage, a_device_plugin_record_names_each_allocated_function)
{
	_cleanup_(ky_node_usage_freep) struct ky_node_usage *u = calloc(1, sizeof(*u));
	cr_assert_eq(add_dp_json(u,
		"{\"resource\":\"kyborg.io/gpu\",\"kind\":\"gpu\",\"devices\":{"
		"\"0000:3b:00.0::1\":{\"pci\":\"0000:3b:00.0\",\"allocatedAt\":\"2026-12-03T08:00:00Z\"},"
		"\"broken\":{\"allocatedAt\":\"x\"}}}"), 0);
	cr_assert_eq(u->n, 1);
	cr_assert_str_eq(u->users[0].addr, GPU);
	cr_assert_str_eq(u->users[0].who, "device plugin kyborg.io/gpu: 0000:3b:00.0::1 allocated at 2026-12-03T08:00:00Z");

	/* The device plugin's current layout: one record per device. */
	cr_assert_eq(add_dp_json(u,
		"{\"resource\":\"kyborg.io/fpga-nlb\",\"kind\":\"fpga\",\"device\":\"0000:af:00.0\",\"pci\":\"0000:af:00.0\","
		"\"allocatedAt\":\"2026-12-03T08:00:00Z\",\"bitstream\":\"d8424dc4a4a3c413f89e433683f9040b\"}"), 0);
	cr_assert_eq(u->n, 2);
	cr_assert_str_eq(u->users[1].addr, FPGA);
	cr_assert_str_eq(u->users[1].who, "device plugin kyborg.io/fpga-nlb: 0000:af:00.0 allocated at 2026-12-03T08:00:00Z");
}

/* A claim's record as kyborg-dra-driver keeps it, over static strings:
 * ky_node_usage_add_dra_record only reads it. */
#define DRA_DEV(name, addr, k)                                                                              \
	{ .requests = (char *[]){ (char *)"req" }, .n_requests = 1, .pool = (char *)"node-a", .device = (char *)(name), \
	  .pci = (char *)(addr), .kind = (char *)(k), .resource = (char *)"kyborg.io/x", .cdi_id = (char *)"kyborg.io/claim=x" }

Test(node_usage, a_dra_claim_holds_its_devices_functions_preparing_or_prepared)
{
	_cleanup_(ky_node_usage_freep) struct ky_node_usage *u = calloc(1, sizeof(*u));
	struct ky_dra_record_device devs[] = {
		DRA_DEV("gpu-0000-3b-00-0-r0", GPU, "gpu"),
		DRA_DEV("gpu-0000-3b-00-0-r1", GPU, "gpu"),
		DRA_DEV("fpga-0000-af-00-0", FPGA, "fpga"),
		DRA_DEV("broken", "not-an-address", "vf"),
	};
	struct ky_dra_record rec = { .version = 1, .claim_uid = (char *)"5c1e0d2a", .namespace_ = (char *)"ns1",
				     .name = (char *)"train", .driver = (char *)"kyborg.io", .state = KY_DRA_PREPARING,
				     .cdi_spec = (char *)"/var/run/cdi/x.json", .devices = devs,
				     .n_devices = KY_ARRAY_SIZE(devs) };
	cr_assert_eq(ky_node_usage_add_dra_record(u, &rec), 0);
	cr_assert_eq(u->n, 2, "two replicas of one GPU are one use; an address that is none is nobody's");
	cr_assert_str_eq(u->users[0].addr, GPU);
	cr_assert_str_eq(u->users[0].who, "claim ns1/train (5c1e0d2a)");
	cr_assert_str_eq(u->users[1].addr, FPGA);
	rec.state = KY_DRA_PREPARED;
	cr_assert_eq(ky_node_usage_add_dra_record(u, &rec), 0);
	cr_assert_eq(u->n, 2, "the same claim again adds nothing");
}

/* Saved with the driver's own code (ky_dra_record_save under the claim's
 * lock), read with kyborgctl's. */
static void save_dra(struct ky_state_store *s, const char *uid, const char *ns, const char *name, const char *addr,
		     enum ky_dra_claim_state state, unsigned version)
{
	_cleanup_error_ struct ky_error *err = NULL;
	_cleanup_(ky_state_unlockp) struct ky_state_lock *l = NULL;
	struct ky_dra_record_device dev = DRA_DEV("dev", addr, "gpu");
	struct ky_dra_record rec = { .version = version, .claim_uid = (char *)uid, .namespace_ = (char *)ns,
				     .name = (char *)name, .driver = (char *)"kyborg.io", .state = state,
				     .cdi_spec = (char *)"/var/run/cdi/x.json", .devices = &dev, .n_devices = 1 };
	cr_assert_eq(ky_state_lock(s, uid, 0, &l, &err), 0, "%s", ky_error_msg(err));
	cr_assert_eq(ky_dra_record_save(l, &rec, true, &err), 0, "%s", ky_error_msg(err));
}

static char *dra_tmp;

static void dra_tmp_make(void)
{
	dra_tmp = kyt_tmpdir("kyusage");
	cr_assert_not_null(dra_tmp);
}

static void dra_tmp_remove(void)
{
	if (dra_tmp)
		kyt_rmrf(dra_tmp);
	free(dra_tmp);
	dra_tmp = NULL;
}

TestSuite(node_usage_dra, .init = dra_tmp_make, .fini = dra_tmp_remove);

Test(node_usage_dra, the_drivers_checkpoint_is_read_and_a_newer_record_skipped)
{
	const char *dir = dra_tmp;
	_cleanup_free_ char *rdir = ky_dra_record_dir(dir);
	_cleanup_error_ struct ky_error *err = NULL;
	_cleanup_(ky_node_usage_freep) struct ky_node_usage *none = NULL, *u = NULL;
	struct ky_usage_sources src = { .dra_state_dir = dir };
	cr_assert_eq(ky_node_usage_read(&src, &none, &err), 0, "%s", ky_error_msg(err));
	cr_assert_eq(none->n, 0);
	cr_assert_neq(access(rdir, F_OK), 0, "reading created %s", rdir);
	{
		_cleanup_(ky_state_closep) struct ky_state_store *s = NULL;
		cr_assert_eq(ky_state_open(rdir, &s, &err), 0, "%s", ky_error_msg(err));
		save_dra(s, "uid-a", "ns1", "gpu", GPU, KY_DRA_PREPARED, KY_DRA_RECORD_VERSION);
		save_dra(s, "uid-b", "ns2", "fpga", FPGA, KY_DRA_PREPARING, KY_DRA_RECORD_VERSION);
		save_dra(s, "uid-c", "ns3", "vf", VF0, KY_DRA_PREPARED, KY_DRA_RECORD_VERSION + 1);
	}
	cr_assert_eq(ky_node_usage_read(&src, &u, &err), 0, "%s", ky_error_msg(err));
	cr_assert_eq(u->n, 2, "the newer record is skipped, not trusted and not fatal");
	cr_assert_str_eq(u->users[0].addr, GPU);
	cr_assert_str_eq(u->users[0].who, "claim ns1/gpu (uid-a)");
	cr_assert_str_eq(u->users[1].addr, FPGA);
	cr_assert_str_eq(u->users[1].who, "claim ns2/fpga (uid-b)");
}

Test(node_plan, a_change_to_a_vf_a_claim_holds_is_refused_naming_the_claim)
{
	_cleanup_error_ struct ky_error *err = NULL;
	_cleanup_(planned_release) struct planned p;
	_cleanup_(ky_node_usage_freep) struct ky_node_usage *u = calloc(1, sizeof(*u));
	struct ky_dra_record_device dev = DRA_DEV("vf-0000-18-01-1", VF1, "vf");
	struct ky_dra_record rec = { .claim_uid = (char *)"9b2f", .namespace_ = (char *)"ns1", .name = (char *)"net",
				     .state = KY_DRA_PREPARED, .devices = &dev, .n_devices = 1 };
	cr_assert_eq(ky_node_usage_add_dra_record(u, &rec), 0);
	cr_assert_eq(plan_for("{\"devices\":[{\"pciAddress\":\"" PF "\",\"kind\":\"nic\",\"numVfs\":4}]}", NULL, u,
			      false, &p, &err),
		     0, "%s", ky_error_msg(err));
	cr_assert(p.plan->refused);
	cr_assert_eq(p.plan->acts[0].n_pods, 1);
	cr_assert_str_eq(p.plan->acts[0].pods[0], "claim ns1/net (9b2f)");
	cr_assert(strstr(p.plan->refusal, "claims"), "%s", p.plan->refusal);
}

/* ---- Status: front ends and users ---- */

static const char served_config[] =
	"{\"resources\":[{\"name\":\"kyborg.io/gpu\",\"kind\":\"gpu\",\"selector\":{\"vendors\":[\"10de\"]},"
	"\"sharing\":{\"replicas\":2}},"
	"{\"name\":\"kyborg.io/vf\",\"kind\":\"nic-vf\",\"selector\":{\"vendors\":[\"8086\"],\"devices\":[\"1889\"]}}]}";

Test(node_status, each_function_is_served_by_the_first_resource_that_takes_it)
{
	_cleanup_error_ struct ky_error *err = NULL;
	_cleanup_(ky_device_config_freep) struct ky_device_config *cfg = NULL;
	_cleanup_free_ struct ky_dev_served *sv = NULL;
	cr_assert_eq(ky_device_config_parse(served_config, strlen(served_config), &cfg, &err), 0, "%s",
		     ky_error_msg(err));
	cr_assert_eq(ky_node_served(cfg, &node, NULL, &sv, &err), 0, "%s", ky_error_msg(err));
	/* node: PF, VF0, VF1, GPU, FPGA */
	cr_assert_eq(sv[0].frontend, KY_NODE_FRONTEND_NONE, "a VF resource does not take the PF");
	cr_assert_null(sv[0].resource);
	cr_assert_eq(sv[1].frontend, KY_NODE_FRONTEND_DEVICE_PLUGIN);
	cr_assert_str_eq(sv[2].resource, "kyborg.io/vf");
	cr_assert_eq(sv[3].frontend, KY_NODE_FRONTEND_DEVICE_PLUGIN, "a GPU of two replicas is one function");
	cr_assert_str_eq(sv[3].resource, "kyborg.io/gpu");
	cr_assert_eq(sv[4].frontend, KY_NODE_FRONTEND_NONE);
	cr_assert_str_eq(ky_node_frontend_name(sv[3].frontend), "devicePlugin");
	cr_assert_str_eq(ky_node_frontend_name(KY_NODE_FRONTEND_DRA), "dra");
}

static char *status_text(const struct ky_node_status *st)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	cr_assert_not_null(f);
	_cleanup_error_ struct ky_error *err = NULL;
	cr_assert_eq(ky_node_status_write_text(st, f, &err), 0, "%s", ky_error_msg(err));
	fclose(f);
	return buf;
}

Test(node_status, the_text_lists_front_ends_and_every_user_even_of_a_function_that_left)
{
	_cleanup_error_ struct ky_error *err = NULL;
	_cleanup_(ky_device_config_freep) struct ky_device_config *cfg = NULL;
	_cleanup_free_ struct ky_dev_served *sv = NULL;
	_cleanup_(ky_node_usage_freep) struct ky_node_usage *u = calloc(1, sizeof(*u));
	cr_assert_eq(ky_device_config_parse(served_config, strlen(served_config), &cfg, &err), 0);
	cr_assert_eq(ky_node_served(cfg, &node, NULL, &sv, &err), 0);
	cr_assert_eq(ky_node_usage_add(u, GPU, "claim ns1/train (5c1e)"), 0);
	cr_assert_eq(ky_node_usage_add(u, GPU, "pod u1 container c1 (kyborg.io/gpu)"), 0);
	cr_assert_eq(ky_node_usage_add(u, "0000:99:00.0", "claim ns2/old (77aa)"), 0);
	struct ky_node_status st = { .list = &node, .usage = u, .served = sv };
	_cleanup_free_ char *text = status_text(&st);
	cr_assert(strstr(text, "\nFront ends and users:\n"
			       "  ADDRESS       FRONT END      RESOURCE       USED BY\n"
			       "  " PF "  none           -              -\n"
			       "  " VF0 "  device plugin  kyborg.io/vf   -\n"),
		  "%s", text);
	cr_assert(strstr(text, "\n  " GPU "  device plugin  kyborg.io/gpu  claim ns1/train (5c1e)\n"
			       "                                              pod u1 container c1 (kyborg.io/gpu)\n"),
		  "%s", text);
	cr_assert(strstr(text, "\n  0000:99:00.0  (not on this node)            claim ns2/old (77aa)\n"), "%s", text);

	/* Without a device config: unknown, and the note says why. */
	char *notes[] = { (char *)"no device config at /etc/kyborg/device-plugin.json: front ends unknown" };
	struct ky_node_status bare = { .list = &node, .usage = u, .notes = notes, .n_notes = 1 };
	_cleanup_free_ char *unknown = status_text(&bare);
	cr_assert(strstr(unknown, "\n  " GPU "  unknown    -         claim ns1/train (5c1e)\n"), "%s", unknown);
	cr_assert(strstr(unknown, "\n  (no device config at /etc/kyborg/device-plugin.json: front ends unknown)\n"), "%s",
		  unknown);
}

Test(node_status, the_json_carries_front_end_resource_users_and_notes)
{
	_cleanup_error_ struct ky_error *err = NULL;
	_cleanup_(ky_device_config_freep) struct ky_device_config *cfg = NULL;
	_cleanup_free_ struct ky_dev_served *sv = NULL;
	_cleanup_(ky_node_usage_freep) struct ky_node_usage *u = calloc(1, sizeof(*u));
	cr_assert_eq(ky_device_config_parse(served_config, strlen(served_config), &cfg, &err), 0);
	cr_assert_eq(ky_node_served(cfg, &node, NULL, &sv, &err), 0);
	cr_assert_eq(ky_node_usage_add(u, VF1, "claim ns1/net (9b2f)"), 0);
	struct ky_node_status st = { .list = &node, .usage = u, .served = sv };
	_cleanup_(cJSON_Deletep) cJSON *doc = NULL, *bare = NULL;
	cr_assert_eq(ky_node_status_json(&st, &doc, &err), 0, "%s", ky_error_msg(err));
	const cJSON *fns = cJSON_GetObjectItem(doc, "pci_functions");
	const cJSON *pf = cJSON_GetArrayItem(fns, 0), *vf1 = cJSON_GetArrayItem(fns, 2);
	cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(vf1, "frontend")), "devicePlugin");
	cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(vf1, "resource")), "kyborg.io/vf");
	cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetArrayItem(cJSON_GetObjectItem(vf1, "used_by"), 0)),
			 "claim ns1/net (9b2f)");
	cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(pf, "frontend")), "none");
	cr_assert(cJSON_IsNull(cJSON_GetObjectItem(pf, "resource")));
	cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "notes")), 0);

	char *notes[] = { (char *)"no device config at /x: front ends unknown" };
	struct ky_node_status unknown = { .list = &node, .usage = u, .notes = notes, .n_notes = 1 };
	cr_assert_eq(ky_node_status_json(&unknown, &bare, &err), 0, "%s", ky_error_msg(err));
	cr_assert(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(bare, "pci_functions"), 2),
						   "frontend")),
		  "unknown is null, not none");
	cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetArrayItem(cJSON_GetObjectItem(bare, "notes"), 0)), notes[0]);
}

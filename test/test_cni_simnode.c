/* The plugin in deviceID mode: the umockdev testbed maps the simulated
 * node's VF PCI addresses to veths this test creates, so the plugin finds
 * the VF's netdev, its PF and its index through (mocked) sysfs, and moves a
 * real link. Runs under umockdev-wrapper; the plugin inherits the testbed. */
#include <criterion/criterion.h>
#include <errno.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <umockdev.h>

#include "kytest.h"
#include "kytest_cni.h"
#include "kytest_net.h"
#include "kytest_simnode.h"
#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/state/state_store.h"
#include "cni.h"
#include "kyborg/node/node_apply.h"

#define CNI_PATH "/usr/lib/cni"

static UMockdevTestbed *tb;
static char pf[16], vf[4][16], peer[5][16], ns[16], ns_path[64];
static char *tmp, state_dir[512], ipam_dir[512];

static void setup(void)
{
	cr_assert_eq(kyt_private_netns(), 0, "needs root");
	cr_assert_eq(kyt_veth_add(pf, peer[4], sizeof(pf)), 0);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(kyt_veth_add(vf[i], peer[i], sizeof(vf[i])), 0);
	tb = umockdev_testbed_new();
	const char *const vfs[4] = { vf[0], vf[1], vf[2], vf[3] };
	cr_assert_eq(kyt_simnode_load(tb, pf, vfs), 0);
	cr_assert_eq(kyt_netns_add(ns, sizeof(ns)), 0);
	kyt_netns_path(ns, ns_path, sizeof(ns_path));
	kyt_cni_scratch("kycnis", &tmp, state_dir, ipam_dir, sizeof(state_dir));
}

static void teardown(void)
{
	kyt_netns_del(ns);
	kyt_cni_scratch_free(&tmp);
	if (tb)
		g_object_unref(tb);
	tb = NULL;
}

TestSuite(cni_simnode, .init = setup, .fini = teardown, .timeout = 120);

static char *conf_with(const char *device_fields)
{
	char *s = NULL;
	cr_assert_geq(asprintf(&s,
			       "{\"cniVersion\":\"1.1.0\",\"name\":\"sriovnet\",\"type\":\"kyborg\",%s,"
			       "\"stateDir\":\"%s\",\"ipam\":{\"type\":\"host-local\",\"dataDir\":\"%s\","
			       "\"ranges\":[[{\"subnet\":\"10.90.0.0/24\"}]]}}",
			       device_fields, state_dir, ipam_dir),
		      0);
	return s;
}

static int cni(const char *cmd, const char *conf, cJSON **out)
{
	struct kyt_cni_call c = { .bin = KYBORG_CNI_BIN, .command = cmd, .container_id = "pod1", .netns = ns_path,
				  .ifname = "net1", .path = CNI_PATH, .conf = conf };
	return kyt_cni_run(&c, out);
}

static void add_del_roundtrip(const char *fields, const char *want_pci, const char *want_dev)
{
	char *before = kyt_node_snapshot(state_dir, ipam_dir);
	char *conf = conf_with(fields);
	cJSON *out = NULL;
	cr_assert_eq(cni("ADD", conf, &out), 0, "%s", cJSON_PrintUnformatted(out));
	cJSON *i0 = cJSON_GetArrayItem(cJSON_GetObjectItem(out, "interfaces"), 0);
	cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(i0, "pciID")), want_pci);
	struct kyt_ip_link l;
	cr_assert(kyt_ip_link(ns, "net1", &l));
	cr_assert_not(kyt_ip_link(NULL, want_dev, &l), "%s left the host", want_dev);
	cr_assert_eq(cni("DEL", conf, NULL), 0);
	char *after = kyt_node_snapshot(state_dir, ipam_dir);
	cr_assert_str_eq(after, before);
	cJSON_Delete(out);
	free(after);
	free(before);
	free(conf);
}

Test(cni_simnode, device_id_moves_the_vf_netdev_and_reports_its_pci_address)
{
	add_del_roundtrip("\"deviceID\":\"0000:18:01.0\"", "0000:18:01.0", vf[0]);
}

Test(cni_simnode, pci_bus_id_and_runtime_config_device_id_name_the_vf_too)
{
	add_del_roundtrip("\"pciBusID\":\"18:01.1\"", "0000:18:01.1", vf[1]);
	add_del_roundtrip("\"runtimeConfig\":{\"deviceID\":\"0000:18:01.2\"}", "0000:18:01.2", vf[2]);
}

/* Issue 14: a VF the pod renamed stayed in the pod after DEL. */
Test(cni_simnode, del_brings_back_a_vf_the_pod_renamed)
{
	char *before = kyt_node_snapshot(state_dir, ipam_dir);
	char *conf = conf_with("\"deviceID\":\"" KYT_SIM_VF2 "\"");
	cJSON *out = NULL;
	cr_assert_eq(cni("ADD", conf, &out), 0, "%s", cJSON_PrintUnformatted(out));
	cr_assert_eq(kyt_run(NULL, "ip", "-n", ns, "link", "set", "net1", "down", NULL), 0);
	cr_assert_eq(kyt_run(NULL, "ip", "-n", ns, "link", "set", "net1", "name", "eth9", NULL), 0);
	cr_assert_eq(cni("DEL", conf, NULL), 0);
	struct kyt_ip_link l;
	cr_assert_not(kyt_ip_link(ns, "eth9", &l), "the VF stayed in the pod as eth9");
	cr_assert(kyt_ip_link(NULL, vf[2], &l), "%s is back in the host", vf[2]);
	char *after = kyt_node_snapshot(state_dir, ipam_dir);
	cr_assert_str_eq(after, before);
	cJSON_Delete(out);
	free(after);
	free(before);
	free(conf);
}

static int cni_as(const char *cid, const char *ifname, const char *cmd, const char *conf, cJSON **out)
{
	struct kyt_cni_call c = { .bin = KYBORG_CNI_BIN, .command = cmd, .container_id = cid, .netns = ns_path,
				  .ifname = ifname, .path = CNI_PATH, .conf = conf };
	return kyt_cni_run(&c, out);
}

/* Issue 14: "device": "<the VF's netdev>" and "deviceID": "<its PCI
 * address>" took two different device locks and neither saw the other's
 * claim: one pod could rewrite the VF settings of another's VF. The VF's
 * PCI address is its identity however a config names it, so the second
 * ADD is refused as for a VF in use (102), in both orders. */
Test(cni_simnode, a_vf_named_two_ways_is_one_device)
{
	char by_name[64], by_pci[64];
	snprintf(by_name, sizeof(by_name), "\"device\":\"%s\"", vf[0]);
	snprintf(by_pci, sizeof(by_pci), "\"deviceID\":\"" KYT_SIM_VF0 "\"");
	const char *order[2][2] = { { by_name, by_pci }, { by_pci, by_name } };
	char *before = kyt_node_snapshot(state_dir, ipam_dir);
	for (int i = 0; i < 2; i++) {
		char *first = conf_with(order[i][0]), *second = conf_with(order[i][1]);
		cJSON *out = NULL;
		cr_assert_eq(cni_as("pod1", "net1", "ADD", first, &out), 0, "%s", cJSON_PrintUnformatted(out));
		cJSON_Delete(out);
		char *mid = kyt_node_snapshot(state_dir, ipam_dir);
		cr_assert_eq(cni_as("pod2", "net2", "ADD", second, &out), 1, "%s then %s: the VF was taken twice",
			     order[i][0], order[i][1]);
		cr_assert_eq(kyt_cni_code(out), 102, "%s", cJSON_PrintUnformatted(out));
		cr_assert(strstr(cJSON_GetStringValue(cJSON_GetObjectItem(out, "msg")), "pod1/net1"), "%s",
			  cJSON_PrintUnformatted(out));
		char *after = kyt_node_snapshot(state_dir, ipam_dir);
		cr_assert_str_eq(after, mid, "the refused ADD changed the node");
		cr_assert_eq(cni_as("pod2", "net2", "DEL", second, NULL), 0);
		cr_assert_eq(cni_as("pod1", "net1", "DEL", first, NULL), 0);
		cJSON_Delete(out);
		free(after);
		free(mid);
		free(first);
		free(second);
	}
	char *end = kyt_node_snapshot(state_dir, ipam_dir);
	cr_assert_str_eq(end, before);
	free(end);
	free(before);
}

/* The lock an ADD by netdev name waits on is the one of the VF's PCI
 * address (on main it took one of its own and went ahead). */
Test(cni_simnode, an_add_by_netdev_name_takes_the_lock_of_the_pci_address)
{
	_cleanup_error_ struct ky_error *err = NULL;
	struct ky_state_store *store = NULL;
	struct ky_state_lock *held = NULL;
	char key[KY_STATE_KEY_MAX + 1];
	cr_assert_eq(ky_cni_device_key(KYT_SIM_VF1, key, sizeof(key)), 0);
	cr_assert_eq(ky_state_open(state_dir, &store, &err), 0, "%s", ky_error_msg(err));
	cr_assert_eq(ky_state_lock(store, key, 0, &held, &err), 0, "%s", ky_error_msg(err));
	char fields[64];
	snprintf(fields, sizeof(fields), "\"device\":\"%s\"", vf[1]);
	char *conf = conf_with(fields);
	struct kyt_cni_call c = { .bin = KYBORG_CNI_BIN, .command = "ADD", .container_id = "pod1", .netns = ns_path,
				  .ifname = "net1", .path = CNI_PATH, .conf = conf, .timeout_ms = 2000 };
	cr_expect_eq(kyt_cni_run(&c, NULL), -ETIMEDOUT, "ADD by name did not wait on the lock of " KYT_SIM_VF1);
	ky_state_unlock(held);
	ky_state_close(store);
	c.command = "DEL";
	cr_assert_eq(kyt_cni_run(&c, NULL), 0);
	free(conf);
}

Test(cni_simnode, a_vf_setting_the_kernel_refuses_leaves_nothing_behind)
{
	static const char *const settings[] = { "\"vlan\":10", "\"spoofchk\":\"off\"", "\"mac\":\"02:00:00:00:00:07\"" };
	char *before = kyt_node_snapshot(state_dir, ipam_dir);
	for (size_t i = 0; i < 3; i++) {
		char fields[128];
		snprintf(fields, sizeof(fields), "\"deviceID\":\"0000:18:01.3\",%s", settings[i]);
		char *conf = conf_with(fields);
		cJSON *out = NULL;
		cr_assert_neq(cni("ADD", conf, &out), 0, "%s: a veth PF has no VFs", settings[i]);
		cr_assert_eq(cJSON_GetObjectItem(out, "code")->valueint, 100, "%s", cJSON_PrintUnformatted(out));
		char *after = kyt_node_snapshot(state_dir, ipam_dir);
		cr_assert_str_eq(after, before, "%s", settings[i]);
		free(after);
		cJSON_Delete(out);
		free(conf);
	}
	free(before);
}

Test(cni_simnode, a_pci_function_without_netdev_is_no_device)
{
	char *conf = conf_with("\"deviceID\":\"0000:3b:00.0\"");
	cJSON *out = NULL;
	cr_assert_neq(cni("ADD", conf, &out), 0);
	cr_assert_eq(cJSON_GetObjectItem(out, "code")->valueint, 101, "%s", cJSON_PrintUnformatted(out));
	cJSON_Delete(out);
	free(conf);
}


Test(cni_simnode, a_vf_without_netdev_gets_ipam_and_its_pci_address_but_no_move)
{
	char pf2[16], pf2peer[16];
	cr_assert_eq(kyt_veth_add(pf2, pf2peer, sizeof(pf2)), 0);
	char *rec = NULL;
	cr_assert_geq(asprintf(&rec, kyt_simnode_userspace_vf_record, pf2, pf2), 0);
	cr_assert_eq(kyt_testbed_add(tb, rec), 0);
	free(rec);
	char *before = kyt_node_snapshot(state_dir, ipam_dir);
	char *conf = conf_with("\"deviceID\":\"0000:5e:01.0\"");
	cJSON *out = NULL;
	cr_assert_eq(cni("ADD", conf, &out), 0, "%s", cJSON_PrintUnformatted(out));
	cJSON *i0 = cJSON_GetArrayItem(cJSON_GetObjectItem(out, "interfaces"), 0);
	cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(i0, "pciID")), "0000:5e:01.0");
	cr_assert_null(cJSON_GetObjectItem(i0, "mac"), "no netdev, no MAC");
	cr_assert_not_null(cJSON_GetArrayItem(cJSON_GetObjectItem(out, "ips"), 0), "IPAM still runs");
	char *mid = kyt_node_snapshot(state_dir, ipam_dir);
	cr_assert(strstr(mid, "state sriovnet:pod1:net1.json"), "%s", mid);
	free(mid);
	cJSON_Delete(out);
	cr_assert_eq(cni("CHECK", conf, &out), 0, "%s", cJSON_PrintUnformatted(out));
	cr_assert_eq(cni("DEL", conf, NULL), 0);
	char *after = kyt_node_snapshot(state_dir, ipam_dir);
	cr_assert_str_eq(after, before);
	/* mtu and BPF programs need a netdev; vlan needs a PF that has VFs
	 * (a veth has none). */
	static const char *const need_netdev[] = { "\"deviceID\":\"0000:5e:01.0\",\"mtu\":9000",
						   "\"deviceID\":\"0000:5e:01.0\",\"bpf\":[{\"object\":\"/x/p.bpf.o\","
						   "\"program\":\"f\",\"attach\":\"xdp\"}]" };
	for (int i = 0; i < 2; i++) {
		free(conf);
		conf = conf_with(need_netdev[i]);
		cr_assert_neq(cni("ADD", conf, &out), 0);
		cr_assert_eq(cJSON_GetObjectItem(out, "code")->valueint, 7, "%s", need_netdev[i]);
		cJSON_Delete(out);
	}
	free(conf);
	conf = conf_with("\"deviceID\":\"0000:5e:01.0\",\"vlan\":12");
	cr_assert_neq(cni("ADD", conf, &out), 0);
	free(after);
	after = kyt_node_snapshot(state_dir, ipam_dir);
	cr_assert_str_eq(after, before);
	cJSON_Delete(out);
	free(after);
	free(before);
	free(conf);
}

/* ---- Across binaries: what the plugin records, kyborgctl reads ---- */

/* kyborgctl plan for numVfs 2 on the simulated PF, reading the plugin's
 * records (no kubelet checkpoint): its exit status, *pods the pods the
 * change would disrupt. */
static int ctl_plan(char **pods)
{
	char profile[600], checkpoint[600], dp_state[600];
	snprintf(profile, sizeof(profile), "%s/profile.json", tmp);
	snprintf(checkpoint, sizeof(checkpoint), "%s/kubelet_internal_checkpoint", tmp);
	snprintf(dp_state, sizeof(dp_state), "%s/dp", tmp);
	cr_assert_eq(kyt_write_file(profile, "{\"devices\":[{\"pciAddress\":\"" KYT_SIM_PF "\",\"kind\":\"nic\","
					     "\"numVfs\":2}]}"),
		     0);
	char *argv[] = { KYBORGCTL_PATH, "plan", "-f", profile, "--json", "--cni-state-dir", state_dir,
			 "--kubelet-checkpoint", checkpoint, "--state-dir", dp_state, NULL };
	char *out = NULL;
	int status = kyt_runv(&out, argv);
	cJSON *doc = out ? cJSON_Parse(out) : NULL;
	cr_assert_not_null(doc, "kyborgctl plan --json: %s", out ? out : "(no output)");
	cJSON *a = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "actions"), 0);
	*pods = cJSON_PrintUnformatted(cJSON_GetObjectItem(a, "pods"));
	cJSON_Delete(doc);
	free(out);
	return status;
}

/* The real plugin writes the record, kyborgctl's code (the library's
 * ky_node_usage_read, then the kyborgctl binary) reads it: both go through
 * state/cni_record, so a key renamed on one side only cannot pass. */
Test(cni_simnode, kyborgctl_counts_the_vf_the_plugin_attached_as_in_use)
{
	char *conf = conf_with("\"deviceID\":\"" KYT_SIM_VF1 "\"");
	cJSON *out = NULL;
	cr_assert_eq(cni("ADD", conf, &out), 0, "%s", cJSON_PrintUnformatted(out));
	cJSON_Delete(out);

	struct ky_usage_sources src = { .cni_state_dir = state_dir };
	struct ky_node_usage *u = NULL;
	struct ky_error *err = NULL;
	cr_assert_eq(ky_node_usage_read(&src, &u, &err), 0, "%s", ky_error_msg(err));
	cr_assert_eq(u->n, 1);
	cr_assert_str_eq(u->users[0].addr, KYT_SIM_VF1);
	cr_assert_str_eq(u->users[0].who, "CNI sriovnet container pod1 interface net1");
	ky_node_usage_free(u);

	char *pods = NULL;
	cr_assert_eq(ctl_plan(&pods), 4, "a change that takes a VF in use is refused: %s", pods);
	cr_assert_str_eq(pods, "[\"CNI sriovnet container pod1 interface net1\"]");
	free(pods);

	cr_assert_eq(cni("DEL", conf, NULL), 0);
	cr_assert_eq(ctl_plan(&pods), 3, "after DEL the VF is free: %s", pods);
	free(pods);
	free(conf);
}

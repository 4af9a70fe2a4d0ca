/* Kernel tier (runs in the qemu guest, scripts/kernel-tier/): the kyborg CNI
 * binary, exec'd as a runtime would, configures an SR-IOV VF on a netdevsim
 * PF over rtnetlink and gives it back. netdevsim has VFs on its PF but no
 * VF netdevs and no virtfn links in sysfs, so the plugin resolves the VF
 * through the simulated node (test/data/sim-node.umockdev, umockdev's
 * preload given to the plugin only): the simulated PF's netdev is the
 * netdevsim PF, its VF netdevs are veths. What the plugin sets on the PF
 * is read back with `ip -j link show` (the independent peer) and with the
 * library's netlink read. */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <umockdev.h>
#include <linux/if_ether.h>

#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/net/netlink.h"
#include "kyborg/net/netlink_vf.h"
#include "kytest.h"
#include "kytest_cni.h"
#include "kytest_net.h"
#include "kytest_nsim.h"
#include "kytest_simnode.h"

#define CNI_PATH "/usr/lib/cni"
#define NUM_VFS 4
#define VF 1 /* the simulated node's VF 0000:18:01.1 */

KY_DEFINE_CLEANUP(cJSON, cJSON_Delete)

static struct kyt_nsim nsim, nsim2, nsim3;
static UMockdevTestbed *tb;
static char vf[NUM_VFS][16], peer[NUM_VFS][16], ns[16], ns_path[64];
static char *tmp, state_dir[512], ipam_dir[512];
/* The plugin alone runs under umockdev; this process writes the real
 * /sys/bus/netdevsim. umockdev_testbed_new put UMOCKDEV_DIR in environ. */
static const char *const plugin_env[] = { "LD_PRELOAD=libumockdev-preload.so.0", NULL };

static void setup(void)
{
	cr_assert_eq(kyt_private_netns(), 0, "needs root");
	int r = kyt_nsim_new(&nsim, NUM_VFS);
	cr_assert_eq(r, 0, "netdevsim device: %s (runs in the kernel tier's guest)", strerror(-r));
	for (int i = 0; i < NUM_VFS; i++)
		cr_assert_eq(kyt_veth_add(vf[i], peer[i], sizeof(vf[i])), 0);
	tb = umockdev_testbed_new();
	const char *const vfs[NUM_VFS] = { vf[0], vf[1], vf[2], vf[3] };
	cr_assert_eq(kyt_simnode_load(tb, nsim.pf, vfs), 0);
	cr_assert_eq(kyt_netns_add(ns, sizeof(ns)), 0);
	kyt_netns_path(ns, ns_path, sizeof(ns_path));
	kyt_cni_scratch("kykvf", &tmp, state_dir, ipam_dir, sizeof(state_dir));
}

static void teardown(void)
{
	kyt_netns_del(ns);
	kyt_cni_scratch_free(&tmp);
	if (tb)
		g_object_unref(tb);
	tb = NULL;
	kyt_nsim_del(&nsim3);
	kyt_nsim_del(&nsim2);
	kyt_nsim_del(&nsim);
}

TestSuite(ktier_cni_vf, .init = setup, .fini = teardown, .timeout = 240);

/* Every VF field of the config, each unlike the "previous" settings. */
#define EVERY_VF_FIELD                                                                                           \
	"\"mac\":\"02:4b:59:00:01:01\",\"vlan\":100,\"vlanQoS\":5,\"vlanProto\":\"802.1ad\",\"spoofchk\":\"off\"," \
	"\"trust\":\"off\",\"link_state\":\"disable\",\"min_tx_rate\":10,\"max_tx_rate\":1000"

/* The previous settings a pod finds on the VF, none of them the driver's
 * defaults, so that restoring them proves something. */
static void set_previous(const char *pf, unsigned n, bool rates)
{
	char num[8];
	snprintf(num, sizeof(num), "%u", n);
	int r = rates ? kyt_run(NULL, "ip", "link", "set", "dev", pf, "vf", num, "mac", "02:4b:59:00:00:aa", "vlan",
				"20", "qos", "1", "proto", "802.1Q", "min_tx_rate", "5", "max_tx_rate", "50", "spoofchk",
				"on", "trust", "on", "state", "enable", NULL)
		      : kyt_run(NULL, "ip", "link", "set", "dev", pf, "vf", num, "mac", "02:4b:59:00:00:aa", "vlan",
				"20", "qos", "1", "proto", "802.1Q", "spoofchk", "on", "trust", "on", "state", "enable",
				NULL);
	cr_assert_eq(r, 0, "ip link set dev %s vf %u ...", pf, n);
}

/* `ip -j link show dev pf` whole: every VF of the PF as iproute2 shows it. */
static char *pf_json(const char *pf)
{
	char *out = NULL;
	cr_assert_eq(kyt_run(&out, "ip", "-j", "link", "show", "dev", pf, NULL), 0);
	return out;
}

static char *snap(void)
{
	return kyt_node_snapshot(state_dir, ipam_dir);
}

/* The node and the PF exactly as before: links, state records, address
 * reservations, and every VF's settings. */
static void assert_as_before(const char *pf, const char *pf_before, const char *node_before, const char *what)
{
	_cleanup_free_ char *pf_after = pf_json(pf), *node_after = snap();
	cr_assert_str_eq(pf_after, pf_before, "%s: the PF's VFs changed:\n--- before\n%s\n--- after\n%s", what,
			 pf_before, pf_after);
	cr_assert_str_eq(node_after, node_before, "%s: the node changed:\n--- before\n%s--- after\n%s", what,
			 node_before, node_after);
}

static char *conf_with(const char *fields, const char *ipam_type, const cJSON *prev)
{
	_cleanup_free_ char *prev_text = prev ? cJSON_PrintUnformatted(prev) : NULL;
	char *s = NULL;
	cr_assert_geq(asprintf(&s,
			       "{\"cniVersion\":\"1.1.0\",\"name\":\"kvfnet\",\"type\":\"kyborg\",%s,"
			       "\"stateDir\":\"%s\",\"ipam\":{\"type\":\"%s\",\"dataDir\":\"%s\","
			       "\"ranges\":[[{\"subnet\":\"10.91.0.0/24\"}]]}%s%s}",
			       fields, state_dir, ipam_type ? ipam_type : "host-local", ipam_dir,
			       prev ? ",\"prevResult\":" : "", prev ? prev_text : ""),
		      0);
	return s;
}

/* The plugin for container cid (NULL for GC: no attachment variables). */
static int cni_as(const char *cmd, const char *cid, const char *conf, const char *fault, cJSON **out)
{
	struct kyt_cni_call c = { .bin = KYBORG_CNI_BIN, .command = cmd, .container_id = cid,
				  .netns = cid ? ns_path : NULL, .ifname = cid ? "net1" : NULL, .path = CNI_PATH,
				  .fault = fault, .conf = conf, .env = plugin_env };
	return kyt_cni_run(&c, out);
}

static int cni_fault(const char *cmd, const char *conf, const char *fault, cJSON **out)
{
	return cni_as(cmd, "pod1", conf, fault, out);
}

static int cni(const char *cmd, const char *conf, cJSON **out)
{
	return cni_fault(cmd, conf, NULL, out);
}

static const char *msg_of(const cJSON *out)
{
	const char *m = cJSON_GetStringValue(cJSON_GetObjectItem(out, "msg"));
	return m ? m : "(no msg)";
}

static int json_int(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItem(o, key);
	return cJSON_IsNumber(v) ? v->valueint : -1;
}

/* VF n of pf as iproute2 shows it, against EVERY_VF_FIELD. */
static void assert_ip_shows_every_field(const char *pf, unsigned n)
{
	_cleanup_(cJSON_Deletep) cJSON *j = kyt_ip_vf(pf, n);
	cr_assert_not_null(j, "ip -j link show dev %s has no VF %u", pf, n);
	cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(j, "address")), "02:4b:59:00:01:01");
	const cJSON *vlan = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "vlan_list"), 0);
	cr_assert_eq(json_int(vlan, "vlan"), 100);
	cr_assert_eq(json_int(vlan, "qos"), 5);
	const char *proto = cJSON_GetStringValue(cJSON_GetObjectItem(vlan, "protocol"));
	cr_assert(proto && strcmp(proto, "802.1ad") == 0, "protocol %s", proto ? proto : "(none)");
	const cJSON *rate = cJSON_GetObjectItem(j, "rate");
	cr_assert_eq(json_int(rate, "min_tx"), 10);
	cr_assert_eq(json_int(rate, "max_tx"), 1000);
	cr_assert(cJSON_IsFalse(cJSON_GetObjectItem(j, "spoofchk")));
	cr_assert(cJSON_IsFalse(cJSON_GetObjectItem(j, "trust")));
	cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(j, "link_state")), "disable");
}

/* The same VF read through the library's netlink request. */
static void assert_netlink_shows_every_field(const char *pf, unsigned n)
{
	_cleanup_(ky_nl_closep) struct ky_nl *nl = NULL;
	_cleanup_error_ struct ky_error *err = NULL;
	struct ky_vf_config got;
	cr_assert_eq(ky_nl_open(&nl, &err), 0);
	cr_assert_eq(ky_vf_get(nl, pf, n, &got, &err), 0, "%s", ky_error_msg(err));
	const uint8_t mac[6] = { 0x02, 0x4b, 0x59, 0x00, 0x01, 0x01 };
	cr_assert_arr_eq(got.mac, mac, 6);
	cr_assert_eq(got.vlan, 100);
	cr_assert_eq(got.qos, 5);
	cr_assert_eq(got.vlan_proto, ETH_P_8021AD);
	cr_assert_eq(got.min_tx_rate, 10);
	cr_assert_eq(got.max_tx_rate, 1000);
	cr_assert_not(got.spoofchk);
	cr_assert_not(got.trust);
	cr_assert_eq(got.link_state, KY_VF_LINK_STATE_DISABLE);
}

Test(ktier_cni_vf, add_sets_every_vf_field_check_passes_and_del_restores_the_previous_settings)
{
	set_previous(nsim.pf, VF, true);
	_cleanup_free_ char *pf_before = pf_json(nsim.pf), *node_before = snap();
	cJSON *others[NUM_VFS] = { 0 };
	for (unsigned i = 0; i < NUM_VFS; i++)
		others[i] = kyt_ip_vf(nsim.pf, i);

	_cleanup_free_ char *conf = conf_with("\"deviceID\":\"0000:18:01.1\"," EVERY_VF_FIELD, NULL, NULL);
	_cleanup_(cJSON_Deletep) cJSON *res = NULL;
	int rc = cni("ADD", conf, &res);
	cr_assert_eq(rc, 0, "ADD: %s", msg_of(res));
	const cJSON *i0 = cJSON_GetArrayItem(cJSON_GetObjectItem(res, "interfaces"), 0);
	cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(i0, "pciID")), "0000:18:01.1");

	assert_ip_shows_every_field(nsim.pf, VF);
	assert_netlink_shows_every_field(nsim.pf, VF);
	for (unsigned i = 0; i < NUM_VFS; i++) {
		if (i == VF)
			continue;
		_cleanup_(cJSON_Deletep) cJSON *now = kyt_ip_vf(nsim.pf, i);
		cr_assert(cJSON_Compare(now, others[i], true), "VF %u, not asked for, changed", i);
	}
	struct kyt_ip_link l;
	cr_assert(kyt_ip_link(ns, "net1", &l), "the VF's netdev is in the pod as net1");
	cr_assert_str_eq(l.address, "02:4b:59:00:01:01");

	_cleanup_free_ char *check = conf_with("\"deviceID\":\"0000:18:01.1\"," EVERY_VF_FIELD, NULL, res);
	_cleanup_(cJSON_Deletep) cJSON *out = NULL;
	rc = cni("CHECK", check, &out);
	cr_assert_eq(rc, 0, "CHECK right after ADD: %s", msg_of(out));

	rc = cni("DEL", conf, NULL);
	cr_assert_eq(rc, 0);
	assert_as_before(nsim.pf, pf_before, node_before, "after DEL");
	for (unsigned i = 0; i < NUM_VFS; i++)
		cJSON_Delete(others[i]);
}

/* Each VF field changed on the PF behind the plugin's back: CHECK fails
 * with code 104 naming that field; put back, CHECK passes again. */
Test(ktier_cni_vf, check_names_each_vf_field_changed_behind_its_back)
{
	static const struct {
		const char *field;
		const char *change[7], *back[7];
	} drifts[] = {
		{ "mac", { "mac", "02:4b:59:00:01:99" }, { "mac", "02:4b:59:00:01:01" } },
		{ "vlan", { "vlan", "7", "qos", "5", "proto", "802.1ad" }, { "vlan", "100", "qos", "5", "proto", "802.1ad" } },
		{ "vlanQoS", { "vlan", "100", "qos", "2", "proto", "802.1ad" }, { "vlan", "100", "qos", "5", "proto", "802.1ad" } },
		{ "vlanProto", { "vlan", "100", "qos", "5", "proto", "802.1Q" }, { "vlan", "100", "qos", "5", "proto", "802.1ad" } },
		{ "spoofchk", { "spoofchk", "on" }, { "spoofchk", "off" } },
		{ "trust", { "trust", "on" }, { "trust", "off" } },
		{ "link_state", { "state", "auto" }, { "state", "disable" } },
		{ "min_tx_rate", { "min_tx_rate", "20" }, { "min_tx_rate", "10" } },
		{ "max_tx_rate", { "max_tx_rate", "900" }, { "max_tx_rate", "1000" } },
	};
	_cleanup_free_ char *pf_before = pf_json(nsim.pf), *node_before = snap();
	_cleanup_free_ char *conf = conf_with("\"deviceID\":\"0000:18:01.1\"," EVERY_VF_FIELD, NULL, NULL);
	_cleanup_(cJSON_Deletep) cJSON *res = NULL;
	cr_assert_eq(cni("ADD", conf, &res), 0, "ADD: %s", msg_of(res));
	_cleanup_free_ char *check = conf_with("\"deviceID\":\"0000:18:01.1\"," EVERY_VF_FIELD, NULL, res);

	for (size_t d = 0; d < KY_ARRAY_SIZE(drifts); d++) {
		for (int pass = 0; pass < 2; pass++) {
			const char *const *words = pass == 0 ? drifts[d].change : drifts[d].back;
			char *argv[16] = { "ip", "link", "set", "dev", nsim.pf, "vf", "1" };
			size_t k = 7;
			for (size_t w = 0; w < 7 && words[w]; w++)
				argv[k++] = (char *)words[w];
			cr_assert_eq(kyt_runv(NULL, argv), 0, "ip link set ... vf 1 %s ...", words[0]);
			_cleanup_(cJSON_Deletep) cJSON *out = NULL;
			int rc = cni("CHECK", check, &out);
			if (pass == 1) {
				cr_assert_eq(rc, 0, "%s put back: %s", drifts[d].field, msg_of(out));
				continue;
			}
			cr_assert_neq(rc, 0, "CHECK missed a changed %s", drifts[d].field);
			cr_assert_eq(kyt_cni_code(out), 104, "%s: %s", drifts[d].field, msg_of(out));
			char want[32];
			snprintf(want, sizeof(want), " %s ", drifts[d].field);
			cr_assert(strstr(msg_of(out), want), "%s: the error does not name it: %s", drifts[d].field,
				  msg_of(out));
		}
	}
	cr_assert_eq(cni("DEL", conf, NULL), 0);
	assert_as_before(nsim.pf, pf_before, node_before, "after DEL");
}

/* IPAM, after vf-config, fails (no such plugin): ADD undoes the VF's
 * settings and the move, and leaves no record. */
Test(ktier_cni_vf, an_ipam_failure_after_vf_config_rolls_the_vf_back)
{
	set_previous(nsim.pf, VF, true);
	_cleanup_free_ char *pf_before = pf_json(nsim.pf), *node_before = snap();
	_cleanup_free_ char *conf =
		conf_with("\"deviceID\":\"0000:18:01.1\"," EVERY_VF_FIELD, "kyborg-no-such-ipam", NULL);
	_cleanup_(cJSON_Deletep) cJSON *out = NULL;
	int rc = cni("ADD", conf, &out);
	cr_assert_neq(rc, 0, "ADD with a missing IPAM plugin succeeded");
	cr_assert_eq(kyt_cni_code(out), 103, "%s", msg_of(out));
	assert_as_before(nsim.pf, pf_before, node_before, "after the failed ADD");
}

/* In switchdev mode netdevsim refuses VF rates, and rtnetlink has by then
 * applied the MAC and VLAN of the same request: the rollback must put
 * those back without asking for the refused rate again, and leave no
 * record. */
Test(ktier_cni_vf, a_vf_setting_the_driver_refuses_rolls_back_what_it_applied)
{
	cr_assert_eq(kyt_run(NULL, "devlink", "dev", "eswitch", "set", nsim.devlink, "mode", "switchdev", NULL), 0);
	set_previous(nsim.pf, VF, false);
	_cleanup_free_ char *pf_before = pf_json(nsim.pf), *node_before = snap();
	_cleanup_free_ char *conf = conf_with("\"deviceID\":\"0000:18:01.1\"," EVERY_VF_FIELD, NULL, NULL);
	_cleanup_(cJSON_Deletep) cJSON *out = NULL;
	int rc = cni("ADD", conf, &out);
	cr_assert_neq(rc, 0, "netdevsim in switchdev mode took a VF rate");
	cr_assert_eq(kyt_cni_code(out), 100, "%s", msg_of(out));
	cr_assert_null(strstr(msg_of(out), "rollback incomplete"), "%s", msg_of(out));
	assert_as_before(nsim.pf, pf_before, node_before, "after the refused ADD");
}

/* In switchdev mode a VF's representor is a netdev of the PF's driver:
 * named as the device, ADD moves it into the pod with the MAC and MTU
 * asked for, CHECK passes, DEL brings it back under its name as it was,
 * still VF 1's representor. */
Test(ktier_cni_vf, a_vf_representor_named_as_device_goes_into_the_pod_and_back)
{
	cr_assert_eq(kyt_run(NULL, "devlink", "dev", "eswitch", "set", nsim.devlink, "mode", "switchdev", NULL), 0);
	char rep[16];
	cr_assert(kyt_nsim_port_netdev(&nsim, "pf0vf1", rep, sizeof(rep)), "no representor of VF 1");
	_cleanup_free_ char *pf_before = pf_json(nsim.pf), *node_before = snap();
	char fields[96];
	snprintf(fields, sizeof(fields), "\"device\":\"%s\",\"mac\":\"02:4b:59:00:03:01\",\"mtu\":1400", rep);
	_cleanup_free_ char *conf = conf_with(fields, NULL, NULL);
	_cleanup_(cJSON_Deletep) cJSON *res = NULL;
	cr_assert_eq(cni("ADD", conf, &res), 0, "ADD: %s", msg_of(res));
	struct kyt_ip_link l;
	cr_assert(kyt_ip_link(ns, "net1", &l), "the representor is in the pod as net1");
	cr_assert_str_eq(l.address, "02:4b:59:00:03:01");
	cr_assert_eq(l.mtu, 1400);
	cr_assert_not(kyt_ip_link(NULL, rep, &l), "%s is still in the host", rep);

	_cleanup_free_ char *check = conf_with(fields, NULL, res);
	_cleanup_(cJSON_Deletep) cJSON *out = NULL;
	cr_assert_eq(cni("CHECK", check, &out), 0, "CHECK: %s", msg_of(out));
	cr_assert_eq(cni("DEL", conf, NULL), 0);
	assert_as_before(nsim.pf, pf_before, node_before, "after DEL");
	char again[16];
	cr_assert(kyt_nsim_port_netdev(&nsim, "pf0vf1", again, sizeof(again)));
	cr_assert_str_eq(again, rep, "VF 1's representor is %s", again);
}

/* sysfs names a VF the PF no longer has (its count lowered to 2 under the
 * plugin): code 100 naming the VF, and nothing moved or kept. */
Test(ktier_cni_vf, a_vf_the_pf_does_not_have_is_refused_and_nothing_changes)
{
	cr_assert_eq(kyt_nsim_set_num_vfs(&nsim, 0), 0);
	cr_assert_eq(kyt_nsim_set_num_vfs(&nsim, 2), 0);
	_cleanup_free_ char *pf_before = pf_json(nsim.pf), *node_before = snap();
	_cleanup_free_ char *conf = conf_with("\"deviceID\":\"0000:18:01.3\",\"vlan\":100", NULL, NULL);
	_cleanup_(cJSON_Deletep) cJSON *out = NULL;
	cr_assert_neq(cni("ADD", conf, &out), 0, "VF 3 of a PF with 2 VFs was configured");
	cr_assert_eq(kyt_cni_code(out), 100, "%s", msg_of(out));
	cr_assert(strstr(msg_of(out), "VF 3"), "%s", msg_of(out));
	assert_as_before(nsim.pf, pf_before, node_before, "after the refused ADD");
}

/* SIGKILL at each point ADD passes, then DEL: the VF's previous settings
 * and the node exactly as before. */
Test(ktier_cni_vf, killed_at_each_add_step_then_del_restores_the_vf)
{
	static const char *const points[] = { "add-after-reserve", "add-after-vf-config", "add-after-move",
					      "add-after-link",    "add-after-ipam",      "add-after-addresses",
					      "add-after-complete" };
	set_previous(nsim.pf, VF, true);
	_cleanup_free_ char *pf_before = pf_json(nsim.pf), *node_before = snap();
	_cleanup_free_ char *conf = conf_with("\"deviceID\":\"0000:18:01.1\"," EVERY_VF_FIELD, NULL, NULL);
	for (size_t i = 0; i < KY_ARRAY_SIZE(points); i++) {
		cr_assert_eq(cni_fault("ADD", conf, points[i], NULL), 128 + 9, "%s: not killed", points[i]);
		_cleanup_free_ char *mid = snap();
		cr_assert(strstr(mid, "state kvfnet:pod1:net1"), "%s: no record left for DEL:\n%s", points[i], mid);
		if (strcmp(points[i], "add-after-reserve") != 0) {
			_cleanup_(cJSON_Deletep) cJSON *j = kyt_ip_vf(nsim.pf, VF);
			cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(j, "address")), "02:4b:59:00:01:01",
					 "%s: the VF was configured", points[i]);
		}
		cr_assert_eq(cni("DEL", conf, NULL), 0, "DEL after a kill at %s", points[i]);
		assert_as_before(nsim.pf, pf_before, node_before, points[i]);
	}
	/* ADD again after a kill once the VF was configured: it undoes the
	 * interrupted ADD first, so what it saves, and DEL restores, is the
	 * settings from before either ADD. */
	cr_assert_eq(cni_fault("ADD", conf, "add-after-link", NULL), 128 + 9);
	_cleanup_(cJSON_Deletep) cJSON *out = NULL;
	cr_assert_eq(cni("ADD", conf, &out), 0, "ADD after a kill: %s", msg_of(out));
	assert_ip_shows_every_field(nsim.pf, VF);
	cr_assert_eq(cni("DEL", conf, NULL), 0);
	assert_as_before(nsim.pf, pf_before, node_before, "ADD killed, ADD, DEL");
}

/* A second pod asking for a VF in use gets code 102 and changes nothing:
 * the VF keeps the first pod's settings, which DEL then undoes. */
Test(ktier_cni_vf, a_second_pod_asking_for_the_same_vf_is_refused_and_changes_nothing)
{
	set_previous(nsim.pf, VF, true);
	_cleanup_free_ char *pf_before = pf_json(nsim.pf), *node_before = snap();
	_cleanup_free_ char *conf = conf_with("\"deviceID\":\"0000:18:01.1\"," EVERY_VF_FIELD, NULL, NULL);
	_cleanup_(cJSON_Deletep) cJSON *out = NULL;
	cr_assert_eq(cni("ADD", conf, &out), 0, "ADD: %s", msg_of(out));
	_cleanup_free_ char *pf_first = pf_json(nsim.pf), *node_first = snap();

	_cleanup_free_ char *other = conf_with("\"deviceID\":\"0000:18:01.1\",\"vlan\":300,\"trust\":\"on\"", NULL, NULL);
	cJSON_Delete(out);
	out = NULL;
	cr_assert_neq(cni_as("ADD", "pod2", other, NULL, &out), 0, "a VF in use was given to a second pod");
	cr_assert_eq(kyt_cni_code(out), 102, "%s", msg_of(out));
	assert_as_before(nsim.pf, pf_first, node_first, "after the refused second ADD");
	cr_assert_eq(cni_as("DEL", "pod2", other, NULL, NULL), 0, "DEL of the refused pod");
	assert_as_before(nsim.pf, pf_first, node_first, "after DEL of the refused pod");

	cr_assert_eq(cni("DEL", conf, NULL), 0);
	assert_as_before(nsim.pf, pf_before, node_before, "after DEL");
}

/* GC with no valid attachment left: the VF's settings go back to what they
 * were, its netdev comes back from the pod (the record names the netns),
 * the address and the record go. */
Test(ktier_cni_vf, gc_of_a_vf_attachment_restores_the_vf)
{
	set_previous(nsim.pf, VF, true);
	_cleanup_free_ char *pf_before = pf_json(nsim.pf), *node_before = snap();
	_cleanup_free_ char *conf = conf_with("\"deviceID\":\"0000:18:01.1\"," EVERY_VF_FIELD, NULL, NULL);
	_cleanup_(cJSON_Deletep) cJSON *out = NULL;
	cr_assert_eq(cni("ADD", conf, &out), 0, "ADD: %s", msg_of(out));
	_cleanup_free_ char *gc = NULL;
	cr_assert_geq(asprintf(&gc, "%.*s,\"cni.dev/valid-attachments\":[]}", (int)strlen(conf) - 1, conf), 0);
	cJSON_Delete(out);
	out = NULL;
	cr_assert_eq(cni_as("GC", NULL, gc, NULL, &out), 0, "GC: %s", msg_of(out));
	assert_as_before(nsim.pf, pf_before, node_before, "after GC");
}

/* The runtime often calls DEL once the pod's netns is gone (a veth VF
 * netdev dies with it; a real VF's comes back to the host): the VF's
 * settings are still restored on the PF, the record goes, and a second
 * DEL changes nothing. */
Test(ktier_cni_vf, del_after_the_pod_netns_is_gone_still_restores_the_vf)
{
	set_previous(nsim.pf, VF, true);
	_cleanup_free_ char *pf_before = pf_json(nsim.pf);
	_cleanup_free_ char *conf = conf_with("\"deviceID\":\"0000:18:01.1\"," EVERY_VF_FIELD, NULL, NULL);
	_cleanup_(cJSON_Deletep) cJSON *res = NULL;
	cr_assert_eq(cni("ADD", conf, &res), 0, "ADD: %s", msg_of(res));
	assert_ip_shows_every_field(nsim.pf, VF);
	kyt_netns_del(ns);
	for (int i = 0; i < 2; i++) {
		_cleanup_(cJSON_Deletep) cJSON *out = NULL;
		cr_assert_eq(cni("DEL", conf, &out), 0, "DEL %d without the netns: %s", i + 1, msg_of(out));
		_cleanup_free_ char *pf_after = pf_json(nsim.pf), *node = snap();
		cr_assert_str_eq(pf_after, pf_before, "DEL %d: the VF's settings were not restored", i + 1);
		cr_assert_null(strstr(node, "state "), "DEL %d left a record:\n%s", i + 1, node);
		cr_assert_null(strstr(node, "ipam "), "DEL %d left an address reserved:\n%s", i + 1, node);
	}
}

/* A second PF (another netdevsim device) whose VF is bound to vfio-pci in
 * the simulated sysfs: no netdev to move, the VF settings still go to the
 * PF, CHECK reads them, DEL restores them. */
static const char userspace_vf_record[] =
	"P: /devices/pci0000:5d/0000:5d:00.0/0000:5e:00.0\n"
	"E: DRIVER=netdevsim\nE: PCI_CLASS=20000\nE: PCI_ID=8086:1592\nE: PCI_SLOT_NAME=0000:5e:00.0\nE: SUBSYSTEM=pci\n"
	"A: vendor=0x8086\nA: device=0x1592\nA: class=0x020000\nA: numa_node=0\n"
	"A: sriov_totalvfs=4\nA: sriov_numvfs=2\n"
	"L: virtfn0=../0000:5e:01.0\nL: virtfn1=../0000:5e:01.1\n"
	"\n"
	"P: /devices/pci0000:5d/0000:5d:00.0/0000:5e:00.0/net/%s\n"
	"E: INTERFACE=%s\nE: SUBSYSTEM=net\nA: address=02:00:00:00:5e:00\nA: addr_len=6\nA: mtu=1500\nA: type=1\n"
	"L: device=../../../0000:5e:00.0\n"
	"\n"
	"P: /devices/pci0000:5d/0000:5d:00.0/0000:5e:01.1\n"
	"E: DRIVER=vfio-pci\nE: PCI_CLASS=20000\nE: PCI_ID=8086:1889\nE: PCI_SLOT_NAME=0000:5e:01.1\nE: SUBSYSTEM=pci\n"
	"A: vendor=0x8086\nA: device=0x1889\nA: class=0x020000\nA: numa_node=0\n"
	"L: driver=../../../../bus/pci/drivers/vfio-pci\n"
	"L: iommu_group=../../../../kernel/iommu_groups/301\n"
	"L: physfn=../0000:5e:00.0\n";

Test(ktier_cni_vf, a_vfio_bound_vf_is_configured_on_its_pf_and_restored)
{
	int r = kyt_nsim_new(&nsim2, 2);
	cr_assert_eq(r, 0, "second netdevsim device: %s", strerror(-r));
	_cleanup_free_ char *rec = NULL;
	cr_assert_geq(asprintf(&rec, userspace_vf_record, nsim2.pf, nsim2.pf), 0);
	cr_assert_eq(kyt_testbed_add(tb, rec), 0);
	set_previous(nsim2.pf, 1, true);
	_cleanup_free_ char *pf_before = pf_json(nsim2.pf), *node_before = snap(), *pf1_before = pf_json(nsim.pf);

	_cleanup_free_ char *conf = conf_with("\"deviceID\":\"0000:5e:01.1\"," EVERY_VF_FIELD, NULL, NULL);
	_cleanup_(cJSON_Deletep) cJSON *res = NULL;
	cr_assert_eq(cni("ADD", conf, &res), 0, "ADD: %s", msg_of(res));
	const cJSON *i0 = cJSON_GetArrayItem(cJSON_GetObjectItem(res, "interfaces"), 0);
	cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(i0, "pciID")), "0000:5e:01.1");
	assert_ip_shows_every_field(nsim2.pf, 1);
	assert_netlink_shows_every_field(nsim2.pf, 1);
	_cleanup_free_ char *pf1_now = pf_json(nsim.pf);
	cr_assert_str_eq(pf1_now, pf1_before, "the other PF changed");

	_cleanup_free_ char *check = conf_with("\"deviceID\":\"0000:5e:01.1\"," EVERY_VF_FIELD, NULL, res);
	_cleanup_(cJSON_Deletep) cJSON *out = NULL;
	cr_assert_eq(cni("CHECK", check, &out), 0, "CHECK: %s", msg_of(out));
	cJSON_Delete(out);
	out = NULL;
	cr_assert_eq(kyt_run(NULL, "ip", "link", "set", "dev", nsim2.pf, "vf", "1", "trust", "on", NULL), 0);
	cr_assert_neq(cni("CHECK", check, &out), 0, "CHECK missed trust");
	cr_assert_eq(kyt_cni_code(out), 104, "%s", msg_of(out));
	cr_assert(strstr(msg_of(out), " trust "), "%s", msg_of(out));

	cr_assert_eq(cni("DEL", conf, NULL), 0);
	assert_as_before(nsim2.pf, pf_before, node_before, "after DEL");
}

/* ---- The anchors' own VF configs (test/data/compat/, issue 15) ----
 * sriov-cni's README and configuration reference, and the operator's
 * renderings, with only "type" changed and what Multus adds (deviceID,
 * runtimeConfig) added: on netdevsim's VFs each is applied as its anchor
 * documents it, CHECK passes (or answers code 1 for a 0.3.1 config, which
 * has no CHECK), and DEL restores the previous settings, also when the
 * config lost its VF fields after ADD. */

struct vf_want {
	const char *mac;       /* NULL: not asked for */
	int vlan, qos;         /* -1: not asked for */
	const char *proto;
	int spoofchk, trust;   /* -1: not asked for, else 0/1 */
	const char *link_state;
	int min_tx, max_tx;    /* -1: not asked for */
};

static void assert_vf_as_wanted(const char *file, const char *pfname, unsigned n, const struct vf_want *w)
{
	_cleanup_(cJSON_Deletep) cJSON *j = kyt_ip_vf(pfname, n);
	cr_assert_not_null(j, "%s: no VF %u on %s", file, n, pfname);
	if (w->mac)
		cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(j, "address")), w->mac, "%s", file);
	/* iproute2 leaves out a VLAN, a QoS of 0 and the 802.1Q protocol. */
	const cJSON *vlan = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "vlan_list"), 0);
	int v = json_int(vlan, "vlan"), q = json_int(vlan, "qos");
	if (w->vlan >= 0)
		cr_assert_eq(v < 0 ? 0 : v, w->vlan, "%s: vlan", file);
	if (w->qos >= 0)
		cr_assert_eq(q < 0 ? 0 : q, w->qos, "%s: qos", file);
	if (w->proto) {
		const char *p = cJSON_GetStringValue(cJSON_GetObjectItem(vlan, "protocol"));
		p = p ? p : "802.1Q";
		cr_assert(strcasecmp(p, w->proto) == 0, "%s: protocol %s", file, p);
	}
	if (w->spoofchk >= 0)
		cr_assert_eq(cJSON_IsTrue(cJSON_GetObjectItem(j, "spoofchk")), w->spoofchk, "%s: spoofchk", file);
	if (w->trust >= 0)
		cr_assert_eq(cJSON_IsTrue(cJSON_GetObjectItem(j, "trust")), w->trust, "%s: trust", file);
	if (w->link_state)
		cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(j, "link_state")), w->link_state, "%s", file);
	const cJSON *rate = cJSON_GetObjectItem(j, "rate");
	if (w->min_tx >= 0)
		cr_assert_eq(json_int(rate, "min_tx"), w->min_tx, "%s: min_tx_rate", file);
	if (w->max_tx >= 0)
		cr_assert_eq(json_int(rate, "max_tx"), w->max_tx, "%s: max_tx_rate", file);
}

struct compat_case {
	const char *file;
	struct kyt_compat rt;
	int which_pf;        /* 1: nsim, 2: nsim2, 3: nsim3 */
	unsigned vf;
	struct vf_want want;
	const char *ip;      /* the pod's address, NULL when no IPAM */
};

static void compat_roundtrip(const struct compat_case *k)
{
	const char *pfname = k->which_pf == 1 ? nsim.pf : k->which_pf == 2 ? nsim2.pf : nsim3.pf;
	set_previous(pfname, k->vf, true);
	_cleanup_free_ char *pf_before = pf_json(pfname), *node_before = snap();
	_cleanup_free_ char *conf = kyt_cni_compat_conf(k->file, &k->rt, state_dir, ipam_dir, tmp);
	_cleanup_(cJSON_Deletep) cJSON *res = NULL;
	cr_assert_eq(cni("ADD", conf, &res), 0, "%s: ADD: %s", k->file, msg_of(res));
	assert_vf_as_wanted(k->file, pfname, k->vf, &k->want);
	if (k->ip) {
		const cJSON *ip0 = cJSON_GetArrayItem(cJSON_GetObjectItem(res, "ips"), 0);
		cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(ip0, "address")), k->ip, "%s", k->file);
	}
	_cleanup_(cJSON_Deletep) cJSON *c = cJSON_Parse(conf);
	const char *v = cJSON_GetStringValue(cJSON_GetObjectItem(c, "cniVersion"));
	cJSON_AddItemToObject(c, "prevResult", cJSON_Duplicate(res, 1));
	_cleanup_free_ char *check = cJSON_PrintUnformatted(c);
	_cleanup_(cJSON_Deletep) cJSON *out = NULL;
	int rc = cni("CHECK", check, &out);
	if (strcmp(v, "0.4.0") < 0)
		cr_assert_eq(kyt_cni_code(out), 1, "%s: CHECK of a %s config: %s", k->file, v, msg_of(out));
	else
		cr_assert_eq(rc, 0, "%s: CHECK: %s", k->file, msg_of(out));
	cr_assert_eq(cni("DEL", conf, NULL), 0, "%s: DEL", k->file);
	assert_as_before(pfname, pf_before, node_before, k->file);
}

Test(ktier_cni_vf, the_anchors_vf_configs_apply_as_documented_and_del_restores)
{
	int r = kyt_nsim_new(&nsim2, 2);
	cr_assert_eq(r, 0, "second netdevsim device: %s", strerror(-r));
	r = kyt_nsim_new(&nsim3, 2);
	cr_assert_eq(r, 0, "third netdevsim device: %s", strerror(-r));
	char kp[16], kpp[16], bus[16], busp[16], refvf[16], refvfp[16];
	cr_assert_eq(kyt_veth_add(kp, kpp, sizeof(kp)), 0);
	cr_assert_eq(kyt_veth_add(bus, busp, sizeof(bus)), 0);
	cr_assert_eq(kyt_veth_add(refvf, refvfp, sizeof(refvf)), 0);
	/* The configuration reference's VF 0000:03:02.0 is VF 0 of the
	 * second device, the DPDK example's vfio-pci VF VF 1 of the third. */
	const char *const subs[] = { "KERNELPATH", kp, "PCIBUSID", bus, "REFPF", nsim2.pf, "REFVF", refvf,
				     "DPDKPF", nsim3.pf, NULL };
	cr_assert_eq(kyt_testbed_add_file(tb, KYTEST_DATA_DIR "/compat/node.umockdev", subs), 0);
	const struct compat_case cases[] = {
		{ "sriov-cni-readme-extended.json", { .device_id = "0000:18:01.1" }, 1, 1,
		  { NULL, 1000, -1, NULL, 0, 1, NULL, -1, -1 }, "10.56.217.2/24" },
		{ "sriov-cni-readme-dpdk.json", { .device_id = "0000:5e:01.1" }, 3, 1,
		  { NULL, 1000, -1, NULL, -1, -1, NULL, -1, -1 }, NULL },
		{ "sriov-cni-config-reference.json", { 0 }, 2, 0,
		  { "ca:fe:c0:ff:ee:00", 1000, 4, "802.1ad", 0, 1, "enable", 100, 200 }, NULL },
		{ "sriov-operator-simple.json", { .device_id = "0000:18:01.2" }, 1, 2,
		  { NULL, 0, 0, "802.1Q", -1, -1, NULL, -1, -1 }, NULL },
		{ "sriov-operator-rendered.json",
		  { .device_id = "0000:18:01.3", .rc = "{\"mac\":\"02:4b:59:00:00:33\",\"ips\":[\"10.56.217.33/24\"]}" }, 1, 3,
		  { "02:4b:59:00:00:33", 100, 2, "802.1ad", 1, 0, "enable", 10, 1000 }, "10.56.217.33/24" },
	};
	for (size_t i = 0; i < KY_ARRAY_SIZE(cases); i++)
		compat_roundtrip(&cases[i]);

	/* DEL with the operator's config once its VF fields are gone (the
	 * SriovNetwork edited): the VF gets its previous settings back all
	 * the same, from the record. */
	set_previous(nsim.pf, 3, true);
	_cleanup_free_ char *pf_before = pf_json(nsim.pf), *node_before = snap();
	_cleanup_free_ char *conf = kyt_cni_compat_conf("sriov-operator-rendered.json", &cases[4].rt, state_dir,
							ipam_dir, tmp);
	_cleanup_(cJSON_Deletep) cJSON *res = NULL;
	cr_assert_eq(cni("ADD", conf, &res), 0, "ADD: %s", msg_of(res));
	_cleanup_(cJSON_Deletep) cJSON *lost = cJSON_Parse(conf);
	static const char *const vf_fields[] = { "vlan", "vlanQoS", "vlanProto", "spoofchk", "trust", "link_state",
						 "min_tx_rate", "max_tx_rate", "deviceID", "runtimeConfig" };
	for (size_t i = 0; i < KY_ARRAY_SIZE(vf_fields); i++)
		cJSON_DeleteItemFromObject(lost, vf_fields[i]);
	cJSON_AddStringToObject(lost, "vlan_qos", "a near miss DEL does not need");
	_cleanup_free_ char *del = cJSON_PrintUnformatted(lost);
	_cleanup_(cJSON_Deletep) cJSON *out = NULL;
	cr_assert_eq(cni("DEL", del, &out), 0, "DEL with %s: %s", del, msg_of(out));
	assert_as_before(nsim.pf, pf_before, node_before, "DEL with a config that lost its VF fields");
}

/* Kernel tier (runs in the qemu guest, scripts/kernel-tier/): the kyborg CNI
 * binary, exec'd as a runtime would, attaches a tc program required in
 * hardware (`"hw": "required"`, cls_bpf skip_sw) to a netdevsim port given
 * as the device: netdevsim takes one offloaded BPF program per netdev, as a
 * SmartNIC would. tc(8) in the pod netns is the independent peer that
 * reads back skip_sw and in_hw. Where the device refuses the program (its
 * tc offload switched off), ADD fails naming the entry and leaves the node
 * as it was. The device is named directly, so no umockdev is needed. */
#include <criterion/criterion.h>
#include <bpf/bpf.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "kyborg/base/cleanup.h"
#include "kytest.h"
#include "kytest_bpf.h"
#include "kytest_cni.h"
#include "kytest_net.h"
#include "kytest_nsim.h"

#define CNI_PATH "/usr/lib/cni"
#define COUNTERS KYBORG_BPF_DIR "/kyborg_counters.bpf.o"

KY_DEFINE_CLEANUP(cJSON, cJSON_Delete)

static struct kyt_nsim nsim;
static char ns[16], ns_path[64], net[16];
static char *tmp, state_dir[512], ipam_dir[512], pins[256];

static void setup(void)
{
	cr_assert_eq(kyt_private_netns(), 0, "needs root");
	struct statfs s;
	if (statfs("/sys/fs/bpf", &s) < 0 || (unsigned long)s.f_type != 0xcafe4a11UL)
		cr_assert_eq(mount("bpf", "/sys/fs/bpf", "bpf", 0, NULL), 0, "mount bpffs: %s", strerror(errno));
	int r = kyt_nsim_new(&nsim, 0);
	cr_assert_eq(r, 0, "netdevsim device: %s (runs in the kernel tier's guest)", strerror(-r));
	cr_assert_eq(kyt_netns_add(ns, sizeof(ns)), 0);
	kyt_netns_path(ns, ns_path, sizeof(ns_path));
	kyt_unique_name(net, sizeof(net), "kyhw");
	snprintf(pins, sizeof(pins), "/sys/fs/bpf/kyborg/%s", net);
	kyt_cni_scratch("kyhw", &tmp, state_dir, ipam_dir, sizeof(state_dir));
}

static void teardown(void)
{
	kyt_netns_del(ns);
	kyt_cni_scratch_free(&tmp);
	kyt_rmrf(pins);
	kyt_nsim_del(&nsim);
}

TestSuite(ktier_cni_bpf_hw, .init = setup, .fini = teardown, .timeout = 240);

static char *conf_for(const char *bpf)
{
	char *s = NULL;
	cr_assert_geq(asprintf(&s,
			       "{\"cniVersion\":\"1.1.0\",\"name\":\"%s\",\"type\":\"kyborg\",\"device\":\"%s\","
			       "\"stateDir\":\"%s\",\"ipam\":{\"type\":\"host-local\",\"dataDir\":\"%s\","
			       "\"ranges\":[[{\"subnet\":\"10.97.0.0/24\"}]]},\"bpf\":%s}",
			       net, nsim.pf, state_dir, ipam_dir, bpf),
		      0);
	return s;
}

static const char *const ingress_hw =
	"[{\"object\":\"" COUNTERS "\",\"program\":\"kyborg_count_ingress\",\"attach\":\"tc-ingress\","
	"\"hw\":\"required\"}]";

static int cni(const char *cmd, const char *conf, cJSON **out)
{
	struct kyt_cni_call c = { .bin = KYBORG_CNI_BIN, .command = cmd, .container_id = "pod1", .netns = ns_path,
				  .ifname = "net1", .path = CNI_PATH, .conf = conf };
	return kyt_cni_run(&c, out);
}

static const char *msg_of(const cJSON *out)
{
	const char *m = cJSON_GetStringValue(cJSON_GetObjectItem(out, "msg"));
	return m ? m : "(no msg)";
}

static void tc_offload(const char *state)
{
	cr_assert_eq(kyt_run(NULL, "ethtool", "-K", nsim.pf, "hw-tc-offload", state, NULL), 0,
		     "ethtool -K %s hw-tc-offload %s", nsim.pf, state);
}

/* `tc -j filter show` of a hook of ifname (in netns, or the host's when
 * NULL), parsed. */
static cJSON *tc_filters(const char *netns, const char *ifname, const char *hook)
{
	char *out = NULL;
	if (netns)
		kyt_run(&out, "tc", "-n", netns, "-j", "filter", "show", "dev", ifname, hook, NULL);
	else
		kyt_run(&out, "tc", "-j", "filter", "show", "dev", ifname, hook, NULL);
	cJSON *j = cJSON_Parse(out ? out : "[]");
	free(out);
	return j ? j : cJSON_CreateArray();
}

static bool json_true(const cJSON *o, const char *key)
{
	return cJSON_IsTrue(cJSON_GetObjectItem(o, key));
}

/* The pinned program's id, 0 when its pin is gone. */
static __u32 pinned_prog_id(const char *prog)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/pod1/net1/kyborg_counters/%s", pins, prog);
	return kyt_bpf_pinned_prog_id(p);
}

static bool dir_exists(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0;
}

/* No filter, no clsact qdisc on the port back in the host, no pins. */
static void assert_nothing_left(const char *what)
{
	_cleanup_(cJSON_Deletep) cJSON *in = tc_filters(NULL, nsim.pf, "ingress");
	cr_assert_eq(cJSON_GetArraySize(in), 0, "%s: filters left on %s", what, nsim.pf);
	char *qd = NULL;
	kyt_run(&qd, "tc", "qdisc", "show", "dev", nsim.pf, NULL);
	cr_assert(qd && !strstr(qd, "clsact"), "%s: %s", what, qd ? qd : "(no tc output)");
	free(qd);
	cr_assert_not(dir_exists(pins), "%s: pins left under %s", what, pins);
}

Test(ktier_cni_bpf_hw, a_program_required_in_hardware_lands_in_hw_checks_and_del_leaves_nothing)
{
	tc_offload("on");
	_cleanup_free_ char *before = kyt_node_snapshot(state_dir, ipam_dir), *conf = conf_for(ingress_hw);
	_cleanup_(cJSON_Deletep) cJSON *res = NULL, *out = NULL;
	cr_assert_eq(cni("ADD", conf, &res), 0, "ADD: %s", msg_of(res));

	/* tc's view in the pod: our filter, skip_sw and in hardware. */
	_cleanup_(cJSON_Deletep) cJSON *f = tc_filters(ns, "net1", "ingress");
	const cJSON *e, *ours = NULL;
	cJSON_ArrayForEach(e, f)
	{
		const cJSON *o = cJSON_GetObjectItem(e, "options");
		const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(o, "bpf_name"));
		if (name && strncmp(name, "kyborg_count_ingress", 20) == 0)
			ours = o;
	}
	_cleanup_free_ char *text = cJSON_PrintUnformatted(f);
	cr_assert_not_null(ours, "no kyborg_count_ingress filter in the pod: %s", text);
	cr_assert(json_true(ours, "skip_sw") && json_true(ours, "in_hw") && !json_true(ours, "not_in_hw"), "%s", text);
	__u32 id = pinned_prog_id("kyborg_count_ingress");
	cr_assert_neq(id, 0, "no pin of the program");

	_cleanup_free_ char *prev = cJSON_PrintUnformatted(res), *chk = NULL;
	cr_assert_geq(asprintf(&chk, "%.*s,\"prevResult\":%s}", (int)strlen(conf) - 1, conf, prev), 0);
	cr_assert_eq(cni("CHECK", chk, &out), 0, "CHECK: %s", msg_of(out));

	cr_assert_eq(cni("DEL", conf, NULL), 0);
	cr_assert(kyt_wait_until(kyt_bpf_prog_gone, &id, 5000), "program %u is still loaded", id);
	assert_nothing_left("after DEL");
	_cleanup_free_ char *after = kyt_node_snapshot(state_dir, ipam_dir);
	cr_assert_str_eq(after, before, "the node changed:\n--- before\n%s--- after\n%s", before, after);
	/* The device holds no offloaded program any more: a second pod gets
	 * it in hardware again. */
	cr_assert_eq(cni("ADD", conf, NULL), 0, "ADD after DEL");
	cr_assert_eq(cni("DEL", conf, NULL), 0);
	assert_nothing_left("after the second DEL");
}

/* netdevsim with its tc offload off takes no filter in hardware: skip_sw
 * fails, and ADD rolls back the program, its pins, the address, the
 * record, and gives the port back to the host as it was. */
Test(ktier_cni_bpf_hw, a_program_the_device_refuses_in_hardware_fails_naming_the_entry_and_leaves_nothing)
{
	tc_offload("off");
	_cleanup_free_ char *before = kyt_node_snapshot(state_dir, ipam_dir), *conf = conf_for(ingress_hw);
	_cleanup_(cJSON_Deletep) cJSON *out = NULL;
	cr_assert_neq(cni("ADD", conf, &out), 0, "ADD succeeded with the device's tc offload off");
	cr_log_info("refused: %s", msg_of(out));
	cr_assert(strstr(msg_of(out), "bpf[0]") && strstr(msg_of(out), "hardware"), "%s", msg_of(out));
	_cleanup_free_ char *after = kyt_node_snapshot(state_dir, ipam_dir);
	cr_assert_str_eq(after, before, "the node changed:\n--- before\n%s--- after\n%s", before, after);
	assert_nothing_left("after the failed ADD");
	struct kyt_ip_link l;
	cr_assert_not(kyt_ip_link(ns, "net1", &l), "net1 is still in the pod");
	cr_assert_eq(cni("DEL", conf, NULL), 0, "DEL after the failed ADD");
}

/* netdevsim offloads tc programs on clsact ingress only: the second entry,
 * on egress, is refused after the first landed in hardware, and rollback
 * takes that one out of the device too (its one slot is free again). */
Test(ktier_cni_bpf_hw, a_refused_second_program_rolls_back_the_first_out_of_the_hardware)
{
	tc_offload("on");
	_cleanup_free_ char *before = kyt_node_snapshot(state_dir, ipam_dir);
	_cleanup_free_ char *both = conf_for(
		"[{\"object\":\"" COUNTERS "\",\"program\":\"kyborg_count_ingress\",\"attach\":\"tc-ingress\","
		"\"hw\":\"required\"},"
		"{\"object\":\"" COUNTERS "\",\"program\":\"kyborg_count_egress\",\"attach\":\"tc-egress\","
		"\"hw\":\"required\"}]");
	_cleanup_(cJSON_Deletep) cJSON *out = NULL;
	cr_assert_neq(cni("ADD", both, &out), 0, "ADD succeeded with a program on egress in netdevsim's hardware");
	cr_log_info("refused: %s", msg_of(out));
	cr_assert(strstr(msg_of(out), "bpf[1]") && strstr(msg_of(out), "hardware"), "%s", msg_of(out));
	_cleanup_free_ char *after = kyt_node_snapshot(state_dir, ipam_dir);
	cr_assert_str_eq(after, before, "the node changed:\n--- before\n%s--- after\n%s", before, after);
	assert_nothing_left("after the failed ADD");
	_cleanup_free_ char *one = conf_for(ingress_hw);
	cr_assert_eq(cni("ADD", one, NULL), 0, "the device's offload slot was not freed");
	cr_assert_eq(cni("DEL", one, NULL), 0);
	assert_nothing_left("after DEL");
}

/* Killed right after the program landed in hardware: the record written
 * before the attach names it, so DEL takes it out of the device and leaves
 * nothing, and the port's one slot is free for the next pod. */
Test(ktier_cni_bpf_hw, killed_after_the_attach_then_del_takes_the_program_out_of_the_hardware)
{
	tc_offload("on");
	_cleanup_free_ char *before = kyt_node_snapshot(state_dir, ipam_dir), *conf = conf_for(ingress_hw);
	struct kyt_cni_call c = { .bin = KYBORG_CNI_BIN, .command = "ADD", .container_id = "pod1", .netns = ns_path,
				  .ifname = "net1", .path = CNI_PATH, .conf = conf, .fault = "bpf-attached-0" };
	cr_assert_neq(kyt_cni_run(&c, NULL), 0, "bpf-attached-0 did not kill the plugin");
	_cleanup_(cJSON_Deletep) cJSON *f = tc_filters(ns, "net1", "ingress");
	_cleanup_free_ char *text = cJSON_PrintUnformatted(f);
	cr_assert(strstr(text, "\"in_hw\":true"), "the program is not in hardware after the kill: %s", text);
	__u32 id = pinned_prog_id("kyborg_count_ingress");
	cr_assert_neq(id, 0);
	cr_assert_eq(cni("DEL", conf, NULL), 0);
	cr_assert(kyt_wait_until(kyt_bpf_prog_gone, &id, 5000), "program %u is still loaded", id);
	assert_nothing_left("after DEL");
	_cleanup_free_ char *after = kyt_node_snapshot(state_dir, ipam_dir);
	cr_assert_str_eq(after, before, "the node changed:\n--- before\n%s--- after\n%s", before, after);
	cr_assert_eq(cni("ADD", conf, NULL), 0, "the device's offload slot was not freed");
	cr_assert_eq(cni("DEL", conf, NULL), 0);
}

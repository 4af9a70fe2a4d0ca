/* Kernel tier (runs in the qemu guest, scripts/kernel-tier/, whose Debian
 * 6.1 kernel has cls_flower as a module; the build machines' kernel has
 * none): the tc flower rules of kyborg/tc_flower.h, built as raw
 * rtnetlink, are accepted by a real kernel, read back by tc(8) (the
 * independent peer), found by handle and priority, and removed; a rule
 * required in hardware on a device without offload fails and is not left. */
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kyborg/bpf/bpf_prog.h"
#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/net/netlink.h"
#include "kyborg/net/tc_flower.h"
#include "kytest.h"
#include "kytest_net.h"

static char a[16], b[16];
static struct ky_nl *nl;
static int ifindex;

static void setup(void)
{
	cr_assert_eq(kyt_private_netns(), 0, "needs root");
	cr_assert_eq(kyt_veth_add(a, b, sizeof(a)), 0);
	cr_assert_eq(ky_nl_open(&nl, NULL), 0);
	struct ky_link l;
	cr_assert_eq(ky_link_get(nl, a, &l, NULL), 0);
	ifindex = l.ifindex;
	bool created;
	_cleanup_error_ struct ky_error *err = NULL;
	cr_assert_eq(ky_bpf_clsact_ensure(ifindex, &created, &err), 0, "%s", ky_error_msg(err));
	cr_assert(created);
}

static void teardown(void)
{
	if (nl)
		ky_nl_close(nl);
	nl = NULL;
}

TestSuite(ktier_flower, .init = setup, .fini = teardown);

static char *tc_show(const char *hook)
{
	char *out = NULL;
	kyt_run(&out, "tc", "filter", "show", "dev", a, hook, NULL);
	return out ? out : strdup("");
}

static struct ky_flower_rule rule(enum ky_flower_dir dir, enum ky_flower_proto proto, enum ky_flower_hw hw)
{
	struct ky_flower_rule r;
	memset(&r, 0, sizeof(r));
	r.dir = dir;
	r.proto = proto;
	r.hw = hw;
	r.action = KY_FLOWER_DROP;
	return r;
}

Test(ktier_flower, a_rule_is_added_found_and_removed)
{
	struct ky_flower_rule r = rule(KY_FLOWER_EGRESS, KY_FLOWER_IP, KY_FLOWER_HW_NEVER);
	r.has_dst = true;
	cr_assert_eq(ky_parse_cidr("10.9.0.0/24", &r.dst), 0);
	r.ip_proto = IPPROTO_TCP;
	r.dst_port = 80;
	struct ky_flower_added added = { 0 };
	_cleanup_error_ struct ky_error *err = NULL;
	cr_assert_eq(ky_flower_add(nl, ifindex, &r, &added, &err), 0, "%s", ky_error_msg(err));
	cr_assert_neq(added.handle, 0);
	cr_assert_neq(added.priority, 0);
	cr_assert_not(added.in_hw);
	char *f = tc_show("egress");
	cr_assert(strstr(f, "flower") && strstr(f, "dst_ip 10.9.0.0/24") && strstr(f, "dst_port 80") &&
		  strstr(f, "skip_hw") && strstr(f, "gact action drop"), "%s", f);
	free(f);
	cr_assert_eq(ky_flower_check(nl, ifindex, &added, &err), 0, "%s", ky_error_msg(err));
	cr_assert_eq(ky_flower_del(nl, ifindex, &added, &err), 1, "%s", ky_error_msg(err));
	cr_assert_eq(ky_flower_check(nl, ifindex, &added, &err), -ENOENT);
	cr_assert_eq(ky_flower_del(nl, ifindex, &added, &err), 0, "a second removal finds nothing");
	f = tc_show("egress");
	cr_assert_null(strstr(f, "flower"), "%s", f);
	free(f);
}

Test(ktier_flower, ipv6_arp_and_catch_all_rules_are_accepted)
{
	struct ky_flower_rule rs[3] = { rule(KY_FLOWER_INGRESS, KY_FLOWER_IPV6, KY_FLOWER_HW_PREFERRED),
					rule(KY_FLOWER_INGRESS, KY_FLOWER_ARP, KY_FLOWER_HW_NEVER),
					rule(KY_FLOWER_EGRESS, KY_FLOWER_ALL, KY_FLOWER_HW_PREFERRED) };
	rs[0].has_src = true;
	cr_assert_eq(ky_parse_cidr("fd00:1::/64", &rs[0].src), 0);
	rs[0].ip_proto = IPPROTO_UDP;
	rs[0].dst_port = 53;
	rs[0].action = KY_FLOWER_PASS;
	struct ky_flower_added added[3] = { { 0 } };
	/* The first at a place planned beforehand, the others where the
	 * kernel puts them. */
	_cleanup_error_ struct ky_error *perr = NULL;
	cr_assert_eq(ky_flower_plan(nl, ifindex, KY_FLOWER_INGRESS, 0xbf80, &added[0], &perr), 0, "%s",
		     ky_error_msg(perr));
	cr_assert_eq(added[0].priority, 0xbf80);
	for (int i = 0; i < 3; i++) {
		_cleanup_error_ struct ky_error *err = NULL;
		cr_assert_eq(ky_flower_add(nl, ifindex, &rs[i], &added[i], &err), 0, "rule %d: %s", i, ky_error_msg(err));
	}
	cr_assert_eq(added[0].priority, 0xbf80);
	struct ky_flower_added next;
	cr_assert_eq(ky_flower_plan(nl, ifindex, KY_FLOWER_INGRESS, 0xbf80, &next, &perr), 0, "%s", ky_error_msg(perr));
	cr_assert_eq(next.priority, 0xbf81, "a used priority was planned again");
	char *f = tc_show("ingress");
	cr_assert(strstr(f, "src_ip fd00:1::/64") && strstr(f, "dst_port 53") && strstr(f, "protocol arp"), "%s", f);
	free(f);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(ky_flower_del(nl, ifindex, &added[i], NULL), 1, "rule %d", i);
	_cleanup_error_ struct ky_error *err = NULL;
	cr_assert_eq(ky_bpf_clsact_release(ifindex, &err), 1, "%s", ky_error_msg(err));
}

Test(ktier_flower, a_police_rule_is_added_with_its_rate_and_burst)
{
	struct ky_flower_rule r = rule(KY_FLOWER_INGRESS, KY_FLOWER_IP, KY_FLOWER_HW_NEVER);
	r.action = KY_FLOWER_POLICE;
	r.rate_mbit = 10;
	r.burst_kb = 64;
	struct ky_flower_added added = { 0 };
	_cleanup_error_ struct ky_error *err = NULL;
	cr_assert_eq(ky_flower_add(nl, ifindex, &r, &added, &err), 0, "%s", ky_error_msg(err));
	char *f = tc_show("ingress");
	cr_assert(strstr(f, "police") && strstr(f, "rate 10Mbit") && strstr(f, "burst 64Kb") && strstr(f, "drop"), "%s",
		  f);
	free(f);
	cr_assert_eq(ky_flower_del(nl, ifindex, &added, &err), 1, "%s", ky_error_msg(err));
}

/* A veth has no offload: skip_sw cannot be honoured, and nothing stays. */
Test(ktier_flower, a_rule_required_in_hardware_without_offload_fails_and_is_not_left)
{
	struct ky_flower_rule r = rule(KY_FLOWER_INGRESS, KY_FLOWER_IP, KY_FLOWER_HW_REQUIRED);
	struct ky_flower_added added = { 0 };
	_cleanup_error_ struct ky_error *err = NULL;
	cr_assert_lt(ky_flower_add(nl, ifindex, &r, &added, &err), 0);
	cr_log_info("hw required on a veth: %s", ky_error_msg(err));
	char *f = tc_show("ingress");
	cr_assert_null(strstr(f, "flower"), "%s", f);
	free(f);
}

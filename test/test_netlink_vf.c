/* SR-IOV VF settings: the request is checked attribute by attribute (pure),
 * and the real kernel's refusal on a device without VFs is reported. This
 * kernel has no VF-capable driver: applying settings for real is proven in
 * the kernel test tier (netdevsim). */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <netlink/attr.h>
#include <netlink/msg.h>

#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/net/netlink.h"
#include "kyborg/net/netlink_vf.h"
#include "kytest.h"
#include "kytest_net.h"

KY_DEFINE_CLEANUP(struct nl_msg, nlmsg_free)

static struct nlattr *vf_info(struct nl_msg *msg, struct nlattr *tb[IFLA_VF_MAX + 1])
{
	struct nlmsghdr *h = nlmsg_hdr(msg);
	cr_assert_eq(h->nlmsg_type, RTM_SETLINK);
	struct nlattr *top[IFLA_MAX + 1];
	cr_assert_eq(nlmsg_parse(h, sizeof(struct ifinfomsg), top, IFLA_MAX, NULL), 0);
	cr_assert_not_null(top[IFLA_VFINFO_LIST]);
	struct nlattr *info = nla_data(top[IFLA_VFINFO_LIST]);
	cr_assert_eq(nla_type(info), IFLA_VF_INFO);
	cr_assert_eq(nla_parse_nested(tb, IFLA_VF_MAX, info, NULL), 0);
	return info;
}

Test(netlink_vf, request_carries_every_requested_field_for_the_right_vf)
{
	struct ky_vf_config c = {
		.mask = KY_VF_MAC | KY_VF_VLAN | KY_VF_RATE | KY_VF_SPOOFCHK | KY_VF_TRUST | KY_VF_LINK_STATE,
		.mac = { 0x02, 0, 0, 0, 0, 7 },
		.vlan = 100, .qos = 5, .vlan_proto = ETH_P_8021Q,
		.min_tx_rate = 10, .max_tx_rate = 1000,
		.spoofchk = true, .trust = false, .link_state = KY_VF_LINK_STATE_DISABLE,
	};
	_cleanup_(nlmsg_freep) struct nl_msg *msg = NULL;
	cr_assert_eq(ky_vf_build_set(42, 3, &c, &msg, NULL), 0);
	struct ifinfomsg *ifi = nlmsg_data(nlmsg_hdr(msg));
	cr_assert_eq(ifi->ifi_index, 42);

	struct nlattr *tb[IFLA_VF_MAX + 1];
	vf_info(msg, tb);
	struct ifla_vf_mac *m = nla_data(tb[IFLA_VF_MAC]);
	cr_assert_eq(m->vf, 3);
	cr_assert_arr_eq(m->mac, c.mac, 6);
	struct ifla_vf_vlan *v = nla_data(tb[IFLA_VF_VLAN]);
	cr_assert_eq(v->vf, 3);
	cr_assert_eq(v->vlan, 100);
	cr_assert_eq(v->qos, 5);
	struct ifla_vf_rate *r = nla_data(tb[IFLA_VF_RATE]);
	cr_assert_eq(r->vf, 3);
	cr_assert_eq(r->min_tx_rate, 10);
	cr_assert_eq(r->max_tx_rate, 1000);
	cr_assert_eq(((struct ifla_vf_spoofchk *)nla_data(tb[IFLA_VF_SPOOFCHK]))->setting, 1);
	cr_assert_eq(((struct ifla_vf_trust *)nla_data(tb[IFLA_VF_TRUST]))->setting, 0);
	cr_assert_eq(((struct ifla_vf_link_state *)nla_data(tb[IFLA_VF_LINK_STATE]))->link_state,
		     IFLA_VF_LINK_STATE_DISABLE);
}

Test(netlink_vf, only_requested_fields_are_sent)
{
	struct ky_vf_config c = { .mask = KY_VF_TRUST, .trust = true };
	_cleanup_(nlmsg_freep) struct nl_msg *msg = NULL;
	cr_assert_eq(ky_vf_build_set(1, 0, &c, &msg, NULL), 0);
	struct nlattr *tb[IFLA_VF_MAX + 1];
	vf_info(msg, tb);
	cr_assert_not_null(tb[IFLA_VF_TRUST]);
	cr_assert_null(tb[IFLA_VF_MAC]);
	cr_assert_null(tb[IFLA_VF_VLAN]);
	cr_assert_null(tb[IFLA_VF_VLAN_LIST]);
	cr_assert_null(tb[IFLA_VF_RATE]);
	cr_assert_null(tb[IFLA_VF_SPOOFCHK]);
	cr_assert_null(tb[IFLA_VF_LINK_STATE]);
}

Test(netlink_vf, qinq_vlan_goes_in_a_vlan_list_in_network_order)
{
	struct ky_vf_config c = { .mask = KY_VF_VLAN, .vlan = 4094, .qos = 7, .vlan_proto = ETH_P_8021AD };
	_cleanup_(nlmsg_freep) struct nl_msg *msg = NULL;
	cr_assert_eq(ky_vf_build_set(1, 5, &c, &msg, NULL), 0);
	struct nlattr *tb[IFLA_VF_MAX + 1];
	vf_info(msg, tb);
	cr_assert_null(tb[IFLA_VF_VLAN]);
	cr_assert_not_null(tb[IFLA_VF_VLAN_LIST]);
	struct nlattr *item = nla_data(tb[IFLA_VF_VLAN_LIST]);
	cr_assert_eq(nla_type(item), IFLA_VF_VLAN_INFO);
	struct ifla_vf_vlan_info *vi = nla_data(item);
	cr_assert_eq(vi->vf, 5);
	cr_assert_eq(vi->vlan, 4094);
	cr_assert_eq(vi->qos, 7);
	cr_assert_eq(vi->vlan_proto, htons(ETH_P_8021AD));
}

Test(netlink_vf, out_of_range_settings_name_the_field)
{
	struct {
		struct ky_vf_config c;
		const char *field;
	} cases[] = {
		{ { .mask = KY_VF_VLAN, .vlan = 4095, .vlan_proto = ETH_P_8021Q }, "vlan:" },
		{ { .mask = KY_VF_VLAN, .vlan = 10, .qos = 8, .vlan_proto = ETH_P_8021Q }, "vlanQoS" },
		{ { .mask = KY_VF_VLAN, .vlan = 10, .vlan_proto = 0x1234 }, "vlanProto" },
		{ { .mask = KY_VF_VLAN, .vlan = 0, .qos = 3, .vlan_proto = ETH_P_8021Q }, "vlanQoS" },
		{ { .mask = KY_VF_RATE, .min_tx_rate = 100, .max_tx_rate = 10 }, "min_tx_rate" },
		{ { .mask = KY_VF_LINK_STATE, .link_state = 7 }, "link_state" },
		{ { .mask = KY_VF_MAC, .mac = { 0x01, 0, 0x5e, 0, 0, 1 } }, "mac" },
	};
	for (size_t i = 0; i < KY_ARRAY_SIZE(cases); i++) {
		_cleanup_error_ struct ky_error *err = NULL;
		struct nl_msg *msg = NULL;
		cr_assert_eq(ky_vf_build_set(1, 0, &cases[i].c, &msg, &err), -EINVAL, "case %zu", i);
		cr_assert_null(msg);
		cr_assert(strstr(ky_error_msg(err), cases[i].field), "case %zu: %s", i, ky_error_msg(err));
	}
}

Test(netlink_vf, rate_with_no_max_is_valid)
{
	struct ky_vf_config c = { .mask = KY_VF_RATE, .min_tx_rate = 100, .max_tx_rate = 0 };
	cr_assert_eq(ky_vf_config_check(&c, NULL), 0);
}

/* Each field differing alone is named as the CNI config names it, with
 * both values; only the fields in the mask count. */
Test(netlink_vf, a_diff_names_the_first_differing_field_and_every_group)
{
	const struct ky_vf_config base = {
		.mask = KY_VF_MAC | KY_VF_VLAN | KY_VF_RATE | KY_VF_SPOOFCHK | KY_VF_TRUST | KY_VF_LINK_STATE,
		.mac = { 0x02, 0, 0, 0, 0, 1 }, .vlan = 100, .qos = 5, .vlan_proto = ETH_P_8021AD,
		.min_tx_rate = 10, .max_tx_rate = 1000, .spoofchk = false, .trust = false,
		.link_state = KY_VF_LINK_STATE_DISABLE,
	};
	const unsigned all = base.mask;
	unsigned groups = 1;
	cr_assert_null(ky_vf_config_diff(&base, &base, all, &groups, NULL, NULL));
	cr_assert_eq(groups, 0);

	struct {
		const char *field, *a, *b;
		unsigned group;
		struct ky_vf_config other;
	} cases[9];
	cases[0] = (typeof(cases[0])){ "mac", "02:00:00:00:00:01", "02:00:00:00:00:09", KY_VF_MAC, base };
	cases[0].other.mac[5] = 9;
	cases[1] = (typeof(cases[1])){ "vlan", "100", "7", KY_VF_VLAN, base };
	cases[1].other.vlan = 7;
	cases[2] = (typeof(cases[2])){ "vlanQoS", "5", "2", KY_VF_VLAN, base };
	cases[2].other.qos = 2;
	cases[3] = (typeof(cases[3])){ "vlanProto", "802.1ad", "802.1q", KY_VF_VLAN, base };
	cases[3].other.vlan_proto = ETH_P_8021Q;
	cases[4] = (typeof(cases[4])){ "spoofchk", "off", "on", KY_VF_SPOOFCHK, base };
	cases[4].other.spoofchk = true;
	cases[5] = (typeof(cases[5])){ "trust", "off", "on", KY_VF_TRUST, base };
	cases[5].other.trust = true;
	cases[6] = (typeof(cases[6])){ "link_state", "disable", "auto", KY_VF_LINK_STATE, base };
	cases[6].other.link_state = KY_VF_LINK_STATE_AUTO;
	cases[7] = (typeof(cases[7])){ "min_tx_rate", "10", "20", KY_VF_RATE, base };
	cases[7].other.min_tx_rate = 20;
	cases[8] = (typeof(cases[8])){ "max_tx_rate", "1000", "900", KY_VF_RATE, base };
	cases[8].other.max_tx_rate = 900;
	for (size_t i = 0; i < 9; i++) {
		char a[KY_VF_TEXT_LEN], b[KY_VF_TEXT_LEN];
		const char *f = ky_vf_config_diff(&base, &cases[i].other, all, &groups, a, b);
		cr_assert(f && strcmp(f, cases[i].field) == 0, "case %zu: %s", i, f ? f : "(none)");
		cr_assert_str_eq(a, cases[i].a, "case %zu", i);
		cr_assert_str_eq(b, cases[i].b, "case %zu", i);
		cr_assert_eq(groups, cases[i].group, "case %zu", i);
		cr_assert_null(ky_vf_config_diff(&base, &cases[i].other, all & ~cases[i].group, &groups, NULL, NULL),
			       "case %zu: outside the mask", i);
		cr_assert_eq(groups, 0);
	}

	struct ky_vf_config two = base;
	two.trust = true;
	two.mac[0] = 0x06;
	cr_assert_str_eq(ky_vf_config_diff(&base, &two, all, &groups, NULL, NULL), "mac");
	cr_assert_eq(groups, KY_VF_MAC | KY_VF_TRUST);
}

Test(netlink_vf, names_parse_both_ways)
{
	uint16_t p;
	enum ky_vf_link_state s;
	cr_assert_eq(ky_vf_vlan_proto_parse("802.1Q", &p), 0);
	cr_assert_eq(p, ETH_P_8021Q);
	cr_assert_eq(ky_vf_vlan_proto_parse("802.1ad", &p), 0);
	cr_assert_eq(p, ETH_P_8021AD);
	cr_assert_str_eq(ky_vf_vlan_proto_name(p), "802.1ad");
	cr_assert_eq(ky_vf_vlan_proto_parse("qinq", &p), -EINVAL);
	cr_assert_eq(ky_vf_link_state_parse("disable", &s), 0);
	cr_assert_eq(s, KY_VF_LINK_STATE_DISABLE);
	cr_assert_str_eq(ky_vf_link_state_name(KY_VF_LINK_STATE_AUTO), "auto");
	cr_assert_eq(ky_vf_link_state_parse("on", &s), -EINVAL);
}

Test(netlink_vf, a_device_without_vfs_refuses_and_nothing_changes)
{
	char a[16], b[16];
	struct kyt_ip_link before, after;
	cr_assert_eq(kyt_private_netns(), 0, "needs root");
	cr_assert_eq(kyt_veth_add(a, b, sizeof(a)), 0);
	cr_assert(kyt_ip_link(NULL, a, &before));

	_cleanup_(ky_nl_closep) struct ky_nl *nl = NULL;
	cr_assert_eq(ky_nl_open(&nl, NULL), 0);
	_cleanup_error_ struct ky_error *err = NULL;
	struct ky_vf_config c = { .mask = KY_VF_VLAN | KY_VF_SPOOFCHK, .vlan = 10, .vlan_proto = ETH_P_8021Q };
	int r = ky_vf_set(nl, a, 0, &c, &err);
	cr_assert_lt(r, 0);
	cr_assert(strstr(ky_error_msg(err), "set VF 0 of "), "%s", ky_error_msg(err));
	cr_assert(strstr(ky_error_msg(err), a));

	struct ky_vf_config got;
	ky_error_clear(&err);
	cr_assert_eq(ky_vf_get(nl, a, 0, &got, &err), -ENODEV);
	cr_assert(strstr(ky_error_msg(err), "has 0 VFs"), "%s", ky_error_msg(err));

	cr_assert(kyt_ip_link(NULL, a, &after));
	cr_assert_eq(after.mtu, before.mtu);
	cr_assert_str_eq(after.address, before.address);
}

Test(netlink_vf, a_missing_pf_is_reported_by_name)
{
	_cleanup_(ky_nl_closep) struct ky_nl *nl = NULL;
	_cleanup_error_ struct ky_error *err = NULL;
	cr_assert_eq(kyt_private_netns(), 0, "needs root");
	cr_assert_eq(ky_nl_open(&nl, NULL), 0);
	struct ky_vf_config c = { .mask = KY_VF_TRUST };
	cr_assert_eq(ky_vf_set(nl, "kyborg-nopf", 0, &c, &err), -ENODEV);
	cr_assert(strstr(ky_error_msg(err), "kyborg-nopf"));
}

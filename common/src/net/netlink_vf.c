/* SR-IOV VF settings on a PF: validation and the SETLINK request are pure;
 * reading uses libnl-route's parser of the kernel's VF list. */
#include "kyborg/net/netlink_vf.h"
#include "kyborg/net/netlink.h"
#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/base/inet.h"
#include "netlink_private.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/route/link.h>
#include <netlink/route/link/sriov.h>

KY_DEFINE_CLEANUP(struct rtnl_link, rtnl_link_put)
KY_DEFINE_CLEANUP(struct rtnl_link_vf, rtnl_link_vf_put)
KY_DEFINE_CLEANUP(nl_vf_vlans_t, rtnl_link_vf_vlan_put)

int ky_vf_vlan_proto_parse(const char *s, uint16_t *out)
{
	if (s && strcasecmp(s, "802.1q") == 0)
		*out = ETH_P_8021Q;
	else if (s && strcasecmp(s, "802.1ad") == 0)
		*out = ETH_P_8021AD;
	else
		return -EINVAL;
	return 0;
}

const char *ky_vf_vlan_proto_name(uint16_t proto)
{
	return proto == ETH_P_8021AD ? "802.1ad" : proto == ETH_P_8021Q ? "802.1q" : "unknown";
}

static const char *const link_state_names[] = { "auto", "enable", "disable" };

int ky_vf_link_state_parse(const char *s, enum ky_vf_link_state *out)
{
	for (unsigned i = 0; s && i < KY_ARRAY_SIZE(link_state_names); i++) {
		if (strcmp(s, link_state_names[i]) == 0) {
			*out = (enum ky_vf_link_state)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *ky_vf_link_state_name(enum ky_vf_link_state s)
{
	return (unsigned)s < KY_ARRAY_SIZE(link_state_names) ? link_state_names[s] : "unknown";
}

int ky_vf_config_check(const struct ky_vf_config *c, struct ky_error **err)
{
	if (c->mask & KY_VF_VLAN) {
		if (c->vlan > 4094)
			return ky_error_set(err, EINVAL, "vlan: %u is outside 0-4094", c->vlan);
		if (c->qos > 7)
			return ky_error_set(err, EINVAL, "vlanQoS: %u is outside 0-7", c->qos);
		if (c->vlan_proto != ETH_P_8021Q && c->vlan_proto != ETH_P_8021AD)
			return ky_error_set(err, EINVAL, "vlanProto: 0x%04x is neither 802.1q nor 802.1ad",
					    c->vlan_proto);
		if (c->vlan == 0 && (c->qos != 0 || c->vlan_proto != ETH_P_8021Q))
			return ky_error_set(err, EINVAL, "vlanQoS and vlanProto need a vlan other than 0");
	}
	if ((c->mask & KY_VF_RATE) && c->max_tx_rate != 0 && c->min_tx_rate > c->max_tx_rate)
		return ky_error_set(err, EINVAL, "min_tx_rate: %u is above max_tx_rate %u", c->min_tx_rate,
				    c->max_tx_rate);
	if ((c->mask & KY_VF_LINK_STATE) && (unsigned)c->link_state > KY_VF_LINK_STATE_DISABLE)
		return ky_error_set(err, EINVAL, "link_state: %d is not auto, enable or disable", c->link_state);
	if ((c->mask & KY_VF_MAC) && (c->mac[0] & 1))
		return ky_error_set(err, EINVAL, "mac: a multicast address cannot be a VF's address");
	return 0;
}

/* Each field under the name the CNI config gives it, in the group of
 * KY_VF_* bits it is set with. */
enum vf_field { F_MAC, F_VLAN, F_QOS, F_PROTO, F_SPOOFCHK, F_TRUST, F_LINK_STATE, F_MIN_RATE, F_MAX_RATE };
static const struct {
	const char *name;
	unsigned group;
} vf_fields[] = {
	[F_MAC] = { "mac", KY_VF_MAC },
	[F_VLAN] = { "vlan", KY_VF_VLAN },
	[F_QOS] = { "vlanQoS", KY_VF_VLAN },
	[F_PROTO] = { "vlanProto", KY_VF_VLAN },
	[F_SPOOFCHK] = { "spoofchk", KY_VF_SPOOFCHK },
	[F_TRUST] = { "trust", KY_VF_TRUST },
	[F_LINK_STATE] = { "link_state", KY_VF_LINK_STATE },
	[F_MIN_RATE] = { "min_tx_rate", KY_VF_RATE },
	[F_MAX_RATE] = { "max_tx_rate", KY_VF_RATE },
};

static void field_text(const struct ky_vf_config *c, enum vf_field f, char buf[KY_VF_TEXT_LEN])
{
	switch (f) {
	case F_MAC: ky_format_mac(c->mac, buf); break;
	case F_VLAN: snprintf(buf, KY_VF_TEXT_LEN, "%u", c->vlan); break;
	case F_QOS: snprintf(buf, KY_VF_TEXT_LEN, "%u", c->qos); break;
	case F_PROTO: snprintf(buf, KY_VF_TEXT_LEN, "%s", ky_vf_vlan_proto_name(c->vlan_proto)); break;
	case F_SPOOFCHK: snprintf(buf, KY_VF_TEXT_LEN, "%s", c->spoofchk ? "on" : "off"); break;
	case F_TRUST: snprintf(buf, KY_VF_TEXT_LEN, "%s", c->trust ? "on" : "off"); break;
	case F_LINK_STATE: snprintf(buf, KY_VF_TEXT_LEN, "%s", ky_vf_link_state_name(c->link_state)); break;
	case F_MIN_RATE: snprintf(buf, KY_VF_TEXT_LEN, "%u", c->min_tx_rate); break;
	case F_MAX_RATE: snprintf(buf, KY_VF_TEXT_LEN, "%u", c->max_tx_rate); break;
	}
}

const char *ky_vf_config_diff(const struct ky_vf_config *a, const struct ky_vf_config *b, unsigned mask,
			      unsigned *groups, char a_text[KY_VF_TEXT_LEN], char b_text[KY_VF_TEXT_LEN])
{
	const char *first = NULL;
	unsigned differ = 0;
	for (size_t f = 0; f < KY_ARRAY_SIZE(vf_fields); f++) {
		if (!(mask & vf_fields[f].group))
			continue;
		char ta[KY_VF_TEXT_LEN], tb[KY_VF_TEXT_LEN];
		field_text(a, (enum vf_field)f, ta);
		field_text(b, (enum vf_field)f, tb);
		if (strcmp(ta, tb) == 0)
			continue;
		differ |= vf_fields[f].group;
		if (!first) {
			first = vf_fields[f].name;
			if (a_text)
				memcpy(a_text, ta, KY_VF_TEXT_LEN);
			if (b_text)
				memcpy(b_text, tb, KY_VF_TEXT_LEN);
		}
	}
	if (groups)
		*groups = differ;
	return first;
}

int ky_vf_build_set(int pf_ifindex, unsigned vf, const struct ky_vf_config *c, struct nl_msg **out,
		    struct ky_error **err)
{
	int r = ky_vf_config_check(c, err);
	if (r < 0)
		return r;
	_cleanup_(nlmsg_freep) struct nl_msg *msg = ky_setlink_msg(pf_ifindex, 0, 0);
	if (!msg)
		return ky_error_set(err, ENOMEM, "build VF request");

	struct nlattr *list = nla_nest_start(msg, IFLA_VFINFO_LIST);
	struct nlattr *info = list ? nla_nest_start(msg, IFLA_VF_INFO) : NULL;
	if (!info)
		goto too_big;

	if (c->mask & KY_VF_MAC) {
		struct ifla_vf_mac m = { .vf = vf };
		memcpy(m.mac, c->mac, 6);
		if (nla_put(msg, IFLA_VF_MAC, sizeof(m), &m) < 0)
			goto too_big;
	}
	if (c->mask & KY_VF_VLAN) {
		if (c->vlan_proto == ETH_P_8021Q) {
			/* The plain attribute reaches every driver, old ones too. */
			struct ifla_vf_vlan v = { .vf = vf, .vlan = c->vlan, .qos = c->qos };
			if (nla_put(msg, IFLA_VF_VLAN, sizeof(v), &v) < 0)
				goto too_big;
		} else {
			/* Built here, not by libnl-route: its VLAN list writer leaves
			 * vlan_proto in host order where the kernel wants __be16. */
			struct nlattr *vl = nla_nest_start(msg, IFLA_VF_VLAN_LIST);
			struct ifla_vf_vlan_info v = {
				.vf = vf, .vlan = c->vlan, .qos = c->qos, .vlan_proto = htons(c->vlan_proto),
			};
			if (!vl || nla_put(msg, IFLA_VF_VLAN_INFO, sizeof(v), &v) < 0)
				goto too_big;
			nla_nest_end(msg, vl);
		}
	}
	if (c->mask & KY_VF_RATE) {
		struct ifla_vf_rate rate = { .vf = vf, .min_tx_rate = c->min_tx_rate, .max_tx_rate = c->max_tx_rate };
		if (nla_put(msg, IFLA_VF_RATE, sizeof(rate), &rate) < 0)
			goto too_big;
	}
	if (c->mask & KY_VF_SPOOFCHK) {
		struct ifla_vf_spoofchk s = { .vf = vf, .setting = c->spoofchk };
		if (nla_put(msg, IFLA_VF_SPOOFCHK, sizeof(s), &s) < 0)
			goto too_big;
	}
	if (c->mask & KY_VF_TRUST) {
		struct ifla_vf_trust t = { .vf = vf, .setting = c->trust };
		if (nla_put(msg, IFLA_VF_TRUST, sizeof(t), &t) < 0)
			goto too_big;
	}
	if (c->mask & KY_VF_LINK_STATE) {
		struct ifla_vf_link_state ls = { .vf = vf, .link_state = (uint32_t)c->link_state };
		if (nla_put(msg, IFLA_VF_LINK_STATE, sizeof(ls), &ls) < 0)
			goto too_big;
	}
	nla_nest_end(msg, info);
	nla_nest_end(msg, list);
	*out = TAKE_PTR(msg);
	return 0;

too_big:
	return ky_error_set(err, EMSGSIZE, "build VF request: message too large");
}

int ky_vf_get(struct ky_nl *nl, const char *pf, unsigned vf, struct ky_vf_config *out, struct ky_error **err)
{
	_cleanup_(rtnl_link_putp) struct rtnl_link *link = NULL;
	int r = ky_link_query(nl, 0, pf, 1, &link, err);
	if (r < 0)
		return ky_error_prefix(err, "read VF %u of %s", vf, pf);
	/* libnl-route walks the VF list without checking that there is one. */
	uint32_t n = 0;
	rtnl_link_get_num_vf(link, &n);
	_cleanup_(rtnl_link_vf_putp) struct rtnl_link_vf *v =
		rtnl_link_has_vf_list(link) ? rtnl_link_vf_get(link, vf) : NULL;
	if (!v)
		return ky_error_set(err, ENODEV, "read VF %u of %s: the device has %u VFs", vf, pf, n);

	memset(out, 0, sizeof(*out));
	struct nl_addr *addr = NULL;
	if (rtnl_link_vf_get_addr(v, &addr) == 0 && addr && nl_addr_get_len(addr) >= 6) {
		memcpy(out->mac, nl_addr_get_binary_addr(addr), 6);
		out->mask |= KY_VF_MAC;
	}
	/* rtnl_link_vf_get_vlans hands out a reference. */
	_cleanup_(rtnl_link_vf_vlan_putp) nl_vf_vlans_t *vlans = NULL;
	out->vlan_proto = ETH_P_8021Q;
	if (rtnl_link_vf_get_vlans(v, &vlans) == 0 && vlans && vlans->size > 0) {
		out->vlan = (uint16_t)vlans->vlans[0].vf_vlan;
		out->qos = (uint8_t)vlans->vlans[0].vf_vlan_qos;
		if (vlans->vlans[0].vf_vlan_proto)
			out->vlan_proto = vlans->vlans[0].vf_vlan_proto;
		out->mask |= KY_VF_VLAN;
	}
	/* The kernel reports a rate for every VF; libnl-route answers NOATTR
	 * when both limits are 0, which is "no limit", not "unknown". */
	struct nl_vf_rate rate = { .api = RTNL_LINK_VF_RATE_API_NEW };
	if (rtnl_link_vf_get_rate(v, &rate) == 0) {
		out->min_tx_rate = rate.min_tx_rate;
		out->max_tx_rate = rate.api == RTNL_LINK_VF_RATE_API_OLD ? rate.rate : rate.max_tx_rate;
	}
	out->mask |= KY_VF_RATE;
	uint32_t u;
	if (rtnl_link_vf_get_spoofchk(v, &u) == 0) {
		out->spoofchk = u != 0;
		out->mask |= KY_VF_SPOOFCHK;
	}
	if (rtnl_link_vf_get_trust(v, &u) == 0) {
		out->trust = u != 0;
		out->mask |= KY_VF_TRUST;
	}
	if (rtnl_link_vf_get_linkstate(v, &u) == 0) {
		out->link_state = (enum ky_vf_link_state)u;
		out->mask |= KY_VF_LINK_STATE;
	}
	return 0;
}

int ky_vf_set(struct ky_nl *nl, const char *pf, unsigned vf, const struct ky_vf_config *cfg, struct ky_error **err)
{
	struct ky_link link;
	int r = ky_link_get(nl, pf, &link, err);
	if (r < 0)
		return ky_error_prefix(err, "set VF %u", vf);
	struct nl_msg *msg = NULL;
	r = ky_vf_build_set(link.ifindex, vf, cfg, &msg, err);
	if (r < 0)
		return ky_error_prefix(err, "set VF %u of %s", vf, pf);
	r = ky_nl_transact(nl, msg, err);
	if (r < 0)
		return ky_error_prefix(err, "set VF %u of %s (a PF with %u VFs)", vf, pf, link.num_vf);
	return 0;
}

int ky_vf_ensure(struct ky_nl *nl, const char *pf, unsigned vf, const struct ky_vf_config *want, bool *changed,
		 struct ky_error **err)
{
	struct ky_vf_config now, todo = *want;
	unsigned differ = 0;
	if (changed)
		*changed = false;
	if (!want->mask)
		return 0;
	int r = ky_vf_get(nl, pf, vf, &now, err);
	if (r < 0)
		return r;
	ky_vf_config_diff(want, &now, want->mask & now.mask, &differ, NULL, NULL);
	todo.mask &= differ | ~now.mask;
	if (!todo.mask)
		return 0;
	if ((r = ky_vf_set(nl, pf, vf, &todo, err)) < 0)
		return r;
	if (changed)
		*changed = true;
	return 0;
}

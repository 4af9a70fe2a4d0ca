/* tc flower rules with a gact or police action as raw rtnetlink messages
 * (kyborg/tc_flower.h); the kernel echoes each new filter, which gives the
 * handle and priority it chose and whether the rule is in hardware. */
#include "kyborg/net/tc_flower.h"
#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "netlink_private.h"
#include "kyborg/net/tc_filter.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <linux/tc_act/tc_gact.h>
#include <stdint.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <string.h>

static uint16_t eth_proto(enum ky_flower_proto p)
{
	switch (p) {
	case KY_FLOWER_IP: return ETH_P_IP;
	case KY_FLOWER_IPV6: return ETH_P_IPV6;
	case KY_FLOWER_ARP: return ETH_P_ARP;
	default: return ETH_P_ALL;
	}
}

static struct nl_msg *filter_msg(int type, int flags, int ifindex, enum ky_flower_dir dir, uint32_t handle,
				 uint32_t prio, uint16_t proto)
{
	return ky_tc_filter_msg(type, flags, ifindex, dir == KY_FLOWER_EGRESS, handle, prio, proto);
}

static void put_prefix(struct nl_msg *m, const struct ky_cidr *c, int key4, int mask4, int key6, int mask6)
{
	uint8_t mask[16] = { 0 };
	for (unsigned i = 0; i < c->prefix; i++)
		mask[i / 8] |= (uint8_t)(0x80 >> (i % 8));
	bool v4 = c->ip.family == AF_INET;
	nla_put(m, v4 ? key4 : key6, v4 ? 4 : 16, c->ip.addr);
	nla_put(m, v4 ? mask4 : mask6, v4 ? 4 : 16, mask);
}

/* Kernel packet-scheduler ticks are 64 ns (PSCHED_SHIFT 6). */
#define KY_PSCHED_SHIFT 6
#define KY_POLICE_MTU 2047

/* The police action as tc(8) builds it: a token bucket of rate and burst
 * (the burst as the time the rate takes to send it, in ticks), drop what
 * exceeds, and the rate table act_police still insists on, though it
 * computes with the rate itself. */
static int put_police(struct nl_msg *m, uint32_t rate_mbit, uint32_t burst_kb)
{
	uint64_t rate = (uint64_t)rate_mbit * 1000000 / 8; /* bytes per second */
	uint64_t burst = (uint64_t)burst_kb * 1024;
	struct tc_police p;
	memset(&p, 0, sizeof(p));
	p.action = TC_ACT_SHOT;
	p.mtu = KY_POLICE_MTU;
	p.rate.rate = rate > UINT32_MAX ? UINT32_MAX : (uint32_t)rate;
	p.rate.linklayer = TC_LINKLAYER_ETHERNET;
	p.rate.cell_align = -1;
	while ((KY_POLICE_MTU >> p.rate.cell_log) > 255)
		p.rate.cell_log++;
	p.burst = (uint32_t)((burst * 1000000000ULL / rate) >> KY_PSCHED_SHIFT);
	uint32_t rtab[256];
	for (unsigned i = 0; i < 256; i++) {
		uint64_t size = (uint64_t)(i + 1) << p.rate.cell_log;
		rtab[i] = (uint32_t)((size * 1000000000ULL / rate) >> KY_PSCHED_SHIFT);
	}
	if (nla_put(m, TCA_POLICE_TBF, sizeof(p), &p) < 0 || nla_put(m, TCA_POLICE_RATE, sizeof(rtab), rtab) < 0 ||
	    nla_put_u32(m, TCA_POLICE_RESULT, TC_ACT_OK) < 0)
		return -ENOMEM;
	if (rate > UINT32_MAX && nla_put_u64(m, TCA_POLICE_RATE64, rate) < 0)
		return -ENOMEM;
	return 0;
}

static int build(struct nl_msg *m, const struct ky_flower_rule *r)
{
	nla_put_string(m, TCA_KIND, "flower");
	struct nlattr *opts = nla_nest_start(m, TCA_OPTIONS);
	if (!opts)
		return -ENOMEM;
	if (r->proto != KY_FLOWER_ALL)
		nla_put_u16(m, TCA_FLOWER_KEY_ETH_TYPE, htons(eth_proto(r->proto)));
	if (r->has_src)
		put_prefix(m, &r->src, TCA_FLOWER_KEY_IPV4_SRC, TCA_FLOWER_KEY_IPV4_SRC_MASK, TCA_FLOWER_KEY_IPV6_SRC,
			   TCA_FLOWER_KEY_IPV6_SRC_MASK);
	if (r->has_dst)
		put_prefix(m, &r->dst, TCA_FLOWER_KEY_IPV4_DST, TCA_FLOWER_KEY_IPV4_DST_MASK, TCA_FLOWER_KEY_IPV6_DST,
			   TCA_FLOWER_KEY_IPV6_DST_MASK);
	if (r->ip_proto)
		nla_put_u8(m, TCA_FLOWER_KEY_IP_PROTO, r->ip_proto);
	if (r->dst_port) {
		bool tcp = r->ip_proto == IPPROTO_TCP;
		nla_put_u16(m, tcp ? TCA_FLOWER_KEY_TCP_DST : TCA_FLOWER_KEY_UDP_DST, htons(r->dst_port));
		nla_put_u16(m, tcp ? TCA_FLOWER_KEY_TCP_DST_MASK : TCA_FLOWER_KEY_UDP_DST_MASK, 0xffff);
	}
	uint32_t flags = r->hw == KY_FLOWER_HW_REQUIRED ? TCA_CLS_FLAGS_SKIP_SW :
			 r->hw == KY_FLOWER_HW_NEVER ? TCA_CLS_FLAGS_SKIP_HW : 0;
	nla_put_u32(m, TCA_FLOWER_FLAGS, flags);
	struct nlattr *acts = nla_nest_start(m, TCA_FLOWER_ACT);
	struct nlattr *a1 = nla_nest_start(m, 1);
	nla_put_string(m, TCA_ACT_KIND, r->action == KY_FLOWER_POLICE ? "police" : "gact");
	struct nlattr *aopts = nla_nest_start(m, TCA_ACT_OPTIONS);
	if (!acts || !a1 || !aopts)
		return -ENOMEM;
	if (r->action == KY_FLOWER_POLICE) {
		if (put_police(m, r->rate_mbit, r->burst_kb) < 0)
			return -ENOMEM;
	} else {
		struct tc_gact g;
		memset(&g, 0, sizeof(g));
		g.action = r->action == KY_FLOWER_DROP ? TC_ACT_SHOT : TC_ACT_OK;
		if (nla_put(m, TCA_GACT_PARMS, sizeof(g), &g) < 0)
			return -ENOMEM;
	}
	nla_nest_end(m, aopts);
	nla_nest_end(m, a1);
	nla_nest_end(m, acts);
	nla_nest_end(m, opts);
	return 0;
}

struct echo {
	bool seen;
	uint32_t handle, prio, flags;
};

static int on_echo(struct nl_msg *msg, void *arg)
{
	struct echo *e = arg;
	struct nlmsghdr *h = nlmsg_hdr(msg);
	if (h->nlmsg_type != RTM_NEWTFILTER || nlmsg_datalen(h) < (int)sizeof(struct tcmsg))
		return NL_OK;
	const struct tcmsg *t = nlmsg_data(h);
	e->seen = true;
	e->handle = t->tcm_handle;
	e->prio = TC_H_MAJ(t->tcm_info) >> 16;
	struct nlattr *tb[TCA_MAX + 1], *fb[TCA_FLOWER_MAX + 1];
	if (nlmsg_parse(h, sizeof(*t), tb, TCA_MAX, NULL) == 0 && tb[TCA_OPTIONS] &&
	    nla_parse_nested(fb, TCA_FLOWER_MAX, tb[TCA_OPTIONS], NULL) == 0 && fb[TCA_FLOWER_FLAGS])
		e->flags = nla_get_u32(fb[TCA_FLOWER_FLAGS]);
	return NL_OK;
}

int ky_flower_plan(struct ky_nl *nl, int ifindex, enum ky_flower_dir dir, uint32_t prio_hint,
		   struct ky_flower_added *out, struct ky_error **err)
{
	uint32_t prio;
	int r = ky_tc_free_prio(nl, ifindex, dir == KY_FLOWER_EGRESS, prio_hint, +1, &prio, err);
	if (r < 0)
		return r;
	memset(out, 0, sizeof(*out));
	out->dir = dir;
	out->handle = 1;
	out->priority = prio;
	return 0;
}

int ky_flower_add(struct ky_nl *nl, int ifindex, const struct ky_flower_rule *rule, struct ky_flower_added *out,
		  struct ky_error **err)
{
	uint32_t handle = out->priority ? out->handle : 0, prio = out->priority;
	struct nl_msg *m = filter_msg(RTM_NEWTFILTER, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ECHO, ifindex, rule->dir,
				      handle, prio, eth_proto(rule->proto));
	if (!m || build(m, rule) < 0) {
		nlmsg_free(m);
		return ky_error_set(err, ENOMEM, "build flower rule");
	}
	struct echo e = { 0 };
	int r = ky_nl_transact_cb(nl, m, on_echo, &e, err);
	if (r == -EOPNOTSUPP && rule->hw == KY_FLOWER_HW_REQUIRED)
		/* skip_sw on a device whose driver offloads no flower rule. */
		return ky_error_prefix(err, "the device cannot take the rule in hardware (hw: required)");
	if (r == -ENOENT) {
		/* tc_new_tfilter answers ENOENT ("TC classifier not found")
		 * for a kind it cannot find (no cls_flower, no module). */
		_cleanup_free_ char *why = strdup(err ? ky_error_msg(*err) : "");
		return ky_error_set(err, EOPNOTSUPP, "this kernel has no flower classifier (cls_flower): %s",
				    why ? why : "");
	}
	if (r < 0)
		return ky_error_prefix(err, "add flower rule on ifindex %d", ifindex);
	if (!e.seen)
		return ky_error_set(err, EPROTO, "add flower rule on ifindex %d: the kernel did not echo it", ifindex);
	memset(out, 0, sizeof(*out));
	out->dir = rule->dir;
	out->handle = e.handle;
	out->priority = e.prio;
	out->in_hw = (e.flags & TCA_CLS_FLAGS_IN_HW) != 0;
	if (rule->hw == KY_FLOWER_HW_REQUIRED && !out->in_hw) {
		ky_flower_del(nl, ifindex, out, NULL);
		return ky_error_set(err, EREMOTEIO, "the kernel did not put the rule in hardware (hw: required)");
	}
	return 0;
}

int ky_flower_check(struct ky_nl *nl, int ifindex, const struct ky_flower_added *a, struct ky_error **err)
{
	struct nl_msg *m = filter_msg(RTM_GETTFILTER, 0, ifindex, a->dir, a->handle, a->priority, 0);
	if (m)
		nla_put_string(m, TCA_KIND, "flower");
	struct echo e = { 0 };
	int r = ky_nl_transact_cb(nl, m, on_echo, &e, err);
	if (r == -ENOENT || r == -EINVAL || (r == 0 && !e.seen))
		return ky_error_set(err, ENOENT, "flower rule %x priority %u is no longer on ifindex %d", a->handle,
				    a->priority, ifindex);
	return r;
}

int ky_flower_del(struct ky_nl *nl, int ifindex, const struct ky_flower_added *a, struct ky_error **err)
{
	struct nl_msg *m = filter_msg(RTM_DELTFILTER, 0, ifindex, a->dir, a->handle, a->priority, 0);
	if (m)
		nla_put_string(m, TCA_KIND, "flower");
	/* Its own error: a rule already gone must not wipe out what the
	 * caller's err holds from an earlier rule. */
	_cleanup_error_ struct ky_error *e = NULL;
	int r = ky_nl_transact_cb(nl, m, NULL, NULL, &e);
	if (r == -ENOENT || r == -EINVAL || r == -ENODEV)
		return 0;
	if (r < 0)
		return ky_error_set(err, -r, "remove flower rule %x priority %u on ifindex %d: %s", a->handle,
				    a->priority, ifindex, ky_error_msg(e));
	return 1;
}

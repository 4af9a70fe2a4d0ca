/* cls_bpf filters with skip_sw/skip_hw, added and read back over raw
 * rtnetlink (tc_bpf.h), in the shape libbpf's bpf_tc_attach() gives them:
 * direct action, protocol all, named "<program>:[<id>]". */
#include "kyborg/net/tc_bpf.h"
#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "netlink_private.h"
#include "kyborg/net/tc_filter.h"

#include <errno.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <linux/rtnetlink.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <stdio.h>
#include <string.h>

struct echo {
	bool seen;
	struct ky_tc_bpf_info info;
};

static int on_filter(struct nl_msg *msg, void *arg)
{
	struct echo *e = arg;
	struct nlmsghdr *h = nlmsg_hdr(msg);
	struct nlattr *tb[TCA_MAX + 1], *ob[TCA_BPF_MAX + 1];
	if (h->nlmsg_type != RTM_NEWTFILTER || nlmsg_datalen(h) < (int)sizeof(struct tcmsg) ||
	    nlmsg_parse(h, sizeof(struct tcmsg), tb, TCA_MAX, NULL) < 0 || !tb[TCA_KIND] ||
	    strcmp(nla_get_string(tb[TCA_KIND]), "bpf") != 0)
		return NL_OK;
	e->seen = true;
	memset(&e->info, 0, sizeof(e->info));
	if (tb[TCA_OPTIONS] && nla_parse_nested(ob, TCA_BPF_MAX, tb[TCA_OPTIONS], NULL) == 0) {
		if (ob[TCA_BPF_ID])
			e->info.prog_id = nla_get_u32(ob[TCA_BPF_ID]);
		if (ob[TCA_BPF_FLAGS_GEN])
			e->info.gen_flags = nla_get_u32(ob[TCA_BPF_FLAGS_GEN]);
	}
	return NL_OK;
}

int ky_tc_bpf_add(struct ky_nl *nl, int ifindex, bool egress, uint32_t handle, uint32_t prio, int prog_fd,
		  uint32_t prog_id, const char *name, uint32_t gen_flags, struct ky_tc_bpf_info *out,
		  struct ky_error **err)
{
	char full[96];
	snprintf(full, sizeof(full), "%s:[%u]", name, prog_id);
	struct nl_msg *m = ky_tc_filter_msg(RTM_NEWTFILTER, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ECHO, ifindex, egress,
					    handle, prio, ETH_P_ALL);
	struct nlattr *opts = NULL;
	if (!m || nla_put_string(m, TCA_KIND, "bpf") < 0 || !(opts = nla_nest_start(m, TCA_OPTIONS)) ||
	    nla_put_u32(m, TCA_BPF_FD, (uint32_t)prog_fd) < 0 || nla_put_string(m, TCA_BPF_NAME, full) < 0 ||
	    nla_put_u32(m, TCA_BPF_FLAGS, TCA_BPF_FLAG_ACT_DIRECT) < 0 ||
	    (gen_flags && nla_put_u32(m, TCA_BPF_FLAGS_GEN, gen_flags) < 0)) {
		nlmsg_free(m);
		return ky_error_set(err, ENOMEM, "build cls_bpf filter");
	}
	nla_nest_end(m, opts);
	struct echo e = { 0 };
	int r = ky_nl_transact_cb(nl, m, on_filter, &e, err);
	if (r < 0)
		return r;
	if (!e.seen)
		return ky_error_set(err, EPROTO, "the kernel did not echo the cls_bpf filter on ifindex %d", ifindex);
	*out = e.info;
	return 0;
}

int ky_tc_bpf_get(struct ky_nl *nl, int ifindex, bool egress, uint32_t handle, uint32_t prio,
		  struct ky_tc_bpf_info *out, struct ky_error **err)
{
	struct nl_msg *m = ky_tc_filter_msg(RTM_GETTFILTER, 0, ifindex, egress, handle, prio, ETH_P_ALL);
	if (m && nla_put_string(m, TCA_KIND, "bpf") < 0) {
		nlmsg_free(m);
		m = NULL;
	}
	struct echo e = { 0 };
	_cleanup_error_ struct ky_error *own = NULL;
	int r = ky_nl_transact_cb(nl, m, on_filter, &e, &own);
	if (r == -ENOENT || r == -EINVAL || r == -ENODEV || (r == 0 && !e.seen))
		return -ENOENT;
	if (r < 0)
		return ky_error_set(err, -r, "%s", ky_error_msg(own));
	*out = e.info;
	return 0;
}

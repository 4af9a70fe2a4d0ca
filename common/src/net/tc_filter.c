/* The header of a tc filter request on a clsact hook (tc_filter.h). */
#include "kyborg/net/tc_filter.h"
#include "kyborg/base/error.h"
#include "netlink_private.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <string.h>
#include <sys/socket.h>

struct nl_msg *ky_tc_filter_msg(int type, int flags, int ifindex, bool egress, uint32_t handle, uint32_t prio,
				uint16_t proto)
{
	struct nl_msg *m = nlmsg_alloc_simple(type, flags);
	struct tcmsg t;
	memset(&t, 0, sizeof(t));
	t.tcm_family = AF_UNSPEC;
	t.tcm_ifindex = ifindex;
	t.tcm_handle = handle;
	t.tcm_parent = TC_H_MAKE(TC_H_CLSACT, egress ? TC_H_MIN_EGRESS : TC_H_MIN_INGRESS);
	t.tcm_info = TC_H_MAKE(prio << 16, htons(proto));
	if (m && nlmsg_append(m, &t, sizeof(t), NLMSG_ALIGNTO) < 0) {
		nlmsg_free(m);
		return NULL;
	}
	return m;
}

struct used {
	uint32_t prios[1024];
	size_t n;
};

static int on_filter(struct nl_msg *msg, void *arg)
{
	struct used *u = arg;
	struct nlmsghdr *h = nlmsg_hdr(msg);
	if (h->nlmsg_type == RTM_NEWTFILTER && nlmsg_datalen(h) >= (int)sizeof(struct tcmsg) &&
	    u->n < sizeof(u->prios) / sizeof(u->prios[0]))
		u->prios[u->n++] = TC_H_MAJ(((const struct tcmsg *)nlmsg_data(h))->tcm_info) >> 16;
	return NL_OK;
}

int ky_tc_free_prio(struct ky_nl *nl, int ifindex, bool egress, uint32_t hint, int step, uint32_t *prio,
		    struct ky_error **err)
{
	struct nl_msg *m = ky_tc_filter_msg(RTM_GETTFILTER, NLM_F_DUMP, ifindex, egress, 0, 0, 0);
	struct used u = { .n = 0 };
	int r = ky_nl_transact_cb(nl, m, on_filter, &u, err);
	if (r < 0)
		return ky_error_prefix(err, "list the filters of ifindex %d", ifindex);
	for (int k = 0; k < 64; k++) {
		long p = (long)hint + (long)step * k;
		if (p < 1 || p > 0xffff)
			break;
		bool taken = false;
		for (size_t i = 0; i < u.n && !taken; i++)
			taken = u.prios[i] == (uint32_t)p;
		if (!taken) {
			*prio = (uint32_t)p;
			return 0;
		}
	}
	return ky_error_set(err, EBUSY, "no free tc priority %s %u on the %s hook of ifindex %d",
			    step > 0 ? "from" : "at or below", hint, egress ? "egress" : "ingress", ifindex);
}

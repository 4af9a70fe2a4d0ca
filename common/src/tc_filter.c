/* The header of a tc filter request on a clsact hook (tc_filter.h). */
#include "tc_filter.h"

#include <arpa/inet.h>
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

/* Addresses and routes: RTM_NEWADDR/RTM_NEWROUTE requests built by hand,
 * and an address dump (a request of its own, since dumps end with DONE,
 * not an ACK). */
#include "kyborg/net/netlink_addr.h"
#include "kyborg/net/netlink.h"
#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "netlink_private.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

KY_DEFINE_CLEANUP(struct nl_sock, nl_socket_free)

static size_t ip_len(const struct ky_ip *ip)
{
	return ip->family == AF_INET ? 4 : 16;
}

int ky_addr_add(struct ky_nl *nl, int ifindex, const struct ky_cidr *addr, struct ky_error **err)
{
	char s[KY_CIDR_STRLEN];
	ky_format_cidr(addr, s);
	struct nl_msg *msg = nlmsg_alloc_simple(RTM_NEWADDR, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE);
	struct ifaddrmsg ifa = {
		.ifa_family = (unsigned char)addr->ip.family,
		.ifa_prefixlen = (unsigned char)addr->prefix,
		.ifa_index = (unsigned)ifindex,
	};
	if (!msg || nlmsg_append(msg, &ifa, sizeof(ifa), NLMSG_ALIGNTO) < 0 ||
	    nla_put(msg, IFA_LOCAL, (int)ip_len(&addr->ip), addr->ip.addr) < 0 ||
	    nla_put(msg, IFA_ADDRESS, (int)ip_len(&addr->ip), addr->ip.addr) < 0) {
		nlmsg_free(msg);
		return ky_error_set(err, ENOMEM, "add address %s: build request", s);
	}
	int r = ky_nl_transact(nl, msg, err);
	if (r < 0)
		return ky_error_prefix(err, "add address %s to link %d", s, ifindex);
	return 0;
}

int ky_route_add(struct ky_nl *nl, int ifindex, const struct ky_cidr *dst, const struct ky_ip *gw,
		 struct ky_error **err)
{
	char s[KY_CIDR_STRLEN];
	ky_format_cidr(dst, s);
	struct nl_msg *msg = nlmsg_alloc_simple(RTM_NEWROUTE, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE);
	struct rtmsg rt = {
		.rtm_family = (unsigned char)dst->ip.family,
		.rtm_dst_len = (unsigned char)dst->prefix,
		.rtm_table = RT_TABLE_MAIN,
		.rtm_protocol = RTPROT_BOOT,
		.rtm_scope = gw ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK,
		.rtm_type = RTN_UNICAST,
	};
	struct ky_cidr net;
	ky_cidr_network(dst, &net);
	uint32_t oif = (uint32_t)ifindex;
	if (!msg || nlmsg_append(msg, &rt, sizeof(rt), NLMSG_ALIGNTO) < 0 ||
	    (dst->prefix && nla_put(msg, RTA_DST, (int)ip_len(&net.ip), net.ip.addr) < 0) ||
	    (gw && nla_put(msg, RTA_GATEWAY, (int)ip_len(gw), gw->addr) < 0) ||
	    nla_put_u32(msg, RTA_OIF, oif) < 0) {
		nlmsg_free(msg);
		return ky_error_set(err, ENOMEM, "add route %s: build request", s);
	}
	int r = ky_nl_transact(nl, msg, err);
	if (r < 0)
		return ky_error_prefix(err, "add route %s on link %d", s, ifindex);
	return 0;
}

struct addr_dump {
	int ifindex;
	struct ky_cidr *v;
	size_t n, cap;
	int oom;
};

static int on_addr(struct nl_msg *msg, void *arg)
{
	struct addr_dump *d = arg;
	struct nlmsghdr *h = nlmsg_hdr(msg);
	if (h->nlmsg_type != RTM_NEWADDR)
		return NL_OK;
	struct ifaddrmsg *ifa = nlmsg_data(h);
	if ((int)ifa->ifa_index != d->ifindex)
		return NL_OK;
	struct nlattr *tb[IFA_MAX + 1];
	if (nlmsg_parse(h, sizeof(*ifa), tb, IFA_MAX, NULL) < 0)
		return NL_OK;
	struct nlattr *a = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
	size_t want = ifa->ifa_family == AF_INET ? 4 : 16;
	if (!a || (size_t)nla_len(a) != want || (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6))
		return NL_OK;
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 4;
		struct ky_cidr *v = realloc(d->v, cap * sizeof(*v));
		if (!v) {
			d->oom = 1;
			return NL_STOP;
		}
		d->v = v;
		d->cap = cap;
	}
	struct ky_cidr *c = &d->v[d->n++];
	memset(c, 0, sizeof(*c));
	c->ip.family = ifa->ifa_family;
	memcpy(c->ip.addr, nla_data(a), want);
	c->prefix = ifa->ifa_prefixlen;
	return NL_OK;
}

int ky_addr_list(struct ky_nl *nl, int ifindex, struct ky_cidr **out, size_t *n, struct ky_error **err)
{
	(void)nl; /* the dump needs a socket that expects DONE: one of its own, in the same netns */
	_cleanup_(nl_socket_freep) struct nl_sock *sk = nl_socket_alloc();
	if (!sk)
		return ky_error_set(err, ENOMEM, "list addresses: allocate socket");
	int r = nl_connect(sk, NETLINK_ROUTE);
	if (r < 0)
		return ky_error_set(err, EIO, "list addresses: connect: %s", nl_geterror(r));
	struct ifaddrmsg ifa = { .ifa_family = AF_UNSPEC };
	r = nl_send_simple(sk, RTM_GETADDR, NLM_F_DUMP, &ifa, sizeof(ifa));
	if (r < 0)
		return ky_error_set(err, EIO, "list addresses: send: %s", nl_geterror(r));
	struct addr_dump d = { .ifindex = ifindex };
	nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, on_addr, &d);
	r = nl_recvmsgs_default(sk);
	if (d.oom) {
		free(d.v);
		return ky_error_set(err, ENOMEM, "list addresses of link %d", ifindex);
	}
	if (r < 0) {
		free(d.v);
		return ky_error_set(err, EIO, "list addresses of link %d: %s", ifindex, nl_geterror(r));
	}
	*out = d.v;
	*n = d.n;
	return 0;
}

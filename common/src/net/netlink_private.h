/* Internals shared by the netlink files of libkyborg (rtnetlink, devlink). */
#pragma once

#include <netlink/msg.h>

#include "kyborg/base/cleanup.h"

KY_DEFINE_CLEANUP(struct nl_msg, nlmsg_free)

struct ky_error;
struct ky_nl;
struct rtnl_link;

/* A netlink socket of another protocol (NETLINK_GENERIC for devlink),
 * with the same extended-ack errors as ky_nl_open's. */
int ky_nl_open_proto(struct ky_nl **out, int protocol, struct ky_error **err);
struct nl_sock *ky_nl_sock(struct ky_nl *nl);

/* Like ky_nl_transact, calling valid(msg, arg) for each answer message. */
int ky_nl_transact_cb(struct ky_nl *nl, struct nl_msg *msg, int (*valid)(struct nl_msg *, void *), void *arg,
		      struct ky_error **err);

/* A fresh RTM_SETLINK request for ifindex (NLM_F_REQUEST | NLM_F_ACK). */
struct nl_msg *ky_setlink_msg(int ifindex, unsigned flags, unsigned change);

/* RTM_GETLINK of one link by index or name, parsed by libnl-route. With
 * vfs, the kernel is asked for the VF list too (RTEXT_FILTER_VF). */
int ky_link_query(struct ky_nl *nl, int ifindex, const char *name, int vfs, struct rtnl_link **out,
		  struct ky_error **err);

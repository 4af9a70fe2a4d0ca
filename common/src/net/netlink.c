/* The route netlink socket: open, send a request, collect the answer with
 * the kernel's own errno and extended-ack message. */
#include "kyborg/net/netlink.h"
#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "netlink_private.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

struct ky_nl {
	struct nl_sock *sk;
};

int ky_nl_open(struct ky_nl **out, struct ky_error **err)
{
	return ky_nl_open_proto(out, NETLINK_ROUTE, err);
}

struct nl_sock *ky_nl_sock(struct ky_nl *nl)
{
	return nl->sk;
}

int ky_nl_open_proto(struct ky_nl **out, int protocol, struct ky_error **err)
{
	struct ky_nl *nl = calloc(1, sizeof(*nl));
	if (!nl)
		return ky_error_set(err, ENOMEM, "allocate netlink handle");
	nl->sk = nl_socket_alloc();
	if (!nl->sk) {
		free(nl);
		return ky_error_set(err, ENOMEM, "allocate netlink socket");
	}
	int r = nl_connect(nl->sk, protocol);
	if (r < 0) {
		ky_nl_close(nl);
		return ky_error_set(err, EIO, "connect %s netlink: %s",
				    protocol == NETLINK_ROUTE ? "route" : protocol == NETLINK_GENERIC ? "generic" : "RDMA",
				    nl_geterror(r));
	}
	/* Ask for the kernel's reason with every error ("VF ... not supported"). */
	int one = 1;
	setsockopt(nl_socket_get_fd(nl->sk), SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	*out = nl;
	return 0;
}

void ky_nl_close(struct ky_nl *nl)
{
	if (!nl)
		return;
	nl_socket_free(nl->sk);
	free(nl);
}

struct answer {
	int error;  /* positive errno from the kernel */
	int done;
	char extack[256];
	int (*valid)(struct nl_msg *, void *);
	void *arg;
};

static void read_extack(const struct nlmsghdr *nlh, const struct nlmsgerr *e, struct answer *a)
{
	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return;
	size_t off = sizeof(*e);
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		off += e->msg.nlmsg_len - NLMSG_HDRLEN;
	size_t payload = nlh->nlmsg_len - NLMSG_HDRLEN;
	if (off >= payload)
		return;
	struct nlattr *attrs = (struct nlattr *)((char *)e + NLMSG_ALIGN(off));
	int len = (int)(payload - NLMSG_ALIGN(off));
	struct nlattr *tb[NLMSGERR_ATTR_MAX + 1];
	if (nla_parse(tb, NLMSGERR_ATTR_MAX, attrs, len, NULL) < 0 || !tb[NLMSGERR_ATTR_MSG])
		return;
	snprintf(a->extack, sizeof(a->extack), "%.*s", nla_len(tb[NLMSGERR_ATTR_MSG]),
		 (const char *)nla_data(tb[NLMSGERR_ATTR_MSG]));
}

static int on_error(struct sockaddr_nl *who, struct nlmsgerr *e, void *arg)
{
	(void)who;
	struct answer *a = arg;
	const struct nlmsghdr *nlh = (const struct nlmsghdr *)((const char *)e - NLMSG_HDRLEN);
	a->error = -e->error;
	a->done = 1;
	read_extack(nlh, e, a);
	return NL_STOP;
}

static int on_ack(struct nl_msg *msg, void *arg)
{
	(void)msg;
	((struct answer *)arg)->done = 1;
	return NL_STOP;
}

static int on_valid(struct nl_msg *msg, void *arg)
{
	struct answer *a = arg;
	if (a->valid)
		return a->valid(msg, a->arg);
	return NL_OK;
}

KY_DEFINE_CLEANUP(struct nl_cb, nl_cb_put)

int ky_nl_transact_cb(struct ky_nl *nl, struct nl_msg *msg_in, int (*valid)(struct nl_msg *, void *), void *arg,
		      struct ky_error **err)
{
	_cleanup_(nlmsg_freep) struct nl_msg *msg = msg_in;
	if (!msg)
		return ky_error_set(err, ENOMEM, "allocate netlink message");

	nlmsg_hdr(msg)->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	int r = nl_send_auto(nl->sk, msg);
	if (r < 0)
		return ky_error_set(err, EIO, "send netlink request: %s", nl_geterror(r));

	/* nl_socket_get_cb() hands out a reference of its own. */
	_cleanup_(nl_cb_putp) struct nl_cb *sock_cb = nl_socket_get_cb(nl->sk);
	_cleanup_(nl_cb_putp) struct nl_cb *cb = sock_cb ? nl_cb_clone(sock_cb) : NULL;
	if (!cb)
		return ky_error_set(err, ENOMEM, "allocate netlink callbacks");
	struct answer a = { .valid = valid, .arg = arg };
	nl_cb_err(cb, NL_CB_CUSTOM, on_error, &a);
	nl_cb_set(cb, NL_CB_ACK, NL_CB_CUSTOM, on_ack, &a);
	/* A dump (NLM_F_DUMP) ends with NLMSG_DONE, not an ack. */
	nl_cb_set(cb, NL_CB_FINISH, NL_CB_CUSTOM, on_ack, &a);
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, on_valid, &a);

	while (!a.done) {
		r = nl_recvmsgs(nl->sk, cb);
		if (a.error)
			break;
		if (r < 0)
			return ky_error_set(err, EIO, "netlink answer: %s", nl_geterror(r));
	}
	if (a.error) {
		if (a.extack[0])
			return ky_error_set(err, a.error, "%s (%s)", strerror(a.error), a.extack);
		return ky_error_set(err, a.error, "%s", strerror(a.error));
	}
	return 0;
}

int ky_nl_transact(struct ky_nl *nl, struct nl_msg *msg, struct ky_error **err)
{
	return ky_nl_transact_cb(nl, msg, NULL, NULL, err);
}

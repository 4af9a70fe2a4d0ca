/* RDMA netlink (NETLINK_RDMA, nldev): messages are an nlmsghdr whose type
 * is RDMA_NL_GET_TYPE(RDMA_NL_NLDEV, command), then attributes, no family
 * header. */
#include "kyborg/net/rdma.h"
#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/net/netlink.h"
#include "netlink_private.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <rdma/rdma_netlink.h>

#ifndef NETLINK_RDMA
#define NETLINK_RDMA 20
#endif

bool ky_rdma_present(void)
{
	_cleanup_closedir_ DIR *d = opendir("/sys/class/infiniband");
	if (!d)
		return false;
	struct dirent *de;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			return true;
	return false;
}

int ky_rdma_open(struct ky_nl **out, struct ky_error **err)
{
	int r = ky_nl_open_proto(out, NETLINK_RDMA, err);
	return r < 0 ? ky_error_prefix(err, "RDMA netlink") : 0;
}

static struct nl_msg *request(int cmd, int flags)
{
	return nlmsg_alloc_simple(RDMA_NL_GET_TYPE(RDMA_NL_NLDEV, cmd), NLM_F_REQUEST | flags);
}

static int parse(struct nl_msg *msg, struct nlattr **tb)
{
	return nlmsg_parse(nlmsg_hdr(msg), 0, tb, RDMA_NLDEV_ATTR_MAX - 1, NULL);
}

struct sys_answer {
	bool seen;
	uint8_t mode;
};

static int on_sys(struct nl_msg *msg, void *arg)
{
	struct sys_answer *a = arg;
	struct nlattr *tb[RDMA_NLDEV_ATTR_MAX];
	if (parse(msg, tb) == 0 && tb[RDMA_NLDEV_SYS_ATTR_NETNS_MODE]) {
		a->mode = nla_get_u8(tb[RDMA_NLDEV_SYS_ATTR_NETNS_MODE]);
		a->seen = true;
	}
	return NL_OK;
}

int ky_rdma_netns_mode(struct ky_nl *nl, enum ky_rdma_netns_mode *out, struct ky_error **err)
{
	struct sys_answer a = { 0 };
	int r = ky_nl_transact_cb(nl, request(RDMA_NLDEV_CMD_SYS_GET, 0), on_sys, &a, err);
	if (r < 0)
		return ky_error_prefix(err, "RDMA netns mode");
	if (!a.seen)
		return ky_error_set(err, EPROTO, "RDMA netns mode: the kernel did not say");
	*out = a.mode ? KY_RDMA_NETNS_SHARED : KY_RDMA_NETNS_EXCLUSIVE;
	return 0;
}

int ky_rdma_set_netns_mode(struct ky_nl *nl, enum ky_rdma_netns_mode mode, struct ky_error **err)
{
	_cleanup_(nlmsg_freep) struct nl_msg *msg = request(RDMA_NLDEV_CMD_SYS_SET, 0);
	if (!msg || nla_put_u8(msg, RDMA_NLDEV_SYS_ATTR_NETNS_MODE, mode == KY_RDMA_NETNS_SHARED) < 0)
		return ky_error_set(err, ENOMEM, "RDMA netns mode: build request");
	int r = ky_nl_transact(nl, TAKE_PTR(msg), err);
	return r < 0 ? ky_error_prefix(err, "set RDMA netns mode") : 0;
}

/* Every device of the socket's netns, from a dump. */
struct devs {
	struct ky_rdma_dev v[64];
	size_t n;
};

static int on_dev(struct nl_msg *msg, void *arg)
{
	struct devs *d = arg;
	struct nlattr *tb[RDMA_NLDEV_ATTR_MAX];
	if (d->n == sizeof(d->v) / sizeof(d->v[0]) || parse(msg, tb) < 0 || !tb[RDMA_NLDEV_ATTR_DEV_INDEX] ||
	    !tb[RDMA_NLDEV_ATTR_DEV_NAME])
		return NL_OK;
	d->v[d->n].index = nla_get_u32(tb[RDMA_NLDEV_ATTR_DEV_INDEX]);
	nla_strlcpy(d->v[d->n].name, tb[RDMA_NLDEV_ATTR_DEV_NAME], KY_RDMA_NAME_MAX);
	d->n++;
	return NL_OK;
}

static int list_devs(struct ky_nl *nl, struct devs *d, struct ky_error **err)
{
	d->n = 0;
	int r = ky_nl_transact_cb(nl, request(RDMA_NLDEV_CMD_GET, NLM_F_DUMP), on_dev, d, err);
	return r < 0 ? ky_error_prefix(err, "list RDMA devices") : 0;
}

int ky_rdma_find_by_name(struct ky_nl *nl, const char *name, struct ky_rdma_dev *out, struct ky_error **err)
{
	struct devs d;
	int r = list_devs(nl, &d, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < d.n; i++)
		if (strcmp(d.v[i].name, name) == 0) {
			*out = d.v[i];
			return 0;
		}
	return ky_error_set(err, ENODEV, "no RDMA device %s here", name);
}

struct port_match {
	int ifindex;
	bool found;
};

static int on_port(struct nl_msg *msg, void *arg)
{
	struct port_match *m = arg;
	struct nlattr *tb[RDMA_NLDEV_ATTR_MAX];
	if (parse(msg, tb) == 0 && tb[RDMA_NLDEV_ATTR_NDEV_INDEX] &&
	    nla_get_u32(tb[RDMA_NLDEV_ATTR_NDEV_INDEX]) == (uint32_t)m->ifindex)
		m->found = true;
	return NL_OK;
}

int ky_rdma_find_by_netdev(struct ky_nl *nl, int ifindex, struct ky_rdma_dev *out, struct ky_error **err)
{
	struct devs d;
	int r = list_devs(nl, &d, err);
	if (r < 0)
		return r;
	/* A port dump is per device. */
	for (size_t i = 0; i < d.n; i++) {
		_cleanup_(nlmsg_freep) struct nl_msg *msg = request(RDMA_NLDEV_CMD_PORT_GET, NLM_F_DUMP);
		if (!msg || nla_put_u32(msg, RDMA_NLDEV_ATTR_DEV_INDEX, d.v[i].index) < 0)
			return ky_error_set(err, ENOMEM, "RDMA ports: build request");
		struct port_match m = { .ifindex = ifindex };
		if ((r = ky_nl_transact_cb(nl, TAKE_PTR(msg), on_port, &m, err)) < 0)
			return ky_error_prefix(err, "ports of RDMA device %s", d.v[i].name);
		if (m.found) {
			*out = d.v[i];
			return 0;
		}
	}
	return ky_error_set(err, ENODEV, "no RDMA device has a port on link %d", ifindex);
}

int ky_rdma_move_to_netns(struct ky_nl *nl, const struct ky_rdma_dev *dev, int netns_fd, struct ky_error **err)
{
	_cleanup_(nlmsg_freep) struct nl_msg *msg = request(RDMA_NLDEV_CMD_SET, 0);
	if (!msg || nla_put_u32(msg, RDMA_NLDEV_ATTR_DEV_INDEX, dev->index) < 0 ||
	    nla_put_u32(msg, RDMA_NLDEV_NET_NS_FD, (uint32_t)netns_fd) < 0)
		return ky_error_set(err, ENOMEM, "move RDMA device: build request");
	int r = ky_nl_transact(nl, TAKE_PTR(msg), err);
	if (r == -EOPNOTSUPP)
		return ky_error_prefix(err, "move RDMA device %s to another netns (its driver cannot leave its netns, "
				       "or RDMA runs in shared netns mode)", dev->name);
	return r < 0 ? ky_error_prefix(err, "move RDMA device %s to another netns", dev->name) : 0;
}

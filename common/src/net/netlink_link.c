/* Links: read one (libnl-route parses the kernel's answer), and change its
 * namespace, name, MTU, MAC and up/down state. */
#include "kyborg/net/netlink.h"
#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "netlink_private.h"

#include <errno.h>
#include <string.h>
#include <linux/if_link.h>
#include <linux/ip.h>
#include <sys/socket.h>
#include <linux/rtnetlink.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/object.h>
#include <netlink/route/link.h>

KY_DEFINE_CLEANUP(struct rtnl_link, rtnl_link_put)

bool ky_ifname_valid(const char *name)
{
	if (!name || !*name || strlen(name) >= IFNAMSIZ)
		return false;
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return false;
	for (const char *p = name; *p; p++) {
		unsigned char c = (unsigned char)*p;
		/* '%': the kernel takes "net%d" as a template and names the
		 * link net0, so no link is ever found under such a name. */
		if (c == '/' || c == ':' || c == '%' || c <= ' ' || c == 0x7f)
			return false;
	}
	return true;
}

struct nl_msg *ky_setlink_msg(int ifindex, unsigned flags, unsigned change)
{
	struct nl_msg *msg = nlmsg_alloc_simple(RTM_SETLINK, NLM_F_REQUEST | NLM_F_ACK);
	if (!msg)
		return NULL;
	struct ifinfomsg ifi = {
		.ifi_family = AF_UNSPEC,
		.ifi_index = ifindex,
		.ifi_flags = flags,
		.ifi_change = change,
	};
	if (nlmsg_append(msg, &ifi, sizeof(ifi), NLMSG_ALIGNTO) < 0) {
		nlmsg_free(msg);
		return NULL;
	}
	return msg;
}

static void take_link(struct nl_object *obj, void *arg)
{
	struct rtnl_link **out = arg;
	if (*out)
		return;
	nl_object_get(obj);
	*out = (struct rtnl_link *)obj;
}

static int parse_link(struct nl_msg *msg, void *arg)
{
	nl_msg_parse(msg, take_link, arg);
	return NL_OK;
}

int ky_link_query(struct ky_nl *nl, int ifindex, const char *name, int vfs, struct rtnl_link **out,
		  struct ky_error **err)
{
	struct nl_msg *msg = nlmsg_alloc_simple(RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK);
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = ifindex };
	if (!msg || nlmsg_append(msg, &ifi, sizeof(ifi), NLMSG_ALIGNTO) < 0 ||
	    (name && nla_put_string(msg, IFLA_IFNAME, name) < 0) ||
	    (vfs && nla_put_u32(msg, IFLA_EXT_MASK, RTEXT_FILTER_VF) < 0)) {
		nlmsg_free(msg);
		return ky_error_set(err, ENOMEM, "build link request");
	}
	struct rtnl_link *link = NULL;
	int r = ky_nl_transact_cb(nl, msg, parse_link, &link, err);
	if (r < 0) {
		rtnl_link_put(link);
		if (r == -ENODEV) {
			if (name)
				return ky_error_set(err, ENODEV, "link %s not found", name);
			return ky_error_set(err, ENODEV, "link with index %d not found", ifindex);
		}
		return r;
	}
	if (!link)
		return ky_error_set(err, EPROTO, "kernel answered the link request with no link");
	*out = link;
	return 0;
}

static void fill_link(struct rtnl_link *l, struct ky_link *out)
{
	memset(out, 0, sizeof(*out));
	out->ifindex = rtnl_link_get_ifindex(l);
	snprintf(out->name, sizeof(out->name), "%s", rtnl_link_get_name(l) ? rtnl_link_get_name(l) : "");
	struct nl_addr *a = rtnl_link_get_addr(l);
	if (a && nl_addr_get_len(a) == 6) {
		memcpy(out->mac, nl_addr_get_binary_addr(a), 6);
		out->has_mac = true;
	}
	out->mtu = rtnl_link_get_mtu(l);
	out->flags = rtnl_link_get_flags(l);
	out->up = out->flags & IFF_UP;
	const char *kind = rtnl_link_get_type(l);
	snprintf(out->kind, sizeof(out->kind), "%s", kind ? kind : "");
	uint32_t nvf = 0;
	if (rtnl_link_get_num_vf(l, &nvf) == 0)
		out->num_vf = nvf;
}

int ky_link_get(struct ky_nl *nl, const char *name, struct ky_link *out, struct ky_error **err)
{
	if (!ky_ifname_valid(name))
		return ky_error_set(err, EINVAL, "invalid interface name \"%s\"", name ? name : "");
	_cleanup_(rtnl_link_putp) struct rtnl_link *l = NULL;
	/* The kernel puts IFLA_NUM_VF only in answers to RTEXT_FILTER_VF. */
	int r = ky_link_query(nl, 0, name, 1, &l, err);
	if (r < 0)
		return r;
	fill_link(l, out);
	return 0;
}

int ky_link_get_by_index(struct ky_nl *nl, int ifindex, struct ky_link *out, struct ky_error **err)
{
	if (ifindex <= 0)
		return ky_error_set(err, EINVAL, "invalid interface index %d", ifindex);
	_cleanup_(rtnl_link_putp) struct rtnl_link *l = NULL;
	int r = ky_link_query(nl, ifindex, NULL, 1, &l, err);
	if (r < 0)
		return r;
	fill_link(l, out);
	return 0;
}

struct mac_match {
	const uint8_t *mac;
	struct rtnl_link *found;
};

static void match_mac(struct nl_object *obj, void *arg)
{
	struct mac_match *m = arg;
	struct nl_addr *a = rtnl_link_get_addr((struct rtnl_link *)obj);
	if (m->found || !a || nl_addr_get_len(a) != 6 || memcmp(nl_addr_get_binary_addr(a), m->mac, 6) != 0)
		return;
	nl_object_get(obj);
	m->found = (struct rtnl_link *)obj;
}

static int parse_mac_match(struct nl_msg *msg, void *arg)
{
	nl_msg_parse(msg, match_mac, arg);
	return NL_OK;
}

int ky_link_find_by_mac(struct ky_nl *nl, const uint8_t mac[6], struct ky_link *out, struct ky_error **err)
{
	struct nl_msg *msg = nlmsg_alloc_simple(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP);
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
	if (!msg || nlmsg_append(msg, &ifi, sizeof(ifi), NLMSG_ALIGNTO) < 0) {
		nlmsg_free(msg);
		return ky_error_set(err, ENOMEM, "build link dump request");
	}
	struct mac_match m = { .mac = mac };
	int r = ky_nl_transact_cb(nl, msg, parse_mac_match, &m, err);
	_cleanup_(rtnl_link_putp) struct rtnl_link *l = m.found;
	if (r < 0)
		return ky_error_prefix(err, "list links");
	if (!l)
		return ky_error_set(err, ENODEV, "no link has MAC %02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1],
				    mac[2], mac[3], mac[4], mac[5]);
	fill_link(l, out);
	return 0;
}

/* Resolves name to an index and sends msg (with that index filled in). */
static int change_link(struct ky_nl *nl, const char *name, struct nl_msg *msg, const char *what,
		       struct ky_error **err)
{
	_cleanup_(nlmsg_freep) struct nl_msg *owned = msg;
	if (!msg)
		return ky_error_set(err, ENOMEM, "%s %s: build request", what, name ? name : "");
	struct ky_link link;
	int r = ky_link_get(nl, name, &link, err);
	if (r < 0)
		return ky_error_prefix(err, "%s", what);
	struct ifinfomsg *ifi = nlmsg_data(nlmsg_hdr(msg));
	ifi->ifi_index = link.ifindex;
	r = ky_nl_transact(nl, TAKE_PTR(owned), err);
	if (r < 0)
		return ky_error_prefix(err, "%s %s", what, name);
	return 0;
}

int ky_link_move_to_netns(struct ky_nl *nl, const char *name, int netns_fd, const char *new_name,
			  struct ky_error **err)
{
	if (new_name && !ky_ifname_valid(new_name))
		return ky_error_set(err, EINVAL, "move %s: invalid new interface name \"%s\"", name, new_name);
	struct nl_msg *msg = ky_setlink_msg(0, 0, 0);
	if (msg && (nla_put_u32(msg, IFLA_NET_NS_FD, (uint32_t)netns_fd) < 0 ||
		    (new_name && nla_put_string(msg, IFLA_IFNAME, new_name) < 0))) {
		nlmsg_free(msg);
		msg = NULL;
	}
	int r = change_link(nl, name, msg, "move to netns", err);
	struct ky_link still;
	if (r < 0 && new_name && ky_link_get(nl, name, &still, NULL) == -ENODEV)
		return ky_error_prefix(err, "%s moved to the target netns under its old name, not renamed to %s", name,
				       new_name);
	return r;
}

int ky_link_rename(struct ky_nl *nl, const char *name, const char *new_name, struct ky_error **err)
{
	if (!ky_ifname_valid(new_name))
		return ky_error_set(err, EINVAL, "rename %s: invalid new interface name \"%s\"", name,
				    new_name ? new_name : "");
	struct nl_msg *msg = ky_setlink_msg(0, 0, 0);
	if (msg && nla_put_string(msg, IFLA_IFNAME, new_name) < 0) {
		nlmsg_free(msg);
		msg = NULL;
	}
	return change_link(nl, name, msg, "rename", err);
}

int ky_link_set_mtu(struct ky_nl *nl, const char *name, unsigned mtu, struct ky_error **err)
{
	if (mtu < 68 || mtu > 65535)
		return ky_error_set(err, EINVAL, "set mtu of %s: %u is outside 68-65535", name, mtu);
	struct nl_msg *msg = ky_setlink_msg(0, 0, 0);
	if (msg && nla_put_u32(msg, IFLA_MTU, mtu) < 0) {
		nlmsg_free(msg);
		msg = NULL;
	}
	return change_link(nl, name, msg, "set mtu", err);
}

int ky_link_set_mac(struct ky_nl *nl, const char *name, const uint8_t mac[6], struct ky_error **err)
{
	struct nl_msg *msg = ky_setlink_msg(0, 0, 0);
	if (msg && nla_put(msg, IFLA_ADDRESS, 6, mac) < 0) {
		nlmsg_free(msg);
		msg = NULL;
	}
	return change_link(nl, name, msg, "set mac", err);
}

int ky_link_set_arp_notify(struct ky_nl *nl, int ifindex, bool on, struct ky_error **err)
{
	_cleanup_(nlmsg_freep) struct nl_msg *msg = ky_setlink_msg(ifindex, 0, 0);
	struct nlattr *spec, *inet, *conf;
	if (!msg || !(spec = nla_nest_start(msg, IFLA_AF_SPEC)) || !(inet = nla_nest_start(msg, AF_INET)) ||
	    !(conf = nla_nest_start(msg, IFLA_INET_CONF)) || nla_put_u32(msg, IPV4_DEVCONF_ARP_NOTIFY, on) < 0)
		return ky_error_set(err, ENOMEM, "set arp_notify: build request");
	nla_nest_end(msg, conf);
	nla_nest_end(msg, inet);
	nla_nest_end(msg, spec);
	int r = ky_nl_transact(nl, TAKE_PTR(msg), err);
	if (r < 0)
		return ky_error_prefix(err, "set arp_notify of link %d", ifindex);
	return 0;
}

int ky_link_set_up(struct ky_nl *nl, const char *name, bool up, struct ky_error **err)
{
	return change_link(nl, name, ky_setlink_msg(0, up ? IFF_UP : 0, IFF_UP), up ? "set up" : "set down", err);
}

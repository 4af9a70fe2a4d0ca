/* Links over raw rtnetlink (kyborg/net/link_watch.h): a table of the
 * namespace's links (index, name, carrier), filled by a dump and kept by
 * RTM_NEWLINK/RTM_DELLINK notifications on the loop; and the IPv4 default
 * route's interfaces, by a route dump. No libnl: the device plugin maps
 * nothing for this. */
#include "kyborg/net/link_watch.h"

#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "kyborg/base/error.h"
#include "kyborg/base/log.h"
#include "kyborg/base/strv.h"
#include "kyborg/loop/loop.h"

/* linux/if.h's, which clashes with net/if.h. */
#ifndef IFF_LOWER_UP
#define IFF_LOWER_UP 0x10000
#endif

#define DUMP_TIMEOUT_MS 5000
/* Room for the bursts a node makes (a pod's veth pair is two links). */
#define RCVBUF_BYTES (1 << 20)

struct link {
	int ifindex;
	char name[IFNAMSIZ];
	bool up;
};

struct change {
	char name[IFNAMSIZ];
	int before, now;
};

struct ky_link_watch {
	int fd;
	struct ky_loop_io *io;
	ky_link_watch_fn fn;
	void *userdata;
	struct link *links; /* sorted by name */
	size_t n, cap;
	uint32_t seq;
	/* Changes of one batch, reported once it is applied. */
	struct change *changes;
	size_t n_changes, cap_changes;
	bool oom;
};

/* ---- raw rtnetlink ---- */

static int rtnl_open(unsigned groups, int *out)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = groups };
	int size = RCVBUF_BYTES;
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	*out = fd;
	return 0;
}

static int rtnl_dump_request(int fd, uint16_t type, unsigned char family, uint32_t seq)
{
	struct {
		struct nlmsghdr h;
		union {
			struct ifinfomsg ifi;
			struct rtmsg rt;
		};
	} req = { .h = { .nlmsg_type = type, .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = seq } };
	size_t body = type == RTM_GETLINK ? sizeof(req.ifi) : sizeof(req.rt);
	req.h.nlmsg_len = (uint32_t)NLMSG_LENGTH(body);
	if (type == RTM_GETLINK)
		req.ifi.ifi_family = family;
	else
		req.rt.rtm_family = family;
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	ssize_t n = sendto(fd, &req, req.h.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel));
	return n < 0 ? -errno : 0;
}

typedef int (*rtnl_msg_fn)(void *arg, const struct nlmsghdr *h);

/* Reads what is queued on fd, handing each message to fn. With dump_seq
 * (non-zero), waits (poll, bounded) until that dump's DONE: 1 then. 0 when
 * the socket is drained, -errno on failure (-ENOBUFS: events were lost;
 * -EAGAIN: the dump was interrupted by a change and must be asked again). */
static int rtnl_read(int fd, uint32_t dump_seq, rtnl_msg_fn fn, void *arg)
{
	/* A buffer on the heap: 32 KiB as the kernel's dump messages need. */
	_cleanup_free_ char *buf = malloc(32768);
	uint64_t deadline = ky_loop_now_ms() + DUMP_TIMEOUT_MS;
	bool interrupted = false;
	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t len = recv(fd, buf, 32768, 0);
		if (len < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return -errno;
			if (!dump_seq)
				return 0;
			uint64_t now = ky_loop_now_ms();
			if (now >= deadline)
				return -ETIMEDOUT;
			struct pollfd p = { .fd = fd, .events = POLLIN };
			if (poll(&p, 1, (int)(deadline - now)) < 0 && errno != EINTR)
				return -errno;
			continue;
		}
		for (const struct nlmsghdr *h = (const struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)len);
		     h = NLMSG_NEXT(h, len)) {
			bool ours = dump_seq && h->nlmsg_seq == dump_seq;
			if (ours && (h->nlmsg_flags & NLM_F_DUMP_INTR))
				interrupted = true;
			if (h->nlmsg_type == NLMSG_DONE && ours)
				return interrupted ? -EAGAIN : 1;
			if (h->nlmsg_type == NLMSG_ERROR && ours) {
				const struct nlmsgerr *e = NLMSG_DATA(h);
				return e->error ? e->error : -EIO;
			}
			if (h->nlmsg_type < NLMSG_MIN_TYPE)
				continue;
			int r = fn(arg, h);
			if (r < 0)
				return r;
		}
	}
}

/* A dump on fd, retried while the kernel says it was interrupted. */
static int rtnl_dump(int fd, uint16_t type, unsigned char family, uint32_t *seq, rtnl_msg_fn fn, void *arg)
{
	for (int tries = 0; tries < 5; tries++) {
		int r = rtnl_dump_request(fd, type, family, ++*seq);
		if (r < 0)
			return r;
		r = rtnl_read(fd, *seq, fn, arg);
		if (r != -EAGAIN)
			return r < 0 ? r : 0;
	}
	return -EAGAIN;
}

/* ---- the table ---- */

static struct link *find_name(const struct ky_link_watch *w, const char *name, size_t *pos)
{
	size_t lo = 0, hi = w->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(w->links[mid].name, name);
		if (c == 0) {
			if (pos)
				*pos = mid;
			return &w->links[mid];
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (pos)
		*pos = lo;
	return NULL;
}

static struct link *find_index(const struct ky_link_watch *w, int ifindex)
{
	for (size_t i = 0; i < w->n; i++)
		if (w->links[i].ifindex == ifindex)
			return &w->links[i];
	return NULL;
}

static void note(struct ky_link_watch *w, const char *name, int before, int now)
{
	if (before == now)
		return;
	for (size_t i = 0; i < w->n_changes; i++)
		if (strcmp(w->changes[i].name, name) == 0) {
			w->changes[i].now = now; /* before stays the batch's first */
			return;
		}
	if (w->n_changes == w->cap_changes) {
		size_t cap = w->cap_changes ? w->cap_changes * 2 : 8;
		struct change *c = realloc(w->changes, cap * sizeof(*c));
		if (!c) {
			w->oom = true;
			return;
		}
		w->changes = c;
		w->cap_changes = cap;
	}
	struct change *c = &w->changes[w->n_changes++];
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->before = before;
	c->now = now;
}

static void remove_at(struct ky_link_watch *w, struct link *l)
{
	size_t i = (size_t)(l - w->links);
	note(w, l->name, l->up, KY_LINK_UNKNOWN);
	memmove(&w->links[i], &w->links[i + 1], (w->n - i - 1) * sizeof(*l));
	w->n--;
}

static int insert(struct ky_link_watch *w, int ifindex, const char *name, bool up)
{
	size_t pos;
	struct link *same = find_name(w, name, &pos);
	if (same) { /* a name reused by another index: the old link is gone */
		remove_at(w, same);
		find_name(w, name, &pos);
	}
	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 32;
		struct link *l = realloc(w->links, cap * sizeof(*l));
		if (!l)
			return -ENOMEM;
		w->links = l;
		w->cap = cap;
	}
	memmove(&w->links[pos + 1], &w->links[pos], (w->n - pos) * sizeof(*w->links));
	w->links[pos] = (struct link){ .ifindex = ifindex, .up = up };
	snprintf(w->links[pos].name, IFNAMSIZ, "%s", name);
	w->n++;
	/* Merged with a removal of the same name in this batch, if any. */
	note(w, name, KY_LINK_UNKNOWN, up);
	return 0;
}

static int on_link(void *arg, const struct nlmsghdr *h)
{
	struct ky_link_watch *w = arg;
	if (h->nlmsg_type != RTM_NEWLINK && h->nlmsg_type != RTM_DELLINK)
		return 0;
	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct ifinfomsg)))
		return 0;
	const struct ifinfomsg *ifi = NLMSG_DATA(h);
	const char *name = NULL;
	int alen = (int)IFLA_PAYLOAD(h);
	for (const struct rtattr *a = IFLA_RTA(ifi); RTA_OK(a, alen); a = RTA_NEXT(a, alen))
		if (a->rta_type == IFLA_IFNAME && RTA_PAYLOAD(a) > 1 && memchr(RTA_DATA(a), '\0', RTA_PAYLOAD(a)))
			name = RTA_DATA(a);
	struct link *l = find_index(w, ifi->ifi_index);
	if (h->nlmsg_type == RTM_DELLINK) {
		if (l)
			remove_at(w, l);
		return 0;
	}
	/* IFF_LOWER_UP: the kernel sets it only for a link that is running
	 * (administratively up) and has its carrier. */
	bool up = (ifi->ifi_flags & IFF_LOWER_UP) != 0;
	if (!name || strlen(name) >= IFNAMSIZ)
		return 0;
	if (l && strcmp(l->name, name) == 0) {
		note(w, name, l->up, up);
		l->up = up;
		return 0;
	}
	if (l) /* renamed */
		remove_at(w, l);
	return insert(w, ifi->ifi_index, name, up);
}

static void report(struct ky_link_watch *w)
{
	/* The callback may look links up: the batch is applied first. */
	size_t n = w->n_changes;
	w->n_changes = 0;
	for (size_t i = 0; i < n; i++) {
		struct change c = w->changes[i];
		if (c.before != c.now) {
			ky_debug("link-changed", "ifname=%s before=%d now=%d", c.name, c.before, c.now);
			w->fn(w->userdata, c.name, c.before, c.now);
		}
	}
}

/* Every link again, after events were lost: links the dump does not show
 * are gone. */
static int resync(struct ky_link_watch *w)
{
	struct link *old = w->links;
	size_t n_old = w->n;
	w->links = NULL;
	w->n = w->cap = 0;
	int r = rtnl_dump(w->fd, RTM_GETLINK, AF_UNSPEC, &w->seq, on_link, w);
	if (r < 0) {
		free(w->links);
		w->links = old;
		w->n = w->cap = n_old;
		w->n_changes = 0;
		return r;
	}
	/* The dump noted every link as new: compare with what was known. */
	for (size_t i = 0; i < w->n_changes; i++) {
		struct change *c = &w->changes[i];
		for (size_t k = 0; k < n_old; k++)
			if (strcmp(old[k].name, c->name) == 0)
				c->before = old[k].up;
	}
	for (size_t k = 0; k < n_old; k++)
		if (!find_name(w, old[k].name, NULL))
			note(w, old[k].name, old[k].up, KY_LINK_UNKNOWN);
	free(old);
	return 0;
}

static void on_readable(struct ky_loop_io *io, int fd, uint32_t events, void *userdata)
{
	struct ky_link_watch *w = userdata;
	(void)io;
	(void)events;
	int r = rtnl_read(fd, 0, on_link, w);
	if (r == -ENOBUFS) {
		ky_warn("link-events-lost", "resync=dump");
		r = resync(w);
	}
	if (r < 0 || w->oom)
		ky_warn("link-watch", "error=%s", w->oom ? "out of memory" : strerror(-r));
	w->oom = false;
	report(w);
}

int ky_link_watch_new(struct ky_loop *loop, ky_link_watch_fn fn, void *userdata, struct ky_link_watch **out,
		      struct ky_error **err)
{
	_cleanup_(ky_link_watch_freep) struct ky_link_watch *w = calloc(1, sizeof(*w));
	int r;
	if (!w)
		return ky_error_set(err, ENOMEM, "out of memory");
	w->fd = -1;
	w->fn = fn;
	w->userdata = userdata;
	w->seq = (uint32_t)time(NULL);
	if ((r = rtnl_open(RTMGRP_LINK, &w->fd)) < 0)
		return ky_error_set(err, -r, "rtnetlink socket for link events: %s", strerror(-r));
	if ((r = rtnl_dump(w->fd, RTM_GETLINK, AF_UNSPEC, &w->seq, on_link, w)) < 0 || w->oom)
		return ky_error_set(err, w->oom ? ENOMEM : -r, "list links: %s", strerror(w->oom ? ENOMEM : -r));
	w->n_changes = 0; /* the first look is no change */
	if ((r = ky_loop_io_add(loop, w->fd, KY_LOOP_READ, on_readable, w, &w->io, err)) < 0)
		return r;
	*out = TAKE_PTR(w);
	return 0;
}

void ky_link_watch_free(struct ky_link_watch *w)
{
	if (!w)
		return;
	ky_loop_io_free(w->io);
	if (w->fd >= 0)
		close(w->fd);
	free(w->links);
	free(w->changes);
	free(w);
}

int ky_link_watch_carrier(const struct ky_link_watch *w, const char *ifname)
{
	const struct link *l = ifname ? find_name(w, ifname, NULL) : NULL;
	return l ? l->up : KY_LINK_UNKNOWN;
}

int ky_link_watch_carrier_fn(void *userdata, const char *ifname)
{
	return ky_link_watch_carrier(userdata, ifname);
}

/* ---- the default route ---- */

struct route_dump {
	int *oifs;
	size_t n, cap;
};

static int add_oif(struct route_dump *d, int oif)
{
	for (size_t i = 0; i < d->n; i++)
		if (d->oifs[i] == oif)
			return 0;
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 4;
		int *v = realloc(d->oifs, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		d->oifs = v;
		d->cap = cap;
	}
	d->oifs[d->n++] = oif;
	return 0;
}

static int on_route(void *arg, const struct nlmsghdr *h)
{
	struct route_dump *d = arg;
	if (h->nlmsg_type != RTM_NEWROUTE || h->nlmsg_len < NLMSG_LENGTH(sizeof(struct rtmsg)))
		return 0;
	const struct rtmsg *rt = NLMSG_DATA(h);
	if (rt->rtm_family != AF_INET || rt->rtm_dst_len != 0 || rt->rtm_type != RTN_UNICAST)
		return 0;
	uint32_t table = rt->rtm_table;
	int alen = (int)RTM_PAYLOAD(h), r;
	for (const struct rtattr *a = RTM_RTA(rt); RTA_OK(a, alen); a = RTA_NEXT(a, alen))
		if (a->rta_type == RTA_TABLE && RTA_PAYLOAD(a) >= 4)
			memcpy(&table, RTA_DATA(a), 4);
	if (table != RT_TABLE_MAIN)
		return 0;
	alen = (int)RTM_PAYLOAD(h);
	for (const struct rtattr *a = RTM_RTA(rt); RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
		if (a->rta_type == RTA_OIF && RTA_PAYLOAD(a) >= 4) {
			int oif;
			memcpy(&oif, RTA_DATA(a), 4);
			if ((r = add_oif(d, oif)) < 0)
				return r;
		} else if (a->rta_type == RTA_MULTIPATH) {
			const struct rtnexthop *nh = RTA_DATA(a);
			size_t left = RTA_PAYLOAD(a);
			while (left >= sizeof(*nh) && nh->rtnh_len >= sizeof(*nh) && nh->rtnh_len <= left) {
				if ((r = add_oif(d, nh->rtnh_ifindex)) < 0)
					return r;
				size_t step = (size_t)RTNH_ALIGN(nh->rtnh_len);
				left -= step < left ? step : left;
				nh = RTNH_NEXT(nh);
			}
		}
	}
	return 0;
}

int ky_link_default_route(char ***ifnames, size_t *n, struct ky_error **err)
{
	struct route_dump d = { 0 };
	uint32_t seq = (uint32_t)time(NULL);
	int fd, r = rtnl_open(0, &fd);
	if (r < 0)
		return ky_error_set(err, -r, "rtnetlink socket: %s", strerror(-r));
	r = rtnl_dump(fd, RTM_GETROUTE, AF_INET, &seq, on_route, &d);
	close(fd);
	if (r < 0) {
		free(d.oifs);
		return ky_error_set(err, -r, "list IPv4 routes: %s", strerror(-r));
	}
	char **v = NULL;
	size_t count = 0;
	for (size_t i = 0; i < d.n; i++) {
		char name[IFNAMSIZ];
		if (!if_indextoname((unsigned)d.oifs[i], name))
			continue; /* gone meanwhile */
		if (ky_strv_append(&v, &count, "%s", name) < 0) {
			free(d.oifs);
			ky_strv_free(v);
			return ky_error_set(err, ENOMEM, "out of memory");
		}
	}
	free(d.oifs);
	if (!v && !(v = calloc(1, sizeof(*v))))
		return ky_error_set(err, ENOMEM, "out of memory");
	*ifnames = v;
	*n = count;
	return 0;
}

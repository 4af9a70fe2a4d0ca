/* Network fixtures over iproute2; see kytest_net.h. */
#include "kytest_net.h"
#include "kytest.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>

int kyt_private_netns(void)
{
	if (unshare(CLONE_NEWNET) < 0)
		return -errno;
	/* Loopback comes up so tests may use it like any namespace's. */
	return kyt_run(NULL, "ip", "link", "set", "lo", "up", NULL) == 0 ? 0 : -EIO;
}

int kyt_netns_add(char *name, size_t size)
{
	kyt_unique_name(name, size, "kyns");
	return kyt_run(NULL, "ip", "netns", "add", name, NULL) == 0 ? 0 : -EIO;
}

void kyt_netns_del(const char *name)
{
	if (name && *name)
		kyt_run(NULL, "ip", "netns", "del", name, NULL);
}

const char *kyt_netns_path(const char *name, char *buf, size_t size)
{
	snprintf(buf, size, "/var/run/netns/%s", name);
	return buf;
}

int kyt_veth_add(char *a, char *b, size_t size)
{
	kyt_unique_name(a, size, "kyva");
	kyt_unique_name(b, size, "kyvb");
	if (kyt_run(NULL, "ip", "link", "add", a, "type", "veth", "peer", "name", b, NULL) != 0)
		return -EIO;
	/* The far end up, as a switch port is: the near end has carrier as
	 * soon as it goes up (the CNI plugin waits for carrier to announce
	 * a pod's addresses). */
	return kyt_run(NULL, "ip", "link", "set", b, "up", NULL) == 0 ? 0 : -EIO;
}

bool kyt_ip_link(const char *netns, const char *ifname, struct kyt_ip_link *out)
{
	char *json = NULL;
	int r;
	if (netns)
		r = kyt_run(&json, "ip", "-j", "-n", netns, "link", "show", "dev", ifname, NULL);
	else
		r = kyt_run(&json, "ip", "-j", "link", "show", "dev", ifname, NULL);
	if (r != 0 || !json) {
		free(json);
		return false;
	}
	cJSON *doc = cJSON_Parse(json);
	free(json);
	cJSON *l = cJSON_GetArrayItem(doc, 0);
	bool ok = l != NULL;
	if (ok) {
		memset(out, 0, sizeof(*out));
		out->ifindex = cJSON_GetObjectItem(l, "ifindex") ? cJSON_GetObjectItem(l, "ifindex")->valueint : 0;
		out->mtu = cJSON_GetObjectItem(l, "mtu") ? (unsigned)cJSON_GetObjectItem(l, "mtu")->valueint : 0;
		const cJSON *addr = cJSON_GetObjectItem(l, "address");
		if (cJSON_IsString(addr))
			snprintf(out->address, sizeof(out->address), "%s", addr->valuestring);
		const cJSON *flags = cJSON_GetObjectItem(l, "flags"), *f;
		cJSON_ArrayForEach(f, flags)
			if (cJSON_IsString(f) && strcmp(f->valuestring, "UP") == 0)
				out->up = true;
	}
	cJSON_Delete(doc);
	return ok;
}

int kyt_capture_open(const char *ifname)
{
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	if (fd < 0)
		return -errno;
	int one = 1;
	struct sockaddr_ll sa = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL),
				  .sll_ifindex = (int)if_nametoindex(ifname) };
	if (!sa.sll_ifindex || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)) < 0) {
		int e = errno ? errno : ENODEV;
		close(fd);
		return -e;
	}
	return fd;
}

int kyt_capture_next(int fd, unsigned char *buf, size_t size, int timeout_ms, struct timespec *at)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int r = poll(&p, 1, timeout_ms);
	if (r <= 0)
		return r < 0 ? -errno : 0;
	char ctl[CMSG_SPACE(sizeof(struct timespec))];
	struct iovec iov = { .iov_base = buf, .iov_len = size };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl) };
	ssize_t n = recvmsg(fd, &m, 0);
	if (n < 0)
		return -errno;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c && at; c = CMSG_NXTHDR(&m, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS)
			memcpy(at, CMSG_DATA(c), sizeof(*at));
	return (int)n;
}

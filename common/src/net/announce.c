/* Gratuitous ARP and unsolicited neighbour advertisements: the packets,
 * built by hand (pure), and their sending through a packet socket in the
 * caller's netns once the link runs. */
#include "kyborg/net/announce.h"
#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

void ky_announce_arp(const uint8_t mac[6], const uint8_t ip[4], uint8_t out[KY_ANNOUNCE_ARP_LEN])
{
	put16(out, 1);            /* hardware: Ethernet */
	put16(out + 2, ETH_P_IP); /* protocol: IPv4 */
	out[4] = 6;
	out[5] = 4;
	put16(out + 6, 1);        /* a request, as sriov-cni and arping -U send it */
	memcpy(out + 8, mac, 6);
	memcpy(out + 14, ip, 4);
	memset(out + 18, 0xff, 6);
	memcpy(out + 24, ip, 4);
}

static const uint8_t all_nodes[16] = { 0xff, 0x02, [15] = 0x01 };

void ky_announce_na(const uint8_t mac[6], const uint8_t ip[16], uint8_t out[KY_ANNOUNCE_NA_LEN])
{
	memset(out, 0, KY_ANNOUNCE_NA_LEN);
	out[0] = 0x60;            /* version 6 */
	put16(out + 4, 32);       /* payload length */
	out[6] = IPPROTO_ICMPV6;
	out[7] = 255;             /* RFC 4861 7.1.2: a receiver drops any other hop limit */
	memcpy(out + 8, ip, 16);
	memcpy(out + 24, all_nodes, 16);
	uint8_t *icmp = out + 40;
	icmp[0] = 136;            /* neighbour advertisement */
	icmp[4] = 0x20;           /* override, not solicited (7.2.6) */
	memcpy(icmp + 8, ip, 16);
	icmp[24] = 2;             /* target link-layer address option, 8 bytes */
	icmp[25] = 1;
	memcpy(icmp + 26, mac, 6);
	/* The checksum over the pseudo-header (source, destination, length,
	 * next header) and the message. */
	uint32_t sum = 0;
	for (int i = 8; i < 40; i += 2)
		sum += (uint32_t)(out[i] << 8 | out[i + 1]);
	sum += 32 + IPPROTO_ICMPV6;
	for (int i = 0; i < 32; i += 2)
		sum += (uint32_t)(icmp[i] << 8 | icmp[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	put16(icmp + 2, (uint16_t)~sum);
}

static long now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000L + t.tv_nsec / 1000000L;
}

/* Whether the link runs: up, with carrier, its queue given to it by the
 * kernel's link watch, which the IFF_RUNNING flag reports. */
static int link_runs(int fd, int ifindex)
{
	struct ifreq ifr = { .ifr_ifindex = ifindex };
	if (ioctl(fd, SIOCGIFNAME, &ifr) < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		return -errno;
	return (ifr.ifr_flags & (IFF_UP | IFF_RUNNING)) == (IFF_UP | IFF_RUNNING);
}

/* Link events wake the wait: the kernel tells RTNLGRP_LINK when the link
 * watch has run, so there is no polling and no sleep. */
static int wait_running(int fd, int ifindex, int timeout_ms)
{
	int r = link_runs(fd, ifindex);
	if (r != 0 || timeout_ms <= 0)
		return r;
	_cleanup_close_ int nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = RTMGRP_LINK };
	if (nl < 0 || bind(nl, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	long deadline = now_ms() + timeout_ms;
	while ((r = link_runs(fd, ifindex)) == 0) {
		long left = deadline - now_ms();
		if (left <= 0)
			return 0;
		struct pollfd p = { .fd = nl, .events = POLLIN };
		if (poll(&p, 1, (int)left) < 0 && errno != EINTR)
			return -errno;
		char buf[8192];
		while (recv(nl, buf, sizeof(buf), 0) > 0)
			;
	}
	return r;
}

int ky_announce_open(struct ky_error **err)
{
	/* Protocol 0: the socket sends and receives nothing. */
	int fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return ky_error_set(err, errno, "packet socket: %s", strerror(errno));
	return fd;
}

int ky_announce_send(int fd, int ifindex, const uint8_t mac[6], const struct ky_ip *ips, size_t n, int carrier_ms,
		     struct ky_error **err)
{
	int r = wait_running(fd, ifindex, carrier_ms);
	if (r < 0)
		return ky_error_set(err, -r, "link %d: %s", ifindex, strerror(-r));
	if (r == 0)
		return 0;
	int first = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t pkt[KY_ANNOUNCE_NA_LEN];
		size_t len;
		struct sockaddr_ll to = { .sll_family = AF_PACKET, .sll_ifindex = ifindex, .sll_halen = 6 };
		if (ips[i].family == AF_INET) {
			ky_announce_arp(mac, ips[i].addr, pkt);
			len = KY_ANNOUNCE_ARP_LEN;
			to.sll_protocol = htons(ETH_P_ARP);
			memset(to.sll_addr, 0xff, 6);
		} else if (ips[i].family == AF_INET6) {
			ky_announce_na(mac, ips[i].addr, pkt);
			len = KY_ANNOUNCE_NA_LEN;
			to.sll_protocol = htons(ETH_P_IPV6);
			/* ff02::1's multicast MAC (RFC 2464 section 7). */
			memcpy(to.sll_addr, (const uint8_t[]){ 0x33, 0x33, 0, 0, 0, 1 }, 6);
		} else {
			continue;
		}
		if (sendto(fd, pkt, len, 0, (struct sockaddr *)&to, sizeof(to)) < 0 && !first) {
			char ip[KY_IP_STRLEN];
			first = ky_error_set(err, errno, "announce %s on link %d: %s", ky_format_ip(&ips[i], ip), ifindex,
					     strerror(errno));
		}
	}
	return first;
}

/* Network fixtures built with iproute2, the independent peer: throwaway
 * namespaces and veth pairs, and reading links back as `ip -j` reports them. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* Moves the calling test process into a fresh, unnamed network namespace:
 * whatever the test creates there vanishes with the process, even when an
 * assertion fails. Returns 0 or -errno. */
int kyt_private_netns(void);

/* `ip netns add NAME` with a unique name written into name (size >= 16). */
int kyt_netns_add(char *name, size_t size);
void kyt_netns_del(const char *name);
/* "/var/run/netns/NAME" into buf. */
const char *kyt_netns_path(const char *name, char *buf, size_t size);

/* Creates a veth pair with unique names in the current netns, b up, a down. */
int kyt_veth_add(char *a, char *b, size_t size);

/* Fields of `ip -j [-n NETNS] link show dev IFNAME`; false when absent. */
struct kyt_ip_link {
	int ifindex;
	unsigned mtu;
	char address[18];
	bool up;
};
bool kyt_ip_link(const char *netns, const char *ifname, struct kyt_ip_link *out);

/* A capture of every frame a link of the current netns receives (a packet
 * socket, ETH_P_ALL, with the kernel's receive timestamps): the
 * independent eye on what a plugin sends. Returns the socket or -errno. */
int kyt_capture_open(const char *ifname);
/* The next frame (Ethernet header included) within timeout_ms, its length
 * (0 when none came in time, -errno on error); *at its arrival
 * (CLOCK_REALTIME), when at is not NULL. */
int kyt_capture_next(int fd, unsigned char *buf, size_t size, int timeout_ms, struct timespec *at);

/* Network fixtures built with iproute2, the independent peer: throwaway
 * namespaces and veth pairs, and reading links back as `ip -j` reports them. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Moves the calling test process into a fresh, unnamed network namespace:
 * whatever the test creates there vanishes with the process, even when an
 * assertion fails. Returns 0 or -errno. */
int kyt_private_netns(void);

/* `ip netns add NAME` with a unique name written into name (size >= 16). */
int kyt_netns_add(char *name, size_t size);
void kyt_netns_del(const char *name);
/* "/var/run/netns/NAME" into buf. */
const char *kyt_netns_path(const char *name, char *buf, size_t size);

/* Creates a veth pair with unique names in the current netns. */
int kyt_veth_add(char *a, char *b, size_t size);

/* Fields of `ip -j [-n NETNS] link show dev IFNAME`; false when absent. */
struct kyt_ip_link {
	int ifindex;
	unsigned mtu;
	char address[18];
	bool up;
};
bool kyt_ip_link(const char *netns, const char *ifname, struct kyt_ip_link *out);

/* Network links over rtnetlink (libnl-route): find a link by name, index or
 * PCI address; move it between namespaces; rename; MTU, MAC, up/down. */
#pragma once

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

#include "kyborg/pci/pci.h"

struct ky_error;
struct ky_nl;
struct nl_msg;

/* A route netlink socket bound to the network namespace the calling thread
 * is in when it is opened. */
int ky_nl_open(struct ky_nl **out, struct ky_error **err);
void ky_nl_close(struct ky_nl *nl);
static inline void ky_nl_closep(struct ky_nl **nl)
{
	if (*nl)
		ky_nl_close(*nl);
}

/* Sends a request and waits for the kernel's answer. Kernel errors come back
 * as their errno with the kernel's extended-ack text where it gives one.
 * Takes ownership of msg. */
int ky_nl_transact(struct ky_nl *nl, struct nl_msg *msg, struct ky_error **err);

struct ky_link {
	int ifindex;
	char name[IFNAMSIZ];
	uint8_t mac[6];
	bool has_mac;       /* an Ethernet-sized hardware address */
	unsigned mtu;
	unsigned flags;     /* IFF_* */
	bool up;            /* IFF_UP is set */
	char kind[16];      /* "veth", "" for a physical device */
	unsigned num_vf;    /* SR-IOV VFs the device reports */
};

/* -ENODEV with the name (index, address) in the message when absent. */
int ky_link_get(struct ky_nl *nl, const char *name, struct ky_link *out, struct ky_error **err);
int ky_link_get_by_index(struct ky_nl *nl, int ifindex, struct ky_link *out, struct ky_error **err);
/* The first link, in the kernel's order (ifindex), whose MAC is mac, as
 * host-device's hwaddr chooses one: -ENODEV when none has it. */
int ky_link_find_by_mac(struct ky_nl *nl, const uint8_t mac[6], struct ky_link *out, struct ky_error **err);
/* The netdev of the PCI function `pci_addr` (found through sysfs) in the
 * caller's netns. -ENODEV when the function has no netdev here. */
int ky_link_find_by_pci(struct ky_nl *nl, const char *pci_addr, struct ky_link *out, struct ky_error **err);

/* The PCI address of a link's device (sysfs), confirmed by finding the
 * link back from it: 0, or -ENODEV for a link without one (a veth, a
 * device on another bus, a name sysfs shows for another netns). */
int ky_link_pci_addr(struct ky_nl *nl, const struct ky_link *link, char out[KY_PCI_ADDR_LEN]);

/* Moves the link into the netns `netns_fd`. With new_name, the same request
 * renames it: the kernel moves it under new_name when its current name is
 * taken in the target, and otherwise moves it and renames it there. When
 * that rename fails the link has moved under its old name: the error says
 * so and the code is -EEXIST. */
int ky_link_move_to_netns(struct ky_nl *nl, const char *name, int netns_fd, const char *new_name,
			  struct ky_error **err);
/* Older kernels rename only a link that is down (-EBUSY). */
int ky_link_rename(struct ky_nl *nl, const char *name, const char *new_name, struct ky_error **err);
int ky_link_set_mtu(struct ky_nl *nl, const char *name, unsigned mtu, struct ky_error **err);
int ky_link_set_mac(struct ky_nl *nl, const char *name, const uint8_t mac[6], struct ky_error **err);
int ky_link_set_up(struct ky_nl *nl, const char *name, bool up, struct ky_error **err);
/* The link's IPv4 arp_notify (the kernel's gratuitous ARP when the link
 * comes up or changes its MAC), over rtnetlink (IFLA_INET_CONF): no
 * /proc/sys, no entering the link's netns. */
int ky_link_set_arp_notify(struct ky_nl *nl, int ifindex, bool on, struct ky_error **err);

/* Validates an interface name as the kernel would: 1..15 bytes, not "." or
 * "..", no '/', ':' or whitespace; and no '%', which the kernel expands as
 * a template when it names a link. Pure. */
bool ky_ifname_valid(const char *name);

/* Telling the link that an address has a new owner: a gratuitous ARP for an
 * IPv4 address, an unsolicited neighbour advertisement for an IPv6 one, as
 * sriov-cni sends them after IPAM, so that a switch and the neighbours'
 * caches learn the pod's MAC at once when an address is reused. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "kyborg/base/inet.h"

struct ky_error;

#define KY_ANNOUNCE_ARP_LEN 28      /* the ARP message, after the Ethernet header */
#define KY_ANNOUNCE_NA_LEN (40 + 32) /* IPv6 header, ICMPv6 NA with its target link-layer option */

/* The gratuitous ARP (RFC 5944 section 4.6): a request whose sender and
 * target protocol addresses are both ip, the sender hardware address mac,
 * the target hardware address broadcast. Pure. */
void ky_announce_arp(const uint8_t mac[6], const uint8_t ip[4], uint8_t out[KY_ANNOUNCE_ARP_LEN]);

/* The unsolicited neighbour advertisement (RFC 4861 section 7.2.6) as an
 * IPv6 packet: from ip to all nodes (ff02::1), hop limit 255, the override
 * flag set and solicited clear, target ip, its target link-layer address
 * option mac, and the ICMPv6 checksum. Pure. */
void ky_announce_na(const uint8_t mac[6], const uint8_t ip[16], uint8_t out[KY_ANNOUNCE_NA_LEN]);

/* A packet socket that sends, and receives nothing, in the netns the
 * calling thread is in (open it there with ky_netns_run_fd): the socket
 * or -errno. Closing it waits for an RCU grace period (the kernel's
 * packet_release calls synchronize_net(), milliseconds on a busy node): a
 * caller in a hurry closes it where that wait overlaps other work. */
int ky_announce_open(struct ky_error **err);

/* Through fd (ky_announce_open, in the link's netns): waits up to
 * carrier_ms for the link to run (IFF_RUNNING: a link without carrier
 * drops what it is given), then sends one announcement per address on
 * ifindex. Every address is tried; the first failure is returned (0 when
 * the link never ran: nothing to tell). */
int ky_announce_send(int fd, int ifindex, const uint8_t mac[6], const struct ky_ip *ips, size_t n, int carrier_ms,
		     struct ky_error **err);

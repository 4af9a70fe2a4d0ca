/* IP addresses and routes on a link over rtnetlink: what a CNI plugin
 * configures in the pod from its IPAM result, and reads back for CHECK. */
#pragma once

#include <stddef.h>

#include "kyborg/base/inet.h"

struct ky_error;
struct ky_nl;

/* Adds addr (host bits set: "10.1.0.5/24") to the link. An address already
 * there is not an error. */
int ky_addr_add(struct ky_nl *nl, int ifindex, const struct ky_cidr *addr, struct ky_error **err);

/* The addresses of the link (both families, scope global and link for
 * IPv6 included), malloc'd into *out. */
int ky_addr_list(struct ky_nl *nl, int ifindex, struct ky_cidr **out, size_t *n, struct ky_error **err);

/* Adds a route to dst (a network) through gw (NULL: on-link) out of the
 * link, in the main table. A route already there is not an error. */
int ky_route_add(struct ky_nl *nl, int ifindex, const struct ky_cidr *dst, const struct ky_ip *gw,
		 struct ky_error **err);

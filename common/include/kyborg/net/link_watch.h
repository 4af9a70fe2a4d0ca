/* The node's links as rtnetlink reports them, without libnl: an rtnetlink
 * socket subscribed to RTNLGRP_LINK and watched by the event loop, keeping
 * each link's carrier (IFF_LOWER_UP: administratively up with a carrier)
 * and telling its owner the moment one changes; and which links carry the
 * IPv4 default route. The device plugin and the DRA driver take a VF's
 * health from its PF's carrier through it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "kyborg/base/cleanup.h"

struct ky_error;
struct ky_loop;
struct ky_link_watch;

/* A link's carrier: KY_LINK_UP, KY_LINK_DOWN, or KY_LINK_UNKNOWN for a
 * name this network namespace does not have (gone, or moved into a pod). */
enum { KY_LINK_UNKNOWN = -1, KY_LINK_DOWN = 0, KY_LINK_UP = 1 };

/* A link appeared, went, was renamed (the old name goes, the new one
 * comes), or its carrier changed: before and now are KY_LINK_*. Called
 * from the loop, after the whole batch the kernel sent is applied. */
typedef void (*ky_link_watch_fn)(void *userdata, const char *ifname, int before, int now);

/* Subscribes, then reads every link once (a dump) before returning, so the
 * carrier of each is known at once. Events lost to a full socket buffer
 * (ENOBUFS) are made good by reading every link again. */
int ky_link_watch_new(struct ky_loop *loop, ky_link_watch_fn fn, void *userdata, struct ky_link_watch **out,
		      struct ky_error **err);
void ky_link_watch_free(struct ky_link_watch *w);
KY_DEFINE_CLEANUP(struct ky_link_watch, ky_link_watch_free)
/* KY_LINK_* of the link named ifname. */
int ky_link_watch_carrier(const struct ky_link_watch *w, const char *ifname);
/* For callers that take a function pointer: userdata is the watch. */
int ky_link_watch_carrier_fn(void *userdata, const char *ifname);

/* The interfaces the IPv4 default route of the main table leaves by (its
 * nexthops too), as a NULL-terminated vector (kyborg/base/strv.h). */
int ky_link_default_route(char ***ifnames, size_t *n, struct ky_error **err);

/* Kubernetes resource quantities ("80Gi", "1k", "500m", "1e3") read as
 * exact numbers (pure), so that a capacity the API server gave back in its
 * canonical form (1024Mi is stored as 1Gi, 1000 as 1k) compares equal to the
 * one the driver sent, and an unchanged slice is never updated again. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* A quantity in nano-units (value * 10^9), exact for everything a device
 * publishes: up to about 10^20 units (Ei with a short mantissa). */
typedef __int128 dra_quantity;

/* Parses s as resource.ParseQuantity does: <sign><digits>[.<digits>] then
 * one suffix (n u m "" k M G T P E, Ki Mi Gi Ti Pi Ei, or e<exp>/E<exp>).
 * Finer than nano rounds up, as the API server does. 0, or -EINVAL for
 * anything else (empty, two suffixes, a bare "."), -ERANGE when it does not
 * fit. */
int dra_quantity_parse(const char *s, dra_quantity *out);

/* The value as a decimal integer of nano-units ("80000000000" for "80"),
 * what digests are made of: equal quantities give equal strings. buf of 48
 * bytes always suffices. Returns buf. */
char *dra_quantity_nano_string(dra_quantity q, char *buf, size_t size);

/* Whether two quantity strings name the same amount; an unparseable one
 * equals only the identical string. */
bool dra_quantity_equal(const char *a, const char *b);

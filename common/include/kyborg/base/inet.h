/* MAC, IP and CIDR addresses as configs and records write them: pure
 * parsers and formatters, no JSON and no kernel. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#define KY_MAC_STRLEN 18  /* "aa:bb:cc:dd:ee:ff" and the NUL */
#define KY_IP_STRLEN 46   /* INET6_ADDRSTRLEN */
#define KY_CIDR_STRLEN 50 /* an address, "/128" and the NUL */

struct ky_ip {
	int family;       /* AF_INET or AF_INET6 */
	uint8_t addr[16]; /* network order; AF_INET uses the first 4 bytes */
};

struct ky_cidr {
	struct ky_ip ip;  /* as written: host bits may be set */
	unsigned prefix;  /* 0-32 or 0-128 */
};

/* Six hex pairs separated by ':', any case. 0 or -EINVAL. */
int ky_parse_mac(const char *s, uint8_t mac[6]);
/* Lower case; returns buf. */
char *ky_format_mac(const uint8_t mac[6], char buf[KY_MAC_STRLEN]);

/* Dotted-quad IPv4 (no leading zeros) or IPv6 (no zone). 0 or -EINVAL. */
int ky_parse_ip(const char *s, struct ky_ip *out);
char *ky_format_ip(const struct ky_ip *ip, char buf[KY_IP_STRLEN]);

/* "addr/len". Host bits may be set ("10.1.2.3/24" is an address on a
 * subnet); ky_cidr_is_network() tells. 0 or -EINVAL. */
int ky_parse_cidr(const char *s, struct ky_cidr *out);
/* Why s is not a CIDR ("missing /prefix", "bad address", ...), or NULL with
 * *out filled. */
const char *ky_cidr_problem(const char *s, struct ky_cidr *out);
char *ky_format_cidr(const struct ky_cidr *c, char buf[KY_CIDR_STRLEN]);
/* The same prefix with the host bits cleared. */
void ky_cidr_network(const struct ky_cidr *c, struct ky_cidr *out);
bool ky_cidr_is_network(const struct ky_cidr *c);
bool ky_cidr_contains(const struct ky_cidr *c, const struct ky_ip *ip);

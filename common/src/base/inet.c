/* The address parsers and formatters of kyborg/base/inet.h. */
#include "kyborg/base/inet.h"
#include "kyborg/base/hex.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ky_parse_mac(const char *s, uint8_t mac[6])
{
	uint8_t m[6];
	if (!s || strnlen(s, KY_MAC_STRLEN) != KY_MAC_STRLEN - 1)
		return -EINVAL;
	for (int i = 0; i < 6; i++) {
		const char *p = s + 3 * i;
		int hi = ky_hex_digit(p[0]), lo = ky_hex_digit(p[1]);
		if (hi < 0 || lo < 0 || (i < 5 && p[2] != ':'))
			return -EINVAL;
		m[i] = (uint8_t)(hi << 4 | lo);
	}
	memcpy(mac, m, sizeof(m));
	return 0;
}

char *ky_format_mac(const uint8_t mac[6], char buf[KY_MAC_STRLEN])
{
	snprintf(buf, KY_MAC_STRLEN, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
		 mac[5]);
	return buf;
}

int ky_parse_ip(const char *s, struct ky_ip *out)
{
	struct ky_ip ip = { .family = s && strchr(s, ':') ? AF_INET6 : AF_INET };
	if (!s || inet_pton(ip.family, s, ip.addr) != 1)
		return -EINVAL;
	*out = ip;
	return 0;
}

char *ky_format_ip(const struct ky_ip *ip, char buf[KY_IP_STRLEN])
{
	if ((ip->family != AF_INET && ip->family != AF_INET6) || !inet_ntop(ip->family, ip->addr, buf, KY_IP_STRLEN))
		buf[0] = '\0';
	return buf;
}

const char *ky_cidr_problem(const char *s, struct ky_cidr *out)
{
	const char *slash = s ? strchr(s, '/') : NULL;
	if (!slash)
		return "missing /prefix";
	struct ky_cidr c = { 0 };
	char addr[KY_IP_STRLEN];
	size_t alen = (size_t)(slash - s);
	if (alen == 0 || alen >= sizeof(addr))
		return "bad address";
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	if (ky_parse_ip(addr, &c.ip) < 0)
		return "bad address";

	const char *p = slash + 1;
	size_t plen = strlen(p);
	if (plen == 0 || plen > 3 || strspn(p, "0123456789") != plen || (p[0] == '0' && plen > 1))
		return "bad prefix length";
	c.prefix = (unsigned)atoi(p);
	if (c.ip.family == AF_INET && c.prefix > 32)
		return "prefix length above 32";
	if (c.prefix > 128)
		return "prefix length above 128";
	*out = c;
	return NULL;
}

int ky_parse_cidr(const char *s, struct ky_cidr *out)
{
	return ky_cidr_problem(s, out) ? -EINVAL : 0;
}

char *ky_format_cidr(const struct ky_cidr *c, char buf[KY_CIDR_STRLEN])
{
	char ip[KY_IP_STRLEN];
	snprintf(buf, KY_CIDR_STRLEN, "%s/%u", ky_format_ip(&c->ip, ip), c->prefix);
	return buf;
}

void ky_cidr_network(const struct ky_cidr *c, struct ky_cidr *out)
{
	struct ky_cidr n = *c;
	for (unsigned i = 0; i < sizeof(n.ip.addr); i++) {
		unsigned bits = c->prefix > i * 8 ? c->prefix - i * 8 : 0;
		n.ip.addr[i] &= (uint8_t)(0xff00 >> (bits > 8 ? 8 : bits));
	}
	*out = n;
}

bool ky_cidr_is_network(const struct ky_cidr *c)
{
	struct ky_cidr n;
	ky_cidr_network(c, &n);
	return memcmp(n.ip.addr, c->ip.addr, sizeof(n.ip.addr)) == 0;
}

bool ky_cidr_contains(const struct ky_cidr *c, const struct ky_ip *ip)
{
	if (ip->family != c->ip.family)
		return false;
	struct ky_cidr a, b = { .ip = *ip, .prefix = c->prefix };
	ky_cidr_network(c, &a);
	ky_cidr_network(&b, &b);
	return memcmp(a.ip.addr, b.ip.addr, sizeof(a.ip.addr)) == 0;
}

/* Addresses and routes over rtnetlink against the real kernel, read back
 * with iproute2. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/net/netlink.h"
#include "kyborg/net/netlink_addr.h"
#include "kytest.h"
#include "kytest_net.h"

static struct ky_nl *nl;
static char a[16], b[16];
static struct ky_link la;

static void setup(void)
{
	cr_assert_eq(kyt_private_netns(), 0, "needs root");
	cr_assert_eq(kyt_veth_add(a, b, sizeof(a)), 0);
	cr_assert_eq(ky_nl_open(&nl, NULL), 0);
	cr_assert_eq(ky_link_set_up(nl, a, true, NULL), 0);
	cr_assert_eq(ky_link_get(nl, a, &la, NULL), 0);
}

static void teardown(void)
{
	ky_nl_close(nl);
}

TestSuite(netlink_addr, .init = setup, .fini = teardown);

Test(netlink_addr, added_addresses_are_listed_and_seen_by_iproute2)
{
	struct ky_cidr v4, v6;
	cr_assert_eq(ky_parse_cidr("10.60.1.5/24", &v4), 0);
	cr_assert_eq(ky_parse_cidr("fd00:60::5/64", &v6), 0);
	_cleanup_error_ struct ky_error *err = NULL;
	cr_assert_eq(ky_addr_add(nl, la.ifindex, &v4, &err), 0, "%s", ky_error_msg(err));
	cr_assert_eq(ky_addr_add(nl, la.ifindex, &v6, &err), 0, "%s", ky_error_msg(err));
	cr_assert_eq(ky_addr_add(nl, la.ifindex, &v4, &err), 0, "adding it again is no error");

	_cleanup_free_ struct ky_cidr *list = NULL;
	size_t n = 0;
	cr_assert_eq(ky_addr_list(nl, la.ifindex, &list, &n, &err), 0, "%s", ky_error_msg(err));
	bool got4 = false, got6 = false;
	for (size_t i = 0; i < n; i++) {
		char s[KY_CIDR_STRLEN];
		ky_format_cidr(&list[i], s);
		got4 |= strcmp(s, "10.60.1.5/24") == 0;
		got6 |= strcmp(s, "fd00:60::5/64") == 0;
	}
	cr_assert(got4 && got6);
	char *out = NULL;
	cr_assert_eq(kyt_run(&out, "ip", "-o", "addr", "show", "dev", a, NULL), 0);
	cr_assert(strstr(out, "10.60.1.5/24") && strstr(out, "fd00:60::5/64"), "%s", out);
	free(out);
}

Test(netlink_addr, routes_go_through_a_gateway_or_on_link)
{
	struct ky_cidr v4, def, onlink;
	struct ky_ip gw;
	cr_assert_eq(ky_parse_cidr("10.61.0.2/24", &v4), 0);
	cr_assert_eq(ky_addr_add(nl, la.ifindex, &v4, NULL), 0);
	cr_assert_eq(ky_parse_cidr("0.0.0.0/0", &def), 0);
	cr_assert_eq(ky_parse_ip("10.61.0.1", &gw), 0);
	_cleanup_error_ struct ky_error *err = NULL;
	cr_assert_eq(ky_route_add(nl, la.ifindex, &def, &gw, &err), 0, "%s", ky_error_msg(err));
	cr_assert_eq(ky_parse_cidr("192.168.99.0/24", &onlink), 0);
	cr_assert_eq(ky_route_add(nl, la.ifindex, &onlink, NULL, &err), 0, "%s", ky_error_msg(err));
	char *out = NULL;
	cr_assert_eq(kyt_run(&out, "ip", "route", "show", NULL), 0);
	cr_assert(strstr(out, "default via 10.61.0.1 dev"), "%s", out);
	cr_assert(strstr(out, "192.168.99.0/24 dev"), "%s", out);
	free(out);
}

Test(netlink_addr, the_kernel_refusal_names_the_address)
{
	struct ky_cidr v4;
	struct ky_ip gw;
	cr_assert_eq(ky_parse_cidr("10.62.0.0/16", &v4), 0);
	cr_assert_eq(ky_parse_ip("10.99.0.1", &gw), 0);
	_cleanup_error_ struct ky_error *err = NULL;
	/* No address on the link reaches that gateway. */
	cr_assert_lt(ky_route_add(nl, la.ifindex, &v4, &gw, &err), 0);
	cr_assert(strstr(ky_error_msg(err), "10.62.0.0/16"), "%s", ky_error_msg(err));
	cr_assert_lt(ky_addr_add(nl, 999999, &v4, &err), 0);
}

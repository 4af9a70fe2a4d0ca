/* Links over rtnetlink against the real kernel: veth pairs in a private
 * network namespace, checked with iproute2. */
#include <criterion/criterion.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/net/netlink.h"
#include "kyborg/net/netns.h"
#include "kytest.h"
#include "kytest_net.h"

static struct ky_nl *nl;
static char a[16], b[16], ns[16], ns_path[64];

static void setup(void)
{
	cr_assert_eq(kyt_private_netns(), 0, "needs root");
	cr_assert_eq(kyt_veth_add(a, b, sizeof(a)), 0);
	cr_assert_eq(ky_nl_open(&nl, NULL), 0);
	ns[0] = '\0';
}

static void teardown(void)
{
	ky_nl_close(nl);
	kyt_netns_del(ns);
}

TestSuite(netlink_link, .init = setup, .fini = teardown);

static void mac_str(const uint8_t m[6], char out[18])
{
	snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

Test(netlink_link, get_reports_what_iproute2_reports)
{
	struct ky_link l;
	struct kyt_ip_link ip;
	char mac[18];
	cr_assert_eq(ky_link_get(nl, a, &l, NULL), 0);
	cr_assert(kyt_ip_link(NULL, a, &ip));
	cr_assert_eq(l.ifindex, ip.ifindex);
	cr_assert_str_eq(l.name, a);
	cr_assert_eq(l.mtu, ip.mtu);
	cr_assert(l.has_mac);
	mac_str(l.mac, mac);
	cr_assert_str_eq(mac, ip.address);
	cr_assert_str_eq(l.kind, "veth");
	cr_assert_eq(l.up, false);
	cr_assert_eq(l.num_vf, 0);

	struct ky_link by_index;
	cr_assert_eq(ky_link_get_by_index(nl, l.ifindex, &by_index, NULL), 0);
	cr_assert_str_eq(by_index.name, a);
}

Test(netlink_link, missing_link_is_enodev_naming_it)
{
	_cleanup_error_ struct ky_error *err = NULL;
	struct ky_link l;
	cr_assert_eq(ky_link_get(nl, "kyborg-nope", &l, &err), -ENODEV);
	cr_assert_str_eq(ky_error_msg(err), "link kyborg-nope not found");
	cr_assert_eq(ky_link_get_by_index(nl, 999999, &l, &err), -ENODEV);
	cr_assert(strstr(ky_error_msg(err), "999999"));
}

Test(netlink_link, invalid_names_are_refused_before_the_kernel)
{
	const char *bad[] = { "", ".", "..", "a/b", "eth0:1", "has space", "sixteen-chars-xx", "net%d", NULL };
	struct ky_link l;
	for (size_t i = 0; i < KY_ARRAY_SIZE(bad); i++) {
		_cleanup_error_ struct ky_error *err = NULL;
		cr_assert_eq(ky_link_get(nl, bad[i], &l, &err), -EINVAL, "%s", bad[i] ? bad[i] : "(null)");
		cr_assert_not(ky_ifname_valid(bad[i]));
	}
	cr_assert(ky_ifname_valid("net1"));
	cr_assert(ky_ifname_valid("fifteen-chars-x"));
}

Test(netlink_link, set_mtu_mac_and_up_down)
{
	struct kyt_ip_link ip;
	const uint8_t mac[6] = { 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 };
	cr_assert_eq(ky_link_set_mtu(nl, a, 1400, NULL), 0);
	cr_assert_eq(ky_link_set_mac(nl, a, mac, NULL), 0);
	cr_assert_eq(ky_link_set_up(nl, a, true, NULL), 0);
	cr_assert(kyt_ip_link(NULL, a, &ip));
	cr_assert_eq(ip.mtu, 1400);
	cr_assert_str_eq(ip.address, "02:11:22:33:44:55");
	cr_assert(ip.up);

	cr_assert_eq(ky_link_set_up(nl, a, false, NULL), 0);
	cr_assert(kyt_ip_link(NULL, a, &ip));
	cr_assert_not(ip.up);
}

Test(netlink_link, out_of_range_mtu_changes_nothing)
{
	_cleanup_error_ struct ky_error *err = NULL;
	struct kyt_ip_link before, after;
	cr_assert(kyt_ip_link(NULL, a, &before));
	cr_assert_eq(ky_link_set_mtu(nl, a, 67, &err), -EINVAL);
	cr_assert(strstr(ky_error_msg(err), a));
	cr_assert_eq(ky_link_set_mtu(nl, a, 70000, &err), -EINVAL);
	cr_assert(kyt_ip_link(NULL, a, &after));
	cr_assert_eq(after.mtu, before.mtu);
}

Test(netlink_link, kernel_refusal_carries_the_kernel_errno)
{
	_cleanup_error_ struct ky_error *err = NULL;
	const uint8_t multicast[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 };
	int r = ky_link_set_mac(nl, a, multicast, &err);
	cr_assert_eq(r, -EADDRNOTAVAIL, "%d %s", r, ky_error_msg(err));
	cr_assert(strstr(ky_error_msg(err), "set mac"), "%s", ky_error_msg(err));
	cr_assert(strstr(ky_error_msg(err), a));
}

Test(netlink_link, rename_changes_the_name_and_nothing_else)
{
	_cleanup_error_ struct ky_error *err = NULL;
	char new_name[16];
	struct kyt_ip_link ip, before;
	kyt_unique_name(new_name, sizeof(new_name), "kyren");
	cr_assert(kyt_ip_link(NULL, a, &before));

	cr_assert_eq(ky_link_rename(nl, a, new_name, NULL), 0);
	cr_assert(kyt_ip_link(NULL, new_name, &ip));
	cr_assert_eq(ip.ifindex, before.ifindex);
	cr_assert_str_eq(ip.address, before.address);
	cr_assert_not(kyt_ip_link(NULL, a, &ip));
	cr_assert_eq(ky_link_rename(nl, new_name, "bad/name", &err), -EINVAL);
}

Test(netlink_link, rename_to_a_taken_name_is_eexist)
{
	_cleanup_error_ struct ky_error *err = NULL;
	cr_assert_eq(ky_link_rename(nl, a, b, &err), -EEXIST, "%s", ky_error_msg(err));
}

struct move_args {
	int home;
	const char *name;
};

static int move_back(void *p, struct ky_error **err)
{
	struct move_args *x = p;
	_cleanup_(ky_nl_closep) struct ky_nl *inner = NULL;
	int r = ky_nl_open(&inner, err);
	if (r < 0)
		return r;
	return ky_link_move_to_netns(inner, "net1", x->home, x->name, err);
}

Test(netlink_link, move_into_a_netns_with_a_new_name_and_back)
{
	struct kyt_ip_link ip;
	_cleanup_close_ int fd = -1, home = -1;
	cr_assert_eq(kyt_netns_add(ns, sizeof(ns)), 0);
	kyt_netns_path(ns, ns_path, sizeof(ns_path));
	cr_assert_eq(ky_netns_open(ns_path, &fd, NULL), 0);
	cr_assert_eq(ky_netns_open("/proc/self/ns/net", &home, NULL), 0);

	cr_assert_eq(ky_link_move_to_netns(nl, a, fd, "net1", NULL), 0);
	cr_assert_not(kyt_ip_link(NULL, a, &ip));
	cr_assert(kyt_ip_link(ns, "net1", &ip));

	/* Back: from inside the pod's namespace, renamed on the way. */
	struct move_args args = { home, a };
	cr_assert_eq(ky_netns_run_fd(fd, move_back, &args, NULL), 0);
	cr_assert(kyt_ip_link(NULL, a, &ip));
	cr_assert_not(kyt_ip_link(ns, "net1", &ip));
}

Test(netlink_link, move_with_a_name_taken_in_the_target_says_where_the_link_is)
{
	_cleanup_error_ struct ky_error *err = NULL;
	struct kyt_ip_link ip;
	_cleanup_close_ int fd = -1;
	cr_assert_eq(kyt_netns_add(ns, sizeof(ns)), 0);
	kyt_netns_path(ns, ns_path, sizeof(ns_path));
	cr_assert_eq(kyt_run(NULL, "ip", "-n", ns, "link", "add", "net1", "type", "veth", "peer", "name", "net2", NULL),
		     0);
	cr_assert_eq(ky_netns_open(ns_path, &fd, NULL), 0);
	cr_assert_eq(ky_link_move_to_netns(nl, a, fd, "net1", &err), -EEXIST);
	cr_assert(strstr(ky_error_msg(err), "under its old name"), "%s", ky_error_msg(err));
	cr_assert(kyt_ip_link(ns, a, &ip), "the error must match where the link is");
}

Test(netlink_link, move_to_a_bad_descriptor_is_an_error)
{
	_cleanup_error_ struct ky_error *err = NULL;
	struct kyt_ip_link ip;
	cr_assert_lt(ky_link_move_to_netns(nl, a, 987, NULL, &err), 0);
	cr_assert(kyt_ip_link(NULL, a, &ip));
}

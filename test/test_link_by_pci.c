/* Finding a link by PCI address: the real libudev reads the umockdev
 * testbed (sysfs), whose VF netdevs are veths this test creates in the real
 * kernel (rtnetlink is not redirected by umockdev). */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <umockdev.h>

#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/net/netlink.h"
#include "kytest.h"
#include "kytest_net.h"
#include "kytest_simnode.h"

static UMockdevTestbed *tb;
static struct ky_nl *nl;
static char pf[16], vf[4][16], peer[5][16];

static void setup(void)
{
	cr_assert_eq(kyt_private_netns(), 0, "needs root");
	cr_assert_eq(kyt_veth_add(pf, peer[4], sizeof(pf)), 0);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(kyt_veth_add(vf[i], peer[i], sizeof(vf[i])), 0);
	tb = umockdev_testbed_new();
	const char *const vfs[4] = { vf[0], vf[1], vf[2], vf[3] };
	cr_assert_eq(kyt_simnode_load(tb, pf, vfs), 0);
	cr_assert_eq(ky_nl_open(&nl, NULL), 0);
}

static void teardown(void)
{
	ky_nl_close(nl);
	if (tb)
		g_object_unref(tb);
}

TestSuite(link_by_pci, .init = setup, .fini = teardown);

Test(link_by_pci, each_vf_address_finds_its_veth)
{
	const char *addrs[4] = { "0000:18:01.0", "0000:18:01.1", "0000:18:01.2", "0000:18:01.3" };
	for (int i = 0; i < 4; i++) {
		_cleanup_error_ struct ky_error *err = NULL;
		struct ky_link l;
		struct kyt_ip_link ip;
		cr_assert_eq(ky_link_find_by_pci(nl, addrs[i], &l, &err), 0, "%s: %s", addrs[i], ky_error_msg(err));
		cr_assert_str_eq(l.name, vf[i]);
		cr_assert(kyt_ip_link(NULL, vf[i], &ip));
		cr_assert_eq(l.ifindex, ip.ifindex);
	}
	struct ky_link l;
	cr_assert_eq(ky_link_find_by_pci(nl, "18:00.0", &l, NULL), 0, "the short form names the PF");
	cr_assert_str_eq(l.name, pf);
}

/* The other way: a netdev's PCI address, the identity the CNI's device
 * lock is keyed on however a config names the device. */
Test(link_by_pci, a_netdev_leads_to_its_pci_address)
{
	struct ky_link l;
	char addr[KY_PCI_ADDR_LEN];
	cr_assert_eq(ky_link_get(nl, vf[3], &l, NULL), 0);
	cr_assert_eq(ky_link_pci_addr(nl, &l, addr), 0);
	cr_assert_str_eq(addr, "0000:18:01.3");
	cr_assert_eq(ky_link_get(nl, pf, &l, NULL), 0);
	cr_assert_eq(ky_link_pci_addr(nl, &l, addr), 0);
	cr_assert_str_eq(addr, "0000:18:00.0");
	/* A veth the testbed does not know has no device link. */
	cr_assert_eq(ky_link_get(nl, peer[0], &l, NULL), 0);
	cr_assert_eq(ky_link_pci_addr(nl, &l, addr), -ENODEV);
}

Test(link_by_pci, a_gpu_has_no_network_interface)
{
	_cleanup_error_ struct ky_error *err = NULL;
	struct ky_link l;
	cr_assert_eq(ky_link_find_by_pci(nl, "0000:3b:00.0", &l, &err), -ENODEV);
	cr_assert(strstr(ky_error_msg(err), "0000:3b:00.0 has no network interface"), "%s", ky_error_msg(err));
}

Test(link_by_pci, a_netdev_gone_from_this_namespace_is_reported)
{
	_cleanup_error_ struct ky_error *err = NULL;
	struct ky_link l;
	cr_assert_eq(kyt_run(NULL, "ip", "link", "del", vf[2], NULL), 0);
	cr_assert_eq(ky_link_find_by_pci(nl, "0000:18:01.2", &l, &err), -ENODEV);
	cr_assert(strstr(ky_error_msg(err), vf[2]), "%s", ky_error_msg(err));
	cr_assert(strstr(ky_error_msg(err), "not in this network namespace"));
}

Test(link_by_pci, unknown_and_malformed_addresses_are_refused)
{
	_cleanup_error_ struct ky_error *err = NULL;
	struct ky_link l;
	cr_assert_eq(ky_link_find_by_pci(nl, "0000:99:00.0", &l, &err), -ENODEV);
	cr_assert(strstr(ky_error_msg(err), "0000:99:00.0"), "%s", ky_error_msg(err));
	cr_assert_eq(ky_link_find_by_pci(nl, "../../etc", &l, &err), -EINVAL);
	cr_assert_eq(ky_link_find_by_pci(nl, "0000:18:01.0/..", &l, &err), -EINVAL);
}

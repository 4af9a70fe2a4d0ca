/* Kernel tier (runs in the qemu guest, scripts/kernel-tier/): kyborgctl's
 * whole-device writes against netdevsim, a real kernel driver: the devlink
 * eswitch mode over generic netlink both ways, and the VF count changed
 * through 0, including a count the driver refuses, after which the
 * previous count is back. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "kyborg/base/cleanup.h"
#include "kyborg/net/devlink.h"
#include "kyborg/base/error.h"
#include "kyborg/node/node_apply.h"
#include "kytest.h"
#include "kytest_net.h"
#include "kytest_nsim.h"

#define NUM_VFS 2

static struct kyt_nsim nsim;
static char devpath[96];

static void setup(void)
{
	cr_assert_eq(kyt_private_netns(), 0, "needs root");
	int r = kyt_nsim_new(&nsim, NUM_VFS);
	cr_assert_eq(r, 0, "netdevsim device: %s (runs in the kernel tier's guest)", strerror(-r));
	snprintf(devpath, sizeof(devpath), "/sys/bus/netdevsim/devices/netdevsim%u", nsim.id);
}

static void teardown(void)
{
	kyt_nsim_del(&nsim);
}

TestSuite(ktier_node, .init = setup, .fini = teardown);

/* "netdevsim<N>" of the handle "netdevsim/netdevsim<N>". */
static const char *dev_name(void)
{
	return strchr(nsim.devlink, '/') + 1;
}

static void action_release(struct ky_action *a)
{
	for (size_t i = 0; i < a->n_steps; i++)
		free(a->steps[i]);
	free(a->steps);
	a->steps = NULL;
	a->n_steps = 0;
}

Test(ktier_node, eswitch_mode_switches_both_ways_through_devlink_genl)
{
	_cleanup_error_ struct ky_error *err = NULL;
	enum ky_eswitch_mode mode = KY_ESWITCH_UNKNOWN;
	char rep[16];
	cr_assert_eq(ky_devlink_eswitch_get("netdevsim", dev_name(), &mode, &err), 0, "%s", ky_error_msg(err));
	cr_assert_eq(mode, KY_ESWITCH_LEGACY);

	cr_assert_eq(ky_devlink_eswitch_set("netdevsim", dev_name(), KY_ESWITCH_SWITCHDEV, &err), 0, "%s",
		     ky_error_msg(err));
	cr_assert_eq(ky_devlink_eswitch_get("netdevsim", dev_name(), &mode, &err), 0, "%s", ky_error_msg(err));
	cr_assert_eq(mode, KY_ESWITCH_SWITCHDEV);
	cr_assert(kyt_nsim_port_netdev(&nsim, "pf0vf1", rep, sizeof(rep)), "switchdev mode gives VF 1 a representor");

	cr_assert_eq(ky_devlink_eswitch_set("netdevsim", dev_name(), KY_ESWITCH_LEGACY, &err), 0, "%s",
		     ky_error_msg(err));
	cr_assert_eq(ky_devlink_eswitch_get("netdevsim", dev_name(), &mode, &err), 0, "%s", ky_error_msg(err));
	cr_assert_eq(mode, KY_ESWITCH_LEGACY);
	cr_assert_not(kyt_nsim_port_netdev(&nsim, "pf0vf1", rep, sizeof(rep)));
}

Test(ktier_node, a_device_without_devlink_instance_is_enodev_naming_it)
{
	_cleanup_error_ struct ky_error *err = NULL;
	enum ky_eswitch_mode mode;
	cr_assert_eq(ky_devlink_eswitch_get("pci", "0000:ff:1f.7", &mode, &err), -ENODEV, "%s", ky_error_msg(err));
	cr_assert(strstr(ky_error_msg(err), "pci/0000:ff:1f.7"), "%s", ky_error_msg(err));
}

Test(ktier_node, a_vf_count_changes_through_zero_as_the_kernel_requires)
{
	_cleanup_error_ struct ky_error *err = NULL;
	struct ky_action a = { 0 };
	struct ky_sysfs_log log = ky_action_sysfs_log(&a);
	cr_assert_eq(kyt_nsim_set_num_vfs(&nsim, 3), -EBUSY, "the kernel refuses a non-zero to non-zero change");

	cr_assert_eq(ky_sriov_set_num_vfs(devpath, NUM_VFS, 3, &log, &err), 0, "%s", ky_error_msg(err));
	cr_assert_eq(a.n_steps, 2);
	cr_assert(strncmp(a.steps[0], "wrote \"0\"", 9) == 0, "%s", a.steps[0]);
	cr_assert(strncmp(a.steps[1], "wrote \"3\"", 9) == 0, "%s", a.steps[1]);
	cr_assert_eq(kyt_ip_vf_count(nsim.pf), 3);
	action_release(&a);

	cr_assert_eq(ky_sriov_set_num_vfs(devpath, 3, 0, &log, &err), 0, "%s", ky_error_msg(err));
	cr_assert_eq(a.n_steps, 1, "to 0 directly");
	cr_assert_eq(kyt_ip_vf_count(nsim.pf), 0);
	action_release(&a);
}

Test(ktier_node, a_count_the_driver_refuses_puts_the_previous_count_back)
{
	_cleanup_error_ struct ky_error *err = NULL;
	struct ky_action a = { 0 };
	struct ky_sysfs_log log = ky_action_sysfs_log(&a);
	/* netdevsim has at most 4 VFs. */
	int r = ky_sriov_set_num_vfs(devpath, NUM_VFS, 5, &log, &err);
	cr_assert_lt(r, 0);
	cr_assert(strstr(ky_error_msg(err), "put back the previous 2 VFs"), "%s", ky_error_msg(err));
	cr_assert_eq(a.n_steps, 2, "0, then 2 again; the refused write is no step");
	cr_assert_eq(kyt_ip_vf_count(nsim.pf), NUM_VFS);
	action_release(&a);
}

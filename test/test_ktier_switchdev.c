/* Kernel tier (runs in the qemu guest, scripts/kernel-tier/): netdevsim's
 * devlink eswitch in switchdev mode, VF representors moved into a pod's
 * netns and back with the library, and a VF setting the PF refuses there. */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/net/netlink.h"
#include "kyborg/net/netns.h"
#include "kyborg/net/netlink_vf.h"
#include "kytest.h"
#include "kytest_net.h"
#include "kytest_nsim.h"

#define NUM_VFS 2

KY_DEFINE_CLEANUP(cJSON, cJSON_Delete)

static struct kyt_nsim nsim;
static struct ky_nl *nl;
static char pod[16];

static void setup(void)
{
	cr_assert_eq(kyt_private_netns(), 0, "needs root");
	int r = kyt_nsim_new(&nsim, NUM_VFS);
	cr_assert_eq(r, 0, "netdevsim device: %s (runs in the kernel tier's guest)", strerror(-r));
	cr_assert_eq(ky_nl_open(&nl, NULL), 0);
}

static void teardown(void)
{
	if (nl)
		ky_nl_close(nl);
	nl = NULL;
	kyt_netns_del(pod);
	pod[0] = '\0';
	kyt_nsim_del(&nsim);
}

TestSuite(ktier_switchdev, .init = setup, .fini = teardown);

static int eswitch_set(const char *mode)
{
	return kyt_run(NULL, "devlink", "dev", "eswitch", "set", nsim.devlink, "mode", mode, NULL);
}

/* `devlink -j dev eswitch show`'s mode, "" when unreadable. */
static void eswitch_mode(char *buf, size_t size)
{
	char *out = NULL;
	buf[0] = '\0';
	if (kyt_run(&out, "devlink", "-j", "dev", "eswitch", "show", nsim.devlink, NULL) != 0) {
		free(out);
		return;
	}
	_cleanup_(cJSON_Deletep) cJSON *doc = cJSON_Parse(out);
	free(out);
	const cJSON *dev = cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "dev"), nsim.devlink);
	const char *mode = cJSON_GetStringValue(cJSON_GetObjectItem(dev, "mode"));
	snprintf(buf, size, "%s", mode ? mode : "");
}

Test(ktier_switchdev, switchdev_mode_gives_each_vf_a_representor_and_legacy_takes_them_away)
{
	char mode[16], rep[16], port[16];
	eswitch_mode(mode, sizeof(mode));
	cr_assert_str_eq(mode, "legacy");
	cr_assert(!kyt_nsim_port_netdev(&nsim, "pf0vf0", rep, sizeof(rep)));

	cr_assert_eq(eswitch_set("switchdev"), 0);
	eswitch_mode(mode, sizeof(mode));
	cr_assert_str_eq(mode, "switchdev");
	for (unsigned vf = 0; vf < NUM_VFS; vf++) {
		snprintf(port, sizeof(port), "pf0vf%u", vf);
		cr_assert(kyt_nsim_port_netdev(&nsim, port, rep, sizeof(rep)), "no representor %s", port);
	}
	snprintf(port, sizeof(port), "pf0vf%u", NUM_VFS);
	cr_assert(!kyt_nsim_port_netdev(&nsim, port, rep, sizeof(rep)));

	cr_assert_eq(eswitch_set("legacy"), 0);
	eswitch_mode(mode, sizeof(mode));
	cr_assert_str_eq(mode, "legacy");
	cr_assert(!kyt_nsim_port_netdev(&nsim, "pf0vf0", rep, sizeof(rep)));
}

struct move_back {
	const char *name;
	int to_fd;
	const char *new_name;
};

static int move_back(void *arg, struct ky_error **err)
{
	struct move_back *m = arg;
	_cleanup_(ky_nl_closep) struct ky_nl *pod_nl = NULL;
	int r = ky_nl_open(&pod_nl, err);
	if (r < 0)
		return r;
	return ky_link_move_to_netns(pod_nl, m->name, m->to_fd, m->new_name, err);
}

Test(ktier_switchdev, a_representor_moves_into_a_pod_netns_and_back)
{
	char rep[16], nspath[64];
	struct kyt_ip_link before, in_pod, back;
	cr_assert_eq(eswitch_set("switchdev"), 0);
	cr_assert(kyt_nsim_port_netdev(&nsim, "pf0vf1", rep, sizeof(rep)));
	cr_assert(kyt_ip_link(NULL, rep, &before));

	cr_assert_eq(kyt_netns_add(pod, sizeof(pod)), 0);
	_cleanup_close_ int pod_fd = -1, here_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	cr_assert_geq(here_fd, 0);
	_cleanup_error_ struct ky_error *err = NULL;
	cr_assert_eq(ky_netns_open(kyt_netns_path(pod, nspath, sizeof(nspath)), &pod_fd, &err), 0);

	int r = ky_link_move_to_netns(nl, rep, pod_fd, "net1", &err);
	cr_assert_eq(r, 0, "%s", ky_error_msg(err));
	cr_assert(!kyt_ip_link(NULL, rep, &back), "%s is still here", rep);
	cr_assert(kyt_ip_link(pod, "net1", &in_pod), "no net1 in the pod");
	cr_assert_str_eq(in_pod.address, before.address);
	cr_assert_eq(in_pod.mtu, before.mtu);

	struct move_back m = { .name = "net1", .to_fd = here_fd, .new_name = rep };
	r = ky_netns_run_fd(pod_fd, move_back, &m, &err);
	cr_assert_eq(r, 0, "%s", ky_error_msg(err));
	cr_assert(!kyt_ip_link(pod, "net1", &in_pod), "net1 is still in the pod");
	cr_assert(kyt_ip_link(NULL, rep, &back), "%s did not come back", rep);
	cr_assert_str_eq(back.address, before.address);
	char again[16];
	cr_assert(kyt_nsim_port_netdev(&nsim, "pf0vf1", again, sizeof(again)));
	cr_assert_str_eq(again, rep, "the representor of VF 1 is %s", again);
}

/* In switchdev mode netdevsim refuses VF rates on the PF (its devlink rate
 * API replaces them). rtnetlink applies a request's VF attributes in order
 * and stops at the first refusal: the MAC before the rate is applied. The
 * caller's journal has to undo it; here the undo is the previous MAC. */
Test(ktier_switchdev, a_refused_rate_leaves_earlier_fields_applied_until_undone)
{
	cr_assert_eq(eswitch_set("switchdev"), 0);
	struct ky_vf_config before, got;
	cr_assert_eq(ky_vf_get(nl, nsim.pf, 0, &before, NULL), 0);
	struct ky_vf_config c = {
		.mask = KY_VF_MAC | KY_VF_RATE,
		.mac = { 0x02, 0x4b, 0x59, 0x00, 0x02, 0x00 },
		.min_tx_rate = 0, .max_tx_rate = 100,
	};
	_cleanup_error_ struct ky_error *err = NULL;
	int r = ky_vf_set(nl, nsim.pf, 0, &c, &err);
	cr_assert_eq(r, -EOPNOTSUPP, "%d %s", r, ky_error_msg(err));
	cr_assert(strstr(ky_error_msg(err), "set VF 0 of "), "%s", ky_error_msg(err));

	cr_assert_eq(ky_vf_get(nl, nsim.pf, 0, &got, NULL), 0);
	cr_assert_arr_eq(got.mac, c.mac, 6, "the MAC before the refused rate was applied");
	cr_assert_eq(got.max_tx_rate, before.max_tx_rate);

	struct ky_vf_config undo = before;
	undo.mask = KY_VF_MAC;
	ky_error_clear(&err);
	cr_assert_eq(ky_vf_set(nl, nsim.pf, 0, &undo, &err), 0, "%s", ky_error_msg(err));
	cr_assert_eq(ky_vf_get(nl, nsim.pf, 0, &got, NULL), 0);
	cr_assert_arr_eq(got.mac, before.mac, 6);
}

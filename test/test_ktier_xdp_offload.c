/* Kernel tier (runs in the qemu guest, scripts/kernel-tier/): an XDP
 * program offloaded to a device's hardware, netdevsim's here (it takes
 * XDP offload like a SmartNIC would): loaded for the device with its maps,
 * attached in offload mode, seen by ip(8) as xdpoffload, checked by
 * program id and detached. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kyborg/bpf/bpf_prog.h"
#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/net/netlink.h"
#include "kytest.h"
#include "kytest_net.h"
#include "kytest_nsim.h"

static struct kyt_nsim nsim;
static int ifindex;

static void setup(void)
{
	cr_assert_eq(kyt_private_netns(), 0, "needs root");
	int r = kyt_nsim_new(&nsim, 0);
	cr_assert_eq(r, 0, "netdevsim device: %s (runs in the kernel tier's guest)", strerror(-r));
	struct ky_nl *nl = NULL;
	struct ky_link l;
	cr_assert_eq(ky_nl_open(&nl, NULL), 0);
	cr_assert_eq(ky_link_get(nl, nsim.pf, &l, NULL), 0);
	ky_nl_close(nl);
	ifindex = l.ifindex;
}

static void teardown(void)
{
	kyt_nsim_del(&nsim);
}

TestSuite(ktier_xdp_offload, .init = setup, .fini = teardown);

static char *link_show(void)
{
	char *out = NULL;
	kyt_run(&out, "ip", "link", "show", "dev", nsim.pf, NULL);
	return out ? out : strdup("");
}

Test(ktier_xdp_offload, a_program_offloaded_to_the_device_is_attached_checked_and_detached)
{
	static const char *const progs[] = { "kyborg_count_xdp" };
	struct ky_bpf_obj *o = NULL;
	_cleanup_error_ struct ky_error *err = NULL;
	const struct ky_bpf_load opts = { .programs = progs, .n = 1, .offload_ifindex = ifindex };
	cr_assert_eq(ky_bpf_obj_load(KYBORG_BPF_DIR "/kyborg_counters.bpf.o", &opts, &o, &err), 0, "%s",
		     ky_error_msg(err));
	struct ky_bpf_attached a;
	cr_assert_eq(ky_bpf_plan(o, progs[0], KY_BPF_XDP, KY_XDP_OFFLOAD, ifindex, 0, &a, &err), 0, "%s",
		     ky_error_msg(err));
	cr_assert_eq(ky_bpf_attach(o, progs[0], &a, &err), 0, "%s", ky_error_msg(err));
	char *l = link_show();
	cr_assert(strstr(l, "xdpoffload"), "%s", l);
	free(l);
	cr_assert_eq(ky_bpf_check(&a, &err), 0, "%s", ky_error_msg(err));
	ky_bpf_obj_free(o);
	cr_assert_eq(ky_bpf_check(&a, &err), 0, "the attachment outlives the loader's handle: %s", ky_error_msg(err));
	cr_assert_eq(ky_bpf_detach(&a, &err), 1, "%s", ky_error_msg(err));
	l = link_show();
	cr_assert_null(strstr(l, "xdp"), "%s", l);
	free(l);
	cr_assert_eq(ky_bpf_check(&a, &err), -ENOENT);
}

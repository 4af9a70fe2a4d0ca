/* The link watch against the real kernel: a veth pair in a private network
 * namespace, its carrier taken away and given back through its peer with
 * iproute2; renames and removals; the default route's interfaces. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/base/strv.h"
#include "kyborg/loop/loop.h"
#include "kyborg/net/link_watch.h"
#include "kytest.h"
#include "kytest_net.h"

static char a[16], b[16];
static struct ky_loop *loop;
static struct ky_link_watch *w;

struct seen {
	char name[16];
	int before, now;
};
static struct seen seen[64];
static size_t n_seen;

static void on_change(void *userdata, const char *ifname, int before, int now)
{
	(void)userdata;
	if (n_seen < 64) {
		snprintf(seen[n_seen].name, sizeof(seen[n_seen].name), "%s", ifname);
		seen[n_seen].before = before;
		seen[n_seen].now = now;
		n_seen++;
	}
}

static void setup(void)
{
	cr_assert_eq(kyt_private_netns(), 0, "needs root");
	cr_assert_eq(kyt_veth_add(a, b, sizeof(a)), 0);
	cr_assert_eq(kyt_run(NULL, "ip", "link", "set", a, "up", NULL), 0);
	cr_assert_eq(kyt_run(NULL, "ip", "link", "set", b, "up", NULL), 0);
	_cleanup_error_ struct ky_error *err = NULL;
	cr_assert_eq(ky_loop_new(&loop, &err), 0, "%s", ky_error_msg(err));
	cr_assert_eq(ky_link_watch_new(loop, on_change, NULL, &w, &err), 0, "%s", ky_error_msg(err));
	n_seen = 0;
}

static void teardown(void)
{
	ky_link_watch_free(w);
	ky_loop_free(loop);
}

TestSuite(link_watch, .init = setup, .fini = teardown);

/* Runs the loop until `name` is reported with `now`, within 2 s. */
static void wait_for(const char *name, int now)
{
	uint64_t deadline = ky_loop_now_ms() + 2000;
	for (;;) {
		for (size_t i = 0; i < n_seen; i++)
			if (strcmp(seen[i].name, name) == 0 && seen[i].now == now)
				return;
		uint64_t t = ky_loop_now_ms();
		cr_assert_lt(t, deadline, "%s not reported as %d (%zu reports)", name, now, n_seen);
		cr_assert_eq(ky_loop_run_once(loop, (int)(deadline - t), NULL), 0);
	}
}

Test(link_watch, knows_every_link_at_once)
{
	cr_assert_eq(ky_link_watch_carrier(w, a), KY_LINK_UP);
	cr_assert_eq(ky_link_watch_carrier(w, "lo"), KY_LINK_UP);
	cr_assert_eq(ky_link_watch_carrier(w, "kynosuchlink"), KY_LINK_UNKNOWN);
	cr_assert_eq(n_seen, 0, "the first look is no change");
}

Test(link_watch, the_peer_going_down_takes_the_carrier_and_up_gives_it_back)
{
	cr_assert_eq(kyt_run(NULL, "ip", "link", "set", b, "down", NULL), 0);
	wait_for(a, KY_LINK_DOWN);
	cr_assert_eq(ky_link_watch_carrier(w, a), KY_LINK_DOWN);
	cr_assert_eq(ky_link_watch_carrier(w, b), KY_LINK_DOWN, "an interface set down has no carrier either");
	cr_assert_eq(kyt_run(NULL, "ip", "link", "set", b, "up", NULL), 0);
	wait_for(a, KY_LINK_UP);
	cr_assert_eq(ky_link_watch_carrier(w, a), KY_LINK_UP);
	for (size_t i = 0; i < n_seen; i++)
		cr_assert_neq(seen[i].before, seen[i].now, "a report is a change");
}

Test(link_watch, a_rename_is_the_old_name_gone_and_the_new_one_come)
{
	char c[16];
	kyt_unique_name(c, sizeof(c), "kyren");
	cr_assert_eq(kyt_run(NULL, "ip", "link", "set", a, "down", NULL), 0);
	cr_assert_eq(kyt_run(NULL, "ip", "link", "set", a, "name", c, NULL), 0);
	wait_for(a, KY_LINK_UNKNOWN);
	wait_for(c, KY_LINK_DOWN);
	cr_assert_eq(ky_link_watch_carrier(w, a), KY_LINK_UNKNOWN);
	cr_assert_eq(kyt_run(NULL, "ip", "link", "del", c, NULL), 0);
	wait_for(c, KY_LINK_UNKNOWN);
	cr_assert_eq(ky_link_watch_carrier(w, b), KY_LINK_UNKNOWN, "a veth pair goes as one");
}

Test(link_watch, the_default_route_names_its_interface)
{
	_cleanup_error_ struct ky_error *err = NULL;
	_cleanup_strv_free_ char **none = NULL;
	size_t n = 9;
	cr_assert_eq(ky_link_default_route(&none, &n, &err), 0, "%s", ky_error_msg(err));
	cr_assert_eq(n, 0);
	cr_assert_null(none[0]);
	cr_assert_eq(kyt_run(NULL, "ip", "addr", "add", "192.0.2.2/24", "dev", a, NULL), 0);
	cr_assert_eq(kyt_run(NULL, "ip", "route", "add", "default", "via", "192.0.2.1", NULL), 0);
	cr_assert_eq(kyt_run(NULL, "ip", "route", "add", "198.51.100.0/24", "dev", b, NULL), 0);
	_cleanup_strv_free_ char **names = NULL;
	cr_assert_eq(ky_link_default_route(&names, &n, &err), 0, "%s", ky_error_msg(err));
	cr_assert_eq(n, 1);
	cr_assert_str_eq(names[0], a);
}

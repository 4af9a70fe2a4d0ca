/* Network namespaces: work runs inside, the thread always comes back, and
 * no descriptor leaks. Real namespaces made by iproute2. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/net/netlink.h"
#include "kyborg/net/netns.h"
#include "kytest.h"
#include "kytest_net.h"

static char ns[16];
static char ns_path[64];

static void setup(void)
{
	cr_assert_eq(kyt_private_netns(), 0, "needs CAP_SYS_ADMIN and CAP_NET_ADMIN (run as root)");
	cr_assert_eq(kyt_netns_add(ns, sizeof(ns)), 0);
	kyt_netns_path(ns, ns_path, sizeof(ns_path));
}

static void teardown(void)
{
	kyt_netns_del(ns);
}

TestSuite(netns, .init = setup, .fini = teardown);

static ino_t current_netns(void)
{
	struct stat st;
	cr_assert_eq(stat("/proc/thread-self/ns/net", &st), 0);
	return st.st_ino;
}

static size_t open_fds(void)
{
	size_t n = 0;
	DIR *d = opendir("/proc/self/fd");
	for (struct dirent *e; d && (e = readdir(d));)
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

static int record_netns(void *arg, struct ky_error **err)
{
	(void)err;
	*(ino_t *)arg = current_netns();
	return 0;
}

Test(netns, work_runs_inside_the_namespace_and_the_thread_comes_back)
{
	ino_t before = current_netns(), inside = 0;
	struct stat target;
	cr_assert_eq(stat(ns_path, &target), 0);

	cr_assert_eq(ky_netns_run(ns_path, record_netns, &inside, NULL), 0);
	cr_assert_eq(inside, target.st_ino);
	cr_assert_neq(inside, before);
	cr_assert_eq(current_netns(), before);
}

static int fail_inside(void *arg, struct ky_error **err)
{
	*(ino_t *)arg = current_netns();
	return ky_error_set(err, EPERM, "work refused");
}

Test(netns, failing_work_still_comes_back_and_reports_the_namespace)
{
	_cleanup_error_ struct ky_error *err = NULL;
	ino_t before = current_netns(), inside = 0;
	cr_assert_eq(ky_netns_run(ns_path, fail_inside, &inside, &err), -EPERM);
	cr_assert_neq(inside, before);
	cr_assert_eq(current_netns(), before);
	cr_assert(strstr(ky_error_msg(err), ns_path), "%s", ky_error_msg(err));
	cr_assert(strstr(ky_error_msg(err), "work refused"));
}

static int lookup_link(void *arg, struct ky_error **err)
{
	_cleanup_(ky_nl_closep) struct ky_nl *nl = NULL;
	int r = ky_nl_open(&nl, err);
	if (r < 0)
		return r;
	return ky_link_get(nl, arg, &(struct ky_link){ 0 }, err);
}

Test(netns, sockets_opened_inside_see_only_that_namespace)
{
	char a[16], b[16];
	cr_assert_eq(kyt_run(NULL, "ip", "-n", ns, "link", "add", "kyinner0", "type", "veth", "peer", "name", "kyinner1",
			     NULL),
		     0);
	cr_assert_eq(kyt_veth_add(a, b, sizeof(a)), 0);

	cr_assert_eq(ky_netns_run(ns_path, lookup_link, "kyinner0", NULL), 0);
	cr_assert_eq(ky_netns_run(ns_path, lookup_link, a, NULL), -ENODEV);
	cr_assert_eq(lookup_link(a, NULL), 0);
	cr_assert_eq(lookup_link("kyinner0", NULL), -ENODEV);
}

Test(netns, a_thousand_runs_leak_no_descriptor)
{
	ino_t inside;
	size_t before = open_fds();
	for (int i = 0; i < 1000; i++) {
		cr_assert_eq(ky_netns_run(ns_path, record_netns, &inside, NULL), 0);
		cr_assert_eq(ky_netns_run(ns_path, fail_inside, &inside, NULL), -EPERM);
	}
	cr_assert_eq(open_fds(), before);
}

Test(netns, run_by_descriptor_leaves_the_descriptor_open)
{
	_cleanup_close_ int fd = -1;
	ino_t inside = 0;
	cr_assert_eq(ky_netns_open(ns_path, &fd, NULL), 0);
	cr_assert_eq(ky_netns_run_fd(fd, record_netns, &inside, NULL), 0);
	cr_assert_eq(ky_netns_run_fd(fd, record_netns, &inside, NULL), 0);
	cr_assert_geq(fcntl(fd, F_GETFD), 0);
	cr_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
}

Test(netns, missing_path_is_reported_with_the_path)
{
	_cleanup_error_ struct ky_error *err = NULL;
	cr_assert_eq(ky_netns_run("/var/run/netns/kyborg-does-not-exist", record_netns, &(ino_t){ 0 }, &err), -ENOENT);
	cr_assert(strstr(ky_error_msg(err), "/var/run/netns/kyborg-does-not-exist"));
}

Test(netns, files_that_are_not_network_namespaces_are_refused)
{
	const char *paths[] = { "/etc/hostname", "/proc/self/ns/mnt", "/proc/self/ns/uts", "/dev/null", "" };
	for (size_t i = 0; i < KY_ARRAY_SIZE(paths); i++) {
		_cleanup_error_ struct ky_error *err = NULL;
		_cleanup_close_ int fd = -1;
		int r = ky_netns_open(paths[i], &fd, &err);
		cr_assert_eq(r, -EINVAL, "%s: %d %s", paths[i], r, ky_error_msg(err));
		cr_assert_eq(fd, -1);
	}
}

Test(netns, proc_pid_path_is_accepted)
{
	_cleanup_close_ int fd = -1, self = -1;
	cr_assert_eq(ky_netns_open("/proc/self/ns/net", &fd, NULL), 0);
	self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	cr_assert_eq(ky_netns_same(fd, self), 1);
	_cleanup_close_ int other = -1;
	cr_assert_eq(ky_netns_open(ns_path, &other, NULL), 0);
	cr_assert_eq(ky_netns_same(fd, other), 0);
}

/* The floor of a CNI ADD+DEL: one small process per verb doing only the
 * kernel work (ADD: move into the pod netns under the pod's name, up; DEL:
 * down, move back under the original name). Usage:
 *   kyborg-bench-floor add IFNAME NETNS_PATH PODNAME
 *   kyborg-bench-floor del IFNAME NETNS_PATH PODNAME */
#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/net/netlink.h"
#include "kyborg/net/netns.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>

struct job {
	const char *pod_name;
	const char *host_name;
	int home_fd;
};

static int up_inside(void *arg, struct ky_error **err)
{
	struct job *j = arg;
	_cleanup_(ky_nl_closep) struct ky_nl *nl = NULL;
	int r = ky_nl_open(&nl, err);
	return r < 0 ? r : ky_link_set_up(nl, j->pod_name, true, err);
}

static int back_from_inside(void *arg, struct ky_error **err)
{
	struct job *j = arg;
	_cleanup_(ky_nl_closep) struct ky_nl *nl = NULL;
	int r = ky_nl_open(&nl, err);
	if (r < 0 || (r = ky_link_set_up(nl, j->pod_name, false, err)) < 0)
		return r;
	return ky_link_move_to_netns(nl, j->pod_name, j->home_fd, j->host_name, err);
}

int main(int argc, char **argv)
{
	if (argc != 5 || (strcmp(argv[1], "add") && strcmp(argv[1], "del"))) {
		fprintf(stderr, "usage: %s add|del IFNAME NETNS_PATH PODNAME\n", argv[0]);
		return 2;
	}
	_cleanup_error_ struct ky_error *err = NULL;
	_cleanup_close_ int ns = -1, home = -1;
	struct job j = { .pod_name = argv[4], .host_name = argv[2] };
	int r = ky_netns_open(argv[3], &ns, &err);
	if (r == 0)
		r = ky_netns_open("/proc/self/ns/net", &home, &err);
	j.home_fd = home;
	if (r == 0 && strcmp(argv[1], "add") == 0) {
		_cleanup_(ky_nl_closep) struct ky_nl *nl = NULL;
		r = ky_nl_open(&nl, &err);
		if (r == 0)
			r = ky_link_move_to_netns(nl, argv[2], ns, argv[4], &err);
		if (r == 0)
			r = ky_netns_run_fd(ns, up_inside, &j, &err);
	} else if (r == 0) {
		r = ky_netns_run_fd(ns, back_from_inside, &j, &err);
	}
	if (r < 0) {
		fprintf(stderr, "%s\n", ky_error_msg(err));
		return 1;
	}
	return 0;
}

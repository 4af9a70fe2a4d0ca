/* The step "rdma": the RDMA device of the attached netdev (a VF's RoCE
 * device, say) goes into the pod with it when the kernel runs RDMA in
 * exclusive netns mode, and back on DEL, as rdma-cni moves it beside
 * sriov-cni. In shared mode every netns sees every RDMA device: nothing to
 * move. The decision is pure; the rest talks to the kernel. */
#include "cni_private.h"
#include "kyborg/base/error.h"
#include "kyborg/base/log.h"
#include "kyborg/net/netlink.h"
#include "kyborg/net/netns.h"
#include "kyborg/net/rdma.h"

#include <errno.h>
#include <string.h>

enum ky_cni_rdma_action ky_cni_rdma_plan(const struct ky_cni_rdma_facts *f, const char **why)
{
	const char *w = NULL;
	if (!f->has_netdev)
		w = "no kernel netdev: a function bound to a userspace driver has no RDMA device";
	else if (!f->node_has_rdma)
		w = "the node has no RDMA device";
	else if (f->mode == KY_RDMA_NETNS_SHARED)
		w = "shared netns mode: every netns sees every RDMA device";
	else if (!f->found)
		w = "no RDMA device has a port on the netdev";
	if (why)
		*why = w ? w : "exclusive netns mode and an RDMA device on the netdev";
	return w ? KY_CNI_RDMA_NONE : KY_CNI_RDMA_MOVE;
}

enum ky_cni_rdma_action ky_cni_rdma_undo_plan(bool recorded, bool pod_netns_open, bool found_in_pod)
{
	/* A netns that dies hands its RDMA devices back to the initial one,
	 * as it hands back physical netdevs. */
	return recorded && pod_netns_open && found_in_pod ? KY_CNI_RDMA_MOVE : KY_CNI_RDMA_NONE;
}

bool ky_cni_rdma_needed(struct ky_cni_run *r)
{
	struct ky_cni_rdma_facts f = { .has_netdev = r->dev.has_netdev && !r->dev.chained,
				       .node_has_rdma = true, .mode = KY_RDMA_NETNS_EXCLUSIVE, .found = true };
	if (ky_cni_rdma_plan(&f, NULL) == KY_CNI_RDMA_NONE)
		return false;
	f.node_has_rdma = ky_rdma_present();
	return ky_cni_rdma_plan(&f, NULL) == KY_CNI_RDMA_MOVE;
}

int ky_cni_rdma_apply(struct ky_cni_run *r, struct ky_error **err)
{
	/* What is not yet known counts for moving: each answer can only
	 * say no. */
	struct ky_cni_rdma_facts f = { .has_netdev = true, .node_has_rdma = true, .mode = KY_RDMA_NETNS_EXCLUSIVE,
				       .found = true };
	const char *why;
	_cleanup_(ky_nl_closep) struct ky_nl *nl = NULL;
	int ret = ky_rdma_open(&nl, err);
	if (ret == 0)
		ret = ky_rdma_netns_mode(nl, &f.mode, err);
	if (ret < 0)
		return ret;
	struct ky_rdma_dev dev;
	if (ky_cni_rdma_plan(&f, &why) == KY_CNI_RDMA_MOVE) {
		ret = ky_rdma_find_by_netdev(nl, r->dev.ifindex, &dev, err);
		if (ret == -ENODEV) {
			ky_error_clear(err);
			f.found = false;
		} else if (ret < 0) {
			return ret;
		}
	}
	if (ky_cni_rdma_plan(&f, &why) == KY_CNI_RDMA_NONE) {
		ky_debug("rdma-stays", "container=%s device=%s why=\"%s\"", r->container_id, r->dev.name, why);
		return 0;
	}
	free(r->rec->rdma.name);
	if (!(r->rec->rdma.name = strdup(dev.name)))
		return ky_error_set(err, ENOMEM, "state record: out of memory");
	r->rec->rdma.index = dev.index;
	if ((ret = ky_cni_run_write(r, false, err)) < 0)
		return ret;
	ret = ky_rdma_move_to_netns(nl, &dev, r->netns_fd, err);
	if (ret < 0)
		return ky_error_prefix(err, "RDMA device of %s into %s", r->dev.name, r->netns_path);
	ky_info("rdma-moved", "container=%s device=%s rdma=%s", r->container_id, r->dev.name, dev.name);
	return 0;
}

struct back {
	const char *name;
	int host_fd;  /* where to move it; -1: only look */
	bool found;
};

/* In the pod's netns: the kernel moves a device out of the netns of the
 * thread that asks, and only a socket there sees it. */
static int back_from_pod(void *arg, struct ky_error **err)
{
	struct back *b = arg;
	_cleanup_(ky_nl_closep) struct ky_nl *nl = NULL;
	struct ky_rdma_dev dev;
	int ret = ky_rdma_open(&nl, err);
	if (ret == 0)
		ret = ky_rdma_find_by_name(nl, b->name, &dev, err);
	if (ret == -ENODEV) {
		ky_error_clear(err);
		return 0;
	}
	b->found = ret == 0;
	if (ret == 0 && b->host_fd >= 0 && ky_cni_rdma_undo_plan(true, true, true) == KY_CNI_RDMA_MOVE)
		ret = ky_rdma_move_to_netns(nl, &dev, b->host_fd, err);
	return ret;
}

int ky_cni_rdma_undo(struct ky_cni_run *r, struct ky_error **err)
{
	const char *name = r->rec->rdma.name;
	if (ky_cni_rdma_undo_plan(name != NULL, r->netns_fd >= 0, true) == KY_CNI_RDMA_NONE)
		return 0;
	struct back b = { .name = name, .host_fd = r->host_fd };
	int ret = ky_netns_run_fd(r->netns_fd, back_from_pod, &b, err);
	if (ret < 0)
		return ky_error_prefix(err, "RDMA device %s back from %s", name, r->netns_path ? r->netns_path : "the pod");
	if (b.found)
		ky_info("rdma-back", "container=%s rdma=%s", r->container_id, name);
	return 0;
}

int ky_cni_rdma_check(struct ky_cni_run *r, struct ky_error **err)
{
	const char *name = r->rec->rdma.name;
	if (!name || r->netns_fd < 0)
		return 0;
	struct back b = { .name = name, .host_fd = -1 };
	int ret = ky_netns_run_fd(r->netns_fd, back_from_pod, &b, err);
	if (ret < 0)
		return ky_error_prefix(err, "RDMA device %s", name);
	if (!b.found)
		return ky_error_set(err, EUCLEAN, "RDMA device %s is not in the pod's netns", name);
	return 0;
}

/* The steps bpf and offload of ADD (cni_steps.c lists them), their undo and
 * their CHECK: per-pod BPF programs and tc flower rules on the pod's
 * interface, inside its netns.
 *
 * Direction, as the pod sees it: tc ingress (and XDP) on the pod interface
 * inside the pod netns sees the packets that arrive to the pod; tc egress
 * there sees the packets the pod sends, which is where anti-spoofing
 * belongs. It runs before the packet leaves the pod netns, so a spoofed
 * packet never reaches the host side of a veth nor the VF's wire.
 *
 * Each program's id and place (tc handle and priority, chosen by us among
 * the free ones, and its hw mode; XDP mode) is recorded before the first
 * attach, in one journal write, and each offload rule's place before the
 * first rule. A tc program with `hw: required` is loaded for the device,
 * like an offloaded XDP program, and attached with skip_sw.
 * Undo and CHECK look at exactly those, and leave alone whatever else is on the same hooks. Programs and
 * maps are pinned before they are attached, under KY_BPF_FS/kyborg/
 * <network>/<container id>/<ifname>/<object name>/; undo removes that
 * tree, also when the netns is gone. A clsact qdisc that ADD created goes when the last filter on it
 * does; one that was there before stays. */
#include "cni_private.h"
#include "kyborg/bpf/bpf_prog.h"
#include "kyborg/base/error.h"
#include "kyborg/base/fault.h"
#include "kyborg/base/fileio.h"
#include "kyborg/base/log.h"
#include "kyborg/net/netns.h"
#include "kyborg/net/tc_flower.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- where the pins go ---- */

static bool path_part_ok(const char *s)
{
	return s && *s && strcmp(s, ".") != 0 && strcmp(s, "..") != 0 && !strchr(s, '/');
}

/* depth 0: the attachment's directory; 1: its container's; 2: its network's. */
static int pin_dir(const struct ky_cni_run *r, int depth, char *buf, size_t size)
{
	const char *net = r->rec->network;
	if (!path_part_ok(net) || !path_part_ok(r->container_id) || !path_part_ok(r->ifname))
		return -EINVAL;
	int n;
	if (depth == 2)
		n = snprintf(buf, size, "%s/kyborg/%s", KY_BPF_FS, net);
	else if (depth == 1)
		n = snprintf(buf, size, "%s/kyborg/%s/%s", KY_BPF_FS, net, r->container_id);
	else
		n = snprintf(buf, size, "%s/kyborg/%s/%s/%s", KY_BPF_FS, net, r->container_id, r->ifname);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

static int make_pin_dirs(const struct ky_cni_run *r, struct ky_error **err)
{
	char dir[512];
	int ret = ky_bpf_fs_check(KY_BPF_FS, err);
	if (ret < 0)
		return ret;
	if ((ret = pin_dir(r, 0, dir, sizeof(dir))) < 0)
		return ky_error_set(err, -ret, "no valid pin path for this attachment");
	if ((ret = ky_mkdir_p(dir, 0700)) < 0)
		return ky_error_set(err, -ret, "mkdir %s: %s", dir, strerror(-ret));
	return 0;
}

/* ---- the objects: only from where the node allows ---- */

/* No list (a caller that read no node settings) allows nothing. */
static char *const *bpf_dirs(const struct ky_cni *c)
{
	static char *const none[] = { NULL };
	return c->node.bpf_dirs ? c->node.bpf_dirs : none;
}

int ky_cni_bpf_objects_check(struct ky_cni *c, struct ky_error **err)
{
	for (size_t i = 0; i < c->conf.n_bpf; i++) {
		bool seen = false;
		for (size_t k = 0; k < i && !seen; k++)
			seen = strcmp(c->conf.bpf[k].object, c->conf.bpf[i].object) == 0;
		if (seen)
			continue;
		int ret = ky_bpf_object_read(c->conf.bpf[i].object, bpf_dirs(c), NULL, NULL, err);
		if (ret < 0) {
			ky_error_prefix(err, "bpf[%zu].object", i);
			return ky_error_set_status(err, KY_CNI_E_CONFIG);
		}
	}
	return 0;
}

/* ---- the pod's identity for kyborg_pod ---- */

static void pod_ips(const cJSON *result, struct ky_bpf_pod *pod)
{
	const cJSON *ip;
	cJSON_ArrayForEach(ip, cJSON_GetObjectItemCaseSensitive(result, "ips"))
	{
		struct ky_cidr c;
		if (pod->n_ips < KY_ARRAY_SIZE(pod->ips) && ky_parse_cidr(ky_cni_result_str(ip, "address"), &c) == 0)
			pod->ips[pod->n_ips++] = c.ip;
	}
}

static int pod_identity(struct ky_cni_run *r, struct ky_bpf_pod *pod, struct ky_error **err)
{
	struct ky_nl *nl;
	struct ky_link l;
	int ret = ky_cni_run_pod_nl(r, &nl, err);
	if (ret < 0 || (ret = ky_link_get(nl, r->ifname, &l, err)) < 0)
		return ky_error_prefix(err, "find %s in the pod", r->ifname);
	memset(pod, 0, sizeof(*pod));
	memcpy(pod->mac, l.mac, 6);
	pod->ifindex = l.ifindex;
	/* Our IPAM result, or in chained mode the previous plugin's. */
	const cJSON *res = r->rec->ipam_result;
	pod_ips(res ? res : r->c->conf.prev_result, pod);
	return 0;
}

/* ---- bpf ---- */

bool ky_cni_bpf_needed(struct ky_cni_run *r)
{
	return r->c->conf.n_bpf > 0;
}

struct attach_ctx {
	struct ky_cni_run *r;
	struct ky_bpf_obj **objs; /* per entry: its object, shared between entries of one file */
	int ifindex;
	const struct ky_bpf_pod *pod;
	const char *dir;          /* the attachment's pin directory */
	size_t failed_at;
};

/* The program's entry in the record, before it is attached. */
static int prog_record(struct ky_cni_record *rec, size_t index, const struct ky_cni_bpf_prog *p,
		       const struct ky_bpf_attached *a)
{
	struct ky_cni_record_prog *e = ky_cni_record_prog_add(rec);
	if (!e || !(e->object = strdup(p->object)) || !(e->program = strdup(p->program)))
		return -ENOMEM;
	e->index = (unsigned)index;
	e->has_hook = e->has_prog_id = true;
	e->at = *a;
	return 0;
}

/* Whether DEL and CHECK can act on an entry: its hook and program id are
 * recorded. DEL finds a tc filter by handle and priority whatever its
 * flags; only CHECK reads hw (whether to ask for in_hw). */
static bool prog_readable(const struct ky_cni_record_prog *e)
{
	return e->has_hook && e->has_prog_id;
}

/* Where our tc programs go: priorities from here up, in the config's
 * order, so the programs of one hook run in that order (lower runs first),
 * and before filters at the kernel's default first priority (0xc000). */
#define KY_CNI_TC_PRIO 0xbf00
/* Offload rules after the programs: a program passes what it accepts on
 * to the next filter, while a rule's drop, pass or police ends the hook. */
#define KY_CNI_TC_PRIO_RULES 0xbf80

static int plan_all(struct attach_ctx *x, struct ky_bpf_attached *planned, struct ky_error **err)
{
	const struct ky_cni_conf *conf = &x->r->c->conf;
	for (size_t i = 0; i < conf->n_bpf; i++) {
		const struct ky_cni_bpf_prog *p = &conf->bpf[i];
		uint32_t hint = KY_CNI_TC_PRIO + (uint32_t)i;
		x->failed_at = i;
		for (;;) {
			int ret = ky_bpf_plan(x->objs[i], p->program, p->hook, p->xdp_mode, x->ifindex, hint,
					      &planned[i], err);
			if (ret < 0)
				return ret;
			planned[i].hw = p->hook == KY_BPF_XDP ? KY_BPF_HW_DEFAULT : p->hw;
			/* A place one of ours takes already (planned, not yet
			 * attached) is not free either. */
			bool dup = false;
			for (size_t k = 0; k < i && !dup; k++)
				dup = p->hook != KY_BPF_XDP && planned[k].hook == p->hook &&
				      planned[k].priority == planned[i].priority;
			if (!dup)
				break;
			hint = planned[i].priority - 1;
		}
	}
	return 0;
}

static int attach_in_pod(void *arg, struct ky_error **err);

/* Each object file is loaded once, with every program the config names in
 * it: programs of one object share its maps (one counter map for ingress
 * and egress). Its kyborg_pod is filled and everything pinned before any
 * program is attached. */
static int load_and_attach_in_pod(void *arg, struct ky_error **err)
{
	struct attach_ctx *x = arg;
	const struct ky_cni_conf *conf = &x->r->c->conf;
	char sub[600];
	int ret;
	for (size_t i = 0; i < conf->n_bpf; i++) {
		const struct ky_cni_bpf_prog *p = &conf->bpf[i];
		x->failed_at = i;
		for (size_t k = 0; k < i && !x->objs[i]; k++)
			if (strcmp(conf->bpf[k].object, p->object) == 0)
				x->objs[i] = x->objs[k];
		if (x->objs[i])
			continue;
		const char *progs[KY_CNI_MAX_BPF];
		size_t n = 0;
		for (size_t k = i; k < conf->n_bpf; k++)
			if (strcmp(conf->bpf[k].object, p->object) == 0)
				progs[n++] = conf->bpf[k].program;
		snprintf(sub, sizeof(sub), "%s/%s", x->dir, p->name);
		int offload = ky_cni_bpf_for_device(p) ? x->ifindex : 0;
		/* Maps it pins by name go to its own pin directory, removed
		 * with the attachment. */
		const struct ky_bpf_load opts = { .programs = progs, .n = n, .offload_ifindex = offload,
						  .dirs = bpf_dirs(x->r->c), .pin_dir = sub };
		if ((ret = ky_bpf_obj_load(p->object, &opts, &x->objs[i], err)) < 0 && offload)
			return ky_error_prefix(err, "load for the hardware of %s", x->r->ifname);
		if (ret < 0 || (ret = ky_bpf_obj_set_pod(x->objs[i], x->pod, err)) < 0 ||
		    (ret = ky_bpf_obj_pin(x->objs[i], sub, err)) < 0)
			return ret;
	}
	return attach_in_pod(x, err);
}

/* The pod interface's clsact hook, created when absent. The record says
 * whether ADD created it (DEL removes only a clsact of ours, once empty).
 * 1 when the record changed, 0 when it already had the hook. */
static int clsact_in_record(struct ky_cni_run *r, int ifindex, struct ky_error **err)
{
	bool created;
	int ret;
	if (r->rec->clsact.present)
		return 0;
	if ((ret = ky_bpf_clsact_ensure(ifindex, &created, err)) < 0)
		return ret;
	r->rec->clsact.present = true;
	r->rec->clsact.created = created;
	r->rec->clsact.ifindex = ifindex;
	return 1;
}

static int attach_in_pod(void *arg, struct ky_error **err)
{
	struct attach_ctx *x = arg;
	struct ky_cni_run *r = x->r;
	const struct ky_cni_conf *conf = &r->c->conf;
	struct ky_bpf_attached planned[KY_CNI_MAX_BPF];
	int ret = 0;
	bool any_tc = false;
	for (size_t i = 0; i < conf->n_bpf; i++)
		any_tc |= conf->bpf[i].hook != KY_BPF_XDP;
	/* Whether the hook is ours goes to disk at once: DEL of a record
	 * killed before the plan below must still take away a clsact ADD made. */
	if (any_tc && (ret = clsact_in_record(r, x->ifindex, err)) > 0)
		ret = ky_cni_run_write(r, false, err);
	if (ret < 0)
		return ret;
	if ((ret = plan_all(x, planned, err)) < 0)
		return ret;
	/* Every program's id and place is in the record before the first
	 * attach: a kill from here on leaves a record that names each one
	 * (undo detaches what it finds there with that id, nothing else). */
	for (size_t i = 0; i < conf->n_bpf; i++)
		if (prog_record(r->rec, i, &conf->bpf[i], &planned[i]) < 0)
			return ky_error_set(err, ENOMEM, "state record: out of memory");
	if ((ret = ky_cni_run_write(r, false, err)) < 0)
		return ret;
	for (size_t i = 0; i < conf->n_bpf; i++) {
		const struct ky_cni_bpf_prog *p = &conf->bpf[i];
		x->failed_at = i;
		if ((ret = ky_bpf_attach(x->objs[i], p->program, &planned[i], err)) < 0)
			return ret;
		struct ky_cni_record_prog *e = &r->rec->progs[i];
		if (p->hook == KY_BPF_XDP) {
			/* The mode the kernel chose, for an "auto" entry. */
			e->at.xdp_flags = planned[i].xdp_flags;
		} else if (planned[i].hw != KY_BPF_HW_DEFAULT) {
			e->has_in_hw = true;
			e->at.in_hw = planned[i].in_hw;
		}
		ky_info("bpf-attached", "container=%s ifname=%s program=%s attach=%s prog_id=%u", r->container_id,
			r->ifname, p->program, ky_bpf_hook_names[p->hook], planned[i].prog_id);
		char fault[48];
		snprintf(fault, sizeof(fault), "bpf-attached-%zu", i);
		ky_fault_point(fault);
	}
	return 0;
}

int ky_cni_bpf_apply(struct ky_cni_run *r, struct ky_error **err)
{
	const struct ky_cni_conf *conf = &r->c->conf;
	struct ky_bpf_obj *objs[KY_CNI_MAX_BPF] = { 0 };
	struct ky_bpf_pod pod;
	char dir[512];
	int ret;
	size_t i = 0;
	if ((ret = ky_bpf_available(err)) < 0 || (ret = make_pin_dirs(r, err)) < 0 ||
	    (ret = pod_identity(r, &pod, err)) < 0)
		return ky_error_prefix(err, "bpf");
	pin_dir(r, 0, dir, sizeof(dir));
	ky_cni_record_progs_clear(r->rec);
	struct attach_ctx x = { .r = r, .objs = objs, .ifindex = pod.ifindex, .pod = &pod, .dir = dir };
	/* In the pod netns: an offloaded program is loaded for the device
	 * whose index the kernel looks up in the loader's netns. */
	ret = ky_netns_run_fd(r->netns_fd, load_and_attach_in_pod, &x, err);
	i = x.failed_at;
	for (size_t k = 0; k < conf->n_bpf; k++) {
		bool shared = false;
		for (size_t j = 0; j < k && !shared; j++)
			shared = objs[j] == objs[k];
		if (!shared)
			ky_bpf_obj_free(objs[k]);
	}
	if (ret < 0)
		return ky_error_prefix(err, "bpf[%zu] (%s in %s)", i, conf->bpf[i].program, conf->bpf[i].object);
	return 0;
}

struct detach_ctx {
	const struct ky_cni_record *rec;
	int first_err;
};

/* A clsact qdisc ADD created goes once no filter is left on it. */
static void release_clsact(const struct ky_cni_record *rec, struct ky_error **err, int *first_err)
{
	if (!rec->clsact.created)
		return;
	int ret = ky_bpf_clsact_release(rec->clsact.ifindex, err);
	if (ret < 0 && !*first_err)
		*first_err = ret;
}

static int detach_in_pod(void *arg, struct ky_error **err)
{
	struct detach_ctx *x = arg;
	for (size_t i = 0; i < x->rec->n_progs; i++) {
		const struct ky_cni_record_prog *e = &x->rec->progs[i];
		if (!prog_readable(e))
			continue;
		_cleanup_error_ struct ky_error *e2 = NULL;
		int ret = ky_bpf_detach(&e->at, &e2);
		if (ret == 0)
			ky_info("bpf-not-ours-or-gone", "program=%s prog_id=%u", e->program ? e->program : "",
				e->at.prog_id);
		if (ret < 0 && !x->first_err) {
			x->first_err = ret;
			ky_error_set(err, -ret, "%s", ky_error_msg(e2));
		}
	}
	release_clsact(x->rec, err, &x->first_err);
	return x->first_err;
}

static void rmdir_parents(const struct ky_cni_run *r)
{
	char dir[512];
	/* Shared with the container's other interfaces and the network's
	 * other pods: removed only when empty. */
	for (int depth = 1; depth <= 2; depth++)
		if (pin_dir(r, depth, dir, sizeof(dir)) == 0)
			rmdir(dir);
}

/* XDP stays on a device that leaves a netns (tc's qdiscs do not): a
 * physical device our ADD moved into the pod, found back in the host
 * because the pod netns died or someone moved it, has its program taken
 * off there. A chained attachment's device is another plugin's to find. */
static int detach_xdp_in_host(struct ky_cni_run *r, struct ky_error **err)
{
	bool any = false;
	for (size_t i = 0; i < r->rec->n_progs; i++)
		any |= r->rec->progs[i].has_hook && r->rec->progs[i].at.hook == KY_BPF_XDP;
	if (!any || r->dev.chained || !r->dev.has_netdev)
		return 0;
	enum ky_cni_where where;
	struct ky_link link;
	int ret = ky_cni_dev_locate(r, &where, &link, err);
	if (ret < 0 || where != KY_CNI_IN_HOST)
		return ret;
	for (size_t i = 0; i < r->rec->n_progs; i++) {
		struct ky_bpf_attached a = r->rec->progs[i].at;
		if (!prog_readable(&r->rec->progs[i]) || a.hook != KY_BPF_XDP)
			continue;
		a.ifindex = link.ifindex;
		if ((ret = ky_bpf_detach(&a, err)) < 0)
			return ky_error_prefix(err, "detach XDP from %s in the host", link.name);
		if (ret > 0)
			ky_info("bpf-detached-in-host", "device=%s prog_id=%u", link.name, a.prog_id);
	}
	return 0;
}

int ky_cni_bpf_undo(struct ky_cni_run *r, struct ky_error **err)
{
	int ret = 0;
	char dir[512];
	bool any = r->rec->n_progs > 0 || r->rec->clsact.created;
	if (any && r->netns_fd >= 0) {
		struct detach_ctx x = { .rec = r->rec };
		ret = ky_netns_run_fd(r->netns_fd, detach_in_pod, &x, err);
		if (ret < 0)
			return ky_error_prefix(err, "detach BPF programs");
	}
	/* With the netns gone, its interfaces went with it or left it (a
	 * physical device comes back to the host, its qdiscs torn down on
	 * the way, its XDP program not). */
	if ((ret = detach_xdp_in_host(r, err)) < 0)
		return ret;
	if (pin_dir(r, 0, dir, sizeof(dir)) == 0 && (ret = ky_bpf_unpin(dir, err)) < 0)
		return ret;
	rmdir_parents(r);
	return 0;
}

/* ---- offload ---- */

bool ky_cni_bpf_offload_needed(struct ky_cni_run *r)
{
	return r->c->conf.n_offload > 0;
}

struct offload_ctx {
	struct ky_cni_run *r;
	struct ky_nl *nl;
	int ifindex;
	size_t failed_at;
};

static int offload_in_pod(void *arg, struct ky_error **err)
{
	struct offload_ctx *x = arg;
	struct ky_cni_run *r = x->r;
	const struct ky_cni_conf *conf = &r->c->conf;
	int ret;
	if ((ret = clsact_in_record(r, x->ifindex, err)) > 0)
		ret = ky_cni_run_write(r, false, err);
	if (ret < 0)
		return ret;
	/* As for programs: every rule's place is in the record before the
	 * first rule is added, so a kill leaves nothing DEL cannot find. */
	struct ky_flower_added planned[KY_CNI_MAX_OFFLOAD];
	for (size_t i = 0; i < conf->n_offload; i++) {
		enum ky_flower_dir dir = conf->offload[i].dir;
		uint32_t hint = KY_CNI_TC_PRIO_RULES;
		for (size_t k = 0; k < i; k++)
			if (planned[k].dir == dir && planned[k].priority >= hint)
				hint = planned[k].priority + 1;
		x->failed_at = i;
		if ((ret = ky_flower_plan(x->nl, x->ifindex, dir, hint, &planned[i], err)) < 0)
			return ret;
		struct ky_cni_record_rule *e = ky_cni_record_rule_add(r->rec);
		if (!e)
			return ky_error_set(err, ENOMEM, "state record: out of memory");
		*e = (struct ky_cni_record_rule){ .readable = true, .ifindex = x->ifindex, .at = planned[i] };
	}
	if ((ret = ky_cni_run_write(r, false, err)) < 0)
		return ret;
	for (size_t i = 0; i < conf->n_offload; i++) {
		x->failed_at = i;
		if ((ret = ky_flower_add(x->nl, x->ifindex, &conf->offload[i], &planned[i], err)) < 0)
			return ret;
		r->rec->rules[i].has_in_hw = true;
		r->rec->rules[i].at.in_hw = planned[i].in_hw;
		if (conf->offload[i].hw == KY_FLOWER_HW_PREFERRED)
			ky_info("offload-rule", "container=%s ifname=%s rule=%zu in_hw=%s", r->container_id, r->ifname,
				i, planned[i].in_hw ? "yes" : "no");
	}
	return 0;
}

int ky_cni_bpf_offload_apply(struct ky_cni_run *r, struct ky_error **err)
{
	struct ky_bpf_pod pod;
	struct offload_ctx x = { .r = r };
	int ret;
	if ((ret = ky_bpf_available(err)) < 0 || (ret = pod_identity(r, &pod, err)) < 0 ||
	    (ret = ky_cni_run_pod_nl(r, &x.nl, err)) < 0)
		return ky_error_prefix(err, "offload");
	x.ifindex = pod.ifindex;
	ky_cni_record_rules_clear(r->rec);
	ret = ky_netns_run_fd(r->netns_fd, offload_in_pod, &x, err);
	if (ret < 0)
		return ky_error_prefix(err, "offload[%zu]", x.failed_at);
	return 0;
}

static int unoffload_in_pod(void *arg, struct ky_error **err)
{
	struct offload_ctx *x = arg;
	int first = 0;
	for (size_t i = 0; i < x->r->rec->n_rules; i++) {
		const struct ky_cni_record_rule *e = &x->r->rec->rules[i];
		if (!e->readable)
			continue;
		int ret = ky_flower_del(x->nl, e->ifindex, &e->at, err);
		if (ret < 0 && !first)
			first = ret;
	}
	if (first)
		return first;
	release_clsact(x->r->rec, err, &first);
	return first;
}

int ky_cni_bpf_offload_undo(struct ky_cni_run *r, struct ky_error **err)
{
	bool any = r->rec->n_rules > 0 || r->rec->clsact.created;
	if (!any || r->netns_fd < 0)
		return 0;
	struct offload_ctx x = { .r = r };
	int ret = ky_cni_run_pod_nl(r, &x.nl, err);
	if (ret == 0)
		ret = ky_netns_run_fd(r->netns_fd, unoffload_in_pod, &x, err);
	if (ret < 0)
		return ky_error_prefix(err, "remove offload rules");
	return 0;
}

/* ---- CHECK ---- */

struct check_ctx {
	struct ky_cni_run *r;
	struct ky_nl *nl;
};

static int check_in_pod(void *arg, struct ky_error **err)
{
	struct check_ctx *x = arg;
	const struct ky_cni_record *rec = x->r->rec;
	int ret;
	for (size_t i = 0; i < rec->n_progs; i++) {
		const struct ky_cni_record_prog *e = &rec->progs[i];
		if (!prog_readable(e))
			return ky_error_set(err, EBADMSG, "state record: bpf[%zu] is unreadable", i);
		if ((ret = ky_bpf_check(&e->at, err)) < 0)
			return ky_error_prefix(err, "bpf[%u] (%s)", e->index, e->program ? e->program : "(null)");
	}
	for (size_t i = 0; i < rec->n_rules; i++) {
		const struct ky_cni_record_rule *e = &rec->rules[i];
		if (!e->readable)
			return ky_error_set(err, EBADMSG, "state record: offload[%zu] is unreadable", i);
		if ((ret = ky_flower_check(x->nl, e->ifindex, &e->at, err)) < 0)
			return ky_error_prefix(err, "offload[%zu]", i);
	}
	return 0;
}

int ky_cni_bpf_check(struct ky_cni_run *r, struct ky_error **err)
{
	bool has_bpf = r->rec->n_progs > 0;
	bool has_rules = r->rec->n_rules > 0;
	if (!has_bpf && !has_rules)
		return 0;
	struct check_ctx x = { .r = r };
	int ret = ky_bpf_available(err);
	if (ret == 0 && has_rules)
		ret = ky_cni_run_pod_nl(r, &x.nl, err);
	if (ret == 0)
		ret = ky_netns_run_fd(r->netns_fd, check_in_pod, &x, err);
	if (ret == 0 && has_bpf) {
		char dir[512];
		struct stat st;
		if (pin_dir(r, 0, dir, sizeof(dir)) == 0 && stat(dir, &st) < 0)
			ret = ky_error_set(err, ENOENT, "pins under %s are gone", dir);
	}
	return ret;
}

/* The planner: a profile's entries resolved to this node's devices, and the
 * ordered whole-device changes that converge them, each with the pods it
 * would take a device from. Pure: works on the PCI list, the devices'
 * current state and the usage records it is given. */
#include "kyborg/base/strv.h"
#include "kyborg/node/node_plan.h"
#include "kyborg/base/error.h"
#include "kyborg/pci/fpga.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Usage ---- */

int ky_node_usage_add(struct ky_node_usage *u, const char *addr, const char *who)
{
	char canon[KY_PCI_ADDR_LEN];
	if (ky_pci_addr_normalize(addr, canon) < 0)
		return -EINVAL;
	/* Once: a claim or a pod holding two replicas of one GPU uses it once. */
	for (size_t i = 0; i < u->n; i++)
		if (strcmp(u->users[i].addr, canon) == 0 && strcmp(u->users[i].who, who) == 0)
			return 0;
	struct ky_dev_user *nu = realloc(u->users, (u->n + 1) * sizeof(*nu));
	if (!nu)
		return -ENOMEM;
	u->users = nu;
	char *w = strdup(who);
	if (!w)
		return -ENOMEM;
	memcpy(u->users[u->n].addr, canon, sizeof(canon));
	u->users[u->n++].who = w;
	return 0;
}

void ky_node_usage_free(struct ky_node_usage *u)
{
	if (!u)
		return;
	for (size_t i = 0; i < u->n; i++)
		free(u->users[i].who);
	free(u->users);
	free(u);
}

/* ---- Targets ---- */

static void current_release(struct ky_dev_current *c)
{
	free(c->eswitch_note);
	free(c->command_state);
	free(c->command_note);
	free(c->image_id);
	free(c->image_note);
}

void ky_node_targets_free(struct ky_node_targets *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++)
		current_release(&t->t[i].cur);
	free(t->t);
	ky_strv_freen(t->notes, t->n_notes);
	free(t);
}

/* Whether the profile entry's kind takes dev; *why says why not. */
static bool kind_takes(const struct ky_profile_entry *e, const struct ky_pci_dev *dev, const char **why)
{
	const char *fam = ky_pci_family(dev);
	switch (e->kind) {
	case KY_PROFILE_NIC:
		if (strcmp(fam, "nic") != 0)
			return *why = "is not a NIC", false;
		if (ky_pci_is_vf(dev))
			return *why = "is a VF; a nic entry takes physical functions", false;
		if ((e->num_vfs >= 0 || e->vf_driver) && dev->sriov_totalvfs < 0)
			return *why = "is not SR-IOV capable", false;
		return true;
	case KY_PROFILE_GPU:
		return *why = "is not a GPU", strcmp(fam, "gpu") == 0;
	case KY_PROFILE_FPGA:
		return *why = "is not an FPGA", strcmp(fam, "fpga") == 0;
	}
	return *why = "is of no known kind", false;
}

static int add_target(struct ky_node_targets *t, const struct ky_profile_entry *e, const struct ky_pci_dev *dev,
		      struct ky_error **err)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->t[i].dev == dev)
			return ky_error_set(err, EINVAL, "%s: chooses %s, which %s already does", e->path, dev->addr,
					    t->t[i].entry->path);
	if (e->num_vfs > dev->sriov_totalvfs && e->num_vfs > 0)
		return ky_error_set(err, EINVAL, "%s.numVfs: %d is more than %s can have (sriov_totalvfs %d)", e->path,
				    e->num_vfs, dev->addr, dev->sriov_totalvfs);
	struct ky_node_target *nt = realloc(t->t, (t->n + 1) * sizeof(*nt));
	if (!nt)
		return ky_error_set(err, ENOMEM, "out of memory");
	t->t = nt;
	t->t[t->n++] = (struct ky_node_target){ .entry = e, .dev = dev };
	return 0;
}

int ky_node_targets_resolve(const struct ky_profile *p, const struct ky_pci_list *pci, struct ky_node_targets **out,
			    struct ky_error **err)
{
	static const struct ky_pci_list empty;
	_cleanup_(ky_node_targets_freep) struct ky_node_targets *t = calloc(1, sizeof(*t));
	if (!t)
		return ky_error_set(err, ENOMEM, "out of memory");
	if (!pci)
		pci = &empty;
	for (size_t i = 0; i < p->n; i++) {
		const struct ky_profile_entry *e = &p->entries[i];
		const char *why = NULL;
		int r;
		if (e->pci_addr[0]) {
			const struct ky_pci_dev *dev = ky_pci_list_find(pci, e->pci_addr);
			if (!dev)
				return ky_error_set(err, EINVAL, "%s.pciAddress: no PCI function %s on this node", e->path,
						    e->pci_addr);
			if (!kind_takes(e, dev, &why))
				return ky_error_set(err, EINVAL, "%s.pciAddress: %s %s (kind %s)", e->path, dev->addr, why,
						    ky_profile_kind_name(e->kind));
			if ((r = add_target(t, e, dev, err)) < 0)
				return r;
			continue;
		}
		size_t found = 0;
		for (size_t d = 0; d < pci->n; d++) {
			const struct ky_pci_dev *dev = &pci->devs[d];
			if (!kind_takes(e, dev, &why) || !ky_pci_selector_matches(&e->selector, dev, pci))
				continue;
			if ((r = add_target(t, e, dev, err)) < 0)
				return r;
			found++;
		}
		if (!found && ky_strv_append(&t->notes, &t->n_notes, "%s.selector matches no %s on this node", e->path,
					  e->kind == KY_PROFILE_NIC ? "NIC physical function" :
					  e->kind == KY_PROFILE_GPU ? "GPU" : "FPGA") < 0)
			return ky_error_set(err, ENOMEM, "out of memory");
	}
	*out = TAKE_PTR(t);
	return 0;
}

/* ---- Plan ---- */

static const char *const action_names[] = { "numVfs", "eswitchMode", "vfDriver", "command", "image" };
static const char *const status_names[] = { "planned", "done", "failed", "not-run" };

const char *ky_action_name(enum ky_action_kind kind)
{
	return (unsigned)kind < KY_ARRAY_SIZE(action_names) ? action_names[kind] : "unknown";
}

const char *ky_action_status_name(enum ky_action_status s)
{
	return (unsigned)s < KY_ARRAY_SIZE(status_names) ? status_names[s] : "unknown";
}

int ky_action_step(struct ky_action *a, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = ky_strv_vappend(&a->steps, &a->n_steps, fmt, ap);
	va_end(ap);
	return r;
}

static int action_wrote(void *ctx, const char *step)
{
	return ky_action_step(ctx, "%s", step);
}

struct ky_sysfs_log ky_action_sysfs_log(struct ky_action *a)
{
	return (struct ky_sysfs_log){ .wrote = action_wrote, .ctx = a };
}

static void action_release(struct ky_action *a)
{
	free(a->from);
	free(a->to);
	ky_strv_freen(a->pods, a->n_pods);
	ky_strv_freen(a->steps, a->n_steps);
	free(a->error);
}

void ky_plan_free(struct ky_plan *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++)
		action_release(&p->acts[i]);
	free(p->acts);
	free(p->refusal);
	free(p);
}

/* Adds the users of addr to the action's pods, each once. */
static int add_users(struct ky_action *a, const struct ky_node_usage *u, const char *addr)
{
	for (size_t i = 0; u && addr && i < u->n; i++) {
		if (strcmp(u->users[i].addr, addr) != 0)
			continue;
		bool dup = false;
		for (size_t k = 0; k < a->n_pods && !dup; k++)
			dup = strcmp(a->pods[k], u->users[i].who) == 0;
		if (!dup && ky_strv_append(&a->pods, &a->n_pods, "%s", u->users[i].who) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int add_vf_users(struct ky_action *a, const struct ky_node_usage *u, const struct ky_pci_dev *pf)
{
	int r = 0;
	for (size_t v = 0; v < pf->n_virtfns && r == 0; v++)
		r = add_users(a, u, pf->virtfns[v]);
	return r;
}

__attribute__((format(printf, 4, 5))) static struct ky_action *
push(struct ky_plan *p, enum ky_action_kind kind, const struct ky_node_target *t, const char *from_fmt, ...)
{
	struct ky_action *na = realloc(p->acts, (p->n + 1) * sizeof(*na));
	if (!na)
		return NULL;
	p->acts = na;
	struct ky_action *a = &p->acts[p->n++];
	*a = (struct ky_action){ .kind = kind, .target = t };
	va_list ap;
	va_start(ap, from_fmt);
	int r = vasprintf(&a->from, from_fmt, ap);
	va_end(ap);
	if (r < 0) {
		a->from = NULL;
		return NULL;
	}
	return a;
}

static int set_to(struct ky_action *a, const char *to)
{
	return (a->to = strdup(to)) ? 0 : -ENOMEM;
}

static int plan_nic(struct ky_plan *p, const struct ky_node_target *t, const struct ky_pci_list *pci,
		    const struct ky_node_usage *u)
{
	const struct ky_profile_entry *e = t->entry;
	const struct ky_pci_dev *dev = t->dev;
	int cur_vfs = dev->sriov_numvfs < 0 ? 0 : dev->sriov_numvfs;
	bool recreate = false;
	struct ky_action *a;
	char buf[32];

	if (e->num_vfs >= 0 && e->num_vfs != cur_vfs) {
		if (!(a = push(p, KY_ACT_NUM_VFS, t, "%d", cur_vfs)))
			return -ENOMEM;
		snprintf(buf, sizeof(buf), "%d", e->num_vfs);
		if (set_to(a, buf) < 0 || add_vf_users(a, u, dev) < 0)
			return -ENOMEM;
		recreate = e->num_vfs > 0;
	}
	if (e->eswitch != KY_ESWITCH_UNKNOWN && e->eswitch != t->cur.eswitch) {
		a = t->cur.eswitch_note ? push(p, KY_ACT_ESWITCH, t, "unknown (%s)", t->cur.eswitch_note) :
					  push(p, KY_ACT_ESWITCH, t, "%s", ky_eswitch_mode_name(t->cur.eswitch));
		if (!a)
			return -ENOMEM;
		if (set_to(a, ky_eswitch_mode_name(e->eswitch)) < 0 || add_users(a, u, dev->addr) < 0 ||
		    add_vf_users(a, u, dev) < 0)
			return -ENOMEM;
	}
	if (!e->vf_driver)
		return 0;
	if (recreate) {
		/* New VFs come up on the PF's default VF driver. */
		if (!(a = push(p, KY_ACT_VF_DRIVER, t, "the new VFs' default driver")) || set_to(a, e->vf_driver) < 0)
			return -ENOMEM;
		return 0;
	}
	if (e->num_vfs == 0 || cur_vfs == 0)
		return 0;
	size_t wrong = 0, total = 0;
	const char *other = NULL;
	for (size_t v = 0; v < dev->n_virtfns; v++) {
		const struct ky_pci_dev *vf = dev->virtfns[v] ? ky_pci_list_find(pci, dev->virtfns[v]) : NULL;
		if (!vf)
			continue;
		total++;
		if (vf->driver && strcmp(vf->driver, e->vf_driver) == 0)
			continue;
		if (!other || !vf->driver)
			other = vf->driver ? vf->driver : "no driver";
		wrong++;
	}
	if (!wrong)
		return 0;
	if (!(a = push(p, KY_ACT_VF_DRIVER, t, "%s on %zu of %zu VFs", other, wrong, total)) ||
	    set_to(a, e->vf_driver) < 0)
		return -ENOMEM;
	for (size_t v = 0; v < dev->n_virtfns; v++) {
		const struct ky_pci_dev *vf = dev->virtfns[v] ? ky_pci_list_find(pci, dev->virtfns[v]) : NULL;
		if (vf && !(vf->driver && strcmp(vf->driver, e->vf_driver) == 0) && add_users(a, u, vf->addr) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int plan_gpu(struct ky_plan *p, const struct ky_node_target *t, const struct ky_node_usage *u)
{
	const struct ky_profile_command *c = &t->entry->command;
	const char *cur = t->cur.command_state;
	if (!t->entry->has_command || (cur && strcmp(cur, c->state) == 0))
		return 0;
	struct ky_action *a = cur ? push(p, KY_ACT_COMMAND, t, "%s", cur) :
				    push(p, KY_ACT_COMMAND, t, "unknown (%s)", t->cur.command_note ?: "not read");
	if (!a || set_to(a, c->state) < 0 || (c->disruptive && add_users(a, u, t->dev->addr) < 0))
		return -ENOMEM;
	a->reboot = c->reboot;
	return 0;
}

static int plan_fpga(struct ky_plan *p, const struct ky_node_target *t, const struct ky_node_usage *u)
{
	const struct ky_image_spec *img = &t->entry->image;
	const char *cur = t->cur.image_id;
	if (!t->entry->has_image || (cur && ky_fpga_id_equal(cur, img->id)))
		return 0;
	struct ky_action *a = cur ? push(p, KY_ACT_IMAGE, t, "%s", cur) :
				    push(p, KY_ACT_IMAGE, t, "unknown (%s)", t->cur.image_note ?: "not read");
	if (!a || set_to(a, img->id) < 0 || add_users(a, u, t->dev->addr) < 0)
		return -ENOMEM;
	return 0;
}

int ky_node_plan(const struct ky_node_targets *t, const struct ky_pci_list *pci, const struct ky_node_usage *usage,
		 bool force, struct ky_plan **out, struct ky_error **err)
{
	_cleanup_(ky_plan_freep) struct ky_plan *p = calloc(1, sizeof(*p));
	if (!p)
		return ky_error_set(err, ENOMEM, "out of memory");
	p->force = force;
	for (size_t i = 0; i < t->n; i++) {
		const struct ky_node_target *tg = &t->t[i];
		int r = 0;
		switch (tg->entry->kind) {
		case KY_PROFILE_NIC:
			r = plan_nic(p, tg, pci, usage);
			break;
		case KY_PROFILE_GPU:
			r = plan_gpu(p, tg, usage);
			break;
		case KY_PROFILE_FPGA:
			r = plan_fpga(p, tg, usage);
			break;
		}
		if (r < 0)
			return ky_error_set(err, -r, "plan %s: out of memory", tg->dev->addr);
	}
	for (size_t i = 0; i < p->n; i++) {
		struct ky_action *a = &p->acts[i];
		a->disruptive = a->n_pods > 0;
		if (a->disruptive && !force)
			p->refused = true;
	}
	if (p->refused && !(p->refusal = strdup("a change would take a device from running pods or the claims that hold it (--force applies it anyway)")))
		return ky_error_set(err, ENOMEM, "out of memory");
	*out = TAKE_PTR(p);
	return 0;
}

/* ---- Results ---- */

static const char *const result_names[] = { "converged", "changes", "changed", "refused", "failed" };

const char *ky_plan_result_name(enum ky_plan_result r)
{
	return (unsigned)r < KY_ARRAY_SIZE(result_names) ? result_names[r] : "unknown";
}

enum ky_plan_result ky_plan_result(const struct ky_plan *p, bool applied)
{
	if (p->refused)
		return KY_PLAN_REFUSED;
	bool any_done = false;
	for (size_t i = 0; i < p->n; i++) {
		if (p->acts[i].status == KY_ACT_FAILED)
			return KY_PLAN_FAILED;
		any_done |= p->acts[i].status == KY_ACT_DONE;
	}
	if (!applied)
		return p->n ? KY_PLAN_CHANGES : KY_PLAN_CONVERGED;
	return any_done ? KY_PLAN_CHANGED : KY_PLAN_CONVERGED;
}

/* The executor: a plan's actions in order, each through the module that
 * touches its part of the kernel (sysfs, devlink, an admin's program).
 * It stops at the first failure, so a report names the last change made
 * and the one that failed; the failed change itself undoes what it can. */
#include "kyborg/node/node_apply.h"
#include "kyborg/net/devlink.h"
#include "kyborg/base/error.h"
#include "kyborg/pci/fpga.h"
#include "kyborg/pci/image_cache.h"
#include "node_private.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

/* An admin's FPGA loader may take a while: partial reconfiguration of a
 * large bitstream. */
#define LOADER_TIMEOUT_MS (300 * 1000)

static int apply_num_vfs(struct ky_action *a, struct ky_error **err)
{
	const struct ky_node_target *t = a->target;
	char devpath[64];
	snprintf(devpath, sizeof(devpath), "/sys/bus/pci/devices/%s", t->dev->addr);
	int cur = t->dev->sriov_numvfs < 0 ? 0 : t->dev->sriov_numvfs;
	struct ky_sysfs_log log = ky_action_sysfs_log(a);
	return ky_sriov_set_num_vfs(devpath, cur, t->entry->num_vfs, &log, err);
}

static int apply_eswitch(struct ky_action *a, struct ky_error **err)
{
	const struct ky_node_target *t = a->target;
	int r = ky_devlink_eswitch_set("pci", t->dev->addr, t->entry->eswitch, err);
	if (r < 0)
		return r;
	return ky_action_step(a, "devlink pci/%s eswitch mode %s", t->dev->addr,
			      ky_eswitch_mode_name(t->entry->eswitch)) < 0 ?
		       ky_error_set(err, ENOMEM, "out of memory") :
		       0;
}

/* Binds VFs 0..N-1 as the PF shows them now (after a VF count change). */
static int apply_vf_driver(struct ky_action *a, struct ky_error **err)
{
	const struct ky_node_target *t = a->target;
	const char *driver = t->entry->vf_driver;
	_cleanup_(ky_pci_dev_freep) struct ky_pci_dev *pf = NULL;
	int r = ky_pci_lookup_net(t->dev->addr, &pf, err);
	if (r < 0)
		return r;
	size_t n = t->entry->num_vfs >= 0 ? (size_t)t->entry->num_vfs : (size_t)(t->dev->sriov_numvfs > 0 ? t->dev->sriov_numvfs : 0);
	if (n > pf->n_virtfns)
		n = pf->n_virtfns;
	struct ky_sysfs_log log = ky_action_sysfs_log(a);
	for (size_t v = 0; v < n; v++) {
		if (!pf->virtfns[v])
			continue;
		if ((r = ky_pci_bind_driver(pf->virtfns[v], driver, &log, err)) < 0)
			return ky_error_prefix(err, "VF %zu of %zu (VFs before it are on %s)", v, n, driver);
	}
	return 0;
}

static int apply_command(struct ky_action *a, struct ky_error **err)
{
	const struct ky_node_target *t = a->target;
	const struct ky_profile_command *c = &t->entry->command;
	int r = ky_node_run_program(c->apply, t->dev->addr, c->state, c->timeout_ms, NULL, err);
	if (r < 0)
		return r;
	if (ky_action_step(a, "ran %s %s (KYBORG_STATE=%s)", c->apply[0], t->dev->addr, c->state) < 0)
		return ky_error_set(err, ENOMEM, "out of memory");
	if (c->reboot)
		return 0; /* the new state shows after the reboot */
	_cleanup_free_ char *now = NULL;
	if ((r = ky_node_run_program(c->read, t->dev->addr, NULL, c->timeout_ms, &now, err)) < 0)
		return ky_error_prefix(err, "read back after %s", c->apply[0]);
	if (strcmp(now, c->state) != 0)
		return ky_error_set(err, EIO, "%s ran, but %s now prints \"%s\", not \"%s\"", c->apply[0], c->read[0], now,
				    c->state);
	return 0;
}

static int apply_image(struct ky_action *a, const struct ky_apply_opts *o, struct ky_error **err)
{
	const struct ky_node_target *t = a->target;
	const struct ky_profile_entry *e = t->entry;
	struct ky_fpga *f = NULL;
	int r = ky_fpga_find(t->dev->syspath, t->dev->addr, &f, err);
	if (r < 0)
		return r;
	/* The loader is the admin's program, run with kyborgctl's environment. */
	struct ky_fpga_loader l = { .program = e->program, .envp = environ, .timeout_ms = LOADER_TIMEOUT_MS };
	bool programmed = false;
	r = ky_fpga_ensure(f, &e->image, o->image_cache_dir, o->fetch_helper, &l, &programmed, err);
	/* A load whose read-back then failed changed the device all the same:
	 * the report says so. */
	if (programmed &&
	    ky_action_step(a, "loaded image %s (sha256 %s) into %s", e->image.id, e->image.sha256, f->port_dev) < 0 &&
	    r >= 0)
		r = ky_error_set(err, ENOMEM, "out of memory");
	ky_fpga_free(f);
	return r;
}

/* What an action needs that can be checked without changing anything: a
 * failure here leaves the whole node as it was. */
static int precheck(const struct ky_action *a, struct ky_error **err)
{
	const struct ky_node_target *t = a->target;
	char path[PATH_MAX];
	switch (a->kind) {
	case KY_ACT_ESWITCH:
		if (t->cur.eswitch_note)
			return ky_error_set(err, EOPNOTSUPP, "cannot read the eswitch mode: %s", t->cur.eswitch_note);
		return 0;
	case KY_ACT_VF_DRIVER:
		snprintf(path, sizeof(path), "/sys/bus/pci/drivers/%s/bind", t->entry->vf_driver);
		if (access(path, W_OK) < 0)
			return ky_error_set(err, ENOENT, "driver %s is not loaded (no %s)", t->entry->vf_driver, path);
		return 0;
	case KY_ACT_COMMAND:
		if (access(t->entry->command.apply[0], X_OK) < 0)
			return ky_error_set(err, errno, "cannot run %s: %m", t->entry->command.apply[0]);
		return 0;
	default:
		return 0;
	}
}

static void fail_before_changes(struct ky_plan *p, size_t failed, const struct ky_error *e)
{
	for (size_t k = 0; k < p->n; k++)
		p->acts[k].status = k == failed ? KY_ACT_FAILED : KY_ACT_NOT_RUN;
	free(p->acts[failed].error);
	if (asprintf(&p->acts[failed].error, "%s; nothing changed", ky_error_msg(e)) < 0)
		p->acts[failed].error = NULL;
}

/* Before anything changes: every action's preconditions, and every image
 * the plan loads present in the cache and checked; a bad image refuses the
 * whole plan. */
static int check_all(struct ky_plan *p, const struct ky_apply_opts *o, struct ky_error **err)
{
	for (size_t i = 0; i < p->n; i++) {
		struct ky_action *a = &p->acts[i];
		if (precheck(a, err) < 0) {
			fail_before_changes(p, i, err ? *err : NULL);
			return ky_error_prefix(err, "%s %s", a->target->dev->addr, ky_action_name(a->kind));
		}
		if (a->kind != KY_ACT_IMAGE)
			continue;
		_cleanup_free_ char *path = NULL;
		int r = ky_image_resolve(&a->target->entry->image, o->image_cache_dir, o->fetch_helper, &path, err);
		if (r >= 0)
			continue;
		if (r == -EBADMSG) {
			a->error = strdup(ky_error_msg(err ? *err : NULL));
			p->refused = true;
			free(p->refusal);
			if (asprintf(&p->refusal, "%s: %s (the old image stays)", a->target->entry->path,
				     ky_error_msg(err ? *err : NULL)) < 0)
				p->refusal = NULL;
		} else {
			fail_before_changes(p, i, err ? *err : NULL);
		}
		return ky_error_prefix(err, "%s image", a->target->dev->addr);
	}
	return 0;
}

int ky_node_apply(struct ky_plan *p, const struct ky_apply_opts *o, struct ky_error **err)
{
	if (p->refused)
		return ky_error_set(err, EPERM, "refused: %s", p->refusal ? p->refusal : "");
	int r = check_all(p, o, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < p->n; i++) {
		struct ky_action *a = &p->acts[i];
		switch (a->kind) {
		case KY_ACT_NUM_VFS:
			r = apply_num_vfs(a, err);
			break;
		case KY_ACT_ESWITCH:
			r = apply_eswitch(a, err);
			break;
		case KY_ACT_VF_DRIVER:
			r = apply_vf_driver(a, err);
			break;
		case KY_ACT_COMMAND:
			r = apply_command(a, err);
			break;
		case KY_ACT_IMAGE:
			r = apply_image(a, o, err);
			break;
		default:
			r = ky_error_set(err, EINVAL, "unknown action");
		}
		if (r >= 0) {
			a->status = KY_ACT_DONE;
			continue;
		}
		a->status = KY_ACT_FAILED;
		a->error = strdup(err && *err ? ky_error_msg(*err) : strerror(-r));
		for (size_t k = i + 1; k < p->n; k++)
			p->acts[k].status = KY_ACT_NOT_RUN;
		return ky_error_prefix(err, "%s %s", a->target->dev->addr, ky_action_name(a->kind));
	}
	return 0;
}

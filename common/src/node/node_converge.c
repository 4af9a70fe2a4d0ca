/* The whole kyborgctl plan/apply call over the node modules: profile,
 * discovery, targets, current state, users, plan, apply. */
#include "kyborg/node/node_converge.h"
#include "kyborg/base/error.h"
#include "kyborg/node/node_profile.h"
#include "kyborg/pci/pci.h"
#include "kyborg/state/state_store.h"

#include <errno.h>
#include <string.h>

void ky_converge_release(struct ky_converge *c)
{
	ky_plan_free(c->plan);
	ky_node_usage_free(c->usage);
	ky_node_targets_free(c->targets);
	ky_pci_list_free(c->pci);
	ky_profile_free(c->profile);
	memset(c, 0, sizeof(*c));
}

int ky_node_converge(const struct ky_converge_opts *o, struct ky_converge *c, struct ky_error **err)
{
	_cleanup_(ky_state_closep) struct ky_state_store *store = NULL;
	_cleanup_(ky_state_unlockp) struct ky_state_lock *lock = NULL;
	int r;
	memset(c, 0, sizeof(*c));
	/* The plan an apply runs is made under the lock: a second apply plans
	 * from the node the first one left. */
	if (o->apply && o->lock_dir) {
		if ((r = ky_state_open(o->lock_dir, &store, err)) < 0)
			return r;
		r = ky_state_lock(store, "kyborgctl-apply", KY_STATE_NONBLOCK, &lock, err);
		if (r == -EWOULDBLOCK)
			return ky_error_set(err, EBUSY, "another kyborgctl apply is running (lock in %s); nothing changed",
					    o->lock_dir);
		if (r < 0)
			return r;
	}
	if ((r = ky_profile_load(o->profile_path, &c->profile, err)) < 0 || (r = ky_pci_discover(&c->pci, err)) < 0)
		return r;
	if ((r = ky_node_targets_resolve(c->profile, c->pci, &c->targets, err)) < 0)
		return ky_error_prefix(err, "%s", o->profile_path);
	if ((r = ky_node_read_current(c->targets, err)) < 0 || (r = ky_node_usage_read(&o->usage, &c->usage, err)) < 0 ||
	    (r = ky_node_plan(c->targets, c->pci, c->usage, o->force, &c->plan, err)) < 0)
		return r;
	if (!o->apply || c->plan->refused)
		return 0;
	return ky_node_apply(c->plan, &o->apply_opts, err);
}

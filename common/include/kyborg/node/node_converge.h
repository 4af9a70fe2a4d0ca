/* kyborgctl plan/apply as one library call: the profile, the node's
 * devices, their current state and users, the plan, and with apply the
 * changes. Front ends only print the result and map it to an exit code. */
#pragma once

#include <stdbool.h>

#include "kyborg/node/node_apply.h"
#include "kyborg/node/node_plan.h"

struct ky_error;

struct ky_converge_opts {
	const char *profile_path;
	bool apply;
	bool force;
	struct ky_usage_sources usage;
	struct ky_apply_opts apply_opts;
	/* With apply: the directory of the lock that keeps two applies apart
	 * (created when missing); NULL: no lock. */
	const char *lock_dir;
};

/* Everything the call read and decided, for the report; all owned. */
struct ky_converge {
	struct ky_profile *profile;
	struct ky_pci_list *pci;
	struct ky_node_targets *targets;
	struct ky_node_usage *usage;
	struct ky_plan *plan; /* NULL when it stopped before planning */
};

/* Returns 0 when the plan was made (and, with apply, every action done or
 * the plan refused). With c->plan NULL it stopped before planning: -EINVAL
 * for a profile that is malformed or does not fit this node (the message
 * names the field), another -errno when the node could not be read. With
 * c->plan set and a negative return, an action failed: the plan's statuses
 * say where it stopped and *err says why. An apply while another holds
 * the lock is -EBUSY before anything is read. */
int ky_node_converge(const struct ky_converge_opts *o, struct ky_converge *c, struct ky_error **err);
void ky_converge_release(struct ky_converge *c);

/* kyborgctl's reports of a plan, before or after it is applied: a JSON
 * document for deployment tools and a block per device for people. Pure. */
#include "kyborg/node/node_plan.h"
#include "kyborg/base/error.h"
#include "kyborg/json/json.h"

#include <errno.h>
#include <string.h>

static bool add(cJSON *o, const char *key, cJSON *item)
{
	if (!item)
		return false;
	if (!cJSON_AddItemToObject(o, key, item)) {
		cJSON_Delete(item);
		return false;
	}
	return true;
}

static cJSON *strv_json(char *const *v, size_t n)
{
	cJSON *a = cJSON_CreateArray();
	for (size_t i = 0; a && i < n; i++) {
		cJSON *s = cJSON_CreateString(v[i]);
		if (!s || !cJSON_AddItemToArray(a, s)) {
			cJSON_Delete(s);
			cJSON_Delete(a);
			return NULL;
		}
	}
	return a;
}

static cJSON *action_json(const struct ky_action *a, bool applied)
{
	_cleanup_(cJSON_Deletep) cJSON *o = cJSON_CreateObject();
	const struct ky_node_target *t = a->target;
	bool ok = o && add(o, "device", cJSON_CreateString(t->dev->addr)) &&
		  add(o, "kind", cJSON_CreateString(ky_profile_kind_name(t->entry->kind))) &&
		  add(o, "entry", cJSON_CreateString(t->entry->path)) &&
		  add(o, "change", cJSON_CreateString(ky_action_name(a->kind))) &&
		  add(o, "from", cJSON_CreateString(a->from ? a->from : "")) &&
		  add(o, "to", cJSON_CreateString(a->to ? a->to : "")) &&
		  add(o, "disruptive", cJSON_CreateBool(a->disruptive)) && add(o, "reboot", cJSON_CreateBool(a->reboot)) &&
		  add(o, "pods", strv_json(a->pods, a->n_pods)) &&
		  add(o, "status", cJSON_CreateString(ky_action_status_name(a->status)));
	if (ok && applied)
		ok = add(o, "steps", strv_json(a->steps, a->n_steps));
	if (ok && a->error)
		ok = add(o, "error", cJSON_CreateString(a->error));
	return ok ? TAKE_PTR(o) : NULL;
}

int ky_plan_to_json(const struct ky_plan *p, const struct ky_node_targets *t, bool applied, cJSON **out,
		    struct ky_error **err)
{
	_cleanup_(cJSON_Deletep) cJSON *doc = cJSON_CreateObject();
	cJSON *acts = cJSON_CreateArray();
	bool ok = doc && add(doc, "result", cJSON_CreateString(ky_plan_result_name(ky_plan_result(p, applied)))) &&
		  add(doc, "force", cJSON_CreateBool(p->force)) &&
		  (!p->refusal || add(doc, "refusal", cJSON_CreateString(p->refusal))) && add(doc, "notes", strv_json(t->notes, t->n_notes)) &&
		  add(doc, "actions", acts);
	if (!ok)
		cJSON_Delete(acts);
	for (size_t i = 0; ok && i < p->n; i++) {
		cJSON *a = action_json(&p->acts[i], applied);
		ok = a && cJSON_AddItemToArray(acts, a);
		if (!ok)
			cJSON_Delete(a);
	}
	if (!ok)
		return ky_error_set(err, ENOMEM, "plan JSON: out of memory");
	*out = TAKE_PTR(doc);
	return 0;
}

static void write_action(const struct ky_action *a, bool applied, FILE *f)
{
	fprintf(f, "  %-12s %s -> %s", ky_action_name(a->kind), a->from ? a->from : "", a->to ? a->to : "");
	if (a->reboot)
		fputs("  [needs a reboot]", f);
	if (applied)
		fprintf(f, "  [%s]", ky_action_status_name(a->status));
	fputc('\n', f);
	for (size_t k = 0; k < a->n_pods; k++)
		fprintf(f, "    %s: %s\n", a->disruptive && !applied ? "disrupts" : "used by", a->pods[k]);
	for (size_t k = 0; applied && k < a->n_steps; k++)
		fprintf(f, "    did: %s\n", a->steps[k]);
	if (a->error)
		fprintf(f, "    error: %s\n", a->error);
}

int ky_plan_write_text(const struct ky_plan *p, const struct ky_node_targets *t, bool applied, FILE *f,
		       struct ky_error **err)
{
	for (size_t i = 0; i < t->n_notes; i++)
		fprintf(f, "note: %s\n", t->notes[i]);
	const struct ky_node_target *last = NULL;
	for (size_t i = 0; i < p->n; i++) {
		const struct ky_action *a = &p->acts[i];
		if (a->target != last) {
			last = a->target;
			fprintf(f, "%s (%s, %s):\n", last->dev->addr, ky_profile_kind_name(last->entry->kind),
				last->entry->path);
		}
		write_action(a, applied, f);
	}
	switch (ky_plan_result(p, applied)) {
	case KY_PLAN_CONVERGED:
		fprintf(f, "%s: the node matches the profile (%zu device%s).\n",
			applied ? "Nothing changed" : "Nothing to change", t->n, t->n == 1 ? "" : "s");
		break;
	case KY_PLAN_CHANGES:
		fprintf(f, "%zu change%s to make.\n", p->n, p->n == 1 ? "" : "s");
		break;
	case KY_PLAN_CHANGED:
		fprintf(f, "Changed: the node now matches the profile.\n");
		break;
	case KY_PLAN_REFUSED:
		fprintf(f, "Refused: %s; nothing changed.\n", p->refusal ? p->refusal : "see above");
		break;
	case KY_PLAN_FAILED:
		fprintf(f, "Failed: see the change marked failed; the changes before it were made, none after.\n");
		break;
	}
	if (fflush(f) != 0 || ferror(f))
		return ky_error_set(err, EIO, "write plan: %s", strerror(errno ? errno : EIO));
	return 0;
}

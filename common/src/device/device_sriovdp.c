/* The SR-IOV network device plugin's config.json, read as it is
 * (kyborg/device/device_config.h): resourceList[] with resourceName,
 * resourcePrefix, deviceType, selectors (an object or a list of them),
 * excludeTopology, additionalInfo and checkHealthOnPf. SRIOV-DP reads it
 * with Go's encoding/json, which matches keys in any case, takes null for
 * absent and ignores fields it does not know: so do we, except that an
 * ignored field is a warning and a near miss of a known one ("pfName") an
 * error, and that what SRIOV-DP would crash on or silently drop (no
 * selectors, a malformed VF range, a wrong type) is an error naming the
 * field. Pure. */
#include "kyborg/device/device_config.h"

#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kyborg/base/error.h"
#include "kyborg/base/str.h"
#include "kyborg/base/strv.h"
#include "kyborg/json/json.h"
#include "kyborg/pci/pci.h"

static const char *const top_keys[] = { "resourceList", NULL };
static const char *const resource_keys[] = { "resourceName",    "resourcePrefix", "deviceType", "excludeTopology",
					     "selectors",       "additionalInfo", "checkHealthOnPf", NULL };
/* Go renders ResourceConfig's untagged SelectorObjs field as is: configs
 * written by the sriov-network-operator carry "SelectorObjs": null. */
static const char *const resource_noise[] = { "SelectorObjs", "SelectorObj", NULL };

static const char *const net_keys[] = { "vendors",     "devices",   "drivers", "pciAddresses", "acpiIndexes",
					"pfNames",     "rootDevices", "linkTypes", "isRdma",     "needVhostNet", NULL };
static const char *const accel_keys[] = { "vendors", "devices", "drivers", "pciAddresses", "acpiIndexes", NULL };
/* Known to SRIOV-DP, not done here: refused when they would select. */
static const char *const unsupported_keys[] = { "ddpProfiles", "vdpaType", "pKeys", "auxTypes", NULL };
static const char *const net_pci_keys[] = { "vendors",	   "devices",	  "drivers",  "pciAddresses",
					    "acpiIndexes", "pfNames",	  "rootDevices", "linkTypes", NULL };

struct parse {
	struct ky_device_config *cfg;
	const char *prefix; /* for resources without resourcePrefix */
	struct ky_error **err;
};

static int warn(struct parse *p, const struct ky_jnode *node, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int warn(struct parse *p, const struct ky_jnode *node, const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL;
	va_list ap;
	va_start(ap, fmt);
	int r = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (r < 0 || ky_strv_append(&p->cfg->warnings, &p->cfg->n_warnings, "%s%s%s", node->path,
				    node->path[0] ? ": " : "", msg) < 0)
		return ky_error_set(p->err, ENOMEM, "out of memory");
	return 0;
}

static bool in(const char *const *list, const char *key, bool nocase)
{
	for (; list && *list; list++)
		if (nocase ? strcasecmp(*list, key) == 0 : strcmp(*list, key) == 0)
			return true;
	return false;
}

static const char *canonical(const char *const *list, const char *key)
{
	for (; list && *list; list++)
		if (strcasecmp(*list, key) == 0)
			return *list;
	return NULL;
}

/* Go matches a JSON key to a field in any case: each key of obj that is
 * one of `known` in another case is rewritten to the known spelling, so
 * the getters (which match exactly) find it; two keys for one field are
 * an error (Go would keep the last without a word). The document is the
 * parser's own. */
static int fold_keys(const struct ky_jnode *obj, const char *const *const lists[], size_t n_lists,
		     struct ky_error **err)
{
	for (cJSON *a = obj->j ? obj->j->child : NULL; a; a = a->next) {
		const char *canon = NULL;
		for (size_t l = 0; l < n_lists && !canon; l++)
			canon = canonical(lists[l], a->string);
		if (!canon)
			continue;
		for (const cJSON *b = obj->j->child; b != a; b = b->next) {
			if (strcasecmp(b->string, a->string) == 0) {
				struct ky_jnode n;
				ky_json_elem(obj, a, 0, &n);
				return ky_json_error(&n, err, "duplicate field (%s is given%s): give %s once", b->string,
						     strcmp(b->string, a->string) ? " in another case" : " too", canon);
			}
		}
		if (strcmp(canon, a->string) != 0 && !(a->type & cJSON_StringIsConst)) {
			char *s = cJSON_malloc(strlen(canon) + 1);
			if (!s)
				return ky_error_set(err, ENOMEM, "out of memory");
			strcpy(s, canon);
			cJSON_free(a->string);
			a->string = s;
		}
	}
	return 0;
}

/* Whether a value would do anything: null, "", [], {} and false do not. */
static bool has_effect(const cJSON *j)
{
	if (!j || cJSON_IsNull(j) || cJSON_IsFalse(j))
		return false;
	if (cJSON_IsString(j))
		return j->valuestring && j->valuestring[0];
	if (cJSON_IsArray(j) || cJSON_IsObject(j))
		return j->child != NULL;
	return true;
}

/* Keys of obj outside `allowed`: noise passes, SRIOV-DP features we do not
 * have are refused when they would select something, near misses of a
 * known key are refused naming it, `elsewhere` (another deviceType's) and
 * the rest are warnings, as SRIOV-DP ignores them. */
static int check_keys(struct parse *p, const struct ky_jnode *obj, const char *const *allowed,
		      const char *const *elsewhere, const char *const *noise, const char *what)
{
	for (const cJSON *a = obj->j ? obj->j->child : NULL; a; a = a->next) {
		struct ky_jnode n;
		int r = 0;
		if (in(allowed, a->string, false) || in(noise, a->string, true))
			continue;
		ky_json_elem(obj, a, 0, &n);
		const char *unsupported = canonical(unsupported_keys, a->string);
		if (unsupported) {
			if (has_effect(a))
				return ky_json_error(&n, p->err, "%s is not supported by kyborg-device-plugin "
								   "(no device is selected by it here): remove the "
								   "selector or the resource",
						     unsupported);
			continue;
		}
		if (in(elsewhere, a->string, true)) {
			r = warn(p, &n, "not a selector of %s: ignored, as the SR-IOV network device plugin ignores it",
				 what);
		} else {
			const char *near = NULL;
			unsigned best = 3;
			const char *const *cands[] = { allowed, unsupported_keys };
			for (size_t l = 0; l < KY_ARRAY_SIZE(cands); l++)
				for (const char *const *k = cands[l]; *k; k++) {
					unsigned d = ky_str_distance_nocase(a->string, *k);
					if (d < best) {
						best = d;
						near = *k;
					}
				}
			if (near)
				return ky_json_error(&n, p->err, "unknown field; did you mean %s?", near);
			r = warn(p, &n, "unknown field: ignored, as the SR-IOV network device plugin ignores it");
		}
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- selectors ---- */

static int parse_selector(struct parse *p, const struct ky_jnode *node, enum ky_device_kind kind,
			  struct ky_device_selector *sel)
{
	const bool net = kind == KY_DEVICE_NET;
	const char *what = net ? "deviceType netDevice" : "deviceType accelerator";
	int r;
	if (!cJSON_IsObject(node->j))
		return ky_json_error(node, p->err, "a selector must be an object, got %s", ky_json_type_name(node->j));
	if (!(sel->path = strdup(node->path)))
		return ky_error_set(p->err, ENOMEM, "out of memory");
	const char *const *const lists[] = { net_keys, accel_keys, unsupported_keys };
	if ((r = fold_keys(node, lists, KY_ARRAY_SIZE(lists), p->err)) < 0 ||
	    (r = check_keys(p, node, net ? net_keys : accel_keys, net ? NULL : net_keys, NULL, what)) < 0 ||
	    (r = ky_pci_selector_parse_fields(node, net ? net_pci_keys : accel_keys, KY_PCI_SELECTOR_LENIENT, &sel->pci,
					      p->err)) < 0)
		return r;
	if (net && ((r = ky_json_bool(node, "isRdma", KY_JSON_NULLABLE, &sel->pci.rdma, p->err)) < 0 ||
		    (r = ky_json_bool(node, "needVhostNet", KY_JSON_NULLABLE, &sel->vhost_net, p->err)) < 0))
		return r;
	if (ky_pci_selector_empty(&sel->pci))
		return warn(p, node, "no selector field: it takes every %s function of the node that no earlier "
				     "resource took, as the SR-IOV network device plugin does",
			    net ? "network (netDevice)" : "accelerator");
	return 0;
}

static int parse_selectors(struct parse *p, const struct ky_jnode *res, struct ky_device_resource *r)
{
	struct ky_jnode sel, e;
	size_t i;
	int k;
	if ((k = ky_json_child(res, "selectors", KY_JSON_NULLABLE, &sel, p->err)) < 0)
		return k;
	if (!sel.j)
		return ky_json_error(&sel, p->err, "missing required field: a selector object or a list of them "
						   "(the SR-IOV network device plugin cannot run without one either)");
	if (cJSON_IsObject(sel.j)) {
		if (!(r->selectors = calloc(1, sizeof(*r->selectors))))
			return ky_error_set(p->err, ENOMEM, "out of memory");
		r->n_selectors = 1;
		return parse_selector(p, &sel, r->kind, &r->selectors[0]);
	}
	if (!cJSON_IsArray(sel.j))
		return ky_json_error(&sel, p->err, "must be a selector object or a list of them, got %s",
				     ky_json_type_name(sel.j));
	size_t n = (size_t)cJSON_GetArraySize(sel.j);
	if (n == 0)
		return ky_json_error(&sel, p->err, "needs at least one selector object");
	if (n > KY_DEVICE_MAX_SELECTORS)
		return ky_json_error(&sel, p->err, "more than %d selector objects", KY_DEVICE_MAX_SELECTORS);
	if (!(r->selectors = calloc(n, sizeof(*r->selectors))))
		return ky_error_set(p->err, ENOMEM, "out of memory");
	ky_json_foreach(&sel, i, e)
	{
		r->n_selectors = i + 1;
		if ((k = parse_selector(p, &e, r->kind, &r->selectors[i])) < 0)
			return k;
	}
	return 0;
}

/* ---- additionalInfo ---- */

static int parse_info(struct parse *p, const struct ky_jnode *res, struct ky_device_resource *r)
{
	struct ky_jnode info, dev, kv;
	size_t i, j;
	int k;
	if ((k = ky_json_object(res, "additionalInfo", KY_JSON_NULLABLE, &info, p->err)) <= 0)
		return k;
	size_t n = (size_t)cJSON_GetArraySize(info.j);
	if (n && !(r->info = calloc(n, sizeof(*r->info))))
		return ky_error_set(p->err, ENOMEM, "out of memory");
	ky_json_foreach(&info, i, dev)
	{
		struct ky_device_info *d = &r->info[i];
		r->n_info = i + 1;
		if (!(d->device = strdup(dev.j->string)))
			return ky_error_set(p->err, ENOMEM, "out of memory");
		if (cJSON_IsNull(dev.j))
			continue;
		if (!cJSON_IsObject(dev.j))
			return ky_json_error(&dev, p->err, "must be an object of strings, got %s",
					     ky_json_type_name(dev.j));
		/* SRIOV-DP compares the key with the address as the kernel
		 * writes it: anything else matches no device. */
		char canon[KY_PCI_ADDR_LEN];
		bool is_addr = ky_pci_addr_normalize(d->device, canon) == 0;
		if (strcmp(d->device, "*") != 0 && !(is_addr && strcmp(canon, d->device) == 0)) {
			if (is_addr)
				k = warn(p, &dev, "matches no device: SRIOV-DP compares it with the address as the kernel "
						  "writes it (%s)",
					 canon);
			else
				k = warn(p, &dev, "neither \"*\" nor a PCI address: matches no device");
			if (k < 0)
				return k;
		}
		size_t m = (size_t)cJSON_GetArraySize(dev.j);
		if (m && !(d->kvs = calloc(m, sizeof(*d->kvs))))
			return ky_error_set(p->err, ENOMEM, "out of memory");
		ky_json_foreach(&dev, j, kv)
		{
			const char *v;
			if ((k = ky_json_string(&kv, NULL, KY_JSON_ALLOW_EMPTY, &v, p->err)) < 0)
				return k;
			d->n_kvs = j + 1;
			if (!(d->kvs[j].key = strdup(kv.j->string)) || !(d->kvs[j].value = strdup(v)))
				return ky_error_set(p->err, ENOMEM, "out of memory");
		}
	}
	return 0;
}

/* ---- resources ---- */

static bool sriovdp_name_valid(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-')
			return false;
	return true;
}

static int parse_name(struct parse *p, const struct ky_jnode *res, struct ky_device_resource *r)
{
	struct ky_jnode name_node, prefix_node;
	const char *name, *prefix = NULL;
	int k;
	if ((k = ky_json_string(res, "resourceName", KY_JSON_REQUIRED, &name, p->err)) < 0 ||
	    (k = ky_json_string(res, "resourcePrefix", KY_JSON_NULLABLE | KY_JSON_ALLOW_EMPTY, &prefix, p->err)) < 0)
		return k;
	ky_json_child(res, "resourceName", 0, &name_node, NULL);
	ky_json_child(res, "resourcePrefix", 0, &prefix_node, NULL);
	if (!sriovdp_name_valid(name))
		return ky_json_error(&name_node, p->err, "may hold only letters, digits, '_' and '-' (the SR-IOV network "
							 "device plugin's rule)");
	if (!prefix || !*prefix)
		prefix = p->prefix;
	if (asprintf(&r->name, "%s/%s", prefix, name) < 0) {
		r->name = NULL;
		return ky_error_set(p->err, ENOMEM, "out of memory");
	}
	const char *problem = ky_device_resource_name_problem(r->name);
	char q[160];
	if (problem) /* the name escaped where the config's \u escapes made it a control byte */
		return ky_json_error(strstr(problem, "domain") ? (prefix_node.j ? &prefix_node : res) : &name_node,
				     p->err, "%s: kubelet refuses it: %s", ky_json_quote_controls(r->name, q, sizeof(q)),
				     problem);
	return 0;
}

static int parse_resource(struct parse *p, const struct ky_jnode *res, struct ky_device_resource *r)
{
	static const char *const types[] = { "netDevice", "accelerator", "auxNetDevice", NULL };
	const char *type = NULL;
	int k;
	r->schema = KY_DEVICE_SCHEMA_SRIOVDP;
	r->replicas = 1;
	r->check_pf_link = true;
	if (!cJSON_IsObject(res->j))
		return ky_json_error(res, p->err, "must be an object, got %s", ky_json_type_name(res->j));
	if (!(r->path = strdup(res->path)))
		return ky_error_set(p->err, ENOMEM, "out of memory");
	const char *const *const lists[] = { resource_keys };
	if ((k = fold_keys(res, lists, 1, p->err)) < 0 ||
	    (k = check_keys(p, res, resource_keys, NULL, resource_noise, "a resource")) < 0 ||
	    (k = parse_name(p, res, r)) < 0 ||
	    (k = ky_json_string(res, "deviceType", KY_JSON_NULLABLE | KY_JSON_ALLOW_EMPTY, &type, p->err)) < 0)
		return k;
	if (!type || !*type || strcmp(type, "netDevice") == 0) {
		r->kind = KY_DEVICE_NET;
	} else if (strcmp(type, "accelerator") == 0) {
		r->kind = KY_DEVICE_ACCEL;
	} else {
		struct ky_jnode t;
		ky_json_child(res, "deviceType", 0, &t, NULL);
		if (strcmp(type, types[2]) == 0)
			return ky_json_error(&t, p->err, "auxNetDevice (auxiliary network devices, such as subfunctions) "
							 "is not supported by kyborg-device-plugin: netDevice and "
							 "accelerator are");
		char q[64];
		return ky_json_error(&t, p->err, "must be netDevice or accelerator, got %s", ky_json_quote(type, q, sizeof(q)));
	}
	struct ky_jnode health;
	if ((k = ky_json_bool(res, "excludeTopology", KY_JSON_NULLABLE, &r->exclude_topology, p->err)) < 0 ||
	    (k = ky_json_bool(res, "checkHealthOnPf", KY_JSON_NULLABLE, &r->check_pf_link, p->err)) < 0 ||
	    (k = parse_selectors(p, res, r)) < 0 || (k = parse_info(p, res, r)) < 0)
		return k;
	if (r->kind != KY_DEVICE_NET && ky_json_child(res, "checkHealthOnPf", 0, &health, NULL) > 0 &&
	    (k = warn(p, &health, "only for deviceType netDevice: ignored")) < 0)
		return k;
	return 0;
}

int ky_device_config_parse_sriovdp(const struct ky_jnode *root, const struct ky_device_config_opts *opts,
				   struct ky_device_config **out, struct ky_error **err)
{
	_cleanup_(ky_device_config_freep) struct ky_device_config *cfg = calloc(1, sizeof(*cfg));
	struct parse p = { .cfg = cfg, .err = err,
			   .prefix = opts && opts->resource_prefix ? opts->resource_prefix : KY_DEVICE_SRIOVDP_PREFIX };
	struct ky_jnode arr, e;
	size_t n, i;
	int r;
	if (!cfg)
		return ky_error_set(err, ENOMEM, "out of memory");
	cfg->schema = KY_DEVICE_SCHEMA_SRIOVDP;
	const char *const *const lists[] = { top_keys };
	if ((r = fold_keys(root, lists, 1, err)) < 0 || (r = check_keys(&p, root, top_keys, NULL, NULL, "the config")) < 0 ||
	    (r = ky_json_array(root, "resourceList", KY_JSON_NULLABLE, &arr, &n, err)) < 0)
		return r;
	/* The sriov-network-operator writes an empty list for a node no
	 * policy selects. */
	if (n == 0 && (r = warn(&p, &arr, "no resources: nothing is served")) < 0)
		return r;
	if (n && !(cfg->resources = calloc(n, sizeof(*cfg->resources))))
		return ky_error_set(err, ENOMEM, "out of memory");
	ky_json_foreach(&arr, i, e)
	{
		cfg->n_resources = i + 1;
		if ((r = parse_resource(&p, &e, &cfg->resources[i])) < 0)
			return r;
		for (size_t j = 0; j < i; j++)
			if (strcmp(cfg->resources[j].name, cfg->resources[i].name) == 0) {
				struct ky_jnode nn;
				ky_json_child(&e, "resourceName", 0, &nn, NULL);
				return ky_json_error(&nn, err, "duplicate resource %s (also resourceList[%zu])",
						     cfg->resources[i].name, j);
			}
	}
	*out = TAKE_PTR(cfg);
	return 0;
}

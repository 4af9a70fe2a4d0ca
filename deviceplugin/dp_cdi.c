/* CDI spec files: for each resource, a spec in the CDI dir naming every
 * device with the device nodes it needs, so CDI-aware runtimes and tools
 * resolve "kyborg.io/gpu=<id>". Rewritten when the devices change. */
#include "dp.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kyborg/error.h"
#include "kyborg/json.h"

#define CDI_VERSION "0.5.0"

char *dp_cdi_spec_name(const char *resource)
{
	char *s;
	if (asprintf(&s, "kyborg-%s.json", resource) < 0)
		return NULL;
	for (char *c = s; *c; c++)
		if (*c == '/')
			*c = '_';
	return s;
}

static bool add_device(cJSON *devices, const struct dp_resource *res, const struct dp_devlist *list,
		       const struct dp_device *d)
{
	const char *ids[1] = { d->id };
	struct dp_container_alloc a = { 0 };
	if (dp_allocate(res, list, ids, 1, false, &a, NULL) < 0)
		return true; /* not allocatable now: not named */
	cJSON *dev = cJSON_CreateObject(), *edits = NULL, *nodes = NULL;
	bool ok = dev && cJSON_AddItemToArray(devices, dev) && cJSON_AddStringToObject(dev, "name", d->id) &&
		  (edits = cJSON_AddObjectToObject(dev, "containerEdits")) &&
		  (nodes = cJSON_AddArrayToObject(edits, "deviceNodes"));
	for (size_t i = 0; ok && i < a.n_specs; i++) {
		cJSON *n = cJSON_CreateObject();
		ok = n && cJSON_AddItemToArray(nodes, n) && cJSON_AddStringToObject(n, "path", a.specs[i].host_path) &&
		     cJSON_AddStringToObject(n, "permissions", a.specs[i].permissions);
	}
	dp_container_alloc_release(&a);
	return ok;
}

char *dp_cdi_spec_json(const struct dp_resource *res, const struct dp_devlist *list)
{
	_cleanup_(cJSON_Deletep) cJSON *root = cJSON_CreateObject();
	cJSON *devices;
	if (!root || !cJSON_AddStringToObject(root, "cdiVersion", CDI_VERSION) ||
	    !cJSON_AddStringToObject(root, "kind", res->name) || !(devices = cJSON_AddArrayToObject(root, "devices")))
		return NULL;
	for (size_t i = 0; i < list->n; i++)
		if (!add_device(devices, res, list, &list->devs[i]))
			return NULL;
	return cJSON_PrintUnformatted(root);
}

int dp_cdi_write(const char *dir, const struct dp_resource *res, const struct dp_devlist *list,
		 struct ky_error **err)
{
	_cleanup_free_ char *name = dp_cdi_spec_name(res->name);
	_cleanup_free_ char *text = dp_cdi_spec_json(res, list);
	int r;
	if (!name || !text)
		return ky_error_set(err, ENOMEM, "out of memory");
	if ((r = dp_mkdir_p(dir, 0755, err)) < 0 || (r = dp_write_atomic(dir, name, text, err)) < 0)
		return ky_error_prefix(err, "CDI spec for %s", res->name);
	return 0;
}

void dp_cdi_remove(const char *dir, const struct dp_resource *res)
{
	_cleanup_free_ char *name = dp_cdi_spec_name(res->name);
	_cleanup_free_ char *path = NULL;
	if (name && asprintf(&path, "%s/%s", dir, name) >= 0)
		unlink(path);
	else
		path = NULL;
}

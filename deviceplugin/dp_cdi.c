/* CDI spec files: for each resource, a spec in the CDI dir naming every
 * device with the device nodes it needs, so CDI-aware runtimes and tools
 * resolve "kyborg.io/gpu=<id>". Rewritten when the devices change. */
#include "dp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kyborg/base/fileio.h"
#include "kyborg/base/error.h"
#include "kyborg/base/str.h"

#define CDI_VERSION "0.5.0"

char *dp_cdi_spec_name(const char *resource)
{
	char *s;
	return asprintf(&s, "kyborg-%s.json", resource) < 0 ? NULL : ky_str_replace_char(s, '/', '_');
}

/* A JSON string literal of s. */
static void put_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

char *dp_cdi_spec_json(const struct dp_resource *res, const struct dp_devlist *list)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f)
		return NULL;
	fputs("{\"cdiVersion\":\"" CDI_VERSION "\",\"kind\":", f);
	put_str(f, res->name);
	fputs(",\"devices\":[", f);
	bool first = true;
	for (size_t i = 0; i < list->n; i++) {
		const struct dp_device *d = &list->devs[i];
		struct dp_container_alloc a = { 0 };
		if (!d->healthy)
			continue; /* not allocatable now: not named */
		if (dp_device_specs(res, d, &a) < 0) {
			fclose(f);
			free(text);
			return NULL;
		}
		fputs(first ? "{\"name\":" : ",{\"name\":", f);
		first = false;
		put_str(f, d->id);
		fputs(",\"containerEdits\":{\"deviceNodes\":[", f);
		for (size_t k = 0; k < a.n_specs; k++) {
			fputs(k ? ",{\"path\":" : "{\"path\":", f);
			put_str(f, a.specs[k].host_path);
			fputs(",\"permissions\":", f);
			put_str(f, a.specs[k].permissions);
			fputc('}', f);
		}
		fputs("]}}", f);
		dp_container_alloc_release(&a);
	}
	fputs("]}", f);
	bool bad = ferror(f);
	if (fclose(f) != 0 || bad) {
		free(text);
		return NULL;
	}
	return text;
}

int dp_cdi_write(const char *dir, const struct dp_resource *res, const struct dp_devlist *list,
		 struct ky_error **err)
{
	_cleanup_free_ char *name = dp_cdi_spec_name(res->name);
	_cleanup_free_ char *text = dp_cdi_spec_json(res, list);
	int r;
	if (!name || !text)
		return ky_error_set(err, ENOMEM, "out of memory");
	if ((r = ky_mkdir_p(dir, 0755)) < 0)
		return ky_error_set(err, -r, "CDI spec for %s: mkdir %s: %s", res->name, dir, strerror(-r));
	if ((r = ky_write_atomic(dir, name, text, strlen(text), 0644, 0, err)) < 0)
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

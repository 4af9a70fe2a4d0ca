/* CDI spec files (kyborg/device/cdi_spec.h): one per resource for the
 * device plugin, rewritten when its devices change, and one per claim for
 * the DRA driver, written at Prepare and removed at Unprepare. Specs are
 * written as a stream: a document tree for 10,000 devices would cost
 * megabytes of small allocations. */
#include "kyborg/device/cdi_spec.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kyborg/base/error.h"
#include "kyborg/base/fileio.h"
#include "kyborg/base/str.h"

/* s inside a JSON string literal. */
static void put_chars(FILE *f, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
}

/* A JSON string literal of s. */
static void put_str(FILE *f, const char *s)
{
	fputc('"', f);
	put_chars(f, s);
	fputc('"', f);
}

/* "containerEdits":{"env":[...],"deviceNodes":[...]}, each part only when
 * there is something in it, except deviceNodes, which a device always
 * names (the per-resource spec's format). */
static void put_edits(FILE *f, const struct ky_device_alloc *e, bool nodes_always)
{
	bool any = false;
	fputs("\"containerEdits\":{", f);
	if (e && e->n_envs) {
		fputs("\"env\":[", f);
		for (size_t k = 0; k < e->n_envs; k++) {
			fputs(k ? ",\"" : "\"", f);
			put_chars(f, e->envs[k].key);
			fputc('=', f);
			put_chars(f, e->envs[k].value);
			fputc('"', f);
		}
		fputc(']', f);
		any = true;
	}
	if ((e && e->n_specs) || nodes_always) {
		fputs(any ? ",\"deviceNodes\":[" : "\"deviceNodes\":[", f);
		for (size_t k = 0; e && k < e->n_specs; k++) {
			fputs(k ? ",{\"path\":" : "{\"path\":", f);
			put_str(f, e->specs[k].host_path);
			fputs(",\"permissions\":", f);
			put_str(f, e->specs[k].permissions);
			fputc('}', f);
		}
		fputc(']', f);
	}
	fputc('}', f);
}

static void spec_begin(FILE *f, const char *kind, const struct ky_device_alloc *common)
{
	fputs("{\"cdiVersion\":\"" KY_CDI_VERSION "\",\"kind\":", f);
	put_str(f, kind);
	if (common) {
		fputc(',', f);
		put_edits(f, common, false);
	}
	fputs(",\"devices\":[", f);
}

static void spec_device(FILE *f, bool first, const char *name, const struct ky_device_alloc *edits,
			bool nodes_always)
{
	fputs(first ? "{\"name\":" : ",{\"name\":", f);
	put_str(f, name);
	fputc(',', f);
	put_edits(f, edits, nodes_always);
	fputc('}', f);
}

/* Closes the stream: the text, or NULL when anything failed. The stream
 * sets *text when it is closed. */
static char *spec_end(FILE *f, char **text, bool failed)
{
	fputs("]}", f);
	failed |= ferror(f) != 0;
	if (fclose(f) != 0 || failed) {
		free(*text);
		return NULL;
	}
	return *text;
}

char *ky_cdi_spec_json(const char *kind, const struct ky_device_alloc *common, const struct ky_cdi_device *devs,
		       size_t n)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f)
		return NULL;
	spec_begin(f, kind, common);
	for (size_t i = 0; i < n; i++)
		spec_device(f, i == 0, devs[i].name, devs[i].edits, false);
	return spec_end(f, &text, false);
}

int ky_cdi_spec_write(const char *dir, const char *name, const char *text, struct ky_error **err)
{
	int r = ky_mkdir_p(dir, 0755);
	if (r < 0)
		return ky_error_set(err, -r, "mkdir %s: %s", dir, strerror(-r));
	return ky_write_atomic(dir, name, text, strlen(text), 0644, 0, err);
}

int ky_cdi_spec_remove(const char *dir, const char *name, struct ky_error **err)
{
	_cleanup_free_ char *path = NULL;
	if (asprintf(&path, "%s/%s", dir, name) < 0)
		return ky_error_set(err, ENOMEM, "out of memory");
	if (unlink(path) < 0 && errno != ENOENT)
		return ky_error_set(err, errno, "remove CDI spec %s: %s", path, strerror(errno));
	return 0;
}

bool ky_cdi_vendor_valid(const char *v)
{
	size_t n = v ? strlen(v) : 0;
	if (n == 0 || !isalpha((unsigned char)v[0]) || !isalnum((unsigned char)v[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)v[i]) && v[i] != '_' && v[i] != '.' && v[i] != '-')
			return false;
	return true;
}

bool ky_cdi_name_valid(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("_.:-", s[i]))
			return false;
	return true;
}

/* ---- one spec per resource ---- */

char *ky_cdi_resource_spec_name(const char *resource)
{
	char *s;
	return asprintf(&s, "kyborg-%s.json", resource) < 0 ? NULL : ky_str_replace_char(s, '/', '_');
}

char *ky_cdi_resource_spec_json(const struct ky_device_resource *res, const struct ky_devlist *list)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	bool first = true, failed = false;
	if (!f)
		return NULL;
	spec_begin(f, res->name, NULL);
	for (size_t i = 0; i < list->n && !failed; i++) {
		const struct ky_device *d = &list->devs[i];
		struct ky_device_alloc a = { 0 };
		if (!d->healthy)
			continue; /* not allocatable now: not named */
		if (ky_device_specs(res, d, &a) < 0) {
			failed = true;
			break;
		}
		spec_device(f, first, d->id, &a, true);
		first = false;
		ky_device_alloc_release(&a);
	}
	return spec_end(f, &text, failed);
}

int ky_cdi_resource_write(const char *dir, const struct ky_device_resource *res, const struct ky_devlist *list,
			  struct ky_error **err)
{
	_cleanup_free_ char *name = ky_cdi_resource_spec_name(res->name);
	_cleanup_free_ char *text = ky_cdi_resource_spec_json(res, list);
	if (!name || !text)
		return ky_error_set(err, ENOMEM, "out of memory");
	if (ky_cdi_spec_write(dir, name, text, err) < 0)
		return ky_error_prefix(err, "CDI spec for %s", res->name);
	return 0;
}

void ky_cdi_resource_remove(const char *dir, const struct ky_device_resource *res)
{
	_cleanup_free_ char *name = ky_cdi_resource_spec_name(res->name);
	if (name)
		ky_cdi_spec_remove(dir, name, NULL);
}

/* ---- one spec per claim ---- */

char *ky_cdi_claim_kind(const char *vendor)
{
	char *s;
	return asprintf(&s, "%s/" KY_CDI_CLAIM_CLASS, vendor) < 0 ? NULL : s;
}

char *ky_cdi_claim_spec_name(const char *vendor, const char *claim_uid)
{
	char *s;
	return asprintf(&s, "%s-" KY_CDI_CLAIM_CLASS "_%s.json", vendor, claim_uid) < 0 ? NULL : s;
}

char *ky_cdi_claim_device_name(const char *claim_uid, const char *device)
{
	char *s;
	return asprintf(&s, "%s-%s", claim_uid, device) < 0 ? NULL : s;
}

char *ky_cdi_claim_device_id(const char *vendor, const char *claim_uid, const char *device)
{
	char *s;
	return asprintf(&s, "%s/" KY_CDI_CLAIM_CLASS "=%s-%s", vendor, claim_uid, device) < 0 ? NULL : s;
}

/* Watch streams: lines out of chunks with a bound, events out of lines,
 * and the metadata fields every caller looks at. */
#include "kyborg/k8s/k8s_event.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/json/json.h"
#include "kyborg/k8s/k8s_status.h"

/* A buffer that grew past this for one long line is released after it. */
#define KEEP_CAP (64u * 1024u)

void ky_k8s_lines_init(struct ky_k8s_lines *l, size_t max)
{
	*l = (struct ky_k8s_lines){ .max = max ? max : KY_K8S_EVENT_MAX };
}

void ky_k8s_lines_release(struct ky_k8s_lines *l)
{
	free(l->buf);
	l->buf = NULL;
	l->len = l->cap = 0;
}

size_t ky_k8s_lines_pending(const struct ky_k8s_lines *l)
{
	return l->len;
}

static int emit(const char *line, size_t len, ky_k8s_line_fn fn, void *userdata)
{
	if (len && line[len - 1] == '\r')
		len--;
	if (!len)
		return 0;
	return fn(userdata, line, len);
}

static int buffer_append(struct ky_k8s_lines *l, const char *data, size_t n)
{
	if (l->len + n > l->max)
		return -EMSGSIZE;
	if (l->len + n > l->cap) {
		size_t cap = l->cap ? l->cap : 4096;
		while (cap < l->len + n)
			cap *= 2;
		if (cap > l->max)
			cap = l->max;
		char *p = realloc(l->buf, cap);
		if (!p)
			return -ENOMEM;
		l->buf = p;
		l->cap = cap;
	}
	memcpy(l->buf + l->len, data, n);
	l->len += n;
	return 0;
}

int ky_k8s_lines_feed(struct ky_k8s_lines *l, const char *data, size_t len, ky_k8s_line_fn fn, void *userdata)
{
	if (l->failed)
		return l->failed;
	int r = 0;
	while (len) {
		const char *nl = memchr(data, '\n', len);
		size_t n = nl ? (size_t)(nl - data) : len;
		if (l->len || !nl) {
			/* Part of a line that began in an earlier chunk, or the
			 * start of one that ends in a later chunk. */
			r = buffer_append(l, data, n);
			if (r < 0)
				break;
			if (nl) {
				size_t done = l->len;
				l->len = 0;
				r = emit(l->buf, done, fn, userdata);
				if (l->cap > KEEP_CAP) {
					free(l->buf);
					l->buf = NULL;
					l->cap = 0;
				}
			}
		} else {
			r = n > l->max ? -EMSGSIZE : emit(data, n, fn, userdata);
		}
		if (r < 0)
			break;
		if (!nl)
			break;
		data += n + 1;
		len -= n + 1;
	}
	if (r < 0)
		l->failed = r;
	return r;
}

const char *ky_k8s_event_type_name(enum ky_k8s_event_type t)
{
	static const char *const names[] = { "ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR" };
	return (unsigned)t < KY_ARRAY_SIZE(names) ? names[t] : "?";
}

int ky_k8s_event_parse(const char *line, size_t len, struct ky_k8s_event *ev, struct ky_error **err)
{
	static const char *const types[] = { "ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR", NULL };
	_cleanup_(cJSON_Deletep) cJSON *doc = NULL;
	struct ky_jnode root, obj;
	int type, r;
	if ((r = ky_json_parse_object(line, len, "the event", &doc, &root, err)) < 0 ||
	    (r = ky_json_enum(&root, "type", KY_JSON_REQUIRED, types, &type, err)) < 0 ||
	    (r = ky_json_object(&root, "object", KY_JSON_REQUIRED, &obj, err)) < 0)
		return ky_error_prefix(err, "watch event");
	if (type == KY_K8S_ERROR && !ky_k8s_is_status(obj.j))
		return ky_error_set(err, EINVAL, "watch event: ERROR without a Status object");
	ev->type = (enum ky_k8s_event_type)type;
	ev->object = (cJSON *)obj.j;
	ev->doc = TAKE_PTR(doc);
	return 0;
}

static const char *meta_string(const cJSON *obj, const char *key)
{
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(meta, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

const char *ky_k8s_object_resource_version(const cJSON *obj)
{
	return meta_string(obj, "resourceVersion");
}

const char *ky_k8s_object_name(const cJSON *obj)
{
	return meta_string(obj, "name");
}

const char *ky_k8s_object_namespace(const cJSON *obj)
{
	return meta_string(obj, "namespace");
}

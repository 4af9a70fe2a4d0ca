/* Watch streams (pure): the body of a watch is newline-delimited JSON,
 * {"type":"ADDED|MODIFIED|DELETED|BOOKMARK|ERROR","object":{...}}, arriving
 * in chunks cut anywhere. The splitter hands on whole lines with a bound on
 * their length; the parser reads one event. */
#pragma once

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

struct ky_error;

/* An object in etcd is at most 1.5 MiB; its JSON in an event a little more. */
#define KY_K8S_EVENT_MAX (4u * 1024u * 1024u)

struct ky_k8s_lines {
	size_t max;   /* longest line accepted, without its newline */
	char *buf;    /* the unfinished line */
	size_t len, cap;
	int failed;   /* 0, or the negative errno it failed with: sticky */
};

/* Called with each non-empty line (no newline, no trailing '\r'); line is
 * not NUL-terminated and lives until the call returns. A negative return
 * stops the feed and is returned by it. */
typedef int (*ky_k8s_line_fn)(void *userdata, const char *line, size_t len);

void ky_k8s_lines_init(struct ky_k8s_lines *l, size_t max);
void ky_k8s_lines_release(struct ky_k8s_lines *l);
/* Feeds a chunk. Whole lines inside the chunk are handed on without a
 * copy; only an unfinished line is kept, and a buffer grown past 64 KiB for
 * a long line is released once that line is done. Returns 0; -EMSGSIZE as
 * soon as a line passes max (before buffering it); or fn's return. */
int ky_k8s_lines_feed(struct ky_k8s_lines *l, const char *data, size_t len, ky_k8s_line_fn fn, void *userdata);
/* Bytes of an unfinished line held (a stream may end cleanly at 0). */
size_t ky_k8s_lines_pending(const struct ky_k8s_lines *l);

enum ky_k8s_event_type {
	KY_K8S_ADDED,
	KY_K8S_MODIFIED,
	KY_K8S_DELETED,
	KY_K8S_BOOKMARK,
	KY_K8S_ERROR,
};

/* "ADDED", ...; "?" out of range. */
const char *ky_k8s_event_type_name(enum ky_k8s_event_type t);

struct ky_k8s_event {
	enum ky_k8s_event_type type;
	cJSON *doc;    /* the whole event: free with cJSON_Delete */
	cJSON *object; /* inside doc: the object, or the Status of an ERROR */
};

/* Parses one line. -EINVAL with "watch event: ..." for anything but an
 * object with a known type and an object (a Status for ERROR). */
int ky_k8s_event_parse(const char *line, size_t len, struct ky_k8s_event *ev, struct ky_error **err);

/* metadata.resourceVersion, metadata.name, metadata.namespace of an object
 * (borrowed), or NULL. */
const char *ky_k8s_object_resource_version(const cJSON *obj);
const char *ky_k8s_object_name(const cJSON *obj);
const char *ky_k8s_object_namespace(const cJSON *obj);

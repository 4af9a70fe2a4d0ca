/* The reflector's index, without I/O: the key ("ns/name" or "name") and
 * resourceVersion of each object it knows, sorted by key; list pages and
 * watch events applied to it turn into added/modified/deleted. A list is
 * begun, fed its pages, and ended: what it did not name is then deleted. */
#pragma once

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "kyborg/base/cleanup.h"

struct ky_error;
struct ky_k8s_index;

/* Each callback is optional; objects are borrowed for the call. */
struct ky_k8s_index_ops {
	void (*added)(void *userdata, const cJSON *obj);
	/* Only when the object's resourceVersion changed. */
	void (*modified)(void *userdata, const cJSON *obj);
	/* obj is the watch's last state, or NULL when a list found the object
	 * gone (ns NULL for a cluster-scoped one). */
	void (*deleted)(void *userdata, const char *ns, const char *name, const cJSON *obj);
	/* Asked after each callback: true ends the walk at once (the caller
	 * freed itself from the callback); the index stays valid to free. */
	bool (*stopped)(void *userdata);
};

/* what names the objects in logs ("resourceslices"); copied. */
int ky_k8s_index_new(const char *what, const struct ky_k8s_index_ops *ops, void *userdata,
		     struct ky_k8s_index **out, struct ky_error **err);
void ky_k8s_index_free(struct ky_k8s_index *idx);
KY_DEFINE_CLEANUP(struct ky_k8s_index, ky_k8s_index_free)

/* One page of a LIST answer, borrowed from its body. */
struct ky_k8s_list_page {
	const cJSON *items;     /* an array */
	const char *rv;         /* metadata.resourceVersion, never empty */
	const char *cont;       /* metadata.continue, NULL when the list is complete */
};
/* Reads a LIST answer's body; -EPROTO (naming the field) when it has no
 * items array or no metadata.resourceVersion. */
int ky_k8s_list_page_read(const cJSON *body, const char *what, struct ky_k8s_list_page *page,
			  struct ky_error **err);

/* A new list starts: nothing is seen yet. */
void ky_k8s_index_list_begin(struct ky_k8s_index *idx);
/* Each item upserted and marked seen. -ENOMEM: the index missed one. */
int ky_k8s_index_list_page(struct ky_k8s_index *idx, const struct ky_k8s_list_page *page);
/* The list is complete: what it did not name is deleted (obj NULL). */
void ky_k8s_index_list_end(struct ky_k8s_index *idx);

/* A watch's ADDED or MODIFIED object: added, or modified when its version
 * changed. An object without a name, or whose name or namespace holds '/'
 * (never a Kubernetes name), is skipped (logged). */
int ky_k8s_index_upsert(struct ky_k8s_index *idx, const cJSON *obj);
/* A watch's DELETED object: deleted when the index holds it. */
void ky_k8s_index_delete(struct ky_k8s_index *idx, const cJSON *obj);

size_t ky_k8s_index_count(const struct ky_k8s_index *idx);
bool ky_k8s_index_has(const struct ky_k8s_index *idx, const char *ns, const char *name);
/* The i-th entry in key order (i < count). */
void ky_k8s_index_at(const struct ky_k8s_index *idx, size_t i, const char **key, const char **rv);

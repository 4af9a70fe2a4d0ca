/* A reflector: keeps a caller in step with a set of API objects (a
 * resource type, a namespace, field and label selectors). It lists them
 * (in pages), then watches from the list's resourceVersion with bookmarks,
 * resumes a watch that ends from the last resourceVersion seen, lists
 * again when the server says that version is gone (410), and backs off
 * with jitter after errors. The caller hears each object added, modified
 * or deleted, and when a list completed.
 *
 * It keeps only each object's key and resourceVersion, never the objects:
 * a caller that needs them keeps what it needs from the callbacks. */
#pragma once

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kyborg/base/cleanup.h"
#include "kyborg/k8s/k8s_path.h"

struct ky_error;
struct ky_k8s_client;
struct ky_k8s_reflector;

/* Each callback is optional. Objects are borrowed for the call. A callback
 * may free the reflector. */
struct ky_k8s_reflector_ops {
	void (*added)(void *userdata, const cJSON *obj);
	void (*modified)(void *userdata, const cJSON *obj);
	/* obj is the last state the watch sent, or NULL when a new list
	 * found the object gone (namespace NULL for a cluster-scoped one). */
	void (*deleted)(void *userdata, const char *ns, const char *name, const cJSON *obj);
	/* A list completed: every object the server has was reported added
	 * or modified since the list began, and those it lacks deleted. */
	void (*synced)(void *userdata);
	/* An error the reflector retries after a backoff (also logged). */
	void (*failed)(void *userdata, const struct ky_error *err);
};

struct ky_k8s_reflector_opts {
	struct ky_k8s_resource resource;
	const char *ns;             /* NULL: cluster-scoped, or all namespaces */
	const char *field_selector; /* "spec.nodeName=n1,spec.driver=kyborg.io" */
	const char *label_selector;
	/* A list page's JSON tree is several times its text (about 7x): the
	 * page size bounds the reflector's peak memory. */
	uint32_t page_size;         /* list limit; 0: 10 */
	/* Ask for metadata only (KY_K8S_ACCEPT_METADATA_LIST and _METADATA):
	 * the callbacks then see objects without spec or status where the
	 * server supports it (kube-apiserver does), whole ones elsewhere. For
	 * a caller that only needs names and versions, as the DRA driver for
	 * its own ResourceSlices. */
	bool metadata_only;
	uint32_t backoff_initial_ms; /* 0: 100 ms */
	uint32_t backoff_max_ms;     /* 0: 30 s */
	const struct ky_k8s_reflector_ops *ops;
	void *userdata;
};

/* Copies opts and starts listing. Free it before its client. */
int ky_k8s_reflector_new(struct ky_k8s_client *c, const struct ky_k8s_reflector_opts *opts,
			 struct ky_k8s_reflector **out, struct ky_error **err);
/* Stops everything; no callback runs afterwards. Safe from its callbacks. */
void ky_k8s_reflector_free(struct ky_k8s_reflector *r);
KY_DEFINE_CLEANUP(struct ky_k8s_reflector, ky_k8s_reflector_free)

/* Lists again now (backing off is cut short): for a caller that knows it
 * missed something. */
void ky_k8s_reflector_relist(struct ky_k8s_reflector *r);

/* Whether a list completed (and the watch runs or is being resumed). */
bool ky_k8s_reflector_synced(const struct ky_k8s_reflector *r);
/* The last resourceVersion seen (a list's, an event's, a bookmark's), or "". */
const char *ky_k8s_reflector_resource_version(const struct ky_k8s_reflector *r);
/* How many objects it knows, and whether it knows one. */
size_t ky_k8s_reflector_count(const struct ky_k8s_reflector *r);
bool ky_k8s_reflector_has(const struct ky_k8s_reflector *r, const char *ns, const char *name);

struct ky_k8s_reflector_stats {
	unsigned lists;   /* lists completed */
	unsigned watches; /* watches started */
	unsigned events;  /* watch events received, bookmarks included */
	unsigned errors;  /* failures retried */
	unsigned expired; /* 410s that led to a new list */
};
void ky_k8s_reflector_stats(const struct ky_k8s_reflector *r, struct ky_k8s_reflector_stats *out);

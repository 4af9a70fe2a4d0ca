/* The Kubernetes API client: libcurl's multi interface driven by the event
 * loop (its sockets are loop watches, its timeout a loop timer), so no
 * request ever blocks the daemon and no thread is started. Bodies are
 * cJSON documents. Single requests and watches; the reflector
 * (k8s_reflector.h) builds list-then-watch on them.
 *
 * Every outcome of a started request comes through its callback, from the
 * loop, never from inside the call that started it. The bearer token is
 * read again when it is older than the config's token_max_age_ms, and at
 * once after a 401, after which the request is sent once more. */
#pragma once

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kyborg/base/cleanup.h"
#include "kyborg/k8s/k8s_config.h"
#include "kyborg/k8s/k8s_event.h"
#include "kyborg/k8s/k8s_path.h"
#include "kyborg/k8s/k8s_status.h"

struct ky_error;
struct ky_loop;
struct ky_k8s_client;
struct ky_k8s_request;
struct ky_k8s_watch;

/* Copies what it needs of cfg (which it checks: ky_k8s_config_check) and
 * reads the token once, so a missing token file fails here. */
int ky_k8s_client_new(struct ky_loop *loop, const struct ky_k8s_config *cfg, struct ky_k8s_client **out,
		      struct ky_error **err);
/* Ends every request and watch in flight (their callbacks are not called)
 * and frees the client. Free reflectors built on it first. Safe from any of
 * its callbacks: the rest is then done when that callback returns. */
void ky_k8s_client_free(struct ky_k8s_client *c);
KY_DEFINE_CLEANUP(struct ky_k8s_client, ky_k8s_client_free)

/* ---- single requests ---- */

enum ky_k8s_method {
	KY_K8S_GET,
	KY_K8S_POST,
	KY_K8S_PUT,
	KY_K8S_PATCH, /* body is a JSON merge patch (RFC 7386) */
	KY_K8S_DELETE,
};

struct ky_k8s_response {
	/* The HTTP status; 0 when no answer came (connection refused, TLS
	 * failure such as an unknown CA, timeout). */
	int http_status;
	/* The parsed body of a 2xx answer (NULL when it was empty). The
	 * callback may keep it: cJSON *obj = TAKE_PTR(resp->body). */
	cJSON *body;
	/* NULL on 2xx; otherwise why: a Status's message with the HTTP code
	 * as ky_error_status(), or a transport failure (status 0). */
	const struct ky_error *err;
};

typedef void (*ky_k8s_done_fn)(void *userdata, struct ky_k8s_response *resp);

struct ky_k8s_req {
	enum ky_k8s_method method;
	const char *path;    /* from ky_k8s_path(): "/apis/...?..." */
	const cJSON *body;   /* serialised at once; NULL for none */
	uint32_t timeout_ms; /* the whole request; 0: the config's */
	const char *accept;  /* the Accept header; NULL: application/json */
	ky_k8s_done_fn done;
	void *userdata;
};

/* Accept headers that ask for metadata only (client-go's metadata client):
 * a list answers a PartialObjectMetadataList, a watch PartialObjectMetadata
 * objects, each without spec or status; a server that does not know them
 * answers whole objects (the plain application/json after the comma). */
#define KY_K8S_ACCEPT_METADATA_LIST "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
#define KY_K8S_ACCEPT_METADATA "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json"

/* Starts a request. On success done(userdata, resp) runs exactly once,
 * later, from the loop, unless the request is cancelled or the client
 * freed first. *out (out may be NULL) is valid until done returns.
 * Fails only for what is wrong before sending (a bad path, ENOMEM). */
int ky_k8s_request(struct ky_k8s_client *c, const struct ky_k8s_req *req, struct ky_k8s_request **out,
		   struct ky_error **err);
/* Ends the request; its callback is not called. Safe from any callback. */
void ky_k8s_request_cancel(struct ky_k8s_request *r);

/* ---- watches ---- */

struct ky_k8s_watch_ops {
	/* Each ADDED, MODIFIED, DELETED and BOOKMARK event, in order; the
	 * event (object included) is freed when the call returns. */
	void (*event)(void *userdata, enum ky_k8s_event_type type, cJSON *object);
	/* The watch is over; exactly once, unless cancelled. err NULL: the
	 * server ended it cleanly (its timeoutSeconds), resume it from the
	 * last resourceVersion seen. ky_k8s_error_expired(err) (an ERROR event
	 * or an answer with 410): list again. Otherwise the failure (a
	 * transport error, 401/403, a line over max_event, a bad event). */
	void (*end)(void *userdata, const struct ky_error *err);
};

struct ky_k8s_watch_req {
	const char *path;   /* with watch=1 (ky_k8s_query.watch) and, best, timeoutSeconds */
	const char *accept; /* NULL: application/json */
	const struct ky_k8s_watch_ops *ops;
	void *userdata;
};

/* Starts a watch. Events arrive as the chunked body does, parsed line by
 * line, with at most one line (max_event bytes) buffered. The server ends
 * the watch after the path's timeoutSeconds; TCP keepalives find a peer
 * that vanished, and twice the config's watch_timeout_s plus a minute ends
 * a watch whose server never does. */
int ky_k8s_watch(struct ky_k8s_client *c, const struct ky_k8s_watch_req *req, struct ky_k8s_watch **out,
		 struct ky_error **err);
/* Ends the watch; no callback runs afterwards. Safe from any callback. */
void ky_k8s_watch_cancel(struct ky_k8s_watch *w);

/* ---- introspection (tests, logs) ---- */

/* Requests and watches in flight. */
size_t ky_k8s_client_active(const struct ky_k8s_client *c);
/* How many times the token file was read (once at ky_k8s_client_new). */
unsigned ky_k8s_client_token_reads(const struct ky_k8s_client *c);
/* The loop it runs on, and the config's watch_timeout_s. */
struct ky_loop *ky_k8s_client_loop(const struct ky_k8s_client *c);
uint32_t ky_k8s_client_watch_timeout_s(const struct ky_k8s_client *c);

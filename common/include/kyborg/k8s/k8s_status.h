/* Failures of the Kubernetes API as ky_errors (pure): a Status object
 * ("resourceslices \"x\" is invalid: spec.devices[3].name: ...") or any
 * other error body becomes a readable message, and the HTTP code travels
 * as the error's status (ky_error_status) so a caller tells a conflict
 * (409) from an expired version (410), a missing object (404) or a refused
 * one (422). */
#pragma once

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

struct ky_error;

/* HTTP codes a caller branches on. */
enum {
	KY_K8S_BAD_REQUEST = 400,
	KY_K8S_UNAUTHORIZED = 401,
	KY_K8S_FORBIDDEN = 403,
	KY_K8S_NOT_FOUND = 404,
	KY_K8S_CONFLICT = 409,
	KY_K8S_GONE = 410, /* resourceVersion too old: list again */
	KY_K8S_INVALID = 422,
	KY_K8S_TOO_MANY_REQUESTS = 429,
};

/* The errno that stands for an HTTP status in an error's code: ENOENT
 * (404), EEXIST (409 AlreadyExists), EBUSY (409 Conflict), ESTALE (410),
 * EINVAL (400, 422), EACCES (401, 403), EAGAIN (429, 503), ETIMEDOUT (504),
 * EIO otherwise. reason is the Status's reason, or NULL. */
int ky_k8s_http_errno(int http_status, const char *reason);

/* Whether obj is a Status object (kind "Status"). */
bool ky_k8s_is_status(const cJSON *obj);

/* Sets *err from a Status object answered with http_status (0 when the
 * Status came as a watch ERROR event: its own code is used). The message is
 * the Status's message, or its reason, or "HTTP <code>"; the error's status
 * is the HTTP code. Returns the negative errno. */
int ky_k8s_status_error(const cJSON *status, int http_status, struct ky_error **err);

/* Sets *err for an error response: a Status body is read as above; any
 * other body (a proxy's HTML page) gives "HTTP <code>: <its first line,
 * cut to 200 bytes, control characters dropped>". */
int ky_k8s_response_error(int http_status, const char *body, size_t len, struct ky_error **err);

/* Whether the error says the watched history is gone (HTTP 410, or a Status
 * with reason "Expired" or "Gone"): the caller must list again. */
bool ky_k8s_error_expired(const struct ky_error *err);

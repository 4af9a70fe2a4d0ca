/* Status objects and error bodies of the API server turned into ky_errors
 * that keep the HTTP code. */
#include "kyborg/k8s/k8s_status.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/json/json.h"

/* Longest piece of a foreign error body shown in a message. */
#define SNIPPET_MAX 200

int ky_k8s_http_errno(int http_status, const char *reason)
{
	switch (http_status) {
	case 400:
	case 422:
		return EINVAL;
	case 401:
	case 403:
		return EACCES;
	case 404:
		return ENOENT;
	case 409:
		return reason && !strcmp(reason, "AlreadyExists") ? EEXIST : EBUSY;
	case 410:
		return ESTALE;
	case 429:
	case 503:
		return EAGAIN;
	case 504:
		return ETIMEDOUT;
	default:
		return EIO;
	}
}

bool ky_k8s_is_status(const cJSON *obj)
{
	const cJSON *kind = cJSON_GetObjectItemCaseSensitive(obj, "kind");
	return cJSON_IsObject(obj) && cJSON_IsString(kind) && !strcmp(kind->valuestring, "Status");
}

static const char *str_field(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : NULL;
}

int ky_k8s_status_error(const cJSON *status, int http_status, struct ky_error **err)
{
	const char *message = str_field(status, "message");
	const char *reason = str_field(status, "reason");
	int code = http_status;
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(status, "code");
	if (!code && cJSON_IsNumber(c) && c->valuedouble >= 100 && c->valuedouble < 600)
		code = (int)c->valuedouble;
	/* An ERROR event without a code but with the reason that means 410. */
	if (!code && reason && (!strcmp(reason, "Expired") || !strcmp(reason, "Gone")))
		code = KY_K8S_GONE;
	int e = ky_k8s_http_errno(code, reason);
	if (message)
		ky_error_set(err, e, "%s", message);
	else if (reason)
		ky_error_set(err, e, "%s (HTTP %d)", reason, code);
	else
		ky_error_set(err, e, "HTTP %d", code);
	return ky_error_set_status(err, code);
}

int ky_k8s_response_error(int http_status, const char *body, size_t len, struct ky_error **err)
{
	_cleanup_(cJSON_Deletep) cJSON *doc = NULL;
	if (body && len && ky_json_parse(body, len, &doc, NULL) == 0 && ky_k8s_is_status(doc))
		return ky_k8s_status_error(doc, http_status, err);

	char snippet[SNIPPET_MAX + 1];
	size_t n = 0;
	for (size_t i = 0; body && i < len && n < SNIPPET_MAX; i++) {
		unsigned char ch = (unsigned char)body[i];
		if (ch == '\n' && n)
			break;
		if (ch >= 0x20 && ch != 0x7f)
			snippet[n++] = (char)ch;
	}
	snippet[n] = '\0';
	int e = ky_k8s_http_errno(http_status, NULL);
	if (n)
		ky_error_set(err, e, "HTTP %d: %s", http_status, snippet);
	else
		ky_error_set(err, e, "HTTP %d", http_status);
	return ky_error_set_status(err, http_status);
}

bool ky_k8s_error_expired(const struct ky_error *err)
{
	return err && ky_error_status(err) == KY_K8S_GONE;
}

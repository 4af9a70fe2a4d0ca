/* The API client's transport: libcurl's multi handle on the event loop
 * (socket watches, one timer), transfers for requests and watches, the
 * bearer token and its re-reading, and shutdown with transfers in flight.
 *
 * libcurl refuses most multi calls from inside its own callbacks, and a
 * user callback may cancel anything or free the client. So: user callbacks
 * run only from dispatch(), either from inside curl's write callback (watch
 * events) or after curl_multi_socket_action returned (completions);
 * transfers started or cancelled while curl is on the stack are only
 * marked, and added or removed once it returned; a client freed while a
 * dispatch runs is destroyed when it ends. */
#include "kyborg/k8s/k8s_client.h"

#include <curl/curl.h>
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kyborg/base/error.h"
#include "kyborg/base/log.h"
#include "kyborg/json/json.h"
#include "kyborg/loop/loop.h"

/* An error body of a watch is kept up to this for its message. */
#define WATCH_ERROR_BODY_MAX (64u * 1024u)
/* After a body or event this large, its buffer and JSON tree (several
 * times the text) are given back to the system: glibc keeps freed heap
 * otherwise, and a daemon that once read a big list would stay that big. */
#define TRIM_AFTER (256u * 1024u)
/* Connections kept open for reuse (one is the usual case: HTTP/2 carries
 * every transfer, HTTP/1.1 needs one per watch). */
#define MAX_CONNECTS 8L
/* TCP keepalives: a watch on a peer that vanished without a word ends
 * after about a minute instead of waiting for its timeoutSeconds. */
#define KEEPIDLE_S 30L
#define KEEPINTVL_S 10L

struct sock {
	struct ky_k8s_client *c;
	struct ky_loop_io *io;
	curl_socket_t fd;
	struct sock *prev, *next;
};

struct ky_k8s_request {
	struct ky_k8s_client *c;
	CURL *easy;
	struct curl_slist *headers;
	enum ky_k8s_method method;
	bool is_watch;
	bool added;     /* in the multi handle */
	bool cancelled; /* no callback any more; freed at the next reap */
	bool finishing; /* its callback runs */
	bool retried;   /* sent again after a 401 */
	char *url;
	char *accept; /* "Accept: ..." or NULL */
	char *body;
	size_t body_len;
	uint32_t timeout_ms;
	uint64_t started_ms;
	/* Response: the whole body of a request, or of a watch answered with
	 * an error status. */
	char *resp;
	size_t resp_len, resp_cap, resp_max;
	bool resp_cut;
	/* Watch: the line splitter, and why a watch stopped from inside
	 * curl's write callback (an ERROR event, a bad line). */
	struct ky_k8s_lines lines;
	int status_seen; /* HTTP status once the body started; 0 before */
	struct ky_error *stop_err;
	char errbuf[CURL_ERROR_SIZE];
	ky_k8s_done_fn done;
	const struct ky_k8s_watch_ops *ops;
	void *userdata;
	struct ky_k8s_request *prev, *next;
};

/* A watch is a request whose body is read as a stream. */
struct ky_k8s_watch {
	struct ky_k8s_request r;
};

struct ky_k8s_client {
	struct ky_loop *loop;
	CURLM *multi;
	struct ky_loop_timer *timer;
	char *server, *token_file, *ca_file;
	uint32_t connect_timeout_ms, request_timeout_ms, token_max_age_ms, watch_timeout_s;
	size_t max_body, max_event;
	char *token;
	uint64_t token_at;
	unsigned token_reads;
	struct ky_k8s_request *xfers;
	struct sock *socks;
	unsigned busy;     /* dispatch depth */
	bool in_curl;      /* curl_multi_socket_action is on the stack */
	bool free_pending; /* freed during a dispatch */
	size_t active;
};

static const char *method_name(enum ky_k8s_method m)
{
	static const char *const names[] = { "GET", "POST", "PUT", "PATCH", "DELETE" };
	return (unsigned)m < KY_ARRAY_SIZE(names) ? names[m] : "GET";
}

/* ---- the token ---- */

static void secret_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

/* Reads the token again when forced (after a 401) or when it is older than
 * token_max_age_ms. A failed read keeps the token we have, as client-go
 * does: the file may be between two writes of the kubelet. */
static int token_refresh(struct ky_k8s_client *c, bool force, struct ky_error **err)
{
	if (!c->token_file)
		return 0;
	uint64_t now = ky_loop_now_ms();
	if (!force && c->token && now - c->token_at < c->token_max_age_ms)
		return 0;
	char *tok = NULL;
	struct ky_error *e = NULL;
	int r = ky_k8s_token_read(c->token_file, &tok, &e);
	if (r < 0) {
		if (!c->token) {
			ky_error_set(err, ky_error_code(e), "%s", ky_error_msg(e));
			ky_error_free(e);
			return r;
		}
		ky_log_err(KY_LOG_WARN, "k8s-token-read", e, "file=%s keeping=previous", c->token_file);
		ky_error_free(e);
		c->token_at = now;
		return 0;
	}
	c->token_reads++;
	if (c->token && strcmp(c->token, tok))
		ky_info("k8s-token-changed", "file=%s", c->token_file);
	secret_free(c->token);
	c->token = tok;
	c->token_at = now;
	return 0;
}

/* ---- transfers ---- */

static void xfer_reset_response(struct ky_k8s_request *x)
{
	free(x->resp);
	x->resp = NULL;
	x->resp_len = x->resp_cap = 0;
	x->resp_cut = false;
	x->status_seen = 0;
	ky_k8s_lines_release(&x->lines);
	ky_k8s_lines_init(&x->lines, x->c->max_event);
	ky_error_clear(&x->stop_err);
	x->errbuf[0] = '\0';
}

static void xfer_unlink(struct ky_k8s_request *x)
{
	struct ky_k8s_client *c = x->c;
	if (x->prev)
		x->prev->next = x->next;
	else
		c->xfers = x->next;
	if (x->next)
		x->next->prev = x->prev;
	x->prev = x->next = NULL;
	c->active--;
}

/* Unlinks and frees a transfer; removes it from the multi handle first,
 * which only a caller outside curl's callbacks may do. */
static void xfer_free(struct ky_k8s_request *x)
{
	struct ky_k8s_client *c = x->c;
	if (x->added)
		curl_multi_remove_handle(c->multi, x->easy);
	xfer_unlink(x);
	curl_easy_cleanup(x->easy);
	curl_slist_free_all(x->headers);
	free(x->url);
	free(x->accept);
	free(x->body);
	free(x->resp);
	ky_k8s_lines_release(&x->lines);
	ky_error_free(x->stop_err);
	free(x);
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *userdata);

static int append_header(struct curl_slist **list, const char *h)
{
	struct curl_slist *n = curl_slist_append(*list, h);
	if (!n)
		return -ENOMEM;
	*list = n;
	return 0;
}

/* (Re)builds the headers with the current token. */
static int xfer_headers(struct ky_k8s_request *x, struct ky_error **err)
{
	struct ky_k8s_client *c = x->c;
	struct curl_slist *h = NULL;
	int r = append_header(&h, x->accept ? x->accept : "Accept: application/json");
	/* libcurl would wait up to a second for a "100 Continue" before a
	 * large body; the API server needs no such handshake. */
	if (!r)
		r = append_header(&h, "Expect:");
	if (!r && x->body)
		r = append_header(&h, x->method == KY_K8S_PATCH ? "Content-Type: application/merge-patch+json"
							       : "Content-Type: application/json");
	if (!r && c->token) {
		size_t n = strlen(c->token) + sizeof("Authorization: Bearer ");
		char *auth = malloc(n);
		if (!auth) {
			r = -ENOMEM;
		} else {
			snprintf(auth, n, "Authorization: Bearer %s", c->token);
			r = append_header(&h, auth);
			explicit_bzero(auth, n);
			free(auth);
		}
	}
	if (r < 0) {
		curl_slist_free_all(h);
		return ky_error_set(err, ENOMEM, "request headers");
	}
	curl_slist_free_all(x->headers);
	x->headers = h;
	curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, h);
	return 0;
}

static int xfer_setup(struct ky_k8s_request *x, struct ky_error **err)
{
	struct ky_k8s_client *c = x->c;
	CURL *e = x->easy;
	CURLcode rc = CURLE_OK;
#define SET(opt, val)                                          \
	do {                                                   \
		if (rc == CURLE_OK)                            \
			rc = curl_easy_setopt(e, opt, val);    \
	} while (0)
	SET(CURLOPT_URL, x->url);
	SET(CURLOPT_PRIVATE, x);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_ERRORBUFFER, x->errbuf);
	SET(CURLOPT_WRITEFUNCTION, on_write);
	SET(CURLOPT_WRITEDATA, x);
	SET(CURLOPT_USERAGENT, "kyborg/0.1");
	/* The token never leaves over http (ky_k8s_config_check), and no
	 * redirect can take it elsewhere: none is followed. */
	SET(CURLOPT_PROTOCOLS_STR, c->token ? "https" : "http,https");
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_CONNECTTIMEOUT_MS, (long)c->connect_timeout_ms);
	SET(CURLOPT_TCP_KEEPALIVE, 1L);
	SET(CURLOPT_TCP_KEEPIDLE, KEEPIDLE_S);
	SET(CURLOPT_TCP_KEEPINTVL, KEEPINTVL_S);
	SET(CURLOPT_PIPEWAIT, 1L);
	if (c->ca_file) {
		/* Only the cluster's CA: Debian's libcurl also trusts the
		 * system's CA directory unless told not to. */
		SET(CURLOPT_CAINFO, c->ca_file);
		SET(CURLOPT_CAPATH, NULL);
	}
	if (x->is_watch) {
		/* The server ends a watch after its timeoutSeconds (at most
		 * twice watch_timeout_s from the reflector); this only guards
		 * against a server that never does. */
		SET(CURLOPT_TIMEOUT_MS, (long)((2u * c->watch_timeout_s + 60u) * 1000u));
	} else {
		SET(CURLOPT_TIMEOUT_MS, (long)x->timeout_ms);
	}
	switch (x->method) {
	case KY_K8S_GET:
		SET(CURLOPT_HTTPGET, 1L);
		break;
	case KY_K8S_POST:
		SET(CURLOPT_POST, 1L);
		break;
	default:
		SET(CURLOPT_CUSTOMREQUEST, method_name(x->method));
		break;
	}
	if (x->body) {
		SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->body_len);
		SET(CURLOPT_POSTFIELDS, x->body);
	} else if (x->method == KY_K8S_POST) {
		SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
		SET(CURLOPT_POSTFIELDS, "");
	}
#undef SET
	if (rc != CURLE_OK)
		return ky_error_set(err, EINVAL, "%s %s: %s", method_name(x->method), x->url, curl_easy_strerror(rc));
	return xfer_headers(x, err);
}

/* Hands the transfer to curl, now or, while curl is on the stack, at the
 * end of the dispatch (process()). */
static int xfer_add(struct ky_k8s_request *x, struct ky_error **err)
{
	struct ky_k8s_client *c = x->c;
	x->started_ms = ky_loop_now_ms();
	if (c->in_curl)
		return 0;
	CURLMcode mc = curl_multi_add_handle(c->multi, x->easy);
	if (mc != CURLM_OK)
		return ky_error_set(err, EIO, "%s %s: %s", method_name(x->method), x->url, curl_multi_strerror(mc));
	x->added = true;
	return 0;
}

static int xfer_new(struct ky_k8s_client *c, enum ky_k8s_method method, const char *path, const cJSON *body,
		    const char *accept, struct ky_k8s_request **out, struct ky_error **err)
{
	if (c->free_pending)
		return ky_error_set(err, ESHUTDOWN, "API client: shutting down");
	if (!path || path[0] != '/')
		return ky_error_set(err, EINVAL, "request path \"%s\": must start with '/'", path ? path : "");
	for (const char *p = path; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f || *p == '#')
			return ky_error_set(err, EINVAL, "request path: byte 0x%02x at %td (build it with ky_k8s_path)",
					    (unsigned char)*p, p - path);
	if ((unsigned)method > KY_K8S_DELETE)
		return ky_error_set(err, EINVAL, "request method %d: unknown", (int)method);
	for (const char *p = accept; p && *p; p++)
		if ((unsigned char)*p < 0x20)
			return ky_error_set(err, EINVAL, "Accept header: control character");
	struct ky_k8s_request *x = calloc(1, sizeof(struct ky_k8s_watch));
	if (!x)
		return ky_error_set(err, ENOMEM, "request");
	x->c = c;
	x->method = method;
	ky_k8s_lines_init(&x->lines, c->max_event);
	x->next = c->xfers;
	if (c->xfers)
		c->xfers->prev = x;
	c->xfers = x;
	c->active++;
	int r = -ENOMEM;
	x->easy = curl_easy_init();
	if (asprintf(&x->url, "%s%s", c->server, path) < 0)
		x->url = NULL;
	if (accept && asprintf(&x->accept, "Accept: %s", accept) < 0)
		x->accept = NULL;
	if (body) {
		x->body = cJSON_PrintUnformatted(body);
		x->body_len = x->body ? strlen(x->body) : 0;
	}
	if (!x->easy || !x->url || (body && !x->body) || (accept && !x->accept)) {
		xfer_free(x);
		return ky_error_set(err, -r, "%s %s", method_name(method), path);
	}
	r = token_refresh(c, false, err);
	if (r < 0) {
		xfer_free(x);
		return r;
	}
	*out = x;
	return 0;
}

int ky_k8s_request(struct ky_k8s_client *c, const struct ky_k8s_req *req, struct ky_k8s_request **out,
		   struct ky_error **err)
{
	struct ky_k8s_request *x;
	if (!req->done)
		return ky_error_set(err, EINVAL, "request: no callback");
	int r = xfer_new(c, req->method, req->path, req->body, req->accept, &x, err);
	if (r < 0)
		return r;
	x->done = req->done;
	x->userdata = req->userdata;
	x->timeout_ms = req->timeout_ms ? req->timeout_ms : c->request_timeout_ms;
	x->resp_max = c->max_body;
	if ((r = xfer_setup(x, err)) < 0 || (r = xfer_add(x, err)) < 0) {
		xfer_free(x);
		return r;
	}
	ky_debug("k8s-request", "method=%s path=%s", method_name(x->method), req->path);
	if (out)
		*out = x;
	return 0;
}

int ky_k8s_watch(struct ky_k8s_client *c, const struct ky_k8s_watch_req *req, struct ky_k8s_watch **out,
		 struct ky_error **err)
{
	const char *path = req->path;
	if (!req->ops || !req->ops->event || !req->ops->end)
		return ky_error_set(err, EINVAL, "watch: no callbacks");
	if (!path || (!strstr(path, "?watch=") && !strstr(path, "&watch=")))
		return ky_error_set(err, EINVAL, "watch path \"%s\": no watch=1 in its query", path ? path : "");
	struct ky_k8s_request *x;
	int r = xfer_new(c, KY_K8S_GET, path, NULL, req->accept, &x, err);
	if (r < 0)
		return r;
	x->is_watch = true;
	x->ops = req->ops;
	x->userdata = req->userdata;
	x->resp_max = WATCH_ERROR_BODY_MAX;
	if ((r = xfer_setup(x, err)) < 0 || (r = xfer_add(x, err)) < 0) {
		xfer_free(x);
		return r;
	}
	ky_debug("k8s-watch", "path=%s", path);
	if (out)
		*out = (struct ky_k8s_watch *)x;
	return 0;
}

void ky_k8s_request_cancel(struct ky_k8s_request *x)
{
	if (!x || x->cancelled || x->finishing)
		return;
	x->cancelled = true;
	/* Inside a dispatch the reap at its end removes it from curl. */
	if (!x->c->busy)
		xfer_free(x);
}

void ky_k8s_watch_cancel(struct ky_k8s_watch *w)
{
	ky_k8s_request_cancel(w ? &w->r : NULL);
}

/* ---- the body as it arrives (inside curl) ---- */

static bool status_ok(int s)
{
	return s >= 200 && s < 300;
}

static int buffer_body(struct ky_k8s_request *x, const char *data, size_t n)
{
	if (x->resp_len + n > x->resp_max) {
		x->resp_cut = true;
		n = x->resp_max - x->resp_len;
	}
	if (x->resp_len + n + 1 > x->resp_cap) {
		size_t cap = x->resp_cap ? x->resp_cap : 4096;
		while (cap < x->resp_len + n + 1)
			cap *= 2;
		char *p = realloc(x->resp, cap);
		if (!p)
			return -ENOMEM;
		x->resp = p;
		x->resp_cap = cap;
	}
	memcpy(x->resp + x->resp_len, data, n);
	x->resp_len += n;
	x->resp[x->resp_len] = '\0';
	return 0;
}

static void give_back_memory(void)
{
#ifdef __GLIBC__
	malloc_trim(0);
#endif
}

static int on_line(void *userdata, const char *line, size_t len)
{
	struct ky_k8s_request *x = userdata;
	struct ky_k8s_event ev;
	int r = ky_k8s_event_parse(line, len, &ev, &x->stop_err);
	if (r < 0)
		return r;
	if (ev.type == KY_K8S_ERROR) {
		r = ky_k8s_status_error(ev.object, 0, &x->stop_err);
		cJSON_Delete(ev.doc);
		return r;
	}
	x->ops->event(x->userdata, ev.type, ev.object);
	cJSON_Delete(ev.doc);
	if (len >= TRIM_AFTER)
		give_back_memory();
	/* The callback cancelled the watch or freed the client. */
	return x->cancelled ? -ECANCELED : 0;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct ky_k8s_request *x = userdata;
	size_t n = size * nmemb;
	if (x->cancelled)
		return 0;
	if (!x->status_seen) {
		long code = 0;
		curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
		x->status_seen = (int)code;
	}
	if (!x->is_watch || !status_ok(x->status_seen)) {
		if (buffer_body(x, data, n) < 0)
			return 0;
		/* A request's body over the limit stops the transfer; a
		 * watch's error body is only cut. */
		return x->resp_cut && !x->is_watch ? 0 : n;
	}
	int r = ky_k8s_lines_feed(&x->lines, data, n, on_line, x);
	if (r == -EMSGSIZE)
		ky_error_set(&x->stop_err, EMSGSIZE, "watch event over %zu bytes", x->lines.max);
	else if (r == -ENOMEM && !x->stop_err)
		ky_error_set(&x->stop_err, ENOMEM, "watch event");
	return r < 0 ? 0 : n;
}

/* ---- completion ---- */

static int curl_errno(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
		return ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
		return EHOSTUNREACH;
	case CURLE_OPERATION_TIMEDOUT:
		return ETIMEDOUT;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CACERT_BADFILE:
		return EPROTO;
	case CURLE_UNSUPPORTED_PROTOCOL:
		return EPROTONOSUPPORT;
	case CURLE_OUT_OF_MEMORY:
		return ENOMEM;
	default:
		return EIO;
	}
}

/* The error of a finished transfer, or 0 when it succeeded. */
static int xfer_error(struct ky_k8s_request *x, CURLcode rc, int status, struct ky_error **err)
{
	if (x->stop_err) {
		*err = TAKE_PTR(x->stop_err);
		return -ky_error_code(*err);
	}
	if (status && !status_ok(status))
		return ky_k8s_response_error(status, x->resp, x->resp_len, err);
	if (rc == CURLE_WRITE_ERROR && x->resp_cut)
		return ky_error_set(err, EMSGSIZE, "%s %s: response body over %zu bytes", method_name(x->method),
				    x->url, x->resp_max);
	if (rc != CURLE_OK)
		return ky_error_set(err, curl_errno(rc), "%s %s: %s", method_name(x->method), x->url,
				    x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc));
	if (x->is_watch && ky_k8s_lines_pending(&x->lines))
		return ky_error_set(err, EPROTO, "watch %s: stream ended inside an event", x->url);
	return 0;
}

static void finish(struct ky_k8s_request *x, CURLcode rc)
{
	struct ky_k8s_client *c = x->c;
	long code = 0;
	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
	int status = (int)code;
	if (x->cancelled) {
		xfer_free(x);
		return;
	}
	/* A rotated token: read it at once and try once more. */
	if (status == KY_K8S_UNAUTHORIZED && c->token_file && !x->retried && !x->stop_err) {
		struct ky_error *e = NULL;
		x->retried = true;
		xfer_reset_response(x);
		if (token_refresh(c, true, &e) == 0 && xfer_headers(x, &e) == 0 && xfer_add(x, &e) == 0) {
			ky_debug("k8s-retry-401", "url=%s", x->url);
			return;
		}
		ky_error_prefix(&e, "%s %s: sending again after 401", method_name(x->method), x->url);
		x->stop_err = e;
	}

	struct ky_error *e = NULL;
	int r = xfer_error(x, rc, status, &e);
	cJSON *body = NULL;
	if (r == 0 && !x->is_watch && x->resp_len) {
		r = ky_json_parse(x->resp, x->resp_len, &body, &e);
		if (r < 0)
			ky_error_prefix(&e, "%s %s: response", method_name(x->method), x->url);
	}
	ky_log(KY_LOG_DEBUG, x->is_watch ? "k8s-watch-end" : "k8s-response",
	       "method=%s url=%s status=%d ms=%llu%s%s", method_name(x->method), x->url, status,
	       (unsigned long long)(ky_loop_now_ms() - x->started_ms), e ? " error=" : "", e ? ky_error_msg(e) : "");
	x->finishing = true;
	if (x->is_watch) {
		x->ops->end(x->userdata, e);
	} else {
		struct ky_k8s_response resp = { .http_status = status, .body = body, .err = e };
		x->done(x->userdata, &resp);
		cJSON_Delete(resp.body);
	}
	ky_error_free(e);
	bool big = x->resp_cap >= TRIM_AFTER;
	xfer_free(x);
	if (big)
		give_back_memory();
}

static void destroy(struct ky_k8s_client *c);

/* After curl returned: delivers what finished, then removes what was
 * cancelled and adds what was started while curl was on the stack. */
static void process(struct ky_k8s_client *c)
{
	CURLMsg *m;
	int left;
	while ((m = curl_multi_info_read(c->multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		struct ky_k8s_request *x = NULL;
		CURLcode rc = m->data.result;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
		curl_multi_remove_handle(c->multi, x->easy);
		x->added = false;
		finish(x, rc);
	}
	for (struct ky_k8s_request *x = c->xfers, *next; x; x = next) {
		next = x->next;
		if (x->cancelled) {
			xfer_free(x);
		} else if (!x->added && !x->finishing) {
			struct ky_error *e = NULL;
			if (xfer_add(x, &e) < 0) {
				/* Delivered like any failure of the transfer. */
				x->stop_err = e;
				finish(x, CURLE_FAILED_INIT);
			}
		}
	}
}

static void dispatch(struct ky_k8s_client *c, curl_socket_t fd, int flags)
{
	int running;
	c->busy++;
	c->in_curl = true;
	curl_multi_socket_action(c->multi, fd, flags, &running);
	c->in_curl = false;
	process(c);
	c->busy--;
	if (!c->busy && c->free_pending)
		destroy(c);
}

/* ---- curl's sockets and timer on the loop ---- */

static void on_io(struct ky_loop_io *io, int fd, uint32_t events, void *userdata)
{
	struct sock *s = userdata;
	(void)io;
	int flags = 0;
	if (events & (KY_LOOP_READ | KY_LOOP_HUP))
		flags |= CURL_CSELECT_IN;
	if (events & KY_LOOP_WRITE)
		flags |= CURL_CSELECT_OUT;
	if (events & KY_LOOP_ERR)
		flags |= CURL_CSELECT_ERR;
	dispatch(s->c, fd, flags);
}

static void sock_free(struct sock *s)
{
	struct ky_k8s_client *c = s->c;
	ky_loop_io_free(s->io);
	if (s->prev)
		s->prev->next = s->next;
	else
		c->socks = s->next;
	if (s->next)
		s->next->prev = s->prev;
	free(s);
}

static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct ky_k8s_client *c = userp;
	struct sock *s = socketp;
	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (s) {
			curl_multi_assign(c->multi, fd, NULL);
			sock_free(s);
		}
		return 0;
	}
	uint32_t ev = ((what & CURL_POLL_IN) ? KY_LOOP_READ : 0) | ((what & CURL_POLL_OUT) ? KY_LOOP_WRITE : 0);
	struct ky_error *e = NULL;
	if (s) {
		if (ky_loop_io_set_events(s->io, ev, &e) == 0)
			return 0;
	} else {
		s = calloc(1, sizeof(*s));
		if (!s)
			return -1;
		s->c = c;
		s->fd = fd;
		if (ky_loop_io_add(c->loop, fd, ev, on_io, s, &s->io, &e) == 0) {
			s->next = c->socks;
			if (c->socks)
				c->socks->prev = s;
			c->socks = s;
			curl_multi_assign(c->multi, fd, s);
			return 0;
		}
		free(s);
	}
	ky_log_err(KY_LOG_ERROR, "k8s-socket", e, "fd=%d", (int)fd);
	ky_error_free(e);
	return -1;
}

static void on_timer(struct ky_loop_timer *t, void *userdata)
{
	(void)t;
	dispatch(userdata, CURL_SOCKET_TIMEOUT, 0);
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
	struct ky_k8s_client *c = userp;
	(void)multi;
	if (timeout_ms < 0)
		ky_loop_timer_disarm(c->timer);
	else
		ky_loop_timer_arm(c->timer, (uint64_t)timeout_ms, 0);
	return 0;
}

/* ---- the client ---- */

static void destroy(struct ky_k8s_client *c)
{
	while (c->xfers)
		xfer_free(c->xfers);
	/* Closes the cached connections; curl reports their sockets removed. */
	if (c->multi)
		curl_multi_cleanup(c->multi);
	while (c->socks)
		sock_free(c->socks);
	ky_loop_timer_free(c->timer);
	free(c->server);
	free(c->token_file);
	free(c->ca_file);
	secret_free(c->token);
	free(c);
	curl_global_cleanup();
}

void ky_k8s_client_free(struct ky_k8s_client *c)
{
	if (!c)
		return;
	if (c->busy) {
		c->free_pending = true;
		for (struct ky_k8s_request *x = c->xfers; x; x = x->next)
			x->cancelled = true;
		return;
	}
	destroy(c);
}

int ky_k8s_client_new(struct ky_loop *loop, const struct ky_k8s_config *cfg, struct ky_k8s_client **out,
		      struct ky_error **err)
{
	int r = ky_k8s_config_check(cfg, err);
	if (r < 0)
		return r;
	CURLcode gc = curl_global_init(CURL_GLOBAL_DEFAULT);
	if (gc != CURLE_OK)
		return ky_error_set(err, EIO, "libcurl: %s", curl_easy_strerror(gc));
	struct ky_k8s_client *c = calloc(1, sizeof(*c));
	if (!c) {
		curl_global_cleanup();
		return ky_error_set(err, ENOMEM, "API client");
	}
	c->loop = loop;
	c->connect_timeout_ms = cfg->connect_timeout_ms;
	c->request_timeout_ms = cfg->request_timeout_ms;
	c->token_max_age_ms = cfg->token_max_age_ms;
	c->watch_timeout_s = cfg->watch_timeout_s ? cfg->watch_timeout_s : 300;
	c->max_body = cfg->max_body ? cfg->max_body : 16u << 20;
	c->max_event = cfg->max_event ? cfg->max_event : KY_K8S_EVENT_MAX;
	c->server = strdup(cfg->server);
	c->token_file = cfg->token_file ? strdup(cfg->token_file) : NULL;
	c->ca_file = cfg->ca_file ? strdup(cfg->ca_file) : NULL;
	c->multi = curl_multi_init();
	if (!c->server || (cfg->token_file && !c->token_file) || (cfg->ca_file && !c->ca_file) || !c->multi) {
		destroy(c);
		return ky_error_set(err, ENOMEM, "API client");
	}
	if ((r = ky_loop_timer_new(loop, on_timer, c, &c->timer, err)) < 0 ||
	    (r = token_refresh(c, true, err)) < 0) {
		destroy(c);
		return r;
	}
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
	curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, MAX_CONNECTS);
	curl_multi_setopt(c->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
	ky_info("k8s-client", "server=%s token_file=%s ca_file=%s", c->server, c->token_file ? c->token_file : "-",
		c->ca_file ? c->ca_file : "-");
	*out = c;
	return 0;
}

size_t ky_k8s_client_active(const struct ky_k8s_client *c)
{
	return c->active;
}

unsigned ky_k8s_client_token_reads(const struct ky_k8s_client *c)
{
	return c->token_reads;
}

uint32_t ky_k8s_client_watch_timeout_s(const struct ky_k8s_client *c)
{
	return c->watch_timeout_s;
}

struct ky_loop *ky_k8s_client_loop(const struct ky_k8s_client *c)
{
	return c->loop;
}

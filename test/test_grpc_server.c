/* The gRPC server against a hand-driven HTTP/2 peer (nghttp2 as a raw
 * client): what a real gRPC client never sends, malformed and truncated
 * messages, wrong headers, resets, and the server's own deadlines. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "kyborg/base/error.h"
#include "kyborg/grpc/grpc.h"
#include "kyborg/loop/loop.h"
#include "kytest.h"

/* ---- the server under test: echo (unary) and ticker (stream) ---- */

struct server_state {
	struct ky_grpc_stream *open[4];
	int n_open, closed, closed_code;
	int stream_msgs; /* messages the ticker sends at once */
	bool finish_now;
	int finish_code;
};

static struct ky_loop *loop;
static struct ky_grpc_server *srv;
static char *dir, *sock;
static struct server_state st;

static int echo(void *userdata, const uint8_t *req, size_t req_len, uint8_t **resp, size_t *resp_len,
		struct ky_error **err)
{
	(void)userdata;
	(void)err;
	*resp = malloc(req_len ? req_len : 1);
	memcpy(*resp, req, req_len);
	*resp_len = req_len;
	return 0;
}

/* Fails as the request says: "einval" (a plain errno), "aborted" (ENOENT
 * with a status of its own), "bare" (a negative errno and no error). */
static int fail(void *userdata, const uint8_t *req, size_t req_len, uint8_t **resp, size_t *resp_len,
		struct ky_error **err)
{
	(void)userdata;
	(void)resp;
	(void)resp_len;
	if (req_len == 6 && memcmp(req, "einval", 6) == 0)
		return ky_error_set(err, EINVAL, "bad field x: 100%%");
	if (req_len == 7 && memcmp(req, "aborted", 7) == 0) {
		ky_error_set(err, ENOENT, "gone");
		return ky_error_set_status(err, KY_GRPC_ABORTED);
	}
	return -EBUSY;
}

static int fail_stream(void *userdata, struct ky_grpc_stream *s, const uint8_t *req, size_t req_len,
		       struct ky_error **err)
{
	(void)userdata;
	(void)s;
	(void)req;
	(void)req_len;
	return ky_error_set(err, ENOMEM, "no room for a stream");
}

static int ticker(void *userdata, struct ky_grpc_stream *s, const uint8_t *req, size_t req_len,
		  struct ky_error **err)
{
	(void)userdata;
	(void)err;
	for (int i = 0; i < st.stream_msgs; i++)
		cr_assert_eq(ky_grpc_stream_send(s, req, req_len, NULL), 0);
	if (st.finish_now) {
		ky_grpc_stream_finish(s, st.finish_code, st.finish_code ? "done: 50% \xe2\x9c\x93" : NULL);
		cr_assert_eq(ky_grpc_stream_send(s, req, req_len, NULL), -EPIPE, "no sending after finish");
		return 0;
	}
	st.open[st.n_open++] = s;
	return 0;
}

static void ticker_closed(void *userdata, struct ky_grpc_stream *s, int code)
{
	(void)userdata;
	st.closed++;
	st.closed_code = code;
	for (int i = 0; i < st.n_open; i++)
		if (st.open[i] == s)
			st.open[i] = st.open[--st.n_open];
}

static const struct ky_grpc_method methods[] = {
	{ .path = "/t.T/Echo", .unary = echo },
	{ .path = "/t.T/Ticker", .stream = ticker, .closed = ticker_closed },
	{ .path = "/t.T/Fail", .unary = fail },
	{ .path = "/t.T/FailStream", .stream = fail_stream },
};

static void setup(void)
{
	dir = kyt_tmpdir("kygrpcs");
	cr_assert_not_null(dir);
	cr_assert_geq(asprintf(&sock, "%s/s.sock", dir), 0);
	cr_assert_eq(ky_loop_new(&loop, NULL), 0);
	cr_assert_eq(ky_grpc_server_new(loop, sock, methods, KY_ARRAY_SIZE(methods), &srv, NULL), 0);
	st = (struct server_state){ .stream_msgs = 1 };
}

static void teardown(void)
{
	ky_grpc_server_free(srv);
	ky_loop_free(loop);
	kyt_rmrf(dir);
	free(dir);
	free(sock);
}

/* ---- the raw peer ---- */

struct rstream {
	int32_t id;
	const uint8_t *body;
	size_t body_len, off;
	bool end;
	int http, grpc_status;
	char message[256];
	struct ky_grpc_deframer df;
	int msgs;
	bool closed;
	uint32_t error_code;
};

#define RAW_STREAMS 128

struct raw {
	int fd;
	nghttp2_session *s;
	bool broken;
	bool goaway; /* and the error code it carried */
	uint32_t goaway_code;
	struct rstream rs[RAW_STREAMS];
	int n;
};

static ssize_t raw_read_body(nghttp2_session *s, int32_t id, uint8_t *buf, size_t length, uint32_t *flags,
			     nghttp2_data_source *src, void *ud)
{
	struct rstream *r = src->ptr;
	(void)s;
	(void)id;
	(void)ud;
	size_t n = r->body_len - r->off;
	if (n > length)
		n = length;
	if (n)
		memcpy(buf, r->body + r->off, n);
	r->off += n;
	if (r->off == r->body_len) {
		*flags |= NGHTTP2_DATA_FLAG_EOF;
		if (!r->end)
			*flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
	}
	return (ssize_t)n;
}

static struct rstream *find(struct raw *raw, int32_t id)
{
	for (int i = 0; i < raw->n; i++)
		if (raw->rs[i].id == id)
			return &raw->rs[i];
	return NULL;
}

static int raw_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name, size_t namelen,
		      const uint8_t *value, size_t valuelen, uint8_t flags, void *ud)
{
	(void)s;
	(void)flags;
	struct rstream *r = find(ud, f->hd.stream_id);
	if (!r)
		return 0;
	char v[256];
	snprintf(v, sizeof(v), "%.*s", (int)valuelen, (const char *)value);
	if (namelen == 7 && !memcmp(name, ":status", 7))
		r->http = atoi(v);
	else if (namelen == 11 && !memcmp(name, "grpc-status", 11))
		r->grpc_status = atoi(v);
	else if (namelen == 12 && !memcmp(name, "grpc-message", 12)) {
		char *d = ky_grpc_message_decode(v);
		snprintf(r->message, sizeof(r->message), "%s", d);
		free(d);
	}
	return 0;
}

static int count_msg(void *ud, const uint8_t *m, size_t len)
{
	(void)m;
	(void)len;
	((struct rstream *)ud)->msgs++;
	return 0;
}

static int raw_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data, size_t len, void *ud)
{
	(void)s;
	(void)flags;
	struct rstream *r = find(ud, id);
	if (r)
		cr_assert_eq(ky_grpc_deframer_feed(&r->df, data, len, count_msg, r), 0);
	return 0;
}

static int raw_close(nghttp2_session *s, int32_t id, uint32_t error_code, void *ud)
{
	(void)s;
	struct rstream *r = find(ud, id);
	if (r) {
		r->closed = true;
		r->error_code = error_code;
	}
	return 0;
}

static int raw_frame(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
	struct raw *raw = ud;
	(void)s;
	if (f->hd.type == NGHTTP2_GOAWAY) {
		raw->goaway = true;
		raw->goaway_code = f->goaway.error_code;
	}
	return 0;
}

static void raw_connect(struct raw *raw)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	*raw = (struct raw){ 0 };
	raw->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(raw->fd, 0);
	cr_assert_eq(connect(raw->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	nghttp2_session_callbacks *cbs;
	nghttp2_session_callbacks_new(&cbs);
	nghttp2_session_callbacks_set_on_header_callback(cbs, raw_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, raw_data);
	nghttp2_session_callbacks_set_on_stream_close_callback(cbs, raw_close);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, raw_frame);
	cr_assert_eq(nghttp2_session_client_new(&raw->s, cbs, raw), 0);
	nghttp2_session_callbacks_del(cbs);
	nghttp2_submit_settings(raw->s, NGHTTP2_FLAG_NONE, NULL, 0);
}

static void raw_close_all(struct raw *raw)
{
	for (int i = 0; i < raw->n; i++)
		ky_grpc_deframer_release(&raw->rs[i].df);
	nghttp2_session_del(raw->s);
	close(raw->fd);
}

/* Opens a stream; a NULL content type or method leaves the header out. */
static struct rstream *raw_call(struct raw *raw, const char *method, const char *path, const char *ctype,
				const char *timeout, const void *body, size_t len, bool end)
{
	nghttp2_nv nva[8];
	size_t n = 0;
#define NV(a, b) (nva[n++] = (nghttp2_nv){ (uint8_t *)(a), (uint8_t *)(b), strlen(a), strlen(b), 0 })
	NV(":method", method);
	NV(":scheme", "http");
	NV(":authority", "localhost");
	NV(":path", path);
	if (ctype)
		NV("content-type", ctype);
	NV("te", "trailers");
	if (timeout)
		NV("grpc-timeout", timeout);
#undef NV
	cr_assert_lt(raw->n, RAW_STREAMS);
	struct rstream *r = &raw->rs[raw->n++];
	*r = (struct rstream){ .body = body, .body_len = len, .end = end, .grpc_status = -1 };
	ky_grpc_deframer_init(&r->df, KY_GRPC_DEFAULT_MAX_MESSAGE);
	nghttp2_data_provider prd = { .source.ptr = r, .read_callback = raw_read_body };
	r->id = nghttp2_submit_request(raw->s, NULL, nva, n, (body || !end) ? &prd : NULL, NULL);
	cr_assert_gt(r->id, 0);
	return r;
}

/* Moves bytes both ways once: the raw peer's, then one loop round. */
static void pump(struct raw *raw)
{
	const uint8_t *data;
	ssize_t n;
	while (!raw->broken && (n = nghttp2_session_mem_send(raw->s, &data)) > 0)
		if (send(raw->fd, data, (size_t)n, MSG_NOSIGNAL) != n)
			raw->broken = true;
	cr_assert_eq(ky_loop_run_once(loop, 5, NULL), 0);
	uint8_t buf[65536];
	while (!raw->broken) {
		n = recv(raw->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN)) {
			raw->broken = true;
			break;
		}
		if (n < 0)
			break;
		if (nghttp2_session_mem_recv(raw->s, buf, (size_t)n) < 0)
			raw->broken = true;
	}
}

static bool pump_until_closed(struct raw *raw, struct rstream *r, int timeout_ms)
{
	uint64_t end = ky_loop_now_ms() + (uint64_t)timeout_ms;
	while (!r->closed && !raw->broken && ky_loop_now_ms() < end)
		pump(raw);
	return r->closed;
}

static uint8_t *framed(const char *msg, size_t *len)
{
	size_t n = strlen(msg);
	uint8_t *b = malloc(5 + n);
	ky_grpc_frame_header(b, false, (uint32_t)n);
	memcpy(b + 5, msg, n);
	*len = 5 + n;
	return b;
}

TestSuite(grpc_server, .init = setup, .fini = teardown, .timeout = 60);

Test(grpc_server, echo_over_many_data_frames)
{
	struct raw raw;
	size_t n = 100000;
	uint8_t *body = malloc(5 + n);
	ky_grpc_frame_header(body, false, (uint32_t)n);
	memset(body + 5, 'e', n);
	raw_connect(&raw);
	struct rstream *r = raw_call(&raw, "POST", "/t.T/Echo", "application/grpc", NULL, body, 5 + n, true);
	cr_assert(pump_until_closed(&raw, r, 5000));
	cr_assert_eq(r->http, 200);
	cr_assert_eq(r->grpc_status, 0);
	cr_assert_eq(r->msgs, 1);
	cr_assert(ky_grpc_deframer_idle(&r->df));
	/* content-type variants gRPC allows, and an empty message */
	uint8_t empty[5];
	ky_grpc_frame_header(empty, false, 0);
	struct rstream *r2 = raw_call(&raw, "POST", "/t.T/Echo", "application/grpc+proto", NULL, empty, 5, true);
	cr_assert(pump_until_closed(&raw, r2, 5000));
	cr_assert_eq(r2->grpc_status, 0);
	cr_assert_eq(r2->msgs, 1);
	raw_close_all(&raw);
	free(body);
}

Test(grpc_server, a_handler_error_becomes_its_status_and_message)
{
	struct raw raw;
	size_t la, lb, lc, ld;
	_cleanup_free_ uint8_t *einval = framed("einval", &la), *aborted = framed("aborted", &lb),
			       *bare = framed("bare", &lc), *any = framed("", &ld);
	raw_connect(&raw);
	struct rstream *a = raw_call(&raw, "POST", "/t.T/Fail", "application/grpc", NULL, einval, la, true);
	struct rstream *b = raw_call(&raw, "POST", "/t.T/Fail", "application/grpc", NULL, aborted, lb, true);
	struct rstream *c = raw_call(&raw, "POST", "/t.T/Fail", "application/grpc", NULL, bare, lc, true);
	struct rstream *d = raw_call(&raw, "POST", "/t.T/FailStream", "application/grpc", NULL, any, ld, true);
	cr_assert(pump_until_closed(&raw, a, 5000) && pump_until_closed(&raw, b, 5000) &&
		  pump_until_closed(&raw, c, 5000) && pump_until_closed(&raw, d, 5000));
	cr_assert_eq(a->grpc_status, KY_GRPC_INVALID_ARGUMENT, "EINVAL maps to INVALID_ARGUMENT");
	cr_assert_str_eq(a->message, "bad field x: 100%");
	cr_assert_eq(b->grpc_status, KY_GRPC_ABORTED, "the error's own status wins over its errno");
	cr_assert_str_eq(b->message, "gone");
	cr_assert_eq(c->grpc_status, KY_GRPC_UNAVAILABLE, "a bare -EBUSY still maps");
	cr_assert_str_eq(c->message, "Device or resource busy");
	cr_assert_eq(d->grpc_status, KY_GRPC_RESOURCE_EXHAUSTED);
	cr_assert_str_eq(d->message, "no room for a stream");
	cr_assert_eq(a->msgs + b->msgs + c->msgs + d->msgs, 0);
	raw_close_all(&raw);
}

Test(grpc_server, truncated_missing_or_extra_messages_are_internal)
{
	struct raw raw;
	uint8_t trunc[8];
	ky_grpc_frame_header(trunc, false, 10);
	memcpy(trunc + 5, "abc", 3);
	uint8_t two[10];
	ky_grpc_frame_header(two, false, 0);
	ky_grpc_frame_header(two + 5, false, 0);
	uint8_t half[3] = { 0, 0, 0 };
	raw_connect(&raw);
	struct rstream *a = raw_call(&raw, "POST", "/t.T/Echo", "application/grpc", NULL, trunc, sizeof(trunc), true);
	struct rstream *b = raw_call(&raw, "POST", "/t.T/Echo", "application/grpc", NULL, NULL, 0, true);
	struct rstream *c = raw_call(&raw, "POST", "/t.T/Echo", "application/grpc", NULL, two, sizeof(two), true);
	struct rstream *d = raw_call(&raw, "POST", "/t.T/Echo", "application/grpc", NULL, half, sizeof(half), true);
	cr_assert(pump_until_closed(&raw, a, 5000) && pump_until_closed(&raw, b, 5000));
	cr_assert(pump_until_closed(&raw, c, 5000) && pump_until_closed(&raw, d, 5000));
	cr_assert_eq(a->grpc_status, KY_GRPC_INTERNAL);
	cr_assert_str_eq(a->message, "truncated request message");
	cr_assert_eq(b->grpc_status, KY_GRPC_INTERNAL);
	cr_assert_str_eq(b->message, "request message missing");
	cr_assert_eq(c->grpc_status, KY_GRPC_INTERNAL);
	cr_assert_eq(d->grpc_status, KY_GRPC_INTERNAL);
	cr_assert_eq(a->msgs + b->msgs + c->msgs + d->msgs, 0);
	raw_close_all(&raw);
}

Test(grpc_server, compressed_flag_is_internal)
{
	struct raw raw;
	uint8_t body[6] = { 1, 0, 0, 0, 1, 'x' };
	raw_connect(&raw);
	struct rstream *r = raw_call(&raw, "POST", "/t.T/Echo", "application/grpc", NULL, body, sizeof(body), true);
	cr_assert(pump_until_closed(&raw, r, 5000));
	cr_assert_eq(r->grpc_status, KY_GRPC_INTERNAL);
	raw_close_all(&raw);
}

Test(grpc_server, over_the_limit_is_refused_before_the_body_arrives)
{
	struct raw raw;
	uint8_t hdr[5];
	ky_grpc_server_set_max_message(srv, 1024);
	ky_grpc_frame_header(hdr, false, 1025);
	raw_connect(&raw);
	/* Only the prefix, and the stream stays open: the answer must not wait
	 * for a body it will never buffer. */
	struct rstream *r = raw_call(&raw, "POST", "/t.T/Echo", "application/grpc", NULL, hdr, sizeof(hdr), false);
	cr_assert(pump_until_closed(&raw, r, 5000));
	cr_assert_eq(r->grpc_status, KY_GRPC_RESOURCE_EXHAUSTED);
	cr_assert_eq(r->error_code, NGHTTP2_NO_ERROR, "closed by RST_STREAM(NO_ERROR), not by an error");
	/* At the limit it is served. */
	uint8_t *ok = calloc(1, 5 + 1024);
	ky_grpc_frame_header(ok, false, 1024);
	struct rstream *r2 = raw_call(&raw, "POST", "/t.T/Echo", "application/grpc", NULL, ok, 5 + 1024, true);
	cr_assert(pump_until_closed(&raw, r2, 5000));
	cr_assert_eq(r2->grpc_status, KY_GRPC_OK);
	cr_assert_eq(r2->msgs, 1);
	free(ok);
	raw_close_all(&raw);
}

Test(grpc_server, non_grpc_requests_get_http_errors)
{
	struct raw raw;
	size_t len;
	_cleanup_free_ uint8_t *body = framed("x", &len);
	raw_connect(&raw);
	struct rstream *a = raw_call(&raw, "POST", "/t.T/Echo", "text/plain", NULL, body, len, true);
	struct rstream *b = raw_call(&raw, "POST", "/t.T/Echo", NULL, NULL, body, len, true);
	struct rstream *c = raw_call(&raw, "GET", "/t.T/Echo", "application/grpc", NULL, NULL, 0, true);
	struct rstream *d = raw_call(&raw, "POST", "/t.T/Echo", "application/grpcx", NULL, body, len, true);
	cr_assert(pump_until_closed(&raw, a, 5000) && pump_until_closed(&raw, b, 5000));
	cr_assert(pump_until_closed(&raw, c, 5000) && pump_until_closed(&raw, d, 5000));
	cr_assert_eq(a->http, 415);
	cr_assert_eq(b->http, 415);
	cr_assert_eq(c->http, 405);
	cr_assert_eq(d->http, 415);
	cr_assert_eq(ky_grpc_code_from_http(a->http), KY_GRPC_UNKNOWN);
	raw_close_all(&raw);
}

Test(grpc_server, malformed_timeout_is_internal)
{
	struct raw raw;
	size_t len;
	_cleanup_free_ uint8_t *body = framed("x", &len);
	raw_connect(&raw);
	struct rstream *r = raw_call(&raw, "POST", "/t.T/Echo", "application/grpc", "soon", body, len, true);
	cr_assert(pump_until_closed(&raw, r, 5000));
	cr_assert_eq(r->grpc_status, KY_GRPC_INTERNAL);
	raw_close_all(&raw);
}

Test(grpc_server, server_deadline_ends_an_open_stream)
{
	struct raw raw;
	size_t len;
	_cleanup_free_ uint8_t *body = framed("tick", &len);
	raw_connect(&raw);
	uint64_t start = ky_loop_now_ms();
	/* The raw peer keeps no timer: only the server enforces this one. */
	struct rstream *r = raw_call(&raw, "POST", "/t.T/Ticker", "application/grpc", "100m", body, len, true);
	cr_assert(pump_until_closed(&raw, r, 5000));
	uint64_t took = ky_loop_now_ms() - start;
	cr_assert(took >= 100 && took < 2000, "took %llu ms", (unsigned long long)took);
	cr_assert_eq(r->msgs, 1, "the message sent before the deadline arrived");
	cr_assert_eq(r->grpc_status, KY_GRPC_DEADLINE_EXCEEDED);
	cr_assert_eq(st.closed, 1);
	cr_assert_eq(st.closed_code, KY_GRPC_DEADLINE_EXCEEDED);
	cr_assert_eq(st.n_open, 0);
	/* A request whose deadline passed on the way is answered so as well. */
	struct rstream *z = raw_call(&raw, "POST", "/t.T/Echo", "application/grpc", "0n", NULL, 0, false);
	cr_assert(pump_until_closed(&raw, z, 5000));
	cr_assert_eq(z->grpc_status, KY_GRPC_DEADLINE_EXCEEDED);
	raw_close_all(&raw);
}

Test(grpc_server, finish_sends_messages_then_status_trailers)
{
	struct raw raw;
	size_t len;
	_cleanup_free_ uint8_t *body = framed("tick", &len);
	st.stream_msgs = 3;
	st.finish_now = true;
	raw_connect(&raw);
	struct rstream *r = raw_call(&raw, "POST", "/t.T/Ticker", "application/grpc", NULL, body, len, true);
	cr_assert(pump_until_closed(&raw, r, 5000));
	cr_assert_eq(r->http, 200);
	cr_assert_eq(r->msgs, 3);
	cr_assert_eq(r->grpc_status, KY_GRPC_OK);
	st.finish_code = KY_GRPC_ABORTED;
	struct rstream *e = raw_call(&raw, "POST", "/t.T/Ticker", "application/grpc", NULL, body, len, true);
	cr_assert(pump_until_closed(&raw, e, 5000));
	cr_assert_eq(e->msgs, 3);
	cr_assert_eq(e->grpc_status, KY_GRPC_ABORTED);
	cr_assert_str_eq(e->message, "done: 50% \xe2\x9c\x93");
	cr_assert_eq(st.closed, 0, "finished streams are not reported closed");
	raw_close_all(&raw);
}

static bool stream_open(struct raw *raw, int want, int timeout_ms)
{
	uint64_t end = ky_loop_now_ms() + (uint64_t)timeout_ms;
	while (st.n_open < want && ky_loop_now_ms() < end)
		pump(raw);
	return st.n_open == want;
}

Test(grpc_server, reset_stream_is_reported_and_the_connection_serves_on)
{
	struct raw raw;
	size_t len;
	_cleanup_free_ uint8_t *body = framed("tick", &len);
	raw_connect(&raw);
	struct rstream *r = raw_call(&raw, "POST", "/t.T/Ticker", "application/grpc", NULL, body, len, true);
	cr_assert(stream_open(&raw, 1, 5000));
	nghttp2_submit_rst_stream(raw.s, NGHTTP2_FLAG_NONE, r->id, NGHTTP2_CANCEL);
	uint64_t end = ky_loop_now_ms() + 5000;
	while (st.closed == 0 && ky_loop_now_ms() < end)
		pump(&raw);
	cr_assert_eq(st.closed, 1);
	cr_assert_eq(st.closed_code, KY_GRPC_CANCELLED);
	struct rstream *e = raw_call(&raw, "POST", "/t.T/Echo", "application/grpc", NULL, body, len, true);
	cr_assert(pump_until_closed(&raw, e, 5000));
	cr_assert_eq(e->grpc_status, 0);
	raw_close_all(&raw);
}

Test(grpc_server, garbage_peer_is_dropped_and_others_are_served)
{
	struct raw bad, good;
	size_t len;
	_cleanup_free_ uint8_t *body = framed("x", &len);
	raw_connect(&bad);
	raw_connect(&good);
	cr_assert_eq(send(bad.fd, "GET / HTTP/1.1\r\n\r\n", 18, MSG_NOSIGNAL), 18);
	struct rstream *r = raw_call(&good, "POST", "/t.T/Echo", "application/grpc", NULL, body, len, true);
	cr_assert(pump_until_closed(&good, r, 5000));
	cr_assert_eq(r->grpc_status, 0);
	uint64_t end = ky_loop_now_ms() + 5000;
	while (ky_grpc_server_connections(srv) != 1 && ky_loop_now_ms() < end)
		pump(&good);
	cr_assert_eq(ky_grpc_server_connections(srv), 1, "the garbage connection is closed");
	raw_close_all(&bad);
	raw_close_all(&good);
}

Test(grpc_server, freeing_the_server_reports_open_streams_unavailable)
{
	struct raw raw;
	size_t len;
	_cleanup_free_ uint8_t *body = framed("tick", &len);
	raw_connect(&raw);
	raw_call(&raw, "POST", "/t.T/Ticker", "application/grpc", NULL, body, len, true);
	raw_call(&raw, "POST", "/t.T/Ticker", "application/grpc", NULL, body, len, true);
	cr_assert(stream_open(&raw, 2, 5000));
	ky_grpc_server_free(srv);
	srv = NULL;
	cr_assert_eq(st.closed, 2);
	cr_assert_eq(st.closed_code, KY_GRPC_UNAVAILABLE);
	cr_assert_eq(access(sock, F_OK), -1, "the socket file is gone");
	raw_close_all(&raw);
}

static bool got_msgs(struct raw *raw, struct rstream *r, int want, int timeout_ms)
{
	uint64_t end = ky_loop_now_ms() + (uint64_t)timeout_ms;
	while (r->msgs < want && !raw->broken && ky_loop_now_ms() < end)
		pump(raw);
	return r->msgs == want;
}

Test(grpc_server, a_peer_that_stops_reading_gets_enobufs_not_unbounded_memory)
{
	struct raw raw;
	size_t len;
	_cleanup_free_ uint8_t *body = framed("tick", &len);
	const size_t mib = 1u << 20;
	_cleanup_free_ uint8_t *big = calloc(1, mib);
	raw_connect(&raw);
	struct rstream *r = raw_call(&raw, "POST", "/t.T/Ticker", "application/grpc", NULL, body, len, true);
	cr_assert(stream_open(&raw, 1, 5000));
	/* The raw peer reads nothing now: past HTTP/2's window the bytes stay
	 * queued on our side, up to the cap. */
	int sent = 0, rc = 0;
	while (sent < 64 && (rc = ky_grpc_stream_send(st.open[0], big, mib, NULL)) == 0)
		sent++;
	cr_assert_eq(rc, -ENOBUFS);
	cr_assert(sent >= 15 && sent <= 17, "sent %d MiB", sent);
	cr_assert_gt(ky_grpc_stream_pending(st.open[0]) + mib, KY_GRPC_STREAM_MAX_PENDING);
	cr_assert_eq(st.n_open, 1, "the stream stays open");
	/* Once the peer reads again, everything queued arrives. */
	cr_assert(got_msgs(&raw, r, 1 + sent, 20000), "got %d of %d", r->msgs, 1 + sent);
	cr_assert_eq(ky_grpc_stream_pending(st.open[0]), 0);
	raw_close_all(&raw);
}

/* ---- what one peer may cost ---- */

static long vm_rss_kib(void)
{
	_cleanup_free_ char *text = kyt_read_file("/proc/self/status");
	const char *p = text ? strstr(text, "\nVmRSS:") : NULL;
	cr_assert_not_null(p);
	return strtol(p + 7, NULL, 10);
}

/* Under ASan freed buffers wait in its quarantine (256 MiB by default),
 * resident: the process's RSS then measures the sanitizer, not us. */
#if defined(__SANITIZE_ADDRESS__)
#define RSS_MEASURES_US false
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RSS_MEASURES_US false
#endif
#endif
#ifndef RSS_MEASURES_US
#define RSS_MEASURES_US true
#endif

/* A peer claims the largest message on every stream it may open, and sends
 * a good part of each: what the server holds is the connection's budget,
 * not the claims. Checked by the server's own accounting at every step,
 * and by its VmRSS (the server and the peer share this process; the peer's
 * bytes come from one buffer, counted before the start). */
Test(grpc_server, claimed_lengths_cost_the_connection_its_budget_not_the_claims)
{
	struct raw raw;
	const size_t part = 3u << 19; /* 1.5 MiB of each 4 MiB message */
	const int streams = 100;
	_cleanup_free_ uint8_t *body = malloc(KY_GRPC_FRAME_HEADER + part);
	cr_assert_not_null(body);
	ky_grpc_frame_header(body, false, KY_GRPC_DEFAULT_MAX_MESSAGE);
	memset(body + KY_GRPC_FRAME_HEADER, 'x', part);
	raw_connect(&raw);
	long before = vm_rss_kib();
	for (int i = 0; i < streams; i++)
		raw_call(&raw, "POST", "/t.T/Echo", "application/grpc", NULL, body, KY_GRPC_FRAME_HEADER + part, false);
	/* Until every stream is refused or has sent its part. */
	uint64_t end = ky_loop_now_ms() + 60000;
	int busy = streams;
	size_t peak = 0;
	while (busy && !raw.broken && ky_loop_now_ms() < end) {
		pump(&raw);
		if (ky_grpc_server_buffered(srv) > peak)
			peak = ky_grpc_server_buffered(srv);
		busy = 0;
		for (int i = 0; i < raw.n; i++)
			busy += !raw.rs[i].closed && raw.rs[i].off < raw.rs[i].body_len;
	}
	cr_assert_not(raw.broken, "the connection stays up");
	cr_assert_eq(busy, 0, "%d streams still sending", busy);
	long grown_mib = (vm_rss_kib() - before) / 1024;
	int refused = 0;
	for (int i = 0; i < raw.n; i++)
		refused += raw.rs[i].grpc_status == KY_GRPC_RESOURCE_EXHAUSTED;
	cr_log_info("%d of %d streams refused, at most %zu KiB held, the server grew by %ld MiB", refused, streams,
		    peak / 1024, grown_mib);
	cr_assert_leq(peak, KY_GRPC_CONN_BUDGET(KY_GRPC_DEFAULT_MAX_MESSAGE), "held %zu bytes", peak);
	if (RSS_MEASURES_US)
		cr_assert_lt(grown_mib, 64,
			     "%d streams claiming 4 MiB and sending 1.5 MiB each grew the server by %ld MiB", streams,
			     grown_mib);
	cr_assert_gt(refused, 0, "streams past the budget are answered RESOURCE_EXHAUSTED");
	/* The refused streams gave their budget back: the connection serves on. */
	size_t len;
	_cleanup_free_ uint8_t *hello = framed("hello", &len);
	struct rstream *r = raw_call(&raw, "POST", "/t.T/Echo", "application/grpc", NULL, hello, len, true);
	cr_assert(pump_until_closed(&raw, r, 5000));
	cr_assert_eq(r->grpc_status, KY_GRPC_OK, "status %d: %s", r->grpc_status, r->message);
	raw_close_all(&raw);
}

/* Kubelet opens a handful of connections; one past the limit is told so
 * (GOAWAY) and closed at once, and the others are served as before. */
Test(grpc_server, a_connection_past_the_limit_is_refused_and_closed)
{
	struct raw raw[KY_GRPC_SERVER_MAX_CONNECTIONS], extra;
	size_t len;
	_cleanup_free_ uint8_t *hello = framed("hello", &len);
	for (int i = 0; i < KY_GRPC_SERVER_MAX_CONNECTIONS; i++) {
		raw_connect(&raw[i]);
		struct rstream *r = raw_call(&raw[i], "POST", "/t.T/Echo", "application/grpc", NULL, hello, len, true);
		cr_assert(pump_until_closed(&raw[i], r, 5000));
		cr_assert_eq(r->grpc_status, KY_GRPC_OK);
	}
	cr_assert_eq(ky_grpc_server_connections(srv), KY_GRPC_SERVER_MAX_CONNECTIONS);
	raw_connect(&extra);
	struct rstream *x = raw_call(&extra, "POST", "/t.T/Echo", "application/grpc", NULL, hello, len, true);
	uint64_t end = ky_loop_now_ms() + 5000;
	while (!extra.broken && ky_loop_now_ms() < end)
		pump(&extra);
	cr_assert(extra.broken, "the connection past the limit is closed");
	cr_assert(extra.goaway && extra.goaway_code == NGHTTP2_ENHANCE_YOUR_CALM, "told why with a GOAWAY");
	cr_assert_eq(x->grpc_status, -1, "and served nothing");
	cr_assert_eq(x->msgs, 0);
	cr_assert_eq(ky_grpc_server_connections(srv), KY_GRPC_SERVER_MAX_CONNECTIONS);
	/* One goes: there is room again. */
	raw_close_all(&raw[0]);
	end = ky_loop_now_ms() + 5000;
	while (ky_grpc_server_connections(srv) == KY_GRPC_SERVER_MAX_CONNECTIONS && ky_loop_now_ms() < end)
		cr_assert_eq(ky_loop_run_once(loop, 10, NULL), 0);
	raw_connect(&raw[0]);
	for (int i = 0; i < KY_GRPC_SERVER_MAX_CONNECTIONS; i++) {
		struct rstream *r = raw_call(&raw[i], "POST", "/t.T/Echo", "application/grpc", NULL, hello, len, true);
		cr_assert(pump_until_closed(&raw[i], r, 5000));
		cr_assert_eq(r->grpc_status, KY_GRPC_OK, "connection %d still served", i);
	}
	for (int i = 0; i < KY_GRPC_SERVER_MAX_CONNECTIONS; i++)
		raw_close_all(&raw[i]);
	raw_close_all(&extra);
}

/* Answers a peer does not read count per connection, not per stream: a
 * second stream cannot queue another 16 MiB beside the first. */
Test(grpc_server, answers_a_peer_does_not_read_are_bounded_per_connection)
{
	struct raw raw;
	size_t len;
	_cleanup_free_ uint8_t *body = framed("tick", &len);
	const size_t mib = 1u << 20;
	_cleanup_free_ uint8_t *big = calloc(1, mib);
	raw_connect(&raw);
	raw_call(&raw, "POST", "/t.T/Ticker", "application/grpc", NULL, body, len, true);
	raw_call(&raw, "POST", "/t.T/Ticker", "application/grpc", NULL, body, len, true);
	cr_assert(stream_open(&raw, 2, 5000));
	size_t queued = 0;
	int rc = 0;
	for (int i = 0; i < 64 && rc == 0; i++)
		if ((rc = ky_grpc_stream_send(st.open[i % 2], big, mib, NULL)) == 0)
			queued += mib;
	cr_assert_eq(rc, -ENOBUFS);
	size_t pending = ky_grpc_stream_pending(st.open[0]) + ky_grpc_stream_pending(st.open[1]);
	cr_assert_leq(pending, KY_GRPC_STREAM_MAX_PENDING, "%zu bytes queued on one connection", pending);
	cr_assert_eq(st.n_open, 2, "both streams stay open");
	raw_close_all(&raw);
}

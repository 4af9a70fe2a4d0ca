/* The gRPC server: a listening unix socket, one nghttp2 session per
 * connection driven by the event loop, and the call life cycle of unary and
 * server-streaming methods (validation, deadlines, status trailers). */
#include "kyborg/grpc/grpc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "grpc_internal.h"
#include "kyborg/base/error.h"
#include "kyborg/base/list.h"
#include "kyborg/base/log.h"
#include "kyborg/loop/loop.h"

struct srv_conn;

enum stream_state {
	ST_READING, /* request headers/body arriving */
	ST_OPEN,    /* a stream method's handler holds the handle */
	ST_DONE,    /* the response is decided; nothing more to report */
};

struct ky_grpc_stream {
	struct srv_conn *conn;
	int32_t id;
	enum stream_state state;
	const struct ky_grpc_method *method;
	char *path;
	bool post, grpc_content_type, bad_encoding, has_timeout, bad_timeout;
	uint64_t timeout_ms; /* 0: already passed when it arrives */
	struct ky_grpc_deframer deframer;
	uint8_t *req;
	size_t req_len;
	unsigned n_msgs;
	struct ky_loop_timer *deadline;
	/* Outbound DATA: framed messages not yet taken by nghttp2. */
	uint8_t *out;
	size_t out_len, out_off;
	bool request_ended; /* the peer's END_STREAM arrived */
	bool data_started;  /* response headers with a data provider submitted */
	bool finishing;    /* trailers go out once out is drained */
	int final_code;
	char *final_msg;
	void *userdata;
	struct ky_grpc_stream *prev, *next;
};

struct srv_conn {
	struct ky_grpc_conn c;
	struct ky_grpc_server *srv;
	struct ky_grpc_stream *streams;
	/* Requests being received and kept, over all streams. */
	struct ky_grpc_budget budget;
	/* Armed when a send from outside the loop's I/O finds the connection
	 * broken: the close (and its closed callbacks) then happens from the
	 * loop, never under the caller's feet. */
	struct ky_loop_timer *kick;
	struct srv_conn *prev, *next;
};

struct ky_grpc_server {
	struct ky_loop *loop;
	char *path;
	int fd;
	struct ky_loop_io *io;
	const struct ky_grpc_method *methods;
	size_t n_methods;
	uint32_t max_message;
	struct srv_conn *conns;
	size_t n_conns, max_conns;
	/* Refused connections, reported at most once a second. */
	uint64_t refused_logged_ms;
	unsigned refused;
};

/* ---- responses ---- */

static int submit_trailers_only(struct ky_grpc_stream *s, int code, const char *message)
{
	char code_s[16];
	_cleanup_free_ char *enc = ky_grpc_message_encode(message ? message : "");
	snprintf(code_s, sizeof(code_s), "%d", code);
	nghttp2_nv nva[] = {
		KY_NV(":status", "200"),
		KY_NV("content-type", "application/grpc"),
		KY_NV("grpc-status", code_s),
		KY_NV("grpc-message", enc ? enc : ""),
	};
	size_t n = message && *message ? 4 : 3;
	return nghttp2_submit_response(s->conn->c.session, s->id, nva, n, NULL);
}

static void submit_trailers(struct ky_grpc_stream *s)
{
	char code_s[16];
	_cleanup_free_ char *enc = ky_grpc_message_encode(s->final_msg ? s->final_msg : "");
	snprintf(code_s, sizeof(code_s), "%d", s->final_code);
	nghttp2_nv nva[] = {
		KY_NV("grpc-status", code_s),
		KY_NV("grpc-message", enc ? enc : ""),
	};
	size_t n = s->final_msg && *s->final_msg ? 2 : 1;
	nghttp2_submit_trailer(s->conn->c.session, s->id, nva, n);
}

static ssize_t read_out(nghttp2_session *session, int32_t id, uint8_t *buf, size_t length, uint32_t *flags,
			nghttp2_data_source *source, void *user_data)
{
	struct ky_grpc_stream *s = source->ptr;
	(void)session;
	(void)id;
	(void)user_data;
	size_t avail = s->out_len - s->out_off;
	if (avail) {
		size_t n = avail < length ? avail : length;
		memcpy(buf, s->out + s->out_off, n);
		s->out_off += n;
		if (s->out_off == s->out_len) {
			free(s->out);
			s->out = NULL;
			s->out_len = s->out_off = 0;
		}
		return (ssize_t)n;
	}
	if (!s->finishing)
		return NGHTTP2_ERR_DEFERRED;
	/* gRPC ends the stream with trailers, not with the last DATA frame. */
	*flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
	submit_trailers(s);
	return 0;
}

static int start_data(struct ky_grpc_stream *s)
{
	if (s->data_started)
		return 0;
	nghttp2_nv nva[] = {
		KY_NV(":status", "200"),
		KY_NV("content-type", "application/grpc"),
		KY_NV("grpc-accept-encoding", "identity"),
	};
	nghttp2_data_provider prd = { .source.ptr = s, .read_callback = read_out };
	int r = nghttp2_submit_response(s->conn->c.session, s->id, nva, KY_ARRAY_SIZE(nva), &prd);
	if (r == 0)
		s->data_started = true;
	return r;
}

/* Answers queued on the connection that its peer has not read yet. */
static size_t conn_pending(const struct srv_conn *conn)
{
	size_t n = 0;
	for (const struct ky_grpc_stream *s = conn->streams; s; s = s->next)
		n += s->out_len - s->out_off;
	return n;
}

static int queue_message(struct ky_grpc_stream *s, const uint8_t *msg, size_t len)
{
	if (len > UINT32_MAX)
		return -EMSGSIZE;
	if (conn_pending(s->conn) + len > KY_GRPC_STREAM_MAX_PENDING)
		return -ENOBUFS;
	size_t keep = s->out_len - s->out_off;
	uint8_t *out = malloc(keep + KY_GRPC_FRAME_HEADER + len);
	if (!out)
		return -ENOMEM;
	if (keep)
		memcpy(out, s->out + s->out_off, keep);
	ky_grpc_frame_header(out + keep, false, (uint32_t)len);
	if (len)
		memcpy(out + keep + KY_GRPC_FRAME_HEADER, msg, len);
	free(s->out);
	s->out = out;
	s->out_len = keep + KY_GRPC_FRAME_HEADER + len;
	s->out_off = 0;
	return 0;
}

/* Ends the call with a status, as trailers after any data or as a
 * trailers-only response. */
static void respond_status(struct ky_grpc_stream *s, int code, const char *message)
{
	s->state = ST_DONE;
	if (s->deadline)
		ky_loop_timer_disarm(s->deadline);
	if (!s->data_started) {
		submit_trailers_only(s, code, message);
		return;
	}
	if (s->finishing)
		return;
	s->finishing = true;
	s->final_code = code;
	s->final_msg = message ? strdup(message) : NULL;
	nghttp2_session_resume_data(s->conn->c.session, s->id);
}

static void notify_closed(struct ky_grpc_stream *s, int code)
{
	if (s->state != ST_OPEN)
		return;
	s->state = ST_DONE;
	if (s->method->closed)
		s->method->closed(s->method->userdata, s, code);
}

/* ---- streams ---- */

/* The request message kept for the handler, and its charge. */
static void drop_request(struct ky_grpc_stream *s)
{
	s->conn->budget.used -= s->req_len;
	free(s->req);
	s->req = NULL;
	s->req_len = 0;
}

static void stream_free(struct ky_grpc_stream *s)
{
	KY_LIST_REMOVE(s->conn->streams, s);
	ky_loop_timer_free(s->deadline);
	ky_grpc_deframer_release(&s->deframer);
	drop_request(s);
	free(s->path);
	free(s->out);
	free(s->final_msg);
	free(s);
}

static void conn_close(struct srv_conn *conn, int code);

static void flush_or_close(struct srv_conn *conn)
{
	if (ky_grpc_conn_flush(&conn->c) < 0)
		conn_close(conn, KY_GRPC_CANCELLED);
}

static void on_deadline(struct ky_loop_timer *t, void *userdata)
{
	struct ky_grpc_stream *s = userdata;
	struct srv_conn *conn = s->conn;
	(void)t;
	notify_closed(s, KY_GRPC_DEADLINE_EXCEEDED);
	if (s->state != ST_DONE || !s->finishing)
		respond_status(s, KY_GRPC_DEADLINE_EXCEEDED, "deadline exceeded");
	flush_or_close(conn);
}

static int on_request_message(void *userdata, const uint8_t *msg, size_t len)
{
	struct ky_grpc_stream *s = userdata;
	struct ky_grpc_budget *b = &s->conn->budget;
	if (s->n_msgs == 0 && len > b->limit - b->used)
		return -ENOBUFS;
	int r = ky_grpc_keep_one(&s->n_msgs, &s->req, &s->req_len, msg, len);
	if (r == 0)
		b->used += len;
	return r;
}

/* A handler's failure as the call's status. */
static void respond_error(struct ky_grpc_stream *s, int r, struct ky_error **err)
{
	if (!*err)
		ky_error_set(err, -r, "%s", strerror(-r));
	respond_status(s, ky_grpc_error_code(*err), ky_error_msg(*err));
}

static void dispatch(struct ky_grpc_stream *s)
{
	const struct ky_grpc_method *m = s->method;
	_cleanup_error_ struct ky_error *err = NULL;
	if (m->unary) {
		_cleanup_free_ uint8_t *resp = NULL;
		size_t resp_len = 0;
		int r = m->unary(m->userdata, s->req, s->req_len, &resp, &resp_len, &err);
		drop_request(s);
		if (r < 0) {
			respond_error(s, r, &err);
			return;
		}
		if ((r = queue_message(s, resp, resp_len)) == -ENOBUFS) {
			respond_status(s, KY_GRPC_RESOURCE_EXHAUSTED, "the peer is not reading the answers on its connection");
			return;
		}
		if (r < 0 || start_data(s) < 0) {
			respond_status(s, KY_GRPC_RESOURCE_EXHAUSTED, "cannot queue the response");
			return;
		}
		respond_status(s, KY_GRPC_OK, NULL);
		return;
	}
	if (start_data(s) < 0) {
		respond_status(s, KY_GRPC_RESOURCE_EXHAUSTED, "cannot start the response");
		return;
	}
	s->state = ST_OPEN;
	int r = m->stream(m->userdata, s, s->req, s->req_len, &err);
	drop_request(s);
	if (r < 0 && s->state == ST_OPEN)
		respond_error(s, r, &err);
}

static void end_of_request(struct ky_grpc_stream *s)
{
	if (s->state != ST_READING)
		return;
	if (!ky_grpc_deframer_idle(&s->deframer)) {
		respond_status(s, KY_GRPC_INTERNAL, "truncated request message");
		return;
	}
	if (s->n_msgs != 1) {
		respond_status(s, KY_GRPC_INTERNAL, "request message missing");
		return;
	}
	dispatch(s);
}

static void headers_done(struct ky_grpc_stream *s)
{
	struct ky_grpc_server *srv = s->conn->srv;
	if (!s->post || !s->path) {
		nghttp2_nv nva[] = { KY_NV(":status", "405") };
		nghttp2_submit_response(s->conn->c.session, s->id, nva, 1, NULL);
		s->state = ST_DONE;
		return;
	}
	if (!s->grpc_content_type) {
		/* Not a gRPC peer at all: answer in HTTP, as the gRPC spec asks. */
		nghttp2_nv nva[] = { KY_NV(":status", "415") };
		nghttp2_submit_response(s->conn->c.session, s->id, nva, 1, NULL);
		s->state = ST_DONE;
		return;
	}
	if (s->bad_encoding) {
		respond_status(s, KY_GRPC_UNIMPLEMENTED, "only identity encoding is supported");
		return;
	}
	if (s->bad_timeout) {
		respond_status(s, KY_GRPC_INTERNAL, "malformed grpc-timeout");
		return;
	}
	for (size_t i = 0; i < srv->n_methods; i++)
		if (strcmp(srv->methods[i].path, s->path) == 0)
			s->method = &srv->methods[i];
	if (!s->method) {
		_cleanup_free_ char *msg = NULL;
		if (asprintf(&msg, "unknown method %s", s->path) < 0)
			msg = NULL;
		respond_status(s, KY_GRPC_UNIMPLEMENTED, msg);
		return;
	}
	if (s->has_timeout) {
		if (ky_loop_timer_new(srv->loop, on_deadline, s, &s->deadline, NULL) < 0) {
			respond_status(s, KY_GRPC_RESOURCE_EXHAUSTED, "no memory for the deadline");
			return;
		}
		ky_loop_timer_arm(s->deadline, s->timeout_ms, 0);
	}
}

/* ---- nghttp2 callbacks ---- */

static int on_begin_headers(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
	struct srv_conn *conn = user_data;
	if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	struct ky_grpc_stream *s = calloc(1, sizeof(*s));
	if (!s)
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	s->conn = conn;
	s->id = frame->hd.stream_id;
	ky_grpc_deframer_init(&s->deframer, conn->srv->max_message);
	ky_grpc_deframer_set_budget(&s->deframer, &conn->budget);
	KY_LIST_PREPEND(conn->streams, s);
	nghttp2_session_set_stream_user_data(session, s->id, s);
	return 0;
}

static bool is_grpc_content_type(const uint8_t *v, size_t len)
{
	static const char ct[] = "application/grpc";
	size_t n = sizeof(ct) - 1;
	return len >= n && memcmp(v, ct, n) == 0 && (len == n || v[n] == '+' || v[n] == ';');
}

static int on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name, size_t namelen,
		     const uint8_t *value, size_t valuelen, uint8_t flags, void *user_data)
{
	(void)flags;
	(void)user_data;
	if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	struct ky_grpc_stream *s = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
	if (!s)
		return 0;
#define IS(lit) (namelen == sizeof(lit) - 1 && memcmp(name, lit, namelen) == 0)
	if (IS(":method")) {
		s->post = valuelen == 4 && memcmp(value, "POST", 4) == 0;
	} else if (IS(":path")) {
		free(s->path);
		s->path = strndup((const char *)value, valuelen);
		if (!s->path)
			return NGHTTP2_ERR_CALLBACK_FAILURE;
	} else if (IS("content-type")) {
		s->grpc_content_type = is_grpc_content_type(value, valuelen);
	} else if (IS("grpc-encoding")) {
		s->bad_encoding = !(valuelen == 8 && memcmp(value, "identity", 8) == 0);
	} else if (IS("grpc-timeout")) {
		char buf[16];
		s->has_timeout = true;
		if (valuelen >= sizeof(buf)) {
			s->bad_timeout = true;
		} else {
			memcpy(buf, value, valuelen);
			buf[valuelen] = 0;
			s->bad_timeout = ky_grpc_timeout_parse(buf, &s->timeout_ms) < 0;
		}
	}
#undef IS
	return 0;
}

static int on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
	(void)user_data;
	if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA)
		return 0;
	struct ky_grpc_stream *s = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
	if (!s)
		return 0;
	if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST &&
	    s->state == ST_READING)
		headers_done(s);
	if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) {
		s->request_ended = true;
		end_of_request(s);
	}
	return 0;
}

static int on_frame_send(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
	(void)user_data;
	if (frame->hd.type != NGHTTP2_HEADERS || !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
		return 0;
	struct ky_grpc_stream *s = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
	/* We answered before the request ended (an error, a deadline): tell the
	 * peer to stop sending, as HTTP/2 allows (RFC 9113 8.1), instead of
	 * reading and dropping the rest of, say, an oversized message. Submitted
	 * only now: nghttp2 would send an earlier RST_STREAM before the response. */
	if (s && !s->request_ended)
		nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_NO_ERROR);
	return 0;
}

static int on_data_chunk(nghttp2_session *session, uint8_t flags, int32_t stream_id, const uint8_t *data,
			 size_t len, void *user_data)
{
	(void)flags;
	(void)user_data;
	struct ky_grpc_stream *s = nghttp2_session_get_stream_user_data(session, stream_id);
	if (!s || s->state != ST_READING)
		return 0; /* the answer is given; the rest is dropped, never buffered */
	int r = ky_grpc_deframer_feed(&s->deframer, data, len, on_request_message, s);
	if (r < 0) /* the answer is decided: give the connection its budget back now */
		ky_grpc_deframer_release(&s->deframer);
	if (r == -ENOBUFS)
		respond_status(s, KY_GRPC_RESOURCE_EXHAUSTED, "request messages past the connection's buffer budget");
	else if (r == -E2BIG)
		respond_status(s, KY_GRPC_INTERNAL, "more than one request message on a unary-request method");
	else if (r == -EMSGSIZE)
		respond_status(s, KY_GRPC_RESOURCE_EXHAUSTED, "request message larger than the server's limit");
	else if (r == -EPROTO)
		respond_status(s, KY_GRPC_INTERNAL, "compressed request message, no encoding was negotiated");
	else if (r < 0)
		respond_status(s, KY_GRPC_INTERNAL, "cannot receive the request message");
	return 0;
}

static int on_stream_close(nghttp2_session *session, int32_t stream_id, uint32_t error_code, void *user_data)
{
	(void)user_data;
	(void)error_code;
	struct ky_grpc_stream *s = nghttp2_session_get_stream_user_data(session, stream_id);
	if (!s)
		return 0;
	notify_closed(s, KY_GRPC_CANCELLED);
	nghttp2_session_set_stream_user_data(session, stream_id, NULL);
	stream_free(s);
	return 0;
}

/* ---- connections ---- */

static void conn_close(struct srv_conn *conn, int code)
{
	struct ky_grpc_server *srv = conn->srv;
	/* nghttp2_session_del reports no stream closes: do it here. */
	while (conn->streams) {
		struct ky_grpc_stream *s = conn->streams;
		notify_closed(s, code);
		stream_free(s);
	}
	ky_grpc_conn_release(&conn->c);
	ky_loop_timer_free(conn->kick);
	KY_LIST_REMOVE(srv->conns, conn);
	srv->n_conns--;
	free(conn);
}

static void on_conn_event(struct ky_loop_io *io, int fd, uint32_t events, void *userdata)
{
	struct srv_conn *conn = userdata;
	(void)io;
	(void)fd;
	int r = ky_grpc_conn_on_event(&conn->c, events);
	if (r < 0) {
		if (r != -ECONNRESET)
			ky_debug("grpc-conn-closed", "path=%s error=%s", conn->srv->path, strerror(-r));
		conn_close(conn, KY_GRPC_CANCELLED);
	}
}

static void on_kick(struct ky_loop_timer *t, void *userdata)
{
	(void)t;
	flush_or_close(userdata);
}

static nghttp2_session_callbacks *server_callbacks(void)
{
	nghttp2_session_callbacks *cbs;
	if (nghttp2_session_callbacks_new(&cbs) != 0)
		return NULL;
	nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
	nghttp2_session_callbacks_set_on_frame_send_callback(cbs, on_frame_send);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
	nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
	return cbs;
}

static int conn_new(struct ky_grpc_server *srv, int fd)
{
	struct srv_conn *conn = calloc(1, sizeof(*conn));
	if (!conn) {
		close(fd);
		return -ENOMEM;
	}
	conn->srv = srv;
	conn->c.fd = fd;
	conn->budget.limit = KY_GRPC_CONN_BUDGET(srv->max_message);
	nghttp2_session_callbacks *cbs = server_callbacks();
	int r = cbs ? nghttp2_session_server_new(&conn->c.session, cbs, conn) : -1;
	nghttp2_session_callbacks_del(cbs);
	if (r != 0) {
		ky_grpc_conn_release(&conn->c);
		free(conn);
		return -ENOMEM;
	}
	nghttp2_settings_entry iv[] = { { NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 100 } };
	nghttp2_submit_settings(conn->c.session, NGHTTP2_FLAG_NONE, iv, KY_ARRAY_SIZE(iv));
	if (ky_loop_timer_new(srv->loop, on_kick, conn, &conn->kick, NULL) < 0 ||
	    ky_loop_io_add(srv->loop, fd, KY_LOOP_READ, on_conn_event, conn, &conn->c.io, NULL) < 0) {
		ky_loop_timer_free(conn->kick);
		ky_grpc_conn_release(&conn->c);
		free(conn);
		return -ENOMEM;
	}
	KY_LIST_PREPEND(srv->conns, conn);
	srv->n_conns++;
	flush_or_close(conn);
	return 0;
}

/* A connection past the limit: told why (a server preface and GOAWAY, as
 * HTTP/2 asks of a server that will serve nothing; one small write into an
 * empty socket buffer) and closed, before it costs anything more. */
static void conn_refuse(struct ky_grpc_server *srv, int fd)
{
	static const char why[] = "too many connections";
	nghttp2_session_callbacks *cbs = NULL;
	nghttp2_session *session = NULL;
	if (nghttp2_session_callbacks_new(&cbs) == 0 && nghttp2_session_server_new(&session, cbs, NULL) == 0 &&
	    nghttp2_submit_settings(session, NGHTTP2_FLAG_NONE, NULL, 0) == 0 &&
	    nghttp2_submit_goaway(session, NGHTTP2_FLAG_NONE, 0, NGHTTP2_ENHANCE_YOUR_CALM, (const uint8_t *)why,
				  sizeof(why) - 1) == 0) {
		const uint8_t *data;
		ssize_t n;
		while ((n = nghttp2_session_mem_send(session, &data)) > 0)
			if (send(fd, data, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) != n)
				break;
	}
	nghttp2_session_del(session);
	nghttp2_session_callbacks_del(cbs);
	close(fd);
	srv->refused++;
	uint64_t now = ky_loop_now_ms();
	if (!srv->refused_logged_ms || now - srv->refused_logged_ms >= 1000) {
		ky_warn("grpc-connection-refused", "path=%s connections=%zu limit=%zu refused=%u", srv->path,
			srv->n_conns, srv->max_conns, srv->refused);
		srv->refused_logged_ms = now;
		srv->refused = 0;
	}
}

static void on_accept(struct ky_loop_io *io, int fd, uint32_t events, void *userdata)
{
	struct ky_grpc_server *srv = userdata;
	(void)io;
	(void)events;
	for (;;) {
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				ky_warn("grpc-accept-failed", "path=%s error=%s", srv->path, strerror(errno));
			return;
		}
		if (srv->n_conns >= srv->max_conns) {
			conn_refuse(srv, cfd);
			continue;
		}
		if (conn_new(srv, cfd) < 0)
			ky_warn("grpc-accept-failed", "path=%s error=%s", srv->path, strerror(ENOMEM));
	}
}

int ky_grpc_server_new(struct ky_loop *loop, const char *path, const struct ky_grpc_method *methods, size_t n,
		       struct ky_grpc_server **out, struct ky_error **err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path))
		return ky_error_set(err, ENAMETOOLONG, "socket path %s is too long", path);
	strcpy(sa.sun_path, path);
	struct ky_grpc_server *srv = calloc(1, sizeof(*srv));
	if (!srv)
		return ky_error_set(err, ENOMEM, "grpc server");
	*srv = (struct ky_grpc_server){ .loop = loop, .fd = -1, .methods = methods, .n_methods = n,
					.max_message = KY_GRPC_DEFAULT_MAX_MESSAGE,
					.max_conns = KY_GRPC_SERVER_MAX_CONNECTIONS };
	srv->path = strdup(path);
	int r;
	if (!srv->path) {
		r = ky_error_set(err, ENOMEM, "grpc server");
		goto fail;
	}
	srv->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (srv->fd < 0) {
		r = ky_error_set(err, errno, "socket: %s", strerror(errno));
		goto fail;
	}
	if (unlink(path) < 0 && errno != ENOENT) {
		r = ky_error_set(err, errno, "remove old socket %s: %s", path, strerror(errno));
		goto fail;
	}
	if (bind(srv->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = ky_error_set(err, errno, "bind %s: %s", path, strerror(errno));
		goto fail;
	}
	/* Before listen: nobody can connect while the mode is still umask's. */
	if (chmod(path, 0600) < 0 || listen(srv->fd, 128) < 0) {
		r = ky_error_set(err, errno, "listen on %s: %s", path, strerror(errno));
		unlink(path);
		goto fail;
	}
	r = ky_loop_io_add(loop, srv->fd, KY_LOOP_READ, on_accept, srv, &srv->io, err);
	if (r < 0) {
		unlink(path);
		goto fail;
	}
	*out = srv;
	return 0;
fail:
	if (srv->fd >= 0)
		close(srv->fd);
	free(srv->path);
	free(srv);
	return r;
}

void ky_grpc_server_free(struct ky_grpc_server *srv)
{
	if (!srv)
		return;
	while (srv->conns)
		conn_close(srv->conns, KY_GRPC_UNAVAILABLE);
	ky_loop_io_free(srv->io);
	close(srv->fd);
	unlink(srv->path);
	free(srv->path);
	free(srv);
}

void ky_grpc_server_set_max_message(struct ky_grpc_server *srv, uint32_t max_message)
{
	srv->max_message = max_message;
}

void ky_grpc_server_set_max_connections(struct ky_grpc_server *srv, size_t max_connections)
{
	srv->max_conns = max_connections;
}

const char *ky_grpc_server_path(const struct ky_grpc_server *srv)
{
	return srv->path;
}

size_t ky_grpc_server_connections(const struct ky_grpc_server *srv)
{
	return srv->n_conns;
}

size_t ky_grpc_server_buffered(const struct ky_grpc_server *srv)
{
	size_t n = 0;
	for (const struct srv_conn *c = srv->conns; c; c = c->next)
		n += c->budget.used;
	return n;
}

/* ---- the stream handle ---- */

int ky_grpc_stream_send(struct ky_grpc_stream *s, const uint8_t *msg, size_t len, struct ky_error **err)
{
	if (s->state != ST_OPEN)
		return ky_error_set(err, EPIPE, "stream %d is closed", s->id);
	int r = queue_message(s, msg, len);
	if (r == -ENOBUFS)
		return ky_error_set(err, ENOBUFS, "stream %d: the peer is not reading", s->id);
	if (r < 0)
		return ky_error_set(err, -r, "stream %d: queue message: %s", s->id, strerror(-r));
	nghttp2_session_resume_data(s->conn->c.session, s->id);
	if (ky_grpc_conn_flush(&s->conn->c) < 0)
		ky_loop_timer_arm(s->conn->kick, 0, 0);
	return 0;
}

void ky_grpc_stream_finish(struct ky_grpc_stream *s, int code, const char *message)
{
	if (s->state != ST_OPEN)
		return;
	respond_status(s, code, message);
	struct srv_conn *conn = s->conn;
	if (ky_grpc_conn_flush(&conn->c) < 0)
		ky_loop_timer_arm(conn->kick, 0, 0);
}

void ky_grpc_stream_fail(struct ky_grpc_stream *s, const struct ky_error *err)
{
	ky_grpc_stream_finish(s, ky_grpc_error_code(err), ky_error_msg(err));
}

size_t ky_grpc_stream_pending(const struct ky_grpc_stream *s)
{
	return s->out_len - s->out_off;
}

void ky_grpc_stream_set_userdata(struct ky_grpc_stream *s, void *userdata)
{
	s->userdata = userdata;
}

void *ky_grpc_stream_userdata(const struct ky_grpc_stream *s)
{
	return s->userdata;
}

uint64_t ky_grpc_stream_timeout_ms(const struct ky_grpc_stream *s)
{
	return s->has_timeout ? (s->timeout_ms ? s->timeout_ms : 1) : 0;
}

/* The gRPC client: one unary call on its own HTTP/2 connection (prior
 * knowledge) to a unix socket, asynchronous on the event loop so the loop
 * keeps serving while the call is in flight, with a deadline. */
#include "kyborg/grpc/grpc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "grpc_internal.h"
#include "kyborg/base/error.h"
#include "kyborg/loop/loop.h"

struct ky_grpc_call {
	struct ky_grpc_conn c;
	struct ky_loop_timer *deadline;
	int32_t stream_id;
	uint8_t *req; /* framed */
	size_t req_len, req_off;
	int http_status;
	int grpc_status; /* -1 until seen */
	char *grpc_message;
	struct ky_grpc_deframer deframer;
	uint8_t *resp;
	size_t resp_len;
	unsigned n_msgs;
	int deframe_error;
	bool done;
	int code;
	char *message;
	ky_grpc_done_fn fn;
	void *userdata;
};

static void call_free(struct ky_grpc_call *call)
{
	ky_grpc_conn_release(&call->c);
	ky_loop_timer_free(call->deadline);
	ky_grpc_deframer_release(&call->deframer);
	free(call->req);
	free(call->grpc_message);
	free(call->resp);
	free(call->message);
	free(call);
}

static void set_result(struct ky_grpc_call *call, int code, const char *message)
{
	if (call->done)
		return;
	call->done = true;
	call->code = code;
	call->message = strdup(message ? message : "");
}

/* Delivers the outcome and frees the call: only from the loop, outside
 * nghttp2's callbacks. */
static void deliver(struct ky_grpc_call *call)
{
	bool ok = call->code == KY_GRPC_OK;
	call->fn(call->userdata, call->code, call->message ? call->message : "", ok ? call->resp : NULL,
		 ok ? call->resp_len : 0);
	call_free(call);
}

static ssize_t read_req(nghttp2_session *session, int32_t id, uint8_t *buf, size_t length, uint32_t *flags,
			nghttp2_data_source *source, void *user_data)
{
	struct ky_grpc_call *call = source->ptr;
	(void)session;
	(void)id;
	(void)user_data;
	size_t n = call->req_len - call->req_off;
	if (n > length)
		n = length;
	memcpy(buf, call->req + call->req_off, n);
	call->req_off += n;
	if (call->req_off == call->req_len)
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

static int on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name, size_t namelen,
		     const uint8_t *value, size_t valuelen, uint8_t flags, void *user_data)
{
	struct ky_grpc_call *call = user_data;
	(void)session;
	(void)flags;
	if (frame->hd.stream_id != call->stream_id)
		return 0;
#define IS(lit) (namelen == sizeof(lit) - 1 && memcmp(name, lit, namelen) == 0)
	if (IS(":status")) {
		call->http_status = 0;
		for (size_t i = 0; i < valuelen && value[i] >= '0' && value[i] <= '9'; i++)
			call->http_status = call->http_status * 10 + (value[i] - '0');
	} else if (IS("grpc-status")) {
		int v = 0;
		for (size_t i = 0; i < valuelen && i < 4 && value[i] >= '0' && value[i] <= '9'; i++)
			v = v * 10 + (value[i] - '0');
		call->grpc_status = valuelen ? v : KY_GRPC_UNKNOWN;
	} else if (IS("grpc-message")) {
		_cleanup_free_ char *raw = strndup((const char *)value, valuelen);
		free(call->grpc_message);
		call->grpc_message = raw ? ky_grpc_message_decode(raw) : NULL;
	}
#undef IS
	return 0;
}

static int on_response_message(void *userdata, const uint8_t *msg, size_t len)
{
	struct ky_grpc_call *call = userdata;
	return ky_grpc_keep_one(&call->n_msgs, &call->resp, &call->resp_len, msg, len);
}

static int on_data_chunk(nghttp2_session *session, uint8_t flags, int32_t stream_id, const uint8_t *data,
			 size_t len, void *user_data)
{
	struct ky_grpc_call *call = user_data;
	(void)flags;
	if (stream_id != call->stream_id || call->deframe_error)
		return 0;
	int r = ky_grpc_deframer_feed(&call->deframer, data, len, on_response_message, call);
	if (r < 0) {
		call->deframe_error = r;
		nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, stream_id, NGHTTP2_CANCEL);
	}
	return 0;
}

static int on_stream_close(nghttp2_session *session, int32_t stream_id, uint32_t error_code, void *user_data)
{
	struct ky_grpc_call *call = user_data;
	if (stream_id != call->stream_id)
		return 0;
	if (call->deframe_error == -EMSGSIZE)
		set_result(call, KY_GRPC_RESOURCE_EXHAUSTED, "response message larger than the limit");
	else if (call->deframe_error)
		set_result(call, KY_GRPC_INTERNAL, "malformed response message");
	else if (call->grpc_status >= 0 && call->grpc_status != KY_GRPC_OK)
		set_result(call, call->grpc_status, call->grpc_message);
	else if (call->grpc_status == KY_GRPC_OK && ky_grpc_deframer_idle(&call->deframer) && call->n_msgs == 1)
		set_result(call, KY_GRPC_OK, NULL);
	else if (call->grpc_status == KY_GRPC_OK)
		set_result(call, KY_GRPC_INTERNAL, "OK without exactly one response message");
	else if (call->http_status && call->http_status != 200)
		set_result(call, ky_grpc_code_from_http(call->http_status), "HTTP error from the server");
	else if (error_code == NGHTTP2_REFUSED_STREAM)
		set_result(call, KY_GRPC_UNAVAILABLE, "stream refused");
	else if (error_code == NGHTTP2_CANCEL)
		set_result(call, KY_GRPC_CANCELLED, "stream cancelled by the server");
	else
		set_result(call, KY_GRPC_INTERNAL, "stream ended without grpc-status");
	nghttp2_session_terminate_session(session, NGHTTP2_NO_ERROR);
	return 0;
}

static void on_event(struct ky_loop_io *io, int fd, uint32_t events, void *userdata)
{
	struct ky_grpc_call *call = userdata;
	(void)io;
	(void)fd;
	int r = ky_grpc_conn_on_event(&call->c, events);
	if (r < 0)
		set_result(call, KY_GRPC_UNAVAILABLE, "connection closed before the response");
	if (call->done)
		deliver(call);
}

static void on_deadline(struct ky_loop_timer *t, void *userdata)
{
	struct ky_grpc_call *call = userdata;
	(void)t;
	set_result(call, KY_GRPC_DEADLINE_EXCEEDED, "deadline exceeded");
	deliver(call);
}

static int connect_unix(const char *path, struct ky_error **err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path))
		return ky_error_set(err, ENAMETOOLONG, "socket path %s is too long", path);
	strcpy(sa.sun_path, path);
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return ky_error_set(err, errno, "socket: %s", strerror(errno));
	/* A unix connect completes at once or fails; EAGAIN (the backlog is
	 * full) is a failure the caller retries like ECONNREFUSED. */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return ky_error_set(err, errno, "connect %s: %s", path, strerror(errno));
	return TAKE_FD(fd);
}

int ky_grpc_call_unary(struct ky_loop *loop, const char *socket_path, const char *path, const uint8_t *req,
		       size_t req_len, uint64_t timeout_ms, ky_grpc_done_fn done, void *userdata,
		       struct ky_grpc_call **out, struct ky_error **err)
{
	if (req_len > UINT32_MAX)
		return ky_error_set(err, EMSGSIZE, "request message too large");
	int fd = connect_unix(socket_path, err);
	if (fd < 0)
		return fd;
	struct ky_grpc_call *call = calloc(1, sizeof(*call));
	if (!call) {
		close(fd);
		return ky_error_set(err, ENOMEM, "grpc call");
	}
	call->c.fd = fd;
	call->grpc_status = -1;
	call->fn = done;
	call->userdata = userdata;
	ky_grpc_deframer_init(&call->deframer, KY_GRPC_DEFAULT_MAX_MESSAGE);
	int r;
	call->req = malloc(KY_GRPC_FRAME_HEADER + req_len);
	if (!call->req) {
		r = ky_error_set(err, ENOMEM, "grpc call");
		goto fail;
	}
	ky_grpc_frame_header(call->req, false, (uint32_t)req_len);
	if (req_len)
		memcpy(call->req + KY_GRPC_FRAME_HEADER, req, req_len);
	call->req_len = KY_GRPC_FRAME_HEADER + req_len;

	nghttp2_session_callbacks *cbs;
	if (nghttp2_session_callbacks_new(&cbs) != 0) {
		r = ky_error_set(err, ENOMEM, "grpc call");
		goto fail;
	}
	nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
	nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
	int rv = nghttp2_session_client_new(&call->c.session, cbs, call);
	nghttp2_session_callbacks_del(cbs);
	if (rv != 0) {
		r = ky_error_set(err, ENOMEM, "nghttp2 client session");
		goto fail;
	}
	nghttp2_settings_entry iv[] = { { NGHTTP2_SETTINGS_ENABLE_PUSH, 0 } };
	nghttp2_submit_settings(call->c.session, NGHTTP2_FLAG_NONE, iv, KY_ARRAY_SIZE(iv));

	char timeout[16];
	ky_grpc_timeout_format(timeout_ms, timeout, sizeof(timeout));
	nghttp2_nv nva[] = {
		KY_NV(":method", "POST"),
		KY_NV(":scheme", "http"),
		KY_NV(":authority", "localhost"),
		KY_NV(":path", path),
		KY_NV("content-type", "application/grpc"),
		KY_NV("te", "trailers"),
		KY_NV("user-agent", "kyborg-grpc/0.1"),
		KY_NV("grpc-timeout", timeout),
	};
	nghttp2_data_provider prd = { .source.ptr = call, .read_callback = read_req };
	call->stream_id = nghttp2_submit_request(call->c.session, NULL, nva, KY_ARRAY_SIZE(nva) - (timeout_ms ? 0 : 1),
						 &prd, NULL);
	if (call->stream_id < 0) {
		r = ky_error_set(err, EIO, "submit request: %s", nghttp2_strerror(call->stream_id));
		goto fail;
	}
	r = ky_loop_io_add(loop, fd, KY_LOOP_READ | KY_LOOP_WRITE, on_event, call, &call->c.io, err);
	if (r < 0)
		goto fail;
	if (timeout_ms) {
		r = ky_loop_timer_new(loop, on_deadline, call, &call->deadline, err);
		if (r < 0)
			goto fail;
		ky_loop_timer_arm(call->deadline, timeout_ms, 0);
	}
	if (out)
		*out = call;
	return 0;
fail:
	call_free(call);
	return r;
}

void ky_grpc_call_cancel(struct ky_grpc_call *call)
{
	if (call)
		call_free(call);
}

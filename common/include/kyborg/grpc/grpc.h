/* A small gRPC over HTTP/2 (libnghttp2) on unix sockets, driven by the event
 * loop: the framing and status rules, a server with unary and
 * server-streaming methods, and an asynchronous unary client. Messages are
 * opaque bytes here; protobuf-c encodes them in the callers. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kyborg/base/cleanup.h"

struct ky_error;
struct ky_loop;

enum ky_grpc_code {
	KY_GRPC_OK = 0,
	KY_GRPC_CANCELLED = 1,
	KY_GRPC_UNKNOWN = 2,
	KY_GRPC_INVALID_ARGUMENT = 3,
	KY_GRPC_DEADLINE_EXCEEDED = 4,
	KY_GRPC_NOT_FOUND = 5,
	KY_GRPC_ALREADY_EXISTS = 6,
	KY_GRPC_PERMISSION_DENIED = 7,
	KY_GRPC_RESOURCE_EXHAUSTED = 8,
	KY_GRPC_FAILED_PRECONDITION = 9,
	KY_GRPC_ABORTED = 10,
	KY_GRPC_OUT_OF_RANGE = 11,
	KY_GRPC_UNIMPLEMENTED = 12,
	KY_GRPC_INTERNAL = 13,
	KY_GRPC_UNAVAILABLE = 14,
	KY_GRPC_DATA_LOSS = 15,
	KY_GRPC_UNAUTHENTICATED = 16,
};

/* gRPC's default limit, which kubelet keeps. */
#define KY_GRPC_DEFAULT_MAX_MESSAGE (4u * 1024u * 1024u)
#define KY_GRPC_FRAME_HEADER 5

/* ---- framing and status rules (pure) ---- */

/* "OK", "CANCELLED", ...; "UNKNOWN" for codes out of range. */
const char *ky_grpc_code_name(int code);
/* The gRPC code for an HTTP status of a response without grpc-status
 * (gRPC's http-grpc-status-mapping). */
int ky_grpc_code_from_http(int http_status);
/* The gRPC code a failure answers with: the status its code chose
 * (ky_error_set_status), else one by its errno: EINVAL INVALID_ARGUMENT,
 * ENOENT NOT_FOUND, EEXIST ALREADY_EXISTS, EPERM/EACCES PERMISSION_DENIED,
 * ENOMEM/ENOBUFS/ENOSPC RESOURCE_EXHAUSTED, EBUSY/EAGAIN UNAVAILABLE,
 * ETIMEDOUT DEADLINE_EXCEEDED, ECANCELED CANCELLED, ENOSYS/EOPNOTSUPP
 * UNIMPLEMENTED, anything else INTERNAL. Never OK (a NULL error: INTERNAL). */
int ky_grpc_error_code(const struct ky_error *err);

/* Writes the 5-byte message prefix: compressed flag, big-endian length. */
void ky_grpc_frame_header(uint8_t out[KY_GRPC_FRAME_HEADER], bool compressed, uint32_t len);

/* What a group of deframers (the streams of one connection) may hold
 * between them: each charges the buffer it allocates and gives it back when
 * the message is complete or the deframer released. */
struct ky_grpc_budget {
	size_t used;
	size_t limit;
};

/* Reassembles length-prefixed messages from DATA chunks of any size. A
 * message over max_message is refused when its prefix arrives, before any of
 * it is buffered; below it, the buffer grows as the bytes arrive (at most
 * twice what has arrived), never to the claimed length up front: a prefix
 * alone costs nothing. */
struct ky_grpc_deframer {
	uint32_t max_message;
	uint8_t hdr[KY_GRPC_FRAME_HEADER];
	size_t hdr_len;
	uint32_t msg_len;
	uint8_t *buf;
	size_t buf_len, cap;
	struct ky_grpc_budget *budget; /* NULL: bounded by max_message alone */
	int failed; /* 0, or the negative errno it failed with: sticky */
};
/* Called with each complete message; a negative return stops the feed. */
typedef int (*ky_grpc_message_fn)(void *userdata, const uint8_t *msg, size_t len);

void ky_grpc_deframer_init(struct ky_grpc_deframer *d, uint32_t max_message);
/* Charges the buffer to budget from now on (before the first feed). */
void ky_grpc_deframer_set_budget(struct ky_grpc_deframer *d, struct ky_grpc_budget *budget);
/* Frees the buffer and gives its charge back. */
void ky_grpc_deframer_release(struct ky_grpc_deframer *d);
/* Returns 0; -EMSGSIZE for a message over the limit; -ENOBUFS when the
 * budget cannot hold the bytes that arrived; -EPROTO for a compressed
 * message (we announce no encoding) or a flag byte other than 0/1; or what
 * fn returned. A complete message's charge is given back before fn sees it. */
int ky_grpc_deframer_feed(struct ky_grpc_deframer *d, const uint8_t *data, size_t len, ky_grpc_message_fn fn,
			  void *userdata);
/* True when no message is half received (a stream may end here). */
bool ky_grpc_deframer_idle(const struct ky_grpc_deframer *d);
/* The gRPC status for a deframer error: RESOURCE_EXHAUSTED for -EMSGSIZE
 * and -ENOBUFS, INTERNAL otherwise. */
int ky_grpc_deframer_code(int r);

/* Parses a grpc-timeout value: 1 to 8 digits and a unit (H M S m u n), into
 * milliseconds rounded up (a nonzero timeout never becomes 0). -EINVAL. */
int ky_grpc_timeout_parse(const char *s, uint64_t *out_ms);
/* Formats milliseconds as a grpc-timeout value, in the smallest unit that
 * fits 8 digits. buf: at least 16 bytes. */
void ky_grpc_timeout_format(uint64_t ms, char *buf, size_t size);

/* grpc-message percent-encoding: bytes outside 0x20..0x7e and '%' become
 * %XX. The result is malloc'd (NULL on ENOMEM). Decoding leaves malformed
 * escapes as they are, as gRPC asks. */
char *ky_grpc_message_encode(const char *s);
char *ky_grpc_message_decode(const char *s);

/* ---- server ---- */

struct ky_grpc_server;
struct ky_grpc_stream;

/* Handlers fail as everything does: a negative errno and *err set. The
 * call then ends with ky_grpc_error_code(err) and the error's message as
 * grpc-message. */
/* A unary handler answers at once: 0 with a malloc'd response in *resp
 * (the server frees it; NULL with 0 length is an empty message). */
typedef int (*ky_grpc_unary_fn)(void *userdata, const uint8_t *req, size_t req_len, uint8_t **resp,
				size_t *resp_len, struct ky_error **err);
/* A server-streaming handler receives the stream handle and the request. It
 * returns 0 to keep the stream (send later, finish when done; or finished
 * already), or fails to end the call at once (the handle is then invalid). */
typedef int (*ky_grpc_stream_fn)(void *userdata, struct ky_grpc_stream *stream, const uint8_t *req,
				 size_t req_len, struct ky_error **err);
/* The stream ended without ky_grpc_stream_finish: the peer reset it or
 * vanished, its deadline passed, or the server is being freed. `code` says
 * which (CANCELLED, DEADLINE_EXCEEDED, UNAVAILABLE). The handle is invalid
 * after this returns. */
typedef void (*ky_grpc_stream_closed_fn)(void *userdata, struct ky_grpc_stream *stream, int code);

struct ky_grpc_method {
	const char *path; /* "/v1beta1.DevicePlugin/Allocate" */
	ky_grpc_unary_fn unary;           /* one of unary or stream */
	ky_grpc_stream_fn stream;
	ky_grpc_stream_closed_fn closed;  /* for stream methods */
	void *userdata;
};

/* What one peer may cost the server: a handful of connections (kubelet
 * opens one per plugin, and one more while it registers it again); a
 * connection past the limit gets a GOAWAY and is closed at once. Each
 * connection holds at most KY_GRPC_CONN_BUDGET(max_message) bytes of
 * requests being received (a stream past it is answered
 * RESOURCE_EXHAUSTED), and KY_GRPC_STREAM_MAX_PENDING bytes of answers its
 * peer has not read yet. */
#define KY_GRPC_SERVER_MAX_CONNECTIONS 8
#define KY_GRPC_CONN_BUDGET(max_message) (2 * (size_t)(max_message))

/* Listens on a unix socket at `path` (an old socket file there is replaced;
 * the new one is made 0600) and serves `methods` (n of them, copied by
 * reference: they must outlive the server). */
int ky_grpc_server_new(struct ky_loop *loop, const char *path, const struct ky_grpc_method *methods, size_t n,
		       struct ky_grpc_server **out, struct ky_error **err);
/* Closes every connection (open streams get their closed callback with
 * UNAVAILABLE) and the listening socket, and unlinks its path. Not from the
 * server's own handlers or callbacks; from a signal or timer callback is fine. */
void ky_grpc_server_free(struct ky_grpc_server *srv);
KY_DEFINE_CLEANUP(struct ky_grpc_server, ky_grpc_server_free)
/* Set before the peers connect: a connection's budget is fixed when it is
 * accepted. */
void ky_grpc_server_set_max_message(struct ky_grpc_server *srv, uint32_t max_message);
void ky_grpc_server_set_max_connections(struct ky_grpc_server *srv, size_t max_connections);
const char *ky_grpc_server_path(const struct ky_grpc_server *srv);
size_t ky_grpc_server_connections(const struct ky_grpc_server *srv);
/* Bytes the connections hold of requests being received and kept: what
 * their budgets are charged with now. */
size_t ky_grpc_server_buffered(const struct ky_grpc_server *srv);

/* Queues one message on an open stream. -EPIPE once the stream is gone;
 * -ENOBUFS when a peer that stopped reading has KY_GRPC_STREAM_MAX_PENDING
 * bytes queued already on the connection, over all its streams (the stream
 * stays open: a full-list sender can skip this update and send the next). */
int ky_grpc_stream_send(struct ky_grpc_stream *stream, const uint8_t *msg, size_t len, struct ky_error **err);
#define KY_GRPC_STREAM_MAX_PENDING (4u * KY_GRPC_DEFAULT_MAX_MESSAGE)
/* Bytes queued on the stream that nghttp2 has not taken yet. */
size_t ky_grpc_stream_pending(const struct ky_grpc_stream *stream);
/* Ends the stream with a status (message may be NULL); the handle is
 * invalid afterwards and no closed callback follows. */
void ky_grpc_stream_finish(struct ky_grpc_stream *stream, int code, const char *message);
/* The same for a failure: ky_grpc_error_code(err) and the error's message. */
void ky_grpc_stream_fail(struct ky_grpc_stream *stream, const struct ky_error *err);
void ky_grpc_stream_set_userdata(struct ky_grpc_stream *stream, void *userdata);
/* The timeout the client gave the call (grpc-timeout), in ms from when its
 * headers came (at least 1); 0 when it gave none. */
uint64_t ky_grpc_stream_timeout_ms(const struct ky_grpc_stream *stream);
void *ky_grpc_stream_userdata(const struct ky_grpc_stream *stream);

/* ---- client ---- */

struct ky_grpc_call;

/* The call's outcome: a gRPC code, its message ("" when none) and, for OK,
 * the response message. Called once, from the loop; the call handle is freed
 * when it returns. */
typedef void (*ky_grpc_done_fn)(void *userdata, int code, const char *message, const uint8_t *resp,
				size_t resp_len);

/* Starts a unary call of `path` on the server at unix socket `socket_path`
 * over HTTP/2 with prior knowledge, one connection per call. The deadline
 * (timeout_ms > 0) is sent as grpc-timeout and enforced here as well.
 * Failure to connect is returned here (-errno, e.g. -ENOENT or
 * -ECONNREFUSED), everything later through `done`. */
int ky_grpc_call_unary(struct ky_loop *loop, const char *socket_path, const char *path, const uint8_t *req,
		       size_t req_len, uint64_t timeout_ms, ky_grpc_done_fn done, void *userdata,
		       struct ky_grpc_call **out, struct ky_error **err);
/* Abandons a call still in flight: `done` is not called. Not from `done`
 * itself (the handle is freed when done returns). */
void ky_grpc_call_cancel(struct ky_grpc_call *call);

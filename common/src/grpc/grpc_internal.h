/* Private to grpc_*.c: one HTTP/2 connection on a non-blocking fd, its
 * nghttp2 session fed from and flushed to the socket by the event loop. */
#pragma once

#include <nghttp2/nghttp2.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ky_loop;
struct ky_loop_io;

struct ky_grpc_conn {
	int fd;
	struct ky_loop_io *io;
	nghttp2_session *session;
	/* What the socket did not take yet; nghttp2 makes no more until it has. */
	uint8_t *pending;
	size_t pending_len, pending_off;
	/* nghttp2 forbids mem_send from its own callbacks: a flush asked for
	 * there is done by whoever called into nghttp2, when it returns. */
	int in_session;
};

/* Reads what the socket has and feeds it to the session, then flushes.
 * 0, or -errno when the connection is over (EOF, reset, protocol error). */
int ky_grpc_conn_read(struct ky_grpc_conn *c);
/* Writes what the session has to send, sets write interest when the socket
 * is full. 0, or -errno when the connection is over (including a session
 * that neither wants to read nor write any more). */
int ky_grpc_conn_flush(struct ky_grpc_conn *c);
/* Handles a loop event on the connection's fd: read and/or flush. */
int ky_grpc_conn_on_event(struct ky_grpc_conn *c, uint32_t events);
/* Frees the session, the watch and the pending bytes, closes the fd. */
void ky_grpc_conn_release(struct ky_grpc_conn *c);

/* For a deframer's callback on a unary request or response: keeps a copy
 * of the first message in *buf (*len bytes); a second one is -E2BIG.
 * -ENOMEM. */
int ky_grpc_keep_one(unsigned *n_msgs, uint8_t **buf, size_t *len, const uint8_t *msg, size_t msg_len);

/* Builds a nghttp2_nv from two C strings (nghttp2 copies them). */
#define KY_NV(n, v) \
	{ (uint8_t *)(n), (uint8_t *)(v), strlen(n), strlen(v), NGHTTP2_NV_FLAG_NONE }

/* What the gRPC server's connections and the client's calls share: the
 * byte pump between a non-blocking socket and a nghttp2 session, and the
 * keeping of a unary call's one message. */
#include "grpc_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kyborg/loop/loop.h"

int ky_grpc_keep_one(unsigned *n_msgs, uint8_t **buf, size_t *len, const uint8_t *msg, size_t msg_len)
{
	if (++*n_msgs > 1)
		return -E2BIG;
	*buf = malloc(msg_len ? msg_len : 1);
	if (!*buf)
		return -ENOMEM;
	if (msg_len)
		memcpy(*buf, msg, msg_len);
	*len = msg_len;
	return 0;
}

int ky_grpc_conn_read(struct ky_grpc_conn *c)
{
	uint8_t buf[16384];
	for (;;) {
		ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
		if (n == 0)
			return -ECONNRESET;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return -errno;
		}
		c->in_session++;
		ssize_t r = nghttp2_session_mem_recv(c->session, buf, (size_t)n);
		c->in_session--;
		if (r < 0)
			return -EPROTO;
		/* Do not starve the other connections: a short read means the
		 * socket is drained for now. */
		if ((size_t)n < sizeof(buf))
			break;
	}
	return ky_grpc_conn_flush(c);
}

static int write_pending(struct ky_grpc_conn *c)
{
	while (c->pending_off < c->pending_len) {
		ssize_t n = send(c->fd, c->pending + c->pending_off, c->pending_len - c->pending_off, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -errno;
		}
		c->pending_off += (size_t)n;
	}
	free(c->pending);
	c->pending = NULL;
	c->pending_len = c->pending_off = 0;
	return 0;
}

int ky_grpc_conn_flush(struct ky_grpc_conn *c)
{
	if (c->in_session)
		return 0;
	int r = write_pending(c);
	if (r < 0)
		return r;
	while (!c->pending) {
		const uint8_t *data;
		c->in_session++;
		ssize_t n = nghttp2_session_mem_send(c->session, &data);
		c->in_session--;
		if (n < 0)
			return -EPROTO;
		if (n == 0)
			break;
		ssize_t w;
		do
			w = send(c->fd, data, (size_t)n, MSG_NOSIGNAL);
		while (w < 0 && errno == EINTR);
		if (w < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return -errno;
			w = 0;
		}
		if (w < n) {
			c->pending = malloc((size_t)(n - w));
			if (!c->pending)
				return -ENOMEM;
			memcpy(c->pending, data + w, (size_t)(n - w));
			c->pending_len = (size_t)(n - w);
			c->pending_off = 0;
		}
	}
	if (!c->pending && !nghttp2_session_want_read(c->session) && !nghttp2_session_want_write(c->session))
		return -ECONNRESET;
	uint32_t ev = KY_LOOP_READ | (c->pending ? KY_LOOP_WRITE : 0);
	if (c->io && ky_loop_io_set_events(c->io, ev, NULL) < 0)
		return -EIO;
	return 0;
}

int ky_grpc_conn_on_event(struct ky_grpc_conn *c, uint32_t events)
{
	if (events & (KY_LOOP_READ | KY_LOOP_HUP | KY_LOOP_ERR))
		return ky_grpc_conn_read(c);
	return ky_grpc_conn_flush(c);
}

void ky_grpc_conn_release(struct ky_grpc_conn *c)
{
	ky_loop_io_free(c->io);
	c->io = NULL;
	nghttp2_session_del(c->session);
	c->session = NULL;
	free(c->pending);
	c->pending = NULL;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

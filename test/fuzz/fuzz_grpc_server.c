/* The gRPC server end to end (common/src/grpc/grpc_server.c, grpc_conn.c)
 * on the event loop (common/src/loop): a client connects to its unix
 * socket, sends HTTP/2's client preface and then the input, as bytes, and
 * reads whatever comes back; then it stops sending, and the server must
 * close the connection. The methods are a unary echo, a unary failure that
 * quotes the request in grpc-message, a stream that answers and finishes,
 * and one left open the way ListAndWatch is. Checked: no crash, leak or
 * undefined behaviour under ASan and UBSan, the server closes every
 * connection whose peer is gone, and every stream left open gets its
 * closed callback. */
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fuzz.h"
#include "kyborg/base/cleanup.h"
#include "kyborg/grpc/grpc.h"
#include "kyborg/loop/loop.h"

static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

static struct ky_loop *loop;
static struct ky_grpc_server *srv;
static char dir[64], sock_path[128];
static size_t open_streams;

static int unary_echo(void *userdata, const uint8_t *req, size_t req_len, uint8_t **resp, size_t *resp_len,
		      struct ky_error **err)
{
	(void)userdata;
	*resp = malloc(req_len ? req_len : 1);
	if (!*resp)
		return ky_error_set(err, ENOMEM, "out of memory");
	if (req_len)
		memcpy(*resp, req, req_len);
	*resp_len = req_len;
	return 0;
}

/* The request comes back in grpc-message, percent-encoded by the server. */
static int unary_fail(void *userdata, const uint8_t *req, size_t req_len, uint8_t **resp, size_t *resp_len,
		      struct ky_error **err)
{
	(void)userdata;
	(void)resp;
	(void)resp_len;
	return ky_error_set(err, EINVAL, "%.*s", (int)req_len, (const char *)req);
}

static int stream_finish(void *userdata, struct ky_grpc_stream *s, const uint8_t *req, size_t req_len,
			 struct ky_error **err)
{
	(void)userdata;
	(void)err;
	ky_grpc_stream_send(s, req, req_len, NULL);
	ky_grpc_stream_send(s, req, req_len, NULL);
	ky_grpc_stream_finish(s, KY_GRPC_OK, NULL);
	return 0;
}

static int stream_keep(void *userdata, struct ky_grpc_stream *s, const uint8_t *req, size_t req_len,
		       struct ky_error **err)
{
	(void)userdata;
	if (req_len > 0 && req[0] == 'x') { /* refused at once: no closed callback */
		ky_error_set(err, EBUSY, "refused");
		return ky_error_set_status(err, KY_GRPC_FAILED_PRECONDITION);
	}
	ky_grpc_stream_send(s, req, req_len, NULL);
	ky_grpc_stream_set_userdata(s, &open_streams);
	open_streams++;
	return 0;
}

static void stream_closed(void *userdata, struct ky_grpc_stream *s, int code)
{
	(void)userdata;
	FUZZ_ASSERT(ky_grpc_stream_userdata(s) == &open_streams, "closed callback for a stream never kept");
	FUZZ_ASSERT(code == KY_GRPC_CANCELLED || code == KY_GRPC_DEADLINE_EXCEEDED || code == KY_GRPC_UNAVAILABLE,
		    "closed with %d", code);
	FUZZ_ASSERT(open_streams > 0, "more closed callbacks than streams");
	open_streams--;
}

static const struct ky_grpc_method methods[] = {
	{ .path = "/fuzz.Test/Unary", .unary = unary_echo },
	{ .path = "/fuzz.Test/Fail", .unary = unary_fail },
	{ .path = "/fuzz.Test/StreamFinish", .stream = stream_finish, .closed = stream_closed },
	{ .path = "/fuzz.Test/StreamKeep", .stream = stream_keep, .closed = stream_closed },
};

static void cleanup(void)
{
	ky_grpc_server_free(srv);
	ky_loop_free(loop);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet_logs();
	snprintf(dir, sizeof(dir), "/tmp/kyborg-fuzz-grpc.XXXXXX");
	FUZZ_ASSERT(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
	snprintf(sock_path, sizeof(sock_path), "%s/s.sock", dir);
	struct ky_error *err = NULL;
	FUZZ_ASSERT(ky_loop_new(&loop, &err) == 0, "loop: %s", ky_error_msg(err));
	FUZZ_ASSERT(ky_grpc_server_new(loop, sock_path, methods, sizeof(methods) / sizeof(methods[0]), &srv, &err) == 0,
		    "server: %s", ky_error_msg(err));
	atexit(cleanup);
	return 0;
}

/* One round of the loop, then everything the server sent is read and
 * dropped. Returns the bytes read; -1 once the server closed. */
static ssize_t pump(int fd)
{
	struct ky_error *err = NULL;
	FUZZ_ASSERT(ky_loop_run_once(loop, 0, &err) == 0, "loop: %s", ky_error_msg(err));
	ssize_t total = 0;
	for (;;) {
		uint8_t buf[16384];
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n > 0) {
			total += n;
			continue;
		}
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			return total ? total : -1;
		return total;
	}
}

static void send_all(int fd, const uint8_t *p, size_t len)
{
	for (int idle = 0; len > 0 && idle < 1000;) {
		ssize_t n = send(fd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			idle = 0;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return; /* the server hung up: the rest is never read */
		if (pump(fd) < 0)
			return;
		idle++;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	FUZZ_ASSERT(fd >= 0, "socket: %s", strerror(errno));
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	FUZZ_ASSERT(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "connect: %s", strerror(errno));

	send_all(fd, (const uint8_t *)preface, sizeof(preface) - 1);
	send_all(fd, data, size);
	/* Until the server has nothing more to say for a few rounds. */
	for (int quiet = 0, rounds = 0; quiet < 3 && rounds < 1000; rounds++) {
		ssize_t n = pump(fd);
		/* What the peer's requests hold is bounded by its budget. */
		size_t conns = ky_grpc_server_connections(srv);
		FUZZ_ASSERT(ky_grpc_server_buffered(srv) <= conns * KY_GRPC_CONN_BUDGET(KY_GRPC_DEFAULT_MAX_MESSAGE),
			    "%zu bytes buffered for %zu connections", ky_grpc_server_buffered(srv), conns);
		if (n < 0)
			break;
		quiet = n == 0 ? quiet + 1 : 0;
	}
	/* The peer goes away: the server must close its end, and report
	 * every stream it kept as closed. */
	shutdown(fd, SHUT_WR);
	for (int rounds = 0; ky_grpc_server_connections(srv) > 0 && rounds < 200; rounds++) {
		pump(fd);
		if (rounds > 100)
			usleep(1000);
	}
	FUZZ_ASSERT(ky_grpc_server_connections(srv) == 0, "the server keeps a connection whose peer is gone");
	FUZZ_ASSERT(open_streams == 0, "%zu kept streams never reported closed", open_streams);
	FUZZ_ASSERT(ky_grpc_server_buffered(srv) == 0, "%zu bytes still charged with no connection",
		    ky_grpc_server_buffered(srv));
	close(fd);
	return 0;
}

/* The gRPC client's error paths against our own server: what a well-behaved
 * kubelet never answers (oversized or extra messages, HTTP errors, a server
 * that vanishes mid-call). The happy path meets python3-grpcio in
 * grpc_interop. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kyborg/base/error.h"
#include "kyborg/grpc/grpc.h"
#include "kyborg/loop/loop.h"
#include "kytest.h"

static struct ky_loop *loop;
static struct ky_grpc_server *srv;
static char *dir, *sock;
static struct ky_grpc_stream *held;

static int echo(void *userdata, const uint8_t *req, size_t req_len, uint8_t **resp, size_t *resp_len,
		struct ky_error **err)
{
	(void)userdata;
	(void)err;
	*resp = malloc(req_len ? req_len : 1);
	if (req_len)
		memcpy(*resp, req, req_len);
	*resp_len = req_len;
	return 0;
}

static int big(void *userdata, const uint8_t *req, size_t req_len, uint8_t **resp, size_t *resp_len,
		struct ky_error **err)
{
	(void)userdata;
	(void)req;
	(void)req_len;
	(void)err;
	*resp_len = KY_GRPC_DEFAULT_MAX_MESSAGE + 1;
	*resp = calloc(1, *resp_len);
	return 0;
}

static int two(void *userdata, struct ky_grpc_stream *s, const uint8_t *req, size_t req_len, struct ky_error **err)
{
	(void)userdata;
	(void)err;
	ky_grpc_stream_send(s, req, req_len, NULL);
	ky_grpc_stream_send(s, req, req_len, NULL);
	ky_grpc_stream_finish(s, KY_GRPC_OK, NULL);
	return 0;
}

static int hang(void *userdata, struct ky_grpc_stream *s, const uint8_t *req, size_t req_len, struct ky_error **err)
{
	(void)userdata;
	(void)err;
	(void)req;
	(void)req_len;
	held = s;
	return 0;
}

static void hang_closed(void *userdata, struct ky_grpc_stream *s, int code)
{
	(void)userdata;
	(void)code;
	if (held == s)
		held = NULL;
}

static const struct ky_grpc_method methods[] = {
	{ .path = "/t.T/Echo", .unary = echo },
	{ .path = "/t.T/Big", .unary = big },
	{ .path = "/t.T/Two", .stream = two },
	{ .path = "/t.T/Hang", .stream = hang, .closed = hang_closed },
};

static void setup(void)
{
	dir = kyt_tmpdir("kygrpcc");
	cr_assert_not_null(dir);
	cr_assert_geq(asprintf(&sock, "%s/s.sock", dir), 0);
	cr_assert_eq(ky_loop_new(&loop, NULL), 0);
	cr_assert_eq(ky_grpc_server_new(loop, sock, methods, KY_ARRAY_SIZE(methods), &srv, NULL), 0);
	held = NULL;
}

static void teardown(void)
{
	ky_grpc_server_free(srv);
	ky_loop_free(loop);
	kyt_rmrf(dir);
	free(dir);
	free(sock);
}

struct result {
	bool done;
	int code;
	char msg[256];
	size_t len;
	uint8_t first;
};

static void on_done(void *userdata, int code, const char *message, const uint8_t *resp, size_t len)
{
	struct result *r = userdata;
	r->done = true;
	r->code = code;
	snprintf(r->msg, sizeof(r->msg), "%s", message);
	r->len = len;
	r->first = len ? resp[0] : 0;
	cr_assert(code == KY_GRPC_OK || (resp == NULL && len == 0), "a failed call has no response");
}

static void call(const char *path, const void *req, size_t len, uint64_t timeout_ms, struct result *r)
{
	_cleanup_error_ struct ky_error *err = NULL;
	*r = (struct result){ 0 };
	cr_assert_eq(ky_grpc_call_unary(loop, sock, path, req, len, timeout_ms, on_done, r, NULL, &err), 0, "%s",
		     ky_error_msg(err));
}

static bool wait_done(struct result *r, int timeout_ms)
{
	uint64_t end = ky_loop_now_ms() + (uint64_t)timeout_ms;
	while (!r->done && ky_loop_now_ms() < end)
		cr_assert_eq(ky_loop_run_once(loop, 5, NULL), 0);
	return r->done;
}

TestSuite(grpc_client, .init = setup, .fini = teardown, .timeout = 60);

Test(grpc_client, unary_round_trip_and_empty_message)
{
	struct result r;
	call("/t.T/Echo", "hello", 5, 5000, &r);
	cr_assert(wait_done(&r, 5000));
	cr_assert_eq(r.code, KY_GRPC_OK, "%s", r.msg);
	cr_assert_eq(r.len, 5);
	cr_assert_eq(r.first, 'h');
	call("/t.T/Echo", NULL, 0, 0, &r);
	cr_assert(wait_done(&r, 5000));
	cr_assert_eq(r.code, KY_GRPC_OK);
	cr_assert_eq(r.len, 0);
	uint64_t end = ky_loop_now_ms() + 5000;
	while (ky_grpc_server_connections(srv) > 0 && ky_loop_now_ms() < end)
		cr_assert_eq(ky_loop_run_once(loop, 5, NULL), 0);
	cr_assert_eq(ky_grpc_server_connections(srv), 0, "one connection per call, closed after it");
}

Test(grpc_client, oversized_response_is_resource_exhausted)
{
	struct result r;
	call("/t.T/Big", NULL, 0, 10000, &r);
	cr_assert(wait_done(&r, 10000));
	cr_assert_eq(r.code, KY_GRPC_RESOURCE_EXHAUSTED, "%s: %s", ky_grpc_code_name(r.code), r.msg);
}

Test(grpc_client, two_responses_to_a_unary_call_are_internal)
{
	struct result r;
	call("/t.T/Two", "x", 1, 5000, &r);
	cr_assert(wait_done(&r, 5000));
	cr_assert_eq(r.code, KY_GRPC_INTERNAL, "%s: %s", ky_grpc_code_name(r.code), r.msg);
}

Test(grpc_client, unknown_method_is_unimplemented)
{
	struct result r;
	call("/t.T/Nope", "x", 1, 5000, &r);
	cr_assert(wait_done(&r, 5000));
	cr_assert_eq(r.code, KY_GRPC_UNIMPLEMENTED);
	cr_assert_str_eq(r.msg, "unknown method /t.T/Nope");
}

static bool is_held(void)
{
	uint64_t end = ky_loop_now_ms() + 5000;
	while (!held && ky_loop_now_ms() < end)
		cr_assert_eq(ky_loop_run_once(loop, 5, NULL), 0);
	return held != NULL;
}

Test(grpc_client, server_vanishing_mid_call_is_unavailable)
{
	struct result r;
	call("/t.T/Hang", "x", 1, 5000, &r);
	cr_assert(is_held());
	ky_grpc_server_free(srv);
	srv = NULL;
	cr_assert_null(held, "the server reported its stream closed");
	cr_assert(wait_done(&r, 5000));
	cr_assert_eq(r.code, KY_GRPC_UNAVAILABLE, "%s: %s", ky_grpc_code_name(r.code), r.msg);
}

Test(grpc_client, deadline_is_sent_and_enforced_by_both_ends)
{
	struct result r;
	uint64_t start = ky_loop_now_ms();
	call("/t.T/Hang", "x", 1, 150, &r);
	cr_assert(is_held());
	cr_assert(wait_done(&r, 5000));
	uint64_t took = ky_loop_now_ms() - start;
	cr_assert_eq(r.code, KY_GRPC_DEADLINE_EXCEEDED);
	cr_assert(took >= 150 && took < 2000, "took %llu ms", (unsigned long long)took);
	/* The server got grpc-timeout too and let go of the stream. */
	uint64_t end = ky_loop_now_ms() + 5000;
	while (held && ky_loop_now_ms() < end)
		cr_assert_eq(ky_loop_run_once(loop, 5, NULL), 0);
	cr_assert_null(held);
}

Test(grpc_client, missing_socket_fails_at_once)
{
	_cleanup_error_ struct ky_error *err = NULL;
	_cleanup_free_ char *none = NULL;
	struct result r = { 0 };
	cr_assert_geq(asprintf(&none, "%s/none.sock", dir), 0);
	cr_assert_eq(ky_grpc_call_unary(loop, none, "/t.T/Echo", NULL, 0, 1000, on_done, &r, NULL, &err), -ENOENT);
	cr_assert_not(r.done);
	cr_assert(strstr(ky_error_msg(err), "none.sock"));
}

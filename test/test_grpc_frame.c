/* The pure part of the gRPC layer: message prefix, reassembly, size limit,
 * status codes, grpc-timeout and grpc-message encoding. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/grpc/grpc.h"

struct got {
	int n;
	size_t lens[8];
	uint8_t first[8];
};

static int collect(void *userdata, const uint8_t *msg, size_t len)
{
	struct got *g = userdata;
	if (g->n < 8) {
		g->lens[g->n] = len;
		g->first[g->n] = len ? msg[0] : 0;
	}
	g->n++;
	return 0;
}

Test(grpc_frame, header_is_flag_then_big_endian_length)
{
	uint8_t h[5];
	ky_grpc_frame_header(h, false, 0x01020304);
	cr_assert(h[0] == 0 && h[1] == 1 && h[2] == 2 && h[3] == 3 && h[4] == 4);
	ky_grpc_frame_header(h, true, 7);
	cr_assert(h[0] == 1 && h[4] == 7);
}

Test(grpc_frame, messages_reassemble_from_chunks_of_any_size)
{
	/* Three messages (0, 3 and 300 bytes) fed one byte at a time. */
	uint8_t wire[5 + 5 + 3 + 5 + 300];
	size_t off = 0;
	ky_grpc_frame_header(wire, false, 0);
	off += 5;
	ky_grpc_frame_header(wire + off, false, 3);
	off += 5;
	memcpy(wire + off, "abc", 3);
	off += 3;
	ky_grpc_frame_header(wire + off, false, 300);
	off += 5;
	memset(wire + off, 'z', 300);
	off += 300;
	cr_assert_eq(off, sizeof(wire));

	for (size_t chunk = 1; chunk <= sizeof(wire); chunk = chunk * 3 + 1) {
		struct ky_grpc_deframer d;
		struct got g = { 0 };
		ky_grpc_deframer_init(&d, 1000);
		for (size_t i = 0; i < sizeof(wire); i += chunk) {
			size_t n = sizeof(wire) - i < chunk ? sizeof(wire) - i : chunk;
			cr_assert_eq(ky_grpc_deframer_feed(&d, wire + i, n, collect, &g), 0);
		}
		cr_assert(ky_grpc_deframer_idle(&d));
		cr_assert_eq(g.n, 3, "chunk %zu", chunk);
		cr_assert(g.lens[0] == 0 && g.lens[1] == 3 && g.lens[2] == 300);
		cr_assert(g.first[1] == 'a' && g.first[2] == 'z');
		ky_grpc_deframer_release(&d);
	}
}

Test(grpc_frame, half_received_message_is_not_idle)
{
	struct ky_grpc_deframer d;
	struct got g = { 0 };
	uint8_t wire[5 + 2];
	ky_grpc_frame_header(wire, false, 4);
	wire[5] = wire[6] = 'x';
	ky_grpc_deframer_init(&d, 100);
	cr_assert(ky_grpc_deframer_idle(&d));
	cr_assert_eq(ky_grpc_deframer_feed(&d, wire, 3, collect, &g), 0);
	cr_assert_not(ky_grpc_deframer_idle(&d), "a partial prefix");
	cr_assert_eq(ky_grpc_deframer_feed(&d, wire + 3, 4, collect, &g), 0);
	cr_assert_not(ky_grpc_deframer_idle(&d), "a partial body");
	cr_assert_eq(g.n, 0);
	ky_grpc_deframer_release(&d);
}

Test(grpc_frame, oversized_message_is_refused_at_its_prefix)
{
	struct ky_grpc_deframer d;
	struct got g = { 0 };
	uint8_t h[5];
	ky_grpc_frame_header(h, false, KY_GRPC_DEFAULT_MAX_MESSAGE + 1);
	ky_grpc_deframer_init(&d, KY_GRPC_DEFAULT_MAX_MESSAGE);
	int r = ky_grpc_deframer_feed(&d, h, 5, collect, &g);
	cr_assert_eq(r, -EMSGSIZE);
	cr_assert_null(d.buf, "nothing is buffered for a refused message");
	cr_assert_eq(ky_grpc_deframer_code(r), KY_GRPC_RESOURCE_EXHAUSTED);
	/* The error sticks: later bytes are not taken for a new prefix. */
	cr_assert_eq(ky_grpc_deframer_feed(&d, (const uint8_t *)"\0\0\0\0\0", 5, collect, &g), -EMSGSIZE);
	cr_assert_eq(g.n, 0);
	ky_grpc_deframer_release(&d);

	/* Exactly at the limit is fine. */
	ky_grpc_frame_header(h, false, 10);
	ky_grpc_deframer_init(&d, 10);
	cr_assert_eq(ky_grpc_deframer_feed(&d, h, 5, collect, &g), 0);
	ky_grpc_deframer_release(&d);
}

/* A prefix that claims 4 MiB costs nothing until the bytes come, and then
 * at most twice what came; what streams of one connection hold together
 * stays within their budget, and comes back when a message is complete or
 * its deframer released. */
Test(grpc_frame, buffers_grow_as_bytes_arrive_within_the_budget)
{
	struct ky_grpc_budget budget = { .limit = 256 * 1024 };
	struct ky_grpc_deframer a, b;
	struct got g = { 0 };
	uint8_t h[5];
	static uint8_t chunk[100 * 1024];
	ky_grpc_frame_header(h, false, KY_GRPC_DEFAULT_MAX_MESSAGE);
	ky_grpc_deframer_init(&a, KY_GRPC_DEFAULT_MAX_MESSAGE);
	ky_grpc_deframer_set_budget(&a, &budget);
	cr_assert_eq(ky_grpc_deframer_feed(&a, h, 5, collect, &g), 0);
	cr_assert_null(a.buf, "the claimed length is not allocated up front");
	cr_assert_eq(budget.used, 0);
	cr_assert_eq(ky_grpc_deframer_feed(&a, (const uint8_t *)"x", 1, collect, &g), 0);
	cr_assert_leq(a.cap, 4096);
	cr_assert_eq(ky_grpc_deframer_feed(&a, chunk, sizeof(chunk), collect, &g), 0);
	cr_assert_geq(a.cap, a.buf_len);
	cr_assert_leq(a.cap, 2 * a.buf_len);
	cr_assert_eq(budget.used, a.cap);
	/* A second stream of the same connection: the budget runs out. */
	ky_grpc_deframer_init(&b, KY_GRPC_DEFAULT_MAX_MESSAGE);
	ky_grpc_deframer_set_budget(&b, &budget);
	cr_assert_eq(ky_grpc_deframer_feed(&b, h, 5, collect, &g), 0);
	int r = 0;
	for (int i = 0; i < 4 && r == 0; i++)
		r = ky_grpc_deframer_feed(&b, chunk, sizeof(chunk), collect, &g);
	cr_assert_eq(r, -ENOBUFS);
	cr_assert_eq(ky_grpc_deframer_code(r), KY_GRPC_RESOURCE_EXHAUSTED);
	cr_assert_leq(budget.used, budget.limit);
	cr_assert_eq(budget.used, a.cap + b.cap);
	ky_grpc_deframer_release(&b);
	cr_assert_eq(budget.used, a.cap, "a released deframer gives its charge back");
	/* A complete message gives its charge back before the callback. */
	ky_grpc_deframer_release(&a);
	cr_assert_eq(budget.used, 0);
	uint8_t small[5 + 3];
	ky_grpc_frame_header(small, false, 3);
	memcpy(small + 5, "abc", 3);
	ky_grpc_deframer_init(&a, 100);
	ky_grpc_deframer_set_budget(&a, &budget);
	cr_assert_eq(ky_grpc_deframer_feed(&a, small, sizeof(small), collect, &g), 0);
	cr_assert_eq(g.n, 1);
	cr_assert_eq(budget.used, 0);
	ky_grpc_deframer_release(&a);
}

Test(grpc_frame, compressed_or_unknown_flag_is_a_protocol_error)
{
	for (uint8_t flag = 1; flag < 4; flag++) {
		struct ky_grpc_deframer d;
		struct got g = { 0 };
		uint8_t h[5] = { flag, 0, 0, 0, 1 };
		ky_grpc_deframer_init(&d, 100);
		int r = ky_grpc_deframer_feed(&d, h, 5, collect, &g);
		cr_assert_eq(r, -EPROTO);
		cr_assert_eq(ky_grpc_deframer_code(r), KY_GRPC_INTERNAL);
		ky_grpc_deframer_release(&d);
	}
}

static int refuse(void *userdata, const uint8_t *msg, size_t len)
{
	(void)userdata;
	(void)msg;
	(void)len;
	return -E2BIG;
}

Test(grpc_frame, callback_error_stops_the_feed)
{
	struct ky_grpc_deframer d;
	uint8_t wire[10];
	ky_grpc_frame_header(wire, false, 0);
	ky_grpc_frame_header(wire + 5, false, 0);
	ky_grpc_deframer_init(&d, 100);
	cr_assert_eq(ky_grpc_deframer_feed(&d, wire, 10, refuse, NULL), -E2BIG);
	cr_assert_not(ky_grpc_deframer_idle(&d));
	ky_grpc_deframer_release(&d);
}

Test(grpc_frame, status_codes_have_their_names)
{
	cr_assert_str_eq(ky_grpc_code_name(KY_GRPC_OK), "OK");
	cr_assert_str_eq(ky_grpc_code_name(KY_GRPC_DEADLINE_EXCEEDED), "DEADLINE_EXCEEDED");
	cr_assert_str_eq(ky_grpc_code_name(KY_GRPC_RESOURCE_EXHAUSTED), "RESOURCE_EXHAUSTED");
	cr_assert_str_eq(ky_grpc_code_name(KY_GRPC_UNIMPLEMENTED), "UNIMPLEMENTED");
	cr_assert_str_eq(ky_grpc_code_name(KY_GRPC_UNAUTHENTICATED), "UNAUTHENTICATED");
	cr_assert_str_eq(ky_grpc_code_name(17), "UNKNOWN");
	cr_assert_str_eq(ky_grpc_code_name(-1), "UNKNOWN");
}

Test(grpc_frame, http_status_maps_as_grpc_says)
{
	cr_assert_eq(ky_grpc_code_from_http(400), KY_GRPC_INTERNAL);
	cr_assert_eq(ky_grpc_code_from_http(401), KY_GRPC_UNAUTHENTICATED);
	cr_assert_eq(ky_grpc_code_from_http(403), KY_GRPC_PERMISSION_DENIED);
	cr_assert_eq(ky_grpc_code_from_http(404), KY_GRPC_UNIMPLEMENTED);
	cr_assert_eq(ky_grpc_code_from_http(429), KY_GRPC_UNAVAILABLE);
	cr_assert_eq(ky_grpc_code_from_http(503), KY_GRPC_UNAVAILABLE);
	cr_assert_eq(ky_grpc_code_from_http(415), KY_GRPC_UNKNOWN);
}

static int code_of(int errnum, int status)
{
	_cleanup_error_ struct ky_error *err = NULL;
	ky_error_set(&err, errnum, "x");
	if (status)
		ky_error_set_status(&err, status);
	return ky_grpc_error_code(err);
}

Test(grpc_frame, an_error_answers_with_its_status_else_by_its_errno)
{
	cr_assert_eq(code_of(EINVAL, 0), KY_GRPC_INVALID_ARGUMENT);
	cr_assert_eq(code_of(ENOENT, 0), KY_GRPC_NOT_FOUND);
	cr_assert_eq(code_of(EEXIST, 0), KY_GRPC_ALREADY_EXISTS);
	cr_assert_eq(code_of(EACCES, 0), KY_GRPC_PERMISSION_DENIED);
	cr_assert_eq(code_of(ENOMEM, 0), KY_GRPC_RESOURCE_EXHAUSTED);
	cr_assert_eq(code_of(EBUSY, 0), KY_GRPC_UNAVAILABLE);
	cr_assert_eq(code_of(ETIMEDOUT, 0), KY_GRPC_DEADLINE_EXCEEDED);
	cr_assert_eq(code_of(ENOSYS, 0), KY_GRPC_UNIMPLEMENTED);
	cr_assert_eq(code_of(EIO, 0), KY_GRPC_INTERNAL);
	cr_assert_eq(code_of(EBADMSG, 0), KY_GRPC_INTERNAL);
	cr_assert_eq(code_of(EBADMSG, KY_GRPC_FAILED_PRECONDITION), KY_GRPC_FAILED_PRECONDITION);
	cr_assert_eq(code_of(EINVAL, KY_GRPC_ABORTED), KY_GRPC_ABORTED, "the status chosen wins");
	cr_assert_eq(ky_grpc_error_code(NULL), KY_GRPC_INTERNAL, "never OK for a failure");
}

Test(grpc_frame, timeout_units_round_up_to_milliseconds)
{
	static const struct {
		const char *s;
		uint64_t ms;
	} ok[] = {
		{ "1H", 3600000 }, { "2M", 120000 }, { "3S", 3000 }, { "250m", 250 }, { "1u", 1 },
		{ "1000u", 1 },    { "1001u", 2 },   { "1n", 1 },    { "0S", 0 },     { "99999999m", 99999999 },
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		uint64_t ms = 12345;
		cr_assert_eq(ky_grpc_timeout_parse(ok[i].s, &ms), 0, "%s", ok[i].s);
		cr_assert_eq(ms, ok[i].ms, "%s: %llu", ok[i].s, (unsigned long long)ms);
	}
	static const char *const bad[] = { "", "S", "100", "100x", "123456789m", "-1S", "1 S", "1SS", "1.5S" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t ms;
		cr_assert_eq(ky_grpc_timeout_parse(bad[i], &ms), -EINVAL, "%s", bad[i]);
	}
	cr_assert_eq(ky_grpc_timeout_parse(NULL, &(uint64_t){ 0 }), -EINVAL);
}

Test(grpc_frame, timeout_format_fits_eight_digits_and_parses_back)
{
	char buf[16];
	ky_grpc_timeout_format(250, buf, sizeof(buf));
	cr_assert_str_eq(buf, "250m");
	ky_grpc_timeout_format(100000000, buf, sizeof(buf));
	cr_assert_str_eq(buf, "100000S");
	ky_grpc_timeout_format(UINT64_MAX / 2, buf, sizeof(buf));
	cr_assert_str_eq(buf, "99999999H");
	uint64_t values[] = { 1, 999, 123456789, 86400000 };
	for (size_t i = 0; i < 4; i++) {
		uint64_t back;
		ky_grpc_timeout_format(values[i], buf, sizeof(buf));
		cr_assert(strlen(buf) <= 9);
		cr_assert_eq(ky_grpc_timeout_parse(buf, &back), 0);
		cr_assert_geq(back, values[i], "a deadline never shrinks: %s", buf);
	}
}

/* grpc's spec allows at most 8 digits per unit: a deadline beyond the
 * longest goes out as the longest, never as a short one. Rounding up to
 * the unit wrapped within an hour of UINT64_MAX (a caller's "no deadline"),
 * which sent "0S" (expired at once). */
Test(grpc_frame, timeout_format_clamps_deadlines_near_uint64_max_to_the_longest)
{
	static const uint64_t values[] = { UINT64_MAX, UINT64_MAX - 1, UINT64_MAX - 8, UINT64_MAX - 3599999,
					   UINT64_MAX - 3600000, 99999999ull * 3600000ull + 1 };
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		char buf[16];
		ky_grpc_timeout_format(values[i], buf, sizeof(buf));
		cr_assert_str_eq(buf, "99999999H", "%llu ms", (unsigned long long)values[i]);
	}
	char buf[16];
	ky_grpc_timeout_format(99999999ull * 3600000ull, buf, sizeof(buf));
	cr_assert_str_eq(buf, "99999999H");
	ky_grpc_timeout_format(99999999ull * 3600000ull - 1, buf, sizeof(buf));
	cr_assert_str_eq(buf, "99999999H", "rounded up to the hour");
}

Test(grpc_frame, message_is_percent_encoded_and_decoded)
{
	char *e = ky_grpc_message_encode("unknown device nope: 100% \xe2\x9c\x97\n");
	cr_assert_str_eq(e, "unknown device nope: 100%25 %E2%9C%97%0A");
	char *d = ky_grpc_message_decode(e);
	cr_assert_str_eq(d, "unknown device nope: 100% \xe2\x9c\x97\n");
	free(e);
	free(d);
	/* Malformed escapes stay as they are. */
	d = ky_grpc_message_decode("50% off %zz %4");
	cr_assert_str_eq(d, "50% off %zz %4");
	free(d);
	d = ky_grpc_message_decode("%e2%9c%97");
	cr_assert_str_eq(d, "\xe2\x9c\x97");
	free(d);
}

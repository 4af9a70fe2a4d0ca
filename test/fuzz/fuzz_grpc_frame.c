/* gRPC's wire rules with no I/O (common/src/grpc/grpc_frame.c): the
 * deframer fed the input's stream in chunks the input chooses, against a
 * plain reading of the same bytes in one piece; and the grpc-timeout and
 * grpc-message codecs on the input's bytes.
 *
 * Input: byte 0 picks the size limit (bits 0-2), after how many messages
 * the callback stops the feed (3-5) and the connection's budget the
 * deframer is charged to (6-7); byte 1 (n, up to 15) is followed by n chunk
 * sizes used in turn; the rest is the stream. */
#include <errno.h>
#include <malloc.h>

#include "fuzz.h"
#include "kyborg/base/cleanup.h"
#include "kyborg/grpc/grpc.h"

/* Every 5 bytes may be an empty message; longer streams are cut. */
#define MAX_MSGS 16384

static const uint32_t limits[] = { 0, 1, 5, 16, 100, 1024, 65536, KY_GRPC_DEFAULT_MAX_MESSAGE };
/* SIZE_MAX: no budget (bounded by the limit alone). */
static const size_t budgets[] = { SIZE_MAX, 0, 16, 10000 };

struct got {
	size_t n, stop_after;
	size_t len[MAX_MSGS];
};

struct expect {
	size_t n;
	size_t off[MAX_MSGS], len[MAX_MSGS];
	int result; /* 0, -EPROTO, -EMSGSIZE, -ENOBUFS, -ECANCELED */
	bool idle;
};

static int on_message(void *userdata, const uint8_t *msg, size_t len)
{
	struct got *g = userdata;
	(void)msg;
	FUZZ_ASSERT(g->n < MAX_MSGS, "more messages than the stream holds");
	g->len[g->n++] = len;
	if (g->stop_after && g->n == g->stop_after)
		return -ECANCELED;
	return 0;
}

/* The same stream read in one piece, by the rule of the gRPC spec. */
static void reference(const uint8_t *s, size_t len, uint32_t max, size_t budget, size_t stop_after,
		      struct expect *e)
{
	size_t pos = 0;
	*e = (struct expect){ .idle = true };
	while (pos < len) {
		if (len - pos < KY_GRPC_FRAME_HEADER) {
			e->idle = false;
			return;
		}
		if (s[pos] != 0) {
			e->result = -EPROTO;
			e->idle = false;
			return;
		}
		uint32_t n = (uint32_t)s[pos + 1] << 24 | (uint32_t)s[pos + 2] << 16 | (uint32_t)s[pos + 3] << 8 | s[pos + 4];
		if (n > max) {
			e->result = -EMSGSIZE;
			e->idle = false;
			return;
		}
		/* The budget holds what has arrived of one message: more than
		 * it can hold fails the stream, whatever the message claims. */
		size_t arrived = len - pos - KY_GRPC_FRAME_HEADER < n ? len - pos - KY_GRPC_FRAME_HEADER : n;
		if (arrived > budget) {
			e->result = -ENOBUFS;
			e->idle = false;
			return;
		}
		if (arrived < n) {
			e->idle = false;
			return;
		}
		e->off[e->n] = pos + KY_GRPC_FRAME_HEADER;
		e->len[e->n] = n;
		e->n++;
		pos += KY_GRPC_FRAME_HEADER + n;
		if (stop_after && e->n == stop_after) {
			e->result = -ECANCELED;
			e->idle = false; /* a failed deframer is never idle */
			return;
		}
	}
}

/* Copies of each message, to compare bytes as well as lengths. */
struct copy {
	struct got g;
	uint8_t *bytes[MAX_MSGS];
};

static int on_message_copy(void *userdata, const uint8_t *msg, size_t len)
{
	struct copy *c = userdata;
	if (c->g.n < MAX_MSGS) {
		c->bytes[c->g.n] = malloc(len ? len : 1);
		FUZZ_ASSERT(c->bytes[c->g.n], "out of memory");
		if (len)
			memcpy(c->bytes[c->g.n], msg, len);
	}
	return on_message(&c->g, msg, len);
}

/* I3 (issue 14, fixed): a peer's memory grows with the bytes it sent, not
 * with the length it claims: the deframer allocated the whole claimed
 * length (up to the limit, 4 MiB) as soon as the 5-byte prefix arrived.
 * What it holds is charged to its budget, never past the limit. */
static void check_buffer(const struct ky_grpc_deframer *d, const struct ky_grpc_budget *b)
{
	FUZZ_ASSERT(d->cap >= d->buf_len, "%zu bytes in a buffer of %zu", d->buf_len, d->cap);
	if (b) {
		FUZZ_ASSERT(b->used == d->cap, "budget charged %zu for a buffer of %zu", b->used, d->cap);
		FUZZ_ASSERT(b->used <= b->limit, "budget of %zu holds %zu", b->limit, b->used);
	}
	if (!d->buf)
		return;
	size_t have = malloc_usable_size(d->buf), fed = d->buf_len;
	FUZZ_ASSERT(have <= 2 * fed + 65536, "%zu bytes held for %zu received (claimed %u)", have, fed, d->msg_len);
}

static void check_deframer(const uint8_t *data, size_t size)
{
	if (size < 2)
		return;
	uint32_t max = limits[data[0] & 7];
	size_t stop_after = (data[0] >> 3) & 7; /* 0: never stop */
	size_t budget = budgets[data[0] >> 6];
	size_t n_chunks = data[1] & 15;
	if (size < 2 + n_chunks)
		return;
	const uint8_t *chunks = data + 2, *s = data + 2 + n_chunks;
	size_t len = size - 2 - n_chunks;
	if (len / KY_GRPC_FRAME_HEADER >= MAX_MSGS)
		len = (MAX_MSGS - 1) * KY_GRPC_FRAME_HEADER;

	static struct expect e;
	reference(s, len, max, budget, stop_after, &e);

	static struct copy c;
	c.g.n = 0;
	c.g.stop_after = stop_after;
	struct ky_grpc_deframer d;
	ky_grpc_deframer_init(&d, max);
	struct ky_grpc_budget b = { .limit = budget };
	if (budget != SIZE_MAX)
		ky_grpc_deframer_set_budget(&d, &b);
	const struct ky_grpc_budget *bp = budget != SIZE_MAX ? &b : NULL;
	int r = 0;
	size_t pos = 0, k = 0;
	while (pos < len && r == 0) {
		size_t take = fuzz_next_chunk(chunks, n_chunks, &k, len - pos);
		r = ky_grpc_deframer_feed(&d, s + pos, take, on_message_copy, &c);
		pos += take;
		check_buffer(&d, bp);
	}
	if (r == 0 && len == 0)
		r = ky_grpc_deframer_feed(&d, s, 0, on_message_copy, &c);

	FUZZ_ASSERT(r == e.result, "feed returned %d, the stream says %d", r, e.result);
	FUZZ_ASSERT(c.g.n == e.n, "%zu messages, the stream holds %zu", c.g.n, e.n);
	for (size_t i = 0; i < e.n; i++) {
		FUZZ_ASSERT(c.g.len[i] == e.len[i], "message %zu: %zu bytes, the stream says %zu", i, c.g.len[i], e.len[i]);
		FUZZ_ASSERT(e.len[i] == 0 || memcmp(c.bytes[i], s + e.off[i], e.len[i]) == 0, "message %zu differs", i);
	}
	FUZZ_ASSERT(ky_grpc_deframer_idle(&d) == e.idle, "idle %d, the stream says %d", ky_grpc_deframer_idle(&d),
		    e.idle);
	if (r < 0) {
		/* Sticky: nothing more is taken after a failure. */
		FUZZ_ASSERT(ky_grpc_deframer_feed(&d, s, len, on_message_copy, &c) == r, "failure not sticky");
		FUZZ_ASSERT(c.g.n == e.n, "a message after a failure");
		int code = ky_grpc_deframer_code(r);
		FUZZ_ASSERT(code == (r == -EMSGSIZE || r == -ENOBUFS ? KY_GRPC_RESOURCE_EXHAUSTED : KY_GRPC_INTERNAL),
			    "code %d for %d", code, r);
	}
	ky_grpc_deframer_release(&d);
	FUZZ_ASSERT(b.used == 0, "%zu bytes still charged after release", b.used);
	for (size_t i = 0; i < c.g.n && i < MAX_MSGS; i++)
		free(c.bytes[i]);
}

static void check_codecs(const uint8_t *data, size_t size)
{
	_cleanup_free_ char *s = fuzz_strndup(data, size);

	/* grpc-message: decode(encode(s)) is s; the encoding is printable. */
	_cleanup_free_ char *enc = ky_grpc_message_encode(s);
	FUZZ_ASSERT(enc, "out of memory");
	for (const unsigned char *p = (const unsigned char *)enc; *p; p++)
		FUZZ_ASSERT(*p >= 0x20 && *p <= 0x7e, "encoded grpc-message has byte 0x%02x", *p);
	_cleanup_free_ char *dec = ky_grpc_message_decode(enc);
	FUZZ_ASSERT(dec && strcmp(dec, s) == 0, "grpc-message does not survive encoding");
	_cleanup_free_ char *any = ky_grpc_message_decode(s);
	FUZZ_ASSERT(any && strlen(any) <= strlen(s), "decoding grew the text");

	/* grpc-timeout: what parses formats back to at least as long. */
	uint64_t ms, ms2;
	char buf[16];
	if (ky_grpc_timeout_parse(s, &ms) == 0) {
		FUZZ_ASSERT(strlen(s) >= 2 && strlen(s) <= 9, "timeout \"%s\" accepted", s);
		ky_grpc_timeout_format(ms, buf, sizeof(buf));
		FUZZ_ASSERT(ky_grpc_timeout_parse(buf, &ms2) == 0, "our timeout %s does not parse", buf);
		FUZZ_ASSERT(ms2 >= ms || ms > 99999999ull * 3600000ull, "timeout %s (%llu ms) formats as %s (%llu ms)", s,
			    (unsigned long long)ms, buf, (unsigned long long)ms2);
	}
	if (size >= 8) {
		/* Any deadline a caller may set goes out at least as long, or
		 * as the longest grpc-timeout there is. */
		const uint64_t longest = 99999999ull * 3600000ull;
		uint64_t v;
		memcpy(&v, data, 8);
		/* F1 (fixed): rounding up wrapped within an hour of UINT64_MAX
		 * and sent "0S"; regress-F1-timeout-format-overflow. */
		ky_grpc_timeout_format(v, buf, sizeof(buf));
		FUZZ_ASSERT(ky_grpc_timeout_parse(buf, &ms2) == 0, "our timeout %s does not parse", buf);
		FUZZ_ASSERT(v <= longest ? ms2 >= v : ms2 == longest, "%llu ms formats as %s (%llu ms)",
			    (unsigned long long)v, buf, (unsigned long long)ms2);
	}
	FUZZ_ASSERT(ky_grpc_code_name(size > 0 ? (int)(int8_t)data[0] : -1), "no code name");
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet_logs();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_deframer(data, size);
	check_codecs(data, size);
	return 0;
}

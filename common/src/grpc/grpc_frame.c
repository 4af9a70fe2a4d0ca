/* gRPC's wire rules with no I/O: the 5-byte message prefix and its
 * reassembly, status codes and names, grpc-timeout and grpc-message. */
#include "kyborg/grpc/grpc.h"
#include "kyborg/base/error.h"
#include "kyborg/base/hex.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const code_names[] = {
	"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
	"ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",
	"OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
};

const char *ky_grpc_code_name(int code)
{
	if (code < 0 || (size_t)code >= sizeof(code_names) / sizeof(code_names[0]))
		return "UNKNOWN";
	return code_names[code];
}

int ky_grpc_code_from_http(int http_status)
{
	switch (http_status) {
	case 400:
		return KY_GRPC_INTERNAL;
	case 401:
		return KY_GRPC_UNAUTHENTICATED;
	case 403:
		return KY_GRPC_PERMISSION_DENIED;
	case 404:
		return KY_GRPC_UNIMPLEMENTED;
	case 429:
	case 502:
	case 503:
	case 504:
		return KY_GRPC_UNAVAILABLE;
	default:
		return KY_GRPC_UNKNOWN;
	}
}

int ky_grpc_error_code(const struct ky_error *err)
{
	if (!err)
		return KY_GRPC_INTERNAL;
	if (ky_error_status(err) > 0)
		return ky_error_status(err);
	switch (ky_error_code(err)) {
	case EINVAL:
		return KY_GRPC_INVALID_ARGUMENT;
	case ENOENT:
		return KY_GRPC_NOT_FOUND;
	case EEXIST:
		return KY_GRPC_ALREADY_EXISTS;
	case EPERM:
	case EACCES:
		return KY_GRPC_PERMISSION_DENIED;
	case ENOMEM:
	case ENOBUFS:
	case ENOSPC:
		return KY_GRPC_RESOURCE_EXHAUSTED;
	case EBUSY:
	case EAGAIN:
		return KY_GRPC_UNAVAILABLE;
	case ETIMEDOUT:
		return KY_GRPC_DEADLINE_EXCEEDED;
	case ECANCELED:
		return KY_GRPC_CANCELLED;
	case ENOSYS:
	case EOPNOTSUPP:
		return KY_GRPC_UNIMPLEMENTED;
	default:
		return KY_GRPC_INTERNAL;
	}
}

void ky_grpc_frame_header(uint8_t out[KY_GRPC_FRAME_HEADER], bool compressed, uint32_t len)
{
	out[0] = compressed ? 1 : 0;
	out[1] = (uint8_t)(len >> 24);
	out[2] = (uint8_t)(len >> 16);
	out[3] = (uint8_t)(len >> 8);
	out[4] = (uint8_t)len;
}

void ky_grpc_deframer_init(struct ky_grpc_deframer *d, uint32_t max_message)
{
	*d = (struct ky_grpc_deframer){ .max_message = max_message };
}

void ky_grpc_deframer_set_budget(struct ky_grpc_deframer *d, struct ky_grpc_budget *budget)
{
	d->budget = budget;
}

/* Gives the buffer's charge back; the caller frees or hands on the buffer. */
static void uncharge(struct ky_grpc_deframer *d)
{
	if (d->budget)
		d->budget->used -= d->cap;
	d->cap = 0;
}

void ky_grpc_deframer_release(struct ky_grpc_deframer *d)
{
	uncharge(d);
	free(d->buf);
	d->buf = NULL;
	d->buf_len = 0;
	d->hdr_len = 0;
}

/* The first allocation of a message's buffer; later ones double it. */
#define DEFRAMER_MIN_CAP 4096u

/* Makes room for `need` bytes of the current message: the buffer doubles
 * (capped at the message's length), or grows to just `need` where the
 * budget has no room for more. */
static int grow(struct ky_grpc_deframer *d, size_t need)
{
	if (need <= d->cap)
		return 0;
	size_t want = d->cap ? 2 * d->cap : DEFRAMER_MIN_CAP;
	if (want < need)
		want = need;
	if (want > d->msg_len)
		want = d->msg_len;
	if (d->budget) {
		size_t room = d->budget->used < d->budget->limit ? d->budget->limit - d->budget->used : 0;
		if (want - d->cap > room)
			want = need;
		if (want - d->cap > room)
			return -ENOBUFS;
	}
	uint8_t *nb = realloc(d->buf, want);
	if (!nb)
		return -ENOMEM;
	if (d->budget)
		d->budget->used += want - d->cap;
	d->buf = nb;
	d->cap = want;
	return 0;
}

int ky_grpc_deframer_feed(struct ky_grpc_deframer *d, const uint8_t *data, size_t len, ky_grpc_message_fn fn,
			  void *userdata)
{
	if (d->failed)
		return d->failed;
	while (len > 0) {
		if (d->hdr_len < KY_GRPC_FRAME_HEADER) {
			size_t take = KY_GRPC_FRAME_HEADER - d->hdr_len;
			if (take > len)
				take = len;
			memcpy(d->hdr + d->hdr_len, data, take);
			d->hdr_len += take;
			data += take;
			len -= take;
			if (d->hdr_len < KY_GRPC_FRAME_HEADER)
				break;
			if (d->hdr[0] != 0)
				return d->failed = -EPROTO;
			d->msg_len = (uint32_t)d->hdr[1] << 24 | (uint32_t)d->hdr[2] << 16 | (uint32_t)d->hdr[3] << 8 |
				     d->hdr[4];
			if (d->msg_len > d->max_message)
				return d->failed = -EMSGSIZE;
			d->buf_len = 0;
		}
		size_t take = d->msg_len - d->buf_len;
		if (take > len)
			take = len;
		if (take) {
			int r = grow(d, d->buf_len + take);
			if (r < 0)
				return d->failed = r;
			memcpy(d->buf + d->buf_len, data, take);
			d->buf_len += take;
			data += take;
			len -= take;
		}
		if (d->buf_len == d->msg_len) {
			uint8_t *msg = d->buf;
			size_t msg_len = d->buf_len;
			uncharge(d);
			d->buf = NULL;
			d->buf_len = 0;
			d->hdr_len = 0;
			int r = fn(userdata, msg, msg_len);
			free(msg);
			if (r < 0)
				return d->failed = r;
		}
	}
	return 0;
}

bool ky_grpc_deframer_idle(const struct ky_grpc_deframer *d)
{
	return d->hdr_len == 0 && !d->failed;
}

int ky_grpc_deframer_code(int r)
{
	return r == -EMSGSIZE || r == -ENOBUFS ? KY_GRPC_RESOURCE_EXHAUSTED : KY_GRPC_INTERNAL;
}

int ky_grpc_timeout_parse(const char *s, uint64_t *out_ms)
{
	uint64_t v = 0;
	size_t n = 0;
	if (!s)
		return -EINVAL;
	while (s[n] >= '0' && s[n] <= '9') {
		v = v * 10 + (uint64_t)(s[n] - '0');
		if (++n > 8)
			return -EINVAL;
	}
	if (n == 0 || !s[n] || s[n + 1])
		return -EINVAL;
	switch (s[n]) {
	case 'H':
		*out_ms = v * 3600000u;
		break;
	case 'M':
		*out_ms = v * 60000u;
		break;
	case 'S':
		*out_ms = v * 1000u;
		break;
	case 'm':
		*out_ms = v;
		break;
	case 'u':
		*out_ms = (v + 999u) / 1000u;
		break;
	case 'n':
		*out_ms = (v + 999999u) / 1000000u;
		break;
	default:
		return -EINVAL;
	}
	return 0;
}

void ky_grpc_timeout_format(uint64_t ms, char *buf, size_t size)
{
	static const struct {
		uint64_t ms;
		char unit;
	} units[] = { { 1, 'm' }, { 1000, 'S' }, { 60000, 'M' }, { 3600000, 'H' } };
	const uint64_t max = 99999999u;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		/* Rounded up without ms + unit - 1, which wraps near UINT64_MAX;
		 * beyond 8 digits of hours, the longest (the spec's limit). */
		uint64_t v = ms / units[i].ms + (ms % units[i].ms != 0);
		if (v <= max || i + 1 == sizeof(units) / sizeof(units[0])) {
			snprintf(buf, size, "%llu%c", (unsigned long long)(v <= max ? v : max), units[i].unit);
			return;
		}
	}
}

static bool needs_escape(unsigned char c)
{
	return c < 0x20 || c > 0x7e || c == '%';
}

char *ky_grpc_message_encode(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		n += needs_escape(*p) ? 3 : 1;
	char *out = malloc(n + 1), *o = out;
	if (!out)
		return NULL;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (needs_escape(*p)) {
			*o++ = '%';
			*o++ = hex[*p >> 4];
			*o++ = hex[*p & 15];
		} else {
			*o++ = (char)*p;
		}
	}
	*o = 0;
	return out;
}

char *ky_grpc_message_decode(const char *s)
{
	char *out = malloc(strlen(s) + 1), *o = out;
	if (!out)
		return NULL;
	while (*s) {
		int hi, lo;
		if (s[0] == '%' && (hi = ky_hex_digit(s[1])) >= 0 && (lo = ky_hex_digit(s[2])) >= 0) {
			*o++ = (char)(hi << 4 | lo);
			s += 3;
		} else {
			*o++ = *s++;
		}
	}
	*o = 0;
	return out;
}

/* The error type: allocation, context prefixes, release. */
#include "kyborg/base/error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Used when the message itself cannot be allocated: the code still travels. */
static char oom_msg[] = "out of memory while reporting an error";

static void msg_free(char *msg)
{
	if (msg != oom_msg)
		free(msg);
}

int ky_error_setv(struct ky_error **err, int code, const char *fmt, va_list ap)
{
	if (code <= 0)
		code = EIO;
	if (!err)
		return -code;

	struct ky_error *e = *err;
	if (!e) {
		e = calloc(1, sizeof(*e));
		if (!e)
			return -code;
		*err = e;
	}
	msg_free(e->msg);
	e->code = code;
	e->status = 0;
	if (vasprintf(&e->msg, fmt, ap) < 0)
		e->msg = oom_msg;
	return -code;
}

int ky_error_set(struct ky_error **err, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = ky_error_setv(err, code, fmt, ap);
	va_end(ap);
	return r;
}

int ky_error_prefix(struct ky_error **err, const char *fmt, ...)
{
	if (!err)
		return -EIO;
	if (!*err)
		return ky_error_set(err, EIO, "unknown error");

	struct ky_error *e = *err;
	char *ctx = NULL, *joined = NULL;
	va_list ap;
	va_start(ap, fmt);
	int r = vasprintf(&ctx, fmt, ap);
	va_end(ap);
	if (r >= 0 && asprintf(&joined, "%s: %s", ctx, e->msg ? e->msg : "") >= 0) {
		msg_free(e->msg);
		e->msg = joined;
	}
	free(ctx);
	return -e->code;
}

int ky_error_set_status(struct ky_error **err, int status)
{
	if (!err)
		return -EIO;
	if (!*err)
		ky_error_set(err, EIO, "unknown error");
	if (!*err)
		return -EIO;
	(*err)->status = status;
	return -(*err)->code;
}

int ky_error_status(const struct ky_error *err)
{
	return err ? err->status : 0;
}

const char *ky_error_msg(const struct ky_error *err)
{
	return err && err->msg ? err->msg : "";
}

int ky_error_code(const struct ky_error *err)
{
	return err ? err->code : 0;
}

void ky_error_free(struct ky_error *err)
{
	if (!err)
		return;
	msg_free(err->msg);
	free(err);
}

void ky_error_freep(struct ky_error **err)
{
	ky_error_free(*err);
}

void ky_error_clear(struct ky_error **err)
{
	ky_error_free(*err);
	*err = NULL;
}

/* The one error type of Kyborg: an errno-like code and a message that
 * callers prefix with context as it travels up. */
#pragma once

#include <stdarg.h>

struct ky_error {
	int code;   /* positive errno-like code */
	int status; /* the front end's protocol code (a CNI error code, a gRPC
		     * status) where the failure chose one; 0 when it did not */
	char *msg;  /* "context: context: cause" */
};

/* Sets *err (freeing an earlier one) and returns -code, so a caller writes
 * `return ky_error_set(err, EINVAL, "...")`. A NULL err is allowed: the
 * failure is then only returned. A code <= 0 is stored as EIO. */
int ky_error_set(struct ky_error **err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int ky_error_setv(struct ky_error **err, int code, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

/* Prepends "context: " to the message and returns -code. With no error set
 * it sets one with EIO, so a caller can never lose a failure. */
int ky_error_prefix(struct ky_error **err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Marks the error with the protocol code its front end must answer with
 * (a CNI error code, a gRPC status), so the code travels with the error
 * instead of beside it. Without an error it sets one with EIO. A later
 * ky_error_set starts a fresh error without a status. Returns -code. */
int ky_error_set_status(struct ky_error **err, int status);
/* The status set on the error, or 0 (none, or a NULL error). */
int ky_error_status(const struct ky_error *err);

/* Returns the message or "" for a NULL error. */
const char *ky_error_msg(const struct ky_error *err);
int ky_error_code(const struct ky_error *err);

void ky_error_free(struct ky_error *err);
void ky_error_freep(struct ky_error **err);
/* Frees *err and sets it to NULL. */
void ky_error_clear(struct ky_error **err);

/* String vectors: malloc'd arrays of malloc'd strings, kept NULL-terminated
 * so that a count is optional (argv, string arrays from configs). */
#pragma once

#include <stdarg.h>
#include <stddef.h>

/* Frees a NULL-terminated vector and its strings; NULL is fine. */
void ky_strv_free(char **v);
/* The same for a vector of n strings, NULL entries allowed among them. */
void ky_strv_freen(char **v, size_t n);
static inline void ky_strv_freep(char ***v)
{
	ky_strv_free(*v);
}

/* Appends a formatted string to the vector of *n strings, which stays
 * NULL-terminated. 0 or -ENOMEM (the vector unchanged). */
int ky_strv_append(char ***v, size_t *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int ky_strv_vappend(char ***v, size_t *n, const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));

#define _cleanup_strv_free_ __attribute__((cleanup(ky_strv_freep)))

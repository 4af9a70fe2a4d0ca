/* Logging: one line per event, key=value fields, to stderr or a file.
 * Never to stdout: the CNI binary's stdout is its result. */
#pragma once

#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>

struct ky_error;

enum ky_log_level {
	KY_LOG_ERROR = 0,
	KY_LOG_WARN = 1,
	KY_LOG_INFO = 2,
	KY_LOG_DEBUG = 3,
};

/* Parses "error", "warn"/"warning", "info", "debug" (any case). -EINVAL otherwise. */
int ky_log_level_parse(const char *s, enum ky_log_level *out);
const char *ky_log_level_name(enum ky_log_level level);

/* Logs to `path` (created 0600, appended; one write per line so lines of
 * concurrent processes never interleave), or to stderr when path is NULL.
 * path must be a regular file of root's (or ours) that group and others
 * cannot write, with no other name, not reached through a symbolic link:
 * else -ELOOP or -EPERM and nothing is opened.
 * `ident` is the program's name, written as prog=. */
int ky_log_open(const char *ident, const char *path, enum ky_log_level level, struct ky_error **err);
void ky_log_set_level(enum ky_log_level level);
bool ky_log_enabled(enum ky_log_level level);
void ky_log_close(void);

/* `fmt` formats the fields ("ifname=%s vf=%d"); newlines in it become
 * spaces so an event is always one line. */
void ky_log(enum ky_log_level level, const char *event, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* As ky_log, with error="<message>" (quoted, escaped) appended. */
void ky_log_err(enum ky_log_level level, const char *event, const struct ky_error *e, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Writes `s` as a log value into buf: bare when it has no space, quote,
 * backslash, '=' or control character, otherwise in double quotes with
 * escapes. Always NUL-terminates; truncates to fit. Returns buf. */
char *ky_log_quote(const char *s, char *buf, size_t size);

#define ky_err(event, ...) ky_log(KY_LOG_ERROR, event, __VA_ARGS__)
#define ky_warn(event, ...) ky_log(KY_LOG_WARN, event, __VA_ARGS__)
#define ky_info(event, ...) ky_log(KY_LOG_INFO, event, __VA_ARGS__)
#define ky_debug(event, ...) ky_log(KY_LOG_DEBUG, event, __VA_ARGS__)

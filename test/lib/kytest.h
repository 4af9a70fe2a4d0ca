/* Shared fixtures for the Criterion suites: temporary directories, unique
 * names, running real tools (iproute2) without a shell, waiting with a
 * deadline. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Creates a fresh directory under $TMPDIR (or /tmp); returns its path (malloc'd). */
char *kyt_tmpdir(const char *prefix);
/* Removes a tree, not following symlinks. Returns 0 or -errno. */
int kyt_rmrf(const char *path);

/* A name unique to this process and call, at most 15 characters (fits IFNAMSIZ):
 * prefix (<= 6 chars) + pid + counter. */
void kyt_unique_name(char *buf, size_t size, const char *prefix);

/* Runs argv (NULL-terminated) with execvp, no shell. Returns the exit status,
 * or -1 when it did not exit normally. Its stdout is captured into *out
 * (malloc'd, may be NULL) when out is non-NULL, else discarded; stderr is
 * discarded unless KYTEST_VERBOSE is set. */
int kyt_runv(char **out, char *const argv[]);
/* Variadic form: kyt_run(&out, "ip", "link", "show", NULL). */
int kyt_run(char **out, const char *arg0, ...) __attribute__((sentinel));

/* Polls cond(arg) every millisecond or so until it is true or timeout_ms
 * passes. Returns whether it became true. */
bool kyt_wait_until(bool (*cond)(void *arg), void *arg, int timeout_ms);

/* A condition for kyt_wait_until: the unix socket at path (a const char *)
 * accepts a connection. A server binds the file before it listens. */
bool kyt_socket_accepts(void *path);

/* Reads a whole small file into a malloc'd string (NULL on error). */
char *kyt_read_file(const char *path);
/* Writes a string to a file (created 0644, truncated). Returns 0 or -errno. */
int kyt_write_file(const char *path, const char *content);

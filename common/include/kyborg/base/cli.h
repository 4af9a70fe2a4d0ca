/* What the daemons' command lines hold in common: how a refused command
 * line and a failure are told and exit, which paths must be absolute, and
 * the run under the log that turns the final error into an exit status.
 * Each front end owns its options; the rules and exits are the same. */
#pragma once

#include <stddef.h>

#include "kyborg/base/log.h"

struct ky_error;

/* The exit status of a command line refused (as getopt's callers use). */
#define KY_EXIT_USAGE 2

/* Prints "prog: <message>" and a newline to stderr; returns KY_EXIT_USAGE. */
int ky_cli_usage_error(const char *prog, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints "prog: <err's message>" to stderr; returns 1, a failure's exit. */
int ky_cli_error(const char *prog, const struct ky_error *err);

/* The first of paths[0..n) that is given (not NULL) and not absolute, or
 * NULL when every given one is. */
const char *ky_cli_relative_path(const char *const *paths, size_t n);

/* A daemon's main once its options are read: opens the log as prog at
 * level, runs run(opts), logs the error it ended with (event "exit", with
 * its errno as code) and closes the log. Returns the exit status: 0, or 1
 * when the log could not be opened or run failed. */
typedef int (*ky_cli_run_fn)(const void *opts, struct ky_error **err);
int ky_cli_run_daemon(const char *prog, enum ky_log_level level, ky_cli_run_fn run, const void *opts);

/* The daemons' shared command-line rules: usage errors, absolute paths,
 * and the run under the log with its exit status. */
#include "kyborg/base/cli.h"

#include <stdarg.h>
#include <stdio.h>

#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"

int ky_cli_usage_error(const char *prog, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return KY_EXIT_USAGE;
}

int ky_cli_error(const char *prog, const struct ky_error *err)
{
	fprintf(stderr, "%s: %s\n", prog, ky_error_msg(err));
	return 1;
}

const char *ky_cli_relative_path(const char *const *paths, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (paths[i] && paths[i][0] != '/')
			return paths[i];
	return NULL;
}

int ky_cli_run_daemon(const char *prog, enum ky_log_level level, ky_cli_run_fn run, const void *opts)
{
	_cleanup_error_ struct ky_error *err = NULL;
	if (ky_log_open(prog, NULL, level, &err) < 0)
		return ky_cli_error(prog, err);
	int r = run(opts, &err);
	if (r < 0)
		ky_log_err(KY_LOG_ERROR, "exit", err, "code=%d", -r);
	ky_log_close();
	return r < 0 ? 1 : 0;
}

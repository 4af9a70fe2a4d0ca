/* The daemons' shared command-line rules: a refused command line exits 2
 * with "prog: message" on stderr, relative paths are named, and a run's
 * final error becomes exit status 1. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <errno.h>

#include "kyborg/base/cli.h"
#include "kyborg/base/error.h"

Test(cli, a_usage_error_names_the_program_and_exits_2, .init = cr_redirect_stderr)
{
	cr_assert_eq(ky_cli_usage_error("kyborg-x", "--config %s: %s", "a.json", "missing"), KY_EXIT_USAGE);
	fflush(stderr);
	cr_assert_stderr_eq_str("kyborg-x: --config a.json: missing\n");
}

Test(cli, the_first_relative_path_is_named_and_absent_ones_are_skipped)
{
	const char *ok[] = { "/var/lib", NULL, "/run" };
	const char *bad[] = { "/var/lib", NULL, "run/cdi", "also/relative" };
	cr_assert_null(ky_cli_relative_path(ok, 3));
	cr_assert_str_eq(ky_cli_relative_path(bad, 4), "run/cdi");
	cr_assert_null(ky_cli_relative_path(bad, 0));
}

static int run_ok(const void *opts, struct ky_error **err)
{
	(void)err;
	(*(int *)opts)++;
	return 0;
}

static int run_fails(const void *opts, struct ky_error **err)
{
	(*(int *)opts)++;
	return ky_error_set(err, ENOENT, "no such config");
}

Test(cli, a_daemon_run_exits_0_or_1_by_its_result, .init = cr_redirect_stderr)
{
	int calls = 0;
	cr_assert_eq(ky_cli_run_daemon("kyborg-x", KY_LOG_ERROR, run_ok, &calls), 0);
	cr_assert_eq(ky_cli_run_daemon("kyborg-x", KY_LOG_ERROR, run_fails, &calls), 1);
	cr_assert_eq(calls, 2);
	fflush(stderr);
	cr_assert_stderr_neq_str("", "the failure was logged");
}

/* Running helper binaries without a shell: stdin in, stdout captured,
 * bounded in time and size. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/base/exec.h"

Test(exec, stdin_comes_back_on_stdout)
{
	_cleanup_error_ struct ky_error *err = NULL;
	_cleanup_free_ char *out = NULL;
	size_t len = 0;
	int status = -1;
	struct ky_exec x = { .path = "/bin/cat", .input = "hello kyborg", .input_len = 12, .timeout_ms = 5000 };
	cr_assert_eq(ky_exec_capture(&x, &out, &len, &status, &err), 0, "%s", ky_error_msg(err));
	cr_assert_eq(status, 0);
	cr_assert_eq(len, 12);
	cr_assert_str_eq(out, "hello kyborg");
}

Test(exec, environment_is_exactly_what_is_given)
{
	_cleanup_free_ char *out = NULL;
	char *const argv[] = { "env", NULL };
	char *const envp[] = { "CNI_COMMAND=ADD", "A=b", NULL };
	struct ky_exec x = { .path = "/usr/bin/env", .argv = argv, .envp = envp, .timeout_ms = 5000 };
	int status = -1;
	cr_assert_eq(ky_exec_capture(&x, &out, NULL, &status, NULL), 0);
	cr_assert_str_eq(out, "CNI_COMMAND=ADD\nA=b\n");
}

Test(exec, exit_status_and_signal_are_reported)
{
	char *const f[] = { "false", NULL };
	struct ky_exec x = { .path = "/bin/false", .argv = f };
	int status = -1;
	cr_assert_eq(ky_exec_capture(&x, NULL, NULL, &status, NULL), 0);
	cr_assert_eq(status, 1);
	char *const k[] = { "sh", "-c", "kill -9 $$", NULL };
	struct ky_exec y = { .path = "/bin/sh", .argv = k };
	cr_assert_eq(ky_exec_capture(&y, NULL, NULL, &status, NULL), 0);
	cr_assert_eq(status, 128 + 9);
}

Test(exec, missing_binary_is_enoent)
{
	_cleanup_error_ struct ky_error *err = NULL;
	struct ky_exec x = { .path = "/nonexistent/kyborg-nope" };
	cr_assert_eq(ky_exec_capture(&x, NULL, NULL, NULL, &err), -ENOENT);
	cr_assert(strstr(ky_error_msg(err), "kyborg-nope"));
}

Test(exec, a_slow_child_is_killed_at_the_deadline)
{
	_cleanup_error_ struct ky_error *err = NULL;
	char *const argv[] = { "sleep", "10", NULL };
	struct ky_exec x = { .path = "/bin/sleep", .argv = argv, .timeout_ms = 100 };
	cr_assert_eq(ky_exec_capture(&x, NULL, NULL, NULL, &err), -ETIMEDOUT);
}

Test(exec, output_past_the_bound_is_e2big)
{
	_cleanup_error_ struct ky_error *err = NULL;
	char *const argv[] = { "yes", NULL };
	struct ky_exec x = { .path = "/usr/bin/yes", .argv = argv, .timeout_ms = 5000, .max_output = 4096 };
	cr_assert_eq(ky_exec_capture(&x, NULL, NULL, NULL, &err), -E2BIG);
}

Test(exec, a_child_that_ignores_stdin_does_not_kill_us)
{
	static char big[1 << 20];
	memset(big, 'x', sizeof(big));
	char *const argv[] = { "true", NULL };
	struct ky_exec x = { .path = "/bin/true", .argv = argv, .input = big, .input_len = sizeof(big), .timeout_ms = 5000 };
	int status = -1;
	cr_assert_eq(ky_exec_capture(&x, NULL, NULL, &status, NULL), 0);
	cr_assert_eq(status, 0);
}

Test(exec, find_looks_through_the_path_list)
{
	_cleanup_error_ struct ky_error *err = NULL;
	_cleanup_free_ char *p = NULL;
	cr_assert_eq(ky_exec_find("cat", "/nonexistent::/bin", &p, &err), 0, "%s", ky_error_msg(err));
	cr_assert_str_eq(p, "/bin/cat");
	cr_assert_eq(ky_exec_find("cat", "/nonexistent", &p, &err), -ENOENT);
	cr_assert_eq(ky_exec_find("../cat", "/bin", &p, &err), -EINVAL);
}

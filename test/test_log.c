/* The logger: levels, one key=value line per event, files, quoting. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/base/log.h"
#include "kytest.h"

static char *dir;
static char path[512];

static void setup(void)
{
	dir = kyt_tmpdir("kytest-log");
	cr_assert_not_null(dir);
	snprintf(path, sizeof(path), "%s/kyborg.log", dir);
}

static void teardown(void)
{
	ky_log_close();
	kyt_rmrf(dir);
	free(dir);
}

static size_t count_lines(const char *s)
{
	size_t n = 0;
	for (; s && *s; s++)
		n += *s == '\n';
	return n;
}

TestSuite(log, .init = setup, .fini = teardown);

Test(log, level_names_parse_and_reject_unknown)
{
	enum ky_log_level l;
	cr_assert_eq(ky_log_level_parse("DEBUG", &l), 0);
	cr_assert_eq(l, KY_LOG_DEBUG);
	cr_assert_eq(ky_log_level_parse("warning", &l), 0);
	cr_assert_eq(l, KY_LOG_WARN);
	cr_assert_eq(ky_log_level_parse("verbose", &l), -EINVAL);
	cr_assert_eq(ky_log_level_parse(NULL, &l), -EINVAL);
}

Test(log, file_gets_one_key_value_line_per_event)
{
	cr_assert_eq(ky_log_open("kytest", path, KY_LOG_INFO, NULL), 0);
	ky_info("vf-config", "pf=%s vf=%d", "ens1f0", 3);
	ky_debug("hidden", "x=1");
	ky_warn("multi", "note=line1\nline2");
	ky_log_close();

	_cleanup_free_ char *s = kyt_read_file(path);
	cr_assert_not_null(s);
	cr_assert_eq(count_lines(s), 2, "got: %s", s);
	cr_assert(strstr(s, "level=info prog=kytest"));
	cr_assert(strstr(s, "event=vf-config pf=ens1f0 vf=3\n"));
	cr_assert_null(strstr(s, "hidden"));
	cr_assert(strstr(s, "note=line1 line2\n"));

	struct stat st;
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);
}

Test(log, error_field_is_quoted_and_escaped)
{
	_cleanup_error_ struct ky_error *e = NULL;
	ky_error_set(&e, EINVAL, "bad \"mac\" on\nnet1");
	cr_assert_eq(ky_log_open("kytest", path, KY_LOG_ERROR, NULL), 0);
	ky_log_err(KY_LOG_ERROR, "add", e, "container=%s", "abc");
	ky_log_close();
	_cleanup_free_ char *s = kyt_read_file(path);
	cr_assert(strstr(s, "event=add container=abc error=\"bad \\\"mac\\\" on\\nnet1\"\n"), "got: %s", s);
}

Test(log, quote_leaves_plain_values_bare)
{
	char buf[64];
	cr_assert_str_eq(ky_log_quote("net1", buf, sizeof(buf)), "net1");
	cr_assert_str_eq(ky_log_quote("a b", buf, sizeof(buf)), "\"a b\"");
	cr_assert_str_eq(ky_log_quote("", buf, sizeof(buf)), "\"\"");
	cr_assert_str_eq(ky_log_quote("k=v", buf, sizeof(buf)), "\"k=v\"");
	char small[6];
	ky_log_quote("a long value", small, sizeof(small));
	cr_assert_lt(strlen(small), sizeof(small));
}

Test(log, open_of_unwritable_path_is_an_error)
{
	_cleanup_error_ struct ky_error *e = NULL;
	cr_assert_lt(ky_log_open("kytest", "/nonexistent-dir/x.log", KY_LOG_INFO, &e), 0);
	cr_assert(strstr(ky_error_msg(e), "/nonexistent-dir/x.log"));
}

/* Issue 14: root appends to the log file, so it is never reached through
 * a symlink, never a FIFO (the open would wait for a reader), never a file
 * others can write, and never a hard link to another file. */
Test(log, a_log_file_is_a_private_regular_file_of_its_own, .timeout = 10)
{
	char target[600], name[600];
	snprintf(target, sizeof(target), "%s/precious", dir);
	cr_assert_eq(kyt_write_file(target, "precious\n"), 0);
	struct {
		const char *what;
		int (*make)(const char *target, const char *name);
	} cases[] = { { "a symbolic link", symlink }, { "other names", link } };
	for (size_t i = 0; i < 2; i++) {
		snprintf(name, sizeof(name), "%s/case%zu.log", dir, i);
		cr_assert_eq(cases[i].make(target, name), 0);
		_cleanup_error_ struct ky_error *e = NULL;
		cr_expect_lt(ky_log_open("kytest", name, KY_LOG_INFO, &e), 0, "%s accepted", cases[i].what);
		cr_expect(strstr(ky_error_msg(e), cases[i].what), "%s", ky_error_msg(e));
	}
	snprintf(name, sizeof(name), "%s/fifo.log", dir);
	cr_assert_eq(mkfifo(name, 0600), 0);
	_cleanup_error_ struct ky_error *e = NULL;
	cr_expect_lt(ky_log_open("kytest", name, KY_LOG_INFO, &e), 0, "a FIFO accepted");
	snprintf(name, sizeof(name), "%s/shared.log", dir);
	cr_assert_eq(kyt_write_file(name, ""), 0);
	cr_assert_eq(chmod(name, 0666), 0);
	ky_error_clear(&e);
	cr_expect_lt(ky_log_open("kytest", name, KY_LOG_INFO, &e), 0, "a world-writable file accepted");
	cr_expect(strstr(ky_error_msg(e), "writable by group or others"), "%s", ky_error_msg(e));
	_cleanup_free_ char *after = kyt_read_file(target);
	cr_assert_str_eq(after, "precious\n");
}

Test(log, nothing_reaches_stdout)
{
	int p[2];
	cr_assert_eq(pipe(p), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		dup2(p[1], 1);
		int null = open("/dev/null", 1);
		dup2(null, 2);
		ky_log_open("kytest", NULL, KY_LOG_DEBUG, NULL);
		ky_err("e", "x=1");
		ky_info("i", "x=2");
		ky_debug("d", "x=3");
		_exit(0);
	}
	close(p[1]);
	int status;
	waitpid(pid, &status, 0);
	char buf[16];
	cr_assert_eq(read(p[0], buf, sizeof(buf)), 0, "the logger wrote to stdout");
	close(p[0]);
}

Test(log, concurrent_processes_never_interleave_lines)
{
	enum { PROCS = 8, LINES = 200 };
	for (int i = 0; i < PROCS; i++) {
		pid_t pid = fork();
		cr_assert_geq(pid, 0);
		if (pid == 0) {
			ky_log_open("kytest", path, KY_LOG_INFO, NULL);
			for (int j = 0; j < LINES; j++)
				ky_info("spam", "proc=%d line=%d pad=%0200d", i, j, 0);
			_exit(0);
		}
	}
	for (int i = 0; i < PROCS; i++)
		wait(NULL);
	_cleanup_free_ char *s = kyt_read_file(path);
	cr_assert_eq(count_lines(s), PROCS * LINES);
	for (char *line = s; *line;) {
		char *nl = strchr(line, '\n');
		cr_assert(strncmp(line, "ts=", 3) == 0, "torn line");
		line = nl + 1;
	}
}

/* The core's directory watch: real inotify on a fresh temporary directory.
 * The filter sees each event with its name (NULL for the directory itself),
 * a burst of events that matter gives one `changed`, events that do not
 * give none, a removed directory is seen and can be watched again once
 * made again, and a retry calls `changed` again without any event. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kyborg/base/error.h"
#include "kyborg/loop/dir_watch.h"
#include "kyborg/loop/loop.h"
#include "kytest.h"
#include "kytest_loop.h"

static char *dir;
static struct ky_loop *loop;
static struct ky_dir_watch *watch;

struct seen {
	int events, changed;
	int self_gone; /* events with no name on the directory itself */
	char last_name[64];
	const char *wanted; /* the one name that matters */
	bool free_in_changed;
};
static struct seen seen;

static void setup(void)
{
	dir = kyt_tmpdir("kyt-dirwatch");
	cr_assert_not_null(dir);
	cr_assert_eq(ky_loop_new(&loop, NULL), 0);
	memset(&seen, 0, sizeof(seen));
}

static void teardown(void)
{
	ky_dir_watch_free(watch);
	watch = NULL;
	ky_loop_free(loop);
	loop = NULL;
	if (dir)
		kyt_rmrf(dir);
	free(dir);
	dir = NULL;
}

TestSuite(dir_watch, .init = setup, .fini = teardown);

static bool on_event(const char *name, uint32_t mask, void *userdata)
{
	struct seen *s = userdata;
	s->events++;
	if (!name) {
		if (mask & (IN_DELETE_SELF | IN_IGNORED))
			s->self_gone++;
		return mask & (IN_DELETE_SELF | IN_IGNORED | IN_Q_OVERFLOW);
	}
	snprintf(s->last_name, sizeof(s->last_name), "%s", name);
	return strcmp(name, s->wanted) == 0;
}

static void on_changed(struct ky_dir_watch *w, void *userdata)
{
	struct seen *s = userdata;
	s->changed++;
	if (s->free_in_changed) {
		ky_dir_watch_free(w);
		watch = NULL;
	}
}

/* Runs the loop for ms, however many callbacks come. */
static void run_for(int ms)
{
	kyt_loop_run_for(loop, ms);
}

/* Runs the loop until `changed` was called n times, within a deadline. */
static void run_until_changed(int n, int timeout_ms)
{
	uint64_t end = ky_loop_now_ms() + (uint64_t)timeout_ms;
	while (seen.changed < n && ky_loop_now_ms() < end)
		cr_assert_eq(ky_loop_run_once(loop, 10, NULL), 0);
	cr_assert_eq(seen.changed, n, "changed called %d times, not %d, within %d ms", seen.changed, n, timeout_ms);
}

static char *path_in(const char *name)
{
	char *p = NULL;
	cr_assert_geq(asprintf(&p, "%s/%s", dir, name), 0);
	return p;
}

static void start(uint32_t mask)
{
	cr_assert_eq(ky_dir_watch_new(loop, mask, on_event, on_changed, &seen, &watch, NULL), 0);
	cr_assert_eq(ky_dir_watch_add(watch, dir, NULL), 0);
}

Test(dir_watch, a_burst_of_events_that_matter_gives_one_change)
{
	seen.wanted = "kubelet.sock";
	start(IN_CREATE | IN_DELETE);
	_cleanup_free_ char *a = path_in("kubelet.sock");
	for (int i = 0; i < 5; i++) {
		cr_assert_eq(kyt_write_file(a, "x"), 0);
		cr_assert_eq(unlink(a), 0);
	}
	run_until_changed(1, 2000);
	cr_assert_geq(seen.events, 10, "every event reached the filter: %d", seen.events);
	cr_assert_str_eq(seen.last_name, "kubelet.sock");
	/* Nothing more comes of that burst. */
	run_for(50);
	cr_assert_eq(seen.changed, 1);
}

Test(dir_watch, events_the_filter_refuses_give_no_change)
{
	seen.wanted = "kubelet.sock";
	start(IN_CREATE | IN_DELETE);
	_cleanup_free_ char *other = path_in("other.sock");
	cr_assert_eq(kyt_write_file(other, "x"), 0);
	cr_assert_eq(unlink(other), 0);
	uint64_t end = ky_loop_now_ms() + 2000;
	while (seen.events < 2 && ky_loop_now_ms() < end)
		cr_assert_eq(ky_loop_run_once(loop, 10, NULL), 0);
	cr_assert_eq(seen.events, 2, "the filter saw the create and the delete");
	cr_assert_str_eq(seen.last_name, "other.sock");
	run_for(50);
	cr_assert_eq(seen.changed, 0);
}

Test(dir_watch, a_removed_directory_is_seen_and_watched_again_once_made_again)
{
	seen.wanted = "dra.sock";
	start(IN_DELETE | IN_DELETE_SELF);
	cr_assert_eq(rmdir(dir), 0);
	run_until_changed(1, 2000);
	cr_assert_geq(seen.self_gone, 1, "the filter saw the directory go, with no name");
	/* Made again, it must be added again; then its events come. */
	cr_assert_eq(mkdir(dir, 0700), 0);
	cr_assert_eq(ky_dir_watch_add(watch, dir, NULL), 0);
	_cleanup_free_ char *sock = path_in("dra.sock");
	cr_assert_eq(kyt_write_file(sock, "x"), 0);
	cr_assert_eq(unlink(sock), 0);
	run_until_changed(2, 2000);
}

Test(dir_watch, adding_a_missing_directory_names_it)
{
	_cleanup_error_ struct ky_error *err = NULL;
	_cleanup_free_ char *missing = path_in("missing");
	cr_assert_eq(ky_dir_watch_new(loop, IN_DELETE, on_event, on_changed, &seen, &watch, NULL), 0);
	cr_assert_lt(ky_dir_watch_add(watch, missing, &err), 0);
	cr_assert_not_null(strstr(ky_error_msg(err), missing), "%s", ky_error_msg(err));
}

Test(dir_watch, a_retry_calls_changed_again_without_an_event)
{
	seen.wanted = "x";
	start(IN_DELETE);
	uint64_t t0 = ky_loop_now_ms();
	ky_dir_watch_retry(watch, 30);
	run_until_changed(1, 2000);
	cr_assert_geq(ky_loop_now_ms() - t0, 30, "not before its delay");
	cr_assert_eq(seen.events, 0);
}

Test(dir_watch, changed_may_free_the_watch)
{
	seen.wanted = "gone";
	seen.free_in_changed = true;
	start(IN_CREATE);
	_cleanup_free_ char *p = path_in("gone");
	cr_assert_eq(kyt_write_file(p, "x"), 0);
	run_until_changed(1, 2000);
	cr_assert_null(watch);
	/* Later events reach nothing (ASan would name a use after free). */
	cr_assert_eq(unlink(p), 0);
	run_for(20);
	cr_assert_eq(seen.changed, 1);
}

/* The state store: atomic records, per-key locks across processes, corrupt
 * records, key validation. Concurrency is proven with real forked processes. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/json/json.h"
#include "kyborg/state/state_store.h"
#include "kytest.h"

enum { PROCS = 16 };

static char *dir;  /* the test's own temp directory */
static char *sdir; /* the store, dir/state, created by ky_state_open */

static void setup(void)
{
	dir = kyt_tmpdir("kytest-state");
	cr_assert_not_null(dir);
	cr_assert_geq(asprintf(&sdir, "%s/state", dir), 0);
}

static void teardown(void)
{
	kyt_rmrf(dir);
	free(sdir);
	free(dir);
}

TestSuite(state_store, .init = setup, .fini = teardown);

#define _cleanup_json_ _cleanup_(cJSON_Deletep)

static struct ky_state_store *open_store(void)
{
	struct ky_state_store *s = NULL;
	_cleanup_error_ struct ky_error *err = NULL;
	cr_assert_eq(ky_state_open(sdir, &s, &err), 0, "%s", ky_error_msg(err));
	return s;
}

static cJSON *obj_int(const char *k, int v)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, k, v);
	return o;
}

static int get_int(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsNumber(v) ? v->valueint : -1;
}

/* Entries of the store directory other than "." and "..". */
static int count_entries(void)
{
	DIR *d = opendir(sdir);
	if (!d)
		return -1;
	int n = 0;
	for (struct dirent *de; (de = readdir(d));)
		n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	closedir(d);
	return n;
}

static bool exists_in_store(const char *name)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", sdir, name);
	return access(p, F_OK) == 0;
}

static int put_raw(const char *name, const void *data, size_t len)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", sdir, name);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	ssize_t w = write(fd, data, len);
	close(fd);
	return w == (ssize_t)len ? 0 : -EIO;
}

/* Children return their exit code from fn and never come back. */
static pid_t spawn(int (*fn)(int), int arg)
{
	pid_t pid = fork();
	if (pid == 0)
		_exit(fn(arg));
	return pid;
}

/* Reaps every child; returns how many did not exit with 0. */
static int reap_all(const pid_t *pids, int n)
{
	int bad = 0;
	for (int i = 0; i < n; i++) {
		int status;
		if (pids[i] <= 0) {
			bad++;
			continue;
		}
		while (waitpid(pids[i], &status, 0) < 0)
			if (errno != EINTR)
				return bad + n - i;
		bad += !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	return bad;
}

/* Reads exactly n bytes unless EOF, an error or the deadline comes first. */
static size_t read_deadline(int fd, char *buf, size_t n, int timeout_ms)
{
	size_t got = 0;
	while (got < n) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, timeout_ms) <= 0)
			break;
		ssize_t r = read(fd, buf + got, n - got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	return got;
}

Test(state_store, round_trip_write_read_get_list_delete_leaves_nothing)
{
	_cleanup_(ky_state_closep) struct ky_state_store *s = open_store();
	_cleanup_error_ struct ky_error *err = NULL;
	struct ky_state_lock *l = NULL;
	const char *keys[] = { "net1:c0ffee:eth0", "alpha" };

	for (int i = 0; i < 2; i++) {
		cr_assert_eq(ky_state_lock(s, keys[i], 0, &l, &err), 0, "%s", ky_error_msg(err));
		cr_assert_str_eq(ky_state_lock_key(l), keys[i]);
		cJSON *none = NULL;
		cr_assert_eq(ky_state_read(l, &none, &err), -ENOENT);
		_cleanup_json_ cJSON *rec = obj_int("n", 40 + i);
		cr_assert_eq(ky_state_write(l, rec, &err), 0, "%s", ky_error_msg(err));
		_cleanup_json_ cJSON *back = NULL;
		cr_assert_eq(ky_state_read(l, &back, &err), 0, "%s", ky_error_msg(err));
		cr_assert_eq(get_int(back, "n"), 40 + i);
		ky_state_unlock(l);
	}

	_cleanup_json_ cJSON *got = NULL;
	cr_assert_eq(ky_state_get(s, "net1:c0ffee:eth0", &got, &err), 0, "%s", ky_error_msg(err));
	cr_assert_eq(get_int(got, "n"), 40);

	char **list = NULL;
	size_t n = 0;
	cr_assert_eq(ky_state_list(s, &list, &n, &err), 0, "%s", ky_error_msg(err));
	cr_assert_eq(n, 2);
	cr_assert_str_eq(list[0], "alpha");
	cr_assert_str_eq(list[1], "net1:c0ffee:eth0");
	ky_state_keys_free(list, n);

	struct stat st;
	cr_assert_eq(stat(sdir, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0700);
	char p[512];
	snprintf(p, sizeof(p), "%s/alpha.json", sdir);
	cr_assert_eq(stat(p, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0600);

	/* The durable removal and the atomic-only one remove alike. */
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(ky_state_lock(s, keys[i], 0, &l, &err), 0, "%s", ky_error_msg(err));
		cr_assert_eq((i == 0 ? ky_state_delete : ky_state_delete_fast)(l, &err), 0, "%s", ky_error_msg(err));
		ky_state_unlock(l);
	}
	cr_assert_eq(count_entries(), 0, "lock or temp files were left behind");
	cJSON *none = NULL;
	cr_assert_eq(ky_state_get(s, "alpha", &none, &err), -ENOENT);
	cr_assert_eq(ky_state_list(s, &list, &n, &err), 0);
	cr_assert_eq(n, 0);
	cr_assert_null(list);
}

Test(state_store, probing_an_absent_key_leaves_no_lock_file)
{
	_cleanup_(ky_state_closep) struct ky_state_store *s = open_store();
	_cleanup_error_ struct ky_error *err = NULL;
	struct ky_state_lock *l = NULL;
	cr_assert_eq(ky_state_lock(s, "ghost", 0, &l, &err), 0, "%s", ky_error_msg(err));
	cr_assert(exists_in_store(".ghost.lock"));
	cJSON *none = NULL;
	cr_assert_eq(ky_state_read(l, &none, &err), -ENOENT);
	cr_assert(strstr(ky_error_msg(err), "ghost.json"), "%s", ky_error_msg(err));
	cr_assert_eq(ky_state_delete(l, &err), 0, "deleting an absent record is not an error");
	ky_state_unlock(l);
	cr_assert_eq(count_entries(), 0);
}

/* KY_STATE_EXISTING: clean up a lock file a dead holder left, never create one. */
Test(state_store, existing_only_lock_creates_nothing_and_clears_a_leftover)
{
	_cleanup_(ky_state_closep) struct ky_state_store *s = open_store();
	_cleanup_error_ struct ky_error *err = NULL;
	struct ky_state_lock *l = NULL, *l2 = NULL;
	cr_assert_eq(ky_state_lock(s, "ghost", KY_STATE_EXISTING, &l, &err), -ENOENT);
	cr_assert(strstr(ky_error_msg(err), "ghost"), "%s", ky_error_msg(err));
	cr_assert_null(l);
	cr_assert_eq(count_entries(), 0, "a lock file was created");

	cr_assert_eq(put_raw(".left.lock", "", 0), 0);
	cr_assert_eq(ky_state_lock(s, "left", KY_STATE_EXISTING | KY_STATE_NONBLOCK, &l, &err), 0, "%s",
		     ky_error_msg(err));
	cr_assert_eq(ky_state_lock(s, "left", KY_STATE_EXISTING | KY_STATE_NONBLOCK, &l2, NULL), -EWOULDBLOCK,
		     "two holders of one key");
	ky_state_unlock(l);
	cr_assert_eq(count_entries(), 0, "the leftover lock file survived");
}

Test(state_store, write_refuses_a_record_that_is_not_an_object)
{
	_cleanup_(ky_state_closep) struct ky_state_store *s = open_store();
	_cleanup_error_ struct ky_error *err = NULL;
	_cleanup_(ky_state_unlockp) struct ky_state_lock *l = NULL;
	_cleanup_json_ cJSON *arr = cJSON_CreateArray();
	cr_assert_eq(ky_state_lock(s, "k", 0, &l, &err), 0);
	cr_assert_eq(ky_state_write(l, arr, &err), -EINVAL);
	cr_assert_not(exists_in_store("k.json"));
	cr_assert_not(exists_in_store(".k.tmp"));
}

static int increment_child(int rounds)
{
	struct ky_state_store *s = NULL;
	if (ky_state_open(sdir, &s, NULL) < 0)
		return 10;
	for (int i = 0; i < rounds; i++) {
		struct ky_state_lock *l = NULL;
		cJSON *rec = NULL;
		if (ky_state_lock(s, "counter", 0, &l, NULL) < 0)
			return 11;
		int r = ky_state_read(l, &rec, NULL);
		if (r < 0 && r != -ENOENT)
			return 12;
		int v = r == -ENOENT ? 0 : get_int(rec, "v");
		cJSON_Delete(rec);
		rec = obj_int("v", v + 1);
		if (ky_state_write(l, rec, NULL) < 0)
			return 13;
		cJSON_Delete(rec);
		ky_state_unlock(l);
	}
	ky_state_close(s);
	return 0;
}

Test(state_store, concurrent_writers_on_one_key_serialise)
{
	enum { ROUNDS = 40 };
	pid_t pids[PROCS];
	for (int i = 0; i < PROCS; i++)
		pids[i] = spawn(increment_child, ROUNDS);
	cr_assert_eq(reap_all(pids, PROCS), 0, "a writer failed");

	_cleanup_(ky_state_closep) struct ky_state_store *s = open_store();
	_cleanup_json_ cJSON *rec = NULL;
	cr_assert_eq(ky_state_get(s, "counter", &rec, NULL), 0);
	cr_assert_eq(get_int(rec, "v"), PROCS * ROUNDS, "lost updates: the lock did not serialise");
}

/* The ready pipe tells the parent a child holds its lock; closing the go
 * pipe's write end lets the children go. Each child closes the ends it does
 * not use, or the go pipe would never reach EOF. */
static int ready[2] = { -1, -1 }, go[2] = { -1, -1 };

static void child_pipe_ends(void)
{
	close(ready[0]);
	close(go[1]);
}

/* Waits for the go pipe's EOF, bounded so a broken parent cannot hang us. */
static void wait_for_go(void)
{
	char c;
	while (read_deadline(go[0], &c, 1, 30000) == 1)
		;
}

/* Locks its own key, says so, waits for the parent's go, then writes. */
static int own_key_child(int i)
{
	char key[32];
	struct ky_state_store *s = NULL;
	struct ky_state_lock *l = NULL;
	child_pipe_ends();
	snprintf(key, sizeof(key), "pod-%d", i);
	if (ky_state_open(sdir, &s, NULL) < 0 || ky_state_lock(s, key, 0, &l, NULL) < 0)
		return 10;
	if (write(ready[1], "L", 1) != 1)
		return 11;
	wait_for_go();
	for (int n = 0; n < 10; n++) {
		cJSON *rec = obj_int("i", i);
		cJSON_AddNumberToObject(rec, "n", n);
		if (ky_state_write(l, rec, NULL) < 0)
			return 13;
		cJSON_Delete(rec);
	}
	ky_state_unlock(l);
	return 0;
}

Test(state_store, processes_on_different_keys_hold_their_locks_at_once)
{
	cr_assert_eq(pipe2(ready, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(go, O_CLOEXEC), 0);
	pid_t pids[PROCS];
	for (int i = 0; i < PROCS; i++)
		pids[i] = spawn(own_key_child, i);
	close(ready[1]);
	close(go[0]);
	char buf[PROCS];
	/* Every child holds its key before any lets go: no serialisation. */
	size_t holders = read_deadline(ready[0], buf, PROCS, 20000);
	close(go[1]);
	int bad = reap_all(pids, PROCS);
	close(ready[0]);
	cr_assert_eq(holders, PROCS, "only %zu of %d keys were held at once", holders, PROCS);
	cr_assert_eq(bad, 0);

	_cleanup_(ky_state_closep) struct ky_state_store *s = open_store();
	for (int i = 0; i < PROCS; i++) {
		char key[32];
		snprintf(key, sizeof(key), "pod-%d", i);
		_cleanup_json_ cJSON *rec = NULL;
		cr_assert_eq(ky_state_get(s, key, &rec, NULL), 0);
		cr_assert_eq(get_int(rec, "i"), i);
		cr_assert_eq(get_int(rec, "n"), 9);
	}
}

/* Holds key A until the parent closes its end of the go pipe. */
static int hold_a_child(int unused)
{
	(void)unused;
	struct ky_state_store *s = NULL;
	struct ky_state_lock *l = NULL;
	child_pipe_ends();
	if (ky_state_open(sdir, &s, NULL) < 0 || ky_state_lock(s, "A", 0, &l, NULL) < 0)
		return 10;
	if (write(ready[1], "L", 1) != 1)
		return 11;
	wait_for_go();
	return 0; /* exiting releases the lock */
}

Test(state_store, nonblocking_lock_fails_only_on_the_held_key)
{
	cr_assert_eq(pipe2(ready, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(go, O_CLOEXEC), 0);
	pid_t pid = spawn(hold_a_child, 0);
	close(ready[1]);
	close(go[0]);

	_cleanup_(ky_state_closep) struct ky_state_store *s = open_store();
	_cleanup_error_ struct ky_error *err = NULL;
	struct ky_state_lock *la = NULL, *lb = NULL;
	char c = 0;
	size_t held = read_deadline(ready[0], &c, 1, 20000);
	int rb = held ? ky_state_lock(s, "B", KY_STATE_NONBLOCK, &lb, NULL) : -1;
	int ra = held ? ky_state_lock(s, "A", KY_STATE_NONBLOCK, &la, &err) : -1;
	close(go[1]);
	int bad = reap_all(&pid, 1);
	close(ready[0]);

	cr_assert_eq(held, 1, "the child never took key A");
	cr_assert_eq(bad, 0);
	cr_assert_eq(rb, 0, "key B waited on key A");
	ky_state_unlock(lb);
	cr_assert_eq(ra, -EWOULDBLOCK, "two holders of key A");
	cr_assert(strstr(ky_error_msg(err), "state key A "), "%s", ky_error_msg(err));
	cr_assert_eq(ky_state_lock(s, "A", KY_STATE_NONBLOCK, &la, &err), 0, "a dead holder kept key A");
	ky_state_unlock(la);
}

Test(state_store, second_lock_of_a_key_in_one_process_is_refused_too)
{
	_cleanup_(ky_state_closep) struct ky_state_store *s = open_store();
	_cleanup_(ky_state_unlockp) struct ky_state_lock *l1 = NULL;
	struct ky_state_lock *l2 = NULL;
	cr_assert_eq(ky_state_lock(s, "k", 0, &l1, NULL), 0);
	cr_assert_eq(ky_state_lock(s, "k", KY_STATE_NONBLOCK, &l2, NULL), -EWOULDBLOCK);
}

/* The writer under test: the durable write or the atomic-only one. */
static int write_with(bool fast, struct ky_state_lock *l, const cJSON *rec, struct ky_error **err)
{
	return fast ? ky_state_write_fast(l, rec, err) : ky_state_write(l, rec, err);
}

static int killed_writer_child(int fast)
{
	struct ky_state_store *s = NULL;
	struct ky_state_lock *l = NULL;
	if (ky_state_open(sdir, &s, NULL) < 0 || ky_state_lock(s, "k", 0, &l, NULL) < 0)
		return 10;
	setenv("KYBORG_FAULT", "before-rename", 1);
	write_with(fast, l, obj_int("v", 2), NULL);
	return 11; /* the fault point should have killed us */
}

/* SIGKILL between the temp file and the rename, for either write: the old
 * record stays whole and readable, the dead writer's lock and temp file do
 * not outlive it, and both writes replace the record afterwards alike. */
static void check_killed_writer(bool fast)
{
	_cleanup_(ky_state_closep) struct ky_state_store *s = open_store();
	_cleanup_error_ struct ky_error *err = NULL;
	struct ky_state_lock *l = NULL;
	_cleanup_json_ cJSON *v1 = obj_int("v", 1);
	cr_assert_eq(ky_state_lock(s, "k", 0, &l, &err), 0);
	cr_assert_eq(write_with(fast, l, v1, &err), 0, "%s", ky_error_msg(err));
	ky_state_unlock(l);
	cr_assert_not(exists_in_store(".k.tmp"), "a write left its temp file");

	pid_t pid = spawn(killed_writer_child, fast);
	int status = 0;
	cr_assert_gt(pid, 0);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "writer was not killed: status %#x", status);
	cr_assert(exists_in_store(".k.tmp"), "the writer died before writing its temp file");

	_cleanup_json_ cJSON *old = NULL;
	cr_assert_eq(ky_state_get(s, "k", &old, &err), 0, "%s", ky_error_msg(err));
	cr_assert_eq(get_int(old, "v"), 1);

	cr_assert_eq(ky_state_lock(s, "k", KY_STATE_NONBLOCK, &l, &err), 0, "the dead writer kept the lock");
	cr_assert_not(exists_in_store(".k.tmp"), "the dead writer's temp file survived a new lock");
	_cleanup_json_ cJSON *v3 = obj_int("v", 3);
	cr_assert_eq(write_with(fast, l, v3, &err), 0, "%s", ky_error_msg(err));
	_cleanup_json_ cJSON *now = NULL;
	cr_assert_eq(ky_state_read(l, &now, &err), 0);
	cr_assert_eq(get_int(now, "v"), 3);
	_cleanup_json_ cJSON *v4 = obj_int("v", 4);
	cr_assert_eq(write_with(!fast, l, v4, &err), 0, "%s", ky_error_msg(err));
	_cleanup_json_ cJSON *last = NULL;
	cr_assert_eq(ky_state_read(l, &last, &err), 0);
	ky_state_unlock(l);
	cr_assert_eq(get_int(last, "v"), 4);
	cr_assert_not(exists_in_store(".k.tmp"));
}

Test(state_store, killed_writer_leaves_old_record)
{
	check_killed_writer(false);
}

Test(state_store, killed_fast_writer_leaves_old_record)
{
	check_killed_writer(true);
}

Test(state_store, fast_write_refuses_a_record_that_is_not_an_object)
{
	_cleanup_(ky_state_closep) struct ky_state_store *s = open_store();
	_cleanup_error_ struct ky_error *err = NULL;
	_cleanup_(ky_state_unlockp) struct ky_state_lock *l = NULL;
	_cleanup_json_ cJSON *arr = cJSON_CreateArray();
	cr_assert_eq(ky_state_lock(s, "k", 0, &l, &err), 0);
	cr_assert_eq(ky_state_write_fast(l, arr, &err), -EINVAL);
	cr_assert_not(exists_in_store("k.json"));
	cr_assert_not(exists_in_store(".k.tmp"));
}

Test(state_store, corrupt_record_is_reported_with_its_path)
{
	static const struct {
		const char *what;
		const char *data;
		size_t len;
	} cases[] = {
		{ "garbage bytes", "\x7f" "ELF\x00\x01\xff\xfe", 8 },
		{ "empty file", "", 0 },
		{ "truncated JSON", "{\"ifname\": \"net1\", \"steps\": [", 29 },
		{ "an array", "[1, 2]", 6 },
		{ "a string", "\"x\"", 3 },
		{ "a number", "42", 2 },
		{ "null", "null", 4 },
		{ "trailing garbage", "{\"a\": 1} junk", 13 },
	};
	_cleanup_(ky_state_closep) struct ky_state_store *s = open_store();
	char path[512];
	snprintf(path, sizeof(path), "%s/bad.json", sdir);
	for (size_t i = 0; i < KY_ARRAY_SIZE(cases); i++) {
		cr_assert_eq(put_raw("bad.json", cases[i].data, cases[i].len), 0);
		_cleanup_error_ struct ky_error *err = NULL;
		cJSON *rec = NULL;
		cr_assert_eq(ky_state_get(s, "bad", &rec, &err), -EBADMSG, "%s was accepted", cases[i].what);
		cr_assert_null(rec);
		cr_assert(strstr(ky_error_msg(err), "corrupt state record"), "%s", ky_error_msg(err));
		cr_assert(strstr(ky_error_msg(err), path), "%s: no path in \"%s\"", cases[i].what, ky_error_msg(err));

		struct ky_state_lock *l = NULL;
		cr_assert_eq(ky_state_lock(s, "bad", 0, &l, NULL), 0);
		int r = ky_state_read(l, &rec, NULL);
		ky_state_unlock(l);
		cr_assert_eq(r, -EBADMSG, "%s was accepted under the lock", cases[i].what);
	}
	char **keys = NULL;
	size_t n = 0;
	cr_assert_eq(ky_state_list(s, &keys, &n, NULL), 0);
	bool listed = n == 1 && strcmp(keys[0], "bad") == 0;
	ky_state_keys_free(keys, n);
	cr_assert(listed, "a corrupt record was dropped from the list");
}

Test(state_store, invalid_keys_are_rejected_with_their_name)
{
	char too_long[KY_STATE_KEY_MAX + 2];
	memset(too_long, 'k', sizeof(too_long) - 1);
	too_long[sizeof(too_long) - 1] = '\0';
	const char *bad[] = { "", "a/b", "..", "../x", ".", ".hidden", "a b", "tab\tkey", "nl\n", "del\x7f",
			      "caf\xc3\xa9", "x*", too_long };
	_cleanup_(ky_state_closep) struct ky_state_store *s = open_store();
	for (size_t i = 0; i < KY_ARRAY_SIZE(bad); i++) {
		_cleanup_error_ struct ky_error *err = NULL;
		struct ky_state_lock *l = NULL;
		cJSON *rec = NULL;
		cr_assert_not(ky_state_key_valid(bad[i]), "\"%s\" was valid", bad[i]);
		cr_assert_eq(ky_state_lock(s, bad[i], 0, &l, &err), -EINVAL, "\"%s\" was locked", bad[i]);
		cr_assert(strstr(ky_error_msg(err), "invalid state key \""), "%s", ky_error_msg(err));
		char prefix[33];
		snprintf(prefix, sizeof(prefix), "%s", bad[i]);
		if (strspn(prefix, "abcdefghijklmnopqrstuvwxyz./k ") == strlen(prefix))
			cr_assert(strstr(ky_error_msg(err), prefix), "key not named: %s", ky_error_msg(err));
		cr_assert_eq(ky_state_get(s, bad[i], &rec, NULL), -EINVAL);
	}
	cr_assert_not(ky_state_key_valid(NULL));
	cr_assert_eq(count_entries(), 0, "an invalid key created a file");

	char longest[KY_STATE_KEY_MAX + 1];
	memset(longest, 'k', sizeof(longest) - 1);
	longest[sizeof(longest) - 1] = '\0';
	const char *good[] = { "net1:c0ffee@eth0", "a-b.c_d", "a..b", "x.", "A9", longest };
	for (size_t i = 0; i < KY_ARRAY_SIZE(good); i++) {
		_cleanup_error_ struct ky_error *err = NULL;
		struct ky_state_lock *l = NULL;
		_cleanup_json_ cJSON *rec = obj_int("i", (int)i), *back = NULL;
		cr_assert(ky_state_key_valid(good[i]), "\"%s\" was invalid", good[i]);
		cr_assert_eq(ky_state_lock(s, good[i], 0, &l, &err), 0, "%s", ky_error_msg(err));
		int r = ky_state_write(l, rec, &err);
		ky_state_unlock(l);
		cr_assert_eq(r, 0, "%s", ky_error_msg(err));
		cr_assert_eq(ky_state_get(s, good[i], &back, &err), 0, "%s", ky_error_msg(err));
		cr_assert_eq(get_int(back, "i"), (int)i);
	}
	char **keys = NULL;
	size_t n = 0;
	cr_assert_eq(ky_state_list(s, &keys, &n, NULL), 0);
	ky_state_keys_free(keys, n);
	cr_assert_eq(n, KY_ARRAY_SIZE(good));
}

Test(state_store, list_ignores_temp_lock_and_foreign_files)
{
	_cleanup_(ky_state_closep) struct ky_state_store *s = open_store();
	struct ky_state_lock *l = NULL;
	_cleanup_json_ cJSON *rec = obj_int("v", 1);
	cr_assert_eq(ky_state_lock(s, "real", 0, &l, NULL), 0);
	cr_assert_eq(ky_state_write(l, rec, NULL), 0);
	ky_state_unlock(l);
	const char *junk[] = { ".k.tmp", ".k.lock", "README", "bad key.json", ".hidden.json", "x.json.bak", ".json" };
	for (size_t i = 0; i < KY_ARRAY_SIZE(junk); i++)
		cr_assert_eq(put_raw(junk[i], "{}", 2), 0);
	char **keys = NULL;
	size_t n = 0;
	cr_assert_eq(ky_state_list(s, &keys, &n, NULL), 0);
	bool only_real = n == 1 && strcmp(keys[0], "real") == 0;
	ky_state_keys_free(keys, n);
	cr_assert(only_real, "list returned %zu keys", n);
}

enum { BIG = 256 * 1024, REWRITES = 60 };

static cJSON *big_record(int seq)
{
	_cleanup_free_ char *pad = malloc(BIG + 1);
	if (!pad)
		return NULL;
	memset(pad, 'a' + seq % 26, BIG);
	pad[BIG] = '\0';
	cJSON *o = obj_int("seq", seq);
	cJSON_AddStringToObject(o, "pad", pad);
	return o;
}

/* fast: 1 rewrites with ky_state_write_fast, 0 with ky_state_write. */
static int rewriter_child(int fast)
{
	struct ky_state_store *s = NULL;
	if (ky_state_open(sdir, &s, NULL) < 0)
		return 10;
	for (int i = 1; i <= REWRITES; i++) {
		struct ky_state_lock *l = NULL;
		cJSON *rec = big_record(i);
		if (!rec || ky_state_lock(s, "big", 0, &l, NULL) < 0 ||
		    (fast ? ky_state_write_fast(l, rec, NULL) : ky_state_write(l, rec, NULL)) < 0)
			return 11;
		ky_state_unlock(l);
		cJSON_Delete(rec);
	}
	return 0;
}

/* A whole record: the pad has the length and letter its seq says. */
static bool record_whole(const cJSON *rec, int *seq)
{
	const cJSON *pad = cJSON_GetObjectItemCaseSensitive(rec, "pad");
	*seq = get_int(rec, "seq");
	if (*seq < 0 || !cJSON_IsString(pad) || strlen(pad->valuestring) != BIG)
		return false;
	for (const char *p = pad->valuestring; *p; p++)
		if (*p != 'a' + *seq % 26)
			return false;
	return true;
}

static void readers_never_see_a_torn_record_of(int fast)
{
	_cleanup_(ky_state_closep) struct ky_state_store *s = open_store();
	struct ky_state_lock *l = NULL;
	_cleanup_json_ cJSON *first = big_record(0);
	cr_assert_eq(ky_state_lock(s, "big", 0, &l, NULL), 0);
	cr_assert_eq(ky_state_write(l, first, NULL), 0);
	ky_state_unlock(l);

	pid_t pid = spawn(rewriter_child, fast);
	int reads = 0, torn = 0, changes = 0, last = 0, status = 0;
	bool done = false;
	_cleanup_error_ struct ky_error *err = NULL;
	for (; !done && reads < 200000 && pid > 0; reads++) {
		done = waitpid(pid, &status, WNOHANG) == pid;
		cJSON *rec = NULL;
		int seq = -1;
		if (ky_state_get(s, "big", &rec, &err) < 0 || !record_whole(rec, &seq))
			torn++;
		cJSON_Delete(rec);
		changes += seq != last;
		last = seq;
	}
	if (pid > 0 && !done) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	cr_assert_eq(torn, 0, "%d of %d reads saw a torn record: %s", torn, reads, ky_error_msg(err));
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the rewriter failed");
	cr_assert_eq(last, REWRITES, "the reader stopped before the last rewrite");
	cr_assert_geq(changes, 2, "reads never overlapped the rewrites");
}

Test(state_store, readers_never_see_a_torn_record)
{
	readers_never_see_a_torn_record_of(0);
}

/* The fast write gives up durability, not atomicity. */
Test(state_store, readers_never_see_a_torn_fast_written_record)
{
	readers_never_see_a_torn_record_of(1);
}

static int churn_child(int id)
{
	char marker[512];
	snprintf(marker, sizeof(marker), "%s/holder", dir);
	struct ky_state_store *s = NULL;
	if (ky_state_open(sdir, &s, NULL) < 0)
		return 10;
	for (int i = 0; i < 150; i++) {
		struct ky_state_lock *l = NULL;
		if (ky_state_lock(s, "churn", 0, &l, NULL) < 0)
			return 11;
		int fd = open(marker, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0)
			return errno == EEXIST ? 20 : 12; /* 20: two holders at once */
		close(fd);
		/* Mostly deletes, so unlock mostly unlinks the lock file under waiters. */
		if ((i + id) % 4 == 0) {
			cJSON *rec = obj_int("id", id);
			if (ky_state_write(l, rec, NULL) < 0)
				return 13;
			cJSON_Delete(rec);
		} else if (ky_state_delete(l, NULL) < 0) {
			return 14;
		}
		if (unlink(marker) < 0)
			return 15;
		ky_state_unlock(l);
	}
	return 0;
}

Test(state_store, lock_file_deletion_never_allows_two_holders)
{
	pid_t pids[PROCS];
	for (int i = 0; i < PROCS; i++)
		pids[i] = spawn(churn_child, i);
	cr_assert_eq(reap_all(pids, PROCS), 0, "a process failed or two held the key at once");

	_cleanup_(ky_state_closep) struct ky_state_store *s = open_store();
	struct ky_state_lock *l = NULL;
	cr_assert_eq(ky_state_lock(s, "churn", 0, &l, NULL), 0);
	cr_assert_eq(ky_state_delete(l, NULL), 0);
	ky_state_unlock(l);
	cr_assert_eq(count_entries(), 0, "lock or temp files leaked");
}

Test(state_store, open_of_a_non_directory_path_reports_the_path)
{
	char file[512], under[600];
	snprintf(file, sizeof(file), "%s/plain", dir);
	snprintf(under, sizeof(under), "%s/sub/state", file);
	cr_assert_eq(kyt_write_file(file, "x"), 0);
	const char *paths[] = { file, under };
	for (size_t i = 0; i < KY_ARRAY_SIZE(paths); i++) {
		_cleanup_error_ struct ky_error *err = NULL;
		struct ky_state_store *s = NULL;
		cr_assert_eq(ky_state_open(paths[i], &s, &err), -ENOTDIR, "%s", ky_error_msg(err));
		cr_assert(strstr(ky_error_msg(err), paths[i]), "no path in \"%s\"", ky_error_msg(err));
	}
}

Test(state_store, open_of_an_unwritable_path_reports_the_path)
{
	/* Root passes permission checks, so use a place no one may create in. */
	const char *path = "/proc/kyborg-state-test/state";
	_cleanup_error_ struct ky_error *err = NULL;
	struct ky_state_store *s = NULL;
	cr_assert_lt(ky_state_open(path, &s, &err), 0);
	cr_assert(strstr(ky_error_msg(err), path), "no path in \"%s\"", ky_error_msg(err));
	cr_assert(strstr(ky_error_msg(err), "create state directory"), "%s", ky_error_msg(err));

	if (geteuid() != 0) {
		char ro[512], inside[600];
		snprintf(ro, sizeof(ro), "%s/ro", dir);
		snprintf(inside, sizeof(inside), "%s/state", ro);
		cr_assert_eq(mkdir(ro, 0500), 0);
		ky_error_clear(&err);
		cr_assert_eq(ky_state_open(inside, &s, &err), -EACCES, "%s", ky_error_msg(err));
		cr_assert(strstr(ky_error_msg(err), inside));
	}
}

/* Issue 14: records are written and locked by root; the directory is
 * never reached through a symlink (its target would get them) and never
 * one that others can write. */
Test(state_store, a_directory_that_is_a_symlink_or_not_roots_alone_is_refused)
{
	char real[600], link[600], shared[600], file[600];
	snprintf(real, sizeof(real), "%s/real", dir);
	snprintf(link, sizeof(link), "%s/link", dir);
	snprintf(shared, sizeof(shared), "%s/shared", dir);
	snprintf(file, sizeof(file), "%s/file", dir);
	cr_assert_eq(mkdir(real, 0700), 0);
	cr_assert_eq(symlink(real, link), 0);
	cr_assert_eq(mkdir(shared, 0700), 0);
	cr_assert_eq(chmod(shared, 0770), 0);
	cr_assert_eq(kyt_write_file(file, ""), 0);
	const char *const paths[] = { link, shared, file };
	const int want[] = { -ELOOP, -EPERM, -ENOTDIR };
	for (size_t i = 0; i < 3; i++) {
		_cleanup_error_ struct ky_error *err = NULL;
		struct ky_state_store *s = NULL;
		cr_expect_eq(ky_state_open(paths[i], &s, &err), want[i], "%s: %s", paths[i], ky_error_msg(err));
		cr_expect(strstr(ky_error_msg(err), paths[i]), "%s", ky_error_msg(err));
		ky_state_close(s);
	}
	_cleanup_error_ struct ky_error *err = NULL;
	struct ky_state_store *s = NULL;
	cr_assert_eq(ky_state_open(real, &s, &err), 0, "%s", ky_error_msg(err));
	ky_state_close(s);
}

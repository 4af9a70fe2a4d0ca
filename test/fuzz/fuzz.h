/* What every libFuzzer target of test/fuzz shares: a checked assertion that
 * aborts (libFuzzer then saves the input), a NUL-terminated copy of the
 * input, logs sent nowhere, and the properties every document our JSON
 * decoder accepts must have, checked here independently of the decoder. */
#pragma once

#include <cjson/cJSON.h>
#include <errno.h>
#include <pthread.h>
#include <unistd.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kyborg/base/error.h"
#include "kyborg/base/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define FUZZ_ASSERT(cond, ...)                                                              \
	do {                                                                                \
		if (!(cond)) {                                                              \
			fprintf(stderr, "FUZZ ASSERTION FAILED at %s:%d: %s: ", __FILE__, __LINE__, \
				#cond);                                                     \
			fprintf(stderr, __VA_ARGS__);                                       \
			fputc('\n', stderr);                                                \
			abort();                                                            \
		}                                                                           \
	} while (0)

/* An open finding in code the harness's author may not change (it lives
 * in another module's files): test/fuzz/crashes/README.md names it, its
 * input sits in test/fuzz/crashes/<target>/. Inputs that would hit it are
 * skipped so fuzzing goes on past it, unless KYBORG_FUZZ_KNOWN=1 (which
 * reproduces it); the guard goes once the finding is fixed, and its input
 * joins the corpus. */
static inline bool fuzz_skip_known(const char *finding)
{
	(void)finding;
	static int reproduce = -1;
	if (reproduce < 0) {
		const char *v = getenv("KYBORG_FUZZ_KNOWN");
		reproduce = v && strcmp(v, "1") == 0;
	}
	return !reproduce;
}

/* The next piece of a stream fed in the chunks the input chose: sizes
 * chunks[0..n_chunks) by turns (a 0 taken as 1), or all that is left when
 * none were chosen; never more than left. *k counts the pieces taken. */
static inline size_t fuzz_next_chunk(const uint8_t *chunks, size_t n_chunks, size_t *k, size_t left)
{
	size_t take = n_chunks ? chunks[(*k)++ % n_chunks] : left;
	if (take == 0)
		take = 1;
	return take < left ? take : left;
}

/* The input as a C string (it may hold NULs of its own). */
static inline char *fuzz_strndup(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	FUZZ_ASSERT(s, "out of memory");
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* The code paths that log run, formatting every field, into a file of
 * their own: the log refuses anything but a regular file of root's (not
 * /dev/null), so it is an unlinked file on /dev/shm, emptied every second
 * so a long run does not fill memory. */
static void *fuzz_log_trimmer(void *arg)
{
	int fd = (int)(intptr_t)arg;
	for (;;) {
		sleep(1);
		if (ftruncate(fd, 0) < 0)
			abort();
	}
	return NULL;
}

static inline void fuzz_quiet_logs(void)
{
	char path[] = "/dev/shm/kyborg-fuzz-log.XXXXXX";
	int fd = mkstemp(path);
	FUZZ_ASSERT(fd >= 0, "mkstemp %s: %s", path, strerror(errno));
	struct ky_error *err = NULL;
	FUZZ_ASSERT(ky_log_open("kyborg-fuzz", path, KY_LOG_DEBUG, &err) == 0, "log: %s", ky_error_msg(err));
	unlink(path);
	pthread_t t;
	FUZZ_ASSERT(pthread_create(&t, NULL, fuzz_log_trimmer, (void *)(intptr_t)fd) == 0, "thread");
	pthread_detach(t);
}

/* Every object's names are unique, at every depth (issue 14: cJSON keeps
 * the first of two, Go the last). The names of each object are sorted so a
 * large object stays cheap. Returns the first repeated name found, or NULL. */
static int fuzz_name_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static inline const char *fuzz_repeated_name(const cJSON *j)
{
	if (!cJSON_IsObject(j) && !cJSON_IsArray(j))
		return NULL;
	size_t n = 0;
	for (const cJSON *e = j->child; e; e = e->next)
		n++;
	const char *found = NULL;
	if (cJSON_IsObject(j) && n > 1) {
		const char **names = calloc(n, sizeof(*names));
		FUZZ_ASSERT(names, "out of memory");
		size_t i = 0;
		for (const cJSON *e = j->child; e; e = e->next)
			names[i++] = e->string ? e->string : "";
		qsort(names, n, sizeof(*names), fuzz_name_cmp);
		for (i = 1; i < n && !found; i++)
			if (strcmp(names[i - 1], names[i]) == 0)
				found = names[i];
		free(names);
	}
	for (const cJSON *e = j->child; e && !found; e = e->next)
		found = fuzz_repeated_name(e);
	return found;
}

static inline void fuzz_assert_unique_names(const cJSON *j)
{
	const char *name = fuzz_repeated_name(j);
	FUZZ_ASSERT(!name, "accepted a repeated name \"%s\"", name);
}

/* No byte below 0x20 inside a string token of accepted text, and none
 * outside one but JSON's four whitespace bytes (RFC 8259; a raw NUL cut
 * "kysec-a<NUL>../../x" to "kysec-a"), and no "\u0000" escape either.
 * Returns the offset of the first such byte (or escape), or -1; *what says
 * which it is. */
static inline long fuzz_raw_control(const uint8_t *t, size_t len, const char **what)
{
	bool in = false;
	for (size_t i = 0; i < len; i++) {
		uint8_t c = t[i];
		if (in && c == '\\') {
			if (i + 1 >= len) {
				*what = "a string ending in a backslash";
				return (long)i;
			}
			if (i + 5 < len && memcmp(t + i + 1, "u0000", 5) == 0) {
				*what = "\\u0000 in a string";
				return (long)i;
			}
			i++;
			continue;
		}
		if (c == '"') {
			in = !in;
		} else if (in && c < 0x20) {
			*what = "a raw control byte in a string";
			return (long)i;
		} else if (!in && c < 0x20 && c != ' ' && c != '\t' && c != '\n' && c != '\r') {
			*what = "a raw control byte between tokens";
			return (long)i;
		}
	}
	return -1;
}

static inline void fuzz_assert_no_raw_controls(const uint8_t *t, size_t len)
{
	const char *what = NULL;
	long at = fuzz_raw_control(t, len, &what);
	FUZZ_ASSERT(at < 0, "accepted %s (byte 0x%02x) at offset %ld", what, t[at], at);
}

/* Both of the above, for text the decoder accepted as doc. */
static inline void fuzz_assert_decoded(const uint8_t *t, size_t len, const cJSON *doc)
{
	fuzz_assert_no_raw_controls(t, len);
	fuzz_assert_unique_names(doc);
}

/* Whether cJSON alone would take the text (all of it) although it breaks
 * one of the rules above: such text must be refused as undecodable. */
static inline bool fuzz_json_flawed(const uint8_t *t, size_t len)
{
	const char *what;
	const char *end = NULL;
	cJSON *j = cJSON_ParseWithLengthOpts((const char *)t, len, &end, false);
	if (!j)
		return false;
	/* What trails the value must be whitespace for the text to be JSON. */
	bool whole = true;
	for (const char *p = end; p < (const char *)t + len && whole; p++)
		whole = *p == ' ' || *p == '\t' || *p == '\n' || *p == '\r';
	bool flawed = whole && (fuzz_repeated_name(j) || fuzz_raw_control(t, len, &what) >= 0);
	cJSON_Delete(j);
	return flawed;
}

/* A state record's text as the state store reads it (state_store.c's
 * read_record: no NUL byte, cJSON with nothing after the value, an object),
 * or NULL where the store refuses it itself (-EBADMSG). */
static inline cJSON *fuzz_store_parse(const uint8_t *t, size_t len)
{
	if (len == 0 || memchr(t, 0, len))
		return NULL;
	char *s = malloc(len + 1);
	FUZZ_ASSERT(s, "out of memory");
	memcpy(s, t, len);
	s[len] = '\0';
	const char *end = NULL;
	cJSON *doc = cJSON_ParseWithOpts(s, &end, 1);
	free(s);
	if (doc && !cJSON_IsObject(doc)) {
		cJSON_Delete(doc);
		doc = NULL;
	}
	return doc;
}

/* What every libFuzzer target of test/fuzz shares: a checked assertion that
 * aborts (libFuzzer then saves the input), a NUL-terminated copy of the
 * input, logs sent nowhere, and the properties every document our JSON
 * decoder accepts must have, checked here independently of the decoder. */
#pragma once

#include <cjson/cJSON.h>
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

/* The input as a C string (it may hold NULs of its own). */
static inline char *fuzz_strndup(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	FUZZ_ASSERT(s, "out of memory");
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* The code paths that log run, formatting every field, into /dev/null. */
static inline void fuzz_quiet_logs(void)
{
	if (ky_log_open("kyborg-fuzz", "/dev/null", KY_LOG_DEBUG, NULL) < 0)
		abort();
}

/* Every object's names are unique, at every depth (issue 14: cJSON keeps
 * the first of two, Go the last). The names of each object are sorted so a
 * large object stays cheap. */
static int fuzz_name_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static inline void fuzz_assert_unique_names(const cJSON *j)
{
	if (!cJSON_IsObject(j) && !cJSON_IsArray(j))
		return;
	size_t n = 0;
	for (const cJSON *e = j->child; e; e = e->next)
		n++;
	if (cJSON_IsObject(j) && n > 1) {
		const char **names = calloc(n, sizeof(*names));
		FUZZ_ASSERT(names, "out of memory");
		size_t i = 0;
		for (const cJSON *e = j->child; e; e = e->next)
			names[i++] = e->string ? e->string : "";
		qsort(names, n, sizeof(*names), fuzz_name_cmp);
		for (i = 1; i < n; i++)
			FUZZ_ASSERT(strcmp(names[i - 1], names[i]) != 0, "accepted a repeated name \"%s\"", names[i]);
		free(names);
	}
	for (const cJSON *e = j->child; e; e = e->next)
		fuzz_assert_unique_names(e);
}

/* No byte below 0x20 inside a string token of accepted text, and none
 * outside one but JSON's four whitespace bytes (RFC 8259; a raw NUL cut
 * "kysec-a<NUL>../../x" to "kysec-a"), and no "\u0000" escape either. */
static inline void fuzz_assert_no_raw_controls(const uint8_t *t, size_t len)
{
	bool in = false;
	for (size_t i = 0; i < len; i++) {
		uint8_t c = t[i];
		if (in && c == '\\') {
			FUZZ_ASSERT(i + 1 < len, "accepted a string ending in a backslash");
			FUZZ_ASSERT(!(i + 5 < len && memcmp(t + i + 1, "u0000", 5) == 0),
				    "accepted \\u0000 in a string at offset %zu", i);
			i++;
			continue;
		}
		if (c == '"')
			in = !in;
		else if (in)
			FUZZ_ASSERT(c >= 0x20, "accepted raw byte 0x%02x in a string at offset %zu", c, i);
		else
			FUZZ_ASSERT(c >= 0x20 || c == ' ' || c == '\t' || c == '\n' || c == '\r',
				    "accepted raw byte 0x%02x between tokens at offset %zu", c, i);
	}
}

/* Both of the above, for text the decoder accepted as doc. */
static inline void fuzz_assert_decoded(const uint8_t *t, size_t len, const cJSON *doc)
{
	fuzz_assert_no_raw_controls(t, len);
	fuzz_assert_unique_names(doc);
}

/* Small string helpers, in the manner of systemd's string-util.h. */
#pragma once

#include <stddef.h>
#include <stdbool.h>
#include <stddef.h>

/* Replaces every `from` in s with `to`, in place. Returns s (NULL stays
 * NULL, so it can wrap an allocation: ky_str_replace_char(strdup(x), ...)). */
char *ky_str_replace_char(char *s, char from, char to);

/* The edit distance between a and b ignoring ASCII case: insertions,
 * deletions, substitutions and swaps of two neighbours count one each
 * (optimal string alignment), so "vlna" is 1 from "vlan". Strings longer
 * than KY_STR_DISTANCE_MAX bytes, and distances past it, count as
 * KY_STR_DISTANCE_MAX + 1: callers ask "how near", never "how far". */
#define KY_STR_DISTANCE_MAX 64
unsigned ky_str_distance_nocase(const char *a, const char *b);
/* Whether path lies in the directory dir (absolute; trailing '/' allowed)
 * as written: dir, '/', then one or more components none of which is
 * empty, "." or "..". Pure: symlinks are the caller's to refuse. */
bool ky_path_beneath(const char *path, const char *dir);

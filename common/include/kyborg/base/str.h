/* Small string helpers, in the manner of systemd's string-util.h. */
#pragma once

#include <stdbool.h>

/* Replaces every `from` in s with `to`, in place. Returns s (NULL stays
 * NULL, so it can wrap an allocation: ky_str_replace_char(strdup(x), ...)). */
char *ky_str_replace_char(char *s, char from, char to);

/* Whether path lies in the directory dir (absolute; trailing '/' allowed)
 * as written: dir, '/', then one or more components none of which is
 * empty, "." or "..". Pure: symlinks are the caller's to refuse. */
bool ky_path_beneath(const char *path, const char *dir);

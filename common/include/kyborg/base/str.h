/* Small string helpers, in the manner of systemd's string-util.h. */
#pragma once

/* Replaces every `from` in s with `to`, in place. Returns s (NULL stays
 * NULL, so it can wrap an allocation: ky_str_replace_char(strdup(x), ...)). */
char *ky_str_replace_char(char *s, char from, char to);

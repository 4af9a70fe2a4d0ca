/* Reading whole small inputs: a config on stdin, a state record. */
#pragma once

#include <stddef.h>

/* Reads fd to its end into *out (malloc'd, NUL-terminated; *len bytes
 * without the NUL). -EFBIG when it holds more than max bytes, -errno on a
 * read error; *out is untouched on failure. */
int ky_read_all(int fd, size_t max, char **out, size_t *len);

/* Small string helpers. */
#include "kyborg/base/str.h"

#include <stddef.h>
#include <string.h>

char *ky_str_replace_char(char *s, char from, char to)
{
	for (char *c = s; c && *c; c++)
		if (*c == from)
			*c = to;
	return s;
}

bool ky_path_beneath(const char *path, const char *dir)
{
	if (!path || !dir || dir[0] != '/')
		return false;
	size_t n = strlen(dir);
	while (n > 1 && dir[n - 1] == '/')
		n--;
	if (n == 1)
		n = 0; /* "/": every absolute path is beneath it */
	if (strncmp(path, dir, n) != 0 || path[n] != '/')
		return false;
	for (const char *c = path + n + 1;;) {
		const char *end = strchr(c, '/');
		size_t len = end ? (size_t)(end - c) : strlen(c);
		if (len == 0 || (len == 1 && c[0] == '.') || (len == 2 && c[0] == '.' && c[1] == '.'))
			return false;
		if (!end)
			return true;
		c = end + 1;
	}
}

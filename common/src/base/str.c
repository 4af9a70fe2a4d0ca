/* Small string helpers. */
#include "kyborg/base/str.h"

#include <ctype.h>
#include <stddef.h>
#include <string.h>

char *ky_str_replace_char(char *s, char from, char to)
{
	for (char *c = s; c && *c; c++)
		if (*c == from)
			*c = to;
	return s;
}

static unsigned min3(unsigned a, unsigned b, unsigned c)
{
	unsigned m = a < b ? a : b;
	return m < c ? m : c;
}

unsigned ky_str_distance_nocase(const char *a, const char *b)
{
	size_t n = strnlen(a, KY_STR_DISTANCE_MAX + 1), m = strnlen(b, KY_STR_DISTANCE_MAX + 1);
	if (n > KY_STR_DISTANCE_MAX || m > KY_STR_DISTANCE_MAX)
		return KY_STR_DISTANCE_MAX + 1;
	/* Three rows of the dynamic-programming table: two back for swaps. */
	unsigned rows[3][KY_STR_DISTANCE_MAX + 1];
	unsigned *prev2 = rows[0], *prev = rows[1], *cur = rows[2];
	for (size_t j = 0; j <= m; j++)
		prev[j] = (unsigned)j;
	for (size_t i = 1; i <= n; i++) {
		cur[0] = (unsigned)i;
		int ca = tolower((unsigned char)a[i - 1]);
		for (size_t j = 1; j <= m; j++) {
			int cb = tolower((unsigned char)b[j - 1]);
			cur[j] = min3(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb));
			if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) &&
			    tolower((unsigned char)a[i - 2]) == cb && prev2[j - 2] + 1 < cur[j])
				cur[j] = prev2[j - 2] + 1;
		}
		unsigned *t = prev2;
		prev2 = prev;
		prev = cur;
		cur = t;
	}
	return prev[m] > KY_STR_DISTANCE_MAX ? KY_STR_DISTANCE_MAX + 1 : prev[m];
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

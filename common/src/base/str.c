/* Small string helpers. */
#include "kyborg/base/str.h"

#include <stddef.h>

char *ky_str_replace_char(char *s, char from, char to)
{
	for (char *c = s; c && *c; c++)
		if (*c == from)
			*c = to;
	return s;
}

/* Resource quantities as exact nano-unit integers, for comparing what the
 * API server canonicalised with what the driver sent. */
#include "dra_quantity.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Far below __int128's 1.7e38, so one more multiplication by 10 or 1024
 * is checked without overflowing. */
#define LIMIT ((dra_quantity)1 << 120)

static int mul(dra_quantity *v, dra_quantity by)
{
	dra_quantity a = *v < 0 ? -*v : *v;
	if (a && by > LIMIT / a)
		return -ERANGE;
	*v *= by;
	return 0;
}

static int suffix(const char *s, int *exp10, int *pow1024)
{
	static const struct {
		const char *s;
		int exp10, pow1024;
	} table[] = {
		{ "", 0, 0 },	{ "n", -9, 0 }, { "u", -6, 0 },	 { "m", -3, 0 },  { "k", 3, 0 },   { "M", 6, 0 },
		{ "G", 9, 0 },	{ "T", 12, 0 }, { "P", 15, 0 },	 { "E", 18, 0 },  { "Ki", 0, 1 },  { "Mi", 0, 2 },
		{ "Gi", 0, 3 }, { "Ti", 0, 4 }, { "Pi", 0, 5 }, { "Ei", 0, 6 },
	};
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		if (!strcmp(s, table[i].s)) {
			*exp10 = table[i].exp10;
			*pow1024 = table[i].pow1024;
			return 0;
		}
	}
	/* An exponent: e3, E-2, e+6. */
	if (*s != 'e' && *s != 'E')
		return -EINVAL;
	s++;
	int sign = 1;
	if (*s == '+' || *s == '-')
		sign = *s++ == '-' ? -1 : 1;
	if (!*s)
		return -EINVAL;
	int e = 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		e = e * 10 + (*s - '0');
		if (e > 100)
			return -ERANGE;
	}
	*exp10 = sign * e;
	*pow1024 = 0;
	return 0;
}

int dra_quantity_parse(const char *s, dra_quantity *out)
{
	if (!s || !*s)
		return -EINVAL;
	bool neg = false;
	if (*s == '+' || *s == '-')
		neg = *s++ == '-';
	dra_quantity v = 0;
	int frac = 0, digits = 0;
	bool dot = false;
	for (; (*s >= '0' && *s <= '9') || *s == '.'; s++) {
		if (*s == '.') {
			if (dot)
				return -EINVAL;
			dot = true;
			continue;
		}
		if (mul(&v, 10) < 0)
			return -ERANGE;
		v += *s - '0';
		digits++;
		frac += dot;
	}
	if (!digits)
		return -EINVAL;
	int exp10, pow1024;
	int r = suffix(s, &exp10, &pow1024);
	if (r < 0)
		return r;
	for (int i = 0; i < pow1024; i++)
		if (mul(&v, 1024) < 0)
			return -ERANGE;
	int scale = 9 + exp10 - frac;
	for (; scale > 0; scale--)
		if (mul(&v, 10) < 0)
			return -ERANGE;
	if (scale < 0) {
		/* Finer than a nano-unit: the server rounds up. */
		dra_quantity div = 1;
		for (; scale < 0 && div < LIMIT; scale++)
			div *= 10;
		v = v / div + (v % div != 0);
	}
	*out = neg ? -v : v;
	return 0;
}

char *dra_quantity_nano_string(dra_quantity q, char *buf, size_t size)
{
	char tmp[48];
	size_t i = sizeof(tmp);
	tmp[--i] = '\0';
	bool neg = q < 0;
	unsigned __int128 u = neg ? -(unsigned __int128)q : (unsigned __int128)q;
	do {
		tmp[--i] = (char)('0' + (int)(u % 10));
		u /= 10;
	} while (u && i > 1);
	if (neg)
		tmp[--i] = '-';
	snprintf(buf, size, "%s", &tmp[i]);
	return buf;
}

bool dra_quantity_equal(const char *a, const char *b)
{
	dra_quantity x, y;
	if (dra_quantity_parse(a, &x) < 0 || dra_quantity_parse(b, &y) < 0)
		return a && b && !strcmp(a, b);
	return x == y;
}

/* Kubernetes resource quantities as the DRA driver reads them
 * (dra/dra_quantity.c): the capacities it publishes come back from the API
 * server in canonical form ("1024Mi" as "1Gi") and must compare equal, or
 * every slice is written again on every pass.
 *
 * Input: a quantity, and after a NUL another one. Checked against a
 * reference written here another way (decimal digit strings: the mantissa
 * times 1024 per binary power, the point moved by the exponent, the rest
 * rounded up as the API server rounds finer than a nano-unit): validity,
 * the exact value in nano-units, and -ERANGE only for values or mantissas
 * of some 36 digits and more, counting a binary suffix as 3 digits per
 * power of 1024 (the parser's limit, far beyond any device's); the nano-unit string reads back as the same value; a sign
 * flips it; equality is reflexive and symmetric. */
#include "dra_quantity.h"
#include "fuzz.h"
#include "kyborg/base/cleanup.h"

#define MAX_DIGITS 512

/* The number `d` (decimal digits, most significant first, n of them) in
 * place times m (m < 2^20). */
static size_t times_small(char *d, size_t n, unsigned m)
{
	unsigned long carry = 0;
	for (size_t i = n; i-- > 0;) {
		unsigned long v = (unsigned long)(d[i] - '0') * m + carry;
		d[i] = (char)('0' + v % 10);
		carry = v / 10;
	}
	while (carry) {
		memmove(d + 1, d, n);
		d[0] = (char)('0' + carry % 10);
		carry /= 10;
		n++;
	}
	return n;
}

/* 0 and the value in nano-units as a decimal string (with its sign) in
 * out; -EINVAL for no quantity; -ERANGE where the parser may give up. */
static int reference(const char *s, char *out, size_t size)
{
	static const struct {
		const char *s;
		int exp10, pow1024;
	} suffixes[] = { { "", 0, 0 },	 { "n", -9, 0 }, { "u", -6, 0 }, { "m", -3, 0 }, { "k", 3, 0 },	{ "M", 6, 0 },
			 { "G", 9, 0 },	 { "T", 12, 0 }, { "P", 15, 0 }, { "E", 18, 0 }, { "Ki", 0, 1 }, { "Mi", 0, 2 },
			 { "Gi", 0, 3 }, { "Ti", 0, 4 }, { "Pi", 0, 5 }, { "Ei", 0, 6 } };
	bool neg = false;
	if (*s == '+' || *s == '-')
		neg = *s++ == '-';
	char digits[MAX_DIGITS * 2];
	size_t n = 0, frac = 0, seen = 0;
	bool dot = false;
	for (; (*s >= '0' && *s <= '9') || (*s == '.' && !dot); s++) {
		if (*s == '.') {
			dot = true;
			continue;
		}
		seen++;
		if (n == 0 && *s == '0') { /* leading zeros say nothing */
			frac += dot;
			continue;
		}
		if (n >= MAX_DIGITS)
			return -ERANGE;
		digits[n++] = *s;
		frac += dot;
	}
	if (*s == '.')
		return -EINVAL; /* a second point */
	if (!seen)
		return -EINVAL;
	int exp10 = 0, pow1024 = 0;
	size_t k;
	for (k = 0; k < sizeof(suffixes) / sizeof(suffixes[0]); k++)
		if (!strcmp(s, suffixes[k].s))
			break;
	if (k < sizeof(suffixes) / sizeof(suffixes[0])) {
		exp10 = suffixes[k].exp10;
		pow1024 = suffixes[k].pow1024;
	} else if (*s == 'e' || *s == 'E') {
		const char *e = s + 1;
		int sign = 1;
		if (*e == '+' || *e == '-')
			sign = *e++ == '-' ? -1 : 1;
		if (!*e)
			return -EINVAL;
		long v = 0;
		for (; *e; e++) {
			if (*e < '0' || *e > '9')
				return -EINVAL;
			/* An exponent past 100 is out of range whatever follows. */
			if ((v = v * 10 + (*e - '0')) > 100)
				return -ERANGE;
		}
		exp10 = sign * (int)v;
	} else {
		return -EINVAL;
	}
	if (n == 0) {
		snprintf(out, size, "0");
		return 0;
	}
	/* Significant digits the parser holds at once: the mantissa's, times
	 * 1024s, then the shift. Past some 36 it may give up. */
	for (int i = 0; i < pow1024; i++)
		n = times_small(digits, n, 1024);
	long shift = 9L + exp10 - (long)frac;
	bool round_up = false;
	if (shift >= 0) {
		if (n + (size_t)shift >= MAX_DIGITS)
			return -ERANGE;
		memset(digits + n, '0', (size_t)shift);
		n += (size_t)shift;
	} else {
		size_t cut = (size_t)-shift;
		size_t keep = cut >= n ? 0 : n - cut;
		for (size_t i = keep; i < n; i++)
			round_up |= digits[i] != '0';
		n = keep;
		if (n == 0)
			digits[n++] = '0';
		if (round_up) {
			size_t i = n;
			while (i > 0 && digits[i - 1] == '9')
				digits[--i] = '0';
			if (i == 0) {
				memmove(digits + 1, digits, n++);
				digits[0] = '1';
			} else {
				digits[i - 1]++;
			}
		}
	}
	size_t lead = 0;
	while (lead + 1 < n && digits[lead] == '0')
		lead++;
	bool zero = n - lead == 1 && digits[lead] == '0';
	snprintf(out, size, "%s%.*s", neg && !zero ? "-" : "", (int)(n - lead), digits + lead);
	return 0;
}

/* Digits a value or mantissa has (how far from the parser's limit). */
static size_t magnitude(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += *s >= '0' && *s <= '9';
	return n;
}

/* The power of 1024 of a binary suffix (Ki 1 ... Ei 6), else 0. */
static size_t binary_power(const char *s)
{
	static const char prefixes[] = "KMGTPE";
	size_t n = strlen(s);
	const char *p = n >= 2 && s[n - 1] == 'i' && s[n - 2] ? strchr(prefixes, s[n - 2]) : NULL;
	return p ? (size_t)(p - prefixes) + 1 : 0;
}

static void check_one(const char *s)
{
	dra_quantity q;
	char buf[48], want[MAX_DIGITS * 2 + 2];
	int r = dra_quantity_parse(s, &q);
	int w = reference(s, want, sizeof(want));
	if (w == -EINVAL) {
		/* A mantissa past the parser's limit is refused before the rest. */
		FUZZ_ASSERT(r == -EINVAL || (r == -ERANGE && magnitude(s) >= 35), "\"%s\" is no quantity, parsed as %d",
			    s, r);
		FUZZ_ASSERT(dra_quantity_equal(s, s), "\"%s\" does not equal itself", s);
		return;
	}
	if (r == -ERANGE) {
		/* The parser multiplies the mantissa by a binary suffix before
		 * it moves the point, so a long mantissa times Ei (about 10^18)
		 * may pass its limit though the value would not. */
		FUZZ_ASSERT(w == -ERANGE || magnitude(want) >= 35 || magnitude(s) + 3 * binary_power(s) >= 35,
			    "\"%s\" (%s nano) refused as out of range", s, want);
		return;
	}
	FUZZ_ASSERT(r == 0, "\"%s\" is a quantity (%s nano), parse returned %d", s, want, r);
	FUZZ_ASSERT(w == 0, "\"%s\" parsed, the reference says %d", s, w);
	dra_quantity_nano_string(q, buf, sizeof(buf));
	FUZZ_ASSERT(strcmp(buf, want) == 0, "\"%s\" is %s nano-units, parsed as %s", s, want, buf);

	/* The nano-unit string is a quantity of the same value. */
	char nano[64];
	snprintf(nano, sizeof(nano), "%sn", buf);
	dra_quantity back;
	int rb = dra_quantity_parse(nano, &back);
	FUZZ_ASSERT((rb == 0 && back == q) || (rb == -ERANGE && magnitude(buf) >= 35), "%s reads back as %d", nano, rb);
	FUZZ_ASSERT(dra_quantity_equal(s, s), "\"%s\" does not equal itself", s);
	if (rb == 0)
		FUZZ_ASSERT(dra_quantity_equal(s, nano) && dra_quantity_equal(nano, s), "\"%s\" and %s differ", s, nano);
	if (s[0] != '-' && s[0] != '+') {
		char minus[600];
		dra_quantity m;
		if ((size_t)snprintf(minus, sizeof(minus), "-%s", s) < sizeof(minus))
			FUZZ_ASSERT(dra_quantity_parse(minus, &m) == 0 && m == -q, "\"%s\" is not minus \"%s\"", minus, s);
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 512)
		return 0;
	_cleanup_free_ char *s = fuzz_strndup(data, size);
	const char *a = s, *b = memchr(data, 0, size) ? s + strlen(s) + 1 : NULL;
	check_one(a);
	if (b) {
		check_one(b);
		FUZZ_ASSERT(dra_quantity_equal(a, b) == dra_quantity_equal(b, a), "\"%s\" = \"%s\" is not symmetric", a, b);
	}
	return 0;
}

/* JSON printed the way Go's encoding/json.Marshal prints a map
 * (kyborg/json/json.h): what a Go program wrote, byte for byte. */
#include "kyborg/json/json.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The length of the valid UTF-8 sequence at s (1..4), 0 when invalid. */
static size_t utf8_len(const unsigned char *s, uint32_t *cp)
{
	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	size_t n = s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 && s[0] < 0xe0 ? 2 : 0;
	if (!n)
		return 0;
	uint32_t v = s[0] & (0x7f >> n);
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		v = (v << 6) | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates and values past U+10FFFF are invalid. */
	if ((n == 3 && v < 0x800) || (n == 4 && (v < 0x10000 || v > 0x10ffff)) || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return n;
}

static void put_string(FILE *f, const char *str)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)str;
	fputc('"', f);
	while (*s) {
		uint32_t cp;
		size_t n = utf8_len(s, &cp);
		if (n == 0) {
			fputs("\\ufffd", f);
			s++;
			continue;
		}
		if (n > 1) {
			if (cp == 0x2028 || cp == 0x2029)
				fprintf(f, "\\u%04x", cp);
			else
				fwrite(s, 1, n, f);
			s += n;
			continue;
		}
		unsigned char c = *s++;
		switch (c) {
		case '"':
		case '\\':
			fputc('\\', f);
			fputc(c, f);
			break;
		case '\b':
			fputs("\\b", f);
			break;
		case '\f':
			fputs("\\f", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		default:
			if (c < 0x20 || c == '<' || c == '>' || c == '&')
				fprintf(f, "\\u00%c%c", hex[c >> 4], hex[c & 0xf]);
			else
				fputc(c, f);
		}
	}
	fputc('"', f);
}

static int cmp_key(const void *a, const void *b)
{
	return strcmp((*(const cJSON *const *)a)->string, (*(const cJSON *const *)b)->string);
}

static int put(FILE *f, const cJSON *j)
{
	if (cJSON_IsObject(j)) {
		size_t n = (size_t)cJSON_GetArraySize(j), i = 0;
		const cJSON **kids = calloc(n + 1, sizeof(*kids));
		if (!kids)
			return -1;
		for (const cJSON *c = j->child; c; c = c->next)
			kids[i++] = c;
		qsort(kids, n, sizeof(*kids), cmp_key);
		fputc('{', f);
		int r = 0;
		for (i = 0; i < n && r == 0; i++) {
			if (i)
				fputc(',', f);
			put_string(f, kids[i]->string);
			fputc(':', f);
			r = put(f, kids[i]);
		}
		fputc('}', f);
		free(kids);
		return r;
	}
	if (cJSON_IsArray(j)) {
		fputc('[', f);
		for (const cJSON *c = j->child; c; c = c->next) {
			if (c != j->child)
				fputc(',', f);
			if (put(f, c) < 0)
				return -1;
		}
		fputc(']', f);
	} else if (cJSON_IsString(j)) {
		put_string(f, j->valuestring);
	} else if (cJSON_IsNumber(j)) {
		double v = j->valuedouble;
		if (v > -9007199254740992.0 && v < 9007199254740992.0 && (double)(long long)v == v)
			fprintf(f, "%lld", (long long)v);
		else
			fprintf(f, "%.17g", v);
	} else if (cJSON_IsTrue(j)) {
		fputs("true", f);
	} else if (cJSON_IsFalse(j)) {
		fputs("false", f);
	} else {
		fputs("null", f);
	}
	return 0;
}

char *ky_json_print_go(const cJSON *j)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return NULL;
	int r = put(f, j);
	if (fclose(f) != 0 || r < 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

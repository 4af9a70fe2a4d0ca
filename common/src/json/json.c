/* JSON configuration: decoding with line and column in errors, nodes that
 * carry their path, and the lookups of fields, objects and arrays. */
#include "kyborg/json/json.h"
#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest path segment: '[' + a key quoted in 200 bytes + ']', or "[i]". */
#define KEY_SHOWN_MAX 200
#define SEG_MAX (KEY_SHOWN_MAX + 3)

/* ---- Messages ---- */

static bool utf8_cont(unsigned char c)
{
	return (c & 0xc0) == 0x80;
}

/* The escaped form of the character at p, in piece; returns what follows. */
static const unsigned char *escape_one(const unsigned char *p, char piece[8], size_t *len)
{
	size_t n = 0;
	if (*p == '"' || *p == '\\') {
		piece[n++] = '\\';
		piece[n++] = (char)*p++;
	} else if (*p == '\n' || *p == '\t') {
		piece[n++] = '\\';
		piece[n++] = *p++ == '\n' ? 'n' : 't';
	} else if (*p < 0x20 || *p == 0x7f) {
		n = (size_t)snprintf(piece, 8, "\\u%04x", *p++);
	} else {
		/* A UTF-8 sequence travels whole, so a cut never splits a character. */
		piece[n++] = (char)*p++;
		while (n < 4 && utf8_cont(*p))
			piece[n++] = (char)*p++;
	}
	*len = n;
	return p;
}

char *ky_json_quote(const char *s, char *buf, size_t size)
{
	if (size < 3) {
		if (size)
			buf[0] = '\0';
		return buf;
	}
	const unsigned char *in = (const unsigned char *)(s ? s : "");
	char piece[8];
	size_t len, total = 2, room = size - 1; /* bytes before the NUL */
	for (const unsigned char *p = in; *p && total <= room;) {
		p = escape_one(p, piece, &len);
		total += len;
	}
	/* Keep room for the closing quote and, when it does not all fit, "...". */
	bool dots = total > room && room >= 5;
	size_t limit = room - 1 - (dots ? 3 : 0), o = 0;
	buf[o++] = '"';
	for (const unsigned char *p = in; *p;) {
		p = escape_one(p, piece, &len);
		if (o + len > limit)
			break;
		memcpy(buf + o, piece, len);
		o += len;
	}
	if (dots) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

const char *ky_json_quote_controls(const char *s, char *buf, size_t size)
{
	for (const unsigned char *c = (const unsigned char *)(s ? s : ""); *c; c++)
		if (*c < 0x20 || *c == 0x7f)
			return ky_json_quote(s, buf, size);
	return s ? s : "";
}

static int failv(const char *path, struct ky_error **err, const char *fmt, va_list ap)
{
	char *msg = NULL;
	if (vasprintf(&msg, fmt, ap) < 0)
		return ky_error_set(err, ENOMEM, "out of memory reporting a bad field at %s", path);
	int r = *path ? ky_error_set(err, EINVAL, "%s: %s", path, msg) : ky_error_set(err, EINVAL, "%s", msg);
	free(msg);
	return r;
}

__attribute__((format(printf, 3, 4))) static int fail(const char *path, struct ky_error **err, const char *fmt,
						      ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = failv(path, err, fmt, ap);
	va_end(ap);
	return r;
}

int ky_json_error(const struct ky_jnode *node, struct ky_error **err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = failv(node->path, err, fmt, ap);
	va_end(ap);
	return r;
}

const char *ky_json_type_name(const cJSON *j)
{
	if (!j)
		return "nothing";
	switch (j->type & 0xff) {
	case cJSON_NULL:
		return "null";
	case cJSON_False:
	case cJSON_True:
		return "boolean";
	case cJSON_Number:
		return "number";
	case cJSON_String:
		return "string";
	case cJSON_Array:
		return "array";
	case cJSON_Object:
		return "object";
	default:
		return "raw JSON";
	}
}

static int expected(const struct ky_jnode *n, const char *what, struct ky_error **err)
{
	return fail(n->path, err, "expected %s, got %s", what, ky_json_type_name(n->j));
}

/* ---- Decoding ---- */

enum scan_problem { SCAN_NONE, SCAN_DEEP, SCAN_NUL, SCAN_CONTROL_IN_STRING, SCAN_CONTROL };

static bool json_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Finds, in text[0, len), the first of: a bracket that nests deeper than
 * KY_JSON_MAX_DEPTH, a "\u0000" escape inside a string, or a raw control
 * byte (below 0x20) inside a string or, other than JSON's whitespace,
 * outside one. cJSON takes all of those: it stops at its nesting limit
 * without saying why, ends a string at \u0000 or at a raw NUL (so
 * "kysec-a<NUL>../../x" would read as "kysec-a"), and skips any byte up to
 * 0x20 as whitespace. RFC 8259 allows none of them. Sets *at to the offset. */
static enum scan_problem scan(const char *t, size_t len, size_t *at)
{
	size_t depth = 0;
	bool in_string = false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)t[i];
		*at = i;
		if (in_string) {
			if (c == '"') {
				in_string = false;
			} else if (c < 0x20) {
				return SCAN_CONTROL_IN_STRING;
			} else if (c == '\\' && i + 1 < len) {
				if (t[i + 1] == 'u' && i + 5 < len && memcmp(t + i + 2, "0000", 4) == 0)
					return SCAN_NUL;
				i++;
			}
		} else if (c == '"') {
			in_string = true;
		} else if (c < 0x20 && !json_space((char)c)) {
			return SCAN_CONTROL;
		} else if (c == '[' || c == '{') {
			if (++depth > KY_JSON_MAX_DEPTH)
				return SCAN_DEEP;
		} else if ((c == ']' || c == '}') && depth > 0) {
			depth--;
		}
	}
	return SCAN_NONE;
}

/* "cannot decode JSON at line L column C: <why>", columns in characters. */
__attribute__((format(printf, 5, 6))) static int decode_fail(const char *text, size_t len, size_t at,
							     struct ky_error **err, const char *fmt, ...)
{
	unsigned long line = 1, col = 1;
	for (size_t i = 0; i < at && i < len; i++) {
		if (text[i] == '\n')
			line++, col = 1;
		else if (!utf8_cont((unsigned char)text[i]))
			col++;
	}
	char why[160];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return ky_error_set(err, EINVAL, "cannot decode JSON at line %lu column %lu: %s", line, col, why);
}

/* The problem scan() found at `at`, as a decoding error. */
static int scan_fail(const char *text, size_t len, enum scan_problem p, size_t at, struct ky_error **err)
{
	switch (p) {
	case SCAN_DEEP:
		return decode_fail(text, len, at, err, "nested deeper than %d levels", KY_JSON_MAX_DEPTH);
	case SCAN_NUL:
		return decode_fail(text, len, at, err, "\\u0000 is not allowed in a string");
	case SCAN_CONTROL_IN_STRING:
		return decode_fail(text, len, at, err, "control character U+%04X in a string (it must be escaped)",
				   (unsigned char)text[at]);
	default:
		return decode_fail(text, len, at, err, "control character U+%04X outside a string",
				   (unsigned char)text[at]);
	}
}

/* Up to 20 bytes of the input from `at`, to the end of the line, quoted. */
static const char *near(const char *text, size_t len, size_t at, char *buf, size_t size)
{
	char snip[24];
	size_t n = 0;
	while (at + n < len && n < 20 && text[at + n] != '\n' && text[at + n] != '\0')
		n++;
	while (n > 0 && at + n < len && utf8_cont((unsigned char)text[at + n]))
		n--;
	memcpy(snip, text + at, n);
	snip[n] = '\0';
	return ky_json_quote(snip, buf, size);
}

/* ---- Duplicate keys ----
 * cJSON keeps every member and its lookups return the first of a name;
 * Go's decoder (libcni, Multus, kubelet) keeps the last. One document
 * read two ways is refused instead, in every object at every depth. */

/* A node on the way down from the root: enough to name it once a
 * duplicate is found, without building a path per node. */
struct walk {
	const cJSON *j;
	size_t index;
	const struct walk *up;
};

struct member {
	const char *key;
	size_t index;
};

static int member_cmp(const void *a, const void *b)
{
	const struct member *x = a, *y = b;
	int c = strcmp(x->key, y->key);
	return c ? c : x->index < y->index ? -1 : x->index > y->index;
}

/* The member of obj (n of them) whose name repeats an earlier one, the
 * first such in document order; NULL when every name is unique. *index is
 * its position. -ENOMEM through *r. */
static const cJSON *first_repeat(const cJSON *obj, size_t n, size_t *index, int *r)
{
	*r = 0;
	if (n <= 16) {
		size_t j = 0;
		for (const cJSON *b = obj->child; b; b = b->next, j++)
			for (const cJSON *a = obj->child; a != b; a = a->next)
				if (strcmp(a->string ? a->string : "", b->string ? b->string : "") == 0) {
					*index = j;
					return b;
				}
		return NULL;
	}
	_cleanup_free_ struct member *m = calloc(n, sizeof(*m));
	if (!m) {
		*r = -ENOMEM;
		return NULL;
	}
	size_t k = 0;
	for (const cJSON *e = obj->child; e && k < n; e = e->next, k++)
		m[k] = (struct member){ e->string ? e->string : "", k };
	qsort(m, k, sizeof(*m), member_cmp);
	/* In a run of equal names sorted by position, the second is where the
	 * name first repeats. */
	size_t best = SIZE_MAX;
	for (size_t i = 1; i < k; i++)
		if (strcmp(m[i].key, m[i - 1].key) == 0 && (i < 2 || strcmp(m[i - 1].key, m[i - 2].key) != 0) &&
		    m[i].index < best)
			best = m[i].index;
	if (best == SIZE_MAX)
		return NULL;
	const cJSON *e = obj->child;
	for (size_t i = 0; i < best; i++)
		e = e->next;
	*index = best;
	return e;
}

/* "runtimeConfig.deviceID: duplicate field", as ky_json_check_keys says it. */
static int dup_fail(const struct walk *w, const cJSON *member, size_t index, struct ky_error **err)
{
	size_t depth = 0;
	for (const struct walk *p = w; p->up; p = p->up)
		depth++;
	_cleanup_free_ const struct walk **chain = calloc(depth + 1, sizeof(*chain));
	if (!chain)
		return ky_error_set(err, ENOMEM, "cannot decode JSON: out of memory");
	size_t d = depth;
	for (const struct walk *p = w; p->up; p = p->up)
		chain[--d] = p;
	const struct walk *root = w;
	while (root->up)
		root = root->up;
	struct ky_jnode node, next;
	ky_json_root(root->j, &node);
	for (size_t i = 0; i < depth; i++) {
		ky_json_elem(&node, chain[i]->j, chain[i]->index, &next);
		node = next;
	}
	ky_json_elem(&node, member, index, &next);
	return ky_error_set(err, EINVAL, "%s: duplicate field", next.path);
}

static int check_unique(const struct walk *w, struct ky_error **err)
{
	const cJSON *j = w->j;
	if (!cJSON_IsObject(j) && !cJSON_IsArray(j))
		return 0;
	size_t n = 0;
	for (const cJSON *e = j->child; e; e = e->next)
		n++;
	if (cJSON_IsObject(j) && n > 1) {
		size_t index;
		int r;
		const cJSON *dup = first_repeat(j, n, &index, &r);
		if (r < 0)
			return ky_error_set(err, -r, "cannot decode JSON: out of memory");
		if (dup)
			return dup_fail(w, dup, index, err);
	}
	size_t i = 0;
	for (const cJSON *e = j->child; e; e = e->next, i++) {
		if (!cJSON_IsObject(e) && !cJSON_IsArray(e))
			continue;
		struct walk down = { e, i, w };
		int r = check_unique(&down, err);
		if (r < 0)
			return r;
	}
	return 0;
}

int ky_json_parse(const char *text, size_t len, cJSON **out, struct ky_error **err)
{
	if (!text)
		return ky_error_set(err, EINVAL, "cannot decode JSON: no input");
	size_t start = 0;
	while (start < len && json_space(text[start]))
		start++;
	if (start == len)
		return ky_error_set(err, EINVAL, "cannot decode JSON: empty input");

	char buf[64];
	size_t at;
	enum scan_problem p;
	const char *end = NULL;
	_cleanup_(cJSON_Deletep) cJSON *doc = cJSON_ParseWithLengthOpts(text, len, &end, false);
	if (!doc) {
		size_t pos = end && end >= text && (size_t)(end - text) < len ? (size_t)(end - text) : len - 1;
		/* cJSON fails at the bracket one past its limit without saying
		 * why; any other problem before where it stopped comes first. */
		if ((p = scan(text, pos + 1, &at)) != SCAN_NONE)
			return scan_fail(text, len, p, at, err);
		return decode_fail(text, len, pos, err, "syntax error near %s", near(text, len, pos, buf, sizeof(buf)));
	}

	size_t pos = (size_t)(end - text);
	while (pos < len && json_space(text[pos]))
		pos++;
	if (pos < len)
		return decode_fail(text, len, pos, err, "unexpected data after the document: %s",
				   near(text, len, pos, buf, sizeof(buf)));
	if ((p = scan(text, len, &at)) != SCAN_NONE)
		return scan_fail(text, len, p, at, err);
	struct walk top = { doc, 0, NULL };
	int r = check_unique(&top, err);
	if (r < 0)
		return r;

	*out = TAKE_PTR(doc);
	return 0;
}

/* ---- Paths ---- */

static void path_join(char out[KY_JSON_PATH_MAX], const char *parent, const char *sep, const char *seg)
{
	char tmp[KY_JSON_PATH_MAX + SEG_MAX + 2];
	size_t a = strnlen(parent, KY_JSON_PATH_MAX - 1), b = strlen(sep), c = strnlen(seg, SEG_MAX);
	memcpy(tmp, parent, a);
	memcpy(tmp + a, sep, b);
	memcpy(tmp + a + b, seg, c);
	size_t n = a + b + c;
	tmp[n] = '\0';
	if (n < KY_JSON_PATH_MAX) {
		memcpy(out, tmp, n + 1);
		return;
	}
	/* The end names the field; the start is what gets lost. */
	size_t start = n - (KY_JSON_PATH_MAX - 1 - 3);
	while (start < n && utf8_cont((unsigned char)tmp[start]))
		start++;
	memcpy(out, "...", 3);
	memcpy(out + 3, tmp + start, n - start + 1);
}

static bool key_is_bare(const char *key)
{
	if (!*key)
		return false;
	for (const char *p = key; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_' ||
		      *p == '-'))
			return false;
	return true;
}

static void path_key(char out[KY_JSON_PATH_MAX], const char *parent, const char *key)
{
	char seg[SEG_MAX + 1];
	if (key_is_bare(key) && strlen(key) <= KEY_SHOWN_MAX) {
		path_join(out, parent, *parent ? "." : "", key);
		return;
	}
	seg[0] = '[';
	ky_json_quote(key, seg + 1, KEY_SHOWN_MAX + 1);
	strcat(seg, "]");
	path_join(out, parent, "", seg);
}

static void path_index(char out[KY_JSON_PATH_MAX], const char *parent, size_t i)
{
	char seg[32];
	snprintf(seg, sizeof(seg), "[%zu]", i);
	path_join(out, parent, "", seg);
}

/* ---- Nodes ---- */

void ky_json_root(const cJSON *doc, struct ky_jnode *out)
{
	out->j = doc;
	out->path[0] = '\0';
}

int ky_json_parse_object(const char *text, size_t len, const char *what, cJSON **doc, struct ky_jnode *root,
			 struct ky_error **err)
{
	int r = ky_json_parse(text, len, doc, err);
	if (r < 0)
		return r;
	ky_json_root(*doc, root);
	if (!cJSON_IsObject(*doc))
		return ky_json_error(root, err, "%s must be a JSON object, got %s", what, ky_json_type_name(*doc));
	return 0;
}

void ky_json_elem(const struct ky_jnode *arr, const cJSON *item, size_t i, struct ky_jnode *out)
{
	if (cJSON_IsObject(arr->j) && item->string)
		path_key(out->path, arr->path, item->string);
	else
		path_index(out->path, arr->path, i);
	out->j = item;
}

int ky_json_index(const struct ky_jnode *arr, size_t i, struct ky_jnode *out)
{
	const cJSON *item = cJSON_IsArray(arr->j) ? arr->j->child : NULL;
	for (size_t k = 0; item && k < i; k++)
		item = item->next;
	path_index(out->path, arr->path, i);
	out->j = item;
	return item != NULL;
}

/* Resolves obj.key, or obj itself for a NULL key, into *out. */
static int lookup(const struct ky_jnode *obj, const char *key, int flags, struct ky_jnode *out,
		  struct ky_error **err)
{
	const cJSON *item = obj->j;
	if (key) {
		if (obj->j && !cJSON_IsObject(obj->j))
			return expected(obj, "an object", err);
		item = obj->j ? cJSON_GetObjectItemCaseSensitive(obj->j, key) : NULL;
		path_key(out->path, obj->path, key);
	} else if (out != obj) {
		memcpy(out->path, obj->path, sizeof(out->path));
	}
	if ((flags & KY_JSON_NULLABLE) && cJSON_IsNull(item))
		item = NULL;
	out->j = item;
	if (item)
		return 1;
	if (flags & KY_JSON_REQUIRED)
		return fail(out->path, err, "missing required field");
	return 0;
}

int ky_json_child(const struct ky_jnode *obj, const char *key, int flags, struct ky_jnode *out,
		  struct ky_error **err)
{
	struct ky_jnode n;
	int r = lookup(obj, key, flags, &n, err);
	if (r >= 0)
		*out = n;
	return r;
}

int ky_json_object(const struct ky_jnode *obj, const char *key, int flags, struct ky_jnode *out,
		   struct ky_error **err)
{
	struct ky_jnode n;
	int r = lookup(obj, key, flags, &n, err);
	if (r < 0)
		return r;
	if (r > 0 && !cJSON_IsObject(n.j))
		return expected(&n, "an object", err);
	*out = n;
	return r;
}

int ky_json_array(const struct ky_jnode *obj, const char *key, int flags, struct ky_jnode *out, size_t *len,
		  struct ky_error **err)
{
	struct ky_jnode n;
	int r = lookup(obj, key, flags, &n, err);
	if (r < 0)
		return r;
	size_t count = 0;
	if (r > 0) {
		if (!cJSON_IsArray(n.j))
			return expected(&n, "an array", err);
		for (const cJSON *e = n.j->child; e; e = e->next)
			count++;
		if (count == 0 && (flags & KY_JSON_NONEMPTY))
			return fail(n.path, err, "must not be empty");
	}
	*out = n;
	if (len)
		*len = count;
	return r;
}

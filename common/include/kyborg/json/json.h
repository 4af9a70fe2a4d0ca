/* JSON configuration over cJSON: nodes that carry their JSON path, typed
 * getters that validate and name the bad field ("ipam.ranges[0][0].subnet:
 * not a CIDR ..."), MAC, IP and CIDR fields included (kyborg/base/inet.h). */
#pragma once

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kyborg/base/cleanup.h"
#include "kyborg/base/inet.h"
#include "kyborg/base/strv.h"

struct ky_error;

/* _cleanup_(cJSON_Deletep) cJSON *doc = NULL; */
KY_DEFINE_CLEANUP(cJSON, cJSON_Delete)

/* ---- Documents and nodes ---- */

/* Deeper documents are refused with a message saying so (cJSON's limit). */
#define KY_JSON_MAX_DEPTH CJSON_NESTING_LIMIT

/* Parses exactly `len` bytes holding one JSON value of any type; leaves the
 * root's type to the caller. Errors (-EINVAL) read "cannot decode JSON at
 * line L column C: ..." and cover empty input, trailing data, nesting
 * deeper than KY_JSON_MAX_DEPTH, "\u0000" in strings and raw control bytes
 * (below 0x20) in strings or outside them other than JSON's whitespace
 * (cJSON would silently cut a string at a NUL, and RFC 8259 forbids them);
 * a name repeated in any object, at any depth, is "<path>: duplicate
 * field" (cJSON keeps the first, Go's decoder the last). */
int ky_json_parse(const char *text, size_t len, cJSON **out, struct ky_error **err);

#define KY_JSON_PATH_MAX 256

/* A value in a document with the path that names it in messages: "" for the
 * root, then "ipam.ranges[0][0].subnet", with keys outside [A-Za-z0-9_-]
 * quoted: annotations["k8s.v1.cni.cncf.io/x"]. A path that would not fit
 * keeps its end, which names the field, behind "...". j is NULL for an
 * absent value. No allocation: nodes live on the stack and borrow from
 * the document. */
struct ky_jnode {
	const cJSON *j;
	char path[KY_JSON_PATH_MAX];
};

void ky_json_root(const cJSON *doc, struct ky_jnode *out);
/* ky_json_parse() of a document whose root must be an object (what names
 * it in the error: "the profile", "the config"), and its root node. */
int ky_json_parse_object(const char *text, size_t len, const char *what, cJSON **doc, struct ky_jnode *root,
			 struct ky_error **err);
/* "null", "boolean", "number", "string", "array", "object"; "nothing" for NULL. */
const char *ky_json_type_name(const cJSON *j);

/* Sets an -EINVAL error "<path>: <message>" (just the message at the root),
 * for checks the getters cannot make: "rangeStart: not inside 10.0.0.0/24". */
int ky_json_error(const struct ky_jnode *node, struct ky_error **err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Writes s as a JSON string literal, quotes included, escaped and cut short
 * with "..." to fit. Always NUL-terminates; returns buf. */
char *ky_json_quote(const char *s, char *buf, size_t size);
/* s itself when it holds no control byte (below 0x20, or 0x7f), else
 * ky_json_quote(s, buf, size): for messages that name untrusted text as
 * it is, yet must stay one printable line. */
const char *ky_json_quote_controls(const char *s, char *buf, size_t size);

/* ---- Getters ----
 * Each looks up `key` in the object `obj` (or, when key is NULL, takes obj
 * itself: an array element, say) and returns:
 *   1        present and valid: *out is set;
 *   0        absent and optional: scalar outputs are left untouched, so they
 *            may hold defaults; node outputs get j = NULL and their path, so
 *            lookups in them find nothing and name the field;
 *   -EINVAL  with "<path>: <what is wrong>" in *err: wrong type, out of range,
 *            malformed, or absent with KY_JSON_REQUIRED;
 *   -ENOMEM  where the getter allocates.
 * An absent obj (j NULL) has no fields. obj and out may be the same node. */
enum {
	KY_JSON_REQUIRED = 1 << 0,    /* absence is an error: "mtu: missing required field" */
	KY_JSON_NULLABLE = 1 << 1,    /* null counts as absent (otherwise a wrong type) */
	KY_JSON_ALLOW_EMPTY = 1 << 2, /* strings (and string array elements) may be "" */
	KY_JSON_NONEMPTY = 1 << 3,    /* arrays must have an element */
	KY_JSON_NETWORK = 1 << 4,     /* CIDRs must have no host bits set */
};

/* Any type. */
int ky_json_child(const struct ky_jnode *obj, const char *key, int flags, struct ky_jnode *out,
		  struct ky_error **err);
int ky_json_object(const struct ky_jnode *obj, const char *key, int flags, struct ky_jnode *out,
		   struct ky_error **err);
/* *len is the element count (0 when absent). len may be NULL. */
int ky_json_array(const struct ky_jnode *obj, const char *key, int flags, struct ky_jnode *out, size_t *len,
		  struct ky_error **err);

/* Element i of an array node, path "x[i]": 1, or 0 with out->j NULL when
 * there is none. Walks the list: use ky_json_foreach to visit them all. */
int ky_json_index(const struct ky_jnode *arr, size_t i, struct ky_jnode *out);
/* The node for `item`, a child of arr (an array: "x[i]"; an object: "x.key"). */
void ky_json_elem(const struct ky_jnode *arr, const cJSON *item, size_t i, struct ky_jnode *out);

static inline const cJSON *ky_json_first_(const struct ky_jnode *n)
{
	return n->j && (cJSON_IsArray(n->j) || cJSON_IsObject(n->j)) ? n->j->child : NULL;
}

/* Visits each element of an array (or member of an object) node in order:
 *   struct ky_jnode e; size_t i;
 *   ky_json_foreach(&arr, i, e) { ... e.path is "arr[i]" ... } */
#define ky_json_foreach(arr, i, elem)                                                          \
	for (const cJSON *ky_json_it_ = ((i) = 0, ky_json_first_(arr));                       \
	     ky_json_it_ && (ky_json_elem((arr), ky_json_it_, (i), &(elem)), 1);               \
	     ky_json_it_ = ky_json_it_->next, (i)++)

/* Borrowed from the document. Non-empty unless KY_JSON_ALLOW_EMPTY. */
int ky_json_string(const struct ky_jnode *obj, const char *key, int flags, const char **out,
		   struct ky_error **err);
/* true/false only: "true" is a string. */
int ky_json_bool(const struct ky_jnode *obj, const char *key, int flags, bool *out, struct ky_error **err);
/* An integral number in [min, max]; fractions, non-finite numbers and
 * magnitudes past 2^53 (which a double cannot hold exactly) are refused. */
int ky_json_int(const struct ky_jnode *obj, const char *key, int flags, int64_t min, int64_t max, int64_t *out,
		struct ky_error **err);
int ky_json_u32(const struct ky_jnode *obj, const char *key, int flags, uint32_t min, uint32_t max, uint32_t *out,
		struct ky_error **err);
/* For readers that take what they can (our own records, read back): the
 * integer at key in the plain object obj when there is one in [min, max],
 * by ky_json_int's rules; false otherwise (absent, another type, a
 * fraction, out of range), *out untouched. */
bool ky_json_int_at(const cJSON *obj, const char *key, int64_t min, int64_t max, int64_t *out);
int ky_json_u16(const struct ky_jnode *obj, const char *key, int flags, uint16_t min, uint16_t max, uint16_t *out,
		struct ky_error **err);
int ky_json_u8(const struct ky_jnode *obj, const char *key, int flags, uint8_t min, uint8_t max, uint8_t *out,
	       struct ky_error **err);
/* A string among the NULL-terminated `choices` (exact case); *index is its
 * position. "vlanProto: must be one of 802.1q, 802.1ad, got \"x\"". */
int ky_json_enum(const struct ky_jnode *obj, const char *key, int flags, const char *const choices[], int *index,
		 struct ky_error **err);
int ky_json_mac(const struct ky_jnode *obj, const char *key, int flags, uint8_t mac[6], struct ky_error **err);
int ky_json_ip(const struct ky_jnode *obj, const char *key, int flags, struct ky_ip *out, struct ky_error **err);
/* With KY_JSON_NETWORK, "10.1.2.3/24" is refused (naming 10.1.2.0/24). */
int ky_json_cidr(const struct ky_jnode *obj, const char *key, int flags, struct ky_cidr *out,
		 struct ky_error **err);

/* An array of strings, copied: *out is a NULL-terminated vector to free with
 * ky_strv_free (kyborg/base/strv.h), *n its length (n may be NULL). Elements are non-empty
 * unless KY_JSON_ALLOW_EMPTY; errors name the element: "vendors[2]: ...". */
int ky_json_string_array(const struct ky_jnode *obj, const char *key, int flags, char ***out, size_t *n,
			 struct ky_error **err);

/* Where the schema is ours, every key of obj must be in the NULL-terminated
 * `allowed`: the first other one fails with "<path>.<key>: unknown field",
 * a repeated one with "<path>.<key>: duplicate field" (ky_json_parse refuses
 * those already; a document built in memory may still have them). An
 * absent obj passes. 0 or -EINVAL. */
int ky_json_check_keys(const struct ky_jnode *obj, const char *const allowed[], struct ky_error **err);

/* ---- Output ---- */

/* j printed as Go's encoding/json.Marshal prints the same value: compact,
 * object keys in byte order (Go sorts map keys), strings escaped as Go
 * escapes them ("<", ">" and "&" as \u003c..., control characters as \n
 * or \u001f, invalid UTF-8 as \ufffd, U+2028/2029 escaped). Numbers are
 * printed as integers when they are integral. For output a Go program
 * wrote before us, byte for byte (SRIOV-DP's PCIDEVICE_..._INFO). NULL on
 * ENOMEM. */
char *ky_json_print_go(const cJSON *j);

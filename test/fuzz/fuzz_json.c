/* The JSON helpers (common/src/json): ky_json_parse on any bytes, then every
 * typed getter, path and quoting helper on every node of what it accepts.
 * Checked: accepted text has no raw control byte and no repeated name
 * (issue 14), it survives print and parse unchanged, every error is one
 * line naming the node's path, and paths and quotes fit their buffers. */
#include <errno.h>
#include <math.h>

#include "fuzz.h"
#include "kyborg/base/cleanup.h"
#include "kyborg/base/inet.h"
#include "kyborg/json/json.h"

/* Nodes deeper than this are walked, not probed: the getters' frames under
 * ASan would otherwise take megabytes of stack at cJSON's depth of 1000.
 * Past PROBE_NODES nodes in one document the rest are only walked too: the
 * getters are the same code wherever a node is, and a large document
 * would otherwise cost thousands of error messages per input. */
#define PROBE_DEPTH 300
#define PROBE_NODES 256

static size_t probed;

static void assert_one_line(const char *s, const char *what)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		FUZZ_ASSERT(*p >= 0x20, "%s holds raw byte 0x%02x: %s", what, *p, s);
}

/* Each getter's outcome: 1 or 0 without an error, or -EINVAL (-ENOMEM) with a
 * one-line message that starts with the node's path. */
static void check_outcome(const struct ky_jnode *n, int r, struct ky_error **err)
{
	if (r >= 0) {
		FUZZ_ASSERT(r <= 1, "getter returned %d", r);
		ky_error_clear(err);
		return;
	}
	FUZZ_ASSERT(r == -EINVAL || r == -ENOMEM, "getter returned %d", r);
	FUZZ_ASSERT(*err && ky_error_msg(*err)[0], "failure without a message");
	assert_one_line(ky_error_msg(*err), "error message");
	/* A child's path (an element, a member) may be cut to fit, losing the
	 * parent's start: check short parents only. */
	if (n->path[0] && r == -EINVAL && strlen(n->path) < 40)
		FUZZ_ASSERT(strncmp(ky_error_msg(*err), n->path, strlen(n->path)) == 0,
			    "error \"%s\" does not name the path \"%s\"", ky_error_msg(*err), n->path);
	ky_error_clear(err);
}

static void probe_quote(const char *s)
{
	char buf[40];
	for (size_t size = 0; size <= sizeof(buf); size += 7) {
		memset(buf, 'X', sizeof(buf));
		ky_json_quote(s, buf, size);
		if (size) {
			FUZZ_ASSERT(memchr(buf, '\0', size), "quote into %zu bytes left no NUL", size);
			assert_one_line(buf, "quoted string");
		}
	}
}

static void probe_addresses(const char *s)
{
	uint8_t mac[6], mac2[6];
	char text[64];
	if (ky_parse_mac(s, mac) == 0) {
		FUZZ_ASSERT(ky_parse_mac(ky_format_mac(mac, text), mac2) == 0 && memcmp(mac, mac2, 6) == 0,
			    "MAC %s does not survive formatting", s);
	}
	struct ky_ip ip, ip2;
	if (ky_parse_ip(s, &ip) == 0) {
		FUZZ_ASSERT(ky_parse_ip(ky_format_ip(&ip, text), &ip2) == 0 && ip.family == ip2.family &&
				    memcmp(ip.addr, ip2.addr, sizeof(ip.addr)) == 0,
			    "IP %s does not survive formatting (%s)", s, text);
	}
	struct ky_cidr c, c2;
	if (ky_parse_cidr(s, &c) == 0) {
		FUZZ_ASSERT(ky_parse_cidr(ky_format_cidr(&c, text), &c2) == 0 && c.prefix == c2.prefix &&
				    memcmp(c.ip.addr, c2.ip.addr, sizeof(c.ip.addr)) == 0,
			    "CIDR %s does not survive formatting (%s)", s, text);
	}
}

static void probe(const struct ky_jnode *n, size_t depth)
{
	static const char *const choices[] = { "gpu", "fpga", "nic-vf", "802.1q", NULL };
	static const char *const allowed[] = { "name", "kind", "a", "b", "deviceID", NULL };
	struct ky_error *err = NULL;
	struct ky_jnode out;
	const char *s;
	bool b;
	int64_t i64;
	uint32_t u32;
	uint16_t u16;
	uint8_t u8, mac[6];
	int idx;
	size_t len;
	struct ky_ip ip;
	struct ky_cidr cidr;

	FUZZ_ASSERT(strlen(n->path) < KY_JSON_PATH_MAX, "path too long");
	assert_one_line(n->path, "path");
	bool full = depth <= PROBE_DEPTH && probed++ < PROBE_NODES;
	if (!full)
		goto children;

	for (int f = 0; f < 4; f++) {
		int flags = (f & 1 ? KY_JSON_ALLOW_EMPTY : 0) | (f & 2 ? KY_JSON_NULLABLE | KY_JSON_REQUIRED : 0);
		int r = ky_json_string(n, NULL, flags, &s, &err);
		if (r > 0) {
			FUZZ_ASSERT(cJSON_IsString(n->j), "a string from a %s", ky_json_type_name(n->j));
			FUZZ_ASSERT(*s || (flags & KY_JSON_ALLOW_EMPTY), "an empty string without ALLOW_EMPTY");
		}
		check_outcome(n, r, &err);
	}
	check_outcome(n, ky_json_bool(n, NULL, 0, &b, &err), &err);
	int r = ky_json_int(n, NULL, 0, -1000000000000000, 1000000000000000, &i64, &err);
	if (r > 0)
		FUZZ_ASSERT(i64 >= -1000000000000000 && i64 <= 1000000000000000, "int out of its range");
	check_outcome(n, r, &err);
	check_outcome(n, ky_json_u32(n, NULL, 0, 68, 65535, &u32, &err), &err);
	check_outcome(n, ky_json_u16(n, NULL, 0, 0, 4094, &u16, &err), &err);
	check_outcome(n, ky_json_u8(n, NULL, 0, 0, 7, &u8, &err), &err);
	check_outcome(n, ky_json_enum(n, NULL, 0, choices, &idx, &err), &err);
	check_outcome(n, ky_json_mac(n, NULL, 0, mac, &err), &err);
	check_outcome(n, ky_json_ip(n, NULL, 0, &ip, &err), &err);
	check_outcome(n, ky_json_cidr(n, NULL, 0, &cidr, &err), &err);
	check_outcome(n, ky_json_cidr(n, NULL, KY_JSON_NETWORK, &cidr, &err), &err);
	check_outcome(n, ky_json_object(n, NULL, 0, &out, &err), &err);
	check_outcome(n, ky_json_array(n, NULL, KY_JSON_NONEMPTY, &out, &len, &err), &err);
	for (int f = 0; f < 2; f++) {
		char **v = NULL;
		size_t nv = 0;
		r = ky_json_string_array(n, NULL, f ? KY_JSON_ALLOW_EMPTY : 0, &v, &nv, &err);
		if (r > 0) {
			for (size_t k = 0; k < nv; k++)
				FUZZ_ASSERT(v[k], "string array element %zu is NULL", k);
			FUZZ_ASSERT(!v[nv], "string array not NULL-terminated");
		}
		check_outcome(n, r, &err);
		ky_strv_free(v);
	}
	if (cJSON_IsObject(n->j))
		check_outcome(n, ky_json_check_keys(n, allowed, &err), &err);
	if (cJSON_IsString(n->j)) {
		probe_quote(n->j->valuestring);
		probe_addresses(n->j->valuestring);
	}

children:;
	struct ky_jnode e;
	size_t i;
	ky_json_foreach(n, i, e)
	{
		if (cJSON_IsObject(n->j) && full) {
			/* Names are unique, so a lookup finds this very member. */
			struct ky_jnode c;
			FUZZ_ASSERT(ky_json_child(n, e.j->string, KY_JSON_REQUIRED, &c, NULL) == 1 && c.j == e.j,
				    "lookup of \"%s\" found another member", e.j->string);
			FUZZ_ASSERT(strcmp(c.path, e.path) == 0, "two paths for one member: %s, %s", c.path, e.path);
		}
		if (cJSON_IsArray(n->j) && full) {
			struct ky_jnode c;
			FUZZ_ASSERT(ky_json_index(n, i, &c) == 1 && c.j == e.j, "index %zu found another element", i);
		}
		probe(&e, depth + 1);
	}
}

static bool all_finite(const cJSON *j)
{
	if (cJSON_IsNumber(j) && !isfinite(j->valuedouble))
		return false;
	for (const cJSON *e = (cJSON_IsArray(j) || cJSON_IsObject(j)) ? j->child : NULL; e; e = e->next)
		if (!all_finite(e))
			return false;
	return true;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet_logs();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_(cJSON_Deletep) cJSON *doc = NULL;
	struct ky_error *err = NULL;
	int r = ky_json_parse((const char *)data, size, &doc, &err);
	if (r < 0) {
		FUZZ_ASSERT(r == -EINVAL || r == -ENOMEM, "parse returned %d", r);
		FUZZ_ASSERT(!doc, "a document with a failure");
		assert_one_line(ky_error_msg(err), "decode error");
		ky_error_clear(&err);
		return 0;
	}
	FUZZ_ASSERT(doc, "success without a document");
	fuzz_assert_decoded(data, size, doc);

	struct ky_jnode root;
	ky_json_root(doc, &root);
	probed = 0;
	probe(&root, 0);

	/* What we print, we read back as the same document. cJSON prints a
	 * number out of a double's range (1e999) as null: those are left out. */
	_cleanup_free_ char *printed = cJSON_PrintUnformatted(doc);
	FUZZ_ASSERT(printed, "cannot print an accepted document");
	_cleanup_(cJSON_Deletep) cJSON *again = NULL;
	r = ky_json_parse(printed, strlen(printed), &again, &err);
	FUZZ_ASSERT(r == 0, "our own output refused: %s: %s", ky_error_msg(err), printed);
	if (all_finite(doc))
		FUZZ_ASSERT(cJSON_Compare(doc, again, true), "print and parse changed the document: %s", printed);
	return 0;
}

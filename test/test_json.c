/* JSON config: decoding errors, paths, typed getters, addresses, unknown fields. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/json/json.h"

static cJSON *doc;
static struct ky_jnode root;
static struct ky_error *err;

static void teardown(void)
{
	cJSON_Delete(doc);
	doc = NULL;
	ky_error_clear(&err);
}

TestSuite(json, .fini = teardown);

/* Loads a document written with single quotes for readability. */
static void load(const char *text)
{
	_cleanup_free_ char *t = strdup(text);
	cr_assert_not_null(t);
	for (char *p = t; *p; p++)
		if (*p == '\'')
			*p = '"';
	cr_assert_eq(ky_json_parse(t, strlen(t), &doc, &err), 0, "parse %s: %s", t, ky_error_msg(err));
	ky_json_root(doc, &root);
}

/* Parses text as is; returns the result and leaves any error in err. */
static int parse_raw(const char *text)
{
	cJSON_Delete(doc);
	doc = NULL;
	ky_error_clear(&err);
	return ky_json_parse(text, strlen(text), &doc, &err);
}

#define assert_fails_with(r, msg)                                                               \
	do {                                                                                    \
		int r_ = (r);                                                                   \
		cr_assert_eq(r_, -EINVAL, "returned %d (%s)", r_, ky_error_msg(err));           \
		cr_assert_str_eq(ky_error_msg(err), (msg));                                     \
		ky_error_clear(&err);                                                           \
	} while (0)

static bool valid_utf8(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		int n = *p < 0x80 ? 0 : (*p & 0xe0) == 0xc0 ? 1 : (*p & 0xf0) == 0xe0 ? 2 : (*p & 0xf8) == 0xf0 ? 3 : -1;
		if (n < 0)
			return false;
		p++;
		for (; n > 0; n--, p++)
			if ((*p & 0xc0) != 0x80)
				return false;
	}
	return true;
}

/* ---- Decoding ---- */

Test(json, parse_leaves_the_root_type_to_the_caller)
{
	cr_assert_eq(parse_raw("[1, 2]"), 0, "%s", ky_error_msg(err));
	cr_assert(cJSON_IsArray(doc));
	cr_assert_eq(parse_raw(" \"x\" "), 0, "%s", ky_error_msg(err));
	cr_assert(cJSON_IsString(doc));
}

Test(json, parse_error_reports_line_and_column)
{
	cr_assert_eq(parse_raw("{\n  \"a\": 1,\n  \"b\": tru\n}"), -EINVAL);
	cr_assert_str_eq(ky_error_msg(err), "cannot decode JSON at line 3 column 8: syntax error near \"tru\"");
}

Test(json, parse_error_column_counts_characters_not_bytes)
{
	cr_assert_eq(parse_raw("{\"\xc3\xa9\": x}"), -EINVAL);
	cr_assert_str_eq(ky_error_msg(err), "cannot decode JSON at line 1 column 7: syntax error near \"x}\"");
}

Test(json, parse_rejects_trailing_garbage)
{
	cr_assert_eq(parse_raw("{\"a\": 1} x"), -EINVAL);
	cr_assert_str_eq(ky_error_msg(err),
			 "cannot decode JSON at line 1 column 10: unexpected data after the document: \"x\"");
	cr_assert_null(doc);
	cr_assert_eq(parse_raw("{}{}"), -EINVAL);
}

Test(json, parse_allows_trailing_whitespace)
{
	cr_assert_eq(parse_raw("{}\n\t \r\n"), 0, "%s", ky_error_msg(err));
}

Test(json, parse_reads_only_the_given_length)
{
	const char *text = "{\"a\": 1}garbage";
	cr_assert_eq(ky_json_parse(text, 8, &doc, &err), 0, "%s", ky_error_msg(err));
	cr_assert_eq(cJSON_GetObjectItem(doc, "a")->valueint, 1);
}

Test(json, parse_rejects_nul_bytes_after_the_document)
{
	cr_assert_eq(ky_json_parse("{}\0", 3, &doc, &err), -EINVAL);
	cr_assert(strstr(ky_error_msg(err), "unexpected data after the document"), "%s", ky_error_msg(err));
}

Test(json, parse_rejects_empty_input)
{
	cr_assert_eq(parse_raw(""), -EINVAL);
	cr_assert_str_eq(ky_error_msg(err), "cannot decode JSON: empty input");
	cr_assert_eq(parse_raw(" \n\t"), -EINVAL);
	cr_assert_str_eq(ky_error_msg(err), "cannot decode JSON: empty input");
	cr_assert_eq(ky_json_parse(NULL, 0, &doc, &err), -EINVAL);
}

Test(json, parse_reports_nesting_past_the_limit)
{
	size_t n = KY_JSON_MAX_DEPTH + 1;
	_cleanup_free_ char *t = malloc(2 * n + 1);
	memset(t, '[', n);
	memset(t + n, ']', n);
	t[2 * n] = '\0';
	cr_assert_eq(parse_raw(t), -EINVAL);
	cr_assert_str_eq(ky_error_msg(err), "cannot decode JSON at line 1 column 1001: nested deeper than 1000 levels");

	/* One level less is within the limit. */
	t[n - 1] = ' ';
	t[n] = ' ';
	cr_assert_eq(parse_raw(t), 0, "%s", ky_error_msg(err));
}

Test(json, parse_rejects_nul_escape_that_would_cut_a_string)
{
	cr_assert_eq(parse_raw("{\"name\": \"eth0\\u0000evil\"}"), -EINVAL);
	cr_assert_str_eq(ky_error_msg(err), "cannot decode JSON at line 1 column 15: \\u0000 is not allowed in a string");
	/* An escaped backslash followed by u0000 is plain text. */
	cr_assert_eq(parse_raw("{\"name\": \"a\\\\u0000\"}"), 0, "%s", ky_error_msg(err));
	cr_assert_str_eq(cJSON_GetObjectItem(doc, "name")->valuestring, "a\\u0000");
}

/* Parses exactly len bytes (NULs included); the result, error left in err. */
static int parse_bytes(const char *text, size_t len)
{
	cJSON_Delete(doc);
	doc = NULL;
	ky_error_clear(&err);
	return ky_json_parse(text, len, &doc, &err);
}

/* RFC 8259 section 7: characters below U+0020 must be escaped in a string.
 * cJSON copies them raw and a NUL ends the C string there. */
Test(json, parse_refuses_a_raw_nul_that_would_cut_a_string)
{
	static const char text[] = "{\"device\":\"kysec-a\0../../x\"}";
	cr_assert_eq(parse_bytes(text, sizeof(text) - 1), -EINVAL, "accepted: device=%s",
		     doc ? cJSON_GetStringValue(cJSON_GetObjectItem(doc, "device")) : "?");
	cr_assert_null(doc);
	cr_assert_str_eq(ky_error_msg(err),
			 "cannot decode JSON at line 1 column 19: control character U+0000 in a string (it must be escaped)");
}

Test(json, parse_refuses_every_raw_control_byte_in_a_string)
{
	for (int c = 0x01; c < 0x20; c++) {
		char text[32];
		int n = snprintf(text, sizeof(text), "{\"a\":\n \"x%cy\"}", c);
		cr_assert_eq(parse_bytes(text, (size_t)n), -EINVAL, "byte 0x%02x accepted in a string", c);
		char want[128];
		snprintf(want, sizeof(want),
			 "cannot decode JSON at line 2 column 4: control character U+%04X in a string (it must be escaped)", c);
		cr_assert_str_eq(ky_error_msg(err), want);
	}
	/* Escaped, they are fine; so are DEL and UTF-8. */
	cr_assert_eq(parse_raw("{\"a\": \"x\\ty\\n\\u0001\x7f\xc3\xa9\"}"), 0, "%s", ky_error_msg(err));
	cr_assert_str_eq(cJSON_GetObjectItem(doc, "a")->valuestring, "x\ty\n\x01\x7f\xc3\xa9");
}

Test(json, parse_refuses_control_bytes_outside_strings_except_whitespace)
{
	/* cJSON skips every byte up to 0x20 between tokens; JSON allows only
	 * space, tab, line feed and carriage return. */
	static const char nul[] = "{\"a\":\0 1}";
	cr_assert_eq(parse_bytes(nul, sizeof(nul) - 1), -EINVAL);
	cr_assert_str_eq(ky_error_msg(err), "cannot decode JSON at line 1 column 6: control character U+0000 outside a string");
	cr_assert_eq(parse_raw("\x0c{\"a\": 1}"), -EINVAL);
	cr_assert_str_eq(ky_error_msg(err), "cannot decode JSON at line 1 column 1: control character U+000C outside a string");
	cr_assert_eq(parse_raw("{\"a\":\x0b 1}"), -EINVAL);
	cr_assert_eq(parse_raw(" \t\r\n{\"a\":\t1,\r\n\"b\": [ ]}\n"), 0, "%s", ky_error_msg(err));
}

Test(json, parse_reports_a_control_byte_before_a_later_syntax_error)
{
	cr_assert_eq(parse_raw("{\"a\": \"x\x01\", \"b\": tru}"), -EINVAL);
	cr_assert_str_eq(ky_error_msg(err),
			 "cannot decode JSON at line 1 column 9: control character U+0001 in a string (it must be escaped)");
}

/* RFC 8259 section 4: names SHOULD be unique, and decoders disagree on
 * which of two wins (cJSON the first, Go's the last): refuse them all. */
Test(json, parse_refuses_a_duplicate_key_in_a_nested_object)
{
	cr_assert_eq(parse_raw("{\"cniVersion\": \"1.0.0\", \"runtimeConfig\": {\"deviceID\": \"0000:03:02.0\","
			       " \"deviceID\": \"0000:03:02.1\"}}"),
		     -EINVAL);
	cr_assert_null(doc);
	cr_assert_str_eq(ky_error_msg(err), "runtimeConfig.deviceID: duplicate field");
}

Test(json, parse_refuses_duplicate_keys_at_every_level)
{
	cr_assert_eq(parse_raw("{\"vlan\": 1, \"mtu\": 1500, \"vlan\": 2}"), -EINVAL);
	cr_assert_str_eq(ky_error_msg(err), "vlan: duplicate field");
	cr_assert_eq(parse_raw("{\"ipam\": {\"ranges\": [[{\"subnet\": \"10.0.0.0/24\"}, {\"gateway\": \"10.0.0.1\","
			       " \"gateway\": \"10.0.0.2\"}]]}}"),
		     -EINVAL);
	cr_assert_str_eq(ky_error_msg(err), "ipam.ranges[0][1].gateway: duplicate field");
	cr_assert_eq(parse_raw("[{}, {\"a\": {\"k8s.io/x\": 1, \"k8s.io/x\": {}}}]"), -EINVAL);
	cr_assert_str_eq(ky_error_msg(err), "[1].a[\"k8s.io/x\"]: duplicate field");
	/* The same name in different objects is no duplicate. */
	cr_assert_eq(parse_raw("{\"a\": {\"x\": 1}, \"b\": {\"x\": 1}, \"c\": [{\"x\": 1}, {\"x\": 2}]}"), 0, "%s",
		     ky_error_msg(err));
}

Test(json, parse_names_the_first_repeat_in_a_large_object)
{
	/* Past a few members the names are sorted, not compared pairwise: the
	 * message still names the first repeat in document order. */
	char text[1024];
	size_t n = 0;
	n += (size_t)snprintf(text + n, sizeof(text) - n, "{");
	for (int i = 0; i < 40; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "\"k%d\": %d, ", i, i);
	n += (size_t)snprintf(text + n, sizeof(text) - n, "\"k39x\": 0}");
	cr_assert_eq(parse_bytes(text, n), 0, "%s", ky_error_msg(err));
	n -= 1;
	n += (size_t)snprintf(text + n, sizeof(text) - n, ", \"k27\": 1, \"k3\": 2, \"k27\": 3}");
	cr_assert_eq(parse_bytes(text, n), -EINVAL);
	cr_assert_str_eq(ky_error_msg(err), "k27: duplicate field");
}

/* ---- Paths and nodes ---- */

Test(json, nested_path_runs_through_arrays_of_arrays)
{
	load("{'ipam': {'type': 'host-local', 'ranges': [[{'subnet': '10.1.0.0/33'}]]}}");
	struct ky_jnode ipam, ranges, set, range;
	struct ky_cidr c;
	size_t n;
	cr_assert_eq(ky_json_object(&root, "ipam", KY_JSON_REQUIRED, &ipam, &err), 1);
	cr_assert_eq(ky_json_array(&ipam, "ranges", KY_JSON_REQUIRED, &ranges, &n, &err), 1);
	cr_assert_eq(n, 1);
	cr_assert_eq(ky_json_index(&ranges, 0, &set), 1);
	cr_assert_eq(ky_json_array(&set, NULL, KY_JSON_REQUIRED, &set, &n, &err), 1);
	cr_assert_eq(ky_json_index(&set, 0, &range), 1);
	cr_assert_str_eq(range.path, "ipam.ranges[0][0]");
	assert_fails_with(ky_json_cidr(&range, "subnet", KY_JSON_REQUIRED, &c, &err),
			  "ipam.ranges[0][0].subnet: not a CIDR (prefix length above 32), got \"10.1.0.0/33\"");
}

Test(json, element_of_the_wrong_type_names_its_index)
{
	load("{'ranges': [[], {'subnet': 'x'}]}");
	struct ky_jnode ranges, set;
	cr_assert_eq(ky_json_array(&root, "ranges", 0, &ranges, NULL, &err), 1);
	cr_assert_eq(ky_json_index(&ranges, 1, &set), 1);
	assert_fails_with(ky_json_array(&set, NULL, 0, &set, NULL, &err), "ranges[1]: expected an array, got object");
}

Test(json, keys_outside_the_plain_set_are_quoted_in_paths)
{
	load("{'annotations': {'k8s.v1.cni.cncf.io/x': 5}}");
	struct ky_jnode a;
	const char *s;
	cr_assert_eq(ky_json_object(&root, "annotations", 0, &a, &err), 1);
	assert_fails_with(ky_json_string(&a, "k8s.v1.cni.cncf.io/x", 0, &s, &err),
			  "annotations[\"k8s.v1.cni.cncf.io/x\"]: expected a string, got number");
}

Test(json, quoted_keys_escape_quotes_and_control_characters)
{
	cr_assert_eq(parse_raw("{\"a\\\"b\\n\": 1}"), 0, "%s", ky_error_msg(err));
	ky_json_root(doc, &root);
	const char *s;
	assert_fails_with(ky_json_string(&root, "a\"b\n", 0, &s, &err), "[\"a\\\"b\\n\"]: expected a string, got number");
}

Test(json, plain_keys_at_the_root_have_no_leading_dot)
{
	load("{'vlan': 'x'}");
	struct ky_jnode n;
	cr_assert_eq(ky_json_child(&root, "vlan", 0, &n, &err), 1);
	cr_assert_str_eq(n.path, "vlan");
	cr_assert_eq(ky_json_child(&root, "with space", 0, &n, &err), 0);
	cr_assert_str_eq(n.path, "[\"with space\"]");
	cr_assert_null(n.j);
}

Test(json, deep_nesting_truncates_the_path_keeping_its_end)
{
	/* 200 levels of {"level": ...}: a path of about 1,200 characters. */
	size_t depth = 200;
	size_t cap = depth * 12 + 64, o = 0;
	_cleanup_free_ char *t = malloc(cap);
	for (size_t i = 0; i < depth; i++)
		o += (size_t)snprintf(t + o, cap - o, "{\"level\":");
	o += (size_t)snprintf(t + o, cap - o, "{\"mtu\": \"x\"}");
	for (size_t i = 0; i < depth; i++)
		t[o++] = '}';
	t[o] = '\0';
	cr_assert_eq(parse_raw(t), 0, "%s", ky_error_msg(err));
	ky_json_root(doc, &root);

	struct ky_jnode n = root;
	for (size_t i = 0; i < depth; i++)
		cr_assert_eq(ky_json_object(&n, "level", KY_JSON_REQUIRED, &n, &err), 1);
	cr_assert_lt(strlen(n.path), (size_t)KY_JSON_PATH_MAX);
	cr_assert_eq(strncmp(n.path, "...", 3), 0, "%s", n.path);

	int64_t v;
	cr_assert_eq(ky_json_int(&n, "mtu", 0, 0, 9000, &v, &err), -EINVAL);
	const char *msg = ky_error_msg(err);
	cr_assert(strstr(msg, "level.level.mtu: expected an integer, got string"), "%s", msg);
	cr_assert_lt(strlen(msg), (size_t)KY_JSON_PATH_MAX + 64);
}

Test(json, truncated_path_never_splits_a_character)
{
	/* Keys of two-byte characters, each shown quoted: the cut can land anywhere. */
	for (int shift = 0; shift < 4; shift++) {
		char t[4096];
		size_t o = 0;
		int depth = 60;
		for (int i = 0; i < depth; i++)
			o += (size_t)snprintf(t + o, sizeof(t) - o, "{\"%.*s\xc3\xa9\":", shift, "aaaa");
		o += (size_t)snprintf(t + o, sizeof(t) - o, "1");
		for (int i = 0; i < depth; i++)
			t[o++] = '}';
		t[o] = '\0';
		cr_assert_eq(parse_raw(t), 0, "%s", ky_error_msg(err));
		ky_json_root(doc, &root);
		struct ky_jnode n = root;
		while (cJSON_IsObject(n.j))
			ky_json_elem(&n, n.j->child, 0, &n);
		cr_assert_lt(strlen(n.path), (size_t)KY_JSON_PATH_MAX);
		cr_assert(valid_utf8(n.path), "shift %d: %s", shift, n.path);
		cr_assert_eq(strncmp(n.path, "...", 3), 0);
	}
}

Test(json, very_long_key_is_shortened_in_the_path)
{
	char key[1001];
	memset(key, 'k', 1000);
	key[1000] = '\0';
	struct ky_jnode n;
	load("{}");
	cr_assert_eq(ky_json_child(&root, key, 0, &n, &err), 0);
	cr_assert_lt(strlen(n.path), (size_t)KY_JSON_PATH_MAX);
	size_t len = strlen(n.path);
	cr_assert_str_eq(n.path + len - 5, "...\"]", "%s", n.path);
	cr_assert_eq(strncmp(n.path, "[\"kkk", 5), 0, "%s", n.path);
}

Test(json, index_past_the_end_gives_an_absent_node_with_its_path)
{
	load("{'list': ['a']}");
	struct ky_jnode list, e;
	const char *s = NULL;
	cr_assert_eq(ky_json_array(&root, "list", 0, &list, NULL, &err), 1);
	cr_assert_eq(ky_json_index(&list, 5, &e), 0);
	cr_assert_null(e.j);
	cr_assert_str_eq(e.path, "list[5]");
	assert_fails_with(ky_json_string(&e, NULL, KY_JSON_REQUIRED, &s, &err), "list[5]: missing required field");
	cr_assert_eq(ky_json_string(&e, NULL, 0, &s, &err), 0);
	cr_assert_null(s);
}

Test(json, foreach_visits_array_elements_in_order)
{
	load("{'bpf': [{'object': 'a.o'}, {'object': 'b.o'}, {'object': 'c.o'}]}");
	struct ky_jnode bpf, e;
	size_t n, i, seen = 0;
	const char *want[] = { "a.o", "b.o", "c.o" };
	cr_assert_eq(ky_json_array(&root, "bpf", 0, &bpf, &n, &err), 1);
	cr_assert_eq(n, 3);
	ky_json_foreach(&bpf, i, e)
	{
		char path[32];
		const char *obj;
		snprintf(path, sizeof(path), "bpf[%zu]", i);
		cr_assert_str_eq(e.path, path);
		cr_assert_eq(ky_json_string(&e, "object", KY_JSON_REQUIRED, &obj, &err), 1);
		cr_assert_str_eq(obj, want[i]);
		seen++;
	}
	cr_assert_eq(seen, 3);
}

Test(json, foreach_names_object_members_by_key)
{
	load("{'args': {'plain': 1, 'a/b': 2}}");
	struct ky_jnode args, m;
	size_t i;
	const char *want[] = { "args.plain", "args[\"a/b\"]" };
	cr_assert_eq(ky_json_object(&root, "args", 0, &args, &err), 1);
	ky_json_foreach(&args, i, m)
		cr_assert_str_eq(m.path, want[i]);
	cr_assert_eq(i, 2);
}

Test(json, foreach_over_an_absent_node_does_nothing)
{
	load("{}");
	struct ky_jnode arr, e;
	size_t n = 99, i;
	cr_assert_eq(ky_json_array(&root, "bpf", 0, &arr, &n, &err), 0);
	cr_assert_eq(n, 0);
	cr_assert_null(arr.j);
	ky_json_foreach(&arr, i, e)
		cr_assert_fail("visited %s", e.path);
	cr_assert_eq(i, 0);
}

Test(json, lookups_in_an_absent_object_find_nothing)
{
	load("{}");
	struct ky_jnode sel;
	const char *s = "default";
	cr_assert_eq(ky_json_object(&root, "selector", 0, &sel, &err), 0);
	cr_assert_null(sel.j);
	cr_assert_str_eq(sel.path, "selector");
	cr_assert_eq(ky_json_string(&sel, "driver", 0, &s, &err), 0);
	cr_assert_str_eq(s, "default");
	assert_fails_with(ky_json_string(&sel, "driver", KY_JSON_REQUIRED, &s, &err),
			  "selector.driver: missing required field");
}

Test(json, lookup_in_a_non_object_names_the_parent)
{
	load("{'ipam': 'host-local'}");
	struct ky_jnode ipam;
	const char *s;
	cr_assert_eq(ky_json_child(&root, "ipam", 0, &ipam, &err), 1);
	assert_fails_with(ky_json_string(&ipam, "type", 0, &s, &err), "ipam: expected an object, got string");
	cr_assert_eq(parse_raw("[]"), 0);
	ky_json_root(doc, &root);
	assert_fails_with(ky_json_string(&root, "name", 0, &s, &err), "expected an object, got array");
}

/* ---- Types ---- */

Test(json, int_rejects_a_string)
{
	load("{'vlan': '100'}");
	int64_t v = 7;
	assert_fails_with(ky_json_int(&root, "vlan", 0, 0, 4094, &v, &err), "vlan: expected an integer, got string");
	cr_assert_eq(v, 7);
}

Test(json, int_rejects_bool_array_and_object)
{
	load("{'a': true, 'b': [1], 'c': {}}");
	int64_t v;
	assert_fails_with(ky_json_int(&root, "a", 0, 0, 9, &v, &err), "a: expected an integer, got boolean");
	assert_fails_with(ky_json_int(&root, "b", 0, 0, 9, &v, &err), "b: expected an integer, got array");
	assert_fails_with(ky_json_int(&root, "c", 0, 0, 9, &v, &err), "c: expected an integer, got object");
}

Test(json, null_is_a_wrong_type_unless_nullable)
{
	load("{'mtu': null}");
	int64_t v = 1500;
	assert_fails_with(ky_json_int(&root, "mtu", 0, 0, 9000, &v, &err), "mtu: expected an integer, got null");
	cr_assert_eq(ky_json_int(&root, "mtu", KY_JSON_NULLABLE, 0, 9000, &v, &err), 0);
	cr_assert_eq(v, 1500);
	assert_fails_with(ky_json_int(&root, "mtu", KY_JSON_NULLABLE | KY_JSON_REQUIRED, 0, 9000, &v, &err),
			  "mtu: missing required field");
}

Test(json, int_out_of_range_names_the_path)
{
	load("{'resources': [{'sharing': {'replicas': 2}}, {'sharing': {'replicas': 0}}]}");
	struct ky_jnode res, r1, sharing;
	uint32_t replicas;
	cr_assert_eq(ky_json_array(&root, "resources", 0, &res, NULL, &err), 1);
	cr_assert_eq(ky_json_index(&res, 1, &r1), 1);
	cr_assert_eq(ky_json_object(&r1, "sharing", 0, &sharing, &err), 1);
	assert_fails_with(ky_json_u32(&sharing, "replicas", 0, 1, 64, &replicas, &err),
			  "resources[1].sharing.replicas: must be between 1 and 64, got 0");
}

Test(json, int_rejects_fractions)
{
	load("{'mtu': 1500.5, 'vlan': 1e2}");
	int64_t v;
	assert_fails_with(ky_json_int(&root, "mtu", 0, 0, 9000, &v, &err), "mtu: expected an integer, got 1500.5");
	/* An integral value written with an exponent is an integer. */
	cr_assert_eq(ky_json_int(&root, "vlan", 0, 0, 4094, &v, &err), 1);
	cr_assert_eq(v, 100);
}

Test(json, int_rejects_huge_numbers)
{
	load("{'mtu': 1e300, 'neg': -1e300, 'inf': 1e400}");
	int64_t v = 0;
	assert_fails_with(ky_json_int(&root, "mtu", 0, 0, 9000, &v, &err), "mtu: must be between 0 and 9000, got 1e+300");
	assert_fails_with(ky_json_int(&root, "neg", 0, INT64_MIN, INT64_MAX, &v, &err),
			  "neg: must be between -9223372036854775808 and 9223372036854775807, got -1e+300");
	assert_fails_with(ky_json_int(&root, "inf", 0, INT64_MIN, INT64_MAX, &v, &err),
			  "inf: must be between -9223372036854775808 and 9223372036854775807, got infinity");
	cr_assert_eq(v, 0);
}

Test(json, int_refuses_integers_a_double_cannot_hold_exactly)
{
	load("{'edge': 9007199254740992, 'past': 9007199254740994, 'negedge': -9007199254740992}");
	int64_t v;
	cr_assert_eq(ky_json_int(&root, "edge", 0, INT64_MIN, INT64_MAX, &v, &err), 1);
	cr_assert_eq(v, INT64_C(9007199254740992));
	cr_assert_eq(ky_json_int(&root, "negedge", 0, INT64_MIN, INT64_MAX, &v, &err), 1);
	cr_assert_eq(v, -INT64_C(9007199254740992));
	assert_fails_with(ky_json_int(&root, "past", 0, INT64_MIN, INT64_MAX, &v, &err),
			  "past: 9007199254740994 is too large to be an exact integer");
}

Test(json, unsigned_getters_reject_negative_numbers)
{
	load("{'min_tx_rate': -1, 'vlan': -5, 'vlanQoS': -0.5}");
	uint32_t rate = 3;
	uint16_t vlan = 3;
	uint8_t qos = 3;
	assert_fails_with(ky_json_u32(&root, "min_tx_rate", 0, 0, UINT32_MAX, &rate, &err),
			  "min_tx_rate: must be between 0 and 4294967295, got -1");
	assert_fails_with(ky_json_u16(&root, "vlan", 0, 0, 4094, &vlan, &err), "vlan: must be between 0 and 4094, got -5");
	assert_fails_with(ky_json_u8(&root, "vlanQoS", 0, 0, 7, &qos, &err), "vlanQoS: expected an integer, got -0.5");
	cr_assert_eq(rate, 3);
	cr_assert_eq(vlan, 3);
	cr_assert_eq(qos, 3);
}

Test(json, small_unsigned_getters_accept_their_bounds)
{
	load("{'vlan': 4094, 'vlanQoS': 7, 'min_tx_rate': 4294967295, 'low': 0}");
	uint16_t vlan = 0;
	uint8_t qos = 0, low = 9;
	uint32_t rate = 0;
	cr_assert_eq(ky_json_u16(&root, "vlan", 0, 0, 4094, &vlan, &err), 1);
	cr_assert_eq(vlan, 4094);
	cr_assert_eq(ky_json_u8(&root, "vlanQoS", 0, 0, 7, &qos, &err), 1);
	cr_assert_eq(qos, 7);
	cr_assert_eq(ky_json_u32(&root, "min_tx_rate", 0, 0, UINT32_MAX, &rate, &err), 1);
	cr_assert_eq(rate, UINT32_MAX);
	cr_assert_eq(ky_json_u8(&root, "low", 0, 0, 7, &low, &err), 1);
	cr_assert_eq(low, 0);
	assert_fails_with(ky_json_u16(&root, "min_tx_rate", 0, 0, 4094, &vlan, &err),
			  "min_tx_rate: must be between 0 and 4094, got 4294967295");
}

Test(json, optional_absent_fields_leave_outputs_untouched)
{
	load("{}");
	const char *s = "keep";
	bool b = true;
	int64_t i64 = 42;
	uint32_t u32 = 42;
	uint16_t u16 = 42;
	uint8_t u8 = 42, mac[6] = { 1, 2, 3, 4, 5, 6 };
	int idx = 42;
	struct ky_ip ip = { .family = 42 };
	struct ky_cidr cidr = { .prefix = 42 };
	char **v = (char **)&s;
	size_t n = 42;
	const char *const choices[] = { "a", NULL };

	cr_assert_eq(ky_json_string(&root, "x", 0, &s, &err), 0);
	cr_assert_eq(ky_json_bool(&root, "x", 0, &b, &err), 0);
	cr_assert_eq(ky_json_int(&root, "x", 0, 0, 1, &i64, &err), 0);
	cr_assert_eq(ky_json_u32(&root, "x", 0, 0, 1, &u32, &err), 0);
	cr_assert_eq(ky_json_u16(&root, "x", 0, 0, 1, &u16, &err), 0);
	cr_assert_eq(ky_json_u8(&root, "x", 0, 0, 1, &u8, &err), 0);
	cr_assert_eq(ky_json_enum(&root, "x", 0, choices, &idx, &err), 0);
	cr_assert_eq(ky_json_mac(&root, "x", 0, mac, &err), 0);
	cr_assert_eq(ky_json_ip(&root, "x", 0, &ip, &err), 0);
	cr_assert_eq(ky_json_cidr(&root, "x", 0, &cidr, &err), 0);
	cr_assert_eq(ky_json_string_array(&root, "x", 0, &v, &n, &err), 0);
	cr_assert_null(err);

	cr_assert_str_eq(s, "keep");
	cr_assert(b);
	cr_assert_eq(i64 + u32 + u16 + u8 + idx + ip.family + (int)cidr.prefix + (int)n, 42 * 8);
	cr_assert_eq(mac[5], 6);
	cr_assert_eq(v, (char **)&s);
}

Test(json, required_fields_missing_are_named)
{
	load("{'ipam': {}}");
	struct ky_jnode ipam;
	int64_t mtu;
	const char *type;
	assert_fails_with(ky_json_int(&root, "mtu", KY_JSON_REQUIRED, 0, 9000, &mtu, &err), "mtu: missing required field");
	cr_assert_eq(ky_json_object(&root, "ipam", KY_JSON_REQUIRED, &ipam, &err), 1);
	assert_fails_with(ky_json_string(&ipam, "type", KY_JSON_REQUIRED, &type, &err), "ipam.type: missing required field");
	assert_fails_with(ky_json_object(&root, "runtimeConfig", KY_JSON_REQUIRED, &ipam, &err),
			  "runtimeConfig: missing required field");
}

Test(json, string_rejects_other_types)
{
	load("{'name': 5, 'type': ['sriov'], 'deviceID': {}, 'cniVersion': false}");
	const char *s = NULL;
	assert_fails_with(ky_json_string(&root, "name", 0, &s, &err), "name: expected a string, got number");
	assert_fails_with(ky_json_string(&root, "type", 0, &s, &err), "type: expected a string, got array");
	assert_fails_with(ky_json_string(&root, "deviceID", 0, &s, &err), "deviceID: expected a string, got object");
	assert_fails_with(ky_json_string(&root, "cniVersion", 0, &s, &err), "cniVersion: expected a string, got boolean");
	cr_assert_null(s);
}

Test(json, string_is_non_empty_unless_allowed)
{
	load("{'name': '', 'type': 'kyborg'}");
	const char *s = NULL;
	assert_fails_with(ky_json_string(&root, "name", 0, &s, &err), "name: must not be empty");
	cr_assert_eq(ky_json_string(&root, "name", KY_JSON_ALLOW_EMPTY, &s, &err), 1);
	cr_assert_str_eq(s, "");
	cr_assert_eq(ky_json_string(&root, "type", 0, &s, &err), 1);
	cr_assert_str_eq(s, "kyborg");
}

Test(json, keys_are_case_sensitive)
{
	load("{'MTU': 1500}");
	int64_t v = 0;
	cr_assert_eq(ky_json_int(&root, "mtu", 0, 0, 9000, &v, &err), 0);
	cr_assert_eq(v, 0);
}

Test(json, bool_rejects_the_string_true)
{
	load("{'trust': true, 'spoofchk': 'true', 'x': 1}");
	bool b = false;
	cr_assert_eq(ky_json_bool(&root, "trust", 0, &b, &err), 1);
	cr_assert(b);
	assert_fails_with(ky_json_bool(&root, "spoofchk", 0, &b, &err), "spoofchk: expected a boolean, got string");
	assert_fails_with(ky_json_bool(&root, "x", 0, &b, &err), "x: expected a boolean, got number");
}

Test(json, object_and_array_reject_each_other)
{
	load("{'ipam': [], 'bpf': {}, 'empty': []}");
	struct ky_jnode n;
	size_t len;
	assert_fails_with(ky_json_object(&root, "ipam", 0, &n, &err), "ipam: expected an object, got array");
	assert_fails_with(ky_json_array(&root, "bpf", 0, &n, &len, &err), "bpf: expected an array, got object");
	assert_fails_with(ky_json_array(&root, "empty", KY_JSON_NONEMPTY, &n, &len, &err), "empty: must not be empty");
	cr_assert_eq(ky_json_array(&root, "empty", 0, &n, &len, &err), 1);
	cr_assert_eq(len, 0);
}

Test(json, child_accepts_any_type)
{
	load("{'prevResult': {'ips': []}, 'n': null}");
	struct ky_jnode n;
	cr_assert_eq(ky_json_child(&root, "prevResult", KY_JSON_REQUIRED, &n, &err), 1);
	cr_assert(cJSON_IsObject(n.j));
	cr_assert_eq(ky_json_child(&root, "n", 0, &n, &err), 1);
	cr_assert(cJSON_IsNull(n.j));
	cr_assert_eq(ky_json_child(&root, "n", KY_JSON_NULLABLE, &n, &err), 0);
	cr_assert_null(n.j);
}

Test(json, enum_gives_the_index_of_the_choice)
{
	load("{'vlanProto': '802.1ad'}");
	const char *const protos[] = { "802.1q", "802.1ad", NULL };
	int i = -1;
	cr_assert_eq(ky_json_enum(&root, "vlanProto", 0, protos, &i, &err), 1);
	cr_assert_eq(i, 1);
}

Test(json, enum_mismatch_lists_the_choices)
{
	load("{'vlanProto': '802.1Q', 'spoofchk': true}");
	const char *const protos[] = { "802.1q", "802.1ad", NULL };
	const char *const onoff[] = { "on", "off", NULL };
	int i = -1;
	assert_fails_with(ky_json_enum(&root, "vlanProto", 0, protos, &i, &err),
			  "vlanProto: must be one of 802.1q, 802.1ad, got \"802.1Q\"");
	assert_fails_with(ky_json_enum(&root, "spoofchk", 0, onoff, &i, &err), "spoofchk: expected a string, got boolean");
	cr_assert_eq(i, -1);
}

Test(json, enum_quotes_hostile_values)
{
	load("{'x': 'a\\\"b\\nc'}");
	const char *const choices[] = { "a", NULL };
	int i;
	assert_fails_with(ky_json_enum(&root, "x", 0, choices, &i, &err), "x: must be one of a, got \"a\\\"b\\nc\"");
}

/* ---- Addresses ---- */

Test(json, mac_parses_in_any_case)
{
	uint8_t mac[6];
	char buf[KY_MAC_STRLEN];
	cr_assert_eq(ky_parse_mac("aa:BB:cC:00:09:Ff", mac), 0);
	const uint8_t want[6] = { 0xaa, 0xbb, 0xcc, 0x00, 0x09, 0xff };
	cr_assert_arr_eq(mac, want, 6);
	cr_assert_str_eq(ky_format_mac(mac, buf), "aa:bb:cc:00:09:ff");
	/* Multicast and broadcast are well formed: policy is the caller's. */
	cr_assert_eq(ky_parse_mac("ff:ff:ff:ff:ff:ff", mac), 0);
	cr_assert_eq(ky_parse_mac("01:00:5e:00:00:01", mac), 0);
}

Test(json, mac_rejects_malformed_addresses)
{
	const char *bad[] = {
		"", "aa:bb:cc:dd:ee", "aa:bb:cc:dd:ee:ff:00", "aa:bb:cc:dd:ee:fg", "aa-bb-cc-dd-ee-ff",
		"aabb.ccdd.eeff", "a:b:c:d:e:f", " aa:bb:cc:dd:ee:f", "aa:bb:cc:dd:ee:ff ", "aa::bb:cc:dd:ee:f",
		"aabbccddeeff", "aa:bb:cc:dd:ee:f", "+a:bb:cc:dd:ee:ff",
	};
	uint8_t mac[6] = { 9, 9, 9, 9, 9, 9 };
	for (size_t i = 0; i < KY_ARRAY_SIZE(bad); i++)
		cr_assert_eq(ky_parse_mac(bad[i], mac), -EINVAL, "accepted \"%s\"", bad[i]);
	cr_assert_eq(ky_parse_mac(NULL, mac), -EINVAL);
	cr_assert_eq(mac[0], 9);
}

Test(json, json_mac_names_the_field_and_value)
{
	load("{'mac': 'aa:bb:cc:dd:ee', 'good': 'AA:BB:CC:DD:EE:01', 'num': 5}");
	uint8_t mac[6] = { 0 };
	assert_fails_with(ky_json_mac(&root, "mac", 0, mac, &err),
			  "mac: not a MAC address like aa:bb:cc:dd:ee:ff, got \"aa:bb:cc:dd:ee\"");
	assert_fails_with(ky_json_mac(&root, "num", 0, mac, &err), "num: expected a string, got number");
	cr_assert_eq(mac[0], 0);
	cr_assert_eq(ky_json_mac(&root, "good", 0, mac, &err), 1);
	cr_assert_eq(mac[5], 1);
}

Test(json, ip_parses_v4_and_v6_and_rejects_the_rest)
{
	struct ky_ip ip;
	char buf[KY_IP_STRLEN];
	cr_assert_eq(ky_parse_ip("10.0.0.1", &ip), 0);
	cr_assert_eq(ip.family, AF_INET);
	cr_assert_str_eq(ky_format_ip(&ip, buf), "10.0.0.1");
	cr_assert_eq(ky_parse_ip("FD00::0:1", &ip), 0);
	cr_assert_eq(ip.family, AF_INET6);
	cr_assert_str_eq(ky_format_ip(&ip, buf), "fd00::1");

	const char *bad[] = { "", "1.2.3", "01.2.3.4", "1.2.3.256", "1.2.3.4/32", "fe80::1%eth0", "::g", "host" };
	for (size_t i = 0; i < KY_ARRAY_SIZE(bad); i++)
		cr_assert_eq(ky_parse_ip(bad[i], &ip), -EINVAL, "accepted \"%s\"", bad[i]);
}

Test(json, json_ip_names_the_field)
{
	load("{'gateway': '10.0.0.300'}");
	struct ky_ip ip = { 0 };
	assert_fails_with(ky_json_ip(&root, "gateway", 0, &ip, &err), "gateway: not an IP address, got \"10.0.0.300\"");
	cr_assert_eq(ip.family, 0);
}

Test(json, cidr_parses_v4_and_v6)
{
	struct ky_cidr c;
	char buf[KY_CIDR_STRLEN];
	cr_assert_eq(ky_parse_cidr("10.1.0.0/16", &c), 0);
	cr_assert_eq(c.ip.family, AF_INET);
	cr_assert_eq(c.prefix, 16);
	cr_assert_eq(c.ip.addr[1], 1);
	cr_assert_str_eq(ky_format_cidr(&c, buf), "10.1.0.0/16");
	cr_assert_eq(ky_parse_cidr("fd00:10::/64", &c), 0);
	cr_assert_eq(c.ip.family, AF_INET6);
	cr_assert_eq(c.prefix, 64);
	cr_assert_str_eq(ky_format_cidr(&c, buf), "fd00:10::/64");
	cr_assert_eq(ky_parse_cidr("0.0.0.0/0", &c), 0);
	cr_assert_eq(ky_parse_cidr("::/128", &c), 0);
	cr_assert_eq(c.prefix, 128);
}

Test(json, cidr_rejects_malformed_text)
{
	const char *bad[] = {
		"10.0.0.0",      "10.0.0.0/33",  "fd00::/129",  "10.0.0.0/",      "/24",
		"10.0.0/24",     "10.0.0.0/024", "10.0.0.0/-1", "10.0.0.0/2 4",   "garbage",
		"10.0.0.256/24", "fe80::1%eth0/64", "10.0.0.0/24/8", "10.0.0.0/+8", "10.0.0.0/1000",
	};
	struct ky_cidr c = { .prefix = 99 };
	for (size_t i = 0; i < KY_ARRAY_SIZE(bad); i++)
		cr_assert_eq(ky_parse_cidr(bad[i], &c), -EINVAL, "accepted \"%s\"", bad[i]);
	cr_assert_eq(c.prefix, 99);
}

Test(json, json_cidr_says_why)
{
	load("{'a': '10.0.0.0', 'b': 'x/24', 'c': 'fd00::/200', 'd': '10.0.0.0/1a'}");
	struct ky_cidr c;
	assert_fails_with(ky_json_cidr(&root, "a", 0, &c, &err), "a: not a CIDR (missing /prefix), got \"10.0.0.0\"");
	assert_fails_with(ky_json_cidr(&root, "b", 0, &c, &err), "b: not a CIDR (bad address), got \"x/24\"");
	assert_fails_with(ky_json_cidr(&root, "c", 0, &c, &err),
			  "c: not a CIDR (prefix length above 128), got \"fd00::/200\"");
	assert_fails_with(ky_json_cidr(&root, "d", 0, &c, &err), "d: not a CIDR (bad prefix length), got \"10.0.0.0/1a\"");
}

Test(json, cidr_host_bits_are_allowed_unless_a_network_is_required)
{
	load("{'address': '10.1.2.3/24', 'v6': 'fd00::1/64'}");
	struct ky_cidr c;
	cr_assert_eq(ky_json_cidr(&root, "address", 0, &c, &err), 1);
	cr_assert_eq(c.ip.addr[3], 3);
	cr_assert_not(ky_cidr_is_network(&c));
	assert_fails_with(ky_json_cidr(&root, "address", KY_JSON_NETWORK, &c, &err),
			  "address: host bits set, got \"10.1.2.3/24\", did you mean 10.1.2.0/24?");
	assert_fails_with(ky_json_cidr(&root, "v6", KY_JSON_NETWORK, &c, &err),
			  "v6: host bits set, got \"fd00::1/64\", did you mean fd00::/64?");
}

Test(json, cidr_network_and_contains)
{
	struct ky_cidr c, net;
	struct ky_ip in, out, v6;
	char buf[KY_CIDR_STRLEN];
	cr_assert_eq(ky_parse_cidr("10.1.2.3/21", &c), 0);
	ky_cidr_network(&c, &net);
	cr_assert_str_eq(ky_format_cidr(&net, buf), "10.1.0.0/21");
	cr_assert(ky_cidr_is_network(&net));
	cr_assert_eq(ky_parse_ip("10.1.7.255", &in), 0);
	cr_assert_eq(ky_parse_ip("10.1.8.0", &out), 0);
	cr_assert_eq(ky_parse_ip("::a01:701", &v6), 0);
	cr_assert(ky_cidr_contains(&c, &in));
	cr_assert_not(ky_cidr_contains(&c, &out));
	cr_assert_not(ky_cidr_contains(&c, &v6));

	cr_assert_eq(ky_parse_cidr("0.0.0.0/0", &c), 0);
	cr_assert(ky_cidr_contains(&c, &out));
	cr_assert_eq(ky_parse_cidr("fd00::5/127", &c), 0);
	ky_cidr_network(&c, &net);
	cr_assert_str_eq(ky_format_cidr(&net, buf), "fd00::4/127");
}

/* ---- Collections and schemas ---- */

Test(json, string_array_copies_the_elements)
{
	load("{'selector': {'vendors': ['10de', '1002']}}");
	struct ky_jnode sel;
	_cleanup_(ky_strv_freep) char **v = NULL;
	size_t n = 0;
	cr_assert_eq(ky_json_object(&root, "selector", 0, &sel, &err), 1);
	cr_assert_eq(ky_json_string_array(&sel, "vendors", 0, &v, &n, &err), 1);
	cr_assert_eq(n, 2);
	cr_assert_str_eq(v[0], "10de");
	cr_assert_str_eq(v[1], "1002");
	cr_assert_null(v[2]);
	cJSON_Delete(TAKE_PTR(doc));
	cr_assert_str_eq(v[1], "1002");
}

Test(json, string_array_error_names_the_element)
{
	load("{'selector': {'vendors': ['10de', 4318, '']}}");
	struct ky_jnode sel;
	char **v = NULL;
	cr_assert_eq(ky_json_object(&root, "selector", 0, &sel, &err), 1);
	assert_fails_with(ky_json_string_array(&sel, "vendors", 0, &v, NULL, &err),
			  "selector.vendors[1]: expected a string, got number");
	cr_assert_null(v);
}

Test(json, string_array_checks_emptiness)
{
	load("{'a': ['x', ''], 'b': [], 'c': 'x'}");
	_cleanup_(ky_strv_freep) char **v = NULL;
	size_t n;
	assert_fails_with(ky_json_string_array(&root, "a", 0, &v, &n, &err), "a[1]: must not be empty");
	cr_assert_eq(ky_json_string_array(&root, "a", KY_JSON_ALLOW_EMPTY, &v, &n, &err), 1);
	cr_assert_eq(n, 2);
	ky_strv_free(TAKE_PTR(v));
	assert_fails_with(ky_json_string_array(&root, "b", KY_JSON_NONEMPTY, &v, &n, &err), "b: must not be empty");
	cr_assert_eq(ky_json_string_array(&root, "b", 0, &v, &n, &err), 1);
	cr_assert_eq(n, 0);
	cr_assert_null(v[0]);
	ky_strv_free(TAKE_PTR(v));
	assert_fails_with(ky_json_string_array(&root, "c", 0, &v, &n, &err), "c: expected an array, got string");
}

Test(json, unknown_field_is_reported_with_its_path)
{
	load("{'selector': {'vendors': ['10de'], 'vendorz': ['1002']}}");
	const char *const allowed[] = { "vendors", "devices", "drivers", NULL };
	struct ky_jnode sel;
	cr_assert_eq(ky_json_object(&root, "selector", 0, &sel, &err), 1);
	assert_fails_with(ky_json_check_keys(&sel, allowed, &err), "selector.vendorz: unknown field");
}

Test(json, unknown_field_with_odd_characters_is_quoted)
{
	load("{'name': 'n', 'k8s.io/x': 1}");
	const char *const allowed[] = { "name", NULL };
	assert_fails_with(ky_json_check_keys(&root, allowed, &err), "[\"k8s.io/x\"]: unknown field");
}

Test(json, duplicate_field_is_reported)
{
	/* ky_json_parse refuses a repeated key first; a document built in
	 * memory can still hold one. */
	doc = cJSON_CreateObject();
	cJSON_AddNumberToObject(doc, "vlan", 1);
	cJSON_AddNumberToObject(doc, "mtu", 1500);
	cJSON_AddNumberToObject(doc, "vlan", 2);
	ky_json_root(doc, &root);
	const char *const allowed[] = { "vlan", "mtu", NULL };
	assert_fails_with(ky_json_check_keys(&root, allowed, &err), "vlan: duplicate field");
}

Test(json, known_fields_and_absent_objects_pass_the_key_check)
{
	load("{'cniVersion': '1.0.0', 'name': 'net1'}");
	const char *const allowed[] = { "cniVersion", "name", "type", NULL };
	const char *const none[] = { NULL };
	struct ky_jnode missing;
	cr_assert_eq(ky_json_check_keys(&root, allowed, &err), 0);
	cr_assert_eq(ky_json_object(&root, "runtimeConfig", 0, &missing, &err), 0);
	cr_assert_eq(ky_json_check_keys(&missing, none, &err), 0);
	cr_assert_null(err);
	assert_fails_with(ky_json_check_keys(&root, none, &err), "cniVersion: unknown field");
}

Test(json, key_check_on_a_non_object_says_so)
{
	load("{'ipam': 3}");
	const char *const allowed[] = { NULL };
	struct ky_jnode ipam;
	cr_assert_eq(ky_json_child(&root, "ipam", 0, &ipam, &err), 1);
	assert_fails_with(ky_json_check_keys(&ipam, allowed, &err), "ipam: expected an object, got number");
}

/* ---- Messages ---- */

Test(json, error_helper_prefixes_the_path_except_at_the_root)
{
	load("{'ipam': {}}");
	struct ky_jnode ipam;
	cr_assert_eq(ky_json_object(&root, "ipam", 0, &ipam, &err), 1);
	assert_fails_with(ky_json_error(&ipam, &err, "rangeStart %s not in %s", "10.2.0.1", "10.1.0.0/16"),
			  "ipam: rangeStart 10.2.0.1 not in 10.1.0.0/16");
	assert_fails_with(ky_json_error(&root, &err, "not a %s config", "kyborg"), "not a kyborg config");
}

Test(json, quote_escapes_and_cuts_without_overflow)
{
	char buf[16];
	cr_assert_str_eq(ky_json_quote("a\"b\\c\td", buf, sizeof(buf)), "\"a\\\"b\\\\c\\td\"");
	cr_assert_str_eq(ky_json_quote("\x01", buf, sizeof(buf)), "\"\\u0001\"");
	cr_assert_str_eq(ky_json_quote("abcdefghijklmnopqrstuvwxyz", buf, sizeof(buf)), "\"abcdefghij...\"");
	cr_assert_eq(strlen(buf), sizeof(buf) - 1);
	/* The cut never splits a UTF-8 character. */
	cr_assert_str_eq(ky_json_quote("abcdefghi\xc3\xa9xyz", buf, sizeof(buf)), "\"abcdefghi...\"");
	cr_assert_str_eq(ky_json_quote("abcdefghijkl", buf, sizeof(buf)), "\"abcdefghijkl\"");
	cr_assert_str_eq(ky_json_quote(NULL, buf, sizeof(buf)), "\"\"");
	char tiny[4];
	cr_assert_str_eq(ky_json_quote("abc", tiny, 2), "");
	cr_assert_str_eq(ky_json_quote("abc", tiny, 3), "\"\"");
	cr_assert_str_eq(ky_json_quote("abc", tiny, 4), "\"a\"");
}

Test(json, type_names_read_as_words)
{
	load("[null, true, 1, 's', [], {}]");
	const char *want[] = { "null", "boolean", "number", "string", "array", "object" };
	struct ky_jnode e;
	size_t i;
	ky_json_foreach(&root, i, e)
		cr_assert_str_eq(ky_json_type_name(e.j), want[i]);
	cr_assert_str_eq(ky_json_type_name(NULL), "nothing");
}

/* ---- The two real configs ---- */

Test(json, device_plugin_config_reads_end_to_end)
{
	load("{'resources': [{'name': 'kyborg.io/gpu', 'kind': 'gpu', 'selector': {'vendors': ['10de']},"
	     " 'sharing': {'replicas': 4}}]}");
	const char *const res_keys[] = { "name", "kind", "selector", "sharing", NULL };
	const char *const kinds[] = { "gpu", "fpga", "nic", NULL };
	struct ky_jnode resources, r, sel, sharing;
	size_t n, i;
	cr_assert_eq(ky_json_array(&root, "resources", KY_JSON_REQUIRED | KY_JSON_NONEMPTY, &resources, &n, &err), 1);
	ky_json_foreach(&resources, i, r)
	{
		const char *name;
		int kind = -1;
		uint32_t replicas = 1;
		_cleanup_(ky_strv_freep) char **vendors = NULL;
		cr_assert_eq(ky_json_check_keys(&r, res_keys, &err), 0, "%s", ky_error_msg(err));
		cr_assert_eq(ky_json_string(&r, "name", KY_JSON_REQUIRED, &name, &err), 1);
		cr_assert_eq(ky_json_enum(&r, "kind", KY_JSON_REQUIRED, kinds, &kind, &err), 1);
		cr_assert_eq(ky_json_object(&r, "selector", 0, &sel, &err), 1);
		cr_assert_eq(ky_json_string_array(&sel, "vendors", 0, &vendors, NULL, &err), 1);
		cr_assert_eq(ky_json_object(&r, "sharing", 0, &sharing, &err), 1);
		cr_assert_eq(ky_json_u32(&sharing, "replicas", 0, 1, 64, &replicas, &err), 1);
		cr_assert_str_eq(name, "kyborg.io/gpu");
		cr_assert_eq(kind, 0);
		cr_assert_str_eq(vendors[0], "10de");
		cr_assert_eq(replicas, 4);
	}
	cr_assert_eq(i, 1);
}

Test(json, cni_config_reads_end_to_end)
{
	load("{'cniVersion': '1.0.0', 'name': 'sriov-net', 'type': 'kyborg', 'deviceID': '0000:3b:02.1',"
	     " 'vlan': 100, 'vlanQoS': 3, 'vlanProto': '802.1ad', 'mac': 'CA:FE:00:00:00:01', 'spoofchk': 'off',"
	     " 'mtu': 9000, 'min_tx_rate': 100, 'ipam': {'type': 'host-local'},"
	     " 'runtimeConfig': {'mac': 'ca:fe:00:00:00:02'}, 'bpf': [{'object': 'f.o', 'program': 'p', 'attach': 'tc'}]}");
	const char *const protos[] = { "802.1q", "802.1ad", NULL };
	const char *const onoff[] = { "on", "off", NULL };
	uint16_t vlan = 0;
	uint8_t qos = 0, mac[6], rmac[6];
	int proto = 0, spoof = 0;
	uint32_t mtu = 0, rate = 0;
	struct ky_jnode rc;
	char buf[KY_MAC_STRLEN];
	cr_assert_eq(ky_json_u16(&root, "vlan", 0, 0, 4094, &vlan, &err), 1);
	cr_assert_eq(ky_json_u8(&root, "vlanQoS", 0, 0, 7, &qos, &err), 1);
	cr_assert_eq(ky_json_enum(&root, "vlanProto", 0, protos, &proto, &err), 1);
	cr_assert_eq(ky_json_mac(&root, "mac", 0, mac, &err), 1);
	cr_assert_eq(ky_json_enum(&root, "spoofchk", 0, onoff, &spoof, &err), 1);
	cr_assert_eq(ky_json_u32(&root, "mtu", 0, 68, 65535, &mtu, &err), 1);
	cr_assert_eq(ky_json_u32(&root, "min_tx_rate", 0, 0, UINT32_MAX, &rate, &err), 1);
	cr_assert_eq(ky_json_object(&root, "runtimeConfig", 0, &rc, &err), 1);
	cr_assert_eq(ky_json_mac(&rc, "mac", 0, rmac, &err), 1);
	cr_assert_eq(vlan, 100);
	cr_assert_eq(qos, 3);
	cr_assert_eq(proto, 1);
	cr_assert_eq(spoof, 1);
	cr_assert_eq(mtu, 9000);
	cr_assert_eq(rate, 100);
	cr_assert_str_eq(ky_format_mac(mac, buf), "ca:fe:00:00:00:01");
	cr_assert_str_eq(ky_format_mac(rmac, buf), "ca:fe:00:00:00:02");
	cr_assert_null(err);
}

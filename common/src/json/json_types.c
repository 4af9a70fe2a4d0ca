/* The typed getters: strings, booleans, integers, enums, MAC, IP and CIDR
 * addresses (parsed by kyborg/base/inet.h), string arrays, and the check
 * for unknown fields. */
#include "kyborg/json/json.h"
#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The largest magnitude below which every integer is an exact double. */
#define EXACT_MAX 9007199254740992.0 /* 2^53 */

static int expected(const struct ky_jnode *n, const char *what, struct ky_error **err)
{
	return ky_json_error(n, err, "expected %s, got %s", what, ky_json_type_name(n->j));
}

/* ---- Scalars ---- */

int ky_json_string(const struct ky_jnode *obj, const char *key, int flags, const char **out,
		   struct ky_error **err)
{
	struct ky_jnode n;
	int r = ky_json_child(obj, key, flags, &n, err);
	if (r <= 0)
		return r;
	if (!cJSON_IsString(n.j) || !n.j->valuestring)
		return expected(&n, "a string", err);
	if (!*n.j->valuestring && !(flags & KY_JSON_ALLOW_EMPTY))
		return ky_json_error(&n, err, "must not be empty");
	*out = n.j->valuestring;
	return 1;
}

int ky_json_bool(const struct ky_jnode *obj, const char *key, int flags, bool *out, struct ky_error **err)
{
	struct ky_jnode n;
	int r = ky_json_child(obj, key, flags, &n, err);
	if (r <= 0)
		return r;
	if (!cJSON_IsBool(n.j))
		return expected(&n, "a boolean", err);
	*out = cJSON_IsTrue(n.j);
	return 1;
}

/* The number as its writer would recognise it. */
static const char *show_number(double d, char buf[40])
{
	if (isnan(d))
		return "NaN";
	if (isinf(d))
		return d > 0 ? "infinity" : "-infinity";
	if (fabs(d) <= EXACT_MAX && d == (double)(int64_t)d) {
		snprintf(buf, 40, "%" PRId64, (int64_t)d);
	} else {
		snprintf(buf, 40, "%.15g", d);
		if (strtod(buf, NULL) != d)
			snprintf(buf, 40, "%.17g", d);
	}
	return buf;
}

int ky_json_int(const struct ky_jnode *obj, const char *key, int flags, int64_t min, int64_t max, int64_t *out,
		struct ky_error **err)
{
	struct ky_jnode n;
	char num[40];
	int r = ky_json_child(obj, key, flags, &n, err);
	if (r <= 0)
		return r;
	if (!cJSON_IsNumber(n.j))
		return expected(&n, "an integer", err);

	double d = n.j->valuedouble;
	if (isnan(d))
		return ky_json_error(&n, err, "expected an integer, got NaN");
	if (!isinf(d) && fabs(d) <= EXACT_MAX) {
		if (d != (double)(int64_t)d)
			return ky_json_error(&n, err, "expected an integer, got %s", show_number(d, num));
		int64_t v = (int64_t)d;
		if (v < min || v > max)
			goto out_of_range;
		*out = v;
		return 1;
	}
	/* Past 2^53 neighbouring integers share a double: refuse rather than round. */
	if (isinf(d) || d < (double)min || d > (double)max)
		goto out_of_range;
	return ky_json_error(&n, err, "%s is too large to be an exact integer", show_number(d, num));

out_of_range:
	return ky_json_error(&n, err, "must be between %" PRId64 " and %" PRId64 ", got %s", min, max,
		    show_number(d, num));
}

bool ky_json_int_at(const cJSON *obj, const char *key, int64_t min, int64_t max, int64_t *out)
{
	struct ky_jnode n;
	int64_t v = 0;
	if (!cJSON_IsObject(obj))
		return false;
	ky_json_root(obj, &n);
	if (ky_json_int(&n, key, 0, min, max, &v, NULL) <= 0)
		return false;
	*out = v;
	return true;
}

#define DEFINE_UINT_GETTER(name, type)                                                                    \
	int name(const struct ky_jnode *obj, const char *key, int flags, type min, type max, type *out,   \
		 struct ky_error **err)                                                                   \
	{                                                                                                 \
		int64_t v;                                                                                \
		int r = ky_json_int(obj, key, flags, min, max, &v, err);                                  \
		if (r > 0)                                                                                \
			*out = (type)v;                                                                   \
		return r;                                                                                 \
	}

DEFINE_UINT_GETTER(ky_json_u32, uint32_t)
DEFINE_UINT_GETTER(ky_json_u16, uint16_t)
DEFINE_UINT_GETTER(ky_json_u8, uint8_t)

int ky_json_enum(const struct ky_jnode *obj, const char *key, int flags, const char *const choices[], int *index,
		 struct ky_error **err)
{
	struct ky_jnode n;
	int r = ky_json_child(obj, key, flags, &n, err);
	if (r <= 0)
		return r;
	if (!cJSON_IsString(n.j) || !n.j->valuestring)
		return expected(&n, "a string", err);
	for (int i = 0; choices[i]; i++) {
		if (strcmp(n.j->valuestring, choices[i]) == 0) {
			*index = i;
			return 1;
		}
	}

	char list[256] = "", got[80];
	size_t o = 0;
	for (int i = 0; choices[i] && o < sizeof(list); i++)
		o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s", i ? ", " : "", choices[i]);
	return ky_json_error(&n, err, "must be one of %s, got %s", list, ky_json_quote(n.j->valuestring, got, sizeof(got)));
}

/* The string an address getter parses: 1, 0 when absent, or the error. */
static int address_string(const struct ky_jnode *obj, const char *key, int flags, struct ky_jnode *n,
			  const char **s, struct ky_error **err)
{
	int r = ky_json_child(obj, key, flags, n, err);
	if (r <= 0)
		return r;
	return ky_json_string(n, NULL, KY_JSON_REQUIRED | KY_JSON_ALLOW_EMPTY, s, err);
}

int ky_json_mac(const struct ky_jnode *obj, const char *key, int flags, uint8_t mac[6], struct ky_error **err)
{
	struct ky_jnode n;
	const char *s = NULL;
	char got[80];
	int r = address_string(obj, key, flags, &n, &s, err);
	if (r <= 0)
		return r;
	if (ky_parse_mac(s, mac) < 0)
		return ky_json_error(&n, err, "not a MAC address like aa:bb:cc:dd:ee:ff, got %s",
				     ky_json_quote(s, got, sizeof(got)));
	return 1;
}

int ky_json_ip(const struct ky_jnode *obj, const char *key, int flags, struct ky_ip *out, struct ky_error **err)
{
	struct ky_jnode n;
	const char *s = NULL;
	char got[80];
	int r = address_string(obj, key, flags, &n, &s, err);
	if (r <= 0)
		return r;
	if (ky_parse_ip(s, out) < 0)
		return ky_json_error(&n, err, "not an IP address, got %s", ky_json_quote(s, got, sizeof(got)));
	return 1;
}

int ky_json_cidr(const struct ky_jnode *obj, const char *key, int flags, struct ky_cidr *out,
		 struct ky_error **err)
{
	struct ky_jnode n;
	struct ky_cidr c;
	const char *s = NULL, *why = NULL;
	char got[80], net[KY_CIDR_STRLEN];
	int r = address_string(obj, key, flags, &n, &s, err);
	if (r <= 0)
		return r;
	why = ky_cidr_problem(s, &c);
	if (why)
		return ky_json_error(&n, err, "not a CIDR (%s), got %s", why, ky_json_quote(s, got, sizeof(got)));
	if ((flags & KY_JSON_NETWORK) && !ky_cidr_is_network(&c)) {
		struct ky_cidr nc;
		ky_cidr_network(&c, &nc);
		return ky_json_error(&n, err, "host bits set, got %s, did you mean %s?",
				     ky_json_quote(s, got, sizeof(got)), ky_format_cidr(&nc, net));
	}
	*out = c;
	return 1;
}

/* ---- Collections ---- */

int ky_json_string_array(const struct ky_jnode *obj, const char *key, int flags, char ***out, size_t *n,
			 struct ky_error **err)
{
	struct ky_jnode arr, e;
	size_t len, i;
	int r = ky_json_array(obj, key, flags, &arr, &len, err);
	if (r <= 0)
		return r;

	_cleanup_(ky_strv_freep) char **v = calloc(len + 1, sizeof(*v));
	if (!v)
		return ky_error_set(err, ENOMEM, "%s: out of memory", arr.path);
	ky_json_foreach(&arr, i, e)
	{
		const char *s = NULL;
		r = ky_json_string(&e, NULL, KY_JSON_REQUIRED | (flags & KY_JSON_ALLOW_EMPTY), &s, err);
		if (r < 0)
			return r;
		v[i] = strdup(s);
		if (!v[i])
			return ky_error_set(err, ENOMEM, "%s: out of memory", e.path);
	}
	*out = TAKE_PTR(v);
	if (n)
		*n = len;
	return 1;
}

int ky_json_check_keys(const struct ky_jnode *obj, const char *const allowed[], struct ky_error **err)
{
	if (!obj->j)
		return 0;
	if (!cJSON_IsObject(obj->j))
		return expected(obj, "an object", err);

	size_t count = 0;
	while (allowed[count])
		count++;
	_cleanup_free_ bool *seen = calloc(count + 1, sizeof(*seen));
	if (!seen)
		return ky_error_set(err, ENOMEM, "out of memory");

	struct ky_jnode member;
	size_t i;
	ky_json_foreach(obj, i, member)
	{
		const char *key = member.j->string ? member.j->string : "";
		size_t k = 0;
		while (k < count && strcmp(key, allowed[k]) != 0)
			k++;
		if (k == count)
			return ky_json_error(&member, err, "unknown field");
		if (seen[k])
			return ky_json_error(&member, err, "duplicate field");
		seen[k] = true;
	}
	return 0;
}

/* ResourceSlice validation as the API server does it, for what this driver
 * writes (node-local pools: no counters, no per-device node selection). */
#include "dra_validate.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dra_quantity.h"
#include "kyborg/base/error.h"

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c)
{
	return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

/* A DNS label of len bytes at s (not NUL-terminated). */
static bool label_n(const char *s, size_t len)
{
	if (!len || len > 63 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[len - 1]))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!is_lower_alnum(s[i]) && s[i] != '-')
			return false;
	return true;
}

bool dra_is_dns_label(const char *s)
{
	return s && label_n(s, strlen(s));
}

static bool subdomain_n(const char *s, size_t len)
{
	if (!len || len > 253)
		return false;
	size_t start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || s[i] == '.') {
			if (!label_n(s + start, i - start))
				return false;
			start = i + 1;
		}
	}
	return true;
}

bool dra_is_dns_subdomain(const char *s)
{
	return s && subdomain_n(s, strlen(s));
}

static bool label_value_n(const char *s, size_t len)
{
	if (!len)
		return true;
	if (len > 63 || !is_alnum(s[0]) || !is_alnum(s[len - 1]))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			return false;
	return true;
}

bool dra_is_label_value(const char *s)
{
	return s && label_value_n(s, strlen(s));
}

bool dra_is_label_key(const char *s)
{
	if (!s)
		return false;
	const char *slash = strchr(s, '/');
	const char *name = s;
	if (slash) {
		if (strchr(slash + 1, '/') || !subdomain_n(s, (size_t)(slash - s)))
			return false;
		name = slash + 1;
	}
	return *name && label_value_n(name, strlen(name));
}

/* One dot-separated identifier list of semver ([0-9A-Za-z-]+ each); numeric
 * identifiers without leading zeros when numeric_strict. */
static bool semver_ids(const char *s, size_t len, bool numeric_strict)
{
	size_t start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && s[i] != '.') {
			if (!is_alnum(s[i]) && s[i] != '-')
				return false;
			continue;
		}
		size_t n = i - start;
		if (!n)
			return false;
		bool numeric = true;
		for (size_t k = start; k < i; k++)
			numeric &= s[k] >= '0' && s[k] <= '9';
		if (numeric_strict && numeric && n > 1 && s[start] == '0')
			return false;
		start = i + 1;
	}
	return true;
}

bool dra_is_semver(const char *s)
{
	if (!s)
		return false;
	/* MAJOR.MINOR.PATCH, numbers without leading zeros. */
	for (int part = 0; part < 3; part++) {
		if (*s < '0' || *s > '9')
			return false;
		if (*s == '0' && s[1] >= '0' && s[1] <= '9')
			return false;
		while (*s >= '0' && *s <= '9')
			s++;
		if (part < 2 && *s++ != '.')
			return false;
	}
	const char *plus = strchr(s, '+');
	size_t pre_len = plus ? (size_t)(plus - s) : strlen(s);
	if (pre_len) {
		if (*s != '-' || !semver_ids(s + 1, pre_len - 1, true))
			return false;
	}
	if (plus && !semver_ids(plus + 1, strlen(plus + 1), false))
		return false;
	return true;
}

static bool c_identifier(const char *s)
{
	if (!*s || strlen(s) > 32 || (s[0] >= '0' && s[0] <= '9'))
		return false;
	for (; *s; s++)
		if (!is_alnum(*s) && *s != '_')
			return false;
	return true;
}

int dra_check_qualified_name(const char *name, const char *field, struct ky_error **err)
{
	const char *slash = strchr(name, '/');
	const char *id = name;
	if (slash) {
		if (strchr(slash + 1, '/'))
			return ky_error_set(err, EINVAL, "%s: \"%s\": must not contain more than one slash", field, name);
		size_t dlen = (size_t)(slash - name);
		char domain[254];
		if (!dlen || dlen > 63)
			return ky_error_set(err, EINVAL, "%s: \"%s\": the domain must be 1 to 63 characters", field,
					    name);
		for (size_t i = 0; i < dlen; i++)
			domain[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] - 'A' + 'a' : name[i]);
		if (!subdomain_n(domain, dlen))
			return ky_error_set(err, EINVAL, "%s: \"%s\": the domain must be a DNS subdomain", field, name);
		id = slash + 1;
	}
	if (!c_identifier(id))
		return ky_error_set(err, EINVAL, "%s: \"%s\": the name must be a C identifier of at most 32 characters",
				    field, name);
	return 0;
}

static int check_attribute(const cJSON *a, const char *field, struct ky_error **err)
{
	static const char *const kinds[] = { "int", "bool", "string", "version" };
	int n = 0;
	for (size_t i = 0; i < 4; i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(a, kinds[i]);
		if (!v || cJSON_IsNull(v))
			continue;
		n++;
		if ((i == 0 && !cJSON_IsNumber(v)) || (i == 1 && !cJSON_IsBool(v)) || (i >= 2 && !cJSON_IsString(v)))
			return ky_error_set(err, EINVAL, "%s.%s: wrong JSON type", field, kinds[i]);
		if (i >= 2 && strlen(v->valuestring) > DRA_VALUE_MAX)
			return ky_error_set(err, EINVAL, "%s.%s: may not be more than %d bytes", field, kinds[i],
					    DRA_VALUE_MAX);
		if (i == 3 && !dra_is_semver(v->valuestring))
			return ky_error_set(err, EINVAL, "%s.version: \"%s\": must be a semantic version", field,
					    v->valuestring);
	}
	if (n != 1)
		return ky_error_set(err, EINVAL, "%s: exactly one value must be specified", field);
	return 0;
}

static int check_capacity(const cJSON *c, bool multi, const char *field, struct ky_error **err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(c, "value");
	dra_quantity q;
	if (!cJSON_IsString(v) || dra_quantity_parse(v->valuestring, &q) < 0)
		return ky_error_set(err, EINVAL, "%s.value: must be a quantity", field);
	const cJSON *policy = cJSON_GetObjectItemCaseSensitive(c, "requestPolicy");
	if (policy && !multi)
		return ky_error_set(err, EINVAL, "%s.requestPolicy: allowMultipleAllocations must be true", field);
	if (!policy)
		return 0;
	/* What this driver publishes: a default inside a validRange. */
	const cJSON *def = cJSON_GetObjectItemCaseSensitive(policy, "default");
	const cJSON *range = cJSON_GetObjectItemCaseSensitive(policy, "validRange");
	dra_quantity d, lo, hi = q, step = 0;
	if (!cJSON_IsString(def) || dra_quantity_parse(def->valuestring, &d) < 0)
		return ky_error_set(err, EINVAL, "%s.requestPolicy.default: must be a quantity", field);
	if (range) {
		const cJSON *min = cJSON_GetObjectItemCaseSensitive(range, "min");
		const cJSON *max = cJSON_GetObjectItemCaseSensitive(range, "max");
		const cJSON *st = cJSON_GetObjectItemCaseSensitive(range, "step");
		if (!cJSON_IsString(min) || dra_quantity_parse(min->valuestring, &lo) < 0)
			return ky_error_set(err, EINVAL, "%s.requestPolicy.validRange.min: must be a quantity", field);
		if (max && (!cJSON_IsString(max) || dra_quantity_parse(max->valuestring, &hi) < 0))
			return ky_error_set(err, EINVAL, "%s.requestPolicy.validRange.max: must be a quantity", field);
		if (st && (!cJSON_IsString(st) || dra_quantity_parse(st->valuestring, &step) < 0 || step <= 0))
			return ky_error_set(err, EINVAL, "%s.requestPolicy.validRange.step: must be greater than zero",
					    field);
		if (lo > q || hi > q || lo > hi || d < lo || d > hi || (step && lo + step > q) ||
		    (step && ((d - lo) % step || (max && (hi - lo) % step))))
			return ky_error_set(err, EINVAL, "%s.requestPolicy: default, min, max and step must fit "
							 "the capacity value",
					    field);
	}
	return 0;
}

static int check_taint(const cJSON *t, const char *field, struct ky_error **err)
{
	const cJSON *key = cJSON_GetObjectItemCaseSensitive(t, "key");
	const cJSON *value = cJSON_GetObjectItemCaseSensitive(t, "value");
	const cJSON *effect = cJSON_GetObjectItemCaseSensitive(t, "effect");
	if (!cJSON_IsString(key) || !dra_is_label_key(key->valuestring))
		return ky_error_set(err, EINVAL, "%s.key: must be a label key", field);
	if (value && (!cJSON_IsString(value) || !dra_is_label_value(value->valuestring)))
		return ky_error_set(err, EINVAL, "%s.value: must be a label value", field);
	if (!cJSON_IsString(effect) || (strcmp(effect->valuestring, "NoSchedule") &&
					strcmp(effect->valuestring, "NoExecute") && strcmp(effect->valuestring, "None")))
		return ky_error_set(err, EINVAL, "%s.effect: must be NoSchedule, NoExecute or None", field);
	return 0;
}

int dra_check_device(const cJSON *device, const char *field, struct ky_error **err)
{
	char f[256];
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(device, "name");
	if (!cJSON_IsString(name) || !dra_is_dns_label(name->valuestring))
		return ky_error_set(err, EINVAL, "%s.name: %s%s%s: must be a DNS label", field,
				    cJSON_IsString(name) ? "\"" : "", cJSON_IsString(name) ? name->valuestring : "missing",
				    cJSON_IsString(name) ? "\"" : "");
	const cJSON *attrs = cJSON_GetObjectItemCaseSensitive(device, "attributes");
	const cJSON *caps = cJSON_GetObjectItemCaseSensitive(device, "capacity");
	int total = cJSON_GetArraySize(attrs) + cJSON_GetArraySize(caps);
	if (total > DRA_MAX_ATTRS)
		return ky_error_set(err, EINVAL, "%s: %d attributes and capacities: must not exceed %d", field, total,
				    DRA_MAX_ATTRS);
	const cJSON *a;
	snprintf(f, sizeof(f), "%s.attributes", field);
	cJSON_ArrayForEach(a, attrs)
	{
		int r = dra_check_qualified_name(a->string, f, err);
		if (r < 0)
			return r;
		char af[300];
		snprintf(af, sizeof(af), "%s.attributes[%s]", field, a->string);
		if ((r = check_attribute(a, af, err)) < 0)
			return r;
	}
	const cJSON *multi = cJSON_GetObjectItemCaseSensitive(device, "allowMultipleAllocations");
	snprintf(f, sizeof(f), "%s.capacity", field);
	cJSON_ArrayForEach(a, caps)
	{
		int r = dra_check_qualified_name(a->string, f, err);
		if (r < 0)
			return r;
		char cf[300];
		snprintf(cf, sizeof(cf), "%s.capacity[%s]", field, a->string);
		if ((r = check_capacity(a, cJSON_IsTrue(multi), cf, err)) < 0)
			return r;
	}
	const cJSON *taints = cJSON_GetObjectItemCaseSensitive(device, "taints");
	if (cJSON_GetArraySize(taints) > DRA_MAX_TAINTS)
		return ky_error_set(err, EINVAL, "%s.taints: must have at most %d items", field, DRA_MAX_TAINTS);
	int i = 0;
	cJSON_ArrayForEach(a, taints)
	{
		char tf[300];
		snprintf(tf, sizeof(tf), "%s.taints[%d]", field, i++);
		int r = check_taint(a, tf, err);
		if (r < 0)
			return r;
	}
	return 0;
}

static const char *str(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int pool_name_check(const char *name)
{
	if (!name || !*name || strlen(name) > 253)
		return -EINVAL;
	const char *p = name;
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		if (!subdomain_n(p, n))
			return -EINVAL;
		if (!slash)
			return 0;
		p = slash + 1;
	}
}

int dra_check_slice(const cJSON *slice, struct ky_error **err)
{
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(slice, "spec");
	const char *driver = str(spec, "driver");
	char lower[64];
	size_t dlen = driver ? strlen(driver) : 0;
	if (!dlen || dlen > 63)
		return ky_error_set(err, EINVAL, "spec.driver: must be 1 to 63 characters");
	for (size_t i = 0; i <= dlen; i++)
		lower[i] = (char)(driver[i] >= 'A' && driver[i] <= 'Z' ? driver[i] - 'A' + 'a' : driver[i]);
	if (!dra_is_dns_subdomain(lower))
		return ky_error_set(err, EINVAL, "spec.driver: \"%s\": must be a DNS subdomain", driver);
	const cJSON *pool = cJSON_GetObjectItemCaseSensitive(spec, "pool");
	if (pool_name_check(str(pool, "name")) < 0)
		return ky_error_set(err, EINVAL, "spec.pool.name: must be DNS subdomains separated by '/'");
	const cJSON *count = cJSON_GetObjectItemCaseSensitive(pool, "resourceSliceCount");
	const cJSON *gen = cJSON_GetObjectItemCaseSensitive(pool, "generation");
	if (!cJSON_IsNumber(count) || count->valuedouble <= 0)
		return ky_error_set(err, EINVAL, "spec.pool.resourceSliceCount: must be greater than zero");
	if (!cJSON_IsNumber(gen) || gen->valuedouble < 0)
		return ky_error_set(err, EINVAL, "spec.pool.generation: must be greater than or equal to zero");
	const char *node = str(spec, "nodeName");
	if (!node || !dra_is_dns_subdomain(node))
		return ky_error_set(err, EINVAL, "spec.nodeName: must be a DNS subdomain");
	const cJSON *devices = cJSON_GetObjectItemCaseSensitive(spec, "devices");
	int n = cJSON_GetArraySize(devices);
	bool tainted = false;
	const cJSON *d;
	cJSON_ArrayForEach(d, devices)
		tainted |= cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(d, "taints")) > 0;
	int max = tainted ? DRA_SLICE_MAX_TAINTED : DRA_SLICE_MAX_DEVICES;
	if (n > max)
		return ky_error_set(err, EINVAL, "spec.devices: %d devices: must have at most %d%s", n, max,
				    tainted ? " when a device has taints" : "");
	int i = 0;
	cJSON_ArrayForEach(d, devices)
	{
		char f[64];
		snprintf(f, sizeof(f), "spec.devices[%d]", i);
		int r = dra_check_device(d, f, err);
		if (r < 0)
			return r;
		/* Names unique in the slice (the pool's uniqueness is the
		 * layout's: slices are cut from one sorted list). */
		const char *name = str(d, "name");
		int k = 0;
		const cJSON *e;
		cJSON_ArrayForEach(e, devices)
		{
			if (k++ >= i)
				break;
			if (!strcmp(str(e, "name"), name))
				return ky_error_set(err, EINVAL, "%s.name: \"%s\": duplicate", f, name);
		}
		i++;
	}
	return 0;
}

/* A claim's opaque configs (dra_config.h): parsed with the JSON path of
 * the first bad field, ordered as they apply, matched to devices, and the
 * rule for two claims on one shared GPU. Pure. */
#include "dra_config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <linux/if_ether.h>

#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/base/strv.h"
#include "kyborg/json/json.h"

static const char *const kind_names[] = { "VfConfig", "FpgaConfig", "GpuConfig", NULL };
static const char *const sharing_names[] = { "exclusive", "timeSliced", NULL };
static const char *const on_off[] = { "on", "off", NULL };
static const char *const link_states[] = { "auto", "enable", "disable", NULL };
static const char *const vf_drivers[] = { "netdevice", "vfio-pci", NULL };
static const char *const sources[] = { "FromClass", "FromClaim", NULL };

/* Environment the driver or a runtime hook reads: a claim may not set it
 * (NVIDIA_VISIBLE_DEVICES would hand the container other GPUs). */
static const char *const reserved_env_prefixes[] = { "NVIDIA_", "PCIDEVICE_", "KYBORG_" };

const char *dra_config_kind_name(enum dra_config_kind kind)
{
	return (unsigned)kind < 3 ? kind_names[kind] : "unknown";
}

const char *dra_gpu_sharing_name(enum dra_gpu_sharing s)
{
	return (unsigned)s < 2 ? sharing_names[s] : "unknown";
}

int dra_gpu_sharing_parse(const char *s, enum dra_gpu_sharing *out)
{
	for (int i = 0; s && sharing_names[i]; i++) {
		if (strcmp(s, sharing_names[i]) == 0) {
			*out = (enum dra_gpu_sharing)i;
			return 0;
		}
	}
	return -EINVAL;
}

static void config_release(struct dra_config *c)
{
	ky_strv_free(c->requests);
	ky_image_spec_release(&c->bitstream);
	ky_strv_free(c->env);
	memset(c, 0, sizeof(*c));
}

void dra_configs_release(struct dra_configs *c)
{
	for (size_t i = 0; c->v && i < c->n; i++)
		config_release(&c->v[i]);
	free(c->v);
	c->v = NULL;
	c->n = 0;
}

/* ---- VfConfig ---- */

/* "on"/"off" as the CNI config writes them, or a JSON boolean. */
static int on_off_field(const struct ky_jnode *params, const char *key, bool *out, struct ky_error **err)
{
	struct ky_jnode n;
	int idx;
	int r = ky_json_child(params, key, 0, &n, err);
	if (r <= 0)
		return r;
	if (cJSON_IsBool(n.j)) {
		*out = cJSON_IsTrue(n.j);
		return 1;
	}
	if (!cJSON_IsString(n.j))
		return ky_json_error(&n, err, "must be \"on\", \"off\", true or false, got %s", ky_json_type_name(n.j));
	if ((r = ky_json_enum(params, key, 0, on_off, &idx, err)) < 0)
		return r;
	*out = idx == 0;
	return 1;
}

static int parse_vf(const struct ky_jnode *p, struct dra_config *c, struct ky_error **err)
{
	static const char *const keys[] = { "apiVersion", "kind", "vlan", "vlanQoS", "vlanProto", "mac", "spoofchk",
					    "trust", "link_state", "min_tx_rate", "max_tx_rate", "driver", NULL };
	struct ky_vf_config *v = &c->vf;
	const char *proto = NULL;
	int r, idx;
	bool b;
	if ((r = ky_json_check_keys(p, keys, err)) < 0)
		return r;
	v->vlan_proto = ETH_P_8021Q;
	if ((r = ky_json_u16(p, "vlan", 0, 0, 4094, &v->vlan, err)) < 0)
		return r;
	v->mask |= r ? KY_VF_VLAN : 0;
	if ((r = ky_json_u8(p, "vlanQoS", 0, 0, 7, &v->qos, err)) < 0)
		return r;
	v->mask |= r ? KY_VF_VLAN : 0;
	if ((r = ky_json_string(p, "vlanProto", 0, &proto, err)) < 0)
		return r;
	if (r) {
		struct ky_jnode n;
		char q[40];
		ky_json_child(p, "vlanProto", 0, &n, NULL);
		/* Any case, as sriov-cni and the CNI plugin take it. */
		if (ky_vf_vlan_proto_parse(proto, &v->vlan_proto) < 0)
			return ky_json_error(&n, err, "must be one of 802.1q, 802.1ad (any case), got %s",
					     ky_json_quote(proto, q, sizeof(q)));
		v->mask |= KY_VF_VLAN;
	}
	if ((v->mask & KY_VF_VLAN) && v->vlan == 0 && (v->qos || v->vlan_proto != ETH_P_8021Q)) {
		struct ky_jnode n;
		ky_json_child(p, v->qos ? "vlanQoS" : "vlanProto", 0, &n, NULL);
		return ky_json_error(&n, err, "needs a vlan other than 0");
	}
	if ((r = ky_json_mac(p, "mac", 0, v->mac, err)) < 0)
		return r;
	if (r) {
		if (v->mac[0] & 1) {
			struct ky_jnode n;
			ky_json_child(p, "mac", 0, &n, NULL);
			return ky_json_error(&n, err, "a multicast address cannot be a VF's address");
		}
		v->mask |= KY_VF_MAC;
	}
	if ((r = on_off_field(p, "spoofchk", &b, err)) < 0)
		return r;
	if (r) {
		v->spoofchk = b;
		v->mask |= KY_VF_SPOOFCHK;
	}
	if ((r = on_off_field(p, "trust", &b, err)) < 0)
		return r;
	if (r) {
		v->trust = b;
		v->mask |= KY_VF_TRUST;
	}
	if ((r = ky_json_enum(p, "link_state", 0, link_states, &idx, err)) < 0)
		return r;
	if (r) {
		v->link_state = (enum ky_vf_link_state)idx;
		v->mask |= KY_VF_LINK_STATE;
	}
	if ((r = ky_json_u32(p, "min_tx_rate", 0, 0, UINT32_MAX, &v->min_tx_rate, err)) < 0)
		return r;
	v->mask |= r ? KY_VF_RATE : 0;
	if ((r = ky_json_u32(p, "max_tx_rate", 0, 0, UINT32_MAX, &v->max_tx_rate, err)) < 0)
		return r;
	v->mask |= r ? KY_VF_RATE : 0;
	if (v->max_tx_rate && v->min_tx_rate > v->max_tx_rate) {
		struct ky_jnode n;
		ky_json_child(p, "min_tx_rate", 0, &n, NULL);
		return ky_json_error(&n, err, "%u is above max_tx_rate %u", v->min_tx_rate, v->max_tx_rate);
	}
	if ((r = ky_json_enum(p, "driver", 0, vf_drivers, &idx, err)) < 0)
		return r;
	c->vf_driver = r ? (idx == 0 ? KY_DRA_VF_DRIVER_NETDEVICE : KY_DRA_VF_DRIVER_VFIO) : KY_DRA_VF_DRIVER_KEEP;
	return 0;
}

/* ---- FpgaConfig ---- */

/* An AFU id as the kernel prints it (32 hex digits) or as a UUID. */
static bool afu_id_valid(const char *id)
{
	size_t hex = 0, n = strlen(id);
	if (n != 32 && n != 36)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (n == 36 && (i == 8 || i == 13 || i == 18 || i == 23)) {
			if (id[i] != '-')
				return false;
		} else if (isxdigit((unsigned char)id[i])) {
			hex++;
		} else {
			return false;
		}
	}
	return hex == 32;
}

/* An absolute path strictly under dir, without "." or ".." components or
 * empty ones (nothing a later resolution could lead elsewhere but links,
 * which the driver resolves before it reads). */
static bool path_under(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	while (n > 1 && dir[n - 1] == '/')
		n--;
	if (strncmp(path, dir, n) != 0 || path[n] != '/' || !path[n + 1])
		return false;
	for (const char *c = path + n; *c; c++) {
		if (*c != '/')
			continue;
		const char *next = c + 1;
		size_t len = strcspn(next, "/");
		if (len == 0 || (len == 1 && next[0] == '.') || (len == 2 && next[0] == '.' && next[1] == '.'))
			return false;
	}
	return true;
}

static int parse_fpga(const struct ky_jnode *p, const struct dra_config_rules *rules, struct dra_config *c,
		      struct ky_error **err)
{
	static const char *const keys[] = { "apiVersion", "kind", "bitstream", NULL };
	struct ky_jnode b, n;
	int r;
	if ((r = ky_json_check_keys(p, keys, err)) < 0 || (r = ky_json_child(p, "bitstream", 0, &b, err)) < 0 ||
	    (r = ky_image_spec_parse(&b, &c->bitstream, err)) < 0)
		return r;
	const struct ky_image_spec *s = &c->bitstream;
	if (!afu_id_valid(s->id)) {
		ky_json_child(&b, "id", 0, &n, NULL);
		return ky_json_error(&n, err, "must be an AFU id: 32 hex digits, or a UUID");
	}
	const char *local = s->path ? s->path : strncmp(s->url, "file://", 7) == 0 ? s->url + 7 : NULL;
	if (local && (!rules->bitstream_dir || strpbrk(local, "%?#") || !path_under(local, rules->bitstream_dir))) {
		ky_json_child(&b, s->path ? "path" : "url", 0, &n, NULL);
		return ky_json_error(&n, err, "a claim's bitstream on the node must be under %s (the driver's --bitstream-dir)",
				     rules->bitstream_dir ? rules->bitstream_dir : "(none)");
	}
	return 0;
}

/* ---- GpuConfig ---- */

static bool env_name_valid(const char *s)
{
	if (!*s || strlen(s) > 128 || !(isalpha((unsigned char)*s) || *s == '_'))
		return false;
	for (; *s; s++)
		if (!(isalnum((unsigned char)*s) || *s == '_'))
			return false;
	return true;
}

static int parse_gpu(const struct ky_jnode *p, struct dra_config *c, struct ky_error **err)
{
	static const char *const keys[] = { "apiVersion", "kind", "sharing", "env", NULL };
	struct ky_jnode env, e;
	size_t i;
	int r, idx;
	if ((r = ky_json_check_keys(p, keys, err)) < 0 ||
	    (r = ky_json_enum(p, "sharing", 0, sharing_names, &idx, err)) < 0)
		return r;
	c->has_sharing = r > 0;
	c->sharing = r > 0 ? (enum dra_gpu_sharing)idx : DRA_GPU_EXCLUSIVE;
	if ((r = ky_json_object(p, "env", 0, &env, err)) < 0)
		return r;
	size_t n = env.j ? (size_t)cJSON_GetArraySize(env.j) : 0;
	if (n > DRA_CONFIG_MAX_ENV)
		return ky_json_error(&env, err, "at most %d variables, got %zu", DRA_CONFIG_MAX_ENV, n);
	if (!(c->env = calloc(n + 1, sizeof(*c->env))))
		return ky_error_set(err, ENOMEM, "out of memory");
	ky_json_foreach(&env, i, e)
	{
		const char *name = e.j->string;
		if (!env_name_valid(name))
			return ky_json_error(&e, err, "not a variable name: letters, digits and '_', not starting with a digit");
		for (size_t k = 0; k < KY_ARRAY_SIZE(reserved_env_prefixes); k++)
			if (strncmp(name, reserved_env_prefixes[k], strlen(reserved_env_prefixes[k])) == 0)
				return ky_json_error(&e, err, "%s* is the driver's and the runtime's, not a claim's",
						     reserved_env_prefixes[k]);
		for (size_t k = 0; k < c->n_env; k++)
			if (strncmp(c->env[k], name, strlen(name)) == 0 && c->env[k][strlen(name)] == '=')
				return ky_json_error(&e, err, "duplicate variable");
		if (!cJSON_IsString(e.j))
			return ky_json_error(&e, err, "expected a string, got %s", ky_json_type_name(e.j));
		const char *value = e.j->valuestring;
		if (strlen(value) > DRA_CONFIG_MAX_ENV_VALUE)
			return ky_json_error(&e, err, "at most %d bytes", DRA_CONFIG_MAX_ENV_VALUE);
		for (const char *v = value; *v; v++)
			if ((unsigned char)*v < 0x20 || *v == 0x7f)
				return ky_json_error(&e, err, "control characters are not allowed");
		if (asprintf(&c->env[c->n_env], "%s=%s", name, value) < 0) {
			c->env[c->n_env] = NULL;
			return ky_error_set(err, ENOMEM, "out of memory");
		}
		c->n_env++;
	}
	return 0;
}

/* ---- the config list ---- */

/* One entry: 1 and *c filled when it is ours, 0 when it is another driver's. */
static int parse_entry(const struct ky_jnode *e, const struct dra_config_rules *rules, struct dra_config *c,
		       struct ky_error **err)
{
	static const char *const keys[] = { "source", "requests", "opaque", NULL };
	static const char *const opaque_keys[] = { "driver", "parameters", NULL };
	struct ky_jnode opaque, params;
	const char *driver, *api;
	int r, idx;
	if (!cJSON_IsObject(e->j))
		return ky_json_error(e, err, "expected an object, got %s", ky_json_type_name(e->j));
	if ((r = ky_json_check_keys(e, keys, err)) < 0 ||
	    (r = ky_json_enum(e, "source", KY_JSON_REQUIRED, sources, &idx, err)) < 0)
		return r;
	c->from_class = idx == 0;
	if ((r = ky_json_object(e, "opaque", 0, &opaque, err)) < 0)
		return r;
	if (!opaque.j) /* a configuration kind newer than this driver: NVIDIA refuses it too */
		return ky_json_error(e, err, "only opaque parameters are supported");
	if ((r = ky_json_check_keys(&opaque, opaque_keys, err)) < 0 ||
	    (r = ky_json_string(&opaque, "driver", KY_JSON_REQUIRED, &driver, err)) < 0)
		return r;
	if (strcmp(driver, rules->driver) != 0)
		return 0; /* another driver's: its own to read */
	if ((r = ky_json_string_array(e, "requests", 0, &c->requests, &c->n_requests, err)) < 0 ||
	    (r = ky_json_object(&opaque, "parameters", KY_JSON_REQUIRED, &params, err)) < 0 ||
	    (r = ky_json_string(&params, "apiVersion", KY_JSON_REQUIRED | KY_JSON_ALLOW_EMPTY, &api, err)) < 0)
		return r;
	if (strcmp(api, DRA_CONFIG_API_VERSION) != 0) {
		struct ky_jnode n;
		char q[80];
		ky_json_child(&params, "apiVersion", 0, &n, NULL);
		return ky_json_error(&n, err, "must be " DRA_CONFIG_API_VERSION ", got %s", ky_json_quote(api, q, sizeof(q)));
	}
	if ((r = ky_json_enum(&params, "kind", KY_JSON_REQUIRED, kind_names, &idx, err)) < 0)
		return r;
	c->kind = (enum dra_config_kind)idx;
	switch (c->kind) {
	case DRA_CONFIG_VF: r = parse_vf(&params, c, err); break;
	case DRA_CONFIG_FPGA: r = parse_fpga(&params, rules, c, err); break;
	case DRA_CONFIG_GPU: r = parse_gpu(&params, c, err); break;
	}
	return r < 0 ? r : 1;
}

int dra_configs_parse(const cJSON *config, const struct dra_config_rules *rules, struct dra_configs *out,
		      struct ky_error **err)
{
	struct ky_jnode arr, e;
	struct dra_configs cs = { 0 };
	size_t i;
	int r = 0;
	*out = (struct dra_configs){ 0 };
	ky_json_root(config, &arr);
	snprintf(arr.path, sizeof(arr.path), "config");
	if (!config)
		return 0;
	if (!cJSON_IsArray(config))
		return ky_json_error(&arr, err, "expected an array, got %s", ky_json_type_name(config));
	size_t n = (size_t)cJSON_GetArraySize(config);
	if (!(cs.v = calloc(n + 1, sizeof(*cs.v))))
		return ky_error_set(err, ENOMEM, "out of memory");
	ky_json_foreach(&arr, i, e)
	{
		struct dra_config *c = &cs.v[cs.n];
		snprintf(c->path, sizeof(c->path), "config[%zu]", i);
		if ((r = parse_entry(&e, rules, c, err)) < 0) {
			config_release(c); /* not counted yet */
			break;
		}
		if (r == 0)
			config_release(c);
		else
			cs.n++;
	}
	if (r < 0) {
		dra_configs_release(&cs);
		return r;
	}
	/* The class's first, then the claim's, each in its order (the API
	 * orders them so; a stable partition keeps it whatever comes). */
	struct dra_config *sorted = calloc(cs.n + 1, sizeof(*sorted));
	if (!sorted) {
		dra_configs_release(&cs);
		return ky_error_set(err, ENOMEM, "out of memory");
	}
	size_t k = 0;
	for (int pass = 0; pass < 2; pass++)
		for (i = 0; i < cs.n; i++)
			if (cs.v[i].from_class == (pass == 0))
				sorted[k++] = cs.v[i];
	free(cs.v);
	out->v = sorted;
	out->n = cs.n;
	return 0;
}

/* ---- which config a device gets ---- */

bool dra_config_covers(const struct dra_config *cfg, const char *request)
{
	if (cfg->n_requests == 0)
		return true;
	size_t main_len = strcspn(request, "/");
	for (size_t i = 0; i < cfg->n_requests; i++) {
		const char *r = cfg->requests[i];
		/* "main" covers "main" and each "main/sub"; "main/sub" itself only. */
		if (strcmp(r, request) == 0 || (strlen(r) == main_len && strncmp(r, request, main_len) == 0))
			return true;
	}
	return false;
}

static bool kind_fits(enum dra_config_kind kind, enum ky_device_kind family)
{
	switch (kind) {
	case DRA_CONFIG_VF: return ky_device_kind_is_nic(family);
	case DRA_CONFIG_FPGA: return family == KY_DEVICE_FPGA;
	case DRA_CONFIG_GPU: return family == KY_DEVICE_GPU;
	}
	return false;
}

int dra_configs_for(const struct dra_configs *c, const char *request, const char *device,
		    enum ky_device_kind family, const struct dra_config **out, struct ky_error **err)
{
	*out = NULL;
	for (size_t i = 0; i < c->n; i++) {
		const struct dra_config *cfg = &c->v[i];
		if (!dra_config_covers(cfg, request))
			continue;
		if (kind_fits(cfg->kind, family))
			*out = cfg; /* a later one replaces it */
		else if (cfg->n_requests)
			return ky_error_set(err, EINVAL, "%s.opaque.parameters.kind: a %s cannot configure request %s: device %s is a %s",
					    cfg->path, dra_config_kind_name(cfg->kind), request, device,
					    ky_device_kind_name(family));
	}
	return 0;
}

/* ---- a shared GPU ---- */

void dra_gpu_use_of(const struct ky_dra_record_gpu *gpu, bool shared, struct dra_gpu_use *out)
{
	*out = (struct dra_gpu_use){ .sharing = shared ? DRA_GPU_TIME_SLICED : DRA_GPU_EXCLUSIVE };
	if (!gpu)
		return;
	enum dra_gpu_sharing s;
	if (dra_gpu_sharing_parse(gpu->sharing, &s) == 0)
		out->sharing = s;
	out->env = gpu->env;
	out->n_env = gpu->n_env;
}

/* The entry of env naming the variable of `entry` ("NAME=..."), or NULL. */
static const char *env_find(char *const *env, size_t n, const char *entry)
{
	size_t len = strcspn(entry, "=");
	for (size_t i = 0; i < n; i++)
		if (strncmp(env[i], entry, len) == 0 && env[i][len] == '=')
			return env[i];
	return NULL;
}

const char *dra_gpu_use_conflict(const struct dra_gpu_use *held, const struct dra_gpu_use *want, const char *holder,
				 char *field, size_t field_size, char *why, size_t why_size)
{
	if (want->sharing == DRA_GPU_EXCLUSIVE || held->sharing == DRA_GPU_EXCLUSIVE) {
		snprintf(field, field_size, "sharing");
		if (want->sharing == DRA_GPU_EXCLUSIVE)
			snprintf(why, why_size, "exclusive, but claim %s holds the GPU already", holder);
		else
			snprintf(why, why_size, "claim %s holds the GPU exclusively", holder);
		return field;
	}
	/* Every variable the new claim sets, set alike by the holder; then
	 * every one the holder sets, set by the new claim too. */
	for (size_t i = 0; i < want->n_env; i++) {
		const char *held_entry = env_find(held->env, held->n_env, want->env[i]);
		if (held_entry && strcmp(held_entry, want->env[i]) == 0)
			continue;
		int len = (int)strcspn(want->env[i], "=");
		snprintf(field, field_size, "env.%.*s", len, want->env[i]);
		if (held_entry)
			snprintf(why, why_size, "the GPU is shared with claim %s, which sets %s", holder, held_entry);
		else
			snprintf(why, why_size, "the GPU is shared with claim %s, which does not set %.*s", holder, len,
				 want->env[i]);
		return field;
	}
	for (size_t i = 0; i < held->n_env; i++) {
		if (env_find(want->env, want->n_env, held->env[i]))
			continue;
		snprintf(field, field_size, "env.%.*s", (int)strcspn(held->env[i], "="), held->env[i]);
		snprintf(why, why_size, "the GPU is shared with claim %s, which sets %s", holder, held->env[i]);
		return field;
	}
	return NULL;
}

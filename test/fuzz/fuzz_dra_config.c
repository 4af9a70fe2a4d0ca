/* A claim's own configuration as the DRA driver reads it (dra/dra_config.c:
 * dra_configs_parse over status.allocation.devices.config, after the k8s
 * client's ky_json_parse), then which config each allocated device gets
 * (dra_configs_for) and the rule for two claims on one shared GPU
 * (dra_gpu_use_conflict). The configs are written by whoever may create a
 * ResourceClaim or a DeviceClass: untrusted.
 *
 * Input: JSON, either the config array itself or a whole ResourceClaim
 * (its status.allocation.devices.config is taken). Checked: a refusal is
 * -EINVAL with one line naming the path ("config[N]..."); an accepted list
 * holds only this driver's entries, the class's first, each in its order;
 * every value is in its range (VF settings pass ky_vf_config_check, the
 * VLAN rules, no multicast MAC, min rate under max; an AFU id of 32 hex
 * digits or a UUID; a bitstream on the node strictly under --bitstream-dir
 * without "."/".." components; env names valid, not reserved, unique, values
 * without control bytes); the config chosen for a device is the last of
 * its family covering its request, and a refusal there names a config of
 * another family that names the request; two uses of a GPU conflict
 * symmetrically and a use never conflicts with itself unless exclusive. */
#include <ctype.h>
#include <linux/if_ether.h>

#include "dra_config.h"
#include "fuzz.h"
#include "kyborg/base/cleanup.h"
#include "kyborg/json/json.h"

#define DRIVER "kyborg.io"
#define BITSTREAM_DIR "/var/lib/kyborg/bitstreams"

static const struct dra_config_rules rules = { .driver = DRIVER, .bitstream_dir = BITSTREAM_DIR };

static bool hex_afu(const char *id)
{
	size_t n = strlen(id), hex = 0;
	for (size_t i = 0; i < n; i++) {
		if (n == 36 && (i == 8 || i == 13 || i == 18 || i == 23))
			FUZZ_ASSERT(id[i] == '-', "AFU id %s", id);
		else if (isxdigit((unsigned char)id[i]))
			hex++;
		else
			return false;
	}
	return (n == 32 || n == 36) && hex == 32;
}

static void check_local(const char *p)
{
	const size_t n = strlen(BITSTREAM_DIR);
	FUZZ_ASSERT(strncmp(p, BITSTREAM_DIR "/", n + 1) == 0 && p[n + 1], "bitstream %s outside the dir", p);
	FUZZ_ASSERT(!strpbrk(p, "%?#"), "bitstream %s", p);
	for (const char *c = p + n; *c; c++) {
		if (*c != '/')
			continue;
		size_t len = strcspn(c + 1, "/");
		FUZZ_ASSERT(len && !(len == 1 && c[1] == '.') && !(len == 2 && c[1] == '.' && c[2] == '.'),
			    "bitstream %s leaves the dir", p);
	}
}

static void check_config(const struct dra_config *c, const cJSON *list)
{
	/* Its path names its entry, which is ours. */
	char *end = NULL;
	size_t idx = strncmp(c->path, "config[", 7) == 0 ? strtoul(c->path + 7, &end, 10) : 0;
	FUZZ_ASSERT(end && end > c->path + 7 && !strcmp(end, "]"), "path %s", c->path);
	const cJSON *e = cJSON_GetArrayItem(list, (int)idx);
	const char *driver =
		cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(e, "opaque"), "driver"));
	FUZZ_ASSERT(driver && !strcmp(driver, DRIVER), "%s is not ours (%s)", c->path, driver ? driver : "none");
	const char *source = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "source"));
	FUZZ_ASSERT(source && !strcmp(source, c->from_class ? "FromClass" : "FromClaim"), "%s source", c->path);
	FUZZ_ASSERT(c->n_requests == 0 || c->requests, "%s requests", c->path);
	for (size_t i = 0; i < c->n_requests; i++)
		FUZZ_ASSERT(c->requests[i], "%s.requests[%zu]", c->path, i);

	_cleanup_error_ struct ky_error *err = NULL;
	switch (c->kind) {
	case DRA_CONFIG_VF: {
		const struct ky_vf_config *v = &c->vf;
		FUZZ_ASSERT(!(v->mask & ~(unsigned)(KY_VF_MAC | KY_VF_VLAN | KY_VF_RATE | KY_VF_SPOOFCHK | KY_VF_TRUST |
						   KY_VF_LINK_STATE)),
			    "mask %#x", v->mask);
		FUZZ_ASSERT(ky_vf_config_check(v, &err) == 0, "%s: %s", c->path, ky_error_msg(err));
		FUZZ_ASSERT(v->vlan <= 4094 && v->qos <= 7, "vlan %u qos %u", v->vlan, v->qos);
		FUZZ_ASSERT(!(v->mask & KY_VF_VLAN) || v->vlan_proto == ETH_P_8021Q || v->vlan_proto == ETH_P_8021AD,
			    "vlan proto %#x", v->vlan_proto);
		FUZZ_ASSERT(!(v->mask & KY_VF_VLAN) || v->vlan || (!v->qos && v->vlan_proto == ETH_P_8021Q),
			    "vlan 0 with qos %u or proto %#x", v->qos, v->vlan_proto);
		FUZZ_ASSERT(!(v->mask & KY_VF_MAC) || !(v->mac[0] & 1), "multicast MAC");
		FUZZ_ASSERT(!v->max_tx_rate || v->min_tx_rate <= v->max_tx_rate, "rates %u > %u", v->min_tx_rate,
			    v->max_tx_rate);
		FUZZ_ASSERT(!(v->mask & KY_VF_LINK_STATE) || (unsigned)v->link_state <= KY_VF_LINK_STATE_DISABLE,
			    "link state %d", (int)v->link_state);
		FUZZ_ASSERT(c->vf_driver == KY_DRA_VF_DRIVER_KEEP || c->vf_driver == KY_DRA_VF_DRIVER_NETDEVICE ||
				    c->vf_driver == KY_DRA_VF_DRIVER_VFIO,
			    "driver %d", (int)c->vf_driver);
		break;
	}
	case DRA_CONFIG_FPGA: {
		const struct ky_image_spec *s = &c->bitstream;
		FUZZ_ASSERT(s->id && hex_afu(s->id), "AFU id %s", s->id ? s->id : "(none)");
		FUZZ_ASSERT(!s->path != !s->url, "path and url");
		FUZZ_ASSERT(strlen(s->sha256) == 64, "sha256 %s", s->sha256);
		for (const char *h = s->sha256; *h; h++)
			FUZZ_ASSERT(isdigit((unsigned char)*h) || (*h >= 'a' && *h <= 'f'), "sha256 %s", s->sha256);
		if (s->path)
			check_local(s->path);
		else if (!strncmp(s->url, "file://", 7))
			check_local(s->url + 7);
		else
			FUZZ_ASSERT(!strncmp(s->url, "https://", 8), "url %s", s->url);
		break;
	}
	case DRA_CONFIG_GPU:
		FUZZ_ASSERT(c->sharing == DRA_GPU_EXCLUSIVE || c->sharing == DRA_GPU_TIME_SLICED, "sharing %d",
			    (int)c->sharing);
		FUZZ_ASSERT(c->has_sharing || c->sharing == DRA_GPU_EXCLUSIVE, "sharing without the field");
		FUZZ_ASSERT(c->n_env <= DRA_CONFIG_MAX_ENV && (!c->n_env || c->env), "%zu variables", c->n_env);
		for (size_t i = 0; i < c->n_env; i++) {
			const char *v = c->env[i];
			size_t name = strcspn(v, "=");
			FUZZ_ASSERT(v[name] == '=' && name >= 1 && name <= 128 && !isdigit((unsigned char)v[0]), "env %s",
				    v);
			for (size_t k = 0; k < name; k++)
				FUZZ_ASSERT(isalnum((unsigned char)v[k]) || v[k] == '_', "env %s", v);
			FUZZ_ASSERT(strncmp(v, "NVIDIA_", 7) && strncmp(v, "PCIDEVICE_", 10) && strncmp(v, "KYBORG_", 7),
				    "reserved variable %s", v);
			FUZZ_ASSERT(strlen(v + name + 1) <= DRA_CONFIG_MAX_ENV_VALUE, "env value of %zu bytes",
				    strlen(v + name + 1));
			for (const char *p = v + name + 1; *p; p++)
				FUZZ_ASSERT((unsigned char)*p >= 0x20 && *p != 0x7f, "env %s with byte 0x%02x", v,
					    (unsigned char)*p);
			for (size_t k = 0; k < i; k++)
				FUZZ_ASSERT(strncmp(c->env[k], v, name + 1) != 0, "env %.*s twice", (int)name, v);
		}
		break;
	default:
		FUZZ_ASSERT(0, "kind %d", (int)c->kind);
	}
}

/* dra_config_covers by its documented rule. */
static bool covers(const struct dra_config *c, const char *request)
{
	if (!c->n_requests)
		return true;
	size_t main_len = strcspn(request, "/");
	for (size_t i = 0; i < c->n_requests; i++)
		if (!strcmp(c->requests[i], request) ||
		    (strlen(c->requests[i]) == main_len && !strncmp(c->requests[i], request, main_len)))
			return true;
	return false;
}

static bool fits(enum dra_config_kind k, enum ky_device_kind f)
{
	return k == DRA_CONFIG_VF ? ky_device_kind_is_nic(f) : k == DRA_CONFIG_FPGA ? f == KY_DEVICE_FPGA
									      : f == KY_DEVICE_GPU;
}

static void check_for(const struct dra_configs *cs, const char *request)
{
	static const enum ky_device_kind families[] = { KY_DEVICE_GPU, KY_DEVICE_FPGA, KY_DEVICE_NIC_VF };
	for (size_t f = 0; f < sizeof(families) / sizeof(families[0]); f++) {
		const struct dra_config *got = NULL;
		_cleanup_error_ struct ky_error *err = NULL;
		int r = dra_configs_for(cs, request, "dev-0", families[f], &got, &err);
		/* The reference: the last covering config of the family, unless
		 * one naming the request (before it... or after) is of another. */
		const struct dra_config *want = NULL;
		const struct dra_config *wrong = NULL;
		for (size_t i = 0; i < cs->n; i++) {
			const struct dra_config *c = &cs->v[i];
			FUZZ_ASSERT(dra_config_covers(c, request) == covers(c, request), "%s covers %s", c->path, request);
			if (!covers(c, request))
				continue;
			if (fits(c->kind, families[f]))
				want = c;
			else if (c->n_requests && !wrong)
				wrong = c;
		}
		if (wrong) {
			FUZZ_ASSERT(r == -EINVAL, "%s (a %s naming %s) passed for a %s", wrong->path,
				    dra_config_kind_name(wrong->kind), request, ky_device_kind_name(families[f]));
			FUZZ_ASSERT(!strncmp(ky_error_msg(err), wrong->path, strlen(wrong->path)), "refusal %s, want %s",
				    ky_error_msg(err), wrong->path);
		} else {
			FUZZ_ASSERT(r == 0, "dra_configs_for %s: %s", request, ky_error_msg(err));
			FUZZ_ASSERT(got == want, "%s got %s, want %s", request, got ? got->path : "none",
				    want ? want->path : "none");
		}
	}
}

static void check_gpu_uses(const struct dra_configs *cs)
{
	for (size_t i = 0; i < cs->n; i++) {
		for (size_t k = 0; k < cs->n; k++) {
			const struct dra_config *a = &cs->v[i], *b = &cs->v[k];
			if (a->kind != DRA_CONFIG_GPU || b->kind != DRA_CONFIG_GPU)
				continue;
			struct dra_gpu_use ua = { a->sharing, a->env, a->n_env }, ub = { b->sharing, b->env, b->n_env };
			char f1[160], w1[512], f2[160], w2[512];
			const char *ab = dra_gpu_use_conflict(&ua, &ub, "ns/a", f1, sizeof(f1), w1, sizeof(w1));
			const char *ba = dra_gpu_use_conflict(&ub, &ua, "ns/b", f2, sizeof(f2), w2, sizeof(w2));
			FUZZ_ASSERT(!ab == !ba, "%s and %s conflict one way only", a->path, b->path);
			FUZZ_ASSERT(!ab || (ab == f1 && (!strcmp(f1, "sharing") || !strncmp(f1, "env.", 4)) && w1[0]),
				    "conflict field %s", ab ? f1 : "");
			if (i == k)
				FUZZ_ASSERT(!ab == (a->sharing == DRA_GPU_TIME_SLICED), "%s with itself: %s", a->path,
					    ab ? w1 : "no conflict");
		}
	}
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
	_cleanup_error_ struct ky_error *err = NULL;
	if (ky_json_parse((const char *)data, size, &doc, &err) < 0)
		return 0;
	const cJSON *list = doc;
	if (cJSON_IsObject(doc))
		list = cJSON_GetObjectItemCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(
				cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "status"), "allocation"),
				"devices"),
			"config");

	struct dra_configs cs;
	int r = dra_configs_parse(list, &rules, &cs, &err);
	if (r < 0) {
		FUZZ_ASSERT(r == -EINVAL || r == -ENOMEM, "dra_configs_parse returned %d", r);
		const char *m = ky_error_msg(err);
		FUZZ_ASSERT(r == -ENOMEM || !strncmp(m, "config", 6), "refusal without its path: %s", m);
		FUZZ_ASSERT(!strchr(m, '\n'), "refusal of more than one line: %s", m);
		FUZZ_ASSERT(!cs.v && !cs.n, "a refusal with configs");
		return 0;
	}
	FUZZ_ASSERT(list || cs.n == 0, "configs from nothing");
	FUZZ_ASSERT(cs.n <= (size_t)cJSON_GetArraySize(list), "%zu configs of %d entries", cs.n,
		    cJSON_GetArraySize(list));
	/* This driver's entries, and only those, class's first, each in order. */
	size_t ours = 0;
	const cJSON *e;
	cJSON_ArrayForEach(e, list)
	{
		const char *d = cJSON_GetStringValue(
			cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(e, "opaque"), "driver"));
		ours += d && !strcmp(d, DRIVER);
	}
	FUZZ_ASSERT(cs.n == ours, "%zu configs of %zu entries of ours", cs.n, ours);
	size_t last = 0;
	for (size_t i = 0; i < cs.n; i++) {
		check_config(&cs.v[i], list);
		FUZZ_ASSERT(i == 0 || cs.v[i - 1].from_class || !cs.v[i].from_class, "a class config after a claim's");
		size_t idx = strtoul(cs.v[i].path + 7, NULL, 10);
		FUZZ_ASSERT(i == 0 || cs.v[i - 1].from_class != cs.v[i].from_class || idx > last, "%s out of order",
			    cs.v[i].path);
		last = idx;
	}
	/* Requests the configs name, their main requests and one no config names. */
	check_for(&cs, "zz-none");
	for (size_t i = 0; i < cs.n && i < 8; i++) {
		for (size_t k = 0; k < cs.v[i].n_requests && k < 4; k++) {
			const char *req = cs.v[i].requests[k];
			check_for(&cs, req);
			char sub[256];
			snprintf(sub, sizeof(sub), "%.*s/sub", (int)strcspn(req, "/"), req);
			check_for(&cs, sub);
		}
	}
	check_gpu_uses(&cs);
	dra_configs_release(&cs);
	FUZZ_ASSERT(!cs.v && !cs.n, "release left configs");
	return 0;
}

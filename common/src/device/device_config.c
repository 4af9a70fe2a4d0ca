/* The devices config (kyborg/device/device_config.h): resources, their
 * selectors, sharing and bitstreams, validated with the JSON path of the
 * first bad field. Pure. */
#include "kyborg/device/device_config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kyborg/base/fileio.h"
#include "kyborg/base/error.h"
#include "kyborg/base/strv.h"
#include "kyborg/json/json.h"

#define MAX_CONFIG_SIZE (1u << 20)

/* Ours are the first three; SRIOV-DP's deviceTypes are not kinds of ours. */
static const char *const kind_names[] = { "gpu", "fpga", "nic-vf", NULL };
static const char *const all_kind_names[] = { "gpu", "fpga", "nic-vf", "netDevice", "accelerator" };
static const char *const strategy_names[] = { "pack", "spread", NULL };
static const char *const frontend_names[] = { "devicePlugin", "dra", NULL };

const char *ky_device_kind_name(enum ky_device_kind kind)
{
	return (unsigned)kind < KY_ARRAY_SIZE(all_kind_names) ? all_kind_names[kind] : "unknown";
}

bool ky_device_kind_is_nic(enum ky_device_kind kind)
{
	return kind == KY_DEVICE_NIC_VF || kind == KY_DEVICE_NET;
}

const char *ky_device_frontend_name(enum ky_device_frontend frontend)
{
	return (unsigned)frontend < 2 ? frontend_names[frontend] : "unknown";
}

static void resource_release(struct ky_device_resource *r)
{
	free(r->name);
	free(r->path);
	for (size_t i = 0; i < r->n_selectors; i++) {
		ky_pci_selector_release(&r->selectors[i].pci);
		free(r->selectors[i].path);
	}
	free(r->selectors);
	ky_image_spec_release(&r->bitstream);
	ky_strv_free(r->program);
	for (size_t i = 0; i < r->n_info; i++) {
		free(r->info[i].device);
		for (size_t k = 0; k < r->info[i].n_kvs; k++) {
			free(r->info[i].kvs[k].key);
			free(r->info[i].kvs[k].value);
		}
		free(r->info[i].kvs);
	}
	free(r->info);
}

void ky_device_config_free(struct ky_device_config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < cfg->n_resources; i++)
		resource_release(&cfg->resources[i]);
	free(cfg->resources);
	ky_strv_free(cfg->warnings);
	free(cfg);
}

const char *ky_device_resource_name_problem(const char *s)
{
	const char *slash = strchr(s, '/');
	if (!slash || strchr(slash + 1, '/'))
		return "must be <domain>/<name>, e.g. kyborg.io/gpu";
	size_t dlen = (size_t)(slash - s), nlen = strlen(slash + 1);
	if (dlen == 0 || dlen > 253)
		return "the domain must have 1 to 253 characters";
	for (const char *p = s; p < slash; p++)
		if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '-' || *p == '.'))
			return "the domain may hold only a-z, 0-9, '-' and '.'";
	if (!isalnum((unsigned char)s[0]) || !isalnum((unsigned char)slash[-1]))
		return "the domain must start and end with a letter or digit";
	if ((dlen >= 14 && strncmp(slash - 14, "kubernetes.io", 13) == 0 && slash[-14] == '.') ||
	    (dlen == 13 && strncmp(s, "kubernetes.io", 13) == 0))
		return "the kubernetes.io domain is reserved";
	if (nlen == 0 || nlen > 63)
		return "the name after '/' must have 1 to 63 characters";
	const char *n = slash + 1;
	if (!isalnum((unsigned char)n[0]) || !isalnum((unsigned char)n[nlen - 1]))
		return "the name after '/' must start and end with a letter or digit";
	for (const char *p = n; *p; p++)
		if (!(isalnum((unsigned char)*p) || *p == '-' || *p == '_' || *p == '.'))
			return "the name after '/' may hold only letters, digits, '-', '_' and '.'";
	return NULL;
}

static int parse_bitstream(const struct ky_jnode *res, struct ky_device_resource *r, struct ky_error **err)
{
	struct ky_jnode bs, prog;
	int k;
	if ((k = ky_json_object(res, "bitstream", 0, &bs, err)) < 0)
		return k;
	if (k > 0 && r->kind != KY_DEVICE_FPGA)
		return ky_json_error(&bs, err, "only for kind fpga");
	if (k > 0 && (k = ky_image_spec_parse(&bs, &r->bitstream, err)) < 0)
		return k;
	r->has_bitstream = bs.j != NULL;
	if ((k = ky_json_array(res, "program", KY_JSON_NONEMPTY, &prog, NULL, err)) <= 0)
		return k;
	if (r->kind != KY_DEVICE_FPGA)
		return ky_json_error(&prog, err, "only for kind fpga");
	/* A DRA resource's claims may bring their own images (FpgaConfig). */
	if (!r->has_bitstream && r->frontend != KY_FRONTEND_DRA)
		return ky_json_error(&prog, err, "only with a bitstream (or with frontend dra, whose claims bring theirs)");
	if ((k = ky_json_string_array(res, "program", KY_JSON_NONEMPTY, &r->program, &r->n_program, err)) < 0)
		return k;
	if (r->program[0][0] != '/') {
		struct ky_jnode n;
		ky_json_index(&prog, 0, &n);
		return ky_json_error(&n, err, "must be an absolute path (no PATH lookup, no shell)");
	}
	return 0;
}

static int parse_sharing(const struct ky_jnode *res, struct ky_device_resource *r, struct ky_error **err)
{
	static const char *const keys[] = { "replicas", "strategy", NULL };
	struct ky_jnode sh;
	uint32_t replicas = 1;
	int idx = KY_DEVICE_PACK, k;
	if ((k = ky_json_object(res, "sharing", 0, &sh, err)) <= 0)
		return k;
	if (r->kind != KY_DEVICE_GPU)
		return ky_json_error(&sh, err, "only for kind gpu");
	if ((k = ky_json_check_keys(&sh, keys, err)) < 0 ||
	    (k = ky_json_u32(&sh, "replicas", KY_JSON_REQUIRED, 1, KY_DEVICE_MAX_REPLICAS, &replicas, err)) < 0 ||
	    (k = ky_json_enum(&sh, "strategy", 0, strategy_names, &idx, err)) < 0)
		return k;
	r->replicas = replicas;
	r->strategy = (enum ky_device_strategy)idx;
	return 0;
}

static int parse_resource(const struct ky_jnode *node, struct ky_device_resource *r, struct ky_error **err)
{
	static const char *const keys[] = { "name", "kind", "frontend", "selector", "sharing", "bitstream", "program",
					    "checkHealthOnPf", NULL };
	const char *name;
	int kind, frontend = KY_FRONTEND_DEVICE_PLUGIN, k;
	r->replicas = 1;
	r->check_pf_link = true;
	if (!cJSON_IsObject(node->j))
		return ky_json_error(node, err, "must be an object, got %s", ky_json_type_name(node->j));
	if ((k = ky_json_check_keys(node, keys, err)) < 0 ||
	    (k = ky_json_string(node, "name", KY_JSON_REQUIRED, &name, err)) < 0)
		return k;
	const char *problem = ky_device_resource_name_problem(name);
	if (problem) {
		struct ky_jnode n;
		ky_json_child(node, "name", 0, &n, NULL);
		return ky_json_error(&n, err, "%s", problem);
	}
	if (!(r->name = strdup(name)) || !(r->path = strdup(node->path)) ||
	    !(r->selectors = calloc(1, sizeof(*r->selectors))))
		return ky_error_set(err, ENOMEM, "out of memory");
	r->n_selectors = 1;
	if (asprintf(&r->selectors[0].path, "%s.selector", node->path) < 0) {
		r->selectors[0].path = NULL;
		return ky_error_set(err, ENOMEM, "out of memory");
	}
	if ((k = ky_json_enum(node, "kind", KY_JSON_REQUIRED, kind_names, &kind, err)) < 0)
		return k;
	r->kind = (enum ky_device_kind)kind;
	if ((k = ky_json_enum(node, "frontend", 0, frontend_names, &frontend, err)) < 0)
		return k;
	r->frontend = (enum ky_device_frontend)frontend;
	if ((k = ky_pci_selector_parse(node, "selector", &r->selectors[0].pci, err)) < 0 ||
	    (k = parse_sharing(node, r, err)) < 0 || (k = parse_bitstream(node, r, err)) < 0)
		return k;
	struct ky_jnode health;
	if ((k = ky_json_child(node, "checkHealthOnPf", 0, &health, err)) > 0 && r->kind != KY_DEVICE_NIC_VF)
		return ky_json_error(&health, err, "only for kind nic-vf");
	if ((k = ky_json_bool(node, "checkHealthOnPf", 0, &r->check_pf_link, err)) < 0)
		return k;
	return 0;
}

int ky_device_config_parse(const char *text, size_t len, struct ky_device_config **out, struct ky_error **err)
{
	return ky_device_config_parse_opts(text, len, NULL, out, err);
}

int ky_device_config_parse_opts(const char *text, size_t len, const struct ky_device_config_opts *opts,
				struct ky_device_config **out, struct ky_error **err)
{
	static const char *const keys[] = { "resources", NULL };
	_cleanup_(cJSON_Deletep) cJSON *doc = NULL;
	_cleanup_(ky_device_config_freep) struct ky_device_config *cfg = NULL;
	struct ky_jnode root, arr, e;
	size_t n, i;
	int r;

	if ((r = ky_json_parse_object(text, len, "the config", &doc, &root, err)) < 0)
		return r;
	/* SRIOV-DP's config.json as it is: told apart by its top-level key. */
	bool ours = cJSON_GetObjectItemCaseSensitive(root.j, "resources") != NULL;
	/* Go matches the key in any case: cJSON_GetObjectItem does too. */
	bool theirs = cJSON_GetObjectItem(root.j, "resourceList") != NULL;
	if (ours && theirs)
		return ky_json_error(&root, err, "has both resources (kyborg's schema) and resourceList (the SR-IOV "
						 "network device plugin's): give one");
	if (theirs)
		return ky_device_config_parse_sriovdp(&root, opts, out, err);
	if (!ours && !root.j->child)
		return ky_json_error(&root, err, "needs resources (kyborg's schema) or resourceList (the SR-IOV network "
						 "device plugin's config.json)");
	if ((r = ky_json_check_keys(&root, keys, err)) < 0 ||
	    (r = ky_json_array(&root, "resources", KY_JSON_REQUIRED | KY_JSON_NONEMPTY, &arr, &n, err)) < 0)
		return r;
	cfg = calloc(1, sizeof(*cfg));
	if (!cfg || !(cfg->resources = calloc(n, sizeof(*cfg->resources))))
		return ky_error_set(err, ENOMEM, "out of memory");
	ky_json_foreach(&arr, i, e)
	{
		cfg->n_resources = i + 1;
		if ((r = parse_resource(&e, &cfg->resources[i], err)) < 0)
			return r;
		for (size_t j = 0; j < i; j++) {
			if (strcmp(cfg->resources[j].name, cfg->resources[i].name) == 0) {
				struct ky_jnode nn;
				ky_json_child(&e, "name", 0, &nn, NULL);
				return ky_json_error(&nn, err, "duplicate resource %s (also resources[%zu])",
						     cfg->resources[i].name, j);
			}
		}
	}
	*out = TAKE_PTR(cfg);
	return 0;
}

int ky_device_config_load(const char *path, struct ky_device_config **out, struct ky_error **err)
{
	return ky_device_config_load_opts(path, NULL, out, err);
}

int ky_device_config_load_opts(const char *path, const struct ky_device_config_opts *opts,
			       struct ky_device_config **out, struct ky_error **err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	_cleanup_free_ char *buf = NULL;
	struct stat st;
	size_t len = 0;

	if (fd < 0)
		return ky_error_set(err, errno, "cannot open config %s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0)
		return ky_error_set(err, errno, "stat %s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return ky_error_set(err, EINVAL, "config %s is not a regular file", path);
	if ((size_t)st.st_size > MAX_CONFIG_SIZE)
		return ky_error_set(err, EFBIG, "config %s is over %u bytes", path, MAX_CONFIG_SIZE);
	int r = ky_read_all(fd, MAX_CONFIG_SIZE, &buf, &len);
	if (r == -EFBIG)
		return ky_error_set(err, EFBIG, "config %s is over %u bytes", path, MAX_CONFIG_SIZE);
	if (r < 0)
		return ky_error_set(err, -r, "read %s: %s", path, strerror(-r));
	r = ky_device_config_parse_opts(buf, len, opts, out, err);
	if (r < 0)
		return ky_error_prefix(err, "%s", path);
	return 0;
}

static bool str_eq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool info_equal(const struct ky_device_resource *a, const struct ky_device_resource *b)
{
	if (a->n_info != b->n_info)
		return false;
	for (size_t i = 0; i < a->n_info; i++) {
		const struct ky_device_info *x = &a->info[i], *y = &b->info[i];
		if (strcmp(x->device, y->device) != 0 || x->n_kvs != y->n_kvs)
			return false;
		for (size_t k = 0; k < x->n_kvs; k++)
			if (strcmp(x->kvs[k].key, y->kvs[k].key) != 0 || strcmp(x->kvs[k].value, y->kvs[k].value) != 0)
				return false;
	}
	return true;
}

bool ky_device_resource_equal(const struct ky_device_resource *a, const struct ky_device_resource *b)
{
	if (!str_eq(a->name, b->name) || a->kind != b->kind || a->frontend != b->frontend || a->schema != b->schema ||
	    a->replicas != b->replicas ||
	    a->strategy != b->strategy || a->has_bitstream != b->has_bitstream || a->check_pf_link != b->check_pf_link ||
	    a->exclude_topology != b->exclude_topology || a->n_selectors != b->n_selectors || !info_equal(a, b))
		return false;
	if (a->has_bitstream && !ky_image_spec_equal(&a->bitstream, &b->bitstream))
		return false;
	if (a->n_program != b->n_program)
		return false;
	for (size_t i = 0; i < a->n_program; i++)
		if (strcmp(a->program[i], b->program[i]) != 0)
			return false;
	for (size_t i = 0; i < a->n_selectors; i++)
		if (a->selectors[i].vhost_net != b->selectors[i].vhost_net ||
		    !ky_pci_selector_equal(&a->selectors[i].pci, &b->selectors[i].pci))
			return false;
	return true;
}

bool ky_device_resource_programs(const struct ky_device_resource *res)
{
	return res->kind == KY_DEVICE_FPGA && res->has_bitstream;
}

bool ky_device_resource_shared(const struct ky_device_resource *res)
{
	return res->kind == KY_DEVICE_GPU && res->replicas > 1;
}

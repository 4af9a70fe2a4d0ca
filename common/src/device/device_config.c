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

static const char *const kind_names[] = { "gpu", "fpga", "nic-vf", NULL };
static const char *const strategy_names[] = { "pack", "spread", NULL };

const char *ky_device_kind_name(enum ky_device_kind kind)
{
	return (unsigned)kind < 3 ? kind_names[kind] : "unknown";
}

static void resource_release(struct ky_device_resource *r)
{
	free(r->name);
	ky_pci_selector_release(&r->selector);
	ky_image_spec_release(&r->bitstream);
	ky_strv_free(r->program);
}

void ky_device_config_free(struct ky_device_config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < cfg->n_resources; i++)
		resource_release(&cfg->resources[i]);
	free(cfg->resources);
	free(cfg);
}

/* An extended resource name as kubelet takes it: "<domain>/<name>", the
 * domain a DNS subdomain outside kubernetes.io, the name a qualified name. */
static const char *resource_name_problem(const char *s)
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
	if (!r->has_bitstream)
		return ky_json_error(&prog, err, "only with a bitstream");
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
	static const char *const keys[] = { "name", "kind", "selector", "sharing", "bitstream", "program", NULL };
	const char *name;
	int kind, k;
	r->replicas = 1;
	if (!cJSON_IsObject(node->j))
		return ky_json_error(node, err, "must be an object, got %s", ky_json_type_name(node->j));
	if ((k = ky_json_check_keys(node, keys, err)) < 0 ||
	    (k = ky_json_string(node, "name", KY_JSON_REQUIRED, &name, err)) < 0)
		return k;
	const char *problem = resource_name_problem(name);
	if (problem) {
		struct ky_jnode n;
		ky_json_child(node, "name", 0, &n, NULL);
		return ky_json_error(&n, err, "%s", problem);
	}
	if (!(r->name = strdup(name)))
		return ky_error_set(err, ENOMEM, "out of memory");
	if ((k = ky_json_enum(node, "kind", KY_JSON_REQUIRED, kind_names, &kind, err)) < 0)
		return k;
	r->kind = (enum ky_device_kind)kind;
	if ((k = ky_pci_selector_parse(node, "selector", &r->selector, err)) < 0 || (k = parse_sharing(node, r, err)) < 0 ||
	    (k = parse_bitstream(node, r, err)) < 0)
		return k;
	return 0;
}

int ky_device_config_parse(const char *text, size_t len, struct ky_device_config **out, struct ky_error **err)
{
	static const char *const keys[] = { "resources", NULL };
	_cleanup_(cJSON_Deletep) cJSON *doc = NULL;
	_cleanup_(ky_device_config_freep) struct ky_device_config *cfg = NULL;
	struct ky_jnode root, arr, e;
	size_t n, i;
	int r;

	if ((r = ky_json_parse_object(text, len, "the config", &doc, &root, err)) < 0)
		return r;
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
	r = ky_device_config_parse(buf, len, out, err);
	if (r < 0)
		return ky_error_prefix(err, "%s", path);
	return 0;
}

static bool str_eq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

bool ky_device_resource_equal(const struct ky_device_resource *a, const struct ky_device_resource *b)
{
	if (!str_eq(a->name, b->name) || a->kind != b->kind || a->replicas != b->replicas ||
	    a->strategy != b->strategy || a->has_bitstream != b->has_bitstream)
		return false;
	if (a->has_bitstream && !ky_image_spec_equal(&a->bitstream, &b->bitstream))
		return false;
	if (a->n_program != b->n_program)
		return false;
	for (size_t i = 0; i < a->n_program; i++)
		if (strcmp(a->program[i], b->program[i]) != 0)
			return false;
	return ky_pci_selector_equal(&a->selector, &b->selector);
}

bool ky_device_resource_programs(const struct ky_device_resource *res)
{
	return res->kind == KY_DEVICE_FPGA && res->has_bitstream;
}

bool ky_device_resource_shared(const struct ky_device_resource *res)
{
	return res->kind == KY_DEVICE_GPU && res->replicas > 1;
}

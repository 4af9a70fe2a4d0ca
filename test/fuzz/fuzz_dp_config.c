/* The device plugin's config (deviceplugin/dp_config.c: dp_config_parse).
 * Checked: an accepted config has what the daemon relies on: unique,
 * non-empty resource names whose socket file name, environment name and
 * CDI names are well formed, sharing within bounds, a bitstream only for
 * FPGAs and with a valid spec, loader commands by absolute path; and a
 * resource equals itself (a reload keeps serving it). */
#include <ctype.h>
#include <errno.h>

#include "dp.h"
#include "fuzz.h"
#include "kyborg/base/cleanup.h"

static void check_resource(const struct dp_config *cfg, size_t i)
{
	const struct dp_resource *r = &cfg->resources[i];
	FUZZ_ASSERT(r->name && *r->name, "resources[%zu] has no name", i);
	for (size_t k = 0; k < i; k++)
		FUZZ_ASSERT(strcmp(cfg->resources[k].name, r->name) != 0, "resources[%zu] repeats %s", i, r->name);
	FUZZ_ASSERT(r->kind == DP_KIND_GPU || r->kind == DP_KIND_FPGA || r->kind == DP_KIND_NIC_VF, "kind %d",
		    (int)r->kind);
	FUZZ_ASSERT(dp_kind_name(r->kind), "kind %d has no name", (int)r->kind);
	FUZZ_ASSERT(r->replicas >= 1 && r->replicas <= DP_MAX_REPLICAS, "replicas %u", r->replicas);
	FUZZ_ASSERT(r->replicas == 1 || r->kind == DP_KIND_GPU, "replicas %u for %s", r->replicas,
		    dp_kind_name(r->kind));
	FUZZ_ASSERT(!r->has_bitstream || r->kind == DP_KIND_FPGA, "bitstream for %s", dp_kind_name(r->kind));
	if (r->has_bitstream) {
		const struct ky_image_spec *s = &r->bitstream;
		FUZZ_ASSERT(s->id && *s->id, "bitstream without id");
		FUZZ_ASSERT(!s->path != !s->url, "bitstream path and url");
		FUZZ_ASSERT(!s->path || s->path[0] == '/', "bitstream path %s", s->path);
		FUZZ_ASSERT(ky_sha256_hex_valid(s->sha256), "bitstream sha256 %s", s->sha256);
	}
	FUZZ_ASSERT(!r->program || (r->has_bitstream && r->n_program > 0 && r->program[0][0] == '/'),
		    "loader command without a bitstream or by relative path");
	for (size_t k = 0; k < r->n_program; k++)
		FUZZ_ASSERT(r->program[k], "program[%zu] is NULL", k);

	/* The names derived from the resource name. */
	_cleanup_free_ char *env = dp_env_name(r->name);
	FUZZ_ASSERT(env && *env, "no environment name for %s", r->name);
	for (const char *p = env; *p; p++)
		FUZZ_ASSERT(isupper((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_',
			    "environment name %s (from %s)", env, r->name);
	_cleanup_free_ char *cdi = dp_cdi_name(r->name, "0000:3b:00.0::1");
	FUZZ_ASSERT(cdi, "no CDI name for %s", r->name);
	_cleanup_free_ char *ann = dp_cdi_annotation_key(r->name);
	FUZZ_ASSERT(ann && strncmp(ann, DP_CDI_ANNOTATION_PREFIX, strlen(DP_CDI_ANNOTATION_PREFIX)) == 0 &&
			    !strchr(ann + strlen(DP_CDI_ANNOTATION_PREFIX), '/'),
		    "CDI annotation key %s", ann);
	/* The plugin's socket is kyborg-<name with '/' as '_'>.sock in
	 * kubelet's directory: one path component. */
	_cleanup_free_ char *sock = NULL;
	FUZZ_ASSERT(asprintf(&sock, "kyborg-%s.sock", r->name) > 0, "out of memory");
	for (char *p = sock; *p; p++)
		if (*p == '/')
			*p = '_';
	FUZZ_ASSERT(!strchr(sock, '/'), "socket name %s", sock);
	FUZZ_ASSERT(dp_resource_equal(r, r), "resources[%zu] differs from itself", i);
	for (size_t k = 0; k < i; k++)
		FUZZ_ASSERT(!dp_resource_equal(r, &cfg->resources[k]), "resources[%zu] equals resources[%zu]", i, k);
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
	struct dp_config *cfg = NULL;
	_cleanup_error_ struct ky_error *err = NULL;
	int r = dp_config_parse((const char *)data, size, &cfg, &err);
	if (r < 0) {
		FUZZ_ASSERT(r == -EINVAL || r == -ENOMEM, "parse returned %d", r);
		FUZZ_ASSERT(!cfg, "a config with a failure");
		FUZZ_ASSERT(ky_error_msg(err)[0], "refused without a message");
		for (const unsigned char *p = (const unsigned char *)ky_error_msg(err); *p; p++)
			FUZZ_ASSERT(*p >= 0x20, "error message with raw byte 0x%02x", *p);
		return 0;
	}
	FUZZ_ASSERT(cfg && cfg->n_resources > 0, "accepted a config without resources");
	_cleanup_(cJSON_Deletep) cJSON *doc = NULL;
	FUZZ_ASSERT(ky_json_parse((const char *)data, size, &doc, NULL) == 0, "accepted, yet not JSON");
	fuzz_assert_decoded(data, size, doc);
	for (size_t i = 0; i < cfg->n_resources; i++)
		check_resource(cfg, i);
	dp_config_free(cfg);
	return 0;
}

/* An image spec, {"id", "path" | "url", "sha256"}, as the device plugin's
 * bitstreams and the node profile's FPGA images give it
 * (common/src/pci/image_cache.c: ky_image_spec_parse), at the root and at
 * a nested path. Checked: an accepted spec has exactly one absolute path
 * or https:// / file:/// URL and a lower-case 64-digit digest, whose cache
 * file is one component under the cache directory; a refusal names the
 * node's path. */
#include <errno.h>

#include "fuzz.h"
#include "kyborg/base/cleanup.h"
#include "kyborg/pci/image_cache.h"

#define NESTED "resources[0].bitstream"

static void check(const struct ky_jnode *node)
{
	struct ky_image_spec s = { 0 };
	_cleanup_error_ struct ky_error *err = NULL;
	int r = ky_image_spec_parse(node, &s, &err);
	if (r < 0) {
		FUZZ_ASSERT(r == -EINVAL || r == -ENOMEM, "parse returned %d", r);
		FUZZ_ASSERT(!s.id && !s.path && !s.url, "a part of a refused spec was left");
		FUZZ_ASSERT(strncmp(ky_error_msg(err), node->path, strlen(node->path)) == 0,
			    "error \"%s\" does not name \"%s\"", ky_error_msg(err), node->path);
		return;
	}
	FUZZ_ASSERT(s.id && *s.id, "no id");
	FUZZ_ASSERT(!s.path != !s.url, "path %s and url %s", s.path, s.url);
	FUZZ_ASSERT(!s.path || s.path[0] == '/', "path %s", s.path);
	FUZZ_ASSERT(!s.url || !strncmp(s.url, "https://", 8) || !strncmp(s.url, "file:///", 8), "url %s", s.url);
	FUZZ_ASSERT(strlen(s.sha256) == 64, "sha256 %s", s.sha256);
	for (size_t i = 0; i < 64; i++)
		FUZZ_ASSERT((s.sha256[i] >= '0' && s.sha256[i] <= '9') || (s.sha256[i] >= 'a' && s.sha256[i] <= 'f'),
			    "sha256 %s", s.sha256);
	FUZZ_ASSERT(ky_image_spec_equal(&s, &s), "a spec differs from itself");
	_cleanup_free_ char *cached = ky_image_cache_path("/var/cache/kyborg", s.sha256);
	FUZZ_ASSERT(cached && strncmp(cached, "/var/cache/kyborg/sha256/", 25) == 0 && !strchr(cached + 25, '/') &&
			    strcmp(cached + 25, s.sha256) == 0,
		    "cache path %s", cached);
	ky_image_spec_release(&s);
	FUZZ_ASSERT(!s.id && !s.path && !s.url, "release left pointers");
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
	if (ky_json_parse((const char *)data, size, &doc, NULL) < 0)
		return 0;
	fuzz_assert_decoded(data, size, doc);
	struct ky_jnode root, nested = { .j = doc, .path = NESTED };
	ky_json_root(doc, &root);
	check(&root);
	check(&nested);
	return 0;
}

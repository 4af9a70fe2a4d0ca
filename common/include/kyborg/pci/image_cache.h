/* Images a device is programmed with (FPGA bitstreams): a spec names the
 * image by a local path or a URL and pins its SHA-256; URLs are fetched by a
 * short-lived helper binary (the only one that links libcurl) into a
 * content-addressed cache, and every use verifies the digest first. */
#pragma once

#include <stdbool.h>

#include "kyborg/json/json.h"
#include "kyborg/base/sha256.h"

struct ky_error;

struct ky_image_spec {
	char *id;   /* what the device reports once programmed (an FPGA's afu_id) */
	char *path; /* exactly one of path (absolute) or url (https:// or file:///) */
	char *url;
	char sha256[KY_SHA256_HEX_LEN]; /* lower case */
};

/* kyborg-fetch's defaults: size limit and overall timeout. */
#define KY_FETCH_MAX_BYTES (1024LL * 1024 * 1024) /* 1 GiB: the largest bitstreams are a few hundred MiB */
#define KY_FETCH_TIMEOUT_S 600

/* Parses {"id", "path" | "url", "sha256"} at node (required: absent is an
 * error); unknown fields, a relative path, another URL scheme or a digest
 * that is not 64 hex digits are -EINVAL naming the field
 * ("resources[1].bitstream.sha256: must be 64 hex digits"). */
int ky_image_spec_parse(const struct ky_jnode *node, struct ky_image_spec *out, struct ky_error **err);
void ky_image_spec_release(struct ky_image_spec *s);
bool ky_image_spec_equal(const struct ky_image_spec *a, const struct ky_image_spec *b);

/* "<cache_dir>/sha256/<hex>" (malloc'd; NULL on ENOMEM). Pure. */
char *ky_image_cache_path(const char *cache_dir, const char *sha256);

/* A local file whose SHA-256 is the spec's: for a path, the path itself
 * once its digest matches; for a URL, the cached copy, fetched first when
 * absent (or corrupt) by running `fetch_helper URL TEMP` (argv, no shell),
 * verified, then renamed into place. *out_path is malloc'd. Errors:
 * -EBADMSG "image <id>: <where> has sha256 <got>, expected <want>" (a bad
 * download is removed; nothing else in the cache changes), -EIO when the
 * helper fails (its message included), -errno otherwise. */
int ky_image_resolve(const struct ky_image_spec *spec, const char *cache_dir, const char *fetch_helper,
		     char **out_path, struct ky_error **err);

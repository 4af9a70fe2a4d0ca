/* Image specs and the content-addressed cache: parse {id, path | url,
 * sha256}, verify a local image, fetch a URL through the helper binary into
 * <cache>/sha256/<hex> atomically. */
#include "kyborg/pci/image_cache.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/base/fileio.h"
#include "kyborg/base/exec.h"

static int field_error(const struct ky_jnode *obj, const char *key, struct ky_error **err, const char *msg)
{
	struct ky_jnode n;
	ky_json_child(obj, key, 0, &n, NULL);
	return ky_json_error(&n, err, "%s", msg);
}

int ky_image_spec_parse(const struct ky_jnode *node, struct ky_image_spec *out, struct ky_error **err)
{
	static const char *const keys[] = { "id", "path", "url", "sha256", NULL };
	const char *id, *path = NULL, *url = NULL, *sha;
	int k;
	if (!node->j)
		return ky_json_error(node, err, "missing required field");
	if (!cJSON_IsObject(node->j))
		return ky_json_error(node, err, "must be an object, got %s", ky_json_type_name(node->j));
	if ((k = ky_json_check_keys(node, keys, err)) < 0 ||
	    (k = ky_json_string(node, "id", KY_JSON_REQUIRED, &id, err)) < 0 ||
	    (k = ky_json_string(node, "path", 0, &path, err)) < 0 || (k = ky_json_string(node, "url", 0, &url, err)) < 0 ||
	    (k = ky_json_string(node, "sha256", KY_JSON_REQUIRED, &sha, err)) < 0)
		return k;
	if (!path == !url)
		return ky_json_error(node, err, "give exactly one of path or url");
	if (path && path[0] != '/')
		return field_error(node, "path", err, "must be an absolute path");
	if (url && strncmp(url, "https://", 8) != 0 && strncmp(url, "file:///", 8) != 0)
		return field_error(node, "url", err, "must be an https:// or file:/// URL");
	if (!ky_sha256_hex_valid(sha))
		return field_error(node, "sha256", err, "must be 64 hex digits");
	struct ky_image_spec s = { 0 };
	for (size_t i = 0; i < 64; i++)
		s.sha256[i] = (char)tolower((unsigned char)sha[i]);
	s.id = strdup(id);
	s.path = path ? strdup(path) : NULL;
	s.url = url ? strdup(url) : NULL;
	if (!s.id || (path && !s.path) || (url && !s.url)) {
		ky_image_spec_release(&s);
		return ky_error_set(err, ENOMEM, "out of memory");
	}
	*out = s;
	return 0;
}

void ky_image_spec_release(struct ky_image_spec *s)
{
	free(s->id);
	free(s->path);
	free(s->url);
	*s = (struct ky_image_spec){ 0 };
}

static bool str_eq(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

bool ky_image_spec_equal(const struct ky_image_spec *a, const struct ky_image_spec *b)
{
	return str_eq(a->id, b->id) && str_eq(a->path, b->path) && str_eq(a->url, b->url) &&
	       strcmp(a->sha256, b->sha256) == 0;
}

char *ky_image_cache_path(const char *cache_dir, const char *sha256)
{
	char *s;
	return asprintf(&s, "%s/sha256/%s", cache_dir, sha256) < 0 ? NULL : s;
}

/* 1 when the file's digest is want, 0 when it differs (got filled),
 * -errno when it cannot be read. An image is a regular file, opened
 * without following a symlink and without waiting on a FIFO. */
static int digest_matches(const char *path, const char *want, char got[KY_SHA256_HEX_LEN], struct ky_error **err)
{
	_cleanup_close_ int fd = ky_open_regular_at(AT_FDCWD, path, NULL);
	if (fd < 0)
		return ky_error_set(err, -fd, "%s: %s", path, fd == -ELOOP ? "a symbolic link, not the image itself" :
						      fd == -EINVAL ? "not a regular file" : strerror(-fd));
	int r = ky_sha256_fd(fd, got, err);
	if (r < 0)
		return ky_error_prefix(err, "%s", path);
	return strcmp(got, want) == 0;
}

static int fetch(const struct ky_image_spec *spec, const char *cache_dir, const char *helper, const char *final,
		 struct ky_error **err)
{
	_cleanup_free_ char *dir = NULL, *tmp = NULL, *out = NULL;
	char got[KY_SHA256_HEX_LEN];
	int r, status = -1;

	if (asprintf(&dir, "%s/sha256", cache_dir) < 0 || asprintf(&tmp, "%s/.fetch-%s.%ld", dir, spec->sha256,
								    (long)getpid()) < 0)
		return ky_error_set(err, ENOMEM, "out of memory");
	/* With its parents: the state dir on a node where nothing ran yet. */
	if ((r = ky_mkdir_p(dir, 0700)) < 0)
		return ky_error_set(err, -r, "create %s: %s", dir, strerror(-r));
	unlink(tmp); /* left by an earlier process with our pid */
	char *const argv[] = { (char *)helper, (char *)spec->url, tmp, NULL };
	char *const envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
	struct ky_exec x = { .path = helper, .argv = argv, .envp = envp,
			     .timeout_ms = (KY_FETCH_TIMEOUT_S + 10) * 1000, .max_output = 4096 };
	r = ky_exec_capture(&x, &out, NULL, &status, err);
	if (r < 0) {
		unlink(tmp);
		return ky_error_prefix(err, "fetch %s", spec->url);
	}
	if (status != 0) {
		unlink(tmp);
		size_t l = out ? strlen(out) : 0;
		while (l && out[l - 1] == '\n')
			out[--l] = '\0';
		return ky_error_set(err, EIO, "fetch %s: %s exited %d%s%s", spec->url, helper, status, l ? ": " : "",
				    l ? out : "");
	}
	r = digest_matches(tmp, spec->sha256, got, err);
	if (r <= 0) {
		unlink(tmp);
		if (r < 0)
			return ky_error_prefix(err, "fetch %s", spec->url);
		return ky_error_set(err, EBADMSG, "image %s: %s has sha256 %s, expected %s; download removed", spec->id,
				    spec->url, got, spec->sha256);
	}
	if (rename(tmp, final) < 0) {
		r = ky_error_set(err, errno, "rename %s to %s: %m", tmp, final);
		unlink(tmp);
		return r;
	}
	return 0;
}

int ky_image_resolve(const struct ky_image_spec *spec, const char *cache_dir, const char *fetch_helper,
		     char **out_path, struct ky_error **err)
{
	char got[KY_SHA256_HEX_LEN];
	int r;

	if (spec->path) {
		r = digest_matches(spec->path, spec->sha256, got, err);
		if (r < 0)
			return ky_error_prefix(err, "image %s", spec->id);
		if (r == 0)
			return ky_error_set(err, EBADMSG, "image %s: %s has sha256 %s, expected %s", spec->id,
					    spec->path, got, spec->sha256);
		if (!(*out_path = strdup(spec->path)))
			return ky_error_set(err, ENOMEM, "out of memory");
		return 0;
	}
	_cleanup_free_ char *final = ky_image_cache_path(cache_dir, spec->sha256);
	if (!final)
		return ky_error_set(err, ENOMEM, "out of memory");
	r = digest_matches(final, spec->sha256, got, NULL);
	if (r == 0)
		unlink(final); /* corrupt on disk: fetched again below */
	if (r <= 0 && (r = fetch(spec, cache_dir, fetch_helper, final, err)) < 0)
		return ky_error_prefix(err, "image %s", spec->id);
	*out_path = TAKE_PTR(final);
	return 0;
}

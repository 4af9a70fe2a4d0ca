/* Image specs and the content-addressed cache: parse errors name the
 * field; a path is verified; a file:// URL is fetched by the real
 * kyborg-fetch helper (libcurl), verified and kept; a wrong digest is
 * refused, the download removed, a good cached image left alone. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <dirent.h>

#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/pci/image_cache.h"
#include "kytest.h"

static char *dir;

static void setup(void)
{
	dir = kyt_tmpdir("kyimg");
	cr_assert(dir);
}

static void teardown(void)
{
	kyt_rmrf(dir);
	free(dir);
}

TestSuite(image_cache, .init = setup, .fini = teardown);

static int parse(const char *text, struct ky_image_spec *out, struct ky_error **err)
{
	_cleanup_(cJSON_Deletep) cJSON *doc = NULL;
	int r = ky_json_parse(text, strlen(text), &doc, err);
	if (r < 0)
		return r;
	struct ky_jnode root, bs;
	ky_json_root(doc, &root);
	ky_json_child(&root, "bitstream", 0, &bs, NULL);
	return ky_image_spec_parse(&bs, out, err);
}

static void parse_fails(const char *text, const char *msg)
{
	_cleanup_error_ struct ky_error *err = NULL;
	struct ky_image_spec s = { 0 };
	cr_assert_eq(parse(text, &s, &err), -EINVAL, "%s", text);
	cr_assert_str_eq(ky_error_msg(err), msg);
}

#define WRONG(d) d d d d d d d d d d d d d d d d d d d d d d d d d d d d d d d d /* 64 digits */
#define SHA "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"

Test(image_cache, parse_errors_name_the_field)
{
	parse_fails("{}", "bitstream: missing required field");
	parse_fails("{\"bitstream\":{\"id\":\"x\",\"sha256\":\"" SHA "\"}}", "bitstream: give exactly one of path or url");
	parse_fails("{\"bitstream\":{\"id\":\"x\",\"path\":\"a.gbs\",\"sha256\":\"" SHA "\"}}",
		    "bitstream.path: must be an absolute path");
	parse_fails("{\"bitstream\":{\"id\":\"x\",\"url\":\"http://h/a\",\"sha256\":\"" SHA "\"}}",
		    "bitstream.url: must be an https:// or file:/// URL");
	parse_fails("{\"bitstream\":{\"id\":\"x\",\"path\":\"/a\",\"sha256\":\"abc\"}}",
		    "bitstream.sha256: must be 64 hex digits");
	parse_fails("{\"bitstream\":{\"id\":\"x\",\"path\":\"/a\",\"sha256\":\"" SHA "\",\"size\":1}}",
		    "bitstream.size: unknown field");
	parse_fails("{\"bitstream\":{\"path\":\"/a\",\"sha256\":\"" SHA "\"}}", "bitstream.id: missing required field");
}

Test(image_cache, parse_keeps_the_digest_in_lower_case)
{
	_cleanup_error_ struct ky_error *err = NULL;
	struct ky_image_spec s = { 0 }, t = { 0 };
	cr_assert_eq(parse("{\"bitstream\":{\"id\":\"x\",\"path\":\"/a\",\"sha256\":\"" SHA "\"}}", &s, &err), 0);
	cr_assert_str_eq(s.sha256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	cr_assert_eq(parse("{\"bitstream\":{\"id\":\"x\",\"path\":\"/a\",\"sha256\":\"" SHA "\"}}", &t, &err), 0);
	cr_assert(ky_image_spec_equal(&s, &t));
	free(t.path);
	t.path = strdup("/b");
	cr_assert_not(ky_image_spec_equal(&s, &t));
	ky_image_spec_release(&s);
	ky_image_spec_release(&t);
}

/* Writes content to dir/name; the spec names it by path or by file:// URL. */
static void make_image(const char *name, const char *content, bool url, const char *sha, struct ky_image_spec *s)
{
	_cleanup_free_ char *path = NULL;
	cr_assert(asprintf(&path, "%s/%s", dir, name) > 0);
	cr_assert_eq(kyt_write_file(path, content), 0);
	*s = (struct ky_image_spec){ .id = strdup("afu") };
	if (url)
		cr_assert(asprintf(&s->url, "file://%s", path) > 0);
	else
		s->path = strdup(path);
	if (sha)
		strcpy(s->sha256, sha);
	else
		ky_sha256_buf(content, strlen(content), s->sha256);
}

static size_t cache_entries(void)
{
	_cleanup_free_ char *c = NULL;
	cr_assert(asprintf(&c, "%s/cache/sha256", dir) > 0);
	DIR *d = opendir(c);
	size_t n = 0;
	struct dirent *e;
	while (d && (e = readdir(d)))
		n += e->d_name[0] != '.' || (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."));
	if (d)
		closedir(d);
	return n;
}

Test(image_cache, a_path_is_verified_and_used_in_place)
{
	_cleanup_error_ struct ky_error *err = NULL;
	_cleanup_free_ char *out = NULL, *cache = NULL;
	struct ky_image_spec s;
	cr_assert(asprintf(&cache, "%s/cache", dir) > 0);
	make_image("nlb.gbs", "bitstream one", false, NULL, &s);
	cr_assert_eq(ky_image_resolve(&s, cache, KYBORG_FETCH_BIN, &out, &err), 0, "%s", ky_error_msg(err));
	cr_assert_str_eq(out, s.path);
	ky_image_spec_release(&s);
}

Test(image_cache, a_path_with_another_digest_is_refused)
{
	_cleanup_error_ struct ky_error *err = NULL;
	_cleanup_free_ char *out = NULL;
	struct ky_image_spec s;
	make_image("nlb.gbs", "bitstream one", false, WRONG("00"), &s);
	cr_assert_eq(ky_image_resolve(&s, dir, KYBORG_FETCH_BIN, &out, &err), -EBADMSG);
	cr_assert(strstr(ky_error_msg(err), "expected " WRONG("00")), "%s", ky_error_msg(err));
	cr_assert_null(out);
	ky_image_spec_release(&s);
}

Test(image_cache, a_url_is_fetched_once_into_the_cache_then_used_from_it)
{
	_cleanup_error_ struct ky_error *err = NULL;
	_cleanup_free_ char *out = NULL, *again = NULL, *cache = NULL, *src = NULL, *want = NULL;
	struct ky_image_spec s;
	cr_assert(asprintf(&cache, "%s/cache", dir) > 0);
	make_image("remote.gbs", "remote bitstream", true, NULL, &s);
	cr_assert_eq(ky_image_resolve(&s, cache, KYBORG_FETCH_BIN, &out, &err), 0, "%s", ky_error_msg(err));
	want = ky_image_cache_path(cache, s.sha256);
	cr_assert_str_eq(out, want);
	_cleanup_free_ char *body = kyt_read_file(out);
	cr_assert_str_eq(body, "remote bitstream");
	cr_assert_eq(cache_entries(), 1);
	/* The source is gone: the cached copy serves, after its digest is checked. */
	cr_assert(asprintf(&src, "%s/remote.gbs", dir) > 0);
	cr_assert_eq(unlink(src), 0);
	cr_assert_eq(ky_image_resolve(&s, cache, KYBORG_FETCH_BIN, &again, &err), 0, "%s", ky_error_msg(err));
	cr_assert_str_eq(again, want);
	ky_image_spec_release(&s);
}

Test(image_cache, a_download_with_another_digest_is_removed_and_the_good_image_kept)
{
	_cleanup_error_ struct ky_error *err = NULL;
	_cleanup_free_ char *out = NULL, *cache = NULL, *bad = NULL;
	struct ky_image_spec good, wrong;
	cr_assert(asprintf(&cache, "%s/cache", dir) > 0);
	make_image("good.gbs", "good bitstream", true, NULL, &good);
	cr_assert_eq(ky_image_resolve(&good, cache, KYBORG_FETCH_BIN, &out, &err), 0, "%s", ky_error_msg(err));
	/* Another spec pins a digest the URL's content does not have. */
	make_image("tampered.gbs", "tampered bitstream", true, WRONG("11"), &wrong);
	cr_assert_eq(ky_image_resolve(&wrong, cache, KYBORG_FETCH_BIN, &bad, &err), -EBADMSG);
	cr_assert(strstr(ky_error_msg(err), "download removed"), "%s", ky_error_msg(err));
	cr_assert_null(bad);
	cr_assert_eq(cache_entries(), 1);
	_cleanup_free_ char *body = kyt_read_file(out);
	cr_assert_str_eq(body, "good bitstream");
	ky_image_spec_release(&good);
	ky_image_spec_release(&wrong);
}

Test(image_cache, a_corrupt_cached_image_is_fetched_again)
{
	_cleanup_error_ struct ky_error *err = NULL;
	_cleanup_free_ char *out = NULL, *again = NULL, *cache = NULL;
	struct ky_image_spec s;
	cr_assert(asprintf(&cache, "%s/cache", dir) > 0);
	make_image("remote.gbs", "remote bitstream", true, NULL, &s);
	cr_assert_eq(ky_image_resolve(&s, cache, KYBORG_FETCH_BIN, &out, &err), 0, "%s", ky_error_msg(err));
	cr_assert_eq(kyt_write_file(out, "bit rot"), 0);
	cr_assert_eq(ky_image_resolve(&s, cache, KYBORG_FETCH_BIN, &again, &err), 0, "%s", ky_error_msg(err));
	_cleanup_free_ char *body = kyt_read_file(again);
	cr_assert_str_eq(body, "remote bitstream");
	ky_image_spec_release(&s);
}

Test(image_cache, a_missing_url_reports_the_helpers_reason_and_leaves_nothing)
{
	_cleanup_error_ struct ky_error *err = NULL;
	_cleanup_free_ char *out = NULL, *cache = NULL;
	struct ky_image_spec s = { .id = strdup("afu"), .sha256 = "" };
	strcpy(s.sha256, WRONG("22"));
	cr_assert(asprintf(&s.url, "file://%s/nope.gbs", dir) > 0);
	cr_assert(asprintf(&cache, "%s/cache", dir) > 0);
	cr_assert_eq(ky_image_resolve(&s, cache, KYBORG_FETCH_BIN, &out, &err), -EIO);
	cr_assert(strstr(ky_error_msg(err), "kyborg-fetch: "), "%s", ky_error_msg(err));
	cr_assert_eq(cache_entries(), 0);
	ky_image_spec_release(&s);
}

Test(image_cache, the_helper_refuses_other_schemes_and_oversized_bodies)
{
	_cleanup_free_ char *out = NULL, *dest = NULL, *src = NULL, *url = NULL;
	cr_assert(asprintf(&dest, "%s/dest", dir) > 0);
	cr_assert_eq(kyt_run(&out, KYBORG_FETCH_BIN, "http://127.0.0.1:1/x", dest, NULL), 1);
	cr_assert(strstr(out, "only https:// and file:///"), "%s", out);
	free(out);
	out = NULL;
	cr_assert(asprintf(&src, "%s/big", dir) > 0 && asprintf(&url, "file://%s", src) > 0);
	cr_assert_eq(kyt_write_file(src, "0123456789abcdef"), 0);
	cr_assert_eq(kyt_run(&out, KYBORG_FETCH_BIN, "--max-bytes", "8", url, dest, NULL), 1);
	cr_assert(strstr(out, "size limit"), "%s", out);
	struct stat st;
	cr_assert_eq(stat(dest, &st), -1, "a refused download is removed");
}

/* Issue 14: an image path that is a FIFO hung the reader (the device
 * plugin's FPGA programming) for as long as no writer came. An image is a
 * regular file, and never reached through a symlink. */
Test(image_cache, a_path_that_is_no_regular_file_is_refused_at_once, .timeout = 10)
{
	_cleanup_free_ char *fifo = NULL, *link = NULL, *out = NULL;
	struct ky_image_spec s;
	make_image("nlb.gbs", "bitstream one", false, NULL, &s);
	cr_assert(asprintf(&fifo, "%s/fifo.gbs", dir) > 0 && asprintf(&link, "%s/link.gbs", dir) > 0);
	cr_assert_eq(mkfifo(fifo, 0600), 0);
	cr_assert_eq(symlink(s.path, link), 0);
	const char *const paths[] = { fifo, link, dir };
	const char *const why[] = { "not a regular file", "symbolic link", "not a regular file" };
	for (size_t i = 0; i < 3; i++) {
		_cleanup_error_ struct ky_error *err = NULL;
		free(s.path);
		s.path = strdup(paths[i]);
		cr_assert_lt(ky_image_resolve(&s, dir, KYBORG_FETCH_BIN, &out, &err), 0, "%s accepted", paths[i]);
		cr_assert(strstr(ky_error_msg(err), why[i]), "%s", ky_error_msg(err));
		cr_assert_null(out);
	}
	ky_image_spec_release(&s);
}

/* kyborg-fetch: the short-lived helper that downloads an image for the
 * image cache, so that only this binary maps libcurl (never the daemon).
 *   kyborg-fetch [--max-bytes N] [--timeout SECONDS] URL DEST
 * https and file URLs only (redirects to https only), at most N bytes, DEST
 * created exclusively (0600). Exit 0 when DEST holds the body; otherwise
 * DEST is removed and one line saying why goes to stdout, which the caller
 * captures into its error. Checking the digest is the caller's job. */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kyborg/base/fileio.h"
#include "kyborg/pci/image_cache.h"

struct sink {
	int fd;
	long long written, max;
	int err; /* errno of a failed write, or EFBIG */
};

static size_t on_data(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct sink *s = userdata;
	size_t len = size * nmemb;
	if (s->written + (long long)len > s->max) {
		s->err = EFBIG;
		return 0;
	}
	int r = ky_write_all(s->fd, data, len);
	if (r < 0) {
		s->err = -r;
		return 0;
	}
	s->written += (long long)len;
	return len;
}

static int fail(const char *dest, const char *fmt, const char *arg)
{
	if (dest)
		unlink(dest);
	printf("kyborg-fetch: ");
	printf(fmt, arg);
	printf("\n");
	return 1;
}

static int parse_num(const char *s, long long *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v <= 0)
		return -1;
	*out = v;
	return 0;
}

int main(int argc, char **argv)
{
	long long max = KY_FETCH_MAX_BYTES, timeout = KY_FETCH_TIMEOUT_S;
	int i = 1;
	for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
		long long *dst = strcmp(argv[i], "--max-bytes") == 0 ? &max
				 : strcmp(argv[i], "--timeout") == 0  ? &timeout
								      : NULL;
		if (!dst)
			return fail(NULL, "unknown option %s", argv[i]);
		if (parse_num(argv[i + 1], dst) < 0)
			return fail(NULL, "%s needs a positive number", argv[i]);
	}
	if (argc - i != 2)
		return fail(NULL, "%s", "usage: kyborg-fetch [--max-bytes N] [--timeout SECONDS] URL DEST");
	const char *url = argv[i], *dest = argv[i + 1];
	if (strncmp(url, "https://", 8) != 0 && strncmp(url, "file:///", 8) != 0)
		return fail(NULL, "%s: only https:// and file:/// URLs", url);

	struct sink s = { .fd = open(dest, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600), .max = max };
	if (s.fd < 0)
		return fail(NULL, "cannot create %s", dest);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		return fail(dest, "%s", "curl_global_init failed");
	CURL *c = curl_easy_init();
	if (!c)
		return fail(dest, "%s", "curl_easy_init failed");
	char errbuf[CURL_ERROR_SIZE] = "";
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https,file");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
	curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)timeout);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	CURLcode rc = curl_easy_perform(c);
	curl_easy_cleanup(c);
	curl_global_cleanup();
	if (s.err == EFBIG || rc == CURLE_FILESIZE_EXCEEDED)
		return close(s.fd), fail(dest, "%s: larger than the size limit", url);
	if (rc != CURLE_OK)
		return close(s.fd), fail(dest, "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
	if (fsync(s.fd) < 0 || close(s.fd) < 0)
		return fail(dest, "cannot write %s", dest);
	return 0;
}

/* The client's configuration: in-cluster or explicit, the server URL's
 * checks, and reading the service account's token. */
#include "kyborg/k8s/k8s_config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kyborg/base/error.h"
#include "kyborg/base/fileio.h"
#include "kyborg/k8s/k8s_event.h"

#define DEFAULT_CONNECT_TIMEOUT_MS 5000u
#define DEFAULT_REQUEST_TIMEOUT_MS 30000u
/* client-go's in-cluster config reads the projected token again after a
 * minute: the kubelet rotates it well before it expires. */
#define DEFAULT_TOKEN_MAX_AGE_MS 60000u
#define DEFAULT_WATCH_TIMEOUT_S 300u
#define DEFAULT_MAX_BODY (16u * 1024u * 1024u)

void ky_k8s_config_free(struct ky_k8s_config *cfg)
{
	if (!cfg)
		return;
	free(cfg->server);
	free(cfg->token_file);
	free(cfg->ca_file);
	free(cfg);
}

int ky_k8s_config_new(const char *server, const char *token_file, const char *ca_file, struct ky_k8s_config **out,
		      struct ky_error **err)
{
	if (!server || !*server)
		return ky_error_set(err, EINVAL, "API server URL: must not be empty");
	_cleanup_(ky_k8s_config_freep) struct ky_k8s_config *cfg = calloc(1, sizeof(*cfg));
	if (!cfg)
		return ky_error_set(err, ENOMEM, "API client config");
	size_t n = strlen(server);
	while (n > 1 && server[n - 1] == '/')
		n--;
	cfg->server = strndup(server, n);
	cfg->token_file = token_file ? strdup(token_file) : NULL;
	cfg->ca_file = ca_file ? strdup(ca_file) : NULL;
	if (!cfg->server || (token_file && !cfg->token_file) || (ca_file && !cfg->ca_file))
		return ky_error_set(err, ENOMEM, "API client config");
	cfg->connect_timeout_ms = DEFAULT_CONNECT_TIMEOUT_MS;
	cfg->request_timeout_ms = DEFAULT_REQUEST_TIMEOUT_MS;
	cfg->token_max_age_ms = DEFAULT_TOKEN_MAX_AGE_MS;
	cfg->watch_timeout_s = DEFAULT_WATCH_TIMEOUT_S;
	cfg->max_body = DEFAULT_MAX_BODY;
	cfg->max_event = KY_K8S_EVENT_MAX;
	int r = ky_k8s_config_check(cfg, err);
	if (r < 0)
		return r;
	*out = TAKE_PTR(cfg);
	return 0;
}

int ky_k8s_config_in_cluster(const char *sa_dir, struct ky_k8s_config **out, struct ky_error **err)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	if (!host || !*host || !port || !*port)
		return ky_error_set(err, ENOENT,
				    "not in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set "
				    "(give the API server, token file and CA file instead)");
	if (!sa_dir)
		sa_dir = KY_K8S_SA_DIR;
	_cleanup_free_ char *server = NULL, *token = NULL, *ca = NULL;
	/* An IPv6 service address goes in brackets, as Go's net.JoinHostPort
	 * writes it for client-go. */
	bool v6 = strchr(host, ':') && host[0] != '[';
	if (asprintf(&server, v6 ? "https://[%s]:%s" : "https://%s:%s", host, port) < 0 ||
	    asprintf(&token, "%s/token", sa_dir) < 0 || asprintf(&ca, "%s/ca.crt", sa_dir) < 0) {
		server = token = ca = NULL;
		return ky_error_set(err, ENOMEM, "API client config");
	}
	int r = ky_k8s_config_new(server, token, ca, out, err);
	if (r < 0)
		return ky_error_prefix(err, "in-cluster config (KUBERNETES_SERVICE_HOST=%s KUBERNETES_SERVICE_PORT=%s)",
				       host, port);
	return 0;
}

int ky_k8s_config_check(const struct ky_k8s_config *cfg, struct ky_error **err)
{
	const char *url = cfg->server;
	for (const unsigned char *p = (const unsigned char *)url; *p; p++)
		if (*p <= 0x20 || *p == 0x7f)
			return ky_error_set(err, EINVAL, "API server URL \"%s\": contains a space or control character",
					    url);
	const char *rest;
	bool https;
	if (!strncasecmp(url, "https://", 8)) {
		https = true;
		rest = url + 8;
	} else if (!strncasecmp(url, "http://", 7)) {
		https = false;
		rest = url + 7;
	} else {
		return ky_error_set(err, EINVAL, "API server URL \"%s\": must start with https://", url);
	}
	size_t host_len = strcspn(rest, "/?#");
	if (!host_len)
		return ky_error_set(err, EINVAL, "API server URL \"%s\": no host", url);
	if (memchr(rest, '@', host_len))
		return ky_error_set(err, EINVAL, "API server URL \"%s\": user info is not allowed", url);
	if (strpbrk(rest, "?#"))
		return ky_error_set(err, EINVAL, "API server URL \"%s\": a query or fragment is not allowed", url);
	if (!https && cfg->token_file)
		return ky_error_set(err, EINVAL,
				    "API server URL \"%s\": refusing plain http with a bearer token (%s): it would "
				    "travel in clear text; use https://",
				    url, cfg->token_file);
	return 0;
}

int ky_k8s_token_read(const char *path, char **out, struct ky_error **err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return ky_error_set(err, errno, "token file %s: %s", path, strerror(errno));
	_cleanup_free_ char *buf = NULL;
	size_t len;
	int r = ky_read_all(fd, KY_K8S_TOKEN_MAX, &buf, &len);
	if (r == -EFBIG)
		return ky_error_set(err, EFBIG, "token file %s: more than %u bytes", path, KY_K8S_TOKEN_MAX);
	if (r < 0)
		return ky_error_set(err, -r, "token file %s: %s", path, strerror(-r));
	size_t start = 0;
	while (start < len && (buf[start] == ' ' || buf[start] == '\t' || buf[start] == '\n' || buf[start] == '\r'))
		start++;
	while (len > start &&
	       (buf[len - 1] == ' ' || buf[len - 1] == '\t' || buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	if (len == start)
		return ky_error_set(err, EINVAL, "token file %s: empty", path);
	for (size_t i = start; i < len; i++) {
		unsigned char c = (unsigned char)buf[i];
		if (c < 0x20 || c == 0x7f)
			return ky_error_set(err, EINVAL, "token file %s: control character 0x%02x at byte %zu", path,
					    c, i);
	}
	char *tok = strndup(buf + start, len - start);
	if (!tok)
		return ky_error_set(err, ENOMEM, "token file %s", path);
	*out = tok;
	return 0;
}

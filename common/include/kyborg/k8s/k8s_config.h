/* Where the API server is and how to prove who we are: in-cluster (the
 * service's environment and the service account's token and CA), or the
 * same three things named explicitly (flags, tests). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "kyborg/base/cleanup.h"

struct ky_error;

#define KY_K8S_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

/* A token file over this is refused (a projected token is about 1 KiB). */
#define KY_K8S_TOKEN_MAX (64u * 1024u)

struct ky_k8s_config {
	char *server;     /* "https://10.96.0.1:443", maybe with a path prefix; no trailing '/' */
	char *token_file; /* NULL: no Authorization header */
	char *ca_file;    /* NULL: the system's CA store */
	/* Defaults set by the constructors; a caller may change them. */
	uint32_t connect_timeout_ms; /* 5 s: TCP and TLS handshake */
	uint32_t request_timeout_ms; /* 30 s: a whole request (not a watch) */
	uint32_t token_max_age_ms;   /* 60 s: a token older than this is read again */
	uint32_t watch_timeout_s;    /* 300 s: the server ends a watch after this
				      * (plus up to the same again, drawn), and
				      * the client resumes it */
	size_t max_body;             /* 16 MiB: the largest response body */
	size_t max_event;            /* KY_K8S_EVENT_MAX: the longest watch event */
};

/* From KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT (an IPv6 host in
 * brackets) and sa_dir/token, sa_dir/ca.crt; sa_dir NULL is KY_K8S_SA_DIR.
 * -ENOENT "not in a cluster: ..." when the variables are unset. */
int ky_k8s_config_in_cluster(const char *sa_dir, struct ky_k8s_config **out, struct ky_error **err);
/* The same three given explicitly; token_file and ca_file may be NULL. */
int ky_k8s_config_new(const char *server, const char *token_file, const char *ca_file, struct ky_k8s_config **out,
		      struct ky_error **err);
void ky_k8s_config_free(struct ky_k8s_config *cfg);
KY_DEFINE_CLEANUP(struct ky_k8s_config, ky_k8s_config_free)

/* Checks the server URL: http or https, a host, no user info, query or
 * fragment, no space or control character; and refuses http:// when a
 * token is configured, since the token would travel in clear text.
 * -EINVAL naming the URL. */
int ky_k8s_config_check(const struct ky_k8s_config *cfg, struct ky_error **err);

/* Reads a bearer token: surrounding whitespace trimmed; empty, over
 * KY_K8S_TOKEN_MAX or holding a control character (it goes into a header)
 * is refused. *out is malloc'd. -errno naming the file. */
int ky_k8s_token_read(const char *path, char **out, struct ky_error **err);

/* The stand-ins a DRA test talks to, as children of the test killed in
 * teardown by kyt_children_kill_all():
 *  - the kubelet stand-in (test/grpc/dra_kubelet.py), driven one command line
 *    at a time over a pipe, each answer one JSON object (see the script);
 *  - the kube-apiserver stand-in (test/standin/kube_apiserver.py) with fresh
 *    certificates, a token file and its control endpoints (through curl). */
#pragma once

#include <cjson/cJSON.h>

struct kyt_dra_kubelet;

/* Starts PYTHON script --registration-dir reg_dir --desc desc extra... .
 * Asserts on failure. */
struct kyt_dra_kubelet *kyt_dra_kubelet_start(const char *script, const char *desc, const char *reg_dir,
					      const char *const extra[]);
/* Sends one command line (printf format, no newline) and returns its answer
 * within timeout_ms (asserts otherwise). The caller frees it. */
cJSON *kyt_dra_kubelet_cmd(struct kyt_dra_kubelet *k, int timeout_ms, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The same, asserting "ok": true; returns the answer. */
cJSON *kyt_dra_kubelet_ok(struct kyt_dra_kubelet *k, int timeout_ms, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* "quit", then waits for it to exit; frees k (NULL is fine). */
void kyt_dra_kubelet_stop(struct kyt_dra_kubelet *k);

struct kyt_apiserver {
	char *dir;        /* certs/ (ca.crt, server.*), tokens, port */
	char *url;        /* https://127.0.0.1:PORT */
	char *ca_file;
	char *token_file; /* one token, "kyborg-test-token"; rewrite it to rotate */
	struct kyt_child *child;
};

/* Generates certificates into dir, writes the token file, starts the
 * stand-in on a free port and waits until it listens. extra: more flags
 * (--feature-gates ...), may be NULL. Asserts on failure. */
struct kyt_apiserver *kyt_apiserver_start(const char *script, const char *dir, const char *const extra[]);
/* A control request (e.g. "POST", "compact") through the curl command; the
 * reply body in *out when out is non-NULL. Returns curl's exit status. */
int kyt_apiserver_control(struct kyt_apiserver *a, const char *method, const char *what, char **out);
/* A request with the token (method, path such as
 * "/apis/resource.k8s.io/v1/resourceslices", body or NULL); returns the
 * parsed answer, or NULL when curl failed; *code gets the HTTP status. */
cJSON *kyt_apiserver_request(struct kyt_apiserver *a, const char *method, const char *path, const char *body, int *code);
/* SIGTERM, wait, free (NULL is fine). The directory is the caller's. */
void kyt_apiserver_stop(struct kyt_apiserver *a);

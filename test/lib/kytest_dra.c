/* The DRA stand-ins as test children; see kytest_dra.h. */
#include "kytest_dra.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kytest.h"
#include "kytest_proc.h"

#define PYTHON "/usr/bin/python3"

struct kyt_dra_kubelet {
	struct kyt_child *child;
	int in_fd;  /* its stdin */
	int out_fd; /* its stdout */
	char *buf;
	size_t len, cap;
};

static long now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000L + t.tv_nsec / 1000000;
}

struct kyt_dra_kubelet *kyt_dra_kubelet_start(const char *script, const char *desc, const char *reg_dir,
					      const char *const extra[])
{
	const char *argv[40] = { PYTHON, script, "--registration-dir", reg_dir, "--desc", desc };
	int n = 6;
	for (int i = 0; extra && extra[i] && n < 39; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	int in[2], out[2];
	cr_assert_eq(pipe2(in, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(out, O_CLOEXEC), 0);
	/* A kubelet stand-in that died must fail the test, not kill it. */
	signal(SIGPIPE, SIG_IGN);
	struct kyt_dra_kubelet *k = calloc(1, sizeof(*k));
	cr_assert_not_null(k);
	k->child = kyt_child_start_io(argv, in[0], out[1], true);
	close(in[0]);
	close(out[1]);
	k->in_fd = in[1];
	k->out_fd = out[0];
	return k;
}

static cJSON *vcmd(struct kyt_dra_kubelet *k, int timeout_ms, const char *fmt, va_list ap)
{
	char *line = NULL;
	cr_assert_geq(vasprintf(&line, fmt, ap), 0);
	size_t len = strlen(line);
	line[len] = '\n'; /* vasprintf left room for the NUL */
	const char *p = line;
	size_t left = len + 1;
	while (left > 0) {
		ssize_t w = write(k->in_fd, p, left);
		if (w < 0 && errno == EINTR)
			continue;
		cr_assert_gt(w, 0, "the kubelet stand-in is gone (writing \"%.*s\")", (int)len, line);
		p += w;
		left -= (size_t)w;
	}
	long deadline = now_ms() + timeout_ms;
	for (;;) {
		char *nl = k->buf ? memchr(k->buf, '\n', k->len) : NULL;
		if (nl) {
			*nl = '\0';
			cJSON *j = cJSON_Parse(k->buf);
			cr_assert_not_null(j, "the kubelet stand-in answered no JSON: %s", k->buf);
			size_t used = (size_t)(nl - k->buf) + 1;
			memmove(k->buf, nl + 1, k->len - used);
			k->len -= used;
			free(line);
			return j;
		}
		long left_ms = deadline - now_ms();
		line[len] = '\0';
		cr_assert_gt(left_ms, 0, "no answer to \"%s\" within %d ms", line, timeout_ms);
		line[len] = '\n';
		struct pollfd pfd = { .fd = k->out_fd, .events = POLLIN };
		if (poll(&pfd, 1, (int)left_ms) <= 0)
			continue;
		if (k->cap - k->len < 65536) {
			k->cap = k->cap ? k->cap * 2 : 131072;
			k->buf = realloc(k->buf, k->cap);
			cr_assert_not_null(k->buf);
		}
		ssize_t r = read(k->out_fd, k->buf + k->len, k->cap - k->len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		cr_assert_gt(r, 0, "the kubelet stand-in exited");
		k->len += (size_t)r;
	}
}

cJSON *kyt_dra_kubelet_cmd(struct kyt_dra_kubelet *k, int timeout_ms, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cJSON *j = vcmd(k, timeout_ms, fmt, ap);
	va_end(ap);
	return j;
}

cJSON *kyt_dra_kubelet_ok(struct kyt_dra_kubelet *k, int timeout_ms, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cJSON *j = vcmd(k, timeout_ms, fmt, ap);
	va_end(ap);
	if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "ok"))) {
		char *text = cJSON_PrintUnformatted(j);
		cr_assert_fail("the kubelet stand-in answered: %s", text);
	}
	return j;
}

void kyt_dra_kubelet_stop(struct kyt_dra_kubelet *k)
{
	if (!k)
		return;
	const char quit[] = "quit\n";
	if (write(k->in_fd, quit, sizeof(quit) - 1) < 0) {
		/* already gone: the wait below reaps it */
	}
	close(k->in_fd);
	if (!kyt_wait_until(kyt_child_done_cond, k->child, 10000))
		kill(k->child->pid, SIGKILL);
	close(k->out_fd);
	free(k->buf);
	free(k);
}

/* ---- kube-apiserver stand-in ---- */

static char *join(const char *dir, const char *name)
{
	char *p;
	cr_assert_geq(asprintf(&p, "%s/%s", dir, name), 0);
	return p;
}

static bool cond_file(void *path)
{
	return access(path, R_OK) == 0;
}

struct kyt_apiserver *kyt_apiserver_start(const char *script, const char *dir, const char *const extra[])
{
	struct kyt_apiserver *a = calloc(1, sizeof(*a));
	cr_assert_not_null(a);
	a->dir = strdup(dir);
	char *certs = join(dir, "certs");
	cr_assert_eq(kyt_run(NULL, PYTHON, script, "--gen-certs", certs, NULL), 0, "openssl made no certificates");
	a->ca_file = join(certs, "ca.crt");
	a->token_file = join(dir, "tokens");
	cr_assert_eq(kyt_write_file(a->token_file, "kyborg-test-token\n"), 0);
	char *port_file = join(dir, "port");
	unlink(port_file);
	const char *argv[32] = { PYTHON, script, "--cert-dir", certs, "--token-file", a->token_file, "--port-file", port_file };
	int n = 8;
	for (int i = 0; extra && extra[i] && n < 31; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	a->child = kyt_child_start(argv, -1, true);
	cr_assert(kyt_wait_until(cond_file, port_file, 20000), "the kube-apiserver stand-in did not start");
	char *port = kyt_read_file(port_file);
	cr_assert_not_null(port);
	cr_assert_geq(asprintf(&a->url, "https://127.0.0.1:%d", atoi(port)), 0);
	free(port);
	free(port_file);
	free(certs);
	return a;
}

int kyt_apiserver_control(struct kyt_apiserver *a, const char *method, const char *what, char **out)
{
	char *url;
	cr_assert_geq(asprintf(&url, "%s/_standin/%s", a->url, what), 0);
	char *argv[] = { "curl", "-sS", "--max-time", "30", "--cacert", a->ca_file, "-X", (char *)method, url, NULL };
	int r = kyt_runv(out, argv);
	free(url);
	return r;
}

cJSON *kyt_apiserver_request(struct kyt_apiserver *a, const char *method, const char *path, const char *body, int *code)
{
	char *token = kyt_read_file(a->token_file);
	cr_assert_not_null(token);
	token[strcspn(token, "\n")] = '\0';
	char *auth, *url;
	cr_assert_geq(asprintf(&auth, "Authorization: Bearer %s", token), 0);
	cr_assert_geq(asprintf(&url, "%s%s", a->url, path), 0);
	char *argv[20] = { "curl", "-sS", "--max-time", "30", "--cacert", a->ca_file, "-X", (char *)method,
			   "-H", auth, "-w", "\n%{http_code}" };
	int n = 12;
	if (body) {
		argv[n++] = "-H";
		argv[n++] = "Content-Type: application/json";
		argv[n++] = "--data-binary";
		argv[n++] = (char *)body;
	}
	argv[n++] = url;
	argv[n] = NULL;
	char *out = NULL;
	int r = kyt_runv(&out, argv);
	free(auth);
	free(url);
	free(token);
	cJSON *j = NULL;
	if (r == 0 && out) {
		char *last = strrchr(out, '\n');
		if (last) {
			*last = '\0';
			if (code)
				*code = atoi(last + 1);
			j = cJSON_Parse(out);
		}
	}
	free(out);
	return j;
}

void kyt_apiserver_stop(struct kyt_apiserver *a)
{
	if (!a)
		return;
	if (a->child && !kyt_child_done(a->child)) {
		kill(a->child->pid, SIGTERM);
		if (!kyt_wait_until(kyt_child_done_cond, a->child, 10000))
			kill(a->child->pid, SIGKILL);
	}
	free(a->dir);
	free(a->url);
	free(a->ca_file);
	free(a->token_file);
	free(a);
}

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
#include <sys/stat.h>
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

static bool cond_file(void *path)
{
	return access(path, R_OK) == 0;
}

struct kyt_apiserver *kyt_apiserver_start(const char *script, const char *dir, const char *const extra[])
{
	struct kyt_apiserver *a = calloc(1, sizeof(*a));
	cr_assert_not_null(a);
	a->dir = strdup(dir);
	char *certs = kyt_path(dir, "certs");
	cr_assert_eq(kyt_run(NULL, PYTHON, script, "--gen-certs", certs, NULL), 0, "openssl made no certificates");
	a->ca_file = kyt_path(certs, "ca.crt");
	a->token_file = kyt_path(dir, "tokens");
	cr_assert_eq(kyt_write_file(a->token_file, "kyborg-test-token\n"), 0);
	char *port_file = kyt_path(dir, "port");
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

const cJSON *kyt_json_at(const cJSON *o, const char *path)
{
	const cJSON *v = o;
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *save = NULL, *key = strtok_r(buf, ".", &save); key && v; key = strtok_r(NULL, ".", &save))
		v = cJSON_GetObjectItemCaseSensitive(v, key);
	return v;
}

const char *kyt_json_str(const cJSON *o, const char *path)
{
	const cJSON *v = kyt_json_at(o, path);
	cr_assert(cJSON_IsString(v), "%s is not a string in %s", path, cJSON_PrintUnformatted(o));
	return v->valuestring;
}

cJSON *kyt_read_json(const char *path)
{
	char *text = kyt_read_file(path);
	cr_assert_not_null(text, "%s cannot be read", path);
	cJSON *j = cJSON_Parse(text);
	cr_assert_not_null(j, "%s is not JSON: %s", path, text);
	free(text);
	return j;
}

void kyt_dra_claim_write_raw(const char *claims_dir, const char *ns, const char *name, const char *text)
{
	char *nsdir = kyt_path(claims_dir, ns), *file = NULL;
	mkdir(nsdir, 0700);
	cr_assert_geq(asprintf(&file, "%s/%s.json", nsdir, name), 0);
	cr_assert_eq(kyt_write_file(file, text), 0, "%s", file);
	free(file);
	free(nsdir);
}

void kyt_dra_claim_write(const char *claims_dir, const char *ns, const char *name, const char *uid,
			 const char *results, const char *config)
{
	char *text = NULL;
	cr_assert_geq(asprintf(&text,
			       "{\"apiVersion\":\"resource.k8s.io/v1\",\"kind\":\"ResourceClaim\","
			       "\"metadata\":{\"name\":\"%s\",\"namespace\":\"%s\",\"uid\":\"%s\"},"
			       "\"spec\":{\"devices\":{\"requests\":[]}},"
			       "\"status\":{\"allocation\":{\"devices\":{\"results\":[%s]%s%s%s}}}}",
			       name, ns, uid, results, config ? ",\"config\":[" : "", config ? config : "",
			       config ? "]" : ""),
		      0);
	kyt_dra_claim_write_raw(claims_dir, ns, name, text);
	free(text);
}

char *kyt_dra_spec_path(const char *cdi_dir, const char *driver, const char *uid)
{
	char *p = NULL;
	cr_assert_geq(asprintf(&p, "%s/%s-claim_%s.json", cdi_dir, driver, uid), 0);
	return p;
}

char *kyt_dra_record_path(const char *state_dir, const char *uid)
{
	char *p = NULL;
	cr_assert_geq(asprintf(&p, "%s/dra-claims/%s.json", state_dir, uid), 0);
	return p;
}

char *kyt_dra_link_path(const char *state_dir, const char *pci)
{
	char *p = NULL;
	cr_assert_geq(asprintf(&p, "%s/dra-devices/%s.json", state_dir, pci), 0);
	return p;
}

const cJSON *kyt_dra_claim_of(const cJSON *reply, const char *uid)
{
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(reply, "claims"), uid);
	cr_assert_not_null(c, "no answer for claim %s in %s", uid, cJSON_PrintUnformatted(reply));
	return c;
}

cJSON *kyt_dra_wait_registered(struct kyt_dra_kubelet *k, const char *driver, int after)
{
	return kyt_dra_kubelet_ok(k, 20000, "wait registered driver=%s after=%d timeout=15000", driver, after);
}

struct kyt_dra_kubelet *kyt_dra_kubelet_start_api(const char *script, const char *desc, const char *reg_dir,
						  const struct kyt_apiserver *api, const char *node,
						  const char *const extra[])
{
	const char *argv[32] = { "--node-name", node, "--api-server", api->url, "--token-file", api->token_file,
				 "--ca-file", api->ca_file };
	int n = 8;
	for (int i = 0; extra && extra[i] && n < 31; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	struct kyt_dra_kubelet *k = kyt_dra_kubelet_start(script, desc, reg_dir, argv);
	cJSON_Delete(kyt_dra_wait_wiped(k, "", 0));
	return k;
}

cJSON *kyt_dra_wait_wiped(struct kyt_dra_kubelet *k, const char *driver, int after)
{
	return kyt_dra_kubelet_ok(k, 20000, "wait wiped driver=%s after=%d timeout=15000", driver, after);
}

int kyt_dra_event_seq(const cJSON *r)
{
	return (int)cJSON_GetNumberValue(kyt_json_at(r, "event.seq"));
}

const char *kyt_dra_attr_str(const cJSON *dev, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(dev, "attributes"), name), "string");
	cr_assert(cJSON_IsString(v), "attribute %s is not a string in %s", name, cJSON_PrintUnformatted(dev));
	return v->valuestring;
}

const cJSON *kyt_dra_slice_device(const cJSON *slices, const char *name)
{
	const cJSON *s, *d;
	cJSON_ArrayForEach(s, slices)
		cJSON_ArrayForEach(d, kyt_json_at(s, "spec.devices"))
			if (!strcmp(kyt_json_str(d, "name"), name))
				return d;
	return NULL;
}

void kyt_dra_stop_all(struct kyt_dra_kubelet **k, struct kyt_apiserver **a)
{
	kyt_dra_kubelet_stop(*k);
	*k = NULL;
	kyt_apiserver_stop(*a);
	*a = NULL;
	kyt_children_kill_all();
}

void kyt_dra_dirs_init(struct kyt_dra_dirs *d, const char *prefix, const char *driver)
{
	*d = (struct kyt_dra_dirs){ 0 };
	d->dir = kyt_tmpdir(prefix);
	cr_assert_not_null(d->dir);
	char *plugins = kyt_path(d->dir, "plugins");
	d->reg_dir = kyt_path(d->dir, "plugins_registry");
	d->plugin_dir = kyt_path(plugins, driver);
	d->cdi_dir = kyt_path(d->dir, "cdi");
	d->state_dir = kyt_path(d->dir, "state");
	d->config_path = kyt_path(d->dir, "config.json");
	d->api_dir = kyt_path(d->dir, "api");
	d->driver_log = kyt_path(d->dir, "driver.log");
	free(plugins);
	cr_assert_eq(mkdir(d->reg_dir, 0750), 0);
	cr_assert_eq(mkdir(d->api_dir, 0700), 0);
}

void kyt_dra_dirs_free(struct kyt_dra_dirs *d)
{
	char *log = d->driver_log ? kyt_read_file(d->driver_log) : NULL;
	if (log && (getenv("KYTEST_VERBOSE") || strstr(log, "Sanitizer") || strstr(log, "runtime error:")))
		fprintf(stderr, "---- driver log ----\n%s", log);
	free(log);
	kyt_rmrf(d->dir);
	free(d->dir);
	free(d->reg_dir);
	free(d->plugin_dir);
	free(d->cdi_dir);
	free(d->state_dir);
	free(d->config_path);
	free(d->api_dir);
	free(d->driver_log);
	*d = (struct kyt_dra_dirs){ 0 };
}

struct kyt_child *kyt_dra_driver_start(const char *bin, const struct kyt_dra_dirs *d, const char *node,
				       const char *api_url, const char *const extra[])
{
	char *token = kyt_path(d->api_dir, "tokens"), *ca = kyt_path(d->api_dir, "certs/ca.crt");
	const char *argv[48] = { bin, "--config", d->config_path, "--node-name", node, "--registration-dir",
				 d->reg_dir, "--plugin-dir", d->plugin_dir, "--cdi-dir", d->cdi_dir, "--state-dir",
				 d->state_dir };
	int n = 13;
	if (api_url) {
		const char *api[] = { "--api-server", api_url, "--token-file", token, "--ca-file", ca };
		for (size_t i = 0; i < sizeof(api) / sizeof(api[0]); i++)
			argv[n++] = api[i];
	}
	for (int i = 0; extra && extra[i]; i++) {
		cr_assert_lt(n, 47, "too many driver flags");
		argv[n++] = extra[i];
	}
	argv[n] = NULL;
	struct kyt_child *c = kyt_child_start_log(argv, d->driver_log);
	free(token);
	free(ca);
	return c;
}

struct kyt_child *kyt_dra_driver_start_fault(const char *fault, const char *bin, const struct kyt_dra_dirs *d,
					     const char *node, const char *api_url, const char *const extra[])
{
	if (fault)
		setenv("KYBORG_FAULT", fault, 1);
	struct kyt_child *c = kyt_dra_driver_start(bin, d, node, api_url, extra);
	unsetenv("KYBORG_FAULT");
	return c;
}

void kyt_dra_assert_clean(const struct kyt_dra_dirs *d, const char *driver, const char *uid)
{
	char *spec = kyt_dra_spec_path(d->cdi_dir, driver, uid), *rec = kyt_dra_record_path(d->state_dir, uid);
	bool spec_left = access(spec, F_OK) == 0, rec_left = access(rec, F_OK) == 0;
	cr_assert_not(spec_left, "%s is left", spec);
	cr_assert_not(rec_left, "%s is left", rec);
	free(spec);
	free(rec);
}

cJSON *kyt_dra_server_slices(struct kyt_apiserver *a, const char *driver, const char *node)
{
	char *path = NULL;
	int code = 0;
	cr_assert_geq(asprintf(&path,
			       "/apis/resource.k8s.io/v1/resourceslices?fieldSelector=spec.driver%%3D%s%%2Cspec.nodeName%%3D%s",
			       driver, node),
		      0);
	cJSON *list = kyt_apiserver_request(a, "GET", path, NULL, &code);
	cr_assert_not_null(list, "GET %s: no answer", path);
	cr_assert_eq(code, 200, "GET %s: %d %s", path, code, cJSON_PrintUnformatted(list));
	cJSON *items = cJSON_DetachItemFromObject(list, "items");
	cJSON_Delete(list);
	free(path);
	return items;
}

char *kyt_dra_api_claim(struct kyt_apiserver *a, const char *ns, const char *name, const char *results)
{
	char *path = NULL, *body = NULL, *status = NULL, *text = NULL, *spath = NULL;
	int code = 0;
	cr_assert_geq(asprintf(&path, "/apis/resource.k8s.io/v1/namespaces/%s/resourceclaims", ns), 0);
	cr_assert_geq(asprintf(&body,
			       "{\"apiVersion\":\"resource.k8s.io/v1\",\"kind\":\"ResourceClaim\","
			       "\"metadata\":{\"name\":\"%s\"},\"spec\":{\"devices\":{\"requests\":[{\"name\":\"req\","
			       "\"exactly\":{\"deviceClassName\":\"kyborg\"}}]}}}",
			       name),
		      0);
	cJSON *c = kyt_apiserver_request(a, "POST", path, body, &code);
	cr_assert_eq(code, 201, "POST %s: %d", path, code);
	cr_assert_geq(asprintf(&status, "{\"allocation\":{\"devices\":{\"results\":[%s]}}}", results), 0);
	cJSON_AddItemToObject(c, "status", cJSON_Parse(status));
	text = cJSON_PrintUnformatted(c);
	cr_assert_geq(asprintf(&spath, "%s/%s/status", path, name), 0);
	cJSON_Delete(kyt_apiserver_request(a, "PUT", spath, text, &code));
	cr_assert_eq(code, 200, "PUT %s: %d", spath, code);
	char *uid = strdup(kyt_json_str(c, "metadata.uid"));
	cJSON_Delete(c);
	free(path);
	free(body);
	free(status);
	free(text);
	free(spath);
	return uid;
}

/* What the Kubernetes API client costs a daemon's memory: VmRSS and VmHWM
 * (with RssAnon and RssFile) after each step of a daemon's life with it.
 * Built twice: kyborg-bench-k8s-floor (KY_BENCH_FLOOR: the loop only, so
 * libkyborg's k8s layer and libcurl are not even linked) and
 * kyborg-bench-k8s (the loop, then the client, one request, a reflector's
 * list of a node's ResourceSlices and its watch). bench/k8s_rss.py runs
 * both against the kube-apiserver stand-in. Usage:
 *   kyborg-bench-k8s-floor
 *   kyborg-bench-k8s SERVER TOKEN_FILE CA_FILE NODE PAGE_SIZE UPDATES [metadata]
 * "metadata": the reflector asks for metadata only (what the DRA driver
 * needs of its own ResourceSlices). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kyborg/base/error.h"
#include "kyborg/loop/loop.h"
#ifndef KY_BENCH_FLOOR
#include "kyborg/k8s/k8s_client.h"
#include "kyborg/k8s/k8s_reflector.h"
#endif

static long status_kib(const char *key)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	long v = -1;
	size_t n = strlen(key);
	while (f && fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, n) && line[n] == ':') {
			v = atol(line + n + 1);
			break;
		}
	}
	if (f)
		fclose(f);
	return v;
}

/* With KYBORG_BENCH_SMAPS set: the mapped files by resident size, so the
 * libraries behind a figure can be named. */
static void smaps_by_file(void)
{
	FILE *f = fopen("/proc/self/smaps", "re");
	char line[512], name[256] = "";
	struct {
		char name[256];
		long kib;
	} files[128];
	int n = 0;
	while (f && fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		long kib;
		int end = 0;
		if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %n", &lo, &hi, &end) == 2 && end) {
			/* A mapping's header: its file, or none (heap, stack, anon). */
			size_t len = strcspn(line + end, "\n");
			snprintf(name, sizeof(name), "%.*s", (int)len, line + end);
		} else if (sscanf(line, "Rss: %ld kB", &kib) == 1 && name[0] == '/' && kib) {
			int i = 0;
			while (i < n && strcmp(files[i].name, name))
				i++;
			if (i == n) {
				if (n == 128)
					continue;
				snprintf(files[n].name, sizeof(files[0].name), "%s", name);
				files[n++].kib = 0;
			}
			files[i].kib += kib;
		}
	}
	if (f)
		fclose(f);
	for (int i = 0; i < n; i++)
		if (files[i].kib >= 64)
			fprintf(stderr, "    %6ld kB %s\n", files[i].kib, files[i].name);
}

static void report(const char *step)
{
	printf("step=%-32s VmRSS=%6ld kB VmHWM=%6ld kB RssAnon=%6ld kB RssFile=%6ld kB\n", step,
	       status_kib("VmRSS"), status_kib("VmHWM"), status_kib("RssAnon"), status_kib("RssFile"));
	fflush(stdout);
	if (getenv("KYBORG_BENCH_SMAPS"))
		smaps_by_file();
}

#ifdef KY_BENCH_FLOOR
int main(void)
{
	struct ky_loop *loop = NULL;
	if (ky_loop_new(&loop, NULL) < 0)
		return 1;
	report("loop (no libcurl linked)");
	ky_loop_free(loop);
	return 0;
}
#else

struct bench {
	struct ky_loop *loop;
	struct ky_k8s_client *client;
	bool done;
	int status;
	bool synced;
	size_t objects;
	char **names;
	size_t n_names;
	unsigned modified;
};

static void on_done(void *userdata, struct ky_k8s_response *resp)
{
	struct bench *b = userdata;
	b->done = true;
	b->status = resp->http_status;
	if (resp->err)
		fprintf(stderr, "request: %s\n", ky_error_msg(resp->err));
}

static void on_added(void *userdata, const cJSON *obj)
{
	struct bench *b = userdata;
	char **p = realloc(b->names, (b->n_names + 1) * sizeof(*p));
	if (!p)
		return;
	b->names = p;
	b->names[b->n_names++] = strdup(ky_k8s_object_name(obj));
}

static void on_modified(void *userdata, const cJSON *obj)
{
	(void)obj;
	((struct bench *)userdata)->modified++;
}

static void on_synced(void *userdata)
{
	((struct bench *)userdata)->synced = true;
}

static void on_failed(void *userdata, const struct ky_error *err)
{
	(void)userdata;
	fprintf(stderr, "reflector: %s\n", ky_error_msg(err));
}

static int run_until(struct bench *b, bool *flag, unsigned *count, unsigned want, int timeout_ms)
{
	uint64_t end = ky_loop_now_ms() + (uint64_t)timeout_ms;
	while (flag ? !*flag : *count < want) {
		if (ky_loop_now_ms() >= end)
			return -1;
		ky_loop_run_once(b->loop, 50, NULL);
	}
	return 0;
}

static int request(struct bench *b, enum ky_k8s_method m, const char *path, const char *body)
{
	cJSON *j = body ? cJSON_Parse(body) : NULL;
	struct ky_error *e = NULL;
	b->done = false;
	int r = ky_k8s_request(b->client,
			       &(struct ky_k8s_req){ .method = m, .path = path, .body = j, .done = on_done, .userdata = b },
			       NULL, &e);
	cJSON_Delete(j);
	if (r < 0) {
		fprintf(stderr, "%s: %s\n", path, ky_error_msg(e));
		ky_error_free(e);
		return r;
	}
	return run_until(b, &b->done, NULL, 0, 30000);
}

int main(int argc, char **argv)
{
	if (argc < 7 || argc > 8 || (argc == 8 && strcmp(argv[7], "metadata"))) {
		fprintf(stderr, "usage: %s SERVER TOKEN_FILE CA_FILE NODE PAGE_SIZE UPDATES [metadata]\n", argv[0]);
		return 2;
	}
	bool metadata_only = argc == 8;
	struct bench b = { 0 };
	struct ky_error *e = NULL;
	if (ky_loop_new(&b.loop, &e) < 0)
		return 1;
	report("loop (libcurl not init)");

	struct ky_k8s_config *cfg = NULL;
	if (ky_k8s_config_new(argv[1], argv[2], argv[3], &cfg, &e) < 0 || ky_k8s_client_new(b.loop, cfg, &b.client, &e) < 0) {
		fprintf(stderr, "%s\n", ky_error_msg(e));
		return 1;
	}
	ky_k8s_config_free(cfg);
	report("client (curl_global_init)");

	if (request(&b, KY_K8S_GET, "/version", NULL) < 0 || b.status != 200)
		return 1;
	report("one GET (TLS connection)");

	char selector[256];
	snprintf(selector, sizeof(selector), "spec.nodeName=%s", argv[4]);
	static const struct ky_k8s_reflector_ops ops = {
		.added = on_added, .modified = on_modified, .synced = on_synced, .failed = on_failed
	};
	struct ky_k8s_reflector_opts o = {
		.resource = { "resource.k8s.io", "v1", "resourceslices" },
		.field_selector = selector,
		.page_size = (uint32_t)atoi(argv[5]),
		.metadata_only = metadata_only,
		.ops = &ops,
		.userdata = &b,
	};
	struct ky_k8s_reflector *r = NULL;
	if (ky_k8s_reflector_new(b.client, &o, &r, &e) < 0 || run_until(&b, &b.synced, NULL, 0, 60000) < 0) {
		fprintf(stderr, "reflector: %s\n", e ? ky_error_msg(e) : "no sync");
		return 1;
	}
	char step[96];
	snprintf(step, sizeof(step), "list %zu slices, page %s%s", b.n_names, argv[5], metadata_only ? ", meta" : "");
	report(step);

	/* Changes through the client, seen back through the watch. */
	unsigned updates = (unsigned)atoi(argv[6]);
	for (unsigned i = 0; i < updates && b.n_names; i++) {
		char path[512], body[128];
		snprintf(path, sizeof(path), "/apis/resource.k8s.io/v1/resourceslices/%s", b.names[i % b.n_names]);
		/* A value of this run: a patch that changes nothing writes nothing. */
		snprintf(body, sizeof(body), "{\"metadata\":{\"labels\":{\"bench\":\"u%u-%d\"}}}", i, (int)getpid());
		if (request(&b, KY_K8S_PATCH, path, body) < 0 || b.status != 200)
			return 1;
	}
	if (run_until(&b, NULL, &b.modified, updates, 60000) < 0) {
		fprintf(stderr, "watch: %u of %u updates seen\n", b.modified, updates);
		return 1;
	}
	snprintf(step, sizeof(step), "%u PATCH + watch events", updates);
	report(step);

	ky_k8s_reflector_free(r);
	ky_k8s_client_free(b.client);
	report("client freed");
	for (size_t i = 0; i < b.n_names; i++)
		free(b.names[i]);
	free(b.names);
	ky_loop_free(b.loop);
	return 0;
}
#endif

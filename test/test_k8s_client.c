/* The Kubernetes API client (common/src/k8s) against the suite's
 * kube-apiserver STAND-IN (test/standin/kube_apiserver.py: not the real
 * kube-apiserver, which Debian does not ship; written from its API and
 * server code): HTTPS with a CA of its own, bearer tokens from a file it
 * reads on every request, resourceslices with resourceVersions, 409, 410
 * and 422, and control endpoints to close watches, compact history, hold
 * or fail requests. The tests drive the stand-in's control endpoints and
 * play the other API clients (kubelet deleting slices) with the curl
 * command, never with the client under test. Each test has its own loop,
 * directory and stand-in process, killed in teardown. */
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kyborg/base/error.h"
#include "kyborg/json/json.h"
#include "kyborg/k8s/k8s_client.h"
#include "kyborg/k8s/k8s_reflector.h"
#include "kyborg/loop/loop.h"
#include "kytest.h"
#include "kytest_loop.h"
#include "kytest_proc.h"

#define PYTHON "/usr/bin/python3"
#define SLICES "/apis/resource.k8s.io/v1/resourceslices"

static const struct ky_k8s_resource slices_res = { "resource.k8s.io", "v1", "resourceslices" };

/* ---- fixture: certificates, tokens, the stand-in, a loop and a client ---- */

static struct ky_loop *loop;
static struct ky_k8s_client *client;
static char *dir;
static char certs[400], other_certs[400], server_tokens[512], client_token[512], ca[512], port_file[512];
static struct kyt_child *standin;
static int port;
static char url[64];

static void gen_certs(const char *to)
{
	char *out = NULL;
	cr_assert_eq(kyt_run(&out, PYTHON, KYTEST_KUBE_APISERVER, "--gen-certs", to, NULL), 0,
		     "stand-in --gen-certs failed");
	free(out);
}

static bool file_exists(void *path)
{
	return access(path, F_OK) == 0;
}

static void standin_start(int want_port)
{
	char port_arg[16];
	snprintf(port_arg, sizeof(port_arg), "%d", want_port);
	unlink(port_file);
	const char *argv[] = { PYTHON,	      KYTEST_KUBE_APISERVER, "--cert-dir", certs,     "--token-file",
			       server_tokens, "--port",		     port_arg,	   "--port-file", port_file,
			       NULL };
	standin = kyt_child_start(argv, -1, true);
	cr_assert(kyt_wait_until(file_exists, port_file, 10000), "the stand-in did not start");
	char *p = kyt_read_file(port_file);
	cr_assert_not_null(p);
	port = atoi(p);
	free(p);
	cr_assert_gt(port, 0);
	snprintf(url, sizeof(url), "https://127.0.0.1:%d", port);
}

static void standin_stop(void)
{
	kill(standin->pid, SIGTERM);
	cr_assert(kyt_wait_until(kyt_child_done_cond, standin, 10000), "the stand-in did not stop");
}

static void make_client(const char *server, const char *ca_file, uint32_t token_max_age_ms)
{
	struct ky_k8s_config *cfg = NULL;
	struct ky_error *e = NULL;
	cr_assert_eq(ky_k8s_config_new(server, client_token, ca_file, &cfg, &e), 0, "%s", ky_error_msg(e));
	if (token_max_age_ms)
		cfg->token_max_age_ms = token_max_age_ms;
	cfg->connect_timeout_ms = 2000;
	cr_assert_eq(ky_k8s_client_new(loop, cfg, &client, &e), 0, "%s", ky_error_msg(e));
	ky_k8s_config_free(cfg);
}

static void setup_files(void)
{
	dir = kyt_tmpdir("kyk8s");
	cr_assert_not_null(dir);
	snprintf(certs, sizeof(certs), "%s/certs", dir);
	snprintf(other_certs, sizeof(other_certs), "%s/other", dir);
	snprintf(ca, sizeof(ca), "%s/ca.crt", certs);
	snprintf(server_tokens, sizeof(server_tokens), "%s/server-tokens", dir);
	snprintf(client_token, sizeof(client_token), "%s/token", dir);
	snprintf(port_file, sizeof(port_file), "%s/port", dir);
	gen_certs(certs);
	cr_assert_eq(kyt_write_file(server_tokens, "tok-1\n"), 0);
	cr_assert_eq(kyt_write_file(client_token, "tok-1\n"), 0);
	cr_assert_eq(ky_loop_new(&loop, NULL), 0);
}

static void setup(void)
{
	setup_files();
	standin_start(0);
	make_client(url, ca, 0);
}

static void teardown(void)
{
	ky_k8s_client_free(client);
	client = NULL;
	kyt_children_kill_all();
	ky_loop_free(loop);
	loop = NULL;
	kyt_rmrf(dir);
	free(dir);
}

TestSuite(k8s_client, .init = setup, .fini = teardown, .timeout = 60);

/* Runs the loop until cond(arg) holds or timeout_ms passes. */
static bool run_until(bool (*cond)(void *), void *arg, int timeout_ms)
{
	return kyt_loop_run_until(loop, cond, arg, timeout_ms);
}

/* Keeps the loop serving for ms: where a test proves something does NOT
 * happen (a cancelled callback), the deadline is the condition. */
static void run_for(int ms)
{
	kyt_loop_run_for(loop, ms);
}

/* ---- the stand-in's control endpoints and the other API clients, by curl ---- */

static char *ctl(const char *method, const char *what)
{
	char u[256];
	snprintf(u, sizeof(u), "%s/_standin/%s", url, what);
	char *out = NULL;
	cr_assert_eq(kyt_run(&out, "curl", "-sS", "--fail", "--cacert", ca, "-X", method, u, NULL), 0,
		     "control %s %s failed", method, what);
	return out;
}

static void ctl_post(const char *what)
{
	free(ctl("POST", what));
}

/* An API call made by another client (kubelet, an admin): the parsed answer. */
static cJSON *other_client(const char *method, const char *path, const char *body)
{
	char u[512];
	snprintf(u, sizeof(u), "%s%s", url, path);
	char *out = NULL;
	int rc = body ? kyt_run(&out, "curl", "-sS", "--cacert", ca, "-X", method, "-H", "Authorization: Bearer tok-1",
				"-H", "Content-Type: application/json", "--data-binary", body, u, NULL)
		      : kyt_run(&out, "curl", "-sS", "--cacert", ca, "-X", method, "-H",
				"Authorization: Bearer tok-1", u, NULL);
	cr_assert_eq(rc, 0, "curl %s %s failed", method, path);
	cJSON *j = NULL;
	cr_assert_eq(ky_json_parse(out, strlen(out), &j, NULL), 0, "%s", out);
	free(out);
	return j;
}

static char *slice_json(const char *name, const char *node, const char *device, const char *rv)
{
	char *s;
	cr_assert_geq(asprintf(&s,
			       "{\"apiVersion\":\"resource.k8s.io/v1\",\"kind\":\"ResourceSlice\",\"metadata\":{\"name\":"
			       "\"%s\"%s%s%s},\"spec\":{\"driver\":\"kyborg.io\",\"nodeName\":\"%s\",\"pool\":{\"name\":"
			       "\"%s\",\"generation\":1,\"resourceSliceCount\":1},\"devices\":[{\"name\":\"%s\"}]}}",
			       name, rv ? ",\"resourceVersion\":\"" : "", rv ? rv : "", rv ? "\"" : "", node, node,
			       device),
		      0);
	return s;
}

static void other_create(const char *name, const char *node)
{
	char *body = slice_json(name, node, "gpu-0", NULL);
	cJSON *j = other_client("POST", SLICES, body);
	cr_assert_str_eq(ky_k8s_object_name(j), name, "create %s: %s", name, body);
	cJSON_Delete(j);
	free(body);
}

static void other_delete(const char *name)
{
	char path[256];
	snprintf(path, sizeof(path), SLICES "/%s", name);
	cJSON_Delete(other_client("DELETE", path, NULL));
}

/* The stand-in's request log, for what the client sent. */
static cJSON *requests_log(void)
{
	char *out = ctl("GET", "requests");
	cJSON *j = NULL;
	cr_assert_eq(ky_json_parse(out, strlen(out), &j, NULL), 0);
	free(out);
	return j;
}

static int standin_state(const char *key)
{
	char *out = ctl("GET", "state");
	cJSON *j = NULL;
	cr_assert_eq(ky_json_parse(out, strlen(out), &j, NULL), 0);
	free(out);
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
	int n = cJSON_IsNumber(v) ? (int)v->valuedouble : -1;
	cJSON_Delete(j);
	return n;
}

/* ---- single requests ---- */

struct result {
	bool done;
	int status;
	cJSON *body;
	int code, err_status;
	char msg[1024];
};

static void on_done(void *userdata, struct ky_k8s_response *resp)
{
	struct result *r = userdata;
	cr_assert_not(r->done, "callback ran twice");
	r->done = true;
	r->status = resp->http_status;
	r->body = TAKE_PTR(resp->body);
	r->code = ky_error_code(resp->err);
	r->err_status = ky_error_status(resp->err);
	snprintf(r->msg, sizeof(r->msg), "%s", ky_error_msg(resp->err));
}

static bool result_done(void *r)
{
	return ((struct result *)r)->done;
}

static void start(struct result *r, enum ky_k8s_method m, const char *path, const char *body, uint32_t timeout_ms)
{
	cJSON *j = NULL;
	if (body)
		cr_assert_eq(ky_json_parse(body, strlen(body), &j, NULL), 0);
	memset(r, 0, sizeof(*r));
	struct ky_error *e = NULL;
	cr_assert_eq(ky_k8s_request(client,
				    &(struct ky_k8s_req){ .method = m, .path = path, .body = j, .timeout_ms = timeout_ms,
							  .done = on_done, .userdata = r },
				    NULL, &e),
		     0, "%s", ky_error_msg(e));
	cJSON_Delete(j);
	/* Never from inside the call that started it. */
	cr_assert_not(r->done);
}

static void call(struct result *r, enum ky_k8s_method m, const char *path, const char *body)
{
	start(r, m, path, body, 0);
	cr_assert(run_until(result_done, r, 15000), "%s: no answer", path);
}

static void result_clear(struct result *r)
{
	cJSON_Delete(r->body);
	r->body = NULL;
}

Test(k8s_client, good_token_is_accepted_and_a_bad_one_fails_with_401_after_one_retry)
{
	struct result r;
	call(&r, KY_K8S_GET, SLICES, NULL);
	cr_assert_eq(r.status, 200, "%d %s", r.status, r.msg);
	cr_assert_eq(r.code, 0);
	cr_assert_str_eq(cJSON_GetObjectItem(r.body, "kind")->valuestring, "ResourceSliceList");
	result_clear(&r);

	cr_assert_eq(kyt_write_file(client_token, "not-a-token\n"), 0);
	ky_k8s_client_free(client);
	make_client(url, ca, 0);
	free(ctl("DELETE", "requests"));
	call(&r, KY_K8S_GET, SLICES, NULL);
	cr_assert_eq(r.status, 401);
	cr_assert_eq(r.err_status, 401);
	cr_assert_eq(r.code, EACCES);
	cr_assert_str_eq(r.msg, "Unauthorized");
	cr_assert_null(r.body);
	/* The 401 made it read the token again and send once more: twice bad. */
	cJSON *log = requests_log();
	cr_assert_eq(cJSON_GetArraySize(log), 2);
	for (int i = 0; i < 2; i++)
		cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(log, i), "auth")->valuestring, "bad");
	cJSON_Delete(log);
	cr_assert_eq(ky_k8s_client_token_reads(client), 2);
}

Test(k8s_client, rotated_token_is_read_again_at_once_after_a_401)
{
	struct result r;
	call(&r, KY_K8S_GET, SLICES, NULL);
	cr_assert_eq(r.status, 200);
	result_clear(&r);
	/* The kubelet rotates the projected token; the old one is refused. */
	cr_assert_eq(kyt_write_file(server_tokens, "tok-2\n"), 0);
	cr_assert_eq(kyt_write_file(client_token, "tok-2\n"), 0);
	free(ctl("DELETE", "requests"));
	call(&r, KY_K8S_GET, SLICES, NULL);
	cr_assert_eq(r.status, 200, "%d %s", r.status, r.msg);
	result_clear(&r);
	cJSON *log = requests_log();
	cr_assert_eq(cJSON_GetArraySize(log), 2);
	cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(log, 0), "auth")->valuestring, "bad");
	cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(log, 1), "auth")->valuestring, "ok");
	cJSON_Delete(log);
	cr_assert_eq(ky_k8s_client_token_reads(client), 2);
}

static uint64_t deadline_at;
static bool past_deadline(void *arg)
{
	(void)arg;
	return ky_loop_now_ms() >= deadline_at;
}

Test(k8s_client, token_older_than_its_max_age_is_read_again_before_a_request)
{
	ky_k8s_client_free(client);
	make_client(url, ca, 300);
	struct result r;
	call(&r, KY_K8S_GET, SLICES, NULL);
	cr_assert_eq(r.status, 200);
	result_clear(&r);
	cr_assert_eq(kyt_write_file(server_tokens, "tok-1\ntok-2\n"), 0);
	cr_assert_eq(kyt_write_file(client_token, "tok-2\n"), 0);
	/* Young enough: the token in memory is still used. */
	call(&r, KY_K8S_GET, SLICES, NULL);
	result_clear(&r);
	cr_assert_eq(ky_k8s_client_token_reads(client), 1);
	deadline_at = ky_loop_now_ms() + 350;
	run_until(past_deadline, NULL, 1000);
	cr_assert_eq(kyt_write_file(server_tokens, "tok-2\n"), 0);
	free(ctl("DELETE", "requests"));
	call(&r, KY_K8S_GET, SLICES, NULL);
	cr_assert_eq(r.status, 200);
	result_clear(&r);
	cr_assert_eq(ky_k8s_client_token_reads(client), 2);
	/* No 401 first: the new token went out on the first try. */
	cJSON *log = requests_log();
	cr_assert_eq(cJSON_GetArraySize(log), 1);
	cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(log, 0), "auth")->valuestring, "ok");
	cJSON_Delete(log);
}

Test(k8s_client, server_certificate_from_another_ca_is_refused)
{
	gen_certs(other_certs);
	char other_ca[600];
	snprintf(other_ca, sizeof(other_ca), "%s/ca.crt", other_certs);
	ky_k8s_client_free(client);
	make_client(url, other_ca, 0);
	free(ctl("DELETE", "requests"));
	struct result r;
	call(&r, KY_K8S_GET, SLICES, NULL);
	cr_assert_eq(r.status, 0);
	cr_assert_eq(r.code, EPROTO, "%d %s", r.code, r.msg);
	cr_assert(strstr(r.msg, "certificate"), "%s", r.msg);
	cr_assert(strstr(r.msg, url), "%s", r.msg);
	/* The handshake failed on the server's side too, and no request
	 * reached HTTP: the token never left. */
	cJSON *log = requests_log();
	const cJSON *e;
	int handshakes = 0;
	cJSON_ArrayForEach(e, log)
	{
		cr_assert_null(cJSON_GetObjectItem(e, "method"), "a request got through: %s", cJSON_PrintUnformatted(e));
		handshakes += !strncmp(cJSON_GetObjectItem(e, "tls")->valuestring, "handshake failed", 16);
	}
	cr_assert_geq(handshakes, 1);
	cJSON_Delete(log);
}

Test(k8s_client, plain_http_with_a_token_is_refused_before_anything_is_sent)
{
	char http_url[64];
	snprintf(http_url, sizeof(http_url), "http://127.0.0.1:%d", port);
	struct ky_k8s_config cfg = { .server = http_url, .token_file = client_token, .ca_file = ca };
	struct ky_k8s_client *c = NULL;
	struct ky_error *e = NULL;
	cr_assert_eq(ky_k8s_client_new(loop, &cfg, &c, &e), -EINVAL);
	cr_assert_null(c);
	cr_assert(strstr(ky_error_msg(e), "refusing plain http with a bearer token"), "%s", ky_error_msg(e));
	ky_error_free(e);
	cJSON *log = requests_log();
	cr_assert_eq(cJSON_GetArraySize(log), 0);
	cJSON_Delete(log);
}

static const char *rv_of(const cJSON *obj)
{
	const char *rv = ky_k8s_object_resource_version(obj);
	cr_assert_not_null(rv);
	return rv;
}

Test(k8s_client, create_get_list_update_with_409_on_a_stale_version_then_delete)
{
	struct result r;
	_cleanup_free_ char *s1 = slice_json("node-a-kyborg-0", "node-a", "gpu-0", NULL);
	call(&r, KY_K8S_POST, SLICES, s1);
	cr_assert_eq(r.status, 201, "%d %s", r.status, r.msg);
	char rv1[32];
	snprintf(rv1, sizeof(rv1), "%s", rv_of(r.body));
	result_clear(&r);

	/* Again: AlreadyExists, a 409 of its own errno. */
	call(&r, KY_K8S_POST, SLICES, s1);
	cr_assert_eq(r.status, 409);
	cr_assert_eq(r.code, EEXIST);
	cr_assert(strstr(r.msg, "already exists"), "%s", r.msg);

	call(&r, KY_K8S_GET, SLICES "/node-a-kyborg-0", NULL);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(rv_of(r.body), rv1);
	result_clear(&r);

	_cleanup_free_ char *list_path = NULL;
	struct ky_k8s_query q = { .field_selector = "spec.nodeName=node-a,spec.driver=kyborg.io" };
	cr_assert_eq(ky_k8s_path(&slices_res, NULL, NULL, NULL, &q, &list_path, NULL), 0);
	other_create("node-b-kyborg-0", "node-b");
	call(&r, KY_K8S_GET, list_path, NULL);
	cr_assert_eq(r.status, 200);
	cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(r.body, "items")), 1, "the field selector was lost");
	result_clear(&r);

	_cleanup_free_ char *s2 = slice_json("node-a-kyborg-0", "node-a", "gpu-1", rv1);
	call(&r, KY_K8S_PUT, SLICES "/node-a-kyborg-0", s2);
	cr_assert_eq(r.status, 200, "%d %s", r.status, r.msg);
	cr_assert_str_neq(rv_of(r.body), rv1);
	result_clear(&r);
	/* The same update from the old version: a conflict. */
	call(&r, KY_K8S_PUT, SLICES "/node-a-kyborg-0", s2);
	cr_assert_eq(r.status, 409);
	cr_assert_eq(r.err_status, 409);
	cr_assert_eq(r.code, EBUSY);
	cr_assert(strstr(r.msg, "the object has been modified"), "%s", r.msg);

	call(&r, KY_K8S_DELETE, SLICES "/node-a-kyborg-0", NULL);
	cr_assert_eq(r.status, 200, "%d %s", r.status, r.msg);
	result_clear(&r);
	call(&r, KY_K8S_GET, SLICES "/node-a-kyborg-0", NULL);
	cr_assert_eq(r.status, 404);
	cr_assert_eq(r.code, ENOENT);
	cr_assert_str_eq(r.msg, "resourceslices.resource.k8s.io \"node-a-kyborg-0\" not found");
}

Test(k8s_client, invalid_object_gives_the_server_message_and_422)
{
	struct result r;
	_cleanup_free_ char *bad = slice_json("node-a-kyborg-0", "node-a", "GPU_0", NULL);
	call(&r, KY_K8S_POST, SLICES, bad);
	cr_assert_eq(r.status, 422);
	cr_assert_eq(r.err_status, 422);
	cr_assert_eq(r.code, EINVAL);
	cr_assert(strstr(r.msg, "ResourceSlice.resource.k8s.io \"node-a-kyborg-0\" is invalid: spec.devices[0].name: "
				"Invalid value: \"GPU_0\""),
		  "%s", r.msg);
}

Test(k8s_client, merge_patch_changes_one_field)
{
	struct result r;
	other_create("node-a-kyborg-0", "node-a");
	call(&r, KY_K8S_PATCH, SLICES "/node-a-kyborg-0", "{\"metadata\":{\"labels\":{\"x\":\"y\"}}}");
	cr_assert_eq(r.status, 200, "%d %s", r.status, r.msg);
	cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(r.body, "metadata"), "labels"), "x")
				 ->valuestring,
			 "y");
	result_clear(&r);
}

Test(k8s_client, request_timeout_ends_a_request_the_server_holds)
{
	ctl_post("delay?seconds=3&method=GET&path=resourceslices");
	struct result r;
	uint64_t t0 = ky_loop_now_ms();
	start(&r, KY_K8S_GET, SLICES, NULL, 300);
	cr_assert(run_until(result_done, &r, 5000));
	cr_assert_eq(r.status, 0);
	cr_assert_eq(r.code, ETIMEDOUT, "%d %s", r.code, r.msg);
	cr_assert_lt(ky_loop_now_ms() - t0, 2000);
}

Test(k8s_client, response_over_max_body_is_refused)
{
	ky_k8s_client_free(client);
	struct ky_k8s_config *cfg = NULL;
	cr_assert_eq(ky_k8s_config_new(url, client_token, ca, &cfg, NULL), 0);
	cfg->max_body = 600;
	cr_assert_eq(ky_k8s_client_new(loop, cfg, &client, NULL), 0);
	ky_k8s_config_free(cfg);
	other_create("s1", "node-a");
	other_create("s2", "node-a");
	struct result r;
	call(&r, KY_K8S_GET, SLICES, NULL);
	cr_assert_eq(r.code, EMSGSIZE, "%d %s", r.code, r.msg);
	cr_assert(strstr(r.msg, "over 600 bytes"), "%s", r.msg);
}

Test(k8s_client, cancelled_request_never_calls_back)
{
	ctl_post("delay?seconds=0.3&method=GET&path=resourceslices");
	struct result r = { 0 };
	struct ky_k8s_request *req = NULL;
	cr_assert_eq(ky_k8s_request(client, &(struct ky_k8s_req){ .path = SLICES, .done = on_done, .userdata = &r },
				    &req, NULL),
		     0);
	run_for(50);
	cr_assert_eq(ky_k8s_client_active(client), 1);
	ky_k8s_request_cancel(req);
	cr_assert_eq(ky_k8s_client_active(client), 0);
	run_for(600);
	cr_assert_not(r.done);
	/* The client still works. */
	call(&r, KY_K8S_GET, SLICES, NULL);
	cr_assert_eq(r.status, 200);
	result_clear(&r);
}

Test(k8s_client, server_down_gives_connection_refused)
{
	standin_stop();
	struct result r;
	call(&r, KY_K8S_GET, SLICES, NULL);
	cr_assert_eq(r.status, 0);
	cr_assert_eq(r.code, ECONNREFUSED, "%d %s", r.code, r.msg);
}

/* ---- watches ---- */

struct watch_log {
	char lines[64][96];
	int n;
	bool ended;
	int end_code, end_status;
	char end_msg[512];
	bool free_client_on_event;
};

static void on_event(void *userdata, enum ky_k8s_event_type type, cJSON *obj)
{
	struct watch_log *w = userdata;
	cr_assert_lt(w->n, 64);
	const char *name = ky_k8s_object_name(obj);
	snprintf(w->lines[w->n++], sizeof(w->lines[0]), "%s %s", ky_k8s_event_type_name(type), name ? name : "-");
	if (w->free_client_on_event) {
		ky_k8s_client_free(client);
		client = NULL;
	}
}

static void on_end(void *userdata, const struct ky_error *err)
{
	struct watch_log *w = userdata;
	cr_assert_not(w->ended, "end ran twice");
	w->ended = true;
	w->end_code = ky_error_code(err);
	w->end_status = ky_error_status(err);
	snprintf(w->end_msg, sizeof(w->end_msg), "%s", ky_error_msg(err));
}

static const struct ky_k8s_watch_ops watch_ops = { .event = on_event, .end = on_end };

struct count_cond {
	int *n;
	int want;
};

static bool count_reached(void *arg)
{
	struct count_cond *c = arg;
	return *c->n >= c->want;
}

static bool watch_ended(void *arg)
{
	return ((struct watch_log *)arg)->ended;
}

static char *watch_path(const char *rv)
{
	char *p = NULL;
	struct ky_k8s_query q = { .watch = true, .resource_version = rv, .allow_watch_bookmarks = true };
	cr_assert_eq(ky_k8s_path(&slices_res, NULL, NULL, NULL, &q, &p, NULL), 0);
	return p;
}

static bool standin_has_watches(void *want)
{
	ky_loop_run_once(loop, 20, NULL);
	return standin_state("watches") >= *(int *)want;
}

static void wait_watches(int n)
{
	cr_assert(run_until(standin_has_watches, &n, 10000), "the stand-in never saw %d watches", n);
}

Test(k8s_client, watch_receives_added_modified_deleted_in_order)
{
	struct result r;
	call(&r, KY_K8S_GET, SLICES, NULL);
	char rv[32];
	const cJSON *meta = cJSON_GetObjectItem(r.body, "metadata");
	snprintf(rv, sizeof(rv), "%s", cJSON_GetObjectItem(meta, "resourceVersion")->valuestring);
	result_clear(&r);

	struct watch_log w = { 0 };
	_cleanup_free_ char *path = watch_path(rv);
	cr_assert_eq(ky_k8s_watch(client, &(struct ky_k8s_watch_req){ .path = path, .ops = &watch_ops, .userdata = &w }, NULL, NULL), 0);
	wait_watches(1);
	other_create("s1", "node-a");
	cJSON *got = other_client("GET", SLICES "/s1", NULL);
	_cleanup_free_ char *upd = slice_json("s1", "node-a", "gpu-1", rv_of(got));
	cJSON_Delete(got);
	cJSON_Delete(other_client("PUT", SLICES "/s1", upd));
	other_delete("s1");
	cr_assert(run_until(count_reached, &(struct count_cond){ &w.n, 3 }, 10000), "%d events", w.n);
	cr_assert_str_eq(w.lines[0], "ADDED s1");
	cr_assert_str_eq(w.lines[1], "MODIFIED s1");
	cr_assert_str_eq(w.lines[2], "DELETED s1");
	cr_assert_not(w.ended);
	/* The server ends it cleanly: end without an error. */
	ctl_post("close-watches");
	cr_assert(run_until(watch_ended, &w, 10000));
	cr_assert_eq(w.end_code, 0, "%s", w.end_msg);
	cr_assert_eq(ky_k8s_client_active(client), 0);
}

Test(k8s_client, watch_from_a_compacted_version_ends_expired)
{
	other_create("s1", "node-a");
	other_create("s2", "node-a");
	ctl_post("compact");
	struct watch_log w = { 0 };
	_cleanup_free_ char *path = watch_path("1");
	cr_assert_eq(ky_k8s_watch(client, &(struct ky_k8s_watch_req){ .path = path, .ops = &watch_ops, .userdata = &w }, NULL, NULL), 0);
	cr_assert(run_until(watch_ended, &w, 10000));
	cr_assert_eq(w.end_status, 410, "%d %s", w.end_status, w.end_msg);
	cr_assert_eq(w.end_code, ESTALE);
	cr_assert(strstr(w.end_msg, "too old resource version"), "%s", w.end_msg);
	cr_assert_eq(w.n, 0);
	/* The same as an HTTP 410 answer, as older servers gave. */
	ctl_post("expired-as-http?on=1");
	memset(&w, 0, sizeof(w));
	cr_assert_eq(ky_k8s_watch(client, &(struct ky_k8s_watch_req){ .path = path, .ops = &watch_ops, .userdata = &w }, NULL, NULL), 0);
	cr_assert(run_until(watch_ended, &w, 10000));
	cr_assert_eq(w.end_status, 410, "%d %s", w.end_status, w.end_msg);
}

Test(k8s_client, watch_event_over_max_event_ends_the_watch)
{
	ky_k8s_client_free(client);
	struct ky_k8s_config *cfg = NULL;
	cr_assert_eq(ky_k8s_config_new(url, client_token, ca, &cfg, NULL), 0);
	cfg->max_event = 200;
	cr_assert_eq(ky_k8s_client_new(loop, cfg, &client, NULL), 0);
	ky_k8s_config_free(cfg);
	other_create("s1", "node-a");
	struct watch_log w = { 0 };
	_cleanup_free_ char *path = watch_path("0");
	cr_assert_eq(ky_k8s_watch(client, &(struct ky_k8s_watch_req){ .path = path, .ops = &watch_ops, .userdata = &w }, NULL, NULL), 0);
	cr_assert(run_until(watch_ended, &w, 10000));
	cr_assert_eq(w.end_code, EMSGSIZE, "%d %s", w.end_code, w.end_msg);
	cr_assert_eq(w.n, 0);
}

Test(k8s_client, client_freed_with_transfers_in_flight)
{
	/* The request is held by the server; the watch stays open. */
	ctl_post("delay?seconds=2&method=GET&path=resourceslices%24&count=1");
	struct result r = { 0 };
	cr_assert_eq(ky_k8s_request(client, &(struct ky_k8s_req){ .path = SLICES, .done = on_done, .userdata = &r },
				    NULL, NULL),
		     0);
	run_for(100);
	struct watch_log w = { 0 };
	_cleanup_free_ char *path = watch_path("0");
	cr_assert_eq(ky_k8s_watch(client, &(struct ky_k8s_watch_req){ .path = path, .ops = &watch_ops, .userdata = &w }, NULL, NULL), 0);
	wait_watches(1);
	cr_assert_eq(ky_k8s_client_active(client), 2);
	ky_k8s_client_free(client);
	client = NULL;
	run_for(800);
	cr_assert_not(r.done);
	cr_assert_not(w.ended);
}

Test(k8s_client, client_freed_from_inside_a_watch_event)
{
	other_create("s1", "node-a");
	other_create("s2", "node-a");
	struct watch_log w = { .free_client_on_event = true };
	_cleanup_free_ char *path = watch_path("0");
	cr_assert_eq(ky_k8s_watch(client, &(struct ky_k8s_watch_req){ .path = path, .ops = &watch_ops, .userdata = &w }, NULL, NULL), 0);
	cr_assert(run_until(count_reached, &(struct count_cond){ &w.n, 1 }, 10000));
	cr_assert_null(client);
	run_for(300);
	/* Nothing after the free: not the second event, not the end. */
	cr_assert_eq(w.n, 1);
	cr_assert_not(w.ended);
}

/* ---- the reflector ---- */

struct refl_log {
	char lines[128][96];
	int n;
	int synced, failed;
	struct ky_k8s_reflector *r;
	bool free_on_added;
	int with_spec; /* objects added with their spec */
};

static void refl_add_line(struct refl_log *l, const char *what, const char *name)
{
	cr_assert_lt(l->n, 128);
	snprintf(l->lines[l->n++], sizeof(l->lines[0]), "%s %s", what, name);
}

static void r_added(void *u, const cJSON *obj)
{
	struct refl_log *l = u;
	refl_add_line(l, "added", ky_k8s_object_name(obj));
	if (cJSON_GetObjectItem(obj, "spec"))
		l->with_spec++;
	if (l->free_on_added) {
		ky_k8s_reflector_free(l->r);
		l->r = NULL;
	}
}

static void r_modified(void *u, const cJSON *obj)
{
	refl_add_line(u, "modified", ky_k8s_object_name(obj));
}

static void r_deleted(void *u, const char *ns, const char *name, const cJSON *obj)
{
	cr_assert_null(ns);
	refl_add_line(u, obj ? "deleted" : "gone", name);
}

static void r_synced(void *u)
{
	struct refl_log *l = u;
	l->synced++;
	refl_add_line(l, "synced", "-");
}

static void r_failed(void *u, const struct ky_error *err)
{
	(void)err;
	((struct refl_log *)u)->failed++;
}

static const struct ky_k8s_reflector_ops refl_ops = {
	.added = r_added, .modified = r_modified, .deleted = r_deleted, .synced = r_synced, .failed = r_failed,
};

static void reflector_start_opts(struct refl_log *l, uint32_t page_size, bool metadata_only)
{
	struct ky_k8s_reflector_opts o = {
		.resource = slices_res,
		.field_selector = "spec.nodeName=node-a,spec.driver=kyborg.io",
		.page_size = page_size,
		.metadata_only = metadata_only,
		.backoff_initial_ms = 50,
		.backoff_max_ms = 400,
		.ops = &refl_ops,
		.userdata = l,
	};
	struct ky_error *e = NULL;
	cr_assert_eq(ky_k8s_reflector_new(client, &o, &l->r, &e), 0, "%s", ky_error_msg(e));
}

static void reflector_start(struct refl_log *l, uint32_t page_size)
{
	reflector_start_opts(l, page_size, false);
}

static bool refl_synced(void *l)
{
	return ((struct refl_log *)l)->synced > 0;
}

/* Whether the log has `line` at or after index from. */
static bool refl_has(const struct refl_log *l, const char *line)
{
	for (int i = 0; i < l->n; i++)
		if (!strcmp(l->lines[i], line))
			return true;
	return false;
}

struct refl_wait {
	struct refl_log *l;
	const char *line;
};

static bool refl_has_cond(void *arg)
{
	struct refl_wait *w = arg;
	return refl_has(w->l, w->line);
}

static void wait_line(struct refl_log *l, const char *line)
{
	cr_assert(run_until(refl_has_cond, &(struct refl_wait){ l, line }, 10000), "no \"%s\" in %d lines", line, l->n);
}

static const char *last_watch_rv(void)
{
	static char rv[32];
	cJSON *log = requests_log();
	rv[0] = '\0';
	const cJSON *e;
	cJSON_ArrayForEach(e, log)
	{
		const cJSON *q = cJSON_GetObjectItem(e, "query");
		const cJSON *watch = cJSON_GetObjectItem(q, "watch");
		const cJSON *v = cJSON_GetObjectItem(q, "resourceVersion");
		if (watch && cJSON_IsString(v))
			snprintf(rv, sizeof(rv), "%s", v->valuestring);
	}
	cJSON_Delete(log);
	return rv;
}

/* a0 and a1 on node-a, a reflector synced with them and watching. */
static void reflector_watching_a0_a1(struct refl_log *l)
{
	other_create("a0", "node-a");
	other_create("a1", "node-a");
	reflector_start(l, 0);
	cr_assert(run_until(refl_synced, l, 10000));
	wait_watches(1);
}

Test(k8s_client, reflector_lists_in_pages_then_follows_the_watch)
{
	for (int i = 0; i < 5; i++) {
		char name[32];
		snprintf(name, sizeof(name), "a%d", i);
		other_create(name, "node-a");
	}
	other_create("b0", "node-b");
	struct refl_log l = { 0 };
	reflector_start(&l, 2);
	cr_assert(run_until(refl_synced, &l, 10000));
	cr_assert_eq(l.n, 6, "%d lines", l.n);
	for (int i = 0; i < 5; i++)
		cr_assert(strncmp(l.lines[i], "added a", 7) == 0, "%s", l.lines[i]);
	cr_assert_str_eq(l.lines[5], "synced -");
	cr_assert_eq(l.with_spec, 5, "whole objects unless metadata only is asked");
	cr_assert_eq(ky_k8s_reflector_count(l.r), 5);
	cr_assert_not(ky_k8s_reflector_has(l.r, NULL, "b0"), "the field selector was lost");
	/* Three pages of two. */
	cJSON *log = requests_log();
	int pages = 0;
	const cJSON *e;
	cJSON_ArrayForEach(e, log)
	{
		const cJSON *q = cJSON_GetObjectItem(e, "query");
		if (cJSON_GetObjectItem(q, "limit"))
			pages++;
	}
	cJSON_Delete(log);
	cr_assert_eq(pages, 3);

	wait_watches(1);
	other_create("a9", "node-a");
	other_create("b9", "node-b");
	other_delete("a0");
	wait_line(&l, "deleted a0");
	cr_assert(refl_has(&l, "added a9"));
	cr_assert_not(refl_has(&l, "added b9"));
	cr_assert_eq(ky_k8s_reflector_count(l.r), 5);
	ky_k8s_reflector_free(l.r);
}

Test(k8s_client, reflector_resumes_a_closed_watch_from_its_last_version_without_losing_events)
{
	struct refl_log l = { 0 };
	reflector_watching_a0_a1(&l);
	/* A bookmark moves the version on past changes the selector hides. */
	other_create("b0", "node-b");
	ctl_post("bookmark");
	int rv_now = standin_state("resourceVersion");
	char want[16];
	snprintf(want, sizeof(want), "%d", rv_now);
	struct ky_k8s_reflector_stats st;
	uint64_t end = ky_loop_now_ms() + 10000;
	while (strcmp(ky_k8s_reflector_resource_version(l.r), want) && ky_loop_now_ms() < end)
		ky_loop_run_once(loop, 10, NULL);
	cr_assert_str_eq(ky_k8s_reflector_resource_version(l.r), want);

	/* The server closes the watch; the next one is held a second, while
	 * the objects change. */
	ctl_post("delay?seconds=1&method=GET&path=resourceslices");
	ctl_post("close-watches");
	other_create("a2", "node-a");
	other_delete("a0");
	wait_line(&l, "deleted a0");
	cr_assert(refl_has(&l, "added a2"));
	ky_k8s_reflector_stats(l.r, &st);
	cr_assert_eq(st.lists, 1, "listed again instead of resuming");
	cr_assert_eq(st.expired, 0);
	cr_assert_geq(st.watches, 2);
	cr_assert_str_eq(last_watch_rv(), want);
	cr_assert_eq(l.synced, 1);
	ky_k8s_reflector_free(l.r);
}

Test(k8s_client, reflector_lists_again_after_410_and_reports_what_went_missing)
{
	struct refl_log l = { 0 };
	reflector_watching_a0_a1(&l);
	/* The watch is held long enough for the three requests below to be
	 * done before it is served, on a loaded machine too (1 s was not: CI
	 * once saw the watch served before the compaction, so no 410). */
	ctl_post("delay?seconds=3&method=GET&path=resourceslices");
	ctl_post("close-watches");
	other_create("a2", "node-a");
	other_delete("a0");
	ctl_post("compact");
	cr_assert_eq(standin_state("watches"), 0, "the held watch was served before the compaction");
	/* The held watch asks for a version compacted away: ERROR 410, then a
	 * new list, which finds a2 and no a0. */
	cr_assert(run_until(count_reached, &(struct count_cond){ &l.synced, 2 }, 10000));
	cr_assert(refl_has(&l, "added a2"));
	cr_assert(refl_has(&l, "gone a0"), "a0 deleted while unseen was not reported");
	struct ky_k8s_reflector_stats st;
	ky_k8s_reflector_stats(l.r, &st);
	cr_assert_eq(st.expired, 1);
	cr_assert_eq(st.lists, 2);
	cr_assert_eq(ky_k8s_reflector_count(l.r), 2);
	ky_k8s_reflector_free(l.r);
}

Test(k8s_client, reflector_backs_off_while_the_server_is_down_then_syncs)
{
	/* Down at start: a port nobody listens on, the stand-in started on it
	 * later. */
	ky_k8s_client_free(client);
	standin_stop();
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
	int free_port = ntohs(a.sin_port);
	close(fd);
	char down_url[64];
	snprintf(down_url, sizeof(down_url), "https://127.0.0.1:%d", free_port);
	make_client(down_url, ca, 0);
	struct refl_log l = { 0 };
	reflector_start(&l, 0);
	cr_assert(run_until(count_reached, &(struct count_cond){ &l.failed, 3 }, 10000));
	cr_assert_eq(l.synced, 0);
	standin_start(free_port);
	other_create("a0", "node-a");
	cr_assert(run_until(refl_synced, &l, 10000), "no sync after the server came up");
	cr_assert(refl_has(&l, "added a0"));
	ky_k8s_reflector_free(l.r);
}

Test(k8s_client, reflector_freed_from_its_own_callback_stops)
{
	other_create("a0", "node-a");
	other_create("a1", "node-a");
	struct refl_log l = { .free_on_added = true };
	reflector_start(&l, 0);
	cr_assert(run_until(count_reached, &(struct count_cond){ &l.n, 1 }, 10000));
	cr_assert_null(l.r);
	run_for(300);
	cr_assert_eq(l.n, 1, "a callback ran after the free: %s", l.lines[l.n - 1]);
	cr_assert_eq(ky_k8s_client_active(client), 0);
}

Test(k8s_client, in_cluster_config_reaches_the_server)
{
	/* A service-account directory as the kubelet mounts it. */
	char sa[600], path[700];
	snprintf(sa, sizeof(sa), "%s/sa", dir);
	cr_assert_eq(mkdir(sa, 0700), 0);
	snprintf(path, sizeof(path), "%s/token", sa);
	cr_assert_eq(kyt_write_file(path, "tok-1"), 0);
	snprintf(path, sizeof(path), "%s/ca.crt", sa);
	char *ca_pem = kyt_read_file(ca);
	cr_assert_eq(kyt_write_file(path, ca_pem), 0);
	free(ca_pem);
	char port_s[16];
	snprintf(port_s, sizeof(port_s), "%d", port);
	setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", port_s, 1);
	struct ky_k8s_config *cfg = NULL;
	struct ky_error *e = NULL;
	cr_assert_eq(ky_k8s_config_in_cluster(sa, &cfg, &e), 0, "%s", ky_error_msg(e));
	ky_k8s_client_free(client);
	cr_assert_eq(ky_k8s_client_new(loop, cfg, &client, &e), 0, "%s", ky_error_msg(e));
	ky_k8s_config_free(cfg);
	struct result r;
	call(&r, KY_K8S_GET, SLICES, NULL);
	cr_assert_eq(r.status, 200, "%d %s", r.status, r.msg);
	result_clear(&r);
}

Test(k8s_client, in_cluster_config_without_its_token_fails_at_creation)
{
	char port_s[16];
	snprintf(port_s, sizeof(port_s), "%d", port);
	setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", port_s, 1);
	char sa[600];
	snprintf(sa, sizeof(sa), "%s/empty-sa", dir);
	cr_assert_eq(mkdir(sa, 0700), 0);
	struct ky_k8s_config *cfg = NULL;
	struct ky_error *e = NULL;
	cr_assert_eq(ky_k8s_config_in_cluster(sa, &cfg, &e), 0, "%s", ky_error_msg(e));
	struct ky_k8s_client *c = NULL;
	cr_assert_eq(ky_k8s_client_new(loop, cfg, &c, &e), -ENOENT);
	cr_assert_null(c);
	cr_assert(strstr(ky_error_msg(e), "token file"), "%s", ky_error_msg(e));
	ky_error_free(e);
	ky_k8s_config_free(cfg);
}

Test(k8s_client, watch_resumed_after_token_rotation_reads_the_new_token)
{
	other_create("a0", "node-a");
	struct refl_log l = { 0 };
	reflector_start(&l, 0);
	cr_assert(run_until(refl_synced, &l, 10000));
	wait_watches(1);
	cr_assert_eq(kyt_write_file(server_tokens, "tok-2\n"), 0);
	cr_assert_eq(kyt_write_file(client_token, "tok-2\n"), 0);
	free(ctl("DELETE", "requests"));
	ctl_post("close-watches");
	wait_watches(1);
	cJSON *log = requests_log();
	int bad = 0, ok = 0;
	const cJSON *e;
	cJSON_ArrayForEach(e, log)
	{
		const cJSON *auth = cJSON_GetObjectItem(e, "auth");
		if (cJSON_IsString(auth) && cJSON_GetObjectItem(cJSON_GetObjectItem(e, "query"), "watch")) {
			bad += !strcmp(auth->valuestring, "bad");
			ok += !strcmp(auth->valuestring, "ok");
		}
	}
	cJSON_Delete(log);
	cr_assert_eq(bad, 1);
	cr_assert_eq(ok, 1);
	struct ky_k8s_reflector_stats st;
	ky_k8s_reflector_stats(l.r, &st);
	cr_assert_eq(st.errors, 0, "the 401 reached the reflector");
	cr_assert_eq(st.lists, 1);
	ky_k8s_reflector_free(l.r);
}

Test(k8s_client, reflector_relist_on_demand_reports_the_set_again)
{
	other_create("a0", "node-a");
	struct refl_log l = { 0 };
	reflector_start(&l, 0);
	cr_assert(run_until(refl_synced, &l, 10000));
	ky_k8s_reflector_relist(l.r);
	cr_assert(run_until(count_reached, &(struct count_cond){ &l.synced, 2 }, 10000));
	struct ky_k8s_reflector_stats st;
	ky_k8s_reflector_stats(l.r, &st);
	cr_assert_eq(st.lists, 2);
	/* Unchanged objects are not reported twice. */
	int added = 0;
	for (int i = 0; i < l.n; i++)
		added += !strcmp(l.lines[i], "added a0");
	cr_assert_eq(added, 1);
	ky_k8s_reflector_free(l.r);
}

Test(k8s_client, reflector_asks_for_metadata_only_when_told)
{
	other_create("a0", "node-a");
	struct refl_log l = { 0 };
	reflector_start_opts(&l, 0, true);
	cr_assert(run_until(refl_synced, &l, 10000));
	wait_watches(1);
	other_create("a1", "node-a");
	wait_line(&l, "added a1");
	other_delete("a0");
	wait_line(&l, "deleted a0");
	cr_assert_eq(l.with_spec, 0, "%d objects came whole", l.with_spec);
	cJSON *log = requests_log();
	int lists = 0, watches = 0;
	const cJSON *e;
	cJSON_ArrayForEach(e, log)
	{
		const cJSON *accept = cJSON_GetObjectItem(e, "accept");
		if (!cJSON_IsString(accept) || !cJSON_GetObjectItem(e, "method"))
			continue;
		if (cJSON_GetObjectItem(cJSON_GetObjectItem(e, "query"), "watch"))
			watches += !strcmp(accept->valuestring, KY_K8S_ACCEPT_METADATA);
		else if (!strcmp(cJSON_GetObjectItem(e, "path")->valuestring, SLICES))
			lists += !strcmp(accept->valuestring, KY_K8S_ACCEPT_METADATA_LIST);
	}
	cJSON_Delete(log);
	cr_assert_eq(lists, 1);
	cr_assert_eq(watches, 1);
	ky_k8s_reflector_free(l.r);
}

Test(k8s_client, malformed_paths_fail_at_once_without_a_callback)
{
	struct result r = { 0 };
	struct ky_error *e = NULL;
	const char *bad[] = { "no-slash", SLICES "?labelSelector=a b", SLICES "\r\nX-Injected: 1", SLICES "#frag" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(ky_k8s_request(client, &(struct ky_k8s_req){ .path = bad[i], .done = on_done, .userdata = &r },
					    NULL, &e),
			     -EINVAL, "%s", bad[i]);
		cr_assert(strstr(ky_error_msg(e), "request path"), "%s", ky_error_msg(e));
		ky_error_clear(&e);
	}
	struct watch_log w = { 0 };
	cr_assert_eq(ky_k8s_watch(client, &(struct ky_k8s_watch_req){ .path = SLICES, .ops = &watch_ops, .userdata = &w },
				  NULL, &e),
		     -EINVAL);
	cr_assert(strstr(ky_error_msg(e), "no watch=1"), "%s", ky_error_msg(e));
	ky_error_free(e);
	cr_assert_eq(ky_k8s_client_active(client), 0);
	run_for(100);
	cr_assert_not(r.done);
	cr_assert_not(w.ended);
}

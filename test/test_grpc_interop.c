/* The gRPC layer against a real gRPC implementation: Debian's python3-grpcio
 * (the gRPC C core) as kubelet, client of our server and server for our
 * client. Each test runs its own loop, socket dir and Python peers. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api.pb-c.h"
#include "kyborg/base/error.h"
#include "kyborg/grpc/grpc.h"
#include "kyborg/loop/loop.h"
#include "kytest.h"
#include "kytest_loop.h"
#include "kytest_proc.h"

#define PYTHON "/usr/bin/python3"
#define DP "/v1beta1.DevicePlugin/"

/* ---- fixture: a loop, a temp dir, Python children killed in teardown ---- */

static struct ky_loop *loop;
static char *dir;

static void setup(void)
{
	dir = kyt_tmpdir("kygrpc");
	cr_assert_not_null(dir);
	cr_assert_eq(ky_loop_new(&loop, NULL), 0);
}

static void teardown(void)
{
	kyt_children_kill_all();
	ky_loop_free(loop);
	loop = NULL;
	kyt_rmrf(dir);
	free(dir);
}

/* Starts `PYTHON test/grpc/SCRIPT args...` with fork and exec, no shell. */
static struct kyt_child *spawn(const char *script, const char *const args[])
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", KYTEST_GRPC_DIR, script);
	const char *argv[12] = { PYTHON, path };
	int n = 2;
	for (int i = 0; args[i] && n < 11; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	return kyt_child_start(argv, -1, false);
}

/* Runs the loop until cond(arg) holds or timeout_ms passes. */
static bool run_until(bool (*cond)(void *), void *arg, int timeout_ms)
{
	return kyt_loop_run_until(loop, cond, arg, timeout_ms);
}

static void assert_child_ok(struct kyt_child *c, int timeout_ms)
{
	cr_assert(run_until(kyt_child_done_cond, c, timeout_ms), "python peer did not finish in %d ms", timeout_ms);
	cr_assert(WIFEXITED(c->status) && WEXITSTATUS(c->status) == 0, "python peer failed: status %#x", c->status);
}

static char *path_in_dir(const char *name)
{
	char *p;
	cr_assert_geq(asprintf(&p, "%s/%s", dir, name), 0);
	return p;
}

/* ---- a device plugin server with real DevicePlugin messages ---- */

struct plugin {
	struct ky_grpc_server *srv;
	struct ky_grpc_stream *streams[8];
	int n_open, n_opened, n_closed, n_deadline;
	int generation;
	int options_calls;
	int n_devices;
	struct ky_loop_timer *tick;
};

static struct plugin plugin;

static uint8_t *pack(const ProtobufCMessage *m, size_t *len)
{
	*len = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = malloc(*len ? *len : 1);
	cr_assert_not_null(buf);
	protobuf_c_message_pack(m, buf);
	return buf;
}

static int get_options(void *userdata, const uint8_t *req, size_t req_len, uint8_t **resp, size_t *resp_len,
		       struct ky_error **err)
{
	struct plugin *p = userdata;
	V1beta1__Empty *e = v1beta1__empty__unpack(NULL, req_len, req);
	if (!e)
		return ky_error_set(err, EINVAL, "cannot decode Empty");
	v1beta1__empty__free_unpacked(e, NULL);
	p->options_calls++;
	V1beta1__DevicePluginOptions o = V1BETA1__DEVICE_PLUGIN_OPTIONS__INIT;
	o.get_preferred_allocation_available = 1;
	*resp = pack(&o.base, resp_len);
	return 0;
}

/* Echoes the ids of each container back as an env and a device spec. */
static int allocate(void *userdata, const uint8_t *req, size_t req_len, uint8_t **resp, size_t *resp_len,
		    struct ky_error **err)
{
	(void)userdata;
	V1beta1__AllocateRequest *r = v1beta1__allocate_request__unpack(NULL, req_len, req);
	if (!r)
		return ky_error_set(err, EINVAL, "cannot decode AllocateRequest");
	size_t n = r->n_container_requests;
	V1beta1__ContainerAllocateResponse cr[4], *crp[4];
	V1beta1__ContainerAllocateResponse__EnvsEntry env[4], *envp[4];
	V1beta1__DeviceSpec spec[4], *specp[4];
	char joined[4][256], host[4][64];
	int k = 0;
	if (n > 4)
		n = 4;
	for (size_t i = 0; i < n; i++) {
		V1beta1__ContainerAllocateRequest *c = r->container_requests[i];
		joined[i][0] = 0;
		for (size_t j = 0; j < c->n_devices_ids; j++) {
			if (strcmp(c->devices_ids[j], "nope") == 0) {
				k = ky_error_set(err, EINVAL, "unknown device %s: 100%% \xe2\x9c\x97", c->devices_ids[j]);
			}
			if (j)
				strncat(joined[i], ",", sizeof(joined[i]) - strlen(joined[i]) - 1);
			strncat(joined[i], c->devices_ids[j], sizeof(joined[i]) - strlen(joined[i]) - 1);
		}
		v1beta1__container_allocate_response__init(&cr[i]);
		v1beta1__container_allocate_response__envs_entry__init(&env[i]);
		v1beta1__device_spec__init(&spec[i]);
		env[i].key = "KY_DEVICES";
		env[i].value = joined[i];
		envp[i] = &env[i];
		snprintf(host[i], sizeof(host[i]), "/dev/%s", c->n_devices_ids ? c->devices_ids[0] : "none");
		spec[i].host_path = host[i];
		spec[i].container_path = host[i];
		spec[i].permissions = "rw";
		specp[i] = &spec[i];
		cr[i].n_envs = 1;
		cr[i].envs = &envp[i];
		cr[i].n_devices = 1;
		cr[i].devices = &specp[i];
		crp[i] = &cr[i];
	}
	if (k == 0) {
		V1beta1__AllocateResponse out = V1BETA1__ALLOCATE_RESPONSE__INIT;
		out.n_container_responses = n;
		out.container_responses = crp;
		*resp = pack(&out.base, resp_len);
	}
	v1beta1__allocate_request__free_unpacked(r, NULL);
	return k;
}

/* The full list of n devices, named after the generation; with n large,
 * IDs of kubelet's maximum length (63). */
static uint8_t *device_list(int generation, int n, size_t *len)
{
	V1beta1__Device *d = calloc((size_t)n, sizeof(*d));
	V1beta1__Device **dp = calloc((size_t)n, sizeof(*dp));
	char(*ids)[64] = calloc((size_t)n, sizeof(*ids));
	V1beta1__TopologyInfo topo = V1BETA1__TOPOLOGY_INFO__INIT;
	V1beta1__NUMANode node = V1BETA1__NUMANODE__INIT, *nodep = &node;
	cr_assert(d && dp && ids);
	node.id = 1;
	topo.n_nodes = 1;
	topo.nodes = &nodep;
	for (int i = 0; i < n; i++) {
		v1beta1__device__init(&d[i]);
		int k = snprintf(ids[i], sizeof(ids[i]), "gen-%d-dev%d-", generation, i);
		cr_assert(k > 0 && k < 63);
		if (n > 3) {
			memset(ids[i] + k, 'x', (size_t)(63 - k));
			ids[i][63] = 0;
		}
		d[i].id = ids[i];
		d[i].health = "Healthy";
		d[i].topology = &topo;
		dp[i] = &d[i];
	}
	V1beta1__ListAndWatchResponse r = V1BETA1__LIST_AND_WATCH_RESPONSE__INIT;
	r.n_devices = (size_t)n;
	r.devices = dp;
	uint8_t *buf = pack(&r.base, len);
	free(d);
	free(dp);
	free(ids);
	return buf;
}

static void send_list(struct ky_grpc_stream *s, int generation)
{
	size_t len;
	_cleanup_free_ uint8_t *buf = device_list(generation, plugin.n_devices, &len);
	cr_assert_lt(len, KY_GRPC_DEFAULT_MAX_MESSAGE);
	_cleanup_error_ struct ky_error *err = NULL;
	cr_assert_eq(ky_grpc_stream_send(s, buf, len, &err), 0, "%s", ky_error_msg(err));
}

static int list_and_watch(void *userdata, struct ky_grpc_stream *s, const uint8_t *req, size_t req_len,
			  struct ky_error **err)
{
	struct plugin *p = userdata;
	(void)req;
	(void)req_len;
	if (p->n_open == 8)
		return ky_error_set(err, ENOBUFS, "eight streams already");
	p->streams[p->n_open++] = s;
	p->n_opened++;
	send_list(s, p->generation);
	return 0;
}

static void stream_closed(void *userdata, struct ky_grpc_stream *s, int code)
{
	struct plugin *p = userdata;
	p->n_closed++;
	if (code == KY_GRPC_DEADLINE_EXCEEDED)
		p->n_deadline++;
	for (int i = 0; i < p->n_open; i++) {
		if (p->streams[i] == s) {
			p->streams[i] = p->streams[--p->n_open];
			return;
		}
	}
	cr_assert_fail("closed a stream we did not hold");
}

/* Every tick is a device change: a new full list to every watcher. */
static void on_tick(struct ky_loop_timer *t, void *userdata)
{
	struct plugin *p = userdata;
	(void)t;
	p->generation++;
	for (int i = 0; i < p->n_open; i++)
		send_list(p->streams[i], p->generation);
}

static struct ky_grpc_method methods[] = {
	{ .path = DP "GetDevicePluginOptions", .unary = get_options, .userdata = &plugin },
	{ .path = DP "Allocate", .unary = allocate, .userdata = &plugin },
	{ .path = DP "ListAndWatch", .stream = list_and_watch, .closed = stream_closed, .userdata = &plugin },
};

static void plugin_start(const char *name, uint64_t tick_ms)
{
	_cleanup_free_ char *sock = path_in_dir(name);
	_cleanup_error_ struct ky_error *err = NULL;
	plugin = (struct plugin){ .n_devices = 3 };
	cr_assert_eq(ky_grpc_server_new(loop, sock, methods, KY_ARRAY_SIZE(methods), &plugin.srv, &err), 0, "%s",
		     ky_error_msg(err));
	struct stat st;
	cr_assert_eq(stat(sock, &st), 0);
	cr_assert(S_ISSOCK(st.st_mode));
	cr_assert_eq(st.st_mode & 0777, 0600);
	if (tick_ms) {
		cr_assert_eq(ky_loop_timer_new(loop, on_tick, &plugin, &plugin.tick, NULL), 0);
		ky_loop_timer_arm(plugin.tick, tick_ms, tick_ms);
	}
}

static void plugin_stop(void)
{
	_cleanup_free_ char *sock = path_in_dir("dp.sock");
	ky_loop_timer_free(plugin.tick);
	ky_grpc_server_free(plugin.srv);
	cr_assert_eq(plugin.n_open, 0, "every open stream was reported closed");
	cr_assert_eq(access(sock, F_OK), -1, "the socket is removed");
}

/* ---- our server, their client ---- */

static bool cond_one_closed(void *arg)
{
	(void)arg;
	return plugin.n_closed == 1;
}

TestSuite(grpc_interop, .init = setup, .fini = teardown, .timeout = 120);

Test(grpc_interop, python_client_gets_replies_statuses_and_deadlines)
{
	plugin_start("dp.sock", 0);
	_cleanup_free_ char *sock = path_in_dir("dp.sock");
	const char *args[] = { "unary", sock, KYTEST_DPAPI_DESC, NULL };
	struct kyt_child *c = spawn("dp_client.py", args);
	assert_child_ok(c, 60000);
	cr_assert_eq(plugin.options_calls, 1);
	cr_assert_eq(plugin.n_opened, 1, "the deadline test opened one stream");
	cr_assert(run_until(cond_one_closed, NULL, 5000), "and it was reported closed");
	plugin_stop();
}

static bool cond_two_streams(void *arg)
{
	(void)arg;
	return plugin.n_opened >= 2;
}

struct vanish_cond {
	struct kyt_child *a, *b;
};

static bool cond_vanished_and_closed(void *arg)
{
	struct vanish_cond *v = arg;
	return kyt_child_done(v->a) && plugin.n_closed >= 1;
}

Test(grpc_interop, client_vanishing_mid_stream_leaves_the_others_served)
{
	plugin_start("dp.sock", 10);
	_cleanup_free_ char *sock = path_in_dir("dp.sock");
	const char *va[] = { "vanish", sock, KYTEST_DPAPI_DESC, NULL };
	const char *wa[] = { "watch", sock, KYTEST_DPAPI_DESC, "200", NULL };
	struct vanish_cond v;
	v.a = spawn("dp_client.py", va);
	v.b = spawn("dp_client.py", wa);
	cr_assert(run_until(cond_two_streams, NULL, 30000), "both clients opened ListAndWatch");
	cr_assert(run_until(cond_vanished_and_closed, &v, 30000), "the vanished client's stream was reported");
	cr_assert(WIFSIGNALED(v.a->status) && WTERMSIG(v.a->status) == SIGKILL);
	cr_assert_eq(plugin.n_open, 1, "the other stream is still open");
	int gen = plugin.generation;
	assert_child_ok(v.b, 30000);
	cr_assert_gt(plugin.generation, gen, "updates went on after the vanishing");
	cr_assert(run_until(cond_vanished_and_closed, &v, 1000));
	plugin_stop();
}

Test(grpc_interop, ten_thousand_devices_stream_under_the_limit)
{
	plugin_start("dp.sock", 50);
	plugin.n_devices = 10000;
	size_t len;
	free(device_list(0, plugin.n_devices, &len));
	cr_assert(len > 16384 * 40 && len < KY_GRPC_DEFAULT_MAX_MESSAGE / 4, "%zu bytes", len);
	_cleanup_free_ char *sock = path_in_dir("dp.sock");
	const char *wa[] = { "watch", sock, KYTEST_DPAPI_DESC, "4", "10000", NULL };
	assert_child_ok(spawn("dp_client.py", wa), 60000);
	plugin_stop();
}

/* ---- their server, our client: Register as kubelet sees it ---- */

struct reg_result {
	bool done;
	int code;
	char msg[256];
	int options_calls_before_done;
};

static void on_registered(void *userdata, int code, const char *message, const uint8_t *resp, size_t resp_len)
{
	struct reg_result *r = userdata;
	r->done = true;
	r->code = code;
	snprintf(r->msg, sizeof(r->msg), "%s", message);
	r->options_calls_before_done = plugin.options_calls;
	if (code == KY_GRPC_OK) {
		V1beta1__Empty *e = v1beta1__empty__unpack(NULL, resp_len, resp);
		cr_assert_not_null(e, "Register's answer is an Empty");
		v1beta1__empty__free_unpacked(e, NULL);
	}
}

static bool cond_done(void *arg)
{
	return ((struct reg_result *)arg)->done;
}

static struct ky_grpc_call *register_plugin(const char *version, const char *resource, uint64_t timeout_ms,
					    struct reg_result *res)
{
	_cleanup_free_ char *kubelet = path_in_dir("kubelet.sock");
	_cleanup_error_ struct ky_error *err = NULL;
	V1beta1__DevicePluginOptions opts = V1BETA1__DEVICE_PLUGIN_OPTIONS__INIT;
	V1beta1__RegisterRequest req = V1BETA1__REGISTER_REQUEST__INIT;
	struct ky_grpc_call *call = NULL;
	opts.get_preferred_allocation_available = 1;
	req.version = (char *)version;
	req.endpoint = "dp.sock";
	req.resource_name = (char *)resource;
	req.options = &opts;
	size_t len;
	_cleanup_free_ uint8_t *buf = pack(&req.base, &len);
	*res = (struct reg_result){ 0 };
	cr_assert_eq(ky_grpc_call_unary(loop, kubelet, "/v1beta1.Registration/Register", buf, len, timeout_ms,
					on_registered, res, &call, &err),
		     0, "%s", ky_error_msg(err));
	return call;
}

static struct kyt_child *start_kubelet(void)
{
	const char *args[] = { dir, KYTEST_DPAPI_DESC, NULL };
	struct kyt_child *k = spawn("registration_server.py", args);
	_cleanup_free_ char *kubelet = path_in_dir("kubelet.sock");
	cr_assert(run_until(kyt_socket_accepts, kubelet, 30000) /* grpcio binds before it listens */, "kubelet.sock accepts connections");
	return k;
}

Test(grpc_interop, register_is_answered_after_kubelet_dials_back)
{
	plugin_start("dp.sock", 0);
	start_kubelet();
	struct reg_result res;
	register_plugin("v1beta1", "kyborg.io/gpu", 10000, &res);
	cr_assert(run_until(cond_done, &res, 15000));
	cr_assert_eq(res.code, KY_GRPC_OK, "%s: %s", ky_grpc_code_name(res.code), res.msg);
	cr_assert_eq(res.options_calls_before_done, 1, "kubelet called GetDevicePluginOptions before answering");
	_cleanup_free_ char *log = path_in_dir("registered");
	_cleanup_free_ char *text = kyt_read_file(log);
	cr_assert_not_null(text);
	cr_assert_str_eq(text, "kyborg.io/gpu dp.sock 0 1\n");

	/* Refusals come back with their code and message, percent-decoded. */
	register_plugin("v1alpha", "kyborg.io/gpu", 10000, &res);
	cr_assert(run_until(cond_done, &res, 15000));
	cr_assert_eq(res.code, KY_GRPC_INVALID_ARGUMENT, "%s", ky_grpc_code_name(res.code));
	cr_assert_str_eq(res.msg, "unsupported version v1alpha");
	register_plugin("v1beta1", "kyborg.io/reject", 10000, &res);
	cr_assert(run_until(cond_done, &res, 15000));
	cr_assert_eq(res.code, KY_GRPC_FAILED_PRECONDITION);
	cr_assert_str_eq(res.msg, "rejected: r\xc3\xa9sum\xc3\xa9 100%");
	plugin_stop();
}

Test(grpc_interop, register_times_out_at_its_deadline)
{
	plugin_start("dp.sock", 0);
	start_kubelet();
	struct reg_result res;
	uint64_t start = ky_loop_now_ms();
	register_plugin("v1beta1", "kyborg.io/slow", 300, &res);
	cr_assert(run_until(cond_done, &res, 10000));
	uint64_t took = ky_loop_now_ms() - start;
	cr_assert_eq(res.code, KY_GRPC_DEADLINE_EXCEEDED, "%s: %s", ky_grpc_code_name(res.code), res.msg);
	cr_assert(took >= 300 && took < 2000, "took %llu ms", (unsigned long long)took);
	plugin_stop();
}

Test(grpc_interop, unknown_method_on_their_server_is_unimplemented)
{
	start_kubelet();
	_cleanup_free_ char *kubelet = path_in_dir("kubelet.sock");
	struct reg_result res = { 0 };
	cr_assert_eq(ky_grpc_call_unary(loop, kubelet, "/v1beta1.Registration/Nope", NULL, 0, 5000, on_registered,
					&res, NULL, NULL),
		     0);
	cr_assert(run_until(cond_done, &res, 15000));
	cr_assert_eq(res.code, KY_GRPC_UNIMPLEMENTED, "%s", ky_grpc_code_name(res.code));
}

Test(grpc_interop, no_kubelet_socket_fails_at_once_and_a_cancelled_call_is_silent)
{
	_cleanup_free_ char *kubelet = path_in_dir("kubelet.sock");
	_cleanup_error_ struct ky_error *err = NULL;
	struct reg_result res = { 0 };
	cr_assert_eq(ky_grpc_call_unary(loop, kubelet, "/v1beta1.Registration/Register", NULL, 0, 1000, on_registered,
					&res, NULL, &err),
		     -ENOENT);
	cr_assert(strstr(ky_error_msg(err), "kubelet.sock"));

	start_kubelet();
	struct ky_grpc_call *call = register_plugin("v1beta1", "kyborg.io/slow", 5000, &res);
	cr_assert_eq(ky_loop_run_once(loop, 20, NULL), 0);
	ky_grpc_call_cancel(call);
	for (int i = 0; i < 5; i++)
		cr_assert_eq(ky_loop_run_once(loop, 10, NULL), 0);
	cr_assert_not(res.done, "no callback after cancel");
}

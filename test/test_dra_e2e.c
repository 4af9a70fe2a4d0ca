/* kyborg-dra-driver end to end with BOTH stand-ins: the real binary runs on
 * the simulated node (an umockdev testbed it inherits with the preload),
 * publishes its ResourceSlices to the KUBE-APISERVER STAND-IN
 * (test/standin/kube_apiserver.py: HTTPS, a CA, bearer tokens re-read per
 * request, resourceVersions, 409, 410, watches, the API's validation; not
 * the real kube-apiserver, which Debian does not ship) and is registered,
 * prepared and watched by the KUBELET STAND-IN (test/grpc/dra_kubelet.py,
 * written from kubelet's sources), which also deletes the node's slices as
 * kubelet does: at its start, and when the plugin has been gone a while.
 * Where the test plays kubelet or the scheduler itself it says so. */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kyborg/base/cleanup.h"
#include "kyborg/base/sha256.h"
#include "kyborg/json/json.h"
#include "kytest.h"
#include "kytest_dra.h"
#include "kytest_net.h"
#include "kytest_proc.h"
#include "kytest_simnode.h"

#define PYTHON "/usr/bin/python3"
#define DRIVER "kyborg.io"
#define NODE "node-a"
#define T 20000
#define SLICES "/apis/resource.k8s.io/v1/resourceslices"
#define AFU_NLB "d8424dc4a4a3c413f89e433683f9040b"
#define AFU_NONE "00000000000000000000000000000000"
#define BITSTREAM "nlb bitstream"
#define GPU1_SYSPATH "/sys/devices/pci0000:85/0000:85:00.0/" KYT_SIM_GPU1
#define VF1_SYSPATH "/sys/devices/pci0000:17/0000:17:00.0/" KYT_SIM_VF1
#define PF_SYSPATH "/sys/devices/pci0000:17/0000:17:00.0/" KYT_SIM_PF

#define GPU0 "gpu-0000-3b-00-0"
#define GPU1 "gpu-0000-86-00-0"
#define FPGA "fpga-0000-af-00-0"
#define VF0 "vf-0000-18-01-0"
#define VF1 "vf-0000-18-01-1"
#define VF2 "vf-0000-18-01-2"
#define VF3 "vf-0000-18-01-3"

static const char *const all_devices[] = { GPU0, GPU1, FPGA, VF0, VF1, VF2, VF3, NULL };

/* ---- fixture ---- */

static UMockdevTestbed *tb;
static char pf_name[16];
static struct kyt_dra_dirs dirs;
static char *bitstream, *loads_log;
static struct kyt_dra_kubelet *kubelet;
static struct kyt_apiserver *api;

/* The simulated node's config: every resource for the DRA driver unless
 * gpu_frontend names another, the GPUs shared by `replicas` claims. */
static void write_config(const char *gpu_frontend, unsigned replicas)
{
	char sha[KY_SHA256_HEX_LEN];
	ky_sha256_buf(BITSTREAM, strlen(BITSTREAM), sha);
	_cleanup_free_ char *text = NULL;
	cr_assert_geq(asprintf(&text,
			       "{ \"resources\": ["
			       " { \"name\": \"kyborg.io/gpu\", \"kind\": \"gpu\", \"frontend\": \"%s\","
			       "   \"selector\": { \"vendors\": [\"10de\"], \"devices\": [\"2330\"] },"
			       "   \"sharing\": { \"replicas\": %u } },"
			       " { \"name\": \"kyborg.io/any-gpu\", \"kind\": \"gpu\", \"frontend\": \"dra\","
			       "   \"selector\": { \"vendors\": [\"10de\"] } },"
			       " { \"name\": \"kyborg.io/fpga-nlb\", \"kind\": \"fpga\", \"frontend\": \"dra\","
			       "   \"selector\": { \"vendors\": [\"8086\"], \"devices\": [\"0b30\"] },"
			       "   \"bitstream\": { \"id\": \"" AFU_NLB "\", \"path\": \"%s\", \"sha256\": \"%s\" },"
			       "   \"program\": [\"" PYTHON "\", \"" KYTEST_FPGA_LOADER "\", \"%s\", \"{sysfs}\", \"{id}\", \"{image}\"] },"
			       " { \"name\": \"kyborg.io/sriov-vf\", \"kind\": \"nic-vf\", \"frontend\": \"dra\","
			       "   \"selector\": { \"pfNames\": [\"%s\"], \"drivers\": [\"iavf\"] } } ] }",
			       gpu_frontend, replicas, bitstream, sha, loads_log, pf_name),
		      0);
	cr_assert_eq(kyt_write_file(dirs.config_path, text), 0);
}

static void setup(void)
{
	tb = kyt_simnode_testbed(pf_name, NULL);
	kyt_dra_dirs_init(&dirs, "kydrae2e", DRIVER);
	bitstream = kyt_path(dirs.dir, "nlb.gbs");
	loads_log = kyt_path(dirs.dir, "loads.log");
	cr_assert_eq(kyt_write_file(bitstream, BITSTREAM), 0);
	write_config("dra", 2);
}

static void teardown(void)
{
	kyt_dra_stop_all(&kubelet, &api);
	kyt_testbed_free(&tb);
	free(bitstream);
	free(loads_log);
	kyt_dra_dirs_free(&dirs);
}

TestSuite(dra_e2e, .init = setup, .fini = teardown, .timeout = 120);

/* ---- the stand-ins and the driver ---- */

static void start_api(const char *const extra[])
{
	api = kyt_apiserver_start(KYTEST_KUBE_APISERVER, dirs.api_dir, extra);
}

/* The kubelet stand-in, talking to the API server stand-in: it deletes
 * the node's slices at its start (returns once that is done: a driver
 * started after publishes after it) and a driver's slices `wipe_delay`
 * seconds after the driver's plugin went away (kubelet: 30). */
static void start_kubelet(const char *wipe_delay)
{
	kubelet = kyt_dra_kubelet_start_api(KYTEST_GRPC_DIR "/dra_kubelet.py", KYTEST_DRA_DESC, dirs.reg_dir, api, NODE,
					    (const char *[]){ "--wipe-delay", wipe_delay, NULL });
}

/* The driver against the API server at url (its CA and token in the
 * stand-in's directory, made or not yet), its log in dirs.driver_log; extra
 * flags after the others. */
static struct kyt_child *start_driver_at(const char *url, const char *const extra[])
{
	const char *argv[24] = { "--fetch-helper", KYBORG_FETCH_BIN, "--log-level", "debug" };
	int n = 4;
	for (int i = 0; extra && extra[i] && n < 23; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	return kyt_dra_driver_start(KYBORG_DRA_BIN, &dirs, NODE, url, argv);
}

static struct kyt_child *start_driver(const char *const extra[])
{
	return start_driver_at(api->url, extra);
}

static void stop_driver(struct kyt_child *drv)
{
	kyt_child_stop(drv, "the driver", 10000);
}

static cJSON *wait_registered(int after)
{
	return kyt_dra_wait_registered(kubelet, DRIVER, after);
}

/* The Node object, as the cluster has it: its UID goes into the slices'
 * ownerReferences. */
static char *create_node(void)
{
	int code = 0;
	_cleanup_(cJSON_Deletep) cJSON *n = kyt_apiserver_request(
		api, "POST", "/api/v1/nodes", "{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"" NODE "\"}}",
		&code);
	cr_assert_eq(code, 201);
	return strdup(kyt_json_str(n, "metadata.uid"));
}

static void control(const char *what)
{
	char *out = NULL;
	cr_assert_eq(kyt_apiserver_control(api, "POST", what, &out), 0);
	cr_assert(out && !strstr(out, "\"Failure\""), "control %s: %s", what, out ? out : "");
	free(out);
}

/* ---- the server's slices (read with curl, never with the client under test) ---- */

static cJSON *server_slices(void)
{
	return kyt_dra_server_slices(api, DRIVER, NODE);
}

static size_t device_count(const cJSON *items)
{
	size_t n = 0;
	const cJSON *s;
	cJSON_ArrayForEach(s, items)
		n += (size_t)cJSON_GetArraySize(kyt_json_at(s, "spec.devices"));
	return n;
}

/* Whether the slices are one whole pool: every slice of one generation
 * and as many as each says the pool has. */
static bool pool_whole(const cJSON *items)
{
	const cJSON *s;
	double gen = -1;
	cJSON_ArrayForEach(s, items)
	{
		double g = cJSON_GetNumberValue(kyt_json_at(s, "spec.pool.generation"));
		if ((gen >= 0 && g != gen) ||
		    cJSON_GetNumberValue(kyt_json_at(s, "spec.pool.resourceSliceCount")) != cJSON_GetArraySize(items) ||
		    strcmp(kyt_json_str(s, "spec.pool.name"), NODE) != 0)
			return false;
		gen = g;
	}
	return cJSON_GetArraySize(items) > 0;
}

struct pool_want {
	const char *const *names; /* exactly these (NULL-terminated), or NULL: n_devices of any */
	size_t n_devices;
	int n_slices;              /* 0: any */
	const char *not_uid_of;    /* a JSON array of slices none of which may still be there */
};

static bool cond_pool(void *arg)
{
	const struct pool_want *w = arg;
	_cleanup_(cJSON_Deletep) cJSON *items = server_slices();
	if (!pool_whole(items) || (w->n_slices && cJSON_GetArraySize(items) != w->n_slices))
		return false;
	size_t n = 0;
	for (const char *const *p = w->names; p && *p; p++, n++)
		if (!kyt_dra_slice_device(items, *p))
			return false;
	if (device_count(items) != (w->names ? n : w->n_devices))
		return false;
	if (w->not_uid_of) {
		_cleanup_(cJSON_Deletep) cJSON *old = cJSON_Parse(w->not_uid_of);
		const cJSON *s, *o;
		cJSON_ArrayForEach(s, items)
			cJSON_ArrayForEach(o, old)
				if (!strcmp(kyt_json_str(s, "metadata.uid"), kyt_json_str(o, "metadata.uid")))
					return false;
	}
	return true;
}

static void wait_pool(const struct pool_want *w, int timeout_ms, const char *what)
{
	if (!kyt_wait_until(cond_pool, (void *)w, timeout_ms)) {
		_cleanup_(cJSON_Deletep) cJSON *items = server_slices();
		_cleanup_free_ char *text = cJSON_PrintUnformatted(items);
		cr_assert_fail("%s: the slices are not as wanted within %d ms: %.4000s", what, timeout_ms, text);
	}
}

static void wait_all_devices(const char *what)
{
	wait_pool(&(struct pool_want){ .names = all_devices, .n_slices = 1 }, T, what);
}

/* What kubelet does at its start, played with curl where no kubelet
 * stand-in runs. */
static void wipe_node(void)
{
	int code = 0;
	_cleanup_(cJSON_Deletep) cJSON *j =
		kyt_apiserver_request(api, "DELETE", SLICES "?fieldSelector=spec.nodeName%3D" NODE, NULL, &code);
	cr_assert_eq(code, 200);
	cr_assert_gt(cJSON_GetArraySize(kyt_json_at(j, "items")), 0, "nothing to delete");
}

static char *slices_text(void)
{
	_cleanup_(cJSON_Deletep) cJSON *items = server_slices();
	return cJSON_PrintUnformatted(items);
}

static cJSON *request_log(void)
{
	char *out = NULL;
	cr_assert_eq(kyt_apiserver_control(api, "GET", "requests", &out), 0);
	cJSON *j = cJSON_Parse(out);
	cr_assert_not_null(j, "%s", out);
	free(out);
	return j;
}

static void clear_log(void)
{
	char *out = NULL;
	cr_assert_eq(kyt_apiserver_control(api, "DELETE", "requests", &out), 0);
	free(out);
}

/* Requests of a method to paths holding `path` (code 0: any code). */
static int count(const cJSON *log, const char *method, const char *path, int code)
{
	int n = 0;
	const cJSON *r;
	cJSON_ArrayForEach(r, log)
	{
		const cJSON *m = kyt_json_at(r, "method"), *p = kyt_json_at(r, "path"), *c = kyt_json_at(r, "code");
		if (cJSON_IsString(m) && !strcmp(m->valuestring, method) && cJSON_IsString(p) &&
		    strstr(p->valuestring, path) && (!code || (cJSON_IsNumber(c) && c->valueint == code)))
			n++;
	}
	return n;
}

/* A slice device's taint on key kyborg.io/unhealthy, or NULL. */
static const cJSON *taint_of(const cJSON *dev)
{
	const cJSON *t;
	cJSON_ArrayForEach(t, kyt_json_at(dev, "taints"))
		if (!strcmp(kyt_json_str(t, "key"), DRIVER "/unhealthy"))
			return t;
	return NULL;
}

struct taint_want {
	const char *device;
	bool tainted;
};

static bool cond_taint(void *arg)
{
	const struct taint_want *w = arg;
	_cleanup_(cJSON_Deletep) cJSON *items = server_slices();
	const cJSON *dev = kyt_dra_slice_device(items, w->device);
	return dev && pool_whole(items) && (taint_of(dev) != NULL) == w->tainted;
}

static void wait_taint(const char *device, bool tainted)
{
	struct taint_want w = { device, tainted };
	if (!kyt_wait_until(cond_taint, &w, T)) {
		_cleanup_free_ char *text = slices_text();
		cr_assert_fail("%s is %s tainted in the slices: %.4000s", device, tainted ? "not" : "still", text);
	}
}

/* ---- the testbed: a driver unbound and bound, a device removed and added ---- */

static void unbind_driver(const char *syspath)
{
	_cleanup_free_ char *link = NULL;
	gchar *root = umockdev_testbed_get_root_dir(tb);
	cr_assert_geq(asprintf(&link, "%s%s/driver", root, syspath), 0);
	g_free(root);
	cr_assert_eq(unlink(link), 0, "%s: %m", link);
	umockdev_testbed_uevent(tb, syspath, "unbind");
}

static void bind_driver(const char *syspath, const char *target)
{
	_cleanup_free_ char *link = NULL;
	gchar *root = umockdev_testbed_get_root_dir(tb);
	cr_assert_geq(asprintf(&link, "%s%s/driver", root, syspath), 0);
	g_free(root);
	cr_assert_eq(symlink(target, link), 0, "%s: %m", link);
	umockdev_testbed_uevent(tb, syspath, "bind");
}

/* ---- kubelet's health view ---- */

struct health_want {
	const char *device, *health, *message;
};

static bool cond_health(void *arg)
{
	const struct health_want *w = arg;
	_cleanup_(cJSON_Deletep) cJSON *v = kyt_dra_kubelet_ok(kubelet, T, "health " DRIVER);
	const cJSON *e;
	cJSON_ArrayForEach(e, kyt_json_at(v, "devices"))
		if (!strcmp(kyt_json_str(e, "device"), w->device))
			return !strcmp(kyt_json_str(e, "health"), w->health) && !strcmp(kyt_json_str(e, "message"), w->message);
	return false;
}

static void wait_health(const char *device, const char *health, const char *message)
{
	struct health_want w = { device, health, message };
	cr_assert(kyt_wait_until(cond_health, &w, T), "%s is not %s (%s) for kubelet", device, health, message);
}

/* ---- the driver's log ---- */

struct log_count {
	const char *path, *text;
	int n;
};

/* The log holds text at least n times. */
static bool cond_log_count(void *arg)
{
	const struct log_count *w = arg;
	_cleanup_free_ char *text = kyt_read_file(w->path);
	int n = 0;
	for (const char *p = text; p && (p = strstr(p, w->text)); p++)
		n++;
	return n >= w->n;
}

/* ---- slices ---- */

Test(dra_e2e, slices_hold_exactly_the_configured_devices_owned_by_the_node_and_stay_after_sigterm)
{
	start_api(NULL);
	_cleanup_free_ char *node_uid = create_node();
	struct kyt_child *d = start_driver(NULL);
	wait_all_devices("the node's devices");
	_cleanup_(cJSON_Deletep) cJSON *items = server_slices();
	const cJSON *s = cJSON_GetArrayItem(items, 0);
	cr_assert_str_eq(kyt_json_str(s, "spec.driver"), DRIVER);
	cr_assert_str_eq(kyt_json_str(s, "spec.nodeName"), NODE);
	const cJSON *owner = cJSON_GetArrayItem(kyt_json_at(s, "metadata.ownerReferences"), 0);
	cr_assert_str_eq(kyt_json_str(owner, "kind"), "Node");
	cr_assert_str_eq(kyt_json_str(owner, "uid"), node_uid);

	/* A shared GPU is one device claims share by capacity. */
	const cJSON *g = kyt_dra_slice_device(items, GPU0);
	cr_assert(cJSON_IsTrue(kyt_json_at(g, "allowMultipleAllocations")), "%s", cJSON_PrintUnformatted(g));
	cr_assert_str_eq(kyt_json_str(g, "capacity.shares.value"), "2");
	cr_assert_str_eq(kyt_json_str(g, "attributes.kind.string"), "gpu");
	cr_assert_str_eq(kyt_json_str(g, "attributes.resourceName.string"), "kyborg.io/gpu",
			 "the first resource that matches takes the GPUs, not kyborg.io/any-gpu");
	cr_assert_str_eq(kyt_dra_attr_str(g, "resource.kubernetes.io/pcieRoot"), "pci0000:3a");
	/* The FPGA's loaded image, read from its port. */
	const cJSON *f = kyt_dra_slice_device(items, FPGA);
	cr_assert_str_eq(kyt_json_str(f, "attributes.imageID.string"), AFU_NONE);
	/* A VF carries its PF and what Multus's DRA mode reads. */
	const cJSON *v = kyt_dra_slice_device(items, VF1);
	cr_assert_str_eq(kyt_json_str(v, "attributes.pfName.string"), pf_name);
	cr_assert_eq(cJSON_GetNumberValue(kyt_json_at(v, "attributes.vfIndex.int")), 1);
	cr_assert_str_eq(kyt_dra_attr_str(v, "k8s.cni.cncf.io/deviceID"), KYT_SIM_VF1);
	cr_assert_str_eq(kyt_dra_attr_str(v, "k8s.cni.cncf.io/resourceName"), "kyborg.io/sriov-vf");
	_cleanup_(cJSON_Deletep) cJSON *log = request_log();
	cr_assert_eq(count(log, "GET", "/api/v1/nodes/" NODE, 200), 1, "the Node is read once, for its UID");
	cr_assert_eq(count(log, "POST", "/resourceslices", 422), 0, "the server refused a slice");

	/* SIGTERM keeps the slices, as the kubeletplugin helper does. */
	stop_driver(d);
	_cleanup_(cJSON_Deletep) cJSON *after = server_slices();
	cr_assert_eq(device_count(after), 7, "the slices went with the driver");
	/* A restarted driver adopts them without a write. */
	clear_log();
	d = start_driver(NULL);
	_cleanup_free_ char *sock = kyt_path(dirs.plugin_dir, "dra.sock");
	cr_assert(kyt_wait_until(kyt_socket_accepts, sock, T));
	struct log_count again = { dirs.driver_log, "event=slices-published", 2 };
	cr_assert(kyt_wait_until(cond_log_count, &again, T), "the restarted driver did not come in step");
	_cleanup_(cJSON_Deletep) cJSON *log2 = request_log();
	cr_assert_eq(count(log2, "POST", "/resourceslices", 0) + count(log2, "PUT", "/resourceslices", 0) +
			     count(log2, "DELETE", "/resourceslices", 0),
		     0, "a restart rewrote the slices");
	stop_driver(d);
}

Test(dra_e2e, a_pool_over_128_devices_is_split_64_a_slice_with_taints_and_128_without)
{
	/* Two GPUs shared 100 ways, pre-split: 200 devices, and 5 others. */
	write_config("dra", 100);
	start_api(NULL);
	struct kyt_child *d = start_driver((const char *[]){ "--gpu-sharing", "split", NULL });
	wait_pool(&(struct pool_want){ .n_devices = 205, .n_slices = 4 }, T, "205 devices in slices of 64");
	_cleanup_(cJSON_Deletep) cJSON *items = server_slices();
	const cJSON *s;
	cJSON_ArrayForEach(s, items)
		cr_assert_leq(cJSON_GetArraySize(kyt_json_at(s, "spec.devices")), 64);
	cr_assert_not_null(kyt_dra_slice_device(items, GPU1 "-r99"));
	cr_assert_null(kyt_dra_slice_device(items, GPU1), "a pre-split GPU is published as its replicas only");
	cr_assert_eq(cJSON_GetNumberValue(kyt_json_at(kyt_dra_slice_device(items, GPU0 "-r7"), "attributes.replica.int")), 7);
	stop_driver(d);

	/* Unhealthy devices left out instead of tainted: 128 a slice. */
	d = start_driver((const char *[]){ "--gpu-sharing", "split", "--unhealthy-devices", "omit", NULL });
	wait_pool(&(struct pool_want){ .n_devices = 205, .n_slices = 2 }, T, "205 devices in slices of 128");
	_cleanup_(cJSON_Deletep) cJSON *items2 = server_slices();
	cJSON_ArrayForEach(s, items2)
		cr_assert_leq(cJSON_GetArraySize(kyt_json_at(s, "spec.devices")), 128);
	stop_driver(d);
}

/* ---- kubelet's deletions ---- */

static bool cond_no_slices(void *arg)
{
	(void)arg;
	_cleanup_(cJSON_Deletep) cJSON *items = server_slices();
	return cJSON_GetArraySize(items) == 0;
}

Test(dra_e2e, kubelet_wipes_at_its_start_and_after_the_plugin_is_gone_and_the_slices_come_back)
{
	start_api(NULL);
	struct kyt_child *d = start_driver(NULL);
	wait_all_devices("before kubelet");
	_cleanup_free_ char *before = slices_text();

	/* Kubelet starts: it deletes every slice of the node. */
	start_kubelet("1");
	_cleanup_(cJSON_Deletep) cJSON *w = kyt_dra_kubelet_ok(kubelet, T, "wait wiped driver= timeout=15000");
	wait_pool(&(struct pool_want){ .names = all_devices, .n_slices = 1, .not_uid_of = before }, T,
		  "published again after kubelet's start");
	_cleanup_(cJSON_Deletep) cJSON *r = wait_registered(0);

	/* The plugin goes: its slices stay until kubelet deletes them. */
	stop_driver(d);
	_cleanup_(cJSON_Deletep) cJSON *after = server_slices();
	cr_assert_eq(device_count(after), 7, "SIGTERM keeps the slices");
	_cleanup_(cJSON_Deletep) cJSON *w2 =
		kyt_dra_kubelet_ok(kubelet, T, "wait wiped driver=" DRIVER " after=%d timeout=15000", kyt_dra_event_seq(r));
	cr_assert(kyt_wait_until(cond_no_slices, NULL, 5000), "kubelet's deletion did not take");

	/* It comes back: published again. */
	d = start_driver(NULL);
	_cleanup_(cJSON_Deletep) cJSON *r2 = wait_registered(kyt_dra_event_seq(w2));
	wait_all_devices("published by the restarted driver");
	stop_driver(d);
}

/* ---- the API server's failures, through the real daemon ---- */

Test(dra_e2e, an_api_server_down_at_start_gets_the_slices_once_it_comes)
{
	int port = kyt_free_port();
	char url[64], port_arg[16];
	snprintf(url, sizeof(url), "https://127.0.0.1:%d", port);
	snprintf(port_arg, sizeof(port_arg), "%d", port);
	_cleanup_free_ char *token = kyt_path(dirs.api_dir, "tokens");
	cr_assert_eq(kyt_write_file(token, "kyborg-test-token\n"), 0);
	struct kyt_child *d = start_driver_at(url, NULL);
	/* It serves kubelet meanwhile, and keeps trying the server. */
	_cleanup_free_ char *sock = kyt_path(dirs.plugin_dir, "dra.sock");
	cr_assert(kyt_wait_until(kyt_socket_accepts, sock, T), "the driver does not serve while the server is down");
	struct log_count retry = { dirs.driver_log, "event=k8s-reflector-retry", 1 };
	cr_assert(kyt_wait_until(cond_log_count, &retry, T), "no failed list logged");
	cr_assert_not(kyt_child_done(d), "the driver gave up");
	start_api((const char *[]){ "--port", port_arg, NULL });
	wait_all_devices("once the server came");
	stop_driver(d);
}

Test(dra_e2e, a_closed_watch_expired_history_a_conflict_and_a_rotated_token_are_survived)
{
	start_api(NULL);
	struct kyt_child *d = start_driver(NULL);
	wait_all_devices("at start");

	/* The watch the server closes is resumed: kubelet is still heard. */
	control("close-watches");
	_cleanup_free_ char *s1 = slices_text();
	wipe_node();
	wait_pool(&(struct pool_want){ .names = all_devices, .n_slices = 1, .not_uid_of = s1 }, T,
		  "after a closed watch and kubelet's deletion");

	/* History compacted under a closed watch: 410, listed again. */
	clear_log();
	for (int i = 0; i < 3; i++) {
		int code = 0;
		char body[512];
		snprintf(body, sizeof(body),
			 "{\"apiVersion\":\"resource.k8s.io/v1\",\"kind\":\"ResourceSlice\",\"metadata\":{\"name\":"
			 "\"other-%d\"},\"spec\":{\"driver\":\"other.io\",\"nodeName\":\"node-b\",\"pool\":{\"name\":"
			 "\"node-b\",\"generation\":1,\"resourceSliceCount\":1},\"devices\":[]}}",
			 i);
		cJSON_Delete(kyt_apiserver_request(api, "POST", SLICES, body, &code));
		cr_assert_eq(code, 201);
	}
	control("compact");
	control("close-watches");
	struct log_count expired = { dirs.driver_log, "event=k8s-reflector-expired", 1 };
	cr_assert(kyt_wait_until(cond_log_count, &expired, T), "no 410 seen");
	_cleanup_free_ char *s2 = slices_text();
	wipe_node();
	wait_pool(&(struct pool_want){ .names = all_devices, .n_slices = 1, .not_uid_of = s2 }, T,
		  "after expired history and kubelet's deletion");
	_cleanup_(cJSON_Deletep) cJSON *log = request_log();
	int lists = 0;
	const cJSON *e;
	cJSON_ArrayForEach(e, log)
		lists += !strcmp(kyt_json_str(e, "method"), "GET") && !strcmp(kyt_json_str(e, "path"), SLICES) &&
			 !cJSON_GetObjectItemCaseSensitive(kyt_json_at(e, "query"), "watch");
	cr_assert_geq(lists, 1, "not listed again after the 410");

	/* A stale update (409) is read again and retried. */
	clear_log();
	control("fail?code=409&method=PUT&reason=Conflict&count=1");
	unbind_driver(VF1_SYSPATH);
	wait_taint(VF1, true);
	_cleanup_(cJSON_Deletep) cJSON *log2 = request_log();
	cr_assert_eq(count(log2, "PUT", "/resourceslices/", 409), 1);
	cr_assert_eq(count(log2, "PUT", "/resourceslices/", 200), 1);
	cr_assert_geq(count(log2, "GET", "/resourceslices/", 200), 1, "no fresh read after the 409");

	/* The projected token rotates: the server takes only the new one. */
	cr_assert_eq(kyt_write_file(api->token_file, "rotated-token\n"), 0);
	clear_log();
	bind_driver(VF1_SYSPATH, "../../../../bus/pci/drivers/iavf");
	wait_taint(VF1, false);
	_cleanup_(cJSON_Deletep) cJSON *log3 = request_log();
	int bad = 0, ok = 0;
	cJSON_ArrayForEach(e, log3)
	{
		if (!strcmp(kyt_json_str(e, "method"), "PUT")) {
			bad += !strcmp(kyt_json_str(e, "auth"), "bad");
			ok += !strcmp(kyt_json_str(e, "auth"), "ok") && cJSON_GetNumberValue(kyt_json_at(e, "code")) == 200;
		}
	}
	cr_assert_eq(bad, 1, "%s", cJSON_PrintUnformatted(log3));
	cr_assert_eq(ok, 1, "%s", cJSON_PrintUnformatted(log3));
	stop_driver(d);
}

/* ---- hot-plug ---- */

Test(dra_e2e, unbind_removal_and_addition_show_in_the_slices_and_kubelets_health)
{
	start_api(NULL);
	start_kubelet("30");
	struct kyt_child *d = start_driver(NULL);
	_cleanup_(cJSON_Deletep) cJSON *r = wait_registered(0);
	wait_all_devices("at start");
	wait_health(GPU1, "HEALTHY", "");

	/* The same udev event reaches kubelet's health and the scheduler's slices. */
	unbind_driver(GPU1_SYSPATH);
	wait_health(GPU1, "UNHEALTHY", "no driver bound");
	wait_taint(GPU1, true);
	_cleanup_(cJSON_Deletep) cJSON *items = server_slices();
	const cJSON *t = taint_of(kyt_dra_slice_device(items, GPU1));
	cr_assert_str_eq(kyt_json_str(t, "value"), "driver-unbound");
	cr_assert_str_eq(kyt_json_str(t, "effect"), "NoSchedule");
	cr_assert_null(taint_of(kyt_dra_slice_device(items, GPU0)), "the other GPU is not touched");

	umockdev_testbed_uevent(tb, GPU1_SYSPATH, "remove");
	umockdev_testbed_remove_device(tb, GPU1_SYSPATH "/drm/card1");
	umockdev_testbed_remove_device(tb, GPU1_SYSPATH "/drm/renderD129");
	umockdev_testbed_remove_device(tb, GPU1_SYSPATH);
	umockdev_testbed_uevent(tb, PF_SYSPATH, "change");
	static const char *const without_gpu1[] = { GPU0, FPGA, VF0, VF1, VF2, VF3, NULL };
	wait_pool(&(struct pool_want){ .names = without_gpu1, .n_slices = 1 }, T, "without the removed GPU");
	wait_health(GPU1, "UNHEALTHY", "removed from the node");

	_cleanup_free_ char *rec = kyt_simnode_gpu1_record();
	cr_assert_eq(kyt_testbed_add(tb, rec), 0);
	umockdev_testbed_uevent(tb, GPU1_SYSPATH, "add");
	wait_all_devices("with the GPU added back");
	wait_taint(GPU1, false);
	wait_health(GPU1, "HEALTHY", "");
	stop_driver(d);
}

/* ---- PF carrier ---- */

/* A veth named like the simulated node's PF, in a network namespace of the
 * test's own (the driver inherits it): its carrier goes with the peer's
 * state, as a PF's goes with its cable. */
static char pf_peer[16];

static void pf_veth(void)
{
	cr_assert_eq(kyt_private_netns(), 0, "needs root (a network namespace for the PF's veth)");
	kyt_unique_name(pf_peer, sizeof(pf_peer), "kypeer");
	cr_assert_eq(kyt_run(NULL, "ip", "link", "add", pf_name, "type", "veth", "peer", "name", pf_peer, NULL), 0);
	cr_assert_eq(kyt_run(NULL, "ip", "link", "set", pf_name, "up", NULL), 0);
	cr_assert_eq(kyt_run(NULL, "ip", "link", "set", pf_peer, "up", NULL), 0);
}

static void peer_set(const char *state)
{
	cr_assert_eq(kyt_run(NULL, "ip", "link", "set", pf_peer, state, NULL), 0);
}

static const char *const vfs_of_pf[] = { VF0, VF1, VF2, VF3, NULL };

Test(dra_e2e, a_pf_without_carrier_makes_its_vfs_unhealthy_for_kubelet_and_tainted_in_the_slices)
{
	pf_veth();
	start_api(NULL);
	start_kubelet("30");
	struct kyt_child *d = start_driver(NULL);
	_cleanup_(cJSON_Deletep) cJSON *r = wait_registered(0);
	wait_all_devices("at start");
	for (const char *const *v = vfs_of_pf; *v; v++)
		wait_health(*v, "HEALTHY", "");

	/* The cable goes: every VF of the PF, for kubelet and the scheduler. */
	peer_set("down");
	char why[64];
	snprintf(why, sizeof(why), "PF %s has no carrier", pf_name);
	for (const char *const *v = vfs_of_pf; *v; v++) {
		wait_health(*v, "UNHEALTHY", why);
		wait_taint(*v, true);
	}
	_cleanup_(cJSON_Deletep) cJSON *items = server_slices();
	const cJSON *t = taint_of(kyt_dra_slice_device(items, VF2));
	cr_assert_str_eq(kyt_json_str(t, "value"), "pf-link-down");
	cr_assert_str_eq(kyt_json_str(t, "effect"), "NoSchedule");
	cr_assert_null(taint_of(kyt_dra_slice_device(items, GPU0)), "a GPU has no PF link");
	wait_health(GPU0, "HEALTHY", "");
	/* A claim that was allocated it all the same (tolerating the taint)
	 * is refused at Prepare, saying why. */
	_cleanup_free_ char *vf = NULL;
	cr_assert_geq(asprintf(&vf, "{\"request\":\"req\",\"driver\":\"" DRIVER "\",\"pool\":\"" NODE
				    "\",\"device\":\"" VF2 "\"}"),
		      0);
	_cleanup_free_ char *uid = kyt_dra_api_claim(api, "ns1", "down", vf);
	_cleanup_(cJSON_Deletep) cJSON *p = kyt_dra_kubelet_cmd(kubelet, T, "prepare-claim ns1 down");
	cr_assert(cJSON_IsFalse(kyt_json_at(p, "ok")), "%s", cJSON_PrintUnformatted(p));
	_cleanup_free_ char *ptext = cJSON_PrintUnformatted(p), *refusal = NULL;
	cr_assert_geq(asprintf(&refusal, "device " VF2 " is unhealthy: %s", why), 0);
	cr_assert(strstr(ptext, refusal), "%s", ptext);

	/* It comes back: healthy and untainted again. */
	peer_set("up");
	for (const char *const *v = vfs_of_pf; *v; v++) {
		wait_health(*v, "HEALTHY", "");
		wait_taint(*v, false);
	}
	stop_driver(d);
}

Test(dra_e2e, without_device_taints_a_vf_whose_pf_lost_carrier_is_left_out_of_the_slices)
{
	pf_veth();
	/* A cluster without DRADeviceTaints drops the field: the driver sees
	 * it gone and leaves unhealthy devices out instead. */
	start_api((const char *[]){ "--feature-gates", "DRADeviceTaints=false", NULL });
	start_kubelet("30");
	struct kyt_child *d = start_driver(NULL);
	_cleanup_(cJSON_Deletep) cJSON *r = wait_registered(0);
	wait_all_devices("at start");

	peer_set("down");
	static const char *const without_vfs[] = { GPU0, GPU1, FPGA, NULL };
	wait_pool(&(struct pool_want){ .names = without_vfs, .n_slices = 1 }, T, "the VFs of a PF without carrier left out");
	char why[64];
	snprintf(why, sizeof(why), "PF %s has no carrier", pf_name);
	wait_health(VF1, "UNHEALTHY", why);

	peer_set("up");
	wait_all_devices("the VFs back once the PF has carrier");
	_cleanup_(cJSON_Deletep) cJSON *items = server_slices();
	cr_assert_null(kyt_json_at(kyt_dra_slice_device(items, VF1), "taints"), "%s", cJSON_PrintUnformatted(items));
	wait_health(VF1, "HEALTHY", "");
	stop_driver(d);
}

Test(dra_e2e, a_pf_without_carrier_at_start_has_its_vfs_tainted_in_the_first_slices)
{
	pf_veth();
	peer_set("down");
	start_api(NULL);
	start_kubelet("30");
	struct kyt_child *d = start_driver(NULL);
	_cleanup_(cJSON_Deletep) cJSON *r = wait_registered(0);
	wait_all_devices("at start");
	/* Every slice the server ever stored had them tainted: the first too. */
	_cleanup_(cJSON_Deletep) cJSON *log = request_log();
	cr_assert_eq(count(log, "PUT", "/resourceslices/", 0), 0, "the slices were written again: %s",
		     cJSON_PrintUnformatted(log));
	_cleanup_(cJSON_Deletep) cJSON *items = server_slices();
	for (const char *const *v = vfs_of_pf; *v; v++)
		cr_assert_not_null(taint_of(kyt_dra_slice_device(items, *v)), "%s is not tainted from the start", *v);
	char why[64];
	snprintf(why, sizeof(why), "PF %s has no carrier", pf_name);
	wait_health(VF0, "UNHEALTHY", why);
	stop_driver(d);
}

/* ---- a whole claim ---- */

/* An allocation result naming a device as the slices publish it. */
static char *result(const char *request, const cJSON *items, const char *device)
{
	const cJSON *dev = kyt_dra_slice_device(items, device);
	cr_assert_not_null(dev, "%s is not published", device);
	char *r;
	cr_assert_geq(asprintf(&r, "{\"request\":\"%s\",\"driver\":\"%s\",\"pool\":\"%s\",\"device\":\"%s\"}", request,
			       kyt_json_str(cJSON_GetArrayItem(items, 0), "spec.driver"),
			       kyt_json_str(cJSON_GetArrayItem(items, 0), "spec.pool.name"), kyt_json_str(dev, "name")),
		      0);
	return r;
}

struct image_want {
	const char *id;
};

static bool cond_image(void *arg)
{
	const struct image_want *w = arg;
	_cleanup_(cJSON_Deletep) cJSON *items = server_slices();
	const cJSON *f = kyt_dra_slice_device(items, FPGA);
	const cJSON *id = kyt_json_at(f, "attributes.imageID.string");
	return cJSON_IsString(id) && !strcmp(id->valuestring, w->id);
}

Test(dra_e2e, a_claim_allocated_from_the_published_slices_is_prepared_by_kubelet_and_unprepared)
{
	start_api(NULL);
	start_kubelet("30");
	struct kyt_child *d = start_driver(NULL);
	_cleanup_(cJSON_Deletep) cJSON *r = wait_registered(0);
	wait_all_devices("before the claim");

	/* The scheduler allocates from what the slices publish. */
	_cleanup_(cJSON_Deletep) cJSON *items = server_slices();
	_cleanup_free_ char *gpu = result("req", items, GPU0), *fpga = result("req", items, FPGA),
			    *vf = result("req", items, VF0), *all = NULL;
	cr_assert_geq(asprintf(&all, "%s,%s,%s", gpu, fpga, vf), 0);
	_cleanup_free_ char *uid = kyt_dra_api_claim(api, "ns1", "accel", all);

	/* Kubelet GETs the claim and calls the driver, which GETs it too. */
	_cleanup_(cJSON_Deletep) cJSON *p = kyt_dra_kubelet_ok(kubelet, T, "prepare-claim ns1 accel");
	const cJSON *ours = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(kyt_json_at(p, "drivers"), DRIVER),
							     "claims");
	const cJSON *claim = cJSON_GetObjectItemCaseSensitive(ours, uid);
	cr_assert_eq(cJSON_GetArraySize(kyt_json_at(claim, "devices")), 3, "%s", cJSON_PrintUnformatted(p));
	_cleanup_free_ char *spec_path = kyt_dra_spec_path(dirs.cdi_dir, DRIVER, uid);
	_cleanup_free_ char *spec = kyt_read_file(spec_path);
	cr_assert_not_null(spec, "no CDI spec at %s", spec_path);
	_cleanup_(cJSON_Deletep) cJSON *sj = cJSON_Parse(spec);
	cr_assert_eq(cJSON_GetArraySize(kyt_json_at(sj, "devices")), 3, "%s", spec);
	const cJSON *dev;
	cJSON_ArrayForEach(dev, kyt_json_at(claim, "devices"))
	{
		char want[160];
		snprintf(want, sizeof(want), DRIVER "/claim=%s-%s", uid, kyt_json_str(dev, "device"));
		cr_assert_str_eq(cJSON_GetArrayItem(kyt_json_at(dev, "cdi"), 0)->valuestring, want);
	}
	/* The index by PCI function names the claim (the CNI plugin reads it). */
	_cleanup_free_ char *link = kyt_dra_link_path(dirs.state_dir, KYT_SIM_VF0);
	_cleanup_free_ char *link_text = kyt_read_file(link);
	cr_assert_not_null(link_text, "no link at %s", link);
	cr_assert(strstr(link_text, uid), "%s", link_text);
	/* The FPGA was programmed for it: the slices say what it holds now. */
	struct image_want iw = { AFU_NLB };
	cr_assert(kyt_wait_until(cond_image, &iw, T), "the loaded image is not published");

	_cleanup_(cJSON_Deletep) cJSON *u = kyt_dra_kubelet_ok(kubelet, T, "unprepare-claim ns1 accel");
	cr_assert_neq(access(spec_path, F_OK), 0, "the CDI spec is left");
	_cleanup_free_ char *rec = kyt_dra_record_path(dirs.state_dir, uid);
	cr_assert_neq(access(rec, F_OK), 0, "the record is left");
	cr_assert_neq(access(link, F_OK), 0, "the link is left");
	stop_driver(d);
}

/* ---- one config, two front ends ---- */

Test(dra_e2e, a_config_shared_with_the_device_plugin_publishes_only_the_dra_resources)
{
	write_config("devicePlugin", 2);
	_cleanup_free_ char *out = NULL;
	cr_assert_eq(kyt_run(&out, KYBORG_DRA_BIN, "--config", dirs.config_path, "--node-name", NODE, "--check-config", NULL),
		     0);
	cr_assert(strstr(out, "driver " DRIVER ", pool " NODE ": 5 devices\n"), "%s", out);
	cr_assert(strstr(out, "kyborg.io/gpu (gpu): not served here: frontend devicePlugin (kyborg-device-plugin), 4 "
			      "device IDs\n"),
		  "%s", out);
	cr_assert_null(strstr(out, GPU0), "%s", out);

	start_api(NULL);
	start_kubelet("30");
	struct kyt_child *d = start_driver(NULL);
	_cleanup_(cJSON_Deletep) cJSON *r = wait_registered(0);
	static const char *const ours[] = { FPGA, VF0, VF1, VF2, VF3, NULL };
	wait_pool(&(struct pool_want){ .names = ours, .n_slices = 1 }, T,
		  "the DRA resources' devices, and not the device plugin's GPUs");
	_cleanup_free_ char *gpu = NULL;
	cr_assert_geq(asprintf(&gpu, "{\"request\":\"req\",\"driver\":\"" DRIVER "\",\"pool\":\"" NODE
				     "\",\"device\":\"" GPU0 "\"}"),
		      0);
	_cleanup_free_ char *uid = kyt_dra_api_claim(api, "ns1", "gpu", gpu);
	_cleanup_(cJSON_Deletep) cJSON *p = kyt_dra_kubelet_cmd(kubelet, T, "prepare-claim ns1 gpu");
	cr_assert(cJSON_IsFalse(kyt_json_at(p, "ok")));
	_cleanup_free_ char *text = cJSON_PrintUnformatted(p);
	cr_assert(strstr(text, "device " GPU0 " is not ours: the config gives it to the device plugin (resource "
			       "kyborg.io/gpu)"),
		  "%s", text);
	stop_driver(d);
}

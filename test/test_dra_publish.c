/* The DRA driver's ResourceSlice publisher (dra/dra_publish.c) on an event
 * loop with the core's Kubernetes client, against the suite's
 * kube-apiserver STAND-IN (test/standin/kube_apiserver.py): not the real
 * kube-apiserver, which Debian does not ship and no test machine can reach,
 * but written from its API and server code: ResourceSlice validation word
 * for word (422), resourceVersions with 409 on a stale update, watches with
 * bookmarks that end in a 410 ERROR event once history is compacted,
 * metadata.generation, dropped fields of a feature gate that is off,
 * bearer tokens re-read on every request, and control endpoints to close
 * watches, inject failures and read its request log. Kubelet's part
 * (deleting a node's slices) is played with the curl command, never with
 * the client under test. Each test has its own directory, stand-in
 * process, loop and client, all gone in teardown. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dra_publish.h"
#include "dra_slices.h"
#include "kyborg/base/error.h"
#include "kyborg/json/json.h"
#include "kyborg/k8s/k8s_client.h"
#include "kyborg/loop/loop.h"
#include "kytest.h"
#include "kytest_loop.h"
#include "kytest_dra.h"
#include "kytest_proc.h"

#define DRIVER "kyborg.io"
#define NODE "node-a"
#define SLICES "/apis/resource.k8s.io/v1/resourceslices"
#define OUR_SLICES SLICES "?fieldSelector=spec.driver%3Dkyborg.io%2Cspec.nodeName%3Dnode-a"
#define T 15000

static char *dir;
static struct ky_loop *loop;
static struct ky_k8s_client *client;
static struct kyt_apiserver *api;
static struct dra_publish *pub;
static unsigned failures;

static void setup(void)
{
	dir = kyt_tmpdir("kydrapub");
	cr_assert_not_null(dir);
	cr_assert_eq(ky_loop_new(&loop, NULL), 0);
	failures = 0;
}

static void teardown(void)
{
	dra_publish_free(pub);
	pub = NULL;
	ky_k8s_client_free(client);
	client = NULL;
	kyt_apiserver_stop(api);
	api = NULL;
	kyt_children_kill_all();
	ky_loop_free(loop);
	loop = NULL;
	kyt_rmrf(dir);
	free(dir);
}

TestSuite(dra_publish, .init = setup, .fini = teardown, .timeout = 120);

/* ---- the stand-in, the client, the publisher ---- */

static void standin(const char *const extra[])
{
	api = kyt_apiserver_start(KYTEST_KUBE_APISERVER, dir, extra);
}

static void make_client(const char *url, const char *ca, const char *token)
{
	struct ky_k8s_config *cfg = NULL;
	struct ky_error *e = NULL;
	cr_assert_eq(ky_k8s_config_new(url, token, ca, &cfg, &e), 0, "%s", ky_error_msg(e));
	cfg->connect_timeout_ms = 2000;
	cr_assert_eq(ky_k8s_client_new(loop, cfg, &client, &e), 0, "%s", ky_error_msg(e));
	ky_k8s_config_free(cfg);
}

static void on_failed(void *userdata, const struct ky_error *err)
{
	(void)userdata;
	(void)err;
	failures++;
}

static struct dra_publish_opts opts_default(void)
{
	return (struct dra_publish_opts){ .no_owner = true, .backoff_initial_ms = 50, .backoff_max_ms = 400,
					  .failed = on_failed };
}

static void publisher(const struct dra_publish_opts *o)
{
	if (!client)
		make_client(api->url, api->ca_file, api->token_file);
	struct ky_error *e = NULL;
	cr_assert_eq(dra_publish_new(loop, client, DRIVER, NODE, o, &pub, &e), 0, "%s", ky_error_msg(e));
}

static bool run_until(bool (*cond)(void *), void *arg, int timeout_ms)
{
	return kyt_loop_run_until(loop, cond, arg, timeout_ms);
}

/* Keeps the loop serving for ms where a test proves something does NOT
 * happen (no write): the deadline is the condition. */
static void run_for(int ms)
{
	kyt_loop_run_for(loop, ms);
}

static struct dra_publish_stats stats(void)
{
	struct dra_publish_stats s;
	dra_publish_stats(pub, &s);
	return s;
}

static bool published_after(void *count)
{
	return dra_publish_in_step(pub) && stats().publishes > *(unsigned *)count;
}

/* Waits until the publisher is in step after a change it has to notice
 * (a set, kubelet's delete): its publish count passes *before. */
static void wait_published(unsigned before)
{
	cr_assert(run_until(published_after, &before, T), "not published again (publishes %u, errors %u)",
		  stats().publishes, stats().errors);
}

/* ---- devices ---- */

static struct dra_dev *vfs(size_t n)
{
	struct dra_dev *d = calloc(n ? n : 1, sizeof(*d));
	cr_assert_not_null(d);
	for (size_t i = 0; i < n; i++) {
		unsigned bus = (unsigned)(0x20 + i / 256) & 0xff, slot = (unsigned)(i / 8) % 32, fn = (unsigned)(i % 8);
		d[i] = (struct dra_dev){ .kind = DRA_KIND_VF, .vendor = 0x8086, .device = 0x1889, .numa_node = (int)(i % 2),
					 .iommu_group = (int)(100 + i), .vf_index = (int)(i % 64), .healthy = true,
					 .resource = "kyborg.io/sriov-vf", .driver = "iavf", .pf_name = "ens1f0",
					 .vendor_name = "Intel Corporation",
					 .device_name = "Ethernet Adaptive Virtual Function", .pcie_root = "pci0000:1f" };
		snprintf(d[i].addr, sizeof(d[i].addr), "0000:%02x:%02x.%u", bus, slot, fn);
		snprintf(d[i].pf_addr, sizeof(d[i].pf_addr), "0000:%02x:00.0", bus);
	}
	return d;
}

static struct dra_dev gpu(const char *addr, unsigned shares)
{
	struct dra_dev d = { .kind = DRA_KIND_GPU, .vendor = 0x10de, .device = 0x2330, .numa_node = 0, .iommu_group = 30,
			     .vf_index = -1, .healthy = true, .resource = "kyborg.io/gpu", .driver = "nvidia",
			     .pcie_root = "pci0000:3a", .shares = shares };
	snprintf(d.addr, sizeof(d.addr), "%s", addr);
	return d;
}

static void set(const struct dra_dev *d, size_t n)
{
	struct ky_error *e = NULL;
	cr_assert_eq(dra_publish_set(pub, d, n, &e), 0, "%s", ky_error_msg(e));
}

/* ---- the server's side, read with curl ---- */

static cJSON *server_slices(void)
{
	int code = 0;
	cJSON *list = kyt_apiserver_request(api, "GET", OUR_SLICES, NULL, &code);
	cr_assert_not_null(list);
	cr_assert_eq(code, 200);
	cJSON *items = cJSON_DetachItemFromObject(list, "items");
	cJSON_Delete(list);
	return items;
}

static const cJSON *get(const cJSON *j, const char *path)
{
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *save = NULL, *k = strtok_r(buf, ".", &save); k && j; k = strtok_r(NULL, ".", &save))
		j = cJSON_GetObjectItemCaseSensitive(j, k);
	return j;
}

/* The device of that name in the server's slices, or NULL. */
static const cJSON *server_device(const cJSON *items, const char *name)
{
	const cJSON *s, *d;
	cJSON_ArrayForEach(s, items)
		cJSON_ArrayForEach(d, get(s, "spec.devices"))
			if (!strcmp(get(d, "name")->valuestring, name))
				return d;
	return NULL;
}

static size_t server_device_count(const cJSON *items)
{
	size_t n = 0;
	const cJSON *s;
	cJSON_ArrayForEach(s, items)
		n += (size_t)cJSON_GetArraySize(get(s, "spec.devices"));
	return n;
}

static cJSON *request_log(void)
{
	char *out = NULL;
	cr_assert_eq(kyt_apiserver_control(api, "GET", "requests", &out), 0);
	cJSON *j = NULL;
	cr_assert_eq(ky_json_parse(out, strlen(out), &j, NULL), 0, "%s", out);
	free(out);
	return j;
}

static void clear_log(void)
{
	char *out = NULL;
	cr_assert_eq(kyt_apiserver_control(api, "DELETE", "requests", &out), 0);
	free(out);
}

static void control(const char *what)
{
	char *out = NULL;
	cr_assert_eq(kyt_apiserver_control(api, "POST", what, &out), 0);
	cr_assert(out && !strstr(out, "\"Failure\""), "control %s: %s", what, out ? out : "");
	free(out);
}

/* Requests the log holds of a method on resourceslices (code 0: any). */
static int count(const cJSON *log, const char *method, int code)
{
	int n = 0;
	const cJSON *r;
	cJSON_ArrayForEach(r, log)
	{
		const cJSON *m = get(r, "method"), *p = get(r, "path"), *c = get(r, "code");
		if (cJSON_IsString(m) && !strcmp(m->valuestring, method) && cJSON_IsString(p) &&
		    strstr(p->valuestring, "/resourceslices") && (!code || (cJSON_IsNumber(c) && c->valueint == code)))
			n++;
	}
	return n;
}

static int writes(const cJSON *log)
{
	return count(log, "POST", 0) + count(log, "PUT", 0) + count(log, "DELETE", 0) + count(log, "PATCH", 0);
}

/* What kubelet does when it starts, or 30 s after the plugin went away. */
static void kubelet_wipes_the_node(void)
{
	int code = 0;
	cJSON *j = kyt_apiserver_request(api, "DELETE", SLICES "?fieldSelector=spec.nodeName%3D" NODE, NULL, &code);
	cr_assert_eq(code, 200);
	cr_assert_gt(cJSON_GetArraySize(get(j, "items")), 0, "kubelet found nothing to delete");
	cJSON_Delete(j);
}

/* ---- tests ---- */

Test(dra_publish, three_hundred_devices_are_three_slices_the_server_accepts)
{
	standin(NULL);
	int code = 0;
	cJSON *n = kyt_apiserver_request(api, "POST", "/api/v1/nodes",
					 "{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"" NODE "\"}}",
					 &code);
	cr_assert_eq(code, 201);
	char node_uid[64];
	snprintf(node_uid, sizeof(node_uid), "%s", get(n, "metadata.uid")->valuestring);
	cJSON_Delete(n);

	/* Unhealthy devices left out: slices of 128 (64 where they may carry
	 * taints, see dra_slices.h). */
	struct dra_publish_opts o = opts_default();
	o.no_owner = false;
	o.unhealthy = DRA_UNHEALTHY_OMIT;
	publisher(&o);
	struct dra_dev *d = vfs(300);
	set(d, 300);
	wait_published(0);
	struct dra_publish_stats s = stats();
	cr_assert_eq(s.creates, 3);
	cr_assert_eq(s.errors, 0);
	cr_assert_eq(s.generation, 1);

	cJSON *items = server_slices();
	cr_assert_eq(cJSON_GetArraySize(items), 3);
	cr_assert_eq(server_device_count(items), 300);
	const cJSON *sl;
	cJSON_ArrayForEach(sl, items)
	{
		cr_assert_eq(get(sl, "spec.pool.resourceSliceCount")->valuedouble, 3);
		cr_assert_eq(get(sl, "spec.pool.generation")->valuedouble, 1);
		cr_assert_str_eq(get(sl, "spec.pool.name")->valuestring, NODE);
		cr_assert_str_eq(get(cJSON_GetArrayItem(get(sl, "metadata.ownerReferences"), 0), "uid")->valuestring,
				 node_uid);
		long idx = dra_slice_index(get(sl, "metadata.name")->valuestring, 5);
		cr_assert(idx >= 0 && idx < 3, "%s", get(sl, "metadata.name")->valuestring);
	}
	/* Exactly the devices given. */
	for (size_t i = 0; i < 300; i++) {
		char name[DRA_NAME_MAX + 1];
		dra_dev_name(&d[i], -1, name);
		const cJSON *dev = server_device(items, name);
		cr_assert_not_null(dev, "%s not published", name);
		cr_assert_str_eq(get(dev, "attributes.pciAddress.string")->valuestring, d[i].addr);
	}
	cJSON_Delete(items);
	/* The server's validation passed everything: no 422, no retry. */
	cJSON *log = request_log();
	cr_assert_eq(count(log, "POST", 201), 3);
	cr_assert_eq(count(log, "POST", 422), 0);
	cJSON_Delete(log);
	free(d);
}

Test(dra_publish, nothing_changed_writes_nothing_and_a_set_is_idempotent)
{
	standin(NULL);
	publisher(&(struct dra_publish_opts){ .no_owner = true });
	struct dra_dev *d = vfs(200);
	set(d, 200);
	wait_published(0);
	clear_log();
	/* The same devices again, then in another order, then bookmarks and
	 * a watch closed and resumed (events that make it compare again). */
	set(d, 200);
	struct dra_dev *r = vfs(200);
	for (size_t i = 0; i < 100; i++) {
		struct dra_dev t = r[i];
		r[i] = r[199 - i];
		r[199 - i] = t;
	}
	set(r, 200);
	control("bookmark");
	control("close-watches");
	run_for(1500);
	cJSON *log = request_log();
	cr_assert_eq(writes(log), 0, "an unchanged pool was written");
	cr_assert(dra_publish_in_step(pub));
	cJSON_Delete(log);
	cr_assert_eq(stats().creates, 4);
	cr_assert_eq(stats().updates, 0);
	free(d);
	free(r);
}

Test(dra_publish, unhealthy_device_gets_a_taint_in_one_update_and_loses_it_again)
{
	standin(NULL);
	publisher(&(struct dra_publish_opts){ .no_owner = true });
	struct dra_dev *d = vfs(300);
	set(d, 300);
	wait_published(0);
	clear_log();
	d[4].healthy = false;
	d[4].unhealthy_reason = "driver-unbound";
	char name[DRA_NAME_MAX + 1];
	dra_dev_name(&d[4], -1, name);
	unsigned before = stats().publishes;
	set(d, 300);
	wait_published(before);
	cJSON *items = server_slices();
	const cJSON *t = cJSON_GetArrayItem(get(server_device(items, name), "taints"), 0);
	cr_assert_not_null(t);
	cr_assert_str_eq(get(t, "key")->valuestring, "kyborg.io/unhealthy");
	cr_assert_str_eq(get(t, "value")->valuestring, "driver-unbound");
	cr_assert_str_eq(get(t, "effect")->valuestring, "NoSchedule");
	/* Of five slices one changed: one update, the generation kept. */
	cr_assert_eq(cJSON_GetArraySize(items), 5);
	const cJSON *sl;
	cJSON_ArrayForEach(sl, items)
		cr_assert_eq(get(sl, "spec.pool.generation")->valuedouble, 1);
	cJSON_Delete(items);
	cJSON *log = request_log();
	cr_assert_eq(writes(log), 1);
	cr_assert_eq(count(log, "PUT", 200), 1);
	cJSON_Delete(log);

	before = stats().publishes;
	d[4].healthy = true;
	d[4].unhealthy_reason = NULL;
	set(d, 300);
	wait_published(before);
	items = server_slices();
	cr_assert_null(get(server_device(items, name), "taints"));
	cJSON_Delete(items);
	free(d);
}

Test(dra_publish, unhealthy_device_is_left_out_where_the_server_drops_taints)
{
	/* A cluster without DRADeviceTaints drops the field without an error. */
	const char *extra[] = { "--feature-gates", "DRADeviceTaints=false", NULL };
	standin(extra);
	publisher(&(struct dra_publish_opts){ .no_owner = true });
	struct dra_dev *d = vfs(10);
	d[4].healthy = false;
	char name[DRA_NAME_MAX + 1];
	dra_dev_name(&d[4], -1, name);
	set(d, 10);
	wait_published(0);
	cr_assert_not(stats().taints, "still publishing taints");
	cJSON *items = server_slices();
	cr_assert_null(server_device(items, name), "an unhealthy device was published untainted");
	cr_assert_eq(server_device_count(items), 9);
	cJSON_Delete(items);
	/* And it stays that way: no loop against the server. */
	clear_log();
	run_for(800);
	cJSON *log = request_log();
	cr_assert_eq(writes(log), 0);
	cJSON_Delete(log);
	free(d);
}

Test(dra_publish, unhealthy_device_is_left_out_when_asked)
{
	standin(NULL);
	publisher(&(struct dra_publish_opts){ .no_owner = true, .unhealthy = DRA_UNHEALTHY_OMIT });
	struct dra_dev *d = vfs(10);
	d[0].healthy = false;
	set(d, 10);
	wait_published(0);
	cJSON *items = server_slices();
	cr_assert_eq(server_device_count(items), 9);
	cJSON_Delete(items);
	free(d);
}

Test(dra_publish, shared_gpu_is_one_consumable_device_or_split_where_the_server_cannot)
{
	standin(NULL);
	publisher(&(struct dra_publish_opts){ .no_owner = true });
	struct dra_dev g = gpu("0000:3b:00.0", 4);
	set(&g, 1);
	wait_published(0);
	cJSON *items = server_slices();
	const cJSON *dev = server_device(items, "gpu-0000-3b-00-0");
	cr_assert_not_null(dev);
	cr_assert(cJSON_IsTrue(get(dev, "allowMultipleAllocations")));
	cr_assert_str_eq(get(dev, "capacity.shares.value")->valuestring, "4");
	cJSON_Delete(items);
	dra_publish_free(pub);
	pub = NULL;
	ky_k8s_client_free(client);
	client = NULL;
	kyt_apiserver_stop(api);

	const char *extra[] = { "--feature-gates", "DRAConsumableCapacity=false", NULL };
	standin(extra);
	publisher(&(struct dra_publish_opts){ .no_owner = true });
	set(&g, 1);
	wait_published(0);
	cr_assert_not(stats().consumable);
	items = server_slices();
	cr_assert_eq(server_device_count(items), 4);
	cr_assert_null(server_device(items, "gpu-0000-3b-00-0"));
	for (int i = 0; i < 4; i++) {
		char name[32];
		snprintf(name, sizeof(name), "gpu-0000-3b-00-0-r%d", i);
		dev = server_device(items, name);
		cr_assert_not_null(dev, "%s", name);
		cr_assert_null(get(dev, "allowMultipleAllocations"));
	}
	cJSON_Delete(items);
}

Test(dra_publish, slices_kubelet_deletes_are_published_again)
{
	standin(NULL);
	publisher(&(struct dra_publish_opts){ .no_owner = true });
	struct dra_dev *d = vfs(300);
	set(d, 300);
	wait_published(0);
	cJSON *old = server_slices();
	unsigned before = stats().publishes;
	kubelet_wipes_the_node();
	wait_published(before);
	cJSON *items = server_slices();
	cr_assert_eq(cJSON_GetArraySize(items), 5, "64 a slice where devices may be tainted");
	cr_assert_eq(server_device_count(items), 300);
	/* New objects (kubelet deleted the old ones), all of one generation:
	 * which one depends on how many of kubelet's deletions one round saw. */
	const cJSON *s;
	double gen = get(cJSON_GetArrayItem(items, 0), "spec.pool.generation")->valuedouble;
	cJSON_ArrayForEach(s, items)
	{
		const cJSON *o;
		cJSON_ArrayForEach(o, old)
			cr_assert_str_neq(get(s, "metadata.uid")->valuestring, get(o, "metadata.uid")->valuestring);
		cr_assert_eq(get(s, "spec.pool.generation")->valuedouble, gen);
		cr_assert_eq(get(s, "spec.pool.resourceSliceCount")->valuedouble, 5);
	}
	cJSON_Delete(items);
	cJSON_Delete(old);
	free(d);
}

static bool server_has_slices(void *n)
{
	cJSON *items = server_slices();
	bool r = cJSON_GetArraySize(items) >= *(int *)n;
	cJSON_Delete(items);
	return r;
}

static bool server_has_devices(void *n)
{
	cJSON *items = server_slices();
	bool r = server_device_count(items) == *(size_t *)n;
	cJSON_Delete(items);
	return r;
}

/* Kubelet's deletion can reach the watch before the answer to the create
 * it deleted: the late answer must not bring the slice back into what the
 * publisher believes the server has. */
Test(dra_publish, a_slice_deleted_before_its_create_is_answered_is_created_again)
{
	standin(NULL);
	publisher(&(struct dra_publish_opts){ .no_owner = true });
	struct dra_dev *d = vfs(5);
	control("delay?seconds=1&method=POST&after=1&count=1");
	set(d, 5);
	int one = 1;
	cr_assert(run_until(server_has_slices, &one, T), "the create was not stored");
	kubelet_wipes_the_node();
	size_t five = 5;
	cr_assert(run_until(server_has_devices, &five, T), "the slice kubelet deleted was not created again");
	wait_published(0);
	cJSON *log = request_log();
	cr_assert_eq(count(log, "POST", 201), 2);
	cJSON_Delete(log);
	free(d);
}

Test(dra_publish, api_server_down_at_start_is_waited_for)
{
	int port = kyt_free_port();
	char url[64], port_arg[16], ca[512], token[512];
	snprintf(url, sizeof(url), "https://127.0.0.1:%d", port);
	snprintf(port_arg, sizeof(port_arg), "%d", port);
	snprintf(ca, sizeof(ca), "%s/certs/ca.crt", dir);
	snprintf(token, sizeof(token), "%s/tokens", dir);
	cr_assert_eq(kyt_write_file(token, "kyborg-test-token\n"), 0);
	make_client(url, ca, token);
	publisher(&(struct dra_publish_opts){ .no_owner = true, .backoff_initial_ms = 50, .backoff_max_ms = 300,
					       .failed = on_failed });
	struct dra_dev *d = vfs(5);
	set(d, 5);
	run_for(700);
	cr_assert_not(dra_publish_in_step(pub));
	cr_assert_gt(failures, 1, "no retry while the server was down");
	const char *extra[] = { "--port", port_arg, NULL };
	standin(extra);
	wait_published(0);
	cJSON *items = server_slices();
	cr_assert_eq(server_device_count(items), 5);
	cJSON_Delete(items);
	free(d);
}

Test(dra_publish, a_watch_the_server_closes_is_resumed)
{
	standin(NULL);
	publisher(&(struct dra_publish_opts){ .no_owner = true });
	struct dra_dev *d = vfs(20);
	set(d, 20);
	wait_published(0);
	control("close-watches");
	run_for(300);
	/* Only a resumed watch hears kubelet. */
	unsigned before = stats().publishes;
	kubelet_wipes_the_node();
	wait_published(before);
	cr_assert_eq(stats().lists, 1, "resumed from its version, not listed again");
	cJSON *items = server_slices();
	cr_assert_eq(server_device_count(items), 20);
	cJSON_Delete(items);
	free(d);
}

static bool expired_seen(void *arg)
{
	(void)arg;
	return stats().expired > 0 && stats().lists >= 2;
}

Test(dra_publish, expired_history_lists_again_and_still_hears_kubelet)
{
	standin(NULL);
	publisher(&(struct dra_publish_opts){ .no_owner = true });
	struct dra_dev *d = vfs(20);
	set(d, 20);
	wait_published(0);
	/* Unrelated writes move the version on, then history before it is
	 * gone: the resumed watch gets the 410 ERROR event and lists again. */
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
	cr_assert(run_until(expired_seen, NULL, T), "no 410 and list again (expired %u, lists %u)", stats().expired,
		  stats().lists);
	unsigned before = stats().publishes;
	kubelet_wipes_the_node();
	wait_published(before);
	cJSON *items = server_slices();
	cr_assert_eq(server_device_count(items), 20);
	cJSON_Delete(items);
	free(d);
}

Test(dra_publish, conflict_is_read_again_and_retried)
{
	standin(NULL);
	publisher(&(struct dra_publish_opts){ .no_owner = true });
	struct dra_dev *d = vfs(10);
	set(d, 10);
	wait_published(0);
	clear_log();
	control("fail?code=409&method=PUT&reason=Conflict&count=1");
	d[0].healthy = false;
	unsigned before = stats().publishes;
	set(d, 10);
	wait_published(before);
	cr_assert_eq(stats().conflicts, 1);
	cJSON *log = request_log();
	cr_assert_eq(count(log, "PUT", 409), 1);
	cr_assert_eq(count(log, "PUT", 200), 1);
	/* The slice was read again between the two. */
	int gets = 0, seen_409 = 0;
	const cJSON *r;
	cJSON_ArrayForEach(r, log)
	{
		const char *m = get(r, "method")->valuestring, *p = get(r, "path")->valuestring;
		if (!strcmp(m, "PUT") && get(r, "code")->valueint == 409)
			seen_409 = 1;
		else if (seen_409 && !strcmp(m, "GET") && strncmp(p, SLICES "/", strlen(SLICES "/")) == 0)
			gets++;
	}
	cr_assert_eq(gets, 1, "no fresh read after the 409");
	cJSON_Delete(log);
	free(d);
}

Test(dra_publish, server_errors_are_retried_after_a_backoff)
{
	standin(NULL);
	control("fail?code=503&method=POST&count=3");
	publisher(&(struct dra_publish_opts){ .no_owner = true, .backoff_initial_ms = 50, .backoff_max_ms = 200,
					       .failed = on_failed });
	struct dra_dev *d = vfs(5);
	set(d, 5);
	wait_published(0);
	cr_assert_eq(stats().errors, 3);
	cr_assert_eq(failures, 3);
	cJSON *log = request_log();
	cr_assert_eq(count(log, "POST", 503), 3);
	cr_assert_eq(count(log, "POST", 201), 1);
	cJSON_Delete(log);
	free(d);
}

Test(dra_publish, rotated_token_is_read_again)
{
	standin(NULL);
	publisher(&(struct dra_publish_opts){ .no_owner = true });
	struct dra_dev *d = vfs(5);
	set(d, 5);
	wait_published(0);
	/* The projected token rotates: the server accepts only the new one. */
	cr_assert_eq(kyt_write_file(api->token_file, "rotated-token\n"), 0);
	clear_log();
	d[1].healthy = false;
	unsigned before = stats().publishes;
	set(d, 5);
	wait_published(before);
	cJSON *log = request_log();
	const cJSON *r;
	int bad = 0, ok_put = 0;
	cJSON_ArrayForEach(r, log)
	{
		if (!strcmp(get(r, "method")->valuestring, "PUT")) {
			bad += !strcmp(get(r, "auth")->valuestring, "bad");
			ok_put += !strcmp(get(r, "auth")->valuestring, "ok") && get(r, "code")->valueint == 200;
		}
	}
	cr_assert_eq(bad, 1, "the old token was not tried first");
	cr_assert_eq(ok_put, 1);
	cJSON_Delete(log);
	free(d);
}

Test(dra_publish, a_restarted_driver_adopts_its_slices_without_writing)
{
	standin(NULL);
	publisher(&(struct dra_publish_opts){ .no_owner = true });
	struct dra_dev *d = vfs(300);
	set(d, 300);
	wait_published(0);
	dra_publish_free(pub);
	pub = NULL;
	clear_log();
	publisher(&(struct dra_publish_opts){ .no_owner = true });
	set(d, 300);
	wait_published(0);
	cJSON *log = request_log();
	cr_assert_eq(writes(log), 0);
	cr_assert_eq(stats().generation, 1);
	cJSON_Delete(log);
	free(d);
}

Test(dra_publish, slices_of_the_old_naming_are_replaced)
{
	standin(NULL);
	/* A slice as the 1.35 helper named it, of this driver and node. */
	int code = 0;
	cJSON_Delete(kyt_apiserver_request(
		api, "POST", SLICES,
		"{\"apiVersion\":\"resource.k8s.io/v1\",\"kind\":\"ResourceSlice\",\"metadata\":{\"name\":"
		"\"node-a-kyborg.io-x7k2p\"},\"spec\":{\"driver\":\"kyborg.io\",\"nodeName\":\"node-a\",\"pool\":{"
		"\"name\":\"node-a\",\"generation\":4,\"resourceSliceCount\":1},\"devices\":[{\"name\":\"gone\"}]}}",
		&code));
	cr_assert_eq(code, 201);
	publisher(&(struct dra_publish_opts){ .no_owner = true });
	struct dra_dev *d = vfs(5);
	set(d, 5);
	wait_published(0);
	cJSON *items = server_slices();
	cr_assert_eq(cJSON_GetArraySize(items), 1);
	cr_assert_null(server_device(items, "gone"));
	cr_assert_eq(dra_slice_index(get(cJSON_GetArrayItem(items, 0), "metadata.name")->valuestring, 5), 0);
	cr_assert_eq(get(cJSON_GetArrayItem(items, 0), "spec.pool.generation")->valuedouble, 5);
	cJSON_Delete(items);
	free(d);
}

Test(dra_publish, a_bad_set_is_refused_by_name_and_changes_nothing)
{
	standin(NULL);
	publisher(&(struct dra_publish_opts){ .no_owner = true });
	struct dra_dev *d = vfs(5);
	set(d, 5);
	wait_published(0);
	d[4] = d[0];
	struct ky_error *e = NULL;
	cr_assert_eq(dra_publish_set(pub, d, 5, &e), -EINVAL);
	cr_assert(strstr(ky_error_msg(e), "device vf-0000-20-00-0: published twice"), "%s", ky_error_msg(e));
	ky_error_free(e);
	cr_assert(dra_publish_in_step(pub));
	clear_log();
	run_for(300);
	cJSON *log = request_log();
	cr_assert_eq(writes(log), 0);
	cJSON_Delete(log);
	free(d);
}

static bool flag(void *b)
{
	return *(bool *)b;
}

static void on_stopped(void *b)
{
	*(bool *)b = true;
}

Test(dra_publish, stop_keeps_the_slices_unless_asked_to_delete_them)
{
	standin(NULL);
	publisher(&(struct dra_publish_opts){ .no_owner = true });
	struct dra_dev *d = vfs(200);
	set(d, 200);
	wait_published(0);
	bool stopped = false;
	dra_publish_stop(pub, false, on_stopped, &stopped);
	cr_assert_not(stopped, "called back from inside the call");
	cr_assert(run_until(flag, &stopped, T));
	cJSON *items = server_slices();
	cr_assert_eq(cJSON_GetArraySize(items), 4, "the helper keeps them; kubelet wipes them after 30 s");
	cJSON_Delete(items);
	dra_publish_free(pub);
	pub = NULL;

	publisher(&(struct dra_publish_opts){ .no_owner = true });
	set(d, 200);
	wait_published(0);
	stopped = false;
	dra_publish_stop(pub, true, on_stopped, &stopped);
	cr_assert(run_until(flag, &stopped, T));
	items = server_slices();
	cr_assert_eq(cJSON_GetArraySize(items), 0);
	cJSON_Delete(items);
	free(d);
}

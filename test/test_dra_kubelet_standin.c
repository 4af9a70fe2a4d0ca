/* The kubelet stand-in (test/grpc/dra_kubelet.py) checked against what
 * kubelet does, before kyborg-dra-driver's tests rely on it. Its peer here is
 * a fake DRA plugin in Python (test/grpc/dra_plugin_fake.py), and the
 * kube-apiserver stand-in (test/standin/kube_apiserver.py) where kubelet
 * talks to the API server: both stand-ins, named as such. */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kyborg/base/cleanup.h"
#include "kyborg/json/json.h"
#include "kytest.h"
#include "kytest_dra.h"
#include "kytest_proc.h"

#define PYTHON "/usr/bin/python3"
#define DRIVER "fake.kyborg.io"
#define T 15000

static char *dir, *reg_dir, *plugin_dir, *fake_log;
static struct kyt_dra_kubelet *kubelet;
static struct kyt_apiserver *api;

static char *in_dir(const char *base, const char *name)
{
	char *p;
	cr_assert_geq(asprintf(&p, "%s/%s", base, name), 0);
	return p;
}

static void setup(void)
{
	dir = kyt_tmpdir("kydrak");
	cr_assert_not_null(dir);
	reg_dir = in_dir(dir, "plugins_registry");
	plugin_dir = in_dir(dir, "plugins/" DRIVER);
	fake_log = in_dir(dir, "fake.log");
	cr_assert_eq(mkdir(reg_dir, 0750), 0);
}

static void teardown(void)
{
	kyt_dra_kubelet_stop(kubelet);
	kubelet = NULL;
	kyt_apiserver_stop(api);
	api = NULL;
	kyt_children_kill_all();
	kyt_rmrf(dir);
	free(dir);
	free(reg_dir);
	free(plugin_dir);
	free(fake_log);
}

TestSuite(dra_kubelet_standin, .init = setup, .fini = teardown, .timeout = 120);

static void start_kubelet(const char *const extra[])
{
	kubelet = kyt_dra_kubelet_start(KYTEST_GRPC_DIR "/dra_kubelet.py", KYTEST_DRA_DESC, reg_dir, extra);
}

/* The fake plugin with extra flags (NULL-terminated). */
static struct kyt_child *start_plugin(const char *const extra[])
{
	const char *argv[32] = { PYTHON, KYTEST_GRPC_DIR "/dra_plugin_fake.py", "--desc", KYTEST_DRA_DESC,
				 "--registration-dir", reg_dir, "--plugin-dir", plugin_dir, "--driver", DRIVER,
				 "--log", fake_log };
	int n = 12;
	for (int i = 0; extra && extra[i] && n < 31; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	return kyt_child_start(argv, -1, true);
}

static void stop_plugin(struct kyt_child *p)
{
	kill(p->pid, SIGTERM);
	cr_assert(kyt_wait_until(kyt_child_done_cond, p, 10000), "the fake plugin stops on SIGTERM");
}

static const char *str(const cJSON *o, const char *path)
{
	const cJSON *v = o;
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *save = NULL, *key = strtok_r(buf, ".", &save); key; key = strtok_r(NULL, ".", &save))
		v = cJSON_GetObjectItemCaseSensitive(v, key);
	cr_assert(cJSON_IsString(v), "%s is not a string", path);
	return v->valuestring;
}

static int fake_log_count(const char *needle)
{
	_cleanup_free_ char *text = kyt_read_file(fake_log);
	int n = 0;
	for (const char *p = text; p && (p = strstr(p, needle)); p++)
		n++;
	return n;
}

Test(dra_kubelet_standin, registers_with_the_first_service_of_the_plugins_list_that_kubelet_supports)
{
	start_kubelet(NULL);
	struct kyt_child *p = start_plugin((const char *[]){ "--versions", "v1beta1.DRAPlugin,v1.DRAPlugin", NULL });
	_cleanup_(cJSON_Deletep) cJSON *r = kyt_dra_kubelet_ok(kubelet, T, "wait registered driver=" DRIVER " timeout=10000");
	cr_assert_str_eq(str(r, "event.service"), "v1beta1.DRAPlugin");
	cr_assert(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetObjectItem(r, "event"), "health_service")),
		  "no health stream for a plugin that lists no health service");
	_cleanup_free_ char *endpoint = in_dir(plugin_dir, "dra.sock");
	cr_assert_str_eq(str(r, "event.endpoint"), endpoint);
	cr_assert_eq(fake_log_count("\"registered\": true"), 1, "NotifyRegistrationStatus(true) reached the plugin");
	stop_plugin(p);
	_cleanup_(cJSON_Deletep) cJSON *d = kyt_dra_kubelet_ok(kubelet, T, "wait deregistered driver=" DRIVER);
	cr_assert_str_eq(str(d, "event.reason"), "socket removed");
}

Test(dra_kubelet_standin, refuses_a_wrong_type_or_unknown_versions_and_tells_the_plugin_why)
{
	start_kubelet(NULL);
	struct kyt_child *p = start_plugin((const char *[]){ "--type", "CSIPlugin", NULL });
	_cleanup_(cJSON_Deletep) cJSON *r = kyt_dra_kubelet_ok(kubelet, T, "wait registration_failed timeout=10000");
	cr_assert(strstr(str(r, "event.error"), "no handler registered for plugin type: CSIPlugin at socket"), "%s",
		  str(r, "event.error"));
	cr_assert_eq(fake_log_count("\"registered\": false"), 1, "the plugin was told it was refused");
	stop_plugin(p);

	p = start_plugin((const char *[]){ "--versions", "v2.DRAPlugin", NULL });
	_cleanup_(cJSON_Deletep) cJSON *r2 = kyt_dra_kubelet_ok(
		kubelet, T, "wait registration_failed after=%d timeout=10000",
		cJSON_GetObjectItem(cJSON_GetObjectItem(r, "event"), "seq")->valueint + 1);
	cr_assert(strstr(str(r2, "event.error"), "none of services supported by the plugin ([\"v2.DRAPlugin\"]) are "
						 "supported by the kubelet ([\"v1.DRAPlugin\" \"v1beta1.DRAPlugin\"])"),
		  "%s", str(r2, "event.error"));
	stop_plugin(p);
}

Test(dra_kubelet_standin, a_getinfo_slower_than_one_second_fails_and_is_retried)
{
	start_kubelet(NULL);
	start_plugin((const char *[]){ "--getinfo-delay", "1.5", NULL });
	_cleanup_(cJSON_Deletep) cJSON *r = kyt_dra_kubelet_ok(kubelet, T, "wait registration_failed timeout=10000");
	cr_assert(strstr(str(r, "event.error"), "failed to get plugin info using RPC GetInfo"), "%s", str(r, "event.error"));
	cr_assert(strstr(str(r, "event.error"), "code = DeadlineExceeded"), "%s", str(r, "event.error"));
	_cleanup_(cJSON_Deletep) cJSON *again = kyt_dra_kubelet_ok(kubelet, T, "wait registration_failed after=%d timeout=10000",
								    cJSON_GetObjectItem(cJSON_GetObjectItem(r, "event"), "seq")->valueint);
	cr_assert_geq(fake_log_count("\"GetInfo\""), 2, "kubelet retries a failed registration");
}

Test(dra_kubelet_standin, prepares_per_claim_through_v1_and_reports_what_kubelet_would)
{
	start_kubelet(NULL);
	start_plugin((const char *[]){ "--device", "node-a/gpu-0", NULL });
	_cleanup_(cJSON_Deletep) cJSON *reg = kyt_dra_kubelet_ok(kubelet, T, "wait registered driver=" DRIVER " timeout=10000");
	cr_assert_str_eq(str(reg, "event.service"), "v1.DRAPlugin");

	_cleanup_(cJSON_Deletep) cJSON *ok = kyt_dra_kubelet_ok(kubelet, T, "prepare " DRIVER " ns1/gpu/uid-1");
	const cJSON *dev = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(ok, "claims"), "uid-1"), "devices"), 0);
	cr_assert_not_null(dev);
	cr_assert_str_eq(str(dev, "pool"), "node-a");
	cr_assert_str_eq(str(dev, "device"), "gpu-0");
	cr_assert_str_eq(str(dev, "share_id"), "share-uid-1");
	cr_assert_str_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(dev, "cdi"), 0)->valuestring, DRIVER "/fake=uid-1-gpu-0");

	_cleanup_(cJSON_Deletep) cJSON *bad = kyt_dra_kubelet_cmd(kubelet, T, "prepare " DRIVER " ns1/gpu/uid-1 ns1/fail-x/uid-2");
	cr_assert(cJSON_IsFalse(cJSON_GetObjectItem(bad, "ok")));
	cr_assert_str_eq(str(bad, "error"), "NodePrepareResources failed for ResourceClaim fail-x: claim ns1/fail-x: refused by the fake");
	cr_assert_str_eq(str(bad, "claims.uid-1.error"), "", "the other claim in the same call still succeeded");

	_cleanup_(cJSON_Deletep) cJSON *skip = kyt_dra_kubelet_cmd(kubelet, T, "prepare " DRIVER " ns1/skip-x/uid-3");
	cr_assert_str_eq(str(skip, "error"), "NodePrepareResources skipped 1 ResourceClaims");

	_cleanup_(cJSON_Deletep) cJSON *un = kyt_dra_kubelet_ok(kubelet, T, "unprepare " DRIVER " ns1/gpu/uid-1");
	_cleanup_(cJSON_Deletep) cJSON *none = kyt_dra_kubelet_cmd(kubelet, T, "prepare other.io ns1/gpu/uid-1");
	cr_assert_str_eq(str(none, "error"), "DRA driver other.io is not registered");
}

Test(dra_kubelet_standin, uses_v1beta1_when_the_plugin_only_serves_that)
{
	start_kubelet(NULL);
	start_plugin((const char *[]){ "--versions", "v1beta1.DRAPlugin", NULL });
	_cleanup_(cJSON_Deletep) cJSON *reg = kyt_dra_kubelet_ok(kubelet, T, "wait registered driver=" DRIVER " timeout=10000");
	_cleanup_(cJSON_Deletep) cJSON *ok = kyt_dra_kubelet_ok(kubelet, T, "prepare " DRIVER " ns1/gpu/uid-1");
	cr_assert_str_eq(str(ok, "service"), "v1beta1.DRAPlugin");
	cr_assert_eq(fake_log_count("\"version\": \"v1beta1\""), 1, "the call went to the v1beta1 service");
	const cJSON *dev = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(ok, "claims"), "uid-1"), "devices"), 0);
	cr_assert(cJSON_IsNull(cJSON_GetObjectItem(dev, "share_id")), "v1beta1 has no share_id");
}

Test(dra_kubelet_standin, follows_the_health_stream_of_a_plugin_that_lists_it)
{
	start_kubelet(NULL);
	start_plugin((const char *[]){ "--device", "node-a/gpu-0", "--device", "node-a/sick-1", NULL });
	_cleanup_(cJSON_Deletep) cJSON *reg = kyt_dra_kubelet_ok(kubelet, T, "wait registered driver=" DRIVER " timeout=10000");
	cr_assert_str_eq(str(reg, "event.health_service"), "v1alpha1.DRAResourceHealth");
	_cleanup_(cJSON_Deletep) cJSON *h = kyt_dra_kubelet_ok(kubelet, T, "wait health driver=" DRIVER " timeout=10000");
	_cleanup_(cJSON_Deletep) cJSON *view = kyt_dra_kubelet_ok(kubelet, T, "health " DRIVER);
	const cJSON *devs = cJSON_GetObjectItem(view, "devices");
	cr_assert_eq(cJSON_GetArraySize(devs), 2);
	cr_assert_str_eq(str(cJSON_GetArrayItem(devs, 0), "health"), "HEALTHY");
	cr_assert_str_eq(str(cJSON_GetArrayItem(devs, 1), "health"), "UNHEALTHY");
}

Test(dra_kubelet_standin, wipes_the_nodes_slices_at_start_and_a_gone_drivers_after_the_delay)
{
	_cleanup_free_ char *api_dir = in_dir(dir, "api");
	cr_assert_eq(mkdir(api_dir, 0700), 0);
	api = kyt_apiserver_start(KYTEST_STANDIN_DIR "/kube_apiserver.py", api_dir, NULL);
	static const char *slice_fmt =
		"{\"apiVersion\":\"resource.k8s.io/v1\",\"kind\":\"ResourceSlice\",\"metadata\":{\"name\":\"%s\"},"
		"\"spec\":{\"driver\":\"%s\",\"nodeName\":\"%s\",\"pool\":{\"name\":\"%s\",\"generation\":1,"
		"\"resourceSliceCount\":1},\"devices\":[{\"name\":\"gpu-0\"}]}}";
	char body[512];
	int code = 0;
	const char *const slices[][3] = { { "a1", DRIVER, "node-a" }, { "a2", "other.io", "node-a" }, { "b1", DRIVER, "node-b" } };
	for (int i = 0; i < 3; i++) {
		snprintf(body, sizeof(body), slice_fmt, slices[i][0], slices[i][1], slices[i][2], slices[i][2]);
		_cleanup_(cJSON_Deletep) cJSON *c = kyt_apiserver_request(api, "POST", "/apis/resource.k8s.io/v1/resourceslices", body, &code);
		cr_assert_eq(code, 201);
	}
	start_kubelet((const char *[]){ "--node-name", "node-a", "--api-server", api->url, "--token-file", api->token_file,
					"--ca-file", api->ca_file, "--wipe-delay", "1", NULL });
	_cleanup_(cJSON_Deletep) cJSON *w0 = kyt_dra_kubelet_ok(kubelet, T, "wait wiped driver= timeout=10000");
	cr_assert_str_eq(str(w0, "event.selector"), "spec.nodeName=node-a");
	_cleanup_(cJSON_Deletep) cJSON *l0 = kyt_apiserver_request(api, "GET", "/apis/resource.k8s.io/v1/resourceslices", NULL, &code);
	cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(l0, "items")), 1, "only node-b's slice is left after the start");

	snprintf(body, sizeof(body), slice_fmt, "a3", DRIVER, "node-a", "node-a");
	_cleanup_(cJSON_Deletep) cJSON *c3 = kyt_apiserver_request(api, "POST", "/apis/resource.k8s.io/v1/resourceslices", body, &code);
	snprintf(body, sizeof(body), slice_fmt, "a4", "other.io", "node-a", "node-a");
	_cleanup_(cJSON_Deletep) cJSON *c4 = kyt_apiserver_request(api, "POST", "/apis/resource.k8s.io/v1/resourceslices", body, &code);
	struct kyt_child *p = start_plugin(NULL);
	_cleanup_(cJSON_Deletep) cJSON *con = kyt_dra_kubelet_ok(kubelet, T, "wait connected driver=" DRIVER " timeout=10000");
	stop_plugin(p);
	_cleanup_(cJSON_Deletep) cJSON *w1 = kyt_dra_kubelet_ok(kubelet, T, "wait wiped driver=" DRIVER " timeout=10000");
	cr_assert_str_eq(str(w1, "event.selector"), "spec.driver=" DRIVER ",spec.nodeName=node-a");
	_cleanup_(cJSON_Deletep) cJSON *l1 = kyt_apiserver_request(api, "GET",
		"/apis/resource.k8s.io/v1/resourceslices?fieldSelector=spec.nodeName%3Dnode-a", NULL, &code);
	cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(l1, "items")), 1);
	cr_assert_str_eq(str(cJSON_GetArrayItem(cJSON_GetObjectItem(l1, "items"), 0), "metadata.name"), "a4",
			 "the other driver's slice on the node stays");
}

Test(dra_kubelet_standin, a_plugin_back_within_the_delay_keeps_its_slices)
{
	_cleanup_free_ char *api_dir = in_dir(dir, "api");
	cr_assert_eq(mkdir(api_dir, 0700), 0);
	api = kyt_apiserver_start(KYTEST_STANDIN_DIR "/kube_apiserver.py", api_dir, NULL);
	start_kubelet((const char *[]){ "--node-name", "node-a", "--api-server", api->url, "--token-file", api->token_file,
					"--ca-file", api->ca_file, "--wipe-delay", "3", NULL });
	_cleanup_(cJSON_Deletep) cJSON *w0 = kyt_dra_kubelet_ok(kubelet, T, "wait wiped driver= timeout=10000");
	struct kyt_child *p = start_plugin(NULL);
	_cleanup_(cJSON_Deletep) cJSON *r1 = kyt_dra_kubelet_ok(kubelet, T, "wait connected driver=" DRIVER " timeout=10000");
	stop_plugin(p);
	_cleanup_(cJSON_Deletep) cJSON *gone = kyt_dra_kubelet_ok(kubelet, T, "wait deregistered driver=" DRIVER);
	p = start_plugin(NULL);
	int after = cJSON_GetObjectItem(cJSON_GetObjectItem(gone, "event"), "seq")->valueint;
	_cleanup_(cJSON_Deletep) cJSON *r2 = kyt_dra_kubelet_ok(kubelet, T, "wait connected driver=" DRIVER " after=%d timeout=10000", after);
	/* Past the 3 s delay: no wipe for the driver. */
	_cleanup_(cJSON_Deletep) cJSON *none = kyt_dra_kubelet_cmd(kubelet, T, "wait wiped driver=" DRIVER " timeout=4000");
	cr_assert(cJSON_IsFalse(cJSON_GetObjectItem(none, "ok")), "the wipe was cancelled by the new registration");
}

Test(dra_kubelet_standin, prepares_a_claim_from_the_api_and_unprepares_it_after_it_was_deleted)
{
	_cleanup_free_ char *api_dir = in_dir(dir, "api");
	cr_assert_eq(mkdir(api_dir, 0700), 0);
	api = kyt_apiserver_start(KYTEST_STANDIN_DIR "/kube_apiserver.py", api_dir, NULL);
	int code = 0;
	_cleanup_(cJSON_Deletep) cJSON *c = kyt_apiserver_request(api, "POST", "/apis/resource.k8s.io/v1/namespaces/ns1/resourceclaims",
		"{\"apiVersion\":\"resource.k8s.io/v1\",\"kind\":\"ResourceClaim\",\"metadata\":{\"name\":\"gpu\"},"
		"\"spec\":{\"devices\":{\"requests\":[{\"name\":\"req\",\"exactly\":{\"deviceClassName\":\"gpu\"}}]}}}", &code);
	cr_assert_eq(code, 201);
	cJSON *status = cJSON_Parse("{\"allocation\":{\"devices\":{\"results\":[{\"request\":\"req\",\"driver\":\"" DRIVER "\","
				    "\"pool\":\"node-a\",\"device\":\"gpu-0\"}]}}}");
	cJSON_AddItemToObject(c, "status", status);
	_cleanup_free_ char *text = cJSON_PrintUnformatted(c);
	_cleanup_(cJSON_Deletep) cJSON *s = kyt_apiserver_request(api, "PUT", "/apis/resource.k8s.io/v1/namespaces/ns1/resourceclaims/gpu/status", text, &code);
	cr_assert_eq(code, 200);
	start_kubelet((const char *[]){ "--api-server", api->url, "--token-file", api->token_file, "--ca-file", api->ca_file, NULL });
	start_plugin(NULL);
	_cleanup_(cJSON_Deletep) cJSON *reg = kyt_dra_kubelet_ok(kubelet, T, "wait registered driver=" DRIVER " timeout=10000");
	_cleanup_(cJSON_Deletep) cJSON *p = kyt_dra_kubelet_ok(kubelet, T, "prepare-claim ns1 gpu");
	cr_assert_str_eq(str(p, "uid"), str(c, "metadata.uid"), "kubelet sends the claim's UID from the API");
	_cleanup_(cJSON_Deletep) cJSON *d = kyt_apiserver_request(api, "DELETE", "/apis/resource.k8s.io/v1/namespaces/ns1/resourceclaims/gpu", NULL, &code);
	cr_assert_eq(code, 200);
	_cleanup_(cJSON_Deletep) cJSON *u = kyt_dra_kubelet_ok(kubelet, T, "unprepare-claim ns1 gpu");
	cr_assert_eq(fake_log_count("\"NodeUnprepareResources\""), 1);
}

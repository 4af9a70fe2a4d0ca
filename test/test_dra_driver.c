/* kyborg-dra-driver end to end: the driver runs against the simulated node
 * (an umockdev testbed it inherits with the preload) and the KUBELET
 * STAND-IN test/grpc/dra_kubelet.py (Debian's python3-grpcio, written from
 * kubelet's sources; no kubelet here) registers it, prepares and unprepares
 * claims and follows its health stream. Claims come from the driver's
 * STAND-IN claim source (--claims-dir: each ResourceClaim the object the API
 * server would answer, in a file), until the API client lands. */
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
#include "kytest_proc.h"
#include "kytest_simnode.h"

#define PYTHON "/usr/bin/python3"
#define DRIVER "kyborg.io"
#define NODE "node-a"
#define T 20000
#define AFU_NLB "d8424dc4a4a3c413f89e433683f9040b"
#define AFU_SYSFS "/sys/devices/pci0000:ae/0000:ae:00.0/0000:af:00.0/fpga_region/region0/dfl-port.0/afu_id"
#define GPU1_SYSPATH "/sys/devices/pci0000:85/0000:85:00.0/" KYT_SIM_GPU1
#define PF_SYSPATH "/sys/devices/pci0000:17/0000:17:00.0/" KYT_SIM_PF
#define BITSTREAM "nlb bitstream"

#define GPU0 "gpu-0000-3b-00-0"
#define GPU1 "gpu-0000-86-00-0"
#define FPGA "fpga-0000-af-00-0"
#define VF0 "vf-0000-18-01-0"
#define VF1 "vf-0000-18-01-1"

/* ---- fixture: a testbed, a temp dir, children killed and reaped ---- */

static UMockdevTestbed *tb;
static char pf_name[16];
static struct kyt_dra_dirs dirs;
static char *claims_dir, *bitstream, *loads_log;
static struct kyt_dra_kubelet *kubelet;
static struct kyt_apiserver *api;

static void setup(void)
{
	tb = kyt_simnode_testbed(pf_name, NULL);
	kyt_dra_dirs_init(&dirs, "kydra", DRIVER);
	claims_dir = kyt_path(dirs.dir, "claims");
	bitstream = kyt_path(dirs.dir, "nlb.gbs");
	loads_log = kyt_path(dirs.dir, "loads.log");
	cr_assert_eq(mkdir(claims_dir, 0700), 0);
	cr_assert_eq(kyt_write_file(bitstream, BITSTREAM), 0);
	char sha[KY_SHA256_HEX_LEN];
	ky_sha256_buf(BITSTREAM, strlen(BITSTREAM), sha);
	_cleanup_free_ char *text = NULL;
	cr_assert_geq(asprintf(&text,
			       "{ \"resources\": ["
			       " { \"name\": \"kyborg.io/gpu\", \"kind\": \"gpu\", \"frontend\": \"dra\","
			       "   \"selector\": { \"vendors\": [\"10de\"], \"devices\": [\"2330\"] },"
			       "   \"sharing\": { \"replicas\": 2 } },"
			       " { \"name\": \"kyborg.io/fpga-nlb\", \"kind\": \"fpga\", \"frontend\": \"dra\","
			       "   \"selector\": { \"vendors\": [\"8086\"], \"devices\": [\"0b30\"] },"
			       "   \"bitstream\": { \"id\": \"" AFU_NLB "\", \"path\": \"%s\", \"sha256\": \"%s\" },"
			       "   \"program\": [\"" PYTHON "\", \"" KYTEST_FPGA_LOADER "\", \"%s\", \"{sysfs}\", \"{id}\", \"{image}\"] },"
			       " { \"name\": \"kyborg.io/sriov-vf\", \"kind\": \"nic-vf\", \"frontend\": \"dra\","
			       "   \"selector\": { \"pfNames\": [\"%s\"], \"drivers\": [\"iavf\"] } } ] }",
			       bitstream, sha, loads_log, pf_name),
		      0);
	cr_assert_eq(kyt_write_file(dirs.config_path, text), 0);
}

static void teardown(void)
{
	kyt_dra_stop_all(&kubelet, &api);
	kyt_testbed_free(&tb);
	free(claims_dir);
	free(bitstream);
	free(loads_log);
	kyt_dra_dirs_free(&dirs);
}

TestSuite(dra_driver, .init = setup, .fini = teardown, .timeout = 150);

/* The driver, with KYBORG_FAULT=fault when fault is not NULL. */
static struct kyt_child *start_driver_fault(const char *fault)
{
	const char *extra[] = { "--claims-dir", claims_dir, "--fetch-helper", KYBORG_FETCH_BIN, "--log-level", "info", NULL };
	return kyt_dra_driver_start_fault(fault, KYBORG_DRA_BIN, &dirs, NODE, NULL, extra);
}

static struct kyt_child *start_driver(void)
{
	return start_driver_fault(NULL);
}

static void stop_driver(struct kyt_child *d)
{
	kyt_child_stop(d, "the driver", 10000);
}

static void start_kubelet(const char *const extra[])
{
	kubelet = kyt_dra_kubelet_start(KYTEST_GRPC_DIR "/dra_kubelet.py", KYTEST_DRA_DESC, dirs.reg_dir, extra);
}

/* ---- claims, as the API server would answer them ---- */

#define RESULT(request, device) \
	"{\"request\":\"" request "\",\"driver\":\"" DRIVER "\",\"pool\":\"" NODE "\",\"device\":\"" device "\"}"

static void write_claim_raw(const char *ns, const char *name, const char *text)
{
	kyt_dra_claim_write_raw(claims_dir, ns, name, text);
}

/* A ResourceClaim allocated with the given results (JSON objects, joined). */
static void write_claim(const char *ns, const char *name, const char *uid, const char *results)
{
	kyt_dra_claim_write(claims_dir, ns, name, uid, results, NULL);
}

static void delete_claim(const char *ns, const char *name)
{
	_cleanup_free_ char *file = NULL;
	cr_assert_geq(asprintf(&file, "%s/%s/%s.json", claims_dir, ns, name), 0);
	cr_assert_eq(unlink(file), 0);
}

static char *spec_path(const char *uid)
{
	return kyt_dra_spec_path(dirs.cdi_dir, DRIVER, uid);
}

static char *record_path(const char *uid)
{
	return kyt_dra_record_path(dirs.state_dir, uid);
}

static bool exists(const char *path)
{
	return access(path, F_OK) == 0;
}

/* Nothing of the claim is left on the node: no CDI spec, no record. */
static void assert_clean(const char *uid)
{
	kyt_dra_assert_clean(&dirs, DRIVER, uid);
}

static const cJSON *device_of(const cJSON *reply, const char *uid, int i)
{
	const cJSON *d = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(kyt_dra_claim_of(reply, uid), "devices"), i);
	cr_assert_not_null(d, "claim %s has no device %d: %s", uid, i, cJSON_PrintUnformatted(reply));
	return d;
}

static int loads(void)
{
	_cleanup_free_ char *text = kyt_read_file(loads_log);
	int n = 0;
	for (char *p = text; p && *p; p++)
		n += *p == '\n';
	return n;
}

static char *loaded_afu(void)
{
	char *id = kyt_read_file(AFU_SYSFS);
	cr_assert_not_null(id);
	id[strcspn(id, "\n")] = '\0';
	return id;
}

static bool env_has(const cJSON *spec, const char *entry)
{
	const cJSON *e;
	cJSON_ArrayForEach(e, kyt_json_at(spec, "containerEdits.env"))
	{
		if (cJSON_IsString(e) && strcmp(e->valuestring, entry) == 0)
			return true;
	}
	return false;
}

static bool node_of(const cJSON *spec, int device, const char *path)
{
	const cJSON *n;
	const cJSON *dev = cJSON_GetArrayItem(kyt_json_at(spec, "devices"), device);
	cJSON_ArrayForEach(n, kyt_json_at(dev, "containerEdits.deviceNodes"))
	{
		if (strcmp(kyt_json_str(n, "path"), path) == 0)
			return true;
	}
	return false;
}

/* ---- registration ---- */

Test(dra_driver, registers_with_v1_first_and_getinfo_names_the_dra_socket)
{
	start_kubelet(NULL);
	struct kyt_child *d = start_driver();
	_cleanup_(cJSON_Deletep) cJSON *r = kyt_dra_wait_registered(kubelet, DRIVER, 0);
	cr_assert_str_eq(kyt_json_str(r, "event.service"), "v1.DRAPlugin");
	_cleanup_free_ char *endpoint = kyt_path(dirs.plugin_dir, "dra.sock");
	_cleanup_free_ char *reg_sock = kyt_path(dirs.reg_dir, DRIVER "-reg.sock");
	cr_assert_str_eq(kyt_json_str(r, "event.endpoint"), endpoint);
	cr_assert_str_eq(kyt_json_str(r, "event.socket"), reg_sock);
	const cJSON *v = kyt_json_at(r, "event.versions");
	cr_assert_eq(cJSON_GetArraySize(v), 3);
	cr_assert_str_eq(cJSON_GetArrayItem(v, 0)->valuestring, "v1.DRAPlugin");
	cr_assert_str_eq(cJSON_GetArrayItem(v, 1)->valuestring, "v1beta1.DRAPlugin");
	cr_assert_str_eq(cJSON_GetArrayItem(v, 2)->valuestring, "v1alpha1.DRAResourceHealth");
	cr_assert_str_eq(kyt_json_str(r, "event.health_service"), "v1alpha1.DRAResourceHealth");
	cr_assert_eq(cJSON_GetArraySize(kyt_json_at(r, "event.warnings")), 0, "%s", cJSON_PrintUnformatted(r));
	struct stat st;
	cr_assert_eq(stat(endpoint, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600, "dra.sock mode %o", st.st_mode & 0777);
	cr_assert_eq(stat(reg_sock, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600, "reg.sock mode %o", st.st_mode & 0777);
	_cleanup_(cJSON_Deletep) cJSON *c = kyt_dra_kubelet_ok(kubelet, T, "wait connected driver=" DRIVER);
	stop_driver(d);
}

Test(dra_driver, a_kubelet_that_knows_only_v1beta1_prepares_through_it_without_share_ids)
{
	start_kubelet((const char *[]){ "--versions", "v1beta1.DRAPlugin", NULL });
	struct kyt_child *d = start_driver();
	_cleanup_(cJSON_Deletep) cJSON *r = kyt_dra_wait_registered(kubelet, DRIVER, 0);
	cr_assert_str_eq(kyt_json_str(r, "event.service"), "v1beta1.DRAPlugin");
	write_claim("ns1", "gpu", "uid-b1",
		    "{\"request\":\"gpu\",\"driver\":\"" DRIVER "\",\"pool\":\"" NODE "\",\"device\":\"" GPU0 "\","
		    "\"shareID\":\"8c1f6f4e-6a4c-4b59-9b7e-3d2f4c1b0a99\"}");
	_cleanup_(cJSON_Deletep) cJSON *p = kyt_dra_kubelet_ok(kubelet, T, "prepare " DRIVER " ns1/gpu/uid-b1");
	cr_assert_str_eq(kyt_json_str(p, "service"), "v1beta1.DRAPlugin");
	const cJSON *dev = device_of(p, "uid-b1", 0);
	cr_assert_str_eq(kyt_json_str(dev, "device"), GPU0);
	cr_assert(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(dev, "share_id")), "v1beta1 has no share_id");
	_cleanup_(cJSON_Deletep) cJSON *u = kyt_dra_kubelet_ok(kubelet, T, "unprepare " DRIVER " ns1/gpu/uid-b1");
	assert_clean("uid-b1");
	stop_driver(d);
}

/* ---- Prepare and Unprepare ---- */

Test(dra_driver, gpu_fpga_and_vf_claims_prepare_and_unprepare_twice_each)
{
	start_kubelet(NULL);
	struct kyt_child *d = start_driver();
	_cleanup_(cJSON_Deletep) cJSON *r = kyt_dra_wait_registered(kubelet, DRIVER, 0);
	write_claim("ns1", "gpu", "uid-gpu",
		    "{\"request\":\"gpu\",\"driver\":\"" DRIVER "\",\"pool\":\"" NODE "\",\"device\":\"" GPU0 "\","
		    "\"shareID\":\"8c1f6f4e-6a4c-4b59-9b7e-3d2f4c1b0a99\"}");
	write_claim("ns1", "fpga", "uid-fpga", RESULT("fpga", FPGA));
	write_claim("ns1", "nic", "uid-vf", RESULT("nic/fast", VF0) ",{\"request\":\"other\",\"driver\":\"other.io\","
								  "\"pool\":\"" NODE "\",\"device\":\"x-0\"}");
	_cleanup_free_ char *before = loaded_afu();
	cr_assert_str_eq(before, "00000000000000000000000000000000");

	for (int round = 0; round < 2; round++) {
		_cleanup_(cJSON_Deletep) cJSON *g = kyt_dra_kubelet_ok(kubelet, T, "prepare " DRIVER " ns1/gpu/uid-gpu");
		const cJSON *gd = device_of(g, "uid-gpu", 0);
		cr_assert_str_eq(kyt_json_str(gd, "pool"), NODE);
		cr_assert_str_eq(kyt_json_str(gd, "device"), GPU0);
		cr_assert_str_eq(cJSON_GetArrayItem(kyt_json_at(gd, "request_names"), 0)->valuestring, "gpu");
		cr_assert_str_eq(cJSON_GetArrayItem(kyt_json_at(gd, "cdi"), 0)->valuestring, DRIVER "/claim=uid-gpu-" GPU0);
		cr_assert_str_eq(kyt_json_str(gd, "share_id"), "8c1f6f4e-6a4c-4b59-9b7e-3d2f4c1b0a99");

		_cleanup_(cJSON_Deletep) cJSON *f = kyt_dra_kubelet_ok(kubelet, T, "prepare " DRIVER " ns1/fpga/uid-fpga");
		cr_assert_str_eq(cJSON_GetArrayItem(kyt_json_at(device_of(f, "uid-fpga", 0), "cdi"), 0)->valuestring,
				 DRIVER "/claim=uid-fpga-" FPGA);
		cr_assert_eq(loads(), 1, "the FPGA is programmed once, in round %d", round);
		_cleanup_free_ char *afu = loaded_afu();
		cr_assert_str_eq(afu, AFU_NLB);

		_cleanup_(cJSON_Deletep) cJSON *v = kyt_dra_kubelet_ok(kubelet, T, "prepare " DRIVER " ns1/nic/uid-vf");
		const cJSON *vd = device_of(v, "uid-vf", 0);
		cr_assert_eq(cJSON_GetArraySize(kyt_json_at(kyt_dra_claim_of(v, "uid-vf"), "devices")), 1, "the other driver's result is not ours");
		cr_assert_str_eq(cJSON_GetArrayItem(kyt_json_at(vd, "request_names"), 0)->valuestring, "nic",
				 "subrequests are stripped: containers name the main request");
		cr_assert_str_eq(kyt_json_str(vd, "device"), VF0);
	}
	_cleanup_free_ char *gspec = spec_path("uid-gpu"), *fspec = spec_path("uid-fpga"), *vspec = spec_path("uid-vf");
	_cleanup_(cJSON_Deletep) cJSON *gs = kyt_read_json(gspec);
	cr_assert_str_eq(kyt_json_str(gs, "kind"), DRIVER "/claim");
	cr_assert_str_eq(kyt_json_str(cJSON_GetArrayItem(kyt_json_at(gs, "devices"), 0), "name"), "uid-gpu-" GPU0);
	cr_assert(env_has(gs, "NVIDIA_VISIBLE_DEVICES=" KYT_SIM_GPU0), "%s", cJSON_PrintUnformatted(gs));
	cr_assert(env_has(gs, "PCIDEVICE_KYBORG_IO_GPU=" KYT_SIM_GPU0));
	cr_assert(node_of(gs, 0, "/dev/dri/card0") && node_of(gs, 0, "/dev/dri/renderD128"), "%s",
		  cJSON_PrintUnformatted(gs));
	_cleanup_(cJSON_Deletep) cJSON *fs = kyt_read_json(fspec);
	cr_assert(env_has(fs, "PCIDEVICE_KYBORG_IO_FPGA_NLB=" KYT_SIM_FPGA));
	cr_assert(node_of(fs, 0, "/dev/dfl-port.0"), "%s", cJSON_PrintUnformatted(fs));
	cr_assert_not(node_of(fs, 0, "/dev/dfl-fme.0"), "the FME stays with the driver");
	_cleanup_(cJSON_Deletep) cJSON *vs = kyt_read_json(vspec);
	cr_assert(env_has(vs, "PCIDEVICE_KYBORG_IO_SRIOV_VF=" KYT_SIM_VF0), "%s", cJSON_PrintUnformatted(vs));
	_cleanup_free_ char *grec_path = record_path("uid-gpu");
	_cleanup_(cJSON_Deletep) cJSON *grec = kyt_read_json(grec_path);
	cr_assert_str_eq(kyt_json_str(grec, "state"), "prepared");
	cr_assert_str_eq(kyt_json_str(grec, "namespace"), "ns1");
	cr_assert_str_eq(kyt_json_str(cJSON_GetArrayItem(kyt_json_at(grec, "devices"), 0), "pci"), KYT_SIM_GPU0);
	struct stat st;
	cr_assert_eq(stat(gspec, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0644, "a CDI spec is for the runtime to read");

	for (int round = 0; round < 2; round++) {
		_cleanup_(cJSON_Deletep) cJSON *u = kyt_dra_kubelet_ok(
			kubelet, T, "unprepare " DRIVER " ns1/gpu/uid-gpu ns1/fpga/uid-fpga ns1/nic/uid-vf");
		assert_clean("uid-gpu");
		assert_clean("uid-fpga");
		assert_clean("uid-vf");
	}
	stop_driver(d);
}

Test(dra_driver, each_claim_is_refused_alone_and_the_others_of_the_call_are_prepared)
{
	start_kubelet(NULL);
	struct kyt_child *d = start_driver();
	_cleanup_(cJSON_Deletep) cJSON *r = kyt_dra_wait_registered(kubelet, DRIVER, 0);
	write_claim("ns1", "holder", "uid-holder", RESULT("nic", VF0));
	_cleanup_(cJSON_Deletep) cJSON *h = kyt_dra_kubelet_ok(kubelet, T, "prepare " DRIVER " ns1/holder/uid-holder");

	write_claim("ns1", "good", "uid-good", RESULT("gpu", GPU0));
	write_claim("ns1", "far", "uid-far",
		    "{\"request\":\"gpu\",\"driver\":\"" DRIVER "\",\"pool\":\"node-b\",\"device\":\"" GPU1 "\"}");
	write_claim("ns1", "unknown", "uid-unknown", RESULT("gpu", "tpu-0000-3b-00-0"));
	write_claim("ns1", "theirs", "uid-theirs", RESULT("nic", "vf-0000-18-00-0"));
	write_claim("ns1", "taken", "uid-taken", RESULT("nic", VF1) "," RESULT("nic2", VF0));
	write_claim("ns1", "replaced", "uid-other", RESULT("gpu", GPU1));
	write_claim_raw("ns1", "pending", "{\"metadata\":{\"name\":\"pending\",\"namespace\":\"ns1\",\"uid\":\"uid-pending\"}}");
	_cleanup_(cJSON_Deletep) cJSON *p = kyt_dra_kubelet_cmd(
		kubelet, T,
		"prepare " DRIVER " ns1/good/uid-good ns1/far/uid-far ns1/unknown/uid-unknown ns1/theirs/uid-theirs "
		"ns1/taken/uid-taken ns1/replaced/uid-replaced ns1/pending/uid-pending ns1/gone/uid-gone "
		"ns1/bad..name/uid-bad");
	cr_assert(cJSON_IsFalse(kyt_json_at(p, "ok")), "kubelet fails the pod when any claim fails");
	cr_assert_str_eq(cJSON_GetArrayItem(kyt_json_at(device_of(p, "uid-good", 0), "cdi"), 0)->valuestring,
			 DRIVER "/claim=uid-good-" GPU0);
	cr_assert_str_eq(kyt_json_str(kyt_dra_claim_of(p, "uid-good"), "error"), "");
	static const struct {
		const char *uid, *error;
	} refused[] = {
		{ "uid-far", "device " GPU1 " of pool node-b is not on this node (pool " NODE ")" },
		{ "uid-unknown", "device tpu-0000-3b-00-0 is not one this driver publishes" },
		{ "uid-theirs", "device vf-0000-18-00-0 is not ours: no resource of the config takes it on this node" },
		{ "uid-taken", "device " VF0 " is already prepared for claim ns1/holder" },
		{ "uid-replaced", "claim ns1/replaced got replaced: UID uid-other, not uid-replaced" },
		{ "uid-pending", "claim ns1/pending is not allocated" },
		{ "uid-gone", "resourceclaims.resource.k8s.io \"gone\" not found" },
		{ "uid-bad", "claim name \"bad..name\": must be a DNS subdomain" },
	};
	for (size_t i = 0; i < KY_ARRAY_SIZE(refused); i++) {
		const char *e = kyt_json_str(kyt_dra_claim_of(p, refused[i].uid), "error");
		cr_assert(strstr(e, refused[i].error), "claim %s: got \"%s\", want \"%s\"", refused[i].uid, e,
			  refused[i].error);
		cr_assert_eq(cJSON_GetArraySize(kyt_json_at(kyt_dra_claim_of(p, refused[i].uid), "devices")), 0);
		assert_clean(refused[i].uid);
	}
	/* A device that is not in use is not held by a refused claim. */
	write_claim("ns1", "after", "uid-after", RESULT("nic", VF1));
	_cleanup_(cJSON_Deletep) cJSON *a = kyt_dra_kubelet_ok(kubelet, T, "prepare " DRIVER " ns1/after/uid-after");

	/* A GPU shared by its config's two replicas takes two claims, not three. */
	write_claim("ns2", "s1", "uid-s1", RESULT("gpu", GPU1));
	write_claim("ns2", "s2", "uid-s2", RESULT("gpu", GPU1));
	write_claim("ns2", "s3", "uid-s3", RESULT("gpu", GPU1));
	_cleanup_(cJSON_Deletep) cJSON *s = kyt_dra_kubelet_cmd(kubelet, T,
								 "prepare " DRIVER " ns2/s1/uid-s1 ns2/s2/uid-s2 ns2/s3/uid-s3");
	cr_assert_str_eq(kyt_json_str(kyt_dra_claim_of(s, "uid-s1"), "error"), "");
	cr_assert_str_eq(kyt_json_str(kyt_dra_claim_of(s, "uid-s2"), "error"), "");
	cr_assert(strstr(kyt_json_str(kyt_dra_claim_of(s, "uid-s3"), "error"),
			 "device " GPU1 " is shared by 2 claims already, as many as kyborg.io/gpu allows"),
		  "%s", kyt_json_str(kyt_dra_claim_of(s, "uid-s3"), "error"));
	assert_clean("uid-s3");
	stop_driver(d);
}

Test(dra_driver, unprepare_works_after_the_claim_is_deleted_and_after_a_restart)
{
	start_kubelet(NULL);
	struct kyt_child *d = start_driver();
	_cleanup_(cJSON_Deletep) cJSON *r = kyt_dra_wait_registered(kubelet, DRIVER, 0);
	write_claim("ns1", "gpu", "uid-1", RESULT("gpu", GPU0));
	write_claim("ns1", "vf", "uid-2", RESULT("nic", VF1));
	_cleanup_(cJSON_Deletep) cJSON *p = kyt_dra_kubelet_ok(kubelet, T, "prepare " DRIVER " ns1/gpu/uid-1 ns1/vf/uid-2");
	delete_claim("ns1", "gpu");
	delete_claim("ns1", "vf");
	_cleanup_(cJSON_Deletep) cJSON *u1 = kyt_dra_kubelet_ok(kubelet, T, "unprepare " DRIVER " ns1/gpu/uid-1");
	assert_clean("uid-1");

	stop_driver(d);
	_cleanup_(cJSON_Deletep) cJSON *gone = kyt_dra_kubelet_ok(kubelet, T, "wait deregistered driver=" DRIVER);
	d = start_driver();
	_cleanup_(cJSON_Deletep) cJSON *again = kyt_dra_wait_registered(kubelet, DRIVER, kyt_dra_event_seq(gone));
	/* Prepared before the restart: answered from the checkpoint. */
	_cleanup_(cJSON_Deletep) cJSON *p2 = kyt_dra_kubelet_ok(kubelet, T, "prepare " DRIVER " ns1/vf/uid-2");
	cr_assert_str_eq(kyt_json_str(device_of(p2, "uid-2", 0), "device"), VF1);
	_cleanup_(cJSON_Deletep) cJSON *u2 = kyt_dra_kubelet_ok(kubelet, T, "unprepare " DRIVER " ns1/vf/uid-2");
	assert_clean("uid-2");
	_cleanup_(cJSON_Deletep) cJSON *u3 = kyt_dra_kubelet_ok(kubelet, T, "unprepare " DRIVER " ns1/never/uid-never");
	stop_driver(d);
}

Test(dra_driver, an_image_that_fails_its_digest_refuses_the_claim_and_leaves_nothing_behind)
{
	start_kubelet(NULL);
	struct kyt_child *d = start_driver();
	_cleanup_(cJSON_Deletep) cJSON *r = kyt_dra_wait_registered(kubelet, DRIVER, 0);
	cr_assert_eq(kyt_write_file(bitstream, "another image"), 0);
	write_claim("ns1", "fpga", "uid-1", RESULT("nic", VF0) "," RESULT("fpga", FPGA));
	_cleanup_(cJSON_Deletep) cJSON *p = kyt_dra_kubelet_cmd(kubelet, T, "prepare " DRIVER " ns1/fpga/uid-1");
	const char *e = kyt_json_str(kyt_dra_claim_of(p, "uid-1"), "error");
	cr_assert(strstr(e, "device " FPGA ": ") && strstr(e, "has sha256"), "%s", e);
	cr_assert_eq(loads(), 0, "nothing is loaded");
	assert_clean("uid-1");
	/* The claim's other device was not kept either. */
	cr_assert_eq(kyt_write_file(bitstream, BITSTREAM), 0);
	write_claim("ns1", "vf", "uid-2", RESULT("nic", VF0));
	_cleanup_(cJSON_Deletep) cJSON *v = kyt_dra_kubelet_ok(kubelet, T, "prepare " DRIVER " ns1/vf/uid-2");
	_cleanup_(cJSON_Deletep) cJSON *f = kyt_dra_kubelet_cmd(kubelet, T, "prepare " DRIVER " ns1/fpga/uid-1");
	cr_assert(strstr(kyt_json_str(kyt_dra_claim_of(f, "uid-1"), "error"), "already prepared for claim ns1/vf"), "%s",
		  cJSON_PrintUnformatted(f));
	_cleanup_(cJSON_Deletep) cJSON *u = kyt_dra_kubelet_ok(kubelet, T, "unprepare " DRIVER " ns1/vf/uid-2");
	_cleanup_(cJSON_Deletep) cJSON *f2 = kyt_dra_kubelet_ok(kubelet, T, "prepare " DRIVER " ns1/fpga/uid-1");
	cr_assert_eq(loads(), 1);
	stop_driver(d);
}

static void wait_health(const char *device, const char *health, const char *message, int timeout_ms);

/* ---- claims read from the API server ---- */

/* The KUBE-APISERVER STAND-IN (test/standin/kube_apiserver.py: HTTPS, a CA,
 * bearer tokens), and the driver reading claims from it. */
static void start_api(void)
{
	api = kyt_apiserver_start(KYTEST_STANDIN_DIR "/kube_apiserver.py", dirs.api_dir, NULL);
}

static struct kyt_child *start_driver_api(void)
{
	return kyt_dra_driver_start(KYBORG_DRA_BIN, &dirs, NODE, api->url,
				    (const char *[]){ "--fetch-helper", KYBORG_FETCH_BIN, "--log-level", "info", NULL });
}

static void api_delete(const char *ns, const char *name)
{
	_cleanup_free_ char *path = NULL;
	int code = 0;
	cr_assert_geq(asprintf(&path, "/apis/resource.k8s.io/v1/namespaces/%s/resourceclaims/%s", ns, name), 0);
	_cleanup_(cJSON_Deletep) cJSON *d = kyt_apiserver_request(api, "DELETE", path, NULL, &code);
	cr_assert_eq(code, 200, "DELETE %s: %d", path, code);
}

Test(dra_driver, claims_read_from_the_api_server_are_prepared_and_unprepared_after_their_deletion)
{
	start_api();
	start_kubelet((const char *[]){ "--api-server", api->url, "--token-file", api->token_file, "--ca-file",
					api->ca_file, NULL });
	struct kyt_child *d = start_driver_api();
	_cleanup_(cJSON_Deletep) cJSON *r = kyt_dra_wait_registered(kubelet, DRIVER, 0);
	_cleanup_free_ char *uid = kyt_dra_api_claim(api, "ns1", "gpu", RESULT("req", GPU0) "," RESULT("req", VF1));
	/* kubelet's own GET of the claim, then its call with the UID: the
	 * driver reads the allocation from the API server itself. */
	_cleanup_(cJSON_Deletep) cJSON *p = kyt_dra_kubelet_ok(kubelet, T, "prepare-claim ns1 gpu");
	cr_assert_str_eq(kyt_json_str(p, "uid"), uid);
	const cJSON *ours = cJSON_GetObjectItemCaseSensitive(kyt_json_at(p, "drivers"), DRIVER);
	cr_assert_str_eq(kyt_json_str(device_of(ours, uid, 0), "device"), GPU0);
	_cleanup_free_ char *want = NULL;
	cr_assert_geq(asprintf(&want, DRIVER "/claim=%s-" VF1, uid), 0);
	cr_assert_str_eq(cJSON_GetArrayItem(kyt_json_at(device_of(ours, uid, 1), "cdi"), 0)->valuestring, want);
	_cleanup_free_ char *spec = spec_path(uid);
	cr_assert(exists(spec));

	/* Deleted from the API server: Unprepare works from the checkpoint. */
	api_delete("ns1", "gpu");
	_cleanup_(cJSON_Deletep) cJSON *u = kyt_dra_kubelet_ok(kubelet, T, "unprepare-claim ns1 gpu");
	assert_clean(uid);

	/* Re-created under the same name: the old UID names a claim that is gone. */
	_cleanup_free_ char *uid2 = kyt_dra_api_claim(api, "ns1", "gpu", RESULT("req", GPU0));
	cr_assert_str_neq(uid, uid2);
	_cleanup_(cJSON_Deletep) cJSON *old = kyt_dra_kubelet_cmd(kubelet, T, "prepare " DRIVER " ns1/gpu/%s", uid);
	_cleanup_free_ char *replaced = NULL;
	cr_assert_geq(asprintf(&replaced, "claim ns1/gpu got replaced: UID %s, not %s", uid2, uid), 0);
	cr_assert(strstr(kyt_json_str(kyt_dra_claim_of(old, uid), "error"), replaced), "%s", cJSON_PrintUnformatted(old));
	assert_clean(uid);
	_cleanup_(cJSON_Deletep) cJSON *none = kyt_dra_kubelet_cmd(kubelet, T, "prepare " DRIVER " ns1/none/uid-none");
	cr_assert(strstr(kyt_json_str(kyt_dra_claim_of(none, "uid-none"), "error"), "resourceclaims.resource.k8s.io \"none\" not found"),
		  "%s", cJSON_PrintUnformatted(none));
	stop_driver(d);
}

Test(dra_driver, a_driver_without_its_token_file_does_not_start)
{
	start_api();
	_cleanup_free_ char *missing = kyt_path(dirs.dir, "no-token");
	const char *argv[] = { KYBORG_DRA_BIN, "--config", dirs.config_path, "--node-name", NODE,
			       "--registration-dir", dirs.reg_dir, "--plugin-dir", dirs.plugin_dir, "--cdi-dir", dirs.cdi_dir,
			       "--state-dir", dirs.state_dir, "--api-server", api->url, "--token-file", missing,
			       "--ca-file", api->ca_file, NULL };
	struct kyt_child *c = kyt_child_start(argv, -1, false);
	cr_assert(kyt_wait_until(kyt_child_done_cond, c, 10000));
	cr_assert(WIFEXITED(c->status) && WEXITSTATUS(c->status) == 1, "status %#x", c->status);
	_cleanup_free_ char *reg_sock = kyt_path(dirs.reg_dir, DRIVER "-reg.sock");
	cr_assert_not(exists(reg_sock), "nothing is served");
}

/* ---- a shared GPU's replicas, where a cluster cannot share one device ---- */

Test(dra_driver, each_replica_of_a_shared_gpu_is_prepared_for_one_claim)
{
	start_kubelet(NULL);
	struct kyt_child *d = start_driver();
	_cleanup_(cJSON_Deletep) cJSON *r = kyt_dra_wait_registered(kubelet, DRIVER, 0);
	write_claim("ns1", "a", "uid-a", RESULT("gpu", GPU1 "-r0"));
	write_claim("ns1", "b", "uid-b", RESULT("gpu", GPU1 "-r1"));
	write_claim("ns1", "c", "uid-c", RESULT("gpu", GPU1 "-r1"));
	write_claim("ns1", "e", "uid-e", RESULT("gpu", GPU1 "-r2"));
	write_claim("ns1", "f", "uid-f", RESULT("nic", VF0 "-r0"));
	_cleanup_(cJSON_Deletep) cJSON *p = kyt_dra_kubelet_cmd(
		kubelet, T, "prepare " DRIVER " ns1/a/uid-a ns1/b/uid-b ns1/c/uid-c ns1/e/uid-e ns1/f/uid-f");
	cr_assert_str_eq(kyt_json_str(kyt_dra_claim_of(p, "uid-a"), "error"), "");
	cr_assert_str_eq(cJSON_GetArrayItem(kyt_json_at(device_of(p, "uid-b", 0), "cdi"), 0)->valuestring,
			 DRIVER "/claim=uid-b-" GPU1 "-r1");
	cr_assert(strstr(kyt_json_str(kyt_dra_claim_of(p, "uid-c"), "error"), "device " GPU1 "-r1 is already prepared for claim ns1/b"),
		  "%s", kyt_json_str(kyt_dra_claim_of(p, "uid-c"), "error"));
	cr_assert(strstr(kyt_json_str(kyt_dra_claim_of(p, "uid-e"), "error"), "is not ours"), "%s", kyt_json_str(kyt_dra_claim_of(p, "uid-e"), "error"));
	cr_assert(strstr(kyt_json_str(kyt_dra_claim_of(p, "uid-f"), "error"), "is not one this driver publishes"), "%s",
		  kyt_json_str(kyt_dra_claim_of(p, "uid-f"), "error"));
	_cleanup_free_ char *spec = spec_path("uid-b");
	_cleanup_(cJSON_Deletep) cJSON *bs = kyt_read_json(spec);
	cr_assert(env_has(bs, "NVIDIA_VISIBLE_DEVICES=" KYT_SIM_GPU1), "%s", cJSON_PrintUnformatted(bs));
	/* Kubelet finds the health of the replica the claim holds by its name. */
	_cleanup_(cJSON_Deletep) cJSON *h = kyt_dra_kubelet_ok(kubelet, T, "wait health driver=" DRIVER);
	wait_health(GPU1 "-r1", "HEALTHY", "", 15000);
	stop_driver(d);
}

/* ---- health ---- */

/* kubelet's health view of a device, after the stand-in's latest message. */
static bool health_is(const char *device, const char *health, const char *message)
{
	_cleanup_(cJSON_Deletep) cJSON *v = kyt_dra_kubelet_ok(kubelet, T, "health " DRIVER);
	const cJSON *e;
	cJSON_ArrayForEach(e, kyt_json_at(v, "devices"))
	{
		if (strcmp(kyt_json_str(e, "device"), device) == 0)
			return strcmp(kyt_json_str(e, "pool"), NODE) == 0 && strcmp(kyt_json_str(e, "health"), health) == 0 &&
			       (!message || strcmp(kyt_json_str(e, "message"), message) == 0);
	}
	return false;
}

struct health_want {
	const char *device, *health, *message;
};

static bool cond_health(void *arg)
{
	const struct health_want *w = arg;
	return health_is(w->device, w->health, w->message);
}

static void wait_health(const char *device, const char *health, const char *message, int timeout_ms)
{
	struct health_want w = { device, health, message };
	cr_assert(kyt_wait_until(cond_health, &w, timeout_ms), "%s is not %s (%s) within %d ms", device, health,
		  message ? message : "", timeout_ms);
}

Test(dra_driver, the_health_stream_reports_a_driver_unbound_and_a_device_removed)
{
	start_kubelet(NULL);
	struct kyt_child *d = start_driver();
	_cleanup_(cJSON_Deletep) cJSON *r = kyt_dra_wait_registered(kubelet, DRIVER, 0);
	_cleanup_(cJSON_Deletep) cJSON *h = kyt_dra_kubelet_ok(kubelet, T, "wait health driver=" DRIVER);
	const cJSON *devs = kyt_json_at(h, "event.devices");
	cr_assert_eq(cJSON_GetArraySize(devs), 7, "2 GPUs, the FPGA, 4 VFs: %s", cJSON_PrintUnformatted(h));
	wait_health(GPU1, "HEALTHY", "", 1000);
	cr_assert(health_is(FPGA, "HEALTHY", ""));
	const cJSON *first = cJSON_GetArrayItem(devs, 0);
	cr_assert_eq((int)cJSON_GetNumberValue(kyt_json_at(first, "timeout")), 30);

	_cleanup_free_ char *link = NULL;
	gchar *root = umockdev_testbed_get_root_dir(tb);
	cr_assert_geq(asprintf(&link, "%s%s/driver", root, GPU1_SYSPATH), 0);
	g_free(root);
	cr_assert_eq(unlink(link), 0, "%s: %m", link);
	umockdev_testbed_uevent(tb, GPU1_SYSPATH, "unbind");
	wait_health(GPU1, "UNHEALTHY", "no driver bound", 3000);
	cr_assert(health_is(GPU0, "HEALTHY", ""), "the other GPU is not touched");

	umockdev_testbed_uevent(tb, GPU1_SYSPATH, "remove");
	umockdev_testbed_remove_device(tb, GPU1_SYSPATH "/drm/card1");
	umockdev_testbed_remove_device(tb, GPU1_SYSPATH "/drm/renderD129");
	umockdev_testbed_remove_device(tb, GPU1_SYSPATH);
	umockdev_testbed_uevent(tb, PF_SYSPATH, "change");
	wait_health(GPU1, "UNHEALTHY", "removed from the node", 3000);
	/* A removed device can no longer be prepared. */
	write_claim("ns1", "gpu", "uid-1", RESULT("gpu", GPU1));
	_cleanup_(cJSON_Deletep) cJSON *p = kyt_dra_kubelet_cmd(kubelet, T, "prepare " DRIVER " ns1/gpu/uid-1");
	cr_assert(strstr(kyt_json_str(kyt_dra_claim_of(p, "uid-1"), "error"), "is not ours"), "%s", cJSON_PrintUnformatted(p));
	stop_driver(d);
}

/* ---- the sockets ---- */

Test(dra_driver, sigterm_removes_both_sockets_and_a_second_one_changes_nothing)
{
	start_kubelet(NULL);
	struct kyt_child *d = start_driver();
	_cleanup_(cJSON_Deletep) cJSON *r = kyt_dra_wait_registered(kubelet, DRIVER, 0);
	kill(d->pid, SIGTERM);
	kill(d->pid, SIGTERM);
	cr_assert(kyt_wait_until(kyt_child_done_cond, d, 10000), "the driver exits on SIGTERM");
	cr_assert(WIFEXITED(d->status) && WEXITSTATUS(d->status) == 0, "driver status %#x", d->status);
	_cleanup_free_ char *endpoint = kyt_path(dirs.plugin_dir, "dra.sock");
	_cleanup_free_ char *reg_sock = kyt_path(dirs.reg_dir, DRIVER "-reg.sock");
	cr_assert_not(exists(endpoint), "dra.sock is removed");
	cr_assert_not(exists(reg_sock), "the registration socket is removed");
	_cleanup_(cJSON_Deletep) cJSON *g = kyt_dra_kubelet_ok(kubelet, T, "wait deregistered driver=" DRIVER);
	cr_assert_str_eq(kyt_json_str(g, "event.reason"), "socket removed");
}

Test(dra_driver, a_removed_socket_is_served_again_and_kubelet_registers_the_driver_anew)
{
	start_kubelet(NULL);
	struct kyt_child *d = start_driver();
	_cleanup_(cJSON_Deletep) cJSON *r = kyt_dra_wait_registered(kubelet, DRIVER, 0);
	_cleanup_free_ char *reg_sock = kyt_path(dirs.reg_dir, DRIVER "-reg.sock");
	_cleanup_free_ char *endpoint = kyt_path(dirs.plugin_dir, "dra.sock");
	cr_assert_eq(unlink(endpoint), 0);
	cr_assert(kyt_wait_until(kyt_socket_accepts, endpoint, 5000), "dra.sock is served again");
	cr_assert_eq(unlink(reg_sock), 0);
	_cleanup_(cJSON_Deletep) cJSON *r2 = kyt_dra_wait_registered(kubelet, DRIVER, kyt_dra_event_seq(r));
	write_claim("ns1", "gpu", "uid-1", RESULT("gpu", GPU0));
	_cleanup_(cJSON_Deletep) cJSON *p = kyt_dra_kubelet_ok(kubelet, T, "prepare " DRIVER " ns1/gpu/uid-1");
	_cleanup_(cJSON_Deletep) cJSON *u = kyt_dra_kubelet_ok(kubelet, T, "unprepare " DRIVER " ns1/gpu/uid-1");
	stop_driver(d);
}

/* ---- crashes ---- */

static bool cond_killed(void *arg)
{
	struct kyt_child *c = arg;
	return kyt_child_done(c);
}

Test(dra_driver, a_kill_at_each_prepare_step_then_unprepare_or_prepare_leaves_the_node_right)
{
	static const char *const points[] = { "dra-prepare-recorded", "dra-prepare-programmed", "dra-prepare-cdi-written",
					      "dra-prepare-prepared" };
	start_kubelet(NULL);
	int seq = 0;
	for (size_t i = 0; i < KY_ARRAY_SIZE(points); i++) {
		char uid[32], name[32];
		snprintf(uid, sizeof(uid), "uid-k%zu", i);
		snprintf(name, sizeof(name), "fpga%zu", i);
		write_claim("ns1", name, uid, RESULT("fpga", FPGA) "," RESULT("nic", VF0));
		struct kyt_child *d = start_driver_fault(points[i]);
		_cleanup_(cJSON_Deletep) cJSON *reg = kyt_dra_wait_registered(kubelet, DRIVER, seq);
		seq = kyt_dra_event_seq(reg);
		_cleanup_(cJSON_Deletep) cJSON *p = kyt_dra_kubelet_cmd(kubelet, T, "prepare " DRIVER " ns1/%s/%s", name, uid);
		cr_assert(cJSON_IsFalse(kyt_json_at(p, "ok")), "%s: the driver died before it answered", points[i]);
		cr_assert(kyt_wait_until(cond_killed, d, 10000), "%s: the driver is killed", points[i]);
		cr_assert(WIFSIGNALED(d->status) && WTERMSIG(d->status) == SIGKILL, "%s: status %#x", points[i], d->status);

		d = start_driver();
		_cleanup_(cJSON_Deletep) cJSON *reg2 = kyt_dra_wait_registered(kubelet, DRIVER, seq);
		seq = kyt_dra_event_seq(reg2);
		if (i % 2) {
			/* Prepare again finishes the claim, Unprepare undoes it. */
			_cleanup_(cJSON_Deletep) cJSON *p2 =
				kyt_dra_kubelet_ok(kubelet, T, "prepare " DRIVER " ns1/%s/%s", name, uid);
			cr_assert_eq(cJSON_GetArraySize(kyt_json_at(kyt_dra_claim_of(p2, uid), "devices")), 2);
			_cleanup_free_ char *spec = spec_path(uid);
			cr_assert(exists(spec), "%s: the spec is written by the second Prepare", points[i]);
		}
		_cleanup_(cJSON_Deletep) cJSON *u = kyt_dra_kubelet_ok(kubelet, T, "unprepare " DRIVER " ns1/%s/%s", name, uid);
		assert_clean(uid);
		/* The devices are free again for another claim. */
		write_claim("ns2", "next", "uid-next", RESULT("fpga", FPGA) "," RESULT("nic", VF0));
		_cleanup_(cJSON_Deletep) cJSON *n = kyt_dra_kubelet_ok(kubelet, T, "prepare " DRIVER " ns2/next/uid-next");
		_cleanup_(cJSON_Deletep) cJSON *nu = kyt_dra_kubelet_ok(kubelet, T, "unprepare " DRIVER " ns2/next/uid-next");
		stop_driver(d);
		_cleanup_(cJSON_Deletep) cJSON *gone = kyt_dra_kubelet_ok(kubelet, T, "wait deregistered driver=" DRIVER " after=%d", seq);
		seq = kyt_dra_event_seq(gone);
	}
	cr_assert_geq(loads(), 1);
}

Test(dra_driver, a_kill_between_the_steps_of_unprepare_is_finished_by_the_next_unprepare)
{
	start_kubelet(NULL);
	write_claim("ns1", "gpu", "uid-1", RESULT("gpu", GPU0));
	struct kyt_child *d = start_driver_fault("dra-unprepare-cdi-removed");
	_cleanup_(cJSON_Deletep) cJSON *reg = kyt_dra_wait_registered(kubelet, DRIVER, 0);
	_cleanup_(cJSON_Deletep) cJSON *p = kyt_dra_kubelet_ok(kubelet, T, "prepare " DRIVER " ns1/gpu/uid-1");
	_cleanup_(cJSON_Deletep) cJSON *u = kyt_dra_kubelet_cmd(kubelet, T, "unprepare " DRIVER " ns1/gpu/uid-1");
	cr_assert(cJSON_IsFalse(kyt_json_at(u, "ok")));
	cr_assert(kyt_wait_until(cond_killed, d, 10000));
	_cleanup_free_ char *spec = spec_path("uid-1"), *rec = record_path("uid-1");
	cr_assert_not(exists(spec), "the spec went first");
	cr_assert(exists(rec), "the record is left for the next Unprepare");
	d = start_driver();
	_cleanup_(cJSON_Deletep) cJSON *reg2 = kyt_dra_wait_registered(kubelet, DRIVER, kyt_dra_event_seq(reg));
	_cleanup_(cJSON_Deletep) cJSON *u2 = kyt_dra_kubelet_ok(kubelet, T, "unprepare " DRIVER " ns1/gpu/uid-1");
	assert_clean("uid-1");
	stop_driver(d);
}

/* ---- --check-config ---- */

Test(dra_driver, check_config_prints_every_device_the_driver_will_serve)
{
	int pipefd[2];
	cr_assert_eq(pipe(pipefd), 0);
	const char *argv[] = { KYBORG_DRA_BIN, "--config", dirs.config_path, "--node-name", NODE, "--check-config", NULL };
	struct kyt_child *c = kyt_child_start(argv, pipefd[1], false);
	close(pipefd[1]);
	cr_assert(kyt_wait_until(kyt_child_done_cond, c, 20000));
	cr_assert(WIFEXITED(c->status) && WEXITSTATUS(c->status) == 0, "status %#x", c->status);
	char buf[8192];
	ssize_t n = read(pipefd[0], buf, sizeof(buf) - 1);
	close(pipefd[0]);
	cr_assert_gt(n, 0);
	buf[n] = '\0';
	cr_assert(strstr(buf, "OK, 3 resources\n"), "%s", buf);
	cr_assert(strstr(buf, "driver " DRIVER ", pool " NODE ": 7 devices\n"), "%s", buf);
	cr_assert(strstr(buf, GPU1), "%s", buf);
	cr_assert(strstr(buf, "shared by up to 2 claims"), "%s", buf);
	cr_assert(strstr(buf, "programmed with " AFU_NLB), "%s", buf);
	cr_assert(strstr(buf, VF0), "%s", buf);
}

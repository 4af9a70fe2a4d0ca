/* A claim's own configuration of its devices (issue 17), end to end: the
 * real kyborg-dra-driver under the simulated node (umockdev's testbed,
 * read by the real libudev; the VFs' driver files are the testbed's sysfs,
 * which this test plays the kernel for where a bind must take effect), the
 * KUBELET STAND-IN test/grpc/dra_kubelet.py (no kubelet here) calling
 * NodePrepareResources and NodeUnprepareResources, and ResourceClaims with
 * opaque parameters from the driver's stand-in claim source (--claims-dir:
 * each the object the API server would answer). The simulated PF's netdev
 * is a real veth of this kernel, which has no VF operations: a VF setting
 * is refused by the kernel itself (VLAN, QoS and rate are proven on
 * netdevsim VFs in the kernel tier, test_ktier_dra_vf). FPGAs are loaded
 * through the admin loader (a Python stand-in) and through the kernel's DFL
 * ioctl, emulated by umockdev. */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kyborg/base/cleanup.h"
#include "kyborg/base/sha256.h"
#include "kyborg/json/json.h"
#include "kytest.h"
#include "kytest_dra.h"
#include "kytest_fpga.h"
#include "kytest_proc.h"
#include "kytest_simnode.h"

#define PYTHON "/usr/bin/python3"
#define DRIVER "kyborg.io"
#define NODE "node-a"
#define T 20000
#define AFU_OLD "00000000000000000000000000000000"
#define AFU_NLB "d8424dc4a4a3c413f89e433683f9040b"
#define PORT_SYSFS "/sys/devices/pci0000:ae/0000:ae:00.0/0000:af:00.0/fpga_region/region0/dfl-port.0"
#define VF_SYSPATH(n) "/sys/devices/pci0000:17/0000:17:00.0/0000:18:01." #n
#define BITSTREAM "nlb bitstream for a claim"

#define GPU0 "gpu-0000-3b-00-0" /* its resource does not share it */
#define GPU1 "gpu-0000-86-00-0" /* shared by two claims */
#define FPGA "fpga-0000-af-00-0"
#define VF0 "vf-0000-18-01-0"
#define VF1 "vf-0000-18-01-1"

/* ---- fixture ---- */

static UMockdevTestbed *tb;
static char pf_name[16], pf_peer[16];
static struct kyt_dra_dirs dirs;
static char *claims_dir, *bits_dir, *bitstream, *loads_log, *fifo;
static char sha[KY_SHA256_HEX_LEN];
static struct kyt_dra_kubelet *kubelet;
static struct kyt_apiserver *api; /* none: kyt_dra_stop_all's */

/* A file of the testbed's /sys ("bus/pci/drivers/iavf/bind"). */
static char *sys_path(const char *rel)
{
	gchar *sys = umockdev_testbed_get_sys_dir(tb);
	char *p = kyt_path(sys, rel);
	g_free(sys);
	return p;
}

static void sys_mkfile(const char *rel)
{
	_cleanup_free_ char *path = sys_path(rel);
	char *slash = strrchr(path, '/');
	*slash = '\0';
	cr_assert_eq(kyt_run(NULL, "mkdir", "-p", path, NULL), 0);
	*slash = '/';
	cr_assert_eq(kyt_write_file(path, ""), 0, "%s", path);
}

static char *sys_read(const char *rel)
{
	_cleanup_free_ char *path = sys_path(rel);
	char *s = kyt_read_file(path);
	cr_assert_not_null(s, "%s", path);
	return s;
}

/* The config: GPU0 for one claim at a time, GPU1 shared by two, the FPGA
 * loaded by `loader` (NULL: the kernel's DFL ioctl) with no image of its
 * own (claims bring theirs), the PF's VFs whatever their driver. */
static void write_config(bool loader)
{
	_cleanup_free_ char *text = NULL, *program = NULL;
	if (loader)
		cr_assert_geq(asprintf(&program, ",\"program\": [\"" PYTHON "\", \"" KYTEST_FPGA_LOADER "\", \"%s\", \"{sysfs}\", \"{id}\", \"{image}\"]",
				       loads_log),
			      0);
	cr_assert_geq(asprintf(&text,
			       "{ \"resources\": ["
			       " { \"name\": \"kyborg.io/gpu\", \"kind\": \"gpu\", \"frontend\": \"dra\","
			       "   \"selector\": { \"pciAddresses\": [\"" KYT_SIM_GPU0 "\"] } },"
			       " { \"name\": \"kyborg.io/gpu-shared\", \"kind\": \"gpu\", \"frontend\": \"dra\","
			       "   \"selector\": { \"pciAddresses\": [\"" KYT_SIM_GPU1 "\"] }, \"sharing\": { \"replicas\": 2 } },"
			       " { \"name\": \"kyborg.io/fpga\", \"kind\": \"fpga\", \"frontend\": \"dra\","
			       "   \"selector\": { \"vendors\": [\"8086\"], \"devices\": [\"0b30\"] }%s },"
			       " { \"name\": \"kyborg.io/vf\", \"kind\": \"nic-vf\", \"frontend\": \"dra\","
			       "   \"selector\": { \"pfNames\": [\"%s\"] } } ] }",
			       program ? program : "", pf_name),
		      0);
	cr_assert_eq(kyt_write_file(dirs.config_path, text), 0);
}

static void setup(void)
{
	tb = kyt_simnode_testbed(pf_name, NULL);
	kyt_unique_name(pf_peer, sizeof(pf_peer), "kypp");
	/* The PF's netdev is real, so the VF requests reach this kernel. */
	cr_assert_eq(kyt_run(NULL, "ip", "link", "add", pf_name, "type", "veth", "peer", "name", pf_peer, NULL), 0,
		     "needs root");
	cr_assert_eq(kyt_run(NULL, "ip", "link", "set", pf_name, "up", NULL), 0);
	cr_assert_eq(kyt_run(NULL, "ip", "link", "set", pf_peer, "up", NULL), 0);
	/* What the kernel gives every PCI function and loaded driver. */
	for (int i = 0; i < 4; i++) {
		char path[128];
		snprintf(path, sizeof(path), "/sys/devices/pci0000:17/0000:17:00.0/0000:18:01.%d", i);
		umockdev_testbed_set_attribute(tb, path, "driver_override", "(null)\n");
	}
	sys_mkfile("bus/pci/drivers/iavf/bind");
	sys_mkfile("bus/pci/drivers/iavf/unbind");
	sys_mkfile("bus/pci/drivers/vfio-pci/bind");
	sys_mkfile("bus/pci/drivers/vfio-pci/unbind");
	sys_mkfile("bus/pci/drivers_probe");

	kyt_dra_dirs_init(&dirs, "kydcfg", DRIVER);
	claims_dir = kyt_path(dirs.dir, "claims");
	bits_dir = kyt_path(dirs.dir, "bitstreams");
	bitstream = kyt_path(bits_dir, "nlb.gbs");
	fifo = kyt_path(bits_dir, "slow.gbs");
	loads_log = kyt_path(dirs.dir, "loads.log");
	cr_assert_eq(mkdir(claims_dir, 0700), 0);
	cr_assert_eq(mkdir(bits_dir, 0700), 0);
	cr_assert_eq(kyt_write_file(bitstream, BITSTREAM), 0);
	ky_sha256_buf(BITSTREAM, strlen(BITSTREAM), sha);
	write_config(true);
}

static void teardown(void)
{
	kyt_dra_stop_all(&kubelet, &api);
	kyt_dfl_fme_detach();
	/* A download still reading the FIFO gets its end and finishes. */
	int fd = fifo ? open(fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC) : -1;
	if (fd >= 0)
		close(fd);
	/* A rebind still opening a bind FIFO gets its reader, and ends. */
	if (tb) {
		const char *binds[] = { "bus/pci/drivers/vfio-pci/bind", "bus/pci/drivers/iavf/bind" };
		for (size_t i = 0; i < KY_ARRAY_SIZE(binds); i++) {
			_cleanup_free_ char *path = sys_path(binds[i]);
			if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) >= 0)
				close(fd);
		}
	}
	kyt_run(NULL, "ip", "link", "del", pf_name, NULL);
	kyt_testbed_free(&tb);
	char **paths[] = { &claims_dir, &bits_dir, &bitstream, &fifo, &loads_log };
	for (size_t i = 0; i < KY_ARRAY_SIZE(paths); i++) {
		free(*paths[i]);
		*paths[i] = NULL;
	}
	kyt_dra_dirs_free(&dirs);
}

TestSuite(dra_claimcfg, .init = setup, .fini = teardown, .timeout = 150);

/* The driver, with KYBORG_FAULT=fault when fault is not NULL; its log
 * (stderr) appended to dirs.driver_log. */
static struct kyt_child *start_driver_fault(const char *fault)
{
	const char *extra[] = { "--claims-dir", claims_dir, "--fetch-helper", KYBORG_FETCH_BIN,
				"--bitstream-dir", bits_dir, "--log-level", "info", NULL };
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

/* The kubelet stand-in (extra: its flags, may be NULL), then the driver,
 * registered with it. */
static struct kyt_child *start_registered(const char *const extra[])
{
	start_kubelet(extra);
	struct kyt_child *d = start_driver();
	cJSON_Delete(kyt_dra_wait_registered(kubelet, DRIVER, 0));
	return d;
}

/* ---- claims with their configs ---- */

#define RESULT(request, device) \
	"{\"request\":\"" request "\",\"driver\":\"" DRIVER "\",\"pool\":\"" NODE "\",\"device\":\"" device "\"}"
/* An opaque config of ours from the claim, for the requests given (a JSON
 * array, or "" for all). */
#define CONFIG(requests, kind, fields)                                                                         \
	"{\"source\":\"FromClaim\"," requests "\"opaque\":{\"driver\":\"" DRIVER "\",\"parameters\":"              \
	"{\"apiVersion\":\"kyborg.io/v1alpha1\",\"kind\":\"" kind "\"" fields "}}}"
#define FOR(...) "\"requests\":[" __VA_ARGS__ "],"

/* A ResourceClaim allocated with the given results and config entries. */
static void write_claim(const char *ns, const char *name, const char *uid, const char *results, const char *config)
{
	kyt_dra_claim_write(claims_dir, ns, name, uid, results, config ? config : "");
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

static void assert_clean(const char *uid)
{
	kyt_dra_assert_clean(&dirs, DRIVER, uid);
}

static const char *error_of(const cJSON *reply, const char *uid)
{
	return kyt_json_str(kyt_dra_claim_of(reply, uid), "error");
}

/* The claim's error contains want. */
static void assert_refused(const cJSON *reply, const char *uid, const char *want)
{
	const char *e = error_of(reply, uid);
	cr_assert(strstr(e, want), "claim %s: got \"%s\", want \"%s\"", uid, e, want);
	cr_assert_eq(cJSON_GetArraySize(kyt_json_at(kyt_dra_claim_of(reply, uid), "devices")), 0);
}

/* The claim's record, as the driver wrote it. */
static cJSON *record_of(const char *uid)
{
	_cleanup_free_ char *p = record_path(uid);
	return kyt_read_json(p);
}

static const cJSON *record_device(const cJSON *rec, int i)
{
	const cJSON *d = cJSON_GetArrayItem(kyt_json_at(rec, "devices"), i);
	cr_assert_not_null(d, "no device %d in %s", i, cJSON_PrintUnformatted(rec));
	return d;
}

/* The CDI spec's device i: its env entries and device node paths. */
static bool dev_env_has(const cJSON *spec, int i, const char *entry)
{
	const cJSON *e;
	cJSON_ArrayForEach(e, kyt_json_at(cJSON_GetArrayItem(kyt_json_at(spec, "devices"), i), "containerEdits.env"))
	{
		if (cJSON_IsString(e) && strcmp(e->valuestring, entry) == 0)
			return true;
	}
	return false;
}

static bool dev_node_has(const cJSON *spec, int i, const char *path)
{
	const cJSON *n;
	cJSON_ArrayForEach(n, kyt_json_at(cJSON_GetArrayItem(kyt_json_at(spec, "devices"), i), "containerEdits.deviceNodes"))
	{
		if (strcmp(kyt_json_str(n, "path"), path) == 0)
			return true;
	}
	return false;
}

static bool spec_env_has(const cJSON *spec, const char *entry)
{
	const cJSON *e;
	cJSON_ArrayForEach(e, kyt_json_at(spec, "containerEdits.env"))
	{
		if (cJSON_IsString(e) && strcmp(e->valuestring, entry) == 0)
			return true;
	}
	return false;
}

/* How many lines of the driver's log carry `needle`. */
static int log_count(const char *needle)
{
	_cleanup_free_ char *text = kyt_read_file(dirs.driver_log);
	int n = 0;
	for (const char *p = text; p && (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
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
	_cleanup_free_ char *path = NULL;
	gchar *root = umockdev_testbed_get_root_dir(tb);
	cr_assert_geq(asprintf(&path, "%s" PORT_SYSFS "/afu_id", root), 0);
	g_free(root);
	char *id = kyt_read_file(path);
	cr_assert_not_null(id);
	id[strcspn(id, "\n")] = '\0';
	return id;
}

/* Plays the kernel: the VF's driver link now points at `driver`, and udev
 * tells. */
static void kernel_binds(const char *syspath, const char *driver)
{
	_cleanup_free_ char *link = NULL, *target = NULL;
	gchar *root = umockdev_testbed_get_root_dir(tb);
	cr_assert_geq(asprintf(&link, "%s%s/driver", root, syspath), 0);
	g_free(root);
	cr_assert_geq(asprintf(&target, "../../../../bus/pci/drivers/%s", driver), 0);
	cr_assert_eq(unlink(link), 0, "%s: %m", link);
	cr_assert_eq(symlink(target, link), 0, "%s: %m", link);
	umockdev_testbed_uevent(tb, syspath, "bind");
}

static void clear_sys(const char *rel)
{
	_cleanup_free_ char *path = sys_path(rel);
	cr_assert_eq(kyt_write_file(path, ""), 0);
}

/* ---- VfConfig ---- */

Test(dra_claimcfg, a_vf_setting_this_kernel_refuses_fails_the_claim_naming_the_vf_and_leaves_nothing)
{
	struct kyt_child *d = start_registered(NULL);
	write_claim("ns1", "nic", "uid-vlan", RESULT("nic", VF0), CONFIG(FOR("\"nic\""), "VfConfig", ",\"vlan\":100,\"max_tx_rate\":1000"));
	for (int round = 0; round < 2; round++) {
		_cleanup_(cJSON_Deletep) cJSON *p = kyt_dra_kubelet_cmd(kubelet, T, "prepare " DRIVER " ns1/nic/uid-vlan");
		_cleanup_free_ char *want = NULL;
		cr_assert_geq(asprintf(&want, "claim ns1/nic: config[0].opaque.parameters (vlan, max_tx_rate): device " VF0
				       ": read VF 0 of %s: the device has 0 VFs", pf_name), 0);
		assert_refused(p, "uid-vlan", want);
		assert_clean("uid-vlan");
	}
	stop_driver(d);
}

Test(dra_claimcfg, a_vf_bound_to_vfio_pci_by_its_claim_gets_its_group_and_is_bound_back_at_unprepare)
{
	struct kyt_child *d = start_registered(NULL);
	write_claim("ns1", "dpdk", "uid-dpdk", RESULT("nic", VF1), CONFIG("", "VfConfig", ",\"driver\":\"vfio-pci\""));
	_cleanup_(cJSON_Deletep) cJSON *p = kyt_dra_kubelet_ok(kubelet, T, "prepare " DRIVER " ns1/dpdk/uid-dpdk");
	/* ky_pci_bind_driver's writes, as kyborgctl makes them. */
	_cleanup_free_ char *ovr = sys_read("bus/pci/devices/" KYT_SIM_VF1 "/driver_override"),
			    *unbind = sys_read("bus/pci/drivers/iavf/unbind"), *bind = sys_read("bus/pci/drivers/vfio-pci/bind");
	cr_assert_str_eq(ovr, "vfio-pci");
	cr_assert_str_eq(unbind, KYT_SIM_VF1);
	cr_assert_str_eq(bind, KYT_SIM_VF1);
	/* The journal: what was there before, saved before the change. */
	_cleanup_(cJSON_Deletep) cJSON *rec = record_of("uid-dpdk");
	const cJSON *vf = kyt_json_at(record_device(rec, 0), "vf");
	cr_assert_eq(cJSON_GetNumberValue(kyt_json_at(rec, "version")), 2);
	cr_assert_str_eq(kyt_json_str(vf, "driver"), "vfio-pci");
	cr_assert_str_eq(kyt_json_str(vf, "savedDriver"), "iavf");
	cr_assert_str_eq(kyt_json_str(vf, "savedOverride"), "");
	cr_assert_str_eq(kyt_json_str(vf, "pf"), pf_name);
	cr_assert_eq(cJSON_GetNumberValue(kyt_json_at(vf, "vfIndex")), 1);
	cr_assert_str_eq(kyt_json_str(record_device(rec, 0), "configPath"), "config[0]");
	/* The container gets the VF through VFIO, its netdev gone with iavf. */
	_cleanup_free_ char *sp = spec_path("uid-dpdk");
	_cleanup_(cJSON_Deletep) cJSON *spec = kyt_read_json(sp);
	cr_assert(dev_node_has(spec, 0, "/dev/vfio/201") && dev_node_has(spec, 0, "/dev/vfio/vfio"), "%s",
		  cJSON_PrintUnformatted(spec));
	_cleanup_free_ char *info = NULL;
	cr_assert_geq(asprintf(&info, "PCIDEVICE_KYBORG_IO_VF_INFO={\"" KYT_SIM_VF1 "\":{\"generic\":{\"deviceID\":\"" KYT_SIM_VF1
				      "\"},\"vfio\":{\"dev-mount\":\"/dev/vfio/201\",\"mount\":\"/dev/vfio/vfio\"}}}"),
		      0);
	cr_assert(spec_env_has(spec, info), "%s", cJSON_PrintUnformatted(spec));

	/* The kernel binds it; Prepare again writes nothing. */
	kernel_binds(VF_SYSPATH(1), "vfio-pci");
	clear_sys("bus/pci/drivers/vfio-pci/bind");
	int writes = log_count("vf-driver-write");
	_cleanup_(cJSON_Deletep) cJSON *p2 = kyt_dra_kubelet_ok(kubelet, T, "prepare " DRIVER " ns1/dpdk/uid-dpdk");
	cr_assert_eq(log_count("vf-driver-write"), writes, "a second Prepare changes nothing");
	_cleanup_free_ char *bind2 = sys_read("bus/pci/drivers/vfio-pci/bind");
	cr_assert_str_eq(bind2, "");

	/* Unprepare: back on iavf, the override as it was. */
	_cleanup_(cJSON_Deletep) cJSON *u = kyt_dra_kubelet_ok(kubelet, T, "unprepare " DRIVER " ns1/dpdk/uid-dpdk");
	_cleanup_free_ char *ovr2 = sys_read("bus/pci/devices/" KYT_SIM_VF1 "/driver_override"),
			    *unbind2 = sys_read("bus/pci/drivers/vfio-pci/unbind"), *back = sys_read("bus/pci/drivers/iavf/bind");
	cr_assert_str_eq(unbind2, KYT_SIM_VF1);
	cr_assert_str_eq(back, KYT_SIM_VF1);
	cr_assert_str_eq(ovr2, "\n", "the override cleared, as it was");
	assert_clean("uid-dpdk");
	kernel_binds(VF_SYSPATH(1), "iavf");
	writes = log_count("vf-driver-write");
	_cleanup_(cJSON_Deletep) cJSON *u2 = kyt_dra_kubelet_ok(kubelet, T, "unprepare " DRIVER " ns1/dpdk/uid-dpdk");
	cr_assert_eq(log_count("vf-driver-write"), writes, "a second Unprepare changes nothing");
	stop_driver(d);
}

Test(dra_claimcfg, a_vf_a_userspace_driver_holds_goes_back_to_its_network_driver_for_a_netdevice_claim)
{
	/* The VF is on vfio-pci (kyborgctl put it there, say). */
	kernel_binds(VF_SYSPATH(2), "vfio-pci");
	umockdev_testbed_set_attribute(tb, VF_SYSPATH(2), "driver_override", "vfio-pci\n");
	struct kyt_child *d = start_registered(NULL);
	write_claim("ns1", "net", "uid-net", RESULT("nic", "vf-0000-18-01-2"), CONFIG("", "VfConfig", ",\"driver\":\"netdevice\""));
	_cleanup_(cJSON_Deletep) cJSON *p = kyt_dra_kubelet_ok(kubelet, T, "prepare " DRIVER " ns1/net/uid-net");
	_cleanup_free_ char *ovr = sys_read("bus/pci/devices/" KYT_SIM_VF2 "/driver_override"),
			    *unbind = sys_read("bus/pci/drivers/vfio-pci/unbind"), *probe = sys_read("bus/pci/drivers_probe");
	cr_assert_str_eq(ovr, "\n", "the override cleared so the kernel chooses");
	cr_assert_str_eq(unbind, KYT_SIM_VF2);
	cr_assert_str_eq(probe, KYT_SIM_VF2);
	_cleanup_(cJSON_Deletep) cJSON *rec = record_of("uid-net");
	cr_assert_str_eq(kyt_json_str(kyt_json_at(record_device(rec, 0), "vf"), "savedDriver"), "vfio-pci");
	cr_assert_str_eq(kyt_json_str(kyt_json_at(record_device(rec, 0), "vf"), "savedOverride"), "vfio-pci");
	_cleanup_free_ char *sp = spec_path("uid-net");
	_cleanup_(cJSON_Deletep) cJSON *spec = kyt_read_json(sp);
	cr_assert_not(dev_node_has(spec, 0, "/dev/vfio/202"), "a netdevice VF has no VFIO group: %s",
		      cJSON_PrintUnformatted(spec));
	kernel_binds(VF_SYSPATH(2), "iavf");
	_cleanup_(cJSON_Deletep) cJSON *u = kyt_dra_kubelet_ok(kubelet, T, "unprepare " DRIVER " ns1/net/uid-net");
	_cleanup_free_ char *back = sys_read("bus/pci/drivers/vfio-pci/bind"), *ovr2 = NULL;
	cr_assert_str_eq(back, KYT_SIM_VF2, "bound back to vfio-pci");
	ovr2 = sys_read("bus/pci/devices/" KYT_SIM_VF2 "/driver_override");
	cr_assert_str_eq(ovr2, "vfio-pci", "its override as it was");
	assert_clean("uid-net");
	stop_driver(d);
}

Test(dra_claimcfg, a_refused_vf_setting_rolls_back_the_rebind_the_same_claim_made_before_it)
{
	struct kyt_child *d = start_registered(NULL);
	write_claim("ns1", "two", "uid-two", RESULT("a", VF0) "," RESULT("b", VF1),
		    CONFIG(FOR("\"a\""), "VfConfig", ",\"driver\":\"vfio-pci\"") ","
		    CONFIG(FOR("\"b\""), "VfConfig", ",\"vlan\":100"));
	_cleanup_(cJSON_Deletep) cJSON *p = kyt_dra_kubelet_cmd(kubelet, T, "prepare " DRIVER " ns1/two/uid-two");
	assert_refused(p, "uid-two", "config[1].opaque.parameters.vlan: device " VF1 ": read VF 1 of");
	/* VF0 was rebound first; the rollback put its override back. */
	_cleanup_free_ char *bind = sys_read("bus/pci/drivers/vfio-pci/bind"),
			    *ovr = sys_read("bus/pci/devices/" KYT_SIM_VF0 "/driver_override");
	cr_assert_str_eq(bind, KYT_SIM_VF0, "VF0 went to vfio-pci");
	cr_assert_str_eq(ovr, "\n", "and its override is as it was");
	cr_assert(log_count("vf-restored device=" VF0) == 1, "the rollback restored VF0");
	assert_clean("uid-two");
	stop_driver(d);
}

Test(dra_claimcfg, a_vf_removed_since_prepare_leaves_nothing_to_put_back_and_unprepare_succeeds)
{
	struct kyt_child *d = start_registered(NULL);
	write_claim("ns1", "gone", "uid-gone", RESULT("nic", "vf-0000-18-01-3"), CONFIG("", "VfConfig", ",\"driver\":\"vfio-pci\""));
	_cleanup_(cJSON_Deletep) cJSON *p = kyt_dra_kubelet_ok(kubelet, T, "prepare " DRIVER " ns1/gone/uid-gone");
	umockdev_testbed_remove_device(tb, VF_SYSPATH(3));
	_cleanup_(cJSON_Deletep) cJSON *u = kyt_dra_kubelet_ok(kubelet, T, "unprepare " DRIVER " ns1/gone/uid-gone");
	assert_clean("uid-gone");
	cr_assert_eq(log_count("event=vf-restore-skipped device=vf-0000-18-01-3"), 1);
	stop_driver(d);
}

/* A driver's bind file that blocks the rebind until this test reads it, as
 * a driver's probe that takes seconds holds the write (mlx5, ice, vfio-pci). */
static void slow_bind(const char *rel)
{
	_cleanup_free_ char *path = sys_path(rel);
	cr_assert_eq(unlink(path), 0, "%s: %m", path);
	cr_assert_eq(mkfifo(path, 0600), 0, "%s: %m", path);
}

/* The bind ends: what the rebind wrote to the FIFO. */
static char *end_bind(const char *rel)
{
	_cleanup_free_ char *path = sys_path(rel);
	int fd = open(path, O_RDONLY | O_CLOEXEC); /* the writer waits in its open */
	cr_assert_geq(fd, 0, "%s: %m", path);
	char buf[64] = "";
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	cr_assert_gt(n, 0);
	return strndup(buf, (size_t)n);
}

static bool writes_logged(void *arg)
{
	return log_count("event=vf-driver-write device=" VF1) >= *(int *)arg;
}

/* GetInfo within kubelet's 1 s deadline (the stand-in's call carries it). */
static void assert_getinfo_answers(const char *when)
{
	_cleanup_(cJSON_Deletep) cJSON *g = kyt_dra_kubelet_cmd(kubelet, T, "getinfo " DRIVER);
	cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(g, "ok")), "%s: %s", when, cJSON_PrintUnformatted(g));
}

Test(dra_claimcfg, a_slow_rebind_leaves_getinfo_and_other_claims_answered_while_it_runs_at_prepare_and_unprepare)
{
	slow_bind("bus/pci/drivers/vfio-pci/bind");
	struct kyt_child *d = start_registered(NULL);
	write_claim("ns1", "dpdk", "uid-dpdk", RESULT("nic", VF1), CONFIG("", "VfConfig", ",\"driver\":\"vfio-pci\""));
	write_claim("ns1", "gpu", "uid-gpu", RESULT("gpu", GPU0), NULL);
	_cleanup_(cJSON_Deletep) cJSON *s = kyt_dra_kubelet_ok(kubelet, T, "start a prepare " DRIVER " ns1/dpdk/uid-dpdk");
	/* The override and the unbind are written; the bind waits. */
	int two = 2;
	cr_assert(kyt_wait_until(writes_logged, &two, 10000), "the rebind reaches the bind");
	assert_getinfo_answers("during the rebind");
	_cleanup_(cJSON_Deletep) cJSON *p = kyt_dra_kubelet_ok(kubelet, T, "prepare " DRIVER " ns1/gpu/uid-gpu");
	cr_assert_str_eq(error_of(p, "uid-gpu"), "");
	_cleanup_(cJSON_Deletep) cJSON *u = kyt_dra_kubelet_ok(kubelet, T, "unprepare " DRIVER " ns1/gpu/uid-gpu");
	assert_clean("uid-gpu");
	_cleanup_(cJSON_Deletep) cJSON *busy = kyt_dra_kubelet_cmd(kubelet, T, "prepare " DRIVER " ns1/dpdk/uid-dpdk");
	assert_refused(busy, "uid-dpdk", "is being prepared already; retry");
	_cleanup_(cJSON_Deletep) cJSON *pending = kyt_dra_kubelet_cmd(kubelet, T, "result a timeout=0");
	cr_assert_not(cJSON_IsTrue(cJSON_GetObjectItem(pending, "ok")), "the claim waits for its rebind: %s",
		      cJSON_PrintUnformatted(pending));
	/* The probe ends: the claim is answered, its journal as before. */
	_cleanup_free_ char *bound = end_bind("bus/pci/drivers/vfio-pci/bind");
	cr_assert_str_eq(bound, KYT_SIM_VF1);
	_cleanup_(cJSON_Deletep) cJSON *a = kyt_dra_kubelet_ok(kubelet, T, "result a timeout=%d", T);
	cr_assert_str_eq(error_of(kyt_json_at(a, "reply"), "uid-dpdk"), "", "%s", cJSON_PrintUnformatted(a));
	_cleanup_(cJSON_Deletep) cJSON *rec = record_of("uid-dpdk");
	cr_assert_str_eq(kyt_json_str(rec, "state"), "prepared");
	cr_assert_str_eq(kyt_json_str(kyt_json_at(record_device(rec, 0), "vf"), "savedDriver"), "iavf");

	/* Unprepare: iavf's probe is as slow. */
	kernel_binds(VF_SYSPATH(1), "vfio-pci");
	slow_bind("bus/pci/drivers/iavf/bind");
	int five = log_count("event=vf-driver-write device=" VF1) + 2;
	_cleanup_(cJSON_Deletep) cJSON *s2 = kyt_dra_kubelet_ok(kubelet, T, "start b unprepare " DRIVER " ns1/dpdk/uid-dpdk");
	cr_assert(kyt_wait_until(writes_logged, &five, 10000), "the undo reaches the bind");
	assert_getinfo_answers("during the undo");
	_cleanup_(cJSON_Deletep) cJSON *again = kyt_dra_kubelet_cmd(kubelet, T, "prepare " DRIVER " ns1/dpdk/uid-dpdk");
	assert_refused(again, "uid-dpdk", "is being unprepared; retry");
	_cleanup_(cJSON_Deletep) cJSON *pending2 = kyt_dra_kubelet_cmd(kubelet, T, "result b timeout=0");
	cr_assert_not(cJSON_IsTrue(cJSON_GetObjectItem(pending2, "ok")), "Unprepare waits for the undo");
	_cleanup_free_ char *back = end_bind("bus/pci/drivers/iavf/bind");
	cr_assert_str_eq(back, KYT_SIM_VF1);
	_cleanup_(cJSON_Deletep) cJSON *b = kyt_dra_kubelet_ok(kubelet, T, "result b timeout=%d", T);
	cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(kyt_json_at(b, "reply"), "ok")), "%s", cJSON_PrintUnformatted(b));
	_cleanup_free_ char *ovr = sys_read("bus/pci/devices/" KYT_SIM_VF1 "/driver_override");
	cr_assert_str_eq(ovr, "\n", "the override cleared, as it was");
	assert_clean("uid-dpdk");
	stop_driver(d);
}

static bool rebind_waits(void *arg)
{
	(void)arg;
	return log_count("event=vf-driver-rebind-running device=vf-0000-18-01-2") >= 1;
}

Test(dra_claimcfg, a_rebind_still_running_from_an_earlier_driver_is_waited_for_and_what_it_left_read_again)
{
	/* The child of a driver killed mid-rebind lives on, holding the VF's
	 * lock (the flock on its sysfs directory): this test holds it. The VF
	 * reads as on iavf already, which a netdevice claim would leave. */
	_cleanup_free_ char *dir = sys_path("bus/pci/devices/" KYT_SIM_VF2);
	int lock = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cr_assert_geq(lock, 0, "%s: %m", dir);
	cr_assert_eq(flock(lock, LOCK_EX), 0);
	struct kyt_child *d = start_registered(NULL);
	write_claim("ns1", "net", "uid-net", RESULT("nic", "vf-0000-18-01-2"), CONFIG("", "VfConfig", ",\"driver\":\"netdevice\""));
	_cleanup_(cJSON_Deletep) cJSON *s = kyt_dra_kubelet_ok(kubelet, T, "start a prepare " DRIVER " ns1/net/uid-net");
	bool seen = kyt_wait_until(rebind_waits, NULL, 10000);
	_cleanup_(cJSON_Deletep) cJSON *pending = kyt_dra_kubelet_cmd(kubelet, T, "result a timeout=0");
	close(lock); /* the earlier rebind ends */
	cr_assert(seen, "the driver sees the VF's rebind running");
	cr_assert_not(cJSON_IsTrue(cJSON_GetObjectItem(pending, "ok")), "the claim waits for it: %s",
		      cJSON_PrintUnformatted(pending));
	_cleanup_(cJSON_Deletep) cJSON *a = kyt_dra_kubelet_ok(kubelet, T, "result a timeout=%d", T);
	cr_assert_str_eq(error_of(kyt_json_at(a, "reply"), "uid-net"), "", "%s", cJSON_PrintUnformatted(a));
	cr_assert_eq(log_count("event=vf-driver-write device=vf-0000-18-01-2"), 0,
		     "read again under the lock: on iavf, nothing to write");
	_cleanup_(cJSON_Deletep) cJSON *u = kyt_dra_kubelet_ok(kubelet, T, "unprepare " DRIVER " ns1/net/uid-net");
	assert_clean("uid-net");
	stop_driver(d);
}

/* ---- FpgaConfig ---- */

static char *fpga_config(const char *where)
{
	char *s;
	cr_assert_geq(asprintf(&s, CONFIG("", "FpgaConfig", ",\"bitstream\":{\"id\":\"" AFU_NLB "\",%s,\"sha256\":\"%s\"}"),
			       where, sha),
		      0);
	return s;
}

Test(dra_claimcfg, an_fpga_config_loads_the_claims_image_through_the_admin_loader_once)
{
	struct kyt_child *d = start_registered(NULL);
	_cleanup_free_ char *where = NULL;
	cr_assert_geq(asprintf(&where, "\"path\":\"%s\"", bitstream), 0);
	_cleanup_free_ char *cfg = fpga_config(where);
	write_claim("ns1", "fpga", "uid-fpga", RESULT("fpga", FPGA), cfg);
	_cleanup_free_ char *before = loaded_afu();
	cr_assert_str_eq(before, AFU_OLD);
	for (int round = 0; round < 2; round++) {
		_cleanup_(cJSON_Deletep) cJSON *p = kyt_dra_kubelet_ok(kubelet, T, "prepare " DRIVER " ns1/fpga/uid-fpga");
		cr_assert_eq(loads(), 1, "loaded once, in round %d", round);
		_cleanup_free_ char *afu = loaded_afu();
		cr_assert_str_eq(afu, AFU_NLB);
	}
	_cleanup_free_ char *log = kyt_read_file(loads_log);
	cr_assert(strstr(log, sha), "the loader read the verified image: %s", log);
	_cleanup_(cJSON_Deletep) cJSON *rec = record_of("uid-fpga");
	const cJSON *dev = record_device(rec, 0);
	cr_assert_str_eq(kyt_json_str(dev, "bitstream"), AFU_NLB);
	cr_assert_str_eq(kyt_json_str(kyt_json_at(dev, "fpga"), "previousId"), AFU_OLD);
	cr_assert_str_eq(kyt_json_str(kyt_json_at(dev, "fpga.bitstream"), "path"), bitstream);
	_cleanup_free_ char *sp = spec_path("uid-fpga");
	_cleanup_(cJSON_Deletep) cJSON *spec = kyt_read_json(sp);
	cr_assert(dev_env_has(spec, 0, "KYBORG_BITSTREAM_ID=" AFU_NLB), "%s", cJSON_PrintUnformatted(spec));
	cr_assert(dev_node_has(spec, 0, "/dev/dfl-port.0"));
	_cleanup_(cJSON_Deletep) cJSON *u = kyt_dra_kubelet_ok(kubelet, T, "unprepare " DRIVER " ns1/fpga/uid-fpga");
	assert_clean("uid-fpga");
	/* The next claim of the same image finds it loaded. */
	write_claim("ns1", "again", "uid-again", RESULT("fpga", FPGA), cfg);
	_cleanup_(cJSON_Deletep) cJSON *p3 = kyt_dra_kubelet_ok(kubelet, T, "prepare " DRIVER " ns1/again/uid-again");
	cr_assert_eq(loads(), 1);
	stop_driver(d);
}

Test(dra_claimcfg, an_fpga_config_without_a_loader_goes_through_the_dfl_ioctl_once)
{
	write_config(false);
	kyt_dfl_fme_attach(tb, PORT_SYSFS, AFU_NLB);
	struct kyt_child *d = start_registered(NULL);
	_cleanup_free_ char *where = NULL;
	cr_assert_geq(asprintf(&where, "\"path\":\"%s\"", bitstream), 0);
	_cleanup_free_ char *cfg = fpga_config(where);
	write_claim("ns1", "fpga", "uid-dfl", RESULT("fpga", FPGA), cfg);
	for (int round = 0; round < 2; round++) {
		_cleanup_(cJSON_Deletep) cJSON *p = kyt_dra_kubelet_ok(kubelet, T, "prepare " DRIVER " ns1/fpga/uid-dfl");
		cr_assert_eq(kyt_dfl_fme_received().calls, 1, "one partial reconfiguration, in round %d", round);
	}
	struct kyt_dfl_pr pr = kyt_dfl_fme_received();
	cr_assert_eq(pr.size, strlen(BITSTREAM));
	cr_assert(memcmp(pr.image, BITSTREAM, strlen(BITSTREAM)) == 0, "the kernel got the claim's verified image");
	_cleanup_(cJSON_Deletep) cJSON *u = kyt_dra_kubelet_ok(kubelet, T, "unprepare " DRIVER " ns1/fpga/uid-dfl");
	assert_clean("uid-dfl");
	stop_driver(d);
}

static bool cached(void *arg)
{
	(void)arg;
	_cleanup_free_ char *path = NULL;
	cr_assert_geq(asprintf(&path, "%s/images/sha256/%s", dirs.state_dir, sha), 0);
	return exists(path);
}

Test(dra_claimcfg, an_image_downloading_past_kubelets_deadline_fails_the_claim_and_the_retry_loads_it_once)
{
	/* kubelet waits 45 s; this one 6 s, so the test does not wait 45. */
	struct kyt_child *d = start_registered((const char *[]){ "--call-timeout", "6", NULL });
	/* A download that stalls until this test lets it end: a FIFO read
	 * through kyborg-fetch's file:// (the real fetcher, as for https). */
	cr_assert_eq(mkfifo(fifo, 0600), 0);
	_cleanup_free_ char *where = NULL;
	cr_assert_geq(asprintf(&where, "\"url\":\"file://%s\"", fifo), 0);
	_cleanup_free_ char *cfg = fpga_config(where);
	write_claim("ns1", "slow", "uid-slow", RESULT("fpga", FPGA), cfg);
	_cleanup_(cJSON_Deletep) cJSON *p = kyt_dra_kubelet_cmd(kubelet, T, "prepare " DRIVER " ns1/slow/uid-slow");
	assert_refused(p, "uid-slow", "device " FPGA ": bitstream " AFU_NLB " is still downloading");
	cr_assert_not(strstr(kyt_json_str(p, "error"), "rpc error"), "answered before kubelet's deadline: %s",
		      cJSON_PrintUnformatted(p));
	cr_assert_eq(loads(), 0, "nothing loaded");
	assert_clean("uid-slow");
	/* kubelet retries while the download goes on: the same download. */
	_cleanup_(cJSON_Deletep) cJSON *p2 = kyt_dra_kubelet_cmd(kubelet, T, "prepare " DRIVER " ns1/slow/uid-slow");
	assert_refused(p2, "uid-slow", "is still downloading");
	cr_assert_eq(log_count("event=bitstream-fetching"), 1, "one download, however many waits");
	/* The download ends. */
	int fd = open(fifo, O_WRONLY | O_CLOEXEC);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, BITSTREAM, strlen(BITSTREAM)), (ssize_t)strlen(BITSTREAM));
	close(fd);
	cr_assert(kyt_wait_until(cached, NULL, 10000), "the image reaches the cache");
	for (int round = 0; round < 2; round++) {
		_cleanup_(cJSON_Deletep) cJSON *p3 = kyt_dra_kubelet_ok(kubelet, T, "prepare " DRIVER " ns1/slow/uid-slow");
		cr_assert_eq(loads(), 1, "loaded once, in round %d", round);
	}
	cr_assert_eq(log_count("event=bitstream-fetching"), 1);
	_cleanup_(cJSON_Deletep) cJSON *u = kyt_dra_kubelet_ok(kubelet, T, "unprepare " DRIVER " ns1/slow/uid-slow");
	stop_driver(d);
}

/* ---- GpuConfig ---- */

Test(dra_claimcfg, a_gpu_config_gives_the_container_its_sharing_and_environment)
{
	struct kyt_child *d = start_registered(NULL);
	write_claim("ns1", "gpu", "uid-gpu", RESULT("gpu", GPU0),
		    CONFIG(FOR("\"gpu\""), "GpuConfig", ",\"sharing\":\"exclusive\",\"env\":{\"CUDA_CACHE_DISABLE\":\"1\",\"TF_GPU_ALLOCATOR\":\"cuda_malloc_async\"}"));
	for (int round = 0; round < 2; round++) {
		_cleanup_(cJSON_Deletep) cJSON *p = kyt_dra_kubelet_ok(kubelet, T, "prepare " DRIVER " ns1/gpu/uid-gpu");
		_cleanup_free_ char *sp = spec_path("uid-gpu");
		_cleanup_(cJSON_Deletep) cJSON *spec = kyt_read_json(sp);
		cr_assert(dev_env_has(spec, 0, "KYBORG_GPU_SHARING=exclusive"), "%s", cJSON_PrintUnformatted(spec));
		cr_assert(dev_env_has(spec, 0, "CUDA_CACHE_DISABLE=1"));
		cr_assert(dev_env_has(spec, 0, "TF_GPU_ALLOCATOR=cuda_malloc_async"));
		cr_assert(spec_env_has(spec, "NVIDIA_VISIBLE_DEVICES=" KYT_SIM_GPU0), "the device plugin's variables stay");
	}
	_cleanup_(cJSON_Deletep) cJSON *rec = record_of("uid-gpu");
	cr_assert_str_eq(kyt_json_str(kyt_json_at(record_device(rec, 0), "gpu"), "sharing"), "exclusive");
	_cleanup_(cJSON_Deletep) cJSON *u = kyt_dra_kubelet_ok(kubelet, T, "unprepare " DRIVER " ns1/gpu/uid-gpu");
	assert_clean("uid-gpu");
	stop_driver(d);
}

#define TS_ENV(v) CONFIG("", "GpuConfig", ",\"sharing\":\"timeSliced\",\"env\":{\"CUDA_MPS_PIPE_DIRECTORY\":\"" v "\"}")

Test(dra_claimcfg, claims_sharing_a_gpu_must_configure_it_alike_or_the_later_is_refused_naming_the_field)
{
	struct kyt_child *d = start_registered(NULL);
	write_claim("ns1", "a", "uid-a", RESULT("gpu", GPU1), TS_ENV("/tmp/mps"));
	write_claim("ns1", "b", "uid-b", RESULT("gpu", GPU1), TS_ENV("/tmp/mps"));
	write_claim("ns1", "c", "uid-c", RESULT("gpu", GPU1), TS_ENV("/tmp/other"));
	write_claim("ns1", "e", "uid-e", RESULT("gpu", GPU1), CONFIG("", "GpuConfig", ",\"sharing\":\"exclusive\""));
	write_claim("ns1", "f", "uid-f", RESULT("gpu", GPU1), NULL);
	_cleanup_(cJSON_Deletep) cJSON *p = kyt_dra_kubelet_ok(kubelet, T, "prepare " DRIVER " ns1/a/uid-a ns1/b/uid-b");
	_cleanup_(cJSON_Deletep) cJSON *q = kyt_dra_kubelet_cmd(kubelet, T, "prepare " DRIVER " ns1/c/uid-c ns1/e/uid-e ns1/f/uid-f");
	/* The GPU's replicas are taken by a and b: unprepare b to make room,
	 * so that the config, not the count, is what refuses. */
	assert_refused(q, "uid-c", "is shared by 2 claims already");
	_cleanup_(cJSON_Deletep) cJSON *ub = kyt_dra_kubelet_ok(kubelet, T, "unprepare " DRIVER " ns1/b/uid-b");
	_cleanup_(cJSON_Deletep) cJSON *q2 = kyt_dra_kubelet_cmd(kubelet, T, "prepare " DRIVER " ns1/c/uid-c ns1/e/uid-e ns1/f/uid-f");
	assert_refused(q2, "uid-c",
		       "config[0].opaque.parameters.env.CUDA_MPS_PIPE_DIRECTORY: device " GPU1
		       ": the GPU is shared with claim ns1/a, which sets CUDA_MPS_PIPE_DIRECTORY=/tmp/mps");
	assert_refused(q2, "uid-e", "config[0].opaque.parameters.sharing: device " GPU1
				    ": exclusive, but claim ns1/a holds the GPU already");
	assert_refused(q2, "uid-f", "device " GPU1 ": the GPU is shared with claim ns1/a, which sets CUDA_MPS_PIPE_DIRECTORY=/tmp/mps");
	assert_clean("uid-c");
	assert_clean("uid-e");
	assert_clean("uid-f");
	/* b agrees with a: it comes back. */
	_cleanup_(cJSON_Deletep) cJSON *pb = kyt_dra_kubelet_ok(kubelet, T, "prepare " DRIVER " ns1/b/uid-b");
	_cleanup_(cJSON_Deletep) cJSON *u = kyt_dra_kubelet_ok(kubelet, T, "unprepare " DRIVER " ns1/a/uid-a ns1/b/uid-b");
	/* Alone, e has the GPU exclusively, and then nobody joins it. */
	_cleanup_(cJSON_Deletep) cJSON *pe = kyt_dra_kubelet_ok(kubelet, T, "prepare " DRIVER " ns1/e/uid-e");
	_cleanup_(cJSON_Deletep) cJSON *pf = kyt_dra_kubelet_cmd(kubelet, T, "prepare " DRIVER " ns1/f/uid-f");
	assert_refused(pf, "uid-f", "device " GPU1 ": claim ns1/e holds the GPU exclusively");
	stop_driver(d);
}

/* ---- bad configs ---- */

Test(dra_claimcfg, a_bad_config_fails_its_claim_alone_naming_the_path_and_changes_nothing)
{
	struct kyt_child *d = start_registered(NULL);
	write_claim("ns1", "good", "uid-good", RESULT("gpu", GPU0), CONFIG("", "GpuConfig", ",\"env\":{\"A\":\"b\"}"));
	write_claim("ns1", "vlan", "uid-vlan", RESULT("nic", VF0), CONFIG("", "VfConfig", ",\"driver\":\"vfio-pci\",\"vlan\":5000"));
	write_claim("ns1", "kind", "uid-kind", RESULT("nic", VF0), CONFIG("", "NicConfig", ""));
	write_claim("ns1", "field", "uid-field", RESULT("nic", VF0), CONFIG("", "VfConfig", ",\"vlanId\":5"));
	write_claim("ns1", "fam", "uid-fam", RESULT("gpu", GPU1), CONFIG(FOR("\"gpu\""), "VfConfig", ",\"driver\":\"vfio-pci\""));
	write_claim("ns1", "path", "uid-path", RESULT("fpga", FPGA),
		    CONFIG("", "FpgaConfig", ",\"bitstream\":{\"id\":\"" AFU_NLB "\",\"path\":\"/etc/shadow\",\"sha256\":"
					     "\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"}"));
	write_claim("ns1", "env", "uid-env", RESULT("gpu", GPU1), CONFIG("", "GpuConfig", ",\"env\":{\"NVIDIA_VISIBLE_DEVICES\":\"all\"}"));
	/* A link in the bitstream dir that leads out of it. */
	_cleanup_free_ char *escape = kyt_path(bits_dir, "escape.gbs"), *where = NULL;
	cr_assert_eq(symlink("/etc/hostname", escape), 0);
	cr_assert_geq(asprintf(&where, "\"path\":\"%s\"", escape), 0);
	_cleanup_free_ char *link_cfg = fpga_config(where);
	write_claim("ns1", "link", "uid-link", RESULT("fpga", FPGA), link_cfg);
	_cleanup_(cJSON_Deletep) cJSON *p = kyt_dra_kubelet_cmd(
		kubelet, T,
		"prepare " DRIVER " ns1/good/uid-good ns1/vlan/uid-vlan ns1/kind/uid-kind ns1/field/uid-field ns1/fam/uid-fam "
		"ns1/path/uid-path ns1/env/uid-env ns1/link/uid-link");
	cr_assert_str_eq(error_of(p, "uid-good"), "");
	assert_refused(p, "uid-vlan", "claim ns1/vlan: config[0].opaque.parameters.vlan: must be between 0 and 4094, got 5000");
	assert_refused(p, "uid-kind", "config[0].opaque.parameters.kind: must be one of VfConfig, FpgaConfig, GpuConfig, got \"NicConfig\"");
	assert_refused(p, "uid-field", "config[0].opaque.parameters.vlanId: unknown field");
	assert_refused(p, "uid-fam", "config[0].opaque.parameters.kind: a VfConfig cannot configure request gpu: device " GPU1 " is a gpu");
	assert_refused(p, "uid-path", "config[0].opaque.parameters.bitstream.path: a claim's bitstream on the node must be under");
	assert_refused(p, "uid-env", "config[0].opaque.parameters.env.NVIDIA_VISIBLE_DEVICES: NVIDIA_*");
	_cleanup_free_ char *leads = NULL;
	cr_assert_geq(asprintf(&leads, "config[0].opaque.parameters.bitstream.path: device " FPGA ": %s leads out of %s", escape,
			       bits_dir),
		      0);
	assert_refused(p, "uid-link", leads);
	static const char *const refused[] = { "uid-vlan", "uid-kind", "uid-field", "uid-fam", "uid-path", "uid-env", "uid-link" };
	for (size_t i = 0; i < KY_ARRAY_SIZE(refused); i++)
		assert_clean(refused[i]);
	_cleanup_free_ char *ovr = sys_read("bus/pci/devices/" KYT_SIM_VF0 "/driver_override");
	cr_assert_str_eq(ovr, "(null)\n", "no VF was touched");
	cr_assert_eq(loads(), 0);
	stop_driver(d);
}

/* ---- crashes ---- */

static bool cond_killed(void *arg)
{
	return kyt_child_done(arg);
}

Test(dra_claimcfg, a_kill_at_each_new_step_then_unprepare_or_prepare_again_leaves_the_node_right)
{
	static const char *const points[] = { "dra-prepare-vf-saved", "dra-prepare-vf-bound", "dra-prepare-programmed",
					      "dra-unprepare-vf-restored" };
	_cleanup_free_ char *where = NULL;
	cr_assert_geq(asprintf(&where, "\"path\":\"%s\"", bitstream), 0);
	_cleanup_free_ char *fcfg = fpga_config(where), *config = NULL;
	cr_assert_geq(asprintf(&config, CONFIG(FOR("\"nic\""), "VfConfig", ",\"driver\":\"vfio-pci\"") ",%s", fcfg), 0);
	start_kubelet(NULL);
	int seq = 0;
	for (size_t i = 0; i < KY_ARRAY_SIZE(points); i++) {
		char uid[32], name[32];
		snprintf(uid, sizeof(uid), "uid-k%zu", i);
		snprintf(name, sizeof(name), "k%zu", i);
		write_claim("ns1", name, uid, RESULT("nic", VF0) "," RESULT("fpga", FPGA), config);
		bool at_unprepare = strncmp(points[i], "dra-unprepare", 13) == 0;
		struct kyt_child *d = start_driver_fault(points[i]);
		_cleanup_(cJSON_Deletep) cJSON *reg = kyt_dra_wait_registered(kubelet, DRIVER, seq);
		seq = kyt_dra_event_seq(reg);
		_cleanup_(cJSON_Deletep) cJSON *p = kyt_dra_kubelet_cmd(kubelet, T, "prepare " DRIVER " ns1/%s/%s", name, uid);
		if (at_unprepare) {
			cr_assert_str_eq(error_of(p, uid), "");
			_cleanup_(cJSON_Deletep) cJSON *u = kyt_dra_kubelet_cmd(kubelet, T, "unprepare " DRIVER " ns1/%s/%s", name, uid);
		}
		cr_assert(kyt_wait_until(cond_killed, d, 10000), "%s: the driver is killed", points[i]);
		cr_assert(WIFSIGNALED(d->status) && WTERMSIG(d->status) == SIGKILL, "%s: status %#x", points[i], d->status);
		/* What the journal holds once the VF may have changed. */
		_cleanup_(cJSON_Deletep) cJSON *rec = record_of(uid);
		const cJSON *vf = kyt_json_at(record_device(rec, 0), "vf");
		cr_assert_str_eq(kyt_json_str(vf, "savedDriver"), "iavf", "%s: the previous driver is on disk", points[i]);
		cr_assert_str_eq(kyt_json_str(vf, "savedOverride"), "", "%s", points[i]);

		d = start_driver();
		_cleanup_(cJSON_Deletep) cJSON *reg2 = kyt_dra_wait_registered(kubelet, DRIVER, seq);
		seq = kyt_dra_event_seq(reg2);
		if (i % 2 && !at_unprepare) {
			/* Prepare again finishes the claim and keeps what the
			 * node held before the first one changed it. */
			_cleanup_(cJSON_Deletep) cJSON *p2 = kyt_dra_kubelet_ok(kubelet, T, "prepare " DRIVER " ns1/%s/%s", name, uid);
			_cleanup_(cJSON_Deletep) cJSON *rec2 = record_of(uid);
			cr_assert_str_eq(kyt_json_str(kyt_json_at(record_device(rec2, 0), "vf"), "savedOverride"), "",
					 "%s: not the claim's own override", points[i]);
			cr_assert_str_eq(kyt_json_str(rec2, "state"), "prepared");
		}
		_cleanup_(cJSON_Deletep) cJSON *u = kyt_dra_kubelet_ok(kubelet, T, "unprepare " DRIVER " ns1/%s/%s", name, uid);
		assert_clean(uid);
		_cleanup_free_ char *ovr = sys_read("bus/pci/devices/" KYT_SIM_VF0 "/driver_override");
		cr_assert(strcmp(ovr, "\n") == 0 || strcmp(ovr, "(null)\n") == 0, "%s: the override is as it was: \"%s\"",
			  points[i], ovr);
		stop_driver(d);
		_cleanup_(cJSON_Deletep) cJSON *gone = kyt_dra_kubelet_ok(kubelet, T, "wait deregistered driver=" DRIVER " after=%d", seq);
		seq = kyt_dra_event_seq(gone);
	}
	cr_assert_eq(loads(), 1, "the image is loaded once, whatever was killed");
}

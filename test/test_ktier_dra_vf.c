/* Kernel tier (runs in the qemu guest, scripts/kernel-tier/): a claim's
 * VfConfig (issue 17) with VLAN, QoS, protocol, MAC, spoof checking,
 * trust, link state and rates applied by the real kyborg-dra-driver at
 * NodePrepareResources on a netdevsim VF, and put back at
 * NodeUnprepareResources. The KUBELET STAND-IN test/grpc/dra_kubelet.py
 * (Debian's python3-grpcio, from the host's root the guest mounts) calls
 * the driver; claims come from the driver's stand-in claim source
 * (--claims-dir). netdevsim has VFs on its PF but no VF functions in
 * sysfs, so the driver alone finds its devices in the simulated node
 * (test/data/sim-node.umockdev, umockdev's preload given to the driver
 * only), whose PF's netdev is the netdevsim PF: the settings go to the
 * real driver over rtnetlink. What the driver sets is read back with
 * `ip -j link show`, the independent peer. */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <umockdev.h>

#include "kyborg/base/cleanup.h"
#include "kytest.h"
#include "kytest_dra.h"
#include "kytest_net.h"
#include "kytest_nsim.h"
#include "kytest_proc.h"
#include "kytest_simnode.h"

#define DRIVER "kyborg.io"
#define NODE "node-a"
#define NUM_VFS 4
#define VF "vf-0000-18-01-1" /* the simulated node's VF 1 */
/* The guest is emulated, not virtualised: Python takes seconds to start. */
#define T 90000

KY_DEFINE_CLEANUP(cJSON, cJSON_Delete)

static struct kyt_nsim nsim;
static UMockdevTestbed *tb;
static struct kyt_dra_dirs dirs;
static char *claims_dir;
static struct kyt_dra_kubelet *kubelet;
static struct kyt_apiserver *api; /* none: kyt_dra_stop_all's */

static void setup(void)
{
	cr_assert_eq(kyt_private_netns(), 0, "needs root");
	int r = kyt_nsim_new(&nsim, NUM_VFS);
	cr_assert_eq(r, 0, "netdevsim device: %s (runs in the kernel tier's guest)", strerror(-r));
	/* A PF in service is up: the driver takes a VF whose PF has no
	 * carrier for unhealthy and refuses to prepare it (dra_link.c). */
	char *const up[] = { "ip", "link", "set", "dev", nsim.pf, "up", NULL };
	cr_assert_eq(kyt_runv(NULL, up), 0, "ip link set dev %s up", nsim.pf);
	tb = umockdev_testbed_new();
	static const char *const vfs[NUM_VFS] = { "kdvf0", "kdvf1", "kdvf2", "kdvf3" };
	cr_assert_eq(kyt_simnode_load(tb, nsim.pf, vfs), 0);
	kyt_dra_dirs_init(&dirs, "kykdra", DRIVER);
	claims_dir = kyt_path(dirs.dir, "claims");
	cr_assert_eq(mkdir(claims_dir, 0700), 0);
	_cleanup_free_ char *cfg = NULL;
	cr_assert_geq(asprintf(&cfg,
			       "{\"resources\":[{\"name\":\"kyborg.io/vf\",\"kind\":\"nic-vf\",\"frontend\":\"dra\","
			       "\"selector\":{\"pfNames\":[\"%s\"]}}]}",
			       nsim.pf),
		      0);
	cr_assert_eq(kyt_write_file(dirs.config_path, cfg), 0);
}

static void teardown(void)
{
	kyt_dra_stop_all(&kubelet, &api);
	if (tb)
		g_object_unref(tb);
	tb = NULL;
	kyt_nsim_del(&nsim);
	free(claims_dir);
	claims_dir = NULL;
	kyt_dra_dirs_free(&dirs);
}

TestSuite(ktier_dra_vf, .init = setup, .fini = teardown, .timeout = 400);

/* The driver under umockdev's preload (the simulated node; this process
 * writes the real /sys/bus/netdevsim), KYBORG_FAULT=fault if given. */
static struct kyt_child *start_driver_fault(const char *fault)
{
	const char *extra[] = { "--claims-dir", claims_dir, "--log-level", "info", NULL };
	setenv("LD_PRELOAD", "libumockdev-preload.so.0", 1);
	struct kyt_child *c = kyt_dra_driver_start_fault(fault, KYBORG_DRA_BIN, &dirs, NODE, NULL, extra);
	unsetenv("LD_PRELOAD");
	return c;
}

static void stop_driver(struct kyt_child *d)
{
	kill(d->pid, SIGTERM);
	cr_assert(kyt_wait_until(kyt_child_done_cond, d, 20000), "the driver exits on SIGTERM");
	cr_assert(WIFEXITED(d->status) && WEXITSTATUS(d->status) == 0, "driver status %#x", d->status);
}

static int registered(int after)
{
	_cleanup_(cJSON_Deletep) cJSON *r =
		kyt_dra_kubelet_ok(kubelet, T, "wait registered driver=" DRIVER " after=%d timeout=80000", after);
	return (int)cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetObjectItem(r, "event"), "seq"));
}

/* Claim ns1/name, allocated VF for request "nic", with a VfConfig of
 * those fields. */
static void write_claim(const char *name, const char *uid, const char *fields)
{
	_cleanup_free_ char *config = NULL;
	cr_assert_geq(asprintf(&config,
			       "{\"source\":\"FromClaim\",\"requests\":[\"nic\"],\"opaque\":{\"driver\":\"" DRIVER
			       "\",\"parameters\":{\"apiVersion\":\"kyborg.io/v1alpha1\",\"kind\":\"VfConfig\",%s}}}",
			       fields),
		      0);
	kyt_dra_claim_write(claims_dir, "ns1", name, uid,
			    "{\"request\":\"nic\",\"driver\":\"" DRIVER "\",\"pool\":\"" NODE "\",\"device\":\"" VF "\"}",
			    config);
}

static const char *claim_error(const cJSON *reply, const char *uid)
{
	const char *e = cJSON_GetStringValue(
		cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(reply, "claims"), uid), "error"));
	cr_assert_not_null(e, "no answer for %s: %s", uid, cJSON_PrintUnformatted(reply));
	return e;
}

/* The previous settings a claim finds on VF 1, none the driver's defaults. */
static void set_previous(void)
{
	cr_assert_eq(kyt_run(NULL, "ip", "link", "set", "dev", nsim.pf, "vf", "1", "mac", "02:4b:59:00:00:aa", "vlan", "20",
			     "qos", "1", "proto", "802.1Q", "min_tx_rate", "5", "max_tx_rate", "50", "spoofchk", "on",
			     "trust", "on", "state", "enable", NULL),
		     0);
}

static char *pf_json(void)
{
	char *out = NULL;
	cr_assert_eq(kyt_run(&out, "ip", "-j", "link", "show", "dev", nsim.pf, NULL), 0);
	return out;
}

static int json_int(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItem(o, key);
	return cJSON_IsNumber(v) ? v->valueint : -1;
}

#define EVERY_VF_FIELD                                                                                           \
	"\"mac\":\"02:4b:59:00:01:01\",\"vlan\":100,\"vlanQoS\":5,\"vlanProto\":\"802.1ad\",\"spoofchk\":\"off\"," \
	"\"trust\":false,\"link_state\":\"disable\",\"min_tx_rate\":10,\"max_tx_rate\":1000"

static void assert_ip_shows_every_field(void)
{
	_cleanup_(cJSON_Deletep) cJSON *j = kyt_ip_vf(nsim.pf, 1);
	cr_assert_not_null(j, "ip -j link show dev %s has no VF 1", nsim.pf);
	cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(j, "address")), "02:4b:59:00:01:01");
	const cJSON *vlan = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "vlan_list"), 0);
	cr_assert_eq(json_int(vlan, "vlan"), 100);
	cr_assert_eq(json_int(vlan, "qos"), 5);
	const char *proto = cJSON_GetStringValue(cJSON_GetObjectItem(vlan, "protocol"));
	cr_assert(proto && strcmp(proto, "802.1ad") == 0, "protocol %s", proto ? proto : "(none)");
	const cJSON *rate = cJSON_GetObjectItem(j, "rate");
	cr_assert_eq(json_int(rate, "min_tx"), 10);
	cr_assert_eq(json_int(rate, "max_tx"), 1000);
	cr_assert(cJSON_IsFalse(cJSON_GetObjectItem(j, "spoofchk")));
	cr_assert(cJSON_IsFalse(cJSON_GetObjectItem(j, "trust")));
	cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(j, "link_state")), "disable");
}

static int log_count(const char *needle)
{
	_cleanup_free_ char *text = kyt_read_file(dirs.driver_log);
	int n = 0;
	for (const char *p = text; p && (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

Test(ktier_dra_vf, a_vf_config_is_applied_at_prepare_changes_nothing_twice_and_is_put_back_at_unprepare)
{
	set_previous();
	_cleanup_free_ char *before = pf_json();
	kubelet = kyt_dra_kubelet_start(KYTEST_GRPC_DIR "/dra_kubelet.py", KYTEST_DRA_DESC, dirs.reg_dir, NULL);
	struct kyt_child *d = start_driver_fault(NULL);
	registered(0);
	write_claim("nic", "uid-every", EVERY_VF_FIELD);
	_cleanup_(cJSON_Deletep) cJSON *p = kyt_dra_kubelet_ok(kubelet, T, "prepare " DRIVER " ns1/nic/uid-every");
	assert_ip_shows_every_field();
	cr_assert_eq(log_count("changed=yes"), 1);
	/* The journal holds what was there, as the PF reported it. */
	_cleanup_free_ char *rec_path = NULL;
	cr_assert_geq(asprintf(&rec_path, "%s/dra-claims/uid-every.json", dirs.state_dir), 0);
	_cleanup_free_ char *rec_text = kyt_read_file(rec_path);
	_cleanup_(cJSON_Deletep) cJSON *rec = cJSON_Parse(rec_text);
	const cJSON *saved = cJSON_GetObjectItem(
		cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(rec, "devices"), 0), "vf"), "saved");
	cr_assert_eq(json_int(saved, "vlan"), 20, "%s", rec_text);
	cr_assert_eq(json_int(saved, "maxTxRate"), 50);
	cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(saved, "mac")), "02:4b:59:00:00:aa");

	_cleanup_(cJSON_Deletep) cJSON *p2 = kyt_dra_kubelet_ok(kubelet, T, "prepare " DRIVER " ns1/nic/uid-every");
	cr_assert_eq(log_count("changed=yes"), 1, "a second Prepare sets nothing");
	cr_assert_eq(log_count("changed=no"), 1);
	assert_ip_shows_every_field();

	_cleanup_(cJSON_Deletep) cJSON *u = kyt_dra_kubelet_ok(kubelet, T, "unprepare " DRIVER " ns1/nic/uid-every");
	_cleanup_free_ char *after = pf_json();
	cr_assert_str_eq(after, before, "the PF's VFs as before:\n--- before\n%s\n--- after\n%s", before, after);
	stop_driver(d);
}

Test(ktier_dra_vf, only_what_the_claim_set_is_put_back)
{
	set_previous();
	kubelet = kyt_dra_kubelet_start(KYTEST_GRPC_DIR "/dra_kubelet.py", KYTEST_DRA_DESC, dirs.reg_dir, NULL);
	struct kyt_child *d = start_driver_fault(NULL);
	registered(0);
	write_claim("nic", "uid-vlan", "\"vlan\":300,\"max_tx_rate\":2000");
	_cleanup_(cJSON_Deletep) cJSON *p = kyt_dra_kubelet_ok(kubelet, T, "prepare " DRIVER " ns1/nic/uid-vlan");
	_cleanup_(cJSON_Deletep) cJSON *j = kyt_ip_vf(nsim.pf, 1);
	cr_assert_eq(json_int(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "vlan_list"), 0), "vlan"), 300);
	cr_assert_eq(json_int(cJSON_GetObjectItem(j, "rate"), "max_tx"), 2000);
	cr_assert_eq(json_int(cJSON_GetObjectItem(j, "rate"), "min_tx"), 0, "min_tx_rate goes with max_tx_rate");
	/* The admin turns trust off meanwhile: not the claim's to put back. */
	cr_assert_eq(kyt_run(NULL, "ip", "link", "set", "dev", nsim.pf, "vf", "1", "trust", "off", NULL), 0);
	_cleanup_(cJSON_Deletep) cJSON *u = kyt_dra_kubelet_ok(kubelet, T, "unprepare " DRIVER " ns1/nic/uid-vlan");
	_cleanup_(cJSON_Deletep) cJSON *k = kyt_ip_vf(nsim.pf, 1);
	const cJSON *vlan = cJSON_GetArrayItem(cJSON_GetObjectItem(k, "vlan_list"), 0);
	cr_assert_eq(json_int(vlan, "vlan"), 20);
	cr_assert_eq(json_int(vlan, "qos"), 1);
	cr_assert_eq(json_int(cJSON_GetObjectItem(k, "rate"), "min_tx"), 5);
	cr_assert_eq(json_int(cJSON_GetObjectItem(k, "rate"), "max_tx"), 50);
	cr_assert(cJSON_IsFalse(cJSON_GetObjectItem(k, "trust")), "trust stays as the admin left it");
	stop_driver(d);
}

Test(ktier_dra_vf, a_kill_after_the_vf_is_configured_then_prepare_again_and_unprepare_put_it_back)
{
	static const char *const points[] = { "dra-prepare-vf-saved", "dra-prepare-vf-configured",
					      "dra-unprepare-vf-restored" };
	set_previous();
	_cleanup_free_ char *before = pf_json();
	kubelet = kyt_dra_kubelet_start(KYTEST_GRPC_DIR "/dra_kubelet.py", KYTEST_DRA_DESC, dirs.reg_dir, NULL);
	int seq = 0;
	for (size_t i = 0; i < KY_ARRAY_SIZE(points); i++) {
		char uid[16], name[16];
		snprintf(uid, sizeof(uid), "uid-k%zu", i);
		snprintf(name, sizeof(name), "k%zu", i);
		write_claim(name, uid, EVERY_VF_FIELD);
		bool at_unprepare = strncmp(points[i], "dra-unprepare", 13) == 0;
		struct kyt_child *d = start_driver_fault(points[i]);
		seq = registered(seq);
		_cleanup_(cJSON_Deletep) cJSON *p = kyt_dra_kubelet_cmd(kubelet, T, "prepare " DRIVER " ns1/%s/%s", name, uid);
		if (at_unprepare) {
			cr_assert_str_eq(claim_error(p, uid), "");
			_cleanup_(cJSON_Deletep) cJSON *u = kyt_dra_kubelet_cmd(kubelet, T, "unprepare " DRIVER " ns1/%s/%s", name, uid);
		}
		cr_assert(kyt_wait_until(kyt_child_done_cond, d, 20000), "%s: the driver is killed", points[i]);
		cr_assert(WIFSIGNALED(d->status) && WTERMSIG(d->status) == SIGKILL, "%s: status %#x", points[i], d->status);
		d = start_driver_fault(NULL);
		seq = registered(seq);
		if (!at_unprepare) {
			/* Prepare again: the journal keeps the settings from
			 * before the killed Prepare changed them. */
			_cleanup_(cJSON_Deletep) cJSON *p2 = kyt_dra_kubelet_ok(kubelet, T, "prepare " DRIVER " ns1/%s/%s", name, uid);
			assert_ip_shows_every_field();
		}
		_cleanup_(cJSON_Deletep) cJSON *u = kyt_dra_kubelet_ok(kubelet, T, "unprepare " DRIVER " ns1/%s/%s", name, uid);
		_cleanup_free_ char *after = pf_json();
		cr_assert_str_eq(after, before, "%s: the PF's VFs as before:\n--- before\n%s\n--- after\n%s", points[i], before,
				 after);
		stop_driver(d);
		_cleanup_(cJSON_Deletep) cJSON *gone =
			kyt_dra_kubelet_ok(kubelet, T, "wait deregistered driver=" DRIVER " after=%d timeout=80000", seq);
		seq = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetObjectItem(gone, "event"), "seq"));
	}
}

/* In switchdev mode netdevsim refuses VF rates: the claim fails naming the
 * VF, and what the same request applied before the rate is put back. */
Test(ktier_dra_vf, a_setting_the_driver_refuses_fails_the_claim_and_rolls_back_the_rest)
{
	cr_assert_eq(kyt_run(NULL, "devlink", "dev", "eswitch", "set", nsim.devlink, "mode", "switchdev", NULL), 0);
	cr_assert_eq(kyt_run(NULL, "ip", "link", "set", "dev", nsim.pf, "vf", "1", "mac", "02:4b:59:00:00:aa", "vlan", "20",
			     NULL),
		     0);
	_cleanup_free_ char *before = pf_json();
	kubelet = kyt_dra_kubelet_start(KYTEST_GRPC_DIR "/dra_kubelet.py", KYTEST_DRA_DESC, dirs.reg_dir, NULL);
	struct kyt_child *d = start_driver_fault(NULL);
	registered(0);
	write_claim("nic", "uid-rate", EVERY_VF_FIELD);
	_cleanup_(cJSON_Deletep) cJSON *p = kyt_dra_kubelet_cmd(kubelet, T, "prepare " DRIVER " ns1/nic/uid-rate");
	const char *e = claim_error(p, "uid-rate");
	cr_assert(strstr(e, "config[0].opaque.parameters (") && strstr(e, "max_tx_rate") &&
			  strstr(e, "): device " VF ": set VF 1 of"),
		  "the refusal names the config, its fields and the VF: %s", e);
	_cleanup_free_ char *after = pf_json();
	cr_assert_str_eq(after, before, "rolled back:\n--- before\n%s\n--- after\n%s", before, after);
	_cleanup_free_ char *rec = NULL;
	cr_assert_geq(asprintf(&rec, "%s/dra-claims/uid-rate.json", dirs.state_dir), 0);
	cr_assert_null(kyt_read_file(rec), "no record is left");
	stop_driver(d);
}

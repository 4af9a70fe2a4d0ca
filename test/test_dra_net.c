/* The network path of a DRA claim (issue 17): a VF that kyborg-dra-driver
 * prepared for a claim reaches the pod through the `kyborg` CNI plugin, as
 * Multus's DRA mode does it: the VF's ResourceSlice entry carries
 * k8s.cni.cncf.io/deviceID and k8s.cni.cncf.io/resourceName, and the
 * plugin, given that deviceID, moves the VF into the pod while the settings
 * the claim set on the VF stay the claim's. Multus itself is not run: the
 * test does its part (reads the two attributes, hands the plugin the
 * deviceID), and says so where it does.
 *
 * The simulated node (umockdev testbed, test/data/sim-node.umockdev) maps
 * the VFs' PCI addresses to veths of a network namespace of the test's own,
 * and its PF to a veth: the driver and the plugin inherit both. The driver
 * publishes to the KUBE-APISERVER STAND-IN and is driven by the KUBELET
 * STAND-IN (test/standin/kube_apiserver.py, test/grpc/dra_kubelet.py,
 * written from the real API definitions). This host's kernel refuses every
 * VF setting on a veth PF; that is used below: a plugin that applied any
 * VF setting would fail, so its success proves it applied none. VLAN and
 * rates applied and restored for real: the kernel tier (netdevsim). */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/json/json.h"
#include "kyborg/state/dra_record.h"
#include "kyborg/state/state_store.h"
#include "kytest.h"
#include "kytest_cni.h"
#include "kytest_dra.h"
#include "kytest_net.h"
#include "kytest_proc.h"
#include "kytest_simnode.h"

#define DRIVER "kyborg.io"
#define NODE "node-a"
#define T 20000
#define CNI_PATH "/usr/lib/cni"
#define VF1 "vf-0000-18-01-1"
#define VFIO_PCI "0000:5e:01.0"
#define VFIO_VF "vf-0000-5e-01-0"

static UMockdevTestbed *tb;
static char pf[16], pf_peer[16], vf[4][16], peer[4][16], ns[16], ns_path[64];
static char pf2[16], pf2_peer[16];
static struct kyt_dra_dirs dirs;
static char *cni_tmp, cni_state[512], ipam_dir[512];
static char dra_env[600];
static struct kyt_dra_kubelet *kubelet;
static struct kyt_apiserver *api;


static void setup(void)
{
	cr_assert_eq(kyt_private_netns(), 0, "needs root (a network namespace per test)");
	kyt_unique_name(pf, sizeof(pf), "kypf");
	kyt_unique_name(pf_peer, sizeof(pf_peer), "kypp");
	cr_assert_eq(kyt_run(NULL, "ip", "link", "add", pf, "type", "veth", "peer", "name", pf_peer, NULL), 0);
	cr_assert_eq(kyt_run(NULL, "ip", "link", "set", pf, "up", NULL), 0);
	cr_assert_eq(kyt_run(NULL, "ip", "link", "set", pf_peer, "up", NULL), 0);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(kyt_veth_add(vf[i], peer[i], sizeof(vf[i])), 0);
	cr_assert_eq(kyt_veth_add(pf2, pf2_peer, sizeof(pf2)), 0);
	cr_assert_eq(kyt_run(NULL, "ip", "link", "set", pf2, "up", NULL), 0); /* a PF with carrier */
	tb = umockdev_testbed_new();
	cr_assert_not_null(tb);
	cr_assert(umockdev_in_mock_environment(), "run this test under umockdev-wrapper");
	const char *const vfs[4] = { vf[0], vf[1], vf[2], vf[3] };
	cr_assert_eq(kyt_simnode_load(tb, pf, vfs), 0);
	_cleanup_free_ char *rec = NULL;
	cr_assert_geq(asprintf(&rec, kyt_simnode_userspace_vf_record, pf2, pf2), 0);
	cr_assert_eq(kyt_testbed_add(tb, rec), 0);
	cr_assert_eq(kyt_netns_add(ns, sizeof(ns)), 0);
	kyt_netns_path(ns, ns_path, sizeof(ns_path));
	kyt_cni_scratch("kydranet", &cni_tmp, cni_state, ipam_dir, sizeof(cni_state));
	kyt_dra_dirs_init(&dirs, "kydranet", DRIVER);
	/* The node tells the plugin where the driver keeps its claims. */
	snprintf(dra_env, sizeof(dra_env), "KYBORG_DRA_STATE_DIR=%s", dirs.state_dir);
	_cleanup_free_ char *text = NULL;
	cr_assert_geq(asprintf(&text,
			       "{ \"resources\": ["
			       " { \"name\": \"kyborg.io/sriov-vf\", \"kind\": \"nic-vf\", \"frontend\": \"dra\","
			       "   \"selector\": { \"pfNames\": [\"%s\"], \"drivers\": [\"iavf\"] } },"
			       " { \"name\": \"kyborg.io/dpdk-vf\", \"kind\": \"nic-vf\", \"frontend\": \"dra\","
			       "   \"selector\": { \"pfNames\": [\"%s\"], \"drivers\": [\"vfio-pci\"] } } ] }",
			       pf, pf2),
		      0);
	cr_assert_eq(kyt_write_file(dirs.config_path, text), 0);
}

static void teardown(void)
{
	kyt_dra_stop_all(&kubelet, &api);
	kyt_netns_del(ns);
	kyt_cni_scratch_free(&cni_tmp);
	kyt_testbed_free(&tb);
	kyt_dra_dirs_free(&dirs);
}

TestSuite(dra_net, .init = setup, .fini = teardown, .timeout = 150);

/* ---- the stand-ins and the driver ---- */

/* The API server stand-in, then the kubelet stand-in once its start-up
 * deletion of the node's slices is done: the driver publishes after it,
 * and the slices the test reads stay. */
static void start_all(void)
{
	api = kyt_apiserver_start(KYTEST_KUBE_APISERVER, dirs.api_dir, NULL);
	kubelet = kyt_dra_kubelet_start_api(KYTEST_GRPC_DIR "/dra_kubelet.py", KYTEST_DRA_DESC, dirs.reg_dir, api, NODE,
					    NULL);
}

static struct kyt_child *start_driver(void)
{
	return kyt_dra_driver_start(KYBORG_DRA_BIN, &dirs, NODE, api->url, (const char *[]){ "--log-level", "debug", NULL });
}

static cJSON *server_slices(void)
{
	return kyt_dra_server_slices(api, DRIVER, NODE);
}

static bool cond_published(void *arg)
{
	_cleanup_(cJSON_Deletep) cJSON *items = server_slices();
	return kyt_dra_slice_device(items, arg) != NULL;
}

/* A ResourceClaim allocated the VF `device`, as the scheduler would;
 * returns its UID. */
static char *api_claim(const char *name, const char *device)
{
	_cleanup_free_ char *result = NULL;
	cr_assert_geq(asprintf(&result, "{\"request\":\"req\",\"driver\":\"" DRIVER "\",\"pool\":\"" NODE
					"\",\"device\":\"%s\"}",
			       device),
		      0);
	return kyt_dra_api_claim(api, "ns1", name, result);
}

/* ---- the plugin, as Multus calls it ---- */

static char *net_conf(const char *device_id, const char *vf_fields)
{
	char *s = NULL;
	cr_assert_geq(asprintf(&s,
			       "{\"cniVersion\":\"1.1.0\",\"name\":\"dranet\",\"type\":\"kyborg\",\"deviceID\":\"%s\"%s%s,"
			       "\"stateDir\":\"%s\",\"ipam\":{\"type\":\"host-local\",\"dataDir\":\"%s\","
			       "\"ranges\":[[{\"subnet\":\"10.90.0.0/24\",\"rangeStart\":\"10.90.0.10\"}]]}}",
			       device_id, vf_fields ? "," : "", vf_fields ? vf_fields : "", cni_state, ipam_dir),
		      0);
	return s;
}

static int cni(const char *cmd, const char *conf, cJSON **out)
{
	const char *const env[] = { dra_env, NULL };
	struct kyt_cni_call c = { .bin = KYBORG_CNI_BIN, .command = cmd, .container_id = "pod1", .netns = ns_path,
				  .ifname = "net1", .path = CNI_PATH, .conf = conf, .env = env };
	return kyt_cni_run(&c, out);
}

/* What the node is: its links, the plugin's records and reservations, the
 * driver's records and index, the CDI specs, and how the PF and the
 * vfio-bound VF look (ip -j of the PF; the VF's driver in sysfs). */
static char *node_state(void)
{
	_cleanup_free_ char *links = kyt_node_snapshot(cni_state, ipam_dir), *pf_json = NULL, *dra = NULL,
			    *cdi = NULL;
	cr_assert_eq(kyt_run(&pf_json, "ip", "-j", "link", "show", "dev", pf, NULL), 0);
	kyt_run(&dra, "find", dirs.state_dir, "-name", "*.json", NULL);
	kyt_run(&cdi, "find", dirs.cdi_dir, "-type", "f", NULL);
	g_autofree gchar *root = umockdev_testbed_get_root_dir(tb);
	char link[256] = "";
	_cleanup_free_ char *drv = NULL;
	cr_assert_geq(asprintf(&drv, "%s/sys/bus/pci/devices/" VFIO_PCI "/driver", root), 0);
	ssize_t n = readlink(drv, link, sizeof(link) - 1);
	link[n > 0 ? n : 0] = '\0';
	char *s;
	cr_assert_geq(asprintf(&s, "%s--- pf\n%s--- dra\n%s--- cdi\n%s--- vfio driver %s\n", links, pf_json,
			       dra ? dra : "", cdi ? cdi : "", link),
		      0);
	return s;
}

static void assert_as(const char *before, const char *what)
{
	_cleanup_free_ char *now = node_state();
	cr_assert_str_eq(now, before, "%s:\n--- before\n%s\n--- after\n%s", what, before, now);
}

/* ---- the whole path ---- */

Test(dra_net, a_claims_vf_reaches_the_pod_through_the_cni_carries_traffic_and_leaves_the_node_as_before)
{
	start_all();
	struct kyt_child *d = start_driver();
	_cleanup_(cJSON_Deletep) cJSON *r = kyt_dra_wait_registered(kubelet, DRIVER, 0);
	cr_assert(kyt_wait_until(cond_published, VF1, T), "the VF is not published");
	_cleanup_free_ char *before = node_state();

	/* What Multus's DRA mode reads from the allocated device's slice
	 * entry (the test plays Multus). */
	_cleanup_(cJSON_Deletep) cJSON *items = server_slices();
	const cJSON *dev = kyt_dra_slice_device(items, VF1);
	const char *device_id = kyt_dra_attr_str(dev, "k8s.cni.cncf.io/deviceID");
	cr_assert_str_eq(device_id, KYT_SIM_VF1);
	cr_assert_str_eq(kyt_dra_attr_str(dev, "k8s.cni.cncf.io/resourceName"), "kyborg.io/sriov-vf");

	/* The scheduler allocates it, kubelet prepares the claim. */
	_cleanup_free_ char *uid = api_claim("net", VF1);
	_cleanup_(cJSON_Deletep) cJSON *p = kyt_dra_kubelet_ok(kubelet, T, "prepare-claim ns1 net");
	_cleanup_free_ char *link = kyt_dra_link_path(dirs.state_dir, KYT_SIM_VF1);
	_cleanup_free_ char *link_text = kyt_read_file(link);
	cr_assert(link_text && strstr(link_text, uid), "the driver indexed no claim for the VF: %s", link_text);

	/* The pod's network: the plugin with the slice's deviceID. */
	_cleanup_free_ char *conf = net_conf(device_id, NULL);
	_cleanup_(cJSON_Deletep) cJSON *out = NULL;
	cr_assert_eq(cni("ADD", conf, &out), 0, "%s", cJSON_PrintUnformatted(out));
	cr_assert_str_eq(kyt_json_str(cJSON_GetArrayItem(kyt_json_at(out, "interfaces"), 0), "pciID"), KYT_SIM_VF1);
	struct kyt_ip_link l;
	cr_assert(kyt_ip_link(ns, "net1", &l), "the VF is not in the pod");
	cr_assert_not(kyt_ip_link(NULL, vf[1], &l), "the VF is still in the host");
	/* Traffic: the VF's far end (its veth peer, in the host) answers. */
	cr_assert_eq(kyt_run(NULL, "ip", "addr", "add", "10.90.0.1/24", "dev", peer[1], NULL), 0);
	cr_assert_eq(kyt_run(NULL, "ip", "netns", "exec", ns, "ping", "-q", "-n", "-c", "3", "-i", "0.2", "-W", "1",
			     "10.90.0.1", NULL),
		     0, "no traffic through the claim's VF");
	cr_assert_eq(kyt_run(NULL, "ip", "addr", "flush", "dev", peer[1], NULL), 0);

	cr_assert_eq(cni("DEL", conf, NULL), 0);
	_cleanup_(cJSON_Deletep) cJSON *u = kyt_dra_kubelet_ok(kubelet, T, "unprepare-claim ns1 net");
	assert_as(before, "after DEL and Unprepare");
	kyt_child_stop(d, "the driver", 10000);
}

Test(dra_net, a_vf_bound_to_vfio_pci_reaches_the_pod_through_cdi_and_the_cni_only_reports_it)
{
	start_all();
	struct kyt_child *d = start_driver();
	_cleanup_(cJSON_Deletep) cJSON *r = kyt_dra_wait_registered(kubelet, DRIVER, 0);
	cr_assert(kyt_wait_until(cond_published, VFIO_VF, T), "the vfio-pci VF is not published");
	_cleanup_free_ char *before = node_state();
	_cleanup_(cJSON_Deletep) cJSON *items = server_slices();
	const char *device_id = kyt_dra_attr_str(kyt_dra_slice_device(items, VFIO_VF), "k8s.cni.cncf.io/deviceID");
	cr_assert_str_eq(device_id, VFIO_PCI);

	_cleanup_free_ char *uid = api_claim("dpdk", VFIO_VF);
	_cleanup_(cJSON_Deletep) cJSON *p = kyt_dra_kubelet_ok(kubelet, T, "prepare-claim ns1 dpdk");
	/* The container gets the VF through the claim's CDI spec: its VFIO
	 * group's node. */
	_cleanup_free_ char *spec_path = kyt_dra_spec_path(dirs.cdi_dir, DRIVER, uid);
	_cleanup_free_ char *spec = kyt_read_file(spec_path);
	cr_assert(spec && strstr(spec, "/dev/vfio/300"), "the CDI spec has no VFIO node: %s", spec);

	/* The plugin with its deviceID: no netdev to move, its PCI address
	 * reported and an address from IPAM (host-device's DPDK mode). */
	_cleanup_free_ char *conf = net_conf(device_id, NULL);
	_cleanup_(cJSON_Deletep) cJSON *out = NULL;
	_cleanup_free_ char *links_before = NULL, *links_after = NULL;
	kyt_run(&links_before, "ip", "-o", "link", "show", NULL);
	cr_assert_eq(cni("ADD", conf, &out), 0, "%s", cJSON_PrintUnformatted(out));
	const cJSON *i0 = cJSON_GetArrayItem(kyt_json_at(out, "interfaces"), 0);
	cr_assert_str_eq(kyt_json_str(i0, "pciID"), VFIO_PCI);
	cr_assert_null(kyt_json_at(i0, "mac"), "no netdev, no MAC");
	cr_assert_not_null(cJSON_GetArrayItem(kyt_json_at(out, "ips"), 0), "IPAM still runs");
	kyt_run(&links_after, "ip", "-o", "link", "show", NULL);
	cr_assert_str_eq(links_after, links_before, "a link moved");
	struct kyt_ip_link l;
	cr_assert_not(kyt_ip_link(ns, "net1", &l), "something was moved into the pod");
	cr_assert_eq(cni("DEL", conf, NULL), 0);
	_cleanup_(cJSON_Deletep) cJSON *u = kyt_dra_kubelet_ok(kubelet, T, "unprepare-claim ns1 dpdk");
	assert_as(before, "after DEL and Unprepare");
	kyt_child_stop(d, "the driver", 10000);
}

/* ---- the claim's VF settings ---- */

/* The claim's record, written through state/dra_record (its one owner) as
 * the driver writes it when a VfConfig set VLAN 100, spoofchk off and a
 * 1000 Mbit/s rate on VF 0000:18:01.1 (wip-17-dra applies VfConfig; this
 * host's kernel could not apply them anyway). */
static void record_claim(unsigned version)
{
	_cleanup_free_ char *rdir = ky_dra_record_dir(dirs.state_dir), *ldir = ky_dra_link_dir(dirs.state_dir), *text = NULL;
	_cleanup_(ky_state_closep) struct ky_state_store *records = NULL, *links = NULL;
	_cleanup_error_ struct ky_error *err = NULL;
	cr_assert_eq(ky_state_open(rdir, &records, &err), 0, "%s", ky_error_msg(err));
	cr_assert_eq(ky_state_open(ldir, &links, &err), 0, "%s", ky_error_msg(err));
	struct ky_dra_record rec = { 0 };
	cr_assert_geq(asprintf(&text,
			       "{\"version\":1,\"claimUID\":\"77aa\",\"namespace\":\"ns1\",\"name\":\"net\","
			       "\"driver\":\"" DRIVER "\",\"state\":\"prepared\",\"cdiSpec\":\"%s/x.json\",\"devices\":"
			       "[{\"requests\":[\"nic\"],\"pool\":\"" NODE "\",\"device\":\"" VF1 "\",\"pci\":\"" KYT_SIM_VF1
			       "\",\"kind\":\"vf\",\"resource\":\"kyborg.io/sriov-vf\",\"cdiID\":\"" DRIVER
			       "/claim=77aa-" VF1 "\"}]}",
			       dirs.cdi_dir),
		      0);
	_cleanup_(cJSON_Deletep) cJSON *doc = cJSON_Parse(text);
	cr_assert_eq(ky_dra_record_from_json(doc, &rec, &err), 0, "%s", ky_error_msg(err));
	struct ky_dra_record_vf *vf = calloc(1, sizeof(*vf));
	cr_assert_not_null(vf);
	vf->pf = strdup(pf);
	vf->vf_index = 1;
	vf->set = (struct ky_vf_config){ .mask = KY_VF_VLAN | KY_VF_SPOOFCHK | KY_VF_RATE, .vlan = 100,
					 .vlan_proto = 0x8100, .spoofchk = false, .max_tx_rate = 1000 };
	rec.devices[0].vf = vf;
	rec.devices[0].config_path = strdup("config[0]");
	{
		_cleanup_(ky_state_unlockp) struct ky_state_lock *l = NULL;
		cr_assert_eq(ky_state_lock(records, rec.claim_uid, 0, &l, &err), 0);
		cr_assert_eq(ky_dra_record_save(l, &rec, true, &err), 0, "%s", ky_error_msg(err));
	}
	if (version != KY_DRA_RECORD_VERSION) {
		/* A record from a newer driver: only its version differs here. */
		_cleanup_free_ char *path = NULL, *saved = NULL;
		cr_assert_geq(asprintf(&path, "%s/77aa.json", rdir), 0);
		saved = kyt_read_file(path);
		_cleanup_(cJSON_Deletep) cJSON *j = cJSON_Parse(saved);
		cJSON_ReplaceItemInObject(j, "version", cJSON_CreateNumber(version));
		_cleanup_free_ char *text2 = cJSON_PrintUnformatted(j);
		cr_assert_eq(kyt_write_file(path, text2), 0);
	}
	cr_assert_eq(ky_dra_links_add(links, &rec, &err), 0, "%s", ky_error_msg(err));
	ky_dra_record_clear(&rec);
}

/* What Unprepare leaves: no record, no link. */
static void forget_claim(void)
{
	_cleanup_free_ char *rec = kyt_dra_record_path(dirs.state_dir, "77aa"),
			    *link = kyt_dra_link_path(dirs.state_dir, KYT_SIM_VF1);
	cr_assert_eq(unlink(rec), 0);
	cr_assert_eq(unlink(link), 0);
}

static const char *msg_of(const cJSON *out)
{
	const char *m = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(out, "msg"));
	return m ? m : "";
}

/* The plugin's record of the attachment, as text (NULL when none). */
static char *attachment_record(void)
{
	_cleanup_free_ char *path = NULL;
	cr_assert_geq(asprintf(&path, "%s/dranet:pod1:net1.json", cni_state), 0);
	return kyt_read_file(path);
}

Test(dra_net, the_vf_settings_a_claim_set_are_neither_applied_again_nor_restored_by_the_cni)
{
	record_claim(KY_DRA_RECORD_VERSION);
	_cleanup_free_ char *before = node_state();

	/* The config repeats the claim's values: left to the claim. A veth
	 * PF refuses every VF setting, so the plugin applied none. */
	_cleanup_free_ char *same = net_conf(KYT_SIM_VF1, "\"vlan\":100,\"spoofchk\":\"off\",\"max_tx_rate\":1000");
	_cleanup_(cJSON_Deletep) cJSON *out = NULL;
	cr_assert_eq(cni("ADD", same, &out), 0, "%s", cJSON_PrintUnformatted(out));
	_cleanup_free_ char *rec = attachment_record();
	cr_assert_not_null(rec);
	cr_assert_null(strstr(rec, "vfSaved"), "ADD saved VF settings to restore: %s", rec);
	cr_assert_null(strstr(rec, "vf-config"), "ADD journaled a vf-config step: %s", rec);
	struct kyt_ip_link l;
	cr_assert(kyt_ip_link(ns, "net1", &l), "the VF is not in the pod");
	cJSON_Delete(out);
	out = NULL;
	cr_assert_eq(cni("CHECK", same, &out), 0, "%s", cJSON_PrintUnformatted(out));
	cr_assert_eq(cni("DEL", same, NULL), 0);
	assert_as(before, "after ADD and DEL of a config that repeats the claim's settings");

	/* A value other than the claim's: refused, naming the field, and
	 * nothing changes. */
	static const struct {
		const char *fields, *want;
	} other[] = {
		{ "\"vlan\":200", "vlan: VF 0000:18:01.1 is held by ResourceClaim ns1/net (77aa), whose VfConfig sets "
				  "vlan 100; this network config asks 200" },
		{ "\"vlan\":100,\"vlanQoS\":3", "vlanQoS: VF 0000:18:01.1 is held by ResourceClaim ns1/net" },
		{ "\"max_tx_rate\":500", "max_tx_rate: VF 0000:18:01.1 is held by ResourceClaim ns1/net" },
		{ "\"spoofchk\":\"on\"", "spoofchk: VF 0000:18:01.1 is held by ResourceClaim ns1/net" },
	};
	for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
		_cleanup_free_ char *conf = net_conf(KYT_SIM_VF1, other[i].fields);
		cr_assert_eq(cni("ADD", conf, &out), 1, "%s", other[i].fields);
		cr_assert_eq(kyt_cni_code(out), 7, "%s: %s", other[i].fields, cJSON_PrintUnformatted(out));
		cr_assert(strstr(msg_of(out), other[i].want), "%s: %s", other[i].fields, msg_of(out));
		cJSON_Delete(out);
		out = NULL;
		assert_as(before, other[i].fields);
	}

	/* A field the claim did not set is the config's to apply (and DEL's
	 * to restore): this kernel refuses it on a veth PF, and the ADD rolls
	 * back (applied and restored for real: test_ktier_cni_vf). */
	_cleanup_free_ char *trust = net_conf(KYT_SIM_VF1, "\"vlan\":100,\"trust\":\"on\"");
	cr_assert_eq(cni("ADD", trust, &out), 1);
	cr_assert_eq(kyt_cni_code(out), 100, "%s", cJSON_PrintUnformatted(out));
	cJSON_Delete(out);
	out = NULL;
	assert_as(before, "after a refused trust");

	/* The control: once the claim is unprepared, the same config is the
	 * plugin's to apply, and this kernel refuses it. */
	forget_claim();
	_cleanup_free_ char *without = node_state();
	cr_assert_eq(cni("ADD", same, &out), 1);
	cr_assert_eq(kyt_cni_code(out), 100, "%s", cJSON_PrintUnformatted(out));
	assert_as(without, "after the control");
}

Test(dra_net, a_claim_record_the_plugin_cannot_read_changes_nothing)
{
	/* A newer driver's record: the plugin cannot tell the claim's
	 * settings from its own, so it refuses before touching anything. */
	record_claim(99);
	_cleanup_free_ char *before = node_state();
	_cleanup_free_ char *conf = net_conf(KYT_SIM_VF1, NULL);
	_cleanup_(cJSON_Deletep) cJSON *out = NULL;
	cr_assert_eq(cni("ADD", conf, &out), 1);
	cr_assert_eq(kyt_cni_code(out), 105, "%s", cJSON_PrintUnformatted(out));
	cr_assert(strstr(msg_of(out), "VF 0000:18:01.1 is held by a DRA claim whose record cannot be read"), "%s",
		  msg_of(out));
	assert_as(before, "after the refused ADD");
	/* A VF no claim holds is untouched by any of this. */
	_cleanup_free_ char *free_vf = net_conf(KYT_SIM_VF2, NULL);
	_cleanup_(cJSON_Deletep) cJSON *added = NULL;
	cr_assert_eq(cni("ADD", free_vf, &added), 0, "%s", cJSON_PrintUnformatted(added));
	cr_assert_eq(cni("DEL", free_vf, NULL), 0);
}

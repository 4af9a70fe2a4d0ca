/* The anchors' own network configs (test/data/compat/, where SOURCES.md
 * says where each comes from), with only "type" changed, run through the
 * kyborg binary as a runtime with Multus runs them: sriov-cni's README and
 * configuration reference, the sriov-network-operator's rendering, and
 * host-device's documented ways of naming a device. The node is built to
 * match them: the simulated node and the anchors' PCI functions in an
 * umockdev testbed (test/data/compat/node.umockdev), veths as their
 * netdevs. A VF's settings need a PF with VFs, which this kernel's veths
 * are not: here those configs reach the PF and are refused by the kernel
 * (code 100, nothing left behind); test_ktier_cni_vf runs them on
 * netdevsim in the kernel tier. Debian's host-device runs the same
 * host-device configs beside ours where it can see the device (it is a Go
 * binary: umockdev's preload does not reach it). */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <umockdev.h>

#include "kyborg/base/cleanup.h"
#include "kyborg/base/exec.h"
#include "kytest.h"
#include "kytest_cni.h"
#include "kytest_net.h"
#include "kytest_simnode.h"

#define CNI_PATH "/usr/lib/cni"
#define HWADDR "52:54:00:12:34:56" /* host-device-hwaddr.json's */

KY_DEFINE_CLEANUP(cJSON, cJSON_Delete)

static UMockdevTestbed *tb;
static char pf[16], vf[4][16], vfpeer[4][16], pfpeer[16];
static char kp[16], kppeer[16], bus[16], buspeer[16], refpf[16], refpfpeer[16], refvf[16], refvfpeer[16];
static char dpdkpf[16], dpdkpeer[16], hw[16], hwpeer[16];
static char ns[16], ns_path[64];
static char *tmp, state_dir[512], ipam_dir[512];

static void setup(void)
{
	cr_assert_eq(kyt_private_netns(), 0, "needs root");
	cr_assert_eq(kyt_veth_add(pf, pfpeer, sizeof(pf)), 0);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(kyt_veth_add(vf[i], vfpeer[i], sizeof(vf[i])), 0);
	cr_assert_eq(kyt_veth_add(kp, kppeer, sizeof(kp)), 0);
	cr_assert_eq(kyt_veth_add(bus, buspeer, sizeof(bus)), 0);
	cr_assert_eq(kyt_veth_add(refpf, refpfpeer, sizeof(refpf)), 0);
	cr_assert_eq(kyt_veth_add(refvf, refvfpeer, sizeof(refvf)), 0);
	cr_assert_eq(kyt_veth_add(dpdkpf, dpdkpeer, sizeof(dpdkpf)), 0);
	cr_assert_eq(kyt_veth_add(hw, hwpeer, sizeof(hw)), 0);
	cr_assert_eq(kyt_run(NULL, "ip", "link", "set", hw, "address", HWADDR, NULL), 0);
	/* host-device's sample names its device enp0s1. */
	cr_assert_eq(kyt_run(NULL, "ip", "link", "add", "enp0s1", "type", "veth", "peer", "name", "enp0s1p", NULL), 0);
	cr_assert_eq(kyt_run(NULL, "ip", "link", "set", "enp0s1p", "up", NULL), 0);
	tb = umockdev_testbed_new();
	const char *const vfs[4] = { vf[0], vf[1], vf[2], vf[3] };
	cr_assert_eq(kyt_simnode_load(tb, pf, vfs), 0);
	const char *const subs[] = { "KERNELPATH", kp, "PCIBUSID", bus, "REFPF", refpf, "REFVF", refvf,
				     "DPDKPF", dpdkpf, NULL };
	cr_assert_eq(kyt_testbed_add_file(tb, KYTEST_DATA_DIR "/compat/node.umockdev", subs), 0);
	cr_assert_eq(kyt_netns_add(ns, sizeof(ns)), 0);
	kyt_netns_path(ns, ns_path, sizeof(ns_path));
	kyt_cni_scratch("kycmp", &tmp, state_dir, ipam_dir, sizeof(state_dir));
}

static void teardown(void)
{
	kyt_netns_del(ns);
	kyt_cni_scratch_free(&tmp);
	if (tb)
		g_object_unref(tb);
	tb = NULL;
}

TestSuite(cni_compat, .init = setup, .fini = teardown, .timeout = 120);

static char *compat_conf(const char *file, const struct kyt_compat *rt)
{
	return kyt_cni_compat_conf(file, rt, state_dir, ipam_dir, tmp);
}

/* The node lets configs log under the scratch directory, where
 * kyt_cni_compat_conf moves their logFile (KYBORG_CNI_LOG_DIRS: the node
 * decides where logs may go, /var/log by default). */
static int cni_bin(const char *bin, const char *cmd, const char *conf, cJSON **out)
{
	char allow[600];
	snprintf(allow, sizeof(allow), "KYBORG_CNI_LOG_DIRS=%s", tmp);
	const char *const env[] = { allow, NULL };
	struct kyt_cni_call c = { .bin = bin, .command = cmd, .container_id = "pod1", .netns = ns_path,
				  .ifname = "net1", .path = CNI_PATH, .conf = conf, .env = env };
	return kyt_cni_run(&c, out);
}

static int cni(const char *cmd, const char *conf, cJSON **out)
{
	return cni_bin(KYBORG_CNI_BIN, cmd, conf, out);
}

static const char *msg_of(const cJSON *out)
{
	const char *m = cJSON_GetStringValue(cJSON_GetObjectItem(out, "msg"));
	return m ? m : "(no msg)";
}

static const char *if0(const cJSON *res, const char *key)
{
	return cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(res, "interfaces"), 0), key));
}

static char *snap(void)
{
	return kyt_node_snapshot(state_dir, ipam_dir);
}

static void assert_node(const char *before, const char *what)
{
	_cleanup_free_ char *after = snap();
	cr_assert_str_eq(after, before, "%s: the node changed:\n--- before\n%s--- after\n%s", what, before, after);
}

/* CHECK came with CNI 0.4.0: a runtime does not call it for an older
 * config, and the plugin says so (code 1) rather than guess. */
static void check_as_the_version_allows(const char *file, const char *conf, const cJSON *res)
{
	_cleanup_(cJSON_Deletep) cJSON *c = cJSON_Parse(conf);
	const char *v = cJSON_GetStringValue(cJSON_GetObjectItem(c, "cniVersion"));
	cJSON_AddItemToObject(c, "prevResult", cJSON_Duplicate(res, 1));
	_cleanup_free_ char *check = cJSON_PrintUnformatted(c);
	_cleanup_(cJSON_Deletep) cJSON *out = NULL;
	int rc = cni("CHECK", check, &out);
	if (strcmp(v, "0.4.0") < 0) {
		cr_assert_eq(kyt_cni_code(out), 1, "%s: CHECK of a %s config: %s", file, v, msg_of(out));
	} else {
		cr_assert_eq(rc, 0, "%s: CHECK: %s", file, msg_of(out));
	}
}

/* ---- sriov-cni ---- */

/* The README's minimal config, on a VF Multus names by deviceID: the VF's
 * netdev in the pod as net1 with host-local's address and the default
 * route, the address announced on the link, and DEL puts the node back. */
Test(cni_compat, sriov_cni_readme_kernel_driver_config_attaches_the_vf)
{
	_cleanup_free_ char *before = snap();
	struct kyt_compat rt = { .device_id = KYT_SIM_VF0 };
	_cleanup_free_ char *conf = compat_conf("sriov-cni-readme-kernel.json", &rt);
	int cap = kyt_capture_open(vfpeer[0]);
	cr_assert_geq(cap, 0);
	_cleanup_(cJSON_Deletep) cJSON *res = NULL;
	cr_assert_eq(cni("ADD", conf, &res), 0, "ADD: %s", msg_of(res));
	cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(res, "cniVersion")), "0.3.1");
	cr_assert_str_eq(if0(res, "name"), "net1");
	const cJSON *ip0 = cJSON_GetArrayItem(cJSON_GetObjectItem(res, "ips"), 0);
	cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(ip0, "address")), "10.56.217.2/24");
	cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(ip0, "gateway")), "10.56.217.1");
	cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(ip0, "version")), "4");
	struct kyt_ip_link l;
	cr_assert(kyt_ip_link(ns, "net1", &l), "the VF's netdev is in the pod as net1");
	cr_assert_not(kyt_ip_link(NULL, vf[0], &l), "%s left the host", vf[0]);
	_cleanup_free_ char *routes = NULL;
	cr_assert_eq(kyt_run(&routes, "ip", "-n", ns, "route", "show", "default", NULL), 0);
	cr_assert(strstr(routes, "via 10.56.217.1 dev net1"), "%s", routes);
	/* The gratuitous ARP for 10.56.217.2 reached the VF's far end. */
	bool garp = false;
	unsigned char f[2048];
	int n;
	while (!garp && (n = kyt_capture_next(cap, f, sizeof(f), 1000, NULL)) > 0)
		garp = n >= 42 && f[12] == 0x08 && f[13] == 0x06 && memcmp(f + 14 + 14, (const unsigned char[]){ 10, 56, 217, 2 }, 4) == 0 &&
		       memcmp(f + 14 + 24, (const unsigned char[]){ 10, 56, 217, 2 }, 4) == 0;
	close(cap);
	cr_assert(garp, "no gratuitous ARP for 10.56.217.2 on %s", vfpeer[0]);
	check_as_the_version_allows("sriov-cni-readme-kernel.json", conf, res);
	cr_assert_eq(cni("DEL", conf, NULL), 0);
	assert_node(before, "after DEL");
}

/* Every sriov-cni config that sets a VF field, the operator's renderings
 * included: parsed and accepted, the device found through Multus's
 * deviceID (or the config's own), the settings sent to the PF, which here
 * (a veth) has no VFs and refuses them: code 100 naming the VF, nothing
 * changed. The kernel tier applies them for real. */
Test(cni_compat, sriov_cni_vf_configs_reach_the_pf)
{
	static const struct {
		const char *file, *device_id, *rc, *pf_of;
	} cases[] = {
		{ "sriov-cni-readme-extended.json", KYT_SIM_VF1, NULL, "pf" },
		{ "sriov-cni-readme-dpdk.json", KYT_COMPAT_DPDK_VF, NULL, "dpdkpf" },
		{ "sriov-cni-config-reference.json", NULL, NULL, "refpf" },
		{ "sriov-operator-simple.json", KYT_SIM_VF2, NULL, "pf" },
		{ "sriov-operator-rendered.json", KYT_SIM_VF3,
		  "{\"mac\":\"02:4b:59:00:00:33\",\"ips\":[\"10.56.217.33/24\"]}", "pf" },
	};
	_cleanup_free_ char *before = snap();
	for (size_t i = 0; i < KY_ARRAY_SIZE(cases); i++) {
		struct kyt_compat rt = { .device_id = cases[i].device_id, .rc = cases[i].rc };
		_cleanup_free_ char *conf = compat_conf(cases[i].file, &rt);
		_cleanup_(cJSON_Deletep) cJSON *out = NULL;
		cr_assert_neq(cni("ADD", conf, &out), 0, "%s: a veth PF took a VF setting", cases[i].file);
		cr_assert_eq(kyt_cni_code(out), 100, "%s: %s", cases[i].file, msg_of(out));
		const char *want_pf = strcmp(cases[i].pf_of, "pf") == 0 ? pf : strcmp(cases[i].pf_of, "refpf") == 0 ? refpf
													       : dpdkpf;
		cr_assert(strstr(msg_of(out), "step vf-config: ") && strstr(msg_of(out), want_pf), "%s: %s", cases[i].file,
			  msg_of(out));
		assert_node(before, cases[i].file);
		cr_assert_eq(cni("DEL", conf, NULL), 0, "%s: DEL after a failed ADD", cases[i].file);
	}
	/* The configuration reference logs at debug to its logFile (moved
	 * under the scratch directory), where the failure is told. */
	char path[600];
	snprintf(path, sizeof(path), "%s/sriov.log", tmp);
	_cleanup_free_ char *log = kyt_read_file(path);
	cr_assert_not_null(log, "no %s", path);
	cr_assert(strstr(log, "level=debug") && strstr(log, "event=failed"), "%s", log);
	snprintf(path, sizeof(path), "%s/sriov-cni.log", tmp);
	_cleanup_free_ char *log2 = kyt_read_file(path);
	cr_assert(log2 && strstr(log2, "event=failed"), "the operator's logFile: %s", log2 ? log2 : "(none)");
}

/* ---- host-device ---- */

struct hd_case {
	const char *file;
	const char *rc;
	const char *dev;   /* the host netdev it names */
	bool debian_too;   /* Debian's host-device can see it (no umockdev) */
};

static void host_device_roundtrip(const struct hd_case *hc)
{
	struct kyt_ip_link host;
	cr_assert(kyt_ip_link(NULL, hc->dev, &host), "%s: no %s", hc->file, hc->dev);
	_cleanup_free_ char *before = snap();
	struct kyt_compat rt = { .rc = hc->rc };
	_cleanup_free_ char *conf = compat_conf(hc->file, &rt);
	_cleanup_(cJSON_Deletep) cJSON *res = NULL;
	cr_assert_eq(cni("ADD", conf, &res), 0, "%s: ADD: %s", hc->file, msg_of(res));
	cr_assert_str_eq(if0(res, "name"), "net1", "%s", hc->file);
	cr_assert_str_eq(if0(res, "mac"), host.address, "%s", hc->file);
	cr_assert_str_eq(if0(res, "sandbox"), ns_path, "%s", hc->file);
	struct kyt_ip_link l;
	cr_assert(kyt_ip_link(ns, "net1", &l), "%s: %s is in the pod as net1", hc->file, hc->dev);
	cr_assert_str_eq(l.address, host.address, "%s", hc->file);
	cr_assert_not(kyt_ip_link(NULL, hc->dev, &l), "%s: %s left the host", hc->file, hc->dev);
	check_as_the_version_allows(hc->file, conf, res);
	cr_assert_eq(cni("DEL", conf, NULL), 0, "%s", hc->file);
	assert_node(before, hc->file);
	if (!hc->debian_too)
		return;
	/* The anchor itself, given the same config: the same interface in
	 * the pod, named, addressed and placed as ours. */
	struct kyt_compat theirs = { .rc = hc->rc, .type = "host-device" };
	_cleanup_free_ char *hd_conf = compat_conf(hc->file, &theirs);
	_cleanup_(cJSON_Deletep) cJSON *hd_res = NULL;
	cr_assert_eq(cni_bin(CNI_PATH "/host-device", "ADD", hd_conf, &hd_res), 0, "%s: Debian's host-device: %s",
		     hc->file, msg_of(hd_res));
	cr_assert(kyt_ip_link(ns, "net1", &l), "%s: host-device's net1", hc->file);
	cr_assert_str_eq(l.address, host.address);
	const char *keys[] = { "name", "mac", "sandbox" };
	for (size_t k = 0; k < 3; k++)
		cr_assert_str_eq(if0(hd_res, keys[k]), if0(res, keys[k]), "%s: interfaces[0].%s differs from host-device's",
				 hc->file, keys[k]);
	cr_assert_eq(cni_bin(CNI_PATH "/host-device", "DEL", hd_conf, NULL), 0);
	cr_assert(kyt_ip_link(NULL, hc->dev, &l), "%s: host-device put %s back", hc->file, hc->dev);
}

Test(cni_compat, host_device_device_sample_moves_the_named_device)
{
	const struct hd_case hc = { "host-device-device.json", NULL, "enp0s1", true };
	host_device_roundtrip(&hc);
}

Test(cni_compat, host_device_hwaddr_moves_the_device_with_that_mac)
{
	const struct hd_case hc = { "host-device-hwaddr.json", NULL, hw, true };
	host_device_roundtrip(&hc);
}

Test(cni_compat, host_device_pci_bus_id_sample_moves_that_functions_netdev)
{
	const struct hd_case hc = { "host-device-pcibusid.json", NULL, bus, false };
	host_device_roundtrip(&hc);
}

Test(cni_compat, host_device_kernelpath_moves_the_netdev_of_that_kernel_object)
{
	const struct hd_case hc = { "host-device-kernelpath.json", NULL, kp, false };
	host_device_roundtrip(&hc);
}

/* The deviceID capability from both sides: the operator's config declares
 * it and the runtime passes runtimeConfig.deviceID; the plugin's sample
 * carries it already. */
Test(cni_compat, host_device_device_id_capability_moves_that_functions_netdev)
{
	const struct hd_case by_runtime = { "host-device-capabilities.json", "{\"deviceID\":\"" KYT_COMPAT_PCIBUSID "\"}",
					    bus, false };
	host_device_roundtrip(&by_runtime);
	const struct hd_case as_given = { "host-device-runtimeconfig.json", NULL, bus, false };
	host_device_roundtrip(&as_given);
}

/* A kernelpath that leads nowhere (101), to an object that is no netdev
 * or PCI function (101), or through a link out of /sys/devices (7): each
 * refused naming the field, nothing changed. */
Test(cni_compat, a_kernelpath_naming_nothing_of_ours_is_refused)
{
	static const char *const paths[] = { "/sys/devices/pci0000:00/0000:00:1f.7", "/sys/devices/pci0000:3a",
					     "/sys/devices/pci0000:00/0000:00:1f.6/subsystem" };
	static const int codes[] = { 101, 101, 7 };
	static const char *const why[] = { "No such file", "neither a network device nor a PCI function",
					   "resolves to /sys/bus/pci, outside /sys/devices/" };
	_cleanup_free_ char *before = snap();
	_cleanup_free_ char *base = compat_conf("host-device-kernelpath.json", NULL);
	for (size_t i = 0; i < KY_ARRAY_SIZE(paths); i++) {
		_cleanup_(cJSON_Deletep) cJSON *c = cJSON_Parse(base);
		cJSON_ReplaceItemInObject(c, "kernelpath", cJSON_CreateString(paths[i]));
		_cleanup_free_ char *conf = cJSON_PrintUnformatted(c);
		_cleanup_(cJSON_Deletep) cJSON *out = NULL;
		cr_assert_neq(cni("ADD", conf, &out), 0, "%s accepted", paths[i]);
		cr_assert_eq(kyt_cni_code(out), codes[i], "%s: %s", paths[i], msg_of(out));
		cr_assert(strncmp(msg_of(out), "kernelpath: ", 12) == 0 && strstr(msg_of(out), why[i]), "%s: %s", paths[i],
			  msg_of(out));
		assert_node(before, paths[i]);
	}
}

/* ---- Configs that change after ADD ---- */

/* A NetworkAttachmentDefinition edited after the pod started (a field
 * added, one of ours mistyped, one removed), or a plugin downgraded: DEL
 * with the new config still finds the record and restores the node, the
 * VF's netdev and its address included. */
Test(cni_compat, del_with_a_config_that_gained_or_lost_fields_restores_the_node)
{
	static const struct kyt_compat changed[] = {
		{ .device_id = KYT_SIM_VF0, .extra = "{\"someNewField\":{\"x\":1},\"vlan_qos\":3,\"logLevel\":\"verbose\"}" },
		{ .device_id = KYT_SIM_VF0, .extra = "{\"deviceID\":\"garbage\",\"kernelpath\":\"/etc\"}" },
		{ .drop = "ipam" },
		{ .drop = "name" },
	};
	_cleanup_free_ char *before = snap();
	for (size_t i = 0; i < KY_ARRAY_SIZE(changed); i++) {
		struct kyt_compat rt = { .device_id = KYT_SIM_VF0 };
		_cleanup_free_ char *conf = compat_conf("sriov-cni-readme-kernel.json", &rt);
		_cleanup_(cJSON_Deletep) cJSON *res = NULL;
		cr_assert_eq(cni("ADD", conf, &res), 0, "ADD: %s", msg_of(res));
		_cleanup_free_ char *del = compat_conf("sriov-cni-readme-kernel.json", &changed[i]);
		_cleanup_(cJSON_Deletep) cJSON *out = NULL;
		int rc = cni("DEL", del, &out);
		if (changed[i].drop && strcmp(changed[i].drop, "name") == 0) {
			/* The name finds the record: without it DEL cannot know
			 * which network it is, and says so (code 7). */
			cr_assert_eq(kyt_cni_code(out), 7, "%s", msg_of(out));
			cr_assert_eq(cni("DEL", conf, NULL), 0);
		} else {
			cr_assert_eq(rc, 0, "DEL with %s: %s", del, msg_of(out));
		}
		assert_node(before, del);
	}
}

/* ADD itself: a near miss of a field is refused naming the field meant,
 * and changes nothing; a field nobody here knows is left aside, noted in
 * the log, and the pod attached. */
Test(cni_compat, add_refuses_a_near_miss_and_logs_any_other_unknown_field)
{
	_cleanup_free_ char *before = snap();
	struct kyt_compat near = { .device_id = KYT_SIM_VF0, .extra = "{\"spoofChk\":\"off\"}" };
	_cleanup_free_ char *conf = compat_conf("sriov-cni-readme-kernel.json", &near);
	_cleanup_(cJSON_Deletep) cJSON *out = NULL;
	cr_assert_neq(cni("ADD", conf, &out), 0);
	cr_assert_eq(kyt_cni_code(out), 7);
	cr_assert_str_eq(msg_of(out), "spoofChk: unknown field; did you mean spoofchk?");
	assert_node(before, "after the refused ADD");

	char extra[700];
	snprintf(extra, sizeof(extra), "{\"vlan_trunk\":\"2,4\",\"logFile\":\"%s/k.log\"}", tmp);
	struct kyt_compat other = { .device_id = KYT_SIM_VF0, .extra = extra };
	_cleanup_free_ char *conf2 = compat_conf("sriov-cni-readme-kernel.json", &other);
	_cleanup_(cJSON_Deletep) cJSON *res = NULL;
	cr_assert_eq(cni("ADD", conf2, &res), 0, "%s", msg_of(res));
	char path[600];
	snprintf(path, sizeof(path), "%s/k.log", tmp);
	_cleanup_free_ char *log = kyt_read_file(path);
	cr_assert(log && strstr(log, "event=config-left-aside") && strstr(log, "vlan_trunk"), "%s", log ? log : "(no log)");
	cr_assert_eq(cni("DEL", conf2, NULL), 0);
	assert_node(before, "after DEL");
}

/* What a user switching over runs first: every anchor config, as written
 * (with the name a runtime adds), passes `kyborg --check-config`. */
Test(cni_compat, every_anchor_config_passes_check_config)
{
	static const char *const files[] = {
		"sriov-cni-readme-kernel.json", "sriov-cni-readme-extended.json", "sriov-cni-readme-dpdk.json",
		"sriov-cni-config-reference.json", "sriov-operator-simple.json", "sriov-operator-rendered.json",
		"host-device-device.json", "host-device-pcibusid.json", "host-device-capabilities.json",
		"host-device-runtimeconfig.json", "host-device-hwaddr.json", "host-device-kernelpath.json",
	};
	for (size_t i = 0; i < KY_ARRAY_SIZE(files); i++) {
		char path[256];
		snprintf(path, sizeof(path), KYTEST_DATA_DIR "/compat/%s", files[i]);
		_cleanup_free_ char *text = kyt_read_file(path);
		_cleanup_(cJSON_Deletep) cJSON *c = cJSON_Parse(text);
		cr_assert_not_null(c, "%s", files[i]);
		if (!cJSON_GetObjectItem(c, "name"))
			cJSON_AddStringToObject(c, "name", "compatnet");
		_cleanup_free_ char *conf = cJSON_PrintUnformatted(c);
		char *const argv[] = { "kyborg", "--check-config", NULL };
		char *const envp[] = { "PATH=/usr/bin:/bin", NULL };
		struct ky_exec x = { .path = KYBORG_CNI_BIN, .argv = argv, .envp = envp, .input = conf,
				     .input_len = strlen(conf), .timeout_ms = 10000 };
		_cleanup_free_ char *out = NULL;
		int status = -1;
		cr_assert_eq(ky_exec_capture(&x, &out, NULL, &status, NULL), 0);
		cr_assert_eq(status, 0, "%s: kyborg --check-config: %s", files[i], out ? out : "");
		cr_assert_str_eq(out ? out : "", "", "%s", files[i]);
	}
}

/* The kyborg CNI plugin as a runtime runs it: the binary, its environment
 * and stdin, against the real kernel. Each test has a private netns as the
 * "host", a named netns as the pod, veths as devices and Debian's
 * host-local as the IPAM plugin, with its data in a temp dir. */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kyborg/base/cleanup.h"
#include "kytest.h"
#include "kytest_cni.h"
#include "kytest_net.h"

#define CNI_PATH "/usr/lib/cni"

static char dev[16], peer[16], ns[16], ns_path[64];
static char *tmp, state_dir[512], ipam_dir[512];

static void setup(void)
{
	cr_assert_eq(kyt_private_netns(), 0, "needs root");
	cr_assert_eq(kyt_veth_add(dev, peer, sizeof(dev)), 0);
	cr_assert_eq(kyt_netns_add(ns, sizeof(ns)), 0);
	kyt_netns_path(ns, ns_path, sizeof(ns_path));
	kyt_cni_scratch("kycni", &tmp, state_dir, ipam_dir, sizeof(state_dir));
}

static void teardown(void)
{
	kyt_netns_del(ns);
	kyt_cni_scratch_free(&tmp);
}

TestSuite(cni_plugin, .init = setup, .fini = teardown, .timeout = 120);

/* A config for `device` with host-local on subnet, plus extra fields
 * (",\"mtu\":1400"). */
static char *conf_for(const char *version, const char *device, const char *subnet, const char *extra)
{
	char *s = NULL;
	cr_assert_geq(asprintf(&s,
			       "{\"cniVersion\":\"%s\",\"name\":\"kynet\",\"type\":\"kyborg\",\"device\":\"%s\","
			       "\"stateDir\":\"%s\",\"ipam\":{\"type\":\"host-local\",\"dataDir\":\"%s\","
			       "\"ranges\":[[{\"subnet\":\"%s\"}]],\"routes\":[{\"dst\":\"0.0.0.0/0\"}]}%s}",
			       version, device, state_dir, ipam_dir, subnet, extra ? extra : ""),
		      0);
	return s;
}

static int cni(const char *cmd, const char *cid, const char *ifname, const char *netns, const char *conf,
	       cJSON **out)
{
	struct kyt_cni_call c = { .bin = KYBORG_CNI_BIN, .command = cmd, .container_id = cid, .netns = netns,
				  .ifname = ifname, .path = CNI_PATH, .conf = conf };
	return kyt_cni_run(&c, out);
}

static const char *jstr(const cJSON *o, const char *path0, int idx, const char *key)
{
	return cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(o, path0), idx), key));
}

static char *snap(void)
{
	return kyt_node_snapshot(state_dir, ipam_dir);
}

static void assert_same_node(const char *before)
{
	char *after = snap();
	cr_assert_str_eq(after, before, "the node changed:\n--- before\n%s--- after\n%s", before, after);
	free(after);
}

Test(cni_plugin, version_lists_every_supported_version)
{
	cJSON *out = NULL;
	struct kyt_cni_call c = { .bin = KYBORG_CNI_BIN, .command = "VERSION", .conf = "{\"cniVersion\":\"1.0.0\"}" };
	cr_assert_eq(kyt_cni_run(&c, &out), 0);
	cJSON *v = cJSON_GetObjectItem(out, "supportedVersions");
	cr_assert_eq(cJSON_GetArraySize(v), 5);
	cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetArrayItem(v, 0)), "0.3.0");
	cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetArrayItem(v, 4)), "1.1.0");
	cJSON_Delete(out);
}

Test(cni_plugin, add_moves_the_device_and_del_restores_the_host)
{
	char *before = snap();
	struct kyt_ip_link orig;
	cr_assert(kyt_ip_link(NULL, dev, &orig));
	char *conf = conf_for("1.1.0", dev, "10.70.0.0/24", ",\"mtu\":1400,\"mac\":\"02:11:22:33:44:55\"");
	cJSON *out = NULL;
	cr_assert_eq(cni("ADD", "c1", "net1", ns_path, conf, &out), 0, "%s", cJSON_PrintUnformatted(out));
	cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(out, "cniVersion")), "1.1.0");
	cr_assert_str_eq(jstr(out, "interfaces", 0, "name"), "net1");
	cr_assert_str_eq(jstr(out, "interfaces", 0, "mac"), "02:11:22:33:44:55");
	cr_assert_str_eq(jstr(out, "interfaces", 0, "sandbox"), ns_path);
	cr_assert_str_eq(jstr(out, "ips", 0, "address"), "10.70.0.2/24");
	cr_assert_null(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(out, "ips"), 0), "version"));
	cr_assert_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(out, "ips"), 0), "interface")->valueint, 0);

	struct kyt_ip_link in_pod;
	cr_assert(kyt_ip_link(ns, "net1", &in_pod), "the device is in the pod as net1");
	cr_assert_eq(in_pod.mtu, 1400);
	cr_assert_str_eq(in_pod.address, "02:11:22:33:44:55");
	cr_assert(in_pod.up);
	cr_assert_not(kyt_ip_link(NULL, dev, &orig), "the device left the host");
	char *addrs = NULL;
	cr_assert_eq(kyt_run(&addrs, "ip", "-n", ns, "-o", "addr", "show", "dev", "net1", NULL), 0);
	cr_assert(strstr(addrs, "10.70.0.2/24"), "%s", addrs);
	free(addrs);
	char *routes = NULL;
	cr_assert_eq(kyt_run(&routes, "ip", "-n", ns, "route", "show", "default", NULL), 0);
	cr_assert(strstr(routes, "via 10.70.0.1 dev net1"), "%s", routes);
	free(routes);

	cr_assert_eq(cni("DEL", "c1", "net1", ns_path, conf, NULL), 0);
	assert_same_node(before);
	cJSON_Delete(out);
	free(conf);
	free(before);
}

Test(cni_plugin, results_follow_the_requested_version)
{
	static const char *const versions[] = { "0.3.0", "0.3.1", "0.4.0", "1.0.0" };
	char *before = snap();
	for (size_t i = 0; i < 4; i++) {
		char *conf = conf_for(versions[i], dev, "10.71.0.0/24", NULL);
		cJSON *out = NULL;
		cr_assert_eq(cni("ADD", "c1", "eth0", ns_path, conf, &out), 0, "%s", versions[i]);
		cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(out, "cniVersion")), versions[i]);
		const char *ipv = jstr(out, "ips", 0, "version");
		if (i < 3)
			cr_assert_str_eq(ipv, "4", "%s has ips[].version", versions[i]);
		else
			cr_assert_null(ipv, "1.0.0 has no ips[].version");
		cr_assert_null(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(out, "interfaces"), 0), "mtu"));
		cr_assert_eq(cni("DEL", "c1", "eth0", ns_path, conf, NULL), 0);
		cJSON_Delete(out);
		free(conf);
	}
	assert_same_node(before);
	free(before);
}

Test(cni_plugin, add_again_returns_the_same_result_and_changes_nothing)
{
	char *conf = conf_for("1.1.0", dev, "10.72.0.0/24", NULL);
	cJSON *a = NULL, *b = NULL;
	cr_assert_eq(cni("ADD", "c1", "eth0", ns_path, conf, &a), 0);
	char *mid = snap();
	cr_assert_eq(cni("ADD", "c1", "eth0", ns_path, conf, &b), 0);
	assert_same_node(mid);
	char *sa = cJSON_PrintUnformatted(a), *sb = cJSON_PrintUnformatted(b);
	cr_assert_str_eq(sa, sb);
	cr_assert_eq(cni("DEL", "c1", "eth0", ns_path, conf, NULL), 0);
	free(sa);
	free(sb);
	free(mid);
	cJSON_Delete(a);
	cJSON_Delete(b);
	free(conf);
}

Test(cni_plugin, another_container_cannot_take_a_device_in_use)
{
	char *conf = conf_for("1.1.0", dev, "10.73.0.0/24", NULL);
	cr_assert_eq(cni("ADD", "c1", "eth0", ns_path, conf, NULL), 0);
	char *mid = snap();
	cJSON *out = NULL;
	cr_assert_neq(cni("ADD", "c2", "eth0", ns_path, conf, &out), 0);
	cr_assert_eq(kyt_cni_code(out), 102, "%s", cJSON_PrintUnformatted(out));
	cr_assert(strstr(cJSON_GetStringValue(cJSON_GetObjectItem(out, "msg")), "c1/eth0"));
	assert_same_node(mid);
	cr_assert_eq(cni("DEL", "c1", "eth0", ns_path, conf, NULL), 0);
	cJSON_Delete(out);
	free(mid);
	free(conf);
}

Test(cni_plugin, del_twice_and_del_without_record_succeed)
{
	char *before = snap();
	char *conf = conf_for("1.1.0", dev, "10.74.0.0/24", NULL);
	cr_assert_eq(cni("DEL", "never-added", "eth0", ns_path, conf, NULL), 0, "DEL with no record");
	cr_assert_eq(cni("DEL", "never-added", "eth0", NULL, conf, NULL), 0, "DEL with no record nor netns");
	cr_assert_eq(cni("ADD", "c1", "eth0", ns_path, conf, NULL), 0);
	cr_assert_eq(cni("DEL", "c1", "eth0", ns_path, conf, NULL), 0);
	cr_assert_eq(cni("DEL", "c1", "eth0", ns_path, conf, NULL), 0, "second DEL");
	assert_same_node(before);
	free(conf);
	free(before);
}

Test(cni_plugin, del_after_the_pod_netns_is_gone)
{
	char *conf = conf_for("1.1.0", dev, "10.75.0.0/24", NULL);
	cr_assert_eq(cni("ADD", "c1", "eth0", ns_path, conf, NULL), 0);
	kyt_netns_del(ns);
	/* A veth dies with its netns, taking its peer along: what must
	 * remain is no record and no reservation. */
	kyt_run(NULL, "ip", "link", "del", peer, NULL);
	char *before = snap();
	cr_assert_eq(cni("DEL", "c1", "eth0", ns_path, conf, NULL), 0);
	cr_assert_eq(cni("DEL", "c1", "eth0", NULL, conf, NULL), 0);
	char *after = snap();
	cr_assert_not(strstr(after, "state "), "state left:\n%s", after);
	cr_assert_not(strstr(after, "ipam "), "reservation left:\n%s", after);
	cr_assert(strstr(before, "state kynet:c1:eth0"));
	free(after);
	free(before);
	free(conf);
}

/* Records are written atomically, durably only where a crash matters, so a
 * crash can leave a record empty (cni_steps.c). One from before this boot
 * must not block DEL; one from this boot is still an error (code 105). */
Test(cni_plugin, del_drops_a_record_torn_before_this_boot)
{
	char *conf = conf_for("1.1.0", dev, "10.79.0.0/24", NULL);
	char rec[600];
	snprintf(rec, sizeof(rec), "%s/kynet:c1:eth0.json", state_dir);
	cr_assert_eq(cni("ADD", "c1", "eth0", ns_path, conf, NULL), 0);
	/* The crash: the pod netns is gone with the veth, the record empty. */
	kyt_netns_del(ns);
	kyt_run(NULL, "ip", "link", "del", peer, NULL);
	cr_assert_eq(truncate(rec, 0), 0);

	cJSON *out = NULL;
	cr_assert_neq(cni("DEL", "c1", "eth0", NULL, conf, &out), 0, "a torn record of this boot was dropped");
	cr_assert_eq(cJSON_GetNumberValue(cJSON_GetObjectItem(out, "code")), 105);
	cJSON_Delete(out);

	struct timespec long_ago[2] = { { .tv_sec = 1 }, { .tv_sec = 1 } };
	cr_assert_eq(utimensat(AT_FDCWD, rec, long_ago, 0), 0);
	cr_assert_eq(cni("DEL", "c1", "eth0", NULL, conf, NULL), 0, "a record torn before this boot blocked DEL");
	char *after = snap();
	cr_assert_not(strstr(after, "state "), "state left:\n%s", after);
	cr_assert_not(strstr(after, "ipam "), "reservation left:\n%s", after);
	free(after);
	free(conf);
}

Test(cni_plugin, check_passes_then_names_the_drift)
{
	char *conf = conf_for("1.1.0", dev, "10.76.0.0/24", NULL);
	cJSON *res = NULL;
	cr_assert_eq(cni("ADD", "c1", "eth0", ns_path, conf, &res), 0);
	char *prev = cJSON_PrintUnformatted(res), *chk = NULL;
	cr_assert_geq(asprintf(&chk, "%.*s,\"prevResult\":%s}", (int)strlen(conf) - 1, conf, prev), 0);
	cJSON *out = NULL;
	cr_assert_eq(cni("CHECK", "c1", "eth0", ns_path, chk, &out), 0, "%s", cJSON_PrintUnformatted(out));

	cr_assert_eq(kyt_run(NULL, "ip", "-n", ns, "link", "set", "eth0", "mtu", "1280", NULL), 0);
	cr_assert_neq(cni("CHECK", "c1", "eth0", ns_path, chk, &out), 0);
	cr_assert_eq(kyt_cni_code(out), 104);
	cr_assert(strstr(cJSON_GetStringValue(cJSON_GetObjectItem(out, "msg")), "mtu"), "%s",
		  cJSON_GetStringValue(cJSON_GetObjectItem(out, "msg")));
	cJSON_Delete(out);
	cr_assert_eq(kyt_run(NULL, "ip", "-n", ns, "link", "set", "eth0", "mtu", "1500", NULL), 0);
	cr_assert_eq(kyt_run(NULL, "ip", "-n", ns, "link", "set", "eth0", "address", "02:de:ad:be:ef:01", NULL), 0);
	cr_assert_neq(cni("CHECK", "c1", "eth0", ns_path, chk, &out), 0);
	cr_assert_eq(kyt_cni_code(out), 104);
	cr_assert(strstr(cJSON_GetStringValue(cJSON_GetObjectItem(out, "msg")), "mac"));
	cJSON_Delete(out);
	cr_assert_eq(cni("CHECK", "unknown", "eth0", ns_path, chk, &out), 1);
	cr_assert_eq(kyt_cni_code(out), 3);
	cJSON_Delete(out);
	cr_assert_eq(cni("DEL", "c1", "eth0", ns_path, conf, NULL), 0);
	free(chk);
	free(prev);
	cJSON_Delete(res);
	free(conf);
}

Test(cni_plugin, gc_removes_attachments_not_listed_as_valid)
{
	char dev2[16], peer2[16];
	cr_assert_eq(kyt_veth_add(dev2, peer2, sizeof(dev2)), 0);
	char *before = snap();
	char *c1 = conf_for("1.1.0", dev, "10.77.0.0/24", NULL), *c2 = conf_for("1.1.0", dev2, "10.77.0.0/24", NULL);
	cr_assert_eq(cni("ADD", "keep", "eth0", ns_path, c1, NULL), 0);
	cr_assert_eq(cni("ADD", "stale", "eth1", ns_path, c2, NULL), 0);
	char *gc = NULL;
	cr_assert_geq(asprintf(&gc, "%.*s,\"cni.dev/valid-attachments\":[{\"containerID\":\"keep\",\"ifname\":\"eth0\"}]}",
			       (int)strlen(c1) - 1, c1), 0);
	cJSON *out = NULL;
	cr_assert_eq(cni("GC", NULL, NULL, NULL, gc, &out), 0, "%s", cJSON_PrintUnformatted(out));
	struct kyt_ip_link l;
	cr_assert(kyt_ip_link(NULL, dev2, &l), "the stale attachment's device is back");
	cr_assert(kyt_ip_link(ns, "eth0", &l), "the valid attachment stays");
	cr_assert_eq(cni("DEL", "keep", "eth0", ns_path, c1, NULL), 0);
	assert_same_node(before);
	free(gc);
	free(c1);
	free(c2);
	free(before);
}

/* A record a newer plugin wrote (after a downgrade) is not misread: DEL
 * refuses it (105) and GC leaves it, until a plugin that reads it runs. */
Test(cni_plugin, a_record_of_a_newer_version_is_refused_and_left_alone)
{
	char *before = snap();
	char *conf = conf_for("1.1.0", dev, "10.83.0.0/24", NULL);
	cr_assert_eq(cni("ADD", "newer", "eth0", ns_path, conf, NULL), 0);
	char rec[600];
	snprintf(rec, sizeof(rec), "%s/kynet:newer:eth0.json", state_dir);
	char *text = kyt_read_file(rec);
	cJSON *doc = cJSON_Parse(text);
	cr_assert_eq(cJSON_GetObjectItem(doc, "version")->valueint, 1, "records carry their version");
	cJSON_ReplaceItemInObject(doc, "version", cJSON_CreateNumber(99));
	char *newer = cJSON_PrintUnformatted(doc);
	cr_assert_eq(kyt_write_file(rec, newer), 0);
	cJSON *out = NULL;
	cr_assert_neq(cni("DEL", "newer", "eth0", ns_path, conf, &out), 0);
	cr_assert_eq(kyt_cni_code(out), 105, "%s", cJSON_PrintUnformatted(out));
	cJSON_Delete(out);
	char *gc = NULL;
	cr_assert_geq(asprintf(&gc, "%.*s,\"cni.dev/valid-attachments\":[]}", (int)strlen(conf) - 1, conf), 0);
	cr_assert_eq(cni("GC", NULL, NULL, NULL, gc, &out), 0, "%s", cJSON_PrintUnformatted(out));
	cr_assert_eq(access(rec, F_OK), 0, "GC left the newer record");
	struct kyt_ip_link l;
	cr_assert(kyt_ip_link(ns, "eth0", &l), "and its device in the pod");
	cr_assert_eq(kyt_write_file(rec, text), 0);
	cr_assert_eq(cni("DEL", "newer", "eth0", ns_path, conf, NULL), 0);
	assert_same_node(before);
	free(gc);
	free(newer);
	cJSON_Delete(doc);
	free(text);
	free(conf);
	free(before);
}

Test(cni_plugin, gc_releases_the_address_of_an_unreadable_record)
{
	char *before = snap();
	char *conf = conf_for("1.1.0", dev, "10.81.0.0/24", NULL);
	cr_assert_eq(cni("ADD", "torn", "eth0", ns_path, conf, NULL), 0);
	/* The record no longer says which device or settings to restore. */
	char rec[600];
	snprintf(rec, sizeof(rec), "%s/kynet:torn:eth0.json", state_dir);
	cr_assert_eq(kyt_write_file(rec, "{\"containerID\":"), 0);
	char *gc = NULL;
	cr_assert_geq(asprintf(&gc, "%.*s,\"cni.dev/valid-attachments\":[]}", (int)strlen(conf) - 1, conf), 0);
	cJSON *out = NULL;
	cr_assert_eq(cni("GC", NULL, NULL, NULL, gc, &out), 0, "%s", cJSON_PrintUnformatted(out));
	cr_assert_eq(access(rec, F_OK), -1, "the unreadable record is gone");
	/* Without its record the device stays in the pod until the pod's netns
	 * goes (a veth then goes with it): put it back by hand to compare. */
	char self[16];
	snprintf(self, sizeof(self), "%d", (int)getpid());
	cr_assert_eq(kyt_run(NULL, "ip", "-n", ns, "link", "set", "eth0", "netns", self, NULL), 0);
	cr_assert_eq(kyt_run(NULL, "ip", "link", "set", "eth0", "name", dev, NULL), 0);
	cr_assert_eq(kyt_run(NULL, "ip", "link", "set", dev, "down", NULL), 0);
	assert_same_node(before);
	free(gc);
	free(conf);
	free(before);
}

/* After a reboot (played here: the record's boot ID is made another's, and
 * the device put back as the reboot would), the old record neither refuses
 * the device to a new pod nor, when GC'd, takes it from that pod. */
Test(cni_plugin, a_record_from_an_earlier_boot_yields_its_device)
{
	char *before = snap();
	char ns2[32], ns2_path[128];
	cr_assert_eq(kyt_netns_add(ns2, sizeof(ns2)), 0);
	kyt_netns_path(ns2, ns2_path, sizeof(ns2_path));
	char *conf = conf_for("1.1.0", dev, "10.82.0.0/24", NULL);
	cr_assert_eq(cni("ADD", "old", "eth0", ns_path, conf, NULL), 0);
	char rec[600];
	snprintf(rec, sizeof(rec), "%s/kynet:old:eth0.json", state_dir);
	char *text = kyt_read_file(rec);
	cr_assert_not_null(text);
	cJSON *doc = cJSON_Parse(text);
	cr_assert_not_null(cJSON_GetObjectItem(doc, "bootID"), "records carry their boot ID");
	cJSON_ReplaceItemInObject(doc, "bootID", cJSON_CreateString("00000000-0000-0000-0000-000000000000"));
	char *changed = cJSON_PrintUnformatted(doc);
	cr_assert_eq(kyt_write_file(rec, changed), 0);
	char self[16];
	snprintf(self, sizeof(self), "%d", (int)getpid());
	cr_assert_eq(kyt_run(NULL, "ip", "-n", ns, "link", "set", "eth0", "netns", self, NULL), 0);
	cr_assert_eq(kyt_run(NULL, "ip", "link", "set", "eth0", "name", dev, NULL), 0);

	cJSON *out = NULL;
	cr_assert_eq(cni("ADD", "new", "eth0", ns2_path, conf, &out), 0, "%s", cJSON_PrintUnformatted(out));
	cJSON_Delete(out);
	char *gc = NULL;
	cr_assert_geq(asprintf(&gc, "%.*s,\"cni.dev/valid-attachments\":[{\"containerID\":\"new\",\"ifname\":\"eth0\"}]}",
			       (int)strlen(conf) - 1, conf), 0);
	cr_assert_eq(cni("GC", NULL, NULL, NULL, gc, &out), 0, "%s", cJSON_PrintUnformatted(out));
	cr_assert_eq(access(rec, F_OK), -1, "the old record is gone");
	struct kyt_ip_link l;
	cr_assert(kyt_ip_link(ns2, "eth0", &l), "the new pod keeps its device");
	cr_assert_eq(cni("DEL", "new", "eth0", ns2_path, conf, NULL), 0);
	kyt_netns_del(ns2);
	assert_same_node(before);
	free(gc);
	free(changed);
	cJSON_Delete(doc);
	free(text);
	free(conf);
	free(before);
}

Test(cni_plugin, gc_is_delegated_to_an_ipam_plugin_that_speaks_1_1_0)
{
	char bin[600], rec[600], path[1300];
	snprintf(bin, sizeof(bin), "%s/bin", tmp);
	snprintf(rec, sizeof(rec), "%s/gc.json", tmp);
	snprintf(path, sizeof(path), "%s:%s", bin, CNI_PATH);
	cr_assert_eq(mkdir(bin, 0755), 0);
	char link[700];
	snprintf(link, sizeof(link), "%s/gc-ipam", bin);
	cr_assert_eq(symlink(KYTEST_DATA_DIR "/cni/gc-ipam", link), 0);
	cr_assert_eq(setenv("KYT_GC_RECORD", rec, 1), 0);
	char *gc = NULL;
	cr_assert_geq(asprintf(&gc,
			       "{\"cniVersion\":\"1.1.0\",\"name\":\"kynet\",\"type\":\"kyborg\",\"device\":\"%s\","
			       "\"stateDir\":\"%s\",\"ipam\":{\"type\":\"gc-ipam\"},"
			       "\"cni.dev/valid-attachments\":[{\"containerID\":\"keep\",\"ifname\":\"eth0\"}]}",
			       dev, state_dir),
		      0);
	struct kyt_cni_call c = { .bin = KYBORG_CNI_BIN, .command = "GC", .path = path, .conf = gc };
	cJSON *out = NULL;
	cr_assert_eq(kyt_cni_run(&c, &out), 0, "%s", cJSON_PrintUnformatted(out));
	char *sent = kyt_read_file(rec);
	cr_assert_not_null(sent, "the IPAM plugin got no GC");
	cJSON *doc = cJSON_Parse(sent);
	cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(
				 cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "cni.dev/valid-attachments"), 0), "containerID")),
			 "keep", "the valid attachments reach the IPAM plugin: %s", sent);
	cJSON_Delete(doc);
	free(sent);
	free(gc);
}

Test(cni_plugin, status_reports_readiness)
{
	char *conf = conf_for("1.1.0", dev, "10.78.0.0/24", NULL);
	cJSON *out = NULL;
	cr_assert_eq(cni("STATUS", NULL, NULL, NULL, conf, &out), 0);
	struct kyt_cni_call c = { .bin = KYBORG_CNI_BIN, .command = "STATUS", .path = "/nonexistent", .conf = conf };
	cr_assert_neq(kyt_cni_run(&c, &out), 0);
	cr_assert_eq(kyt_cni_code(out), 50);
	cJSON_Delete(out);
	free(conf);
}

Test(cni_plugin, ipam_failures_roll_everything_back)
{
	char *before = snap();
	/* A plugin that is not there. */
	char *bad = NULL;
	cr_assert_geq(asprintf(&bad, "{\"cniVersion\":\"1.1.0\",\"name\":\"kynet\",\"type\":\"kyborg\",\"device\":\"%s\","
				     "\"stateDir\":\"%s\",\"mtu\":1400,\"ipam\":{\"type\":\"kyborg-no-such-ipam\"}}",
			       dev, state_dir), 0);
	cJSON *out = NULL;
	cr_assert_neq(cni("ADD", "c1", "eth0", ns_path, bad, &out), 0);
	cr_assert_eq(kyt_cni_code(out), 103, "%s", cJSON_PrintUnformatted(out));
	cJSON_Delete(out);
	assert_same_node(before);
	/* An exhausted range: a /30 has one address after the gateway. */
	char dev2[16], peer2[16];
	cr_assert_eq(kyt_veth_add(dev2, peer2, sizeof(dev2)), 0);
	char *c1 = conf_for("1.1.0", dev, "10.79.0.0/30", NULL), *c2 = conf_for("1.1.0", dev2, "10.79.0.0/30", NULL);
	cr_assert_eq(cni("ADD", "c1", "eth0", ns_path, c1, NULL), 0);
	char *mid = snap();
	cr_assert_neq(cni("ADD", "c2", "eth1", ns_path, c2, &out), 0);
	cr_assert_eq(kyt_cni_code(out), 103);
	assert_same_node(mid);
	cr_assert_eq(cni("DEL", "c1", "eth0", ns_path, c1, NULL), 0);
	cJSON_Delete(out);
	free(mid);
	free(c1);
	free(c2);
	free(bad);
	free(before);
}

Test(cni_plugin, vf_fields_on_a_device_that_is_no_vf_are_code_7)
{
	static const char *const fields[] = { ",\"vlan\":10", ",\"spoofchk\":\"off\"", ",\"trust\":\"on\"",
					      ",\"link_state\":\"enable\"", ",\"max_tx_rate\":100" };
	char *before = snap();
	for (size_t i = 0; i < KY_ARRAY_SIZE(fields); i++) {
		char *conf = conf_for("1.1.0", dev, "10.80.0.0/24", fields[i]);
		cJSON *out = NULL;
		cr_assert_neq(cni("ADD", "c1", "eth0", ns_path, conf, &out), 0);
		cr_assert_eq(kyt_cni_code(out), 7);
		const char *msg = cJSON_GetStringValue(cJSON_GetObjectItem(out, "msg"));
		char field[32];
		sscanf(fields[i], ",\"%31[^\"]", field);
		cr_assert(strstr(msg, field) && strstr(msg, "VF"), "%s", msg);
		cJSON_Delete(out);
		free(conf);
	}
	assert_same_node(before);
	free(before);
}

/* The points ADD passes; SIGKILL at each must leave what DEL undoes. */
Test(cni_plugin, killed_at_each_step_then_del_restores_the_host)
{
	static const char *const points[] = { "add-after-reserve", "add-after-move", "add-after-link",
					      "add-after-ipam", "add-after-addresses", "add-after-complete" };
	char *before = snap();
	char *conf = conf_for("1.1.0", dev, "10.81.0.0/24", ",\"mtu\":1300,\"mac\":\"02:00:00:00:00:42\"");
	for (size_t i = 0; i < KY_ARRAY_SIZE(points); i++) {
		struct kyt_cni_call c = { .bin = KYBORG_CNI_BIN, .command = "ADD", .container_id = "c1",
					  .netns = ns_path, .ifname = "eth0", .path = CNI_PATH, .fault = points[i],
					  .conf = conf };
		cr_assert_eq(kyt_cni_run(&c, NULL), 128 + 9, "%s: not killed", points[i]);
		char *mid = snap();
		cr_assert(strstr(mid, "state kynet:c1:eth0"), "%s: a record is left for DEL", points[i]);
		free(mid);
		cr_assert_eq(cni("DEL", "c1", "eth0", ns_path, conf, NULL), 0, "%s", points[i]);
		assert_same_node(before);
	}
	/* An ADD retried after a kill also works. */
	struct kyt_cni_call c = { .bin = KYBORG_CNI_BIN, .command = "ADD", .container_id = "c1", .netns = ns_path,
				  .ifname = "eth0", .path = CNI_PATH, .fault = "add-after-ipam", .conf = conf };
	cr_assert_eq(kyt_cni_run(&c, NULL), 128 + 9);
	cr_assert_eq(cni("ADD", "c1", "eth0", ns_path, conf, NULL), 0);
	cr_assert_eq(cni("DEL", "c1", "eth0", ns_path, conf, NULL), 0);
	assert_same_node(before);
	free(conf);
	free(before);
}

Test(cni_plugin, malformed_inputs_get_their_code_and_change_nothing)
{
	char *good = conf_for("1.1.0", dev, "10.82.0.0/24", NULL);
	char *cfg[40] = { 0 };
	int n = 0;
#define BASEF "{\"cniVersion\":\"1.1.0\",\"name\":\"kynet\",\"type\":\"kyborg\",\"stateDir\":\"%s\""
	struct {
		const char *cmd, *cid, *ifname, *netns, *path;
		char *conf;
		int code;
	} cases[48];
#define CASE(cmd_, cid_, ifn_, ns_, path_, conf_, code_)                                                   \
	cases[n] = (typeof(cases[0])){ cmd_, cid_, ifn_, ns_, path_, conf_, code_ };                           \
	n++
#define FMT(...) (asprintf(&cfg[n], __VA_ARGS__) < 0 ? NULL : cfg[n])
	CASE("ADD", "c1", "eth0", ns_path, CNI_PATH, FMT("{"), 6);
	CASE("ADD", "c1", "eth0", ns_path, CNI_PATH, FMT("not json"), 6);
	CASE("ADD", "c1", "eth0", ns_path, CNI_PATH, FMT("[1,2]"), 6);
	CASE("ADD", "c1", "eth0", ns_path, CNI_PATH, FMT("\"string\""), 6);
	CASE("ADD", "c1", "eth0", ns_path, CNI_PATH, FMT("{\"cniVersion\":\"9.9.9\",\"name\":\"kynet\",\"type\":\"kyborg\",\"device\":\"%s\"}", dev), 1);
	CASE("ADD", "c1", "eth0", ns_path, CNI_PATH, FMT("{\"cniVersion\":\"0.2.0\",\"name\":\"kynet\",\"type\":\"kyborg\",\"device\":\"%s\"}", dev), 1);
	CASE("ADD", "c1", "eth0", ns_path, CNI_PATH, FMT(BASEF ",\"device\":\"kyborg-none0\"}", state_dir), 101);
	CASE("ADD", "c1", "eth0", ns_path, CNI_PATH, FMT(BASEF ",\"device\":\"%s\",\"mac\":\"02:00:00:00:00\"}", state_dir, dev), 7);
	CASE("ADD", "c1", "eth0", ns_path, CNI_PATH, FMT(BASEF ",\"device\":\"%s\",\"mac\":42}", state_dir, dev), 7);
	CASE("ADD", "c1", "eth0", ns_path, CNI_PATH, FMT(BASEF ",\"device\":\"%s\",\"vlan\":5000}", state_dir, dev), 7);
	CASE("ADD", "c1", "eth0", ns_path, CNI_PATH, FMT(BASEF ",\"device\":\"%s\",\"vlan\":1.5}", state_dir, dev), 7);
	CASE("ADD", "c1", "eth0", ns_path, CNI_PATH, FMT(BASEF ",\"device\":\"%s\",\"vlanQoS\":9,\"vlan\":3}", state_dir, dev), 7);
	CASE("ADD", "c1", "eth0", ns_path, CNI_PATH, FMT(BASEF ",\"device\":\"%s\",\"mtu\":\"1500\"}", state_dir, dev), 7);
	CASE("ADD", "c1", "eth0", ns_path, CNI_PATH, FMT(BASEF ",\"device\":\"%s\",\"mtu\":70000}", state_dir, dev), 7);
	CASE("ADD", "c1", "eth0", ns_path, CNI_PATH, FMT(BASEF ",\"device\":\"../../%s\"}", state_dir, dev), 7);
	CASE("ADD", "c1", "eth0", ns_path, CNI_PATH, FMT(BASEF ",\"device\":\"%s\",\"typo\":1}", state_dir, dev), 7);
	CASE("ADD", "c1", "eth0", ns_path, CNI_PATH, FMT(BASEF ",\"device\":\"%s\",\"deviceID\":\"0000:18:01.0\"}", state_dir, dev), 7);
	CASE("ADD", "c1", "eth0", ns_path, CNI_PATH, FMT(BASEF "}", state_dir), 7);
	CASE("ADD", "c1", "eth0", ns_path, CNI_PATH, FMT(BASEF ",\"deviceID\":\"18-01-0\"}", state_dir), 7);
	CASE("ADD", "c1", "eth0", ns_path, CNI_PATH, FMT(BASEF ",\"device\":\"%s\",\"ipam\":{\"type\":\"../../bin/sh\"}}", state_dir, dev), 7);
	CASE("ADD", "c1", "eth0", ns_path, CNI_PATH, FMT("{\"cniVersion\":\"1.1.0\",\"name\":\"../../etc\",\"type\":\"kyborg\",\"stateDir\":\"%s\",\"device\":\"%s\"}", state_dir, dev), 7);
	CASE("ADD", "c1", "eth0", ns_path, CNI_PATH, FMT("{\"cniVersion\":\"1.1.0\",\"type\":\"kyborg\",\"stateDir\":\"%s\",\"device\":\"%s\"}", state_dir, dev), 7);
	/* BASEF has a stateDir already: a repeated key fails to decode. */
	CASE("ADD", "c1", "eth0", ns_path, CNI_PATH, FMT(BASEF ",\"device\":\"%s\",\"stateDir\":\"relative\"}", state_dir, dev), 6);
	CASE("ADD", "c1", "eth0", ns_path, CNI_PATH, FMT(BASEF ",\"device\":\"%s\",\"logLevel\":\"loud\"}", state_dir, dev), 7);
	CASE(NULL, "c1", "eth0", ns_path, CNI_PATH, good, 4);
	CASE("FROB", "c1", "eth0", ns_path, CNI_PATH, good, 4);
	CASE("ADD", NULL, "eth0", ns_path, CNI_PATH, good, 4);
	CASE("ADD", "../../etc/passwd", "eth0", ns_path, CNI_PATH, good, 4);
	CASE("ADD", "c1", NULL, ns_path, CNI_PATH, good, 4);
	CASE("ADD", "c1", "../x", ns_path, CNI_PATH, good, 4);
	CASE("ADD", "c1", "a-name-too-long-for-linux", ns_path, CNI_PATH, good, 4);
	CASE("ADD", "c1", "eth0", NULL, CNI_PATH, good, 4);
	CASE("ADD", "c1", "eth0", "/nonexistent/netns", CNI_PATH, good, 4);
	CASE("ADD", "c1", "eth0", "relative/netns", CNI_PATH, good, 4);
	CASE("ADD", "c1", "eth0", ns_path, NULL, good, 4);
	CASE("CHECK", "c1", "eth0", ns_path, CNI_PATH, FMT("{\"cniVersion\":\"0.3.1\",\"name\":\"kynet\",\"type\":\"kyborg\",\"device\":\"%s\"}", dev), 1);
	cr_assert_geq(n, 30);
	char *before = snap();
	for (int i = 0; i < n; i++) {
		cJSON *out = NULL;
		struct kyt_cni_call c = { .bin = KYBORG_CNI_BIN, .command = cases[i].cmd, .container_id = cases[i].cid,
					  .netns = cases[i].netns, .ifname = cases[i].ifname, .path = cases[i].path,
					  .conf = cases[i].conf };
		cr_expect_eq(kyt_cni_run(&c, &out), 1, "case %d exit status", i);
		cr_expect_eq(kyt_cni_code(out), cases[i].code, "case %d (%s): code %d, want %d: %s", i,
			     cases[i].conf, kyt_cni_code(out), cases[i].code,
			     cJSON_GetStringValue(cJSON_GetObjectItem(out, "msg")));
		cr_expect(cJSON_IsString(cJSON_GetObjectItem(out, "msg")), "case %d has msg", i);
		cJSON_Delete(out);
	}
	assert_same_node(before);
	for (int i = 0; i < 40; i++)
		free(cfg[i]);
	free(good);
	free(before);
}

#define NPAR 32
static char pdev[NPAR][16], ppeer[NPAR][16];

static void *par_one(void *arg)
{
	long i = (long)arg;
	char cid[16], ifn[16];
	snprintf(cid, sizeof(cid), "pod%ld", i);
	snprintf(ifn, sizeof(ifn), "net%ld", i);
	char *conf = conf_for("1.1.0", pdev[i], "10.83.0.0/24", NULL);
	long bad = 0;
	cJSON *out = NULL;
	if (cni("ADD", cid, ifn, ns_path, conf, &out) != 0)
		bad |= 1;
	cJSON_Delete(out);
	if (cni("DEL", cid, ifn, ns_path, conf, NULL) != 0)
		bad |= 2;
	free(conf);
	return (void *)bad;
}

Test(cni_plugin, thirty_two_pods_in_parallel)
{
	for (int i = 0; i < NPAR; i++)
		cr_assert_eq(kyt_veth_add(pdev[i], ppeer[i], sizeof(pdev[i])), 0);
	char *before = snap();
	pthread_t t[NPAR];
	for (long i = 0; i < NPAR; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, par_one, (void *)i), 0);
	for (int i = 0; i < NPAR; i++) {
		void *r;
		pthread_join(t[i], &r);
		cr_expect_eq((long)r, 0, "pod %d failed (%ld)", i, (long)r);
	}
	assert_same_node(before);
	free(before);
}

/* A physical device returns to the host by itself when its netns dies,
 * under its pod name: DEL must find it there and rename it back. */
Test(cni_plugin, del_finds_the_device_back_in_the_host_under_its_pod_name)
{
	char *before = snap();
	char *conf = conf_for("1.1.0", dev, "10.84.0.0/24", ",\"mtu\":1400");
	cr_assert_eq(cni("ADD", "c1", "podif0", ns_path, conf, NULL), 0);
	char pid[16];
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	cr_assert_eq(kyt_run(NULL, "ip", "-n", ns, "link", "set", "podif0", "netns", pid, NULL), 0);
	struct kyt_ip_link l;
	cr_assert(kyt_ip_link(NULL, "podif0", &l), "back in the host under the pod name");
	cr_assert_eq(cni("DEL", "c1", "podif0", ns_path, conf, NULL), 0);
	assert_same_node(before);
	free(conf);
	free(before);
}

/* The kernel allows any byte in a name but '/', ':' and white space: a
 * name outside the state store's alphabet is escaped like the other parts
 * of a key (issue 14: "kysec+x" failed with code 5). */
Test(cni_plugin, a_device_named_outside_the_key_alphabet_attaches)
{
	char plus[16], plus_peer[16];
	snprintf(plus, sizeof(plus), "ky+%d", (int)getpid() % 100000);
	snprintf(plus_peer, sizeof(plus_peer), "kyp%d", (int)getpid() % 100000);
	cr_assert_eq(kyt_run(NULL, "ip", "link", "add", plus, "type", "veth", "peer", "name", plus_peer, NULL), 0);
	char *before = snap();
	char *conf = conf_for("1.1.0", plus, "10.87.0.0/24", NULL);
	cJSON *out = NULL;
	cr_assert_eq(cni("ADD", "c1", "net1", ns_path, conf, &out), 0, "%s", cJSON_PrintUnformatted(out));
	struct kyt_ip_link l;
	cr_assert(kyt_ip_link(ns, "net1", &l));
	cr_assert_eq(cni("DEL", "c1", "net1", ns_path, conf, NULL), 0);
	cr_assert(kyt_ip_link(NULL, plus, &l), "%s is back in the host", plus);
	assert_same_node(before);
	cJSON_Delete(out);
	free(conf);
	free(before);
}

/* The kernel names a link "net%d" as net0: ADD moved the device in as
 * net0, rollback looked for net%d, found nothing and dropped the record,
 * and the device stayed in the pod (issue 14). */
Test(cni_plugin, an_ifname_template_is_refused_and_strands_nothing)
{
	char *before = snap();
	char *conf = conf_for("1.1.0", dev, "10.89.0.0/24", NULL);
	cJSON *out = NULL;
	cr_assert_eq(cni("ADD", "c1", "net%d", ns_path, conf, &out), 1);
	cr_assert_eq(kyt_cni_code(out), 4, "%s", cJSON_PrintUnformatted(out));
	cr_assert(strstr(cJSON_GetStringValue(cJSON_GetObjectItem(out, "msg")), "CNI_IFNAME"));
	struct kyt_ip_link l;
	cr_assert_not(kyt_ip_link(ns, "net0", &l), "the device went into the pod as net0");
	cr_assert(kyt_ip_link(NULL, dev, &l), "the device is still in the host");
	assert_same_node(before);
	cJSON_Delete(out);
	free(conf);
	free(before);
}

/* Issue 14: /proc/self/ns/net as CNI_NETNS had ADD rename a host device
 * in place. The plugin's own netns is refused (code 4). */
Test(cni_plugin, the_hosts_own_netns_is_no_pod)
{
	char *before = snap();
	char *conf = conf_for("1.1.0", dev, "10.91.0.0/24", NULL);
	static const char *const paths[] = { "/proc/self/ns/net", "/proc/thread-self/ns/net" };
	for (size_t i = 0; i < 2; i++) {
		cJSON *out = NULL;
		cr_assert_eq(cni("ADD", "c1", "eth0", paths[i], conf, &out), 1, "%s", paths[i]);
		cr_assert_eq(kyt_cni_code(out), 4, "%s", cJSON_PrintUnformatted(out));
		cr_assert(strstr(cJSON_GetStringValue(cJSON_GetObjectItem(out, "msg")), "CNI_NETNS"));
		assert_same_node(before);
		cJSON_Delete(out);
		cr_assert_eq(cni("DEL", "c1", "eth0", paths[i], conf, NULL), 0);
	}
	assert_same_node(before);
	free(conf);
	free(before);
}

/* Issue 14: opening a FIFO given as CNI_NETNS waited for a writer, for
 * ever, with the attachment's lock held, so its DEL hung as well. */
Test(cni_plugin, a_fifo_as_netns_is_refused_at_once)
{
	char fifo[600];
	snprintf(fifo, sizeof(fifo), "%s/fifo", tmp);
	cr_assert_eq(mkfifo(fifo, 0600), 0);
	char *before = snap();
	char *conf = conf_for("1.1.0", dev, "10.92.0.0/24", NULL);
	cJSON *out = NULL;
	struct kyt_cni_call c = { .bin = KYBORG_CNI_BIN, .command = "ADD", .container_id = "c1", .netns = fifo,
				  .ifname = "eth0", .path = CNI_PATH, .conf = conf, .timeout_ms = 10000 };
	cr_assert_eq(kyt_cni_run(&c, &out), 1, "ADD did not end within 10 s");
	cr_assert_eq(kyt_cni_code(out), 4, "%s", cJSON_PrintUnformatted(out));
	cr_assert(strstr(cJSON_GetStringValue(cJSON_GetObjectItem(out, "msg")), "not a network namespace"), "%s",
		  cJSON_GetStringValue(cJSON_GetObjectItem(out, "msg")));
	c.command = "DEL";
	cr_assert_eq(kyt_cni_run(&c, NULL), 0, "DEL of the attachment did not end within 10 s");
	assert_same_node(before);
	cJSON_Delete(out);
	free(conf);
	free(before);
}

/* As some CNFs do: `ip link set net1 name eth9` inside the pod. */
static void rename_in_pod(const char *from, const char *to)
{
	cr_assert_eq(kyt_run(NULL, "ip", "-n", ns, "link", "set", from, "down", NULL), 0);
	cr_assert_eq(kyt_run(NULL, "ip", "-n", ns, "link", "set", from, "name", to, NULL), 0);
}

/* Issue 14 (host-device has it too, containernetworking/plugins#773):
 * some CNFs rename their interfaces. DEL exited 0 with device-gone and
 * left the device in the pod under the pod's name; CHECK only said it was
 * missing. Ours is found by its recorded pod index and MAC. */
Test(cni_plugin, del_finds_an_interface_the_pod_renamed)
{
	char *before = snap();
	char *conf = conf_for("1.1.0", dev, "10.93.0.0/24", ",\"mac\":\"02:11:22:33:44:93\"");
	cJSON *res = NULL, *out = NULL;
	cr_assert_eq(cni("ADD", "c1", "net1", ns_path, conf, &res), 0);
	rename_in_pod("net1", "eth9");
	cr_assert_eq(kyt_run(NULL, "ip", "-n", ns, "link", "set", "eth9", "up", NULL), 0);

	char *prev = cJSON_PrintUnformatted(res), *chk = NULL;
	cr_assert_geq(asprintf(&chk, "%.*s,\"prevResult\":%s}", (int)strlen(conf) - 1, conf, prev), 0);
	cr_expect_eq(cni("CHECK", "c1", "net1", ns_path, chk, &out), 1);
	cr_expect_eq(kyt_cni_code(out), 104, "%s", cJSON_PrintUnformatted(out));
	const char *msg = cJSON_GetStringValue(cJSON_GetObjectItem(out, "msg"));
	cr_expect(msg && strstr(msg, "net1 is eth9 in the pod"), "%s", msg ? msg : "(no msg)");

	cr_assert_eq(cni("DEL", "c1", "net1", ns_path, conf, NULL), 0);
	struct kyt_ip_link l;
	cr_assert_not(kyt_ip_link(ns, "eth9", &l), "the device stayed in the pod as eth9");
	assert_same_node(before);
	cJSON_Delete(out);
	cJSON_Delete(res);
	free(prev);
	free(chk);
	free(conf);
	free(before);
}

/* The same device renamed in the pod, then back in the host under that
 * name (as a physical device comes back when its netns dies). */
Test(cni_plugin, del_finds_a_renamed_interface_back_in_the_host)
{
	char *before = snap();
	char *conf = conf_for("1.1.0", dev, "10.94.0.0/24", ",\"mtu\":1400");
	cr_assert_eq(cni("ADD", "c1", "net1", ns_path, conf, NULL), 0);
	rename_in_pod("net1", "eth9");
	char pid[16];
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	cr_assert_eq(kyt_run(NULL, "ip", "-n", ns, "link", "set", "eth9", "netns", pid, NULL), 0);
	struct kyt_ip_link l;
	cr_assert(kyt_ip_link(NULL, "eth9", &l), "in the host as eth9");
	cr_assert_eq(cni("DEL", "c1", "net1", ns_path, conf, NULL), 0);
	cr_assert_not(kyt_ip_link(NULL, "eth9", &l), "left in the host as eth9");
	assert_same_node(before);
	free(conf);
	free(before);
}

/* The plugin run with the node's settings env (NAME=VALUE, NULL-terminated). */
static int cni_env(const char *cmd, const char *cid, const char *ifname, const char *conf, const char *const *env,
		   cJSON **out)
{
	struct kyt_cni_call c = { .bin = KYBORG_CNI_BIN, .command = cmd, .container_id = cid, .netns = ns_path,
				  .ifname = ifname, .path = CNI_PATH, .conf = conf, .env = env };
	return kyt_cni_run(&c, out);
}

Test(cni_plugin, logs_go_to_the_log_file_and_never_to_stdout)
{
	char extra[600], allow[600];
	snprintf(extra, sizeof(extra), ",\"logFile\":\"%s/kyborg.log\",\"logLevel\":\"debug\"", tmp);
	snprintf(allow, sizeof(allow), "KYBORG_CNI_LOG_DIRS=/nonexistent:%s", tmp);
	const char *const env[] = { allow, NULL };
	char *conf = conf_for("1.1.0", dev, "10.85.0.0/24", extra);
	cJSON *out = NULL;
	cr_assert_eq(cni_env("ADD", "c1", "eth0", conf, env, &out), 0);
	cr_assert_not_null(out, "stdout is exactly one JSON result");
	cr_assert_eq(cni_env("DEL", "c1", "eth0", conf, env, NULL), 0);
	char path[600];
	snprintf(path, sizeof(path), "%s/kyborg.log", tmp);
	char *log = kyt_read_file(path);
	cr_assert_not_null(log);
	cr_assert(strstr(log, "event=add") && strstr(log, "event=del") && strstr(log, "event=step-done"), "%s", log);
	free(log);
	cJSON_Delete(out);
	free(conf);
}

/* Issue 14: logFile followed symlinks and could name any file, which root
 * then appended to (a symlink to /etc/shadow, or /root/.bashrc itself,
 * with a line the config's own bad values end up in). It must lie in a
 * directory the node allows (KYBORG_CNI_LOG_DIRS, default /var/log), and is
 * opened O_NOFOLLOW: otherwise the log goes to stderr and the pod goes on. */
Test(cni_plugin, a_log_file_is_no_symlink_and_in_a_directory_the_node_allows)
{
	char target[600], link[600], outside[600], allow[600], extra[1400];
	snprintf(target, sizeof(target), "%s/precious", tmp);
	snprintf(link, sizeof(link), "%s/logs/kyborg.log", tmp);
	snprintf(outside, sizeof(outside), "%s/kyborg.log", tmp);
	snprintf(allow, sizeof(allow), "KYBORG_CNI_LOG_DIRS=%s/logs", tmp);
	const char *const env[] = { allow, NULL };
	cr_assert_eq(kyt_write_file(target, "precious\n"), 0);
	char logs[600];
	snprintf(logs, sizeof(logs), "%s/logs", tmp);
	cr_assert_eq(mkdir(logs, 0700), 0);
	cr_assert_eq(symlink(target, link), 0);
	const char *const files[] = { link, outside };
	for (int i = 0; i < 2; i++) {
		snprintf(extra, sizeof(extra), ",\"logFile\":\"%s\",\"logLevel\":\"debug\"", files[i]);
		char *conf = conf_for("1.1.0", dev, "10.95.0.0/24", extra);
		cJSON *out = NULL;
		cr_assert_eq(cni_env("ADD", "c1", "eth0", conf, env, &out), 0, "a log file refused fails no pod");
		cr_assert_eq(cni_env("DEL", "c1", "eth0", conf, env, NULL), 0);
		cJSON_Delete(out);
		free(conf);
	}
	char *after = kyt_read_file(target);
	cr_assert_str_eq(after, "precious\n", "the plugin appended through the symlink");
	free(after);
	struct stat st;
	cr_assert_neq(stat(outside, &st), 0, "a log file outside the allowed directories was written");
}

/* Issue 14: a symlinked stateDir had records written into its target, and
 * a directory others can write let them plant links and records. Refused
 * with code 7 naming stateDir; nothing written. */
Test(cni_plugin, a_state_dir_is_no_symlink_and_only_roots)
{
	char real[600], link[600], shared[600];
	snprintf(real, sizeof(real), "%s/real-state", tmp);
	snprintf(link, sizeof(link), "%s/state-link", tmp);
	snprintf(shared, sizeof(shared), "%s/shared-state", tmp);
	cr_assert_eq(mkdir(real, 0700), 0);
	cr_assert_eq(symlink(real, link), 0);
	cr_assert_eq(mkdir(shared, 0700), 0);
	cr_assert_eq(chmod(shared, 01777), 0);
	const char *const dirs[] = { link, shared };
	char *before = snap();
	for (int i = 0; i < 2; i++) {
		char *conf = NULL;
		cr_assert_geq(asprintf(&conf,
				       "{\"cniVersion\":\"1.1.0\",\"name\":\"kynet\",\"type\":\"kyborg\","
				       "\"device\":\"%s\",\"stateDir\":\"%s\",\"ipam\":{\"type\":\"host-local\","
				       "\"dataDir\":\"%s\",\"ranges\":[[{\"subnet\":\"10.96.0.0/24\"}]]}}",
				       dev, dirs[i], ipam_dir),
			      0);
		cJSON *out = NULL;
		int rc = cni("ADD", "c1", "eth0", ns_path, conf, &out);
		cr_expect_eq(rc, 1, "stateDir %s accepted", dirs[i]);
		if (rc != 1) {
			cni("DEL", "c1", "eth0", ns_path, conf, NULL);
			cJSON_Delete(out);
			free(conf);
			continue;
		}
		cr_assert_eq(kyt_cni_code(out), 7, "%s", cJSON_PrintUnformatted(out));
		const char *msg = cJSON_GetStringValue(cJSON_GetObjectItem(out, "msg"));
		cr_assert(strstr(msg, "stateDir"), "%s", msg);
		cr_assert(strstr(msg, i == 0 ? "symbolic link" : "writable by group or others"), "%s", msg);
		assert_same_node(before);
		cJSON_Delete(out);
		free(conf);
	}
	char *left = NULL;
	cr_assert_eq(kyt_run(&left, "ls", "-A", real, shared, NULL), 0);
	cr_assert_not(strstr(left, "kynet"), "records written: %s", left);
	free(left);
	free(before);
}

/* The pod already has an interface by CNI_IFNAME: the kernel moves ours in
 * under its old name and refuses the rename. Rollback must bring ours back
 * and leave the pod's own interface alone (undo finds devices by index,
 * never by name). */
Test(cni_plugin, an_ifname_taken_in_the_pod_rolls_back_and_spares_the_pod)
{
	cr_assert_eq(kyt_run(NULL, "ip", "-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0p", NULL), 0);
	struct kyt_ip_link theirs;
	cr_assert(kyt_ip_link(ns, "eth0", &theirs));
	char *before = snap();
	char *conf = conf_for("1.1.0", dev, "10.86.0.0/24", NULL);
	cJSON *out = NULL;
	cr_assert_neq(cni("ADD", "c1", "eth0", ns_path, conf, &out), 0);
	cr_assert_eq(kyt_cni_code(out), 100, "%s", cJSON_PrintUnformatted(out));
	assert_same_node(before);
	struct kyt_ip_link still;
	cr_assert(kyt_ip_link(ns, "eth0", &still), "the pod's own eth0 stays");
	cr_assert_eq(still.ifindex, theirs.ifindex);
	cr_assert_str_eq(still.address, theirs.address);
	cJSON_Delete(out);
	free(conf);
	free(before);
}

struct race {
	const char *cid, *ifname;
	char *conf;
	int status, code;
	char *result;
};

static void *race_add(void *arg)
{
	struct race *r = arg;
	cJSON *out = NULL;
	r->status = cni("ADD", r->cid, r->ifname, ns_path, r->conf, &out);
	r->code = kyt_cni_code(out);
	cJSON_DeleteItemFromObject(out, "msg");
	r->result = out ? cJSON_PrintUnformatted(out) : NULL;
	cJSON_Delete(out);
	return NULL;
}

static void run_race(struct race *r, int n)
{
	pthread_t t[8];
	for (int i = 0; i < n; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, race_add, &r[i]), 0);
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
}

Test(cni_plugin, concurrent_adds_of_one_attachment_serialise_to_one_result)
{
	char *before = snap();
	char *conf = conf_for("1.1.0", dev, "10.87.0.0/24", NULL);
	struct race r[6];
	for (int i = 0; i < 6; i++)
		r[i] = (struct race){ .cid = "c1", .ifname = "eth0", .conf = conf };
	run_race(r, 6);
	for (int i = 0; i < 6; i++) {
		cr_assert_eq(r[i].status, 0, "ADD %d: %s", i, r[i].result);
		cr_assert_str_eq(r[i].result, r[0].result);
	}
	char *addrs = NULL;
	cr_assert_eq(kyt_run(&addrs, "ip", "-n", ns, "-o", "addr", "show", "dev", "eth0", NULL), 0);
	cr_assert(strstr(addrs, "10.87.0.2/24") && !strstr(addrs, "10.87.0.3"), "one reservation: %s", addrs);
	free(addrs);
	cr_assert_eq(cni("DEL", "c1", "eth0", ns_path, conf, NULL), 0);
	assert_same_node(before);
	for (int i = 0; i < 6; i++)
		free(r[i].result);
	free(conf);
	free(before);
}

Test(cni_plugin, concurrent_adds_of_one_device_by_many_containers_let_one_win)
{
	char *before = snap();
	char *conf = conf_for("1.1.0", dev, "10.88.0.0/24", NULL);
	static const char *const cids[] = { "ca", "cb", "cc", "cd", "ce", "cf" };
	static const char *const ifs[] = { "n0", "n1", "n2", "n3", "n4", "n5" };
	struct race r[6];
	for (int i = 0; i < 6; i++)
		r[i] = (struct race){ .cid = cids[i], .ifname = ifs[i], .conf = conf };
	run_race(r, 6);
	int won = -1;
	for (int i = 0; i < 6; i++) {
		if (r[i].status == 0) {
			cr_assert_eq(won, -1, "two containers got the device");
			won = i;
		} else {
			cr_assert_eq(r[i].code, 102, "ADD %d: %s", i, r[i].result);
		}
	}
	cr_assert_neq(won, -1, "nobody got the device");
	for (int i = 0; i < 6; i++)
		cr_assert_eq(cni("DEL", cids[i], ifs[i], ns_path, conf, NULL), 0);
	assert_same_node(before);
	for (int i = 0; i < 6; i++)
		free(r[i].result);
	free(conf);
	free(before);
}

/* ---- The pod's addresses announced, as sriov-cni announces them ---- */

struct seen {
	bool garp, na;
	struct timespec garp_at, na_at;
};

static bool before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec <= b->tv_nsec);
}

/* One frame from the pod: a gratuitous ARP for ip4 from mac, or an
 * unsolicited neighbour advertisement of ip6 with mac as its target's
 * link-layer address, checked field by field. */
static void look_at(const unsigned char *f, int n, const struct timespec *at, const unsigned char mac[6],
		    const unsigned char ip4[4], const unsigned char ip6[16], struct seen *s)
{
	static const unsigned char bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	static const unsigned char all_nodes_mac[6] = { 0x33, 0x33, 0, 0, 0, 1 };
	static const unsigned char all_nodes[16] = { 0xff, 0x02, [15] = 1 };
	if (n < 14 || memcmp(f + 6, mac, 6) != 0)
		return;
	unsigned type = (unsigned)f[12] << 8 | f[13];
	const unsigned char *p = f + 14;
	if (type == 0x0806 && n >= 14 + 28 && p[7] == 1 && memcmp(p + 14, ip4, 4) == 0 && memcmp(p + 24, ip4, 4) == 0) {
		cr_assert_arr_eq(f, bcast, 6, "a gratuitous ARP goes to broadcast");
		cr_assert_eq(p[0] << 8 | p[1], 1, "hardware type Ethernet");
		cr_assert_eq(p[2] << 8 | p[3], 0x0800);
		cr_assert_arr_eq(p + 8, mac, 6, "sender hardware address");
		s->garp = true;
		s->garp_at = *at;
	}
	if (type == 0x86dd && n >= 14 + 72 && p[6] == 58 && p[40] == 136 && memcmp(p + 48, ip6, 16) == 0) {
		cr_assert_arr_eq(f, all_nodes_mac, 6);
		cr_assert_arr_eq(p + 8, ip6, 16, "from the address itself");
		cr_assert_arr_eq(p + 24, all_nodes, 16, "to all nodes");
		cr_assert_eq(p[7], 255, "hop limit 255");
		cr_assert_eq(p[44] & 0xe0, 0x20, "override, not solicited, not a router");
		cr_assert_eq(p[64], 2, "target link-layer address option");
		cr_assert_arr_eq(p + 66, mac, 6);
		s->na = true;
		s->na_at = *at;
	}
}

static char *neigh(const char *family, const char *dev_)
{
	char *out = NULL;
	kyt_run(&out, "ip", family, "neigh", "show", "dev", dev_, NULL);
	return out;
}

static char *pod_sysctl(const char *path)
{
	char *out = NULL;
	kyt_run(&out, "ip", "netns", "exec", ns, "cat", path, NULL);
	return out;
}

/* After IPAM the plugin sends a gratuitous ARP for the IPv4 address and an
 * unsolicited neighbour advertisement for the IPv6 one, before ADD
 * returns: the veth's far end captures them, and its kernel takes them,
 * updating neighbour entries that held another MAC (an address reused by
 * a new pod). arp_notify and ndisc_notify are on in the pod; DEL leaves the
 * device as it was, the host's defaults included. */
Test(cni_plugin, add_announces_the_pod_addresses_on_the_link)
{
	cr_assert_eq(kyt_run(NULL, "ip", "neigh", "add", "10.87.0.2", "lladdr", "02:00:00:00:00:99", "dev", peer, "nud",
			     "stale", NULL), 0);
	cr_assert_eq(kyt_run(NULL, "ip", "-6", "neigh", "add", "fd00:87::2", "lladdr", "02:00:00:00:00:99", "dev", peer,
			     "nud", "stale", NULL), 0);
	char *before_node = snap();
	char path[96];
	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/arp_notify", dev);
	char *host_notify = kyt_read_file(path);
	cr_assert_not_null(host_notify);
	int cap = kyt_capture_open(peer);
	cr_assert_geq(cap, 0, "capture on %s: %s", peer, strerror(-cap));
	char *conf = NULL;
	cr_assert_geq(asprintf(&conf,
			       "{\"cniVersion\":\"1.1.0\",\"name\":\"kynet\",\"type\":\"kyborg\",\"device\":\"%s\","
			       "\"mac\":\"02:11:22:33:44:66\",\"stateDir\":\"%s\",\"ipam\":{\"type\":\"host-local\","
			       "\"dataDir\":\"%s\",\"ranges\":[[{\"subnet\":\"10.87.0.0/24\"}],[{\"subnet\":\"fd00:87::/64\"}]]}}",
			       dev, state_dir, ipam_dir), 0);
	cJSON *out = NULL;
	cr_assert_eq(cni("ADD", "c1", "net1", ns_path, conf, &out), 0, "%s", cJSON_PrintUnformatted(out));
	struct timespec added;
	clock_gettime(CLOCK_REALTIME, &added);
	cr_assert_str_eq(jstr(out, "ips", 0, "address"), "10.87.0.2/24");
	cr_assert_str_eq(jstr(out, "ips", 1, "address"), "fd00:87::2/64");

	static const unsigned char mac[6] = { 0x02, 0x11, 0x22, 0x33, 0x44, 0x66 };
	static const unsigned char ip4[4] = { 10, 87, 0, 2 };
	static const unsigned char ip6[16] = { 0xfd, 0x00, 0x00, 0x87, [15] = 2 };
	struct seen s = { 0 };
	unsigned char f[2048];
	int n;
	struct timespec at;
	/* Whatever else the pod sends (its DAD, MLD) comes along; a second
	 * without a frame ends the look. */
	while (!(s.garp && s.na) && (n = kyt_capture_next(cap, f, sizeof(f), 1000, &at)) > 0)
		look_at(f, n, &at, mac, ip4, ip6, &s);
	close(cap);
	cr_assert(s.garp, "no gratuitous ARP for 10.87.0.2 from 02:11:22:33:44:66");
	cr_assert(s.na, "no neighbour advertisement for fd00:87::2");
	/* The kernel's own advertisement comes only after its DAD, a second
	 * later: these were the plugin's. */
	cr_assert(before(&s.garp_at, &added) && before(&s.na_at, &added), "announced after ADD returned");
	char *n4 = neigh("-4", peer), *n6 = neigh("-6", peer);
	cr_assert(strstr(n4, "10.87.0.2 lladdr 02:11:22:33:44:66"), "the far end's kernel kept the old MAC: %s", n4);
	cr_assert(strstr(n6, "fd00:87::2 lladdr 02:11:22:33:44:66"), "the far end's kernel kept the old MAC: %s", n6);

	char *an = pod_sysctl("/proc/sys/net/ipv4/conf/net1/arp_notify");
	char *nn = pod_sysctl("/proc/sys/net/ipv6/conf/net1/ndisc_notify");
	cr_assert_str_eq(an, "1\n");
	cr_assert_str_eq(nn, "1\n");

	cr_assert_eq(cni("DEL", "c1", "net1", ns_path, conf, NULL), 0);
	assert_same_node(before_node);
	char *after_notify = kyt_read_file(path);
	cr_assert_str_eq(after_notify, host_notify, "arp_notify of %s back in the host", dev);
	free(after_notify);
	free(host_notify);
	free(an);
	free(nn);
	free(n4);
	free(n6);
	cJSON_Delete(out);
	free(conf);
	free(before_node);
}

/* A link without carrier (its far end down) drops what it is given: the
 * plugin waits for carrier a while, as sriov-cni does, then goes on; ADD
 * does not fail for an announcement nobody could hear. */
Test(cni_plugin, a_link_without_carrier_is_attached_all_the_same)
{
	cr_assert_eq(kyt_run(NULL, "ip", "link", "set", peer, "down", NULL), 0);
	char *before_node = snap();
	char *conf = conf_for("1.1.0", dev, "10.88.0.0/24", NULL);
	cJSON *out = NULL;
	cr_assert_eq(cni("ADD", "c1", "net1", ns_path, conf, &out), 0, "%s", cJSON_PrintUnformatted(out));
	cr_assert_str_eq(jstr(out, "ips", 0, "address"), "10.88.0.2/24");
	char *an = pod_sysctl("/proc/sys/net/ipv4/conf/net1/arp_notify");
	cr_assert_str_eq(an, "1\n");
	cr_assert_eq(cni("DEL", "c1", "net1", ns_path, conf, NULL), 0);
	assert_same_node(before_node);
	free(an);
	cJSON_Delete(out);
	free(conf);
	free(before_node);
}

/* The capabilities a runtime fills in runtimeConfig: "mac" sets the pod's
 * MAC over the config's and CNI_ARGS', "ips" reaches the IPAM plugin
 * (Debian's static, which takes addresses from runtimeConfig.ips) with the
 * rest of the config, as sriov-cni passes it. */
Test(cni_plugin, runtime_config_mac_and_ips_reach_the_pod)
{
	char *before_node = snap();
	char *conf = NULL;
	cr_assert_geq(asprintf(&conf,
			       "{\"cniVersion\":\"1.0.0\",\"name\":\"kynet\",\"type\":\"kyborg\",\"device\":\"%s\","
			       "\"stateDir\":\"%s\",\"mac\":\"02:00:00:00:00:01\",\"capabilities\":{\"mac\":true,\"ips\":true},"
			       "\"runtimeConfig\":{\"mac\":\"02:00:00:00:00:03\",\"ips\":[\"10.89.0.9/24\"]},"
			       "\"ipam\":{\"type\":\"static\"}}",
			       dev, state_dir), 0);
	struct kyt_cni_call c = { .bin = KYBORG_CNI_BIN, .command = "ADD", .container_id = "c1", .netns = ns_path,
				  .ifname = "net1", .path = CNI_PATH, .conf = conf,
				  .env = (const char *const[]){ "CNI_ARGS=IgnoreUnknown=1;MAC=02:00:00:00:00:02", NULL } };
	cJSON *out = NULL;
	cr_assert_eq(kyt_cni_run(&c, &out), 0, "%s", cJSON_PrintUnformatted(out));
	cr_assert_str_eq(jstr(out, "interfaces", 0, "mac"), "02:00:00:00:00:03");
	cr_assert_str_eq(jstr(out, "ips", 0, "address"), "10.89.0.9/24");
	struct kyt_ip_link l;
	cr_assert(kyt_ip_link(ns, "net1", &l));
	cr_assert_str_eq(l.address, "02:00:00:00:00:03");
	char *addrs = NULL;
	cr_assert_eq(kyt_run(&addrs, "ip", "-n", ns, "-o", "addr", "show", "dev", "net1", NULL), 0);
	cr_assert(strstr(addrs, "10.89.0.9/24"), "%s", addrs);
	free(addrs);
	cJSON_Delete(out);
	out = NULL;
	/* Without runtimeConfig.mac, CNI_ARGS's MAC wins over the config's. */
	cr_assert_eq(cni("DEL", "c1", "net1", ns_path, conf, NULL), 0);
	free(conf);
	cr_assert_geq(asprintf(&conf,
			       "{\"cniVersion\":\"1.0.0\",\"name\":\"kynet\",\"type\":\"kyborg\",\"device\":\"%s\","
			       "\"stateDir\":\"%s\",\"mac\":\"02:00:00:00:00:01\"}", dev, state_dir), 0);
	c.conf = conf;
	cr_assert_eq(kyt_cni_run(&c, &out), 0, "%s", cJSON_PrintUnformatted(out));
	cr_assert_str_eq(jstr(out, "interfaces", 0, "mac"), "02:00:00:00:00:02");
	cr_assert_eq(cni("DEL", "c1", "net1", ns_path, conf, NULL), 0);
	assert_same_node(before_node);
	cJSON_Delete(out);
	free(conf);
	free(before_node);
}

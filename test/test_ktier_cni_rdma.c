/* Kernel tier (runs in the qemu guest, scripts/kernel-tier/): the CNI's
 * RDMA step against the kernel's RDMA subsystem, with soft-RoCE (rdma_rxe)
 * over a veth as the RDMA device, iproute2's `rdma` as the independent
 * peer. What a guest can show: the netns mode read and set, the RDMA
 * device found by its netdev, and, in exclusive mode, the plugin asking
 * the kernel to move it into the pod; 6.1 lets only drivers that can
 * disassociate their user contexts (mlx4, mlx5, hns, irdma: hardware)
 * change an RDMA device's netns, so the kernel refuses soft-RoCE
 * (EOPNOTSUPP) and ADD rolls back. A device that does move, and DEL
 * moving it back, need such hardware; the decisions are unit-tested
 * (test_cni_config, cni_rdma). Runs in the initial netns: an RDMA device
 * lives in one, and the mode changes only while no other netns exists. */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/net/netlink.h"
#include "kyborg/net/rdma.h"
#include "kytest.h"
#include "kytest_cni.h"
#include "kytest_net.h"

#define CNI_PATH "/usr/lib/cni"

KY_DEFINE_CLEANUP(cJSON, cJSON_Delete)

static char dev[16], peer[16], rxe[16], ns[16], ns_path[64];
static char *tmp, state_dir[512], ipam_dir[512];

static void rxe_add(void)
{
	cr_assert_eq(kyt_run(NULL, "rdma", "link", "add", rxe, "type", "rxe", "netdev", dev, NULL), 0,
		     "rdma link add %s type rxe netdev %s", rxe, dev);
}

static void setup(void)
{
	cr_assert_eq(kyt_run(NULL, "modprobe", "rdma_rxe", NULL), 0, "modprobe rdma_rxe (runs in the kernel tier's guest)");
	cr_assert_eq(kyt_veth_add(dev, peer, sizeof(dev)), 0);
	kyt_unique_name(rxe, sizeof(rxe), "kyrxe");
	rxe_add();
	kyt_cni_scratch("kykrdma", &tmp, state_dir, ipam_dir, sizeof(state_dir));
}

static struct ky_nl *rdma_nl(void)
{
	struct ky_nl *nl = NULL;
	_cleanup_error_ struct ky_error *err = NULL;
	cr_assert_eq(ky_rdma_open(&nl, &err), 0, "%s", ky_error_msg(err));
	return nl;
}

static bool set_mode(void *arg)
{
	_cleanup_(ky_nl_closep) struct ky_nl *nl = rdma_nl();
	return ky_rdma_set_netns_mode(nl, *(enum ky_rdma_netns_mode *)arg, NULL) == 0;
}

static void teardown(void)
{
	kyt_run(NULL, "rdma", "link", "delete", rxe, NULL);
	if (ns[0])
		kyt_netns_del(ns);
	kyt_run(NULL, "ip", "link", "del", dev, NULL);
	kyt_cni_scratch_free(&tmp);
	/* Back to the default once the pod's netns is gone (its teardown
	 * in the kernel runs on a workqueue). */
	enum ky_rdma_netns_mode shared = KY_RDMA_NETNS_SHARED;
	kyt_wait_until(set_mode, &shared, 30000);
}

TestSuite(ktier_cni_rdma, .init = setup, .fini = teardown, .timeout = 240);

/* `rdma -j <what> show` parsed. */
static cJSON *rdma_json(const char *what)
{
	char *out = NULL;
	cr_assert_eq(kyt_run(&out, "rdma", "-j", what, "show", NULL), 0, "rdma -j %s show", what);
	cJSON *j = cJSON_Parse(out);
	cr_assert_not_null(j, "rdma -j %s show: %s", what, out);
	free(out);
	return j;
}

static const cJSON *rdma_entry(const cJSON *list, const char *key, const char *value)
{
	const cJSON *e;
	cJSON_ArrayForEach(e, list)
	{
		const char *v = cJSON_GetStringValue(cJSON_GetObjectItem(e, key));
		if (v && strcmp(v, value) == 0)
			return e;
	}
	return NULL;
}

/* `rdma system show` ("netns shared copy-on-fork on"): iproute2 6.1 has
 * no JSON for it. */
static char *rdma_system(void)
{
	char *out = NULL;
	cr_assert_eq(kyt_run(&out, "rdma", "system", "show", NULL), 0, "rdma system show");
	return out;
}

static bool rxe_present(void)
{
	_cleanup_(cJSON_Deletep) cJSON *links = rdma_json("link");
	return rdma_entry(links, "ifname", rxe) != NULL;
}

/* The node lets the config log under the scratch directory. */
static int cni(const char *cmd, const char *conf, cJSON **out)
{
	char allow[600];
	snprintf(allow, sizeof(allow), "KYBORG_CNI_LOG_DIRS=%s", tmp);
	const char *const env[] = { allow, NULL };
	struct kyt_cni_call c = { .bin = KYBORG_CNI_BIN, .command = cmd, .container_id = "pod1", .netns = ns_path,
				  .ifname = "net1", .path = CNI_PATH, .conf = conf, .env = env };
	return kyt_cni_run(&c, out);
}

static const char *msg_of(const cJSON *out)
{
	const char *m = cJSON_GetStringValue(cJSON_GetObjectItem(out, "msg"));
	return m ? m : "(no msg)";
}

Test(ktier_cni_rdma, the_plugin_finds_the_rdma_device_of_its_netdev_and_moves_it_only_in_exclusive_mode)
{
	/* 1. The library against iproute2: mode, device by netdev, by name. */
	_cleanup_(ky_nl_closep) struct ky_nl *nl = rdma_nl();
	_cleanup_error_ struct ky_error *err = NULL;
	cr_assert(ky_rdma_present(), "/sys/class/infiniband lists no device");
	enum ky_rdma_netns_mode mode;
	cr_assert_eq(ky_rdma_netns_mode(nl, &mode, &err), 0, "%s", ky_error_msg(err));
	cr_assert_eq(mode, KY_RDMA_NETNS_SHARED, "the kernel's default");
	_cleanup_free_ char *sys = rdma_system();
	cr_assert(strstr(sys, "netns shared"), "rdma system show: %s", sys);
	struct ky_rdma_dev by_netdev, by_name;
	cr_assert_eq(ky_rdma_find_by_netdev(nl, (int)if_nametoindex(dev), &by_netdev, &err), 0, "%s", ky_error_msg(err));
	cr_assert_str_eq(by_netdev.name, rxe);
	_cleanup_(cJSON_Deletep) cJSON *links = rdma_json("link");
	const cJSON *l = rdma_entry(links, "ifname", rxe);
	cr_assert_not_null(l, "rdma link show has no %s", rxe);
	cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(l, "netdev")), dev);
	cr_assert_eq((uint32_t)cJSON_GetObjectItem(l, "ifindex")->valueint, by_netdev.index);
	cr_assert_eq(ky_rdma_find_by_name(nl, rxe, &by_name, &err), 0, "%s", ky_error_msg(err));
	cr_assert_eq(by_name.index, by_netdev.index);
	cr_assert_eq(ky_rdma_find_by_netdev(nl, (int)if_nametoindex(peer), &by_name, NULL), -ENODEV,
		     "the veth's far end has no RDMA device");

	/* 2. Shared mode: every netns sees the device, ADD leaves it. */
	cr_assert_eq(kyt_netns_add(ns, sizeof(ns)), 0);
	kyt_netns_path(ns, ns_path, sizeof(ns_path));
	char *conf = NULL;
	cr_assert_geq(asprintf(&conf, "{\"cniVersion\":\"1.1.0\",\"name\":\"krdma\",\"type\":\"kyborg\",\"device\":\"%s\","
			       "\"stateDir\":\"%s\",\"logLevel\":\"debug\",\"logFile\":\"%s/k.log\"}", dev, state_dir, tmp), 0);
	_cleanup_(cJSON_Deletep) cJSON *res = NULL;
	cr_assert_eq(cni("ADD", conf, &res), 0, "ADD in shared mode: %s", msg_of(res));
	char path[600];
	snprintf(path, sizeof(path), "%s/k.log", tmp);
	_cleanup_free_ char *log = kyt_read_file(path);
	cr_assert(log && strstr(log, "event=rdma-stays") && strstr(log, "shared netns mode"), "%s", log ? log : "");
	cr_assert_eq(cni("DEL", conf, NULL), 0);
	struct kyt_ip_link back;
	cr_assert(kyt_ip_link(NULL, dev, &back), "%s is back in the host", dev);
	/* Soft-RoCE drops its device when its netdev leaves the netns (a
	 * hardware RDMA device stays): make it again. */
	if (!rxe_present())
		rxe_add();

	/* 3. Exclusive mode, set while no other netns is there. */
	kyt_netns_del(ns);
	ns[0] = '\0';
	enum ky_rdma_netns_mode exclusive = KY_RDMA_NETNS_EXCLUSIVE;
	cr_assert(kyt_wait_until(set_mode, &exclusive, 30000), "the kernel kept refusing exclusive mode");
	free(sys);
	sys = rdma_system();
	cr_assert(strstr(sys, "netns exclusive"), "rdma system show: %s", sys);
	cr_assert_eq(kyt_netns_add(ns, sizeof(ns)), 0);
	kyt_netns_path(ns, ns_path, sizeof(ns_path));

	/* 4. ADD asks the kernel to move the device into the pod before the
	 * netdev; the kernel refuses soft-RoCE; ADD rolls back. */
	_cleanup_free_ char *before = kyt_node_snapshot(state_dir, ipam_dir);
	_cleanup_(cJSON_Deletep) cJSON *out = NULL;
	cr_assert_neq(cni("ADD", conf, &out), 0, "the kernel moved a soft-RoCE device: the comment above is wrong");
	cr_assert_eq(kyt_cni_code(out), 100, "%s", msg_of(out));
	cr_log_info("ADD in exclusive mode: %s", msg_of(out));
	cr_assert(strstr(msg_of(out), "step rdma: ") && strstr(msg_of(out), rxe) &&
		  strstr(msg_of(out), "Operation not supported"), "%s", msg_of(out));
	cr_assert_null(strstr(msg_of(out), "rollback incomplete"), "%s", msg_of(out));
	_cleanup_free_ char *after = kyt_node_snapshot(state_dir, ipam_dir);
	cr_assert_str_eq(after, before, "the node changed");
	cr_assert(rxe_present(), "%s is gone", rxe);
	free(conf);
}

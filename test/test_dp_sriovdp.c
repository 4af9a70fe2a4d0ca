/* kyborg-device-plugin as a drop-in for the SR-IOV network device plugin
 * (SRIOV-DP): its own configs (test/data/compat/, each with where it came
 * from) run unchanged against a simulated node (an umockdev testbed,
 * test/data/compat/sriovdp-node.umockdev, with the devices the configs
 * name: Intel X710 and E810 VFs on iavf and vfio-pci, Mellanox VFs with
 * RDMA, an InfiniBand port, PFs without VFs, an FPGA, QAT VFs), and what
 * each resource advertises is asserted device by device: resource name,
 * device IDs, env, device nodes, device-info files. Python's grpcio plays
 * kubelet's calls (test/grpc/dp_kubelet.py). Each test runs in a network
 * namespace of its own, where veths stand in for PFs (PF link health) and
 * a dummy link carries the default route. */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <umockdev.h>
#include <unistd.h>

#include "kyborg/base/cleanup.h"
#include "kyborg/json/json.h"
#include "kytest.h"
#include "kytest_net.h"
#include "kytest_proc.h"
#include "kytest_simnode.h"

#define PYTHON "/usr/bin/python3"
#define COMPAT KYTEST_DATA_DIR "/compat/"

static UMockdevTestbed *tb;
static char *dir, *plugin_dir, *config_path, *devinfo_dir, *log_path;

static char *in_dir(const char *base, const char *name)
{
	char *p;
	cr_assert_geq(asprintf(&p, "%s/%s", base, name), 0);
	return p;
}

/* A node file the kernel makes without a udev device of its own (misc
 * devices): a plain file in the testbed's /dev, which access() sees. */
static void add_dev_file(const char *rel)
{
	g_autofree gchar *root = umockdev_testbed_get_root_dir(tb);
	_cleanup_free_ char *path = NULL;
	cr_assert_geq(asprintf(&path, "%s/dev/%s", root, rel), 0);
	for (char *s = strchr(path + strlen(root) + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		mkdir(path, 0755);
		*s = '/';
	}
	cr_assert_eq(kyt_write_file(path, ""), 0, "%s", path);
}

static void setup(void)
{
	cr_assert_eq(kyt_private_netns(), 0, "needs root (a network namespace per test)");
	tb = umockdev_testbed_new();
	cr_assert_not_null(tb);
	cr_assert(umockdev_in_mock_environment(), "run this test under umockdev-wrapper");
	_cleanup_free_ char *node = kyt_read_file(COMPAT "sriovdp-node.umockdev");
	cr_assert_not_null(node);
	cr_assert_eq(kyt_testbed_add(tb, node), 0);
	add_dev_file("vhost-net");
	add_dev_file("net/tun");
	add_dev_file("infiniband/rdma_cm");
	dir = kyt_tmpdir("kysdp");
	cr_assert_not_null(dir);
	plugin_dir = in_dir(dir, "plugins");
	config_path = in_dir(dir, "config.json");
	devinfo_dir = in_dir(dir, "devinfo");
	log_path = in_dir(dir, "daemon.log");
	cr_assert_eq(mkdir(plugin_dir, 0750), 0);
}

static void teardown(void)
{
	kyt_children_kill_all();
	/* The daemon's stderr is its log: a sanitizer's report in it must
	 * reach ours, where the test runner looks for one. */
	_cleanup_free_ char *log = log_path ? kyt_read_file(log_path) : NULL;
	if (log && (strstr(log, "Sanitizer") || strstr(log, "runtime error:")))
		fprintf(stderr, "the daemon's log:\n%s\n", log);
	if (tb) {
		umockdev_testbed_clear(tb);
		g_clear_object(&tb);
	}
	kyt_rmrf(dir);
	free(dir);
	free(plugin_dir);
	free(config_path);
	free(devinfo_dir);
	free(log_path);
}

TestSuite(dp_sriovdp, .init = setup, .fini = teardown, .timeout = 240);

/* ---- the daemon and kubelet's calls ---- */

static void use_config(const char *text)
{
	cr_assert_eq(kyt_write_file(config_path, text), 0);
}

static void use_compat(const char *file)
{
	_cleanup_free_ char *path = in_dir(COMPAT, file);
	_cleanup_free_ char *text = kyt_read_file(path);
	cr_assert_not_null(text, "%s", path);
	use_config(text);
}

/* The daemon, its stderr (the log) into log_path. */
static struct kyt_child *start_daemon(void)
{
	_cleanup_free_ char *state_dir = in_dir(dir, "state");
	_cleanup_free_ char *cdi_dir = in_dir(dir, "cdi");
	const char *argv[] = { KYBORG_DP_BIN, "--config", config_path, "--plugin-dir", plugin_dir, "--state-dir",
			       state_dir, "--cdi-dir", cdi_dir, "--devinfo-dir", devinfo_dir, "--log-level", "info",
			       "--fetch-helper", "/bin/false", NULL };
	int log = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	cr_assert_geq(log, 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		dup2(log, STDERR_FILENO);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(log);
	return kyt_child_track(pid);
}

static void stop_daemon(struct kyt_child *d)
{
	kill(d->pid, SIGTERM);
	cr_assert(kyt_wait_until(kyt_child_done_cond, d, 10000), "the daemon exits on SIGTERM");
	cr_assert(WIFEXITED(d->status) && WEXITSTATUS(d->status) == 0, "daemon status %#x", d->status);
	_cleanup_free_ char *log = kyt_read_file(log_path);
	cr_assert(!log || !strstr(log, "Sanitizer"), "the daemon's log has a sanitizer's report");
}

/* "intel.com/intel_sriov_dpdk" -> <plugin dir>/kyborg-intel.com_intel_sriov_dpdk.sock */
static char *sock_of(const char *resource)
{
	_cleanup_free_ char *name = NULL;
	cr_assert_geq(asprintf(&name, "kyborg-%s.sock", resource), 0);
	*strchr(name, '/') = '_';
	return in_dir(plugin_dir, name);
}

static void wait_serving(const char *resource)
{
	_cleanup_free_ char *sock = sock_of(resource);
	cr_assert(kyt_wait_until(kyt_socket_accepts, sock, 30000), "%s serves within 30 s (log: %s)", resource,
		  kyt_read_file(log_path));
}

static char *read_all_fd(int fd, int timeout_s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	cr_assert_not_null(m);
	time_t deadline = time(NULL) + timeout_s;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		cr_assert(time(NULL) < deadline, "no end of output within %d s", timeout_s);
		if (poll(&p, 1, 1000) <= 0)
			continue;
		char chunk[4096];
		ssize_t k = read(fd, chunk, sizeof(chunk));
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		fwrite(chunk, 1, (size_t)k, m);
	}
	fclose(m);
	return buf;
}

/* dp_kubelet.py MODE <resource's socket> DESC args...: its JSON answer. */
static cJSON *kubelet(const char *mode, const char *resource, const char *const args[])
{
	char script[512];
	_cleanup_free_ char *sock = sock_of(resource);
	snprintf(script, sizeof(script), "%s/dp_kubelet.py", KYTEST_GRPC_DIR);
	const char *argv[16] = { PYTHON, script, mode, sock, KYTEST_DPAPI_DESC };
	int n = 5;
	for (int i = 0; args && args[i] && n < 15; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	int pipefd[2];
	cr_assert_eq(pipe2(pipefd, O_CLOEXEC), 0);
	struct kyt_child *c = kyt_child_start(argv, pipefd[1], true);
	close(pipefd[1]);
	char *buf = read_all_fd(pipefd[0], 60);
	close(pipefd[0]);
	cr_assert(kyt_wait_until(kyt_child_done_cond, c, 30000));
	cr_assert(WIFEXITED(c->status) && WEXITSTATUS(c->status) == 0, "dp_kubelet.py %s failed: %s", mode, buf);
	cJSON *j = cJSON_Parse(buf);
	cr_assert_not_null(j, "not JSON: %s", buf);
	free(buf);
	return j;
}

/* kyborg-device-plugin ARGS: its exit code, stdout and stderr. */
static int run_bin(const char *const args[], char **out, char **err)
{
	const char *argv[12] = { KYBORG_DP_BIN };
	int n = 1;
	for (int i = 0; args[i] && n < 11; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	int po[2], pe[2];
	cr_assert_eq(pipe2(po, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(pe, O_CLOEXEC), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		dup2(po[1], STDOUT_FILENO);
		dup2(pe[1], STDERR_FILENO);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	struct kyt_child *c = kyt_child_track(pid);
	close(po[1]);
	close(pe[1]);
	/* Small outputs: stdout first fits the pipe while stderr waits. */
	*out = read_all_fd(po[0], 30);
	*err = read_all_fd(pe[0], 30);
	close(po[0]);
	close(pe[0]);
	cr_assert(kyt_wait_until(kyt_child_done_cond, c, 10000));
	return WIFEXITED(c->status) ? WEXITSTATUS(c->status) : -1;
}

static const char *jstr(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	cr_assert(cJSON_IsString(v), "%s is not a string in %s", key, cJSON_PrintUnformatted(o));
	return v->valuestring;
}

/* ---- what a resource advertises ---- */

/* The IDs of a ListAndWatch answer, comma-joined in its order. */
static char *ids_of(const cJSON *list)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	const cJSON *d;
	cJSON_ArrayForEach(d, list)
		fprintf(m, "%s%s", d == list->child ? "" : ",", jstr(d, "id"));
	fclose(m);
	return buf;
}

/* Every device is Healthy and on `numa` (-1: no topology). */
static void assert_list(const char *resource, const char *want_ids, int numa)
{
	_cleanup_(cJSON_Deletep) cJSON *list = kubelet("list", resource, NULL);
	_cleanup_free_ char *ids = ids_of(list);
	cr_assert_str_eq(ids, want_ids, "%s advertises %s, want %s", resource, ids, want_ids);
	const cJSON *d;
	cJSON_ArrayForEach(d, list)
	{
		cr_assert_str_eq(jstr(d, "health"), "Healthy", "%s %s", resource, jstr(d, "id"));
		const cJSON *nodes = cJSON_GetObjectItem(d, "numa");
		if (numa < 0)
			cr_assert_eq(cJSON_GetArraySize(nodes), 0, "%s %s has a NUMA node", resource, jstr(d, "id"));
		else if (numa < 100)
			cr_assert(cJSON_GetArraySize(nodes) == 1 && cJSON_GetArrayItem(nodes, 0)->valueint == numa,
				  "%s %s: NUMA %s, want %d", resource, jstr(d, "id"), cJSON_PrintUnformatted(nodes), numa);
	}
}

#define ANY_NUMA 100

/* One container's Allocate answer for ids (comma-joined). */
static cJSON *allocate(const char *resource, const char *ids)
{
	cJSON *r = kubelet("allocate", resource, (const char *[]){ ids, NULL });
	cr_assert_str_eq(jstr(r, "code"), "OK", "Allocate %s on %s: %s", ids, resource, cJSON_PrintUnformatted(r));
	return r;
}

static const cJSON *container0(const cJSON *resp)
{
	return cJSON_GetArrayItem(cJSON_GetObjectItem(resp, "containers"), 0);
}

static const char *env(const cJSON *resp, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItem(container0(resp), "envs"), key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The host paths of the device nodes, comma-joined in the answer's order
 * (each given at the same path in the container, "rw"). */
static char *nodes_of(const cJSON *resp)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	const cJSON *d, *devs = cJSON_GetObjectItem(container0(resp), "devices");
	cJSON_ArrayForEach(d, devs)
	{
		const char *host = cJSON_GetArrayItem(d, 0)->valuestring;
		cr_assert_str_eq(cJSON_GetArrayItem(d, 1)->valuestring, host);
		cr_assert_str_eq(cJSON_GetArrayItem(d, 2)->valuestring, "rw");
		fprintf(m, "%s%s", d == devs->child ? "" : ",", host);
	}
	fclose(m);
	return buf;
}

/* Allocate gives exactly these envs (the two SRIOV-DP names) and nodes. */
static void assert_answer(const char *resource, const char *ids, const char *env_name, const char *info,
			  const char *nodes)
{
	_cleanup_(cJSON_Deletep) cJSON *r = allocate(resource, ids);
	_cleanup_free_ char *info_name = NULL;
	cr_assert_geq(asprintf(&info_name, "%s_INFO", env_name), 0);
	cr_assert_str_eq(env(r, env_name) ? env(r, env_name) : "(none)", ids, "%s on %s: %s", env_name, resource,
			 cJSON_PrintUnformatted(r));
	cr_assert_str_eq(env(r, info_name) ? env(r, info_name) : "(none)", info, "%s", info_name);
	_cleanup_free_ char *got = nodes_of(r);
	cr_assert_str_eq(got, nodes, "device nodes for %s on %s", ids, resource);
}

static char *devinfo_file(const char *resource, const char *id)
{
	_cleanup_free_ char *name = NULL;
	cr_assert_geq(asprintf(&name, "%s-%s-device.json", resource, id), 0);
	*strchr(name, '/') = '-';
	_cleanup_free_ char *path = in_dir(devinfo_dir, name);
	return kyt_read_file(path);
}

static bool log_has(const char *needle)
{
	_cleanup_free_ char *log = kyt_read_file(log_path);
	return log && strstr(log, needle);
}

static bool cond_log_has(void *needle)
{
	return log_has(needle);
}

/* ---- deployments/configMap.yaml ---- */

#define X710_VFS_IAVF "0000:18:02.0,0000:18:02.1"
#define NETPF0_VFS                                                                                               \
	"0000:3d:01.0,0000:3d:01.1,0000:3d:01.2,0000:3d:01.3,0000:3d:01.4,0000:3d:01.5,0000:3d:01.6,0000:3d:01.7," \
	"0000:3d:02.0,0000:3d:02.1"
#define ENS785F0_VFS                                                                                             \
	"0000:86:01.0,0000:86:01.1,0000:86:01.2,0000:86:01.3,0000:86:01.4,0000:86:01.5,0000:86:01.6,0000:86:01.7," \
	"0000:86:02.0,0000:86:02.1"
#define ENS785F1_VFS                                                                                             \
	"0000:86:11.0,0000:86:11.1,0000:86:11.2,0000:86:11.3,0000:86:11.4,0000:86:11.5,0000:86:11.6,0000:86:11.7," \
	"0000:86:12.0,0000:86:12.1"
#define INTEL_IAVF_VFS X710_VFS_IAVF "," NETPF0_VFS "," ENS785F0_VFS "," ENS785F1_VFS

Test(dp_sriovdp, deployments_configmap_runs_unchanged_and_advertises_each_device)
{
	use_compat("sriovdp-deployments-configMap.json");
	struct kyt_child *d = start_daemon();
	wait_serving("intel.com/intel_sriov_netdevice");

	/* iavf VFs of every Intel PF; the VFs on vfio-pci of the PFs named. */
	assert_list("intel.com/intel_sriov_netdevice", INTEL_IAVF_VFS, ANY_NUMA);
	assert_list("intel.com/intel_sriov_dpdk", "0000:18:02.2,0000:18:02.3", 0);
	/* mlx5_ib is no PCI driver of a modern kernel (mlx5_core is): nothing,
	 * and the log says so. */
	assert_list("intel.com/mlnx_sriov_rdma", "", 0);
	/* The BCM57508 has no VFs: the PF is the device. */
	assert_list("intel.com/brcm_sriov_bnxt", "0000:3b:00.0", 0);
	cr_assert(kyt_wait_until(cond_log_has, "selector-note message=\"resourceList[2].selectors: matches no device", 5000),
		  "%s", kyt_read_file(log_path));
	cr_assert(log_has("resourceList[1].selectors.pfNames[1]: enp2s2f1 (0000:18:00.1) has no VFs"));

	assert_answer("intel.com/intel_sriov_netdevice", "0000:86:01.3", "PCIDEVICE_INTEL_COM_INTEL_SRIOV_NETDEVICE",
		      "{\"0000:86:01.3\":{\"generic\":{\"deviceID\":\"0000:86:01.3\"}}}", "");
	_cleanup_free_ char *info = devinfo_file("intel.com/intel_sriov_netdevice", "0000:86:01.3");
	cr_assert_str_eq(info ? info : "(none)",
			 "{\"type\":\"pci\",\"version\":\"1.1.0\",\"pci\":{\"pci-address\":\"0000:86:01.3\"}}");
	assert_answer("intel.com/intel_sriov_dpdk", "0000:18:02.2,0000:18:02.3", "PCIDEVICE_INTEL_COM_INTEL_SRIOV_DPDK",
		      "{\"0000:18:02.2\":{\"generic\":{\"deviceID\":\"0000:18:02.2\"},\"vfio\":{\"dev-mount\":"
		      "\"/dev/vfio/1802\",\"mount\":\"/dev/vfio/vfio\"}},\"0000:18:02.3\":{\"generic\":{\"deviceID\":"
		      "\"0000:18:02.3\"},\"vfio\":{\"dev-mount\":\"/dev/vfio/1803\",\"mount\":\"/dev/vfio/vfio\"}}}",
		      "/dev/vfio/vfio,/dev/vfio/1802,/dev/vfio/1803");
	assert_answer("intel.com/brcm_sriov_bnxt", "0000:3b:00.0", "PCIDEVICE_INTEL_COM_BRCM_SRIOV_BNXT",
		      "{\"0000:3b:00.0\":{\"generic\":{\"deviceID\":\"0000:3b:00.0\"}}}", "");
	stop_daemon(d);
}

/* ---- the README's config ---- */

static void remove_resource(cJSON *doc, const char *name)
{
	cJSON *list = cJSON_GetObjectItem(doc, "resourceList"), *r;
	int i = 0;
	cJSON_ArrayForEach(r, list)
	{
		if (strcmp(jstr(r, "resourceName"), name) == 0) {
			cJSON_DeleteItemFromArray(list, i);
			return;
		}
		i++;
	}
	cr_assert_fail("no resource %s", name);
}

Test(dp_sriovdp, readme_config_is_refused_where_srivodp_refuses_it_and_runs_without_the_unsupported_kinds)
{
	_cleanup_free_ char *text = kyt_read_file(COMPAT "sriovdp-readme-config.json");
	cr_assert_not_null(text);
	_cleanup_free_ char *out = NULL, *err = NULL;
	/* As published it has a trailing comma, which Go's encoding/json (and
	 * so SRIOV-DP) refuses too: the error says where. */
	use_config(text);
	cr_assert_eq(run_bin((const char *[]){ "--check-config", "--config", config_path, NULL }, &out, &err), 1);
	cr_assert(strstr(err, "cannot decode JSON at line 87"), "%s", err);

	/* Without it, vdpaType (vDPA) is the first thing we do not do. */
	char *comma = strstr(text, "}],\n        },");
	cr_assert_not_null(comma);
	memmove(comma + 2, comma + 3, strlen(comma + 3) + 1);
	use_config(text);
	free(out);
	free(err);
	cr_assert_eq(run_bin((const char *[]){ "--check-config", "--config", config_path, NULL }, &out, &err), 1);
	cr_assert(strstr(err, "resourceList[4].selectors[0].vdpaType: vdpaType is not supported"), "%s", err);

	/* And without the vDPA and auxiliary-device resources, it runs. */
	_cleanup_(cJSON_Deletep) cJSON *doc = cJSON_Parse(text);
	cr_assert_not_null(doc);
	remove_resource(doc, "ct6dx_vdpa_vhost");
	remove_resource(doc, "bf2_sf");
	_cleanup_free_ char *edited = cJSON_Print(doc);
	use_config(edited);
	struct kyt_child *d = start_daemon();
	wait_serving("intel.com/intel_sriov_netdevice");
	assert_list("intel.com/intel_sriov_netdevice", INTEL_IAVF_VFS, ANY_NUMA);
	assert_list("intel.com/intel_sriov_dpdk", "0000:18:02.2,0000:18:02.3", 0);
	assert_list("mellanox.com/mlnx_sriov_rdma", "", 0);
	/* linkTypes infiniband with isRdma: the ConnectX-6 port, a PF. */
	assert_list("intel.com/infiniband_rdma_netdevs", "0000:d8:00.0", 1);
	assert_list("intel.com/intel_fpga", "0000:1c:00.0", 0);
	/* The same selectors as an earlier resource: that one took them. */
	assert_list("intel.com/intel_sriov_netdevice_additional_env", "", ANY_NUMA);
	assert_list("broadcom.com/brcm_sriov_bnxt", "0000:3b:00.0", 0);
	assert_list("intel.com/old_selectors_syntax_example", "", ANY_NUMA);
	cr_assert(kyt_wait_until(cond_log_has,
				 "resourceList[5].selectors[0]: matches no device on this node "
				 "(intel.com/intel_sriov_netdevice_additional_env gets none from it): 0000:18:02.0 matches its "
				 "fields but resourceList[0] (intel.com/intel_sriov_netdevice) took it first",
				 5000),
		  "%s", kyt_read_file(log_path));

	/* needVhostNet: vhost-net and tun after the VF's VFIO nodes. */
	assert_answer("intel.com/intel_sriov_dpdk", "0000:18:02.3", "PCIDEVICE_INTEL_COM_INTEL_SRIOV_DPDK",
		      "{\"0000:18:02.3\":{\"generic\":{\"deviceID\":\"0000:18:02.3\"},\"vfio\":{\"dev-mount\":"
		      "\"/dev/vfio/1803\",\"mount\":\"/dev/vfio/vfio\"},\"vhost\":{\"net-mount\":\"/dev/vhost-net\","
		      "\"tun-mount\":\"/dev/net/tun\"}}}",
		      "/dev/vfio/vfio,/dev/vfio/1803,/dev/vhost-net,/dev/net/tun");
	/* isRdma: the port's RDMA character devices and rdma_cm. */
	assert_answer("intel.com/infiniband_rdma_netdevs", "0000:d8:00.0", "PCIDEVICE_INTEL_COM_INFINIBAND_RDMA_NETDEVS",
		      "{\"0000:d8:00.0\":{\"generic\":{\"deviceID\":\"0000:d8:00.0\"},\"rdma\":{\"issm\":"
		      "\"/dev/infiniband/issm6\",\"rdma_cm\":\"/dev/infiniband/rdma_cm\",\"rdma_dev\":\"mlx5_6\","
		      "\"umad\":\"/dev/infiniband/umad6\",\"uverbs\":\"/dev/infiniband/uverbs6\"}}}",
		      "/dev/infiniband/issm6,/dev/infiniband/umad6,/dev/infiniband/uverbs6,/dev/infiniband/rdma_cm");
	_cleanup_free_ char *info = devinfo_file("intel.com/infiniband_rdma_netdevs", "0000:d8:00.0");
	cr_assert_str_eq(info ? info : "(none)", "{\"type\":\"pci\",\"version\":\"1.1.0\",\"pci\":{\"pci-address\":"
						 "\"0000:d8:00.0\",\"rdma-device\":\"mlx5_6\"}}");
	/* An accelerator: no device-info file (SRIOV-DP writes none either). */
	assert_answer("intel.com/intel_fpga", "0000:1c:00.0", "PCIDEVICE_INTEL_COM_INTEL_FPGA",
		      "{\"0000:1c:00.0\":{\"generic\":{\"deviceID\":\"0000:1c:00.0\"}}}", "");
	_cleanup_free_ char *none = devinfo_file("intel.com/intel_fpga", "0000:1c:00.0");
	cr_assert_null(none);
	stop_daemon(d);
}

/* ---- VF ranges: docs/config-file, the operator's rendering, the README ---- */

Test(dp_sriovdp, vf_ranges_of_the_node_specific_config_take_exactly_their_vfs)
{
	/* Go's spelling ("IsRdma", "NeedVhostNet") and "SelectorObj": null. */
	use_compat("sriovdp-docs-config-file-node-0.json");
	struct kyt_child *d = start_daemon();
	wait_serving("intel.com/sriovnics");
	assert_list("intel.com/sriovnics",
		    "0000:86:01.0,0000:86:01.1,0000:86:01.2,0000:86:01.3,0000:86:01.4," ENS785F1_VFS, 1);
	stop_daemon(d);
}

Test(dp_sriovdp, the_operators_rendering_splits_one_pf_and_keeps_excludetopology)
{
	use_compat("sriovdp-operator-rendered.json");
	struct kyt_child *d = start_daemon();
	wait_serving("intel.com/resourceXXX");
	assert_list("intel.com/resourceXXX", "0000:86:11.0,0000:86:11.1,0000:86:11.2,0000:86:11.3", -1);
	assert_list("intel.com/resourceYYY", "0000:86:11.4,0000:86:11.5,0000:86:11.6", 1);
	stop_daemon(d);
}

Test(dp_sriovdp, readme_ranges_by_pf_name_and_by_root_device)
{
	use_compat("sriovdp-readme-vf-ranges.json");
	struct kyt_child *d = start_daemon();
	wait_serving("intel.com/netpf0_vfs");
	assert_list("intel.com/netpf0_vfs",
		    "0000:3d:01.0,0000:3d:01.2,0000:3d:01.3,0000:3d:01.4,0000:3d:01.5,0000:3d:01.6,0000:3d:01.7,"
		    "0000:3d:02.1",
		    0);
	assert_list("intel.com/root_device_vfs", "0000:86:01.0,0000:86:01.1,0000:86:01.3,0000:86:01.4", 1);
	stop_daemon(d);
}

/* The issue's own case: a range on a PF this node lacks passed
 * --check-config and advertised nothing, in silence. */
Test(dp_sriovdp, a_range_that_takes_nothing_is_a_warning_and_a_malformed_range_an_error)
{
	_cleanup_free_ char *out = NULL, *err = NULL;
	use_config("{\"resourceList\":[{\"resourceName\":\"pool\",\"selectors\":{\"pfNames\":[\"ens1f0#0-3\"]}},"
		   "{\"resourceName\":\"beyond\",\"selectors\":{\"pfNames\":[\"netpf0#12-15\"]}},"
		   "{\"resourceName\":\"split\",\"selectors\":{\"pfNames\":[\"ens785f0#0-3\",\"ens785f0#8-9\"]}}]}");
	cr_assert_eq(run_bin((const char *[]){ "--check-config", "--config", config_path, NULL }, &out, &err), 0, "%s",
		     err);
	cr_assert(strstr(err, "warning: resourceList[0].selectors.pfNames[0]: no PCI function has the interface ens1f0"),
		  "%s", err);
	cr_assert(strstr(err, "warning: resourceList[0].selectors: matches no device on this node"), "%s", err);
	cr_assert(strstr(err, "warning: resourceList[1].selectors.pfNames[0]: netpf0 has VFs 0-9; #12-15 takes none"),
		  "%s", err);
	/* SRIOV-DP reads only the first entry for a PF: so do we, and say so. */
	cr_assert(strstr(err, "warning: resourceList[2].selectors.pfNames[1]: ignored: pfNames[0] names ens785f0 "
			      "already, and only the first entry for a PF counts (as in SRIOV-DP): write "
			      "\"ens785f0#0-3,8-9\""),
		  "%s", err);
	cr_assert(strstr(out, "intel.com/pool: 0 devices"), "%s", out);
	cr_assert(strstr(out, "intel.com/split: 4 devices"), "%s", out);

	static const char *const bad[][2] = {
		{ "ens1f0#3-1", "pfNames[0]: \"ens1f0#3-1\": a range runs backwards" },
		{ "ens1f0#0-3,x", "pfNames[0]: \"ens1f0#0-3,x\": after '#' come decimal VF indexes" },
		{ "ens1f0#", "pfNames[0]: \"ens1f0#\": no VF index after '#'" },
		{ "ens1f0#1-2-3", "pfNames[0]: \"ens1f0#1-2-3\": a range has one '-'" },
		{ "#0-3", "pfNames[0]: \"#0-3\": nothing before '#'" },
		{ "ens1f0#0-70000", "a VF index above 65535" },
	};
	for (size_t i = 0; i < KY_ARRAY_SIZE(bad); i++) {
		_cleanup_free_ char *cfg = NULL, *o = NULL, *e = NULL;
		cr_assert_geq(asprintf(&cfg, "{\"resourceList\":[{\"resourceName\":\"pool\",\"selectors\":{\"pfNames\":"
					     "[\"%s\"]}}]}",
				       bad[i][0]),
			      0);
		use_config(cfg);
		cr_assert_eq(run_bin((const char *[]){ "--check-config", "--config", config_path, NULL }, &o, &e), 1,
			     "%s passes", bad[i][0]);
		cr_assert(strstr(e, bad[i][1]), "%s: %s", bad[i][0], e);
	}
	/* And the daemon refuses it before serving anything. */
	use_config("{\"resourceList\":[{\"resourceName\":\"pool\",\"selectors\":{\"rootDevices\":[\"0000:86:00.0#3-1\"]}}]}");
	struct kyt_child *d = start_daemon();
	cr_assert(kyt_wait_until(kyt_child_done_cond, d, 10000));
	cr_assert_eq(WEXITSTATUS(d->status), 1);
	cr_assert(log_has("resourceList[0].selectors.rootDevices[0]"), "%s", kyt_read_file(log_path));
}

/* ---- RDMA ---- */

Test(dp_sriovdp, rdma_configmap_gives_each_vf_its_rdma_character_devices_and_rdma_cm)
{
	use_compat("sriovdp-docs-rdma-configMap.json");
	struct kyt_child *d = start_daemon();
	wait_serving("mellanox.com/mlnx_rdma");
	/* ConnectX-4 Lx and ConnectX-5 VFs; of the E810 VFs only the two
	 * with an RDMA device (isRdma filters). */
	assert_list("mellanox.com/mlnx_rdma", "0000:5e:00.2,0000:5e:00.3,0000:af:00.2", ANY_NUMA);
	assert_list("intel.com/intel_rdma", "0000:86:01.0,0000:86:01.1", 1);
	assert_answer("mellanox.com/mlnx_rdma", "0000:5e:00.3", "PCIDEVICE_MELLANOX_COM_MLNX_RDMA",
		      "{\"0000:5e:00.3\":{\"generic\":{\"deviceID\":\"0000:5e:00.3\"},\"rdma\":{\"issm\":"
		      "\"/dev/infiniband/issm3\",\"rdma_cm\":\"/dev/infiniband/rdma_cm\",\"rdma_dev\":\"mlx5_3\","
		      "\"umad\":\"/dev/infiniband/umad3\",\"uverbs\":\"/dev/infiniband/uverbs3\"}}}",
		      "/dev/infiniband/issm3,/dev/infiniband/umad3,/dev/infiniband/uverbs3,/dev/infiniband/rdma_cm");
	_cleanup_free_ char *info = devinfo_file("mellanox.com/mlnx_rdma", "0000:5e:00.3");
	cr_assert_str_eq(info ? info : "(none)", "{\"type\":\"pci\",\"version\":\"1.1.0\",\"pci\":{\"pci-address\":"
						 "\"0000:5e:00.3\",\"rdma-device\":\"mlx5_3\"}}");
	/* Two VFs in one container: rdma_cm once, each VF's own nodes. */
	assert_answer("intel.com/intel_rdma", "0000:86:01.0,0000:86:01.1", "PCIDEVICE_INTEL_COM_INTEL_RDMA",
		      "{\"0000:86:01.0\":{\"generic\":{\"deviceID\":\"0000:86:01.0\"},\"rdma\":{\"issm\":"
		      "\"/dev/infiniband/issm10\",\"rdma_cm\":\"/dev/infiniband/rdma_cm\",\"rdma_dev\":\"rocep134s1f0\","
		      "\"umad\":\"/dev/infiniband/umad10\",\"uverbs\":\"/dev/infiniband/uverbs10\"}},\"0000:86:01.1\":"
		      "{\"generic\":{\"deviceID\":\"0000:86:01.1\"},\"rdma\":{\"issm\":\"/dev/infiniband/issm11\","
		      "\"rdma_cm\":\"/dev/infiniband/rdma_cm\",\"rdma_dev\":\"rocep134s1f1\",\"umad\":"
		      "\"/dev/infiniband/umad11\",\"uverbs\":\"/dev/infiniband/uverbs11\"}}}",
		      "/dev/infiniband/issm10,/dev/infiniband/umad10,/dev/infiniband/uverbs10,/dev/infiniband/rdma_cm,"
		      "/dev/infiniband/issm11,/dev/infiniband/umad11,/dev/infiniband/uverbs11");
	stop_daemon(d);
}

Test(dp_sriovdp, without_isrdma_a_vf_with_rdma_gets_no_rdma_nodes)
{
	/* docs/dpdk/mlnx-dpdk asks for RDMA; the same VFs without isRdma get none. */
	use_config("{\"resourceList\":[{\"resourceName\":\"cx5\",\"resourcePrefix\":\"mellanox.com\","
		   "\"selectors\":{\"vendors\":[\"15b3\"],\"devices\":[\"1018\"],\"drivers\":[\"mlx5_core\"]}}]}");
	struct kyt_child *d = start_daemon();
	wait_serving("mellanox.com/cx5");
	assert_answer("mellanox.com/cx5", "0000:5e:00.2", "PCIDEVICE_MELLANOX_COM_CX5",
		      "{\"0000:5e:00.2\":{\"generic\":{\"deviceID\":\"0000:5e:00.2\"}}}", "");
	_cleanup_free_ char *info = devinfo_file("mellanox.com/cx5", "0000:5e:00.2");
	cr_assert_str_eq(info ? info : "(none)",
			 "{\"type\":\"pci\",\"version\":\"1.1.0\",\"pci\":{\"pci-address\":\"0000:5e:00.2\"}}");
	stop_daemon(d);
}

/* ---- DPDK configs ---- */

Test(dp_sriovdp, dpdk_configs_run_unchanged)
{
	use_compat("sriovdp-docs-dpdk-configMap.json");
	struct kyt_child *d = start_daemon();
	wait_serving("intel.com/intel_x710vfio");
	assert_list("intel.com/intel_x710vfio", "0000:18:02.2,0000:18:02.3", 0);
	stop_daemon(d);

	/* Three selectors in one resource, in order: RDMA VFs of two
	 * ConnectX generations, X710 VFs on vfio-pci. */
	use_compat("sriovdp-docs-dpdk-configMap-all-nics.json");
	d = start_daemon();
	wait_serving("dpdk.org/nic");
	assert_list("dpdk.org/nic", "0000:18:02.2,0000:18:02.3,0000:5e:00.2,0000:5e:00.3,0000:af:00.2", ANY_NUMA);
	assert_answer("dpdk.org/nic", "0000:af:00.2,0000:18:02.2", "PCIDEVICE_DPDK_ORG_NIC",
		      "{\"0000:18:02.2\":{\"generic\":{\"deviceID\":\"0000:18:02.2\"},\"vfio\":{\"dev-mount\":"
		      "\"/dev/vfio/1802\",\"mount\":\"/dev/vfio/vfio\"}},\"0000:af:00.2\":{\"generic\":{\"deviceID\":"
		      "\"0000:af:00.2\"},\"rdma\":{\"issm\":\"/dev/infiniband/issm4\",\"rdma_cm\":"
		      "\"/dev/infiniband/rdma_cm\",\"rdma_dev\":\"mlx5_4\",\"umad\":\"/dev/infiniband/umad4\","
		      "\"uverbs\":\"/dev/infiniband/uverbs4\"}}}",
		      "/dev/infiniband/issm4,/dev/infiniband/umad4,/dev/infiniband/uverbs4,/dev/infiniband/rdma_cm,"
		      "/dev/vfio/vfio,/dev/vfio/1802");
	stop_daemon(d);

	use_compat("sriovdp-docs-dpdk-mlnx-configMap.json");
	d = start_daemon();
	wait_serving("mellanox.com/mlnx_connectx4");
	assert_list("mellanox.com/mlnx_connectx4", "0000:af:00.2", 1);
	assert_list("mellanox.com/mlnx_connectx5", "0000:5e:00.2,0000:5e:00.3", 0);
	stop_daemon(d);
}

Test(dp_sriovdp, configs_srivodp_cannot_run_either_are_refused_naming_why)
{
	static const char *const cases[][2] = {
		/* Published with trailing commas, and with "[{ {": Go refuses both. */
		{ "sriovdp-docs-dpdk-configMap-virt.json", "cannot decode JSON at line 13" },
		{ "sriovdp-docs-vdpa-configMap.json", "cannot decode JSON at line 3" },
		/* DDP profiles need Intel's ddptool on the node: not done here. */
		{ "sriovdp-docs-ddp-x700-configMap.json",
		  "resourceList[0].selectors[0].ddpProfiles: ddpProfiles is not supported" },
	};
	for (size_t i = 0; i < KY_ARRAY_SIZE(cases); i++) {
		_cleanup_free_ char *out = NULL, *err = NULL;
		use_compat(cases[i][0]);
		cr_assert_eq(run_bin((const char *[]){ "--check-config", "--config", config_path, NULL }, &out, &err), 1,
			     "%s passes", cases[i][0]);
		cr_assert(strstr(err, cases[i][1]), "%s: %s", cases[i][0], err);
	}
}

/* ---- additionalInfo ---- */

Test(dp_sriovdp, additional_info_reaches_every_device_and_one_device_gets_its_own)
{
	use_compat("sriovdp-readme-additional-info.json");
	struct kyt_child *d = start_daemon();
	wait_serving("intel.com/intel_sriov_netdevice_additional_env");
	const char *res = "intel.com/intel_sriov_netdevice_additional_env";
	const char *name = "PCIDEVICE_INTEL_COM_INTEL_SRIOV_NETDEVICE_ADDITIONAL_ENV";
	assert_answer(res, "0000:86:01.1", name,
		      "{\"0000:86:01.1\":{\"extra\":{\"token\":\"original\"},\"generic\":{\"deviceID\":\"0000:86:01.1\"}}}",
		      "");
	assert_answer(res, "0000:86:01.0", name,
		      "{\"0000:86:01.0\":{\"extra\":{\"additional-token\":\"6e7dc135-7a1c-456f-a008-c2cfb37997be\","
		      "\"token\":\"specific\"},\"generic\":{\"deviceID\":\"0000:86:01.0\"}}}",
		      "");
	stop_daemon(d);
}

static void pf_veth(const char *pf, const char *peer);

/* ---- PFs as devices, accelerators, the default route, ACPI indexes ---- */

Test(dp_sriovdp, pfs_without_vfs_accelerators_and_the_default_route)
{
	/* eno1 (the I350; a veth here) carries the node's default route. */
	pf_veth("eno1", "kyenop");
	cr_assert_eq(kyt_run(NULL, "ip", "addr", "add", "192.0.2.2/24", "dev", "eno1", NULL), 0);
	cr_assert_eq(kyt_run(NULL, "ip", "route", "add", "default", "via", "192.0.2.1", NULL), 0);
	use_config("{\"resourceList\":["
		   "{\"resourceName\":\"x710_pf_vfio\",\"selectors\":{\"devices\":[\"1572\"],\"drivers\":[\"vfio-pci\"]}},"
		   "{\"resourceName\":\"by_acpi\",\"selectors\":[{\"acpiIndexes\":[\"101\"]}]},"
		   "{\"resourceName\":\"i350\",\"selectors\":{\"devices\":[\"1521\"]}},"
		   "{\"resourceName\":\"qat_vf\",\"deviceType\":\"accelerator\","
		   " \"selectors\":{\"vendors\":[\"8086\"],\"drivers\":[\"vfio-pci\"]}},"
		   "{\"resourceName\":\"x710_pf_with_vfs\",\"selectors\":{\"pciAddresses\":[\"0000:18:00.0\"]}}]}");
	struct kyt_child *d = start_daemon();
	wait_serving("intel.com/x710_pf_vfio");
	/* A PF without VFs bound to vfio-pci, given whole: its VFIO nodes. */
	assert_list("intel.com/x710_pf_vfio", "0000:18:00.2", 0);
	assert_answer("intel.com/x710_pf_vfio", "0000:18:00.2", "PCIDEVICE_INTEL_COM_X710_PF_VFIO",
		      "{\"0000:18:00.2\":{\"generic\":{\"deviceID\":\"0000:18:00.2\"},\"vfio\":{\"dev-mount\":"
		      "\"/dev/vfio/172\",\"mount\":\"/dev/vfio/vfio\"}}}",
		      "/dev/vfio/vfio,/dev/vfio/172");
	assert_list("intel.com/by_acpi", "0000:18:00.1", 0);
	/* The port the node itself talks through is never a device. */
	assert_list("intel.com/i350", "", 0);
	/* QAT VFs are co-processors (0b40): an accelerator, like an FPGA. */
	assert_list("intel.com/qat_vf", "0000:6b:00.1,0000:6b:00.2", 0);
	/* A PF whose VFs are made is not a device: its VFs are. */
	assert_list("intel.com/x710_pf_with_vfs", "", 0);
	cr_assert(kyt_wait_until(cond_log_has,
				 "resourceList[2].selectors: matches no device on this node (intel.com/i350 gets none "
				 "from it): 0000:01:00.0 matches its fields but is on the node's default route",
				 5000),
		  "%s", kyt_read_file(log_path));
	cr_assert(log_has("resourceList[4].selectors: matches no device on this node (intel.com/x710_pf_with_vfs gets "
			  "none from it): 0000:18:00.0 matches its fields but is a PF with VFs (its VFs are the devices)"));
	stop_daemon(d);
}

/* ---- PF link health ---- */

struct watcher {
	struct kyt_child *c;
	int fd;
	char buf[65536];
	size_t len;
};

static void watch_start(struct watcher *w, const char *resource, int messages)
{
	char script[512], count[16];
	_cleanup_free_ char *sock = sock_of(resource);
	snprintf(script, sizeof(script), "%s/dp_kubelet.py", KYTEST_GRPC_DIR);
	snprintf(count, sizeof(count), "%d", messages);
	const char *argv[] = { PYTHON, script, "watch", sock, KYTEST_DPAPI_DESC, count, NULL };
	int pipefd[2];
	cr_assert_eq(pipe2(pipefd, O_CLOEXEC), 0);
	w->c = kyt_child_start(argv, pipefd[1], true);
	close(pipefd[1]);
	w->fd = pipefd[0];
	w->len = 0;
}

/* The next ListAndWatch message within timeout_ms. */
static cJSON *watch_next(struct watcher *w, int timeout_ms)
{
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		char *nl = memchr(w->buf, '\n', w->len);
		if (nl) {
			*nl = '\0';
			cJSON *j = cJSON_Parse(w->buf);
			cr_assert_not_null(j, "not JSON: %s", w->buf);
			size_t used = (size_t)(nl - w->buf) + 1;
			memmove(w->buf, nl + 1, w->len - used);
			w->len -= used;
			return j;
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
		long spent = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
		cr_assert_lt(spent, timeout_ms, "no ListAndWatch update within %d ms", timeout_ms);
		struct pollfd p = { .fd = w->fd, .events = POLLIN };
		if (poll(&p, 1, (int)(timeout_ms - spent)) <= 0)
			continue;
		ssize_t k = read(w->fd, w->buf + w->len, sizeof(w->buf) - 1 - w->len);
		cr_assert_gt(k, 0, "the watcher ended");
		w->len += (size_t)k;
	}
}

static long since_ms(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/* Every device of the message has health `want`. */
static void assert_all(const cJSON *list, size_t n, const char *want)
{
	cr_assert_eq((size_t)cJSON_GetArraySize(list), n);
	const cJSON *d;
	cJSON_ArrayForEach(d, list)
		cr_assert_str_eq(jstr(d, "health"), want, "%s", cJSON_PrintUnformatted(list));
}

/* A veth whose first end has the PF's name: its carrier goes with the peer. */
static void pf_veth(const char *pf, const char *peer)
{
	cr_assert_eq(kyt_run(NULL, "ip", "link", "add", pf, "type", "veth", "peer", "name", peer, NULL), 0);
	cr_assert_eq(kyt_run(NULL, "ip", "link", "set", pf, "up", NULL), 0);
	cr_assert_eq(kyt_run(NULL, "ip", "link", "set", peer, "up", NULL), 0);
}

static void link_set(const char *ifname, const char *state)
{
	cr_assert_eq(kyt_run(NULL, "ip", "link", "set", ifname, state, NULL), 0);
}

Test(dp_sriovdp, pf_carrier_down_makes_its_vfs_and_a_pf_device_unhealthy_and_up_healthy_again)
{
	pf_veth("ens785f1", "kypeer1");
	pf_veth("enp59s0f0np0", "kypeer2");
	use_config("{\"resourceList\":["
		   "{\"resourceName\":\"checked\",\"selectors\":{\"pfNames\":[\"ens785f1#0-4\"]}},"
		   "{\"resourceName\":\"unchecked\",\"checkHealthOnPf\":false,\"selectors\":{\"pfNames\":[\"ens785f1#5-9\"]}},"
		   "{\"resourceName\":\"bnxt_pf\",\"selectors\":{\"devices\":[\"1750\"]}}]}");
	struct kyt_child *d = start_daemon();
	wait_serving("intel.com/checked");
	wait_serving("intel.com/bnxt_pf");
	struct watcher vfs, pf;
	watch_start(&vfs, "intel.com/checked", 3);
	watch_start(&pf, "intel.com/bnxt_pf", 3);
	_cleanup_(cJSON_Deletep) cJSON *v0 = watch_next(&vfs, 30000);
	_cleanup_(cJSON_Deletep) cJSON *p0 = watch_next(&pf, 30000);
	assert_all(v0, 5, "Healthy");
	assert_all(p0, 1, "Healthy");

	/* The peer goes down: the PF loses its carrier. */
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	link_set("kypeer1", "down");
	_cleanup_(cJSON_Deletep) cJSON *v1 = watch_next(&vfs, 2000);
	long down_ms = since_ms(&t0);
	assert_all(v1, 5, "Unhealthy");
	/* Allocate refuses them meanwhile. */
	_cleanup_(cJSON_Deletep) cJSON *refused = kubelet("allocate", "intel.com/checked", (const char *[]){ "0000:86:11.0", NULL });
	cr_assert_str_eq(jstr(refused, "code"), "INVALID_ARGUMENT", "%s", cJSON_PrintUnformatted(refused));
	/* checkHealthOnPf false: the same PF's other VFs stay Healthy. */
	_cleanup_(cJSON_Deletep) cJSON *u = kubelet("list", "intel.com/unchecked", NULL);
	assert_all(u, 5, "Healthy");

	clock_gettime(CLOCK_MONOTONIC, &t0);
	link_set("kypeer1", "up");
	_cleanup_(cJSON_Deletep) cJSON *v2 = watch_next(&vfs, 2000);
	long up_ms = since_ms(&t0);
	assert_all(v2, 5, "Healthy");

	/* A PF given as the device: its own carrier. */
	link_set("kypeer2", "down");
	_cleanup_(cJSON_Deletep) cJSON *p1 = watch_next(&pf, 2000);
	assert_all(p1, 1, "Unhealthy");
	link_set("kypeer2", "up");
	_cleanup_(cJSON_Deletep) cJSON *p2 = watch_next(&pf, 2000);
	assert_all(p2, 1, "Healthy");
	cr_log_info("PF carrier to ListAndWatch (ip(8)'s start-up included): down %ld ms, up %ld ms", down_ms,
		    up_ms);
	close(vfs.fd);
	close(pf.fd);
	stop_daemon(d);
}

Test(dp_sriovdp, a_pf_down_before_the_daemon_starts_is_unhealthy_from_the_first_list)
{
	pf_veth("ens785f1", "kypeer1");
	link_set("kypeer1", "down");
	use_config("{\"resourceList\":[{\"resourceName\":\"checked\",\"selectors\":{\"pfNames\":[\"ens785f1#0-1\"]}}]}");
	struct kyt_child *d = start_daemon();
	wait_serving("intel.com/checked");
	_cleanup_(cJSON_Deletep) cJSON *list = kubelet("list", "intel.com/checked", NULL);
	assert_all(list, 2, "Unhealthy");
	stop_daemon(d);
}

/* ---- SRIOV-DP's command line ---- */

Test(dp_sriovdp, srivodps_daemonset_arguments_are_taken)
{
	/* What its entrypoint takes (deployments/sriovdp-daemonset.yaml gives
	 * --log-dir and --log-level=10), and --resource-prefix. */
	use_compat("sriovdp-deployments-configMap.json");
	_cleanup_free_ char *arg = NULL, *out = NULL, *err = NULL;
	cr_assert_geq(asprintf(&arg, "--config-file=%s", config_path), 0);
	cr_assert_eq(run_bin((const char *[]){ "--log-dir=sriovdp", "--log-level=10", "--resource-prefix=example.com",
					       "--use-cdi", arg, "--check-config", NULL },
			     &out, &err),
		     0, "%s", err);
	cr_assert(strstr(out, "example.com/intel_sriov_netdevice: 32 devices"), "%s", out);
	cr_assert(strstr(out, "example.com/brcm_sriov_bnxt: 1 device"), "%s", out);
}

/* kyborgctl plan and apply against the simulated node (an umockdev testbed
 * under the real libudev): the writes to sriov_numvfs (through 0) and to
 * driver_override, unbind and bind, in order; a second apply that changes
 * nothing; a failure that says where it stopped and what it put back; a
 * device in use (a CNI attachment, a pod in kubelet's checkpoint, a claim
 * the DRA driver prepared) that is left alone without --force; status's
 * front ends and users; the GPU command backend with real programs; bad
 * profiles refused with the field's path.
 * Runs under umockdev-wrapper; the binary runs as a child like a
 * deployment tool runs it. */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/json/json.h"
#include "kyborg/base/log.h"
#include "kyborg/base/sha256.h"
#include "kyborg/device/device_config.h"
#include "kyborg/device/device_list.h"
#include "kyborg/state/dra_record.h"
#include "kyborg/state/state_store.h"
#include "kytest.h"
#include "kytest_simnode.h"

#define PF_SYSPATH "/sys/devices/pci0000:17/0000:17:00.0/0000:18:00.0"
#define VF_SYSPATH(n) "/sys/devices/pci0000:17/0000:17:00.0/0000:18:01." #n

static UMockdevTestbed *tb;
static char *tmp, cni_dir[PATH_MAX], checkpoint[PATH_MAX], profile[PATH_MAX], dra_dir[PATH_MAX],
	device_config[PATH_MAX];

static void setup(void)
{
	char pf[16];
	tb = kyt_simnode_testbed(pf, NULL);
	/* What the kernel gives every PCI function and loaded driver. */
	static const char *const vf_paths[] = { VF_SYSPATH(0), VF_SYSPATH(1), VF_SYSPATH(2), VF_SYSPATH(3) };
	for (size_t i = 0; i < 4; i++)
		umockdev_testbed_set_attribute(tb, vf_paths[i], "driver_override", "(null)\n");
	tmp = kyt_tmpdir("kyctl");
	cr_assert_not_null(tmp);
	snprintf(cni_dir, sizeof(cni_dir), "%s/cni", tmp);
	snprintf(checkpoint, sizeof(checkpoint), "%s/kubelet_internal_checkpoint", tmp);
	snprintf(profile, sizeof(profile), "%s/profile.json", tmp);
	snprintf(dra_dir, sizeof(dra_dir), "%s/dra", tmp);
	snprintf(device_config, sizeof(device_config), "%s/device-plugin.json", tmp);
}

static void teardown(void)
{
	kyt_testbed_free(&tb);
	if (tmp)
		kyt_rmrf(tmp);
	free(tmp);
	tmp = NULL;
}

TestSuite(kyborgctl_apply, .init = setup, .fini = teardown);

/* A file of the testbed's /sys ("bus/pci/drivers/iavf/bind"). */
static void sys_path(char *buf, size_t size, const char *rel)
{
	gchar *sys = umockdev_testbed_get_sys_dir(tb); /* a copy, ours to free */
	snprintf(buf, size, "%s/%s", sys, rel);
	g_free(sys);
}

static void sys_mkfile(const char *rel)
{
	char path[PATH_MAX];
	sys_path(path, sizeof(path), rel);
	char *slash = strrchr(path, '/');
	*slash = '\0';
	char *out = NULL;
	kyt_run(&out, "mkdir", "-p", path, NULL);
	free(out);
	*slash = '/';
	cr_assert_eq(kyt_write_file(path, ""), 0, "%s", path);
}

static char *sys_read(const char *rel)
{
	char path[PATH_MAX];
	sys_path(path, sizeof(path), rel);
	return kyt_read_file(path);
}

/* The loaded drivers a rebind to vfio-pci meets. */
static void load_drivers(void)
{
	sys_mkfile("bus/pci/drivers/iavf/bind");
	sys_mkfile("bus/pci/drivers/iavf/unbind");
	sys_mkfile("bus/pci/drivers/vfio-pci/bind");
}

static void write_profile(const char *json)
{
	cr_assert_eq(kyt_write_file(profile, json), 0);
}

/* Runs kyborgctl CMD -f profile --json (+ extra) against the testbed and
 * this test's usage sources; returns the exit status, *doc the JSON. */
static int ctl(const char *cmd, const char *extra, cJSON **doc)
{
	char state[PATH_MAX + 16];
	snprintf(state, sizeof(state), "%s/state", tmp);
	char *argv[] = { KYBORGCTL_PATH, (char *)cmd, "-f", profile, "--json", "--cni-state-dir", cni_dir,
			 "--kubelet-checkpoint", checkpoint, "--state-dir", state, "--dra-state-dir", dra_dir,
			 "--fetch-helper", KYBORG_FETCH_BIN, (char *)extra, NULL };
	char *out = NULL;
	int status = kyt_runv(&out, argv);
	*doc = out ? cJSON_Parse(out) : NULL;
	free(out);
	return status;
}

static const char *result(const cJSON *doc)
{
	return cJSON_GetStringValue(cJSON_GetObjectItem(doc, "result")) ?: "(none)";
}

static const cJSON *action(const cJSON *doc, int i)
{
	const cJSON *a = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "actions"), i);
	cr_assert_not_null(a, "no action %d", i);
	return a;
}

static const char *astr(const cJSON *a, const char *key)
{
	return cJSON_GetStringValue(cJSON_GetObjectItem(a, key)) ?: "(none)";
}

static const char *step(const cJSON *a, int i)
{
	return cJSON_GetStringValue(cJSON_GetArrayItem(cJSON_GetObjectItem(a, "steps"), i)) ?: "(none)";
}

static int n_steps(const cJSON *a)
{
	return cJSON_GetArraySize(cJSON_GetObjectItem(a, "steps"));
}

#define NUMVFS "/sys/bus/pci/devices/" KYT_SIM_PF "/sriov_numvfs"
#define DEVS "/sys/bus/pci/devices/"

Test(kyborgctl_apply, plan_shows_the_change_and_changes_nothing)
{
	write_profile("{\"devices\":[{\"pciAddress\":\"" KYT_SIM_PF "\",\"kind\":\"nic\",\"numVfs\":2}]}");
	_cleanup_(cJSON_Deletep) cJSON *doc = NULL;
	cr_assert_eq(ctl("plan", NULL, &doc), 3);
	cr_assert_str_eq(result(doc), "changes");
	const cJSON *a = action(doc, 0);
	cr_assert_str_eq(astr(a, "change"), "numVfs");
	cr_assert_str_eq(astr(a, "from"), "4");
	cr_assert_str_eq(astr(a, "to"), "2");
	cr_assert_str_eq(astr(a, "status"), "planned");
	_cleanup_free_ char *n = sys_read("bus/pci/devices/" KYT_SIM_PF "/sriov_numvfs");
	cr_assert_str_eq(n, "4");
	cr_assert_neq(access(cni_dir, F_OK), 0, "plan created the CNI state dir");
}

/* A damaged node file is a failure (1), not a refused profile (4). */
Test(kyborgctl_apply, a_corrupt_kubelet_checkpoint_fails_rather_than_refuses)
{
	write_profile("{\"devices\":[{\"pciAddress\":\"" KYT_SIM_PF "\",\"kind\":\"nic\",\"numVfs\":2}]}");
	cr_assert_eq(kyt_write_file(checkpoint, "{\"Data\":{\"PodDeviceEntries\":["), 0);
	_cleanup_(cJSON_Deletep) cJSON *doc = NULL;
	cr_assert_eq(ctl("apply", NULL, &doc), 1);
	_cleanup_free_ char *n = sys_read("bus/pci/devices/" KYT_SIM_PF "/sriov_numvfs");
	cr_assert_str_eq(n, "4", "the apply changed the VF count");
}

Test(kyborgctl_apply, vf_count_goes_through_zero_and_a_second_apply_changes_nothing)
{
	write_profile("{\"devices\":[{\"pciAddress\":\"" KYT_SIM_PF "\",\"kind\":\"nic\",\"numVfs\":2}]}");
	_cleanup_(cJSON_Deletep) cJSON *doc = NULL;
	cr_assert_eq(ctl("apply", NULL, &doc), 3, "changed");
	cr_assert_str_eq(result(doc), "changed");
	const cJSON *a = action(doc, 0);
	cr_assert_str_eq(astr(a, "status"), "done");
	cr_assert_eq(n_steps(a), 2);
	cr_assert_str_eq(step(a, 0), "wrote \"0\" to " NUMVFS);
	cr_assert_str_eq(step(a, 1), "wrote \"2\" to " NUMVFS);
	_cleanup_free_ char *n = sys_read("bus/pci/devices/" KYT_SIM_PF "/sriov_numvfs");
	cr_assert_str_eq(n, "2");

	_cleanup_(cJSON_Deletep) cJSON *again = NULL;
	cr_assert_eq(ctl("apply", NULL, &again), 0, "converged");
	cr_assert_str_eq(result(again), "converged");
	cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(again, "actions")), 0);
}

Test(kyborgctl_apply, from_zero_vfs_there_is_no_write_of_zero)
{
	umockdev_testbed_set_attribute(tb, PF_SYSPATH, "sriov_numvfs", "0\n");
	write_profile("{\"devices\":[{\"pciAddress\":\"" KYT_SIM_PF "\",\"kind\":\"nic\",\"numVfs\":8}]}");
	_cleanup_(cJSON_Deletep) cJSON *doc = NULL;
	cr_assert_eq(ctl("apply", NULL, &doc), 3);
	const cJSON *a = action(doc, 0);
	cr_assert_eq(n_steps(a), 1);
	cr_assert_str_eq(step(a, 0), "wrote \"8\" to " NUMVFS);
}

Test(kyborgctl_apply, a_profile_the_node_already_matches_writes_nothing)
{
	load_drivers();
	write_profile("{\"devices\":[{\"pciAddress\":\"" KYT_SIM_PF "\",\"kind\":\"nic\",\"numVfs\":4,"
		      "\"vfDriver\":\"iavf\"}]}");
	_cleanup_(cJSON_Deletep) cJSON *doc = NULL;
	cr_assert_eq(ctl("apply", NULL, &doc), 0);
	cr_assert_str_eq(result(doc), "converged");
	_cleanup_free_ char *bind = sys_read("bus/pci/drivers/iavf/bind");
	_cleanup_free_ char *ovr = sys_read("bus/pci/devices/" KYT_SIM_VF0 "/driver_override");
	cr_assert_str_eq(bind, "");
	cr_assert_str_eq(ovr, "(null)\n");
}

Test(kyborgctl_apply, every_vf_is_bound_to_the_driver_through_driver_override)
{
	load_drivers();
	write_profile("{\"devices\":[{\"pciAddress\":\"" KYT_SIM_PF "\",\"kind\":\"nic\",\"vfDriver\":\"vfio-pci\"}]}");
	_cleanup_(cJSON_Deletep) cJSON *doc = NULL;
	cr_assert_eq(ctl("apply", NULL, &doc), 3);
	const cJSON *a = action(doc, 0);
	cr_assert_str_eq(astr(a, "change"), "vfDriver");
	cr_assert_str_eq(astr(a, "from"), "iavf on 4 of 4 VFs");
	cr_assert_eq(n_steps(a), 12, "override, unbind, bind for each of 4 VFs");
	cr_assert_str_eq(step(a, 0), "wrote \"vfio-pci\" to " DEVS KYT_SIM_VF0 "/driver_override");
	cr_assert_str_eq(step(a, 1), "wrote \"" KYT_SIM_VF0 "\" to " DEVS KYT_SIM_VF0 "/driver/unbind");
	cr_assert_str_eq(step(a, 2), "wrote \"" KYT_SIM_VF0 "\" to /sys/bus/pci/drivers/vfio-pci/bind");
	cr_assert_str_eq(step(a, 11), "wrote \"" KYT_SIM_VF3 "\" to /sys/bus/pci/drivers/vfio-pci/bind");
	_cleanup_free_ char *ovr = sys_read("bus/pci/devices/" KYT_SIM_VF2 "/driver_override");
	_cleanup_free_ char *unbind = sys_read("bus/pci/drivers/iavf/unbind");
	cr_assert_str_eq(ovr, "vfio-pci");
	cr_assert_str_eq(unbind, KYT_SIM_VF3);
}

Test(kyborgctl_apply, a_driver_that_is_not_loaded_fails_the_apply_before_anything_changes)
{
	write_profile("{\"devices\":[{\"pciAddress\":\"" KYT_SIM_PF "\",\"kind\":\"nic\",\"numVfs\":2,"
		      "\"vfDriver\":\"vfio-pci\"}]}");
	_cleanup_(cJSON_Deletep) cJSON *doc = NULL;
	cr_assert_eq(ctl("apply", NULL, &doc), 1, "failed");
	cr_assert_str_eq(result(doc), "failed");
	const cJSON *vfs = action(doc, 0), *drv = action(doc, 1);
	cr_assert_str_eq(astr(vfs, "status"), "not-run", "checked before the VF count changes");
	cr_assert_eq(n_steps(vfs), 0);
	cr_assert_str_eq(astr(drv, "status"), "failed");
	cr_assert(strstr(astr(drv, "error"), "driver vfio-pci is not loaded") &&
			  strstr(astr(drv, "error"), "nothing changed"),
		  "%s", astr(drv, "error"));
	_cleanup_free_ char *n = sys_read("bus/pci/devices/" KYT_SIM_PF "/sriov_numvfs");
	cr_assert_str_eq(n, "4");
	_cleanup_free_ char *ovr = sys_read("bus/pci/devices/" KYT_SIM_VF0 "/driver_override");
	cr_assert_str_eq(ovr, "(null)\n");
}

Test(kyborgctl_apply, an_eswitch_mode_devlink_cannot_read_fails_before_anything_changes)
{
	/* The build machines' kernel has no devlink at all. */
	write_profile("{\"devices\":[{\"pciAddress\":\"" KYT_SIM_PF "\",\"kind\":\"nic\",\"numVfs\":2,"
		      "\"eswitchMode\":\"switchdev\"}]}");
	_cleanup_(cJSON_Deletep) cJSON *plan = NULL, *doc = NULL;
	cr_assert_eq(ctl("plan", NULL, &plan), 3);
	cr_assert(strncmp(astr(action(plan, 1), "from"), "unknown (", 9) == 0, "%s", astr(action(plan, 1), "from"));
	cr_assert_eq(ctl("apply", NULL, &doc), 1);
	cr_assert_str_eq(astr(action(doc, 0), "status"), "not-run");
	cr_assert_str_eq(astr(action(doc, 1), "status"), "failed");
	_cleanup_free_ char *n = sys_read("bus/pci/devices/" KYT_SIM_PF "/sriov_numvfs");
	cr_assert_str_eq(n, "4");
}

Test(kyborgctl_apply, a_failed_bind_puts_the_vf_back_and_the_report_says_where_it_stopped)
{
	load_drivers();
	/* A bind the kernel refuses: here, a store that cannot be written. */
	char path[PATH_MAX];
	sys_path(path, sizeof(path), "bus/pci/drivers/vfio-pci/bind");
	cr_assert_eq(unlink(path), 0);
	cr_assert_eq(mkdir(path, 0755), 0);
	write_profile("{\"devices\":[{\"pciAddress\":\"" KYT_SIM_PF "\",\"kind\":\"nic\",\"numVfs\":2,"
		      "\"vfDriver\":\"vfio-pci\"}]}");
	_cleanup_(cJSON_Deletep) cJSON *doc = NULL;
	cr_assert_eq(ctl("apply", NULL, &doc), 1);
	cr_assert_str_eq(result(doc), "failed");
	const cJSON *vfs = action(doc, 0), *drv = action(doc, 1);
	cr_assert_str_eq(astr(vfs, "status"), "done", "the change before the failure stays made");
	cr_assert_str_eq(astr(drv, "status"), "failed");
	cr_assert_eq(n_steps(drv), 4);
	cr_assert_str_eq(step(drv, 0), "wrote \"vfio-pci\" to " DEVS KYT_SIM_VF0 "/driver_override");
	cr_assert_str_eq(step(drv, 1), "wrote \"" KYT_SIM_VF0 "\" to " DEVS KYT_SIM_VF0 "/driver/unbind");
	cr_assert_str_eq(step(drv, 2), "wrote \"\" to " DEVS KYT_SIM_VF0 "/driver_override", "the override cleared");
	cr_assert_str_eq(step(drv, 3), "wrote \"" KYT_SIM_VF0 "\" to /sys/bus/pci/drivers/iavf/bind");
	const char *e = astr(drv, "error");
	cr_assert(strstr(e, "VF 0 of 2") && strstr(e, "put it back on iavf"), "%s", e);
}

static void write_cni_record(const char *pci)
{
	char out[PATH_MAX + 64], rec[512];
	cr_assert_eq(mkdir(cni_dir, 0700), 0);
	snprintf(out, sizeof(out), "%s/net1:0123456789abcdef:net1.json", cni_dir);
	snprintf(rec, sizeof(rec),
		 "{\"network\":\"net1\",\"containerID\":\"0123456789abcdef\",\"ifname\":\"net1\","
		 "\"device\":{\"name\":\"x\",\"pciID\":\"%s\"}}",
		 pci);
	cr_assert_eq(kyt_write_file(out, rec), 0);
}

Test(kyborgctl_apply, a_vf_in_use_is_left_alone_unless_forced)
{
	write_cni_record(KYT_SIM_VF1);
	write_profile("{\"devices\":[{\"pciAddress\":\"" KYT_SIM_PF "\",\"kind\":\"nic\",\"numVfs\":2}]}");
	_cleanup_(cJSON_Deletep) cJSON *doc = NULL;
	cr_assert_eq(ctl("apply", NULL, &doc), 4, "refused");
	cr_assert_str_eq(result(doc), "refused");
	const cJSON *a = action(doc, 0);
	cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(a, "disruptive")));
	cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetArrayItem(cJSON_GetObjectItem(a, "pods"), 0)),
			 "CNI net1 container 0123456789ab interface net1");
	cr_assert_eq(n_steps(a), 0);
	_cleanup_free_ char *n = sys_read("bus/pci/devices/" KYT_SIM_PF "/sriov_numvfs");
	cr_assert_str_eq(n, "4");

	_cleanup_(cJSON_Deletep) cJSON *forced = NULL;
	cr_assert_eq(ctl("apply", "--force", &forced), 3);
	cr_assert_str_eq(astr(action(forced, 0), "status"), "done");
	cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetArrayItem(cJSON_GetObjectItem(action(forced, 0), "pods"), 0)),
			 "CNI net1 container 0123456789ab interface net1", "the report says who lost it");
}

/* The GPU's state lives in a file per address under tmp; the programs are
 * Debian's python3, run without a shell, with the address appended. */
static void write_gpu_profile(const char *want)
{
	char json[2048];
	snprintf(json, sizeof(json),
		 "{\"devices\":[{\"selector\":{\"vendors\":[\"10de\"]},\"kind\":\"gpu\",\"command\":{"
		 "\"state\":\"%s\","
		 "\"apply\":[\"/usr/bin/python3\",\"-c\",\"import os,sys; d=sys.argv[1]; a=sys.argv[2]; "
		 "open(d+'/'+a,'w').write(os.environ['KYBORG_STATE']); open(d+'/calls','a').write(a+'\\\\n')\",\"%s\"],"
		 "\"read\":[\"/usr/bin/python3\",\"-c\",\"import os,sys; p=sys.argv[1]+'/'+sys.argv[2]; "
		 "print(open(p).read() if os.path.exists(p) else 'whole')\",\"%s\"]}}]}",
		 want, tmp, tmp);
	write_profile(json);
}

Test(kyborgctl_apply, the_gpu_command_backend_runs_per_gpu_and_converges)
{
	write_gpu_profile("mig-7");
	_cleanup_(cJSON_Deletep) cJSON *plan = NULL, *doc = NULL, *again = NULL;
	cr_assert_eq(ctl("plan", NULL, &plan), 3);
	cr_assert_str_eq(astr(action(plan, 0), "from"), "whole");
	cr_assert_str_eq(astr(action(plan, 0), "to"), "mig-7");

	cr_assert_eq(ctl("apply", NULL, &doc), 3);
	cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "actions")), 2, "both GPUs");
	cr_assert_str_eq(astr(action(doc, 0), "device"), KYT_SIM_GPU0);
	cr_assert_str_eq(astr(action(doc, 1), "device"), KYT_SIM_GPU1);
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/calls", tmp);
	_cleanup_free_ char *calls = kyt_read_file(path);
	cr_assert_str_eq(calls, KYT_SIM_GPU0 "\n" KYT_SIM_GPU1 "\n");

	cr_assert_eq(ctl("apply", NULL, &again), 0);
	cr_assert_str_eq(result(again), "converged");
	_cleanup_free_ char *calls2 = kyt_read_file(path);
	cr_assert_str_eq(calls2, calls, "a second apply runs nothing");
}

Test(kyborgctl_apply, a_gpu_in_use_by_a_pod_in_kubelets_checkpoint_is_left_alone)
{
	cr_assert_eq(kyt_write_file(checkpoint,
				    "{\"Data\":{\"PodDeviceEntries\":[{\"PodUID\":\"u1\",\"ContainerName\":\"train\","
				    "\"ResourceName\":\"kyborg.io/gpu\",\"DeviceIDs\":{\"1\":[\"" KYT_SIM_GPU1 "::0\"]}}],"
				    "\"RegisteredDevices\":{}},\"Checksum\":0}"),
		     0);
	write_gpu_profile("mig-7");
	_cleanup_(cJSON_Deletep) cJSON *doc = NULL;
	cr_assert_eq(ctl("apply", NULL, &doc), 4);
	const cJSON *gpu1 = action(doc, 1);
	cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetArrayItem(cJSON_GetObjectItem(gpu1, "pods"), 0)),
			 "pod u1 container train (kyborg.io/gpu)");
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/calls", tmp);
	cr_assert_neq(access(path, F_OK), 0, "nothing ran, not even for the GPU nobody uses");
}

Test(kyborgctl_apply, bad_profiles_are_refused_and_change_nothing)
{
	static const char *const bad[] = {
		"{\"devices\":[{\"pciAddress\":\"" KYT_SIM_PF "\",\"kind\":\"nic\",\"numVfs\":2,\"mtu\":9000}]}",
		"{\"devices\":[{\"pciAddress\":\"" KYT_SIM_PF "\",\"kind\":\"nic\",\"numVfs\":\"2\"}]}",
		"{\"devices\":[{\"pciAddress\":\"0000:19:00.0\",\"kind\":\"nic\",\"numVfs\":2}]}",
		"{\"devices\":[{\"pciAddress\":\"" KYT_SIM_PF "\",\"kind\":\"nic\",\"numVfs\":16}]}",
		"{\"devices\":[{\"pciAddress\":\"" KYT_SIM_PF "\",\"kind\":\"nic\",\"numVfs\":2,\"firmware\":\"x\"}]}",
	};
	for (size_t i = 0; i < KY_ARRAY_SIZE(bad); i++) {
		write_profile(bad[i]);
		_cleanup_(cJSON_Deletep) cJSON *doc = NULL;
		cr_expect_eq(ctl("apply", NULL, &doc), 4, "case %zu", i);
		cr_expect_null(doc, "case %zu: a refused profile prints no plan", i);
	}
	_cleanup_free_ char *n = sys_read("bus/pci/devices/" KYT_SIM_PF "/sriov_numvfs");
	cr_assert_str_eq(n, "4");
}

Test(kyborgctl_apply, text_report_for_people)
{
	write_profile("{\"devices\":[{\"pciAddress\":\"" KYT_SIM_PF "\",\"kind\":\"nic\",\"numVfs\":2}]}");
	char *argv[] = { KYBORGCTL_PATH, "plan", "-f", profile, "--cni-state-dir", cni_dir, "--kubelet-checkpoint",
			 checkpoint, NULL };
	_cleanup_free_ char *out = NULL;
	cr_assert_eq(kyt_runv(&out, argv), 3);
	cr_assert(strstr(out, KYT_SIM_PF " (nic, devices[0]):\n  numVfs       4 -> 2\n"), "%s", out);
	cr_assert(strstr(out, "1 change to make."), "%s", out);
}

/* The device config both front ends read: the GPUs and the VFs (by their
 * IDs: the PF's name is the test's own), nothing for the FPGA and the PF. */
static void write_device_config(void)
{
	cr_assert_eq(kyt_write_file(device_config,
				    "{\"resources\":[{\"name\":\"kyborg.io/gpu\",\"kind\":\"gpu\","
				    "\"selector\":{\"vendors\":[\"10de\"]},\"sharing\":{\"replicas\":2}},"
				    "{\"name\":\"kyborg.io/sriov-vf\",\"kind\":\"nic-vf\","
				    "\"selector\":{\"vendors\":[\"8086\"],\"devices\":[\"1889\"]}}]}"),
		     0);
}

/* kyborgctl status [--json] with this test's usage sources and device config. */
static int status(bool json, char **out)
{
	char state[PATH_MAX + 16];
	snprintf(state, sizeof(state), "%s/state", tmp);
	char *argv[] = { KYBORGCTL_PATH, "status", "--cni-state-dir", cni_dir, "--kubelet-checkpoint", checkpoint,
			 "--state-dir", state, "--dra-state-dir", dra_dir, "--device-config", device_config,
			 json ? "--json" : NULL, NULL };
	return kyt_runv(out, argv);
}

static const cJSON *status_fn(const cJSON *doc, const char *addr)
{
	const cJSON *fn;
	cJSON_ArrayForEach(fn, cJSON_GetObjectItem(doc, "pci_functions"))
	{
		if (strcmp(astr(fn, "address"), addr) == 0)
			return fn;
	}
	cr_assert_fail("%s is not in the status", addr);
	return NULL;
}

static const char *used_by(const cJSON *fn, int i)
{
	return cJSON_GetStringValue(cJSON_GetArrayItem(cJSON_GetObjectItem(fn, "used_by"), i)) ?: "(none)";
}

Test(kyborgctl_apply, status_says_who_uses_each_function_and_the_pf_eswitch_mode)
{
	write_cni_record(KYT_SIM_VF1);
	write_device_config();
	_cleanup_free_ char *out = NULL;
	cr_assert_eq(status(true, &out), 0, "%s", out);
	_cleanup_(cJSON_Deletep) cJSON *doc = cJSON_Parse(out ? out : "");
	cr_assert_not_null(doc, "%s", out);
	const cJSON *fn;
	cJSON_ArrayForEach(fn, cJSON_GetObjectItem(doc, "pci_functions"))
	{
		cr_assert(cJSON_HasObjectItem(fn, "firmware_version"), "%s has no firmware_version", astr(fn, "address"));
		cr_assert(cJSON_HasObjectItem(fn, "frontend"), "%s has no frontend", astr(fn, "address"));
	}
	const cJSON *vf1 = status_fn(doc, KYT_SIM_VF1), *pf = status_fn(doc, KYT_SIM_PF),
		    *fpga = status_fn(doc, KYT_SIM_FPGA), *gpu1 = status_fn(doc, KYT_SIM_GPU1);
	if (access("/usr/share/misc/pci.ids", R_OK) == 0) /* Debian's pci.ids, which install-deps.sh installs */
		cr_assert_str_eq(astr(pf, "vendor_name"), "Intel Corporation");
	cr_assert_str_eq(astr(fpga, "fpga_image"), "00000000000000000000000000000000", "the port's afu_id");
	cr_assert_str_eq(used_by(vf1, 0), "CNI net1 container 0123456789ab interface net1");
	cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(pf, "used_by")), 0);
	cr_assert_str_eq(astr(vf1, "frontend"), "devicePlugin");
	cr_assert_str_eq(astr(vf1, "resource"), "kyborg.io/sriov-vf");
	cr_assert_str_eq(astr(gpu1, "frontend"), "devicePlugin");
	cr_assert_str_eq(astr(gpu1, "resource"), "kyborg.io/gpu");
	cr_assert_str_eq(astr(pf, "frontend"), "none", "the config's VF resource does not take the PF");
	cr_assert(cJSON_IsNull(cJSON_GetObjectItem(pf, "resource")));
	cr_assert_str_eq(astr(fpga, "frontend"), "none");
	cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "notes")), 0);
	/* The build machines' kernel has no devlink: unknown, not an error. */
	cr_assert(cJSON_HasObjectItem(pf, "eswitch_mode"));

	_cleanup_free_ char *text = NULL;
	cr_assert_eq(status(false, &text), 0, "%s", text);
	cr_assert(strstr(text, "\nFront ends and users:\n  ADDRESS       FRONT END      RESOURCE            USED BY\n"),
		  "%s", text);
	cr_assert(strstr(text, "\n  " KYT_SIM_VF1 "  device plugin  kyborg.io/sriov-vf  "
			       "CNI net1 container 0123456789ab interface net1\n"),
		  "%s", text);
	cr_assert(strstr(text, "\n  " KYT_SIM_PF "  none           -                   -\n"), "%s", text);
	cr_assert(strstr(text, "\nWhole-device state:\n  " KYT_SIM_PF "  eswitch "), "%s", text);
	cr_assert(strstr(text, "\n  " KYT_SIM_FPGA "  image 00000000000000000000000000000000  firmware "), "%s", text);
}

Test(kyborgctl_apply, status_fails_on_a_device_config_it_cannot_read)
{
	_cleanup_free_ char *missing = NULL, *bad = NULL;
	cr_assert_eq(status(false, &missing), 1, "an explicit --device-config that is not there: %s", missing);
	cr_assert_eq(kyt_write_file(device_config, "{\"resources\":[{\"name\":\"kyborg.io/gpu\",\"kind\":\"tpu\"}]}"), 0);
	cr_assert_eq(status(true, &bad), 1, "a config neither front end would take: %s", bad);
}

/* ---- Claims the DRA driver prepared ---- */

#define CLAIM_UID "7d0c6a1e-3b2f-4c55-9a0e-51c2d7f0b8aa"
#define CLAIM_WHO "claim ns1/net (" CLAIM_UID ")"

/* The claim's record as kyborg-dra-driver writes it at
 * NodePrepareResources: its own save code, under the claim's lock, in the
 * store its --state-dir holds. */
static void save_claim(const char *pci, enum ky_dra_claim_state state)
{
	_cleanup_free_ char *dir = ky_dra_record_dir(dra_dir);
	_cleanup_error_ struct ky_error *err = NULL;
	_cleanup_(ky_state_closep) struct ky_state_store *s = NULL;
	_cleanup_(ky_state_unlockp) struct ky_state_lock *l = NULL;
	char name[KY_DEVICE_DRA_NAME_MAX], cdi_id[128];
	ky_device_dra_name(KY_DEVICE_NIC_VF, pci, -1, name);
	snprintf(cdi_id, sizeof(cdi_id), "kyborg.io/claim=" CLAIM_UID "-%s", name);
	struct ky_dra_record_device dev = {
		.requests = (char *[]){ (char *)"nic" }, .n_requests = 1, .pool = (char *)"node-a", .device = name,
		.pci = (char *)pci, .kind = (char *)ky_device_dra_kind(KY_DEVICE_NIC_VF),
		.resource = (char *)"kyborg.io/sriov-vf", .cdi_id = cdi_id,
	};
	struct ky_dra_record rec = {
		.version = KY_DRA_RECORD_VERSION, .claim_uid = (char *)CLAIM_UID, .namespace_ = (char *)"ns1",
		.name = (char *)"net", .driver = (char *)"kyborg.io", .state = state,
		.cdi_spec = (char *)"/var/run/cdi/kyborg.io-claim_" CLAIM_UID ".json",
		.updated_at = (char *)"2026-12-06T08:00:00Z", .devices = &dev, .n_devices = 1,
	};
	cr_assert_eq(ky_state_open(dir, &s, &err), 0, "%s", ky_error_msg(err));
	cr_assert_eq(ky_state_lock(s, CLAIM_UID, 0, &l, &err), 0, "%s", ky_error_msg(err));
	cr_assert_eq(ky_dra_record_save(l, &rec, true, &err), 0, "%s", ky_error_msg(err));
}

/* What the driver does last at NodeUnprepareResources. */
static void unprepare_claim(void)
{
	_cleanup_free_ char *dir = ky_dra_record_dir(dra_dir);
	_cleanup_error_ struct ky_error *err = NULL;
	_cleanup_(ky_state_closep) struct ky_state_store *s = NULL;
	_cleanup_(ky_state_unlockp) struct ky_state_lock *l = NULL;
	cr_assert_eq(ky_state_open(dir, &s, &err), 0, "%s", ky_error_msg(err));
	cr_assert_eq(ky_state_lock(s, CLAIM_UID, 0, &l, &err), 0, "%s", ky_error_msg(err));
	cr_assert_eq(ky_state_delete(l, &err), 0, "%s", ky_error_msg(err));
}

static const char *pod(const cJSON *a, int i)
{
	return cJSON_GetStringValue(cJSON_GetArrayItem(cJSON_GetObjectItem(a, "pods"), i)) ?: "(none)";
}

Test(kyborgctl_apply, a_vf_a_claim_holds_is_left_alone_until_the_claim_is_unprepared)
{
	write_profile("{\"devices\":[{\"pciAddress\":\"" KYT_SIM_PF "\",\"kind\":\"nic\",\"numVfs\":2}]}");
	/* Preparing: the driver may have changed the VF already. */
	save_claim(KYT_SIM_VF1, KY_DRA_PREPARING);
	_cleanup_(cJSON_Deletep) cJSON *preparing = NULL, *plan = NULL, *apply = NULL, *after = NULL;
	cr_assert_eq(ctl("plan", NULL, &preparing), 4, "a claim still preparing holds its VF");
	cr_assert_str_eq(pod(action(preparing, 0), 0), CLAIM_WHO);

	save_claim(KYT_SIM_VF1, KY_DRA_PREPARED);
	cr_assert_eq(ctl("plan", NULL, &plan), 4, "refused");
	cr_assert_str_eq(result(plan), "refused");
	cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(action(plan, 0), "disruptive")));
	cr_assert_str_eq(pod(action(plan, 0), 0), CLAIM_WHO);
	cr_assert_eq(ctl("apply", NULL, &apply), 4, "refused");
	cr_assert_eq(n_steps(action(apply, 0)), 0);
	_cleanup_free_ char *n = sys_read("bus/pci/devices/" KYT_SIM_PF "/sriov_numvfs");
	cr_assert_str_eq(n, "4", "the apply changed the VF count under the claim");

	unprepare_claim();
	cr_assert_eq(ctl("plan", NULL, &after), 3, "nothing holds the VF once the claim is unprepared");
	cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(action(after, 0), "pods")), 0);
}

Test(kyborgctl_apply, status_shows_the_claim_holding_a_vf_and_its_front_end)
{
	write_device_config();
	save_claim(KYT_SIM_VF2, KY_DRA_PREPARED);
	_cleanup_free_ char *out = NULL, *text = NULL;
	cr_assert_eq(status(true, &out), 0, "%s", out);
	_cleanup_(cJSON_Deletep) cJSON *doc = cJSON_Parse(out ? out : "");
	cr_assert_not_null(doc, "%s", out);
	const cJSON *vf2 = status_fn(doc, KYT_SIM_VF2);
	cr_assert_str_eq(used_by(vf2, 0), CLAIM_WHO);
	cr_assert_str_eq(astr(vf2, "frontend"), "devicePlugin", "the config has no DRA resource (yet)");
	cr_assert_str_eq(astr(vf2, "resource"), "kyborg.io/sriov-vf");
	cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(status_fn(doc, KYT_SIM_VF1), "used_by")), 0);

	cr_assert_eq(status(false, &text), 0, "%s", text);
	cr_assert(strstr(text, "\n  " KYT_SIM_VF2 "  device plugin  kyborg.io/sriov-vf  " CLAIM_WHO "\n"), "%s", text);
}

/* The same config with the VFs given to the DRA driver: status says so. */
Test(kyborgctl_apply, status_names_the_dra_driver_for_the_resources_the_config_gives_it)
{
	cr_assert_eq(kyt_write_file(device_config,
				    "{\"resources\":[{\"name\":\"kyborg.io/gpu\",\"kind\":\"gpu\","
				    "\"selector\":{\"vendors\":[\"10de\"]},\"sharing\":{\"replicas\":2}},"
				    "{\"name\":\"kyborg.io/sriov-vf\",\"kind\":\"nic-vf\",\"frontend\":\"dra\","
				    "\"selector\":{\"vendors\":[\"8086\"],\"devices\":[\"1889\"]}}]}"),
		     0);
	save_claim(KYT_SIM_VF2, KY_DRA_PREPARED);
	_cleanup_free_ char *out = NULL;
	cr_assert_eq(status(true, &out), 0, "%s", out);
	_cleanup_(cJSON_Deletep) cJSON *doc = cJSON_Parse(out ? out : "");
	cr_assert_not_null(doc, "%s", out);
	cr_assert_str_eq(astr(status_fn(doc, KYT_SIM_VF2), "frontend"), "dra");
	cr_assert_str_eq(used_by(status_fn(doc, KYT_SIM_VF2), 0), CLAIM_WHO);
	cr_assert_str_eq(astr(status_fn(doc, KYT_SIM_GPU0), "frontend"), "devicePlugin");
}

/* ---- FPGA: the whole device's image ---- */

#define AFU_NLB "d8424dc4a4a3c413f89e433683f9040b"
#define PORT_AFU_ID "bus/pci/devices/" KYT_SIM_FPGA "/fpga_region/region0/dfl-port.0/afu_id"

/* An image file under tmp, and a profile loading it (by path or by a
 * file:// URL) with the Python stand-in for the admin's loader. */
static void write_fpga_profile(bool by_url, const char *sha256)
{
	char img[PATH_MAX + 16], json[3 * PATH_MAX];
	snprintf(img, sizeof(img), "%s/nlb.gbs", tmp);
	cr_assert_eq(kyt_write_file(img, "nlb bitstream"), 0);
	snprintf(json, sizeof(json),
		 "{\"devices\":[{\"pciAddress\":\"" KYT_SIM_FPGA "\",\"kind\":\"fpga\","
		 "\"image\":{\"id\":\"" AFU_NLB "\",\"%s\":\"%s%s\",\"sha256\":\"%s\"},"
		 "\"program\":[\"/usr/bin/python3\",\"" KYTEST_FPGA_LOADER "\",\"%s/loads.log\",\"{sysfs}\",\"{id}\","
		 "\"{image}\"]}]}",
		 by_url ? "url" : "path", by_url ? "file://" : "", img, sha256, tmp);
	write_profile(json);
}

static void nlb_sha(char out[65])
{
	ky_sha256_buf("nlb bitstream", 13, out);
}

Test(kyborgctl_apply, an_fpga_is_programmed_once_and_a_second_apply_changes_nothing)
{
	char sha[65];
	nlb_sha(sha);
	write_fpga_profile(false, sha);
	_cleanup_(cJSON_Deletep) cJSON *plan = NULL, *doc = NULL, *again = NULL;
	cr_assert_eq(ctl("plan", NULL, &plan), 3);
	cr_assert_str_eq(astr(action(plan, 0), "from"), "00000000000000000000000000000000");
	cr_assert_str_eq(astr(action(plan, 0), "to"), AFU_NLB);

	cr_assert_eq(ctl("apply", NULL, &doc), 3, "%s", doc ? cJSON_PrintUnformatted(doc) : "no JSON");
	const cJSON *a = action(doc, 0);
	cr_assert_str_eq(astr(a, "status"), "done");
	cr_assert(strstr(step(a, 0), "loaded image " AFU_NLB), "%s", step(a, 0));
	_cleanup_free_ char *afu = sys_read(PORT_AFU_ID);
	cr_assert_str_eq(afu, AFU_NLB "\n");

	cr_assert_eq(ctl("apply", NULL, &again), 0);
	cr_assert_str_eq(result(again), "converged");
	char log[PATH_MAX + 16];
	snprintf(log, sizeof(log), "%s/loads.log", tmp);
	_cleanup_free_ char *loads = kyt_read_file(log);
	cr_assert(loads && strchr(loads, '\n') == strrchr(loads, '\n'), "loaded more than once: %s", loads);
}

Test(kyborgctl_apply, an_image_by_url_is_fetched_into_the_cache_checked_and_loaded)
{
	char sha[65];
	nlb_sha(sha);
	write_fpga_profile(true, sha);
	_cleanup_(cJSON_Deletep) cJSON *doc = NULL;
	cr_assert_eq(ctl("apply", NULL, &doc), 3, "%s", doc ? cJSON_PrintUnformatted(doc) : "no JSON");
	char cached[PATH_MAX + 128];
	snprintf(cached, sizeof(cached), "%s/state/images/sha256/%s", tmp, sha);
	_cleanup_free_ char *copy = kyt_read_file(cached);
	cr_assert_str_eq(copy, "nlb bitstream", "content-addressed copy in the state dir's cache");
	_cleanup_free_ char *afu = sys_read(PORT_AFU_ID);
	cr_assert_str_eq(afu, AFU_NLB "\n");
}

Test(kyborgctl_apply, a_wrong_checksum_refuses_the_change_and_keeps_the_old_image)
{
	write_fpga_profile(true, "00000000000000000000000000000000000000000000000000000000000000ff");
	_cleanup_(cJSON_Deletep) cJSON *doc = NULL;
	cr_assert_eq(ctl("apply", NULL, &doc), 4, "refused");
	cr_assert_str_eq(result(doc), "refused");
	const char *why = cJSON_GetStringValue(cJSON_GetObjectItem(doc, "refusal"));
	cr_assert(why && strstr(why, "devices[0]") && strstr(why, "sha256"), "%s", why ? why : "(none)");
	_cleanup_free_ char *afu = sys_read(PORT_AFU_ID);
	cr_assert_str_eq(afu, "00000000000000000000000000000000");
	char log[PATH_MAX + 16];
	snprintf(log, sizeof(log), "%s/loads.log", tmp);
	cr_assert_neq(access(log, F_OK), 0, "the loader never ran");
}

/* The device plugin's allocation records never release a device: they
 * count only where kubelet's own checkpoint is missing. */
Test(kyborgctl_apply, device_plugin_allocations_count_only_without_kubelets_checkpoint)
{
	char dir[PATH_MAX + 32], rec[PATH_MAX + 96];
	snprintf(dir, sizeof(dir), "%s/state", tmp);
	cr_assert_eq(mkdir(dir, 0700), 0);
	snprintf(dir, sizeof(dir), "%s/state/allocations", tmp);
	cr_assert_eq(mkdir(dir, 0700), 0);
	snprintf(rec, sizeof(rec), "%s/kyborg.io_gpu@" KYT_SIM_GPU1 "::0.json", dir);
	cr_assert_eq(kyt_write_file(rec, "{\"resource\":\"kyborg.io/gpu\",\"kind\":\"gpu\",\"device\":\"" KYT_SIM_GPU1
					 "::0\",\"pci\":\"" KYT_SIM_GPU1 "\",\"allocatedAt\":\"2026-12-03T08:00:00Z\"}"),
		     0);
	write_gpu_profile("mig-7");
	_cleanup_(cJSON_Deletep) cJSON *doc = NULL, *with_kubelet = NULL;
	cr_assert_eq(ctl("plan", NULL, &doc), 4, "refused: no kubelet checkpoint, the allocation counts");
	cr_assert(strstr(cJSON_GetStringValue(cJSON_GetArrayItem(cJSON_GetObjectItem(action(doc, 1), "pods"), 0)),
			 "device plugin kyborg.io/gpu"));

	cr_assert_eq(kyt_write_file(checkpoint, "{\"Data\":{\"PodDeviceEntries\":[],\"RegisteredDevices\":{}},\"Checksum\":0}"),
		     0);
	cr_assert_eq(ctl("plan", NULL, &with_kubelet), 3, "kubelet says no pod holds it now");
}

Test(kyborgctl_apply, changed_ok_exits_zero_for_an_init_container)
{
	write_profile("{\"devices\":[{\"pciAddress\":\"" KYT_SIM_PF "\",\"kind\":\"nic\",\"numVfs\":2}]}");
	_cleanup_(cJSON_Deletep) cJSON *doc = NULL;
	cr_assert_eq(ctl("apply", "--changed-ok", &doc), 0);
	cr_assert_str_eq(result(doc), "changed", "the report still says what happened");
}

Test(kyborgctl_apply, a_second_apply_while_one_runs_changes_nothing)
{
	char state[PATH_MAX + 16];
	snprintf(state, sizeof(state), "%s/state", tmp);
	_cleanup_error_ struct ky_error *err = NULL;
	_cleanup_(ky_state_closep) struct ky_state_store *s = NULL;
	_cleanup_(ky_state_unlockp) struct ky_state_lock *l = NULL;
	cr_assert_eq(ky_state_open(state, &s, &err), 0, "%s", ky_error_msg(err));
	cr_assert_eq(ky_state_lock(s, "kyborgctl-apply", 0, &l, &err), 0, "%s", ky_error_msg(err));

	write_profile("{\"devices\":[{\"pciAddress\":\"" KYT_SIM_PF "\",\"kind\":\"nic\",\"numVfs\":2}]}");
	_cleanup_(cJSON_Deletep) cJSON *doc = NULL, *plan = NULL;
	cr_assert_eq(ctl("apply", NULL, &doc), 1, "the other apply holds the lock");
	cr_assert_null(doc);
	_cleanup_free_ char *n = sys_read("bus/pci/devices/" KYT_SIM_PF "/sriov_numvfs");
	cr_assert_str_eq(n, "4");
	cr_assert_eq(ctl("plan", NULL, &plan), 3, "plan reads without the lock");
}

/* Across binaries: a claim the real kyborg-dra-driver prepares holds its
 * device for kyborgctl. The driver runs under the simulated node (the
 * umockdev testbed kyborgctl sees too) and the KUBELET STAND-IN
 * test/grpc/dra_kubelet.py (Debian's python3-grpcio, written from kubelet's
 * sources; no kubelet here) prepares and unprepares a VF claim read from
 * the driver's stand-in claim files (--claims-dir); between the two,
 * kyborgctl plan refuses to change the VF's PF naming the claim, and status
 * shows who holds the VF. The record is written by the driver's code and
 * read by kyborgctl's, both through state/dra_record.h. */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kyborg/base/cleanup.h"
#include "kyborg/json/json.h"
#include "kytest.h"
#include "kytest_dra.h"
#include "kytest_proc.h"
#include "kytest_simnode.h"

#define DRIVER "kyborg.io"
#define NODE "node-a"
#define T 20000
#define VF0 "vf-0000-18-01-0"
#define UID "0f3a9c2e-1d4b-4e8f-a6b7-2c9d8e7f6a51"
#define WHO "claim ns1/nic (" UID ")"

static UMockdevTestbed *tb;
static char *dir;
static char reg_dir[PATH_MAX], plugin_dir[PATH_MAX], cdi_dir[PATH_MAX], state_dir[PATH_MAX], claims_dir[PATH_MAX],
	config_path[PATH_MAX], profile[PATH_MAX], ctl_dir[PATH_MAX];
static struct kyt_dra_kubelet *kubelet;

static void setup(void)
{
	char pf[16];
	tb = kyt_simnode_testbed(pf, NULL);
	dir = kyt_tmpdir("kyctldra");
	cr_assert_not_null(dir);
	snprintf(reg_dir, sizeof(reg_dir), "%s/plugins_registry", dir);
	snprintf(plugin_dir, sizeof(plugin_dir), "%s/plugins/" DRIVER, dir);
	snprintf(cdi_dir, sizeof(cdi_dir), "%s/cdi", dir);
	snprintf(state_dir, sizeof(state_dir), "%s/state", dir);
	snprintf(claims_dir, sizeof(claims_dir), "%s/claims", dir);
	snprintf(config_path, sizeof(config_path), "%s/config.json", dir);
	snprintf(profile, sizeof(profile), "%s/profile.json", dir);
	snprintf(ctl_dir, sizeof(ctl_dir), "%s/ctl", dir);
	cr_assert_eq(mkdir(reg_dir, 0750), 0);
	cr_assert_eq(mkdir(claims_dir, 0700), 0);
	cr_assert_eq(mkdir(ctl_dir, 0700), 0);
	char config[512];
	snprintf(config, sizeof(config),
		 "{\"resources\":[{\"name\":\"kyborg.io/sriov-vf\",\"kind\":\"nic-vf\",\"frontend\":\"dra\","
		 "\"selector\":{\"pfNames\":[\"%s\"],\"drivers\":[\"iavf\"]}}]}",
		 pf);
	cr_assert_eq(kyt_write_file(config_path, config), 0);
	cr_assert_eq(kyt_write_file(profile, "{\"devices\":[{\"pciAddress\":\"" KYT_SIM_PF "\",\"kind\":\"nic\","
					     "\"numVfs\":2}]}"),
		     0);
}

static void teardown(void)
{
	kyt_dra_kubelet_stop(kubelet);
	kubelet = NULL;
	kyt_children_kill_all();
	kyt_testbed_free(&tb);
	if (dir)
		kyt_rmrf(dir);
	free(dir);
	dir = NULL;
}

TestSuite(kyborgctl_dra, .init = setup, .fini = teardown, .timeout = 120);

static struct kyt_child *start_driver(void)
{
	const char *argv[] = { KYBORG_DRA_BIN, "--config", config_path, "--node-name", NODE, "--registration-dir",
			       reg_dir, "--plugin-dir", plugin_dir, "--cdi-dir", cdi_dir, "--state-dir", state_dir,
			       "--claims-dir", claims_dir, "--log-level", "warn", NULL };
	return kyt_child_start(argv, -1, false);
}

/* The ResourceClaim the API server would answer: one VF allocated. */
static void write_claim(void)
{
	char nsdir[PATH_MAX + 8], file[PATH_MAX + 32];
	snprintf(nsdir, sizeof(nsdir), "%s/ns1", claims_dir);
	cr_assert_eq(mkdir(nsdir, 0700), 0);
	snprintf(file, sizeof(file), "%s/nic.json", nsdir);
	cr_assert_eq(kyt_write_file(file, "{\"apiVersion\":\"resource.k8s.io/v1\",\"kind\":\"ResourceClaim\","
					  "\"metadata\":{\"name\":\"nic\",\"namespace\":\"ns1\",\"uid\":\"" UID "\"},"
					  "\"spec\":{\"devices\":{\"requests\":[]}},"
					  "\"status\":{\"allocation\":{\"devices\":{\"results\":[{\"request\":\"nic\","
					  "\"driver\":\"" DRIVER "\",\"pool\":\"" NODE "\",\"device\":\"" VF0 "\"}]}}}}"),
		     0);
}

/* kyborgctl CMD (plan or status) --json with the driver's state dir; the
 * other sources are empty directories of the test's. */
static int ctl(const char *cmd, cJSON **doc)
{
	char cni[PATH_MAX + 8], checkpoint[PATH_MAX + 16];
	snprintf(cni, sizeof(cni), "%s/cni", ctl_dir);
	snprintf(checkpoint, sizeof(checkpoint), "%s/checkpoint", ctl_dir);
	char *plan[] = { KYBORGCTL_PATH, "plan", "-f", profile, "--json", "--cni-state-dir", cni, "--kubelet-checkpoint",
			 checkpoint, "--state-dir", ctl_dir, "--dra-state-dir", state_dir, NULL };
	char *status[] = { KYBORGCTL_PATH, "status", "--json", "--cni-state-dir", cni, "--kubelet-checkpoint",
			   checkpoint, "--state-dir", ctl_dir, "--dra-state-dir", state_dir, "--device-config",
			   config_path, NULL };
	char *out = NULL;
	int rc = kyt_runv(&out, strcmp(cmd, "plan") == 0 ? plan : status);
	*doc = out ? cJSON_Parse(out) : NULL;
	cr_assert_not_null(*doc, "kyborgctl %s printed no JSON: %s", cmd, out ? out : "(nothing)");
	free(out);
	return rc;
}

static const char *pod0(const cJSON *plan)
{
	const cJSON *a = cJSON_GetArrayItem(cJSON_GetObjectItem(plan, "actions"), 0);
	return cJSON_GetStringValue(cJSON_GetArrayItem(cJSON_GetObjectItem(a, "pods"), 0)) ?: "(none)";
}

static const cJSON *fn_of(const cJSON *status, const char *addr)
{
	const cJSON *fn;
	cJSON_ArrayForEach(fn, cJSON_GetObjectItem(status, "pci_functions"))
	{
		if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(fn, "address")) ?: "", addr) == 0)
			return fn;
	}
	cr_assert_fail("%s is not in the status", addr);
	return NULL;
}

Test(kyborgctl_dra, a_vf_the_driver_prepared_for_a_claim_is_refused_until_it_is_unprepared)
{
	write_claim();
	kubelet = kyt_dra_kubelet_start(KYTEST_GRPC_DIR "/dra_kubelet.py", KYTEST_DRA_DESC, reg_dir, NULL);
	struct kyt_child *d = start_driver();
	_cleanup_(cJSON_Deletep) cJSON *reg =
		kyt_dra_kubelet_ok(kubelet, T, "wait registered driver=" DRIVER " after=0 timeout=15000");

	_cleanup_(cJSON_Deletep) cJSON *free_plan = NULL;
	cr_assert_eq(ctl("plan", &free_plan), 3, "before the claim, nothing holds the VFs");

	_cleanup_(cJSON_Deletep) cJSON *prep = kyt_dra_kubelet_ok(kubelet, T, "prepare " DRIVER " ns1/nic/" UID);
	_cleanup_(cJSON_Deletep) cJSON *held = NULL, *status = NULL;
	cr_assert_eq(ctl("plan", &held), 4, "refused while the claim holds " KYT_SIM_VF0);
	cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(held, "result")), "refused");
	cr_assert_str_eq(pod0(held), WHO);
	cr_assert_eq(ctl("status", &status), 0);
	cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetArrayItem(cJSON_GetObjectItem(fn_of(status, KYT_SIM_VF0),
										      "used_by"),
								 0)) ?:
				 "(none)",
			 WHO);
	cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(fn_of(status, KYT_SIM_VF0), "resource")) ?: "(none)",
			 "kyborg.io/sriov-vf");
	/* The config the driver serves gives the VFs to it: the same file says so to kyborgctl. */
	cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(fn_of(status, KYT_SIM_VF0), "frontend")) ?: "(none)",
			 "dra");

	_cleanup_(cJSON_Deletep) cJSON *unprep = kyt_dra_kubelet_ok(kubelet, T, "unprepare " DRIVER " ns1/nic/" UID);
	_cleanup_(cJSON_Deletep) cJSON *after = NULL;
	cr_assert_eq(ctl("plan", &after), 3, "the plan goes through once the claim is unprepared");
	cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(after, "actions"), 0),
							    "pods")),
		     0);

	kill(d->pid, SIGTERM);
	cr_assert(kyt_wait_until(kyt_child_done_cond, d, 10000), "the driver exits on SIGTERM");
}

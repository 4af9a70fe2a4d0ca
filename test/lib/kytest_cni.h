/* Fixtures for the CNI plugin's tests: run the plugin binary as a runtime
 * would (environment, stdin, stdout), and snapshot what it may change on
 * the node. */
#pragma once

#include <cjson/cJSON.h>

struct kyt_cni_call {
	const char *bin;      /* the plugin */
	const char *command;  /* CNI_COMMAND; NULL leaves it out */
	const char *container_id, *netns, *ifname, *path; /* NULL leaves each out */
	const char *fault;    /* KYBORG_FAULT, or NULL */
	const char *conf;     /* stdin */
	const char *const *env; /* more NAME=VALUE entries (replacing the test's own), NULL-terminated; or NULL */
	int timeout_ms;       /* killed after it (-ETIMEDOUT); 0: 60 s */
};

/* Runs the plugin with the test's environment plus the CNI variables.
 * Returns its exit status (128 + signal when killed), -errno when it could
 * not run or ran past its timeout. *out (may be NULL) is its stdout parsed as JSON, NULL when
 * empty or not JSON. */
int kyt_cni_run(const struct kyt_cni_call *call, cJSON **out);

/* A scratch directory for one test in *tmp, with the plugin's stateDir
 * and host-local's dataDir under it (state_dir and ipam_dir, `size` bytes
 * each). Fails the test when it cannot be made. */
void kyt_cni_scratch(const char *prefix, char **tmp, char *state_dir, char *ipam_dir, size_t size);
/* Removes it with whatever the test left there; *tmp becomes NULL. */
void kyt_cni_scratch_free(char **tmp);

/* The "code" of an error object, -1 when there is none. */
int kyt_cni_code(const cJSON *out);

/* What the plugin may change on the node, as text to compare: each link of
 * the current netns (name, MAC, MTU, up), the entries of state_dir, and the
 * address reservations under ipam_dir (host-local's files, minus its lock
 * and last-reserved markers). malloc'd. */
char *kyt_node_snapshot(const char *state_dir, const char *ipam_dir);

/* An anchor's config from test/data/compat/ (see SOURCES.md there) as a
 * runtime with Multus hands it to the plugin: "name" when it has none,
 * "deviceID" (Multus: the device plugin's allocation) when given and the
 * config has none, runtimeConfig for the capabilities it declares, and
 * the test's scratch directories (stateDir, host-local's dataDir, logFile
 * moved under dir). type, extra and drop change it further: another
 * plugin's type, fields added (a JSON object), a field removed. malloc'd
 * JSON text; fails the test when the file cannot be read. */
struct kyt_compat {
	const char *device_id, *rc, *type, *extra, *drop;
};
char *kyt_cni_compat_conf(const char *file, const struct kyt_compat *rt, const char *state_dir,
			  const char *ipam_dir, const char *dir);

/* The stand-ins a DRA test talks to, as children of the test killed in
 * teardown by kyt_children_kill_all():
 *  - the kubelet stand-in (test/grpc/dra_kubelet.py), driven one command line
 *    at a time over a pipe, each answer one JSON object (see the script);
 *  - the kube-apiserver stand-in (test/standin/kube_apiserver.py) with fresh
 *    certificates, a token file and its control endpoints (through curl). */
#pragma once

#include <cjson/cJSON.h>

struct kyt_dra_kubelet;
struct kyt_apiserver;

/* ---- the JSON of the stand-ins' answers, slices and records ---- */

/* The value at a dotted path ("event.seq"), NULL where any step is missing. */
const cJSON *kyt_json_at(const cJSON *o, const char *path);
/* The string at path; asserts it is one. */
const char *kyt_json_str(const cJSON *o, const char *path);
/* A slice device's string attribute of that name (names hold dots: no
 * path); asserts it is one. */
const char *kyt_dra_attr_str(const cJSON *dev, const char *name);
/* The device of that name in a list of ResourceSlices, or NULL. */
const cJSON *kyt_dra_slice_device(const cJSON *slices, const char *name);

/* Starts PYTHON script --registration-dir reg_dir --desc desc extra... .
 * Asserts on failure. */
struct kyt_dra_kubelet *kyt_dra_kubelet_start(const char *script, const char *desc, const char *reg_dir,
					      const char *const extra[]);
/* Sends one command line (printf format, no newline) and returns its answer
 * within timeout_ms (asserts otherwise). The caller frees it. */
cJSON *kyt_dra_kubelet_cmd(struct kyt_dra_kubelet *k, int timeout_ms, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The same, asserting "ok": true; returns the answer. */
cJSON *kyt_dra_kubelet_ok(struct kyt_dra_kubelet *k, int timeout_ms, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Waits (the stand-in 15 s, the test 20 s) for driver's registration after
 * event seq `after`; returns the event. */
cJSON *kyt_dra_wait_registered(struct kyt_dra_kubelet *k, const char *driver, int after);
/* Starts the kubelet stand-in against the API server stand-in as node
 * `node` (extra: more flags, may be NULL) and waits for the deletion of the
 * node's ResourceSlices it makes at its start. Kubelet makes it in the
 * background (NewDRAPluginManager), so a driver that published before it
 * lands sees its slices go and publishes them again: a test that reads
 * slices must not race it. Asserts on failure. */
struct kyt_dra_kubelet *kyt_dra_kubelet_start_api(const char *script, const char *desc, const char *reg_dir,
						  const struct kyt_apiserver *api, const char *node,
						  const char *const extra[]);
/* Waits (the stand-in 15 s, the test 20 s) for a deletion of slices after
 * event seq `after` (driver "": kubelet's at its start, else the driver's
 * once its plugin was gone); returns the event. */
cJSON *kyt_dra_wait_wiped(struct kyt_dra_kubelet *k, const char *driver, int after);
/* An event's seq ("event.seq"), to wait for the ones after it. */
int kyt_dra_event_seq(const cJSON *r);
/* "quit", then waits for it to exit; frees k (NULL is fine). */
void kyt_dra_kubelet_stop(struct kyt_dra_kubelet *k);

struct kyt_apiserver {
	char *dir;        /* certs/ (ca.crt, server.*), tokens, port */
	char *url;        /* https://127.0.0.1:PORT */
	char *ca_file;
	char *token_file; /* one token, "kyborg-test-token"; rewrite it to rotate */
	struct kyt_child *child;
};

/* Generates certificates into dir, writes the token file, starts the
 * stand-in on a free port and waits until it listens. extra: more flags
 * (--feature-gates ...), may be NULL. Asserts on failure. */
struct kyt_apiserver *kyt_apiserver_start(const char *script, const char *dir, const char *const extra[]);
/* A control request (e.g. "POST", "compact") through the curl command; the
 * reply body in *out when out is non-NULL. Returns curl's exit status. */
int kyt_apiserver_control(struct kyt_apiserver *a, const char *method, const char *what, char **out);
/* A request with the token (method, path such as
 * "/apis/resource.k8s.io/v1/resourceslices", body or NULL); returns the
 * parsed answer, or NULL when curl failed; *code gets the HTTP status. */
cJSON *kyt_apiserver_request(struct kyt_apiserver *a, const char *method, const char *path, const char *body, int *code);
/* SIGTERM, wait, free (NULL is fine). The directory is the caller's. */
void kyt_apiserver_stop(struct kyt_apiserver *a);

/* ---- what the DRA suites read and write ---- */

/* A file parsed as JSON (asserts it reads and parses); the caller frees it. */
cJSON *kyt_read_json(const char *path);

/* Writes claims_dir/<ns>/<name>.json: the stand-in claim source's object
 * (the driver's --claims-dir), as the API server would answer it. */
void kyt_dra_claim_write_raw(const char *claims_dir, const char *ns, const char *name, const char *text);
/* A ResourceClaim allocated with the given results (JSON objects, joined)
 * and, where config is not NULL, those config entries. */
void kyt_dra_claim_write(const char *claims_dir, const char *ns, const char *name, const char *uid,
			 const char *results, const char *config);
/* Where the driver puts a claim's CDI spec, and its record. malloc'd. */
char *kyt_dra_spec_path(const char *cdi_dir, const char *driver, const char *uid);
char *kyt_dra_record_path(const char *state_dir, const char *uid);
/* The driver's index entry of a PCI function (the claim holding it), which
 * the CNI plugin reads. malloc'd. */
char *kyt_dra_link_path(const char *state_dir, const char *pci);
/* A claim's answer in a kubelet stand-in's prepare reply
 * ({"claims": {uid: {"error", "devices": [...]}}}), asserted present. */
const cJSON *kyt_dra_claim_of(const cJSON *reply, const char *uid);

/* ---- the driver under test and where it works ---- */

/* A DRA suite's teardown of its children: the kubelet stand-in ("quit"),
 * the API server stand-in (both set to NULL; NULL is fine), then every
 * other tracked child killed. */
void kyt_dra_stop_all(struct kyt_dra_kubelet **k, struct kyt_apiserver **a);

/* A DRA driver's directories under one fresh temporary directory. */
struct kyt_dra_dirs {
	char *dir;         /* the temporary directory (prefix.XXXXXX) */
	char *reg_dir;     /* plugins_registry, made: kubelet's registration directory */
	char *plugin_dir;  /* plugins/<driver>: the driver's dra.sock */
	char *cdi_dir;     /* cdi */
	char *state_dir;   /* state */
	char *config_path; /* config.json, for the test to write */
	char *api_dir;     /* api, made: the kube-apiserver stand-in's certificates, token, port */
	char *driver_log;  /* driver.log: the drivers' stderr */
};

/* Makes the temporary directory, reg_dir and api_dir. Asserts on failure. */
void kyt_dra_dirs_init(struct kyt_dra_dirs *d, const char *prefix, const char *driver);
/* Shows the driver log where it holds a sanitizer's report (CTest then
 * fails the test on it, as on the test's own output) or KYTEST_VERBOSE is
 * set, removes the directory and frees the paths. Safe on a zeroed d. */
void kyt_dra_dirs_free(struct kyt_dra_dirs *d);

/* Starts the driver binary `bin` on d's directories for node `node`, its
 * stderr appended to d->driver_log. With api_url, it talks to the API
 * server there with the stand-in's token and CA from d->api_dir (they may
 * not exist yet); extra: more flags, may be NULL. */
struct kyt_child *kyt_dra_driver_start(const char *bin, const struct kyt_dra_dirs *d, const char *node,
				       const char *api_url, const char *const extra[]);
/* The same with KYBORG_FAULT=fault in the driver's environment (none
 * where fault is NULL): the driver kills itself at that point. */
struct kyt_child *kyt_dra_driver_start_fault(const char *fault, const char *bin, const struct kyt_dra_dirs *d,
					     const char *node, const char *api_url, const char *const extra[]);

/* Nothing of claim uid is left on the node: no CDI spec of driver's in
 * d->cdi_dir, no record in d->state_dir. Asserts. */
void kyt_dra_assert_clean(const struct kyt_dra_dirs *d, const char *driver, const char *uid);

/* The ResourceSlices of driver on node, as the API server stand-in lists
 * them (read with curl, never with the client under test); asserts 200.
 * The caller frees the list. */
cJSON *kyt_dra_server_slices(struct kyt_apiserver *a, const char *driver, const char *node);

/* A ResourceClaim ns/name with one request "req" (class "kyborg"),
 * created and then allocated with the given results (JSON objects, joined)
 * by writing its status, as the scheduler would. Returns the UID the
 * server gave it (malloc'd). */
char *kyt_dra_api_claim(struct kyt_apiserver *a, const char *ns, const char *name, const char *results);

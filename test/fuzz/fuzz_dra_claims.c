/* A ResourceClaim as the DRA driver reads it from the API server
 * (dra/dra_claims.c: dra_claim_parse, after the k8s client's ky_json_parse
 * of the answer), with kubelet's claim reference checked first
 * (dra_claim_ref_problem), then what Prepare does with each of this
 * driver's results before it touches the node: the device named is looked
 * up on the node (dra_device_find, over the devices config of
 * manifests/dra on the node of fuzz_device.h), and the claim's CDI names
 * and spec file are made from the UID and the device name.
 *
 * Input: the claim's JSON; the reference is its own metadata (namespace,
 * name, uid) when that passes dra_claim_ref_problem, else a fixed one.
 * Checked: a reference that passes is DNS names and a UID of [A-Za-z0-9-]
 * (it becomes a state key, a file name and a CDI name); a claim is read
 * only under its own UID (-ESTALE otherwise) and only when allocated;
 * every result read has its four strings; a device name found on the node
 * is exactly the name the driver gives that device, of a resource the
 * config gives DRA, and a replica only of a GPU shared that many ways; the
 * CDI device name and spec file name made from an accepted reference and a
 * found device are valid (one path component, CDI's alphabet); the
 * allocation's configs then parse or are refused naming their path. */
#include "dra_claims.h"
#include "dra_config.h"
#include "dra_daemon.h"
#include "fuzz_device.h"
#include "kyborg/device/cdi_spec.h"
#include "kyborg/json/json.h"
#include "kyborg/state/state_store.h"

#define DRIVER "kyborg.io"

/* manifests/dra/configmap.yaml's resources, the GPUs shared four ways,
 * and SRIOV-DP's netDevice left to the device plugin. */
static const char config[] =
	"{\"resources\":["
	"{\"name\":\"kyborg.io/gpu\",\"kind\":\"gpu\",\"frontend\":\"dra\",\"selector\":{\"classes\":[\"03\"]},"
	"\"sharing\":{\"replicas\":4}},"
	"{\"name\":\"kyborg.io/fpga\",\"kind\":\"fpga\",\"selector\":{\"vendors\":[\"8086\"],\"devices\":[\"0b30\"]}},"
	"{\"name\":\"kyborg.io/sriov-vf\",\"kind\":\"nic-vf\",\"frontend\":\"dra\",\"selector\":{\"pfNames\":[\"ens1f0\"]}}]}";

static struct dra_options opts = { .driver_name = DRIVER, .node_name = "node-a" };
static struct dra_daemon daemon_;

static bool dns_char(char c, bool dots)
{
	return islower((unsigned char)c) || isdigit((unsigned char)c) || c == '-' || (dots && c == '.');
}

static void check_ref(const char *ns, const char *name, const char *uid)
{
	FUZZ_ASSERT(strlen(ns) >= 1 && strlen(ns) <= 63 && ns[0] != '-' && ns[strlen(ns) - 1] != '-',
		    "namespace \"%s\"", ns);
	for (const char *p = ns; *p; p++)
		FUZZ_ASSERT(dns_char(*p, false), "namespace \"%s\"", ns);
	FUZZ_ASSERT(strlen(name) >= 1 && strlen(name) <= 253 && strcmp(name, "..") && !strstr(name, ".."),
		    "name \"%s\"", name);
	for (const char *p = name; *p; p++)
		FUZZ_ASSERT(dns_char(*p, true), "name \"%s\"", name);
	FUZZ_ASSERT(strlen(uid) >= 1 && strlen(uid) <= 128 && isalnum((unsigned char)uid[0]), "uid \"%s\"", uid);
	for (const char *p = uid; *p; p++)
		FUZZ_ASSERT(isalnum((unsigned char)*p) || *p == '-', "uid \"%s\"", uid);
	/* The checkpoint's key and the CDI spec's file name. */
	FUZZ_ASSERT(ky_state_key_valid(uid), "uid \"%s\" is no state key", uid);
	_cleanup_free_ char *spec = ky_cdi_claim_spec_name(DRIVER, uid);
	FUZZ_ASSERT(spec && !strchr(spec, '/') && strcmp(spec, "..") != 0, "CDI spec file %s", spec);
}

static void check_device(const struct dra_claim_result *res, const char *uid)
{
	enum ky_device_kind kind;
	char addr[KY_PCI_ADDR_LEN];
	int replica;
	bool named = ky_device_dra_name_parse(res->device, &kind, addr, &replica) == 0;
	struct dra_device dev;
	int r = dra_device_find(&daemon_, res->device, &dev);
	FUZZ_ASSERT(named || r == -EINVAL, "%s is no DRA name, yet found (%d)", res->device, r);
	FUZZ_ASSERT(r == 0 || r == -EINVAL || r == -ENODEV || r == -EXDEV, "dra_device_find returned %d", r);
	if (named) {
		/* One device, one name: what parses is what the driver writes. */
		char again[KY_DEVICE_DRA_NAME_MAX];
		ky_device_dra_name(kind, addr, replica, again);
		FUZZ_ASSERT(strcmp(again, res->device) == 0, "%s reads as %s", res->device, again);
		FUZZ_ASSERT(replica < 0 || kind == KY_DEVICE_GPU, "%s: a replica of a %s", res->device,
			    ky_device_kind_name(kind));
	}
	if (r == -EXDEV)
		FUZZ_ASSERT(dev.res->frontend == KY_FRONTEND_DEVICE_PLUGIN, "%s: -EXDEV for a DRA resource", res->device);
	if (r != 0)
		return;
	FUZZ_ASSERT(dev.res->frontend == KY_FRONTEND_DRA && dev.res->kind == kind, "%s found in %s", res->device,
		    dev.res->name);
	FUZZ_ASSERT(strcmp(dev.dev->pci->addr, addr) == 0, "%s found as %s", res->device, dev.dev->pci->addr);
	FUZZ_ASSERT(dev.replica == replica && (replica < 0 || (ky_device_resource_shared(dev.res) &&
							       (unsigned)replica < dev.res->replicas &&
							       dev.dev->replica == replica)),
		    "%s: replica %d of %s (%u)", res->device, replica, dev.res->name, dev.res->replicas);
	FUZZ_ASSERT(dev.dev >= daemon_.lists[dev.list].devs &&
			    dev.dev < daemon_.lists[dev.list].devs + daemon_.lists[dev.list].n,
		    "%s: an entry outside its list", res->device);
	struct dra_why why;
	enum dra_health h = dra_device_health(&daemon_, res->device, &why);
	FUZZ_ASSERT(h == (dev.dev->healthy ? DRA_HEALTH_HEALTHY : DRA_HEALTH_UNHEALTHY), "%s health %d", res->device,
		    (int)h);
	/* What the container is given: "<vendor>/claim=<uid>-<device>". */
	_cleanup_free_ char *cdi = ky_cdi_claim_device_name(uid, res->device);
	FUZZ_ASSERT(cdi && ky_cdi_name_valid(cdi), "CDI device name %s", cdi);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet_logs();
	fuzz_node_init();
	_cleanup_error_ struct ky_error *err = NULL;
	daemon_.opts = &opts;
	FUZZ_ASSERT(ky_device_config_parse(config, strlen(config), &daemon_.cfg, &err) == 0, "config: %s",
		    ky_error_msg(err));
	FUZZ_ASSERT(ky_devices_build_host(daemon_.cfg, &fuzz_node, &fuzz_host, &daemon_.lists, &err) == 0,
		    "devices: %s", ky_error_msg(err));
	FUZZ_ASSERT(dra_devices_count(&daemon_) > 0, "no DRA device on the node");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_(cJSON_Deletep) cJSON *claim = NULL;
	_cleanup_error_ struct ky_error *err = NULL;
	if (ky_json_parse((const char *)data, size, &claim, &err) < 0)
		return 0; /* the client answers the Prepare with its decoding error */

	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(claim, "metadata");
	const char *ns = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(meta, "namespace"));
	const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(meta, "name"));
	const char *uid = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(meta, "uid"));
	char buf[256];
	const char *problem = dra_claim_ref_problem(ns, name, uid, buf, sizeof(buf));
	if (problem) {
		FUZZ_ASSERT(problem == buf && buf[0], "a problem without words");
		ns = "ns1";
		name = "gpu";
		uid = "5c1e2f30-0d4f-4c6e-9a3b-1234567890ab";
	}
	FUZZ_ASSERT(!dra_claim_ref_problem(ns, name, uid, buf, sizeof(buf)), "reference %s/%s %s", ns, name, uid);
	check_ref(ns, name, uid);

	struct dra_claim_alloc *a = NULL;
	int r = dra_claim_parse(claim, ns, name, uid, &a, &err);
	const char *got = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(meta, "uid"));
	if (r < 0) {
		FUZZ_ASSERT(!a, "an allocation with a failure");
		FUZZ_ASSERT(r == -EINVAL || r == -ESTALE || r == -ENOMEM, "dra_claim_parse returned %d", r);
		/* Replaced: an object under another UID (or none); an answer
		 * that is no object is refused as such. */
		bool replaced = cJSON_IsObject(claim) && (!got || strcmp(got, uid) != 0);
		FUZZ_ASSERT(r == -ENOMEM || (r == -ESTALE) == replaced, "-ESTALE %d for UID %s, want %s",
			    r == -ESTALE, got ? got : "(none)", uid);
		FUZZ_ASSERT(strstr(ky_error_msg(err), ns) && strstr(ky_error_msg(err), name),
			    "the refusal does not name the claim: %s", ky_error_msg(err));
		return 0;
	}
	FUZZ_ASSERT(got && !strcmp(got, uid), "read under UID %s, the claim's is %s", uid, got ? got : "(none)");
	const cJSON *alloc = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(claim, "status"),
							      "allocation");
	FUZZ_ASSERT(cJSON_IsObject(alloc), "read an unallocated claim");
	const cJSON *results =
		cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(alloc, "devices"), "results");
	FUZZ_ASSERT(a->n == (size_t)cJSON_GetArraySize(results), "%zu results of %d", a->n,
		    cJSON_GetArraySize(results));
	for (size_t i = 0; i < a->n; i++) {
		const struct dra_claim_result *res = &a->results[i];
		FUZZ_ASSERT(res->request && *res->request && res->driver && *res->driver && res->pool && *res->pool &&
				    res->device && *res->device,
			    "results[%zu] without its strings", i);
		if (strcmp(res->driver, DRIVER) == 0 && strcmp(res->pool, opts.node_name) == 0)
			check_device(res, uid);
	}
	/* Then the claim's own configs, as Prepare reads them next
	 * (fuzz_dra_config checks what they hold). */
	static const struct dra_config_rules rules = { .driver = DRIVER, .bitstream_dir = "/var/lib/kyborg/bitstreams" };
	struct dra_configs cs;
	_cleanup_error_ struct ky_error *cerr = NULL;
	int rc = dra_configs_parse(a->config, &rules, &cs, &cerr);
	FUZZ_ASSERT(rc == 0 || rc == -EINVAL || rc == -ENOMEM, "dra_configs_parse returned %d", rc);
	FUZZ_ASSERT(rc == 0 || !strncmp(ky_error_msg(cerr), "config", 6) || rc == -ENOMEM, "config refusal: %s",
		    ky_error_msg(cerr));
	if (rc == 0)
		dra_configs_release(&cs);
	dra_claim_alloc_free(a);
	return 0;
}

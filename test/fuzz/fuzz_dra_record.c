/* The DRA driver's checkpoint record (common/src/state/dra_record.c) read
 * from its JSON as the driver reads it at start and kyborgctl reads it
 * (the state store's reading, then ky_dra_record_from_json). The
 * records are ours, but a corrupt one (a disk, an editor, a newer binary)
 * must be refused cleanly. Checked: a refusal is -EBADMSG naming the key at
 * fault, or -EPROTO for a newer version; an accepted record has every
 * required string and device field, a state of the two there are, a version
 * this binary knows; written back and read again it is the same record
 * (a fixed point after one round: "" shareID is left out), and a copy
 * writes the same JSON. Version 2's per-device configs: a VF's PF and
 * index in range, its driver one of the three, an FPGA's image spec valid,
 * a GPU's env NAME=value; a record is written with at least the version
 * its configs need. Then what kyborgctl does with it (node_usage.c): the
 * devices it holds, each a canonical PCI address, named after the claim. */
#include "fuzz.h"
#include "kyborg/base/cleanup.h"
#include "kyborg/json/json.h"
#include "kyborg/node/node_apply.h"
#include "kyborg/node/node_plan.h"
#include "kyborg/pci/pci.h"
#include "kyborg/state/dra_record.h"

static char *print(const struct ky_dra_record *rec)
{
	_cleanup_(cJSON_Deletep) cJSON *doc = NULL;
	_cleanup_error_ struct ky_error *err = NULL;
	FUZZ_ASSERT(ky_dra_record_to_json(rec, &doc, &err) == 0, "to_json: %s", ky_error_msg(err));
	char *s = cJSON_PrintUnformatted(doc);
	FUZZ_ASSERT(s, "out of memory");
	return s;
}

/* The record `text` (our own JSON) holds. */
static void reread(const char *text, struct ky_dra_record *out)
{
	_cleanup_(cJSON_Deletep) cJSON *doc = fuzz_store_parse((const uint8_t *)text, strlen(text));
	_cleanup_error_ struct ky_error *err = NULL;
	FUZZ_ASSERT(doc, "our record does not decode: %s", text);
	FUZZ_ASSERT(ky_dra_record_from_json(doc, out, &err) == 0, "our record is refused: %s: %s", ky_error_msg(err),
		    text);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet_logs();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_(cJSON_Deletep) cJSON *doc = fuzz_store_parse(data, size);
	_cleanup_error_ struct ky_error *err = NULL;
	if (!doc)
		return 0; /* the store refuses it (-EBADMSG) */
	struct ky_dra_record rec = { 0 };
	int r = ky_dra_record_from_json(doc, &rec, &err);
	if (r < 0) {
		FUZZ_ASSERT(r == -EBADMSG || r == -EPROTO || r == -ENOMEM, "from_json returned %d", r);
		FUZZ_ASSERT(!strncmp(ky_error_msg(err), "DRA claim record", 16), "refusal: %s", ky_error_msg(err));
		FUZZ_ASSERT(!rec.claim_uid && !rec.devices && !rec.n_devices, "a refused record keeps fields");
		return 0;
	}
	FUZZ_ASSERT(rec.version >= 1 && rec.version <= KY_DRA_RECORD_VERSION, "version %u", rec.version);
	FUZZ_ASSERT(ky_dra_record_version_needed(&rec) <= KY_DRA_RECORD_VERSION, "needs version %u",
		    ky_dra_record_version_needed(&rec));
	FUZZ_ASSERT(rec.claim_uid && rec.namespace_ && rec.name && rec.driver && rec.cdi_spec, "a required string");
	FUZZ_ASSERT(rec.state == KY_DRA_PREPARING || rec.state == KY_DRA_PREPARED, "state %d", (int)rec.state);
	FUZZ_ASSERT(strcmp(ky_dra_claim_state_name(rec.state), "unknown") != 0, "state without a name");
	for (size_t i = 0; i < rec.n_devices; i++) {
		const struct ky_dra_record_device *d = &rec.devices[i];
		FUZZ_ASSERT(d->pool && d->device && d->pci && d->kind && d->resource && d->cdi_id, "devices[%zu]", i);
		for (size_t k = 0; k < d->n_requests; k++)
			FUZZ_ASSERT(d->requests[k], "devices[%zu].requests[%zu]", i, k);
		if (d->vf) {
			FUZZ_ASSERT(d->vf->pf && d->vf->vf_index >= 0 && d->vf->vf_index <= 65535, "devices[%zu].vf", i);
			FUZZ_ASSERT(d->vf->driver == KY_DRA_VF_DRIVER_KEEP || d->vf->driver == KY_DRA_VF_DRIVER_NETDEVICE ||
					    d->vf->driver == KY_DRA_VF_DRIVER_VFIO,
				    "devices[%zu].vf.driver %d", i, (int)d->vf->driver);
		}
		if (d->fpga)
			FUZZ_ASSERT(d->fpga->bitstream.id && !d->fpga->bitstream.path != !d->fpga->bitstream.url &&
					    strlen(d->fpga->bitstream.sha256) == 64,
				    "devices[%zu].fpga", i);
		if (d->gpu) {
			FUZZ_ASSERT(d->gpu->sharing, "devices[%zu].gpu.sharing", i);
			for (size_t k = 0; k < d->gpu->n_env; k++)
				FUZZ_ASSERT(d->gpu->env[k] && strchr(d->gpu->env[k], '='), "devices[%zu].gpu.env[%zu]", i, k);
		}
		if (d->vf || d->fpga || d->gpu)
			FUZZ_ASSERT(ky_dra_record_version_needed(&rec) == 2, "a config in a version %u record",
				    ky_dra_record_version_needed(&rec));
	}

	/* What kyborgctl makes of it: one user per device at a PCI address. */
	struct ky_node_usage *usage = calloc(1, sizeof(*usage));
	FUZZ_ASSERT(usage, "out of memory");
	r = ky_node_usage_add_dra_record(usage, &rec);
	FUZZ_ASSERT(r == 0 || r == -ENOMEM, "usage of the record: %d", r);
	FUZZ_ASSERT(usage->n <= rec.n_devices, "%zu users of %zu devices", usage->n, rec.n_devices);
	for (size_t i = 0; i < usage->n; i++) {
		FUZZ_ASSERT(ky_pci_addr_valid(usage->users[i].addr), "user at %s", usage->users[i].addr);
		FUZZ_ASSERT(!strncmp(usage->users[i].who, "claim ", 6), "user %s", usage->users[i].who);
	}
	ky_node_usage_free(usage);

	/* Written and read again: after one round, the same JSON. */
	_cleanup_free_ char *once = print(&rec);
	struct ky_dra_record back = { 0 }, again = { 0 }, copy = { 0 };
	reread(once, &back);
	_cleanup_free_ char *twice = print(&back);
	reread(twice, &again);
	_cleanup_free_ char *thrice = print(&again);
	FUZZ_ASSERT(strcmp(twice, thrice) == 0, "the record changes as it is written again:\n%s\n%s", twice, thrice);
	FUZZ_ASSERT(back.n_devices == rec.n_devices && back.state == rec.state && !strcmp(back.claim_uid, rec.claim_uid),
		    "the record read back differs");
	FUZZ_ASSERT(ky_dra_record_copy(&back, &copy, &err) == 0, "copy: %s", ky_error_msg(err));
	_cleanup_free_ char *copied = print(&copy);
	FUZZ_ASSERT(strcmp(copied, twice) == 0, "a copy differs:\n%s\n%s", twice, copied);
	ky_dra_record_clear(&rec);
	ky_dra_record_clear(&back);
	ky_dra_record_clear(&again);
	ky_dra_record_clear(&copy);
	return 0;
}

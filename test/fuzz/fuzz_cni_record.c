/* The CNI plugin's attachment record (common/src/state/cni_record.c) read
 * from its JSON as DEL, CHECK, GC and kyborgctl read it (the state store's
 * reading, then ky_cni_record_from_json). The records are ours, but a
 * corrupt one (a disk, an editor, a newer or older binary) must be read
 * cleanly: the module is lenient by design (a key absent or of another
 * type reads as unset, so a record cut short by a crash still says what it
 * can), refuses only what is no object or a newer version. Checked: no
 * crash, leak or undefined behaviour (a number of any size in any field);
 * -EPROTO exactly for a version above this binary's; an accepted record of
 * a version this binary knows; written back and read again, it is a fixed
 * point after one round; the boot check reads it. */
#include "fuzz.h"
#include "kyborg/base/cleanup.h"
#include "kyborg/state/cni_record.h"

static char *print(const struct ky_cni_record *rec)
{
	_cleanup_(cJSON_Deletep) cJSON *doc = NULL;
	_cleanup_error_ struct ky_error *err = NULL;
	FUZZ_ASSERT(ky_cni_record_to_json(rec, &doc, &err) == 0, "to_json: %s", ky_error_msg(err));
	char *s = cJSON_PrintUnformatted(doc);
	FUZZ_ASSERT(s, "out of memory");
	return s;
}

static struct ky_cni_record *reread(const char *text)
{
	_cleanup_(cJSON_Deletep) cJSON *doc = fuzz_store_parse((const uint8_t *)text, strlen(text));
	_cleanup_error_ struct ky_error *err = NULL;
	struct ky_cni_record *rec = NULL;
	FUZZ_ASSERT(doc, "our record does not decode: %s", text);
	FUZZ_ASSERT(ky_cni_record_from_json(doc, &rec, &err) == 0, "our record is refused: %s: %s", ky_error_msg(err),
		    text);
	return rec;
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
	_cleanup_(ky_cni_record_freep) struct ky_cni_record *rec = NULL;
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, "version");
	bool newer = cJSON_IsNumber(v) && v->valuedouble > KY_CNI_RECORD_VERSION;
	int r = ky_cni_record_from_json(doc, &rec, &err);
	if (r < 0) {
		FUZZ_ASSERT(r == -EPROTO || r == -ENOMEM, "from_json returned %d: %s", r, ky_error_msg(err));
		FUZZ_ASSERT((r == -EPROTO) == newer, "-EPROTO for version %s", newer ? "newer" : "known");
		FUZZ_ASSERT(!rec, "a record with a failure");
		return 0;
	}
	FUZZ_ASSERT(!newer, "a newer record accepted");
	FUZZ_ASSERT(rec->version >= 1 && rec->version <= KY_CNI_RECORD_VERSION, "version %u", rec->version);
	for (size_t i = 0; i < rec->n_journal; i++)
		FUZZ_ASSERT(rec->journal[i], "journal[%zu] is NULL", i);
	(void)ky_cni_record_from_earlier_boot(rec, "0b1c2d3e-boot");

	_cleanup_free_ char *once = print(rec);
	_cleanup_(ky_cni_record_freep) struct ky_cni_record *back = reread(once);
	_cleanup_free_ char *twice = print(back);
	_cleanup_(ky_cni_record_freep) struct ky_cni_record *again = reread(twice);
	_cleanup_free_ char *thrice = print(again);
	FUZZ_ASSERT(strcmp(twice, thrice) == 0, "the record changes as it is written again:\n%s\n%s", twice, thrice);
	FUZZ_ASSERT(back->n_journal == rec->n_journal && back->n_progs == rec->n_progs && back->n_rules == rec->n_rules,
		    "the record read back lost entries");
	return 0;
}

/* The DRA checkpoint record (state/dra_record.h): a record in the
 * documented format round-trips, every required key is named when it is
 * missing, a newer version is refused, and a record saved in the store
 * reads back under its claim's UID. Pure, but for the store in a temp dir. */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <string.h>

#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/json/json.h"
#include "kyborg/state/dra_record.h"
#include "kyborg/state/state_store.h"
#include "kytest.h"

/* The example in dra_record.h, as the driver writes it. */
static const char record[] =
	"{\"version\":1,\"claimUID\":\"5c1e\",\"namespace\":\"ns1\",\"name\":\"gpu\",\"driver\":\"kyborg.io\","
	"\"state\":\"prepared\",\"cdiSpec\":\"/var/run/cdi/kyborg.io-claim_5c1e.json\","
	"\"updatedAt\":\"2026-12-03T08:00:00Z\",\"devices\":[{\"requests\":[\"gpu\"],\"pool\":\"node-a\","
	"\"device\":\"gpu-0000-3b-00-0\",\"pci\":\"0000:3b:00.0\",\"kind\":\"gpu\",\"resource\":\"kyborg.io/gpu\","
	"\"shareID\":\"8c1f\",\"cdiID\":\"kyborg.io/claim=5c1e-gpu-0000-3b-00-0\"},{\"requests\":[\"fpga\"],"
	"\"pool\":\"node-a\",\"device\":\"fpga-0000-af-00-0\",\"pci\":\"0000:af:00.0\",\"kind\":\"fpga\","
	"\"resource\":\"kyborg.io/fpga-nlb\",\"cdiID\":\"kyborg.io/claim=5c1e-fpga-0000-af-00-0\","
	"\"bitstream\":\"d8424dc4a4a3c413f89e433683f9040b\"}]}";

Test(dra_record, the_documented_record_round_trips_key_for_key)
{
	_cleanup_(cJSON_Deletep) cJSON *in = cJSON_Parse(record);
	_cleanup_error_ struct ky_error *err = NULL;
	struct ky_dra_record rec = { 0 }, copy = { 0 };
	cr_assert_eq(ky_dra_record_from_json(in, &rec, &err), 0, "%s", ky_error_msg(err));
	cr_assert_eq(rec.state, KY_DRA_PREPARED);
	cr_assert_eq(rec.n_devices, 2);
	cr_assert_str_eq(rec.devices[0].share_id, "8c1f");
	cr_assert_null(rec.devices[0].bitstream);
	cr_assert_null(rec.devices[1].share_id);
	cr_assert_str_eq(rec.devices[1].requests[0], "fpga");
	cr_assert_eq(ky_dra_record_copy(&rec, &copy, &err), 0);
	_cleanup_(cJSON_Deletep) cJSON *out = NULL;
	cr_assert_eq(ky_dra_record_to_json(&copy, &out, &err), 0);
	cr_assert(cJSON_Compare(in, out, true), "%s", cJSON_PrintUnformatted(out));
	ky_dra_record_clear(&rec);
	ky_dra_record_clear(&copy);
}

Test(dra_record, a_missing_key_is_named_and_a_newer_version_refused)
{
	static const char *const keys[] = { "claimUID", "namespace", "name", "driver", "cdiSpec", "state", "devices" };
	for (size_t i = 0; i < KY_ARRAY_SIZE(keys); i++) {
		_cleanup_(cJSON_Deletep) cJSON *j = cJSON_Parse(record);
		_cleanup_error_ struct ky_error *err = NULL;
		struct ky_dra_record rec = { 0 };
		cJSON_DeleteItemFromObjectCaseSensitive(j, keys[i]);
		cr_expect_eq(ky_dra_record_from_json(j, &rec, &err), -EBADMSG, "without %s", keys[i]);
		cr_expect(strstr(ky_error_msg(err), keys[i]), "%s: %s", keys[i], ky_error_msg(err));
	}
	_cleanup_(cJSON_Deletep) cJSON *j = cJSON_Parse(record);
	_cleanup_error_ struct ky_error *err = NULL;
	struct ky_dra_record rec = { 0 };
	cJSON_DeleteItemFromArray(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "devices"), 1), "requests"), 0);
	cJSON_DeleteItemFromObject(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "devices"), 1), "pci");
	cr_assert_eq(ky_dra_record_from_json(j, &rec, &err), -EBADMSG);
	cr_assert(strstr(ky_error_msg(err), "devices[1].pci"), "%s", ky_error_msg(err));
	cJSON_ReplaceItemInObject(j, "version", cJSON_CreateNumber(2));
	cr_assert_eq(ky_dra_record_from_json(j, &rec, &err), -EPROTO);
	cr_assert(strstr(ky_error_msg(err), "version 2 is newer"), "%s", ky_error_msg(err));
}

Test(dra_record, a_saved_record_reads_back_from_the_store_under_its_uid)
{
	_cleanup_free_ char *dir = kyt_tmpdir("kydrarec");
	_cleanup_free_ char *rdir = ky_dra_record_dir(dir);
	_cleanup_(ky_state_closep) struct ky_state_store *s = NULL;
	_cleanup_error_ struct ky_error *err = NULL;
	_cleanup_(cJSON_Deletep) cJSON *in = cJSON_Parse(record);
	struct ky_dra_record rec = { 0 }, back = { 0 };
	cr_assert_str_eq(strrchr(rdir, '/'), "/dra-claims");
	cr_assert_eq(ky_state_open(rdir, &s, &err), 0, "%s", ky_error_msg(err));
	cr_assert_eq(ky_dra_record_from_json(in, &rec, &err), 0);
	rec.state = KY_DRA_PREPARING;
	{
		_cleanup_(ky_state_unlockp) struct ky_state_lock *l = NULL;
		cr_assert_eq(ky_state_lock(s, rec.claim_uid, 0, &l, &err), 0);
		cr_assert_eq(ky_dra_record_save(l, &rec, true, &err), 0, "%s", ky_error_msg(err));
	}
	cr_assert_eq(ky_dra_record_get(s, "5c1e", &back, &err), 0, "%s", ky_error_msg(err));
	cr_assert_eq(back.state, KY_DRA_PREPARING);
	cr_assert_str_eq(ky_dra_claim_state_name(back.state), "preparing");
	cr_assert_str_eq(back.devices[1].bitstream, "d8424dc4a4a3c413f89e433683f9040b");
	cr_assert_eq(ky_dra_record_get(s, "nope", &rec, &err), -ENOENT);
	ky_dra_record_clear(&rec);
	ky_dra_record_clear(&back);
	kyt_rmrf(dir);
}

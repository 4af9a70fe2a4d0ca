/* state/dp_record: the device plugin's allocation record. The literal
 * records below are in the formats device plugins have written: one record
 * per device (what the plugin of commit e697ad1 writes, as its README
 * showed it) and the earlier one record per resource. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "kytest.h"
#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/json/json.h"
#include "kyborg/state/dp_record.h"
#include "kyborg/state/state_store.h"

#define TODAY                                                                                                  \
	"{\"resource\":\"kyborg.io/fpga-nlb\",\"kind\":\"fpga\",\"device\":\"0000:af:00.0\",\"pci\":\"0000:af:00.0\"," \
	"\"allocatedAt\":\"2026-12-03T08:00:00Z\",\"bitstream\":\"d8424dc4a4a3c413f89e433683f9040b\"}"

Test(dp_record, a_record_of_todays_format_loads_and_writes_back_the_same)
{
	_cleanup_(cJSON_Deletep) cJSON *doc = cJSON_Parse(TODAY);
	struct ky_dp_record *v = NULL;
	size_t n = 0;
	cr_assert_eq(ky_dp_records_from_json(doc, &v, &n, NULL), 0);
	cr_assert_eq(n, 1);
	cr_assert_eq(v[0].version, 1, "no version is version 1");
	cr_assert_str_eq(v[0].resource, "kyborg.io/fpga-nlb");
	cr_assert_str_eq(v[0].kind, "fpga");
	cr_assert_str_eq(v[0].device, "0000:af:00.0");
	cr_assert_str_eq(v[0].pci, "0000:af:00.0");
	cr_assert_str_eq(v[0].allocated_at, "2026-12-03T08:00:00Z");
	cr_assert_str_eq(v[0].bitstream, "d8424dc4a4a3c413f89e433683f9040b");
	_cleanup_(cJSON_Deletep) cJSON *got = NULL;
	cr_assert_eq(ky_dp_record_to_json(&v[0], &got, NULL), 0);
	cJSON_AddNumberToObject(doc, "version", 1);
	cr_assert(cJSON_Compare(doc, got, true), "%s", cJSON_PrintUnformatted(got));
	ky_dp_records_free(v, n);
}

Test(dp_record, the_earlier_per_resource_layout_reads_as_one_record_per_device)
{
	_cleanup_(cJSON_Deletep) cJSON *doc = cJSON_Parse(
		"{\"resource\":\"kyborg.io/gpu\",\"kind\":\"gpu\",\"devices\":{"
		"\"0000:3b:00.0::1\":{\"pci\":\"0000:3b:00.0\",\"allocatedAt\":\"2026-12-03T08:00:00Z\"},"
		"\"broken\":{\"allocatedAt\":\"x\"}}}");
	struct ky_dp_record *v = NULL;
	size_t n = 0;
	cr_assert_eq(ky_dp_records_from_json(doc, &v, &n, NULL), 0);
	cr_assert_eq(n, 2);
	cr_assert_str_eq(v[0].resource, "kyborg.io/gpu");
	cr_assert_str_eq(v[0].device, "0000:3b:00.0::1");
	cr_assert_str_eq(v[0].pci, "0000:3b:00.0");
	cr_assert_str_eq(v[1].device, "broken");
	cr_assert_null(v[1].pci, "an entry without its function");
	ky_dp_records_free(v, n);
}

Test(dp_record, keys_and_directory_are_the_ones_on_nodes)
{
	_cleanup_free_ char *key = ky_dp_record_key("kyborg.io/gpu", "0000:3b:00.0::1");
	cr_assert_str_eq(key, "kyborg.io_gpu@0000:3b:00.0::1");
	cr_assert(ky_state_key_valid(key));
	_cleanup_free_ char *dir = ky_dp_record_dir("/var/lib/kyborg");
	cr_assert_str_eq(dir, "/var/lib/kyborg/allocations");
}

Test(dp_record, a_newer_version_is_refused)
{
	_cleanup_(cJSON_Deletep) cJSON *doc = cJSON_Parse("{\"version\":2,\"pci\":\"0000:3b:00.0\"}");
	_cleanup_error_ struct ky_error *err = NULL;
	struct ky_dp_record *v = NULL;
	size_t n = 0;
	cr_assert_eq(ky_dp_records_from_json(doc, &v, &n, &err), -EPROTO);
	cr_assert(strstr(ky_error_msg(err), "newer"), "%s", ky_error_msg(err));
}

Test(dp_record, saved_under_its_key_it_loads_back_and_a_resources_record_is_no_devices)
{
	_cleanup_free_ char *dir = kyt_tmpdir("kytest-dprec");
	_cleanup_error_ struct ky_error *err = NULL;
	_cleanup_(ky_state_closep) struct ky_state_store *s = NULL;
	cr_assert_eq(ky_state_open(dir, &s, &err), 0, "%s", ky_error_msg(err));
	const struct ky_dp_record rec = { .version = KY_DP_RECORD_VERSION, .resource = "kyborg.io/gpu", .kind = "gpu",
					  .device = "0000:3b:00.0::1", .pci = "0000:3b:00.0",
					  .allocated_at = "2026-12-03T08:00:00Z" };
	{
		_cleanup_(ky_state_unlockp) struct ky_state_lock *l = NULL;
		cr_assert_eq(ky_state_lock(s, "kyborg.io_gpu@0000:3b:00.0::1", 0, &l, &err), 0);
		cr_assert_eq(ky_dp_record_save(l, &rec, &err), 0, "%s", ky_error_msg(err));
		_cleanup_(ky_dp_record_clear) struct ky_dp_record back = { 0 };
		cr_assert_eq(ky_dp_record_load(l, &back, &err), 0, "%s", ky_error_msg(err));
		cr_assert_str_eq(back.device, rec.device);
		cr_assert_str_eq(back.pci, rec.pci);
		cr_assert_null(back.bitstream);
	}
	{
		_cleanup_(ky_state_unlockp) struct ky_state_lock *l = NULL;
		cr_assert_eq(ky_state_lock(s, "kyborg.io_gpu", 0, &l, &err), 0);
		_cleanup_(cJSON_Deletep) cJSON *old = cJSON_Parse("{\"resource\":\"kyborg.io/gpu\",\"devices\":{}}");
		cr_assert_eq(ky_state_write(l, old, &err), 0);
		_cleanup_(ky_dp_record_clear) struct ky_dp_record back = { 0 };
		cr_assert_eq(ky_dp_record_load(l, &back, &err), -EBADMSG);
	}
	struct ky_dp_record *v = NULL;
	size_t n = 0;
	cr_assert_eq(ky_dp_records_get(s, "kyborg.io_gpu@0000:3b:00.0::1", &v, &n, &err), 0);
	cr_assert_eq(n, 1);
	cr_assert_str_eq(v[0].allocated_at, "2026-12-03T08:00:00Z");
	ky_dp_records_free(v, n);
	ky_state_close(TAKE_PTR(s));
	kyt_rmrf(dir);
}

/* The DRA checkpoint record (state/dra_record.h): a record in the
 * documented format round-trips, every required key is named when it is
 * missing, a newer version is refused, and a record saved in the store
 * reads back under its claim's UID; version 2's per-device configuration
 * (issue 17: a VfConfig with its journal, an FpgaConfig, a GpuConfig)
 * round-trips, and a record without any is still written as version 1.
 * Pure, but for the store in a temp dir. */
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
	cJSON_ReplaceItemInObject(j, "version", cJSON_CreateNumber(3));
	cr_assert_eq(ky_dra_record_from_json(j, &rec, &err), -EPROTO);
	cr_assert(strstr(ky_error_msg(err), "version 3 is newer"), "%s", ky_error_msg(err));
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

/* Version 2: a VF configured by the claim, with the previous values saved
 * before the change; an FPGA with the claim's own image; a GPU's use. */
static const char record_v2[] =
	"{\"version\":2,\"claimUID\":\"7a2b\",\"namespace\":\"ns1\",\"name\":\"mixed\",\"driver\":\"kyborg.io\","
	"\"state\":\"preparing\",\"cdiSpec\":\"/var/run/cdi/kyborg.io-claim_7a2b.json\",\"devices\":["
	"{\"requests\":[\"nic\"],\"pool\":\"node-a\",\"device\":\"vf-0000-18-01-1\",\"pci\":\"0000:18:01.1\","
	"\"kind\":\"vf\",\"resource\":\"kyborg.io/vf\",\"cdiID\":\"kyborg.io/claim=7a2b-vf-0000-18-01-1\","
	"\"configPath\":\"config[1]\",\"vf\":{\"pf\":\"ens1f0\",\"vfIndex\":1,"
	"\"set\":{\"mask\":6,\"mac\":\"00:00:00:00:00:00\",\"vlan\":100,\"qos\":5,\"vlanProto\":34984,"
	"\"minTxRate\":0,\"maxTxRate\":1000,\"spoofchk\":false,\"trust\":false,\"linkState\":0},"
	"\"driver\":\"vfio-pci\","
	"\"saved\":{\"mask\":6,\"mac\":\"02:00:00:00:00:01\",\"vlan\":20,\"qos\":1,\"vlanProto\":33024,"
	"\"minTxRate\":5,\"maxTxRate\":50,\"spoofchk\":true,\"trust\":false,\"linkState\":0},"
	"\"savedDriver\":\"iavf\",\"savedOverride\":\"\"}},"
	"{\"requests\":[\"fpga\"],\"pool\":\"node-a\",\"device\":\"fpga-0000-af-00-0\",\"pci\":\"0000:af:00.0\","
	"\"kind\":\"fpga\",\"resource\":\"kyborg.io/fpga\",\"cdiID\":\"kyborg.io/claim=7a2b-fpga-0000-af-00-0\","
	"\"bitstream\":\"d8424dc4a4a3c413f89e433683f9040b\",\"configPath\":\"config[0]\","
	"\"fpga\":{\"bitstream\":{\"id\":\"d8424dc4a4a3c413f89e433683f9040b\",\"url\":\"https://images.example/nlb.gbs\","
	"\"sha256\":\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"},"
	"\"previousId\":\"00000000000000000000000000000000\"}},"
	"{\"requests\":[\"gpu\"],\"pool\":\"node-a\",\"device\":\"gpu-0000-3b-00-0\",\"pci\":\"0000:3b:00.0\","
	"\"kind\":\"gpu\",\"resource\":\"kyborg.io/gpu\",\"cdiID\":\"kyborg.io/claim=7a2b-gpu-0000-3b-00-0\","
	"\"configPath\":\"config[2]\",\"gpu\":{\"sharing\":\"timeSliced\",\"env\":[\"CUDA_MPS_PIPE=/tmp/a\"]}}]}";

Test(dra_record, a_version_2_record_with_each_config_kind_round_trips)
{
	_cleanup_(cJSON_Deletep) cJSON *in = cJSON_Parse(record_v2);
	_cleanup_error_ struct ky_error *err = NULL;
	struct ky_dra_record rec = { 0 }, copy = { 0 };
	cr_assert_not_null(in);
	cr_assert_eq(ky_dra_record_from_json(in, &rec, &err), 0, "%s", ky_error_msg(err));
	const struct ky_dra_record_vf *v = rec.devices[0].vf;
	cr_assert_not_null(v);
	cr_assert_str_eq(v->pf, "ens1f0");
	cr_assert_eq(v->vf_index, 1);
	cr_assert_eq(v->set.vlan, 100);
	cr_assert_eq(v->set.mask, KY_VF_VLAN | KY_VF_RATE);
	cr_assert_eq(v->driver, KY_DRA_VF_DRIVER_VFIO);
	cr_assert(v->saved);
	cr_assert_eq(v->prev.vlan, 20);
	cr_assert_eq(v->prev.max_tx_rate, 50);
	cr_assert_str_eq(v->prev_driver, "iavf");
	cr_assert_str_eq(v->prev_override, "");
	cr_assert_str_eq(rec.devices[1].fpga->bitstream.url, "https://images.example/nlb.gbs");
	cr_assert_str_eq(rec.devices[1].fpga->prev_id, "00000000000000000000000000000000");
	cr_assert_str_eq(rec.devices[2].gpu->sharing, "timeSliced");
	cr_assert_eq(rec.devices[2].gpu->n_env, 1);
	cr_assert_str_eq(rec.devices[2].config_path, "config[2]");
	cr_assert_eq(ky_dra_record_version_needed(&rec), 2);
	cr_assert_eq(ky_dra_record_copy(&rec, &copy, &err), 0, "%s", ky_error_msg(err));
	_cleanup_(cJSON_Deletep) cJSON *out = NULL;
	cr_assert_eq(ky_dra_record_to_json(&copy, &out, &err), 0);
	cr_assert(cJSON_Compare(in, out, true), "%s", cJSON_PrintUnformatted(out));
	ky_dra_record_clear(&rec);
	ky_dra_record_clear(&copy);
}

Test(dra_record, a_record_without_configs_is_still_written_as_version_1)
{
	_cleanup_(cJSON_Deletep) cJSON *in = cJSON_Parse(record), *out = NULL;
	_cleanup_error_ struct ky_error *err = NULL;
	struct ky_dra_record rec = { 0 };
	cr_assert_eq(ky_dra_record_from_json(in, &rec, &err), 0);
	rec.version = 0; /* as the driver plans a claim */
	cr_assert_eq(ky_dra_record_to_json(&rec, &out, &err), 0);
	cr_assert_eq(cJSON_GetObjectItem(out, "version")->valueint, 1, "a binary that knows version 1 still reads it");
	ky_dra_record_clear(&rec);
}

Test(dra_record, a_bad_version_2_key_is_named_with_its_device)
{
	static const struct {
		const char *device_key, *replace, *want;
	} cases[] = {
		{ "vf", "{\"vfIndex\":1}", "devices[0].vf.pf: missing" },
		{ "vf", "{\"pf\":\"p\",\"vfIndex\":-1}", "devices[0].vf.vfIndex" },
		{ "vf", "{\"pf\":\"p\",\"vfIndex\":1,\"driver\":\"uio\"}", "devices[0].vf.driver" },
		{ "fpga", "{\"bitstream\":{\"id\":\"x\",\"path\":\"/a\",\"sha256\":\"12\"}}", "devices[0].fpga.bitstream.sha256" },
		{ "gpu", "{\"env\":[]}", "devices[0].gpu.sharing: missing" },
		{ "gpu", "{\"sharing\":\"exclusive\",\"env\":[\"NOEQUALS\"]}", "devices[0].gpu.env[0]" },
	};
	for (size_t i = 0; i < KY_ARRAY_SIZE(cases); i++) {
		_cleanup_(cJSON_Deletep) cJSON *j = cJSON_Parse(record_v2);
		_cleanup_error_ struct ky_error *err = NULL;
		struct ky_dra_record rec = { 0 };
		cJSON *dev = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "devices"), 0);
		cJSON_DeleteItemFromObject(dev, "vf");
		cJSON_AddItemToObject(dev, cases[i].device_key, cJSON_Parse(cases[i].replace));
		cr_expect_eq(ky_dra_record_from_json(j, &rec, &err), -EBADMSG, "case %zu", i);
		cr_expect(err && strstr(ky_error_msg(err), cases[i].want), "case %zu: %s", i, err ? ky_error_msg(err) : "");
	}
}

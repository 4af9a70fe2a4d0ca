/* state/cni_record: the CNI attachment record. Records on nodes today keep
 * loading: test/data/records/cni-v1-veth-bpf.json is a record the plugin of
 * commit e697ad1 wrote (ADD of a veth with IPAM and three programs; only
 * its paths shortened), cni-v1-vf-offload.json one that plugin's writer
 * makes for a VF with settings, a program required in hardware and two
 * offload rules. Both carry "kyborg": 1 and no "version". */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "kytest.h"
#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/json/json.h"
#include "kyborg/state/cni_record.h"
#include "kyborg/state/state_store.h"

static cJSON *data_doc(const char *name)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/records/%s", KYTEST_DATA_DIR, name);
	_cleanup_free_ char *text = kyt_read_file(path);
	cr_assert_not_null(text, "%s", path);
	cJSON *doc = cJSON_Parse(text);
	cr_assert_not_null(doc, "%s", path);
	return doc;
}

static struct ky_cni_record *load(const cJSON *doc)
{
	_cleanup_error_ struct ky_error *err = NULL;
	struct ky_cni_record *rec = NULL;
	cr_assert_eq(ky_cni_record_from_json(doc, &rec, &err), 0, "%s", ky_error_msg(err));
	return rec;
}

/* What a record of today's format becomes when written again: the same
 * document, its "kyborg": 1 marker now "version": 1. */
static void assert_written_back_the_same(const cJSON *old, const struct ky_cni_record *rec)
{
	_cleanup_(cJSON_Deletep) cJSON *want = cJSON_Duplicate(old, true);
	cJSON_DeleteItemFromObjectCaseSensitive(want, "kyborg");
	cJSON_AddNumberToObject(want, "version", 1);
	_cleanup_(cJSON_Deletep) cJSON *got = NULL;
	cr_assert_eq(ky_cni_record_to_json(rec, &got, NULL), 0);
	_cleanup_free_ char *w = cJSON_PrintUnformatted(want), *g = cJSON_PrintUnformatted(got);
	cr_assert(cJSON_Compare(want, got, true), "written back:\n%s\nwant:\n%s", g, w);
}

Test(cni_record, a_veth_record_of_todays_format_loads_typed_and_writes_back_the_same)
{
	_cleanup_(cJSON_Deletep) cJSON *doc = data_doc("cni-v1-veth-bpf.json");
	_cleanup_(ky_cni_record_freep) struct ky_cni_record *rec = load(doc);
	cr_assert_eq(rec->version, 1, "no version is version 1");
	cr_assert_str_eq(rec->network, "capnet");
	cr_assert_str_eq(rec->container_id, "capc1");
	cr_assert_str_eq(rec->ifname, "eth0");
	cr_assert_str_eq(rec->netns, "/var/run/netns/cap13ns");
	cr_assert_str_eq(rec->boot_id, "45310cc3-e90d-465c-b330-a0c27d0fe336");
	cr_assert_str_eq(rec->cni_version, "1.1.0");
	const struct ky_cni_record_device *d = &rec->device;
	cr_assert(!d->chained && d->netdev && !d->up);
	cr_assert_str_eq(d->name, "cap13a");
	cr_assert(d->has_ifindex && d->has_mac && d->has_mtu);
	cr_assert_eq(d->ifindex, 236);
	cr_assert_eq(d->mac[0], 0x1e);
	cr_assert_eq(d->mtu, 1500);
	cr_assert_null(d->pci, "a veth has no PCI address");
	cr_assert_null(d->pf);
	cr_assert(rec->has_requested_mac);
	cr_assert_eq(rec->requested_mac[5], 0x01);
	cr_assert_str_eq(rec->ipam_type, "host-local");
	cr_assert(strstr(rec->ipam_conf, "\"dataDir\":\"/var/lib/cni/kyborg-test/ipam\""), "%s", rec->ipam_conf);
	static const char *const steps[] = { "reserve", "move", "link", "ipam", "addresses", "bpf" };
	cr_assert_eq(rec->n_journal, 6);
	for (size_t i = 0; i < 6; i++)
		cr_assert_str_eq(rec->journal[i], steps[i]);
	cr_assert_not(rec->has_vf_saved);
	cr_assert(rec->pod.present && rec->pod.has_mac);
	cr_assert_eq(rec->pod.mtu, 1400);
	cr_assert_eq(rec->pod_ifindex, 236);
	cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(
				 cJSON_GetObjectItem(rec->ipam_result, "ips"), 0), "address")), "10.77.0.2/24");
	cr_assert(rec->clsact.present && rec->clsact.created);
	cr_assert_eq(rec->clsact.ifindex, 236);
	cr_assert_eq(rec->n_progs, 3);
	const struct ky_cni_record_prog *p = rec->progs;
	cr_assert(p[0].has_hook && p[0].has_prog_id && !p[0].has_in_hw);
	cr_assert_eq(p[0].at.hook, KY_BPF_TC_EGRESS);
	cr_assert_str_eq(p[0].program, "kyborg_antispoof");
	cr_assert_eq(p[0].at.prog_id, 1267);
	cr_assert_eq(p[0].at.handle, 1);
	cr_assert_eq(p[0].at.priority, 48896);
	cr_assert_eq(p[0].at.hw, KY_BPF_HW_DEFAULT);
	cr_assert_eq(p[1].index, 1);
	cr_assert_eq(p[1].at.hook, KY_BPF_TC_INGRESS);
	cr_assert_eq(p[2].at.hook, KY_BPF_XDP);
	cr_assert_eq(p[2].at.xdp_flags, 4);
	cr_assert_eq(p[2].at.ifindex, 236);
	cr_assert_eq(rec->n_rules, 0);
	cr_assert_not_null(cJSON_GetObjectItem(rec->result, "interfaces"));
	cr_assert(rec->complete);
	assert_written_back_the_same(doc, rec);
}

Test(cni_record, a_vf_record_of_todays_format_keeps_its_settings_rules_and_pci_address)
{
	_cleanup_(cJSON_Deletep) cJSON *doc = data_doc("cni-v1-vf-offload.json");
	_cleanup_(ky_cni_record_freep) struct ky_cni_record *rec = load(doc);
	const struct ky_cni_record_device *d = &rec->device;
	cr_assert_str_eq(d->pci, "0000:18:01.0");
	cr_assert_str_eq(d->pf, "ens1f0");
	cr_assert(d->has_vf_index);
	cr_assert_eq(d->vf_index, 0);
	cr_assert(rec->has_vf_saved);
	cr_assert_eq(rec->vf_saved.mask, 3);
	cr_assert_eq(rec->vf_saved.vlan_proto, 0x8100);
	cr_assert(rec->vf_saved.spoofchk && !rec->vf_saved.trust);
	cr_assert_eq(rec->vf_saved.mac[5], 0x01);
	cr_assert_eq(rec->n_progs, 1);
	cr_assert_eq(rec->progs[0].at.hw, KY_BPF_HW_REQUIRED);
	cr_assert(rec->progs[0].has_in_hw && rec->progs[0].at.in_hw);
	cr_assert_eq(rec->n_rules, 2);
	cr_assert(rec->rules[0].readable && rec->rules[1].readable);
	cr_assert_eq(rec->rules[0].at.dir, KY_FLOWER_EGRESS);
	cr_assert_eq(rec->rules[1].at.dir, KY_FLOWER_INGRESS);
	cr_assert_eq(rec->rules[0].at.priority, 49024);
	cr_assert(rec->rules[0].has_in_hw && rec->rules[0].at.in_hw && !rec->rules[1].at.in_hw);
	cr_assert_eq(rec->rules[1].ifindex, 12);
	assert_written_back_the_same(doc, rec);
}

Test(cni_record, a_chained_record_names_only_the_interface)
{
	_cleanup_(cJSON_Deletep) cJSON *doc = cJSON_Parse(
		"{\"kyborg\":1,\"network\":\"n\",\"containerID\":\"c\",\"ifname\":\"net1\",\"netns\":\"/run/netns/x\","
		"\"bootID\":\"B\",\"cniVersion\":\"1.0.0\",\"device\":{\"chained\":true,\"name\":\"net1\"},"
		"\"journal\":[\"reserve\",\"bpf\"],\"result\":{\"cniVersion\":\"1.0.0\"},\"complete\":true}");
	_cleanup_(ky_cni_record_freep) struct ky_cni_record *rec = load(doc);
	cr_assert(rec->device.chained);
	cr_assert_str_eq(rec->device.name, "net1");
	cr_assert_null(rec->device.pci);
	assert_written_back_the_same(doc, rec);
}

Test(cni_record, a_record_cut_short_or_mistyped_reads_what_it_can)
{
	_cleanup_(cJSON_Deletep) cJSON *doc = cJSON_Parse(
		"{\"containerID\":\"x\",\"ifname\":7,\"device\":{\"pciID\":\"0000:18:01.1\",\"mtu\":\"big\"},"
		"\"journal\":[\"reserve\",3,\"vf-config\"],\"vfSaved\":{\"mask\":3},\"bpf\":[{\"attach\":\"nowhere\"}],"
		"\"offload\":[{\"handle\":1}],\"pod\":\"up\"}");
	_cleanup_(ky_cni_record_freep) struct ky_cni_record *rec = load(doc);
	cr_assert_str_eq(rec->container_id, "x");
	cr_assert_null(rec->ifname, "not a string: unset");
	cr_assert_str_eq(rec->device.pci, "0000:18:01.1");
	cr_assert(rec->device.netdev, "an absent netdev reads true");
	cr_assert_not(rec->device.has_mtu);
	cr_assert_eq(rec->n_journal, 3);
	cr_assert_str_eq(rec->journal[1], "", "a step name that is no string names no step");
	cr_assert(rec->has_vf_saved);
	cr_assert_eq(rec->vf_saved.mask, 0, "saved settings without their MAC restore nothing");
	cr_assert_eq(rec->n_progs, 1);
	cr_assert_not(rec->progs[0].has_hook || rec->progs[0].has_prog_id);
	cr_assert_not(rec->rules[0].readable, "a rule without direction");
	cr_assert_not(rec->pod.present);
	cr_assert_not(rec->complete);
	cr_assert_null(rec->boot_id);
	cr_assert_not(ky_cni_record_from_earlier_boot(rec, "B1"), "no boot ID: this boot's");
}

Test(cni_record, a_number_outside_its_fields_range_reads_as_unset)
{
	/* Fuzz finding F3: each number was converted with a plain cast, which
	 * is undefined for 1e99 or -1 in an unsigned field (UBSan) and gave
	 * whatever the CPU makes of it (70000 as a VLAN: 4464). */
	_cleanup_(cJSON_Deletep) cJSON *doc = cJSON_Parse(
		"{\"device\":{\"ifindex\":1e99,\"mtu\":-1,\"vfIndex\":2.5},\"podIfindex\":-1e99,"
		"\"vfSaved\":{\"mask\":1e99,\"vlan\":70000,\"qos\":3,\"linkState\":9,\"mac\":\"aa:bb:cc:00:00:01\"},"
		"\"bpf\":[{\"progId\":4294967296,\"handle\":4294967295}],\"rdma\":{\"index\":-3}}");
	_cleanup_(ky_cni_record_freep) struct ky_cni_record *rec = load(doc);
	cr_assert_not(rec->device.has_ifindex);
	cr_assert_not(rec->device.has_mtu);
	cr_assert_not(rec->device.has_vf_index, "a fraction is no VF index");
	cr_assert_eq(rec->pod_ifindex, 0);
	cr_assert_eq(rec->vf_saved.mask, 0);
	cr_assert_eq(rec->vf_saved.vlan, 0);
	cr_assert_eq(rec->vf_saved.qos, 3, "a number in range is read");
	cr_assert_eq(rec->vf_saved.link_state, 0);
	cr_assert_not(rec->progs[0].has_prog_id);
	cr_assert_eq(rec->progs[0].at.handle, 4294967295u);
	cr_assert_eq(rec->rdma.index, 0);
	_cleanup_error_ struct ky_error *err = NULL;
	struct ky_cni_record *newer = NULL;
	_cleanup_(cJSON_Deletep) cJSON *huge = cJSON_Parse("{\"version\":1e99}");
	cr_assert_eq(ky_cni_record_from_json(huge, &newer, &err), -EPROTO);
}

Test(cni_record, a_newer_version_is_refused_and_not_an_object_is_corrupt)
{
	_cleanup_error_ struct ky_error *err = NULL;
	struct ky_cni_record *rec = NULL;
	_cleanup_(cJSON_Deletep) cJSON *newer = cJSON_Parse("{\"version\":2,\"network\":\"n\"}");
	cr_assert_eq(ky_cni_record_from_json(newer, &rec, &err), -EPROTO);
	cr_assert(strstr(ky_error_msg(err), "version 2 is newer"), "%s", ky_error_msg(err));
	_cleanup_(cJSON_Deletep) cJSON *list = cJSON_Parse("[]");
	cr_assert_eq(ky_cni_record_from_json(list, &rec, &err), -EBADMSG);
	cr_assert_null(rec);
}

Test(cni_record, earlier_boot_is_the_boot_id_rule)
{
	_cleanup_(cJSON_Deletep) cJSON *doc = cJSON_Parse("{\"bootID\":\"B0\"}");
	_cleanup_(ky_cni_record_freep) struct ky_cni_record *rec = load(doc);
	cr_assert(ky_cni_record_from_earlier_boot(rec, "B1"));
	cr_assert_not(ky_cni_record_from_earlier_boot(rec, "B0"));
}

Test(cni_record, saved_in_the_state_store_it_loads_back_under_the_lock_and_without)
{
	_cleanup_free_ char *dir = kyt_tmpdir("kytest-cnirec");
	_cleanup_error_ struct ky_error *err = NULL;
	_cleanup_(ky_state_closep) struct ky_state_store *s = NULL;
	cr_assert_eq(ky_state_open(dir, &s, &err), 0, "%s", ky_error_msg(err));
	_cleanup_(cJSON_Deletep) cJSON *doc = data_doc("cni-v1-vf-offload.json");
	_cleanup_(ky_cni_record_freep) struct ky_cni_record *rec = load(doc);
	for (int durable = 0; durable < 2; durable++) {
		_cleanup_(ky_state_unlockp) struct ky_state_lock *l = NULL;
		cr_assert_eq(ky_state_lock(s, "sriovnet:pod1:net1", 0, &l, &err), 0, "%s", ky_error_msg(err));
		cr_assert_eq(ky_cni_record_save(l, rec, durable, &err), 0, "%s", ky_error_msg(err));
		_cleanup_(ky_cni_record_freep) struct ky_cni_record *back = NULL, *got = NULL;
		cr_assert_eq(ky_cni_record_load(l, &back, &err), 0, "%s", ky_error_msg(err));
		cr_assert_eq(ky_cni_record_get(s, "sriovnet:pod1:net1", &got, &err), 0, "%s", ky_error_msg(err));
		assert_written_back_the_same(doc, back);
		assert_written_back_the_same(doc, got);
	}
	struct ky_cni_record *none = NULL;
	cr_assert_eq(ky_cni_record_get(s, "sriovnet:pod2:net1", &none, &err), -ENOENT);
	ky_state_close(TAKE_PTR(s));
	kyt_rmrf(dir);
}

/* The RDMA device ADD moved with the netdev (issue 15): named and indexed
 * under "rdma", read back, and absent from a record that moved none (the
 * records above write back without it). */
Test(cni_record, the_rdma_device_moved_is_recorded_and_read_back)
{
	_cleanup_(cJSON_Deletep) cJSON *doc = data_doc("cni-v1-vf-offload.json");
	_cleanup_(ky_cni_record_freep) struct ky_cni_record *rec = load(doc);
	cr_assert_null(rec->rdma.name);
	rec->rdma.name = strdup("mlx5_3");
	rec->rdma.index = 7;
	_cleanup_(cJSON_Deletep) cJSON *out = NULL;
	cr_assert_eq(ky_cni_record_to_json(rec, &out, NULL), 0);
	const cJSON *rdma = cJSON_GetObjectItemCaseSensitive(out, "rdma");
	cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rdma, "name")), "mlx5_3");
	cr_assert_eq(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(rdma, "index")), 7);
	_cleanup_(ky_cni_record_freep) struct ky_cni_record *back = load(out);
	cr_assert_str_eq(back->rdma.name, "mlx5_3");
	cr_assert_eq(back->rdma.index, 7);
}

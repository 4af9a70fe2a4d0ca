/* The CNI attachment record and its JSON: every key of it is named here,
 * once, for the plugin that writes it and every binary that reads it. */
#include "kyborg/state/cni_record.h"
#include "kyborg/base/error.h"
#include "kyborg/json/json.h"
#include "kyborg/base/inet.h"
#include "kyborg/base/strv.h"
#include "kyborg/state/boot.h"
#include "kyborg/state/state_store.h"
#include "record_vf.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* The keys. */
#define K_VERSION "version"
#define K_NETWORK "network"
#define K_CONTAINER_ID "containerID"
#define K_IFNAME "ifname"
#define K_NETNS "netns"
#define K_BOOT_ID "bootID"
#define K_CNI_VERSION "cniVersion"
#define K_DEVICE "device"
#define K_REQUESTED_MAC "requestedMac"
#define K_IPAM_TYPE "ipamType"
#define K_IPAM_CONF "ipamConf"
#define K_JOURNAL "journal"
#define K_VF_SAVED "vfSaved"
#define K_POD "pod"
#define K_POD_IFINDEX "podIfindex"
#define K_IPAM_RESULT "ipamResult"
#define K_CLSACT_CREATED "clsactCreated"
#define K_CLSACT_IFINDEX "clsactIfindex"
#define K_RDMA "rdma"
#define K_BPF "bpf"
#define K_OFFLOAD "offload"
#define K_RESULT "result"
#define K_COMPLETE "complete"
/* in "device" */
#define K_CHAINED "chained"
#define K_NETDEV "netdev"
#define K_NAME "name"
#define K_IFINDEX "ifindex"
#define K_MAC "mac"
#define K_MTU "mtu"
#define K_UP "up"
#define K_PCI "pciID"
#define K_PF "pf"
#define K_VF_INDEX "vfIndex"
/* "vfSaved" holds record_vf.h's keys. */
/* in an entry of "bpf" or "offload" (and K_IFINDEX) */
#define K_INDEX "index"
#define K_ATTACH "attach"
#define K_OBJECT "object"
#define K_PROGRAM "program"
#define K_PROG_ID "progId"
#define K_XDP_FLAGS "xdpFlags"
#define K_HANDLE "handle"
#define K_PRIORITY "priority"
#define K_HW "hw"
#define K_IN_HW "inHw"
#define K_DIRECTION "direction"

/* "version" before it existed. */
#define LEGACY_VERSION 1

static const char *const direction_names[] = { "ingress", "egress", NULL };

struct ky_cni_record *ky_cni_record_new(void)
{
	struct ky_cni_record *rec = calloc(1, sizeof(*rec));
	if (rec)
		rec->version = KY_CNI_RECORD_VERSION;
	return rec;
}

static void device_free(struct ky_cni_record_device *d)
{
	free(d->name);
	free(d->pci);
	free(d->pf);
}

void ky_cni_record_progs_clear(struct ky_cni_record *rec)
{
	for (size_t i = 0; i < rec->n_progs; i++) {
		free(rec->progs[i].object);
		free(rec->progs[i].program);
	}
	free(rec->progs);
	rec->progs = NULL;
	rec->n_progs = 0;
}

void ky_cni_record_rules_clear(struct ky_cni_record *rec)
{
	free(rec->rules);
	rec->rules = NULL;
	rec->n_rules = 0;
}

void ky_cni_record_free(struct ky_cni_record *rec)
{
	if (!rec)
		return;
	free(rec->network);
	free(rec->container_id);
	free(rec->ifname);
	free(rec->netns);
	free(rec->boot_id);
	free(rec->cni_version);
	device_free(&rec->device);
	free(rec->ipam_type);
	free(rec->ipam_conf);
	free(rec->rdma.name);
	ky_strv_freen(rec->journal, rec->n_journal);
	cJSON_Delete(rec->ipam_result);
	ky_cni_record_progs_clear(rec);
	ky_cni_record_rules_clear(rec);
	cJSON_Delete(rec->result);
	free(rec);
}

int ky_cni_record_journal_add(struct ky_cni_record *rec, const char *step)
{
	return ky_strv_append(&rec->journal, &rec->n_journal, "%s", step);
}

/* Appends a zeroed element of `size` bytes to the array *v of *n: the new
 * element, or NULL when out of memory (the array unchanged). */
static void *append_zeroed(void **v, size_t *n, size_t size)
{
	char *p = realloc(*v, (*n + 1) * size);
	if (!p)
		return NULL;
	*v = p;
	memset(p + *n * size, 0, size);
	return p + (*n)++ * size;
}

struct ky_cni_record_prog *ky_cni_record_prog_add(struct ky_cni_record *rec)
{
	return append_zeroed((void **)&rec->progs, &rec->n_progs, sizeof(*rec->progs));
}

struct ky_cni_record_rule *ky_cni_record_rule_add(struct ky_cni_record *rec)
{
	return append_zeroed((void **)&rec->rules, &rec->n_rules, sizeof(*rec->rules));
}

bool ky_cni_record_from_earlier_boot(const struct ky_cni_record *rec, const char *current_boot)
{
	return ky_boot_earlier(rec->boot_id, current_boot);
}

/* ---- reading: what is absent or of another type reads as unset ---- */

static const cJSON *item(const cJSON *o, const char *k)
{
	return cJSON_GetObjectItemCaseSensitive(o, k);
}

static const char *str(const cJSON *o, const char *k)
{
	return cJSON_GetStringValue(item(o, k));
}

/* The integer at k when it is one in [min, max], else 0 (read as unset:
 * a corrupt or foreign number is not converted; fuzz finding F3, a plain
 * cast of 1e99 or -1 was undefined); *has says which. */
static int64_t num(const cJSON *o, const char *k, int64_t min, int64_t max, bool *has)
{
	int64_t v = 0;
	bool is = ky_json_int_at(o, k, min, max, &v);
	if (has)
		*has = is;
	return v;
}

#define NUM_INT(o, k, has) ((int)num(o, k, INT_MIN, INT_MAX, has))
#define NUM_U32(o, k, has) ((uint32_t)num(o, k, 0, UINT32_MAX, has))

static bool flag(const cJSON *o, const char *k)
{
	return cJSON_IsTrue(item(o, k));
}

/* *out = a copy of the string at k, or NULL when there is none. */
static int take_str(const cJSON *o, const char *k, char **out)
{
	const char *s = str(o, k);
	*out = s ? strdup(s) : NULL;
	return s && !*out ? -ENOMEM : 0;
}

static bool take_mac(const cJSON *o, const char *k, uint8_t mac[6])
{
	const char *s = str(o, k);
	return s && ky_parse_mac(s, mac) == 0;
}

static int name_index(const char *s, const char *const names[])
{
	for (int i = 0; s && names[i]; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

static int device_from_json(const cJSON *o, struct ky_cni_record_device *d)
{
	bool has;
	d->chained = flag(o, K_CHAINED);
	d->netdev = !cJSON_IsFalse(item(o, K_NETDEV));
	d->has_mac = take_mac(o, K_MAC, d->mac);
	d->ifindex = NUM_INT(o, K_IFINDEX, &d->has_ifindex);
	d->mtu = NUM_U32(o, K_MTU, &d->has_mtu);
	d->up = flag(o, K_UP);
	d->vf_index = NUM_INT(o, K_VF_INDEX, &has);
	d->has_vf_index = has;
	if (take_str(o, K_NAME, &d->name) < 0 || take_str(o, K_PCI, &d->pci) < 0 || take_str(o, K_PF, &d->pf) < 0)
		return -ENOMEM;
	return 0;
}

static int prog_from_json(const cJSON *o, struct ky_cni_record_prog *p)
{
	int hook = name_index(str(o, K_ATTACH), ky_bpf_hook_names);
	int hw = name_index(str(o, K_HW), ky_bpf_hw_names);
	p->index = NUM_U32(o, K_INDEX, NULL);
	p->has_hook = hook >= 0;
	p->at.hook = hook >= 0 ? (enum ky_bpf_hook)hook : KY_BPF_TC_INGRESS;
	p->at.ifindex = NUM_INT(o, K_IFINDEX, NULL);
	p->at.prog_id = NUM_U32(o, K_PROG_ID, &p->has_prog_id);
	p->at.handle = NUM_U32(o, K_HANDLE, NULL);
	p->at.priority = NUM_U32(o, K_PRIORITY, NULL);
	p->at.xdp_flags = NUM_U32(o, K_XDP_FLAGS, NULL);
	p->at.hw = hw >= 0 ? (enum ky_bpf_hw)(hw + 1) : KY_BPF_HW_DEFAULT;
	p->has_in_hw = item(o, K_IN_HW) != NULL;
	p->at.in_hw = flag(o, K_IN_HW);
	if (take_str(o, K_OBJECT, &p->object) < 0 || take_str(o, K_PROGRAM, &p->program) < 0)
		return -ENOMEM;
	return 0;
}

static void rule_from_json(const cJSON *o, struct ky_cni_record_rule *r)
{
	const char *d = str(o, K_DIRECTION);
	bool has_handle;
	r->at.dir = name_index(d, direction_names) == KY_FLOWER_EGRESS ? KY_FLOWER_EGRESS : KY_FLOWER_INGRESS;
	r->at.handle = NUM_U32(o, K_HANDLE, &has_handle);
	r->at.priority = NUM_U32(o, K_PRIORITY, NULL);
	r->ifindex = NUM_INT(o, K_IFINDEX, NULL);
	r->has_in_hw = item(o, K_IN_HW) != NULL;
	r->at.in_hw = flag(o, K_IN_HW);
	r->readable = d && has_handle;
}

static int from_json(const cJSON *doc, struct ky_cni_record *rec)
{
	const cJSON *e, *pod = item(doc, K_POD), *clsact = item(doc, K_CLSACT_CREATED);
	if (take_str(doc, K_NETWORK, &rec->network) < 0 || take_str(doc, K_CONTAINER_ID, &rec->container_id) < 0 ||
	    take_str(doc, K_IFNAME, &rec->ifname) < 0 || take_str(doc, K_NETNS, &rec->netns) < 0 ||
	    take_str(doc, K_BOOT_ID, &rec->boot_id) < 0 || take_str(doc, K_CNI_VERSION, &rec->cni_version) < 0 ||
	    take_str(doc, K_IPAM_TYPE, &rec->ipam_type) < 0 || take_str(doc, K_IPAM_CONF, &rec->ipam_conf) < 0 ||
	    device_from_json(item(doc, K_DEVICE), &rec->device) < 0)
		return -ENOMEM;
	rec->has_requested_mac = take_mac(doc, K_REQUESTED_MAC, rec->requested_mac);
	cJSON_ArrayForEach(e, item(doc, K_JOURNAL))
		/* A name that is no string names no step: undo passes it by. */
		if (ky_cni_record_journal_add(rec, cJSON_IsString(e) ? e->valuestring : "") < 0)
			return -ENOMEM;
	rec->has_vf_saved = item(doc, K_VF_SAVED) != NULL;
	ky_record_vf_from_json(item(doc, K_VF_SAVED), &rec->vf_saved);
	rec->pod.present = cJSON_IsObject(pod);
	rec->pod.has_mac = take_mac(pod, K_MAC, rec->pod.mac);
	rec->pod.mtu = NUM_U32(pod, K_MTU, NULL);
	rec->pod_ifindex = NUM_INT(doc, K_POD_IFINDEX, NULL);
	rec->clsact.present = clsact != NULL;
	rec->clsact.created = cJSON_IsTrue(clsact);
	rec->clsact.ifindex = NUM_INT(doc, K_CLSACT_IFINDEX, NULL);
	const cJSON *rdma = item(doc, K_RDMA);
	if (take_str(rdma, K_NAME, &rec->rdma.name) < 0)
		return -ENOMEM;
	rec->rdma.index = NUM_U32(rdma, K_INDEX, NULL);
	cJSON_ArrayForEach(e, item(doc, K_BPF))
	{
		struct ky_cni_record_prog *p = ky_cni_record_prog_add(rec);
		if (!p || prog_from_json(e, p) < 0)
			return -ENOMEM;
	}
	cJSON_ArrayForEach(e, item(doc, K_OFFLOAD))
	{
		struct ky_cni_record_rule *r = ky_cni_record_rule_add(rec);
		if (!r)
			return -ENOMEM;
		rule_from_json(e, r);
	}
	if ((item(doc, K_IPAM_RESULT) && !(rec->ipam_result = cJSON_Duplicate(item(doc, K_IPAM_RESULT), true))) ||
	    (item(doc, K_RESULT) && !(rec->result = cJSON_Duplicate(item(doc, K_RESULT), true))))
		return -ENOMEM;
	rec->complete = flag(doc, K_COMPLETE);
	return 0;
}

int ky_cni_record_from_json(const cJSON *doc, struct ky_cni_record **out, struct ky_error **err)
{
	if (!cJSON_IsObject(doc))
		return ky_error_set(err, EBADMSG, "state record is not a JSON object");
	/* Newer first, whatever the number (1e99 too): then it is a small one. */
	const cJSON *v = item(doc, K_VERSION);
	if (cJSON_IsNumber(v) && v->valuedouble > KY_CNI_RECORD_VERSION)
		return ky_error_set(err, EPROTO, "state record version %g is newer than this binary's (%d)",
				    v->valuedouble, KY_CNI_RECORD_VERSION);
	unsigned version = cJSON_IsNumber(v) && v->valuedouble >= 1 ? (unsigned)v->valuedouble : LEGACY_VERSION;
	_cleanup_(ky_cni_record_freep) struct ky_cni_record *rec = ky_cni_record_new();
	if (!rec || from_json(doc, rec) < 0)
		return ky_error_set(err, ENOMEM, "state record: out of memory");
	rec->version = version;
	*out = TAKE_PTR(rec);
	return 0;
}

/* ---- writing ---- */

static void device_to_json(const struct ky_cni_record_device *d, cJSON *o)
{
	char mac[KY_MAC_STRLEN];
	if (d->chained) {
		cJSON_AddBoolToObject(o, K_CHAINED, true);
		if (d->name)
			cJSON_AddStringToObject(o, K_NAME, d->name);
		return;
	}
	cJSON_AddBoolToObject(o, K_NETDEV, d->netdev);
	if (d->name)
		cJSON_AddStringToObject(o, K_NAME, d->name);
	if (d->has_ifindex)
		cJSON_AddNumberToObject(o, K_IFINDEX, d->ifindex);
	if (d->has_mac)
		cJSON_AddStringToObject(o, K_MAC, ky_format_mac(d->mac, mac));
	if (d->has_mtu)
		cJSON_AddNumberToObject(o, K_MTU, d->mtu);
	cJSON_AddBoolToObject(o, K_UP, d->up);
	if (d->pci)
		cJSON_AddStringToObject(o, K_PCI, d->pci);
	if (d->pf)
		cJSON_AddStringToObject(o, K_PF, d->pf);
	if (d->has_vf_index)
		cJSON_AddNumberToObject(o, K_VF_INDEX, d->vf_index);
}

static void prog_to_json(const struct ky_cni_record_prog *p, cJSON *o)
{
	cJSON_AddNumberToObject(o, K_INDEX, p->index);
	if (p->has_hook)
		cJSON_AddStringToObject(o, K_ATTACH, ky_bpf_hook_names[p->at.hook]);
	if (p->object)
		cJSON_AddStringToObject(o, K_OBJECT, p->object);
	if (p->program)
		cJSON_AddStringToObject(o, K_PROGRAM, p->program);
	cJSON_AddNumberToObject(o, K_IFINDEX, p->at.ifindex);
	if (p->has_prog_id)
		cJSON_AddNumberToObject(o, K_PROG_ID, p->at.prog_id);
	if (p->at.hook == KY_BPF_XDP) {
		cJSON_AddNumberToObject(o, K_XDP_FLAGS, p->at.xdp_flags);
	} else {
		cJSON_AddNumberToObject(o, K_HANDLE, p->at.handle);
		cJSON_AddNumberToObject(o, K_PRIORITY, p->at.priority);
		if (p->at.hw != KY_BPF_HW_DEFAULT)
			cJSON_AddStringToObject(o, K_HW, ky_bpf_hw_names[p->at.hw - 1]);
	}
	if (p->has_in_hw)
		cJSON_AddBoolToObject(o, K_IN_HW, p->at.in_hw);
}

static void rule_to_json(const struct ky_cni_record_rule *r, cJSON *o)
{
	cJSON_AddStringToObject(o, K_DIRECTION, direction_names[r->at.dir == KY_FLOWER_EGRESS]);
	cJSON_AddNumberToObject(o, K_IFINDEX, r->ifindex);
	cJSON_AddNumberToObject(o, K_HANDLE, r->at.handle);
	cJSON_AddNumberToObject(o, K_PRIORITY, r->at.priority);
	if (r->has_in_hw)
		cJSON_AddBoolToObject(o, K_IN_HW, r->at.in_hw);
}

static void add_str(cJSON *o, const char *k, const char *v)
{
	if (v)
		cJSON_AddStringToObject(o, k, v);
}

/* The documents the record holds (IPAM result, result) are copied, or, for
 * a document that lives only as long as the record, referred to. */
static void add_doc(cJSON *o, const char *k, cJSON *v, bool borrow)
{
	if (!v)
		return;
	if (borrow)
		cJSON_AddItemReferenceToObject(o, k, v);
	else
		cJSON_AddItemToObject(o, k, cJSON_Duplicate(v, true));
}

static cJSON *to_json(const struct ky_cni_record *rec, bool borrow)
{
	char mac[KY_MAC_STRLEN];
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	cJSON_AddNumberToObject(o, K_VERSION, rec->version);
	add_str(o, K_NETWORK, rec->network);
	add_str(o, K_CONTAINER_ID, rec->container_id);
	add_str(o, K_IFNAME, rec->ifname);
	add_str(o, K_NETNS, rec->netns);
	add_str(o, K_BOOT_ID, rec->boot_id);
	add_str(o, K_CNI_VERSION, rec->cni_version);
	device_to_json(&rec->device, cJSON_AddObjectToObject(o, K_DEVICE));
	if (rec->has_requested_mac)
		cJSON_AddStringToObject(o, K_REQUESTED_MAC, ky_format_mac(rec->requested_mac, mac));
	add_str(o, K_IPAM_TYPE, rec->ipam_type);
	add_str(o, K_IPAM_CONF, rec->ipam_conf);
	cJSON *journal = cJSON_AddArrayToObject(o, K_JOURNAL);
	for (size_t i = 0; i < rec->n_journal; i++)
		cJSON_AddItemToArray(journal, cJSON_CreateString(rec->journal[i]));
	if (rec->has_vf_saved)
		ky_record_vf_to_json(&rec->vf_saved, cJSON_AddObjectToObject(o, K_VF_SAVED));
	if (rec->pod.present) {
		cJSON *pod = cJSON_AddObjectToObject(o, K_POD);
		if (rec->pod.has_mac)
			cJSON_AddStringToObject(pod, K_MAC, ky_format_mac(rec->pod.mac, mac));
		cJSON_AddNumberToObject(pod, K_MTU, rec->pod.mtu);
	}
	if (rec->pod_ifindex)
		cJSON_AddNumberToObject(o, K_POD_IFINDEX, rec->pod_ifindex);
	if (rec->rdma.name) {
		cJSON *rdma = cJSON_AddObjectToObject(o, K_RDMA);
		add_str(rdma, K_NAME, rec->rdma.name);
		cJSON_AddNumberToObject(rdma, K_INDEX, rec->rdma.index);
	}
	add_doc(o, K_IPAM_RESULT, rec->ipam_result, borrow);
	if (rec->n_progs) {
		cJSON *list = cJSON_AddArrayToObject(o, K_BPF);
		for (size_t i = 0; i < rec->n_progs; i++) {
			cJSON *e = cJSON_CreateObject();
			prog_to_json(&rec->progs[i], e);
			cJSON_AddItemToArray(list, e);
		}
	}
	if (rec->clsact.present) {
		cJSON_AddBoolToObject(o, K_CLSACT_CREATED, rec->clsact.created);
		cJSON_AddNumberToObject(o, K_CLSACT_IFINDEX, rec->clsact.ifindex);
	}
	if (rec->n_rules) {
		cJSON *list = cJSON_AddArrayToObject(o, K_OFFLOAD);
		for (size_t i = 0; i < rec->n_rules; i++) {
			cJSON *e = cJSON_CreateObject();
			rule_to_json(&rec->rules[i], e);
			cJSON_AddItemToArray(list, e);
		}
	}
	add_doc(o, K_RESULT, rec->result, borrow);
	if (rec->complete)
		cJSON_AddBoolToObject(o, K_COMPLETE, true);
	return o;
}

int ky_cni_record_to_json(const struct ky_cni_record *rec, cJSON **out, struct ky_error **err)
{
	cJSON *o = to_json(rec, false);
	if (!o)
		return ky_error_set(err, ENOMEM, "state record: out of memory");
	*out = o;
	return 0;
}

/* ---- in the state store ---- */

static int from_store(int r, cJSON *doc, struct ky_cni_record **out, struct ky_error **err)
{
	_cleanup_(cJSON_Deletep) cJSON *d = doc;
	if (r < 0)
		return r;
	return ky_cni_record_from_json(d, out, err);
}

int ky_cni_record_load(struct ky_state_lock *l, struct ky_cni_record **out, struct ky_error **err)
{
	cJSON *doc = NULL;
	int r = ky_state_read(l, &doc, err);
	return from_store(r, doc, out, err);
}

int ky_cni_record_get(struct ky_state_store *s, const char *key, struct ky_cni_record **out, struct ky_error **err)
{
	cJSON *doc = NULL;
	int r = ky_state_get(s, key, &doc, err);
	return from_store(r, doc, out, err);
}

int ky_cni_record_save(struct ky_state_lock *l, const struct ky_cni_record *rec, bool durable, struct ky_error **err)
{
	_cleanup_(cJSON_Deletep) cJSON *doc = to_json(rec, true);
	if (!doc)
		return ky_error_set(err, ENOMEM, "state record: out of memory");
	return durable ? ky_state_write(l, doc, err) : ky_state_write_fast(l, doc, err);
}

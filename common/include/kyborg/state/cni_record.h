/* The CNI plugin's attachment record: one per attachment (network,
 * container, interface) in the CNI state store, written by the `kyborg`
 * plugin as the journal of its ADD and read back by its DEL, CHECK and GC,
 * and read by kyborgctl to know which PCI functions pods use. This module is
 * the one place that knows its JSON: each key is named once, in
 * cni_record.c, for the writer and every reader alike.
 *
 * Versions: "version" holds KY_CNI_RECORD_VERSION; a record without it is
 * version 1 (every record written before the key existed, which carried
 * "kyborg": 1 instead). A binary reads every version up to its own and
 * refuses a newer one (-EPROTO) rather than misread it. Within a version,
 * reading is lenient as the readers always were: a key that is absent or of
 * another type reads as unset, so a record cut short by a crash still says
 * what it can. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "kyborg/base/cleanup.h"
#include "kyborg/bpf/bpf_prog.h"
#include "kyborg/net/netlink_vf.h"
#include "kyborg/net/tc_flower.h"

struct ky_error;
struct ky_state_lock;
struct ky_state_store;

#define KY_CNI_RECORD_VERSION 1

/* The device as ADD found it, before changing anything ("device"). */
struct ky_cni_record_device {
	bool chained;      /* another plugin's interface, by name only: claims no device */
	bool netdev;       /* false: a VF bound to a userspace driver (absent reads true) */
	char *name;        /* the host's name for it before ADD */
	bool has_ifindex, has_mac, has_mtu, has_vf_index;
	int ifindex;
	uint8_t mac[6];
	unsigned mtu;
	bool up;
	char *pci;         /* its PCI address ("pciID"), NULL unless named by one */
	char *pf;          /* a VF's PF netdev, NULL unless a VF */
	int vf_index;
};

/* A BPF program of the attachment (an entry of "bpf"), recorded before it
 * is attached. DEL and CHECK can act on it when has_hook and has_prog_id. */
struct ky_cni_record_prog {
	unsigned index;            /* the config's bpf[index] */
	char *object, *program;
	bool has_hook, has_prog_id, has_in_hw;
	/* hook, ifindex, prog_id; tc: handle, priority, hw; XDP: xdp_flags;
	 * in_hw once attached with hw other than default */
	struct ky_bpf_attached at;
};

/* An offload rule of the attachment (an entry of "offload"), recorded
 * before it is added. DEL and CHECK can act on it when readable. */
struct ky_cni_record_rule {
	bool readable;             /* its direction and handle are there */
	bool has_in_hw;
	int ifindex;
	struct ky_flower_added at; /* dir, handle, priority, in_hw */
};

struct ky_cni_record {
	unsigned version;
	/* Who: kyborgctl names the pod by these. */
	char *network, *container_id, *ifname;
	char *netns;               /* the pod's netns path */
	char *boot_id;             /* the boot it was written in (state/boot.h) */
	char *cni_version;
	struct ky_cni_record_device device;
	bool has_requested_mac;    /* the config's "mac" */
	uint8_t requested_mac[6];
	char *ipam_type, *ipam_conf; /* the IPAM plugin and the config sent to it */
	char **journal;            /* the steps begun, in order */
	size_t n_journal;
	/* vf-config: the VF's settings before ADD changed them (mask: which
	 * were changed; 0 when the saved settings are unreadable). */
	bool has_vf_saved;
	struct ky_vf_config vf_saved;
	/* link: the interface as ADD left it in the pod. */
	struct {
		bool present, has_mac;
		uint8_t mac[6];
		unsigned mtu;
	} pod;
	int pod_ifindex;           /* 0: not known */
	/* rdma: the RDMA device of the netdev, moved with it into the pod
	 * (exclusive RDMA netns mode); name NULL when none was. */
	struct {
		char *name;
		uint32_t index;
	} rdma;
	cJSON *ipam_result;        /* the IPAM plugin's result, normalised */
	/* bpf, offload: the pod interface's clsact qdisc, and whether ADD made it. */
	struct {
		bool present, created;
		int ifindex;
	} clsact;
	struct ky_cni_record_prog *progs;
	size_t n_progs;
	struct ky_cni_record_rule *rules;
	size_t n_rules;
	cJSON *result;             /* ADD's result (or the prevResult passed on) */
	bool complete;             /* ADD finished */
};

/* An empty record of KY_CNI_RECORD_VERSION, or NULL when out of memory. */
struct ky_cni_record *ky_cni_record_new(void);
void ky_cni_record_free(struct ky_cni_record *rec);
KY_DEFINE_CLEANUP(struct ky_cni_record, ky_cni_record_free)

/* The record a JSON document holds: -EBADMSG when it is not an object,
 * -EPROTO when its version is newer than this binary's. */
int ky_cni_record_from_json(const cJSON *doc, struct ky_cni_record **out, struct ky_error **err);
/* The record as a new JSON document. */
int ky_cni_record_to_json(const struct ky_cni_record *rec, cJSON **out, struct ky_error **err);

/* The record under a held lock (ky_state_read): -ENOENT when there is none,
 * -EBADMSG when it is no JSON object, -EPROTO as above. */
int ky_cni_record_load(struct ky_state_lock *l, struct ky_cni_record **out, struct ky_error **err);
/* The same without the lock (ky_state_get), for readers that change nothing. */
int ky_cni_record_get(struct ky_state_store *s, const char *key, struct ky_cni_record **out,
		      struct ky_error **err);
/* Replaces the record under a held lock: durably (ky_state_write) or only
 * atomically (ky_state_write_fast). */
int ky_cni_record_save(struct ky_state_lock *l, const struct ky_cni_record *rec, bool durable,
		       struct ky_error **err);

/* Whether the record was written in a boot before `current_boot` (this
 * boot when NULL): its pod went with that boot, so it claims no device. */
bool ky_cni_record_from_earlier_boot(const struct ky_cni_record *rec, const char *current_boot);

/* Appends a step to the journal: 0 or -ENOMEM. */
int ky_cni_record_journal_add(struct ky_cni_record *rec, const char *step);
/* Appends a zeroed program or rule entry: NULL when out of memory. */
struct ky_cni_record_prog *ky_cni_record_prog_add(struct ky_cni_record *rec);
struct ky_cni_record_rule *ky_cni_record_rule_add(struct ky_cni_record *rec);
/* Drops every program or rule entry. */
void ky_cni_record_progs_clear(struct ky_cni_record *rec);
void ky_cni_record_rules_clear(struct ky_cni_record *rec);

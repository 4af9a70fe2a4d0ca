/* Internals shared by the kernel-facing files of the CNI logic: one run of
 * a verb over one attachment, and the device it concerns. */
#pragma once

#include <pthread.h>

#include "cni.h"
#include "kyborg/net/netlink.h"
#include "kyborg/state/cni_record.h"
#include "kyborg/state/state_store.h"

struct ky_cni_dev {
	bool has_netdev;          /* false: a VF bound to a userspace driver (vfio-pci) */
	char name[IFNAMSIZ];      /* host name before ADD; "" without a netdev */
	int ifindex;
	uint8_t mac[6];
	unsigned mtu;
	bool up;
	char pci[KY_PCI_ADDR_LEN]; /* "" unless named by PCI address */
	bool chained;             /* another plugin's interface: we touch no device */
	bool is_vf;
	char pf[IFNAMSIZ];         /* the VF's PF netdev */
	int vf_index;
};

struct ky_cni_run {
	struct ky_cni *c;
	const char *container_id, *ifname; /* the attachment */
	const char *netns_path;            /* NULL: unknown or gone */
	int netns_fd;                      /* -1 when the pod netns is gone */
	int host_fd;                       /* the netns we were started in */
	struct ky_nl *nl;                  /* in the host netns */
	struct ky_nl *pod_nl;              /* in the pod netns: ky_cni_run_pod_nl */
	struct ky_state_store *store;
	struct ky_state_lock *lock;
	struct ky_cni_record *rec;         /* the journal */
	struct ky_cni_dev dev;
	struct ky_vf_config vf;            /* what vf-config applies */
	bool durable;                      /* every further journal write is durable */
	bool located;                      /* undo_link left `where` and `link` as it found them */
	bool stale;                        /* the record is from before this boot */
	bool device_taken;                 /* ...and its device is another attachment's now */
	enum ky_cni_where { KY_CNI_GONE, KY_CNI_IN_POD, KY_CNI_IN_HOST } where;
	struct ky_link link;
	bool closer_started;               /* ky_cni_run_close_later's thread */
	pthread_t closer;
};

/* cni_run.c: one verb's run over one attachment, below the steps and verbs. */
/* The config's stateDir, its failures prefixed "stateDir" with their CNI
 * code: 7 for a directory the config must not name, 5 otherwise. */
int ky_cni_state_open(struct ky_cni *c, struct ky_state_store **out, struct ky_error **err);
/* Opens the store, locks the attachment's key and reads its record:
 * 1 with r->rec, 0 when there is none, -errno (its CNI code on *err). */
int ky_cni_run_open(struct ky_cni *c, struct ky_cni_run *r, const char *container_id, const char *ifname,
		    int lock_flags, struct ky_error **err);
/* Opens the pod netns: netns_path, or the recorded one when NULL
 * (netns_fd -1 when it is gone). */
void ky_cni_run_open_netns(struct ky_cni_run *r, const char *netns_path);
/* The run's netlink socket in the pod netns, opened on first use. A
 * netlink socket stays in the netns it was opened in, so one socket serves
 * every step and undo without entering the pod again. */
int ky_cni_run_pod_nl(struct ky_cni_run *r, struct ky_nl **out, struct ky_error **err);
/* Forgets the pod netns (closes netns_fd and pod_nl). */
void ky_cni_run_drop_netns(struct ky_cni_run *r);
/* Writes the record, the journal: durably (fsync) or only atomically (see
 * cni_steps.c); once durable, every later write of the run is durable too. */
int ky_cni_run_write(struct ky_cni_run *r, bool durable, struct ky_error **err);
/* Closes fd (when >= 0) on a thread of its own, joined by
 * ky_cni_run_close: for a close that waits on the kernel (a packet
 * socket's RCU grace period) while the run goes on. Closes it at once
 * when no thread can be made. */
void ky_cni_run_close_later(struct ky_cni_run *r, int fd);
void ky_cni_run_close(struct ky_cni_run *r);
void ky_cni_run_closep(struct ky_cni_run **r);

/* cni_select.c: hwaddr and kernelpath turned into the netdev name or the
 * PCI address they choose (conf's dev_source becomes NAME or PCI). */
int ky_cni_dev_select(struct ky_cni_run *r, struct ky_error **err);

/* cni_device.c */
int ky_cni_dev_resolve(struct ky_cni_run *r, struct ky_error **err);
/* The recorded device into r->dev: -EBADMSG when the record has none usable. */
int ky_cni_dev_load(struct ky_cni_run *r, struct ky_error **err);
/* The device as the record holds it: 0 or -ENOMEM. */
int ky_cni_dev_to_record(const struct ky_cni_dev *d, struct ky_cni_record_device *o);
/* The recorded device, checked as the undos need it: 0 or -EBADMSG. */
int ky_cni_dev_from_record(const struct ky_cni_record_device *o, struct ky_cni_dev *d);
/* Where the recorded device is now, and its current link (name, MAC, MTU,
 * state) unless KY_CNI_GONE. */
int ky_cni_dev_locate(struct ky_cni_run *r, enum ky_cni_where *where, struct ky_link *link, struct ky_error **err);

/* cni_bpf.c: the steps bpf and offload, and their CHECK (0, or an error
 * naming what is no longer attached). */
/* Every bpf[].object is a file the node allows (ky_bpf_object_read over
 * c->node.bpf_dirs): 0, or code 7 naming the entry. Before ADD changes
 * anything; the load reads the file again with the same checks. */
int ky_cni_bpf_objects_check(struct ky_cni *c, struct ky_error **err);
bool ky_cni_bpf_needed(struct ky_cni_run *r);
int ky_cni_bpf_apply(struct ky_cni_run *r, struct ky_error **err);
int ky_cni_bpf_undo(struct ky_cni_run *r, struct ky_error **err);
bool ky_cni_bpf_offload_needed(struct ky_cni_run *r);
int ky_cni_bpf_offload_apply(struct ky_cni_run *r, struct ky_error **err);
int ky_cni_bpf_offload_undo(struct ky_cni_run *r, struct ky_error **err);
int ky_cni_bpf_check(struct ky_cni_run *r, struct ky_error **err);

/* cni_rdma.c: the step rdma, and its CHECK (0, or EUCLEAN naming the
 * RDMA device no longer in the pod). */
bool ky_cni_rdma_needed(struct ky_cni_run *r);
int ky_cni_rdma_apply(struct ky_cni_run *r, struct ky_error **err);
int ky_cni_rdma_undo(struct ky_cni_run *r, struct ky_error **err);
int ky_cni_rdma_check(struct ky_cni_run *r, struct ky_error **err);

/* cni_steps.c */
int ky_cni_steps_apply(struct ky_cni_run *r, struct ky_error **err);
/* Undoes every step the record's journal names, last first, and removes
 * the record. Tolerates steps that were begun but not finished. */
int ky_cni_steps_undo(struct ky_cni_run *r, struct ky_error **err);

/* cni_verbs.c: DEL of one attachment, also for GC. */
int ky_cni_del_attachment(struct ky_cni *c, const char *container_id, const char *ifname, const char *netns,
			  int lock_flags, struct ky_error **err);

/* Per-interface BPF programs (libbpf, loaded on first use): open and load an
 * object with only the programs asked for, fill its kyborg_pod map, pin its
 * maps and programs under bpffs, attach to tc (clsact) or XDP, and find,
 * check and detach exactly what was attached (by program id), never a
 * program someone else put on the same hook.
 *
 * Attach, detach, check and the clsact functions work on the interface
 * `ifindex` of the network namespace the calling thread is in (run them
 * under ky_netns_run_fd); loading and pinning need no namespace. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kyborg/json/json.h"

struct ky_error;
struct ky_bpf_obj;

enum ky_bpf_hook { KY_BPF_TC_INGRESS, KY_BPF_TC_EGRESS, KY_BPF_XDP };
/* The config's names: "tc-ingress", "tc-egress", "xdp". */
extern const char *const ky_bpf_hook_names[];
/* KY_XDP_AUTO: the kernel's choice (native where the driver has it). */
enum ky_bpf_xdp_mode { KY_XDP_AUTO, KY_XDP_NATIVE, KY_XDP_GENERIC, KY_XDP_OFFLOAD };
/* "native", "generic", "offload" (indexes 1..3). */
extern const char *const ky_bpf_xdp_mode_names[];

/* A tc program in the device's hardware (cls_bpf's flags). DEFAULT: as
 * libbpf attaches it, no flag, nothing read back. REQUIRED: skip_sw, for a
 * program loaded for the device (ky_bpf_obj_load's offload_ifindex);
 * attaching fails unless the kernel reports it in hardware. PREFERRED: no
 * flag, whether it landed in hardware read back. NEVER: skip_hw. */
enum ky_bpf_hw { KY_BPF_HW_DEFAULT, KY_BPF_HW_REQUIRED, KY_BPF_HW_PREFERRED, KY_BPF_HW_NEVER };
/* "required", "preferred", "never" (indexes 1..3). */
extern const char *const ky_bpf_hw_names[];

#define KY_BPF_FS "/sys/fs/bpf"
#define KY_BPF_POD_IPS 4

/* What kyborg_pod gets (examples/bpf/kyborg_pod.h has the layout). */
struct ky_bpf_pod {
	uint8_t mac[6];
	int ifindex;
	struct ky_ip ips[2 * KY_BPF_POD_IPS]; /* either family; extra ones are left out */
	size_t n_ips;
};

/* One program on one hook, as recorded in a state record. */
struct ky_bpf_attached {
	enum ky_bpf_hook hook;
	int ifindex;
	uint32_t prog_id;
	uint32_t handle, priority; /* tc */
	uint32_t xdp_flags;        /* XDP: the mode flag it was attached with */
	enum ky_bpf_hw hw;         /* tc: set by the caller before ky_bpf_attach */
	bool in_hw;                /* tc, hw other than DEFAULT: what the kernel reported */
};

/* Whether libbpf can be loaded: 0 or -ENOENT/-ENOSYS with the reason. */
int ky_bpf_available(struct ky_error **err);
/* Whether `path` is a mounted bpffs: 0, or -ENOENT/-EINVAL saying so. */
int ky_bpf_fs_check(const char *path, struct ky_error **err);

/* The largest object file read (ours are tens of KiB). */
#define KY_BPF_OBJECT_MAX (16u << 20)

/* Reads the object file `path` that only the node's administrator can
 * have put there: it lies directly in one of `dirs` (as written, e.g.
 * "/usr/share/kyborg/bpf"; NULL: anywhere, for a caller that chose the
 * path itself), that directory and the file are root's and not writable
 * by group or others (ky_stat_trusted), and the file is regular and not
 * reached through a symlink. The bytes in *buf (malloc'd; buf may be NULL
 * to check only). -EPERM, -ELOOP, -EINVAL, -ENOENT... saying which. */
int ky_bpf_object_read(const char *path, char *const *dirs, char **buf, size_t *len, struct ky_error **err);

struct ky_bpf_load {
	const char *const *programs; /* the n programs to load (the object's others are not) */
	size_t n;
	int offload_ifindex;         /* > 0: programs and maps for that device's hardware */
	char *const *dirs;           /* where the object may lie: see ky_bpf_object_read */
	const char *pin_dir;         /* where maps the object pins by name go; NULL: such an object is refused */
};

/* Reads `path` with ky_bpf_object_read and loads opts->programs from those
 * very bytes. With offload_ifindex the programs and every map are loaded
 * for that device's hardware (XDP offload; the index is resolved in the
 * calling thread's netns). A map the object declares pinned by name
 * (LIBBPF_PIN_BY_NAME) goes under pin_dir, never libbpf's default
 * /sys/fs/bpf, where it would outlive the attachment or reuse another
 * component's map. Errors name the object and program: a program the
 * object has not (-ENOENT), a program the verifier refused (-EACCES,
 * -EINVAL...) with the end of the verifier's log. */
int ky_bpf_obj_load(const char *path, const struct ky_bpf_load *opts, struct ky_bpf_obj **out,
		    struct ky_error **err);
void ky_bpf_obj_free(struct ky_bpf_obj *o);
static inline void ky_bpf_obj_freep(struct ky_bpf_obj **o)
{
	if (*o)
		ky_bpf_obj_free(*o);
}
/* Writes pod into the object's kyborg_pod map: 1 when written, 0 when the
 * object has no such map, -EINVAL when its value is not struct kyborg_pod. */
int ky_bpf_obj_set_pod(struct ky_bpf_obj *o, const struct ky_bpf_pod *pod, struct ky_error **err);
/* Pins each map of the object as dir/<map> and each loaded program as
 * dir/<program>; dir is created (0700), its parents must exist. */
int ky_bpf_obj_pin(struct ky_bpf_obj *o, const char *dir, struct ky_error **err);

/* Makes sure a clsact qdisc is on ifindex; *created says whether this call
 * added it. */
int ky_bpf_clsact_ensure(int ifindex, bool *created, struct ky_error **err);
/* Removes the clsact qdisc of ifindex when no filter is left on it (someone
 * else's filters keep it): 1 removed, 0 kept or absent. */
int ky_bpf_clsact_release(int ifindex, struct ky_error **err);
/* Whether any filter is on the clsact qdisc of ifindex (either direction). */
int ky_bpf_clsact_has_filters(int ifindex, struct ky_error **err);

/* Where the loaded program will go, before it goes there, so that a record
 * of it can be written first: its program id, and for tc handle 1 at a
 * priority free on the hook (prio_hint, or the nearest free one below it;
 * lower runs first). For XDP, the mode flag (0 for KY_XDP_AUTO). -EINVAL
 * when the program's type does not fit the hook. */
int ky_bpf_plan(struct ky_bpf_obj *o, const char *program, enum ky_bpf_hook hook, enum ky_bpf_xdp_mode mode,
		int ifindex, uint32_t prio_hint, struct ky_bpf_attached *out, struct ky_error **err);
/* Attaches the program where ky_bpf_plan put it, next to whatever is on
 * the hook: -EEXIST when that place was taken since, -EBUSY when the
 * interface has an XDP program already. XDP in KY_XDP_AUTO mode gets the
 * mode the kernel chose in a->xdp_flags. A tc program with a->hw other
 * than DEFAULT gets that flag and a->in_hw; with REQUIRED, a device that
 * does not take it fails the attach (-EOPNOTSUPP and the kernel's reason,
 * or -EREMOTEIO when it is not reported in hardware: it is then detached). */
int ky_bpf_attach(struct ky_bpf_obj *o, const char *program, struct ky_bpf_attached *a, struct ky_error **err);
/* 0 when exactly this program is attached where recorded, -ENOENT when that
 * place is empty, -ESTALE when another program is there, -EREMOTEIO when a
 * program required in hardware is no longer reported there. */
int ky_bpf_check(const struct ky_bpf_attached *a, struct ky_error **err);
/* Detaches a's program when it is still the one there: 1 detached, 0 when
 * it was gone or replaced by someone else's (left alone). */
int ky_bpf_detach(const struct ky_bpf_attached *a, struct ky_error **err);

/* Removes a pin tree made by ky_bpf_obj_pin (files and directories under
 * dir, which must lie under KY_BPF_FS), then dir itself. 0 when absent. */
int ky_bpf_unpin(const char *dir, struct ky_error **err);

/* "kyborg_antispoof" for "/x/kyborg_antispoof.bpf.o": the object's name in
 * a pin path. -EINVAL unless it is 1-64 of [A-Za-z0-9_-]. Pure. */
int ky_bpf_object_name(const char *path, char *out, size_t size);

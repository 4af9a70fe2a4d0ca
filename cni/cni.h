/* The kyborg CNI plugin's protocol logic, built as libkyborg_cni so the
 * front end (main.c) stays thin and tests link the pure parts directly.
 * Each section names the file that owns it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <net/if.h>
#include <cjson/cJSON.h>

#include "kyborg/base/log.h"
#include "kyborg/bpf/bpf_prog.h"
#include "kyborg/json/json.h"
#include "kyborg/net/tc_flower.h"
#include "kyborg/net/netlink_vf.h"
#include "kyborg/net/rdma.h"
#include "kyborg/pci/pci.h"

struct ky_error;
struct ky_nl;
struct ky_state_store;
struct ky_state_lock;

/* ---- Error codes (SPEC.md "Error codes"; ours from 100) ---- */
enum {
	KY_CNI_E_VERSION = 1,    /* incompatible CNI version */
	KY_CNI_E_FIELD = 2,      /* unsupported field in network config */
	KY_CNI_E_CONTAINER = 3,  /* container unknown or does not exist */
	KY_CNI_E_ENV = 4,        /* invalid necessary environment variables */
	KY_CNI_E_IO = 5,         /* I/O failure */
	KY_CNI_E_DECODE = 6,     /* failed to decode content */
	KY_CNI_E_CONFIG = 7,     /* invalid network config */
	KY_CNI_E_AGAIN = 11,     /* try again later */
	KY_CNI_E_UNAVAILABLE = 50,
	KY_CNI_E_INTERNAL = 100, /* a kernel or system operation failed */
	KY_CNI_E_NO_DEVICE = 101,
	KY_CNI_E_DEVICE_BUSY = 102,
	KY_CNI_E_IPAM = 103,
	KY_CNI_E_CHECK = 104,    /* CHECK found a drift */
	KY_CNI_E_STATE = 105,    /* the state record is unusable */
};

/* ---- cni_version.c ---- */
enum ky_cni_version { KY_CNI_V030, KY_CNI_V031, KY_CNI_V040, KY_CNI_V100, KY_CNI_V110, KY_CNI_NVERSIONS };
extern const char *const ky_cni_versions[KY_CNI_NVERSIONS + 1]; /* NULL-terminated */
/* Index of an exactly supported version string, or -1. */
int ky_cni_version_index(const char *v);
/* {"cniVersion":"1.1.0","supportedVersions":[...]} */
cJSON *ky_cni_version_info(void);
/* Compares "a.b.c" strings numerically: <0, 0, >0; unparsable sorts first. */
int ky_cni_version_cmp(const char *a, const char *b);

/* ---- cni_env.c ---- */
enum ky_cni_cmd { KY_CNI_ADD, KY_CNI_DEL, KY_CNI_CHECK, KY_CNI_VERSION, KY_CNI_STATUS, KY_CNI_GC };
struct ky_cni_env {
	enum ky_cni_cmd cmd;
	const char *command, *container_id, *netns, *ifname, *args, *path; /* borrowed from envp */
};
/* Reads and validates the CNI_* variables the command needs from envp
 * (NULL-terminated "K=V"). -EINVAL naming the variable, CNI code 4 on *err. */
int ky_cni_env_parse(char *const envp[], struct ky_cni_env *out, struct ky_error **err);
/* The value of `key` in envp ("K=V" entries), or NULL. */
const char *ky_cni_env_get(char *const envp[], const char *key);
/* SPEC.md: a container ID starts with an alphanumeric character followed by
 * alphanumerics, '_', '.' or '-'. */
bool ky_cni_container_id_valid(const char *id);
/* The same: a letter or digit first, up to 64 characters. */
bool ky_cni_network_name_valid(const char *name);
/* The name we give the pod's interface: a valid netdev name (no '%', the
 * kernel's template) of letters, digits, '_', '.' and '-' only. */
bool ky_cni_ifname_valid(const char *name);

/* ---- cni_node.c ---- */
/* What the node decides, never a network config: where a config may put
 * its log file and take its BPF objects from. From the plugin's own
 * environment, which the node's runtime sets (containerd and CRI-O pass
 * theirs on to plugins); CNI_ARGS and stdin cannot reach it. */
#define KY_CNI_LOG_DIRS_DEFAULT "/var/log"
#ifndef KY_CNI_BPF_DIRS_DEFAULT
#define KY_CNI_BPF_DIRS_DEFAULT "/usr/local/share/kyborg/bpf" /* CMake sets ${KYBORG_DATA_DIR}/bpf */
#endif
struct ky_cni_node {
	char **log_dirs;  /* KYBORG_CNI_LOG_DIRS (':'-separated), else KY_CNI_LOG_DIRS_DEFAULT */
	char **bpf_dirs;  /* KYBORG_BPF_OBJECT_DIRS (':'-separated), else KY_CNI_BPF_DIRS_DEFAULT */
};
/* 0 or -ENOMEM. Entries that are not absolute paths are left out. */
int ky_cni_node_from_env(char *const envp[], struct ky_cni_node *out);
void ky_cni_node_free(struct ky_cni_node *n);
/* Whether path lies in one of dirs (ky_path_beneath). Pure. */
bool ky_cni_path_allowed(char *const *dirs, const char *path);

/* ---- cni_config.c ---- */
/* How the config names the device. sriov-cni's and host-device's ways all
 * work: a netdev name (device), a PCI address (deviceID, pciBusID,
 * runtimeConfig.deviceID), the device's MAC (host-device's hwaddr) or its
 * kernel object under /sys/devices (host-device's kernelpath). The last two
 * are resolved to a name or a PCI address on the node (cni_select.c). */
enum ky_cni_dev_source { KY_CNI_DEV_NAME, KY_CNI_DEV_PCI, KY_CNI_DEV_HWADDR, KY_CNI_DEV_KERNELPATH };
struct ky_cni_attachment {
	const char *container_id, *ifname;
};
/* One entry of `bpf`. */
struct ky_cni_bpf_prog {
	const char *object, *program;
	char name[65];                   /* the object's name in pin paths */
	enum ky_bpf_hook hook;
	enum ky_bpf_xdp_mode xdp_mode;
	enum ky_bpf_hw hw;               /* tc only; KY_BPF_HW_DEFAULT when absent */
};
/* Whether the entry's object is loaded for the device's hardware (XDP
 * offload, or a tc program required in hardware) rather than the host. */
static inline bool ky_cni_bpf_for_device(const struct ky_cni_bpf_prog *p)
{
	return p->xdp_mode == KY_XDP_OFFLOAD || p->hw == KY_BPF_HW_REQUIRED;
}
#define KY_CNI_MAX_BPF 16
#define KY_CNI_MAX_OFFLOAD 32
#define KY_CNI_MAX_NOTES 8
#define KY_CNI_KERNELPATH_MAX 512
struct ky_cni_conf {
	cJSON *doc;                      /* owned; the strings below borrow from it */
	const char *cni_version;
	int version;                     /* enum ky_cni_version */
	const char *name, *type;
	enum ky_cni_dev_source dev_source;
	const char *dev_field;           /* which field named the device, for messages */
	const char *device;              /* KY_CNI_DEV_NAME */
	char pci[KY_PCI_ADDR_LEN];       /* KY_CNI_DEV_PCI, normalised */
	uint8_t hwaddr[6];               /* KY_CNI_DEV_HWADDR */
	const char *kernelpath;          /* KY_CNI_DEV_KERNELPATH */
	char selected[IFNAMSIZ];         /* the netdev hwaddr or kernelpath chose (cni_select.c) */
	struct ky_vf_config vf;          /* VF-only settings (mac not included) */
	const char *vf_field;            /* first VF-only field given, "" when none */
	bool has_mac;
	uint8_t mac[6];
	const char *mac_field;           /* "mac", "runtimeConfig.mac" or "CNI_ARGS MAC" */
	unsigned mtu;                    /* 0: leave as is */
	bool has_ipam;
	const char *ipam_type;
	const char *state_dir, *log_file, *log_level;
	enum ky_log_level log_level_value; /* log_level's, sriov-cni's names included */
	const cJSON *prev_result;
	struct ky_cni_bpf_prog bpf[KY_CNI_MAX_BPF];
	size_t n_bpf;
	struct ky_flower_rule offload[KY_CNI_MAX_OFFLOAD];
	size_t n_offload;
	/* prevResult and no device field: touch no device, only put bpf and
	 * offload on CNI_IFNAME, and pass prevResult through. */
	bool chained;
	struct ky_cni_attachment *valid; /* GC: cni.dev/valid-attachments */
	size_t n_valid;
	/* What the parse left aside, for the front end to log once it has its
	 * log: fields ADD does not know, and fields another command could not
	 * read and does without. */
	char *notes[KY_CNI_MAX_NOTES];
	size_t n_notes;
	bool template;                   /* parsed by ky_cni_conf_parse_template */
};
/* Parses stdin for cmd. -EINVAL with the CNI code on *err: 6 (not JSON /
 * not an object), 1 (cniVersion unsupported or too old for cmd) or 7
 * (invalid). ADD reads every field and refuses a bad one; DEL, CHECK, GC
 * and STATUS read only the fields they use, so a field they do not need
 * never fails them. A field ADD does not know is refused when it is a near
 * miss of one it knows (its case differs, or it is one or two edits away:
 * "vlan_qos", naming "vlanQoS"), and otherwise left aside with a note. */
int ky_cni_conf_parse(const char *text, size_t len, enum ky_cni_cmd cmd, struct ky_cni_conf *out,
		      struct ky_error **err);
/* A config as written, before the runtime hands it to ADD (kyborg
 * --check-config): ADD's checks, but its device may be left to Multus or
 * the runtime (runtimeConfig.deviceID from the device plugin, prevResult). */
int ky_cni_conf_parse_template(const char *text, size_t len, struct ky_cni_conf *out, struct ky_error **err);
/* CNI_ARGS (SPEC.md: "K=V;K2=V2"): its MAC, which sriov-cni honours,
 * between the config's mac and runtimeConfig.mac in precedence. ADD and
 * CHECK only, and not in chained mode, where the MAC is the other plugin's
 * to set. -EINVAL naming CNI_ARGS with code 4 when MAC is no unicast MAC. */
int ky_cni_conf_apply_args(struct ky_cni_conf *c, enum ky_cni_cmd cmd, const char *args, struct ky_error **err);
/* The known field `key` is a near miss of, or NULL: ADD's rule above. Pure. */
const char *ky_cni_conf_near_miss(const char *key);
void ky_cni_conf_free(struct ky_cni_conf *c);
/* cni_config_bpf.c: `bpf` and `offload`, errors naming the entry
 * ("bpf[1].attach: ..."). Pure. */
int ky_cni_conf_parse_bpf(const struct ky_jnode *root, struct ky_cni_conf *c, struct ky_error **err);

/* ---- cni_result.c ---- */
/* A string member of a result object ("address", "gateway", "dst"...), or NULL. */
static inline const char *ky_cni_result_str(const cJSON *o, const char *k)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}
/* Normalises an IPAM result of any supported version into the 1.1.0 form
 * (ips without "version", each with "interface": iface), validating
 * addresses. New object in *out. */
int ky_cni_result_from_ipam(const cJSON *ipam, int iface, cJSON **out, struct ky_error **err);
/* The 1.1.0-form result converted to `version`: "version" on each IP for
 * 0.3.x/0.4.0, interface and route fields newer than the version dropped. */
cJSON *ky_cni_result_convert(const cJSON *res, int version);
/* The CNI error code of a failure: the one set on the error where the
 * failure was classified (ky_error_set_status), else 100 (a kernel or
 * system operation failed). */
int ky_cni_error_code(const struct ky_error *err);
/* The spec's error object for err: {"cniVersion" (1.1.0 when NULL),
 * "code" (ky_cni_error_code), "msg", "details" (the errno's text)}. */
cJSON *ky_cni_error_json(const char *cni_version, const struct ky_error *err);

/* ---- cni_state_key.c ---- */
/* "<network>:<containerID>:<ifname>", each part escaped so that the key
 * obeys ky_state_key_valid(): bytes outside [A-Za-z0-9_.-] and a leading
 * '.' become "@XX". -ENAMETOOLONG when it would exceed KY_STATE_KEY_MAX. */
int ky_cni_state_key(const char *network, const char *container_id, const char *ifname, char *out, size_t size);
/* The key of the lock two ADDs of one device serialise on:
 * "device@<id>", the id (a PCI address or a netdev name, any byte the
 * kernel allows in a name) escaped as above. Never a network's key: those
 * hold ':'. -ENAMETOOLONG or -EINVAL as ky_cni_state_key(). */
int ky_cni_device_key(const char *id, char *out, size_t size);
/* The prefix every key of `network` starts with ("<network>:"). */
int ky_cni_state_key_prefix(const char *network, char *out, size_t size);
/* The inverse: the container ID and interface name of a key made by
 * ky_cni_state_key(). -EINVAL when the key is not of that form (or not of
 * `network`), -ENAMETOOLONG when a part does not fit its buffer. */
int ky_cni_state_key_parse(const char *key, const char *network, char *container_id, size_t cid_size,
			   char *ifname, size_t ifname_size);

/* ---- cni_ipam.c ---- */
struct ky_cni_ipam_call {
	const char *type;        /* the plugin's name, looked up in cni_path */
	const char *cni_path;
	const char *command;     /* "ADD", "DEL", "CHECK" */
	const char *container_id, *netns, *ifname, *args;
	char *const *environ;    /* our environment: passed on minus CNI_* */
	const char *conf;        /* the network config to send */
};
/* Runs the IPAM plugin. For ADD, *result is its parsed result and
 * *conf_sent (when non-NULL) the exact config sent: when the plugin
 * refuses our cniVersion (code 1) the call is retried with the highest
 * version both support. Errors carry the plugin's code and message. */
int ky_cni_ipam_exec(const struct ky_cni_ipam_call *call, cJSON **result, char **conf_sent, struct ky_error **err);
/* GC through the IPAM plugin (SPEC.md 1.1: a plugin that delegates IPAM
 * delegates GC too), with the same config, valid attachments included.
 * 1 when the plugin speaks no 1.1.0, so has no GC: nothing is sent. */
int ky_cni_ipam_gc(const struct ky_cni_ipam_call *call, struct ky_error **err);

/* ---- cni_rdma.c: whether the device's RDMA device goes with it (pure) ---- */
struct ky_cni_rdma_facts {
	bool has_netdev;       /* a kernel netdev (not one bound to a userspace driver) */
	bool node_has_rdma;    /* ky_rdma_present() */
	enum ky_rdma_netns_mode mode;
	bool found;            /* an RDMA device has a port on the netdev */
};
enum ky_cni_rdma_action { KY_CNI_RDMA_NONE, KY_CNI_RDMA_MOVE };
/* MOVE only in exclusive mode, for an RDMA device on the netdev; *why
 * (when not NULL) says why, for the log. Each fact can only turn MOVE
 * into NONE, so a caller may ask before it knows them all. */
enum ky_cni_rdma_action ky_cni_rdma_plan(const struct ky_cni_rdma_facts *f, const char **why);
/* DEL: MOVE (back) when ADD recorded a device, the pod's netns is there
 * and the device is in it; a dead netns gave it back to the initial one. */
enum ky_cni_rdma_action ky_cni_rdma_undo_plan(bool recorded, bool pod_netns_open, bool found_in_pod);

/* ---- cni_verbs.c (ADD, DEL), cni_check.c, cni_gc.c, cni_status.c: the verbs over the kernel ---- */
struct ky_cni {
	struct ky_cni_env env;
	struct ky_cni_conf conf;
	struct ky_cni_node node;
	char *const *environ;
	const char *input;   /* stdin */
	size_t input_len;
	cJSON *output;       /* what to print on success (NULL: nothing) */
};
/* Each returns 0 with c->output set, or -errno with *err, whose status
 * (ky_error_set_status) is the CNI error code. */
int ky_cni_add(struct ky_cni *c, struct ky_error **err);
int ky_cni_del(struct ky_cni *c, struct ky_error **err);
int ky_cni_check(struct ky_cni *c, struct ky_error **err);
int ky_cni_gc(struct ky_cni *c, struct ky_error **err);
int ky_cni_status(struct ky_cni *c, struct ky_error **err);

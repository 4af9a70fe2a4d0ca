/* The network config on stdin: the CNI-standard fields, ours (names after
 * sriov-cni and host-device, whose documented configs run unchanged), and
 * which of them each command needs. Pure. */
#include "cni.h"
#include "kyborg/base/error.h"
#include "kyborg/base/inet.h"
#include "kyborg/base/str.h"
#include "kyborg/net/netlink.h"
#include "kyborg/state/paths.h"

#include <errno.h>
#include <linux/if_ether.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* SPEC.md (section 1) lets a plugin "generate an error if called with
 * unknown fields", except inside `args`, which it must ignore when not
 * understood. sriov-cni and host-device ignore fields they do not know, and
 * configs written for them carry such fields, so ADD ignores one too (with
 * a note in the log) unless it is a near miss of a field below: a typo
 * such as "vlna" or "spoofChk" would otherwise put a pod on the wrong VLAN
 * or without spoof checking in silence. runtimeConfig and args are open,
 * since runtimes and Multus add keys there. */
static const char *const known_keys[] = {
	/* the spec's */
	"cniVersion", "name", "type", "args", "prevResult", "runtimeConfig", "capabilities", "dns", "ipam",
	"disableCheck", "disableGC", "cni.dev/valid-attachments", "cni.dev/attachments",
	/* sriov-cni's and host-device's, with their meaning */
	"device", "deviceID", "pciBusID", "hwaddr", "kernelpath", "mac", "vlan", "vlanQoS", "vlanProto", "spoofchk",
	"trust", "link_state", "min_tx_rate", "max_tx_rate", "logLevel", "logFile",
	/* ours */
	"mtu", "stateDir", "bpf", "offload", NULL
};

static const char *const on_off[] = { "on", "off", NULL };
static const char *const link_states[] = { "auto", "enable", "disable", NULL };
/* sriov-cni's levels, and ours; panic logs only what stops the plugin,
 * which for us are the errors. */
static const struct {
	const char *name;
	enum ky_log_level level;
} log_levels[] = {
	{ "panic", KY_LOG_ERROR }, { "error", KY_LOG_ERROR }, { "warning", KY_LOG_WARN }, { "warn", KY_LOG_WARN },
	{ "info", KY_LOG_INFO },   { "debug", KY_LOG_DEBUG },
};

void ky_cni_conf_free(struct ky_cni_conf *c)
{
	if (!c)
		return;
	cJSON_Delete(c->doc);
	free(c->valid);
	for (size_t i = 0; i < c->n_notes; i++)
		free(c->notes[i]);
	memset(c, 0, sizeof(*c));
}

__attribute__((format(printf, 2, 3))) static void note(struct ky_cni_conf *c, const char *fmt, ...)
{
	if (c->n_notes == KY_CNI_MAX_NOTES)
		return;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&c->notes[c->n_notes], fmt, ap) >= 0)
		c->n_notes++;
	va_end(ap);
}

const char *ky_cni_conf_near_miss(const char *key)
{
	const char *best = NULL;
	unsigned best_d = KY_STR_DISTANCE_MAX + 1;
	for (size_t i = 0; known_keys[i]; i++) {
		unsigned d = ky_str_distance_nocase(key, known_keys[i]);
		/* Two edits from a key of four letters or fewer is half of it:
		 * "tag" is two from "mac" and means something else. */
		unsigned limit = strlen(known_keys[i]) <= 4 ? 1 : 2;
		if (d <= limit && d < best_d) {
			best = known_keys[i];
			best_d = d;
		}
	}
	return best;
}

static bool is_known(const char *key)
{
	for (size_t i = 0; known_keys[i]; i++)
		if (strcmp(key, known_keys[i]) == 0)
			return true;
	return false;
}

/* ADD: every top-level key is known, a near miss (refused, naming the field
 * meant), or left aside with a note. A repeated key is refused: cJSON keeps
 * the first, Go's encoding/json (sriov-cni, host-device) the last. */
static int check_fields(const struct ky_jnode *root, struct ky_cni_conf *c, enum ky_cni_cmd cmd,
			struct ky_error **err)
{
	(void)cmd;
	const cJSON *m;
	cJSON_ArrayForEach(m, root->j)
	{
		struct ky_jnode n;
		ky_json_elem(root, m, 0, &n);
		for (const cJSON *p = root->j->child; p != m; p = p->next)
			if (strcmp(p->string, m->string) == 0)
				return ky_json_error(&n, err, "duplicate field");
		if (is_known(m->string))
			continue;
		const char *meant = ky_cni_conf_near_miss(m->string);
		if (meant)
			return ky_json_error(&n, err, "unknown field; did you mean %s?", meant);
		char q[80];
		note(c, "field %s: unknown, ignored", ky_json_quote(m->string, q, sizeof(q)));
	}
	return 0;
}

/* ---- The groups of fields, each parsed by the commands that need it ---- */

static int parse_identity(const struct ky_jnode *root, struct ky_cni_conf *c, enum ky_cni_cmd cmd,
			  struct ky_error **err)
{
	(void)cmd;
	int r;
	if ((r = ky_json_string(root, "name", KY_JSON_REQUIRED, &c->name, err)) < 0 ||
	    (r = ky_json_string(root, "type", KY_JSON_REQUIRED, &c->type, err)) < 0)
		return r;
	if (!ky_cni_network_name_valid(c->name))
		return ky_error_set(err, EINVAL, "name: invalid network name \"%.80s\" (letters, digits, '_', '.', '-')",
				    c->name);
	return 0;
}

static int parse_state(const struct ky_jnode *root, struct ky_cni_conf *c, enum ky_cni_cmd cmd,
		       struct ky_error **err)
{
	(void)cmd;
	int r = ky_json_string(root, "stateDir", 0, &c->state_dir, err);
	if (r < 0)
		return r;
	if (c->state_dir[0] != '/')
		return ky_error_set(err, EINVAL, "stateDir: not an absolute path");
	return 0;
}

static int parse_logging(const struct ky_jnode *root, struct ky_cni_conf *c, enum ky_cni_cmd cmd,
			 struct ky_error **err)
{
	(void)cmd;
	int r;
	/* The operator's CRD allows "" for the default. */
	if ((r = ky_json_string(root, "logFile", 0, &c->log_file, err)) < 0 ||
	    (r = ky_json_string(root, "logLevel", KY_JSON_ALLOW_EMPTY, &c->log_level, err)) < 0)
		return r;
	if (c->log_file && c->log_file[0] != '/')
		return ky_error_set(err, EINVAL, "logFile: not an absolute path");
	if (!c->log_level || !c->log_level[0])
		return 0;
	for (size_t i = 0; i < KY_ARRAY_SIZE(log_levels); i++)
		if (strcasecmp(c->log_level, log_levels[i].name) == 0) {
			c->log_level_value = log_levels[i].level;
			return 0;
		}
	char q[40];
	return ky_error_set(err, EINVAL, "logLevel: must be one of panic, error, warning, info, debug, got %s",
			    ky_json_quote(c->log_level, q, sizeof(q)));
}

static int set_pci(struct ky_cni_conf *c, const struct ky_jnode *obj, const char *key, const char *field,
		   struct ky_error **err)
{
	const char *s;
	int r = ky_json_string(obj, key, 0, &s, err);
	if (r <= 0)
		return r;
	char norm[KY_PCI_ADDR_LEN];
	if (ky_pci_addr_normalize(s, norm) < 0) {
		struct ky_jnode n;
		ky_json_child(obj, key, 0, &n, NULL);
		return ky_json_error(&n, err, "not a PCI address (DDDD:BB:SS.F): \"%.40s\"", s);
	}
	if (c->dev_field) {
		/* Multus copies the device plugin's allocation into deviceID
		 * and runtimeConfig.deviceID alike: the same address twice is
		 * one device. */
		if (c->dev_source == KY_CNI_DEV_PCI && strcmp(c->pci, norm) == 0)
			return 1;
		return ky_error_set(err, EINVAL, "%s and %s both name a device: give exactly one", c->dev_field, field);
	}
	c->dev_source = KY_CNI_DEV_PCI;
	c->dev_field = field;
	memcpy(c->pci, norm, sizeof(norm));
	return 1;
}

/* host-device's kernelpath: a kernel object under /sys/devices, checked as
 * text here; cni_select.c resolves it on the node and checks it again. */
static bool kernelpath_valid(const char *p)
{
	if (strlen(p) >= KY_CNI_KERNELPATH_MAX || !ky_path_beneath(p, "/sys/devices"))
		return false;
	for (const char *q = p; *q; q++)
		if ((unsigned char)*q < ' ' || *q == 0x7f)
			return false;
	return true;
}

static int set_named(struct ky_cni_conf *c, const char *field, enum ky_cni_dev_source src, struct ky_error **err)
{
	if (c->dev_field)
		return ky_error_set(err, EINVAL, "%s and %s both name a device: give exactly one", c->dev_field, field);
	c->dev_field = field;
	c->dev_source = src;
	return 0;
}

static int parse_device(const struct ky_jnode *root, struct ky_cni_conf *c, enum ky_cni_cmd cmd,
			struct ky_error **err)
{
	int r;
	const char *s;
	struct ky_jnode rc;
	if ((r = ky_json_string(root, "device", 0, &s, err)) < 0)
		return r;
	if (r > 0) {
		if (!ky_ifname_valid(s))
			return ky_error_set(err, EINVAL, "device: invalid interface name \"%.32s\"", s);
		set_named(c, "device", KY_CNI_DEV_NAME, err);
		c->device = s;
	}
	if ((r = ky_json_mac(root, "hwaddr", 0, c->hwaddr, err)) < 0)
		return r;
	if (r > 0 && set_named(c, "hwaddr", KY_CNI_DEV_HWADDR, err) < 0)
		return -EINVAL;
	if ((r = ky_json_string(root, "kernelpath", 0, &s, err)) < 0)
		return r;
	if (r > 0) {
		if (!kernelpath_valid(s))
			return ky_error_set(err, EINVAL, "kernelpath: not a kernel object under /sys/devices/: \"%.80s\"", s);
		if (set_named(c, "kernelpath", KY_CNI_DEV_KERNELPATH, err) < 0)
			return -EINVAL;
		c->kernelpath = s;
	}
	if ((r = set_pci(c, root, "deviceID", "deviceID", err)) < 0 ||
	    (r = set_pci(c, root, "pciBusID", "pciBusID", err)) < 0)
		return r;
	if ((r = ky_json_object(root, "runtimeConfig", KY_JSON_NULLABLE, &rc, err)) < 0)
		return r;
	if ((r = set_pci(c, &rc, "deviceID", "runtimeConfig.deviceID", err)) < 0)
		return r;
	c->chained = c->prev_result && !c->dev_field;
	if (!c->dev_field && !c->chained && cmd == KY_CNI_ADD && !c->template)
		return ky_error_set(err, EINVAL, "no device: set one of device, deviceID, pciBusID, hwaddr, kernelpath or "
				    "runtimeConfig.deviceID");
	return 0;
}

static int parse_prev_result(const struct ky_jnode *root, struct ky_cni_conf *c, enum ky_cni_cmd cmd,
			     struct ky_error **err)
{
	(void)cmd;
	struct ky_jnode prev;
	int r = ky_json_object(root, "prevResult", KY_JSON_NULLABLE, &prev, err);
	c->prev_result = prev.j;
	return r < 0 ? r : 0;
}

static void note_vf_field(struct ky_cni_conf *c, const char *name, unsigned mask)
{
	if (!c->vf_field[0])
		c->vf_field = name;
	c->vf.mask |= mask;
}

static int parse_vf(const struct ky_jnode *root, struct ky_cni_conf *c, enum ky_cni_cmd cmd,
		    struct ky_error **err)
{
	(void)cmd;
	int r, idx;
	uint16_t u16;
	uint8_t u8;
	uint32_t u32;
	if ((r = ky_json_u16(root, "vlan", 0, 0, 4094, &u16, err)) < 0)
		return r;
	if (r > 0) {
		c->vf.vlan = u16;
		note_vf_field(c, "vlan", KY_VF_VLAN);
	}
	if ((r = ky_json_u8(root, "vlanQoS", 0, 0, 7, &u8, err)) < 0)
		return r;
	if (r > 0) {
		c->vf.qos = u8;
		note_vf_field(c, "vlanQoS", KY_VF_VLAN);
	}
	c->vf.vlan_proto = ETH_P_8021Q;
	const char *proto;
	if ((r = ky_json_string(root, "vlanProto", 0, &proto, err)) < 0)
		return r;
	if (r > 0) {
		/* sriov-cni lower-cases it; the operator's CRD offers "802.1Q"
		 * and "802.1AD" next to the lower-case names. */
		char q[40];
		if (strcasecmp(proto, "802.1q") != 0 && strcasecmp(proto, "802.1ad") != 0)
			return ky_error_set(err, EINVAL, "vlanProto: must be one of 802.1q, 802.1ad (any case), got %s",
					    ky_json_quote(proto, q, sizeof(q)));
		c->vf.vlan_proto = strcasecmp(proto, "802.1ad") == 0 ? ETH_P_8021AD : ETH_P_8021Q;
		note_vf_field(c, "vlanProto", KY_VF_VLAN);
	}
	if ((c->vf.mask & KY_VF_VLAN) && c->vf.vlan == 0 && (c->vf.qos || c->vf.vlan_proto != ETH_P_8021Q)) {
		struct ky_jnode n;
		ky_json_child(root, "vlanQoS", 0, &n, NULL);
		return ky_json_error(&n, err, "vlanQoS and vlanProto need a vlan");
	}
	if ((r = ky_json_enum(root, "spoofchk", 0, on_off, &idx, err)) < 0)
		return r;
	if (r > 0) {
		c->vf.spoofchk = idx == 0;
		note_vf_field(c, "spoofchk", KY_VF_SPOOFCHK);
	}
	if ((r = ky_json_enum(root, "trust", 0, on_off, &idx, err)) < 0)
		return r;
	if (r > 0) {
		c->vf.trust = idx == 0;
		note_vf_field(c, "trust", KY_VF_TRUST);
	}
	if ((r = ky_json_enum(root, "link_state", 0, link_states, &idx, err)) < 0)
		return r;
	if (r > 0) {
		c->vf.link_state = (enum ky_vf_link_state)idx;
		note_vf_field(c, "link_state", KY_VF_LINK_STATE);
	}
	if ((r = ky_json_u32(root, "min_tx_rate", 0, 0, UINT32_MAX, &u32, err)) < 0)
		return r;
	if (r > 0) {
		c->vf.min_tx_rate = u32;
		note_vf_field(c, "min_tx_rate", KY_VF_RATE);
	}
	if ((r = ky_json_u32(root, "max_tx_rate", 0, 0, UINT32_MAX, &u32, err)) < 0)
		return r;
	if (r > 0) {
		c->vf.max_tx_rate = u32;
		note_vf_field(c, "max_tx_rate", KY_VF_RATE);
	}
	if ((c->vf.mask & KY_VF_RATE) && c->vf.max_tx_rate && c->vf.min_tx_rate > c->vf.max_tx_rate) {
		struct ky_jnode n;
		ky_json_child(root, "min_tx_rate", 0, &n, NULL);
		return ky_json_error(&n, err, "%u is above max_tx_rate %u", c->vf.min_tx_rate, c->vf.max_tx_rate);
	}
	return 0;
}

/* "mac", then runtimeConfig.mac (the "mac" capability), which wins as in
 * sriov-cni; CNI_ARGS comes between (ky_cni_conf_apply_args). */
static int parse_mac(const struct ky_jnode *root, struct ky_cni_conf *c, enum ky_cni_cmd cmd,
		     struct ky_error **err)
{
	(void)cmd;
	struct ky_jnode rc;
	int r;
	if ((r = ky_json_mac(root, "mac", 0, c->mac, err)) < 0)
		return r;
	if (r > 0) {
		c->has_mac = true;
		c->mac_field = "mac";
	}
	if ((r = ky_json_object(root, "runtimeConfig", KY_JSON_NULLABLE, &rc, err)) < 0 ||
	    (r = ky_json_mac(&rc, "mac", 0, c->mac, err)) < 0)
		return r;
	if (r > 0) {
		c->has_mac = true;
		c->mac_field = "runtimeConfig.mac";
	}
	if (c->has_mac && (c->mac[0] & 1))
		return ky_error_set(err, EINVAL, "%s: a multicast address cannot be an interface's", c->mac_field);
	return 0;
}

static int parse_mtu(const struct ky_jnode *root, struct ky_cni_conf *c, enum ky_cni_cmd cmd,
		     struct ky_error **err)
{
	(void)cmd;
	uint32_t mtu;
	int r = ky_json_u32(root, "mtu", 0, 68, 65535, &mtu, err);
	if (r > 0)
		c->mtu = mtu;
	return r < 0 ? r : 0;
}

static int parse_ipam(const struct ky_jnode *root, struct ky_cni_conf *c, enum ky_cni_cmd cmd,
		      struct ky_error **err)
{
	(void)cmd;
	struct ky_jnode ipam;
	int r = ky_json_object(root, "ipam", 0, &ipam, err);
	if (r < 0)
		return r;
	/* The operator renders "ipam": {} for a network without IPAM. */
	if (!ipam.j || cJSON_GetArraySize(ipam.j) == 0)
		return 0;
	if ((r = ky_json_string(&ipam, "type", KY_JSON_REQUIRED, &c->ipam_type, err)) < 0)
		return r;
	if (strchr(c->ipam_type, '/') || c->ipam_type[0] == '.')
		return ky_error_set(err, EINVAL, "ipam.type: not a plugin name \"%.40s\"", c->ipam_type);
	c->has_ipam = true;
	return 0;
}

static int check_chained(const struct ky_jnode *root, struct ky_cni_conf *c, enum ky_cni_cmd cmd,
			 struct ky_error **err)
{
	(void)root;
	(void)cmd;
	if (!c->chained)
		return 0;
	/* Another plugin owns the device: ours only adds programs and rules
	 * to the interface it made. */
	const char *which = c->vf_field[0] ? c->vf_field : c->has_mac ? c->mac_field : c->mtu ? "mtu" :
			    c->has_ipam ? "ipam" : NULL;
	if (which)
		return ky_error_set(err, EINVAL, "%s: not allowed in chained mode (prevResult and no device field): "
				    "the plugin touches no device", which);
	return 0;
}

static int parse_bpf(const struct ky_jnode *root, struct ky_cni_conf *c, enum ky_cni_cmd cmd,
		     struct ky_error **err)
{
	(void)cmd;
	return ky_cni_conf_parse_bpf(root, c, err);
}

static int parse_valid_attachments(const struct ky_jnode *root, struct ky_cni_conf *c, enum ky_cni_cmd cmd,
				   struct ky_error **err)
{
	(void)cmd;
	struct ky_jnode arr, e;
	size_t n, i;
	int r = ky_json_array(root, "cni.dev/valid-attachments", KY_JSON_REQUIRED, &arr, &n, err);
	if (r < 0)
		return r;
	c->valid = calloc(n ? n : 1, sizeof(*c->valid));
	if (!c->valid)
		return ky_error_set(err, ENOMEM, "allocate attachments");
	ky_json_foreach(&arr, i, e)
	{
		if ((r = ky_json_object(&e, NULL, KY_JSON_REQUIRED, &e, err)) < 0 ||
		    (r = ky_json_string(&e, "containerID", KY_JSON_REQUIRED, &c->valid[i].container_id, err)) < 0 ||
		    (r = ky_json_string(&e, "ifname", KY_JSON_REQUIRED, &c->valid[i].ifname, err)) < 0)
			return r;
	}
	c->n_valid = n;
	return 0;
}

#define CMD(c) (1u << (c))
#define ADD CMD(KY_CNI_ADD)
#define DEL CMD(KY_CNI_DEL)
#define CHECK CMD(KY_CNI_CHECK)
#define GC CMD(KY_CNI_GC)
#define STATUS CMD(KY_CNI_STATUS)
#define ALL (ADD | DEL | CHECK | GC | STATUS)

/* Which commands need each group, in the order they are parsed. A command
 * in `strict` fails on a bad value, naming the field; one in `lenient`
 * uses the group when it reads and goes on without it otherwise (a note
 * says what was left aside); the others never look at it. DEL, GC and
 * STATUS must not fail on a field they do not need: a NetworkAttachment-
 * Definition edited after ADD, or a plugin up- or downgraded, would
 * otherwise leave a pod stuck terminating. DEL finds its record by name
 * and stateDir, and undoes what the record says; it reads ipam only to
 * release an address ADD never recorded. CHECK compares the VF fields,
 * the MAC and prevResult with the node, and takes the device from the
 * record. */
static const struct group {
	int (*parse)(const struct ky_jnode *root, struct ky_cni_conf *c, enum ky_cni_cmd cmd, struct ky_error **err);
	unsigned strict, lenient;
} groups[] = {
	{ check_fields, ADD, 0 },
	{ parse_identity, ALL, 0 },
	{ parse_state, ALL, 0 },
	{ parse_logging, ADD, ALL & ~ADD },
	{ parse_prev_result, ADD | CHECK, 0 },
	{ parse_device, ADD, CHECK },
	{ parse_vf, ADD | CHECK, 0 },
	{ parse_mac, ADD | CHECK, 0 },
	{ parse_mtu, ADD, 0 },
	{ parse_ipam, ADD | GC | STATUS, DEL },
	{ check_chained, ADD, 0 },
	{ parse_bpf, ADD, 0 },
	{ parse_valid_attachments, GC, 0 },
};

static const char *const cmd_names[] = {
	[KY_CNI_ADD] = "ADD", [KY_CNI_DEL] = "DEL", [KY_CNI_CHECK] = "CHECK", [KY_CNI_GC] = "GC",
	[KY_CNI_STATUS] = "STATUS", [KY_CNI_VERSION] = "VERSION",
};

static int run_group(const struct group *g, const struct ky_jnode *root, struct ky_cni_conf *c, enum ky_cni_cmd cmd,
		     struct ky_error **err)
{
	if (g->strict & CMD(cmd))
		return g->parse(root, c, cmd, err);
	if (!(g->lenient & CMD(cmd)))
		return 0;
	/* On a copy, so that a group read half way leaves nothing behind;
	 * the lenient groups allocate nothing. */
	struct ky_cni_conf try = *c;
	_cleanup_error_ struct ky_error *e = NULL;
	int r = g->parse(root, &try, cmd, &e);
	if (r == 0) {
		*c = try;
		return 0;
	}
	for (size_t i = c->n_notes; i < try.n_notes; i++)
		free(try.notes[i]);
	if (r == -ENOMEM)
		return ky_error_set(err, ENOMEM, "%s", ky_error_msg(e));
	note(c, "%s (%s does not need it: left aside)", ky_error_msg(e), cmd_names[cmd]);
	return 0;
}

/* *code follows how far parsing got: what a failure there means to the
 * runtime. */
static int conf_parse(const char *text, size_t len, enum ky_cni_cmd cmd, bool template, struct ky_cni_conf *out,
		      int *code, struct ky_error **err)
{
	memset(out, 0, sizeof(*out));
	out->template = template;
	out->vf_field = "";
	out->state_dir = KY_CNI_STATE_DIR_DEFAULT;
	out->log_level_value = KY_LOG_INFO;
	*code = KY_CNI_E_DECODE;
	int r = ky_json_parse(text, len, &out->doc, err);
	if (r < 0)
		return r;
	if (!cJSON_IsObject(out->doc))
		return ky_error_set(err, EINVAL, "network config is a JSON %s, not an object",
				    ky_json_type_name(out->doc));
	*code = KY_CNI_E_CONFIG;
	struct ky_jnode root;
	ky_json_root(out->doc, &root);

	int flags = cmd == KY_CNI_VERSION ? 0 : KY_JSON_REQUIRED;
	if ((r = ky_json_string(&root, "cniVersion", flags, &out->cni_version, err)) < 0)
		return r;
	if (cmd == KY_CNI_VERSION)
		return 0;
	out->version = ky_cni_version_index(out->cni_version);
	if (out->version < 0) {
		*code = KY_CNI_E_VERSION;
		return ky_error_set(err, EINVAL, "cniVersion %.20s is not supported (supported: 0.3.0, 0.3.1, 0.4.0, "
				    "1.0.0, 1.1.0)", out->cni_version);
	}
	if ((cmd == KY_CNI_CHECK && out->version < KY_CNI_V040) ||
	    ((cmd == KY_CNI_GC || cmd == KY_CNI_STATUS) && out->version < KY_CNI_V110)) {
		*code = KY_CNI_E_VERSION;
		return ky_error_set(err, EINVAL, "cniVersion %s does not have the %s command", out->cni_version,
				    cmd_names[cmd]);
	}
	for (size_t i = 0; i < KY_ARRAY_SIZE(groups); i++)
		if ((r = run_group(&groups[i], &root, out, cmd, err)) < 0)
			return r;
	return 0;
}

int ky_cni_conf_parse(const char *text, size_t len, enum ky_cni_cmd cmd, struct ky_cni_conf *out,
		      struct ky_error **err)
{
	int code = KY_CNI_E_DECODE;
	int r = conf_parse(text, len, cmd, false, out, &code, err);
	if (r < 0 && err)
		ky_error_set_status(err, code);
	return r;
}

int ky_cni_conf_parse_template(const char *text, size_t len, struct ky_cni_conf *out, struct ky_error **err)
{
	int code = KY_CNI_E_DECODE;
	int r = conf_parse(text, len, KY_CNI_ADD, true, out, &code, err);
	if (r < 0 && err)
		ky_error_set_status(err, code);
	return r;
}

int ky_cni_conf_apply_args(struct ky_cni_conf *c, enum ky_cni_cmd cmd, const char *args, struct ky_error **err)
{
	if (!args || (cmd != KY_CNI_ADD && cmd != KY_CNI_CHECK) || c->chained)
		return 0;
	/* runtimeConfig.mac wins over CNI_ARGS, as in sriov-cni. */
	if (c->has_mac && strcmp(c->mac_field, "runtimeConfig.mac") == 0)
		return 0;
	for (const char *p = args; *p;) {
		const char *end = strchrnul(p, ';');
		size_t len = (size_t)(end - p);
		/* The other keys (IgnoreUnknown, K8S_POD_NAME...) are not ours. */
		if (len > 4 && strncmp(p, "MAC=", 4) == 0) {
			char v[KY_MAC_STRLEN];
			uint8_t mac[6];
			if (len - 4 != KY_MAC_STRLEN - 1) {
				ky_error_set(err, EINVAL, "CNI_ARGS: MAC: not a MAC address (xx:xx:xx:xx:xx:xx)");
				return ky_error_set_status(err, KY_CNI_E_ENV);
			}
			memcpy(v, p + 4, KY_MAC_STRLEN - 1);
			v[KY_MAC_STRLEN - 1] = '\0';
			if (ky_parse_mac(v, mac) < 0 || (mac[0] & 1)) {
				ky_error_set(err, EINVAL, "CNI_ARGS: MAC: %s is not a unicast MAC address", v);
				return ky_error_set_status(err, KY_CNI_E_ENV);
			}
			memcpy(c->mac, mac, 6);
			c->has_mac = true;
			c->mac_field = "CNI_ARGS MAC";
		}
		p = *end ? end + 1 : end;
	}
	return 0;
}

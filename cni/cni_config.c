/* The network config on stdin: the CNI-standard fields, ours (names after
 * sriov-cni and host-device), and which of them each command needs. Pure. */
#include "cni.h"
#include "kyborg/base/error.h"
#include "kyborg/net/netlink.h"
#include "kyborg/state/paths.h"

#include <errno.h>
#include <linux/if_ether.h>
#include <string.h>

/* SPEC.md (section 1) lets a plugin "generate an error if called with
 * unknown fields", except inside `args`, which it must ignore when not
 * understood. We refuse unknown top-level fields (code 7): a typo such as
 * "vlna" would otherwise put a pod on the wrong VLAN in silence. The
 * fields runtimes and the spec define are accepted even where we do not
 * use them; runtimeConfig and args are open, since runtimes and Multus add
 * keys there. */
static const char *const allowed_keys[] = {
	/* the spec's */
	"cniVersion", "name", "type", "args", "prevResult", "runtimeConfig", "capabilities", "dns", "ipam",
	"disableCheck", "disableGC", "cni.dev/valid-attachments", "cni.dev/attachments",
	/* ours */
	"device", "deviceID", "pciBusID", "mtu", "mac", "vlan", "vlanQoS", "vlanProto", "spoofchk", "trust",
	"link_state", "min_tx_rate", "max_tx_rate", "stateDir", "logLevel", "logFile", "bpf", "offload", NULL
};

static const char *const on_off[] = { "on", "off", NULL };
static const char *const vlan_protos[] = { "802.1q", "802.1ad", NULL };
static const char *const link_states[] = { "auto", "enable", "disable", NULL };

void ky_cni_conf_free(struct ky_cni_conf *c)
{
	if (!c)
		return;
	cJSON_Delete(c->doc);
	free(c->valid);
	memset(c, 0, sizeof(*c));
}

static void note_vf_field(struct ky_cni_conf *c, const char *name, unsigned mask)
{
	if (!c->vf_field[0])
		c->vf_field = name;
	c->vf.mask |= mask;
}

static int parse_vf(const struct ky_jnode *root, struct ky_cni_conf *c, struct ky_error **err)
{
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
	if ((r = ky_json_enum(root, "vlanProto", 0, vlan_protos, &idx, err)) < 0)
		return r;
	if (r > 0) {
		c->vf.vlan_proto = idx ? ETH_P_8021AD : ETH_P_8021Q;
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

static int parse_valid_attachments(const struct ky_jnode *root, struct ky_cni_conf *c, struct ky_error **err)
{
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

/* *code follows how far parsing got: what a failure there means to the
 * runtime. */
static int conf_parse(const char *text, size_t len, enum ky_cni_cmd cmd, struct ky_cni_conf *out, int *code,
		      struct ky_error **err)
{
	memset(out, 0, sizeof(*out));
	out->vf_field = "";
	out->state_dir = KY_CNI_STATE_DIR_DEFAULT;
	*code = KY_CNI_E_DECODE;
	int r = ky_json_parse(text, len, &out->doc, err);
	if (r < 0)
		return r;
	if (!cJSON_IsObject(out->doc))
		return ky_error_set(err, EINVAL, "network config is a JSON %s, not an object",
				    ky_json_type_name(out->doc));
	*code = KY_CNI_E_CONFIG;
	struct ky_jnode root, rc, ipam;
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
				    cmd == KY_CNI_CHECK ? "CHECK" : cmd == KY_CNI_GC ? "GC" : "STATUS");
	}
	if ((r = ky_json_check_keys(&root, allowed_keys, err)) < 0)
		return r;
	if ((r = ky_json_string(&root, "name", KY_JSON_REQUIRED, &out->name, err)) < 0 ||
	    (r = ky_json_string(&root, "type", KY_JSON_REQUIRED, &out->type, err)) < 0)
		return r;
	if (!ky_cni_network_name_valid(out->name))
		return ky_error_set(err, EINVAL, "name: invalid network name \"%.80s\" (letters, digits, '_', '.', '-')",
				    out->name);
	if ((r = ky_json_string(&root, "stateDir", 0, &out->state_dir, err)) < 0 ||
	    (r = ky_json_string(&root, "logFile", 0, &out->log_file, err)) < 0 ||
	    (r = ky_json_string(&root, "logLevel", 0, &out->log_level, err)) < 0)
		return r;
	if (out->state_dir[0] != '/')
		return ky_error_set(err, EINVAL, "stateDir: not an absolute path");
	if (out->log_file && out->log_file[0] != '/')
		return ky_error_set(err, EINVAL, "logFile: not an absolute path");

	/* The device: exactly one way of naming it. */
	const char *dev;
	if ((r = ky_json_string(&root, "device", 0, &dev, err)) < 0)
		return r;
	if (r > 0) {
		if (!ky_ifname_valid(dev))
			return ky_error_set(err, EINVAL, "device: invalid interface name \"%.32s\"", dev);
		out->dev_source = KY_CNI_DEV_NAME;
		out->dev_field = "device";
		out->device = dev;
	}
	if (out->device && (cJSON_GetObjectItemCaseSensitive(out->doc, "deviceID") ||
			    cJSON_GetObjectItemCaseSensitive(out->doc, "pciBusID")))
		return ky_error_set(err, EINVAL, "device and a PCI address both name a device: give exactly one");
	if ((r = set_pci(out, &root, "deviceID", "deviceID", err)) < 0 ||
	    (r = set_pci(out, &root, "pciBusID", "pciBusID", err)) < 0)
		return r;
	if ((r = ky_json_object(&root, "runtimeConfig", KY_JSON_NULLABLE, &rc, err)) < 0)
		return r;
	if (out->device && cJSON_GetObjectItemCaseSensitive(rc.j, "deviceID"))
		return ky_error_set(err, EINVAL, "device and runtimeConfig.deviceID both name a device: give exactly one");
	if ((r = set_pci(out, &rc, "deviceID", "runtimeConfig.deviceID", err)) < 0)
		return r;

	struct ky_jnode prev;
	if ((r = ky_json_object(&root, "prevResult", KY_JSON_NULLABLE, &prev, err)) < 0)
		return r;
	out->prev_result = prev.j;
	out->chained = prev.j && !out->dev_field;

	/* DEL, GC and STATUS must work with configs ADD never saw through:
	 * the device matters only where we attach. */
	if (!out->dev_field && !out->chained && (cmd == KY_CNI_ADD || cmd == KY_CNI_CHECK))
		return ky_error_set(err, EINVAL, "no device: set one of device, deviceID, pciBusID or "
				    "runtimeConfig.deviceID");

	if ((r = parse_vf(&root, out, err)) < 0)
		return r;
	if ((r = ky_json_mac(&root, "mac", 0, out->mac, err)) < 0)
		return r;
	out->has_mac = r > 0;
	if ((r = ky_json_mac(&rc, "mac", 0, out->mac, err)) < 0)
		return r;
	out->has_mac |= r > 0;
	if (out->has_mac && (out->mac[0] & 1))
		return ky_error_set(err, EINVAL, "mac: a multicast address cannot be an interface's");
	uint32_t mtu;
	if ((r = ky_json_u32(&root, "mtu", 0, 68, 65535, &mtu, err)) < 0)
		return r;
	if (r > 0)
		out->mtu = mtu;

	if ((r = ky_json_object(&root, "ipam", 0, &ipam, err)) < 0)
		return r;
	if (ipam.j && cJSON_GetArraySize(ipam.j) > 0) {
		if ((r = ky_json_string(&ipam, "type", KY_JSON_REQUIRED, &out->ipam_type, err)) < 0)
			return r;
		if (strchr(out->ipam_type, '/') || out->ipam_type[0] == '.')
			return ky_error_set(err, EINVAL, "ipam.type: not a plugin name \"%.40s\"", out->ipam_type);
		out->has_ipam = true;
	}
	if (out->chained && (cmd == KY_CNI_ADD || cmd == KY_CNI_CHECK)) {
		/* Another plugin owns the device: ours only adds programs
		 * and rules to the interface it made. */
		const char *which = out->vf_field[0] ? out->vf_field : out->has_mac ? "mac" : out->mtu ? "mtu" :
				    out->has_ipam ? "ipam" : NULL;
		if (which)
			return ky_error_set(err, EINVAL, "%s: not allowed in chained mode (prevResult and no device "
					    "field): the plugin touches no device", which);
	}
	if ((r = ky_cni_conf_parse_bpf(&root, out, err)) < 0)
		return r;
	if (cmd == KY_CNI_GC && (r = parse_valid_attachments(&root, out, err)) < 0)
		return r;
	return 0;
}

int ky_cni_conf_parse(const char *text, size_t len, enum ky_cni_cmd cmd, struct ky_cni_conf *out,
		      struct ky_error **err)
{
	int code = KY_CNI_E_DECODE;
	int r = conf_parse(text, len, cmd, out, &code, err);
	if (r < 0 && err)
		ky_error_set_status(err, code);
	return r;
}

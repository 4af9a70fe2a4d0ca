/* The CNI network config on stdin (cni/cni_config.c, cni_config_bpf.c), as
 * every verb parses it, then what ADD does with a prevResult or an IPAM
 * result (cni_result.c): normalising it and converting it to each version,
 * and the error object for a refusal. Checked: a refusal carries a spec
 * code and a message, an accepted config has what the verbs rely on (valid
 * name, absolute paths, one canonical device, bounded lists), the decoder's
 * guarantees hold (issue 14), and every JSON we would print reads back. */
#include <ctype.h>
#include <errno.h>

#include "cni.h"
#include "fuzz.h"
#include "kyborg/base/cleanup.h"
#include "kyborg/net/netlink.h"
#include "kyborg/state/state_store.h"

static const enum ky_cni_cmd verbs[] = { KY_CNI_ADD, KY_CNI_DEL, KY_CNI_CHECK, KY_CNI_GC, KY_CNI_STATUS, KY_CNI_VERSION };

/* Prints j as the plugin would and reads it back with our own decoder. */
static cJSON *reread(const cJSON *j, const char *what)
{
	FUZZ_ASSERT(j, "no %s to print", what);
	_cleanup_free_ char *s = cJSON_Print(j);
	FUZZ_ASSERT(s, "cannot print the %s", what);
	_cleanup_error_ struct ky_error *err = NULL;
	cJSON *doc = NULL;
	FUZZ_ASSERT(ky_json_parse(s, strlen(s), &doc, &err) == 0, "our %s does not decode: %s: %s", what,
		    ky_error_msg(err), s);
	return doc;
}

static bool only_keys(const cJSON *o, const char *const keys[])
{
	const cJSON *e;
	cJSON_ArrayForEach(e, o)
	{
		bool known = false;
		for (size_t i = 0; keys[i] && !known; i++)
			known = e->string && strcmp(e->string, keys[i]) == 0;
		if (!known)
			return false;
	}
	return true;
}

/* ADD's result from an IPAM result (here: prevResult, which has its form),
 * in every version the runtime may ask for. */
static void check_results(const cJSON *ipam)
{
	_cleanup_error_ struct ky_error *err = NULL;
	_cleanup_(cJSON_Deletep) cJSON *res = NULL;
	int r = ky_cni_result_from_ipam(ipam, 0, &res, &err);
	if (r < 0) {
		FUZZ_ASSERT(r == -EINVAL && ky_error_msg(err)[0], "IPAM result refused without a message (%d)", r);
		return;
	}
	for (int v = 0; v < KY_CNI_NVERSIONS; v++) {
		_cleanup_(cJSON_Deletep) cJSON *out = ky_cni_result_convert(res, v);
		_cleanup_(cJSON_Deletep) cJSON *back = reread(out, "result");
		FUZZ_ASSERT(out->child && out->child->string && strcmp(out->child->string, "cniVersion") == 0,
			    "cniVersion is not the first field");
		const char *cv = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(back, "cniVersion"));
		FUZZ_ASSERT(cv && strcmp(cv, ky_cni_versions[v]) == 0, "result in version %s says %s",
			    ky_cni_versions[v], cv ? cv : "nothing");
		const cJSON *e;
		cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(back, "ips"))
		{
			const char *iv = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "version"));
			if (v < KY_CNI_V100)
				FUZZ_ASSERT(iv && (!strcmp(iv, "4") || !strcmp(iv, "6")), "%s result: ip without version",
					    ky_cni_versions[v]);
			else
				FUZZ_ASSERT(!iv, "%s result: ip with a version", ky_cni_versions[v]);
		}
		if (v < KY_CNI_V110) {
			static const char *const if_keys[] = { "name", "mac", "sandbox", NULL };
			static const char *const rt_keys[] = { "dst", "gw", NULL };
			cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(back, "interfaces"))
				FUZZ_ASSERT(only_keys(e, if_keys), "%s result: interface field of 1.1.0", ky_cni_versions[v]);
			cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(back, "routes"))
				FUZZ_ASSERT(only_keys(e, rt_keys), "%s result: route field of 1.1.0", ky_cni_versions[v]);
		}
	}
}

/* Which of the plugin's entry points parses the config: every verb, and
 * `kyborg --check-config` (a config as written, its device possibly left
 * to Multus or the runtime). */
#define TEMPLATE ((enum ky_cni_cmd)100)

static void check_accepted(const uint8_t *data, size_t size, enum ky_cni_cmd cmd, const struct ky_cni_conf *c)
{
	fuzz_assert_decoded(data, size, c->doc);
	FUZZ_ASSERT(cJSON_IsObject(c->doc), "accepted a %s", ky_json_type_name(c->doc));
	FUZZ_ASSERT(c->n_notes <= KY_CNI_MAX_NOTES, "%zu notes", c->n_notes);
	for (size_t i = 0; i < c->n_notes; i++)
		FUZZ_ASSERT(c->notes[i] && c->notes[i][0], "note %zu is empty", i);
	if (cmd == KY_CNI_VERSION)
		return;
	FUZZ_ASSERT(c->version >= 0 && c->version < KY_CNI_NVERSIONS, "version index %d", c->version);
	FUZZ_ASSERT(ky_cni_network_name_valid(c->name), "accepted network name \"%s\"", c->name);
	/* I2 (issue 14): ".." passed as a network name. */
	FUZZ_ASSERT(isalnum((unsigned char)c->name[0]), "network name \"%s\" starts with no letter or digit", c->name);
	FUZZ_ASSERT(c->type && *c->type, "no type");
	FUZZ_ASSERT(c->state_dir && c->state_dir[0] == '/', "stateDir not absolute: %s", c->state_dir);
	FUZZ_ASSERT(!c->log_file || c->log_file[0] == '/', "logFile not absolute: %s", c->log_file);
	if (c->dev_field) {
		switch (c->dev_source) {
		case KY_CNI_DEV_PCI:
			FUZZ_ASSERT(ky_pci_addr_valid(c->pci), "PCI address %s", c->pci);
			break;
		case KY_CNI_DEV_NAME:
			FUZZ_ASSERT(c->device && ky_ifname_valid(c->device), "device \"%s\"", c->device);
			FUZZ_ASSERT(!strchr(c->device, '/') && strcmp(c->device, "..") && strcmp(c->device, "."),
				    "device \"%s\" is not one path component", c->device);
			break;
		case KY_CNI_DEV_HWADDR:
			/* Resolved to a netdev on the node (cni_select.c). */
			FUZZ_ASSERT(!c->device, "hwaddr with a device name");
			break;
		case KY_CNI_DEV_KERNELPATH:
			FUZZ_ASSERT(!c->device && c->kernelpath, "kernelpath with a device name, or none");
			FUZZ_ASSERT(strncmp(c->kernelpath, "/sys/devices/", 13) == 0 &&
					    strlen(c->kernelpath) < KY_CNI_KERNELPATH_MAX,
				    "kernelpath %s", c->kernelpath);
			for (const char *p = c->kernelpath; *p; p++)
				FUZZ_ASSERT((unsigned char)*p >= 0x20 && *p != 0x7f, "kernelpath with byte 0x%02x",
					    (unsigned char)*p);
			FUZZ_ASSERT(!strstr(c->kernelpath, "/../") && !strstr(c->kernelpath, "/./") &&
					    !strstr(c->kernelpath, "//"),
				    "kernelpath %s leaves /sys/devices", c->kernelpath);
			break;
		default:
			FUZZ_ASSERT(0, "device source %d", (int)c->dev_source);
		}
	} else {
		FUZZ_ASSERT(!c->device, "a device name without a device field");
	}
	FUZZ_ASSERT(!c->chained || (c->prev_result && !c->dev_field), "chained without prevResult or with a device");
	/* ADD needs a device (or chaining); CHECK takes its device from the
	 * record (docs/cni.md), --check-config leaves it to Multus. */
	if (cmd == KY_CNI_ADD)
		FUZZ_ASSERT(c->dev_field || c->chained, "ADD without a device");
	if (c->chained && (cmd == KY_CNI_ADD || c->template))
		FUZZ_ASSERT(!c->vf_field[0] && !c->has_mac && !c->mtu && !c->has_ipam,
			    "chained with a device setting (%s)", c->vf_field);
	if (c->has_mac)
		FUZZ_ASSERT(!(c->mac[0] & 1), "multicast MAC from %s", c->mac_field);
	FUZZ_ASSERT(c->n_bpf <= KY_CNI_MAX_BPF && c->n_offload <= KY_CNI_MAX_OFFLOAD, "%zu programs, %zu rules",
		    c->n_bpf, c->n_offload);
	for (size_t i = 0; i < c->n_bpf; i++)
		FUZZ_ASSERT(c->bpf[i].object[0] == '/' && c->bpf[i].name[0] && !strchr(c->bpf[i].name, '/') &&
				    !strchr(c->bpf[i].program, '/'),
			    "bpf[%zu]: object %s name %s program %s", i, c->bpf[i].object, c->bpf[i].name,
			    c->bpf[i].program);
	if (c->has_ipam)
		FUZZ_ASSERT(c->ipam_type && *c->ipam_type && !strchr(c->ipam_type, '/') && c->ipam_type[0] != '.',
			    "ipam.type %s", c->ipam_type);
	if (cmd == KY_CNI_GC)
		for (size_t i = 0; i < c->n_valid; i++)
			FUZZ_ASSERT(c->valid[i].container_id && c->valid[i].ifname, "valid-attachments[%zu]", i);

	/* The network's state keys: one component, and they read back. */
	char key[KY_STATE_KEY_MAX + 1], cid[KY_STATE_KEY_MAX + 1], ifn[KY_STATE_KEY_MAX + 1];
	if (ky_cni_state_key(c->name, "c1", "eth0", key, sizeof(key)) == 0) {
		FUZZ_ASSERT(ky_state_key_valid(key), "state key %s", key);
		FUZZ_ASSERT(ky_cni_state_key_parse(key, c->name, cid, sizeof(cid), ifn, sizeof(ifn)) == 0 &&
				    !strcmp(cid, "c1") && !strcmp(ifn, "eth0"),
			    "state key %s does not read back", key);
	}

	if (c->prev_result) {
		check_results(c->prev_result);
		/* Chained, ADD passes prevResult on in the config's version. */
		_cleanup_(cJSON_Deletep) cJSON *out = cJSON_Duplicate(c->prev_result, 1);
		cJSON_DeleteItemFromObjectCaseSensitive(out, "cniVersion");
		cJSON_AddStringToObject(out, "cniVersion", ky_cni_versions[c->version]);
		cJSON_Delete(reread(out, "chained result"));
	}
	for (int v = 0; v < KY_CNI_NVERSIONS; v++) {
		int a = ky_cni_version_cmp(c->cni_version, ky_cni_versions[v]);
		int b = ky_cni_version_cmp(ky_cni_versions[v], c->cni_version);
		FUZZ_ASSERT((a > 0) == (b < 0) && (a == 0) == (b == 0), "version order of %s", c->cni_version);
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet_logs();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A document only cJSON would take (a repeated name, a raw control
	 * byte) fails to decode: code 6 under every verb (issue 14). */
	bool flawed = fuzz_json_flawed(data, size);
	for (size_t i = 0; i <= sizeof(verbs) / sizeof(verbs[0]); i++) {
		enum ky_cni_cmd cmd = i < sizeof(verbs) / sizeof(verbs[0]) ? verbs[i] : TEMPLATE;
		struct ky_cni_conf conf;
		_cleanup_error_ struct ky_error *err = NULL;
		int r = cmd == TEMPLATE ? ky_cni_conf_parse_template((const char *)data, size, &conf, &err)
					: ky_cni_conf_parse((const char *)data, size, cmd, &conf, &err);
		if (r == 0) {
			FUZZ_ASSERT(!flawed, "accepted a flawed document");
			FUZZ_ASSERT(!conf.template == (cmd != TEMPLATE), "template flag");
			check_accepted(data, size, cmd == TEMPLATE ? KY_CNI_CHECK : cmd, &conf);
		} else {
			int code = ky_cni_error_code(err);
			FUZZ_ASSERT(r == -EINVAL || r == -ENOMEM, "parse returned %d", r);
			FUZZ_ASSERT(r == -ENOMEM || code == KY_CNI_E_VERSION || code == KY_CNI_E_DECODE ||
					    code == KY_CNI_E_CONFIG,
				    "refused with code %d: %s", code, ky_error_msg(err));
			FUZZ_ASSERT(!flawed || code == KY_CNI_E_DECODE, "a flawed document refused with code %d: %s", code,
				    ky_error_msg(err));
			FUZZ_ASSERT(ky_error_msg(err)[0], "refused without a message");
			const char *v = conf.cni_version && ky_cni_version_index(conf.cni_version) >= 0 ? conf.cni_version
												: NULL;
			_cleanup_(cJSON_Deletep) cJSON *e = ky_cni_error_json(v, err);
			_cleanup_(cJSON_Deletep) cJSON *back = reread(e, "error object");
			FUZZ_ASSERT(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(back, "code")) == code,
				    "the error object's code is not %d", code);
		}
		ky_cni_conf_free(&conf);
	}
	return 0;
}

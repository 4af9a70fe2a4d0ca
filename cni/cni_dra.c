/* A VF that a DRA claim holds (issue 17, "the network path"): Multus's DRA
 * mode hands the plugin the VF's PCI address (its slice's
 * k8s.cni.cncf.io/deviceID) after kyborg-dra-driver prepared the claim and
 * set its VfConfig on the PF. Those settings are the claim's: the plugin
 * neither applies them again nor takes them back at DEL. The claim is found
 * through the driver's checkpoint (state/dra_record, its one owner), by the
 * index of PCI functions: one lstat on a node without the driver. */
#include "cni_private.h"
#include "kyborg/base/error.h"
#include "kyborg/base/log.h"
#include "kyborg/state/dra_record.h"

#include <errno.h>
#include <string.h>

bool ky_cni_dra_vf_plan(const struct ky_vf_config *conf, const struct ky_vf_config *claim, unsigned *apply,
			const char **field, char conf_text[KY_VF_TEXT_LEN], char claim_text[KY_VF_TEXT_LEN])
{
	*field = ky_vf_config_diff(conf, claim, conf->mask & claim->mask, NULL, conf_text, claim_text);
	*apply = conf->mask & ~claim->mask;
	return *field == NULL;
}

/* The KY_VF_* groups in mask as the config names their fields, for the log. */
static const char *groups_text(unsigned mask, char *buf, size_t size)
{
	static const struct {
		unsigned bit;
		const char *names;
	} g[] = { { KY_VF_MAC, "mac" },
		  { KY_VF_VLAN, "vlan,vlanQoS,vlanProto" },
		  { KY_VF_RATE, "min_tx_rate,max_tx_rate" },
		  { KY_VF_SPOOFCHK, "spoofchk" },
		  { KY_VF_TRUST, "trust" },
		  { KY_VF_LINK_STATE, "link_state" } };
	size_t o = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(g) / sizeof(g[0]); i++)
		if (mask & g[i].bit)
			o += (size_t)snprintf(buf + o, o < size ? size - o : 0, "%s%s", o ? "," : "", g[i].names);
	return o ? buf : "none";
}

int ky_cni_dra_vf(struct ky_cni_run *r, struct ky_error **err)
{
	struct ky_cni *c = r->c;
	if (!r->dev.is_vf || !r->dev.pci[0] || !c->node.dra_state_dir)
		return 0;
	struct ky_dra_record rec = { 0 };
	size_t k;
	int ret = ky_dra_record_find_by_pci(c->node.dra_state_dir, r->dev.pci, &rec, &k, err);
	if (ret == -ENOENT) {
		ky_error_clear(err);
		return 0;
	}
	if (ret < 0) {
		/* Without the record the plugin cannot tell the claim's
		 * settings from its own: it changes nothing. */
		ky_error_prefix(err, "VF %s is held by a DRA claim whose record cannot be read", r->dev.pci);
		return ky_error_set_status(err, KY_CNI_E_STATE);
	}
	/* The settings the claim's VfConfig sets (none: a claim without one). */
	static const struct ky_vf_config none;
	const struct ky_vf_config *claim = rec.devices[k].vf ? &rec.devices[k].vf->set : &none;
	unsigned apply;
	const char *field;
	char conf_text[KY_VF_TEXT_LEN], claim_text[KY_VF_TEXT_LEN], left[96], own[96], applied[96];
	if (!ky_cni_dra_vf_plan(&r->vf, claim, &apply, &field, conf_text, claim_text)) {
		ky_error_set(err, EINVAL,
			     "%s: VF %s is held by ResourceClaim %s/%s (%s), whose VfConfig sets %s %s; this network "
			     "config asks %s: leave %s out, or give the claim's value",
			     field, r->dev.pci, rec.namespace_, rec.name, rec.claim_uid, field, claim_text, conf_text,
			     field);
		ky_dra_record_clear(&rec);
		return ky_error_set_status(err, KY_CNI_E_CONFIG);
	}
	ky_info("vf-settings-of-claim", "pci=%s claim=%s/%s uid=%s claims=%s left_to_claim=%s applied=%s", r->dev.pci,
		rec.namespace_, rec.name, rec.claim_uid, groups_text(claim->mask, own, sizeof(own)),
		groups_text(r->vf.mask & claim->mask, left, sizeof(left)),
		groups_text(apply, applied, sizeof(applied)));
	r->vf.mask = apply;
	ky_dra_record_clear(&rec);
	return 0;
}

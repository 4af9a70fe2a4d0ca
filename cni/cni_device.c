/* The device of an attachment: found from the config before ADD, and
 * found again from the record wherever it went (pod, host, nowhere). */
#include "cni_private.h"
#include "kyborg/base/error.h"
#include "kyborg/net/netlink.h"
#include "kyborg/pci/pci.h"

#include <errno.h>
#include <string.h>


int ky_cni_dev_resolve(struct ky_cni_run *r, struct ky_error **err)
{
	struct ky_cni_conf *conf = &r->c->conf;
	struct ky_cni_dev *d = &r->dev;
	struct ky_link l;
	int ret;
	memset(d, 0, sizeof(*d));
	d->vf_index = -1;
	if (conf->dev_source == KY_CNI_DEV_NAME) {
		ret = ky_link_get(r->nl, conf->device, &l, err);
		d->has_netdev = true;
	} else {
		_cleanup_(ky_pci_dev_freep) struct ky_pci_dev *pd = NULL;
		ret = ky_pci_lookup_net(conf->pci, &pd, err);
		/* A VF bound to a userspace driver has no netdev: ADD then
		 * only configures it on its PF and reports its PCI address. */
		bool userspace_vf = ret == 0 && pd->n_netdevs == 0 && ky_pci_is_vf(pd);
		if (ret == 0 && !userspace_vf)
			ret = ky_link_find_by_pci(r->nl, conf->pci, &l, err);
		else if (ret == 0)
			memset(&l, 0, sizeof(l));
		d->has_netdev = !userspace_vf;
		if (ret == 0 && ky_pci_is_vf(pd)) {
			_cleanup_(ky_pci_dev_freep) struct ky_pci_dev *pf = NULL;
			ret = ky_pci_lookup_net(pd->physfn, &pf, err);
			if (ret == 0 && pf->n_netdevs == 0)
				ret = ky_error_set(err, ENODEV, "PF %s of VF %s has no network interface", pd->physfn,
						   conf->pci);
			if (ret == 0) {
				d->is_vf = true;
				snprintf(d->pf, sizeof(d->pf), "%s", pf->netdevs[0]);
				d->vf_index = ky_pci_vf_index(pf, conf->pci);
				if (d->vf_index < 0)
					ret = ky_error_set(err, ENODEV, "VF %s is not among the VFs of PF %s",
							   conf->pci, pd->physfn);
			}
		}
		snprintf(d->pci, sizeof(d->pci), "%s", conf->pci);
	}
	if (ret < 0)
		return ky_error_prefix(err, "%s", conf->dev_field);
	snprintf(d->name, sizeof(d->name), "%s", l.name);
	d->ifindex = l.ifindex;
	memcpy(d->mac, l.mac, 6);
	d->mtu = l.mtu;
	d->up = l.up;
	return 0;
}

int ky_cni_dev_load(struct ky_cni_run *r, struct ky_error **err)
{
	if (ky_cni_dev_from_json(cJSON_GetObjectItemCaseSensitive(r->rec, "device"), &r->dev) < 0) {
		ky_error_set(err, EBADMSG, "state record has no usable device");
		return ky_error_set_status(err, KY_CNI_E_STATE);
	}
	return 0;
}

void ky_cni_dev_to_json(const struct ky_cni_dev *d, cJSON *o)
{
	char mac[KY_MAC_STRLEN];
	if (d->chained) {
		cJSON_AddBoolToObject(o, "chained", true);
		cJSON_AddStringToObject(o, "name", d->name);
		return;
	}
	cJSON_AddBoolToObject(o, "netdev", d->has_netdev);
	cJSON_AddStringToObject(o, "name", d->name);
	cJSON_AddNumberToObject(o, "ifindex", d->ifindex);
	cJSON_AddStringToObject(o, "mac", ky_format_mac(d->mac, mac));
	cJSON_AddNumberToObject(o, "mtu", d->mtu);
	cJSON_AddBoolToObject(o, "up", d->up);
	if (d->pci[0])
		cJSON_AddStringToObject(o, "pciID", d->pci);
	if (d->is_vf) {
		cJSON_AddStringToObject(o, "pf", d->pf);
		cJSON_AddNumberToObject(o, "vfIndex", d->vf_index);
	}
}

int ky_cni_dev_from_json(const cJSON *o, struct ky_cni_dev *d)
{
	memset(d, 0, sizeof(*d));
	d->vf_index = -1;
	const char *name = ky_cni_rec_str(o, "name"), *mac = ky_cni_rec_str(o, "mac");
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "chained"))) {
		if (!name || !ky_ifname_valid(name))
			return -EBADMSG;
		d->chained = true;
		snprintf(d->name, sizeof(d->name), "%s", name);
		return 0;
	}
	const cJSON *ifi = cJSON_GetObjectItemCaseSensitive(o, "ifindex");
	const cJSON *mtu = cJSON_GetObjectItemCaseSensitive(o, "mtu");
	d->has_netdev = !cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(o, "netdev"));
	if (!name || (d->has_netdev && !ky_ifname_valid(name)) || !mac || ky_parse_mac(mac, d->mac) < 0 ||
	    !cJSON_IsNumber(ifi) || !cJSON_IsNumber(mtu))
		return -EBADMSG;
	if (!d->has_netdev && !ky_cni_rec_str(o, "pciID"))
		return -EBADMSG;
	snprintf(d->name, sizeof(d->name), "%s", name);
	d->ifindex = ifi->valueint;
	d->mtu = (unsigned)mtu->valueint;
	d->up = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "up"));
	const char *pci = ky_cni_rec_str(o, "pciID"), *pf = ky_cni_rec_str(o, "pf");
	if (pci && ky_pci_addr_normalize(pci, d->pci) < 0)
		return -EBADMSG;
	const cJSON *vfi = cJSON_GetObjectItemCaseSensitive(o, "vfIndex");
	if (pf && cJSON_IsNumber(vfi) && ky_ifname_valid(pf)) {
		d->is_vf = true;
		snprintf(d->pf, sizeof(d->pf), "%s", pf);
		d->vf_index = vfi->valueint;
	}
	return 0;
}

/* Which link is ours: found by name (we only ever give it its original
 * name or CNI_IFNAME), then confirmed by MAC (original, requested, or the
 * one seen in the pod) or by the index recorded for it. Names and indexes
 * alone are not enough: a pod may have its own interface by CNI_IFNAME,
 * and a fresh netns hands out small indexes that collide with the host's. */
struct identity {
	const char *names[2];
	uint8_t macs[3][6];
	int n_macs;
	int index;  /* a confirmed index, 0 when none */
	struct ky_link found;
};

static bool is_ours(const struct identity *id, const struct ky_link *l)
{
	if (id->index > 0 && l->ifindex == id->index)
		return true;
	for (int i = 0; i < id->n_macs; i++)
		if (l->has_mac && memcmp(l->mac, id->macs[i], 6) == 0)
			return true;
	return false;
}

static bool find_ours(struct ky_nl *nl, struct identity *id)
{
	for (int i = 0; i < 2; i++) {
		if (id->names[i] && ky_link_get(nl, id->names[i], &id->found, NULL) == 0 && is_ours(id, &id->found))
			return true;
	}
	return false;
}

static void add_mac(struct identity *id, const char *s)
{
	if (s && id->n_macs < 3 && ky_parse_mac(s, id->macs[id->n_macs]) == 0)
		id->n_macs++;
}

int ky_cni_dev_locate(struct ky_cni_run *r, enum ky_cni_where *where, struct ky_link *link, struct ky_error **err)
{
	const struct ky_cni_dev *d = &r->dev;
	*where = KY_CNI_GONE;
	if (!d->has_netdev)
		return 0;
	struct identity id = { .names = { r->ifname, d->name } };
	memcpy(id.macs[id.n_macs++], d->mac, 6);
	add_mac(&id, ky_cni_rec_str(r->rec, "requestedMac"));
	add_mac(&id, ky_cni_rec_str(cJSON_GetObjectItemCaseSensitive(r->rec, "pod"), "mac"));
	if (r->netns_fd >= 0) {
		const cJSON *pi = cJSON_GetObjectItemCaseSensitive(r->rec, "podIfindex");
		id.index = cJSON_IsNumber(pi) ? pi->valueint : 0;
		struct ky_nl *nl;
		int ret = ky_cni_run_pod_nl(r, &nl, err);
		if (ret < 0)
			return ret;
		if (find_ours(nl, &id)) {
			*where = KY_CNI_IN_POD;
			*link = id.found;
			return 0;
		}
	}
	/* A physical device comes back to the host netns by itself when its
	 * pod netns dies, under its pod name (or devN when that is taken):
	 * its PCI address is what still names it. */
	if (d->pci[0] && ky_link_find_by_pci(r->nl, d->pci, link, NULL) == 0) {
		*where = KY_CNI_IN_HOST;
		return 0;
	}
	id.index = d->ifindex;
	if (find_ours(r->nl, &id)) {
		*where = KY_CNI_IN_HOST;
		*link = id.found;
	}
	return 0;
}

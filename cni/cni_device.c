/* The device of an attachment: found from the config before ADD, and
 * found again from the record wherever it went (pod, host, nowhere). */
#include "cni_private.h"
#include "kyborg/base/error.h"
#include "kyborg/net/netlink.h"
#include "kyborg/pci/pci.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* host-device's list of the drivers a DPDK application binds a function to. */
static bool userspace_driver(const char *driver)
{
	return driver && (strcmp(driver, "vfio-pci") == 0 || strcmp(driver, "uio_pci_generic") == 0 ||
			  strcmp(driver, "igb_uio") == 0);
}

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
		/* Its PCI address, where it has one, is the device's one
		 * identity: "device" and "deviceID" for the same function take
		 * the same lock and see each other's claims. */
		if (ret == 0 && ky_link_pci_addr(r->nl, &l, d->pci) < 0)
			d->pci[0] = '\0';
	} else {
		_cleanup_(ky_pci_dev_freep) struct ky_pci_dev *pd = NULL;
		ret = ky_pci_lookup_net(conf->pci, &pd, err);
		/* A function bound to a userspace driver has no netdev: ADD
		 * then only configures a VF on its PF, and reports the PCI
		 * address (host-device's DPDK mode for any function). */
		bool userspace = ret == 0 && pd->n_netdevs == 0 && (ky_pci_is_vf(pd) || userspace_driver(pd->driver));
		if (ret == 0 && !userspace)
			ret = ky_link_find_by_pci(r->nl, conf->pci, &l, err);
		else if (ret == 0)
			memset(&l, 0, sizeof(l));
		d->has_netdev = !userspace;
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
	if (ky_cni_dev_from_record(&r->rec->device, &r->dev) < 0) {
		ky_error_set(err, EBADMSG, "state record has no usable device");
		return ky_error_set_status(err, KY_CNI_E_STATE);
	}
	return 0;
}

static int dup_to(char **out, const char *s)
{
	free(*out);
	*out = strdup(s);
	return *out ? 0 : -ENOMEM;
}

int ky_cni_dev_to_record(const struct ky_cni_dev *d, struct ky_cni_record_device *o)
{
	o->chained = d->chained;
	if (dup_to(&o->name, d->name) < 0)
		return -ENOMEM;
	if (d->chained)
		return 0;
	o->netdev = d->has_netdev;
	o->has_ifindex = o->has_mac = o->has_mtu = true;
	o->ifindex = d->ifindex;
	memcpy(o->mac, d->mac, 6);
	o->mtu = d->mtu;
	o->up = d->up;
	if (d->pci[0] && dup_to(&o->pci, d->pci) < 0)
		return -ENOMEM;
	if (d->is_vf) {
		if (dup_to(&o->pf, d->pf) < 0)
			return -ENOMEM;
		o->has_vf_index = true;
		o->vf_index = d->vf_index;
	}
	return 0;
}

int ky_cni_dev_from_record(const struct ky_cni_record_device *o, struct ky_cni_dev *d)
{
	memset(d, 0, sizeof(*d));
	d->vf_index = -1;
	if (o->chained) {
		if (!o->name || !ky_ifname_valid(o->name))
			return -EBADMSG;
		d->chained = true;
		snprintf(d->name, sizeof(d->name), "%s", o->name);
		return 0;
	}
	d->has_netdev = o->netdev;
	if (!o->name || (d->has_netdev && !ky_ifname_valid(o->name)) || !o->has_mac || !o->has_ifindex ||
	    !o->has_mtu)
		return -EBADMSG;
	if (!d->has_netdev && !o->pci)
		return -EBADMSG;
	snprintf(d->name, sizeof(d->name), "%s", o->name);
	d->ifindex = o->ifindex;
	memcpy(d->mac, o->mac, 6);
	d->mtu = o->mtu;
	d->up = o->up;
	if (o->pci && ky_pci_addr_normalize(o->pci, d->pci) < 0)
		return -EBADMSG;
	if (o->pf && o->has_vf_index && ky_ifname_valid(o->pf)) {
		d->is_vf = true;
		snprintf(d->pf, sizeof(d->pf), "%s", o->pf);
		d->vf_index = o->vf_index;
	}
	return 0;
}

/* Which link is ours: found by name (we only ever give it its original
 * name or CNI_IFNAME), then confirmed by MAC (original, requested, or the
 * one seen in the pod) or by the index recorded for it. Names and indexes
 * alone are not enough: a pod may have its own interface by CNI_IFNAME,
 * and a fresh netns hands out small indexes that collide with the host's.
 * When no name fits (the pod renamed our interface, as some CNFs do, and a
 * physical device comes back from a dead netns under that name), the
 * recorded index finds it, confirmed by MAC. */
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

/* The link at index, when its MAC is one of ours. */
static bool find_ours_by_index(struct ky_nl *nl, int index, struct identity *id)
{
	if (index <= 0 || ky_link_get_by_index(nl, index, &id->found, NULL) < 0)
		return false;
	struct identity by_mac = *id;
	by_mac.index = 0;
	return is_ours(&by_mac, &id->found);
}

static void add_mac(struct identity *id, bool has, const uint8_t mac[6])
{
	if (has && id->n_macs < 3)
		memcpy(id->macs[id->n_macs++], mac, 6);
}

int ky_cni_dev_locate(struct ky_cni_run *r, enum ky_cni_where *where, struct ky_link *link, struct ky_error **err)
{
	const struct ky_cni_dev *d = &r->dev;
	*where = KY_CNI_GONE;
	if (!d->has_netdev)
		return 0;
	struct identity id = { .names = { r->ifname, d->name } };
	memcpy(id.macs[id.n_macs++], d->mac, 6);
	add_mac(&id, r->rec->has_requested_mac, r->rec->requested_mac);
	add_mac(&id, r->rec->pod.has_mac, r->rec->pod.mac);
	if (r->netns_fd >= 0) {
		id.index = r->rec->pod_ifindex;
		struct ky_nl *nl;
		int ret = ky_cni_run_pod_nl(r, &nl, err);
		if (ret < 0)
			return ret;
		/* Before the link step recorded its index in the pod, the one
		 * it had in the host: a move keeps it unless the pod has it taken. */
		if (find_ours(nl, &id) || find_ours_by_index(nl, id.index > 0 ? id.index : d->ifindex, &id)) {
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
	if (find_ours(r->nl, &id) || find_ours_by_index(r->nl, d->ifindex, &id)) {
		*where = KY_CNI_IN_HOST;
		*link = id.found;
	}
	return 0;
}

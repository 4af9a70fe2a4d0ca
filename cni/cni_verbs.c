/* ADD (idempotent, with rollback) and DEL over the step journal, and the
 * run of a verb over one attachment that CHECK and GC share. */
#include "cni_private.h"
#include "kyborg/base/error.h"
#include "kyborg/base/exec.h"
#include "kyborg/base/fault.h"
#include "kyborg/base/log.h"
#include "kyborg/net/netlink.h"
#include "kyborg/net/netlink_addr.h"
#include "kyborg/net/netns.h"
#include "kyborg/net/netlink_vf.h"
#include "kyborg/state/boot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* A failure's CNI code from its errno, for failures past config parsing. */
static int code_of(int ret)
{
	switch (-ret) {
	case EINVAL: return KY_CNI_E_CONFIG;
	case ENODEV: return KY_CNI_E_NO_DEVICE;
	case EBUSY: return KY_CNI_E_DEVICE_BUSY;
	case EREMOTEIO: return KY_CNI_E_IPAM;
	case EAGAIN: return KY_CNI_E_AGAIN;
	case EBADMSG: return KY_CNI_E_STATE;
	default: return KY_CNI_E_INTERNAL;
	}
}

static int undo_all(struct ky_cni_run *r, struct ky_error **err)
{
	int ret = ky_cni_steps_undo(r, err);
	if (ret < 0)
		return ky_error_set_status(err, code_of(ret) == KY_CNI_E_CONFIG ? KY_CNI_E_INTERNAL : code_of(ret));
	return 0;
}

/* Whether another attachment's record holds the device. */
static int claimed_by_other(struct ky_cni_run *r, const char *name, const char *pci, char **owner,
			    struct ky_error **err)
{
	char **keys = NULL;
	size_t n = 0;
	int ret = ky_state_list(r->store, &keys, &n, err);
	if (ret < 0)
		return ret;
	const char *self = ky_state_lock_key(r->lock);
	int found = 0;
	for (size_t i = 0; i < n && !found; i++) {
		if (strcmp(keys[i], self) == 0)
			continue;
		_cleanup_(ky_cni_record_freep) struct ky_cni_record *rec = NULL;
		/* One from an earlier boot lost its pod, and its device with it. */
		if (ky_cni_record_get(r->store, keys[i], &rec, NULL) < 0 || ky_cni_record_from_earlier_boot(rec, NULL))
			continue;
		const struct ky_cni_record_device *d = &rec->device;
		if (d->chained)
			continue; /* names another plugin's interface, claims no device */
		if ((name && *name && d->name && strcmp(d->name, name) == 0) ||
		    (pci && d->pci && strcmp(d->pci, pci) == 0)) {
			found = 1;
			if (asprintf(owner, "%s/%s", rec->container_id ?: "?", rec->ifname ?: "?") < 0)
				*owner = NULL;
		}
	}
	ky_state_keys_free(keys, n);
	return found;
}

static cJSON *build_result(struct ky_cni_run *r)
{
	cJSON *res = cJSON_CreateObject();
	cJSON *ifs = cJSON_AddArrayToObject(res, "interfaces");
	cJSON *i0 = cJSON_CreateObject();
	char mac[KY_MAC_STRLEN];
	cJSON_AddStringToObject(i0, "name", r->ifname);
	if (r->dev.has_netdev) {
		cJSON_AddStringToObject(i0, "mac", r->rec->pod.has_mac ? ky_format_mac(r->rec->pod.mac, mac) : "");
		cJSON_AddNumberToObject(i0, "mtu", r->rec->pod.mtu);
	}
	cJSON_AddStringToObject(i0, "sandbox", r->netns_path);
	if (r->dev.pci[0])
		cJSON_AddStringToObject(i0, "pciID", r->dev.pci);
	cJSON_AddItemToArray(ifs, i0);
	const cJSON *ipam = r->rec->ipam_result;
	cJSON_AddItemToObject(res, "ips", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(ipam, "ips"), 1) ?: cJSON_CreateArray());
	cJSON_AddItemToObject(res, "routes",
			      cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(ipam, "routes"), 1) ?: cJSON_CreateArray());
	cJSON_AddItemToObject(res, "dns", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(ipam, "dns"), 1) ?: cJSON_CreateObject());
	return res;
}

/* The lock two ADDs of one device serialise on, keyed on its PCI address
 * where it has one (however the config named it). It has no record, so
 * unlocking removes its file. */
static int device_key(const struct ky_cni_dev *d, char *key, size_t size)
{
	return ky_cni_device_key(d->pci[0] ? d->pci : d->name, key, size);
}

static bool same_request(struct ky_cni_run *r)
{
	const struct ky_cni_conf *conf = &r->c->conf;
	const struct ky_cni_record_device *d = &r->rec->device;
	if (conf->chained || d->chained)
		return conf->chained && d->chained;
	if (conf->dev_source == KY_CNI_DEV_HWADDR)
		return d->has_mac && memcmp(d->mac, conf->hwaddr, 6) == 0; /* its MAC before ADD */
	/* A PCI function's kernel object stays where it is; a netdev's
	 * follows the netdev into the pod, and then says nothing. */
	if (conf->dev_source == KY_CNI_DEV_KERNELPATH && ky_cni_dev_select(r, NULL) < 0)
		return true;
	if (conf->dev_source == KY_CNI_DEV_PCI)
		return d->pci && strcmp(d->pci, conf->pci) == 0;
	return d->name && strcmp(d->name, conf->device) == 0;
}

static int add_apply(struct ky_cni *c, struct ky_cni_run *r, struct ky_error **err);

/* Chained after another plugin: its interface CNI_IFNAME in the pod gets
 * our programs and rules, and its result passes through. The device is
 * that plugin's: no device lock, no claim, nothing moved or configured. */
static int add_chained(struct ky_cni *c, struct ky_cni_run *r, struct ky_error **err)
{
	memset(&r->dev, 0, sizeof(r->dev));
	r->dev.chained = true;
	r->dev.vf_index = -1;
	snprintf(r->dev.name, sizeof(r->dev.name), "%s", r->ifname);
	return add_apply(c, r, err);
}

static cJSON *output_of(const struct ky_cni_run *r, int version)
{
	const cJSON *res = r->rec->result;
	if (!r->dev.chained)
		return ky_cni_result_convert(res, version);
	/* prevResult is already in the config's version. */
	cJSON *out = cJSON_Duplicate(res, 1);
	if (out) {
		cJSON_DeleteItemFromObjectCaseSensitive(out, "cniVersion");
		cJSON_AddStringToObject(out, "cniVersion", ky_cni_versions[version]);
	}
	return out;
}

int ky_cni_add(struct ky_cni *c, struct ky_error **err)
{
	struct ky_cni_run r_ = { .netns_fd = -1, .host_fd = -1 };
	_cleanup_(ky_cni_run_closep) struct ky_cni_run *r = &r_;
	int ret = ky_cni_run_open(c, r, c->env.container_id, c->env.ifname, 0, err);
	if (ret < 0)
		return ret;
	if (ret > 0) {
		if (r->rec->complete) {
			/* ADD again for the same attachment: the same answer, no change. */
			if (!same_request(r)) {
				ky_error_set(err, EEXIST, "%s/%s is already attached to another device",
					     c->env.container_id, c->env.ifname);
				return ky_error_set_status(err, KY_CNI_E_CONFIG);
			}
			ky_cni_dev_from_record(&r->rec->device, &r->dev);
			c->output = output_of(r, c->conf.version);
			return 0;
		}
		/* An ADD that died half-way: undo what it did, then start over. */
		if ((ret = ky_cni_dev_load(r, err)) < 0)
			return ky_error_prefix(err, "undo the interrupted ADD");
		ky_cni_run_open_netns(r, c->env.netns);
		if ((ret = undo_all(r, err)) < 0)
			return ky_error_prefix(err, "undo the interrupted ADD");
		ky_cni_record_free(r->rec);
		r->rec = NULL;
		ky_cni_run_drop_netns(r);
	}
	r->netns_path = c->env.netns;
	if ((ret = ky_netns_open(c->env.netns, &r->netns_fd, err)) < 0) {
		ky_error_prefix(err, "CNI_NETNS");
		return ky_error_set_status(err, KY_CNI_E_ENV);
	}
	/* /proc/self/ns/net and friends: a "pod" that is the host would have
	 * ADD rename a host device in place. */
	if (ky_netns_same(r->netns_fd, r->host_fd) != 0) {
		ky_error_set(err, EINVAL, "CNI_NETNS: %s is the plugin's own network namespace, not a pod's",
			     c->env.netns);
		return ky_error_set_status(err, KY_CNI_E_ENV);
	}
	if ((ret = ky_cni_bpf_objects_check(c, err)) < 0)
		return ret;
	if (c->conf.chained)
		return add_chained(c, r, err);

	if ((ret = ky_cni_dev_select(r, err)) < 0)
		return ky_error_set_status(err, code_of(ret));
	ret = ky_cni_dev_resolve(r, err);
	if (ret < 0) {
		_cleanup_free_ char *owner = NULL;
		if (ret == -ENODEV &&
		    claimed_by_other(r, c->conf.device, c->conf.dev_source == KY_CNI_DEV_PCI ? c->conf.pci : NULL,
				     &owner, NULL) > 0) {
			ky_error_set(err, EBUSY, "%s %s is in use by %s", c->conf.dev_field,
				     c->conf.device ? c->conf.device : c->conf.pci, owner ?: "?");
			return ky_error_set_status(err, KY_CNI_E_DEVICE_BUSY);
		}
		return ky_error_set_status(err, code_of(ret));
	}
	r->vf = c->conf.vf;
	if (c->conf.vf.mask && !r->dev.is_vf) {
		ky_error_set(err, EINVAL, "%s: only valid for an SR-IOV VF, and %s is not one", c->conf.vf_field,
			     r->dev.name);
		return ky_error_set_status(err, KY_CNI_E_CONFIG);
	}
	if (r->dev.is_vf && c->conf.has_mac) {
		r->vf.mask |= KY_VF_MAC;
		memcpy(r->vf.mac, c->conf.mac, 6);
	}
	if (!r->dev.has_netdev && (c->conf.n_bpf || c->conf.n_offload)) {
		ky_error_set(err, EINVAL, "%s: VF %s has no netdev (userspace driver) to attach to",
			     c->conf.n_bpf ? "bpf" : "offload", r->dev.pci);
		return ky_error_set_status(err, KY_CNI_E_CONFIG);
	}
	if (!r->dev.has_netdev && c->conf.mtu) {
		ky_error_set(err, EINVAL, "mtu: VF %s has no netdev (userspace driver) to set it on",
			     r->dev.pci);
		return ky_error_set_status(err, KY_CNI_E_CONFIG);
	}
	if (r->vf.mask && (ret = ky_vf_config_check(&r->vf, err)) < 0)
		return ky_error_set_status(err, KY_CNI_E_CONFIG);

	/* Two ADDs for one device serialise on the device's lock; the one
	 * that comes second finds the other's record. */
	char dkey[KY_STATE_KEY_MAX + 1];
	_cleanup_(ky_state_unlockp) struct ky_state_lock *dlock = NULL;
	if ((ret = device_key(&r->dev, dkey, sizeof(dkey))) < 0) {
		ky_error_set(err, -ret, "device %s makes no valid lock key", r->dev.name);
		return ky_error_set_status(err, KY_CNI_E_INTERNAL);
	}
	if ((ret = ky_state_lock(r->store, dkey, 0, &dlock, err)) < 0)
		return ky_error_set_status(err, KY_CNI_E_IO);
	_cleanup_free_ char *owner = NULL;
	ret = claimed_by_other(r, r->dev.name, r->dev.pci[0] ? r->dev.pci : NULL, &owner, err);
	if (ret < 0)
		return ky_error_set_status(err, KY_CNI_E_STATE);
	if (ret > 0) {
		ky_error_set(err, EBUSY, "device %s is in use by %s", r->dev.name, owner ?: "?");
		return ky_error_set_status(err, KY_CNI_E_DEVICE_BUSY);
	}

	return add_apply(c, r, err);
}

/* The record of a new attachment, then every step. */
static int add_apply(struct ky_cni *c, struct ky_cni_run *r, struct ky_error **err)
{
	int ret;
	struct ky_cni_record *rec = r->rec = ky_cni_record_new();
	if (!rec || !(rec->network = strdup(c->conf.name)) || !(rec->container_id = strdup(r->container_id)) ||
	    !(rec->ifname = strdup(r->ifname)) || !(rec->netns = strdup(r->netns_path)) ||
	    !(rec->boot_id = strdup(ky_boot_id())) || !(rec->cni_version = strdup(c->conf.cni_version)) ||
	    ky_cni_dev_to_record(&r->dev, &rec->device) < 0 ||
	    (c->conf.has_ipam &&
	     (!(rec->ipam_type = strdup(c->conf.ipam_type)) || !(rec->ipam_conf = strdup(c->input))))) {
		ky_error_set(err, ENOMEM, "state record: out of memory");
		return ky_error_set_status(err, KY_CNI_E_INTERNAL);
	}
	rec->has_requested_mac = c->conf.has_mac;
	memcpy(rec->requested_mac, c->conf.mac, 6);

	ret = ky_cni_steps_apply(r, err);
	if (ret == 0) {
		rec->result = r->dev.chained ? cJSON_Duplicate(c->conf.prev_result, 1) : build_result(r);
		rec->complete = true;
		/* Durable when an earlier write was (see cni_steps.c). */
		ret = ky_cni_run_write(r, false, err);
	}
	if (ret < 0) {
		int code = code_of(ret);
		_cleanup_error_ struct ky_error *uerr = NULL;
		if (ky_cni_steps_undo(r, &uerr) < 0) {
			ky_log_err(KY_LOG_ERROR, "rollback-failed", uerr, "container=%s ifname=%s", r->container_id,
				   r->ifname);
			ky_error_prefix(err, "(rollback incomplete, DEL will retry: %s)", ky_error_msg(uerr));
		}
		return ky_error_set_status(err, code);
	}
	ky_fault_point("add-after-complete");
	c->output = output_of(r, c->conf.version);
	ky_info("add", "container=%s ifname=%s device=%s", r->container_id, r->ifname, r->dev.name);
	return 0;
}

int ky_cni_del_attachment(struct ky_cni *c, const char *container_id, const char *ifname, const char *netns,
			  int lock_flags, struct ky_error **err)
{
	struct ky_cni_run r_ = { .netns_fd = -1, .host_fd = -1 };
	_cleanup_(ky_cni_run_closep) struct ky_cni_run *r = &r_;
	int ret = ky_cni_run_open(c, r, container_id, ifname, lock_flags, err);
	if (ret < 0)
		return ret;
	if (ret == 0) {
		/* Nothing of ours: DEL must still succeed (SPEC.md), and the
		 * IPAM plugin may hold an address from an ADD that never wrote
		 * a record. */
		if (c->conf.has_ipam && c->env.path) {
			struct ky_cni_ipam_call call = {
				.type = c->conf.ipam_type, .cni_path = c->env.path, .command = "DEL",
				.container_id = container_id, .netns = netns, .ifname = ifname,
				.args = c->env.args, .environ = c->environ, .conf = c->input,
			};
			_cleanup_error_ struct ky_error *e = NULL;
			if (ky_cni_ipam_exec(&call, NULL, NULL, &e) < 0)
				ky_log_err(KY_LOG_WARN, "ipam-del-failed", e, "container=%s", container_id);
		}
		return 0;
	}
	if ((ret = ky_cni_dev_load(r, err)) < 0)
		return ret;
	ky_cni_run_open_netns(r, netns);
	if (ky_cni_record_from_earlier_boot(r->rec, NULL) && !r->dev.chained) {
		/* Its pod went with the boot; its device may since have gone
		 * to a pod of this boot, whose settings must stay. */
		_cleanup_free_ char *owner = NULL;
		r->stale = true;
		r->device_taken = claimed_by_other(r, r->dev.name, r->dev.pci[0] ? r->dev.pci : NULL, &owner, NULL) > 0;
		if (r->device_taken)
			ky_warn("stale-record-device-in-use", "container=%s ifname=%s device=%s owner=%s", container_id,
				ifname, r->dev.name, owner ?: "?");
	}
	if ((ret = undo_all(r, err)) < 0)
		return ret;
	/* An ADD killed while holding the device's lock left its file:
	 * taking and dropping the lock removes it. */
	char dkey[KY_STATE_KEY_MAX + 1];
	struct ky_state_lock *dlock = NULL;
	if (!r->dev.chained && device_key(&r->dev, dkey, sizeof(dkey)) == 0 &&
	    ky_state_lock(r->store, dkey, KY_STATE_NONBLOCK | KY_STATE_EXISTING, &dlock, NULL) == 0)
		ky_state_unlock(dlock);
	ky_info("del", "container=%s ifname=%s device=%s", container_id, ifname, r->dev.name);
	return 0;
}

int ky_cni_del(struct ky_cni *c, struct ky_error **err)
{
	return ky_cni_del_attachment(c, c->env.container_id, c->env.ifname, c->env.netns, 0, err);
}


/* GC: undo every attachment of the network the runtime no longer lists. */
#include "cni_private.h"
#include "kyborg/base/error.h"
#include "kyborg/base/log.h"

#include <errno.h>
#include <string.h>

/* A record that cannot be read says nothing of the device or the VF
 * settings to restore, so those stay as they are (logged). What can be done
 * without it is done: the IPAM reservation is released by container ID and
 * the record removed, so that it is not reported on every GC. */
static int drop_unreadable(struct ky_cni *c, struct ky_state_store *store, const char *key, const char *cid,
			   const char *ifn, struct ky_error **err)
{
	_cleanup_(ky_state_unlockp) struct ky_state_lock *l = NULL;
	int ret = ky_state_lock(store, key, KY_STATE_NONBLOCK, &l, err);
	if (ret < 0)
		return ret;
	if (c->conf.has_ipam && c->env.path) {
		struct ky_cni_ipam_call call = {
			.type = c->conf.ipam_type, .cni_path = c->env.path, .command = "DEL",
			.container_id = cid, .ifname = ifn, .args = c->env.args, .environ = c->environ,
			.conf = c->input,
		};
		if ((ret = ky_cni_ipam_exec(&call, NULL, NULL, err)) < 0)
			return ret;
	}
	return ky_state_delete(l, err);
}

int ky_cni_gc(struct ky_cni *c, struct ky_error **err)
{
	_cleanup_(ky_state_closep) struct ky_state_store *store = NULL;
	int ret = ky_cni_state_open(c, &store, err);
	if (ret < 0)
		return ret;
	char prefix[KY_STATE_KEY_MAX + 1];
	if (ky_cni_state_key_prefix(c->conf.name, prefix, sizeof(prefix)) < 0) {
		ky_error_set(err, EINVAL, "name: too long");
		return ky_error_set_status(err, KY_CNI_E_CONFIG);
	}
	char **keys = NULL;
	size_t n = 0;
	if ((ret = ky_state_list(store, &keys, &n, err)) < 0)
		return ky_error_set_status(err, KY_CNI_E_IO);
	int first = 0;
	for (size_t i = 0; i < n; i++) {
		if (strncmp(keys[i], prefix, strlen(prefix)) != 0)
			continue;
		_cleanup_(ky_cni_record_freep) struct ky_cni_record *rec = NULL;
		_cleanup_error_ struct ky_error *re = NULL;
		char kcid[KY_STATE_KEY_MAX + 1], kifn[KY_STATE_KEY_MAX + 1];
		if (ky_cni_state_key_parse(keys[i], c->conf.name, kcid, sizeof(kcid), kifn, sizeof(kifn)) < 0)
			continue;
		ret = ky_cni_record_get(store, keys[i], &rec, &re);
		if (ret == -EPROTO) {
			/* A newer plugin's: not ours to undo, nor to drop. */
			ky_log_err(KY_LOG_WARN, "gc-newer-record", re, "key=%s", keys[i]);
			continue;
		}
		bool readable = ret >= 0;
		const char *cid = readable ? rec->container_id : kcid;
		const char *ifn = readable ? rec->ifname : kifn;
		if (!cid || !ifn) {
			cid = kcid;
			ifn = kifn;
			readable = false;
		}
		bool valid = false;
		for (size_t k = 0; k < c->conf.n_valid && !valid; k++)
			valid = strcmp(c->conf.valid[k].container_id, cid) == 0 &&
				strcmp(c->conf.valid[k].ifname, ifn) == 0;
		if (valid)
			continue;
		/* An attachment busy in another verb is left for the next GC. */
		_cleanup_error_ struct ky_error *e = NULL;
		if (!readable) {
			ky_log_err(KY_LOG_ERROR, "gc-unreadable-record", re, "container=%s ifname=%s", cid, ifn);
			ret = drop_unreadable(c, store, keys[i], cid, ifn, &e);
		} else
			ret = ky_cni_del_attachment(c, cid, ifn, NULL, KY_STATE_NONBLOCK, &e);
		if (ret < 0 && ret != -EWOULDBLOCK) {
			ky_log_err(KY_LOG_ERROR, "gc-failed", e, "container=%s ifname=%s", cid, ifn);
			if (!first) {
				first = ret;
				ky_error_set(err, -ret, "GC %s/%s: %s", cid, ifn, ky_error_msg(e));
			}
		} else if (ret == 0) {
			ky_info("gc", "container=%s ifname=%s", cid, ifn);
		}
	}
	ky_state_keys_free(keys, n);
	if (!first && c->conf.has_ipam && c->env.path) {
		struct ky_cni_ipam_call call = {
			.type = c->conf.ipam_type, .cni_path = c->env.path, .command = "GC",
			.args = c->env.args, .environ = c->environ, .conf = c->input,
		};
		if ((ret = ky_cni_ipam_gc(&call, err)) < 0)
			first = ret;
	}
	return first ? ky_error_set_status(err, KY_CNI_E_INTERNAL) : 0;
}

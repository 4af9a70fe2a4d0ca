/* Who uses a device right now: the CNI plugin's attachment records,
 * kubelet's device-plugin checkpoint and, without it, the device plugin's
 * allocation records, and the DRA driver's claim records; read without
 * locks and without creating anything (kyborgctl plan changes nothing),
 * each through the state module that writes it. */
#include "kyborg/node/node_apply.h"
#include "kyborg/base/error.h"
#include "kyborg/base/fileio.h"
#include "kyborg/json/json.h"
#include "kyborg/base/log.h"
#include "kyborg/state/boot.h"
#include "kyborg/state/cni_record.h"
#include "kyborg/state/dp_record.h"
#include "kyborg/state/dra_record.h"
#include "kyborg/state/state_store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_CHECKPOINT_SIZE (16u << 20)

static const char *str(const cJSON *o, const char *key)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
}

int ky_node_usage_add_cni_record(struct ky_node_usage *u, const struct ky_cni_record *rec, const char *boot_id)
{
	/* A record from an earlier boot claims nothing: its pod went with it. */
	if (!rec->device.pci || ky_cni_record_from_earlier_boot(rec, boot_id ? boot_id : ""))
		return 0;
	char who[160];
	snprintf(who, sizeof(who), "CNI %s container %.12s interface %s", rec->network ?: "?",
		 rec->container_id ?: "?", rec->ifname ?: "?");
	int r = ky_node_usage_add(u, rec->device.pci, who);
	return r == -EINVAL ? 0 : r;
}

/* "0000:3b:00.0" or a replica "0000:3b:00.0::1": the function's address. */
static int add_device_id(struct ky_node_usage *u, const char *id, const char *who)
{
	char addr[KY_PCI_ADDR_LEN + 1];
	const char *sep = strstr(id, "::");
	size_t n = sep ? (size_t)(sep - id) : strlen(id);
	if (n == 0 || n >= sizeof(addr))
		return 0;
	memcpy(addr, id, n);
	addr[n] = '\0';
	int r = ky_node_usage_add(u, addr, who);
	return r == -EINVAL ? 0 : r; /* not one of ours: not a PCI address */
}

/* DeviceIDs is a list in old checkpoints and {numa node: list} since
 * kubelet 1.20's topology-aware allocation. */
static int add_ids(struct ky_node_usage *u, const cJSON *ids, const char *who)
{
	const cJSON *e;
	cJSON_ArrayForEach(e, ids)
	{
		int r = cJSON_IsString(e) ? add_device_id(u, e->valuestring, who) : cJSON_IsArray(e) ? add_ids(u, e, who) : 0;
		if (r < 0)
			return r;
	}
	return 0;
}

int ky_node_usage_add_kubelet_checkpoint(struct ky_node_usage *u, const cJSON *doc)
{
	const cJSON *entries = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "Data"),
								"PodDeviceEntries");
	const cJSON *e;
	cJSON_ArrayForEach(e, entries)
	{
		char who[200];
		snprintf(who, sizeof(who), "pod %s container %s (%s)", str(e, "PodUID") ?: "?",
			 str(e, "ContainerName") ?: "?", str(e, "ResourceName") ?: "?");
		int r = add_ids(u, cJSON_GetObjectItemCaseSensitive(e, "DeviceIDs"), who);
		if (r < 0)
			return r;
	}
	return 0;
}

int ky_node_usage_add_dp_record(struct ky_node_usage *u, const struct ky_dp_record *rec)
{
	if (!rec->pci || !rec->device)
		return 0;
	char who[200];
	snprintf(who, sizeof(who), "device plugin %s: %s allocated at %s", rec->resource ?: "?", rec->device,
		 rec->allocated_at ?: "?");
	int r = ky_node_usage_add(u, rec->pci, who);
	return r == -EINVAL ? 0 : r;
}

int ky_node_usage_add_dra_record(struct ky_node_usage *u, const struct ky_dra_record *rec)
{
	/* "preparing" holds the devices as much as "prepared": the driver may
	 * have changed them already, and Prepare again finishes the claim. */
	char who[400];
	snprintf(who, sizeof(who), "claim %s/%s (%s)", rec->namespace_ ?: "?", rec->name ?: "?", rec->claim_uid ?: "?");
	for (size_t i = 0; i < rec->n_devices; i++) {
		if (!rec->devices[i].pci)
			continue;
		int r = ky_node_usage_add(u, rec->devices[i].pci, who);
		if (r < 0 && r != -EINVAL)
			return r;
	}
	return 0;
}

/* One key's records, given to u: 0, 1 when unreadable (*err says why),
 * -ENOMEM. */
static int add_cni(struct ky_node_usage *u, struct ky_state_store *s, const char *key, struct ky_error **err)
{
	_cleanup_(ky_cni_record_freep) struct ky_cni_record *rec = NULL;
	if (ky_cni_record_get(s, key, &rec, err) < 0)
		return 1;
	return ky_node_usage_add_cni_record(u, rec, ky_boot_id());
}

static int add_dp(struct ky_node_usage *u, struct ky_state_store *s, const char *key, struct ky_error **err)
{
	struct ky_dp_record *recs = NULL;
	size_t n = 0;
	if (ky_dp_records_get(s, key, &recs, &n, err) < 0)
		return 1;
	int r = 0;
	for (size_t i = 0; i < n && r >= 0; i++)
		r = ky_node_usage_add_dp_record(u, &recs[i]);
	ky_dp_records_free(recs, n);
	return r;
}

static int add_dra(struct ky_node_usage *u, struct ky_state_store *s, const char *key, struct ky_error **err)
{
	struct ky_dra_record rec = { 0 };
	if (ky_dra_record_get(s, key, &rec, err) < 0)
		return 1;
	int r = ky_node_usage_add_dra_record(u, &rec);
	ky_dra_record_clear(&rec);
	return r;
}

/* Every record of a state store directory, given to add(). */
static int read_store(struct ky_node_usage *u, const char *dir, const char *what,
		      int (*add)(struct ky_node_usage *, struct ky_state_store *, const char *, struct ky_error **),
		      struct ky_error **err)
{
	struct stat st;
	if (stat(dir, &st) < 0 && errno == ENOENT) {
		ky_info("usage-source-missing", "dir=%s", dir);
		return 0; /* nothing recorded yet: and ky_state_open would create it */
	}
	_cleanup_(ky_state_closep) struct ky_state_store *s = NULL;
	char **keys = NULL;
	size_t n = 0;
	int r;
	if ((r = ky_state_open(dir, &s, err)) < 0 || (r = ky_state_list(s, &keys, &n, err)) < 0)
		return ky_error_prefix(err, "%s in %s", what, dir);
	for (size_t i = 0; i < n && r >= 0; i++) {
		_cleanup_error_ struct ky_error *rerr = NULL;
		r = add(u, s, keys[i], &rerr);
		if (r > 0)
			ky_warn("usage-record-skipped", "dir=%s key=%s error=%s", dir, keys[i], ky_error_msg(rerr));
	}
	ky_state_keys_free(keys, n);
	return r < 0 ? ky_error_set(err, -r, "%s: out of memory", what) : 0;
}

static int read_checkpoint(struct ky_node_usage *u, const char *path, bool *found, struct ky_error **err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0)
		return ky_error_set(err, errno, "open kubelet checkpoint %s: %m", path);
	*found = true;
	_cleanup_free_ char *buf = NULL;
	size_t len;
	int r = ky_read_all(fd, MAX_CHECKPOINT_SIZE, &buf, &len);
	if (r < 0)
		return ky_error_set(err, -r, "read kubelet checkpoint %s: %s", path, strerror(-r));
	_cleanup_(cJSON_Deletep) cJSON *doc = NULL;
	/* Not -EINVAL: that is a bad profile's ("refused"); a node file that
	 * cannot be read is a failure. */
	_cleanup_error_ struct ky_error *perr = NULL;
	if (ky_json_parse(buf, len, &doc, &perr) < 0)
		return ky_error_set(err, EBADMSG, "kubelet checkpoint %s: %s", path, ky_error_msg(perr));
	if ((r = ky_node_usage_add_kubelet_checkpoint(u, doc)) < 0)
		return ky_error_set(err, -r, "kubelet checkpoint: out of memory");
	return 0;
}

int ky_node_usage_read(const struct ky_usage_sources *src, struct ky_node_usage **out, struct ky_error **err)
{
	_cleanup_(ky_node_usage_freep) struct ky_node_usage *u = calloc(1, sizeof(*u));
	int r;
	if (!u)
		return ky_error_set(err, ENOMEM, "out of memory");
	bool kubelet = false;
	if (src->cni_state_dir && (r = read_store(u, src->cni_state_dir, "CNI records", add_cni, err)) < 0)
		return r;
	if (src->kubelet_checkpoint && (r = read_checkpoint(u, src->kubelet_checkpoint, &kubelet, err)) < 0)
		return r;
	if (src->dp_state_dir && !kubelet) {
		_cleanup_free_ char *dir = ky_dp_record_dir(src->dp_state_dir);
		if (!dir)
			return ky_error_set(err, ENOMEM, "out of memory");
		if ((r = read_store(u, dir, "device plugin allocations", add_dp, err)) < 0)
			return r;
	}
	if (src->dra_state_dir) {
		_cleanup_free_ char *dir = ky_dra_record_dir(src->dra_state_dir);
		if (!dir)
			return ky_error_set(err, ENOMEM, "out of memory");
		if ((r = read_store(u, dir, "DRA claim records", add_dra, err)) < 0)
			return r;
	}
	*out = TAKE_PTR(u);
	return 0;
}

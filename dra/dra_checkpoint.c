/* The checkpoint of prepared claims: a record per claim in the state store
 * (<state dir>/dra-claims/<claim UID>.json, format: state/dra_record.h),
 * written before the node changes (atomically: what it guards, a CDI spec
 * in a tmpfs and an FPGA's image, does not outlive a power loss either, and
 * Unprepare finds a claim's spec by its UID) and durably before kubelet is
 * told the claim is prepared,
 * and every record in memory, so a Prepare knows at once which devices
 * other claims hold. A restarted driver reads them back. */
#include "dra_daemon.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/base/log.h"

static int keep(struct dra_daemon *d, struct ky_dra_record *rec)
{
	if (d->n_records == d->cap_records) {
		size_t nc = d->cap_records ? d->cap_records * 2 : 8;
		struct ky_dra_record *nr = realloc(d->records, nc * sizeof(*nr));
		if (!nr)
			return -ENOMEM;
		d->records = nr;
		d->cap_records = nc;
	}
	d->records[d->n_records++] = *rec;
	memset(rec, 0, sizeof(*rec));
	return 0;
}

static ssize_t index_of(const struct dra_daemon *d, const char *uid)
{
	for (size_t i = 0; i < d->n_records; i++)
		if (strcmp(d->records[i].claim_uid, uid) == 0)
			return (ssize_t)i;
	return -1;
}

int dra_checkpoint_open(struct dra_daemon *d, struct ky_error **err)
{
	_cleanup_free_ char *dir = ky_dra_record_dir(d->opts->state_dir);
	char **keys = NULL;
	size_t n = 0, prepared = 0;
	if (!dir)
		return ky_error_set(err, ENOMEM, "out of memory");
	int r = ky_state_open(dir, &d->store, err);
	if (r < 0 || (r = ky_state_list(d->store, &keys, &n, err)) < 0)
		return ky_error_prefix(err, "claim checkpoint");
	for (size_t i = 0; i < n && r >= 0; i++) {
		_cleanup_error_ struct ky_error *rerr = NULL;
		struct ky_dra_record rec = { 0 };
		if (ky_dra_record_get(d->store, keys[i], &rec, &rerr) < 0) {
			/* Unprepare still removes what the UID names. */
			ky_log_err(KY_LOG_WARN, "checkpoint-unreadable", rerr, "dir=%s key=%s", dir, keys[i]);
			continue;
		}
		if (strcmp(rec.claim_uid, keys[i]) != 0) {
			ky_warn("checkpoint-unreadable", "dir=%s key=%s error=\"the record names claim %s\"", dir, keys[i],
				rec.claim_uid);
			ky_dra_record_clear(&rec);
			continue;
		}
		prepared += rec.state == KY_DRA_PREPARED;
		if ((r = keep(d, &rec)) < 0) {
			ky_dra_record_clear(&rec);
			r = ky_error_set(err, ENOMEM, "out of memory");
		}
	}
	ky_state_keys_free(keys, n);
	if (r >= 0)
		ky_info("checkpoint", "dir=%s claims=%zu prepared=%zu", dir, d->n_records, prepared);
	return r < 0 ? r : 0;
}

void dra_checkpoint_close(struct dra_daemon *d)
{
	for (size_t i = 0; i < d->n_records; i++)
		ky_dra_record_clear(&d->records[i]);
	free(d->records);
	d->records = NULL;
	d->n_records = d->cap_records = 0;
	ky_state_close(d->store);
	d->store = NULL;
}

const struct ky_dra_record *dra_checkpoint_find(const struct dra_daemon *d, const char *uid)
{
	ssize_t i = index_of(d, uid);
	return i < 0 ? NULL : &d->records[i];
}

size_t dra_checkpoint_holders(const struct dra_daemon *d, const char *pci, const char *uid,
			      const struct ky_dra_record **first)
{
	size_t n = 0;
	*first = NULL;
	for (size_t i = 0; i < d->n_records; i++) {
		const struct ky_dra_record *rec = &d->records[i];
		if (strcmp(rec->claim_uid, uid) == 0)
			continue;
		for (size_t k = 0; k < rec->n_devices; k++) {
			if (strcmp(rec->devices[k].pci, pci) == 0) {
				if (!n++)
					*first = rec;
				break;
			}
		}
	}
	return n;
}

const struct ky_dra_record *dra_checkpoint_holder_of(const struct dra_daemon *d, const char *device, const char *uid)
{
	for (size_t i = 0; i < d->n_records; i++) {
		const struct ky_dra_record *rec = &d->records[i];
		for (size_t k = 0; strcmp(rec->claim_uid, uid) != 0 && k < rec->n_devices; k++)
			if (strcmp(rec->devices[k].device, device) == 0)
				return rec;
	}
	return NULL;
}

int dra_checkpoint_put(struct dra_daemon *d, struct ky_dra_record *rec, bool durable, struct ky_error **err)
{
	_cleanup_(ky_state_unlockp) struct ky_state_lock *l = NULL;
	int r = ky_state_lock(d->store, rec->claim_uid, 0, &l, err);
	if (r < 0 || (r = ky_dra_record_save(l, rec, durable, err)) < 0) {
		ky_dra_record_clear(rec);
		return ky_error_prefix(err, "checkpoint");
	}
	ssize_t i = index_of(d, rec->claim_uid);
	if (i >= 0) {
		ky_dra_record_clear(&d->records[i]);
		d->records[i] = *rec;
		memset(rec, 0, sizeof(*rec));
		return 0;
	}
	if (keep(d, rec) < 0) {
		/* Written but not kept: a restart would know it; this run must too. */
		ky_dra_record_clear(rec);
		return ky_error_set(err, ENOMEM, "checkpoint: out of memory");
	}
	return 0;
}

int dra_checkpoint_delete(struct dra_daemon *d, const char *uid, struct ky_error **err)
{
	_cleanup_(ky_state_unlockp) struct ky_state_lock *l = NULL;
	int r = ky_state_lock(d->store, uid, 0, &l, err);
	if (r < 0 || (r = ky_state_delete(l, err)) < 0)
		return ky_error_prefix(err, "checkpoint");
	ssize_t i = index_of(d, uid);
	if (i >= 0) {
		ky_dra_record_clear(&d->records[i]);
		d->records[i] = d->records[--d->n_records];
	}
	return 0;
}

/* The allocation checkpoint: each resource's record in the state store
 * (<state dir>/allocations/<resource with '/' as '_'>), read at start so a
 * restarted daemon knows what it handed out, and updated by every Allocate
 * and every PreStartContainer that programmed an FPGA. Format: README. */
#include "dp_daemon.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kyborg/error.h"
#include "kyborg/log.h"
#include "kyborg/state.h"

char *dp_checkpoint_key(const char *resource)
{
	char *s = strdup(resource);
	for (char *c = s; c && *c; c++)
		if (*c == '/')
			*c = '_';
	return s;
}

int dp_checkpoint_open(struct dp_daemon *d, struct ky_error **err)
{
	_cleanup_free_ char *dir = NULL;
	if (asprintf(&dir, "%s/allocations", d->opts->state_dir) < 0)
		return ky_error_set(err, ENOMEM, "out of memory");
	int r = ky_state_open(dir, &d->checkpoint, err);
	if (r < 0)
		return ky_error_prefix(err, "allocation checkpoint");
	return 0;
}

/* A new record, or the one a daemon before us left. */
int dp_checkpoint_load(struct dp_plugin *p, struct ky_error **err)
{
	_cleanup_free_ char *key = dp_checkpoint_key(p->res->name);
	_cleanup_error_ struct ky_error *rerr = NULL;
	cJSON *rec = NULL;
	if (!key)
		return ky_error_set(err, ENOMEM, "out of memory");
	int r = ky_state_get(p->d->checkpoint, key, &rec, &rerr);
	if (r < 0 && r != -ENOENT) /* a corrupt record is replaced: kubelet's own checkpoint is the truth */
		ky_log_err(KY_LOG_WARN, "checkpoint-unreadable", rerr, "resource=%s", p->res->name);
	cJSON *devs = rec ? cJSON_GetObjectItemCaseSensitive(rec, "devices") : NULL;
	if (!rec || !cJSON_IsObject(devs)) {
		cJSON_Delete(rec);
		rec = cJSON_CreateObject();
		if (!rec || !cJSON_AddStringToObject(rec, "resource", p->res->name) ||
		    !cJSON_AddStringToObject(rec, "kind", dp_kind_name(p->res->kind)) ||
		    !cJSON_AddObjectToObject(rec, "devices")) {
			cJSON_Delete(rec);
			return ky_error_set(err, ENOMEM, "out of memory");
		}
	} else {
		ky_info("checkpoint", "resource=%s allocated=%d", p->res->name, cJSON_GetArraySize(devs));
	}
	cJSON_Delete(p->allocated);
	p->allocated = rec;
	return 0;
}

static int save(struct dp_plugin *p, struct ky_error **err)
{
	_cleanup_free_ char *key = dp_checkpoint_key(p->res->name);
	_cleanup_(ky_state_unlockp) struct ky_state_lock *l = NULL;
	int r;
	if (!key)
		return ky_error_set(err, ENOMEM, "out of memory");
	/* Atomic, not durable: after a power loss kubelet admits every pod
	 * again and the record is rebuilt by its Allocate calls. */
	if ((r = ky_state_lock(p->d->checkpoint, key, 0, &l, err)) < 0 ||
	    (r = ky_state_write_fast(l, p->allocated, err)) < 0)
		return r;
	return 0;
}

static void now_rfc3339(char buf[32])
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int dp_checkpoint_allocated(struct dp_plugin *p, char *const *ids, size_t n, struct ky_error **err)
{
	cJSON *devs = cJSON_GetObjectItemCaseSensitive(p->allocated, "devices");
	char at[32];
	now_rfc3339(at);
	for (size_t i = 0; i < n; i++) {
		const struct dp_device *d = dp_devlist_find(p->devs, ids[i]);
		cJSON *e = cJSON_CreateObject();
		if (!e || !d || !cJSON_AddStringToObject(e, "pci", d->pci->addr) ||
		    !cJSON_AddStringToObject(e, "allocatedAt", at)) {
			cJSON_Delete(e);
			return ky_error_set(err, ENOMEM, "out of memory");
		}
		if (cJSON_GetObjectItemCaseSensitive(devs, ids[i]))
			cJSON_ReplaceItemInObjectCaseSensitive(devs, ids[i], e);
		else
			cJSON_AddItemToObject(devs, ids[i], e);
	}
	return save(p, err);
}

int dp_checkpoint_programmed(struct dp_plugin *p, const char *id, const char *bitstream, struct ky_error **err)
{
	cJSON *e = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(p->allocated, "devices"), id);
	if (!e)
		return 0; /* PreStart without Allocate: nothing is recorded as in use */
	cJSON_DeleteItemFromObjectCaseSensitive(e, "bitstream");
	if (!cJSON_AddStringToObject(e, "bitstream", bitstream))
		return ky_error_set(err, ENOMEM, "out of memory");
	return save(p, err);
}

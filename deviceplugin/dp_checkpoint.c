/* The allocation checkpoint: one record per allocated device in the state
 * store (<state dir>/allocations/<resource, '/' as '_'>@<device id>.json),
 * queued by Allocate and written on the next loop round, right after the
 * answer went out (file creation costs more than Allocate's whole budget),
 * and by a PreStartContainer that programmed an FPGA. One small record per
 * device keeps the cost independent of how much is allocated; a restarted
 * daemon finds the records where it left them. Format: state/dp_record.h. */
#include "dp_daemon.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kyborg/base/error.h"
#include "kyborg/base/log.h"
#include "kyborg/state/dp_record.h"
#include "kyborg/state/state_store.h"

static void on_flush(struct ky_loop_timer *t, void *userdata)
{
	(void)t;
	dp_checkpoint_flush(userdata);
}

int dp_checkpoint_open(struct dp_daemon *d, struct ky_error **err)
{
	_cleanup_free_ char *dir = ky_dp_record_dir(d->opts->state_dir);
	char **keys = NULL;
	size_t n = 0;
	if (!dir)
		return ky_error_set(err, ENOMEM, "out of memory");
	int r = ky_state_open(dir, &d->checkpoint, err);
	if (r < 0 || (r = ky_state_list(d->checkpoint, &keys, &n, err)) < 0)
		return ky_error_prefix(err, "allocation checkpoint");
	ky_info("checkpoint", "dir=%s allocated=%zu", dir, n);
	ky_state_keys_free(keys, n);
	return ky_loop_timer_new(d->loop, on_flush, d, &d->flush, err);
}

static void now_rfc3339(char buf[32])
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Atomic, not durable: after a power loss kubelet admits its pods again
 * and their Allocate calls write the records anew. */
static int write_record(struct ky_state_store *store, const struct dp_pending *e, struct ky_error **err)
{
	_cleanup_free_ char *key = ky_dp_record_key(e->resource, e->id);
	_cleanup_(ky_state_unlockp) struct ky_state_lock *l = NULL;
	_cleanup_(ky_dp_record_clear) struct ky_dp_record rec = { 0 };
	int r;
	if (!key)
		return ky_error_set(err, ENOMEM, "out of memory");
	if (!ky_state_key_valid(key))
		return ky_error_set(err, EINVAL, "no checkpoint key for %s of %s", e->id, e->resource);
	r = ky_state_lock(store, key, e->bitstream ? KY_STATE_EXISTING : 0, &l, err);
	if (r == 0 && e->bitstream)
		r = ky_dp_record_load(l, &rec, err);
	if (r == -ENOENT && e->bitstream) {
		ky_error_clear(err); /* PreStart without Allocate: nothing recorded as in use */
		return 0;
	}
	if (r < 0)
		return r;
	if (!e->bitstream) {
		const struct ky_dp_record fresh = { .version = KY_DP_RECORD_VERSION, .resource = e->resource,
						    .kind = (char *)e->kind, .device = e->id, .pci = e->pci,
						    .allocated_at = (char *)e->at };
		return ky_dp_record_save(l, &fresh, err);
	}
	free(rec.bitstream);
	if (!(rec.bitstream = strdup(e->bitstream)))
		return ky_error_set(err, ENOMEM, "out of memory");
	return ky_dp_record_save(l, &rec, err);
}

static void pending_release(struct dp_pending *e)
{
	free(e->resource);
	free(e->id);
	free(e->pci);
}

void dp_checkpoint_flush(struct dp_daemon *d)
{
	for (size_t i = 0; i < d->n_pending; i++) {
		_cleanup_error_ struct ky_error *err = NULL;
		if (write_record(d->checkpoint, &d->pending[i], &err) < 0)
			ky_log_err(KY_LOG_WARN, "checkpoint-write", err, "resource=%s device=%s", d->pending[i].resource,
				   d->pending[i].id);
		pending_release(&d->pending[i]);
	}
	d->n_pending = 0;
}

void dp_checkpoint_close(struct dp_daemon *d)
{
	if (d->checkpoint)
		dp_checkpoint_flush(d);
	free(d->pending);
	d->pending = NULL;
	d->cap_pending = 0;
	if (d->flush)
		ky_loop_timer_free(d->flush);
	d->flush = NULL;
	ky_state_close(d->checkpoint);
	d->checkpoint = NULL;
}

int dp_checkpoint_allocated(struct dp_plugin *p, char *const *ids, size_t n, struct ky_error **err)
{
	struct dp_daemon *d = p->d;
	char at[32];
	now_rfc3339(at);
	if (d->n_pending + n > d->cap_pending) {
		size_t nc = (d->n_pending + n) * 2;
		struct dp_pending *np = realloc(d->pending, nc * sizeof(*np));
		if (!np)
			return ky_error_set(err, ENOMEM, "out of memory");
		d->pending = np;
		d->cap_pending = nc;
	}
	for (size_t i = 0; i < n; i++) {
		const struct dp_device *dev = dp_devlist_find(p->devs, ids[i]);
		struct dp_pending e = { .resource = strdup(p->res->name), .kind = dp_kind_name(p->res->kind),
					.id = strdup(ids[i]), .pci = dev ? strdup(dev->pci->addr) : NULL };
		memcpy(e.at, at, sizeof(at));
		if (!e.resource || !e.id || !e.pci) {
			pending_release(&e);
			return ky_error_set(err, ENOMEM, "out of memory");
		}
		d->pending[d->n_pending++] = e;
	}
	if (!ky_loop_timer_armed(d->flush))
		ky_loop_timer_arm(d->flush, 0, 0);
	return 0;
}

int dp_checkpoint_programmed(struct dp_daemon *d, const char *resource, const char *id, const char *bitstream,
			     struct ky_error **err)
{
	/* The Allocate record first, so the bitstream lands in it. */
	dp_checkpoint_flush(d);
	struct dp_pending e = { .resource = (char *)resource, .id = (char *)id, .bitstream = bitstream };
	return write_record(d->checkpoint, &e, err);
}

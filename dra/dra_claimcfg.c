/* A claim's own configuration of its devices on the node (issue 17): what
 * the allocation's opaque configs (dra_config.h) make of each device of
 * the plan, the rule for claims sharing a GPU, and the VF steps with their
 * undo, journaled in the claim's record: a VF's previous settings and
 * driver are written durably before the VF changes, so Unprepare, a failed
 * Prepare's rollback or Unprepare after a kill puts back exactly what
 * Prepare changed. An FPGA's image is programmed by dra_prepare.c, a GPU's
 * environment goes into the CDI spec (dra_cdi.c): neither changes here. */
#include "dra_daemon.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dra_config.h"
#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/base/fault.h"
#include "kyborg/base/list.h"
#include "kyborg/base/log.h"
#include "kyborg/base/strv.h"
#include "kyborg/net/netlink.h"
#include "kyborg/pci/fpga.h"
#include "kyborg/pci/sriov_sysfs.h"

int dra_claimcfg_parse(const struct dra_daemon *d, const cJSON *config, struct dra_configs *out,
		       struct ky_error **err)
{
	struct dra_config_rules rules = { .driver = d->opts->driver_name, .bitstream_dir = d->bitstream_dir };
	return dra_configs_parse(config, &rules, out, err);
}

void dra_claimcfg_release(struct dra_daemon *d)
{
	ky_nl_close(d->nl);
	d->nl = NULL;
}

static int nl_of(struct dra_daemon *d, struct ky_nl **out, struct ky_error **err)
{
	if (!d->nl) {
		int r = ky_nl_open(&d->nl, err);
		if (r < 0)
			return r;
	}
	*out = d->nl;
	return 0;
}

/* ---- the plan ---- */

static int why_set(char **why, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int why_set(char **why, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(why, fmt, ap);
	va_end(ap);
	if (n < 0) {
		*why = NULL;
		return -ENOMEM;
	}
	return -code;
}

static int plan_vf(const struct dra_daemon *d, const struct dra_config *cfg, const struct dra_device *dev,
		   struct ky_dra_record_device *rd, char **why)
{
	const struct ky_pci_dev *pci = dev->dev->pci, *pf;
	if (!pci->physfn[0])
		return why_set(why, EINVAL, "%s.opaque.parameters.kind: a VfConfig configures VFs; device %s is none",
			       cfg->path, rd->device);
	int idx = (pf = ky_pci_list_find(d->pci, pci->physfn)) ? ky_pci_vf_index(pf, pci->addr) : -1;
	if (idx < 0)
		return why_set(why, EINVAL, "device %s: its PF %s does not list it among its VFs", rd->device,
			       pci->physfn);
	const char *pf_name = pf->n_netdevs ? pf->netdevs[0] : NULL;
	if (cfg->vf.mask && !pf_name)
		return why_set(why, EINVAL, "%s.opaque.parameters: device %s: its PF %s has no netdev to set VF settings on",
			       cfg->path, rd->device, pci->physfn);
	struct ky_dra_record_vf *v = calloc(1, sizeof(*v));
	if (!v || !(v->pf = strdup(pf_name ? pf_name : ""))) {
		free(v);
		return -ENOMEM;
	}
	v->vf_index = idx;
	v->set = cfg->vf;
	v->driver = cfg->vf_driver;
	rd->vf = v;
	return 0;
}

/* A claim's image on the node (a path, or a file:// URL) resolves, links
 * followed, to a file under the bitstream dir: the parser checked the
 * words, this checks where they lead. */
static int check_local(const struct dra_daemon *d, const struct dra_config *cfg, const char *device, char **why)
{
	const struct ky_image_spec *b = &cfg->bitstream;
	const char *local = b->path ? b->path : b->url && strncmp(b->url, "file://", 7) == 0 ? b->url + 7 : NULL;
	if (!local)
		return 0;
	_cleanup_free_ char *dir = realpath(d->bitstream_dir, NULL), *real = realpath(local, NULL);
	size_t n = dir ? strlen(dir) : 0;
	if (!real)
		return why_set(why, EINVAL, "%s.opaque.parameters.bitstream.%s: device %s: %s: %m", cfg->path,
			       b->path ? "path" : "url", device, local);
	if (!dir || strncmp(real, dir, n) != 0 || real[n] != '/')
		return why_set(why, EINVAL, "%s.opaque.parameters.bitstream.%s: device %s: %s leads out of %s",
			       cfg->path, b->path ? "path" : "url", device, local, d->bitstream_dir);
	return 0;
}

static int plan_fpga(const struct dra_daemon *d, const struct dra_config *cfg, const struct dra_device *dev,
		     struct ky_dra_record_device *rd, char **why)
{
	_cleanup_error_ struct ky_error *err = NULL;
	const struct ky_image_spec *b = &cfg->bitstream;
	int r = check_local(d, cfg, rd->device, why);
	if (r < 0)
		return r;
	struct ky_fpga *f = NULL;
	struct ky_dra_record_fpga *out = calloc(1, sizeof(*out));
	if (!out)
		return -ENOMEM;
	rd->fpga = out;
	if (!(out->bitstream.id = strdup(b->id)) || (b->path && !(out->bitstream.path = strdup(b->path))) ||
	    (b->url && !(out->bitstream.url = strdup(b->url))))
		return -ENOMEM;
	memcpy(out->bitstream.sha256, b->sha256, sizeof(b->sha256));
	free(rd->bitstream);
	if (!(rd->bitstream = strdup(b->id)))
		return -ENOMEM;
	/* What the port holds now: the record says what the claim replaced. */
	if (ky_fpga_find(dev->dev->pci->syspath, dev->dev->pci->addr, &f, &err) < 0 ||
	    ky_fpga_loaded_id(f, &out->prev_id, &err) < 0) {
		ky_fpga_free(f);
		return why_set(why, EINVAL, "device %s: %s", rd->device, ky_error_msg(err));
	}
	ky_fpga_free(f);
	return 0;
}

static int plan_gpu(const struct dra_config *cfg, const struct dra_device *dev, struct ky_dra_record_device *rd)
{
	struct ky_dra_record_gpu *g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	rd->gpu = g;
	enum dra_gpu_sharing s = cfg->has_sharing ? cfg->sharing
			       : ky_device_resource_shared(dev->res) ? DRA_GPU_TIME_SLICED : DRA_GPU_EXCLUSIVE;
	if (!(g->sharing = strdup(dra_gpu_sharing_name(s))))
		return -ENOMEM;
	for (size_t i = 0; i < cfg->n_env; i++)
		if (ky_strv_append(&g->env, &g->n_env, "%s", cfg->env[i]) < 0)
			return -ENOMEM;
	return 0;
}

/* A GPU several claims hold is used alike by all: the same sharing (never
 * exclusive) and the same environment. */
static int check_gpu(const struct dra_daemon *d, const struct dra_device *dev, const char *uid,
		     const struct ky_dra_record_device *rd, char **why)
{
	bool shared = ky_device_resource_shared(dev->res);
	struct dra_gpu_use want, held;
	dra_gpu_use_of(rd->gpu, shared, &want);
	for (size_t i = 0; i < d->n_records; i++) {
		const struct ky_dra_record *rec = &d->records[i];
		if (strcmp(rec->claim_uid, uid) == 0)
			continue;
		for (size_t k = 0; k < rec->n_devices; k++) {
			const struct ky_dra_record_device *other = &rec->devices[k];
			if (strcmp(other->pci, rd->pci) != 0)
				continue;
			char field[160], reason[512], holder[512];
			snprintf(holder, sizeof(holder), "%s/%s", rec->namespace_, rec->name);
			dra_gpu_use_of(other->gpu, shared, &held);
			if (!dra_gpu_use_conflict(&held, &want, holder, field, sizeof(field), reason, sizeof(reason)))
				continue;
			if (rd->config_path)
				return why_set(why, EBUSY, "%s.opaque.parameters.%s: device %s: %s", rd->config_path, field,
					       rd->device, reason);
			return why_set(why, EBUSY, "device %s: %s (this claim has no GpuConfig: %s %s)", rd->device,
				       reason, field, strcmp(field, "sharing") == 0 ? "is the default" : "is not set");
		}
	}
	return 0;
}

int dra_claimcfg_plan(const struct dra_daemon *d, const struct dra_configs *cfgs, const char *request,
		      const struct dra_device *dev, const char *uid, struct ky_dra_record_device *rd, char **why)
{
	_cleanup_error_ struct ky_error *err = NULL;
	const struct dra_config *cfg;
	int r;
	*why = NULL;
	if (dra_configs_for(cfgs, request, rd->device, dev->res->kind, &cfg, &err) < 0)
		return why_set(why, EINVAL, "%s", ky_error_msg(err));
	if (cfg) {
		if (!(rd->config_path = strdup(cfg->path)))
			return -ENOMEM;
		switch (cfg->kind) {
		case DRA_CONFIG_VF: r = plan_vf(d, cfg, dev, rd, why); break;
		case DRA_CONFIG_FPGA: r = plan_fpga(d, cfg, dev, rd, why); break;
		case DRA_CONFIG_GPU: r = plan_gpu(cfg, dev, rd); break;
		default: r = -EINVAL; break;
		}
		if (r < 0)
			return r;
	}
	return dev->res->kind == KY_DEVICE_GPU ? check_gpu(d, dev, uid, rd, why) : 0;
}

void dra_claimcfg_carry(struct ky_dra_record *plan, const struct ky_dra_record *old)
{
	for (size_t i = 0; old && i < plan->n_devices; i++) {
		struct ky_dra_record_vf *v = plan->devices[i].vf;
		for (size_t k = 0; v && k < old->n_devices; k++) {
			const struct ky_dra_record_vf *o = old->devices[k].vf;
			if (!o || !o->saved || strcmp(old->devices[k].device, plan->devices[i].device) != 0)
				continue;
			free(v->prev_driver);
			free(v->prev_override);
			v->prev_driver = o->prev_driver ? strdup(o->prev_driver) : NULL;
			v->prev_override = o->prev_override ? strdup(o->prev_override) : NULL;
			/* Out of memory: not carried, and read again (what the
			 * VF holds now), which only a kill could have changed. */
			v->saved = (!o->prev_driver || v->prev_driver) && (!o->prev_override || v->prev_override);
			v->prev = o->prev;
		}
	}
}

/* ---- the VF steps ---- */

/* Reads what the VfConfig will change, into the journal. */
static int save(struct dra_daemon *d, struct ky_dra_record_device *rd, struct ky_error **err)
{
	struct ky_dra_record_vf *v = rd->vf;
	struct ky_nl *nl;
	char buf[256];
	int r;
	if (v->set.mask) {
		if ((r = nl_of(d, &nl, err)) < 0 || (r = ky_vf_get(nl, v->pf, (unsigned)v->vf_index, &v->prev, err)) < 0)
			return r;
		/* Only what the claim changes is put back. */
		v->prev.mask &= v->set.mask;
	}
	if (v->driver != KY_DRA_VF_DRIVER_KEEP) {
		if ((r = ky_pci_driver_get(rd->pci, buf, sizeof(buf), err)) < 0 || !(v->prev_driver = strdup(buf)))
			return r < 0 ? r : ky_error_set(err, ENOMEM, "out of memory");
		if ((r = ky_pci_driver_override_get(rd->pci, buf, sizeof(buf), err)) < 0 || !(v->prev_override = strdup(buf)))
			return r < 0 ? r : ky_error_set(err, ENOMEM, "out of memory");
	}
	v->saved = true;
	return 0;
}

/* An error reading or setting the VF a VfConfig configures, prefixed with
 * the config's path and the fields it sets (the driver too where it was
 * being read), as the claim names them: on a kernel that refuses them, the
 * claim's author learns which of their settings met it
 * ("config[0].opaque.parameters.vlan: device vf-0000-18-01-1: set VF 1 of
 * ens1f0 (a PF with 4 VFs): ..."). */
static int vf_failed(const struct ky_dra_record_device *rd, bool driver_too, struct ky_error **err)
{
	const struct ky_vf_config *c = &rd->vf->set;
	const char *names[8];
	size_t n = 0;
	if (c->mask & KY_VF_MAC)
		names[n++] = "mac";
	if (c->mask & KY_VF_VLAN)
		names[n++] = "vlan";
	if ((c->mask & KY_VF_RATE) && (c->min_tx_rate || !c->max_tx_rate))
		names[n++] = "min_tx_rate";
	if ((c->mask & KY_VF_RATE) && c->max_tx_rate)
		names[n++] = "max_tx_rate";
	if (c->mask & KY_VF_SPOOFCHK)
		names[n++] = "spoofchk";
	if (c->mask & KY_VF_TRUST)
		names[n++] = "trust";
	if (c->mask & KY_VF_LINK_STATE)
		names[n++] = "link_state";
	if (driver_too && rd->vf->driver != KY_DRA_VF_DRIVER_KEEP)
		names[n++] = "driver";
	if (!rd->config_path)
		return ky_error_prefix(err, "device %s", rd->device);
	if (n == 1)
		return ky_error_prefix(err, "%s.opaque.parameters.%s: device %s", rd->config_path, names[0], rd->device);
	char list[96] = "";
	for (size_t i = 0; i < n; i++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : " (", names[i]);
	return ky_error_prefix(err, "%s.opaque.parameters%s%s: device %s", rd->config_path, list, n ? ")" : "",
			       rd->device);
}

/* ---- applying and undoing, device by device ---- */

/* A claim's VfConfigs being applied or undone: everything but a driver
 * change runs on the loop (sysfs reads, the journal, rtnetlink requests
 * the PF's driver answers at once); a driver change runs in a child
 * (dra_rebind.c), and the job goes on from the next device when it ends. */
struct dra_vf_job {
	struct dra_daemon *d;
	struct ky_dra_record *plan; /* apply: the caller's plan, which it keeps */
	struct ky_dra_record rec;   /* undo: a copy of the record (the checkpoint's may move) */
	bool undo;
	size_t at;                  /* apply: the device to go on from; undo: devices left */
	int first;                  /* undo: the first failure, in first_err */
	struct ky_error *first_err;
	struct dra_rebind *rebind;
	dra_vf_done_fn done;
	void *userdata;
	struct dra_vf_job *prev, *next; /* d->vf_jobs */
};

static void job_free(struct dra_vf_job *job)
{
	KY_LIST_REMOVE(job->d->vf_jobs, job);
	dra_rebind_free(job->rebind);
	ky_dra_record_clear(&job->rec);
	ky_error_free(job->first_err);
	free(job);
}

void dra_vf_job_free(struct dra_vf_job *job)
{
	if (job)
		job_free(job);
}

static void driver_done(struct dra_vf_job *job, const struct ky_dra_record_device *rd, bool changed)
{
	struct ky_dra_record *plan = job->plan;
	ky_info("vf-driver", "claim=%s/%s device=%s driver=%s changed=%s", plan->namespace_, plan->name, rd->device,
		ky_dra_vf_driver_name(rd->vf->driver), changed ? "yes" : "no");
	ky_fault_point("dra-prepare-vf-bound");
}

static void rebound(void *userdata, const struct ky_error *failed);

/* From device job->at on: 0 when every device is done, 1 when a rebind
 * runs (job->rebind), or -errno. */
static int apply_from(struct dra_vf_job *job, struct ky_error **err)
{
	struct dra_daemon *d = job->d;
	struct ky_dra_record *plan = job->plan;
	for (; job->at < plan->n_devices; job->at++) {
		struct ky_dra_record_device *rd = &plan->devices[job->at];
		struct ky_dra_record_vf *v = rd->vf;
		struct ky_nl *nl;
		bool changed = false, needed;
		int r;
		if (!v)
			continue;
		if (!v->saved) {
			struct ky_dra_record copy = { 0 };
			if ((r = save(d, rd, err)) < 0) /* reading what it will change */
				return vf_failed(rd, true, err);
			/* Durable: a VF's settings live in the PF's driver and
			 * firmware and outlive a crash of this kernel. */
			if ((r = ky_dra_record_copy(plan, &copy, err)) < 0 || (r = dra_checkpoint_put(d, &copy, true, err)) < 0)
				return ky_error_prefix(err, "device %s", rd->device);
			ky_fault_point("dra-prepare-vf-saved");
		}
		if (v->set.mask) {
			if ((r = nl_of(d, &nl, err)) < 0 ||
			    (r = ky_vf_ensure(nl, v->pf, (unsigned)v->vf_index, &v->set, &changed, err)) < 0)
				return vf_failed(rd, false, err);
			ky_info("vf-configured", "claim=%s/%s device=%s pf=%s vf=%d changed=%s", plan->namespace_, plan->name,
				rd->device, v->pf, v->vf_index, changed ? "yes" : "no");
			ky_fault_point("dra-prepare-vf-configured");
		}
		if (v->driver == KY_DRA_VF_DRIVER_KEEP)
			continue;
		if ((r = dra_rebind_needed(rd, false, &needed, err)) < 0)
			return ky_error_prefix(err, "device %s", rd->device);
		if (!needed) {
			driver_done(job, rd, false);
			continue;
		}
		if ((r = dra_rebind_start(d, rd, false, rebound, job, &job->rebind, err)) < 0)
			return ky_error_prefix(err, "device %s", rd->device);
		return 1;
	}
	return 0;
}

/* A device's settings and log line once its driver is the journal's (or
 * its undo failed: the settings are put back all the same). */
static int undo_rest(struct dra_vf_job *job, const struct ky_dra_record_device *rd, struct ky_error **err)
{
	const struct ky_dra_record_vf *v = rd->vf;
	struct ky_nl *nl;
	bool changed = false;
	int r;
	if (v->prev.mask) {
		if ((r = nl_of(job->d, &nl, err)) < 0)
			return r;
		r = ky_vf_ensure(nl, v->pf, (unsigned)v->vf_index, &v->prev, &changed, err);
		if (r == -ENODEV || r == -ENOENT) {
			/* The PF or its VFs are gone: nothing is left to restore. */
			ky_log_err(KY_LOG_WARN, "vf-restore-skipped", *err, "device=%s", rd->device);
			ky_error_clear(err);
			r = 0;
		}
		if (r < 0)
			return ky_error_prefix(err, "restore the VF's settings");
	}
	ky_info("vf-restored", "device=%s pf=%s vf=%d settings_changed=%s", rd->device, v->pf, v->vf_index,
		changed ? "yes" : "no");
	return 0;
}

/* Keeps the first failure of an undo; logs the others. */
static void undo_failed(struct dra_vf_job *job, const struct ky_dra_record_device *rd, int r, const struct ky_error *e)
{
	if (job->first == 0) {
		job->first = r;
		ky_error_set(&job->first_err, -r, "device %s: %s", rd->device, ky_error_msg(e));
	} else {
		ky_log_err(KY_LOG_WARN, "vf-restore-failed", e, "device=%s", rd->device);
	}
}

/* Devices job->at - 1 down to 0: 0 when every device is done (failures
 * in job->first), 1 when a rebind runs. */
static int undo_from(struct dra_vf_job *job)
{
	for (; job->at > 0; job->at--) {
		const struct ky_dra_record_device *rd = &job->rec.devices[job->at - 1];
		_cleanup_error_ struct ky_error *e = NULL;
		char path[128];
		bool needed = false;
		int r = 0;
		if (!rd->vf || !rd->vf->saved)
			continue; /* nothing changed before the journal named it */
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s", rd->pci);
		if (access(path, F_OK) != 0) {
			/* Removed (hot-unplug, its PF's VFs gone): nothing of it is
			 * left to put back, and a retry would find it no better. */
			ky_warn("vf-restore-skipped", "device=%s reason=\"%s is gone\"", rd->device, rd->pci);
		} else if ((r = dra_rebind_needed(rd, true, &needed, &e)) == 0 && needed &&
			   (r = dra_rebind_start(job->d, rd, true, rebound, job, &job->rebind, &e)) == 0) {
			return 1;
		} else if (r == 0) {
			r = undo_rest(job, rd, &e);
		}
		if (r < 0)
			undo_failed(job, rd, r, e);
		ky_fault_point("dra-unprepare-vf-restored");
	}
	return 0;
}

/* A rebind's child has ended: the device it was for is finished, and the
 * job goes on from the next. */
static void rebound(void *userdata, const struct ky_error *failed)
{
	struct dra_vf_job *job = userdata;
	_cleanup_error_ struct ky_error *err = NULL;
	int r;
	job->rebind = NULL; /* freed when this returns */
	if (job->undo) {
		const struct ky_dra_record_device *rd = &job->rec.devices[job->at - 1];
		if (failed) {
			ky_error_set(&err, ky_error_code(failed), "put the driver back: %s", ky_error_msg(failed));
			r = -ky_error_code(failed);
		} else {
			r = undo_rest(job, rd, &err);
		}
		if (r < 0)
			undo_failed(job, rd, r, err);
		ky_fault_point("dra-unprepare-vf-restored");
		job->at--;
		if (undo_from(job) == 1)
			return;
		job->done(job->userdata, job->first_err);
		job_free(job);
		return;
	}
	const struct ky_dra_record_device *rd = &job->plan->devices[job->at];
	if (failed) {
		ky_error_set(&err, ky_error_code(failed), "device %s: %s", rd->device, ky_error_msg(failed));
		r = -1;
	} else {
		driver_done(job, rd, true);
		job->at++;
		r = apply_from(job, &err);
	}
	if (r == 1)
		return;
	job->done(job->userdata, r < 0 ? err : NULL);
	job_free(job);
}

static int job_new(struct dra_daemon *d, dra_vf_done_fn done, void *userdata, struct dra_vf_job **out,
		   struct ky_error **err)
{
	if (!(*out = calloc(1, sizeof(**out))))
		return ky_error_set(err, ENOMEM, "out of memory");
	(*out)->d = d;
	(*out)->done = done;
	(*out)->userdata = userdata;
	KY_LIST_PREPEND(d->vf_jobs, *out);
	return 0;
}

bool dra_claimcfg_undoing(const struct dra_daemon *d, const char *uid)
{
	for (const struct dra_vf_job *j = d->vf_jobs; j; j = j->next)
		if (j->undo && j->rebind && j->rec.claim_uid && strcmp(j->rec.claim_uid, uid) == 0)
			return true;
	return false;
}

int dra_claimcfg_apply(struct dra_daemon *d, struct ky_dra_record *plan, dra_vf_done_fn done, void *userdata,
		       struct dra_vf_job **out, struct ky_error **err)
{
	struct dra_vf_job *job;
	int r = job_new(d, done, userdata, &job, err);
	*out = NULL;
	if (r < 0)
		return r;
	job->plan = plan;
	if ((r = apply_from(job, err)) == 1) {
		*out = job;
		return 0;
	}
	job_free(job);
	return r;
}

int dra_claimcfg_undo(struct dra_daemon *d, const struct ky_dra_record *rec, dra_vf_done_fn done, void *userdata,
		      struct dra_vf_job **out, struct ky_error **err)
{
	struct dra_vf_job *job;
	int r = job_new(d, done, userdata, &job, err);
	*out = NULL;
	if (r < 0)
		return r;
	job->undo = true;
	if ((r = ky_dra_record_copy(rec, &job->rec, err)) < 0) {
		job_free(job);
		return r;
	}
	job->at = job->rec.n_devices;
	if (undo_from(job) == 1) {
		*out = job;
		return 0;
	}
	r = job->first;
	if (r < 0)
		ky_error_set(err, -r, "%s", ky_error_msg(job->first_err));
	job_free(job);
	return r;
}

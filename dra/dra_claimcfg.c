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

/* Each sysfs write of a rebind, in the log. */
static int log_write(void *ctx, const char *step)
{
	const char *device = ctx;
	char q[512];
	ky_info("vf-driver-write", "device=%s step=%s", device, ky_log_quote(step, q, sizeof(q)));
	return 0;
}

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

static int ensure_driver(const struct ky_dra_record_device *rd, bool *changed, struct ky_error **err)
{
	char cur[256];
	struct ky_sysfs_log log = { log_write, rd->device };
	int r = ky_pci_driver_get(rd->pci, cur, sizeof(cur), err);
	*changed = false;
	if (r < 0)
		return r;
	if (rd->vf->driver == KY_DRA_VF_DRIVER_VFIO) {
		if (strcmp(cur, "vfio-pci") == 0)
			return 0;
		*changed = true;
		return ky_pci_bind_driver(rd->pci, "vfio-pci", &log, err);
	}
	/* netdevice: any kernel driver but one that hands the VF to userspace. */
	if (*cur && !ky_pci_driver_is_userspace(cur))
		return 0;
	*changed = true;
	return ky_pci_bind_default_driver(rd->pci, &log, err);
}

int dra_claimcfg_apply(struct dra_daemon *d, struct ky_dra_record *plan, struct ky_error **err)
{
	for (size_t i = 0; i < plan->n_devices; i++) {
		struct ky_dra_record_device *rd = &plan->devices[i];
		struct ky_dra_record_vf *v = rd->vf;
		struct ky_nl *nl;
		bool changed = false;
		int r;
		if (!v)
			continue;
		if (!v->saved) {
			struct ky_dra_record copy = { 0 };
			/* Durable: a VF's settings live in the PF's driver and
			 * firmware and outlive a crash of this kernel. */
			if ((r = save(d, rd, err)) < 0 || (r = ky_dra_record_copy(plan, &copy, err)) < 0 ||
			    (r = dra_checkpoint_put(d, &copy, true, err)) < 0)
				return ky_error_prefix(err, "device %s", rd->device);
			ky_fault_point("dra-prepare-vf-saved");
		}
		if (v->set.mask) {
			if ((r = nl_of(d, &nl, err)) < 0 ||
			    (r = ky_vf_ensure(nl, v->pf, (unsigned)v->vf_index, &v->set, &changed, err)) < 0)
				return ky_error_prefix(err, "device %s", rd->device);
			ky_info("vf-configured", "claim=%s/%s device=%s pf=%s vf=%d changed=%s", plan->namespace_, plan->name,
				rd->device, v->pf, v->vf_index, changed ? "yes" : "no");
			ky_fault_point("dra-prepare-vf-configured");
		}
		if (v->driver != KY_DRA_VF_DRIVER_KEEP) {
			if ((r = ensure_driver(rd, &changed, err)) < 0)
				return ky_error_prefix(err, "device %s", rd->device);
			ky_info("vf-driver", "claim=%s/%s device=%s driver=%s changed=%s", plan->namespace_, plan->name,
				rd->device, ky_dra_vf_driver_name(v->driver), changed ? "yes" : "no");
			ky_fault_point("dra-prepare-vf-bound");
		}
	}
	return 0;
}

static int undo_vf(struct dra_daemon *d, const struct ky_dra_record_device *rd, struct ky_error **err)
{
	const struct ky_dra_record_vf *v = rd->vf;
	struct ky_sysfs_log log = { log_write, rd->device };
	struct ky_nl *nl;
	char cur[256], path[128];
	int r;
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s", rd->pci);
	if (access(path, F_OK) != 0) {
		/* Removed (hot-unplug, its PF's VFs gone): nothing of it is left
		 * to put back, and a retry would find it no better. */
		ky_warn("vf-restore-skipped", "device=%s reason=\"%s is gone\"", rd->device, rd->pci);
		return 0;
	}
	if (v->prev_driver && *v->prev_driver) {
		if ((r = ky_pci_driver_get(rd->pci, cur, sizeof(cur), err)) < 0)
			return r;
		if (strcmp(cur, v->prev_driver) != 0 && (r = ky_pci_bind_driver(rd->pci, v->prev_driver, &log, err)) < 0)
			return ky_error_prefix(err, "put the driver back");
	}
	if (v->prev_override) {
		if ((r = ky_pci_driver_override_get(rd->pci, cur, sizeof(cur), err)) < 0)
			return r;
		if (strcmp(cur, v->prev_override) != 0 &&
		    (r = ky_pci_driver_override_set(rd->pci, v->prev_override, &log, err)) < 0)
			return ky_error_prefix(err, "put driver_override back");
	}
	bool changed = false;
	if (v->prev.mask) {
		if ((r = nl_of(d, &nl, err)) < 0)
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

int dra_claimcfg_undo(struct dra_daemon *d, const struct ky_dra_record *rec, struct ky_error **err)
{
	int first = 0;
	for (size_t i = rec->n_devices; i-- > 0;) {
		const struct ky_dra_record_device *rd = &rec->devices[i];
		_cleanup_error_ struct ky_error *e = NULL;
		if (!rd->vf || !rd->vf->saved)
			continue; /* nothing changed before the journal named it */
		int r = undo_vf(d, rd, &e);
		if (r < 0 && first == 0) {
			first = r;
			ky_error_set(err, -r, "device %s: %s", rd->device, ky_error_msg(e));
		} else if (r < 0) {
			ky_log_err(KY_LOG_WARN, "vf-restore-failed", e, "device=%s", rd->device);
		}
		ky_fault_point("dra-unprepare-vf-restored");
	}
	return first;
}

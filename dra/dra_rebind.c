/* A VfConfig's driver change, and its undo, in a child on the loop: the
 * sysfs writes of a rebind (driver_override, unbind, bind or
 * drivers_probe) wait for the old driver's remove and the new one's probe,
 * hundreds of ms to seconds for mlx5, ice, iavf or vfio-pci, and the loop
 * serves kubelet (GetInfo's 1 s deadline), the health streams, other
 * claims and the API watch meanwhile. The child logs each write
 * (vf-driver-write) as it takes effect and reports on its pipe. */
#include "dra_daemon.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/base/fileio.h"
#include "kyborg/base/log.h"
#include "kyborg/loop/child.h"
#include "kyborg/pci/sriov_sysfs.h"

/* A probe that hangs past this is killed, and the claim fails (its
 * rollback, in a child of its own, puts the journal's driver back): within
 * kubelet's 45 s with time left for that. */
#define DRA_REBIND_TIMEOUT_MS 20000
#define REPORT_MAX 4096

struct dra_rebind {
	struct ky_child *child;
	dra_rebind_done_fn done;
	void *userdata;
};

/* Each sysfs write of a rebind, in the log. */
static int log_write(void *ctx, const char *step)
{
	const char *device = ctx;
	char q[512];
	ky_info("vf-driver-write", "device=%s step=%s", device, ky_log_quote(step, q, sizeof(q)));
	return 0;
}

/* Whether the VF is on the driver its VfConfig asks for: vfio-pci, or for
 * netdevice any kernel driver but one that hands the VF to userspace. */
static bool on_wanted(const struct ky_dra_record_device *rd, const char *cur)
{
	if (rd->vf->driver == KY_DRA_VF_DRIVER_VFIO)
		return strcmp(cur, "vfio-pci") == 0;
	return *cur && !ky_pci_driver_is_userspace(cur);
}

int dra_rebind_needed(const struct ky_dra_record_device *rd, bool restore, bool *needed, struct ky_error **err)
{
	const struct ky_dra_record_vf *v = rd->vf;
	char cur[256];
	int r;
	*needed = false;
	if (!restore || (v->prev_driver && *v->prev_driver)) {
		if ((r = ky_pci_driver_get(rd->pci, cur, sizeof(cur), err)) < 0)
			return r;
		*needed = restore ? strcmp(cur, v->prev_driver) != 0 : !on_wanted(rd, cur);
	}
	if (restore && !*needed && v->prev_override) {
		if ((r = ky_pci_driver_override_get(rd->pci, cur, sizeof(cur), err)) < 0)
			return r;
		*needed = strcmp(cur, v->prev_override) != 0;
	}
	/* A rebind of it still running (the child of a daemon killed and
	 * started again) may change what was just read: the job goes to a
	 * child of ours all the same, which waits for it and reads again. */
	if (!*needed) {
		_cleanup_close_ int lock = -1;
		if ((r = ky_pci_driver_lock(rd->pci, false, &lock, err)) == -EWOULDBLOCK) {
			ky_info("vf-driver-rebind-running", "device=%s pci=%s", rd->device, rd->pci);
			*needed = true;
		} else if (r < 0) {
			return r;
		}
	}
	return 0;
}

static int apply_driver(const struct ky_dra_record_device *rd, const struct ky_sysfs_log *log, struct ky_error **err)
{
	char cur[256];
	int r = ky_pci_driver_get(rd->pci, cur, sizeof(cur), err);
	if (r < 0)
		return r;
	if (on_wanted(rd, cur))
		return 0;
	if (rd->vf->driver == KY_DRA_VF_DRIVER_VFIO)
		return ky_pci_bind_driver(rd->pci, "vfio-pci", log, err);
	return ky_pci_bind_default_driver(rd->pci, log, err);
}

/* The journal's driver, then its override, each where it differs now. */
static int restore_driver(const struct ky_dra_record_device *rd, const struct ky_sysfs_log *log, struct ky_error **err)
{
	const struct ky_dra_record_vf *v = rd->vf;
	char cur[256];
	int r;
	if (v->prev_driver && *v->prev_driver) {
		if ((r = ky_pci_driver_get(rd->pci, cur, sizeof(cur), err)) < 0)
			return r;
		if (strcmp(cur, v->prev_driver) != 0 && (r = ky_pci_bind_driver(rd->pci, v->prev_driver, log, err)) < 0)
			return ky_error_prefix(err, "put the driver back");
	}
	if (v->prev_override) {
		if ((r = ky_pci_driver_override_get(rd->pci, cur, sizeof(cur), err)) < 0)
			return r;
		if (strcmp(cur, v->prev_override) != 0 && (r = ky_pci_driver_override_set(rd->pci, v->prev_override, log, err)) < 0)
			return ky_error_prefix(err, "put driver_override back");
	}
	return 0;
}

struct job {
	const struct ky_dra_record_device *rd;
	bool restore;
};

/* In the child: the writes, then "E <errno> <message>" or "OK". */
static int run(void *data, int fd)
{
	const struct job *job = data;
	_cleanup_error_ struct ky_error *err = NULL;
	struct ky_sysfs_log log = { log_write, job->rd->device };
	/* One rebind of a function at a time, across our incarnations: what
	 * each reads is what the one before it left. */
	_cleanup_close_ int lock = -1;
	int r = ky_pci_driver_lock(job->rd->pci, true, &lock, &err);
	if (r >= 0)
		r = job->restore ? restore_driver(job->rd, &log, &err) : apply_driver(job->rd, &log, &err);
	_cleanup_free_ char *line = NULL;
	int n = r < 0 ? asprintf(&line, "E %d %s\n", -r, ky_error_msg(err)) : asprintf(&line, "OK\n");
	if (n > 0) {
		for (int i = 0; i < n - 1; i++)
			if (line[i] == '\n')
				line[i] = ' ';
		(void)ky_write_all(fd, line, (size_t)n);
	} else {
		line = NULL;
	}
	return 0;
}

static void child_done(void *userdata, struct ky_child *child, const struct ky_child_result *res)
{
	struct dra_rebind *rb = userdata;
	_cleanup_error_ struct ky_error *failed = NULL;
	(void)child;
	rb->child = NULL; /* freed by the loop when this returns */
	if (res->output[0] == 'E' && res->output[1] == ' ') {
		char *end;
		long e = strtol(res->output + 2, &end, 10);
		end[strcspn(end, "\n")] = '\0';
		ky_error_set(&failed, e > 0 ? (int)e : EIO, "%s", *end ? end + 1 : "rebind failed");
	} else if (res->timed_out) {
		ky_error_set(&failed, ETIMEDOUT, "the driver's rebind ran past %d s and was killed",
			     DRA_REBIND_TIMEOUT_MS / 1000);
	} else if (strncmp(res->output, "OK", 2) != 0 || !WIFEXITED(res->status) || WEXITSTATUS(res->status) != 0) {
		ky_error_set(&failed, ECHILD, "the rebinding process died");
	}
	rb->done(rb->userdata, failed);
	free(rb);
}

int dra_rebind_start(struct dra_daemon *d, const struct ky_dra_record_device *rd, bool restore,
		     dra_rebind_done_fn done, void *userdata, struct dra_rebind **out, struct ky_error **err)
{
	struct dra_rebind *rb = calloc(1, sizeof(*rb));
	if (!rb)
		return ky_error_set(err, ENOMEM, "out of memory");
	*rb = (struct dra_rebind){ .done = done, .userdata = userdata };
	struct job job = { .rd = rd, .restore = restore };
	struct ky_child_spec cs = { .name = restore ? "VF driver restore" : "VF driver rebind", .run = run,
				    .run_data = &job, .max_output = REPORT_MAX, .timeout_ms = DRA_REBIND_TIMEOUT_MS };
	int r = ky_child_start(d->loop, &cs, child_done, rb, &rb->child, err);
	if (r < 0) {
		free(rb);
		return r;
	}
	ky_info("vf-driver-rebinding", "device=%s pci=%s driver=%s pid=%d", rd->device, rd->pci,
		restore ? (rd->vf->prev_driver && *rd->vf->prev_driver ? rd->vf->prev_driver : "(override only)")
			: ky_dra_vf_driver_name(rd->vf->driver),
		(int)ky_child_pid(rb->child));
	*out = rb;
	return 0;
}

void dra_rebind_free(struct dra_rebind *rb)
{
	if (!rb)
		return;
	/* Left to finish: a rebind stopped between unbind and bind leaves the
	 * VF on no driver. */
	ky_child_free(rb->child);
	free(rb);
}

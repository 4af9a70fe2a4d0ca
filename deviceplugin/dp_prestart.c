/* PreStartContainer, off the event loop: programming an FPGA (hashing a
 * large image, running the loader) takes seconds, and the loop serves every
 * other socket, stream and udev event meanwhile. The call is served as a
 * stream that sends its one answer later (on the wire the same as a unary
 * answer); a forked child does the work and reports one line per device on
 * a pipe the loop watches. */
#include "dp_daemon.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "api.pb-c.h"
#include "kyborg/base/error.h"
#include "kyborg/base/fileio.h"
#include "kyborg/base/list.h"
#include "kyborg/base/log.h"
#include "kyborg/base/strv.h"
#include "kyborg/loop/child.h"

/* What one PreStartContainer's child may report. */
#define DP_JOB_REPORT_MAX 65536

struct dp_job {
	struct dp_daemon *d;
	struct ky_grpc_stream *stream; /* NULL once kubelet is gone */
	struct ky_child *child;        /* NULL once it has ended */
	char *resource;
	char *bitstream;
	char **ids; /* the devices it programs, NULL-terminated */
	struct dp_job *prev, *next;
};

/* Unlinks and frees the job; its child is no longer ours to watch. */
static void job_free(struct dp_job *j)
{
	KY_LIST_REMOVE(j->d->jobs, j);
	ky_child_free(j->child);
	free(j->resource);
	free(j->bitstream);
	ky_strv_free(j->ids);
	free(j);
}

/* A job of this resource already programs that device. */
static bool busy(const struct dp_daemon *d, const char *resource, const char *id)
{
	for (const struct dp_job *j = d->jobs; j; j = j->next)
		for (size_t i = 0; strcmp(j->resource, resource) == 0 && j->ids && j->ids[i]; i++)
			if (strcmp(j->ids[i], id) == 0)
				return true;
	return false;
}

void dp_prestart_release(struct dp_daemon *d)
{
	/* A child still programming is left to finish: stopping a partial
	 * reconfiguration halfway would leave the region unusable. */
	while (d->jobs)
		job_free(d->jobs);
}

static void answer_ok(struct ky_grpc_stream *s)
{
	V1beta1__PreStartContainerResponse o = V1BETA1__PRE_START_CONTAINER_RESPONSE__INIT;
	uint8_t buf[16];
	size_t len = v1beta1__pre_start_container_response__pack(&o, buf);
	_cleanup_error_ struct ky_error *err = NULL;
	if (ky_grpc_stream_send(s, buf, len, &err) < 0) {
		ky_error_set_status(&err, KY_GRPC_INTERNAL);
		ky_grpc_stream_fail(s, err);
		return;
	}
	ky_grpc_stream_finish(s, KY_GRPC_OK, NULL);
}

/* The child's report: "P <id>" programmed, "S <id>" already held the
 * image, "E <errno> <id> <message>" failed (and the last line). */
static void job_done(void *userdata, struct ky_child *child, const struct ky_child_result *res)
{
	struct dp_job *j = userdata;
	_cleanup_error_ struct ky_error *failed = NULL;
	(void)child;
	j->child = NULL; /* freed by the loop when this returns */
	char *save = NULL;
	for (char *line = strtok_r(res->output, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *id = line + 2;
		if (line[0] == 'P' || line[0] == 'S') {
			ky_info(line[0] == 'P' ? "fpga-programmed" : "fpga-already-programmed", "resource=%s device=%s id=%s",
				j->resource, id, j->bitstream);
			_cleanup_error_ struct ky_error *err = NULL;
			if (dp_checkpoint_programmed(j->d, j->resource, id, j->bitstream, &err) < 0)
				ky_log_err(KY_LOG_WARN, "checkpoint-write", err, "resource=%s", j->resource);
		} else if (line[0] == 'E') {
			char *end;
			long e = strtol(line + 2, &end, 10);
			char *dev = end + 1, *text = strchr(dev, ' ');
			if (text)
				*text++ = '\0';
			ky_error_set(&failed, (int)e, "%s", text ? text : "programming failed");
			/* A digest that does not match is the image's fault, not ours. */
			ky_error_set_status(&failed, e == EBADMSG ? KY_GRPC_FAILED_PRECONDITION : KY_GRPC_INTERNAL);
			ky_log_err(KY_LOG_ERROR, "fpga-program-failed", failed, "resource=%s device=%s", j->resource, dev);
		}
	}
	if (!failed && !(WIFEXITED(res->status) && WEXITSTATUS(res->status) == 0)) {
		ky_error_set(&failed, ECHILD, "the programming process died");
		ky_error_set_status(&failed, KY_GRPC_INTERNAL);
		ky_err("fpga-program-failed", "resource=%s status=%#x", j->resource, res->status);
	}
	if (!j->stream)
		ky_warn("prestart-unanswered", "resource=%s reason=\"kubelet gave up waiting\"", j->resource);
	else if (failed)
		ky_grpc_stream_fail(j->stream, failed);
	else
		answer_ok(j->stream);
	job_free(j);
}

struct program_args {
	struct dp_plugin *p;
	char *const *ids;
	size_t n;
};

/* In the child: program each device in turn, report, exit. */
static int program_devices(void *data, int fd)
{
	const struct program_args *a = data;
	for (size_t i = 0; i < a->n; i++) {
		const struct dp_device *dev = dp_devlist_find(a->p->devs, a->ids[i]);
		_cleanup_error_ struct ky_error *err = NULL;
		_cleanup_free_ char *line = NULL;
		bool programmed = false;
		int r = dp_fpga_prepare(a->p->d, a->p->res, dev, &programmed, &err);
		if (r < 0) {
			_cleanup_free_ char *m = strdup(ky_error_msg(err));
			for (char *c = m; c && *c; c++)
				if (*c == '\n')
					*c = ' ';
			if (asprintf(&line, "E %d %s %s\n", -r, a->ids[i], m ? m : "") > 0)
				(void)ky_write_all(fd, line, strlen(line));
			else
				line = NULL;
			return 0;
		}
		if (asprintf(&line, "%c %s\n", programmed ? 'P' : 'S', a->ids[i]) > 0)
			(void)ky_write_all(fd, line, strlen(line));
		else
			line = NULL;
	}
	return 0;
}

static void prestart_closed(void *userdata, struct ky_grpc_stream *s, int code)
{
	struct dp_plugin *p = userdata;
	for (struct dp_job *j = p->d->jobs; j; j = j->next) {
		if (j->stream == s) {
			j->stream = NULL;
			ky_warn("prestart-closed", "resource=%s code=%s", j->resource, ky_grpc_code_name(code));
		}
	}
}

/* Unknown or unhealthy devices are refused at once; so is a device a
 * running job still programs. */
static int check_devices(struct dp_plugin *p, const V1beta1__PreStartContainerRequest *r, struct ky_error **err)
{
	for (size_t i = 0; i < r->n_devices_ids; i++) {
		const struct dp_device *d = dp_devlist_find(p->devs, r->devices_ids[i]);
		if (!d)
			return ky_error_set(err, EINVAL, "unknown device %s", r->devices_ids[i]);
		if (!d->healthy)
			return ky_error_set(err, EINVAL, "device %s is unhealthy", r->devices_ids[i]);
	}
	if (!dp_resource_pre_start_required(p->res))
		return 0;
	/* Kubelet retries a container start whose PreStart passed its 30 s
	 * while the first load still runs: never two loads on one port. */
	for (size_t i = 0; i < r->n_devices_ids; i++)
		if (busy(p->d, p->res->name, r->devices_ids[i]))
			return ky_error_set(err, EBUSY, "device %s is still being programmed; retry", r->devices_ids[i]);
	return 0;
}

/* Copies what the job needs after the request is gone; the job is
 * linked in the daemon's list at once. */
static int job_new(struct dp_plugin *p, const V1beta1__PreStartContainerRequest *r, struct dp_job **out,
		   struct ky_error **err)
{
	struct dp_job *j = calloc(1, sizeof(*j));
	if (!j)
		return ky_error_set(err, ENOMEM, "cannot start programming: out of memory");
	j->d = p->d;
	KY_LIST_PREPEND(p->d->jobs, j);
	bool ok = (j->resource = strdup(p->res->name)) && (j->bitstream = strdup(p->res->bitstream.id)) &&
		  (j->ids = calloc(r->n_devices_ids + 1, sizeof(*j->ids)));
	for (size_t i = 0; ok && i < r->n_devices_ids; i++)
		ok = (j->ids[i] = strdup(r->devices_ids[i])) != NULL;
	if (!ok) {
		job_free(j);
		return ky_error_set(err, ENOMEM, "cannot start programming: out of memory");
	}
	*out = j;
	return 0;
}

static int prestart(void *userdata, struct ky_grpc_stream *s, const uint8_t *req, size_t req_len,
		    struct ky_error **err)
{
	struct dp_plugin *p = userdata;
	V1beta1__PreStartContainerRequest *r = v1beta1__pre_start_container_request__unpack(NULL, req_len, req);
	struct dp_job *j = NULL;
	if (!r)
		return ky_error_set(err, EINVAL, "cannot decode PreStartContainerRequest");
	int k = check_devices(p, r, err);
	if (k == 0 && dp_resource_pre_start_required(p->res))
		k = job_new(p, r, &j, err);
	v1beta1__pre_start_container_request__free_unpacked(r, NULL);
	if (k < 0)
		return k;
	if (!j) {
		answer_ok(s);
		return 0;
	}
	struct program_args args = { p, j->ids, 0 };
	while (j->ids[args.n])
		args.n++;
	struct ky_child_spec spec = { .name = "FPGA programming", .run = program_devices, .run_data = &args,
				      .max_output = DP_JOB_REPORT_MAX };
	if ((k = ky_child_start(p->d->loop, &spec, job_done, j, &j->child, err)) < 0) {
		ky_log_err(KY_LOG_ERROR, "prestart-start-failed", *err, "resource=%s", p->res->name);
		job_free(j);
		ky_error_prefix(err, "cannot start programming");
		return ky_error_set_status(err, KY_GRPC_INTERNAL);
	}
	j->stream = s;
	ky_info("prestart", "resource=%s pid=%d", p->res->name, (int)ky_child_pid(j->child));
	return 0;
}

void dp_prestart_method(struct dp_plugin *p, struct ky_grpc_method *m)
{
	*m = (struct ky_grpc_method){ .path = "/v1beta1.DevicePlugin/PreStartContainer", .stream = prestart,
				      .closed = prestart_closed, .userdata = p };
}

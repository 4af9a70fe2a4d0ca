/* PreStartContainer, off the event loop: programming an FPGA (hashing a
 * large image, running the loader) takes seconds, and the loop serves every
 * other socket, stream and udev event meanwhile. The call is served as a
 * stream that sends its one answer later (on the wire the same as a unary
 * answer); the device layer's child does the work (kyborg/device/device_fpga.h)
 * and the answer goes out when it ends. */
#include "dp_daemon.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.pb-c.h"
#include "kyborg/base/error.h"
#include "kyborg/base/list.h"
#include "kyborg/base/log.h"
#include "kyborg/base/strv.h"

struct dp_job {
	struct dp_daemon *d;
	struct ky_grpc_stream *stream;   /* NULL once kubelet is gone */
	struct ky_device_program *prog; /* NULL once it has ended */
	char *resource;
	char *bitstream;
	char **ids; /* the devices it programs, NULL-terminated */
	struct dp_job *prev, *next;
};

/* Unlinks and frees the job; its child is no longer ours to watch. */
static void job_free(struct dp_job *j)
{
	KY_LIST_REMOVE(j->d->jobs, j);
	ky_device_program_free(j->prog);
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

/* The programming child has ended: what it did per device, and the first
 * failure. */
static void job_done(void *userdata, struct ky_device_program *prog, const struct ky_device_program_result *res,
		     size_t n, const struct ky_error *failed)
{
	struct dp_job *j = userdata;
	_cleanup_error_ struct ky_error *answer = NULL;
	(void)prog;
	j->prog = NULL; /* freed when this returns */
	for (size_t i = 0; i < n; i++) {
		if (!res[i].reported)
			continue;
		if (res[i].error) {
			ky_error_set(&answer, -res[i].error, "%s", res[i].message ? res[i].message : "programming failed");
			/* A digest that does not match is the image's fault, not ours. */
			ky_error_set_status(&answer, res[i].error == -EBADMSG ? KY_GRPC_FAILED_PRECONDITION
									 : KY_GRPC_INTERNAL);
			ky_log_err(KY_LOG_ERROR, "fpga-program-failed", answer, "resource=%s device=%s", j->resource,
				   res[i].id);
			continue;
		}
		ky_info(res[i].programmed ? "fpga-programmed" : "fpga-already-programmed", "resource=%s device=%s id=%s",
			j->resource, res[i].id, j->bitstream);
		_cleanup_error_ struct ky_error *err = NULL;
		if (dp_checkpoint_programmed(j->d, j->resource, res[i].id, j->bitstream, &err) < 0)
			ky_log_err(KY_LOG_WARN, "checkpoint-write", err, "resource=%s", j->resource);
	}
	if (failed && !answer) {
		ky_error_set(&answer, ky_error_code(failed), "%s", ky_error_msg(failed));
		ky_error_set_status(&answer, KY_GRPC_INTERNAL);
		ky_log_err(KY_LOG_ERROR, "fpga-program-failed", answer, "resource=%s", j->resource);
	}
	if (!j->stream)
		ky_warn("prestart-unanswered", "resource=%s reason=\"kubelet gave up waiting\"", j->resource);
	else if (answer)
		ky_grpc_stream_fail(j->stream, answer);
	else
		answer_ok(j->stream);
	job_free(j);
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
		const struct ky_device *d = ky_devlist_find(p->devs, r->devices_ids[i]);
		if (!d)
			return ky_error_set(err, EINVAL, "unknown device %s", r->devices_ids[i]);
		if (!d->healthy)
			return ky_error_set(err, EINVAL, "device %s is unhealthy", r->devices_ids[i]);
	}
	if (!ky_device_resource_programs(p->res))
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
	if (k == 0 && ky_device_resource_programs(p->res))
		k = job_new(p, r, &j, err);
	v1beta1__pre_start_container_request__free_unpacked(r, NULL);
	if (k < 0)
		return k;
	if (!j) {
		answer_ok(s);
		return 0;
	}
	size_t r_n = 0;
	while (j->ids[r_n])
		r_n++;
	_cleanup_free_ const struct ky_device **devs = calloc(r_n + 1, sizeof(*devs));
	for (size_t i = 0; devs && i < r_n; i++)
		devs[i] = ky_devlist_find(p->devs, j->ids[i]);
	if (!devs || (k = ky_device_program_start(p->d->loop, p->res, devs, r_n, &p->d->images, job_done, j, &j->prog,
						     err)) < 0) {
		if (!devs)
			ky_error_set(err, ENOMEM, "cannot start programming: out of memory");
		ky_log_err(KY_LOG_ERROR, "prestart-start-failed", *err, "resource=%s", p->res->name);
		job_free(j);
		return ky_error_set_status(err, KY_GRPC_INTERNAL);
	}
	j->stream = s;
	ky_info("prestart", "resource=%s pid=%d", p->res->name, (int)ky_device_program_pid(j->prog));
	return 0;
}

void dp_prestart_method(struct dp_plugin *p, struct ky_grpc_method *m)
{
	*m = (struct ky_grpc_method){ .path = "/v1beta1.DevicePlugin/PreStartContainer", .stream = prestart,
				      .closed = prestart_closed, .userdata = p };
}

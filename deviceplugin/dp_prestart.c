/* PreStartContainer, off the event loop: programming an FPGA (hashing a
 * large image, running the loader) takes seconds, and the loop serves every
 * other socket, stream and udev event meanwhile. The call is served as a
 * stream that sends its one answer later (on the wire the same as a unary
 * answer); a forked child does the work and reports one line per device on
 * a pipe the loop watches. */
#include "dp_daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api.pb-c.h"
#include "kyborg/base/fileio.h"
#include "kyborg/base/error.h"
#include "kyborg/base/log.h"

#define DP_JOB_REPORT_MAX 65536

struct dp_job {
	struct dp_daemon *d;
	struct ky_grpc_stream *stream; /* NULL once kubelet is gone */
	pid_t pid;
	int fd;
	struct ky_loop_io *io;
	char *resource;
	char *bitstream;
	char **ids; /* the devices it programs, NULL-terminated */
	char *report;
	size_t len;
	struct dp_job *next;
};

static void job_free(struct dp_job *j)
{
	struct dp_job **pp = &j->d->jobs;
	while (*pp && *pp != j)
		pp = &(*pp)->next;
	if (*pp)
		*pp = j->next;
	ky_loop_io_free(j->io);
	if (j->fd >= 0)
		close(j->fd);
	free(j->resource);
	free(j->bitstream);
	for (size_t i = 0; j->ids && j->ids[i]; i++)
		free(j->ids[i]);
	free(j->ids);
	free(j->report);
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

void dp_jobs_release(struct dp_daemon *d)
{
	/* A child still programming is left to finish: stopping a partial
	 * reconfiguration halfway would leave the region unusable. */
	while (d->jobs)
		job_free(d->jobs);
}

static int answer_ok(struct ky_grpc_stream *s)
{
	V1beta1__PreStartContainerResponse o = V1BETA1__PRE_START_CONTAINER_RESPONSE__INIT;
	uint8_t buf[16];
	size_t len = v1beta1__pre_start_container_response__pack(&o, buf);
	_cleanup_error_ struct ky_error *err = NULL;
	if (ky_grpc_stream_send(s, buf, len, &err) < 0) {
		ky_grpc_stream_finish(s, KY_GRPC_INTERNAL, ky_error_msg(err));
		return -EIO;
	}
	ky_grpc_stream_finish(s, KY_GRPC_OK, NULL);
	return 0;
}

/* The child's report: "P <id>" programmed, "S <id>" already held the
 * image, "E <errno> <id> <message>" failed (and the last line). */
static void job_done(struct dp_job *j)
{
	int code = KY_GRPC_OK;
	_cleanup_free_ char *msg = NULL;
	int status = 0;
	while (waitpid(j->pid, &status, 0) < 0 && errno == EINTR)
		;
	char *save = NULL;
	for (char *line = strtok_r(j->report, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
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
			code = e == EBADMSG ? KY_GRPC_FAILED_PRECONDITION : KY_GRPC_INTERNAL;
			_cleanup_error_ struct ky_error *err = NULL;
			ky_error_set(&err, (int)e, "%s", text ? text : "");
			ky_log_err(KY_LOG_ERROR, "fpga-program-failed", err, "resource=%s device=%s", j->resource, dev);
			free(msg);
			msg = strdup(text ? text : "programming failed");
		}
	}
	if (code == KY_GRPC_OK && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
		code = KY_GRPC_INTERNAL;
		msg = strdup("the programming process died");
		ky_err("fpga-program-failed", "resource=%s status=%#x", j->resource, status);
	}
	if (!j->stream)
		ky_warn("prestart-unanswered", "resource=%s reason=\"kubelet gave up waiting\"", j->resource);
	else if (code == KY_GRPC_OK)
		answer_ok(j->stream);
	else
		ky_grpc_stream_finish(j->stream, code, msg);
	job_free(j);
}

static void on_report(struct ky_loop_io *io, int fd, uint32_t events, void *userdata)
{
	struct dp_job *j = userdata;
	(void)io;
	(void)events;
	char buf[4096];
	ssize_t n = read(fd, buf, sizeof(buf));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n > 0 && j->len + (size_t)n < DP_JOB_REPORT_MAX) {
		char *nr = realloc(j->report, j->len + (size_t)n + 1);
		if (nr) {
			memcpy(nr + j->len, buf, (size_t)n);
			j->len += (size_t)n;
			nr[j->len] = '\0';
			j->report = nr;
		}
		return;
	}
	if (n > 0)
		return; /* past the limit: dropped, the end still comes */
	if (!j->report)
		j->report = strdup("");
	job_done(j);
}

/* In the child: program each device in turn, report, exit. */
static __attribute__((noreturn)) void run_child(struct dp_plugin *p, char *const *ids, size_t n, int fd)
{
	/* None of the daemon's sockets stays open here: a stream the daemon
	 * closes must end for kubelet then, not when this child does. */
	fd = dp_child_close_fds(fd);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_IGN);
	for (size_t i = 0; i < n; i++) {
		const struct dp_device *dev = dp_devlist_find(p->devs, ids[i]);
		_cleanup_error_ struct ky_error *err = NULL;
		bool programmed = false;
		char *line = NULL;
		int r = dp_fpga_prepare(p->d, p->res, dev, &programmed, &err);
		if (r < 0) {
			char *m = strdup(ky_error_msg(err));
			for (char *c = m; c && *c; c++)
				if (*c == '\n')
					*c = ' ';
			if (asprintf(&line, "E %d %s %s\n", -r, ids[i], m ? m : "") > 0)
				(void)ky_write_all(fd, line, strlen(line));
			_exit(0);
		}
		if (asprintf(&line, "%c %s\n", programmed ? 'P' : 'S', ids[i]) > 0)
			(void)ky_write_all(fd, line, strlen(line));
		free(line);
	}
	_exit(0);
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

static int prestart(void *userdata, struct ky_grpc_stream *s, const uint8_t *req, size_t req_len)
{
	struct dp_plugin *p = userdata;
	V1beta1__PreStartContainerRequest *r = v1beta1__pre_start_container_request__unpack(NULL, req_len, req);
	_cleanup_free_ char *msg = NULL;
	if (!r) {
		ky_grpc_stream_finish(s, KY_GRPC_INVALID_ARGUMENT, "cannot decode PreStartContainerRequest");
		return KY_GRPC_OK;
	}
	for (size_t i = 0; i < r->n_devices_ids && !msg; i++) {
		const struct dp_device *d = dp_devlist_find(p->devs, r->devices_ids[i]);
		if ((!d && asprintf(&msg, "unknown device %s", r->devices_ids[i]) < 0) ||
		    (d && !d->healthy && asprintf(&msg, "device %s is unhealthy", r->devices_ids[i]) < 0))
			msg = strdup("out of memory");
	}
	if (msg || !dp_pre_start_required(p->res)) {
		v1beta1__pre_start_container_request__free_unpacked(r, NULL);
		if (msg)
			ky_grpc_stream_finish(s, KY_GRPC_INVALID_ARGUMENT, msg);
		else
			answer_ok(s);
		return KY_GRPC_OK;
	}
	/* Kubelet retries a container start whose PreStart passed its 30 s
	 * while the first load still runs: never two loads on one port. */
	for (size_t i = 0; i < r->n_devices_ids && !msg; i++)
		if (busy(p->d, p->res->name, r->devices_ids[i]) &&
		    asprintf(&msg, "device %s is still being programmed; retry", r->devices_ids[i]) < 0)
			msg = strdup("device busy");
	if (msg) {
		v1beta1__pre_start_container_request__free_unpacked(r, NULL);
		ky_grpc_stream_finish(s, KY_GRPC_UNAVAILABLE, msg);
		return KY_GRPC_OK;
	}

	struct dp_job *j = calloc(1, sizeof(*j));
	int fds[2] = { -1, -1 };
	_cleanup_error_ struct ky_error *err = NULL;
	bool ok = j && (j->resource = strdup(p->res->name)) && (j->bitstream = strdup(p->res->bitstream.id)) &&
		  (j->ids = calloc(r->n_devices_ids + 1, sizeof(*j->ids)));
	for (size_t i = 0; ok && i < r->n_devices_ids; i++)
		ok = (j->ids[i] = strdup(r->devices_ids[i])) != NULL;
	if (!ok || pipe2(fds, O_CLOEXEC) < 0) {
		if (j) {
			j->d = p->d;
			j->fd = -1;
			job_free(j); /* not linked yet: only freed */
		}
		v1beta1__pre_start_container_request__free_unpacked(r, NULL);
		ky_grpc_stream_finish(s, KY_GRPC_RESOURCE_EXHAUSTED, "cannot start programming");
		return KY_GRPC_OK;
	}
	j->d = p->d;
	j->stream = s;
	j->fd = fds[0];
	j->pid = fork();
	if (j->pid == 0) {
		close(fds[0]);
		run_child(p, r->devices_ids, r->n_devices_ids, fds[1]);
	}
	close(fds[1]);
	v1beta1__pre_start_container_request__free_unpacked(r, NULL);
	j->next = p->d->jobs;
	p->d->jobs = j;
	if (j->pid < 0 || ky_loop_io_add(p->d->loop, j->fd, KY_LOOP_READ, on_report, j, &j->io, &err) < 0) {
		if (j->pid < 0)
			ky_err("prestart-fork", "resource=%s errno=%d", p->res->name, errno);
		j->stream = NULL;
		job_free(j); /* a child that started runs on, unanswered */
		ky_grpc_stream_finish(s, KY_GRPC_INTERNAL, "cannot start programming");
		return KY_GRPC_OK;
	}
	ky_info("prestart", "resource=%s pid=%d", p->res->name, (int)j->pid);
	return KY_GRPC_OK;
}

void dp_prestart_method(struct dp_plugin *p, struct ky_grpc_method *m)
{
	*m = (struct ky_grpc_method){ .path = "/v1beta1.DevicePlugin/PreStartContainer", .stream = prestart,
				      .closed = prestart_closed, .userdata = p };
}

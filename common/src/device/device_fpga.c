/* FPGA programming for the front ends (kyborg/device/device_fpga.h):
 * bitstreams fetched into the image cache ahead of time, and ports
 * programmed in a child on the loop that reports one line per device on
 * its pipe: "P <id>" programmed, "S <id>" already held the image,
 * "E <errno> <id> <message>" failed (and the last line). */
#include "kyborg/device/device_fpga.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/base/fileio.h"
#include "kyborg/base/list.h"
#include "kyborg/base/log.h"
#include "kyborg/base/strv.h"
#include "kyborg/loop/child.h"
#include "kyborg/loop/loop.h"
#include "kyborg/pci/fpga.h"

extern char **environ;

/* What one programming child may report. */
#define PROGRAM_REPORT_MAX 65536

char *ky_device_image_cache_dir(const char *state_dir)
{
	char *s;
	return asprintf(&s, "%s/images", state_dir) < 0 ? NULL : s;
}

int ky_device_fpga_program_image(const struct ky_device_resource *res, const struct ky_image_spec *spec,
				 const struct ky_pci_dev *pci, const struct ky_device_images *img, bool *programmed,
				 struct ky_error **err)
{
	struct ky_fpga *f = NULL;
	*programmed = false;
	if (!spec && !res->has_bitstream)
		return 0;
	int r = ky_fpga_find(pci->syspath, pci->addr, &f, err);
	if (r < 0)
		return r;
	struct ky_fpga_loader l = { .program = res->program, .envp = environ, .timeout_ms = KY_DEVICE_LOADER_TIMEOUT_MS };
	r = ky_fpga_ensure(f, spec ? spec : &res->bitstream, img->cache_dir, img->fetch_helper, &l, programmed, err);
	ky_fpga_free(f);
	return r;
}

int ky_device_fpga_program(const struct ky_device_resource *res, const struct ky_pci_dev *pci,
			   const struct ky_device_images *img, bool *programmed, struct ky_error **err)
{
	return ky_device_fpga_program_image(res, NULL, pci, img, programmed, err);
}

/* ---- bitstreams ahead of time ---- */

/* A download can take minutes: it runs in a child on the loop, which reaps
 * it when it ends (in a container the daemon is PID 1: an orphan would be
 * its zombie too). One per digest: whoever needs the same image waits on
 * the download under way rather than starting another. */
struct ky_device_prefetch {
	struct ky_device_prefetch **list;
	struct ky_child *child;
	char sha256[KY_SHA256_HEX_LEN];
	uint64_t started_ms;
	struct ky_device_fetch_wait *waiters;
	struct ky_device_prefetch *prev, *next;
};

struct ky_device_fetch_wait {
	struct ky_device_prefetch *f;
	ky_device_fetch_done_fn done;
	void *userdata;
	struct ky_device_fetch_wait *prev, *next;
};

static void prefetch_free(struct ky_device_prefetch *f)
{
	while (f->waiters) {
		struct ky_device_fetch_wait *w = f->waiters;
		KY_LIST_REMOVE(f->waiters, w);
		free(w);
	}
	free(f);
}

void ky_device_prefetch_release(struct ky_device_prefetch **list)
{
	while (*list) {
		struct ky_device_prefetch *f = *list;
		KY_LIST_REMOVE(*list, f);
		ky_child_free(f->child); /* left to finish */
		prefetch_free(f);
	}
}

static void on_prefetch_end(void *userdata, struct ky_child *child, const struct ky_child_result *res)
{
	struct ky_device_prefetch *f = userdata;
	_cleanup_error_ struct ky_error *failed = NULL;
	(void)child;
	KY_LIST_REMOVE(*f->list, f);
	if (!WIFEXITED(res->status) || WEXITSTATUS(res->status) != 0) {
		char *nl = res->output ? strchr(res->output, '\n') : NULL;
		if (nl)
			*nl = '\0';
		ky_error_set(&failed, EIO, "%s",
			     res->output && *res->output ? res->output : "the download process died");
	}
	/* A waiter's callback may stop another's wait: take them one by one. */
	while (f->waiters) {
		struct ky_device_fetch_wait *w = f->waiters;
		KY_LIST_REMOVE(f->waiters, w);
		w->done(w->userdata, failed);
		free(w);
	}
	prefetch_free(f);
}

/* What a download child works on: valid in its copy of our memory. */
struct prefetch_job {
	const struct ky_image_spec *spec;
	const struct ky_device_images *img;
};

/* In the child: fetch into the cache, log how it went, say why it failed. */
static int prefetch(void *data, int fd)
{
	const struct prefetch_job *job = data;
	const struct ky_image_spec *spec = job->spec;
	const struct ky_device_images *img = job->img;
	_cleanup_error_ struct ky_error *err = NULL;
	_cleanup_free_ char *path = NULL;
	if (ky_image_resolve(spec, img->cache_dir, img->fetch_helper, &path, &err) < 0) {
		ky_log_err(KY_LOG_WARN, "bitstream-prefetch-failed", err, "id=%s url=%s", spec->id, spec->url);
		_cleanup_free_ char *m = strdup(ky_error_msg(err));
		for (char *c = m; c && *c; c++)
			if (*c == '\n')
				*c = ' ';
		if (m)
			(void)ky_write_all(fd, m, strlen(m));
		return 1;
	}
	ky_info("bitstream-cached", "id=%s path=%s", spec->id, path);
	return 0;
}

bool ky_device_image_cached(const struct ky_image_spec *spec, const struct ky_device_images *img)
{
	if (!spec->url)
		return true;
	_cleanup_free_ char *path = ky_image_cache_path(img->cache_dir, spec->sha256);
	return path && access(path, F_OK) == 0;
}

static struct ky_device_prefetch *prefetch_find(struct ky_device_prefetch *list, const char *sha256)
{
	for (; list; list = list->next)
		if (strcmp(list->sha256, sha256) == 0)
			return list;
	return NULL;
}

static int prefetch_start(struct ky_loop *loop, struct ky_device_prefetch **list, const struct ky_image_spec *spec,
			  const struct ky_device_images *img, struct ky_device_prefetch **out, struct ky_error **err)
{
	struct ky_device_prefetch *f = prefetch_find(*list, spec->sha256);
	if (f) {
		*out = f;
		return 0;
	}
	if (!(f = calloc(1, sizeof(*f))))
		return ky_error_set(err, ENOMEM, "out of memory");
	struct prefetch_job job = { spec, img };
	struct ky_child_spec cs = { .name = "bitstream prefetch", .run = prefetch, .run_data = &job };
	f->list = list;
	memcpy(f->sha256, spec->sha256, sizeof(f->sha256));
	f->started_ms = ky_loop_now_ms();
	int r = ky_child_start(loop, &cs, on_prefetch_end, f, &f->child, err);
	if (r < 0) {
		free(f);
		return ky_error_prefix(err, "fetch bitstream %s", spec->id);
	}
	KY_LIST_PREPEND(*list, f);
	ky_info("bitstream-fetching", "id=%s url=%s pid=%d", spec->id, spec->url, (int)ky_child_pid(f->child));
	*out = f;
	return 0;
}

void ky_device_prefetch_start(struct ky_loop *loop, struct ky_device_prefetch **list,
			      const struct ky_device_resource *res, const struct ky_device_images *img)
{
	if (!res->has_bitstream || !res->bitstream.url)
		return;
	_cleanup_error_ struct ky_error *err = NULL;
	struct ky_device_prefetch *f;
	if (prefetch_start(loop, list, &res->bitstream, img, &f, &err) < 0)
		ky_log_err(KY_LOG_WARN, "bitstream-prefetch-failed", err, "resource=%s", res->name);
}

int ky_device_fetch(struct ky_loop *loop, struct ky_device_prefetch **list, const struct ky_image_spec *spec,
		    const struct ky_device_images *img, ky_device_fetch_done_fn done, void *userdata,
		    struct ky_device_fetch_wait **out, struct ky_error **err)
{
	struct ky_device_fetch_wait *w = calloc(1, sizeof(*w));
	struct ky_device_prefetch *f;
	if (!w)
		return ky_error_set(err, ENOMEM, "out of memory");
	if (!spec->url) {
		free(w);
		return ky_error_set(err, EINVAL, "bitstream %s: a path has nothing to fetch", spec->id);
	}
	int r = prefetch_start(loop, list, spec, img, &f, err);
	if (r < 0) {
		free(w);
		return r;
	}
	*w = (struct ky_device_fetch_wait){ .f = f, .done = done, .userdata = userdata };
	KY_LIST_PREPEND(f->waiters, w);
	*out = w;
	return 0;
}

void ky_device_fetch_wait_cancel(struct ky_device_fetch_wait *w)
{
	if (!w)
		return;
	KY_LIST_REMOVE(w->f->waiters, w);
	free(w);
}

uint64_t ky_device_fetch_wait_age_ms(const struct ky_device_fetch_wait *w)
{
	return ky_loop_now_ms() - w->f->started_ms;
}

/* ---- programming in a child ---- */

struct ky_device_program {
	struct ky_child *child;
	ky_device_program_done_fn done;
	void *userdata;
	/* What the child works on: valid in its copy of our memory. */
	const struct ky_device_resource *res;
	const struct ky_image_spec *spec; /* NULL: res's bitstream */
	const struct ky_device *const *devs;
	const struct ky_device_images *img;
	size_t n;
	struct ky_device_program_result *results;
	char **ids; /* the results' IDs, owned */
};

static void program_free(struct ky_device_program *job)
{
	ky_strv_free(job->ids);
	free(job->results);
	free(job);
}

void ky_device_program_free(struct ky_device_program *job)
{
	if (!job)
		return;
	ky_child_free(job->child); /* left to finish */
	program_free(job);
}

pid_t ky_device_program_pid(const struct ky_device_program *job)
{
	return ky_child_pid(job->child);
}

static void report(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report(int fd, const char *fmt, ...)
{
	_cleanup_free_ char *line = NULL;
	va_list ap;
	va_start(ap, fmt);
	int len = vasprintf(&line, fmt, ap);
	va_end(ap);
	if (len > 0)
		(void)ky_write_all(fd, line, (size_t)len);
	else
		line = NULL;
}

/* In the child: program each device in turn, report, exit. */
static int program_devices(void *data, int fd)
{
	const struct ky_device_program *job = data;
	for (size_t i = 0; i < job->n; i++) {
		_cleanup_error_ struct ky_error *err = NULL;
		bool programmed = false;
		int r = ky_device_fpga_program_image(job->res, job->spec, job->devs[i]->pci, job->img, &programmed, &err);
		if (r < 0) {
			_cleanup_free_ char *m = strdup(ky_error_msg(err));
			for (char *c = m; c && *c; c++)
				if (*c == '\n')
					*c = ' ';
			report(fd, "E %d %s %s\n", -r, job->devs[i]->id, m ? m : "");
			return 0;
		}
		report(fd, "%c %s\n", programmed ? 'P' : 'S', job->devs[i]->id);
	}
	return 0;
}

static struct ky_device_program_result *result_of(struct ky_device_program *job, const char *id)
{
	for (size_t i = 0; i < job->n; i++)
		if (strcmp(job->ids[i], id) == 0)
			return &job->results[i];
	return NULL;
}

static void program_done(void *userdata, struct ky_child *child, const struct ky_child_result *res)
{
	struct ky_device_program *job = userdata;
	_cleanup_error_ struct ky_error *failed = NULL;
	(void)child;
	job->child = NULL; /* freed by the loop when this returns */
	char *save = NULL;
	for (char *line = strtok_r(res->output, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if ((line[0] == 'P' || line[0] == 'S') && line[1] == ' ') {
			struct ky_device_program_result *r = result_of(job, line + 2);
			if (r) {
				r->reported = true;
				r->programmed = line[0] == 'P';
			}
		} else if (line[0] == 'E' && line[1] == ' ') {
			char *end;
			long e = strtol(line + 2, &end, 10);
			char *id = *end ? end + 1 : end, *text = strchr(id, ' ');
			if (text)
				*text++ = '\0';
			struct ky_device_program_result *r = result_of(job, id);
			ky_error_set(&failed, e > 0 ? (int)e : EIO, "%s", text ? text : "programming failed");
			if (r) {
				r->reported = true;
				r->error = -ky_error_code(failed);
				r->message = ky_error_msg(failed);
			}
		}
	}
	if (!failed && !(WIFEXITED(res->status) && WEXITSTATUS(res->status) == 0))
		ky_error_set(&failed, ECHILD, "the programming process died");
	job->done(job->userdata, job, job->results, job->n, failed);
	program_free(job);
}

int ky_device_program_start(struct ky_loop *loop, const struct ky_device_resource *res,
			    const struct ky_device *const *devs, size_t n, const struct ky_device_images *img,
			    ky_device_program_done_fn done, void *userdata, struct ky_device_program **out,
			    struct ky_error **err)
{
	return ky_device_program_image_start(loop, res, NULL, devs, n, img, done, userdata, out, err);
}

int ky_device_program_image_start(struct ky_loop *loop, const struct ky_device_resource *res,
				  const struct ky_image_spec *spec, const struct ky_device *const *devs, size_t n,
				  const struct ky_device_images *img, ky_device_program_done_fn done, void *userdata,
				  struct ky_device_program **out, struct ky_error **err)
{
	struct ky_device_program *job = calloc(1, sizeof(*job));
	if (!job || !(job->results = calloc(n + 1, sizeof(*job->results))) ||
	    !(job->ids = calloc(n + 1, sizeof(*job->ids)))) {
		if (job)
			program_free(job);
		return ky_error_set(err, ENOMEM, "cannot start programming: out of memory");
	}
	*job = (struct ky_device_program){ .done = done, .userdata = userdata, .res = res, .spec = spec, .devs = devs, .img = img,
					   .n = n, .results = job->results, .ids = job->ids };
	for (size_t i = 0; i < n; i++) {
		if (!(job->ids[i] = strdup(devs[i]->id))) {
			program_free(job);
			return ky_error_set(err, ENOMEM, "cannot start programming: out of memory");
		}
		job->results[i].id = job->ids[i];
	}
	struct ky_child_spec cs = { .name = "FPGA programming", .run = program_devices, .run_data = job,
				    .max_output = PROGRAM_REPORT_MAX };
	int r = ky_child_start(loop, &cs, program_done, job, &job->child, err);
	if (r < 0) {
		program_free(job);
		return ky_error_prefix(err, "cannot start programming");
	}
	/* The child has its copy of what it works on; ours must not be used
	 * once this returns (the caller's arrays may go). */
	job->res = NULL;
	job->spec = NULL;
	job->devs = NULL;
	job->img = NULL;
	*out = job;
	return 0;
}

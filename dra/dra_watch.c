/* The sockets stay where kubelet looks: an inotify watch on the
 * registration dir and the plugin dir; when our socket is removed (a
 * kubelet restart that cleans up, an admin), it is served again (its
 * directory made again if it went too), and the new registration socket
 * makes kubelet register us anew. */
#include "dra_daemon.h"

#include <errno.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "kyborg/base/error.h"
#include "kyborg/base/fileio.h"
#include "kyborg/base/log.h"

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

#define WATCH_MASK (IN_DELETE | IN_MOVED_FROM | IN_DELETE_SELF | IN_MOVE_SELF)

/* A directory removed whole is made again and watched again (adding a
 * watch that exists changes nothing). */
static void ensure_dir(struct dra_daemon *d, const char *dir)
{
	int r = ky_mkdir_p(dir, 0750);
	if (r < 0)
		ky_warn("mkdir-failed", "dir=%s error=\"%s\"", dir, strerror(-r));
	else if (inotify_add_watch(d->inotify_fd, dir, WATCH_MASK) < 0)
		ky_warn("watch-failed", "dir=%s error=\"%s\"", dir, strerror(errno));
}

static void on_reconcile(struct ky_loop_timer *t, void *userdata)
{
	struct dra_daemon *d = userdata;
	_cleanup_error_ struct ky_error *err = NULL;
	(void)t;
	ensure_dir(d, d->plugin_dir);
	ensure_dir(d, d->opts->registration_dir);
	/* The DRA socket first: kubelet dials it as soon as it reads GetInfo. */
	if (!dra_server_present(d)) {
		ky_info("socket-lost", "socket=%s", d->dra_path);
		if (dra_server_start(d, &err) < 0) {
			ky_log_err(KY_LOG_ERROR, "serve-failed", err, "socket=%s retry_ms=1000", d->dra_path);
			ky_loop_timer_arm(d->reconcile, 1000, 0);
			return;
		}
	}
	if (!dra_register_present(d)) {
		ky_info("socket-lost", "socket=%s", d->reg_path);
		if (dra_register_start(d, &err) < 0) {
			ky_log_err(KY_LOG_ERROR, "serve-failed", err, "socket=%s retry_ms=1000", d->reg_path);
			ky_loop_timer_arm(d->reconcile, 1000, 0);
		}
	}
}

static void on_inotify(struct ky_loop_io *io, int fd, uint32_t events, void *userdata)
{
	struct dra_daemon *d = userdata;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool interesting = false;
	(void)io;
	(void)events;
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			break;
		for (char *ptr = buf; ptr < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)ptr;
			ptr += sizeof(*ev) + ev->len;
			if (ev->mask & (IN_Q_OVERFLOW | IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF))
				interesting = true;
			else if (ev->len && (strcmp(ev->name, base_name(d->reg_path)) == 0 ||
					     strcmp(ev->name, base_name(d->dra_path)) == 0))
				interesting = true;
		}
	}
	if (interesting && !ky_loop_timer_armed(d->reconcile))
		ky_loop_timer_arm(d->reconcile, 0, 0);
}

int dra_watch_start(struct dra_daemon *d, struct ky_error **err)
{
	const uint32_t mask = WATCH_MASK;
	int r;
	d->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (d->inotify_fd < 0)
		return ky_error_set(err, errno, "inotify_init1: %s", strerror(errno));
	if (inotify_add_watch(d->inotify_fd, d->opts->registration_dir, mask) < 0)
		return ky_error_set(err, errno, "watch %s: %s", d->opts->registration_dir, strerror(errno));
	if (inotify_add_watch(d->inotify_fd, d->plugin_dir, mask) < 0)
		return ky_error_set(err, errno, "watch %s: %s", d->plugin_dir, strerror(errno));
	if ((r = ky_loop_timer_new(d->loop, on_reconcile, d, &d->reconcile, err)) < 0)
		return r;
	return ky_loop_io_add(d->loop, d->inotify_fd, KY_LOOP_READ, on_inotify, d, &d->inotify_io, err);
}

void dra_watch_stop(struct dra_daemon *d)
{
	ky_loop_io_free(d->inotify_io);
	d->inotify_io = NULL;
	ky_loop_timer_free(d->reconcile);
	d->reconcile = NULL;
	if (d->inotify_fd >= 0)
		close(d->inotify_fd);
	d->inotify_fd = -1;
}

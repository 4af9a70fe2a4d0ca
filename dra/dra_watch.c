/* The sockets stay where kubelet looks: the core's directory watch on the
 * registration dir and the plugin dir; when our socket is removed (a
 * kubelet restart that cleans up, an admin), it is served again (its
 * directory made again if it went too), and the new registration socket
 * makes kubelet register us anew. */
#include "dra_daemon.h"

#include <string.h>
#include <sys/inotify.h>

#include "kyborg/base/error.h"
#include "kyborg/base/fileio.h"
#include "kyborg/base/log.h"

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

/* A directory removed whole is made again and watched again (adding a
 * watch that exists changes nothing). */
static void ensure_dir(struct dra_daemon *d, const char *dir)
{
	_cleanup_error_ struct ky_error *err = NULL;
	int r = ky_mkdir_p(dir, 0750);
	if (r < 0)
		ky_warn("mkdir-failed", "dir=%s error=\"%s\"", dir, strerror(-r));
	else if (ky_dir_watch_add(d->dir_watch, dir, &err) < 0)
		ky_log_err(KY_LOG_WARN, "watch-failed", err, "dir=%s", dir);
}

static void on_reconcile(struct ky_dir_watch *w, void *userdata)
{
	struct dra_daemon *d = userdata;
	_cleanup_error_ struct ky_error *err = NULL;
	ensure_dir(d, d->plugin_dir);
	ensure_dir(d, d->opts->registration_dir);
	/* The DRA socket first: kubelet dials it as soon as it reads GetInfo. */
	if (!dra_server_present(d)) {
		ky_info("socket-lost", "socket=%s", d->dra_path);
		if (dra_server_start(d, &err) < 0) {
			ky_log_err(KY_LOG_ERROR, "serve-failed", err, "socket=%s retry_ms=1000", d->dra_path);
			ky_dir_watch_retry(w, 1000);
			return;
		}
	}
	if (!dra_register_present(d)) {
		ky_info("socket-lost", "socket=%s", d->reg_path);
		if (dra_register_start(d, &err) < 0) {
			ky_log_err(KY_LOG_ERROR, "serve-failed", err, "socket=%s retry_ms=1000", d->reg_path);
			ky_dir_watch_retry(w, 1000);
		}
	}
}

/* A watched directory gone (or events lost), or one of our sockets. */
static bool on_event(const char *name, uint32_t mask, void *userdata)
{
	const struct dra_daemon *d = userdata;
	if (mask & (IN_Q_OVERFLOW | IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF))
		return true;
	return name && (strcmp(name, base_name(d->reg_path)) == 0 || strcmp(name, base_name(d->dra_path)) == 0);
}

int dra_watch_start(struct dra_daemon *d, struct ky_error **err)
{
	int r;
	if ((r = ky_dir_watch_new(d->loop, IN_DELETE | IN_MOVED_FROM | IN_DELETE_SELF | IN_MOVE_SELF, on_event,
				  on_reconcile, d, &d->dir_watch, err)) < 0 ||
	    (r = ky_dir_watch_add(d->dir_watch, d->opts->registration_dir, err)) < 0 ||
	    (r = ky_dir_watch_add(d->dir_watch, d->plugin_dir, err)) < 0)
		return r;
	return 0;
}

void dra_watch_stop(struct dra_daemon *d)
{
	ky_dir_watch_free(d->dir_watch);
	d->dir_watch = NULL;
}

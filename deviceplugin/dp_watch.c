/* The kubelet-socket watch: an inotify watch on the plugin dir. Kubelet
 * deletes every socket there when it restarts and then creates kubelet.sock
 * again: after a burst of such events our lost sockets are served again and
 * every resource registers again where kubelet came back. */
#include "dp_daemon.h"

#include <errno.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "kyborg/base/error.h"
#include "kyborg/base/log.h"

/* After a burst of events: serve again where our socket is gone, and
 * register again where we did or where kubelet came back (but not twice
 * with one kubelet: dp_register_kubelet_changed). */
static void on_reconcile(struct ky_loop_timer *t, void *userdata)
{
	struct dp_daemon *d = userdata;
	bool kubelet_back = d->kubelet_sock_created;
	(void)t;
	d->kubelet_sock_created = false;
	for (size_t i = 0; i < d->n_plugins; i++) {
		struct dp_plugin *p = d->plugins[i];
		if (!p)
			continue;
		bool lost = !dp_server_socket_present(p);
		if (lost) {
			ky_info("socket-lost", "resource=%s socket=%s", p->res->name, p->socket_path);
			dp_server_stop(p);
		}
		if (lost || kubelet_back)
			dp_register_kubelet_changed(p);
	}
}

static void on_inotify(struct ky_loop_io *io, int fd, uint32_t events, void *userdata)
{
	struct dp_daemon *d = userdata;
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
			if (ev->mask & IN_Q_OVERFLOW) {
				d->kubelet_sock_created = true;
				interesting = true;
				continue;
			}
			if (!ev->len)
				continue;
			if (strcmp(ev->name, DP_KUBELET_SOCKET) == 0) {
				if (ev->mask & (IN_CREATE | IN_MOVED_TO)) {
					d->kubelet_sock_created = true;
					interesting = true;
				}
				continue;
			}
			if (ev->mask & (IN_DELETE | IN_MOVED_FROM)) {
				for (size_t i = 0; i < d->n_plugins; i++)
					if (d->plugins[i] && strcmp(ev->name, d->plugins[i]->endpoint) == 0)
						interesting = true;
			}
		}
	}
	if (interesting && !ky_loop_timer_armed(d->reconcile))
		ky_loop_timer_arm(d->reconcile, 0, 0);
}

int dp_watch_start(struct dp_daemon *d, struct ky_error **err)
{
	int r;
	d->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (d->inotify_fd < 0)
		return ky_error_set(err, errno, "inotify_init1: %s", strerror(errno));
	if (inotify_add_watch(d->inotify_fd, d->opts->plugin_dir, IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO) < 0)
		return ky_error_set(err, errno, "watch %s: %s", d->opts->plugin_dir, strerror(errno));
	if ((r = ky_loop_timer_new(d->loop, on_reconcile, d, &d->reconcile, err)) < 0)
		return r;
	return ky_loop_io_add(d->loop, d->inotify_fd, KY_LOOP_READ, on_inotify, d, &d->inotify_io, err);
}

void dp_watch_stop(struct dp_daemon *d)
{
	ky_loop_io_free(d->inotify_io);
	d->inotify_io = NULL;
	ky_loop_timer_free(d->reconcile);
	d->reconcile = NULL;
	if (d->inotify_fd >= 0)
		close(d->inotify_fd);
	d->inotify_fd = -1;
}

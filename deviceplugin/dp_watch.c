/* The kubelet-socket watch: the core's directory watch on the plugin dir.
 * Kubelet deletes every socket there when it restarts and then creates
 * kubelet.sock again: after a burst of such events our lost sockets are
 * served again and every resource registers again where kubelet came back. */
#include "dp_daemon.h"

#include <string.h>
#include <sys/inotify.h>

#include "kyborg/base/error.h"
#include "kyborg/base/log.h"

/* After a burst of events: serve again where our socket is gone, and
 * register again where we did or where kubelet came back (but not twice
 * with one kubelet: dp_register_kubelet_changed). */
static void on_reconcile(struct ky_dir_watch *w, void *userdata)
{
	struct dp_daemon *d = userdata;
	bool kubelet_back = d->kubelet_sock_created;
	(void)w;
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

/* kubelet.sock made (or events lost: it may have been), or one of our
 * sockets removed. */
static bool on_event(const char *name, uint32_t mask, void *userdata)
{
	struct dp_daemon *d = userdata;
	if (mask & IN_Q_OVERFLOW) {
		d->kubelet_sock_created = true;
		return true;
	}
	if (!name)
		return false;
	if (strcmp(name, DP_KUBELET_SOCKET) == 0) {
		if (!(mask & (IN_CREATE | IN_MOVED_TO)))
			return false;
		d->kubelet_sock_created = true;
		return true;
	}
	if (mask & (IN_DELETE | IN_MOVED_FROM))
		for (size_t i = 0; i < d->n_plugins; i++)
			if (d->plugins[i] && strcmp(name, d->plugins[i]->endpoint) == 0)
				return true;
	return false;
}

int dp_watch_start(struct dp_daemon *d, struct ky_error **err)
{
	int r = ky_dir_watch_new(d->loop, IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO, on_event, on_reconcile,
				 d, &d->dir_watch, err);
	if (r < 0)
		return r;
	return ky_dir_watch_add(d->dir_watch, d->opts->plugin_dir, err);
}

void dp_watch_stop(struct dp_daemon *d)
{
	ky_dir_watch_free(d->dir_watch);
	d->dir_watch = NULL;
}

/* Registration with kubelet: Register over kubelet.sock, retried with
 * backoff while kubelet is not there yet, and an inotify watch on the
 * plugin dir: kubelet deletes every socket there when it restarts and then
 * creates kubelet.sock again, so we re-create ours and register again. */
#include "dp_daemon.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "api.pb-c.h"
#include "kyborg/base/error.h"
#include "kyborg/base/log.h"

#define REGISTER_PATH "/v1beta1.Registration/Register"

static void schedule_retry(struct dp_plugin *p)
{
	ky_loop_timer_arm(p->retry, p->backoff_ms, 0);
	p->backoff_ms = p->backoff_ms * 2 > DP_BACKOFF_MAX_MS ? DP_BACKOFF_MAX_MS : p->backoff_ms * 2;
}

static void on_registered(void *userdata, int code, const char *message, const uint8_t *resp, size_t resp_len)
{
	struct dp_plugin *p = userdata;
	(void)resp;
	(void)resp_len;
	p->call = NULL;
	if (code == KY_GRPC_OK) {
		p->registered = true;
		p->backoff_ms = DP_BACKOFF_MIN_MS;
		ky_info("registered", "resource=%s endpoint=%s", p->res->name, p->endpoint);
		return;
	}
	char q[256];
	ky_warn("register-failed", "resource=%s code=%s message=%s retry_ms=%llu", p->res->name,
		ky_grpc_code_name(code), ky_log_quote(message, q, sizeof(q)), (unsigned long long)p->backoff_ms);
	schedule_retry(p);
}

void dp_register_start(struct dp_plugin *p)
{
	_cleanup_error_ struct ky_error *err = NULL;
	_cleanup_free_ char *kubelet = NULL;
	_cleanup_free_ uint8_t *buf = NULL;

	if (p->call) {
		ky_grpc_call_cancel(p->call);
		p->call = NULL;
	}
	ky_loop_timer_disarm(p->retry);
	p->registered = false;
	if (!p->srv) {
		/* Serve first: kubelet dials back before it answers. */
		if (dp_plugin_serve(p, &err) < 0) {
			ky_log_err(KY_LOG_ERROR, "serve-failed", err, "resource=%s", p->res->name);
			schedule_retry(p);
			return;
		}
	}
	V1beta1__DevicePluginOptions opts = V1BETA1__DEVICE_PLUGIN_OPTIONS__INIT;
	V1beta1__RegisterRequest req = V1BETA1__REGISTER_REQUEST__INIT;
	opts.get_preferred_allocation_available = 1;
	opts.pre_start_required = p->res->kind == DP_KIND_FPGA && p->res->has_bitstream;
	req.version = "v1beta1";
	req.endpoint = p->endpoint;
	req.resource_name = p->res->name;
	req.options = &opts;
	size_t len = protobuf_c_message_get_packed_size(&req.base);
	if (!(buf = malloc(len ? len : 1)) ||
	    asprintf(&kubelet, "%s/%s", p->d->opts->plugin_dir, DP_KUBELET_SOCKET) < 0) {
		kubelet = NULL;
		schedule_retry(p);
		return;
	}
	protobuf_c_message_pack(&req.base, buf);
	int r = ky_grpc_call_unary(p->d->loop, kubelet, REGISTER_PATH, buf, len, DP_REGISTER_TIMEOUT_MS, on_registered,
				   p, &p->call, &err);
	if (r < 0) {
		p->call = NULL;
		ky_log_err(r == -ENOENT || r == -ECONNREFUSED ? KY_LOG_DEBUG : KY_LOG_WARN, "register-connect", err,
			   "resource=%s retry_ms=%llu", p->res->name, (unsigned long long)p->backoff_ms);
		schedule_retry(p);
	}
}

static void on_retry(struct ky_loop_timer *t, void *userdata)
{
	(void)t;
	dp_register_start(userdata);
}

int dp_register_init(struct dp_plugin *p, struct ky_error **err)
{
	p->backoff_ms = DP_BACKOFF_MIN_MS;
	return ky_loop_timer_new(p->d->loop, on_retry, p, &p->retry, err);
}

void dp_register_release(struct dp_plugin *p)
{
	if (p->call)
		ky_grpc_call_cancel(p->call);
	p->call = NULL;
	if (p->retry)
		ky_loop_timer_free(p->retry);
	p->retry = NULL;
}

/* After a burst of events: serve again where our socket is gone, and
 * register again where we did or where kubelet came back. */
static void on_reconcile(struct ky_loop_timer *t, void *userdata)
{
	struct dp_daemon *d = userdata;
	bool kubelet_back = d->kubelet_sock_created;
	(void)t;
	d->kubelet_sock_created = false;
	for (size_t i = 0; i < d->n_plugins; i++) {
		struct dp_plugin *p = d->plugins[i];
		bool lost = !dp_plugin_socket_present(p);
		if (lost) {
			ky_info("socket-lost", "resource=%s socket=%s", p->res->name, p->socket_path);
			dp_plugin_stop_serving(p);
		}
		if (lost || kubelet_back) {
			p->backoff_ms = DP_BACKOFF_MIN_MS;
			dp_register_start(p);
		}
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
					if (strcmp(ev->name, d->plugins[i]->endpoint) == 0)
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
	if (d->inotify_io)
		ky_loop_io_free(d->inotify_io);
	d->inotify_io = NULL;
	if (d->reconcile)
		ky_loop_timer_free(d->reconcile);
	d->reconcile = NULL;
	if (d->inotify_fd >= 0)
		close(d->inotify_fd);
	d->inotify_fd = -1;
}

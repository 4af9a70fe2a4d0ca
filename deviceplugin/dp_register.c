/* Registration with kubelet: Register over kubelet.sock (our socket is
 * served first: kubelet dials back before it answers), retried with
 * backoff while kubelet is not there yet or refuses. */
#include "dp_daemon.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

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
		if (dp_server_start(p, &err) < 0) {
			ky_log_err(KY_LOG_ERROR, "serve-failed", err, "resource=%s", p->res->name);
			schedule_retry(p);
			return;
		}
	}
	V1beta1__DevicePluginOptions opts = V1BETA1__DEVICE_PLUGIN_OPTIONS__INIT;
	V1beta1__RegisterRequest req = V1BETA1__REGISTER_REQUEST__INIT;
	opts.get_preferred_allocation_available = 1;
	opts.pre_start_required = ky_device_resource_programs(p->res);
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
	/* The same file before and after the connect: the call is connected to
	 * that kubelet. */
	struct stat before, after;
	bool known = stat(kubelet, &before) == 0;
	int r = ky_grpc_call_unary(p->d->loop, kubelet, REGISTER_PATH, buf, len, DP_REGISTER_TIMEOUT_MS, on_registered,
				   p, &p->call, &err);
	known = known && r == 0 && stat(kubelet, &after) == 0 && after.st_dev == before.st_dev &&
		after.st_ino == before.st_ino;
	p->call_dev = known ? before.st_dev : 0;
	p->call_ino = known ? before.st_ino : 0;
	if (r < 0) {
		p->call = NULL;
		ky_log_err(r == -ENOENT || r == -ECONNREFUSED ? KY_LOG_DEBUG : KY_LOG_WARN, "register-connect", err,
			   "resource=%s retry_ms=%llu", p->res->name, (unsigned long long)p->backoff_ms);
		schedule_retry(p);
	}
}

void dp_register_restart(struct dp_plugin *p)
{
	p->backoff_ms = DP_BACKOFF_MIN_MS;
	dp_register_start(p);
}

void dp_register_kubelet_changed(struct dp_plugin *p)
{
	_cleanup_error_ struct ky_error *err = NULL;
	_cleanup_free_ char *kubelet = NULL;
	struct stat st;
	if (!p->call || !p->call_ino || asprintf(&kubelet, "%s/%s", p->d->opts->plugin_dir, DP_KUBELET_SOCKET) < 0 ||
	    stat(kubelet, &st) < 0 || st.st_dev != p->call_dev || st.st_ino != p->call_ino) {
		dp_register_restart(p);
		return;
	}
	/* Our socket lost and served again on its path: the dial-back
	 * reaches it there. */
	if (!p->srv && dp_server_start(p, &err) < 0) {
		ky_log_err(KY_LOG_ERROR, "serve-failed", err, "resource=%s", p->res->name);
		dp_register_restart(p);
		return;
	}
	ky_debug("register-in-flight", "resource=%s kubelet_inode=%llu", p->res->name,
		 (unsigned long long)p->call_ino);
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
	ky_grpc_call_cancel(p->call);
	p->call = NULL;
	ky_loop_timer_free(p->retry);
	p->retry = NULL;
}

/* NodeWatchResources (v1alpha1.DRAResourceHealth): each open stream gets the
 * complete list of the driver's devices at once, after every change, and
 * again every DRA_HEALTH_RESEND_MS, since kubelet counts a device not
 * reported within its timeout as Unknown. A device is healthy while a
 * driver is bound to it; unbound or removed since the start, unhealthy,
 * saying which. A shared GPU's replicas that claims hold are reported by
 * their names too. */
#include "dra_daemon.h"

#include <errno.h>
#include <string.h>
#include <stdlib.h>
#include <time.h>

#include "dra_proto.h"
#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/base/log.h"

/* The devices to report: every one served since the start, and the
 * replicas of shared GPUs that prepared claims hold (kubelet looks up the
 * health of allocated devices by the name the claim has). */
static const char **names_to_report(const struct dra_daemon *d, size_t *n)
{
	size_t max = d->n_seen;
	for (size_t i = 0; i < d->n_records; i++)
		max += d->records[i].n_devices;
	const char **names = calloc(max + 1, sizeof(*names));
	if (!names)
		return NULL;
	*n = 0;
	for (size_t i = 0; i < d->n_seen; i++)
		names[(*n)++] = d->seen[i];
	for (size_t i = 0; i < d->n_records; i++) {
		for (size_t k = 0; k < d->records[i].n_devices; k++) {
			const char *name = d->records[i].devices[k].device;
			bool listed = false;
			for (size_t j = 0; j < *n && !listed; j++)
				listed = strcmp(names[j], name) == 0;
			if (!listed)
				names[(*n)++] = name;
		}
	}
	return names;
}

static int pack_list(const struct dra_daemon *d, uint8_t **out, size_t *len)
{
	size_t n = 0;
	_cleanup_free_ const char **names = names_to_report(d, &n);
	_cleanup_free_ V1alpha1__DeviceHealth *h = calloc(n + 1, sizeof(*h));
	_cleanup_free_ V1alpha1__DeviceHealth **hp = calloc(n + 1, sizeof(*hp));
	_cleanup_free_ V1alpha1__DeviceIdentifier *ids = calloc(n + 1, sizeof(*ids));
	if (!names || !h || !hp || !ids)
		return -ENOMEM;
	int64_t now = (int64_t)time(NULL);
	for (size_t i = 0; i < n; i++) {
		const char *why;
		enum dra_health health = dra_device_health(d, names[i], &why);
		v1alpha1__device_identifier__init(&ids[i]);
		ids[i].pool_name = (char *)d->opts->node_name;
		ids[i].device_name = (char *)names[i];
		v1alpha1__device_health__init(&h[i]);
		h[i].device = &ids[i];
		h[i].health = health == DRA_HEALTH_HEALTHY	? V1ALPHA1__HEALTH_STATUS__HEALTHY
			      : health == DRA_HEALTH_UNHEALTHY ? V1ALPHA1__HEALTH_STATUS__UNHEALTHY
							       : V1ALPHA1__HEALTH_STATUS__UNKNOWN;
		h[i].last_updated_time = now;
		h[i].health_check_timeout_seconds = DRA_HEALTH_TIMEOUT_S;
		h[i].message = (char *)why;
		hp[i] = &h[i];
	}
	V1alpha1__NodeWatchResourcesResponse r = V1ALPHA1__NODE_WATCH_RESOURCES_RESPONSE__INIT;
	r.n_devices = n;
	r.devices = hp;
	*len = protobuf_c_message_get_packed_size(&r.base);
	if (!(*out = malloc(*len ? *len : 1)))
		return -ENOMEM;
	protobuf_c_message_pack(&r.base, *out);
	return 0;
}

static int send_list(struct dra_daemon *d, struct ky_grpc_stream *s, struct ky_error **err)
{
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len;
	int r = pack_list(d, &buf, &len);
	if (r < 0)
		return ky_error_set(err, -r, "cannot pack the device health list");
	r = ky_grpc_stream_send(s, buf, len, err);
	if (r == -ENOBUFS) { /* a slow reader gets the next full list */
		ky_error_clear(err);
		return 0;
	}
	return r;
}

void dra_health_broadcast(struct dra_daemon *d)
{
	for (size_t i = 0; i < d->n_health; i++) {
		_cleanup_error_ struct ky_error *err = NULL;
		if (send_list(d, d->health[i], &err) < 0)
			ky_log_err(KY_LOG_WARN, "health-send", err, "streams=%zu", d->n_health);
	}
}

static void on_resend(struct ky_loop_timer *t, void *userdata)
{
	(void)t;
	dra_health_broadcast(userdata);
}

static int watch(void *userdata, struct ky_grpc_stream *s, const uint8_t *req, size_t req_len, struct ky_error **err)
{
	struct dra_daemon *d = userdata;
	V1alpha1__NodeWatchResourcesRequest *r = v1alpha1__node_watch_resources_request__unpack(NULL, req_len, req);
	int k;
	if (!r)
		return ky_error_set(err, EINVAL, "cannot decode NodeWatchResourcesRequest");
	v1alpha1__node_watch_resources_request__free_unpacked(r, NULL);
	if (d->n_health == d->cap_health) {
		size_t nc = d->cap_health ? d->cap_health * 2 : 4;
		struct ky_grpc_stream **ns = realloc(d->health, nc * sizeof(*ns));
		if (!ns)
			return ky_error_set(err, ENOMEM, "out of memory");
		d->health = ns;
		d->cap_health = nc;
	}
	if ((k = send_list(d, s, err)) < 0)
		return ky_error_set_status(err, KY_GRPC_INTERNAL);
	d->health[d->n_health++] = s;
	ky_info("health-watch", "devices=%zu streams=%zu", d->n_seen, d->n_health);
	return 0;
}

static void closed(void *userdata, struct ky_grpc_stream *s, int code)
{
	struct dra_daemon *d = userdata;
	for (size_t i = 0; i < d->n_health; i++) {
		if (d->health[i] == s) {
			d->health[i] = d->health[--d->n_health];
			break;
		}
	}
	ky_debug("health-watch-closed", "code=%s streams=%zu", ky_grpc_code_name(code), d->n_health);
}

void dra_health_method(struct dra_daemon *d, struct ky_grpc_method *m)
{
	*m = (struct ky_grpc_method){ .path = DRA_PB_HEALTH_WATCH, .stream = watch, .closed = closed, .userdata = d };
}

int dra_health_init(struct dra_daemon *d, struct ky_error **err)
{
	int r = ky_loop_timer_new(d->loop, on_resend, d, &d->health_timer, err);
	if (r < 0)
		return r;
	ky_loop_timer_arm(d->health_timer, DRA_HEALTH_RESEND_MS, DRA_HEALTH_RESEND_MS);
	return 0;
}

void dra_health_release(struct dra_daemon *d)
{
	ky_loop_timer_free(d->health_timer);
	d->health_timer = NULL;
	free(d->health);
	d->health = NULL;
	d->n_health = d->cap_health = 0;
}

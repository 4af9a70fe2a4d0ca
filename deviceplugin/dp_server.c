/* A resource's gRPC server on its socket in kubelet's plugin dir, and the
 * DevicePlugin service it runs: GetDevicePluginOptions, ListAndWatch (the
 * full list at once and on every change, to every open stream),
 * GetPreferredAllocation and Allocate (PreStartContainer: dp_prestart.c).
 * The handlers translate protobuf to the pure modules and back. */
#include "dp_daemon.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "api.pb-c.h"
#include "kyborg/base/error.h"
#include "kyborg/base/log.h"
#include "kyborg/device/cdi_spec.h"
#include "kyborg/device/devinfo.h"

#define DP_SERVICE "/v1beta1.DevicePlugin/"

static int pack(const ProtobufCMessage *m, uint8_t **out, size_t *len, struct ky_error **err)
{
	*len = protobuf_c_message_get_packed_size(m);
	*out = malloc(*len ? *len : 1);
	if (!*out)
		return ky_error_set(err, ENOMEM, "cannot pack the %s", m->descriptor->short_name);
	protobuf_c_message_pack(m, *out);
	return 0;
}

static int get_options(void *userdata, const uint8_t *req, size_t req_len, uint8_t **resp, size_t *resp_len,
		       struct ky_error **err)
{
	struct dp_plugin *p = userdata;
	V1beta1__Empty *e = v1beta1__empty__unpack(NULL, req_len, req);
	if (!e)
		return ky_error_set(err, EINVAL, "cannot decode Empty");
	v1beta1__empty__free_unpacked(e, NULL);
	V1beta1__DevicePluginOptions o = V1BETA1__DEVICE_PLUGIN_OPTIONS__INIT;
	o.pre_start_required = ky_device_resource_programs(p->res);
	o.get_preferred_allocation_available = 1;
	return pack(&o.base, resp, resp_len, err);
}

static int pack_list(const struct dp_plugin *p, uint8_t **out, size_t *len)
{
	size_t n = p->devs->n;
	_cleanup_free_ V1beta1__Device *devs = calloc(n + 1, sizeof(*devs));
	_cleanup_free_ V1beta1__Device **devp = calloc(n + 1, sizeof(*devp));
	_cleanup_free_ V1beta1__TopologyInfo *topo = calloc(n + 1, sizeof(*topo));
	_cleanup_free_ V1beta1__NUMANode *nodes = calloc(n + 1, sizeof(*nodes));
	_cleanup_free_ V1beta1__NUMANode **nodep = calloc(n + 1, sizeof(*nodep));
	if (!devs || !devp || !topo || !nodes || !nodep)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct ky_device *d = &p->devs->devs[i];
		v1beta1__device__init(&devs[i]);
		devs[i].id = (char *)d->id;
		devs[i].health = d->healthy ? "Healthy" : "Unhealthy";
		if (d->numa_node >= 0) {
			v1beta1__topology_info__init(&topo[i]);
			v1beta1__numanode__init(&nodes[i]);
			nodes[i].id = d->numa_node;
			nodep[i] = &nodes[i];
			topo[i].n_nodes = 1;
			topo[i].nodes = &nodep[i];
			devs[i].topology = &topo[i];
		}
		devp[i] = &devs[i];
	}
	V1beta1__ListAndWatchResponse r = V1BETA1__LIST_AND_WATCH_RESPONSE__INIT;
	r.n_devices = n;
	r.devices = devp;
	return pack(&r.base, out, len, NULL);
}

/* A failure is logged as well: a broadcast has no caller to tell. */
static int send_list(struct dp_plugin *p, struct ky_grpc_stream *s, struct ky_error **err)
{
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len;
	int r = pack_list(p, &buf, &len);
	if (r < 0)
		r = ky_error_set(err, -r, "cannot pack the device list");
	else
		r = ky_grpc_stream_send(s, buf, len, err);
	if (r == -ENOBUFS) { /* a slow reader gets the next full list */
		ky_error_clear(err);
		return 0;
	}
	if (r < 0) {
		ky_log_err(KY_LOG_WARN, "list-and-watch-send", *err, "resource=%s", p->res->name);
		/* The stream is broken, not the request. */
		return ky_error_set_status(err, KY_GRPC_INTERNAL);
	}
	return 0;
}

static int list_and_watch(void *userdata, struct ky_grpc_stream *s, const uint8_t *req, size_t req_len,
			  struct ky_error **err)
{
	struct dp_plugin *p = userdata;
	V1beta1__Empty *e = v1beta1__empty__unpack(NULL, req_len, req);
	int r;
	if (!e)
		return ky_error_set(err, EINVAL, "cannot decode Empty");
	v1beta1__empty__free_unpacked(e, NULL);
	if (p->n_streams == p->cap_streams) {
		size_t nc = p->cap_streams ? p->cap_streams * 2 : 4;
		struct ky_grpc_stream **ns = realloc(p->streams, nc * sizeof(*ns));
		if (!ns)
			return ky_error_set(err, ENOMEM, "out of memory");
		p->streams = ns;
		p->cap_streams = nc;
	}
	if ((r = send_list(p, s, err)) < 0)
		return r;
	p->streams[p->n_streams++] = s;
	ky_info("list-and-watch", "resource=%s devices=%zu streams=%zu", p->res->name, p->devs->n, p->n_streams);
	return 0;
}

static void stream_closed(void *userdata, struct ky_grpc_stream *s, int code)
{
	struct dp_plugin *p = userdata;
	for (size_t i = 0; i < p->n_streams; i++) {
		if (p->streams[i] == s) {
			p->streams[i] = p->streams[--p->n_streams];
			break;
		}
	}
	ky_debug("list-and-watch-closed", "resource=%s code=%s", p->res->name, ky_grpc_code_name(code));
}

void dp_server_write_cdi(struct dp_plugin *p)
{
	_cleanup_error_ struct ky_error *err = NULL;
	p->cdi_written = ky_cdi_resource_write(p->d->opts->cdi_dir, p->res, p->devs, &err) == 0;
	if (!p->cdi_written)
		ky_log_err(KY_LOG_WARN, "cdi-write", err, "resource=%s", p->res->name);
}

void dp_server_broadcast(struct dp_plugin *p)
{
	for (size_t i = 0; i < p->n_streams; i++) {
		_cleanup_error_ struct ky_error *err = NULL;
		send_list(p, p->streams[i], &err);
	}
}

static int preferred(void *userdata, const uint8_t *req, size_t req_len, uint8_t **resp, size_t *resp_len,
		     struct ky_error **err)
{
	struct dp_plugin *p = userdata;
	V1beta1__PreferredAllocationRequest *r = v1beta1__preferred_allocation_request__unpack(NULL, req_len, req);
	if (!r)
		return ky_error_set(err, EINVAL, "cannot decode PreferredAllocationRequest");
	size_t n = r->n_container_requests;
	V1beta1__ContainerPreferredAllocationResponse *cr = calloc(n + 1, sizeof(*cr));
	V1beta1__ContainerPreferredAllocationResponse **crp = calloc(n + 1, sizeof(*crp));
	const char ***chosen = calloc(n + 1, sizeof(*chosen));
	int k = cr && crp && chosen ? 0 : ky_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; k == 0 && i < n; i++) {
		V1beta1__ContainerPreferredAllocationRequest *c = r->container_requests[i];
		size_t got = 0;
		if (c->allocation_size < 0) {
			k = ky_error_set(err, EINVAL, "negative allocation_size");
			break;
		}
		k = dp_preferred(p->res, p->devs, (const char *const *)c->available_deviceids, c->n_available_deviceids,
				 (const char *const *)c->must_include_deviceids, c->n_must_include_deviceids,
				 (size_t)c->allocation_size, &chosen[i], &got, err);
		if (k < 0)
			break;
		v1beta1__container_preferred_allocation_response__init(&cr[i]);
		cr[i].n_deviceids = got;
		cr[i].deviceids = (char **)chosen[i];
		crp[i] = &cr[i];
	}
	if (k == 0) {
		V1beta1__PreferredAllocationResponse out = V1BETA1__PREFERRED_ALLOCATION_RESPONSE__INIT;
		out.n_container_responses = n;
		out.container_responses = crp;
		k = pack(&out.base, resp, resp_len, err);
	}
	for (size_t i = 0; chosen && i < n; i++)
		free(chosen[i]);
	free(chosen);
	free(cr);
	free(crp);
	v1beta1__preferred_allocation_request__free_unpacked(r, NULL);
	return k;
}

/* Every container's answer is built before any is sent: one bad ID fails
 * the whole call and nothing has changed. */
static int allocate(void *userdata, const uint8_t *req, size_t req_len, uint8_t **resp, size_t *resp_len,
		    struct ky_error **err)
{
	struct dp_plugin *p = userdata;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	V1beta1__AllocateRequest *r = v1beta1__allocate_request__unpack(NULL, req_len, req);
	if (!r)
		return ky_error_set(err, EINVAL, "cannot decode AllocateRequest");
	size_t n = r->n_container_requests, built = 0;
	struct ky_device_alloc *allocs = calloc(n + 1, sizeof(*allocs));
	V1beta1__ContainerAllocateResponse *cr = calloc(n + 1, sizeof(*cr));
	V1beta1__ContainerAllocateResponse **crp = calloc(n + 1, sizeof(*crp));
	int k = allocs && cr && crp ? 0 : ky_error_set(err, ENOMEM, "out of memory");

	for (size_t i = 0; k == 0 && i < n; i++) {
		V1beta1__ContainerAllocateRequest *c = r->container_requests[i];
		k = ky_device_allocate(p->res, p->devs, (const char *const *)c->devices_ids, c->n_devices_ids,
				       p->cdi_written, &allocs[i], err);
		if (k < 0) {
			ky_log_err(KY_LOG_WARN, "allocate-refused", *err, "resource=%s", p->res->name);
			break;
		}
		built = i + 1;
	}

	/* VFs: the device-info files the CNI side reads. A failure to write
	 * them is logged: the container still gets its devices. */
	for (size_t i = 0; k == 0 && ky_devinfo_wanted(p->res) && i < n; i++) {
		V1beta1__ContainerAllocateRequest *c = r->container_requests[i];
		_cleanup_error_ struct ky_error *werr = NULL;
		if (ky_devinfo_write(p->d->opts->devinfo_dir, p->res, p->devs, (const char *const *)c->devices_ids,
				     c->n_devices_ids, &werr) < 0)
			ky_log_err(KY_LOG_WARN, "devinfo-write", werr, "resource=%s", p->res->name);
	}

	/* The protobuf view borrows every string from allocs. */
	size_t total_env = 0, total_spec = 0, total_ann = 0, total_cdi = 0;
	for (size_t i = 0; i < built; i++) {
		total_env += allocs[i].n_envs;
		total_spec += allocs[i].n_specs;
		total_ann += allocs[i].n_annotations;
		total_cdi += allocs[i].n_cdi_devices;
	}
	_cleanup_free_ V1beta1__ContainerAllocateResponse__EnvsEntry *env = calloc(total_env + 1, sizeof(*env));
	_cleanup_free_ V1beta1__ContainerAllocateResponse__EnvsEntry **envp = calloc(total_env + 1, sizeof(*envp));
	_cleanup_free_ V1beta1__ContainerAllocateResponse__AnnotationsEntry *ann = calloc(total_ann + 1, sizeof(*ann));
	_cleanup_free_ V1beta1__ContainerAllocateResponse__AnnotationsEntry **annp = calloc(total_ann + 1, sizeof(*annp));
	_cleanup_free_ V1beta1__DeviceSpec *spec = calloc(total_spec + 1, sizeof(*spec));
	_cleanup_free_ V1beta1__DeviceSpec **specp = calloc(total_spec + 1, sizeof(*specp));
	_cleanup_free_ V1beta1__CDIDevice *cdi = calloc(total_cdi + 1, sizeof(*cdi));
	_cleanup_free_ V1beta1__CDIDevice **cdip = calloc(total_cdi + 1, sizeof(*cdip));
	if (k == 0 && !(env && envp && ann && annp && spec && specp && cdi && cdip))
		k = ky_error_set(err, ENOMEM, "out of memory");
	if (k == 0) {
		size_t ie = 0, ia = 0, is = 0, ic = 0;
		for (size_t i = 0; i < n; i++) {
			struct ky_device_alloc *a = &allocs[i];
			v1beta1__container_allocate_response__init(&cr[i]);
			cr[i].envs = &envp[ie];
			cr[i].n_envs = a->n_envs;
			for (size_t j = 0; j < a->n_envs; j++, ie++) {
				v1beta1__container_allocate_response__envs_entry__init(&env[ie]);
				env[ie].key = a->envs[j].key;
				env[ie].value = a->envs[j].value;
				envp[ie] = &env[ie];
			}
			cr[i].annotations = &annp[ia];
			cr[i].n_annotations = a->n_annotations;
			for (size_t j = 0; j < a->n_annotations; j++, ia++) {
				v1beta1__container_allocate_response__annotations_entry__init(&ann[ia]);
				ann[ia].key = a->annotations[j].key;
				ann[ia].value = a->annotations[j].value;
				annp[ia] = &ann[ia];
			}
			cr[i].devices = &specp[is];
			cr[i].n_devices = a->n_specs;
			for (size_t j = 0; j < a->n_specs; j++, is++) {
				v1beta1__device_spec__init(&spec[is]);
				spec[is].host_path = a->specs[j].host_path;
				spec[is].container_path = a->specs[j].container_path;
				spec[is].permissions = a->specs[j].permissions;
				specp[is] = &spec[is];
			}
			cr[i].cdi_devices = &cdip[ic];
			cr[i].n_cdi_devices = a->n_cdi_devices;
			for (size_t j = 0; j < a->n_cdi_devices; j++, ic++) {
				v1beta1__cdidevice__init(&cdi[ic]);
				cdi[ic].name = a->cdi_devices[j];
				cdip[ic] = &cdi[ic];
			}
			crp[i] = &cr[i];
		}
		V1beta1__AllocateResponse out = V1BETA1__ALLOCATE_RESPONSE__INIT;
		out.n_container_responses = n;
		out.container_responses = crp;
		k = pack(&out.base, resp, resp_len, err);
	}
	/* Queued now, written on the next loop round, just after the answer
	 * went out (SIGTERM flushes too; a SIGKILL in between loses them). */
	for (size_t i = 0; k == 0 && i < n; i++) {
		V1beta1__ContainerAllocateRequest *c = r->container_requests[i];
		_cleanup_error_ struct ky_error *cerr = NULL;
		if (dp_checkpoint_allocated(p, c->devices_ids, c->n_devices_ids, &cerr) < 0)
			ky_log_err(KY_LOG_WARN, "checkpoint-write", cerr, "resource=%s", p->res->name);
	}
	if (k == 0) {
		/* Server-side duration, from the decoded request to the packed
		 * answer: what the benchmark's p99 is judged on. */
		clock_gettime(CLOCK_MONOTONIC, &t1);
		long us = (t1.tv_sec - t0.tv_sec) * 1000000L + (t1.tv_nsec - t0.tv_nsec) / 1000;
		ky_info("allocate", "resource=%s containers=%zu dur_us=%ld", p->res->name, n, us);
	}
	for (size_t i = 0; allocs && i < built; i++)
		ky_device_alloc_release(&allocs[i]);
	free(allocs);
	free(cr);
	free(crp);
	v1beta1__allocate_request__free_unpacked(r, NULL);
	return k;
}

void dp_server_methods(struct dp_plugin *p, struct ky_grpc_method m[DP_SERVER_METHODS])
{
	m[0] = (struct ky_grpc_method){ .path = DP_SERVICE "GetDevicePluginOptions", .unary = get_options,
					.userdata = p };
	m[1] = (struct ky_grpc_method){ .path = DP_SERVICE "ListAndWatch", .stream = list_and_watch,
					.closed = stream_closed, .userdata = p };
	m[2] = (struct ky_grpc_method){ .path = DP_SERVICE "GetPreferredAllocation", .unary = preferred,
					.userdata = p };
	m[3] = (struct ky_grpc_method){ .path = DP_SERVICE "Allocate", .unary = allocate, .userdata = p };
}

int dp_server_start(struct dp_plugin *p, struct ky_error **err)
{
	dp_server_stop(p);
	int r = ky_grpc_server_new(p->d->loop, p->socket_path, p->methods, KY_ARRAY_SIZE(p->methods), &p->srv, err);
	if (r < 0)
		return ky_error_prefix(err, "serve %s", p->res->name);
	ky_info("serving", "resource=%s socket=%s devices=%zu", p->res->name, p->socket_path, p->devs->n);
	return 0;
}

void dp_server_stop(struct dp_plugin *p)
{
	/* Open streams are reported closed (and dropped from p->streams). */
	ky_grpc_server_free(p->srv);
	p->srv = NULL;
}

void dp_server_release(struct dp_plugin *p)
{
	dp_server_stop(p);
	free(p->streams);
	p->streams = NULL;
	p->n_streams = p->cap_streams = 0;
}

bool dp_server_socket_present(const struct dp_plugin *p)
{
	struct stat st;
	return p->srv && stat(p->socket_path, &st) == 0 && S_ISSOCK(st.st_mode);
}

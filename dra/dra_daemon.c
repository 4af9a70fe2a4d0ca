/* The driver: loads the config, finds the devices, opens the checkpoint
 * and the claim source, serves the DRA socket and then the registration
 * socket (kubelet dials the DRA socket as soon as GetInfo names it), keeps
 * both in place, and on SIGTERM/SIGINT removes them and returns. Also
 * --check-config, and the names the command line must hold. */
#include "dra_daemon.h"

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/base/fileio.h"
#include "kyborg/base/log.h"
#include "kyborg/state/paths.h"

/* A DNS subdomain (RFC 1123) of at most max characters. */
static const char *subdomain_problem(const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0)
		return "must not be empty";
	if (n > max)
		return max == 63 ? "must have at most 63 characters" : "must have at most 253 characters";
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!(islower((unsigned char)c) || isdigit((unsigned char)c) || c == '-' || c == '.'))
			return "may hold only a-z, 0-9, '-' and '.'";
		bool edge = i == 0 || i + 1 == n || s[i - 1] == '.' || s[i + 1] == '.';
		if ((c == '-' || c == '.') && edge)
			return "each dot-separated part must start and end with a letter or digit";
	}
	return NULL;
}

const char *dra_driver_name_problem(const char *name)
{
	const char *p = subdomain_problem(name, 63);
	if (p)
		return p;
	if (!isalpha((unsigned char)name[0]))
		return "must start with a letter (it is the CDI vendor of the claims' devices)";
	return NULL;
}

const char *dra_node_name_problem(const char *name)
{
	return subdomain_problem(name, 253);
}

static void on_signal(struct ky_loop *loop, int signo, void *userdata)
{
	(void)userdata;
	if (signo == SIGHUP) {
		ky_info("sighup-ignored", "reason=\"the DRA driver reads its config at start only\"");
		return;
	}
	ky_info("stopping", "signal=%s", strsignal(signo));
	ky_loop_shutdown(loop, 0);
}

static void daemon_release(struct dra_daemon *d)
{
	dra_publisher_stop(d);
	dra_watch_stop(d);
	dra_register_stop(d);
	dra_server_stop(d); /* open streams are reported closed first */
	dra_prepare_release(d);
	dra_health_release(d);
	dra_claim_source_free(d->source);
	ky_k8s_client_free(d->k8s);
	dra_checkpoint_close(d);
	dra_hotplug_stop(d);
	ky_device_prefetch_release(&d->prefetches);
	dra_claimcfg_release(d);
	ky_loop_free(d->loop);
	if (d->cfg)
		ky_devlists_free(d->lists, d->cfg->n_resources);
	ky_pci_list_free(d->pci);
	ky_device_config_free(d->cfg);
	for (size_t i = 0; i < d->n_seen; i++)
		free(d->seen[i]);
	free(d->seen);
	free(d->image_cache);
	free(d->bitstream_dir);
	free(d->plugin_dir);
	free(d->reg_path);
	free(d->dra_path);
}

static int daemon_paths(struct dra_daemon *d, struct ky_error **err)
{
	const struct dra_options *o = d->opts;
	if (o->plugin_dir ? !(d->plugin_dir = strdup(o->plugin_dir))
			  : asprintf(&d->plugin_dir, KY_KUBELET_PLUGINS_DEFAULT "/%s", o->driver_name) < 0)
		return ky_error_set(err, ENOMEM, "out of memory");
	if (asprintf(&d->reg_path, "%s/%s" DRA_REG_SOCKET_SUFFIX, o->registration_dir, o->driver_name) < 0 ||
	    asprintf(&d->dra_path, "%s/" DRA_SOCKET, d->plugin_dir) < 0 ||
	    !(d->image_cache = ky_device_image_cache_dir(o->state_dir)) ||
	    (o->bitstream_dir ? !(d->bitstream_dir = strdup(o->bitstream_dir))
			      : asprintf(&d->bitstream_dir, "%s/bitstreams", o->state_dir) < 0))
		return ky_error_set(err, ENOMEM, "out of memory");
	d->images = (struct ky_device_images){ .cache_dir = d->image_cache, .fetch_helper = o->fetch_helper };
	return 0;
}

/* The API server: in-cluster, or the three flags. */
static int api_client(struct dra_daemon *d, struct ky_error **err)
{
	const struct dra_options *o = d->opts;
	_cleanup_(ky_k8s_config_freep) struct ky_k8s_config *cfg = NULL;
	int r = o->api_server ? ky_k8s_config_new(o->api_server, o->token_file, o->ca_file, &cfg, err)
			      : ky_k8s_config_in_cluster(NULL, &cfg, err);
	if (r < 0 || (r = ky_k8s_client_new(d->loop, cfg, &d->k8s, err)) < 0)
		return ky_error_prefix(err, "API server");
	ky_info("api-server", "url=%s", cfg->server);
	return 0;
}

static int daemon_start(struct dra_daemon *d, struct ky_error **err)
{
	const struct dra_options *o = d->opts;
	int r;
	d->started_ms = ky_loop_now_ms();
	if ((r = daemon_paths(d, err)) < 0 || (r = ky_device_config_load(o->config_path, &d->cfg, err)) < 0)
		return r;
	size_t ours = 0;
	for (size_t i = 0; i < d->cfg->n_resources; i++) {
		const struct ky_device_resource *res = &d->cfg->resources[i];
		ours += res->frontend == KY_FRONTEND_DRA;
		if (res->frontend != KY_FRONTEND_DRA)
			ky_info("resource-not-served", "name=%s frontend=%s", res->name,
				ky_device_frontend_name(res->frontend));
	}
	if (!ours)
		ky_warn("no-dra-resources", "config=%s problem=\"no resource of the config has frontend dra: the pool is empty\"",
			o->config_path);
	if ((r = ky_loop_new(&d->loop, err)) < 0 || (r = ky_loop_signals(d->loop, on_signal, d, err)) < 0)
		return r;
	if ((r = dra_hotplug_start(d, err)) < 0 || (r = dra_checkpoint_open(d, err)) < 0)
		return r;
	/* The API server, unless only the test's claim files are given. */
	if ((o->api_server || !o->claims_dir) && (r = api_client(d, err)) < 0)
		return r;
	if (o->claims_dir)
		r = dra_claims_file_new(d->loop, o->claims_dir, &d->source, err);
	else
		r = dra_claims_api_new(d->k8s, &d->source, err);
	if (r < 0)
		return r;
	ky_info("claims", "source=%s", d->source->ops->name);
	/* The slices' list and the Node's read go out first: they are what
	 * the scheduler waits for, the sockets are ready long before. */
	if ((r = dra_publisher_start(d, err)) < 0)
		return r;
	const char *dirs[] = { o->registration_dir, d->plugin_dir };
	for (size_t i = 0; i < KY_ARRAY_SIZE(dirs); i++)
		if ((r = ky_mkdir_p(dirs[i], 0750)) < 0)
			return ky_error_set(err, -r, "mkdir %s: %s", dirs[i], strerror(-r));
	dra_register_methods(d);
	dra_server_methods(d);
	if ((r = dra_health_init(d, err)) < 0 || (r = dra_server_start(d, err)) < 0 ||
	    (r = dra_register_start(d, err)) < 0 || (r = dra_watch_start(d, err)) < 0)
		return r;
	for (size_t i = 0; i < d->cfg->n_resources; i++)
		ky_device_prefetch_start(d->loop, &d->prefetches, &d->cfg->resources[i], &d->images);
	ky_info("started", "driver=%s pool=%s devices=%zu", o->driver_name, o->node_name, dra_devices_count(d));
	return 0;
}

int dra_daemon_run(const struct dra_options *opts, struct ky_error **err)
{
	struct dra_daemon d = { .opts = opts, .inotify_fd = -1 };
	int r = daemon_start(&d, err);
	if (r >= 0)
		r = ky_loop_run(d.loop, err);
	/* However it ends, the driver is on its way out: a second SIGTERM
	 * during the cleanup changes nothing (the signals stay blocked). */
	if (d.loop)
		ky_loop_shutdown(d.loop, 0);
	daemon_release(&d);
	return r < 0 ? r : 0;
}

int dra_check_config(const struct dra_options *opts, FILE *out, struct ky_error **err)
{
	struct dra_daemon d = { .opts = opts, .inotify_fd = -1 };
	int r = ky_device_config_load(opts->config_path, &d.cfg, err);
	if (r < 0)
		return r;
	fprintf(out, "%s: OK, %zu resources\n", opts->config_path, d.cfg->n_resources);
	if ((r = ky_device_discover(d.cfg, &d.pci, &d.lists, err)) < 0) {
		daemon_release(&d);
		return r;
	}
	fprintf(out, "driver %s, pool %s: %zu devices\n", opts->driver_name,
		opts->node_name && *opts->node_name ? opts->node_name : "(no --node-name)", dra_devices_count(&d));
	DRA_FOREACH_DEVICE(&d, i, k)
	{
		const struct ky_device_resource *res = &d.cfg->resources[i];
		const struct ky_device *dev = &d.lists[i].devs[k];
		char name[KY_DEVICE_DRA_NAME_MAX];
		ky_device_dra_name(res->kind, dev->pci->addr, -1, name);
		fprintf(out, "  %-20s %-24s %-4s %s %s", name, res->name, ky_device_dra_kind(res->kind), dev->pci->addr,
			dev->healthy ? "healthy" : "unhealthy (no driver bound)");
		if (ky_device_resource_shared(res))
			fprintf(out, ", shared by up to %u claims", res->replicas);
		if (ky_device_resource_programs(res))
			fprintf(out, ", programmed with %s", res->bitstream.id);
		fputc('\n', out);
	}
	/* One config serves both front ends: say what is left to the other. */
	for (size_t i = 0; i < d.cfg->n_resources; i++) {
		const struct ky_device_resource *res = &d.cfg->resources[i];
		if (res->frontend != KY_FRONTEND_DRA)
			fprintf(out, "%s (%s): not served here: frontend %s (kyborg-device-plugin), %zu device IDs\n",
				res->name, ky_device_kind_name(res->kind), ky_device_frontend_name(res->frontend),
				d.lists[i].n);
	}
	daemon_release(&d);
	return 0;
}

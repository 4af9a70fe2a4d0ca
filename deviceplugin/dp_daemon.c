/* The daemon: loads the config, discovers the node's PCI functions, builds
 * each resource's device list, serves and registers every resource on one
 * event loop (with the plugin-dir watch and the udev monitor), reloads on
 * SIGHUP, and on SIGTERM/SIGINT removes its sockets and returns. */
#include "dp_daemon.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kyborg/base/fileio.h"
#include "kyborg/base/error.h"
#include "kyborg/base/log.h"

static void on_signal(struct ky_loop *loop, int signo, void *userdata)
{
	struct dp_daemon *d = userdata;
	if (signo == SIGHUP) {
		_cleanup_error_ struct ky_error *err = NULL;
		if (dp_reload(d, &err) < 0)
			ky_log_err(KY_LOG_ERROR, "reload-failed", err, "config=%s keeping=old", d->opts->config_path);
		return;
	}
	ky_info("stopping", "signal=%s", strsignal(signo));
	/* From here to exit the signals stay blocked: a second SIGTERM (the
	 * whole process group signalled, a wrapper forwarding it) is ignored. */
	ky_loop_shutdown(loop, 0);
}

static void daemon_release(struct dp_daemon *d)
{
	for (size_t i = 0; i < d->n_plugins; i++)
		dp_plugin_free(d->plugins[i]);
	free(d->plugins);
	dp_hotplug_stop(d);
	dp_link_stop(d);
	dp_watch_stop(d);
	dp_prestart_release(d);
	ky_device_prefetch_release(&d->prefetches);
	dp_checkpoint_close(d);
	ky_loop_free(d->loop);
	if (d->cfg)
		ky_devlists_free(d->devs, d->cfg->n_resources);
	ky_pci_list_free(d->pci);
	ky_device_config_free(d->cfg);
	free(d->image_cache);
}

static int daemon_start(struct dp_daemon *d, struct ky_error **err)
{
	int r;
	const struct ky_device_config_opts copts = { .resource_prefix = d->opts->resource_prefix };
	if ((r = ky_device_config_load_opts(d->opts->config_path, &copts, &d->cfg, err)) < 0 ||
	    (r = dp_plugins_check(d->cfg, d->opts->plugin_dir, err)) < 0)
		return r;
	if (!(d->image_cache = ky_device_image_cache_dir(d->opts->state_dir)))
		return ky_error_set(err, ENOMEM, "out of memory");
	d->images = (struct ky_device_images){ .cache_dir = d->image_cache, .fetch_helper = d->opts->fetch_helper };
	if ((r = ky_loop_new(&d->loop, err)) < 0 || (r = ky_loop_signals(d->loop, on_signal, d, err)) < 0)
		return r;
	/* Listen before the first discovery: a change in between is not lost. */
	if ((r = dp_hotplug_start(d, err)) < 0 || (r = dp_link_start(d, err)) < 0)
		return r;
	if ((r = ky_device_discover(d->cfg, &d->pci, &d->devs, err)) < 0)
		return r;
	dp_link_apply(d, d->cfg, d->devs, d->pci, NULL);
	ky_devices_log_notes(d->cfg, d->pci, d->devs);
	if ((r = ky_mkdir_p(d->opts->plugin_dir, 0750)) < 0)
		return ky_error_set(err, -r, "mkdir %s: %s", d->opts->plugin_dir, strerror(-r));
	if ((r = dp_checkpoint_open(d, err)) < 0)
		return r;
	if ((r = dp_watch_start(d, err)) < 0)
		return r;
	d->plugins = calloc(d->cfg->n_resources + 1, sizeof(*d->plugins));
	if (!d->plugins)
		return ky_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < d->cfg->n_resources; i++) {
		d->n_plugins = i + 1;
		if (d->cfg->resources[i].frontend != KY_FRONTEND_DEVICE_PLUGIN) {
			ky_info("resource-not-served", "name=%s frontend=%s", d->cfg->resources[i].name,
				ky_device_frontend_name(d->cfg->resources[i].frontend));
			continue;
		}
		if ((r = dp_plugin_new(d, &d->cfg->resources[i], &d->devs[i], &d->plugins[i], err)) < 0)
			return r;
		struct dp_plugin *p = d->plugins[i];
		ky_device_prefetch_start(d->loop, &d->prefetches, p->res, &d->images);
		if ((r = dp_server_start(p, err)) < 0)
			return r;
		dp_server_write_cdi(p);
		ky_info("resource", "name=%s kind=%s devices=%zu", p->res->name, ky_device_kind_name(p->res->kind),
			p->devs->n);
	}
	/* Every socket serves before the first Register: kubelet dials back. */
	for (size_t i = 0; i < d->n_plugins; i++)
		if (d->plugins[i])
			dp_register_start(d->plugins[i]);
	return 0;
}

int dp_daemon_run(const struct dp_options *opts, struct ky_error **err)
{
	struct dp_daemon d = { .opts = opts, .inotify_fd = -1 };
	int r = daemon_start(&d, err);
	if (r >= 0)
		r = ky_loop_run(d.loop, err);
	/* However it ends (a signal, a failed start, a loop error), the daemon
	 * is on its way out: a signal arriving during the cleanup must not
	 * take its default action when the loop restores the mask. */
	if (d.loop)
		ky_loop_shutdown(d.loop, 0);
	daemon_release(&d);
	return r < 0 ? r : 0;
}

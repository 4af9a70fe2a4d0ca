/* SIGHUP: the config is read again. Resources whose definition is the same
 * keep their socket, registration and ListAndWatch streams (an update goes
 * out only if their devices changed); changed or new resources are served
 * and registered afresh; removed ones stop serving and lose their socket.
 * A config that does not load changes nothing. */
#include "dp_daemon.h"

#include <errno.h>
#include <stdlib.h>

#include "kyborg/base/error.h"
#include "kyborg/base/log.h"
#include "kyborg/device/cdi_spec.h"

int dp_reload(struct dp_daemon *d, struct ky_error **err)
{
	_cleanup_(ky_device_config_freep) struct ky_device_config *cfg = NULL;
	struct ky_pci_list *pci = NULL;
	struct ky_devlist *devs = NULL;
	int r;

	const struct ky_device_config_opts copts = { .resource_prefix = d->opts->resource_prefix };
	if ((r = ky_device_config_load_opts(d->opts->config_path, &copts, &cfg, err)) < 0 ||
	    (r = dp_plugins_check(cfg, d->opts->plugin_dir, err)) < 0)
		return r;
	if ((r = ky_device_discover(cfg, &pci, &devs, err)) < 0)
		return r;
	dp_link_apply(d, cfg, devs, pci, NULL);
	ky_devices_log_notes(cfg, pci, devs);
	size_t n = cfg->n_resources, n_old = d->n_plugins;
	struct dp_plugin **plugins = calloc(n + 1, sizeof(*plugins));
	_cleanup_free_ bool *kept = calloc(n_old + 1, sizeof(*kept));
	_cleanup_free_ bool *fresh = calloc(n + 1, sizeof(*fresh));
	_cleanup_free_ bool *changed = calloc(n + 1, sizeof(*changed));
	if (!plugins || !kept || !fresh || !changed) {
		free(plugins);
		ky_devlists_free(devs, n);
		ky_pci_list_free(pci);
		return ky_error_set(err, ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		if (cfg->resources[i].frontend != KY_FRONTEND_DEVICE_PLUGIN)
			continue;
		for (size_t j = 0; j < n_old && !plugins[i]; j++) {
			if (!kept[j] && d->plugins[j] && ky_device_resource_equal(&cfg->resources[i], d->plugins[j]->res)) {
				kept[j] = true;
				plugins[i] = d->plugins[j];
			}
		}
	}
	/* New plugins before anything changes: a failure here leaves all as it was. */
	for (size_t i = 0; i < n; i++) {
		if (plugins[i] || cfg->resources[i].frontend != KY_FRONTEND_DEVICE_PLUGIN)
			continue;
		if ((r = dp_plugin_new(d, &cfg->resources[i], &devs[i], &plugins[i], err)) < 0) {
			for (size_t k = 0; k < i; k++)
				if (fresh[k])
					dp_plugin_free(plugins[k]);
			free(plugins);
			ky_devlists_free(devs, n);
			ky_pci_list_free(pci);
			return r;
		}
		fresh[i] = true;
	}
	/* Changed and removed resources go, with their sockets, before a
	 * changed one is served again on the same path. */
	for (size_t j = 0; j < n_old; j++) {
		if (kept[j] || !d->plugins[j])
			continue;
		ky_info("resource-stopped", "name=%s", d->plugins[j]->res->name);
		ky_cdi_resource_remove(d->opts->cdi_dir, d->plugins[j]->res);
		dp_plugin_free(d->plugins[j]);
	}
	struct ky_device_config *old_cfg = d->cfg;
	struct ky_devlist *old_devs = d->devs;
	struct ky_pci_list *old_pci = d->pci;
	for (size_t i = 0; i < n; i++) {
		if (fresh[i] || !plugins[i])
			continue;
		changed[i] = !ky_devlist_equal(plugins[i]->devs, &devs[i]);
		plugins[i]->res = &cfg->resources[i];
		plugins[i]->devs = &devs[i];
	}
	free(d->plugins);
	d->plugins = plugins;
	d->n_plugins = n;
	d->cfg = TAKE_PTR(cfg);
	d->devs = devs;
	d->pci = pci;
	ky_devlists_free(old_devs, old_cfg->n_resources);
	ky_pci_list_free(old_pci);
	ky_device_config_free(old_cfg);

	size_t started = 0;
	for (size_t i = 0; i < n; i++) {
		struct dp_plugin *p = d->plugins[i];
		if (!p)
			continue;
		if (fresh[i])
			ky_device_prefetch_start(d->loop, &d->prefetches, p->res, &d->images);
		if (fresh[i] || changed[i])
			dp_server_write_cdi(p);
		if (fresh[i] || !p->srv) {
			/* Fresh: served, then registered (kubelet dials back). */
			ky_info("resource", "name=%s kind=%s devices=%zu", p->res->name, ky_device_kind_name(p->res->kind),
				p->devs->n);
			dp_register_start(p);
			started++;
		} else if (changed[i]) {
			dp_server_broadcast(p);
		}
	}
	ky_info("reloaded", "config=%s resources=%zu started=%zu", d->opts->config_path, n, started);
	return 0;
}

/* One plugin per resource: its endpoint in kubelet's plugin dir, its gRPC
 * methods (the DevicePlugin service and PreStartContainer), and the server
 * and registration that run them. */
#include "dp_daemon.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "kyborg/base/error.h"
#include "kyborg/base/str.h"

/* "kyborg.io/gpu" -> "kyborg-kyborg.io_gpu.sock" */
static char *endpoint_name(const char *resource)
{
	char *s;
	return asprintf(&s, "kyborg-%s.sock", resource) < 0 ? NULL : ky_str_replace_char(s, '/', '_');
}

/* A legal resource name ("<domain>/<name>", up to 253 + 1 + 63 bytes) can
 * make a path that no unix socket address holds: such a resource could
 * never be served, so it is refused up front, by name. */
static int socket_path(const char *plugin_dir, const char *resource, char **endpoint, char **path,
		       struct ky_error **err)
{
	_cleanup_free_ char *e = endpoint_name(resource);
	_cleanup_free_ char *p = NULL;
	if (!e || asprintf(&p, "%s/%s", plugin_dir, e) < 0)
		return ky_error_set(err, ENOMEM, "out of memory");
	size_t max = sizeof(((struct sockaddr_un *)NULL)->sun_path) - 1;
	if (strlen(p) > max)
		return ky_error_set(err, ENAMETOOLONG,
				    "resource %s: its socket %s is %zu bytes, more than the %zu of a unix socket "
				    "address: choose a shorter resource name",
				    resource, p, strlen(p), max);
	if (endpoint)
		*endpoint = TAKE_PTR(e);
	if (path)
		*path = TAKE_PTR(p);
	return 0;
}

int dp_plugins_check(const struct ky_device_config *cfg, const char *plugin_dir, struct ky_error **err)
{
	for (size_t i = 0; i < cfg->n_resources; i++) {
		if (cfg->resources[i].frontend != KY_FRONTEND_DEVICE_PLUGIN)
			continue;
		int r = socket_path(plugin_dir, cfg->resources[i].name, NULL, NULL, err);
		if (r < 0)
			return ky_error_prefix(err, "resources[%zu].name", i);
	}
	return 0;
}

int dp_plugin_new(struct dp_daemon *d, const struct ky_device_resource *res, const struct ky_devlist *devs,
		  struct dp_plugin **out, struct ky_error **err)
{
	struct dp_plugin *p = calloc(1, sizeof(*p));
	int r;
	if (!p)
		return ky_error_set(err, ENOMEM, "out of memory");
	*p = (struct dp_plugin){ .d = d, .res = res, .devs = devs };
	if ((r = socket_path(d->opts->plugin_dir, res->name, &p->endpoint, &p->socket_path, err)) < 0) {
		dp_plugin_free(p);
		return r;
	}
	dp_server_methods(p, p->methods);
	dp_prestart_method(p, &p->methods[DP_SERVER_METHODS]);
	if ((r = dp_register_init(p, err)) < 0) {
		dp_plugin_free(p);
		return r;
	}
	*out = p;
	return 0;
}

void dp_plugin_free(struct dp_plugin *p)
{
	if (!p)
		return;
	dp_register_release(p);
	dp_server_release(p);
	free(p->endpoint);
	free(p->socket_path);
	free(p);
}

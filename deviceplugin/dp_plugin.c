/* One plugin per resource: its endpoint in kubelet's plugin dir, its gRPC
 * methods (the DevicePlugin service and PreStartContainer), and the server
 * and registration that run them. */
#include "dp_daemon.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "kyborg/base/error.h"
#include "kyborg/base/str.h"

/* "kyborg.io/gpu" -> "kyborg-kyborg.io_gpu.sock" */
static char *endpoint_name(const char *resource)
{
	char *s;
	return asprintf(&s, "kyborg-%s.sock", resource) < 0 ? NULL : ky_str_replace_char(s, '/', '_');
}

int dp_plugin_new(struct dp_daemon *d, const struct ky_device_resource *res, const struct ky_devlist *devs,
		  struct dp_plugin **out, struct ky_error **err)
{
	struct dp_plugin *p = calloc(1, sizeof(*p));
	int r;
	if (!p)
		return ky_error_set(err, ENOMEM, "out of memory");
	*p = (struct dp_plugin){ .d = d, .res = res, .devs = devs };
	p->endpoint = endpoint_name(p->res->name);
	if (!p->endpoint || asprintf(&p->socket_path, "%s/%s", d->opts->plugin_dir, p->endpoint) < 0) {
		p->socket_path = NULL;
		dp_plugin_free(p);
		return ky_error_set(err, ENOMEM, "out of memory");
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

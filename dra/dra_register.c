/* Registration with kubelet's plugin manager: a socket in its
 * registration dir (<driver>-reg.sock) serving
 * pluginregistration.Registration. Kubelet finds the socket, calls GetInfo
 * (1 s deadline) and learns the DRA socket and the services we serve, v1
 * first (it takes the first it knows), then tells us with
 * NotifyRegistrationStatus whether it took us. */
#include "dra_daemon.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "dra_proto.h"
#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/base/log.h"

static int get_info(void *userdata, const uint8_t *req, size_t req_len, uint8_t **resp, size_t *resp_len,
		    struct ky_error **err)
{
	struct dra_daemon *d = userdata;
	static char *versions[] = { DRA_SERVICE_V1, DRA_SERVICE_V1BETA1, DRA_SERVICE_HEALTH };
	Pluginregistration__InfoRequest *r = pluginregistration__info_request__unpack(NULL, req_len, req);
	if (!r)
		return ky_error_set(err, EINVAL, "cannot decode InfoRequest");
	pluginregistration__info_request__free_unpacked(r, NULL);
	Pluginregistration__PluginInfo info = PLUGINREGISTRATION__PLUGIN_INFO__INIT;
	info.type = "DRAPlugin";
	info.name = (char *)d->opts->driver_name;
	info.endpoint = d->dra_path;
	info.n_supported_versions = KY_ARRAY_SIZE(versions);
	info.supported_versions = versions;
	*resp_len = protobuf_c_message_get_packed_size(&info.base);
	if (!(*resp = malloc(*resp_len ? *resp_len : 1)))
		return ky_error_set(err, ENOMEM, "out of memory");
	protobuf_c_message_pack(&info.base, *resp);
	ky_debug("get-info", "driver=%s endpoint=%s", d->opts->driver_name, d->dra_path);
	return 0;
}

static int notify(void *userdata, const uint8_t *req, size_t req_len, uint8_t **resp, size_t *resp_len,
		  struct ky_error **err)
{
	struct dra_daemon *d = userdata;
	Pluginregistration__RegistrationStatus *r = pluginregistration__registration_status__unpack(NULL, req_len, req);
	char q[512];
	if (!r)
		return ky_error_set(err, EINVAL, "cannot decode RegistrationStatus");
	if (r->plugin_registered)
		ky_info("registered", "driver=%s endpoint=%s", d->opts->driver_name, d->dra_path);
	else
		ky_err("registration-refused", "driver=%s error=%s", d->opts->driver_name,
		       ky_log_quote(r->error, q, sizeof(q)));
	pluginregistration__registration_status__free_unpacked(r, NULL);
	*resp = NULL; /* RegistrationStatusResponse is empty */
	*resp_len = 0;
	return 0;
}

void dra_register_methods(struct dra_daemon *d)
{
	d->reg_methods[0] = (struct ky_grpc_method){ .path = DRA_PB_REGISTRATION "GetInfo", .unary = get_info,
						     .userdata = d };
	d->reg_methods[1] = (struct ky_grpc_method){ .path = DRA_PB_REGISTRATION "NotifyRegistrationStatus",
						     .unary = notify, .userdata = d };
}

int dra_register_start(struct dra_daemon *d, struct ky_error **err)
{
	dra_register_stop(d);
	int r = ky_grpc_server_new(d->loop, d->reg_path, d->reg_methods, DRA_REG_METHODS, &d->reg_srv, err);
	if (r < 0)
		return ky_error_prefix(err, "serve the registration socket");
	ky_info("serving", "socket=%s what=registration", d->reg_path);
	return 0;
}

void dra_register_stop(struct dra_daemon *d)
{
	ky_grpc_server_free(d->reg_srv);
	d->reg_srv = NULL;
}

bool dra_register_present(const struct dra_daemon *d)
{
	struct stat st;
	return d->reg_srv && stat(d->reg_path, &st) == 0 && S_ISSOCK(st.st_mode);
}

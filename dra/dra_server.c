/* The DRA socket (<plugin dir>/dra.sock): the DRAPlugin service of both
 * dra/v1 and dra/v1beta1 (Prepare in dra_prepare.c, Unprepare in
 * dra_unprepare.c) and v1alpha1 health (dra_health.c), on one server. */
#include "dra_daemon.h"

#include <sys/stat.h>

#include "kyborg/base/error.h"
#include "kyborg/base/log.h"

void dra_server_methods(struct dra_daemon *d)
{
	dra_prepare_methods(d, &d->methods[0], &d->methods[1]);
	dra_unprepare_methods(d, &d->methods[2], &d->methods[3]);
	dra_health_method(d, &d->methods[4]);
}

int dra_server_start(struct dra_daemon *d, struct ky_error **err)
{
	dra_server_stop(d);
	int r = ky_grpc_server_new(d->loop, d->dra_path, d->methods, DRA_METHODS, &d->srv, err);
	if (r < 0)
		return ky_error_prefix(err, "serve the DRA socket");
	ky_info("serving", "socket=%s what=dra devices=%zu", d->dra_path, dra_devices_count(d));
	return 0;
}

void dra_server_stop(struct dra_daemon *d)
{
	/* Open streams are reported closed: health streams leave d->health. */
	ky_grpc_server_free(d->srv);
	d->srv = NULL;
}

bool dra_server_present(const struct dra_daemon *d)
{
	struct stat st;
	return d->srv && stat(d->dra_path, &st) == 0 && S_ISSOCK(st.st_mode);
}

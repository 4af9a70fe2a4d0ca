/* STATUS: whether ADD can be served (the state dir writable, the IPAM
 * plugin there). */
#include "cni.h"
#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/base/exec.h"
#include "kyborg/state/state_store.h"

#include <errno.h>
#include <unistd.h>

int ky_cni_status(struct ky_cni *c, struct ky_error **err)
{
	_cleanup_(ky_state_closep) struct ky_state_store *store = NULL;
	int ret = ky_state_open(c->conf.state_dir, &store, err);
	if (ret < 0 || (ret = access(c->conf.state_dir, W_OK) < 0 ? -errno : 0) < 0) {
		if (ret == -EACCES || ret == -EROFS)
			ky_error_set(err, -ret, "state dir %s is not writable", c->conf.state_dir);
		else
			ky_error_prefix(err, "state dir");
		return ky_error_set_status(err, KY_CNI_E_UNAVAILABLE);
	}
	if (c->conf.has_ipam) {
		_cleanup_free_ char *bin = NULL;
		if ((ret = ky_exec_find(c->conf.ipam_type, c->env.path, &bin, err)) < 0) {
			ky_error_prefix(err, "IPAM");
			return ky_error_set_status(err, KY_CNI_E_UNAVAILABLE);
		}
	}
	return 0;
}

/* devlink's eswitch mode over generic netlink: DEVLINK_CMD_ESWITCH_GET and
 * _SET on the handle (bus name, device name). The only file that needs
 * libnl-genl: binaries that never pull it (the device plugin) do not map it. */
#include "kyborg/net/devlink.h"
#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/net/netlink.h"
#include "netlink_private.h"

#include <errno.h>
#include <linux/devlink.h>
#include <linux/netlink.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <string.h>

const char *ky_eswitch_mode_name(enum ky_eswitch_mode mode)
{
	switch (mode) {
	case KY_ESWITCH_LEGACY:
		return "legacy";
	case KY_ESWITCH_SWITCHDEV:
		return "switchdev";
	default:
		return "unknown";
	}
}


/* A generic netlink socket and devlink's family ID. */
static int open_devlink(struct ky_nl **nl, int *family, struct ky_error **err)
{
	int r = ky_nl_open_proto(nl, NETLINK_GENERIC, err);
	if (r < 0)
		return r;
	*family = genl_ctrl_resolve(ky_nl_sock(*nl), DEVLINK_GENL_NAME);
	if (*family < 0)
		return ky_error_set(err, EOPNOTSUPP, "devlink is not available in this kernel (no generic netlink family %s)",
				    DEVLINK_GENL_NAME);
	return 0;
}

static struct nl_msg *request(int family, int cmd, const char *bus, const char *dev)
{
	struct nl_msg *msg = nlmsg_alloc();
	if (!msg)
		return NULL;
	if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, family, 0, 0, (uint8_t)cmd, DEVLINK_GENL_VERSION) ||
	    nla_put_string(msg, DEVLINK_ATTR_BUS_NAME, bus) < 0 || nla_put_string(msg, DEVLINK_ATTR_DEV_NAME, dev) < 0) {
		nlmsg_free(msg);
		return NULL;
	}
	return msg;
}

struct mode_answer {
	int mode; /* -1 until the answer carries one */
};

static int on_mode(struct nl_msg *msg, void *arg)
{
	struct mode_answer *a = arg;
	struct nlattr *tb[DEVLINK_ATTR_MAX + 1];
	if (genlmsg_parse(nlmsg_hdr(msg), 0, tb, DEVLINK_ATTR_MAX, NULL) < 0)
		return NL_SKIP;
	if (tb[DEVLINK_ATTR_ESWITCH_MODE])
		a->mode = nla_get_u16(tb[DEVLINK_ATTR_ESWITCH_MODE]);
	return NL_OK;
}

int ky_devlink_eswitch_get(const char *bus, const char *dev, enum ky_eswitch_mode *out, struct ky_error **err)
{
	_cleanup_(ky_nl_closep) struct ky_nl *nl = NULL;
	int family, r;
	if ((r = open_devlink(&nl, &family, err)) < 0)
		return r;
	struct mode_answer a = { .mode = -1 };
	r = ky_nl_transact_cb(nl, request(family, DEVLINK_CMD_ESWITCH_GET, bus, dev), on_mode, &a, err);
	if (r < 0)
		return ky_error_prefix(err, "devlink %s/%s eswitch mode", bus, dev);
	switch (a.mode) {
	case DEVLINK_ESWITCH_MODE_LEGACY:
		*out = KY_ESWITCH_LEGACY;
		return 0;
	case DEVLINK_ESWITCH_MODE_SWITCHDEV:
		*out = KY_ESWITCH_SWITCHDEV;
		return 0;
	case -1:
		return ky_error_set(err, EPROTO, "devlink %s/%s: the answer carries no eswitch mode", bus, dev);
	default:
		return ky_error_set(err, EPROTO, "devlink %s/%s: eswitch mode %d is neither legacy nor switchdev", bus,
				    dev, a.mode);
	}
}

int ky_devlink_eswitch_set(const char *bus, const char *dev, enum ky_eswitch_mode mode, struct ky_error **err)
{
	_cleanup_(ky_nl_closep) struct ky_nl *nl = NULL;
	int family, r;
	if (mode != KY_ESWITCH_LEGACY && mode != KY_ESWITCH_SWITCHDEV)
		return ky_error_set(err, EINVAL, "devlink %s/%s: no eswitch mode to set", bus, dev);
	if ((r = open_devlink(&nl, &family, err)) < 0)
		return r;
	_cleanup_(nlmsg_freep) struct nl_msg *msg = request(family, DEVLINK_CMD_ESWITCH_SET, bus, dev);
	uint16_t m = mode == KY_ESWITCH_SWITCHDEV ? DEVLINK_ESWITCH_MODE_SWITCHDEV : DEVLINK_ESWITCH_MODE_LEGACY;
	if (!msg || nla_put_u16(msg, DEVLINK_ATTR_ESWITCH_MODE, m) < 0)
		return ky_error_set(err, ENOMEM, "devlink request: out of memory");
	r = ky_nl_transact(nl, TAKE_PTR(msg), err);
	if (r < 0)
		return ky_error_prefix(err, "devlink %s/%s: set eswitch mode %s", bus, dev, ky_eswitch_mode_name(mode));
	return 0;
}

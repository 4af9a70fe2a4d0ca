/* devlink over generic netlink (libnl-genl): a device's eswitch mode, the
 * whole-device switch between legacy SR-IOV and switchdev (VF
 * representors). A device is named by its devlink handle: bus "pci" and
 * the PCI address, or "netdevsim" and "netdevsim<N>". */
#pragma once

struct ky_error;

enum ky_eswitch_mode {
	KY_ESWITCH_UNKNOWN = 0, /* unset in a profile; unreadable on a device */
	KY_ESWITCH_LEGACY = 1,
	KY_ESWITCH_SWITCHDEV = 2,
};

const char *ky_eswitch_mode_name(enum ky_eswitch_mode mode); /* "legacy", "switchdev", "unknown" */

/* -EOPNOTSUPP "devlink is not available ..." when the kernel has no devlink
 * family; otherwise the kernel's errno and extended-ack text (-ENODEV for
 * a device without a devlink instance, -EOPNOTSUPP for a driver without
 * eswitch support). */
int ky_devlink_eswitch_get(const char *bus, const char *dev, enum ky_eswitch_mode *out, struct ky_error **err);
int ky_devlink_eswitch_set(const char *bus, const char *dev, enum ky_eswitch_mode mode, struct ky_error **err);

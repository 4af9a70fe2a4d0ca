/* Whole-function sysfs writes: a PF's VF count (through 0, as the kernel
 * requires to change a non-zero count) and a function's driver through
 * driver_override. Each write that took effect is told to the caller's log,
 * so a report says exactly what was done and where it stopped. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct ky_error;

/* Told of each write that took effect, in order: "wrote \"3\" to PATH".
 * A negative return fails the call with -ENOMEM. */
struct ky_sysfs_log {
	int (*wrote)(void *ctx, const char *step);
	void *ctx;
};

/* Sets devpath's sriov_numvfs (devpath: "/sys/bus/pci/devices/ADDR" or any
 * device directory with that attribute) from cur to want, through 0 when
 * both are non-zero, as the kernel requires. log may be NULL. When the
 * second write fails the previous count is written back and the error says
 * whether that worked. */
int ky_sriov_set_num_vfs(const char *devpath, int cur, int want, const struct ky_sysfs_log *log,
			 struct ky_error **err);
/* Binds the PCI function addr to driver through driver_override: override,
 * unbind from the current driver, bind. A function already on it is left
 * alone. A driver that is not loaded is refused before anything is
 * written; a failed bind puts the override and the old driver back. */
int ky_pci_bind_driver(const char *addr, const char *driver, const struct ky_sysfs_log *log, struct ky_error **err);

/* A function's driver ("" when none is bound) and its driver_override
 * ("" when none: the kernel shows "(null)"), read from sysfs. */
int ky_pci_driver_get(const char *addr, char *buf, size_t size, struct ky_error **err);
int ky_pci_driver_override_get(const char *addr, char *buf, size_t size, struct ky_error **err);
/* Writes driver_override ("" clears it). */
int ky_pci_driver_override_set(const char *addr, const char *value, const struct ky_sysfs_log *log,
			       struct ky_error **err);
/* Whether a driver hands the function to userspace (vfio-pci,
 * uio_pci_generic, igb_uio): it has no netdev. */
bool ky_pci_driver_is_userspace(const char *driver);
/* Gives the function back to the kernel's choice of driver: the override
 * cleared, the function unbound from its driver, and drivers_probe asked
 * to bind the driver that matches it (for a VF, its network driver). */
int ky_pci_bind_default_driver(const char *addr, const struct ky_sysfs_log *log, struct ky_error **err);

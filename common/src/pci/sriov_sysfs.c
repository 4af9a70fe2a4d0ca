/* The sysfs writes of kyborg/pci/sriov_sysfs.h. */
#include "kyborg/pci/sriov_sysfs.h"
#include "kyborg/base/error.h"
#include "kyborg/base/cleanup.h"
#include "kyborg/base/fileio.h"
#include "kyborg/pci/pci.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define PCI_DEVICES "/sys/bus/pci/devices"
#define PCI_DRIVERS "/sys/bus/pci/drivers"

/* One write(2) of value: a sysfs store's errno is the driver's answer. */
static int sysfs_write(const char *path, const char *value, const struct ky_sysfs_log *log, struct ky_error **err)
{
	/* O_TRUNC as the shell's ">" opens it: sysfs ignores it (a store is
	 * one write), a plain file standing in for an attribute needs it. */
	_cleanup_close_ int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return ky_error_set(err, errno, "open %s: %m", path);
	ssize_t w = write(fd, value, strlen(value));
	if (w < 0)
		return ky_error_set(err, errno, "write \"%s\" to %s: %m", value, path);
	if ((size_t)w != strlen(value))
		return ky_error_set(err, EIO, "write \"%s\" to %s: short write", value, path);
	/* "\n" clears driver_override: shown as "". */
	if (log) {
		char step[PATH_MAX + 64];
		snprintf(step, sizeof(step), "wrote \"%.*s\" to %s", (int)strcspn(value, "\n"), value, path);
		if (log->wrote(log->ctx, step) < 0)
			return ky_error_set(err, ENOMEM, "out of memory");
	}
	return 0;
}

static int write_num_vfs(const char *devpath, int n, const struct ky_sysfs_log *log, struct ky_error **err)
{
	char path[PATH_MAX], value[16];
	snprintf(path, sizeof(path), "%s/sriov_numvfs", devpath);
	snprintf(value, sizeof(value), "%d", n);
	return sysfs_write(path, value, log, err);
}

int ky_sriov_set_num_vfs(const char *devpath, int cur, int want, const struct ky_sysfs_log *log, struct ky_error **err)
{
	int r;
	if (cur == want)
		return 0;
	if (cur > 0 && want > 0 && (r = write_num_vfs(devpath, 0, log, err)) < 0)
		return ky_error_prefix(err, "set %d VFs (from %d): first step to 0", want, cur);
	if ((r = write_num_vfs(devpath, want, log, err)) >= 0)
		return 0;
	if (cur == 0 || want == 0)
		return ky_error_prefix(err, "set %d VFs (from %d); the count is unchanged", want, cur);
	/* The VFs are gone already: bring the previous count back. */
	_cleanup_error_ struct ky_error *rerr = NULL;
	if (write_num_vfs(devpath, cur, log, &rerr) < 0)
		return ky_error_prefix(err, "set %d VFs (from %d); putting back %d failed too (%s): the device has 0 VFs now",
				       want, cur, cur, ky_error_msg(rerr));
	return ky_error_prefix(err, "set %d VFs (from %d); put back the previous %d VFs", want, cur, cur);
}

/* The function's current driver, "" when unbound. */
static int current_driver(const char *addr, char *buf, size_t size)
{
	char path[PATH_MAX], target[PATH_MAX];
	snprintf(path, sizeof(path), PCI_DEVICES "/%s/driver", addr);
	ssize_t n = readlink(path, target, sizeof(target) - 1);
	buf[0] = '\0';
	if (n < 0)
		return errno == ENOENT ? 0 : -errno;
	target[n] = '\0';
	const char *base = strrchr(target, '/');
	if (snprintf(buf, size, "%s", base ? base + 1 : target) >= (int)size)
		return -ENAMETOOLONG;
	return 0;
}

int ky_pci_bind_driver(const char *addr_in, const char *driver, const struct ky_sysfs_log *log, struct ky_error **err)
{
	char addr[KY_PCI_ADDR_LEN], cur[256], path[PATH_MAX], bind[PATH_MAX];
	int r;
	if (ky_pci_addr_normalize(addr_in, addr) < 0)
		return ky_error_set(err, EINVAL, "invalid PCI address");
	if (!*driver || strchr(driver, '/') || driver[0] == '.')
		return ky_error_set(err, EINVAL, "invalid driver name");
	if ((r = current_driver(addr, cur, sizeof(cur))) < 0)
		return ky_error_set(err, -r, "%s: read its driver: %s", addr, strerror(-r));
	if (strcmp(cur, driver) == 0)
		return 0;
	if (snprintf(bind, sizeof(bind), PCI_DRIVERS "/%s/bind", driver) >= (int)sizeof(bind))
		return ky_error_set(err, ENAMETOOLONG, "invalid driver name");
	if (access(bind, W_OK) < 0)
		return ky_error_set(err, ENOENT, "%s: driver %s is not loaded (no %s); nothing changed", addr, driver, bind);

	snprintf(path, sizeof(path), PCI_DEVICES "/%s/driver_override", addr);
	if ((r = sysfs_write(path, driver, log, err)) < 0)
		return ky_error_prefix(err, "%s: nothing changed", addr);
	if (cur[0]) {
		char unbind[PATH_MAX];
		snprintf(unbind, sizeof(unbind), PCI_DEVICES "/%s/driver/unbind", addr);
		if ((r = sysfs_write(unbind, addr, log, err)) < 0)
			goto undo_override;
	}
	if ((r = sysfs_write(bind, addr, log, err)) >= 0)
		return 0;
	/* Put the function back on its old driver, without the override. */
	if (cur[0]) {
		_cleanup_error_ struct ky_error *rerr = NULL;
		char old[PATH_MAX];
		int n = snprintf(old, sizeof(old), PCI_DRIVERS "/%s/bind", cur);
		sysfs_write(path, "\n", log, &rerr);
		if (n >= (int)sizeof(old) || sysfs_write(old, addr, log, &rerr) < 0)
			return ky_error_prefix(err, "%s: bind to %s; binding it back to %s failed too (%s): it has no driver now",
					       addr, driver, cur, ky_error_msg(rerr));
		return ky_error_prefix(err, "%s: bind to %s; put it back on %s", addr, driver, cur);
	}
undo_override:;
	_cleanup_error_ struct ky_error *rerr = NULL;
	sysfs_write(path, "\n", log, &rerr);
	return ky_error_prefix(err, "%s: bind to %s; cleared the override, it stays on %s", addr, driver,
			       cur[0] ? cur : "no driver");
}

int ky_pci_driver_get(const char *addr_in, char *buf, size_t size, struct ky_error **err)
{
	char addr[KY_PCI_ADDR_LEN];
	if (ky_pci_addr_normalize(addr_in, addr) < 0)
		return ky_error_set(err, EINVAL, "invalid PCI address");
	int r = current_driver(addr, buf, size);
	return r < 0 ? ky_error_set(err, -r, "%s: read its driver: %s", addr, strerror(-r)) : 0;
}

int ky_pci_driver_override_get(const char *addr_in, char *buf, size_t size, struct ky_error **err)
{
	char addr[KY_PCI_ADDR_LEN], path[PATH_MAX];
	_cleanup_free_ char *text = NULL;
	if (ky_pci_addr_normalize(addr_in, addr) < 0)
		return ky_error_set(err, EINVAL, "invalid PCI address");
	snprintf(path, sizeof(path), PCI_DEVICES "/%s/driver_override", addr);
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t len = 0;
	int r = fd < 0 ? -errno : ky_read_all(fd, 4096, &text, &len);
	if (r < 0)
		return ky_error_set(err, -r, "read %s: %s", path, strerror(-r));
	len = strcspn(text, "\n");
	text[len] = '\0';
	/* The kernel shows an unset override as "(null)". */
	if (snprintf(buf, size, "%s", strcmp(text, "(null)") == 0 ? "" : text) >= (int)size)
		return ky_error_set(err, ENAMETOOLONG, "%s: too long", path);
	return 0;
}

int ky_pci_driver_override_set(const char *addr_in, const char *value, const struct ky_sysfs_log *log,
			       struct ky_error **err)
{
	char addr[KY_PCI_ADDR_LEN], path[PATH_MAX];
	if (ky_pci_addr_normalize(addr_in, addr) < 0)
		return ky_error_set(err, EINVAL, "invalid PCI address");
	if (strchr(value, '/') || strchr(value, '\n'))
		return ky_error_set(err, EINVAL, "invalid driver name");
	snprintf(path, sizeof(path), PCI_DEVICES "/%s/driver_override", addr);
	/* "\n" clears it: an empty write is refused by the kernel. */
	return sysfs_write(path, *value ? value : "\n", log, err);
}

bool ky_pci_driver_is_userspace(const char *driver)
{
	static const char *const names[] = { "vfio-pci", "uio_pci_generic", "igb_uio" };
	for (size_t i = 0; driver && i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(driver, names[i]) == 0)
			return true;
	return false;
}

int ky_pci_bind_default_driver(const char *addr_in, const struct ky_sysfs_log *log, struct ky_error **err)
{
	char addr[KY_PCI_ADDR_LEN], cur[256], path[PATH_MAX];
	int r;
	if (ky_pci_addr_normalize(addr_in, addr) < 0)
		return ky_error_set(err, EINVAL, "invalid PCI address");
	if ((r = current_driver(addr, cur, sizeof(cur))) < 0)
		return ky_error_set(err, -r, "%s: read its driver: %s", addr, strerror(-r));
	snprintf(path, sizeof(path), PCI_DEVICES "/%s/driver_override", addr);
	if ((r = sysfs_write(path, "\n", log, err)) < 0)
		return ky_error_prefix(err, "%s: nothing changed", addr);
	if (cur[0]) {
		snprintf(path, sizeof(path), PCI_DEVICES "/%s/driver/unbind", addr);
		if ((r = sysfs_write(path, addr, log, err)) < 0)
			return ky_error_prefix(err, "%s: unbind from %s", addr, cur);
	}
	if ((r = sysfs_write("/sys/bus/pci/drivers_probe", addr, log, err)) < 0)
		return ky_error_prefix(err, "%s: unbound from %s; no driver took it", addr, cur[0] ? cur : "no driver");
	return 0;
}

/* The PCI facts read straight from sysfs, without libudev: the links
 * (physfn, virtfnN, driver) and the netdevs of a function. Shared by the
 * libudev discovery and by ky_pci_lookup_net(), which lets a binary that
 * only resolves network devices (the CNI plugin, exec'd twice per pod) do
 * without loading libudev. Under umockdev the preload redirects readlink()
 * and opendir() as it does libudev. */
#include "kyborg/pci/pci.h"
#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/base/log.h"
#include "pci_internal.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void ky_pci_warn_ignored(const char *addr, const char *attr, const char *value)
{
	char q[128];
	ky_warn("pci-attr-ignored", "addr=%s attr=%s value=%s", addr, attr, ky_log_quote(value, q, sizeof(q)));
}

int ky_pci_read_link(const char *syspath, const char *name, char *buf, size_t size)
{
	char path[PATH_MAX];
	int n = snprintf(path, sizeof(path), "%s/%s", syspath, name);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	ssize_t len = readlink(path, buf, size - 1);
	if (len < 0)
		return -errno;
	buf[len] = '\0';
	return 0;
}

void ky_pci_read_physfn(struct ky_pci_dev *dev)
{
	char target[PATH_MAX];
	if (ky_pci_read_link(dev->syspath, "physfn", target, sizeof(target)) < 0)
		return;
	if (ky_pci_addr_normalize(ky_pci_link_basename(target), dev->physfn) < 0) {
		ky_pci_warn_ignored(dev->addr, "physfn", target);
		dev->physfn[0] = '\0';
	}
}

int ky_pci_read_virtfns(struct ky_pci_dev *dev)
{
	_cleanup_closedir_ DIR *dir = opendir(dev->syspath);
	if (!dir)
		return errno == ENOENT ? -ENODEV : -errno;
	for (;;) {
		errno = 0;
		struct dirent *de = readdir(dir);
		if (!de)
			return errno ? -errno : 0;
		unsigned idx;
		if (ky_pci_parse_virtfn_name(de->d_name, &idx) < 0)
			continue;
		char target[PATH_MAX], canon[KY_PCI_ADDR_LEN];
		if (ky_pci_read_link(dev->syspath, de->d_name, target, sizeof(target)) < 0)
			continue;
		if (ky_pci_addr_normalize(ky_pci_link_basename(target), canon) < 0) {
			ky_pci_warn_ignored(dev->addr, de->d_name, target);
			continue;
		}
		int r = ky_pci_strv_set(&dev->virtfns, &dev->n_virtfns, idx, canon);
		if (r < 0)
			return r;
	}
}

/* The interfaces under <syspath>/net, sorted. */
static int read_netdevs(struct ky_pci_dev *dev)
{
	char path[PATH_MAX];
	if (snprintf(path, sizeof(path), "%s/net", dev->syspath) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	_cleanup_closedir_ DIR *dir = opendir(path);
	if (!dir)
		return errno == ENOENT ? 0 : -errno;
	for (;;) {
		errno = 0;
		struct dirent *de = readdir(dir);
		if (!de)
			break;
		if (de->d_name[0] == '.')
			continue;
		int r = ky_pci_strv_push(&dev->netdevs, &dev->n_netdevs, de->d_name);
		if (r < 0)
			return r;
	}
	if (errno)
		return -errno;
	ky_pci_strv_sort_unique(dev->netdevs, &dev->n_netdevs);
	return 0;
}

static int fill_net(struct ky_pci_dev *dev, struct ky_error **err)
{
	char path[64], target[PATH_MAX];
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s", dev->addr);
	if (access(path, F_OK) < 0)
		return ky_error_set(err, ENODEV, "no PCI device %s", dev->addr);
	if (!(dev->syspath = strdup(path)))
		return ky_error_set(err, ENOMEM, "PCI device %s: out of memory", dev->addr);
	dev->numa_node = dev->iommu_group = dev->sriov_totalvfs = dev->sriov_numvfs = -1;
	if (ky_pci_read_link(dev->syspath, "driver", target, sizeof(target)) == 0 &&
	    !(dev->driver = strdup(ky_pci_link_basename(target))))
		return ky_error_set(err, ENOMEM, "PCI device %s: out of memory", dev->addr);
	ky_pci_read_physfn(dev);
	int r = ky_pci_read_virtfns(dev);
	if (r < 0)
		return ky_error_set(err, -r, "PCI device %s: read virtfn links: %s", dev->addr, strerror(-r));
	if ((r = read_netdevs(dev)) < 0)
		return ky_error_set(err, -r, "PCI device %s: read its interfaces: %s", dev->addr, strerror(-r));
	return 0;
}

int ky_pci_lookup_net(const char *addr, struct ky_pci_dev **out, struct ky_error **err)
{
	_cleanup_(ky_pci_dev_freep) struct ky_pci_dev *dev = calloc(1, sizeof(*dev));
	if (!dev)
		return ky_error_set(err, ENOMEM, "PCI device: out of memory");
	if (ky_pci_addr_normalize(addr, dev->addr) < 0) {
		char q[64];
		return ky_error_set(err, EINVAL, "invalid PCI address %s", ky_log_quote(addr, q, sizeof(q)));
	}
	int r = fill_net(dev, err);
	if (r < 0)
		return r;
	*out = TAKE_PTR(dev);
	return 0;
}

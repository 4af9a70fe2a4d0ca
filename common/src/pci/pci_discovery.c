/* PCI discovery through libudev: each function's attributes, links and
 * child devices into a struct ky_pci_dev; the parsing is pci_addr.c's. */
#include "kyborg/pci/pci.h"
#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/base/fileio.h"
#include "kyborg/base/log.h"
#include "pci_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <libudev.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

KY_DEFINE_CLEANUP(struct udev, udev_unref)
KY_DEFINE_CLEANUP(struct udev_enumerate, udev_enumerate_unref)
KY_DEFINE_CLEANUP(struct udev_device, udev_device_unref)

/* vendor, device, class: without them the function cannot be told apart. */
static int read_required_hex(struct udev_device *d, const char *addr, const char *attr, uint32_t max, uint32_t *out,
			     struct ky_error **err)
{
	const char *v = udev_device_get_sysattr_value(d, attr);
	if (!v)
		return ky_error_set(err, EINVAL, "PCI device %s has no %s attribute", addr, attr);
	if (ky_pci_parse_hex(v, max, out) < 0) {
		char q[128];
		return ky_error_set(err, EINVAL, "PCI device %s: bad %s %s", addr, attr, ky_log_quote(v, q, sizeof(q)));
	}
	return 0;
}

static uint16_t read_optional_id(struct udev_device *d, const char *addr, const char *attr)
{
	uint32_t v;
	const char *s = udev_device_get_sysattr_value(d, attr);
	if (!s)
		return 0;
	if (ky_pci_parse_hex(s, 0xffff, &v) < 0) {
		ky_pci_warn_ignored(addr, attr, s);
		return 0;
	}
	return (uint16_t)v;
}

/* numa_node and the sriov counts: -1 when absent, negative or unreadable. */
static int read_optional_int(struct udev_device *d, const char *addr, const char *attr)
{
	int v;
	const char *s = udev_device_get_sysattr_value(d, attr);
	if (!s)
		return -1;
	if (ky_pci_parse_int(s, &v) < 0) {
		ky_pci_warn_ignored(addr, attr, s);
		return -1;
	}
	return v < 0 ? -1 : v;
}

static int read_iommu_group(const struct ky_pci_dev *dev)
{
	char target[PATH_MAX];
	int group;
	if (ky_pci_read_link(dev->syspath, "iommu_group", target, sizeof(target)) < 0)
		return -1;
	const char *base = ky_pci_link_basename(target);
	if (ky_pci_parse_int(base, &group) < 0 || group < 0) {
		ky_pci_warn_ignored(dev->addr, "iommu_group", target);
		return -1;
	}
	return group;
}

/* A child belongs to the PCI function nearest above it: the nodes under a
 * bridge's downstream GPU are the GPU's, not the bridge's. */
static bool owned_by(struct udev_device *child, const char *fn_syspath)
{
	for (struct udev_device *p = udev_device_get_parent(child); p; p = udev_device_get_parent(p)) {
		const char *ss = udev_device_get_subsystem(p);
		if (ss && strcmp(ss, "pci") == 0)
			return strcmp(udev_device_get_syspath(p), fn_syspath) == 0;
	}
	return false;
}

static unsigned short read_link_type(struct udev_device *net)
{
	int v;
	const char *s = udev_device_get_sysattr_value(net, "type");
	return s && ky_pci_parse_int(s, &v) == 0 && v > 0 && v <= 0xffff ? (unsigned short)v : 0;
}

static int read_children(struct udev *udev, struct udev_device *fn, struct ky_pci_dev *dev)
{
	_cleanup_(udev_enumerate_unrefp) struct udev_enumerate *e = udev_enumerate_new(udev);
	if (!e)
		return -ENOMEM;
	int r = udev_enumerate_add_match_parent(e, fn);
	if (r < 0)
		return r;
	r = udev_enumerate_scan_devices(e);
	if (r < 0)
		return r;

	_cleanup_free_ char *first_net = NULL;
	struct udev_list_entry *le;
	udev_list_entry_foreach(le, udev_enumerate_get_list_entry(e))
	{
		const char *path = udev_list_entry_get_name(le);
		if (strcmp(path, dev->syspath) == 0)
			continue;
		_cleanup_(udev_device_unrefp) struct udev_device *c = udev_device_new_from_syspath(udev, path);
		if (!c || !owned_by(c, dev->syspath))
			continue; /* gone meanwhile, or another function's */
		const char *ss = udev_device_get_subsystem(c);
		const char *name = udev_device_get_sysname(c);
		if (ss && name && strcmp(ss, "net") == 0) {
			r = ky_pci_strv_push(&dev->netdevs, &dev->n_netdevs, name);
			if (r < 0)
				return r;
			/* The link type of the first interface by name, as SRIOV-DP's
			 * linkTypes reads it (the kernel's "type", an ARPHRD_*). */
			if (!first_net || strcmp(name, first_net) < 0) {
				free(first_net);
				if (!(first_net = strdup(name)))
					return -ENOMEM;
				dev->link_type = read_link_type(c);
			}
		}
		/* An RDMA device (mlx5_2, irdma0): its uverbs, umad and issm
		 * nodes are children of the function too (infiniband_verbs/,
		 * infiniband_mad/), and arrive with the devnodes below. */
		if (ss && name && strcmp(ss, "infiniband") == 0 &&
		    (r = ky_pci_strv_push(&dev->rdma_devs, &dev->n_rdma_devs, name)) < 0)
			return r;
		const char *node = udev_device_get_devnode(c);
		if (node) {
			r = ky_pci_strv_push(&dev->devnodes, &dev->n_devnodes, node);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

int ky_pci_nvidia_minor_parse(const char *information)
{
	const char *p = information ? strstr(information, "Device Minor:") : NULL;
	char *end;
	if (!p)
		return -1;
	p += strlen("Device Minor:");
	errno = 0;
	long v = strtol(p, &end, 10);
	if (errno || end == p || v < 0 || v > 255 || (*end && *end != '\n' && *end != ' '))
		return -1;
	return (int)v;
}

/* NVIDIA's driver makes no udev children: its nodes are /dev/nvidia<minor>
 * (the minor is in /proc/driver/nvidia/gpus/<addr>/information) and the
 * shared /dev/nvidiactl, /dev/nvidia-uvm and /dev/nvidia-uvm-tools, each
 * given only where it exists. */
static int add_nvidia_nodes(struct ky_pci_dev *dev)
{
	static const char *const shared[] = { "/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools" };
	char path[96], node[32];
	int r;
	snprintf(path, sizeof(path), "/proc/driver/nvidia/gpus/%s/information", dev->addr);
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	_cleanup_free_ char *text = NULL;
	size_t len;
	if (fd >= 0 && ky_read_all(fd, 16384, &text, &len) == 0) {
		int minor = ky_pci_nvidia_minor_parse(text);
		snprintf(node, sizeof(node), "/dev/nvidia%d", minor);
		if (minor >= 0 && access(node, F_OK) == 0 && (r = ky_pci_strv_push(&dev->devnodes, &dev->n_devnodes, node)) < 0)
			return r;
	}
	for (size_t i = 0; i < KY_ARRAY_SIZE(shared); i++)
		if (access(shared[i], F_OK) == 0 && (r = ky_pci_strv_push(&dev->devnodes, &dev->n_devnodes, shared[i])) < 0)
			return r;
	return 0;
}

static int read_devnodes(struct udev *udev, struct udev_device *fn, struct ky_pci_dev *dev)
{
	const char *own = udev_device_get_devnode(fn);
	int r;
	if (own && (r = ky_pci_strv_push(&dev->devnodes, &dev->n_devnodes, own)) < 0)
		return r;
	r = read_children(udev, fn, dev);
	if (r < 0)
		return r;
	/* A function handed to vfio-pci is used through its IOMMU group's node. */
	if (dev->driver && strcmp(dev->driver, "vfio-pci") == 0 && dev->iommu_group >= 0) {
		char node[32];
		snprintf(node, sizeof(node), "/dev/vfio/%d", dev->iommu_group);
		if ((r = ky_pci_strv_push(&dev->devnodes, &dev->n_devnodes, node)) < 0)
			return r;
	}
	if (dev->driver && strcmp(dev->driver, "nvidia") == 0 && (r = add_nvidia_nodes(dev)) < 0)
		return r;
	ky_pci_strv_sort_unique(dev->devnodes, &dev->n_devnodes);
	ky_pci_strv_sort_unique(dev->netdevs, &dev->n_netdevs);
	ky_pci_strv_sort_unique(dev->rdma_devs, &dev->n_rdma_devs);
	return 0;
}

static int fill_dev(struct udev *udev, struct udev_device *d, struct ky_pci_dev *dev, struct ky_error **err)
{
	const char *name = udev_device_get_sysname(d);
	uint32_t v;
	int r;

	if (ky_pci_addr_normalize(name, dev->addr) < 0)
		return ky_error_set(err, EINVAL, "PCI device name %s is not an address", name ? name : "(null)");
	dev->syspath = strdup(udev_device_get_syspath(d));
	if (!dev->syspath)
		return ky_error_set(err, ENOMEM, "PCI device %s: out of memory", dev->addr);

	if ((r = read_required_hex(d, dev->addr, "vendor", 0xffff, &v, err)) < 0)
		return r;
	dev->vendor = (uint16_t)v;
	if ((r = read_required_hex(d, dev->addr, "device", 0xffff, &v, err)) < 0)
		return r;
	dev->device = (uint16_t)v;
	if ((r = read_required_hex(d, dev->addr, "class", 0xffffff, &v, err)) < 0)
		return r;
	dev->class_code = v;
	dev->subsys_vendor = read_optional_id(d, dev->addr, "subsystem_vendor");
	dev->subsys_device = read_optional_id(d, dev->addr, "subsystem_device");

	const char *driver = udev_device_get_driver(d);
	if (driver && !(dev->driver = strdup(driver)))
		return ky_error_set(err, ENOMEM, "PCI device %s: out of memory", dev->addr);

	dev->numa_node = read_optional_int(d, dev->addr, "numa_node");
	dev->sriov_totalvfs = read_optional_int(d, dev->addr, "sriov_totalvfs");
	dev->sriov_numvfs = read_optional_int(d, dev->addr, "sriov_numvfs");
	dev->iommu_group = read_iommu_group(dev);
	const char *acpi = udev_device_get_sysattr_value(d, "acpi_index");
	if (acpi && !(dev->acpi_index = ky_pci_strdup_trimmed(acpi)))
		return ky_error_set(err, ENOMEM, "PCI device %s: out of memory", dev->addr);
	ky_pci_read_physfn(dev);

	if ((r = ky_pci_read_virtfns(dev)) < 0)
		return ky_error_set(err, -r, "PCI device %s: read virtfn links: %s", dev->addr, strerror(-r));
	if ((r = read_devnodes(udev, d, dev)) < 0)
		return ky_error_set(err, -r, "PCI device %s: read child devices: %s", dev->addr, strerror(-r));
	return 0;
}

/* Fills *dev, or leaves it empty and returns the failure. */
static int read_dev(struct udev *udev, struct udev_device *d, struct ky_pci_dev *dev, struct ky_error **err)
{
	memset(dev, 0, sizeof(*dev));
	int r = fill_dev(udev, d, dev, err);
	if (r < 0)
		ky_pci_dev_clear(dev);
	return r;
}

static int new_udev(struct udev **out, struct ky_error **err)
{
	errno = 0;
	*out = udev_new();
	if (!*out)
		return ky_error_set(err, errno ? errno : ENOMEM, "udev_new: %s", strerror(errno ? errno : ENOMEM));
	return 0;
}

int ky_pci_discover(struct ky_pci_list **out, struct ky_error **err)
{
	_cleanup_(udev_unrefp) struct udev *udev = NULL;
	int r = new_udev(&udev, err);
	if (r < 0)
		return r;

	_cleanup_(udev_enumerate_unrefp) struct udev_enumerate *e = udev_enumerate_new(udev);
	if (!e)
		return ky_error_set(err, ENOMEM, "udev_enumerate_new: out of memory");
	r = udev_enumerate_add_match_subsystem(e, "pci");
	if (r < 0)
		return ky_error_set(err, -r, "match subsystem pci: %s", strerror(-r));
	r = udev_enumerate_scan_devices(e);
	/* A machine (or container) without PCI has no /sys/bus/pci: an empty list. */
	if (r < 0 && r != -ENOENT)
		return ky_error_set(err, -r, "enumerate PCI devices: %s", strerror(-r));

	_cleanup_(ky_pci_list_freep) struct ky_pci_list *list = calloc(1, sizeof(*list));
	if (!list)
		return ky_error_set(err, ENOMEM, "PCI list: out of memory");
	size_t cap = 0;

	struct udev_list_entry *first = r < 0 ? NULL : udev_enumerate_get_list_entry(e), *le;
	udev_list_entry_foreach(le, first)
	{
		const char *path = udev_list_entry_get_name(le);
		_cleanup_(udev_device_unrefp) struct udev_device *d = udev_device_new_from_syspath(udev, path);
		if (!d) {
			ky_debug("pci-device-gone", "syspath=%s", path);
			continue;
		}
		if (list->n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct ky_pci_dev *nd = realloc(list->devs, ncap * sizeof(*nd));
			if (!nd)
				return ky_error_set(err, ENOMEM, "PCI list: out of memory");
			list->devs = nd;
			cap = ncap;
		}
		_cleanup_error_ struct ky_error *derr = NULL;
		r = read_dev(udev, d, &list->devs[list->n], &derr);
		if (r == -ENOMEM)
			return ky_error_set(err, ENOMEM, "%s", ky_error_msg(derr));
		/* One odd function must not hide the rest of the node. */
		if (r < 0) {
			ky_log_err(KY_LOG_WARN, "pci-device-skipped", derr, "syspath=%s", path);
			continue;
		}
		list->n++;
	}
	ky_pci_list_sort(list);
	*out = TAKE_PTR(list);
	return 0;
}

int ky_pci_lookup(const char *addr, struct ky_pci_dev **out, struct ky_error **err)
{
	char canon[KY_PCI_ADDR_LEN];
	if (ky_pci_addr_normalize(addr, canon) < 0) {
		char q[64];
		return ky_error_set(err, EINVAL, "invalid PCI address %s", ky_log_quote(addr, q, sizeof(q)));
	}

	_cleanup_(udev_unrefp) struct udev *udev = NULL;
	int r = new_udev(&udev, err);
	if (r < 0)
		return r;
	_cleanup_(udev_device_unrefp) struct udev_device *d = udev_device_new_from_subsystem_sysname(udev, "pci", canon);
	if (!d)
		return ky_error_set(err, ENODEV, "no PCI device %s", canon);

	_cleanup_(ky_pci_dev_freep) struct ky_pci_dev *dev = calloc(1, sizeof(*dev));
	if (!dev)
		return ky_error_set(err, ENOMEM, "PCI device %s: out of memory", canon);
	r = read_dev(udev, d, dev, err);
	if (r < 0)
		return r;
	*out = TAKE_PTR(dev);
	return 0;
}

/* host-device's ways of choosing the device, hwaddr (its MAC) and
 * kernelpath (its kernel object under /sys/devices), turned into the
 * netdev name or PCI address the rest of ADD works with. */
#include "cni_private.h"
#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/net/netlink.h"
#include "kyborg/pci/pci.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char sys_devices[] = "/sys/devices/";

static bool same_file(const char *a, const char *b)
{
	_cleanup_free_ char *ra = realpath(a, NULL), *rb = realpath(b, NULL);
	return ra && rb && strcmp(ra, rb) == 0;
}

/* The first entry of dir by name, as host-device's os.ReadDir takes it. */
static int first_entry(const char *dir, char *out, size_t size)
{
	_cleanup_closedir_ DIR *d = opendir(dir);
	if (!d)
		return -errno;
	out[0] = '\0';
	struct dirent *de;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' && strlen(de->d_name) < size && (!out[0] || strcmp(de->d_name, out) < 0))
			snprintf(out, size, "%s", de->d_name);
	return out[0] ? 0 : -ENOENT;
}

/* The kernel object path names a netdev (…/net/<name>, or an object whose
 * net/ holds one) or a PCI function (…/<DDDD:BB:SS.F>, which the PCI path
 * of ADD then takes, VFs included). The path is resolved first and must
 * still lie under /sys/devices: a link out of it names nothing of ours. */
static int select_kernelpath(struct ky_cni_conf *conf, struct ky_error **err)
{
	_cleanup_free_ char *real = realpath(conf->kernelpath, NULL);
	if (!real)
		return ky_error_set(err, errno == ENOENT ? ENODEV : errno, "%s: %s", conf->kernelpath, strerror(errno));
	if (strncmp(real, sys_devices, sizeof(sys_devices) - 1) != 0)
		return ky_error_set(err, EINVAL, "%s resolves to %s, outside %s", conf->kernelpath, real, sys_devices);
	char *base = strrchr(real, '/') + 1;
	char path[PATH_MAX];
	/* A netdev's own object. */
	if (base - real > 5 && strncmp(base - 5, "/net/", 5) == 0 && strlen(base) < IFNAMSIZ) {
		snprintf(path, sizeof(path), "/sys/class/net/%s", base);
		if (ky_ifname_valid(base) && same_file(path, real)) {
			snprintf(conf->selected, sizeof(conf->selected), "%s", base);
			conf->device = conf->selected;
			conf->dev_source = KY_CNI_DEV_NAME;
			return 0;
		}
	}
	/* A PCI function. */
	char addr[KY_PCI_ADDR_LEN];
	if (ky_pci_addr_normalize(base, addr) == 0 && strcmp(addr, base) == 0) {
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s", addr);
		if (same_file(path, real)) {
			memcpy(conf->pci, addr, sizeof(addr));
			conf->dev_source = KY_CNI_DEV_PCI;
			return 0;
		}
	}
	/* Another device with a netdev (a virtio device, an auxiliary one). */
	char name[IFNAMSIZ];
	if (snprintf(path, sizeof(path), "%s/net", real) < (int)sizeof(path) &&
	    first_entry(path, name, sizeof(name)) == 0 && ky_ifname_valid(name)) {
		snprintf(conf->selected, sizeof(conf->selected), "%s", name);
		conf->device = conf->selected;
		conf->dev_source = KY_CNI_DEV_NAME;
		return 0;
	}
	return ky_error_set(err, ENODEV, "%s is neither a network device nor a PCI function", conf->kernelpath);
}

int ky_cni_dev_select(struct ky_cni_run *r, struct ky_error **err)
{
	struct ky_cni_conf *conf = &r->c->conf;
	int ret = 0;
	if (conf->dev_source == KY_CNI_DEV_HWADDR) {
		struct ky_link l;
		ret = ky_link_find_by_mac(r->nl, conf->hwaddr, &l, err);
		if (ret == 0) {
			snprintf(conf->selected, sizeof(conf->selected), "%s", l.name);
			conf->device = conf->selected;
			conf->dev_source = KY_CNI_DEV_NAME;
		}
	} else if (conf->dev_source == KY_CNI_DEV_KERNELPATH) {
		ret = select_kernelpath(conf, err);
	}
	return ret < 0 ? ky_error_prefix(err, "%s", conf->dev_field) : 0;
}

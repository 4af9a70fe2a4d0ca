/* One device's facts, name and DRA attributes, from its PCI function. */
#include "dra_attrs.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/device/device_list.h"
#include "kyborg/json/json.h"

/* The device layer's kinds are the first three, so a kind's word is the
 * device layer's word (ky_device_dra_kind), in published names and in the
 * names claims carry alike. */
_Static_assert(DRA_KIND_GPU == (int)KY_DEVICE_GPU && DRA_KIND_FPGA == (int)KY_DEVICE_FPGA &&
		       DRA_KIND_VF == (int)KY_DEVICE_NIC_VF,
	       "enum dra_kind extends enum ky_device_kind");

const char *dra_kind_name(enum dra_kind kind)
{
	switch (kind) {
	case DRA_KIND_GPU:
	case DRA_KIND_FPGA:
	case DRA_KIND_VF:
		return ky_device_dra_kind((enum ky_device_kind)kind);
	case DRA_KIND_PF:
		return "pf";
	}
	return "?";
}

enum dra_kind dra_kind_of(enum ky_device_kind kind)
{
	return (enum dra_kind)kind;
}

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

bool dra_pcie_root(const char *syspath, char out[DRA_PCIE_ROOT_LEN])
{
	out[0] = '\0';
	const char *p = syspath ? strstr(syspath, "/devices/") : NULL;
	if (!p)
		return false;
	p += strlen("/devices/");
	size_t n = strcspn(p, "/");
	/* pci<domain>:<bus>: four or more hex digits (VMD domains have more), two for the bus. */
	if (n < 10 || n >= DRA_PCIE_ROOT_LEN || strncmp(p, "pci", 3) || p[n - 3] != ':')
		return false;
	for (size_t i = 3; i < n; i++)
		if (i != n - 3 && !is_hex(p[i]))
			return false;
	memcpy(out, p, n);
	out[n] = '\0';
	return true;
}

int dra_dev_from_pci(const struct ky_pci_dev *pci, const struct ky_pci_list *all, enum dra_kind kind,
		     const char *resource, struct dra_dev *out, struct ky_error **err)
{
	*out = (struct dra_dev){ .kind = kind,
				 .vendor = pci->vendor,
				 .device = pci->device,
				 .subsys_vendor = pci->subsys_vendor,
				 .subsys_device = pci->subsys_device,
				 .numa_node = pci->numa_node,
				 .iommu_group = pci->iommu_group,
				 .vf_index = -1,
				 .healthy = pci->driver != NULL,
				 .resource = resource,
				 .driver = pci->driver,
				 .vendor_name = pci->vendor_name,
				 .device_name = pci->device_name };
	snprintf(out->addr, sizeof(out->addr), "%s", pci->addr);
	dra_pcie_root(pci->syspath, out->pcie_root);
	if (kind == DRA_KIND_VF) {
		if (!pci->physfn[0])
			return ky_error_set(err, EINVAL, "device %s: published as a VF but has no PF (physfn)", pci->addr);
		snprintf(out->pf_addr, sizeof(out->pf_addr), "%s", pci->physfn);
		const struct ky_pci_dev *pf = all ? ky_pci_list_find(all, pci->physfn) : NULL;
		if (pf) {
			out->vf_index = ky_pci_vf_index(pf, pci->addr);
			if (pf->n_netdevs)
				out->pf_name = pf->netdevs[0];
		}
	} else if (kind == DRA_KIND_PF && pci->n_netdevs) {
		out->netdev = pci->netdevs[0];
	}
	return dra_dev_check(out, err);
}

int dra_dev_check(const struct dra_dev *d, struct ky_error **err)
{
	const char *a = d->addr;
	if (!ky_pci_addr_valid(a))
		return ky_error_set(err, EINVAL, "device \"%s\": not a PCI address", a);
	if ((unsigned)d->kind > DRA_KIND_PF)
		return ky_error_set(err, EINVAL, "device %s: unknown kind %d", a, (int)d->kind);
	if (d->shares > DRA_MAX_SHARES)
		return ky_error_set(err, EINVAL, "device %s: shares %u: at most %d", a, d->shares, DRA_MAX_SHARES);
	if (d->shares > 1 && d->kind != DRA_KIND_GPU)
		return ky_error_set(err, EINVAL, "device %s: only a GPU is shared (kind %s)", a, dra_kind_name(d->kind));
	/* Values that mean something to their readers are never cut: Multus
	 * matches the resource name with the network's annotation. */
	if (!d->resource || !*d->resource || strlen(d->resource) > DRA_VALUE_MAX)
		return ky_error_set(err, EINVAL, "device %s: resourceName \"%s\": must be 1 to %d bytes", a,
				    d->resource ? d->resource : "", DRA_VALUE_MAX);
	if (d->image_id && strlen(d->image_id) > DRA_VALUE_MAX)
		return ky_error_set(err, EINVAL, "device %s: imageID: at most %d bytes", a, DRA_VALUE_MAX);
	if (d->unhealthy_reason && !dra_is_label_value(d->unhealthy_reason))
		return ky_error_set(err, EINVAL, "device %s: unhealthy reason \"%s\": must be a label value", a,
				    d->unhealthy_reason);
	return 0;
}

int dra_dev_name(const struct dra_dev *d, int replica, char out[DRA_NAME_MAX + 1])
{
	char addr[KY_PCI_ADDR_LEN];
	if (ky_pci_addr_normalize(d->addr, addr) < 0 || (unsigned)d->kind > DRA_KIND_PF) {
		out[0] = '\0';
		return -EINVAL;
	}
	/* The device layer makes the name, as it does for the claims the
	 * driver prepares: "gpu-0000-3b-00-0", as dra-driver-sriov names VFs. */
	_Static_assert(KY_DEVICE_DRA_NAME_MAX <= DRA_NAME_MAX + 1, "a DRA name fits a DNS label");
	ky_device_dra_name_of(dra_kind_name(d->kind), addr, replica, out);
	return (int)strlen(out);
}

/* The length of the UTF-8 sequence at s (1 to 4), or 0 when it is not one. */
static size_t utf8_len(const unsigned char *s)
{
	if (s[0] < 0x80)
		return 1;
	size_t n;
	unsigned min;
	unsigned cp;
	if ((s[0] & 0xe0) == 0xc0) {
		n = 2, min = 0x80, cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		n = 3, min = 0x800, cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		n = 4, min = 0x10000, cp = s[0] & 0x07;
	} else {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

void dra_value_clean(const char *in, char out[DRA_VALUE_MAX + 1])
{
	const unsigned char *s = (const unsigned char *)in;
	size_t o = 0;
	while (*s) {
		size_t n = utf8_len(s);
		bool bad = !n || s[0] < 0x20 || s[0] == 0x7f;
		size_t w = bad ? 1 : n;
		if (o + w > DRA_VALUE_MAX)
			break;
		if (bad)
			out[o++] = '?';
		else
			memcpy(out + o, s, n), o += n;
		s += n ? n : 1;
	}
	out[o] = '\0';
}

static int add_string(cJSON *attrs, const char *name, const char *value)
{
	char clean[DRA_VALUE_MAX + 1];
	dra_value_clean(value, clean);
	cJSON *a = cJSON_AddObjectToObject(attrs, name);
	return a && cJSON_AddStringToObject(a, "string", clean) ? 0 : -ENOMEM;
}

static int add_int(cJSON *attrs, const char *name, long long value)
{
	cJSON *a = cJSON_AddObjectToObject(attrs, name);
	return a && cJSON_AddNumberToObject(a, "int", (double)value) ? 0 : -ENOMEM;
}

static int add_hex16(cJSON *attrs, const char *name, uint16_t value)
{
	char hex[5];
	snprintf(hex, sizeof(hex), "%04x", value);
	return add_string(attrs, name, hex);
}

int dra_dev_attributes(const struct dra_dev *d, int replica, cJSON **out, struct ky_error **err)
{
	int r = dra_dev_check(d, err);
	if (r < 0)
		return r;
	_cleanup_(cJSON_Deletep) cJSON *attrs = cJSON_CreateObject();
	if (!attrs)
		return ky_error_set(err, ENOMEM, "device %s: attributes", d->addr);
	r = add_string(attrs, "kind", dra_kind_name(d->kind));
	r = r ?: add_string(attrs, "pciAddress", d->addr);
	r = r ?: add_string(attrs, "resource.kubernetes.io/pciBusID", d->addr);
	if (d->pcie_root[0])
		r = r ?: add_string(attrs, "resource.kubernetes.io/pcieRoot", d->pcie_root);
	/* A device with no NUMA affinity publishes none: -1 would match
	 * every other such device in a matchAttribute constraint. */
	if (d->numa_node >= 0)
		r = r ?: add_int(attrs, "resource.kubernetes.io/numaNode", d->numa_node);
	r = r ?: add_hex16(attrs, "vendorID", d->vendor);
	r = r ?: add_hex16(attrs, "deviceID", d->device);
	if (d->subsys_vendor || d->subsys_device) {
		r = r ?: add_hex16(attrs, "subsystemVendorID", d->subsys_vendor);
		r = r ?: add_hex16(attrs, "subsystemDeviceID", d->subsys_device);
	}
	if (d->vendor_name && *d->vendor_name)
		r = r ?: add_string(attrs, "vendorName", d->vendor_name);
	if (d->device_name && *d->device_name)
		r = r ?: add_string(attrs, "deviceName", d->device_name);
	if (d->driver && *d->driver)
		r = r ?: add_string(attrs, "driver", d->driver);
	if (d->iommu_group >= 0)
		r = r ?: add_int(attrs, "iommuGroup", d->iommu_group);
	r = r ?: add_string(attrs, "resourceName", d->resource);
	if (d->kind == DRA_KIND_GPU && d->shares > 1)
		r = r ?: add_int(attrs, "shares", d->shares);
	if (replica >= 0)
		r = r ?: add_int(attrs, "replica", replica);
	if (d->kind == DRA_KIND_FPGA && d->image_id && *d->image_id)
		r = r ?: add_string(attrs, "imageID", d->image_id);
	if (d->kind == DRA_KIND_VF) {
		if (d->pf_name && *d->pf_name)
			r = r ?: add_string(attrs, "pfName", d->pf_name);
		if (d->pf_addr[0])
			r = r ?: add_string(attrs, "pfPciAddress", d->pf_addr);
		if (d->vf_index >= 0)
			r = r ?: add_int(attrs, "vfIndex", d->vf_index);
		r = r ?: add_string(attrs, "k8s.cni.cncf.io/deviceID", d->addr);
		r = r ?: add_string(attrs, "k8s.cni.cncf.io/resourceName", d->resource);
	}
	if (d->kind == DRA_KIND_PF && d->netdev && *d->netdev)
		r = r ?: add_string(attrs, "interfaceName", d->netdev);
	if (r < 0)
		return ky_error_set(err, ENOMEM, "device %s: attributes", d->addr);
	*out = TAKE_PTR(attrs);
	return 0;
}

/* The pure side of PCI discovery: addresses, sysfs values, families,
 * lookups in a list and the life of the records. No system calls here. */
#include "kyborg/base/strv.h"
#include "kyborg/pci/pci.h"
#include "pci_internal.h"
#include "kyborg/base/hex.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Exactly `width` hex digits at *s, advancing it. */
static int take_hex(const char **s, int width, unsigned *out)
{
	unsigned v = 0;
	for (int i = 0; i < width; i++) {
		int d = ky_hex_digit((*s)[i]);
		if (d < 0)
			return -EINVAL;
		v = v * 16 + (unsigned)d;
	}
	*s += width;
	*out = v;
	return 0;
}

int ky_pci_addr_normalize(const char *in, char out[KY_PCI_ADDR_LEN])
{
	unsigned domain = 0, bus, slot, fn;
	const char *s = in;

	if (!in)
		return -EINVAL;
	/* The kernel prints the domain with four digits; VMD's 0x10000 and
	 * above do not fit the canonical form and are refused. */
	size_t len = strlen(in);
	if (len == KY_PCI_ADDR_LEN - 1) {
		if (take_hex(&s, 4, &domain) < 0 || *s++ != ':')
			return -EINVAL;
	} else if (len != KY_PCI_ADDR_LEN - 6) {
		return -EINVAL;
	}
	if (take_hex(&s, 2, &bus) < 0 || *s++ != ':')
		return -EINVAL;
	if (take_hex(&s, 2, &slot) < 0 || *s++ != '.')
		return -EINVAL;
	if (take_hex(&s, 1, &fn) < 0 || *s != '\0')
		return -EINVAL;
	/* devfn is one byte: five bits of slot, three of function. */
	if (slot > 0x1f || fn > 7)
		return -EINVAL;

	char buf[KY_PCI_ADDR_LEN + 8];
	snprintf(buf, sizeof(buf), "%04x:%02x:%02x.%x", domain, bus, slot, fn);
	memcpy(out, buf, KY_PCI_ADDR_LEN);
	return 0;
}

bool ky_pci_addr_valid(const char *addr)
{
	char canon[KY_PCI_ADDR_LEN];
	return ky_pci_addr_normalize(addr, canon) == 0;
}

int ky_pci_parse_hex(const char *s, uint32_t max, uint32_t *out)
{
	if (!s)
		return -EINVAL;
	while (isspace((unsigned char)*s))
		s++;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2;
	if (ky_hex_digit(*s) < 0)
		return -EINVAL;
	uint64_t v = 0;
	for (; ky_hex_digit(*s) >= 0; s++) {
		v = v * 16 + (uint64_t)ky_hex_digit(*s);
		if (v > max)
			return -EINVAL;
	}
	while (isspace((unsigned char)*s))
		s++;
	if (*s != '\0')
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

int ky_pci_parse_int(const char *s, int *out)
{
	if (!s)
		return -EINVAL;
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (end == s || errno != 0 || v < INT_MIN || v > INT_MAX)
		return -EINVAL;
	while (isspace((unsigned char)*end))
		end++;
	if (*end != '\0')
		return -EINVAL;
	*out = (int)v;
	return 0;
}

int ky_pci_parse_virtfn_name(const char *name, unsigned *out)
{
	if (strncmp(name, "virtfn", 6) != 0)
		return -EINVAL;
	const char *s = name + 6;
	/* SR-IOV counts VFs in 16 bits; no leading zeros, as the kernel writes them. */
	if (!isdigit((unsigned char)*s) || (s[0] == '0' && s[1] != '\0') || strlen(s) > 5)
		return -EINVAL;
	unsigned v = 0;
	for (; *s; s++) {
		if (!isdigit((unsigned char)*s))
			return -EINVAL;
		v = v * 10 + (unsigned)(*s - '0');
	}
	if (v > 0xffff)
		return -EINVAL;
	*out = v;
	return 0;
}

const char *ky_pci_link_basename(const char *target)
{
	const char *slash = strrchr(target, '/');
	return slash ? slash + 1 : target;
}

char *ky_pci_strdup_trimmed(const char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t len = strlen(s);
	while (len && isspace((unsigned char)s[len - 1]))
		len--;
	return strndup(s, len);
}

int ky_pci_strv_push(char ***v, size_t *n, const char *s)
{
	char *copy = strdup(s);
	if (!copy)
		return -ENOMEM;
	char **nv = realloc(*v, (*n + 1) * sizeof(**v));
	if (!nv) {
		free(copy);
		return -ENOMEM;
	}
	nv[(*n)++] = copy;
	*v = nv;
	return 0;
}

int ky_pci_strv_set(char ***v, size_t *n, size_t i, const char *s)
{
	char *copy = strdup(s);
	if (!copy)
		return -ENOMEM;
	if (i >= *n) {
		char **nv = realloc(*v, (i + 1) * sizeof(**v));
		if (!nv) {
			free(copy);
			return -ENOMEM;
		}
		memset(nv + *n, 0, (i + 1 - *n) * sizeof(*nv));
		*v = nv;
		*n = i + 1;
	}
	free((*v)[i]);
	(*v)[i] = copy;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void ky_pci_strv_sort_unique(char **v, size_t *n)
{
	if (*n < 2)
		return;
	qsort(v, *n, sizeof(*v), cmp_str);
	size_t o = 1;
	for (size_t i = 1; i < *n; i++) {
		if (strcmp(v[i], v[o - 1]) == 0)
			free(v[i]);
		else
			v[o++] = v[i];
	}
	*n = o;
}

void ky_pci_dev_clear(struct ky_pci_dev *dev)
{
	free(dev->syspath);
	free(dev->driver);
	free(dev->vendor_name);
	free(dev->device_name);
	ky_strv_freen(dev->virtfns, dev->n_virtfns);
	ky_strv_freen(dev->netdevs, dev->n_netdevs);
	ky_strv_freen(dev->devnodes, dev->n_devnodes);
	ky_strv_freen(dev->rdma_devs, dev->n_rdma_devs);
	free(dev->acpi_index);
	memset(dev, 0, sizeof(*dev));
}

void ky_pci_dev_free(struct ky_pci_dev *dev)
{
	if (!dev)
		return;
	ky_pci_dev_clear(dev);
	free(dev);
}

void ky_pci_list_free(struct ky_pci_list *list)
{
	if (!list)
		return;
	for (size_t i = 0; i < list->n; i++)
		ky_pci_dev_clear(&list->devs[i]);
	free(list->devs);
	free(list);
}

static int cmp_dev(const void *a, const void *b)
{
	return strcmp(((const struct ky_pci_dev *)a)->addr, ((const struct ky_pci_dev *)b)->addr);
}

void ky_pci_list_sort(struct ky_pci_list *list)
{
	if (list->n > 1)
		qsort(list->devs, list->n, sizeof(*list->devs), cmp_dev);
}

const struct ky_pci_dev *ky_pci_list_find(const struct ky_pci_list *list, const char *addr)
{
	char canon[KY_PCI_ADDR_LEN];
	if (!list || ky_pci_addr_normalize(addr, canon) < 0)
		return NULL;
	/* Linear: lists are a few hundred entries, and callers may build them unsorted. */
	for (size_t i = 0; i < list->n; i++)
		if (strcmp(list->devs[i].addr, canon) == 0)
			return &list->devs[i];
	return NULL;
}

int ky_pci_vf_index(const struct ky_pci_dev *pf, const char *vf_addr)
{
	char canon[KY_PCI_ADDR_LEN];
	if (!pf || ky_pci_addr_normalize(vf_addr, canon) < 0)
		return -1;
	for (size_t i = 0; i < pf->n_virtfns && i <= INT_MAX; i++)
		if (pf->virtfns[i] && strcmp(pf->virtfns[i], canon) == 0)
			return (int)i;
	return -1;
}

bool ky_pci_is_vf(const struct ky_pci_dev *dev)
{
	return dev && dev->physfn[0] != '\0';
}

/* FPGA cards whose class code does not say so: Xilinx and Altera boards
 * often report "memory controller" or "other", and Intel's DFL cards vary. */
static const struct {
	uint16_t vendor;
	uint16_t device; /* 0xffff: any device of the vendor */
} fpga_ids[] = {
	{ 0x10ee, 0xffff }, /* Xilinx / AMD adaptive computing */
	{ 0x1172, 0xffff }, /* Altera */
	{ 0x8086, 0x09c4 }, /* Intel PAC Arria 10 GX */
	{ 0x8086, 0x09c5 },
	{ 0x8086, 0x0b2b }, /* Intel PAC D5005 */
	{ 0x8086, 0x0b2c },
	{ 0x8086, 0x0b30 }, /* Intel PAC N3000 */
	{ 0x8086, 0x0b31 },
	{ 0x8086, 0xbcce }, /* Intel IPU / N6000 family (DFL) */
	{ 0x8086, 0xbccf },
};

/* Display controllers from these vendors are GPUs; others (a BMC's ASPEED
 * or Matrox VGA on every server) are not accelerators. */
static const uint16_t gpu_vendors[] = { 0x10de, 0x1002, 0x8086 };

const char *ky_pci_family(const struct ky_pci_dev *dev)
{
	unsigned base = (dev->class_code >> 16) & 0xff;
	unsigned sub = (dev->class_code >> 8) & 0xff;

	for (size_t i = 0; i < sizeof(fpga_ids) / sizeof(fpga_ids[0]); i++)
		if (dev->vendor == fpga_ids[i].vendor &&
		    (fpga_ids[i].device == 0xffff || dev->device == fpga_ids[i].device))
			return "fpga";
	if (base == 0x12)
		return "fpga";
	if (base == 0x02)
		return "nic";
	if (base == 0x03) {
		if (sub == 0x02) /* 3D controller: compute GPUs */
			return "gpu";
		for (size_t i = 0; i < sizeof(gpu_vendors) / sizeof(gpu_vendors[0]); i++)
			if (dev->vendor == gpu_vendors[i])
				return "gpu";
	}
	return "other";
}

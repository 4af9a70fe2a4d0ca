/* Private to the PCI module: the pure helpers of pci_addr.c that
 * pci_discovery.c builds its records with. */
#pragma once

#include "kyborg/pci/pci.h"

#include <stdint.h>

/* A sysfs hex value such as "0x10de" (the "0x" is optional, surrounding
 * white space allowed) no larger than max. Returns 0 or -EINVAL. */
int ky_pci_parse_hex(const char *s, uint32_t max, uint32_t *out);
/* A sysfs decimal value such as "-1" or "4". Returns 0 or -EINVAL. */
int ky_pci_parse_int(const char *s, int *out);
/* "virtfn12" gives 12; anything else -EINVAL. */
int ky_pci_parse_virtfn_name(const char *name, unsigned *out);
/* The last component of a link target ("../../kernel/iommu_groups/30"
 * gives "30"); the target itself when it has no slash. */
const char *ky_pci_link_basename(const char *target);

/* A copy of s without the white space around it (sysfs values end in a
 * newline); NULL on ENOMEM. */
char *ky_pci_strdup_trimmed(const char *s);
/* Appends a copy of s. Returns 0 or -ENOMEM. */
int ky_pci_strv_push(char ***v, size_t *n, const char *s);
/* Sorts and drops duplicates. */
void ky_pci_strv_sort_unique(char **v, size_t *n);
/* Stores a copy of s at index i, growing *v with NULL holes. */
int ky_pci_strv_set(char ***v, size_t *n, size_t i, const char *s);

/* Frees what dev owns and zeroes it; dev itself stays. */
void ky_pci_dev_clear(struct ky_pci_dev *dev);
/* Sorts list->devs by address. */
void ky_pci_list_sort(struct ky_pci_list *list);

/* ---- pci_sysfs.c: what is read from sysfs without libudev ---- */
/* Logs (event pci-attr-ignored) a value that could not be parsed. */
void ky_pci_warn_ignored(const char *addr, const char *attr, const char *value);
/* Reads the link syspath/name into buf; -ENOENT when there is none. */
int ky_pci_read_link(const char *syspath, const char *name, char *buf, size_t size);
/* dev->physfn from the physfn link ("" when there is none). */
void ky_pci_read_physfn(struct ky_pci_dev *dev);
/* dev->virtfns from the virtfnN links, each at index N, so holes stay where
 * the kernel left them. */
int ky_pci_read_virtfns(struct ky_pci_dev *dev);

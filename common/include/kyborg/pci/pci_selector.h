/* Choosing PCI functions by their facts: the selector object the device
 * plugin's resources and kyborgctl's node profile share ("vendors",
 * "devices", "drivers", "classes", "pfNames", "pciAddresses", "numaNodes"),
 * parsed with the JSON path of the first bad field, and matched. Pure. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ky_error;
struct ky_jnode;
struct ky_pci_dev;
struct ky_pci_list;

/* Every list given must match (an empty list matches everything). */
struct ky_pci_selector {
	uint16_t *vendors;
	size_t n_vendors;
	uint16_t *devices;
	size_t n_devices;
	/* A class given as 2, 4 or 6 hex digits matches a class code prefix. */
	uint32_t *classes;
	uint8_t *class_digits;
	size_t n_classes;
	char **drivers; /* NULL-terminated */
	size_t n_drivers;
	char **pf_names; /* a VF's PF's interface names */
	size_t n_pf_names;
	char **pci_addresses; /* canonical form */
	size_t n_pci_addresses;
	int *numa_nodes;
	size_t n_numa_nodes;
};

/* Parses the object obj[key] (required) into *s, which must be zeroed; on
 * failure *s may hold a part, released with ky_pci_selector_release. An
 * empty object is refused: it would take every device. Errors are -EINVAL
 * "<json path>: <problem>" or -ENOMEM. */
int ky_pci_selector_parse(const struct ky_jnode *obj, const char *key, struct ky_pci_selector *s,
			  struct ky_error **err);
void ky_pci_selector_release(struct ky_pci_selector *s);
bool ky_pci_selector_equal(const struct ky_pci_selector *a, const struct ky_pci_selector *b);

/* Whether dev passes every list of s; `all` resolves a VF's PF for pfNames.
 * An unbound function passes a drivers list (its driver went away or is
 * being swapped, which a caller must still see). */
bool ky_pci_selector_matches(const struct ky_pci_selector *s, const struct ky_pci_dev *dev,
			     const struct ky_pci_list *all);

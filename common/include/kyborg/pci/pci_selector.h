/* Choosing PCI functions by their facts: the selector object the device
 * plugin's resources and kyborgctl's node profile share ("vendors",
 * "devices", "drivers", "classes", "pfNames", "rootDevices",
 * "pciAddresses", "numaNodes", "linkTypes", "acpiIndexes"), parsed with the
 * JSON path of the first bad field, and matched. SR-IOV network device
 * plugin (SRIOV-DP) selectors read through the same code. Pure. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ky_error;
struct ky_jnode;
struct ky_pci_dev;
struct ky_pci_list;

/* ---- a PF and some of its VFs ---- */

/* VF indexes first..last, both included (0-based, the N of virtfnN). */
struct ky_pci_vf_range {
	unsigned first, last;
};

/* SRIOV-DP's "<PF>[#<N|A-B>[,<N|A-B>...]]": "ens1f0" (every VF of the PF)
 * or "ens1f0#0,2-7,9". */
struct ky_pci_vfset {
	char *pf; /* the part before '#': an interface name or a PCI address */
	struct ky_pci_vf_range *ranges;
	size_t n_ranges; /* 0: every VF */
};

#define KY_PCI_VF_INDEX_MAX 65535 /* sriov_totalvfs is 16 bits */

/* Splits s into *out (zeroed by the caller). -EINVAL with *problem saying
 * what is wrong ("the range 7-3 runs backwards", ...), -ENOMEM. The PF part
 * is only checked to be non-empty: the caller knows what it names. */
int ky_pci_vfset_parse(const char *s, struct ky_pci_vfset *out, const char **problem);
/* Whether VF index is in the set (every index without ranges). */
bool ky_pci_vfset_takes(const struct ky_pci_vfset *v, unsigned index);
/* "0,2-7,9" (malloc'd; "" without ranges). */
char *ky_pci_vfset_ranges_text(const struct ky_pci_vfset *v);
void ky_pci_vfset_release(struct ky_pci_vfset *v);

/* ---- link types ---- */

/* The name SRIOV-DP's linkTypes uses for an ARPHRD_* type ("ether",
 * "infiniband", the netlink library's spelling), NULL for one it has none for. */
const char *ky_pci_link_type_name(unsigned type);
/* The type of a name (exact case), or -1. */
int ky_pci_link_type_parse(const char *name);

/* ---- selectors ---- */

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
	/* VFs by their PF's interface name (compared in any case, as SRIOV-DP
	 * does) or their PF's PCI address, with SRIOV-DP's ranges. The first
	 * entry naming a PF decides for its VFs, as in SRIOV-DP. */
	struct ky_pci_vfset *pf_names;
	size_t n_pf_names;
	struct ky_pci_vfset *root_devices; /* pf holds the canonical address */
	size_t n_root_devices;
	char **pci_addresses; /* canonical form */
	size_t n_pci_addresses;
	int *numa_nodes;
	size_t n_numa_nodes;
	/* The link type of the function's first interface, or for a VF
	 * without one (bound to vfio-pci) its PF's. */
	uint16_t *link_types;
	size_t n_link_types;
	char **acpi_indexes; /* the acpi_index attribute, as text */
	size_t n_acpi_indexes;
	bool rdma; /* only functions with an RDMA device (SRIOV-DP's isRdma) */
};

/* The keys ky_pci_selector_parse_fields reads, NULL-terminated. */
extern const char *const ky_pci_selector_keys[];

enum {
	/* As SRIOV-DP reads its config (Go's encoding/json): a null or empty
	 * list is no list. */
	KY_PCI_SELECTOR_LENIENT = 1 << 0,
};

/* Parses the object obj[key] (required) into *s, which must be zeroed; on
 * failure *s may hold a part, released with ky_pci_selector_release. Only
 * ky_pci_selector_keys are allowed. An empty object is refused: it would
 * take every device. Errors are -EINVAL "<json path>: <problem>" or -ENOMEM. */
int ky_pci_selector_parse(const struct ky_jnode *obj, const char *key, struct ky_pci_selector *s,
			  struct ky_error **err);
/* Reads the fields of the object sel among `keys` (a subset of
 * ky_pci_selector_keys, NULL-terminated; NULL for all of them) into *s
 * (zeroed), leaving other keys to the caller. Same errors. */
int ky_pci_selector_parse_fields(const struct ky_jnode *sel, const char *const *keys, int flags,
				 struct ky_pci_selector *s, struct ky_error **err);
/* Whether s has any list (or rdma): an empty selector takes everything. */
bool ky_pci_selector_empty(const struct ky_pci_selector *s);
void ky_pci_selector_release(struct ky_pci_selector *s);
bool ky_pci_selector_equal(const struct ky_pci_selector *a, const struct ky_pci_selector *b);

/* Whether dev passes every list of s; `all` resolves a VF's PF for pfNames,
 * rootDevices and linkTypes. An unbound function passes a drivers list (its
 * driver went away or is being swapped, which a caller must still see). */
bool ky_pci_selector_matches(const struct ky_pci_selector *s, const struct ky_pci_dev *dev,
			     const struct ky_pci_list *all);

/* What in s names nothing on this node, one note each, appended to *notes
 * (kyborg/base/strv.h): an entry of pfNames, rootDevices or pciAddresses
 * no function answers to, a range that takes none of its PF's VFs, an
 * entry shadowed by an earlier one for the same PF. "pfNames[1]: no
 * function has the interface ens2f0". 0 or -ENOMEM. */
int ky_pci_selector_notes(const struct ky_pci_selector *s, const struct ky_pci_list *all, char ***notes,
			  size_t *n_notes);

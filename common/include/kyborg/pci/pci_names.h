/* Vendor and device names of PCI functions from the PCI ID database
 * (pci.ids, Debian's pci.ids package), for people: the IDs stay the
 * identity everywhere else. */
#pragma once

struct ky_error;
struct ky_pci_list;

/* Where Debian and hwdata put the database; the first that exists wins. */
#define KY_PCI_IDS_PATHS { "/usr/share/misc/pci.ids", "/usr/share/hwdata/pci.ids", NULL }

/* Sets vendor_name and device_name of every function of list that the
 * database at path (NULL: the first of KY_PCI_IDS_PATHS) names, in one
 * pass over it. A missing database names nothing and is no error: names
 * are "where available". -errno for a file that cannot be read. */
int ky_pci_names_fill(const char *path, struct ky_pci_list *list, struct ky_error **err);

/* Hot-plug: a libudev monitor of PCI functions (added, removed, driver
 * bound or unbound) as one fd for the event loop. Runs unchanged under an
 * umockdev testbed, whose uevents it receives. */
#pragma once

#include <stddef.h>

#include "kyborg/base/cleanup.h"

struct ky_error;
struct ky_pci_monitor;

/* Listens to udev's (processed) events for the "pci" subsystem. */
int ky_pci_monitor_new(struct ky_pci_monitor **out, struct ky_error **err);
void ky_pci_monitor_free(struct ky_pci_monitor *m);
KY_DEFINE_CLEANUP(struct ky_pci_monitor, ky_pci_monitor_free)
/* Non-blocking; readable when events wait. Owned by the monitor. */
int ky_pci_monitor_fd(const struct ky_pci_monitor *m);
/* Reads every waiting event without blocking and returns how many there
 * were (0 when none); each is logged at debug level with its action and
 * address. The caller re-reads what it needs (ky_pci_discover). */
int ky_pci_monitor_drain(struct ky_pci_monitor *m);

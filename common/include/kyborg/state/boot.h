/* This boot, as the records that name kernel state see it: a record is
 * stamped with the boot it was written in, and one from an earlier boot
 * describes a pod that went with that boot. */
#pragma once

#include <stdbool.h>
#include <time.h>

/* This boot's ID (/proc/sys/kernel/random/boot_id), read once; "" when the
 * kernel does not say. */
const char *ky_boot_id(void);

/* Whether a record stamped with boot ID `recorded` was written in a boot
 * before `current` (this boot's ID when NULL). A record without an ID (from
 * before records carried one), or a node that does not say its own, counts
 * as this boot's: refusing a device wrongly beats taking it from a pod. */
bool ky_boot_earlier(const char *recorded, const char *current);

/* Whether a file last changed at `mtime` (CLOCK_REALTIME) was changed
 * before this boot. A clock set back after the boot only makes this say
 * "no"; one set forward can make a file of this boot look older. */
bool ky_boot_before(const struct timespec *mtime);

/* Giving the heap's free pages back to the kernel after a burst of work. */
#pragma once

#ifdef __GLIBC__
#include <malloc.h>
#endif

/* glibc gives freed memory back to the kernel only from the top of its heap:
 * after a burst of small allocations (a list's cJSON tree, the JSON of 157
 * ResourceSlices) the free holes below a block still in use stay resident
 * for the daemon's life. malloc_trim(0) releases every whole free page
 * (MADV_DONTNEED); it walks the arena, so call it once after such a burst,
 * never per request. */
static inline void ky_memory_give_back(void)
{
#ifdef __GLIBC__
	malloc_trim(0);
#endif
}

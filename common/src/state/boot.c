/* The boot ID and the rules for what an earlier boot wrote. */
#include "kyborg/state/boot.h"
#include "kyborg/base/cleanup.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

const char *ky_boot_id(void)
{
	static char id[40];
	static bool done;
	if (!done) {
		done = true;
		_cleanup_close_ int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
		ssize_t n = fd < 0 ? -1 : read(fd, id, sizeof(id) - 1);
		id[n > 0 ? (size_t)n : 0] = '\0';
		id[strcspn(id, "\n")] = '\0';
	}
	return id;
}

bool ky_boot_earlier(const char *recorded, const char *current)
{
	if (!current)
		current = ky_boot_id();
	return recorded && *current && strcmp(recorded, current) != 0;
}

bool ky_boot_before(const struct timespec *mtime)
{
	struct timespec now, up;
	if (clock_gettime(CLOCK_REALTIME, &now) < 0 || clock_gettime(CLOCK_BOOTTIME, &up) < 0)
		return false;
	/* The boot began at now - up; a second of slack for the two reads. */
	return mtime->tv_sec < now.tv_sec - up.tv_sec - 1;
}

/* Fault-injection points, driven by the KYBORG_FAULT environment variable. */
#include "kyborg/base/fault.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void ky_fault_point(const char *name)
{
	const char *want = getenv("KYBORG_FAULT");
	if (want && name && strcmp(want, name) == 0)
		kill(getpid(), SIGKILL);
}

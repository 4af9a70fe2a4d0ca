/* The kernel's DFL partial reconfiguration ioctl (DFL_FPGA_FME_PORT_PR on
 * /dev/dfl-fme.0), emulated with umockdev's ioctl emulation for a process
 * under the testbed's preload: what it was given (the request and the image
 * it points to, read from the caller's memory as the kernel's
 * copy_from_user would) is recorded, and the port then reports the AFU id
 * the test names, as a real load would. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <umockdev.h>

/* What the emulated FME received. */
struct kyt_dfl_pr {
	int calls;
	uint32_t argsz, port_id, size;
	char image[64]; /* the first image's bytes, when it fits */
};

/* Serves /dev/dfl-fme.0 of tb; each load makes port_sysfs's afu_id
 * afu_id. Asserts on failure; kyt_dfl_fme_detach in teardown. */
void kyt_dfl_fme_attach(UMockdevTestbed *tb, const char *port_sysfs, const char *afu_id);
void kyt_dfl_fme_detach(void);
/* A copy of what it received so far. */
struct kyt_dfl_pr kyt_dfl_fme_received(void);

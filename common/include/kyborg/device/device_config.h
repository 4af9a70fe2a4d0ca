/* The devices a node offers to Kubernetes, as the device plugin and the
 * DRA driver both read them: resources with a kind, a PCI selector, GPU
 * sharing, and for FPGAs the bitstream they are programmed with. JSON,
 * validated with the path of the first bad field. Pure. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "kyborg/base/cleanup.h"
#include "kyborg/pci/image_cache.h"
#include "kyborg/pci/pci_selector.h"

struct ky_error;

enum ky_device_kind {
	KY_DEVICE_GPU = 0,
	KY_DEVICE_FPGA = 1,
	KY_DEVICE_NIC_VF = 2,
};

enum ky_device_strategy {
	KY_DEVICE_PACK = 0,   /* replicas of as few GPUs as possible */
	KY_DEVICE_SPREAD = 1, /* replicas of as many GPUs as possible */
};

struct ky_device_resource {
	char *name; /* "kyborg.io/gpu" */
	enum ky_device_kind kind;
	struct ky_pci_selector selector;
	unsigned replicas; /* >= 1; above 1 a GPU is shared (time-sliced) */
	enum ky_device_strategy strategy;
	bool has_bitstream;
	struct ky_image_spec bitstream;
	/* FPGA: the admin's loader command (argv with placeholders, see
	 * kyborg/pci/fpga.h); NULL: the kernel's DFL partial reconfiguration. */
	char **program;
	size_t n_program;
};

struct ky_device_config {
	struct ky_device_resource *resources;
	size_t n_resources;
};

#define KY_DEVICE_MAX_REPLICAS 1024

/* The config's kind names: "gpu", "fpga", "nic-vf". */
const char *ky_device_kind_name(enum ky_device_kind kind);
/* Errors are -EINVAL "<json path>: <problem>". */
int ky_device_config_parse(const char *text, size_t len, struct ky_device_config **out, struct ky_error **err);
/* The same from a file (a regular file of at most 1 MiB); errors are
 * prefixed with its path. */
int ky_device_config_load(const char *path, struct ky_device_config **out, struct ky_error **err);
void ky_device_config_free(struct ky_device_config *cfg);
KY_DEFINE_CLEANUP(struct ky_device_config, ky_device_config_free)
/* Same name, kind, selector, sharing and bitstream: a reload keeps serving it. */
bool ky_device_resource_equal(const struct ky_device_resource *a, const struct ky_device_resource *b);
/* An FPGA with a bitstream is programmed before a container gets it. */
bool ky_device_resource_programs(const struct ky_device_resource *res);
/* More than one holder at a time: a GPU with replicas (time-slicing). */
bool ky_device_resource_shared(const struct ky_device_resource *res);

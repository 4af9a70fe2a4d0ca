/* The node profile kyborgctl converges a node to: the desired whole-device
 * state per device (SR-IOV VF count, eswitch mode and VF driver of a NIC PF,
 * a GPU's vendor state through admin-configured programs, an FPGA's image),
 * each entry choosing its devices by PCI address or by a PCI selector.
 * Parsing is pure; every error names the field by its JSON path. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "kyborg/base/cleanup.h"
#include "kyborg/pci/image_cache.h"
#include "kyborg/json/json.h"
#include "kyborg/pci/pci.h"
#include "kyborg/pci/pci_selector.h"
#include "kyborg/net/devlink.h"

struct ky_error;

enum ky_profile_kind {
	KY_PROFILE_NIC = 0,  /* a NIC's physical function */
	KY_PROFILE_GPU = 1,
	KY_PROFILE_FPGA = 2,
};

/* A program run without a shell: argv[0] is an absolute path. The device's
 * PCI address is appended as the last argument. */
struct ky_profile_command {
	char *state;      /* the wanted state, as `read` prints it (trimmed) */
	char **apply;     /* NULL-terminated: makes the device `state` */
	char **read;      /* NULL-terminated: prints the device's current state */
	bool disruptive;  /* the change takes the device from its users (default true) */
	bool reboot;      /* the change only takes effect after a reboot (default false) */
	int timeout_ms;   /* per run; default 120 s */
};

struct ky_profile_entry {
	char path[KY_JSON_PATH_MAX]; /* "devices[2]": errors and the plan name the entry */
	enum ky_profile_kind kind;
	char pci_addr[KY_PCI_ADDR_LEN]; /* canonical; "" when chosen by selector */
	bool has_selector;
	struct ky_pci_selector selector;
	/* NIC PF: -1 / KY_ESWITCH_UNKNOWN / NULL when the profile leaves it alone */
	int num_vfs;
	enum ky_eswitch_mode eswitch;
	char *vf_driver;
	/* GPU */
	bool has_command;
	struct ky_profile_command command;
	/* FPGA: the whole device's image and, optionally, the admin's loader
	 * (argv with placeholders, see kyborg/fpga.h; NULL: DFL partial
	 * reconfiguration) */
	bool has_image;
	struct ky_image_spec image;
	char **program;
};

struct ky_profile {
	struct ky_profile_entry *entries;
	size_t n;
};

/* Limits the profile enforces. */
#define KY_PROFILE_MAX_VFS 4096
#define KY_PROFILE_MAX_SIZE (1u << 20)

const char *ky_profile_kind_name(enum ky_profile_kind kind);

/* Parses a profile document. -EINVAL "<json path>: <problem>" for an unknown
 * field, a wrong type, a value out of range, a field of another kind, a
 * firmware request (refused: firmware belongs to the server's management)
 * or an address two entries name. */
int ky_profile_parse(const char *text, size_t len, struct ky_profile **out, struct ky_error **err);
/* Reads and parses a file (a regular file of at most KY_PROFILE_MAX_SIZE
 * bytes); errors are prefixed with the path. */
int ky_profile_load(const char *path, struct ky_profile **out, struct ky_error **err);
void ky_profile_free(struct ky_profile *p);
KY_DEFINE_CLEANUP(struct ky_profile, ky_profile_free)

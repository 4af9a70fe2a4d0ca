/* FPGA ports (Linux DFL): where a PCI function's FME and port are, which
 * image (AFU id) the port holds, and programming it, idempotently: an image
 * is verified (SHA-256) and loaded only when the loaded id differs. */
#pragma once

#include <stdbool.h>

struct ky_error;
struct ky_image_spec;

struct ky_fpga {
	char *pci;        /* "0000:af:00.0" */
	char *fme_dev;    /* "/dev/dfl-fme.0": the management function that programs */
	char *port_dev;   /* "/dev/dfl-port.0": what a container gets */
	char *port_sysfs; /* the port's sysfs directory, holding afu_id */
};

/* Finds the FME and port under <pci_syspath>/fpga_region/region*: -ENOENT
 * naming the device when it has none. */
int ky_fpga_find(const char *pci_syspath, const char *pci_addr, struct ky_fpga **out, struct ky_error **err);
void ky_fpga_free(struct ky_fpga *f);

/* Compares AFU ids as the kernel prints them (32 hex digits) or as UUIDs
 * with dashes, any case (pure). */
bool ky_fpga_id_equal(const char *a, const char *b);

/* The id of the image the port holds (its afu_id attribute), malloc'd,
 * lower case, no dashes. */
int ky_fpga_loaded_id(const struct ky_fpga *f, char **out, struct ky_error **err);

/* How an image is loaded: NULL program uses the kernel's DFL partial
 * reconfiguration ioctl (DFL_FPGA_FME_PORT_PR on the FME, port 0); otherwise
 * the admin's command is run (argv, never a shell) with "{image}", "{id}",
 * "{pci}", "{fme}", "{port}" and "{sysfs}" replaced in each argument, under
 * envp (NULL: an empty environment), killed after timeout_ms. */
struct ky_fpga_loader {
	char *const *program; /* NULL-terminated argv, or NULL */
	char *const *envp;
	int timeout_ms;
};

/* Loads image_path (already verified) into the port. Through the DFL
 * ioctl, with sha256 (hex, or NULL) the very bytes handed to the kernel
 * are checked again first: a file replaced since it was verified is
 * -EBADMSG, nothing loaded. A loader is given the path. */
int ky_fpga_program(const struct ky_fpga *f, const char *image_path, const char *id, const char *sha256,
		    const struct ky_fpga_loader *loader, struct ky_error **err);

/* Makes the port hold spec's image: nothing when its loaded id is spec->id
 * (*programmed = false); otherwise resolves the image through the cache
 * (digest verified: a mismatch is -EBADMSG and nothing is loaded), loads it
 * and reads the id back (-EIO when it is not spec->id). A loader is given
 * not spec's path but <cache_dir>/sha256/<digest>, a root-only copy of
 * the very bytes verified (an image fetched by URL already is that file),
 * so a file replaced after the check changes nothing it reads. */
int ky_fpga_ensure(const struct ky_fpga *f, const struct ky_image_spec *spec, const char *cache_dir,
		   const char *fetch_helper, const struct ky_fpga_loader *loader, bool *programmed,
		   struct ky_error **err);

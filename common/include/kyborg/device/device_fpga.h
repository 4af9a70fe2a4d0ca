/* FPGAs of a resource with a bitstream: the image fetched ahead of time
 * into the image cache, and a function's region programmed idempotently
 * (verified, loaded only when the loaded id differs, read back). Hashing a
 * large image and running the loader take seconds, so both run in a child
 * process on the event loop, which serves everything else meanwhile. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "kyborg/device/device_list.h"

struct ky_error;
struct ky_loop;

/* The admin's loader may run this long: under kubelet's 30 s deadline for
 * PreStartContainer (and its 45 s for DRA's NodePrepareResources). */
#define KY_DEVICE_LOADER_TIMEOUT_MS 25000

/* Where images are cached and who fetches URLs. */
struct ky_device_images {
	const char *cache_dir;    /* "<state dir>/images" */
	const char *fetch_helper; /* kyborg-fetch, exec'd for URL bitstreams */
};

/* "<state dir>/images" (malloc'd): the cache the device plugin, the DRA
 * driver and kyborgctl share. */
char *ky_device_image_cache_dir(const char *state_dir);

/* Makes pci's port hold res's bitstream (nothing for a resource without
 * one): *programmed tells whether it was loaded now. -EBADMSG: digest
 * mismatch, nothing loaded. Blocks for seconds: for a child process. */
int ky_device_fpga_program(const struct ky_device_resource *res, const struct ky_pci_dev *pci,
			   const struct ky_device_images *img, bool *programmed, struct ky_error **err);

/* The same with a bitstream of its own (a DRA claim's FpgaConfig) instead
 * of the resource's; res gives the loader. spec NULL: the resource's. */
int ky_device_fpga_program_image(const struct ky_device_resource *res, const struct ky_image_spec *spec,
				 const struct ky_pci_dev *pci, const struct ky_device_images *img, bool *programmed,
				 struct ky_error **err);

/* ---- bitstreams ahead of time ---- */

/* Downloads running in children, reaped by the loop when they end: at
 * most one per image (by its digest), however many wait for it. */
struct ky_device_prefetch;
/* Starts fetching res's URL bitstream into the cache (nothing for a path
 * or no bitstream), so programming later only verifies it; a failure is
 * logged (programming fetches again). Linked into *list. */
void ky_device_prefetch_start(struct ky_loop *loop, struct ky_device_prefetch **list,
			      const struct ky_device_resource *res, const struct ky_device_images *img);
/* Forgets running downloads (their children finish on their own; their
 * waiters are not called). */
void ky_device_prefetch_release(struct ky_device_prefetch **list);

/* Whether programming with spec needs no download: a path, or a URL whose
 * digest names a file in the cache (programming verifies it still). */
bool ky_device_image_cached(const struct ky_image_spec *spec, const struct ky_device_images *img);

/* One waiter of a download. */
struct ky_device_fetch_wait;
/* The download ended: failed is NULL when the image is in the cache. Called
 * once, from the loop; the waiter is freed when this returns. */
typedef void (*ky_device_fetch_done_fn)(void *userdata, const struct ky_error *failed);
/* Waits for spec's URL image in the cache: joins the download of its
 * digest under way, or starts one. A waiter that stops waiting
 * (ky_device_fetch_wait_cancel: a deadline passed) leaves the download
 * going, and the next waiter finds it, or its file. 0, or -errno with
 * nothing started. */
int ky_device_fetch(struct ky_loop *loop, struct ky_device_prefetch **list, const struct ky_image_spec *spec,
		    const struct ky_device_images *img, ky_device_fetch_done_fn done, void *userdata,
		    struct ky_device_fetch_wait **out, struct ky_error **err);
/* Stops waiting (NULL is fine); done is not called. Not from done. */
void ky_device_fetch_wait_cancel(struct ky_device_fetch_wait *w);
/* How long the download w waits on has run, in ms. */
uint64_t ky_device_fetch_wait_age_ms(const struct ky_device_fetch_wait *w);

/* ---- programming in a child ---- */

struct ky_device_program;

struct ky_device_program_result {
	const char *id;      /* the device's ID, as given */
	bool reported;       /* the child got to it */
	bool programmed;     /* loaded now; false: it held the image already */
	int error;           /* 0, or the negative errno it failed with */
	const char *message; /* the failure's text, or NULL */
};

/* The child has ended: one result per device, in the order given (the
 * child stops at the first failure: later devices are not reported), and
 * the failure that ends the job (NULL: every device holds the image):
 * a device's (-EBADMSG: a digest mismatch, nothing loaded), or ECHILD when
 * the child died. Called once, from the loop; the job is freed when this
 * returns. */
typedef void (*ky_device_program_done_fn)(void *userdata, struct ky_device_program *job,
					  const struct ky_device_program_result *results, size_t n,
					  const struct ky_error *failed);

/* Programs devs (n of them, functions of res) one after another in a
 * child. 0, or -errno with nothing started. ky_device_program_image_start
 * programs spec instead of res's bitstream (NULL: res's). */
int ky_device_program_image_start(struct ky_loop *loop, const struct ky_device_resource *res,
				  const struct ky_image_spec *spec, const struct ky_device *const *devs, size_t n,
				  const struct ky_device_images *img, ky_device_program_done_fn done, void *userdata,
				  struct ky_device_program **out, struct ky_error **err);
int ky_device_program_start(struct ky_loop *loop, const struct ky_device_resource *res,
			    const struct ky_device *const *devs, size_t n, const struct ky_device_images *img,
			    ky_device_program_done_fn done, void *userdata, struct ky_device_program **out,
			    struct ky_error **err);
pid_t ky_device_program_pid(const struct ky_device_program *job);
/* Forgets a running job: done is not called, and the child is left to
 * finish (stopping a partial reconfiguration halfway would leave the
 * region unusable). Not from done. */
void ky_device_program_free(struct ky_device_program *job);

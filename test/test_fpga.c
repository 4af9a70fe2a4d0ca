/* DFL FPGA ports over a directory laid out as the kernel's sysfs
 * (fpga_region/region0/dfl-fme.0, dfl-port.0/afu_id): finding the port,
 * reading its AFU id, and ky_fpga_ensure with the admin loader command
 * (a Python stand-in that records each load and sets afu_id as a real
 * load would). The DFL ioctl path is tested in test_deviceplugin against
 * umockdev's ioctl emulation. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/pci/fpga.h"
#include "kyborg/pci/image_cache.h"
#include "kytest.h"

#define AFU_OLD "00000000000000000000000000000000"
#define AFU_NLB "d8424dc4a4a3c413f89e433683f9040b"

static char *dir, *pci, *log_path, *image;
static struct ky_fpga *f;
static struct ky_image_spec spec;

static char *path_in(const char *fmt, const char *a)
{
	char *p;
	cr_assert(asprintf(&p, fmt, dir, a) > 0);
	return p;
}

static void setup(void)
{
	dir = kyt_tmpdir("kyfpga");
	cr_assert(dir);
	pci = path_in("%s/%s", "0000:af:00.0");
	_cleanup_free_ char *r = path_in("%s/0000:af:00.0/%s", "fpga_region");
	_cleanup_free_ char *r0 = path_in("%s/0000:af:00.0/fpga_region/%s", "region0");
	_cleanup_free_ char *fme = path_in("%s/0000:af:00.0/fpga_region/region0/%s", "dfl-fme.0");
	_cleanup_free_ char *port = path_in("%s/0000:af:00.0/fpga_region/region0/%s", "dfl-port.0");
	_cleanup_free_ char *afu = path_in("%s/0000:af:00.0/fpga_region/region0/dfl-port.0/%s", "afu_id");
	cr_assert(mkdir(pci, 0755) == 0 && mkdir(r, 0755) == 0 && mkdir(r0, 0755) == 0 && mkdir(fme, 0755) == 0 &&
		  mkdir(port, 0755) == 0);
	cr_assert_eq(kyt_write_file(afu, AFU_OLD "\n"), 0);
	log_path = path_in("%s/%s", "loads.log");
	image = path_in("%s/%s", "nlb.gbs");
	cr_assert_eq(kyt_write_file(image, "nlb bitstream"), 0);
	spec = (struct ky_image_spec){ .id = strdup("D8424DC4-A4A3-C413-F89E-433683F9040B"), .path = strdup(image) };
	ky_sha256_buf("nlb bitstream", 13, spec.sha256);
	_cleanup_error_ struct ky_error *err = NULL;
	cr_assert_eq(ky_fpga_find(pci, "0000:af:00.0", &f, &err), 0, "%s", ky_error_msg(err));
}

static void teardown(void)
{
	ky_fpga_free(f);
	ky_image_spec_release(&spec);
	kyt_rmrf(dir);
	free(dir);
	free(pci);
	free(log_path);
	free(image);
}

TestSuite(fpga, .init = setup, .fini = teardown);

static int loads(void)
{
	_cleanup_free_ char *text = kyt_read_file(log_path);
	int n = 0;
	for (char *p = text; p && *p; p++)
		n += *p == '\n';
	return n;
}

static int ensure(bool *programmed, struct ky_error **err)
{
	char *const argv[] = { "/usr/bin/python3", KYTEST_FPGA_LOADER, log_path, "{sysfs}", "{id}", "{image}", NULL };
	char *const envp[] = { NULL };
	struct ky_fpga_loader l = { .program = argv, .envp = envp, .timeout_ms = 10000 };
	return ky_fpga_ensure(f, &spec, dir, "/nonexistent/kyborg-fetch", &l, programmed, err);
}

Test(fpga, finds_the_fme_and_port_of_a_pci_function)
{
	cr_assert_str_eq(f->fme_dev, "/dev/dfl-fme.0");
	cr_assert_str_eq(f->port_dev, "/dev/dfl-port.0");
	_cleanup_free_ char *id = NULL;
	cr_assert_eq(ky_fpga_loaded_id(f, &id, NULL), 0);
	cr_assert_str_eq(id, AFU_OLD);
	struct ky_fpga *none = NULL;
	_cleanup_error_ struct ky_error *err = NULL;
	cr_assert_eq(ky_fpga_find(dir, "0000:00:00.0", &none, &err), -ENOENT);
	cr_assert(strstr(ky_error_msg(err), "0000:00:00.0"));
}

Test(fpga, ids_compare_as_uuids_in_any_case)
{
	cr_assert(ky_fpga_id_equal(AFU_NLB, "D8424DC4-A4A3-C413-F89E-433683F9040B"));
	cr_assert_not(ky_fpga_id_equal(AFU_NLB, AFU_OLD));
	cr_assert_not(ky_fpga_id_equal("", ""));
}

Test(fpga, programmed_when_the_loaded_id_differs_and_then_never_again)
{
	_cleanup_error_ struct ky_error *err = NULL;
	bool programmed = false;
	cr_assert_eq(ensure(&programmed, &err), 0, "%s", ky_error_msg(err));
	cr_assert(programmed);
	cr_assert_eq(loads(), 1);
	_cleanup_free_ char *id = NULL;
	cr_assert_eq(ky_fpga_loaded_id(f, &id, NULL), 0);
	cr_assert_str_eq(id, AFU_NLB);
	cr_assert_eq(ensure(&programmed, &err), 0, "%s", ky_error_msg(err));
	cr_assert_not(programmed);
	cr_assert_eq(loads(), 1);
}

Test(fpga, a_checksum_mismatch_loads_nothing)
{
	_cleanup_error_ struct ky_error *err = NULL;
	cr_assert_eq(kyt_write_file(image, "tampered"), 0);
	bool programmed = true;
	cr_assert_eq(ensure(&programmed, &err), -EBADMSG);
	cr_assert_not(programmed);
	cr_assert(strstr(ky_error_msg(err), "expected"), "%s", ky_error_msg(err));
	cr_assert_eq(loads(), 0);
	_cleanup_free_ char *id = NULL;
	cr_assert_eq(ky_fpga_loaded_id(f, &id, NULL), 0);
	cr_assert_str_eq(id, AFU_OLD);
}

/* Through the DFL ioctl the bytes read for the kernel are hashed again: a
 * file replaced after ky_image_resolve verified it is refused. */
Test(fpga, an_image_replaced_after_its_check_is_not_handed_to_the_kernel)
{
	_cleanup_error_ struct ky_error *err = NULL;
	cr_assert_eq(kyt_write_file(image, "tampered"), 0);
	cr_assert_eq(ky_fpga_program(f, image, spec.id, spec.sha256, NULL, &err), -EBADMSG);
	cr_assert(strstr(ky_error_msg(err), "changed since it was verified"), "%s", ky_error_msg(err));
}

Test(fpga, a_failing_loader_is_reported_with_its_output)
{
	_cleanup_error_ struct ky_error *err = NULL;
	char *const argv[] = { "/usr/bin/python3", "-c", "print('no PR engine'); raise SystemExit(3)", NULL };
	char *const envp[] = { NULL };
	struct ky_fpga_loader l = { .program = argv, .envp = envp, .timeout_ms = 10000 };
	bool programmed = true;
	cr_assert_eq(ky_fpga_ensure(f, &spec, dir, "/nonexistent", &l, &programmed, &err), -EIO);
	cr_assert(strstr(ky_error_msg(err), "exited 3: no PR engine"), "%s", ky_error_msg(err));
}

/* Issue 14: through the ioctl, an image path that is a FIFO waited for a
 * writer for ever; it is refused at once now. */
Test(fpga, an_image_that_is_a_fifo_is_refused_at_once, .timeout = 10)
{
	_cleanup_error_ struct ky_error *err = NULL;
	_cleanup_free_ char *fifo = path_in("%s/%s", "fifo.gbs");
	cr_assert_eq(mkfifo(fifo, 0600), 0);
	cr_assert_eq(ky_fpga_program(f, fifo, spec.id, spec.sha256, NULL, &err), -EINVAL);
	cr_assert(strstr(ky_error_msg(err), "not a regular file"), "%s", ky_error_msg(err));
}

/* Issue 14: the admin's loader was handed the image's path and opened it
 * again after our check, so a file replaced in between was what it
 * loaded. It gets a root-only copy of the bytes verified now. The loader
 * (the stand-in) waits on a gate while the test replaces the file, then
 * logs the SHA-256 of what it read. */
struct gated {
	char *gate;
	int r;
	bool programmed;
	struct ky_error *err;
};

static void *ensure_gated(void *arg)
{
	struct gated *g = arg;
	char *const argv[] = { "/usr/bin/python3", KYTEST_FPGA_LOADER, log_path, "{sysfs}", "{id}", "{image}", g->gate,
			       NULL };
	char *const envp[] = { NULL };
	struct ky_fpga_loader l = { .program = argv, .envp = envp, .timeout_ms = 30000 };
	g->r = ky_fpga_ensure(f, &spec, dir, "/nonexistent/kyborg-fetch", &l, &g->programmed, &g->err);
	return NULL;
}

static bool exists(void *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

Test(fpga, the_loader_reads_the_bytes_verified_not_a_file_replaced_after_the_check)
{
	struct gated g = { .gate = path_in("%s/%s", "gate") };
	_cleanup_free_ char *started = path_in("%s/%s", "gate.started");
	_cleanup_free_ char *evil = path_in("%s/%s", "evil.gbs");
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, ensure_gated, &g), 0);
	bool began = kyt_wait_until(exists, started, 20000);
	if (began) {
		/* Replaced whole (a rename over it) and, for good measure, the
		 * new file then written in place. */
		cr_expect_eq(kyt_write_file(evil, "evil bitstream"), 0);
		cr_expect_eq(rename(evil, image), 0);
		cr_expect_eq(kyt_write_file(image, "evil bitstream, again"), 0);
	}
	kyt_write_file(g.gate, "");
	pthread_join(t, NULL);
	cr_assert(began, "the loader never started");
	cr_assert_eq(g.r, 0, "%s", ky_error_msg(g.err));
	ky_error_free(g.err);
	_cleanup_free_ char *log = kyt_read_file(log_path);
	cr_assert_not_null(log);
	cr_assert_eq(loads(), 1, "%s", log);
	cr_assert(strstr(log, spec.sha256), "the loader read other bytes than those verified: %s", log);
	cr_assert_null(strstr(log, image), "the loader was handed the original path: %s", log);
	free(g.gate);
}

/* DFL FPGA ports: finding the FME and port of a PCI function in sysfs,
 * reading the loaded AFU id, and partial reconfiguration through the
 * kernel's ioctl or the admin's loader command. */
#include "kyborg/base/strv.h"
#include "kyborg/pci/fpga.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fpga-dfl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/base/exec.h"
#include "kyborg/base/fileio.h"
#include "kyborg/base/sha256.h"
#include "kyborg/pci/image_cache.h"

/* Partial bitstreams are tens to hundreds of MiB. */
#define FPGA_MAX_IMAGE (1024UL * 1024 * 1024)

void ky_fpga_free(struct ky_fpga *f)
{
	if (!f)
		return;
	free(f->pci);
	free(f->fme_dev);
	free(f->port_dev);
	free(f->port_sysfs);
	free(f);
}

/* The kernel lays out <pci>/fpga_region/region<N>/dfl-fme.<M> and
 * dfl-port.<K> (Documentation/ABI/testing/sysfs-platform-dfl-*). */
int ky_fpga_find(const char *pci_syspath, const char *pci_addr, struct ky_fpga **out, struct ky_error **err)
{
	_cleanup_free_ char *regions = NULL;
	_cleanup_closedir_ DIR *rd = NULL;
	if (asprintf(&regions, "%s/fpga_region", pci_syspath) < 0)
		return ky_error_set(err, ENOMEM, "out of memory");
	rd = opendir(regions);
	if (!rd)
		return ky_error_set(err, ENOENT, "FPGA %s: no fpga_region in sysfs", pci_addr);
	struct ky_fpga *f = calloc(1, sizeof(*f));
	if (!f || !(f->pci = strdup(pci_addr))) {
		ky_fpga_free(f);
		return ky_error_set(err, ENOMEM, "out of memory");
	}
	struct dirent *re;
	while ((re = readdir(rd)) && !(f->fme_dev && f->port_dev)) {
		if (strncmp(re->d_name, "region", 6) != 0)
			continue;
		_cleanup_free_ char *rpath = NULL;
		if (asprintf(&rpath, "%s/%s", regions, re->d_name) < 0)
			break;
		_cleanup_closedir_ DIR *d = opendir(rpath);
		struct dirent *e;
		while (d && (e = readdir(d))) {
			if (!f->fme_dev && strncmp(e->d_name, "dfl-fme.", 8) == 0) {
				if (asprintf(&f->fme_dev, "/dev/%s", e->d_name) < 0)
					f->fme_dev = NULL;
			} else if (!f->port_dev && strncmp(e->d_name, "dfl-port.", 9) == 0) {
				if (asprintf(&f->port_dev, "/dev/%s", e->d_name) < 0)
					f->port_dev = NULL;
				else if (asprintf(&f->port_sysfs, "%s/%s", rpath, e->d_name) < 0)
					f->port_sysfs = NULL;
			}
		}
	}
	if (!f->fme_dev || !f->port_dev || !f->port_sysfs) {
		ky_fpga_free(f);
		return ky_error_set(err, ENOENT, "FPGA %s: no DFL FME and port in sysfs", pci_addr);
	}
	*out = f;
	return 0;
}

/* Lower-case hex digits of s without dashes, at most size-1 of them. */
static void id_normalize(const char *s, char *buf, size_t size)
{
	size_t n = 0;
	for (; *s && n + 1 < size; s++) {
		if (*s == '-')
			continue;
		if (isspace((unsigned char)*s))
			break;
		buf[n++] = (char)tolower((unsigned char)*s);
	}
	buf[n] = '\0';
}

bool ky_fpga_id_equal(const char *a, const char *b)
{
	char na[128], nb[128];
	if (!a || !b)
		return false;
	id_normalize(a, na, sizeof(na));
	id_normalize(b, nb, sizeof(nb));
	return na[0] && strcmp(na, nb) == 0;
}

int ky_fpga_loaded_id(const struct ky_fpga *f, char **out, struct ky_error **err)
{
	_cleanup_free_ char *path = NULL, *text = NULL;
	size_t len;
	if (asprintf(&path, "%s/afu_id", f->port_sysfs) < 0)
		return ky_error_set(err, ENOMEM, "out of memory");
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ky_error_set(err, errno, "FPGA %s: %s: %m", f->pci, path);
	int r = ky_read_all(fd, 4096, &text, &len);
	if (r < 0)
		return ky_error_set(err, -r, "FPGA %s: read %s: %s", f->pci, path, strerror(-r));
	char *id = malloc(len + 1);
	if (!id)
		return ky_error_set(err, ENOMEM, "out of memory");
	id_normalize(text, id, len + 1);
	*out = id;
	return 0;
}

/* s with every placeholder replaced (malloc'd). */
static char *substitute(const char *s, const char *const keys[], const char *const vals[], size_t n)
{
	size_t cap = strlen(s) + 1, len = 0;
	char *out = malloc(cap);
	if (!out)
		return NULL;
	while (*s) {
		size_t k = 0;
		while (k < n && strncmp(s, keys[k], strlen(keys[k])) != 0)
			k++;
		const char *piece = k < n ? vals[k] : s;
		size_t plen = k < n ? strlen(vals[k]) : 1;
		if (len + plen + 1 > cap) {
			cap = (len + plen + 1) * 2;
			char *no = realloc(out, cap);
			if (!no) {
				free(out);
				return NULL;
			}
			out = no;
		}
		memcpy(out + len, piece, plen);
		len += plen;
		s += k < n ? strlen(keys[k]) : 1;
	}
	out[len] = '\0';
	return out;
}

static int program_command(const struct ky_fpga *f, const char *image, const char *id,
			   const struct ky_fpga_loader *l, struct ky_error **err)
{
	static const char *const keys[] = { "{image}", "{id}", "{pci}", "{fme}", "{port}", "{sysfs}" };
	const char *const vals[] = { image, id, f->pci, f->fme_dev, f->port_dev, f->port_sysfs };
	size_t argc = 0;
	while (l->program[argc])
		argc++;
	char **argv = calloc(argc + 1, sizeof(*argv));
	if (!argv)
		return ky_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < argc; i++) {
		if (!(argv[i] = substitute(l->program[i], keys, vals, KY_ARRAY_SIZE(keys)))) {
			ky_strv_free(argv);
			return ky_error_set(err, ENOMEM, "out of memory");
		}
	}
	_cleanup_free_ char *out = NULL;
	int status = -1;
	struct ky_exec x = { .path = argv[0], .argv = argv, .envp = l->envp, .timeout_ms = l->timeout_ms,
			     .max_output = 65536 };
	int r = ky_exec_capture(&x, &out, NULL, &status, err);
	ky_strv_free(argv);
	if (r < 0)
		return ky_error_prefix(err, "FPGA %s: loader", f->pci);
	if (status != 0) {
		size_t len = out ? strlen(out) : 0;
		while (len && out[len - 1] == '\n')
			out[--len] = '\0';
		return ky_error_set(err, EIO, "FPGA %s: loader %s exited %d%s%s", f->pci, l->program[0], status,
				    len ? ": " : "", len ? out : "");
	}
	return 0;
}

/* Tested against umockdev's ioctl emulation (test_deviceplugin), not the
 * DFL driver: the region's programming itself needs the hardware. */
static int program_ioctl(const struct ky_fpga *f, const char *image, const char *sha256, struct ky_error **err)
{
	_cleanup_close_ int ifd = ky_open_regular_at(AT_FDCWD, image, NULL);
	_cleanup_free_ char *buf = NULL;
	size_t len;
	if (ifd < 0)
		return ky_error_set(err, -ifd, "FPGA %s: %s: %s", f->pci, image,
				    ifd == -EINVAL ? "not a regular file" : strerror(-ifd));
	int r = ky_read_all(ifd, FPGA_MAX_IMAGE, &buf, &len);
	if (r < 0)
		return ky_error_set(err, -r, "FPGA %s: read %s: %s", f->pci, image, strerror(-r));
	char got[KY_SHA256_HEX_LEN];
	ky_sha256_buf(buf, len, got);
	if (sha256 && strcasecmp(got, sha256) != 0)
		return ky_error_set(err, EBADMSG, "FPGA %s: %s changed since it was verified: sha256 %s, expected %s",
				    f->pci, image, got, sha256);
	_cleanup_close_ int fd = open(f->fme_dev, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return ky_error_set(err, errno, "FPGA %s: %s: %m", f->pci, f->fme_dev);
	struct dfl_fpga_fme_port_pr pr = {
		.argsz = sizeof(pr),
		.port_id = 0,
		.buffer_size = (uint32_t)len,
		.buffer_address = (uint64_t)(uintptr_t)buf,
	};
	if (len > UINT32_MAX)
		return ky_error_set(err, EFBIG, "FPGA %s: %s is too large", f->pci, image);
	if (ioctl(fd, DFL_FPGA_FME_PORT_PR, &pr) < 0)
		return ky_error_set(err, errno, "FPGA %s: DFL_FPGA_FME_PORT_PR on %s: %m", f->pci, f->fme_dev);
	return 0;
}

int ky_fpga_program(const struct ky_fpga *f, const char *image_path, const char *id, const char *sha256,
		    const struct ky_fpga_loader *loader, struct ky_error **err)
{
	if (loader && loader->program && loader->program[0])
		return program_command(f, image_path, id, loader, err);
	return program_ioctl(f, image_path, sha256, err);
}

/* An admin's loader opens the image itself, after our check: handed the
 * original path, it could read a file replaced in between. It gets instead
 * a copy of exactly the bytes hashed, written by us into the
 * content-addressed cache (a directory only root can write, the copy
 * 0600), named by their digest. An image fetched by URL already is that
 * file. */
static int stage_verified(const struct ky_image_spec *spec, const char *image, const char *cache_dir, char **out,
			  struct ky_error **err)
{
	if (!cache_dir)
		return ky_error_set(err, EINVAL, "a loader needs an image cache for the verified copy it is given");
	_cleanup_free_ char *dir = NULL, *final = ky_image_cache_path(cache_dir, spec->sha256), *tmp = NULL;
	if (!final || asprintf(&dir, "%s/sha256", cache_dir) < 0 ||
	    asprintf(&tmp, ".stage-%s.%ld", spec->sha256, (long)getpid()) < 0)
		return ky_error_set(err, ENOMEM, "out of memory");
	int r = ky_mkdir_p(dir, 0700);
	if (r < 0)
		return ky_error_set(err, -r, "create %s: %s", dir, strerror(-r));
	struct stat st;
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0 || fstat(dfd, &st) < 0)
		return ky_error_set(err, errno, "%s: %m", dir);
	if (!ky_stat_trusted(&st))
		return ky_error_set(err, EPERM, "image cache %s is writable by others than root (mode %04o)", dir,
				    (unsigned)(st.st_mode & 07777));
	if (strcmp(image, final) == 0) {
		*out = TAKE_PTR(final);
		return 0;
	}
	_cleanup_close_ int src = ky_open_regular_at(AT_FDCWD, image, NULL);
	if (src < 0)
		return ky_error_set(err, -src, "%s: %s", image, src == -EINVAL ? "not a regular file" : strerror(-src));
	unlinkat(dfd, tmp, 0); /* left by an earlier process with our pid */
	_cleanup_close_ int dst = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (dst < 0)
		return ky_error_set(err, errno, "%s/%s: %m", dir, tmp);
	struct ky_sha256 h;
	ky_sha256_init(&h);
	_cleanup_free_ char *buf = malloc(1 << 16);
	size_t total = 0;
	for (r = buf ? 0 : -ENOMEM; r == 0;) {
		ssize_t n = read(src, buf, 1 << 16);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : 1;
			break;
		}
		total += (size_t)n;
		ky_sha256_update(&h, buf, (size_t)n);
		r = total > FPGA_MAX_IMAGE ? -EFBIG : ky_write_all(dst, buf, (size_t)n);
	}
	uint8_t dg[KY_SHA256_LEN];
	char got[KY_SHA256_HEX_LEN];
	ky_sha256_final(&h, dg);
	ky_sha256_to_hex(dg, got);
	if (r < 0 || strcasecmp(got, spec->sha256) != 0) {
		unlinkat(dfd, tmp, 0);
		if (r < 0)
			return ky_error_set(err, -r, "copy %s into %s: %s", image, dir, strerror(-r));
		return ky_error_set(err, EBADMSG, "%s changed since it was verified: sha256 %s, expected %s", image, got,
				    spec->sha256);
	}
	if (renameat(dfd, tmp, dfd, spec->sha256) < 0) {
		r = ky_error_set(err, errno, "rename %s/%s: %m", dir, tmp);
		unlinkat(dfd, tmp, 0);
		return r;
	}
	*out = TAKE_PTR(final);
	return 0;
}

int ky_fpga_ensure(const struct ky_fpga *f, const struct ky_image_spec *spec, const char *cache_dir,
		   const char *fetch_helper, const struct ky_fpga_loader *loader, bool *programmed,
		   struct ky_error **err)
{
	_cleanup_free_ char *loaded = NULL, *image = NULL, *after = NULL;
	int r;
	*programmed = false;
	if ((r = ky_fpga_loaded_id(f, &loaded, err)) < 0)
		return r;
	if (ky_fpga_id_equal(loaded, spec->id))
		return 0;
	if ((r = ky_image_resolve(spec, cache_dir, fetch_helper, &image, err)) < 0)
		return ky_error_prefix(err, "FPGA %s", f->pci);
	if (loader && loader->program && loader->program[0]) {
		char *staged = NULL;
		if ((r = stage_verified(spec, image, cache_dir, &staged, err)) < 0)
			return ky_error_prefix(err, "FPGA %s: image %s", f->pci, spec->id);
		free(image);
		image = staged;
	}
	if ((r = ky_fpga_program(f, image, spec->id, spec->sha256, loader, err)) < 0)
		return r;
	*programmed = true;
	if ((r = ky_fpga_loaded_id(f, &after, err)) < 0)
		return r;
	if (!ky_fpga_id_equal(after, spec->id))
		return ky_error_set(err, EIO, "FPGA %s: loaded %s but afu_id reads %s", f->pci, spec->id, after);
	return 0;
}

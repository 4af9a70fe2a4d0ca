/* Entering and leaving network namespaces with setns(2). */
#include "kyborg/net/netns.h"
#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/ioctl.h>
#include <sys/vfs.h>
#include <linux/nsfs.h>
#include <linux/magic.h>

#ifndef NSFS_MAGIC
#define NSFS_MAGIC 0x6e736673
#endif

int ky_netns_open(const char *path, int *out, struct ky_error **err)
{
	if (!path || !*path)
		return ky_error_set(err, EINVAL, "netns path is empty");
	/* The path is the caller's input: opening whatever it names for
	 * reading could block (a FIFO waits for a writer) or act (a device
	 * node). O_PATH opens nothing, and only an nsfs inode is then opened
	 * for real, through the descriptor, so it is the very same file. */
	_cleanup_close_ int pfd = open(path, O_PATH | O_CLOEXEC);
	if (pfd < 0)
		return ky_error_set(err, errno, "open netns %s: %s", path, strerror(errno));
	/* An opened namespace file, bind mount or /proc/PID/ns/net alike, is an
	 * nsfs inode; NS_GET_NSTYPE tells a network namespace from the others. */
	struct statfs sfs;
	if (fstatfs(pfd, &sfs) < 0)
		return ky_error_set(err, errno, "statfs netns %s: %s", path, strerror(errno));
	if (sfs.f_type != NSFS_MAGIC)
		return ky_error_set(err, EINVAL, "%s is not a network namespace", path);
	char self[64];
	snprintf(self, sizeof(self), "/proc/self/fd/%d", pfd);
	_cleanup_close_ int fd = open(self, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return ky_error_set(err, errno, "open netns %s: %s", path, strerror(errno));
	if (ioctl(fd, NS_GET_NSTYPE) != CLONE_NEWNET)
		return ky_error_set(err, EINVAL, "%s is not a network namespace", path);
	*out = TAKE_FD(fd);
	return 0;
}

int ky_netns_same(int a, int b)
{
	struct stat sa, sb;
	if (fstat(a, &sa) < 0 || fstat(b, &sb) < 0)
		return -errno;
	return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

int ky_netns_run_fd(int fd, ky_netns_fn fn, void *arg, struct ky_error **err)
{
	_cleanup_close_ int orig = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (orig < 0)
		return ky_error_set(err, errno, "open current netns: %s", strerror(errno));

	if (setns(fd, CLONE_NEWNET) < 0)
		return ky_error_set(err, errno, "enter netns: %s", strerror(errno));

	int r = fn(arg, err);

	if (setns(orig, CLONE_NEWNET) < 0) {
		int e = errno;
		ky_error_set(err, ENOTRECOVERABLE, "return to the original netns: %s", strerror(e));
		return -ENOTRECOVERABLE;
	}
	return r;
}

int ky_netns_run(const char *path, ky_netns_fn fn, void *arg, struct ky_error **err)
{
	_cleanup_close_ int fd = -1;
	int r = ky_netns_open(path, &fd, err);
	if (r < 0)
		return r;
	r = ky_netns_run_fd(fd, fn, arg, err);
	if (r < 0 && r != -ENOTRECOVERABLE)
		ky_error_prefix(err, "in netns %s", path);
	return r;
}

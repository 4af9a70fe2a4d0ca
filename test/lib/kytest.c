/* Shared test fixtures; see kytest.h. */
#include "kytest.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

char *kyt_tmpdir(const char *prefix)
{
	const char *base = getenv("TMPDIR");
	char *path = NULL;
	if (!base || !*base)
		base = "/tmp";
	if (asprintf(&path, "%s/%s.XXXXXX", base, prefix ? prefix : "kytest") < 0)
		return NULL;
	if (!mkdtemp(path)) {
		free(path);
		return NULL;
	}
	return path;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		return rmdir(path) < 0 ? -errno : 0;
	return unlink(path) < 0 ? -errno : 0;
}

int kyt_rmrf(const char *path)
{
	if (!path)
		return 0;
	int r = nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	if (r < 0 && errno == ENOENT)
		return 0;
	return r;
}

void kyt_unique_name(char *buf, size_t size, const char *prefix)
{
	static unsigned counter;
	snprintf(buf, size, "%.6s%x%x", prefix, (unsigned)getpid() & 0xfffff, counter++ & 0xff);
}

int kyt_runv(char **out, char *const argv[])
{
	int pipefd[2] = { -1, -1 };
	if (out) {
		*out = NULL;
		if (pipe2(pipefd, O_CLOEXEC) < 0)
			return -1;
	}
	/* Opened before the fork: under umockdev's preload, open() takes a lock
	 * that another thread of this process may hold at the fork, and the
	 * child would wait for it forever. The child only dup2()s and execs. */
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	pid_t pid = fork();
	if (pid < 0) {
		close(null);
		return -1;
	}
	if (pid == 0) {
		/* Dies with the test: a child that hangs must not keep Criterion
		 * waiting for its output once the test's timeout killed us. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (out)
			dup2(pipefd[1], 1);
		else
			dup2(null, 1);
		if (!getenv("KYTEST_VERBOSE"))
			dup2(null, 2);
		dup2(null, 0);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(null);
	if (out) {
		close(pipefd[1]);
		size_t cap = 4096, len = 0;
		char *buf = malloc(cap);
		ssize_t n;
		while (buf && (n = read(pipefd[0], buf + len, cap - len - 1)) != 0) {
			if (n < 0) {
				if (errno == EINTR)
					continue;
				break;
			}
			len += (size_t)n;
			if (cap - len < 2) {
				char *nb = realloc(buf, cap *= 2);
				if (!nb) {
					free(buf);
					buf = NULL;
					break;
				}
				buf = nb;
			}
		}
		if (buf)
			buf[len] = '\0';
		*out = buf;
		close(pipefd[0]);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int kyt_run(char **out, const char *arg0, ...)
{
	char *argv[64];
	size_t n = 0;
	va_list ap;
	va_start(ap, arg0);
	for (const char *a = arg0; a && n < 63; a = va_arg(ap, const char *))
		argv[n++] = (char *)a;
	va_end(ap);
	argv[n] = NULL;
	return kyt_runv(out, argv);
}

bool kyt_wait_until(bool (*cond)(void *arg), void *arg, int timeout_ms)
{
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		if (cond(arg))
			return true;
		clock_gettime(CLOCK_MONOTONIC, &now);
		long elapsed = (now.tv_sec - start.tv_sec) * 1000L + (now.tv_nsec - start.tv_nsec) / 1000000L;
		if (elapsed > timeout_ms)
			return cond(arg);
		struct timespec ms = { 0, 1000000L };
		nanosleep(&ms, NULL);
	}
}

bool kyt_socket_accepts(void *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", (const char *)path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool up = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	if (fd >= 0)
		close(fd);
	return up;
}

char *kyt_read_file(const char *path)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return NULL;
	char *buf = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&buf, &len);
	if (!mem) {
		fclose(f);
		return NULL;
	}
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		fwrite(chunk, 1, n, mem);
	fclose(f);
	fclose(mem);
	return buf;
}

int kyt_write_file(const char *path, const char *content)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	size_t len = strlen(content);
	ssize_t w = write(fd, content, len);
	int r = (w == (ssize_t)len) ? 0 : -EIO;
	close(fd);
	return r;
}

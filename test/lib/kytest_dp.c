/* The device-plugin kubelet stand-in's ListAndWatch stream; see kytest_dp.h. */
#include "kytest_dp.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kytest.h"
#include "kytest_proc.h"

void kyt_dp_watch_start(struct kyt_dp_watcher *w, const char *script, const char *sock, const char *desc,
			int messages)
{
	char count[16];
	snprintf(count, sizeof(count), "%d", messages);
	const char *argv[] = { "/usr/bin/python3", script, "watch", sock, desc, count, NULL };
	int pipefd[2];
	cr_assert_eq(pipe2(pipefd, O_CLOEXEC), 0);
	w->c = kyt_child_start(argv, pipefd[1], true);
	close(pipefd[1]);
	w->fd = pipefd[0];
	w->len = 0;
}

cJSON *kyt_dp_watch_next(struct kyt_dp_watcher *w, int timeout_ms)
{
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		char *nl = memchr(w->buf, '\n', w->len);
		if (nl) {
			*nl = '\0';
			cJSON *j = cJSON_Parse(w->buf);
			cr_assert_not_null(j, "not JSON: %s", w->buf);
			size_t used = (size_t)(nl - w->buf) + 1;
			memmove(w->buf, nl + 1, w->len - used);
			w->len -= used;
			return j;
		}
		long spent = kyt_since_ms(&t0);
		cr_assert_lt(spent, timeout_ms, "no ListAndWatch update within %d ms", timeout_ms);
		struct pollfd p = { .fd = w->fd, .events = POLLIN };
		if (poll(&p, 1, (int)(timeout_ms - spent)) <= 0)
			continue;
		ssize_t k = read(w->fd, w->buf + w->len, sizeof(w->buf) - 1 - w->len);
		cr_assert_gt(k, 0, "the watcher ended");
		w->len += (size_t)k;
	}
}

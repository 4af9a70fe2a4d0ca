/* A directory watch on the loop: one inotify fd, its events filtered by
 * the owner, a burst of them turned into one call on a zero-delay timer. */
#include "kyborg/loop/dir_watch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "kyborg/base/error.h"
#include "kyborg/loop/loop.h"

struct ky_dir_watch {
	int fd;
	uint32_t mask;
	struct ky_loop_io *io;
	struct ky_loop_timer *timer;
	ky_dir_watch_filter_fn filter;
	ky_dir_watch_fn changed;
	void *userdata;
};

static void on_timer(struct ky_loop_timer *t, void *userdata)
{
	struct ky_dir_watch *w = userdata;
	(void)t;
	/* Last: `changed` may free the watch. */
	w->changed(w, w->userdata);
}

static void on_events(struct ky_loop_io *io, int fd, uint32_t events, void *userdata)
{
	struct ky_dir_watch *w = userdata;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool interesting = false;
	(void)io;
	(void)events;
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			break;
		for (char *ptr = buf; ptr < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)ptr;
			ptr += sizeof(*ev) + ev->len;
			/* Every event goes to the filter: it may note what it saw. */
			if (w->filter(ev->len ? ev->name : NULL, ev->mask, w->userdata))
				interesting = true;
		}
	}
	/* A retry already due stays as it is: the reconcile it runs sees this
	 * burst too. */
	if (interesting && !ky_loop_timer_armed(w->timer))
		ky_loop_timer_arm(w->timer, 0, 0);
}

int ky_dir_watch_new(struct ky_loop *loop, uint32_t mask, ky_dir_watch_filter_fn filter, ky_dir_watch_fn changed,
		     void *userdata, struct ky_dir_watch **out, struct ky_error **err)
{
	_cleanup_(ky_dir_watch_freep) struct ky_dir_watch *w = calloc(1, sizeof(*w));
	int r;
	if (!w)
		return ky_error_set(err, ENOMEM, "out of memory");
	*w = (struct ky_dir_watch){ .fd = -1, .mask = mask, .filter = filter, .changed = changed, .userdata = userdata };
	w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->fd < 0)
		return ky_error_set(err, errno, "inotify_init1: %s", strerror(errno));
	if ((r = ky_loop_timer_new(loop, on_timer, w, &w->timer, err)) < 0 ||
	    (r = ky_loop_io_add(loop, w->fd, KY_LOOP_READ, on_events, w, &w->io, err)) < 0)
		return r;
	*out = TAKE_PTR(w);
	return 0;
}

int ky_dir_watch_add(struct ky_dir_watch *w, const char *dir, struct ky_error **err)
{
	if (inotify_add_watch(w->fd, dir, w->mask) < 0)
		return ky_error_set(err, errno, "watch %s: %s", dir, strerror(errno));
	return 0;
}

void ky_dir_watch_retry(struct ky_dir_watch *w, uint64_t delay_ms)
{
	ky_loop_timer_arm(w->timer, delay_ms, 0);
}

void ky_dir_watch_free(struct ky_dir_watch *w)
{
	if (!w)
		return;
	ky_loop_io_free(w->io);
	ky_loop_timer_free(w->timer);
	if (w->fd >= 0)
		close(w->fd);
	free(w);
}

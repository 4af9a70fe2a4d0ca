/* The epoll event loop: fd watches, timers over the timer heap, signals by
 * signalfd. Watches freed during a dispatch round are reaped after it. */
#include "kyborg/loop/loop.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <time.h>

#include "kyborg/base/error.h"
#include "kyborg/base/list.h"
#include "kyborg/loop/timer_heap.h"

#define MAX_EVENTS 64

struct ky_loop_io {
	struct ky_loop *loop;
	int fd;
	uint32_t events;
	ky_loop_io_fn fn;
	void *userdata;
	bool dead;
	struct ky_loop_io *prev, *next; /* live list, or the zombie list once dead */
};

struct ky_loop_timer {
	struct ky_timer_node node; /* first: the heap hands back its address */
	struct ky_loop *loop;
	uint64_t period;
	ky_loop_timer_fn fn;
	void *userdata;
	bool *freed_flag; /* set while its callback runs */
	struct ky_loop_timer *prev, *next;
};

struct ky_loop {
	int epfd;
	struct ky_timer_heap timers;
	struct ky_loop_io *ios, *zombies;
	struct ky_loop_timer *all_timers;
	int sigfd;
	struct ky_loop_io *sig_io;
	ky_loop_signal_fn sig_fn;
	void *sig_userdata;
	sigset_t old_mask;
	bool shutting_down; /* the mask stays blocked past ky_loop_free */
	bool stopped;
	int stop_code;
};

uint64_t ky_loop_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int ky_loop_new(struct ky_loop **out, struct ky_error **err)
{
	struct ky_loop *loop = calloc(1, sizeof(*loop));
	if (!loop)
		return ky_error_set(err, ENOMEM, "event loop");
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0) {
		int e = errno;
		free(loop);
		return ky_error_set(err, e, "epoll_create1: %s", strerror(e));
	}
	loop->sigfd = -1;
	ky_timer_heap_init(&loop->timers);
	*out = loop;
	return 0;
}

static void reap_zombies(struct ky_loop *loop)
{
	while (loop->zombies) {
		struct ky_loop_io *io = loop->zombies;
		loop->zombies = io->next;
		free(io);
	}
}

void ky_loop_free(struct ky_loop *loop)
{
	if (!loop)
		return;
	if (loop->sig_io) {
		ky_loop_io_free(loop->sig_io);
		close(loop->sigfd);
		/* Once shutdown has begun, a restored mask would hand a pending
		 * or later SIGTERM its default action halfway through the
		 * cleanup: it stays blocked until exit discards it. */
		if (!loop->shutting_down)
			sigprocmask(SIG_SETMASK, &loop->old_mask, NULL);
	}
	while (loop->ios)
		ky_loop_io_free(loop->ios);
	reap_zombies(loop);
	while (loop->all_timers)
		ky_loop_timer_free(loop->all_timers);
	ky_timer_heap_release(&loop->timers);
	close(loop->epfd);
	free(loop);
}

static uint32_t to_epoll(uint32_t events)
{
	return ((events & KY_LOOP_READ) ? EPOLLIN : 0) | ((events & KY_LOOP_WRITE) ? EPOLLOUT : 0);
}

int ky_loop_io_add(struct ky_loop *loop, int fd, uint32_t events, ky_loop_io_fn fn, void *userdata,
		   struct ky_loop_io **out, struct ky_error **err)
{
	struct ky_loop_io *io = calloc(1, sizeof(*io));
	if (!io)
		return ky_error_set(err, ENOMEM, "fd watch");
	*io = (struct ky_loop_io){ .loop = loop, .fd = fd, .events = events, .fn = fn, .userdata = userdata };
	struct epoll_event ev = { .events = to_epoll(events), .data.ptr = io };
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int e = errno;
		free(io);
		return ky_error_set(err, e, "epoll_ctl add fd %d: %s", fd, strerror(e));
	}
	KY_LIST_PREPEND(loop->ios, io);
	if (out)
		*out = io;
	return 0;
}

int ky_loop_io_set_events(struct ky_loop_io *io, uint32_t events, struct ky_error **err)
{
	if (io->events == events)
		return 0;
	struct epoll_event ev = { .events = to_epoll(events), .data.ptr = io };
	if (epoll_ctl(io->loop->epfd, EPOLL_CTL_MOD, io->fd, &ev) < 0)
		return ky_error_set(err, errno, "epoll_ctl mod fd %d: %s", io->fd, strerror(errno));
	io->events = events;
	return 0;
}

uint32_t ky_loop_io_events(const struct ky_loop_io *io)
{
	return io->events;
}

void ky_loop_io_free(struct ky_loop_io *io)
{
	if (!io || io->dead)
		return;
	struct ky_loop *loop = io->loop;
	/* The fd may already be closed by a careless owner: then epoll has
	 * dropped it by itself and the error is harmless. */
	epoll_ctl(loop->epfd, EPOLL_CTL_DEL, io->fd, NULL);
	io->dead = true;
	KY_LIST_REMOVE(loop->ios, io);
	/* Events for it may still sit in the current epoll batch. */
	io->next = loop->zombies;
	loop->zombies = io;
}

int ky_loop_timer_new(struct ky_loop *loop, ky_loop_timer_fn fn, void *userdata, struct ky_loop_timer **out,
		      struct ky_error **err)
{
	struct ky_loop_timer *t = calloc(1, sizeof(*t));
	if (!t)
		return ky_error_set(err, ENOMEM, "timer");
	t->loop = loop;
	t->fn = fn;
	t->userdata = userdata;
	t->node.index = KY_TIMER_NODE_UNLINKED;
	KY_LIST_PREPEND(loop->all_timers, t);
	*out = t;
	return 0;
}

static void timer_schedule(struct ky_loop_timer *t, uint64_t deadline)
{
	ky_timer_heap_remove(&t->loop->timers, &t->node);
	t->node.deadline = deadline;
	/* Only growth of the heap can fail (ENOMEM): the timer then stays
	 * disarmed, which ky_loop_timer_armed() shows. */
	if (ky_timer_heap_push(&t->loop->timers, &t->node) < 0)
		t->node.index = KY_TIMER_NODE_UNLINKED;
}

void ky_loop_timer_arm(struct ky_loop_timer *t, uint64_t delay_ms, uint64_t period_ms)
{
	t->period = period_ms;
	timer_schedule(t, ky_loop_now_ms() + delay_ms);
}

void ky_loop_timer_disarm(struct ky_loop_timer *t)
{
	ky_timer_heap_remove(&t->loop->timers, &t->node);
	t->period = 0;
}

bool ky_loop_timer_armed(const struct ky_loop_timer *t)
{
	return t->node.index != KY_TIMER_NODE_UNLINKED;
}

void ky_loop_timer_free(struct ky_loop_timer *t)
{
	if (!t)
		return;
	struct ky_loop *loop = t->loop;
	ky_timer_heap_remove(&loop->timers, &t->node);
	if (t->freed_flag)
		*t->freed_flag = true;
	KY_LIST_REMOVE(loop->all_timers, t);
	free(t);
}

static void on_signalfd(struct ky_loop_io *io, int fd, uint32_t events, void *userdata)
{
	struct ky_loop *loop = userdata;
	struct signalfd_siginfo si;
	(void)io;
	(void)events;
	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		/* After the first SIGTERM a second one means nothing more. */
		if (loop->shutting_down)
			continue;
		loop->sig_fn(loop, (int)si.ssi_signo, loop->sig_userdata);
		if (!loop->sig_io)
			return;
	}
}

int ky_loop_signals(struct ky_loop *loop, ky_loop_signal_fn fn, void *userdata, struct ky_error **err)
{
	if (loop->sig_io)
		return ky_error_set(err, EBUSY, "signals already handled by this loop");
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return ky_error_set(err, errno, "signalfd: %s", strerror(errno));
	if (sigprocmask(SIG_BLOCK, &set, &loop->old_mask) < 0) {
		int e = errno;
		close(fd);
		return ky_error_set(err, e, "sigprocmask: %s", strerror(e));
	}
	loop->sig_fn = fn;
	loop->sig_userdata = userdata;
	int r = ky_loop_io_add(loop, fd, KY_LOOP_READ, on_signalfd, loop, &loop->sig_io, err);
	if (r < 0) {
		sigprocmask(SIG_SETMASK, &loop->old_mask, NULL);
		close(fd);
		return r;
	}
	loop->sigfd = fd;
	return 0;
}

static int next_timeout(struct ky_loop *loop, int timeout_ms)
{
	struct ky_timer_node *n = ky_timer_heap_peek(&loop->timers);
	if (!n)
		return timeout_ms;
	uint64_t now = ky_loop_now_ms();
	uint64_t wait = n->deadline > now ? n->deadline - now : 0;
	if (wait > INT32_MAX)
		wait = INT32_MAX;
	if (timeout_ms < 0 || (uint64_t)timeout_ms > wait)
		return (int)wait;
	return timeout_ms;
}

static void run_timers(struct ky_loop *loop)
{
	uint64_t now = ky_loop_now_ms();
	/* Timers re-armed for "now" by their callbacks wait for the next round,
	 * so a zero-period loop cannot starve the fds. */
	struct ky_timer_heap *h = &loop->timers;
	uint64_t limit = h->next_seq;
	struct ky_timer_node *n;
	while ((n = ky_timer_heap_peek(h)) && n->deadline <= now && n->seq < limit) {
		ky_timer_heap_remove(h, n);
		struct ky_loop_timer *t = (struct ky_loop_timer *)n;
		if (t->period)
			timer_schedule(t, n->deadline + t->period > now ? n->deadline + t->period : now + t->period);
		bool freed = false;
		t->freed_flag = &freed;
		t->fn(t, t->userdata);
		if (!freed)
			t->freed_flag = NULL;
	}
}

int ky_loop_run_once(struct ky_loop *loop, int timeout_ms, struct ky_error **err)
{
	struct epoll_event evs[MAX_EVENTS];
	int n = epoll_wait(loop->epfd, evs, MAX_EVENTS, next_timeout(loop, timeout_ms));
	if (n < 0) {
		if (errno == EINTR)
			return 0;
		return ky_error_set(err, errno, "epoll_wait: %s", strerror(errno));
	}
	for (int i = 0; i < n; i++) {
		struct ky_loop_io *io = evs[i].data.ptr;
		if (io->dead)
			continue;
		uint32_t e = evs[i].events, ev = 0;
		if (e & EPOLLIN)
			ev |= KY_LOOP_READ;
		if (e & EPOLLOUT)
			ev |= KY_LOOP_WRITE;
		if (e & (EPOLLHUP | EPOLLRDHUP))
			ev |= KY_LOOP_HUP;
		if (e & EPOLLERR)
			ev |= KY_LOOP_ERR;
		io->fn(io, io->fd, ev, io->userdata);
	}
	reap_zombies(loop);
	run_timers(loop);
	return 0;
}

int ky_loop_run(struct ky_loop *loop, struct ky_error **err)
{
	loop->stopped = false;
	while (!loop->stopped) {
		int r = ky_loop_run_once(loop, -1, err);
		if (r < 0)
			return r;
	}
	return loop->stop_code;
}

void ky_loop_stop(struct ky_loop *loop, int code)
{
	loop->stopped = true;
	loop->stop_code = code;
}

void ky_loop_shutdown(struct ky_loop *loop, int code)
{
	loop->shutting_down = true;
	ky_loop_stop(loop, code);
}

bool ky_loop_stopped(const struct ky_loop *loop)
{
	return loop->stopped;
}

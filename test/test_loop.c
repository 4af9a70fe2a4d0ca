/* The event loop: the timer heap's order, timers, fd readiness, signals. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kyborg/base/error.h"
#include "kyborg/loop/loop.h"
#include "kyborg/loop/timer_heap.h"

/* ---- the pure heap ---- */

Test(loop, heap_pops_by_deadline_then_push_order)
{
	struct ky_timer_heap h;
	struct ky_timer_node n[64];
	ky_timer_heap_init(&h);
	/* Deadlines 0..7 repeated, pushed in a scrambled order. */
	for (int i = 0; i < 64; i++) {
		n[i] = (struct ky_timer_node){ .deadline = (uint64_t)((i * 37) % 8), .index = KY_TIMER_NODE_UNLINKED };
		cr_assert_eq(ky_timer_heap_push(&h, &n[i]), 0);
	}
	cr_assert_eq(ky_timer_heap_peek(&h)->deadline, 0);
	uint64_t last_deadline = 0, last_seq = 0;
	int popped = 0;
	struct ky_timer_node *x;
	while ((x = ky_timer_heap_pop_due(&h, 100))) {
		if (popped)
			cr_assert(x->deadline > last_deadline || (x->deadline == last_deadline && x->seq > last_seq));
		cr_assert_eq(x->index, KY_TIMER_NODE_UNLINKED);
		last_deadline = x->deadline;
		last_seq = x->seq;
		popped++;
	}
	cr_assert_eq(popped, 64);
	ky_timer_heap_release(&h);
}

Test(loop, heap_remove_from_the_middle_keeps_order)
{
	struct ky_timer_heap h;
	struct ky_timer_node n[100];
	ky_timer_heap_init(&h);
	for (int i = 0; i < 100; i++) {
		n[i] = (struct ky_timer_node){ .deadline = (uint64_t)((i * 7919) % 101), .index = KY_TIMER_NODE_UNLINKED };
		ky_timer_heap_push(&h, &n[i]);
	}
	for (int i = 0; i < 100; i += 3)
		ky_timer_heap_remove(&h, &n[i]);
	ky_timer_heap_remove(&h, &n[0]); /* twice: a no-op */
	cr_assert_eq(h.len, 100 - 34);
	uint64_t last = 0;
	struct ky_timer_node *x;
	int popped = 0;
	while ((x = ky_timer_heap_pop_due(&h, UINT64_MAX))) {
		cr_assert_geq(x->deadline, last);
		cr_assert_neq((x - n) % 3, 0, "removed node %td came back", x - n);
		last = x->deadline;
		popped++;
	}
	cr_assert_eq(popped, 66);
	ky_timer_heap_release(&h);
}

Test(loop, heap_keeps_what_is_not_due)
{
	struct ky_timer_heap h;
	struct ky_timer_node a = { .deadline = 10 }, b = { .deadline = 20 };
	ky_timer_heap_init(&h);
	ky_timer_heap_push(&h, &b);
	ky_timer_heap_push(&h, &a);
	cr_assert_null(ky_timer_heap_pop_due(&h, 9));
	cr_assert_eq(ky_timer_heap_peek(&h), &a);
	cr_assert_eq(ky_timer_heap_pop_due(&h, 15), &a);
	cr_assert_null(ky_timer_heap_pop_due(&h, 15));
	ky_timer_heap_release(&h);
	cr_assert_eq(b.index, KY_TIMER_NODE_UNLINKED);
}

/* ---- timers on the loop ---- */

struct order {
	struct ky_loop *loop;
	int seen[16];
	int n;
	int stop_after;
};

struct tag {
	struct order *o;
	int id;
};

static void record(struct ky_loop_timer *t, void *userdata)
{
	struct tag *tag = userdata;
	(void)t;
	if (tag->o->n < 16)
		tag->o->seen[tag->o->n] = tag->id;
	if (++tag->o->n == tag->o->stop_after)
		ky_loop_stop(tag->o->loop, 7);
}

static void run_with_deadline(struct ky_loop *loop, int timeout_ms)
{
	uint64_t end = ky_loop_now_ms() + (uint64_t)timeout_ms;
	while (!ky_loop_stopped(loop) && ky_loop_now_ms() < end)
		cr_assert_eq(ky_loop_run_once(loop, 10, NULL), 0);
}

Test(loop, timers_fire_in_deadline_order)
{
	_cleanup_(ky_loop_freep) struct ky_loop *loop = NULL;
	cr_assert_eq(ky_loop_new(&loop, NULL), 0);
	struct order o = { .loop = loop, .stop_after = 4 };
	struct tag tags[5];
	struct ky_loop_timer *t[5];
	static const int delays[5] = { 40, 10, 30, 20, 20 };
	/* Taken before arming: the deadlines count from then. */
	uint64_t start = ky_loop_now_ms();
	for (int i = 0; i < 5; i++) {
		tags[i] = (struct tag){ &o, i };
		cr_assert_eq(ky_loop_timer_new(loop, record, &tags[i], &t[i], NULL), 0);
		ky_loop_timer_arm(t[i], (uint64_t)delays[i], 0);
	}
	ky_loop_timer_free(t[2]); /* cancelled: never fires */
	run_with_deadline(loop, 2000);
	cr_assert_eq(o.n, 4);
	cr_assert(o.seen[0] == 1 && o.seen[1] == 3 && o.seen[2] == 4 && o.seen[3] == 0,
		  "order %d %d %d %d", o.seen[0], o.seen[1], o.seen[2], o.seen[3]);
	cr_assert_geq(ky_loop_now_ms() - start, 40);
	cr_assert_not(ky_loop_timer_armed(t[0]), "a one-shot timer is disarmed after it fired");
}

static void periodic(struct ky_loop_timer *t, void *userdata)
{
	struct order *o = userdata;
	if (++o->n == 5) {
		ky_loop_timer_free(t); /* from its own callback */
		ky_loop_stop(o->loop, 0);
	}
}

Test(loop, periodic_timer_repeats_until_freed)
{
	_cleanup_(ky_loop_freep) struct ky_loop *loop = NULL;
	struct ky_loop_timer *t;
	cr_assert_eq(ky_loop_new(&loop, NULL), 0);
	struct order o = { .loop = loop };
	cr_assert_eq(ky_loop_timer_new(loop, periodic, &o, &t, NULL), 0);
	uint64_t start = ky_loop_now_ms();
	ky_loop_timer_arm(t, 5, 5);
	run_with_deadline(loop, 2000);
	cr_assert_eq(o.n, 5);
	cr_assert_geq(ky_loop_now_ms() - start, 25);
}

/* ---- fds ---- */

struct pipe_state {
	struct ky_loop *loop;
	int reads, writes;
	char buf[8];
	struct ky_loop_io *io;
};

static void on_pipe(struct ky_loop_io *io, int fd, uint32_t events, void *userdata)
{
	struct pipe_state *p = userdata;
	if (events & KY_LOOP_READ) {
		ssize_t n = read(fd, p->buf, sizeof(p->buf) - 1);
		cr_assert_gt(n, 0);
		p->buf[n] = 0;
		p->reads++;
		ky_loop_io_free(io); /* from its own callback */
		p->io = NULL;
		ky_loop_stop(p->loop, 1);
	}
}

static void on_writable(struct ky_loop_io *io, int fd, uint32_t events, void *userdata)
{
	struct pipe_state *p = userdata;
	(void)fd;
	cr_assert(events & KY_LOOP_WRITE);
	p->writes++;
	cr_assert_eq(ky_loop_io_set_events(io, 0, NULL), 0, "write interest dropped");
	cr_assert_eq(ky_loop_io_events(io), 0);
}

Test(loop, fd_readiness_and_interest_changes)
{
	_cleanup_(ky_loop_freep) struct ky_loop *loop = NULL;
	int fds[2];
	cr_assert_eq(pipe2(fds, O_CLOEXEC | O_NONBLOCK), 0);
	cr_assert_eq(ky_loop_new(&loop, NULL), 0);
	struct pipe_state p = { .loop = loop };
	struct ky_loop_io *wio;
	cr_assert_eq(ky_loop_io_add(loop, fds[0], KY_LOOP_READ, on_pipe, &p, &p.io, NULL), 0);
	cr_assert_eq(ky_loop_io_add(loop, fds[1], KY_LOOP_WRITE, on_writable, &p, &wio, NULL), 0);
	/* Nothing to read yet: one round dispatches only the writable end. */
	cr_assert_eq(ky_loop_run_once(loop, 50, NULL), 0);
	cr_assert_eq(p.writes, 1);
	cr_assert_eq(p.reads, 0);
	cr_assert_eq(ky_loop_run_once(loop, 20, NULL), 0);
	cr_assert_eq(p.writes, 1, "no more write events once interest is gone");
	cr_assert_eq(write(fds[1], "hi", 2), 2);
	run_with_deadline(loop, 2000);
	cr_assert_eq(p.reads, 1);
	cr_assert_str_eq(p.buf, "hi");
	cr_assert_null(p.io);
	ky_loop_io_free(wio);
	close(fds[0]);
	close(fds[1]);
}

Test(loop, adding_a_bad_fd_is_an_error)
{
	_cleanup_(ky_loop_freep) struct ky_loop *loop = NULL;
	_cleanup_error_ struct ky_error *err = NULL;
	cr_assert_eq(ky_loop_new(&loop, NULL), 0);
	cr_assert_eq(ky_loop_io_add(loop, 12345, KY_LOOP_READ, on_pipe, NULL, NULL, &err), -EBADF);
	cr_assert(strstr(ky_error_msg(err), "12345"));
}

/* ---- signals ---- */

struct sigs {
	int got[4];
	int n;
};

static void on_signal(struct ky_loop *loop, int signo, void *userdata)
{
	struct sigs *s = userdata;
	if (s->n < 4)
		s->got[s->n] = signo;
	if (++s->n == 3)
		ky_loop_stop(loop, 0);
}

Test(loop, signals_arrive_through_the_loop)
{
	struct ky_loop *loop = NULL;
	struct sigs s = { 0 };
	cr_assert_eq(ky_loop_new(&loop, NULL), 0);
	cr_assert_eq(ky_loop_signals(loop, on_signal, &s, NULL), 0);
	cr_assert_eq(ky_loop_signals(loop, on_signal, &s, NULL), -EBUSY);
	/* Blocked now: raising them queues them for the signalfd instead of
	 * killing the test. */
	raise(SIGHUP);
	raise(SIGTERM);
	raise(SIGINT);
	run_with_deadline(loop, 2000);
	cr_assert_eq(s.n, 3);
	int mask = 0;
	for (int i = 0; i < 3; i++)
		mask |= 1 << s.got[i];
	cr_assert_eq(mask, (1 << SIGHUP) | (1 << SIGTERM) | (1 << SIGINT));
	ky_loop_free(loop);
	sigset_t now;
	sigprocmask(SIG_SETMASK, NULL, &now);
	cr_assert_not(sigismember(&now, SIGTERM), "the old mask is back");
}

static void on_term(struct ky_loop *loop, int signo, void *userdata)
{
	(*(int *)userdata)++;
	if (signo == SIGTERM)
		ky_loop_shutdown(loop, 3);
}

/* A daemon's shutdown is its own until exit: a second SIGTERM, pending when
 * the loop is freed or arriving after, is neither delivered to the callback
 * nor given its default action (which would kill this worker). */
Test(loop, after_shutdown_signals_stay_blocked_past_free)
{
	struct ky_loop *loop = NULL;
	int calls = 0;
	sigset_t before;
	sigprocmask(SIG_SETMASK, NULL, &before);
	cr_assert_eq(ky_loop_new(&loop, NULL), 0);
	cr_assert_eq(ky_loop_signals(loop, on_term, &calls, NULL), 0);
	raise(SIGTERM);
	cr_assert_eq(ky_loop_run(loop, NULL), 3, "the shutdown's code");
	raise(SIGTERM);
	raise(SIGHUP);
	cr_assert_eq(ky_loop_run_once(loop, 0, NULL), 0);
	cr_assert_eq(calls, 1, "signals after the shutdown reach no callback");
	ky_loop_free(loop);
	raise(SIGTERM);
	sigset_t now, pending;
	sigprocmask(SIG_SETMASK, NULL, &now);
	cr_assert(sigismember(&now, SIGTERM) && sigismember(&now, SIGINT) && sigismember(&now, SIGHUP),
		  "still blocked after ky_loop_free");
	sigpending(&pending);
	cr_assert(sigismember(&pending, SIGTERM), "the late SIGTERM waits, harmless");
	/* Leave the worker as it was. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	struct timespec zero = { 0, 0 };
	while (sigtimedwait(&set, NULL, &zero) > 0)
		;
	sigprocmask(SIG_SETMASK, &before, NULL);
}

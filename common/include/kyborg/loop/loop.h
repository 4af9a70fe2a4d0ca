/* The event loop: one epoll instance owns every fd watch, monotonic timer and
 * the daemon's signals. Callbacks run on the loop's thread and must not block. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "kyborg/base/cleanup.h"

struct ky_error;
struct ky_loop;
struct ky_loop_io;
struct ky_loop_timer;

enum {
	KY_LOOP_READ = 1u << 0,
	KY_LOOP_WRITE = 1u << 1,
	/* Reported only: the peer hung up or the fd is in error. */
	KY_LOOP_HUP = 1u << 2,
	KY_LOOP_ERR = 1u << 3,
};

typedef void (*ky_loop_io_fn)(struct ky_loop_io *io, int fd, uint32_t events, void *userdata);
typedef void (*ky_loop_timer_fn)(struct ky_loop_timer *timer, void *userdata);
typedef void (*ky_loop_signal_fn)(struct ky_loop *loop, int signo, void *userdata);

int ky_loop_new(struct ky_loop **out, struct ky_error **err);
/* Frees the loop and every watch and timer still registered with it; fds
 * stay open (their owners close them). Restores the signal mask, unless
 * ky_loop_shutdown was called. Free the
 * objects built on the loop (gRPC servers, calls) first: their watches and
 * timers die here. */
void ky_loop_free(struct ky_loop *loop);
KY_DEFINE_CLEANUP(struct ky_loop, ky_loop_free)

/* Monotonic clock in milliseconds (CLOCK_MONOTONIC). */
uint64_t ky_loop_now_ms(void);

/* Watches fd for `events` (KY_LOOP_READ | KY_LOOP_WRITE, level-triggered).
 * The watch does not own fd. */
int ky_loop_io_add(struct ky_loop *loop, int fd, uint32_t events, ky_loop_io_fn fn, void *userdata,
		   struct ky_loop_io **out, struct ky_error **err);
int ky_loop_io_set_events(struct ky_loop_io *io, uint32_t events, struct ky_error **err);
uint32_t ky_loop_io_events(const struct ky_loop_io *io);
/* Stops watching and frees the watch; safe from any callback, its own too
 * (no event is delivered to it afterwards). Close the fd after this. */
void ky_loop_io_free(struct ky_loop_io *io);

/* A timer is created disarmed and owned by the caller until ky_loop_timer_free. */
int ky_loop_timer_new(struct ky_loop *loop, ky_loop_timer_fn fn, void *userdata, struct ky_loop_timer **out,
		      struct ky_error **err);
/* Fires after delay_ms, then every period_ms when period_ms > 0. Re-arming
 * replaces the earlier schedule. Timers due at the same time fire in the
 * order they were armed. */
void ky_loop_timer_arm(struct ky_loop_timer *timer, uint64_t delay_ms, uint64_t period_ms);
void ky_loop_timer_disarm(struct ky_loop_timer *timer);
bool ky_loop_timer_armed(const struct ky_loop_timer *timer);
/* Safe from any callback, the timer's own too. */
void ky_loop_timer_free(struct ky_loop_timer *timer);

/* Blocks SIGTERM, SIGINT and SIGHUP for the calling thread and delivers them
 * through a signalfd to fn. Once per loop; ky_loop_free restores the mask
 * (unless the loop was shut down). */
int ky_loop_signals(struct ky_loop *loop, ky_loop_signal_fn fn, void *userdata, struct ky_error **err);

/* Runs one round: waits at most timeout_ms (-1: until the next timer or fd
 * event), then dispatches. Returns 0 or -errno. */
int ky_loop_run_once(struct ky_loop *loop, int timeout_ms, struct ky_error **err);
/* Runs until ky_loop_stop; returns the stop code (>= 0) or -errno. */
int ky_loop_run(struct ky_loop *loop, struct ky_error **err);
void ky_loop_stop(struct ky_loop *loop, int code);
bool ky_loop_stopped(const struct ky_loop *loop);
/* A daemon's shutdown has begun: stops the loop with `code`, and from now
 * until the process exits the signals of ky_loop_signals stay blocked, past
 * ky_loop_free too, and reach fn no more. A supervisor that signals the
 * whole process group (and a wrapper that forwards the signal again) sends
 * a second SIGTERM during the cleanup: it means nothing more than the first,
 * where a restored mask would kill the daemon by the signal halfway through.
 * Call it from the signal callback, and on any other way out of a daemon. */
void ky_loop_shutdown(struct ky_loop *loop, int code);

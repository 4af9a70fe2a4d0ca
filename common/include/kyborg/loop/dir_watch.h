/* A directory watch on the loop: inotify on one or more directories, each
 * event offered to the owner's filter, and a burst of events that matter
 * coalesced into one call of its `changed` callback on a zero-delay timer.
 * The daemons keep their sockets in directories that kubelet (or an admin)
 * cleans up, and serve them again from `changed`. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "kyborg/base/cleanup.h"

struct ky_error;
struct ky_loop;
struct ky_dir_watch;

/* One inotify event (mask holds its IN_* bits): name is NULL for an event
 * on a watched directory itself (IN_DELETE_SELF, IN_MOVE_SELF, IN_IGNORED)
 * and for a queue overflow (IN_Q_OVERFLOW: events were lost). Returns
 * whether the event calls for `changed`. */
typedef bool (*ky_dir_watch_filter_fn)(const char *name, uint32_t mask, void *userdata);
/* Runs on the loop after the events that mattered: once for a burst. */
typedef void (*ky_dir_watch_fn)(struct ky_dir_watch *w, void *userdata);

/* A watch with no directory yet; `mask` is the IN_* events asked of each
 * directory (IN_Q_OVERFLOW and IN_IGNORED come unasked). */
int ky_dir_watch_new(struct ky_loop *loop, uint32_t mask, ky_dir_watch_filter_fn filter, ky_dir_watch_fn changed,
		     void *userdata, struct ky_dir_watch **out, struct ky_error **err);
/* Watches dir. Adding a directory watched already changes nothing; one
 * removed and made again must be added again (its old watch ended with
 * IN_IGNORED). Returns 0 or -errno. */
int ky_dir_watch_add(struct ky_dir_watch *w, const char *dir, struct ky_error **err);
/* Calls `changed` again after delay_ms (a reconcile that failed retries);
 * events arriving meanwhile do not call it sooner. */
void ky_dir_watch_retry(struct ky_dir_watch *w, uint64_t delay_ms);
/* Stops watching and closes the inotify fd; safe from any callback,
 * `changed` too. NULL is fine. */
void ky_dir_watch_free(struct ky_dir_watch *w);
KY_DEFINE_CLEANUP(struct ky_dir_watch, ky_dir_watch_free)

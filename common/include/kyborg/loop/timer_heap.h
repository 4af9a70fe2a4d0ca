/* A binary min-heap of deadlines, ordered by (deadline, sequence): the pure
 * part of the event loop's timers, kept apart so it is testable without epoll. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct ky_timer_node {
	uint64_t deadline; /* milliseconds, any monotonic base */
	uint64_t seq;      /* set by push: ties fire in push order */
	size_t index;      /* position in the heap, KY_TIMER_NODE_UNLINKED when out */
};

#define KY_TIMER_NODE_UNLINKED ((size_t)-1)

struct ky_timer_heap {
	struct ky_timer_node **nodes;
	size_t len, cap;
	uint64_t next_seq;
};

void ky_timer_heap_init(struct ky_timer_heap *h);
void ky_timer_heap_release(struct ky_timer_heap *h);
/* Inserts a node that is not in the heap. -ENOMEM or 0. */
int ky_timer_heap_push(struct ky_timer_heap *h, struct ky_timer_node *n);
/* Removes a node if it is in the heap (no-op otherwise). */
void ky_timer_heap_remove(struct ky_timer_heap *h, struct ky_timer_node *n);
/* The earliest node, or NULL. */
struct ky_timer_node *ky_timer_heap_peek(const struct ky_timer_heap *h);
/* Removes and returns the earliest node whose deadline <= now, or NULL. */
struct ky_timer_node *ky_timer_heap_pop_due(struct ky_timer_heap *h, uint64_t now);

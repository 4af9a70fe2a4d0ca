/* The timer heap: a min-heap of (deadline, seq) with O(log n) push, remove
 * and pop, no clock and no syscalls. */
#include "kyborg/loop/timer_heap.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

void ky_timer_heap_init(struct ky_timer_heap *h)
{
	*h = (struct ky_timer_heap){ 0 };
}

void ky_timer_heap_release(struct ky_timer_heap *h)
{
	for (size_t i = 0; i < h->len; i++)
		h->nodes[i]->index = KY_TIMER_NODE_UNLINKED;
	free(h->nodes);
	*h = (struct ky_timer_heap){ 0 };
}

static bool before(const struct ky_timer_node *a, const struct ky_timer_node *b)
{
	return a->deadline < b->deadline || (a->deadline == b->deadline && a->seq < b->seq);
}

static void place(struct ky_timer_heap *h, size_t i, struct ky_timer_node *n)
{
	h->nodes[i] = n;
	n->index = i;
}

static void sift_up(struct ky_timer_heap *h, size_t i)
{
	struct ky_timer_node *n = h->nodes[i];
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (!before(n, h->nodes[parent]))
			break;
		place(h, i, h->nodes[parent]);
		i = parent;
	}
	place(h, i, n);
}

static void sift_down(struct ky_timer_heap *h, size_t i)
{
	struct ky_timer_node *n = h->nodes[i];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		const struct ky_timer_node *best = n;
		if (l < h->len && before(h->nodes[l], best)) {
			m = l;
			best = h->nodes[l];
		}
		if (r < h->len && before(h->nodes[r], best))
			m = r;
		if (m == i)
			break;
		place(h, i, h->nodes[m]);
		i = m;
	}
	place(h, i, n);
}

int ky_timer_heap_push(struct ky_timer_heap *h, struct ky_timer_node *n)
{
	if (h->len == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 16;
		struct ky_timer_node **nodes = realloc(h->nodes, cap * sizeof(*nodes));
		if (!nodes)
			return -ENOMEM;
		h->nodes = nodes;
		h->cap = cap;
	}
	n->seq = h->next_seq++;
	place(h, h->len++, n);
	sift_up(h, n->index);
	return 0;
}

void ky_timer_heap_remove(struct ky_timer_heap *h, struct ky_timer_node *n)
{
	size_t i = n->index;
	if (i == KY_TIMER_NODE_UNLINKED || i >= h->len || h->nodes[i] != n)
		return;
	n->index = KY_TIMER_NODE_UNLINKED;
	struct ky_timer_node *last = h->nodes[--h->len];
	if (i == h->len)
		return;
	place(h, i, last);
	if (i > 0 && before(last, h->nodes[(i - 1) / 2]))
		sift_up(h, i);
	else
		sift_down(h, i);
}

struct ky_timer_node *ky_timer_heap_peek(const struct ky_timer_heap *h)
{
	return h->len ? h->nodes[0] : NULL;
}

struct ky_timer_node *ky_timer_heap_pop_due(struct ky_timer_heap *h, uint64_t now)
{
	struct ky_timer_node *n = ky_timer_heap_peek(h);
	if (!n || n->deadline > now)
		return NULL;
	ky_timer_heap_remove(h, n);
	return n;
}

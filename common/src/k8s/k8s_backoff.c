/* Exponential backoff with "equal jitter": half the ceiling fixed, half
 * drawn, the ceiling doubling to a cap. */
#include "kyborg/k8s/k8s_backoff.h"

#include <time.h>
#include <unistd.h>

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

void ky_k8s_backoff_init(struct ky_k8s_backoff *b, uint32_t initial_ms, uint32_t max_ms, uint64_t seed)
{
	if (!initial_ms)
		initial_ms = KY_K8S_BACKOFF_INITIAL_MS;
	if (!max_ms)
		max_ms = KY_K8S_BACKOFF_MAX_MS;
	if (max_ms < initial_ms)
		max_ms = initial_ms;
	if (!seed) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		seed = ((uint64_t)ts.tv_sec * 1000000007u) ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32);
	}
	*b = (struct ky_k8s_backoff){ .initial_ms = initial_ms, .max_ms = max_ms, .next_ms = initial_ms,
				      .rng = seed ? seed : 0x9e3779b97f4a7c15ull };
}

uint32_t ky_k8s_backoff_next(struct ky_k8s_backoff *b)
{
	uint32_t ceil = b->next_ms;
	uint32_t half = ceil / 2;
	uint32_t d = half + (uint32_t)(xorshift(&b->rng) % ((uint64_t)(ceil - half) + 1));
	b->next_ms = ceil > b->max_ms / 2 ? b->max_ms : ceil * 2;
	return d;
}

void ky_k8s_backoff_reset(struct ky_k8s_backoff *b)
{
	b->next_ms = b->initial_ms;
}

/* Exponential backoff with jitter for retries against the API server
 * (pure): each delay doubles up to a cap, and is drawn from its upper half
 * so that many nodes restarted together do not knock in step. */
#pragma once

#include <stdint.h>

struct ky_k8s_backoff {
	uint32_t initial_ms;
	uint32_t max_ms;
	uint32_t next_ms; /* the ceiling of the next delay */
	uint64_t rng;     /* xorshift state, never 0 */
};

#define KY_K8S_BACKOFF_INITIAL_MS 100u
#define KY_K8S_BACKOFF_MAX_MS 30000u

/* initial_ms or max_ms 0 take the defaults above; max_ms below initial_ms
 * is raised to it. seed 0 draws one from the clock and the pid. */
void ky_k8s_backoff_init(struct ky_k8s_backoff *b, uint32_t initial_ms, uint32_t max_ms, uint64_t seed);
/* The delay to wait now, in [ceiling/2, ceiling], then doubles the ceiling
 * up to max_ms. */
uint32_t ky_k8s_backoff_next(struct ky_k8s_backoff *b);
/* After a success: the next delay starts from initial_ms again. */
void ky_k8s_backoff_reset(struct ky_k8s_backoff *b);

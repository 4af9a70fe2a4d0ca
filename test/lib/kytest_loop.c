/* What kytest_loop.h declares. */
#include "kytest_loop.h"

#include <criterion/criterion.h>
#include <stdint.h>

#include "kyborg/loop/loop.h"

bool kyt_loop_run_until(struct ky_loop *loop, bool (*cond)(void *), void *arg, int timeout_ms)
{
	uint64_t end = ky_loop_now_ms() + (uint64_t)timeout_ms;
	while (!cond(arg)) {
		if (ky_loop_now_ms() >= end)
			return false;
		cr_assert_eq(ky_loop_run_once(loop, 5, NULL), 0);
	}
	return true;
}

static bool never(void *arg)
{
	(void)arg;
	return false;
}

void kyt_loop_run_for(struct ky_loop *loop, int ms)
{
	kyt_loop_run_until(loop, never, NULL, ms);
}

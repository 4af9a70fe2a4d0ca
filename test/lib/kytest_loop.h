/* Driving a test's own event loop: until a condition holds, within a
 * deadline, or for a while where a test proves something does NOT happen
 * (the deadline is then the condition). */
#pragma once

#include <stdbool.h>

struct ky_loop;

/* Runs loop until cond(arg) holds (true) or timeout_ms passes (false);
 * asserts every turn of the loop succeeds. */
bool kyt_loop_run_until(struct ky_loop *loop, bool (*cond)(void *), void *arg, int timeout_ms);
/* Runs loop for ms, however many callbacks come. */
void kyt_loop_run_for(struct ky_loop *loop, int ms);

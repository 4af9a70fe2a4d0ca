/* Test-only fault injection: a named point where a test can have the
 * process killed (SIGKILL) to prove that crash recovery works. */
#pragma once

/* Kills the process with SIGKILL when the environment variable
 * KYBORG_FAULT equals `name`. Otherwise does nothing. */
void ky_fault_point(const char *name);

/* The test library itself, where it once hung the suites. Runs under
 * umockdev's preload, as the suites that hung did. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "kytest.h"

static atomic_bool stop;

/* Keeps umockdev's open() wrapper, and the lock it takes, busy. */
static void *open_in_a_loop(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (fd >= 0)
			close(fd);
	}
	return NULL;
}

/* A child forked while another thread held the preload's lock once waited
 * for it forever in its own open(): one run in about sixty of two
 * pci_discovery suites side by side, until CTest's timeout. The child now
 * only dup2()s and execs. Criterion's --timeout turns a regression into a
 * failure of this test. */
Test(kytest, a_child_never_waits_for_a_lock_another_thread_held_at_the_fork, .timeout = 30)
{
	pthread_t t;
	atomic_store(&stop, false);
	cr_assert_eq(pthread_create(&t, NULL, open_in_a_loop, NULL), 0);
	int ok = 0;
	for (int i = 0; i < 300; i++)
		ok += kyt_run(NULL, "/bin/true", NULL) == 0;
	atomic_store(&stop, true);
	pthread_join(t, NULL);
	cr_assert_eq(ok, 300);
}

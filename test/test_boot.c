/* state/boot: this boot's ID and the rules for what an earlier boot wrote. */
#include <criterion/criterion.h>
#include <string.h>
#include <time.h>

#include "kyborg/state/boot.h"

Test(boot, the_id_is_the_kernels_and_read_once)
{
	const char *id = ky_boot_id();
	cr_assert_eq(strlen(id), 36, "a UUID: %s", id);
	cr_assert_eq(ky_boot_id(), id, "read once");
	cr_assert_not(ky_boot_earlier(id, NULL), "this boot's own record");
}

Test(boot, only_a_record_stamped_with_another_boot_is_earlier)
{
	cr_assert(ky_boot_earlier("B0", "B1"));
	cr_assert_not(ky_boot_earlier("B1", "B1"));
	cr_assert_not(ky_boot_earlier(NULL, "B1"), "a record from before boot IDs counts as this boot's");
	cr_assert_not(ky_boot_earlier("B0", ""), "a node that does not say its boot claims nothing stale");
	cr_assert(ky_boot_earlier("00000000-0000-0000-0000-000000000000", NULL));
}

Test(boot, a_file_changed_before_the_boot_is_before_it)
{
	struct timespec now, up;
	cr_assert_eq(clock_gettime(CLOCK_REALTIME, &now), 0);
	cr_assert_eq(clock_gettime(CLOCK_BOOTTIME, &up), 0);
	struct timespec before = { .tv_sec = now.tv_sec - up.tv_sec - 3600 };
	cr_assert(ky_boot_before(&before));
	cr_assert_not(ky_boot_before(&now));
}

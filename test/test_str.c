/* Small string helpers. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "kyborg/base/str.h"

Test(str, replace_char_changes_every_one_in_place)
{
	char s[] = "kyborg.io/gpu/x";
	cr_assert_eq(ky_str_replace_char(s, '/', '_'), s);
	cr_assert_str_eq(s, "kyborg.io_gpu_x");
	cr_assert_str_eq(ky_str_replace_char(s, '#', '-'), "kyborg.io_gpu_x", "nothing to replace");
	cr_assert_null(ky_str_replace_char(NULL, '/', '_'), "an allocation that failed passes through");
}

Test(str, a_path_beneath_a_directory_has_only_plain_components)
{
	cr_assert(ky_path_beneath("/var/log/kyborg.log", "/var/log"));
	cr_assert(ky_path_beneath("/var/log/kyborg/cni.log", "/var/log/"));
	cr_assert(ky_path_beneath("/x", "/"));
	static const char *const bad[] = { "/var/log", "/var/log/", "/var/logs/x", "/var/log/../../root/.bashrc",
					   "/var/log/./x", "/var/log//x", "/var/log/x/..", "relative/x", "/var/lo" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_not(ky_path_beneath(bad[i], "/var/log"), "%s", bad[i]);
	cr_assert_not(ky_path_beneath("/var/log/x", "var/log"));
}

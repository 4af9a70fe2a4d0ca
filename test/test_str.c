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

Test(str, distance_counts_edits_and_swaps_and_ignores_case)
{
	static const struct {
		const char *a, *b;
		unsigned want;
	} cases[] = {
		{ "vlan", "vlan", 0 },        { "spoofChk", "spoofchk", 0 }, { "LogLevel", "logLevel", 0 },
		{ "vlna", "vlan", 1 },        { "vlan_qos", "vlanQoS", 1 },  { "typo", "type", 1 },
		{ "mintxrate", "min_tx_rate", 2 }, { "ca", "abc", 3 },       { "", "mac", 3 },
		{ "kernelPath", "kernelpath", 0 }, { "trunk", "trust", 2 },  { "master", "mac", 4 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_expect_eq(ky_str_distance_nocase(cases[i].a, cases[i].b), cases[i].want, "%s/%s", cases[i].a,
			     cases[i].b);
		cr_expect_eq(ky_str_distance_nocase(cases[i].b, cases[i].a), cases[i].want, "%s/%s", cases[i].b,
			     cases[i].a);
	}
	char longer[200];
	memset(longer, 'a', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	cr_assert_eq(ky_str_distance_nocase(longer, "a"), KY_STR_DISTANCE_MAX + 1, "too long: as far as can be");
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

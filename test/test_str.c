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

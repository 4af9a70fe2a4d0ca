/* The error type: codes, messages, context prefixes. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"

static int fails_deep(struct ky_error **err)
{
	return ky_error_set(err, EINVAL, "bpf_tc_attach: %s", strerror(EINVAL));
}

static int fails_middle(struct ky_error **err)
{
	int r = fails_deep(err);
	if (r < 0)
		return ky_error_prefix(err, "attach %s on %s", "tc-ingress", "net1");
	return 0;
}

Test(error, set_returns_negative_code_and_keeps_message)
{
	_cleanup_error_ struct ky_error *err = NULL;
	cr_assert_eq(ky_error_set(&err, ENOENT, "no %s", "thing"), -ENOENT);
	cr_assert_eq(ky_error_code(err), ENOENT);
	cr_assert_str_eq(ky_error_msg(err), "no thing");
}

Test(error, prefix_builds_context_chain)
{
	_cleanup_error_ struct ky_error *err = NULL;
	cr_assert_eq(fails_middle(&err), -EINVAL);
	cr_assert_eq(ky_error_prefix(&err, "ADD %s", "c0ffee"), -EINVAL);
	cr_assert_str_eq(ky_error_msg(err), "ADD c0ffee: attach tc-ingress on net1: bpf_tc_attach: Invalid argument");
}

Test(error, setting_again_replaces_the_old_error)
{
	_cleanup_error_ struct ky_error *err = NULL;
	ky_error_set(&err, EIO, "first");
	ky_error_set(&err, EEXIST, "second");
	cr_assert_eq(ky_error_code(err), EEXIST);
	cr_assert_str_eq(ky_error_msg(err), "second");
}

Test(error, null_destination_still_returns_the_code)
{
	cr_assert_eq(ky_error_set(NULL, EBUSY, "ignored"), -EBUSY);
	cr_assert_eq(ky_error_prefix(NULL, "ctx"), -EIO);
}

Test(error, non_positive_code_becomes_eio)
{
	_cleanup_error_ struct ky_error *err = NULL;
	cr_assert_eq(ky_error_set(&err, 0, "zero"), -EIO);
	cr_assert_eq(ky_error_set(&err, -5, "negative"), -EIO);
}

Test(error, prefix_without_error_never_loses_the_failure)
{
	_cleanup_error_ struct ky_error *err = NULL;
	cr_assert_eq(ky_error_prefix(&err, "ctx"), -EIO);
	cr_assert_not_null(err);
	cr_assert_str_eq(ky_error_msg(err), "unknown error");
}

Test(error, clear_resets_to_null)
{
	struct ky_error *err = NULL;
	ky_error_set(&err, EIO, "x");
	ky_error_clear(&err);
	cr_assert_null(err);
	cr_assert_str_eq(ky_error_msg(err), "");
	cr_assert_eq(ky_error_code(err), 0);
}

Test(error, a_status_travels_with_the_error_through_prefixes)
{
	_cleanup_error_ struct ky_error *err = NULL;
	ky_error_set(&err, EINVAL, "vlan: must be between 0 and 4094");
	cr_assert_eq(ky_error_status(err), 0, "no status until one is chosen");
	cr_assert_eq(ky_error_set_status(&err, 7), -EINVAL);
	ky_error_prefix(&err, "ADD %s", "c1");
	cr_assert_eq(ky_error_status(err), 7);
	cr_assert_eq(ky_error_code(err), EINVAL);
	cr_assert_str_eq(ky_error_msg(err), "ADD c1: vlan: must be between 0 and 4094");
}

Test(error, a_fresh_error_drops_the_old_status)
{
	_cleanup_error_ struct ky_error *err = NULL;
	ky_error_set(&err, EINVAL, "one");
	ky_error_set_status(&err, 7);
	ky_error_set(&err, EIO, "two");
	cr_assert_eq(ky_error_status(err), 0);
	cr_assert_eq(ky_error_status(NULL), 0);
}

Test(error, a_status_without_an_error_is_never_lost)
{
	_cleanup_error_ struct ky_error *err = NULL;
	cr_assert_eq(ky_error_set_status(&err, 11), -EIO);
	cr_assert_not_null(err);
	cr_assert_eq(ky_error_status(err), 11);
	cr_assert_eq(ky_error_set_status(NULL, 11), -EIO);
}

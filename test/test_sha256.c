/* SHA-256 against the NIST vectors (FIPS 180-4 examples) and against
 * coreutils' sha256sum on files of awkward sizes. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/base/sha256.h"
#include "kytest.h"

Test(sha256, nist_vectors)
{
	char hex[KY_SHA256_HEX_LEN];
	ky_sha256_buf("", 0, hex);
	cr_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	ky_sha256_buf("abc", 3, hex);
	cr_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	ky_sha256_buf(two, strlen(two), hex);
	cr_assert_str_eq(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	const char *four = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
	ky_sha256_buf(four, strlen(four), hex);
	cr_assert_str_eq(hex, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

Test(sha256, a_million_a_fed_in_odd_pieces)
{
	struct ky_sha256 c;
	uint8_t dg[KY_SHA256_LEN];
	char hex[KY_SHA256_HEX_LEN], chunk[997];
	memset(chunk, 'a', sizeof(chunk));
	ky_sha256_init(&c);
	size_t left = 1000000;
	for (size_t step = 1; left; step = step * 7 % sizeof(chunk) + 1) {
		size_t n = step < left ? step : left;
		ky_sha256_update(&c, chunk, n);
		left -= n;
	}
	ky_sha256_final(&c, dg);
	cr_assert_str_eq(ky_sha256_to_hex(dg, hex), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

Test(sha256, files_match_sha256sum_at_every_padding_boundary)
{
	_cleanup_free_ char *dir = kyt_tmpdir("kysha");
	cr_assert(dir);
	static const size_t sizes[] = { 0, 1, 55, 56, 63, 64, 65, 119, 120, 65535, 65536, 65537, 200003 };
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		_cleanup_free_ char *path = NULL, *data = malloc(sizes[i] + 1), *out = NULL;
		cr_assert(asprintf(&path, "%s/f%zu", dir, i) > 0 && data);
		for (size_t j = 0; j < sizes[i]; j++)
			data[j] = (char)('a' + (j * 31 + j / 7) % 26);
		data[sizes[i]] = '\0';
		cr_assert_eq(kyt_write_file(path, data), 0);
		char hex[KY_SHA256_HEX_LEN];
		_cleanup_error_ struct ky_error *err = NULL;
		cr_assert_eq(ky_sha256_file(path, hex, &err), 0, "%s", ky_error_msg(err));
		cr_assert_eq(kyt_run(&out, "sha256sum", path, NULL), 0);
		cr_assert(strncmp(out, hex, 64) == 0, "size %zu: ours %s, sha256sum %.64s", sizes[i], hex, out);
	}
	kyt_rmrf(dir);
}

Test(sha256, a_missing_file_is_named)
{
	_cleanup_error_ struct ky_error *err = NULL;
	char hex[KY_SHA256_HEX_LEN];
	cr_assert_eq(ky_sha256_file("/nonexistent/kyborg.gbs", hex, &err), -ENOENT);
	cr_assert(strstr(ky_error_msg(err), "/nonexistent/kyborg.gbs"));
}

Test(sha256, hex_validation)
{
	cr_assert(ky_sha256_hex_valid("E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"));
	cr_assert_not(ky_sha256_hex_valid("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85"));
	cr_assert_not(ky_sha256_hex_valid("g3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
	cr_assert_not(ky_sha256_hex_valid(NULL));
}

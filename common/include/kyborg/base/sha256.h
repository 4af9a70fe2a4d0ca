/* SHA-256 (FIPS 180-4), our own: images (FPGA bitstreams) are checked
 * against the digest their spec gives before every use. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ky_error;

#define KY_SHA256_LEN 32
#define KY_SHA256_HEX_LEN 65 /* 64 lower-case hex digits and the NUL */

struct ky_sha256 {
	uint32_t h[8];
	uint64_t bytes;
	uint8_t block[64];
	size_t used;
};

void ky_sha256_init(struct ky_sha256 *c);
void ky_sha256_update(struct ky_sha256 *c, const void *data, size_t len);
/* Finishes the digest; c must be initialised again before reuse. */
void ky_sha256_final(struct ky_sha256 *c, uint8_t digest[KY_SHA256_LEN]);
/* Lower-case hex; returns hex. */
char *ky_sha256_to_hex(const uint8_t digest[KY_SHA256_LEN], char hex[KY_SHA256_HEX_LEN]);
/* The hex digest of a buffer (pure). */
void ky_sha256_buf(const void *data, size_t len, char hex[KY_SHA256_HEX_LEN]);
/* Exactly 64 hex digits, any case (pure). */
bool ky_sha256_hex_valid(const char *s);

/* The hex digest of what fd holds from its current offset to the end. */
int ky_sha256_fd(int fd, char hex[KY_SHA256_HEX_LEN], struct ky_error **err);
/* The hex digest of a file: 0, or -errno with "<path>: <why>". */
int ky_sha256_file(const char *path, char hex[KY_SHA256_HEX_LEN], struct ky_error **err);

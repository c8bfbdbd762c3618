/* SHA-256 (FIPS 180-4), for the identity of model files. */
#ifndef SD_UTIL_SHA256_H
#define SD_UTIL_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct sd__sha256 {
	uint32_t h[8];
	uint64_t len; /* bytes hashed so far */
	unsigned char buf[64];
	size_t n; /* bytes in buf */
} sd__sha256;

void sd__sha256_init(sd__sha256 *s);
void sd__sha256_update(sd__sha256 *s, const void *data, size_t n);
/* The digest as 64 lowercase hex digits and a NUL into hex[65]. */
void sd__sha256_hex(sd__sha256 *s, char hex[65]);

#endif

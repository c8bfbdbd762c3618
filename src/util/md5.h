/*
 * MD5 (RFC 1321), only to compute the message ids that SynDisco's
 * postprocessing derives with it (hashlib.md5(...).hexdigest()): an
 * identifier, never a security check.
 */
#ifndef SD_UTIL_MD5_H
#define SD_UTIL_MD5_H

#include <stddef.h>
#include <stdint.h>

typedef struct sd__md5 {
	uint32_t h[4];
	uint64_t len;	       /* bytes hashed so far */
	unsigned char buf[64]; /* a partial block */
} sd__md5;

void sd__md5_init(sd__md5 *m);
void sd__md5_update(sd__md5 *m, const void *data, size_t n);
/* Finish and write 32 lowercase hex digits and a NUL into hex. */
void sd__md5_hex(sd__md5 *m, char hex[33]);

#endif

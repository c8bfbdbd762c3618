/* FNV-1a 64-bit: stable across platforms and runs (names, digests). */
#ifndef SD_UTIL_HASH_H
#define SD_UTIL_HASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t sd__fnv1a64(const void *data, size_t n, uint64_t h);
#define SD_FNV1A64_INIT 0xcbf29ce484222325ULL

#endif

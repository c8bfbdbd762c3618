/* Small, fast, reproducible PRNG (xoshiro256**, seeded by splitmix64). */
#ifndef SD_UTIL_RNG_H
#define SD_UTIL_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct sd__rng {
	uint64_t s[4];
} sd__rng;

void sd__rng_seed(sd__rng *r, uint64_t seed);
uint64_t sd__rng_next(sd__rng *r);
/* Uniform in [0, n); n > 0. Unbiased (rejection). */
uint64_t sd__rng_below(sd__rng *r, uint64_t n);
/* Uniform in [0, 1). */
double sd__rng_double(sd__rng *r);
/* Mix several values into one seed (order matters). */
uint64_t sd__seed_mix(uint64_t a, uint64_t b);

#endif

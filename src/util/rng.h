/* Small, fast, reproducible PRNG (xoshiro256**, seeded by splitmix64). */
#ifndef SD_UTIL_RNG_H
#define SD_UTIL_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct sd_rng {
	uint64_t s[4];
} sd_rng;

void sd_rng_seed(sd_rng *r, uint64_t seed);
uint64_t sd_rng_next(sd_rng *r);
/* Uniform in [0, n); n > 0. Unbiased (rejection). */
uint64_t sd_rng_below(sd_rng *r, uint64_t n);
/* Uniform in [0, 1). */
double sd_rng_double(sd_rng *r);
/* Mix several values into one seed (order matters). */
uint64_t sd_seed_mix(uint64_t a, uint64_t b);

#endif

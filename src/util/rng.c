#include "util/rng.h"

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void sd__rng_seed(sd__rng *r, uint64_t seed)
{
	uint64_t x = seed;
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&x);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t sd__rng_next(sd__rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

uint64_t sd__rng_below(sd__rng *r, uint64_t n)
{
	/* reject the top sliver so every value is equally likely */
	uint64_t limit = UINT64_MAX - (UINT64_MAX % n);
	uint64_t v;
	do
		v = sd__rng_next(r);
	while (v >= limit);
	return v % n;
}

double sd__rng_double(sd__rng *r) { return (double)(sd__rng_next(r) >> 11) * 0x1.0p-53; }

uint64_t sd__seed_mix(uint64_t a, uint64_t b)
{
	uint64_t x = a ^ (b * 0x9e3779b97f4a7c15ULL);
	return splitmix64(&x);
}

/*
 * Percentile bootstrap of a mean, and of a difference of two means, with
 * a documented generator so that anyone can recompute the intervals
 * (docs/export.md#condition-comparisons; tests/bootstrap_check.py does):
 *
 *   rng      xoshiro256** seeded by splitmix64 (util/rng.h) with `seed`
 *   draw     index = sd__rng_below(rng, n) (rejection, unbiased)
 *   replicate b = 0..B-1: n draws in order, the mean of x[index]
 *            (difference: n_a draws from a, then n_b from b; mean b - mean a)
 *   interval the 2.5th and 97.5th percentiles of the B replicates, sorted,
 *            interpolated linearly at position q * (B - 1) (numpy's default)
 *
 * The values are per-discussion values: resampling discussions, never
 * comments. Internal (prefix sd__).
 */
#ifndef SD_ANALYSIS_BOOTSTRAP_H
#define SD_ANALYSIS_BOOTSTRAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct sd__ci {
	double mean; /* of the data */
	double lo, hi;
	size_t n;
} sd__ci;

/* q in [0, 1] of sorted[0..n-1], n > 0: linear between order statistics. */
double sd__percentile(const double *sorted, size_t n, double q);

/* Mean of x with a 95% interval; n > 0, B > 0. SD_OK or SD_ENOMEM. */
int sd__bootstrap_mean(const double *x, size_t n, uint64_t seed, size_t B, sd__ci *out);

/* mean(b) - mean(a) with a 95% interval; n_a, n_b, B > 0. */
int sd__bootstrap_diff(const double *a, size_t n_a, const double *b, size_t n_b,
		       uint64_t seed, size_t B, sd__ci *out);

/* The seed of one series: sd__seed_mix(seed, fnv1a64(key)) with key the
 * series' name parts joined by the byte 0x1f. */
uint64_t sd__bootstrap_seed(uint64_t seed, const char *const *parts, size_t n);

#endif

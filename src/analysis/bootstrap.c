/* Percentile bootstrap (bootstrap.h says exactly how, for reproducing). */
#include <stdlib.h>
#include <string.h>

#include "analysis/bootstrap.h"
#include "syndisco.h"
#include "util/hash.h"
#include "util/rng.h"

static int cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;
	return a < b ? -1 : a > b;
}

double sd__percentile(const double *sorted, size_t n, double q)
{
	double pos = q * (double)(n - 1);
	size_t i = (size_t)pos;
	if (i + 1 >= n)
		return sorted[n - 1];
	double f = pos - (double)i;
	return sorted[i] + f * (sorted[i + 1] - sorted[i]);
}

static double mean_of(const double *x, size_t n)
{
	double s = 0;
	for (size_t i = 0; i < n; i++)
		s += x[i];
	return s / (double)n;
}

static double resample_mean(sd__rng *r, const double *x, size_t n)
{
	double s = 0;
	for (size_t i = 0; i < n; i++)
		s += x[sd__rng_below(r, n)];
	return s / (double)n;
}

static void finish(double *reps, size_t B, sd__ci *out)
{
	qsort(reps, B, sizeof(*reps), cmp_double);
	out->lo = sd__percentile(reps, B, 0.025);
	out->hi = sd__percentile(reps, B, 0.975);
}

int sd__bootstrap_mean(const double *x, size_t n, uint64_t seed, size_t B, sd__ci *out)
{
	double *reps = malloc(B * sizeof(*reps));
	if (!reps)
		return SD_ENOMEM;
	sd__rng r;
	sd__rng_seed(&r, seed);
	for (size_t b = 0; b < B; b++)
		reps[b] = resample_mean(&r, x, n);
	out->mean = mean_of(x, n);
	out->n = n;
	finish(reps, B, out);
	free(reps);
	return SD_OK;
}

int sd__bootstrap_diff(const double *a, size_t n_a, const double *b, size_t n_b,
		       uint64_t seed, size_t B, sd__ci *out)
{
	double *reps = malloc(B * sizeof(*reps));
	if (!reps)
		return SD_ENOMEM;
	sd__rng r;
	sd__rng_seed(&r, seed);
	for (size_t k = 0; k < B; k++) {
		double ma = resample_mean(&r, a, n_a);
		reps[k] = resample_mean(&r, b, n_b) - ma;
	}
	out->mean = mean_of(b, n_b) - mean_of(a, n_a);
	out->n = n_a + n_b;
	finish(reps, B, out);
	free(reps);
	return SD_OK;
}

uint64_t sd__bootstrap_seed(uint64_t seed, const char *const *parts, size_t n)
{
	uint64_t h = SD_FNV1A64_INIT;
	for (size_t i = 0; i < n; i++) {
		if (i)
			h = sd__fnv1a64("\x1f", 1, h);
		h = sd__fnv1a64(parts[i], strlen(parts[i]), h);
	}
	return sd__seed_mix(seed, h);
}

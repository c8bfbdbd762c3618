/*
 * How many threads to decode with when the caller does not say.
 */
#ifndef SD_UTIL_CPUS_H
#define SD_UTIL_CPUS_H

#include <stdint.h>

/*
 * OMP_NUM_THREADS when it starts with a positive number (the variable
 * OpenMP programs honour, llama.cpp's included), else the CPUs this
 * process may run on: its affinity mask, which Slurm (--cpus-per-task),
 * taskset and cgroup cpusets narrow, else the CPUs online. Never below 1.
 */
int32_t sd__default_threads(void);

/* The same, from given parts (tests): omp may be NULL, n_affinity and
   n_online <= 0 when unknown. */
int32_t sd__threads_from(const char *omp, int n_affinity, long n_online);

#endif

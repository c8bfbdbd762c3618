/*
 * The default thread count. sysconf(_SC_NPROCESSORS_ONLN) alone counts
 * every CPU of the machine: a Slurm task given one CPU of a 64-CPU node
 * would start 64 threads on it, and llama.cpp's threads wait for each
 * other at every operation of the graph by spinning, so each wait then
 * costs a scheduler time slice.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

#include "util/cpus.h"

int32_t sd__threads_from(const char *omp, int n_affinity, long n_online)
{
	if (omp) {
		char *end;
		long n = strtol(omp, &end, 10);
		/* "4" or a nested list "4,2": the first level */
		if (end != omp && n > 0 && (*end == '\0' || *end == ',') && n <= 4096)
			return (int32_t)n;
	}
	if (n_affinity > 0)
		return n_affinity;
	if (n_online > 0)
		return n_online > 4096 ? 4096 : (int32_t)n_online;
	return 1;
}

int32_t sd__default_threads(void)
{
	cpu_set_t set;
	int n_affinity = 0;
	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		n_affinity = CPU_COUNT(&set);
	return sd__threads_from(getenv("OMP_NUM_THREADS"), n_affinity,
				sysconf(_SC_NPROCESSORS_ONLN));
}

/*
 * Shared by the fuzz targets: inputs that the library reads from files
 * are written to a private temp directory first. Each target defines
 * LLVMFuzzerTestOneInput; libFuzzer drives it in the fuzz build
 * (-DSYNDISCO_FUZZ=ON, clang), replay.c in the normal one.
 */
#ifndef SD_FUZZ_UTIL_H
#define SD_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "syndisco.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char fuzz_dir_buf[64];

static void fuzz_rm_dir(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fuzz_dir_buf);
	if (system(cmd)) {
		/* best effort */
	}
}

/* The target's own temp directory (made once, removed at exit). */
static const char *fuzz_dir(void)
{
	if (!fuzz_dir_buf[0]) {
		snprintf(fuzz_dir_buf, sizeof(fuzz_dir_buf), "/tmp/sd-fuzz-XXXXXX");
		if (!mkdtemp(fuzz_dir_buf))
			abort();
		atexit(fuzz_rm_dir);
		sd_global_init(true);
	}
	return fuzz_dir_buf;
}

/* Write data to <dir>/<name> (subdirectories made); returns a static path. */
__attribute__((unused)) static const char *fuzz_write(const char *name, const void *data,
						      size_t n)
{
	static char path[4][512];
	static int k;
	char *p = path[k++ % 4];
	snprintf(p, 512, "%s/%s", fuzz_dir(), name);
	for (char *s = p + strlen(fuzz_dir()) + 1; *s; s++)
		if (*s == '/') {
			*s = 0;
			mkdir(p, 0755);
			*s = '/';
		}
	FILE *f = fopen(p, "wb");
	if (!f)
		abort();
	if (n && fwrite(data, 1, n, f) != n)
		abort();
	fclose(f);
	return p;
}

/* A writer that discards (export into nothing). */
__attribute__((unused)) static int fuzz_sink(const char *data, size_t len, void *ud)
{
	(void)data, (void)len, (void)ud;
	return 0;
}

#endif

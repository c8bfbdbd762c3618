/* The --log-file sink: one line per event, rotated when the day changes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

struct cli_log {
	char *path;
	FILE *f;
	char day[16]; /* YYYY-MM-DD of the open file */
};

static void today(char *buf, size_t n, struct tm *tm)
{
	strftime(buf, n, "%Y-%m-%d", tm);
}

static FILE *open_append(const char *path)
{
	FILE *f = fopen(path, "a");
	if (f)
		setvbuf(f, NULL, _IOLBF, 0);
	return f;
}

cli_log *cli_log_open(const char *path)
{
	cli_log *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->path = strdup(path);
	l->f = l->path ? open_append(path) : NULL;
	if (!l->f) {
		int e = errno;
		free(l->path);
		free(l);
		errno = e;
		return NULL;
	}
	time_t t = time(NULL);
	struct tm tm;
	localtime_r(&t, &tm);
	today(l->day, sizeof(l->day), &tm);
	return l;
}

void cli_log_write(cli_log *l, int level, const char *msg)
{
	static const char *const names[] = {"ERROR", "WARN", "INFO", "DEBUG"};
	if (!l || level < 0 || level > 3)
		return;
	time_t t = time(NULL);
	struct tm tm;
	char day[16], stamp[32];
	localtime_r(&t, &tm);
	today(day, sizeof(day), &tm);
	if (strcmp(day, l->day) != 0) {
		/* a new day: yesterday's file becomes path.YYYY-MM-DD */
		char old[4096];
		snprintf(old, sizeof(old), "%s.%s", l->path, l->day);
		fclose(l->f);
		rename(l->path, old);
		l->f = open_append(l->path);
		memcpy(l->day, day, sizeof(day));
		if (!l->f)
			return;
	}
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(l->f, "%s %s %s\n", stamp, names[level], msg);
}

void cli_log_close(cli_log *l)
{
	if (!l)
		return;
	if (l->f)
		fclose(l->f);
	free(l->path);
	free(l);
}

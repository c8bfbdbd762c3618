/* Shared bits of the syndisco command line (uses only syndisco.h). */
#ifndef SYNDISCO_CLI_H
#define SYNDISCO_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "syndisco.h"

int cmd_discuss(int argc, char **argv);
int cmd_make_model(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_annotate(int argc, char **argv);
int cmd_status(int argc, char **argv);

/* --log-file: lines appended, the file rotated when the day changes. */
typedef struct cli_log cli_log;
cli_log *cli_log_open(const char *path);
void cli_log_write(cli_log *l, int level, const char *msg);
void cli_log_close(cli_log *l);

/* "syndisco: error: <formatted sd_error>" on stderr; returns exit code. */
int cli_fail(const sd_error *err);
/* printf-style error line on stderr; returns exit code 1 (2 for usage). */
int cli_errorf(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Parse a whole unsigned decimal; false if it is not one. */
bool cli_parse_u64(const char *s, uint64_t *out);
bool cli_parse_int(const char *s, int lo, int hi, int *out);
/* The tiny test model in the cache, made on first use. Caller frees. */
char *cli_default_model(bool quiet);
/* "--name=value" or "--name value": returns the value or NULL. */
const char *cli_opt(int argc, char **argv, int *i, const char *name);

#endif

/* Shared bits of the syndisco command line (uses only syndisco.h). */
#ifndef SYNDISCO_CLI_H
#define SYNDISCO_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "syndisco.h"

int cmd_discuss(int argc, char **argv);
int cmd_make_model(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_annotate(int argc, char **argv);
int cmd_evaluate(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_stats(int argc, char **argv);

/* --log-file: lines appended, the file rotated when the day changes. */
typedef struct cli_log cli_log;
cli_log *cli_log_open(const char *path);
void cli_log_write(cli_log *l, int level, const char *msg);
void cli_log_close(cli_log *l);

/* "syndisco: error: <formatted sd_error>" on stderr; returns exit code. */
int cli_fail(const sd_error *err);
/* printf-style error line on stderr; returns exit code 1 (2 for usage). */
int cli_errorf(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Parse a whole unsigned decimal; false if it is not one. */
bool cli_parse_u64(const char *s, uint64_t *out);
bool cli_parse_int(const char *s, int lo, int hi, int *out);
/* --log-level's value: error, warn, info, debug as sd_log_level; -1 if none. */
int cli_parse_log_level(const char *s);
/* The tiny test model in the cache, made on first use. Caller frees. */
char *cli_default_model(bool quiet);
/* "--name=value" or "--name value": returns the value or NULL. */
const char *cli_opt(int argc, char **argv, int *i, const char *name);

/* --trace-requests: one request as a JSON line ({speaker, role, system,
 * user}, ASCII) on f; false when it could not be written. */
bool cli_trace_request(FILE *f, const char *speaker, const char *role,
		       const sd_request *req);

/* Inputs of export, report and stats: DIR... [--annotations DIR...]. */
typedef struct cli_inputs {
	const char **logs;
	size_t n_logs;
	const char **annots;
	size_t n_annots;
} cli_inputs;

/*
 * Take argv[*i] if it is an input: a path, or --annotations with every
 * following argument up to the next option. Returns 1 when taken (with
 * *i on the last argument used), 0 when argv[*i] is not an input, 2 on a
 * usage error (printed).
 */
int cli_inputs_take(cli_inputs *in, int argc, char **argv, int *i);
/* Load the dataset; prints warnings unless quiet. Returns an exit code. */
int cli_inputs_load(const cli_inputs *in, bool quiet, sd_dataset **out);
void cli_inputs_free(cli_inputs *in);
/*
 * 0 when output (NULL or "-": stdout) is neither one of the inputs nor
 * inside an input directory; else prints why and returns 2. Writing
 * there would replace a log with CSV, or be read back by the next run.
 */
int cli_inputs_check_output(const cli_inputs *in, const char *output);

/*
 * Output to stdout (path NULL or "-") or to a file written atomically:
 * a temp file next to it, renamed over it by cli_out_commit(), removed by
 * cli_out_abort(), so a failure leaves nothing at path.
 */
typedef struct cli_out cli_out;
cli_out *cli_out_open(const char *path);		   /* NULL: error printed */
int cli_out_write(const char *data, size_t len, void *ud); /* sd_write_fn */
int cli_out_commit(cli_out *o);				   /* exit code; frees o */
void cli_out_abort(cli_out *o);				   /* frees o */

/*
 * stats' condition comparisons (stats_compare.c): tables on stdout, or
 * the JSON object of sd_dataset_compare_json when json; in table mode
 * nothing when there is nothing to compare, unless always. Returns an
 * exit code.
 */
int cli_print_comparisons(const sd_dataset *d, const sd_compare_params *p, bool json,
			  bool always);

#endif

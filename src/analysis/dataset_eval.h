/*
 * Evaluations in a dataset: the files `syndisco evaluate` writes
 * (OUT/<judge>/<conv-id>.json), found under the log or annotation
 * directories and joined to their discussions by conv_id. Each
 * (judge, dimension) is one score column per discussion
 * (docs/evaluate.md). Internal to the library (prefix sd__).
 */
#ifndef SD_RUN_DATASET_EVAL_H
#define SD_RUN_DATASET_EVAL_H

#include <jansson.h>
#include <stdbool.h>

#include "syndisco.h"

typedef struct ds_evals ds_evals;

/* Whether a parsed file is an evaluation file: {conv_id, judge, rubric,
 * scores, ...}. */
bool sd__eval_is_file(const json_t *root);

/* Whether a parsed file is the manifest of an annotate or evaluate run
 * (OUT/annotate.json, OUT/evaluate.json): {config_digest, config |
 * evaluate_config, ...} without logs; it is no discussion log. */
bool sd__eval_is_manifest(const json_t *root);

/*
 * Remember the evaluation in root (from path) until the discussions are
 * known. SD_OK, SD_EPARSE (err names path and field) or SD_ENOMEM.
 */
int sd__ds_eval_add(sd_dataset *d, const char *path, const json_t *root, sd_error *err);

/* Join what was added to the discussions; unmatched files are warnings. */
int sd__ds_eval_resolve(sd_dataset *d, sd_error *err);

void sd__ds_evals_free(ds_evals *e);

/* Score columns, "<judge>.<dimension>" sorted by judge then rubric order. */
size_t sd__ds_eval_count(const sd_dataset *d);
const char *sd__ds_eval_name(const sd_dataset *d, size_t k);
const char *sd__ds_eval_judge(const sd_dataset *d, size_t k);
const char *sd__ds_eval_dim(const sd_dataset *d, size_t k);
/* Discussion i's score in column k; false when it has none. */
bool sd__ds_eval_value(const sd_dataset *d, size_t disc, size_t k, double *out);

#endif

/* Condition comparisons of a dataset (compare.c). Internal (sd__). */
#ifndef SD_ANALYSIS_COMPARE_H
#define SD_ANALYSIS_COMPARE_H

#include <jansson.h>

#include "syndisco.h"

/* The comparisons as JSON (sd_dataset_compare_json's shape); new
 * reference in *out. SD_OK, SD_EINVAL (bad params) or SD_ENOMEM. */
int sd__dataset_compare(const sd_dataset *d, const sd_compare_params *p, json_t **out,
			sd_error *err);

/*
 * The report's section comparing conditions (HTML, with its data as a
 * JSON script element), "" when there is nothing to compare; NULL with
 * err set on failure. Caller frees with free().
 */
char *sd__report_compare_html(const sd_dataset *d, const sd_compare_params *p,
			      sd_error *err);

#endif

/*
 * Rubrics: the dimensions an LLM judge scores a whole discussion on
 * (docs/evaluate.md). A rubric becomes one GBNF grammar for a single JSON
 * object {"dim": N, ...} with the dimensions in config order, built from
 * the label code's range grammars, so a grammar-constrained reply always
 * parses; replies from engines that do not enforce grammars are checked
 * by the same per-dimension label specs. Internal to the library.
 */
#ifndef SD_CORE_RUBRIC_H
#define SD_CORE_RUBRIC_H

#include <jansson.h>
#include <stddef.h>

#include "syndisco.h"

typedef struct sd__rubric_dim {
	char *name;	   /* letters, digits, '-', '_', '.'; unique */
	char *description; /* may be "" */
	long long min, max;
	sd_label_spec *range; /* {"range": [min, max]} */
} sd__rubric_dim;

typedef struct sd__rubric {
	sd__rubric_dim *dims;
	size_t n;
	char *grammar;	     /* GBNF, root rule "root" */
	size_t max_bytes;    /* the longest reply the grammar allows */
	sd_label_spec *spec; /* {"grammar": grammar, "type": "json"} */
} sd__rubric;

/*
 * Parse a rubric: a non-empty array of {name, description, range: [min,
 * max]} (max - min <= 1000). field names the array in errors
 * ("rubric", "judges[1].rubric"); every error names the entry and key.
 * Caller frees *out with sd__rubric_free().
 */
int sd__rubric_parse(const json_t *arr, const char *source, const char *field,
		     sd__rubric **out, sd_error *err);
void sd__rubric_free(sd__rubric *r);

/*
 * What the judge is told about the rubric: one line per dimension and the
 * shape of the reply. Caller frees with free(); NULL when out of memory.
 */
char *sd__rubric_describe(const sd__rubric *r);

/*
 * Parse a reply: SD_OK and *scores (a new object {name: integer} in
 * rubric order), or SD_EPARSE when the reply is not one object with
 * exactly the rubric's dimensions, each an integer in its range.
 */
int sd__rubric_parse_reply(const sd__rubric *r, const char *reply, json_t **scores);

/* The rubric as JSON [{name, description, range}] (new reference). */
json_t *sd__rubric_json(const sd__rubric *r);

#endif

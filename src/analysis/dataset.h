/*
 * Internal view of an sd_dataset, shared by export.c, summary.c and
 * report.c: discussions, one row per comment, the annotation matrix.
 */
#ifndef SD_ANALYSIS_DATASET_H
#define SD_ANALYSIS_DATASET_H

#include <jansson.h>
#include <stdbool.h>

#include "syndisco.h"

typedef struct ds_disc {
	char *path;
	sd_logs *logs;
	const char *conv_id; /* the log's "id"; borrowed from logs */
	const char *cell;    /* NULL when the log has none */
	json_int_t index;    /* the log's "index", else its position */
	bool has_index;
	json_int_t seed;
	bool has_seed;
	char *condition;      /* name of the directory holding the log */
	json_t *personas;     /* owned: speaker name -> persona object */
	json_t *instructions; /* owned: speaker name -> instructions string */
	/* owned: per comment, [persona, instructions] from the entry's own
	   system prompt (2.2.1), nulls where it has none */
	json_t *entry_info;
	long num_turns; /* prompted user turns (run.json), -1 unknown */
	size_t first_row;
	size_t n_rows;
} ds_disc;

typedef struct ds_row {
	size_t disc;
	size_t order; /* position in "logs" */
	char message_id[17];
	char syndisco_id[33];	  /* md5(conv_id + "_" + text), as SynDisco's */
	size_t syndisco_order;	  /* SynDisco's 1-based message_order */
	sd_log_comment c;	  /* borrowed from the discussion's logs */
	const json_t *persona;	  /* borrowed from ds_disc; may be NULL */
	const char *instructions; /* borrowed from ds_disc; may be NULL */
} ds_row;

/* What one run.json says about one cell. */
typedef struct ds_run_cell {
	char *digest;
	char *cell;
	size_t num_discussions;
	long num_turns;
} ds_run_cell;

struct sd_dataset {
	ds_disc *discs;
	size_t n_discs;
	ds_row *rows;
	size_t n_rows;
	char **annotators; /* sorted */
	size_t n_annotators;
	/* n_rows x n_annotators, row-major: an object {"annotation", "label",
	   "label_status"} (owned reference) or NULL when not annotated */
	json_t **annots;
	char **persona_fields; /* union over all rows, first-seen order */
	size_t n_persona_fields;
	ds_run_cell *run_cells;
	size_t n_run_cells;
	char **warnings;
	size_t n_warnings;
	size_t n_warnings_dropped;
	struct ds_evals *evals; /* dataset_eval.h; NULL when none */
};

/* The annotation of row r by annotator a (borrowed), or NULL. */
static inline const json_t *ds_annot(const sd_dataset *d, size_t r, size_t a)
{
	return d->annots[r * d->n_annotators + a];
}

/*
 * A persona field as one string cell: strings as they are, lists joined
 * with "; " (their items flattened the same way), numbers and booleans as
 * JSON writes them, objects as compact JSON, null as "". Caller frees;
 * NULL on allocation failure.
 */
char *sd__ds_flatten_value(const json_t *v);

/* Number of code points in UTF-8 text. */
size_t sd__ds_utf8_length(const char *s);

#endif

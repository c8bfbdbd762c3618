/*
 * Evaluation files joined to a dataset's discussions (dataset_eval.h).
 * Files may come in any order, before the discussions they score are
 * loaded, so they are kept as pending entries and joined at the end.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/dataset.h"
#include "analysis/dataset_eval.h"
#include "util/error.h"

typedef struct pending_eval {
	char *path;
	char *conv_id;
	char *judge;
	json_t *scores; /* object, or null when unparsed */
	json_t *rubric; /* [{name, ...}] */
} pending_eval;

typedef struct ds_eval_col {
	char *name; /* judge.dim */
	char *judge;
	char *dim;
} ds_eval_col;

struct ds_evals {
	pending_eval *p;
	size_t n_p;
	ds_eval_col *cols;
	size_t n_cols;
	double *v; /* n_discs x n_cols, NAN when none */
	size_t n_discs;
};

bool sd__eval_is_file(const json_t *root)
{
	const json_t *s = json_object_get(root, "scores");
	return json_is_object(root) && json_is_string(json_object_get(root, "conv_id")) &&
	       json_is_string(json_object_get(root, "judge")) &&
	       json_is_array(json_object_get(root, "rubric")) &&
	       (json_is_object(s) || json_is_null(s));
}

bool sd__eval_is_manifest(const json_t *root)
{
	return json_is_object(root) &&
	       json_is_string(json_object_get(root, "config_digest")) &&
	       (json_is_object(json_object_get(root, "config")) ||
		json_is_object(json_object_get(root, "evaluate_config"))) &&
	       !json_object_get(root, "logs");
}

static void warn(sd_dataset *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void warn(sd_dataset *d, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	if (d->n_warnings >= 100) {
		d->n_warnings_dropped++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	char **w = realloc(d->warnings, (d->n_warnings + 1) * sizeof(*w));
	if (!w)
		return;
	d->warnings = w;
	if ((w[d->n_warnings] = strdup(buf)))
		d->n_warnings++;
}

void sd__ds_evals_free(ds_evals *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->n_p; i++) {
		free(e->p[i].path);
		free(e->p[i].conv_id);
		free(e->p[i].judge);
		json_decref(e->p[i].scores);
		json_decref(e->p[i].rubric);
	}
	free(e->p);
	for (size_t i = 0; i < e->n_cols; i++) {
		free(e->cols[i].name);
		free(e->cols[i].judge);
		free(e->cols[i].dim);
	}
	free(e->cols);
	free(e->v);
	free(e);
}

int sd__ds_eval_add(sd_dataset *d, const char *path, const json_t *root, sd_error *err)
{
	if (!d->evals && !(d->evals = calloc(1, sizeof(*d->evals))))
		return sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
	ds_evals *e = d->evals;
	const json_t *rubric = json_object_get(root, "rubric");
	const json_t *scores = json_object_get(root, "scores");
	/* every score must be a number of the rubric: a hand-edited file
	   that breaks this is an error naming it, not a silent zero */
	const char *key;
	const json_t *val;
	json_object_foreach((json_t *)scores, key, val)
	{
		bool known = false;
		for (size_t i = 0; i < json_array_size(rubric) && !known; i++) {
			const char *n = json_string_value(
			    json_object_get(json_array_get(rubric, i), "name"));
			known = n && !strcmp(n, key);
		}
		char f[160];
		snprintf(f, sizeof(f), "scores.%s", key);
		if (!known)
			return sd__error_set(err, SD_EPARSE, path, f,
					     "not a dimension of the rubric");
		if (!json_is_number(val))
			return sd__error_set(err, SD_EPARSE, path, f, "must be a number");
	}
	pending_eval *v = realloc(e->p, (e->n_p + 1) * sizeof(*v));
	if (!v)
		return sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
	e->p = v;
	pending_eval *pe = &v[e->n_p];
	memset(pe, 0, sizeof(*pe));
	e->n_p++;
	if (!(pe->path = strdup(path)) ||
	    !(pe->conv_id =
		  strdup(json_string_value(json_object_get(root, "conv_id")))) ||
	    !(pe->judge = strdup(json_string_value(json_object_get(root, "judge")))))
		return sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
	pe->scores = json_incref((json_t *)scores);
	pe->rubric = json_incref((json_t *)rubric);
	return SD_OK;
}

static int col_cmp(const void *x, const void *y)
{
	const ds_eval_col *a = x, *b = y;
	return strcmp(a->judge, b->judge);
}

static size_t col_find(const ds_evals *e, const char *judge, const char *dim)
{
	for (size_t k = 0; k < e->n_cols; k++)
		if (!strcmp(e->cols[k].judge, judge) && !strcmp(e->cols[k].dim, dim))
			return k;
	return (size_t)-1;
}

int sd__ds_eval_resolve(sd_dataset *d, sd_error *err)
{
	ds_evals *e = d->evals;
	if (!e)
		return SD_OK;
	/* columns: every (judge, dimension) seen, judges sorted (stable:
	   rubric order within a judge) */
	for (size_t i = 0; i < e->n_p; i++) {
		const json_t *r = e->p[i].rubric;
		for (size_t k = 0; k < json_array_size(r); k++) {
			const char *dim = json_string_value(
			    json_object_get(json_array_get(r, k), "name"));
			if (!dim || col_find(e, e->p[i].judge, dim) != (size_t)-1)
				continue;
			ds_eval_col *c = realloc(e->cols, (e->n_cols + 1) * sizeof(*c));
			if (!c)
				goto oom;
			e->cols = c;
			c = &c[e->n_cols];
			memset(c, 0, sizeof(*c));
			e->n_cols++;
			size_t n = strlen(e->p[i].judge) + strlen(dim) + 2;
			if (!(c->judge = strdup(e->p[i].judge)) ||
			    !(c->dim = strdup(dim)) || !(c->name = malloc(n)))
				goto oom;
			snprintf(c->name, n, "%s.%s", e->p[i].judge, dim);
		}
	}
	/* insertion sort: stable, and the column count is small */
	for (size_t i = 1; i < e->n_cols; i++)
		for (size_t j = i; j > 0 && col_cmp(&e->cols[j - 1], &e->cols[j]) > 0;
		     j--) {
			ds_eval_col t = e->cols[j];
			e->cols[j] = e->cols[j - 1];
			e->cols[j - 1] = t;
		}
	e->n_discs = d->n_discs;
	if (!(e->v = malloc((d->n_discs * e->n_cols + 1) * sizeof(double))))
		goto oom;
	for (size_t i = 0; i < d->n_discs * e->n_cols; i++)
		e->v[i] = NAN;
	for (size_t i = 0; i < e->n_p; i++) {
		pending_eval *pe = &e->p[i];
		size_t disc = (size_t)-1;
		for (size_t k = 0; k < d->n_discs && disc == (size_t)-1; k++)
			if (d->discs[k].conv_id &&
			    !strcmp(d->discs[k].conv_id, pe->conv_id))
				disc = k;
		if (disc == (size_t)-1) {
			warn(d,
			     "%s: evaluates discussion %s, which is not among the logs",
			     pe->path, pe->conv_id);
			continue;
		}
		const char *key;
		const json_t *val;
		json_object_foreach(pe->scores, key, val)
		{
			size_t k = col_find(e, pe->judge, key);
			double *slot = &e->v[disc * e->n_cols + k];
			if (!isnan(*slot)) {
				warn(d,
				     "%s: discussion %s already evaluated by %s; kept "
				     "the first",
				     pe->path, pe->conv_id, pe->judge);
				break;
			}
			*slot = json_number_value(val);
		}
	}
	return SD_OK;
oom:
	return sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
}

size_t sd__ds_eval_count(const sd_dataset *d) { return d->evals ? d->evals->n_cols : 0; }

const char *sd__ds_eval_name(const sd_dataset *d, size_t k)
{
	return d->evals->cols[k].name;
}

const char *sd__ds_eval_judge(const sd_dataset *d, size_t k)
{
	return d->evals->cols[k].judge;
}

const char *sd__ds_eval_dim(const sd_dataset *d, size_t k)
{
	return d->evals->cols[k].dim;
}

bool sd__ds_eval_value(const sd_dataset *d, size_t disc, size_t k, double *out)
{
	const ds_evals *e = d->evals;
	if (!e || k >= e->n_cols || disc >= e->n_discs)
		return false;
	double v = e->v[disc * e->n_cols + k];
	if (isnan(v))
		return false;
	*out = v;
	return true;
}

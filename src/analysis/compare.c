/*
 * Condition comparisons (docs/export.md#condition-comparisons): for every
 * numeric annotation label and every evaluation score, the mean per
 * condition with a 95% bootstrap interval, the pairwise differences of
 * those means, and for labels the mean per turn index. A discussion is
 * the unit: a label's value for a discussion is the mean of its
 * comments' labels, and the bootstrap resamples discussions.
 */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/bootstrap.h"
#include "analysis/compare.h"
#include "analysis/dataset.h"
#include "analysis/dataset_eval.h"
#include "util/error.h"

sd_compare_params sd_compare_default_params(void)
{
	sd_compare_params p;
	memset(&p, 0, sizeof(p));
	p.replicates = 1000;
	p.seed = 42;
	return p;
}

/* The condition of a discussion: its cell, else its directory's name. */
static const char *cond_of(const ds_disc *dd)
{
	if (dd->cell && *dd->cell)
		return dd->cell;
	return dd->condition ? dd->condition : "";
}

/* A label as a number: a JSON number, or an annotation text that is one
 * number and nothing else (SynDisco's files have no parsed labels; ours
 * without a label spec), unless the annotation says it did not parse. */
static bool label_value(const json_t *a, double *out)
{
	const json_t *l = json_object_get(a, "label");
	if (json_is_number(l)) {
		*out = json_number_value(l);
		return true;
	}
	const char *st = json_string_value(json_object_get(a, "label_status"));
	if (st && !strcmp(st, "unparsed"))
		return false; /* its text failed the spec: never a value */
	const char *s = json_string_value(json_object_get(a, "annotation"));
	if (!json_is_null(l) && l)
		return false; /* a label that is not a number: a category */
	if (!s)
		return false;
	while (isspace((unsigned char)*s))
		s++;
	if (!*s)
		return false;
	char *end;
	double v = strtod(s, &end);
	while (isspace((unsigned char)*end))
		end++;
	if (*end || !isfinite(v))
		return false;
	*out = v;
	return true;
}

typedef struct cmp_ctx {
	const sd_dataset *d;
	const sd_compare_params *p;
	const char **conds; /* distinct, first-appearance order */
	size_t n_conds;
	size_t *cond_of_disc;
	double *buf; /* scratch, n_discs */
	double *buf2;
} cmp_ctx;

static json_t *ci_json(const sd__ci *c)
{
	return json_pack("{s:I,s:f,s:f,s:f}", "n", (json_int_t)c->n, "mean", c->mean,
			 "lo", c->lo, "hi", c->hi);
}

/* Values of condition c from per-discussion vals (NAN: none) into dst. */
static size_t gather(const cmp_ctx *x, const double *vals, size_t c, double *dst)
{
	size_t n = 0;
	for (size_t i = 0; i < x->d->n_discs; i++)
		if (x->cond_of_disc[i] == c && !isnan(vals[i]))
			dst[n++] = vals[i];
	return n;
}

static int metric_json(cmp_ctx *x, const char *name, const char *kind, const double *vals,
		       size_t annotator, json_t **out)
{
	const sd_dataset *d = x->d;
	json_t *m = json_pack("{s:s,s:s,s:[],s:[]}", "name", name, "kind", kind,
			      "by_condition", "differences");
	if (!m)
		return SD_ENOMEM;
	json_t *byc = json_object_get(m, "by_condition");
	json_t *diffs = json_object_get(m, "differences");
	for (size_t c = 0; c < x->n_conds; c++) {
		size_t n = gather(x, vals, c, x->buf);
		if (!n)
			continue;
		sd__ci ci;
		const char *parts[] = {name, x->conds[c]};
		if (sd__bootstrap_mean(x->buf, n,
				       sd__bootstrap_seed(x->p->seed, parts, 2),
				       x->p->replicates, &ci))
			goto oom;
		json_t *o = ci_json(&ci);
		if (!o || json_object_set_new(o, "condition", json_string(x->conds[c])) ||
		    json_array_append_new(byc, o))
			goto oom;
	}
	for (size_t a = 0; a < x->n_conds; a++)
		for (size_t b = a + 1; b < x->n_conds; b++) {
			size_t na = gather(x, vals, a, x->buf),
			       nb = gather(x, vals, b, x->buf2);
			if (!na || !nb)
				continue;
			sd__ci ci;
			const char *parts[] = {name, x->conds[a], x->conds[b]};
			if (sd__bootstrap_diff(x->buf, na, x->buf2, nb,
					       sd__bootstrap_seed(x->p->seed, parts, 3),
					       x->p->replicates, &ci))
				goto oom;
			json_t *o = json_pack("{s:s,s:s,s:I,s:I,s:f,s:f,s:f}", "a",
					      x->conds[a], "b", x->conds[b], "n_a",
					      (json_int_t)na, "n_b", (json_int_t)nb,
					      "diff", ci.mean, "lo", ci.lo, "hi", ci.hi);
			if (!o || json_array_append_new(diffs, o))
				goto oom;
		}
	if (annotator != (size_t)-1) {
		/* through the turns: comment t of each discussion of a condition */
		json_t *bt = json_array();
		if (!bt || json_object_set_new(m, "by_turn", bt))
			goto oom;
		size_t max_t = 0;
		for (size_t i = 0; i < d->n_discs; i++)
			if (d->discs[i].n_rows > max_t)
				max_t = d->discs[i].n_rows;
		for (size_t c = 0; c < x->n_conds; c++) {
			json_t *turns = json_array();
			json_t *o = json_pack("{s:s,s:o}", "condition", x->conds[c],
					      "turns", turns);
			if (!o || json_array_append_new(bt, o))
				goto oom;
			for (size_t t = 0; t < max_t; t++) {
				size_t n = 0;
				for (size_t i = 0; i < d->n_discs; i++) {
					const ds_disc *dd = &d->discs[i];
					const json_t *an;
					double v;
					if (x->cond_of_disc[i] != c || t >= dd->n_rows)
						continue;
					an = ds_annot(d, dd->first_row + t, annotator);
					if (an && label_value(an, &v))
						x->buf[n++] = v;
				}
				if (!n)
					continue;
				char ts[32];
				snprintf(ts, sizeof(ts), "%zu", t);
				const char *parts[] = {name, x->conds[c], ts};
				sd__ci ci;
				if (sd__bootstrap_mean(
					x->buf, n,
					sd__bootstrap_seed(x->p->seed, parts, 3),
					x->p->replicates, &ci))
					goto oom;
				json_t *tj = ci_json(&ci);
				if (!tj ||
				    json_object_set_new(tj, "turn",
							json_integer((json_int_t)t)) ||
				    json_array_append_new(turns, tj))
					goto oom;
			}
		}
	}
	*out = m;
	return SD_OK;
oom:
	json_decref(m);
	return SD_ENOMEM;
}

int sd__dataset_compare(const sd_dataset *d, const sd_compare_params *p, json_t **out,
			sd_error *err)
{
	cmp_ctx x = {.d = d, .p = p};
	json_t *root = NULL;
	double *vals = NULL;
	int rc = SD_ENOMEM;
	*out = NULL;
	if (!p || p->replicates < 1 || p->replicates > 1000000)
		return sd__error_set(
		    err, SD_EINVAL, NULL, "bootstrap",
		    "the number of replicates must be from 1 to 1000000");
	size_t nd = d->n_discs;
	x.conds = calloc(nd + 1, sizeof(*x.conds));
	x.cond_of_disc = calloc(nd + 1, sizeof(*x.cond_of_disc));
	x.buf = calloc(nd + 1, sizeof(double));
	x.buf2 = calloc(nd + 1, sizeof(double));
	vals = calloc(nd + 1, sizeof(double));
	if (!x.conds || !x.cond_of_disc || !x.buf || !x.buf2 || !vals)
		goto out;
	for (size_t i = 0; i < nd; i++) {
		const char *c = cond_of(&d->discs[i]);
		size_t k = 0;
		while (k < x.n_conds && strcmp(x.conds[k], c))
			k++;
		if (k == x.n_conds)
			x.conds[x.n_conds++] = c;
		x.cond_of_disc[i] = k;
	}
	root = json_pack("{s:{s:I,s:I,s:f,s:s,s:s},s:[],s:[]}", "bootstrap", "replicates",
			 (json_int_t)p->replicates, "seed", (json_int_t)p->seed,
			 "confidence", 0.95, "interval", "percentile", "resampled",
			 "discussions", "conditions", "metrics");
	if (!root)
		goto out;
	for (size_t c = 0; c < x.n_conds; c++)
		if (json_array_append_new(json_object_get(root, "conditions"),
					  json_string(x.conds[c])))
			goto out;
	json_t *metrics = json_object_get(root, "metrics");
	/* labels: the mean of a discussion's numeric labels */
	for (size_t a = 0; a < d->n_annotators; a++) {
		bool any = false;
		for (size_t i = 0; i < nd; i++) {
			const ds_disc *dd = &d->discs[i];
			double s = 0, v;
			size_t n = 0;
			for (size_t r = dd->first_row; r < dd->first_row + dd->n_rows;
			     r++) {
				const json_t *an = ds_annot(d, r, a);
				if (an && label_value(an, &v))
					s += v, n++;
			}
			vals[i] = n ? s / (double)n : NAN;
			any = any || n;
		}
		if (!any)
			continue;
		json_t *m = NULL;
		if (metric_json(&x, d->annotators[a], "label", vals, a, &m) ||
		    json_array_append_new(metrics, m))
			goto out;
	}
	for (size_t k = 0; k < sd__ds_eval_count(d); k++) {
		bool any = false;
		for (size_t i = 0; i < nd; i++) {
			double v;
			vals[i] = sd__ds_eval_value(d, i, k, &v) ? v : NAN;
			any = any || !isnan(vals[i]);
		}
		if (!any)
			continue;
		json_t *m = NULL;
		if (metric_json(&x, sd__ds_eval_name(d, k), "score", vals, (size_t)-1,
				&m) ||
		    json_array_append_new(metrics, m))
			goto out;
	}
	*out = root;
	root = NULL;
	rc = SD_OK;
out:
	if (rc)
		sd__error_set(err, rc, NULL, NULL, "out of memory");
	json_decref(root);
	free(vals);
	free(x.conds);
	free(x.cond_of_disc);
	free(x.buf);
	free(x.buf2);
	return rc;
}

int sd_dataset_compare_json(const sd_dataset *d, const sd_compare_params *p, char **out,
			    sd_error *err)
{
	json_t *j = NULL;
	*out = NULL;
	int rc = sd__dataset_compare(d, p, &j, err);
	if (rc)
		return rc;
	*out = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII |
				 JSON_REAL_PRECISION(15));
	json_decref(j);
	return *out ? SD_OK : sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
}

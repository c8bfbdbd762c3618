/*
 * Export a dataset as one row per comment: RFC 4180 CSV or JSON lines.
 * Both formats come from the same row of JSON values, so they cannot
 * disagree about a column; docs/export.md documents them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/dataset.h"
#include "analysis/dataset_eval.h"
#include "util/buf.h"
#include "util/error.h"

int sd_export_format_from_name(const char *name, sd_export_format *out)
{
	if (!name || !out)
		return SD_EINVAL;
	if (!strcmp(name, "csv"))
		*out = SD_EXPORT_CSV;
	else if (!strcmp(name, "jsonl"))
		*out = SD_EXPORT_JSONL;
	else
		return SD_EINVAL;
	return SD_OK;
}

/* The column names, in order. Caller frees the array and each name. */
static char **column_names(const sd_dataset *d, size_t *n)
{
	static const char *const fixed[] = {
	    "conv_id",
	    "cell",
	    "condition",
	    "discussion_index",
	    "message_id",
	    "message_order",
	    "syndisco_message_id",
	    "syndisco_message_order",
	    "user",
	    "is_moderator",
	    "model",
	    "instructions",
	    "text",
	};
	size_t nf = sizeof(fixed) / sizeof(fixed[0]);
	size_t total =
	    nf + d->n_persona_fields + 1 + 2 * d->n_annotators + sd__ds_eval_count(d);
	char **v = calloc(total, sizeof(*v));
	size_t k = 0;
	sd__buf b;
	sd__buf_init(&b, 0); /* the oom path frees it, whatever failed */
	if (!v)
		return NULL;
	for (size_t i = 0; i < nf; i++)
		if (!(v[k++] = strdup(fixed[i])))
			goto oom;
	for (size_t i = 0; i < d->n_persona_fields; i++) {
		sd__buf_init(&b, 0);
		if (sd__buf_printf(&b, "persona_%s", d->persona_fields[i]))
			goto oom;
		v[k++] = sd__buf_steal(&b);
	}
	if (!(v[k++] = strdup("seed")))
		goto oom;
	for (size_t i = 0; i < d->n_annotators; i++) {
		static const char *const suffix[] = {"annotation", "label"};
		for (int s = 0; s < 2; s++) {
			sd__buf_init(&b, 0);
			if (sd__buf_printf(&b, "%s_%s", d->annotators[i], suffix[s]))
				goto oom;
			v[k++] = sd__buf_steal(&b);
		}
	}
	/* evaluation scores: the discussion's, on each of its comments */
	for (size_t i = 0; i < sd__ds_eval_count(d); i++) {
		sd__buf_init(&b, 0);
		if (sd__buf_printf(&b, "eval_%s_%s", sd__ds_eval_judge(d, i),
				   sd__ds_eval_dim(d, i)))
			goto oom;
		v[k++] = sd__buf_steal(&b);
	}
	/* unique by construction: an annotator "persona_x" and a persona field
	   "x_label" would both give persona_x_label; a later column whose
	   name is taken gets _2, _3, ... */
	for (size_t i = 1; i < total; i++) {
		for (unsigned sfx = 2;; sfx++) {
			size_t j = 0;
			while (j < i && strcmp(v[j], v[i]))
				j++;
			if (j == i)
				break;
			sd__buf_init(&b, 0);
			char *base = v[i];
			size_t bl = strlen(base);
			/* strip the suffix this loop added last time */
			if (sfx > 2)
				bl = (size_t)(strrchr(base, '_') - base);
			if (sd__buf_printf(&b, "%.*s_%u", (int)bl, base, sfx))
				goto oom;
			free(v[i]);
			if (!(v[i] = sd__buf_steal(&b)))
				goto oom;
		}
	}
	*n = total;
	return v;
oom:
	sd__buf_free(&b);
	for (size_t i = 0; i < total; i++)
		free(v[i]);
	free(v);
	return NULL;
}

static json_t *str_or_null(const char *s) { return s ? json_string(s) : json_null(); }

/* A persona field as one cell, or null when the speaker lacks it. */
static json_t *persona_cell(const json_t *persona, const char *field)
{
	const json_t *v = json_object_get(persona, field);
	if (!v)
		return json_null();
	char *s = sd__ds_flatten_value(v);
	if (!s)
		return NULL;
	json_t *o = json_string(s);
	free(s);
	return o;
}

/* The annotation text: a string as it is, anything else flattened. */
static json_t *annotation_cell(const json_t *a)
{
	const json_t *v = json_object_get(a, "annotation");
	if (!v || json_is_null(v))
		return json_null();
	if (json_is_string(v))
		return json_incref((json_t *)v);
	char *s = sd__ds_flatten_value(v);
	json_t *o = s ? json_string(s) : NULL;
	free(s);
	return o;
}

static json_t *label_cell(const json_t *a)
{
	const json_t *v = json_object_get(a, "label");
	if (!v || json_is_null(v))
		return json_null();
	if (json_is_string(v) || json_is_number(v) || json_is_boolean(v))
		return json_incref((json_t *)v);
	char *s = sd__ds_flatten_value(v);
	json_t *o = s ? json_string(s) : NULL;
	free(s);
	return o;
}

/* Values of row r in column order (new references); 0 or SD_ENOMEM. */
static int row_values(const sd_dataset *d, size_t r, json_t **v, size_t n)
{
	const ds_row *row = &d->rows[r];
	const ds_disc *dd = &d->discs[row->disc];
	size_t k = 0;
	v[k++] = json_string(dd->conv_id ? dd->conv_id : "");
	v[k++] = str_or_null(dd->cell);
	v[k++] = json_string(dd->condition ? dd->condition : "");
	v[k++] = json_integer(dd->index);
	v[k++] = json_string(row->message_id);
	v[k++] = json_integer((json_int_t)row->order);
	v[k++] = json_string(row->syndisco_id);
	v[k++] = json_integer((json_int_t)row->syndisco_order);
	v[k++] = json_string(row->c.name ? row->c.name : "");
	v[k++] = json_boolean(row->c.is_moderator);
	v[k++] = json_string(row->c.model ? row->c.model : "");
	v[k++] = str_or_null(row->instructions);
	v[k++] = json_string(row->c.text ? row->c.text : "");
	for (size_t i = 0; i < d->n_persona_fields; i++)
		v[k++] = persona_cell(row->persona, d->persona_fields[i]);
	v[k++] = dd->has_seed ? json_integer(dd->seed) : json_null();
	for (size_t i = 0; i < d->n_annotators; i++) {
		const json_t *a = ds_annot(d, r, i);
		v[k++] = a ? annotation_cell(a) : json_null();
		v[k++] = a ? label_cell(a) : json_null();
	}
	for (size_t i = 0; i < sd__ds_eval_count(d); i++) {
		double x;
		v[k++] = !sd__ds_eval_value(d, row->disc, i, &x) ? json_null()
			 : x == (double)(json_int_t)x ? json_integer((json_int_t)x)
						      : json_real(x);
	}
	for (size_t i = 0; i < n; i++)
		if (!v[i])
			return SD_ENOMEM;
	return SD_OK;
}

/* One CSV field: quoted when it holds a quote, comma, CR or LF. */
static int csv_field(sd__buf *b, const char *s, size_t len)
{
	if (!memchr(s, '"', len) && !memchr(s, ',', len) && !memchr(s, '\r', len) &&
	    !memchr(s, '\n', len))
		return sd__buf_append(b, s, len);
	if (sd__buf_puts(b, "\""))
		return SD_ENOMEM;
	for (const char *q; (q = memchr(s, '"', len));
	     len -= (size_t)(q - s) + 1, s = q + 1)
		if (sd__buf_append(b, s, (size_t)(q - s) + 1) || sd__buf_puts(b, "\""))
			return SD_ENOMEM;
	return sd__buf_append(b, s, len) || sd__buf_puts(b, "\"") ? SD_ENOMEM : SD_OK;
}

static int csv_value(sd__buf *b, const json_t *v)
{
	if (json_is_null(v))
		return SD_OK;
	if (json_is_string(v))
		return csv_field(b, json_string_value(v), json_string_length(v));
	char *s = sd__ds_flatten_value(v);
	int rc = s ? csv_field(b, s, strlen(s)) : SD_ENOMEM;
	free(s);
	return rc;
}

static int flush(sd__buf *b, sd_write_fn write, void *ud)
{
	int rc = b->len && write(b->data, b->len, ud) ? SD_EIO : SD_OK;
	sd__buf_reset(b);
	return rc;
}

int sd_dataset_export(const sd_dataset *d, sd_export_format format, sd_write_fn write,
		      void *ud, sd_error *err)
{
	size_t n = 0;
	char **names = NULL;
	json_t **v = NULL;
	json_t *obj = NULL;
	sd__buf b;
	int rc = SD_ENOMEM;
	sd__buf_init(&b, 0);
	if (!d || !write)
		return sd__error_set(err, SD_EINVAL, NULL, NULL, "no dataset or writer");
	if (format != SD_EXPORT_CSV && format != SD_EXPORT_JSONL)
		return sd__error_set(err, SD_EINVAL, NULL, NULL, "unknown export format");
	if (!(names = column_names(d, &n)) || !(v = calloc(n, sizeof(*v))))
		goto out;
	if (format == SD_EXPORT_CSV) {
		for (size_t i = 0; i < n; i++)
			if ((i && sd__buf_puts(&b, ",")) ||
			    csv_field(&b, names[i], strlen(names[i])))
				goto out;
		if (sd__buf_puts(&b, "\r\n"))
			goto out;
	}
	for (size_t r = 0; r < d->n_rows; r++) {
		if (row_values(d, r, v, n))
			goto out;
		if (format == SD_EXPORT_CSV) {
			for (size_t i = 0; i < n; i++)
				if ((i && sd__buf_puts(&b, ",")) || csv_value(&b, v[i]))
					goto out;
			if (sd__buf_puts(&b, "\r\n"))
				goto out;
		} else {
			if (!(obj = json_object()))
				goto out;
			for (size_t i = 0; i < n; i++) {
				json_t *x = v[i];
				v[i] = NULL; /* set_new takes it, even on failure */
				if (json_object_set_new(obj, names[i], x))
					goto out;
			}
			/* one line per row; UTF-8 as it is (logs are valid UTF-8) */
			char *line = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
			json_decref(obj);
			obj = NULL;
			if (!line)
				goto out;
			int bad = sd__buf_puts(&b, line) || sd__buf_puts(&b, "\n");
			free(line);
			if (bad)
				goto out;
		}
		for (size_t i = 0; i < n; i++) {
			json_decref(v[i]);
			v[i] = NULL;
		}
		/* hand over in chunks: the whole export never sits in memory */
		if (b.len >= 1 << 16 && (rc = flush(&b, write, ud)))
			goto out;
		rc = SD_ENOMEM;
	}
	rc = flush(&b, write, ud);
out:
	if (rc == SD_ENOMEM)
		sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
	else if (rc == SD_EIO)
		sd__error_set(err, SD_EIO, NULL, NULL, "write failed");
	if (v)
		for (size_t i = 0; i < n; i++)
			json_decref(v[i]);
	free(v);
	json_decref(obj);
	if (names)
		for (size_t i = 0; i < n; i++)
			free(names[i]);
	free(names);
	sd__buf_free(&b);
	return rc;
}

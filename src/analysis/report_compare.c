/*
 * The report's "Conditions compared" section: the comparisons of
 * compare.c as a table of pairwise differences (rendered here, readable
 * without JavaScript) and as JSON that the page's script draws as charts
 * (means with intervals per condition; labels through the turns).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/compare.h"
#include "util/buf.h"
#include "util/error.h"

static int esc(sd__buf *b, const char *s)
{
	int rc = 0;
	for (; *s && !rc; s++) {
		switch (*s) {
		case '&':
			rc = sd__buf_puts(b, "&amp;");
			break;
		case '<':
			rc = sd__buf_puts(b, "&lt;");
			break;
		case '>':
			rc = sd__buf_puts(b, "&gt;");
			break;
		case '"':
			rc = sd__buf_puts(b, "&quot;");
			break;
		case '\'':
			rc = sd__buf_puts(b, "&#39;");
			break;
		default:
			rc = sd__buf_append(b, s, 1);
		}
	}
	return rc;
}

static int diff_table(sd__buf *b, const json_t *metrics)
{
	int rc = sd__buf_puts(
	    b, "<table class=\"summary\" id=\"compare-diffs\"><thead><tr>"
	       "<th>measure</th><th>condition A</th><th>condition B</th>"
	       "<th>mean B &minus; mean A</th><th>95% CI</th>"
	       "<th>discussions<br><small>A / B</small></th></tr></thead><tbody>");
	for (size_t i = 0; i < json_array_size(metrics) && !rc; i++) {
		const json_t *m = json_array_get(metrics, i);
		const json_t *ds = json_object_get(m, "differences");
		for (size_t k = 0; k < json_array_size(ds) && !rc; k++) {
			const json_t *x = json_array_get(ds, k);
			double lo = json_real_value(json_object_get(x, "lo"));
			double hi = json_real_value(json_object_get(x, "hi"));
			bool sig = lo > 0 || hi < 0;
			rc =
			    sd__buf_printf(b, "<tr%s><td>",
					   sig ? " class=\"sig\"" : "") ||
			    esc(b, json_string_value(json_object_get(m, "name"))) ||
			    sd__buf_printf(
				b, " <small>(%s)</small></td><td>",
				json_string_value(json_object_get(m, "kind"))) ||
			    esc(b, json_string_value(json_object_get(x, "a"))) ||
			    sd__buf_puts(b, "</td><td>") ||
			    esc(b, json_string_value(json_object_get(x, "b"))) ||
			    sd__buf_printf(
				b,
				"</td><td>%+.3f</td><td>[%.3f, %.3f]</td>"
				"<td>%lld / %lld</td></tr>",
				json_real_value(json_object_get(x, "diff")), lo, hi,
				(long long)json_integer_value(json_object_get(x, "n_a")),
				(long long)json_integer_value(json_object_get(x, "n_b")));
		}
	}
	return rc || sd__buf_puts(b, "</tbody></table>");
}

char *sd__report_compare_html(const sd_dataset *d, const sd_compare_params *p,
			      sd_error *err)
{
	json_t *j = NULL;
	char *json = NULL, *res = NULL;
	sd__buf b;
	sd__buf_init(&b, 0);
	if (sd__dataset_compare(d, p, &j, err))
		return NULL;
	const json_t *metrics = json_object_get(j, "metrics");
	if (json_array_size(metrics) == 0) {
		json_decref(j);
		return strdup(""); /* nothing to compare: no section */
	}
	if (!(json = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER |
				       JSON_ENSURE_ASCII | JSON_REAL_PRECISION(15))))
		goto oom;
	int rc =
	    sd__buf_printf(&b,
			   "<section id=\"compare\"><h2>Conditions compared</h2>"
			   "<p class=\"note\">Mean per condition of every numeric "
			   "annotation label (a discussion's value: the mean of its "
			   "comments' labels) and every evaluation score, with 95%% "
			   "percentile bootstrap intervals over <b>discussions</b> "
			   "(%zu replicates, seed %llu; comments are never resampled "
			   "on their own). A condition is a log's cell, else its "
			   "directory.</p><div class=\"charts\" id=\"compare-charts\">"
			   "</div><div class=\"charts\" id=\"turn-charts\"></div>"
			   "<h3>Pairwise differences</h3>",
			   p->replicates, (unsigned long long)p->seed);
	rc = rc || diff_table(&b, metrics) ||
	     sd__buf_puts(
		 &b, "</section>\n<script type=\"application/json\" id=\"sd-compare\">");
	/* every "<" as \u003c: no text can close the script element */
	for (const char *s = json; !rc && *s; s++)
		rc = *s == '<' ? sd__buf_puts(&b, "\\u003c") : sd__buf_append(&b, s, 1);
	rc = rc || sd__buf_puts(&b, "</script>");
	if (rc || !(res = sd__buf_steal(&b)))
		goto oom;
	goto out;
oom:
	sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
out:
	sd__buf_free(&b);
	free(json);
	json_decref(j);
	return res;
}

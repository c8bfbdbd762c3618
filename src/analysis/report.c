/*
 * The HTML report: one self-contained page. The summary table and the
 * charts (inline SVG) are rendered here, so they show without JavaScript;
 * the discussions are embedded once as JSON and the page's small script
 * renders the one the reader picks (report_template.html).
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "analysis/compare.h"
#include "analysis/dataset.h"
#include "core/core.h"
#include "util/buf.h"
#include "util/error.h"

/* generated at build time from src/analysis/report_template.html */
extern const char sd__report_template[];
extern const size_t sd__report_template_len;

sd_report_params sd_report_default_params(void)
{
	sd_report_params p;
	memset(&p, 0, sizeof(p));
	p.title = "syndisco report";
	p.compare = sd_compare_default_params();
	return p;
}

/* ---- output: a buffer handed to the caller's writer in chunks ---- */

typedef struct out {
	sd__buf b;
	sd_write_fn write;
	void *ud;
	int rc; /* first failure; later writes are skipped */
} out;

static void flush(out *o)
{
	if (!o->rc && o->b.len && o->write(o->b.data, o->b.len, o->ud))
		o->rc = SD_EIO;
	sd__buf_reset(&o->b);
}

static void put(out *o, const char *s, size_t n)
{
	if (o->rc)
		return;
	if (sd__buf_append(&o->b, s, n))
		o->rc = SD_ENOMEM;
	else if (o->b.len >= 1 << 16)
		flush(o);
}

static void puts_(out *o, const char *s) { put(o, s, strlen(s)); }

static void printf_(out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void printf_(out *o, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf)) {
		if (!o->rc)
			o->rc = SD_EINVAL;
		return;
	}
	put(o, buf, (size_t)n);
}

/* Text as HTML content or attribute value. */
static void esc(out *o, const char *s)
{
	for (const char *p = s; p && *p; p++) {
		const char *r = NULL;
		switch (*p) {
		case '&':
			r = "&amp;";
			break;
		case '<':
			r = "&lt;";
			break;
		case '>':
			r = "&gt;";
			break;
		case '"':
			r = "&quot;";
			break;
		case '\'':
			r = "&#39;";
			break;
		}
		if (r) {
			put(o, s, (size_t)(p - s));
			puts_(o, r);
			s = p + 1;
		}
	}
	if (s)
		puts_(o, s);
}

/*
 * JSON inside <script type="application/json">: every "<" becomes \u003c
 * (only possible inside strings), so no text can spell "</script>" or
 * "<!--" and end or confuse the element.
 */
static void put_script_json(out *o, const char *json)
{
	const char *s = json;
	for (const char *p; (p = strchr(s, '<')); s = p + 1) {
		put(o, s, (size_t)(p - s));
		puts_(o, "\\u003c");
	}
	puts_(o, s);
}

/* ---- summary table ---- */

static const char *cell_label(const char *cell)
{
	return cell && *cell ? cell : "(no cell)";
}

static void summary_table(out *o, const sd_dataset *d)
{
	sd_cell_summary *s = NULL;
	size_t n = 0;
	if (sd_dataset_summary(d, &s, &n)) {
		o->rc = SD_ENOMEM;
		return;
	}
	puts_(o, "<table class=\"summary\" id=\"summary-table\"><thead><tr>"
		 "<th>cell</th><th>discussions</th><th>comments</th>"
		 "<th>mean length<br><small>characters</small></th>"
		 "<th>moderator<br><small>per discussion</small></th>"
		 "<th>seed<br><small>comments</small></th>"
		 "<th>blank<br><small>comments</small></th>"
		 "<th>silent turns<br><small>empty replies</small></th>"
		 "<th>missing<br><small>discussions</small></th>"
		 "<th>tokens<br><small>generated</small></th></tr></thead><tbody>");
	for (size_t i = 0; i < n; i++) {
		bool all = i == n - 1;
		if (all && n == 2)
			break; /* one cell: "all" would repeat it */
		printf_(o, "<tr%s><td>", all ? " class=\"all\"" : "");
		esc(o, all ? "all" : cell_label(s[i].cell));
		printf_(o, "</td><td>%zu", s[i].discussions);
		if (s[i].expected)
			printf_(o, " / %zu", s[i].expected);
		printf_(
		    o,
		    "</td><td>%zu</td><td>%.1f</td><td>%.2f</td><td>%zu</td><td>%zu</td>",
		    s[i].comments, s[i].mean_length, s[i].moderator_per_discussion,
		    s[i].seed_comments, s[i].blank_comments);
		if (s[i].silent_turns >= 0)
			printf_(o, "<td>%ld</td>", s[i].silent_turns);
		else
			puts_(o, "<td title=\"unknown: no run.json\">&ndash;</td>");
		if (s[i].expected)
			printf_(o, "<td>%zu</td>",
				s[i].expected > s[i].discussions
				    ? s[i].expected - s[i].discussions
				    : 0);
		else
			puts_(o, "<td title=\"unknown: no run.json\">&ndash;</td>");
		if (s[i].generated_tokens)
			printf_(o, "<td>%llu</td></tr>",
				(unsigned long long)s[i].generated_tokens);
		else
			puts_(o, "<td>&ndash;</td></tr>");
	}
	puts_(o, "</tbody></table>");
	sd_free(s);
}

/* ---- charts: bar charts as inline SVG ---- */

typedef struct bars {
	char **labels;
	size_t *counts;
	size_t n;
} bars;

static void bars_free(bars *b)
{
	for (size_t i = 0; i < b->n; i++)
		free(b->labels[i]);
	free(b->labels);
	free(b->counts);
	memset(b, 0, sizeof(*b));
}

static int bars_init(bars *b, size_t n)
{
	b->labels = calloc(n ? n : 1, sizeof(char *));
	b->counts = calloc(n ? n : 1, sizeof(size_t));
	b->n = n;
	if (!b->labels || !b->counts) {
		free(b->labels);
		free(b->counts);
		memset(b, 0, sizeof(*b));
		return SD_ENOMEM;
	}
	return SD_OK;
}

/* 1, 2, 5, 10, 20, 50, ... at least x */
static size_t nice_ceil(double x)
{
	size_t m = 1;
	for (;;) {
		if ((double)m >= x)
			return m;
		if ((double)(2 * m) >= x)
			return 2 * m;
		if ((double)(5 * m) >= x)
			return 5 * m;
		m *= 10;
	}
}

/* Byte offset of code point k of s (or its end). */
static size_t cp_offset(const char *s, size_t k)
{
	size_t i = 0;
	while (s[i] && k) {
		i++;
		while (((unsigned char)s[i] & 0xC0) == 0x80)
			i++;
		k--;
	}
	return i;
}

/*
 * A label short enough for an axis: long ones keep their start and end
 * ("Argume...quality: 1"), where labels of one annotator usually differ.
 * The bar's tooltip has it whole.
 */
static void short_label(out *o, const char *s)
{
	enum { MAX = 16, HEAD = 6, TAIL = 9 };
	size_t n = sd__ds_utf8_length(s);
	if (n <= MAX) {
		esc(o, s);
		return;
	}
	char *head = strndup(s, cp_offset(s, HEAD));
	if (!head) {
		o->rc = SD_ENOMEM;
		return;
	}
	esc(o, head);
	puts_(o, "\xe2\x80\xa6"); /* U+2026 ... */
	esc(o, s + cp_offset(s, n - TAIL));
	free(head);
}

static void svg_bars(out *o, const char *id, const char *title, const char *xlabel,
		     const bars *b)
{
	const double W = 560, H = 300, L = 52, R = 12, T = 12, B = 96;
	const double pw = W - L - R, ph = H - T - B;
	size_t max = 0;
	for (size_t i = 0; i < b->n; i++)
		if (b->counts[i] > max)
			max = b->counts[i];
	/* whole-number gridlines at 1-2-5 steps, about five of them */
	size_t step = nice_ceil(max ? (double)max / 5.0 : 1);
	size_t ticks = max ? (max + step - 1) / step : 1;
	size_t top = step * ticks;
	printf_(o, "<figure class=\"chart\" id=\"%s\"><figcaption>", id);
	esc(o, title);
	printf_(o,
		"</figcaption><svg xmlns=\"http://www.w3.org/2000/svg\" "
		"viewBox=\"0 0 %.0f %.0f\" role=\"img\" aria-label=\"",
		W, H);
	esc(o, title);
	puts_(o, "\">");
	for (size_t k = 0; k <= ticks; k++) {
		double y = T + ph - ph * (double)k / (double)ticks;
		printf_(o,
			"<line class=\"grid\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" "
			"y2=\"%.1f\"/>"
			"<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" "
			"text-anchor=\"end\">%zu</text>",
			L, W - R, y, y, L - 6, y + 4, step * k);
	}
	double slot = b->n ? pw / (double)b->n : pw;
	size_t every = b->n > 24 ? (b->n + 23) / 24 : 1;
	for (size_t i = 0; i < b->n; i++) {
		double h = ph * (double)b->counts[i] / (double)top;
		double x = L + slot * (double)i + slot * 0.1;
		printf_(o,
			"<rect class=\"bar\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
			"height=\"%.1f\"><title>",
			x, T + ph - h, slot * 0.8, h);
		esc(o, b->labels[i]);
		printf_(o, ": %zu</title></rect>", b->counts[i]);
		if (i % every == 0) {
			double cx = L + slot * ((double)i + 0.5);
			printf_(
			    o,
			    "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" "
			    "text-anchor=\"end\" transform=\"rotate(-40 %.1f %.1f)\">",
			    cx, T + ph + 14, cx, T + ph + 14);
			short_label(o, b->labels[i]);
			puts_(o, "</text>");
		}
	}
	printf_(o,
		"<line class=\"axis\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>",
		L, W - R, T + ph, T + ph);
	printf_(o, "<text class=\"label\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">",
		L + pw / 2, H - 4);
	esc(o, xlabel);
	printf_(o,
		"</text><text class=\"label\" x=\"12\" y=\"%.1f\" text-anchor=\"middle\" "
		"transform=\"rotate(-90 12 %.1f)\">count</text></svg></figure>",
		T + ph / 2, T + ph / 2);
}

static int length_histogram(const sd_dataset *d, bars *b)
{
	size_t max = 0;
	for (size_t r = 0; r < d->n_rows; r++) {
		size_t n = sd__ds_utf8_length(d->rows[r].c.text);
		if (n > max)
			max = n;
	}
	size_t width = nice_ceil((double)(max + 1) / 20.0);
	size_t nb = max / width + 1;
	if (bars_init(b, nb))
		return SD_ENOMEM;
	for (size_t i = 0; i < nb; i++) {
		char buf[64];
		snprintf(buf, sizeof(buf), "%zu-%zu", i * width, (i + 1) * width - 1);
		if (!(b->labels[i] = strdup(buf)))
			return SD_ENOMEM;
	}
	for (size_t r = 0; r < d->n_rows; r++)
		b->counts[sd__ds_utf8_length(d->rows[r].c.text) / width]++;
	return SD_OK;
}

/* How many comments each listed user wrote in their discussion. */
static int participant_histogram(const sd_dataset *d, bars *b)
{
	enum { CAP = 40 };
	size_t counts[CAP + 1] = {0}, max = 0;
	for (size_t i = 0; i < d->n_discs; i++) {
		const ds_disc *dd = &d->discs[i];
		for (size_t u = 0; u < sd_logs_user_count(dd->logs); u++) {
			const char *name = sd_logs_user(dd->logs, u);
			size_t n = 0;
			for (size_t k = 0; k < dd->n_rows; k++) {
				const sd_log_comment *c = &d->rows[dd->first_row + k].c;
				if (!c->is_moderator && c->name && name &&
				    !strcmp(c->name, name))
					n++;
			}
			if (n > CAP)
				n = CAP;
			counts[n]++;
			if (n > max)
				max = n;
		}
	}
	if (bars_init(b, max + 1))
		return SD_ENOMEM;
	for (size_t i = 0; i <= max; i++) {
		char buf[32];
		snprintf(buf, sizeof(buf), i == CAP ? "%zu+" : "%zu", i);
		if (!(b->labels[i] = strdup(buf)))
			return SD_ENOMEM;
		b->counts[i] = counts[i];
	}
	return SD_OK;
}

/* The bucket of one annotation: its label, else a short raw text. */
static char *label_key(const json_t *a)
{
	const json_t *label = json_object_get(a, "label");
	const char *status = json_string_value(json_object_get(a, "label_status"));
	if (label && !json_is_null(label))
		return sd__ds_flatten_value(label);
	if (status && !strcmp(status, "unparsed"))
		return strdup("(unparsed)");
	const char *t = json_string_value(json_object_get(a, "annotation"));
	if (!t)
		return strdup("(none)");
	while (isspace((unsigned char)*t))
		t++;
	size_t n = strlen(t);
	while (n && isspace((unsigned char)t[n - 1]))
		n--;
	if (n == 0)
		return strdup("(empty)");
	if (n > 24 || memchr(t, '\n', n))
		return strdup("(free text)");
	return strndup(t, n);
}

static int key_cmp(const void *x, const void *y)
{
	const char *a = *(char *const *)x, *b = *(char *const *)y;
	char *ea, *eb;
	double va = strtod(a, &ea), vb = strtod(b, &eb);
	bool na = *a && !*ea, nb = *b && !*eb;
	if (na && nb)
		return va < vb ? -1 : va > vb;
	if (na != nb)
		return na ? -1 : 1; /* numbers first */
	bool sa = *a == '(', sb = *b == '(';
	if (sa != sb)
		return sa ? 1 : -1; /* "(unparsed)" and friends last */
	return strcmp(a, b);
}

static int label_histogram(const sd_dataset *d, size_t who, bars *b)
{
	enum { MAXB = 30 };
	char *keys[MAXB + 1] = {NULL};
	size_t counts[MAXB + 1] = {0}, nk = 0, other = 0;
	int rc = SD_ENOMEM;
	for (size_t r = 0; r < d->n_rows; r++) {
		const json_t *a = ds_annot(d, r, who);
		if (!a)
			continue;
		char *k = label_key(a);
		if (!k)
			goto out;
		size_t i = 0;
		while (i < nk && strcmp(keys[i], k))
			i++;
		if (i < nk) {
			counts[i]++;
			free(k);
		} else if (nk < MAXB) {
			keys[nk] = k;
			counts[nk++] = 1;
		} else {
			other++;
			free(k);
		}
	}
	/* sort keys, carrying counts along */
	char *sorted[MAXB];
	memcpy(sorted, keys, nk * sizeof(char *));
	qsort(sorted, nk, sizeof(char *), key_cmp);
	if (bars_init(b, nk + (other ? 1 : 0)))
		goto out;
	for (size_t i = 0; i < nk; i++) {
		size_t k = 0;
		while (keys[k] != sorted[i])
			k++;
		b->labels[i] = sorted[i];
		b->counts[i] = counts[k];
		keys[k] = NULL;
	}
	if (other) {
		if (!(b->labels[nk] = strdup("(other)")))
			goto out;
		b->counts[nk] = other;
	}
	rc = SD_OK;
out:
	for (size_t i = 0; i < nk; i++)
		free(keys[i]);
	return rc;
}

static void charts(out *o, const sd_dataset *d)
{
	bars b = {0};
	if (length_histogram(d, &b))
		o->rc = SD_ENOMEM;
	else
		svg_bars(o, "chart-length", "Comment length", "characters per comment",
			 &b);
	bars_free(&b);
	if (participant_histogram(d, &b))
		o->rc = SD_ENOMEM;
	else
		svg_bars(o, "chart-participants", "Comments per participant",
			 "comments by one user in one discussion", &b);
	bars_free(&b);
	for (size_t i = 0; i < d->n_annotators; i++) {
		char id[64], title[512];
		snprintf(id, sizeof(id), "chart-labels-%zu", i);
		snprintf(title, sizeof(title), "Labels: %s", d->annotators[i]);
		if (label_histogram(d, i, &b))
			o->rc = SD_ENOMEM;
		else
			svg_bars(o, id, title, "label", &b);
		bars_free(&b);
	}
}

/* ---- the embedded data ---- */

static json_t *annotation_json(const json_t *a)
{
	if (!a)
		return json_null();
	json_t *o = json_object();
	const json_t *label = json_object_get(a, "label");
	const json_t *text = json_object_get(a, "annotation");
	const json_t *status = json_object_get(a, "label_status");
	if (!o ||
	    json_object_set_new(o, "l",
				label ? json_incref((json_t *)label) : json_null()) ||
	    json_object_set_new(o, "t",
				text ? json_incref((json_t *)text) : json_null()) ||
	    (status && json_object_set_new(o, "s", json_incref((json_t *)status)))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *discussion_json(const sd_dataset *d, size_t i)
{
	const ds_disc *dd = &d->discs[i];
	json_t *comments = json_array();
	json_t *users = json_array();
	json_t *o = NULL;
	if (!comments || !users)
		goto fail;
	for (size_t u = 0; u < sd_logs_user_count(dd->logs); u++)
		if (json_array_append_new(users, json_string(sd_logs_user(dd->logs, u))))
			goto fail;
	for (size_t k = 0; k < dd->n_rows; k++) {
		size_t r = dd->first_row + k;
		const ds_row *row = &d->rows[r];
		json_t *ann = json_array();
		if (!ann)
			goto fail;
		for (size_t a = 0; a < d->n_annotators; a++)
			if (json_array_append_new(ann,
						  annotation_json(ds_annot(d, r, a)))) {
				json_decref(ann);
				goto fail;
			}
		const char *kind = row->c.is_moderator ? "mod"
				   : row->c.model && !strcmp(row->c.model, "hardcoded")
				       ? "seed"
				       : "user";
		json_t *c = json_pack(
		    "{s:s,s:s,s:s,s:s,s:s,s:o}", "u", row->c.name ? row->c.name : "", "t",
		    row->c.text ? row->c.text : "", "m", row->c.model ? row->c.model : "",
		    "k", kind, "id", row->message_id, "a", ann);
		if (!c || json_array_append_new(comments, c))
			goto fail;
	}
	o = json_pack("{s:s,s:s?,s:I,s:s,s:s?,s:s?,s:O,s:O,s:o}", "id",
		      dd->conv_id ? dd->conv_id : "", "cell", dd->cell, "index",
		      (json_int_t)dd->index, "file", dd->path, "timestamp",
		      sd_logs_timestamp(dd->logs), "moderator",
		      sd_logs_moderator(dd->logs), "users", users, "personas",
		      dd->personas, "comments", comments);
	json_decref(users);
	return o;
fail:
	json_decref(users);
	json_decref(comments);
	return NULL;
}

static void data_json(out *o, const sd_dataset *d)
{
	json_t *names = json_array();
	for (size_t i = 0; names && i < d->n_annotators; i++)
		if (json_array_append_new(names, json_string(d->annotators[i]))) {
			json_decref(names);
			names = NULL;
		}
	char *s = names ? json_dumps(names, JSON_COMPACT) : NULL;
	json_decref(names);
	if (!s) {
		o->rc = SD_ENOMEM;
		return;
	}
	/* one discussion at a time, so the page's data never sits in memory
	   twice; the array punctuation around them is all that is pasted */
	puts_(o, "{\"annotators\":");
	put_script_json(o, s);
	free(s);
	puts_(o, ",\"discussions\":[");
	for (size_t i = 0; i < d->n_discs && !o->rc; i++) {
		json_t *j = discussion_json(d, i);
		s = j ? json_dumps(j, JSON_COMPACT) : NULL;
		json_decref(j);
		if (!s) {
			o->rc = SD_ENOMEM;
			return;
		}
		if (i)
			puts_(o, ",");
		put_script_json(o, s);
		free(s);
	}
	puts_(o, "]}");
}

/* ---- the page ---- */

static void overview(out *o, const sd_dataset *d)
{
	char ts[32];
	sd_timestamp_now(ts, sizeof(ts));
	printf_(o, "%zu discussions, %zu comments", d->n_discs, d->n_rows);
	if (d->n_annotators)
		printf_(o, ", %zu annotator%s", d->n_annotators,
			d->n_annotators == 1 ? "" : "s");
	puts_(o, "; generated ");
	esc(o, ts);
}

static void warnings(out *o, const sd_dataset *d)
{
	if (!d->n_warnings)
		return;
	printf_(o,
		"<details class=\"warnings\"><summary>%zu warning%s while loading"
		"</summary><ul>",
		d->n_warnings, d->n_warnings == 1 ? "" : "s");
	for (size_t i = 0; i < d->n_warnings; i++) {
		puts_(o, "<li>");
		esc(o, d->warnings[i]);
		puts_(o, "</li>");
	}
	puts_(o, "</ul></details>");
}

int sd_dataset_report_html(const sd_dataset *d, const sd_report_params *p,
			   sd_write_fn write, void *ud, sd_error *err)
{
	if (!d || !write)
		return sd__error_set(err, SD_EINVAL, NULL, NULL, "no dataset or writer");
	sd_report_params def = sd_report_default_params();
	if (!p)
		p = &def;
	const char *title = p->title ? p->title : def.title;
	out o = {.write = write, .ud = ud};
	sd__buf_init(&o.b, 0);
	/* the template's @@NAME@@ markers say where each part goes */
	const char *s = sd__report_template, *end = s + sd__report_template_len;
	while (s < end && !o.rc) {
		const char *m = strstr(s, "@@");
		if (!m) {
			put(&o, s, (size_t)(end - s));
			break;
		}
		put(&o, s, (size_t)(m - s));
		const char *close = strstr(m + 2, "@@");
		if (!close) {
			put(&o, m, (size_t)(end - m));
			break;
		}
		size_t n = (size_t)(close - m - 2);
		if (n == 5 && !strncmp(m + 2, "TITLE", n))
			esc(&o, title);
		else if (n == 8 && !strncmp(m + 2, "OVERVIEW", n))
			overview(&o, d);
		else if (n == 7 && !strncmp(m + 2, "SUMMARY", n))
			summary_table(&o, d);
		else if (n == 6 && !strncmp(m + 2, "CHARTS", n))
			charts(&o, d);
		else if (n == 8 && !strncmp(m + 2, "WARNINGS", n))
			warnings(&o, d);
		else if (n == 4 && !strncmp(m + 2, "DATA", n))
			data_json(&o, d);
		else if (n == 7 && !strncmp(m + 2, "COMPARE", n)) {
			/* params filled by hand, without the defaults */
			sd_compare_params cp = p->compare.replicates
						   ? p->compare
						   : sd_compare_default_params();
			char *html = sd__report_compare_html(d, &cp, err);
			if (!html) {
				sd__buf_free(&o.b);
				return err ? err->code : SD_ENOMEM;
			}
			puts_(&o, html);
			free(html);
		} else
			put(&o, m, (size_t)(close + 2 - m)); /* not ours: keep it */
		s = close + 2;
	}
	flush(&o);
	sd__buf_free(&o.b);
	if (o.rc == SD_EIO)
		return sd__error_set(err, SD_EIO, NULL, NULL, "write failed");
	if (o.rc)
		return sd__error_set(err, o.rc, NULL, NULL, "out of memory");
	return SD_OK;
}

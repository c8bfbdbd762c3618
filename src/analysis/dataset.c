/*
 * Loading a dataset: find discussion logs under directories, flatten them
 * into one row per comment, find annotation files and join them to rows.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "analysis/dataset.h"
#include "analysis/dataset_eval.h"
#include "core/core.h"
#include "run/files.h"
#include "run/log_walk.h"
#include "run/logcompat.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/hash.h"

#define MAX_WARNINGS 200

/* ---- small helpers ---- */

sd_dataset_params sd_dataset_default_params(void)
{
	sd_dataset_params p;
	memset(&p, 0, sizeof(p));
	return p;
}

size_t sd__ds_utf8_length(const char *s)
{
	size_t n = 0;
	for (; s && *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

static int append_flat(sd__buf *b, const json_t *v)
{
	if (!v || json_is_null(v))
		return SD_OK;
	if (json_is_string(v))
		return sd__buf_append(b, json_string_value(v), json_string_length(v));
	if (json_is_array(v)) {
		for (size_t i = 0; i < json_array_size(v); i++) {
			if ((i && sd__buf_puts(b, "; ")) ||
			    append_flat(b, json_array_get(v, i)))
				return SD_ENOMEM;
		}
		return SD_OK;
	}
	if (json_is_real(v)) {
		/* the shortest text that reads back as the same double, as
		   Python's repr() writes it (jansson would write 17 digits) */
		double x = json_real_value(v);
		char num[40];
		for (int prec = 1; prec <= 17; prec++) {
			snprintf(num, sizeof(num), "%.*g", prec, x);
			if (strtod(num, NULL) == x)
				break;
		}
		size_t len = strlen(num);
		if (!strpbrk(num, ".eEni") && len + 3 <= sizeof(num))
			memcpy(num + len, ".0", 3); /* 3.0, not 3: it was a real */
		return sd__buf_puts(b, num);
	}
	/* integers, booleans and objects as JSON writes them */
	char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
	if (!s)
		return SD_ENOMEM;
	int rc = sd__buf_puts(b, s);
	free(s);
	return rc;
}

char *sd__ds_flatten_value(const json_t *v)
{
	sd__buf b;
	sd__buf_init(&b, 0);
	if (append_flat(&b, v)) {
		sd__buf_free(&b);
		return NULL;
	}
	return sd__buf_steal(&b);
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

static void warn(sd_dataset *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void warn(sd_dataset *d, const char *fmt, ...)
{
	if (d->n_warnings >= MAX_WARNINGS) {
		d->n_warnings_dropped++;
		return;
	}
	char buf[1024];
	va_list ap;
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

/* ---- a string list ---- */

typedef struct strlist {
	char **v;
	size_t n, cap;
} strlist;

static int strlist_push(strlist *l, const char *s)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		char **v = realloc(l->v, cap * sizeof(*v));
		if (!v)
			return SD_ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	if (!(l->v[l->n] = strdup(s)))
		return SD_ENOMEM;
	l->n++;
	return SD_OK;
}

static void strlist_free(strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

/* ---- a u64 -> index hash table (open addressing) ---- */

typedef struct u64map {
	uint64_t *keys;
	size_t *vals; /* index + 1; 0 = empty slot */
	size_t cap;
} u64map;

static int u64map_init(u64map *m, size_t n)
{
	m->cap = 16;
	while (m->cap < n * 2)
		m->cap *= 2;
	m->keys = calloc(m->cap, sizeof(*m->keys));
	m->vals = calloc(m->cap, sizeof(*m->vals));
	return m->keys && m->vals ? SD_OK : SD_ENOMEM;
}

static void u64map_free(u64map *m)
{
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof(*m));
}

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return x;
}

/* Insert unless the key is there; returns the index stored for key. */
static size_t u64map_put(u64map *m, uint64_t key, size_t val)
{
	for (size_t i = mix64(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		if (!m->vals[i]) {
			m->keys[i] = key;
			m->vals[i] = val + 1;
			return val;
		}
		if (m->keys[i] == key)
			return m->vals[i] - 1;
	}
}

/* Index stored for key, or (size_t)-1. */
static size_t u64map_get(const u64map *m, uint64_t key)
{
	if (!m->cap)
		return (size_t)-1;
	for (size_t i = mix64(key) & (m->cap - 1); m->vals[i]; i = (i + 1) & (m->cap - 1))
		if (m->keys[i] == key)
			return m->vals[i] - 1;
	return (size_t)-1;
}

static uint64_t str_key(const char *s)
{
	return sd__fnv1a64(s, strlen(s), SD_FNV1A64_INIT);
}

/* ---- finding files ---- */

static int push_found(const char *path, void *ud) { return strlist_push(ud, path); }

/*
 * Expand the given paths into files. *explicit_n gets, for each file,
 * whether it was named directly (then it must be what we look for).
 */
static int collect(const char *const *paths, size_t n, strlist *files,
		   bool **explicit_out, sd_error *err)
{
	bool *ex = NULL;
	int rc = SD_OK;
	sd__dirset seen = {0};
	for (size_t i = 0; i < n; i++) {
		struct stat st;
		size_t before = files->n;
		if (!paths[i] || !paths[i][0]) {
			rc = sd__error_set(err, SD_EINVAL, NULL, NULL, "empty path");
			goto out;
		}
		if (stat(paths[i], &st) != 0) {
			rc = sd__error_set(err, errno == ENOENT ? SD_ENOTFOUND : SD_EIO,
					   paths[i], NULL, "%s", strerror(errno));
			goto out;
		}
		if (S_ISDIR(st.st_mode))
			rc = sd__log_walk(paths[i], NULL, &seen, push_found, files, err);
		else
			rc = strlist_push(files, paths[i]);
		if (rc) {
			if (rc == SD_ENOMEM)
				sd__error_set(err, rc, paths[i], NULL, "out of memory");
			goto out;
		}
		bool *nex = realloc(ex, (files->n ? files->n : 1) * sizeof(*ex));
		if (!nex) {
			rc = sd__error_set(err, SD_ENOMEM, paths[i], NULL,
					   "out of memory");
			goto out;
		}
		ex = nex;
		for (size_t k = before; k < files->n; k++)
			ex[k] = !S_ISDIR(st.st_mode);
	}
out:
	sd__run_dirset_free(&seen);
	if (rc) {
		free(ex);
		ex = NULL;
	}
	*explicit_out = ex;
	return rc;
}

/* ---- what a JSON file is ---- */

enum { KIND_OTHER, KIND_LOG, KIND_ANNOTATION, KIND_MANIFEST, KIND_EVALUATION };

static int classify(const json_t *root)
{
	if (!json_is_object(root))
		return KIND_OTHER;
	if (sd__eval_is_file(root))
		return KIND_EVALUATION;
	if (sd__eval_is_manifest(root))
		return KIND_MANIFEST;
	if (sd__lc_is_annotation(root))
		return KIND_ANNOTATION;
	if (json_is_array(json_object_get(root, "cells")) &&
	    !json_object_get(root, "logs"))
		return KIND_MANIFEST;
	if (json_is_array(json_object_get(root, "logs")))
		return KIND_LOG;
	return KIND_OTHER;
}

static int read_json(const char *path, char **text, json_t **root, sd_error *err)
{
	json_error_t jerr;
	int rc = sd_file_read(path, text, NULL, err);
	if (rc)
		return rc;
	*root = json_loads(*text, 0, &jerr);
	if (!*root) {
		free(*text);
		*text = NULL;
		if (json_error_code(&jerr) == json_error_out_of_memory)
			return sd__error_set(err, SD_ENOMEM, path, NULL, "out of memory");
		return sd__error_set_at(err, SD_EPARSE, path, jerr.line, jerr.column,
					"not valid JSON: %s", jerr.text);
	}
	return SD_OK;
}

/* Remember what a run.json says about each cell (once per config). */
static int add_manifest(sd_dataset *d, const json_t *root)
{
	const char *digest = json_string_value(json_object_get(root, "config_digest"));
	const json_t *cells = json_object_get(root, "cells");
	if (!digest)
		return SD_OK;
	for (size_t i = 0; i < json_array_size(cells); i++) {
		const json_t *c = json_array_get(cells, i);
		const char *name = json_string_value(json_object_get(c, "name"));
		const json_t *nd = json_object_get(c, "num_discussions");
		const json_t *nt =
		    json_object_get(json_object_get(c, "config"), "num_turns");
		if (!name || !json_is_integer(nd))
			continue;
		bool seen = false;
		for (size_t k = 0; k < d->n_run_cells && !seen; k++)
			seen = !strcmp(d->run_cells[k].digest, digest) &&
			       !strcmp(d->run_cells[k].cell, name);
		if (seen)
			continue; /* another shard's copy of the same run */
		ds_run_cell *v = realloc(d->run_cells, (d->n_run_cells + 1) * sizeof(*v));
		if (!v)
			return SD_ENOMEM;
		d->run_cells = v;
		ds_run_cell *rc = &v[d->n_run_cells];
		rc->digest = strdup(digest);
		rc->cell = strdup(name);
		rc->num_discussions = (size_t)json_integer_value(nd);
		rc->num_turns = json_is_integer(nt) ? (long)json_integer_value(nt) : -1;
		if (!rc->digest || !rc->cell) {
			free(rc->digest);
			free(rc->cell);
			return SD_ENOMEM;
		}
		d->n_run_cells++;
	}
	return SD_OK;
}

/* The persona and instructions of a system prompt into the maps of dd. */
static int add_speaker(ds_disc *dd, const char *name, const json_t *prompt,
		       size_t *missing)
{
	json_t *p, *ins;
	if (!name)
		return SD_OK;
	if (sd__lc_prompt_info(json_string_value(prompt), &p, &ins))
		return SD_ENOMEM;
	if (!p)
		(*missing)++;
	/* set_new takes its value even when it fails: both are always taken */
	int bad = p && json_object_set_new(dd->personas, name, p);
	bad |= ins && json_object_set_new(dd->instructions, name, ins);
	return bad ? SD_ENOMEM : SD_OK;
}

/*
 * Who the speakers are: from user_prompts / moderator_prompt (seed,
 * 2.0.8, ours), and per comment from the entry's own "prompt" when that is
 * a system prompt (2.2.1 logs carry nothing else; our entries hold the
 * user prompt, which has neither persona nor instructions).
 */
static int disc_personas(sd_dataset *d, ds_disc *dd)
{
	const sd_logs *l = dd->logs;
	const json_t *prompts = sd__logs_get(l, "user_prompts");
	size_t missing = 0, n = sd_logs_comment_count(l), with_prompt = 0;
	if (!(dd->personas = json_object()) || !(dd->instructions = json_object()) ||
	    !(dd->entry_info = json_array()))
		return SD_ENOMEM;
	for (size_t i = 0; i < sd_logs_user_count(l); i++)
		if (add_speaker(dd, sd_logs_user(l, i), json_array_get(prompts, i),
				&missing))
			return SD_ENOMEM;
	if (sd_logs_moderator(l) &&
	    add_speaker(dd, sd_logs_moderator(l), sd__logs_get(l, "moderator_prompt"),
			&missing))
		return SD_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		json_t *p, *ins;
		const char *prompt = sd_logs_comment(l, i).prompt;
		/* only a JSON system prompt: a plain-text entry prompt is a
		   user prompt (history), which may quote anything */
		if (prompt && prompt[0] != '{')
			prompt = NULL;
		if (sd__lc_prompt_info(prompt, &p, &ins))
			return SD_ENOMEM;
		with_prompt += p || ins;
		if (json_array_append_new(
			dd->entry_info,
			json_pack("[oo]", p ? p : json_null(), ins ? ins : json_null())))
			return SD_ENOMEM;
	}
	if (missing && !with_prompt)
		warn(d, "%s: %zu participant(s) without a persona in their prompt",
		     dd->path, missing);
	return SD_OK;
}

/* The name of the directory holding path ("." resolved). Caller frees;
 * NULL on allocation failure. */
static char *dir_name_of(const char *path, const char *fallback)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash ? strndup(path, (size_t)(slash - path)) : strdup(".");
	if (!dir)
		return NULL;
	/* "./x.json" or "x.json" still name a directory */
	char *abs = realpath(*dir ? dir : "/", NULL);
	const char *b = base_name(abs ? abs : dir);
	char *res = strdup(*b ? b : fallback);
	free(abs);
	free(dir);
	return res;
}

static int load_discussion(sd_dataset *d, const char *path, const char *text,
			   sd_error *err)
{
	sd_logs *l = NULL;
	int rc = sd_logs_from_json(text, path, &l, err);
	if (rc)
		return rc;
	if (sd__lc_ensure_id(l)) {
		sd_logs_free(l);
		return sd__error_set(err, SD_ENOMEM, path, NULL, "out of memory");
	}
	ds_disc *v = realloc(d->discs, (d->n_discs + 1) * sizeof(*v));
	if (!v) {
		sd_logs_free(l);
		return sd__error_set(err, SD_ENOMEM, path, NULL, "out of memory");
	}
	d->discs = v;
	ds_disc *dd = &v[d->n_discs];
	memset(dd, 0, sizeof(*dd));
	dd->logs = l;
	dd->num_turns = -1;
	d->n_discs++;
	if (!(dd->path = strdup(path)) || !(dd->condition = dir_name_of(path, "")))
		return sd__error_set(err, SD_ENOMEM, path, NULL, "out of memory");
	dd->conv_id = sd_logs_id(l);
	dd->cell = json_string_value(sd__logs_get(l, "cell"));
	const json_t *idx = sd__logs_get(l, "index");
	dd->has_index = json_is_integer(idx);
	dd->index =
	    dd->has_index ? json_integer_value(idx) : (json_int_t)(d->n_discs - 1);
	const json_t *seed = sd__logs_get(l, "seed");
	dd->has_seed = json_is_integer(seed);
	dd->seed = dd->has_seed ? json_integer_value(seed) : 0;
	if (disc_personas(d, dd))
		return sd__error_set(err, SD_ENOMEM, path, NULL, "out of memory");
	return SD_OK;
}

static int load_logs(sd_dataset *d, const sd_dataset_params *p, sd_error *err)
{
	strlist files = {0}, real = {0};
	bool *ex = NULL;
	char *text = NULL;
	json_t *root = NULL;
	u64map seen = {0};
	int rc = collect(p->log_paths, p->n_log_paths, &files, &ex, err);
	if (rc)
		goto out;
	if (u64map_init(&seen, files.n)) {
		rc = sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < files.n; i++) {
		const char *path = files.v[i];
		/* the same file reached twice (DIR and DIR/sub) is loaded once */
		char *rp = realpath(path, NULL);
		rc = strlist_push(&real, rp ? rp : path);
		free(rp);
		if (rc) {
			sd__error_set(err, rc, path, NULL, "out of memory");
			goto out;
		}
		size_t first = u64map_put(&seen, str_key(real.v[i]), i);
		if (first != i && !strcmp(real.v[first], real.v[i]))
			continue;
		if ((rc = read_json(path, &text, &root, err)))
			goto out;
		int kind = classify(root);
		if (!ex[i] && !strcmp(base_name(path), "run.json")) {
			if (kind == KIND_MANIFEST && (rc = add_manifest(d, root))) {
				sd__error_set(err, rc, path, NULL, "out of memory");
				goto out;
			}
		} else if (kind == KIND_LOG) {
			if ((rc = load_discussion(d, path, text, err)))
				goto out;
		} else if (kind == KIND_EVALUATION) {
			/* evaluations in the run directory are joined */
			if ((rc = sd__ds_eval_add(d, path, root, err)))
				goto out;
		} else if (ex[i] || (kind != KIND_ANNOTATION && kind != KIND_MANIFEST)) {
			rc = sd__error_set(
			    err, SD_EPARSE, path, NULL, "%s",
			    kind == KIND_ANNOTATION
				? "an annotation file, not a discussion log "
				  "(pass it with --annotations)"
			    : kind == KIND_MANIFEST
				? "a run manifest, not a discussion log"
				: "not a discussion log: expected a JSON "
				  "object with a \"logs\" array");
			goto out;
		} else if (kind == KIND_MANIFEST && (rc = add_manifest(d, root))) {
			sd__error_set(err, rc, path, NULL, "out of memory");
			goto out;
		}
		json_decref(root);
		root = NULL;
		free(text);
		text = NULL;
	}
	if (d->n_discs == 0) {
		sd__buf b;
		sd__buf_init(&b, 4096);
		for (size_t i = 0; i < p->n_log_paths; i++)
			if (sd__buf_printf(&b, "%s%s", i ? ", " : "", p->log_paths[i]))
				break; /* the message names the paths that fit */
		rc = sd__error_set(err, SD_ENOTFOUND, b.data ? b.data : "", NULL,
				   "no discussion logs found");
		sd__buf_free(&b);
	}
out:
	json_decref(root);
	free(text);
	u64map_free(&seen);
	free(ex);
	strlist_free(&files);
	strlist_free(&real);
	return rc;
}

/* ---- rows ---- */

static int build_rows(sd_dataset *d, sd_error *err)
{
	json_t *fields = json_object();
	strlist names = {0};
	int rc = SD_ENOMEM;
	size_t n = 0;
	u64map keys = {0};
	if (!fields)
		goto out;
	for (size_t i = 0; i < d->n_discs; i++)
		n += sd_logs_comment_count(d->discs[i].logs);
	d->rows = calloc(n ? n : 1, sizeof(*d->rows));
	if (!d->rows || u64map_init(&keys, d->n_discs))
		goto out;
	for (size_t i = 0; i < d->n_discs; i++) {
		ds_disc *dd = &d->discs[i];
		char key[512];
		if (sd_logs_discussion_key(dd->logs, key, sizeof(key)) == SD_OK) {
			size_t first = u64map_put(&keys, str_key(key), i);
			if (first != i)
				warn(d,
				     "%s and %s are the same discussion (%s); "
				     "annotations join to the first",
				     d->discs[first].path, dd->path, key);
		}
		for (size_t k = 0; k < d->n_run_cells; k++) {
			const ds_run_cell *rcl = &d->run_cells[k];
			const char *dg =
			    json_string_value(sd__logs_get(dd->logs, "config_digest"));
			if (dd->cell && dg && !strcmp(rcl->cell, dd->cell) &&
			    !strcmp(rcl->digest, dg))
				dd->num_turns = rcl->num_turns;
		}
		dd->first_row = d->n_rows;
		dd->n_rows = sd_logs_comment_count(dd->logs);
		for (size_t o = 0; o < dd->n_rows; o++) {
			ds_row *r = &d->rows[d->n_rows++];
			r->disc = i;
			r->order = o;
			r->c = sd_logs_comment(dd->logs, o);
			if (sd_logs_message_id(dd->logs, o, r->message_id)) {
				rc = sd__error_set(err, SD_EPARSE, dd->path, "id",
						   "cannot derive message ids");
				goto out;
			}
			sd__lc_syndisco_message_id(
			    dd->conv_id, r->c.text ? r->c.text : "", r->syndisco_id);
			/* SynDisco numbers from 1 and gives a comment that repeats
			   the one before it the same number */
			r->syndisco_order =
			    o == 0 ? 1
				   : r[-1].syndisco_order +
					 (strcmp(r[-1].syndisco_id, r->syndisco_id) != 0);
			const json_t *info = json_array_get(dd->entry_info, o);
			const json_t *ep = json_array_get(info, 0);
			const json_t *ei = json_array_get(info, 1);
			r->persona = json_is_object(ep) ? ep
				     : r->c.name
					 ? json_object_get(dd->personas, r->c.name)
					 : NULL;
			r->instructions = json_is_string(ei) ? json_string_value(ei)
					  : r->c.name ? json_string_value(json_object_get(
							    dd->instructions, r->c.name))
						      : NULL;
			const char *f;
			json_t *v;
			json_object_foreach((json_t *)r->persona, f, v)
			{
				if (json_object_get(fields, f))
					continue;
				if (json_object_set_new(fields, f, json_true()) ||
				    strlist_push(&names, f))
					goto out;
			}
		}
	}
	d->persona_fields = names.v;
	d->n_persona_fields = names.n;
	memset(&names, 0, sizeof(names));
	rc = SD_OK;
out:
	if (rc == SD_ENOMEM)
		sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
	u64map_free(&keys);
	strlist_free(&names);
	json_decref(fields);
	return rc;
}

/* ---- annotations ---- */

typedef struct pending_annot {
	size_t annotator; /* index into the unsorted name list */
	size_t row;
	json_t *entry;	  /* owned */
	const char *file; /* borrowed from the file list */
} pending_annot;

typedef struct annot_ctx {
	sd_dataset *d;
	u64map by_message;
	u64map by_conv;
	u64map real; /* realpath of each discussion -> index into reals */
	strlist reals;
	strlist names;
	pending_annot *v;
	size_t n, cap;
} annot_ctx;

static int annot_name(annot_ctx *a, const char *name, size_t *out)
{
	for (size_t i = 0; i < a->names.n; i++) {
		if (!strcmp(a->names.v[i], name)) {
			*out = i;
			return SD_OK;
		}
	}
	*out = a->names.n;
	return strlist_push(&a->names, name);
}

static int annot_add(annot_ctx *a, size_t who, size_t row, json_t *entry,
		     const char *file)
{
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 256;
		pending_annot *v = realloc(a->v, cap * sizeof(*v));
		if (!v) {
			json_decref(entry);
			return SD_ENOMEM;
		}
		a->v = v;
		a->cap = cap;
	}
	a->v[a->n++] = (pending_annot){who, row, entry, file};
	return SD_OK;
}

/* The annotator's name: its "annotator" field, else the directory's.
 * Caller frees; NULL on allocation failure. */
static char *annotator_of(const json_t *root, const char *path)
{
	const char *name = json_string_value(json_object_get(root, "annotator"));
	if (name && *name)
		return strdup(name);
	return dir_name_of(path, "annotation");
}

/*
 * The discussion a SynDisco 2.2.1 annotation file annotates. Such a file
 * has no conv_id and SynDisco names it by the time it was written, so what
 * ties it to its discussion is the speakers: its i-th entry's "name" is
 * the i-th commenter (2.2.1 annotates every comment, in order). Among the
 * discussions with exactly that sequence of names, one whose log has the
 * file name of the annotation file wins; otherwise the match must be
 * unique. (size_t)-1 and a warning when there is none or it is ambiguous.
 */
static size_t match_by_names(annot_ctx *a, const char *path, const json_t *logs)
{
	sd_dataset *d = a->d;
	size_t n = json_array_size(logs), found = (size_t)-1, n_found = 0;
	size_t same = (size_t)-1, n_same = 0;
	for (size_t c = 0; c < d->n_discs; c++) {
		const ds_disc *dd = &d->discs[c];
		size_t i = 0;
		if (dd->n_rows != n)
			continue;
		for (; i < n; i++) {
			const char *want = json_string_value(
			    json_object_get(json_array_get(logs, i), "name"));
			const char *have = d->rows[dd->first_row + i].c.name;
			if (!want || !have || strcmp(want, have))
				break;
		}
		if (i < n)
			continue;
		found = c;
		n_found++;
		if (!strcmp(base_name(dd->path), base_name(path))) {
			same = c;
			n_same++;
		}
	}
	if (n_same == 1)
		return same;
	if (n_found == 1)
		return found;
	if (n_found == 0)
		warn(d,
		     "%s: no loaded discussion has these %zu comments' speakers in "
		     "this order; skipped",
		     path, n);
	else
		warn(d,
		     "%s: %zu loaded discussions have these speakers in this order; "
		     "skipped (give the annotation file its discussion log's file name)",
		     path, n_found);
	return (size_t)-1;
}

/* SynDisco 2.2.1's {"logs": [{"name", "text": annotation, ...}]}: entry i
 * annotates comment i of the discussion (by conv_id when the file has
 * one, else by the speakers). */
static int load_positional(annot_ctx *a, size_t who, const char *path, const json_t *root,
			   const json_t *logs, sd_error *err)
{
	sd_dataset *d = a->d;
	const char *conv = json_string_value(json_object_get(root, "conv_id"));
	size_t disc, unmatched = 0;
	char field[64];
	for (size_t i = 0; i < json_array_size(logs); i++) {
		const json_t *e = json_array_get(logs, i);
		snprintf(field, sizeof(field), "logs[%zu]", i);
		if (!json_is_string(json_object_get(e, "name")) ||
		    !json_is_string(json_object_get(e, "text")))
			return sd__error_set(err, SD_EPARSE, path, field,
					     "needs \"name\" and \"text\" strings (or a "
					     "\"message_id\")");
	}
	if (!json_array_size(logs))
		return SD_OK;
	if (conv) {
		disc = u64map_get(&a->by_conv, str_key(conv));
		if (disc == (size_t)-1 || strcmp(d->discs[disc].conv_id, conv)) {
			warn(d, "%s: conv_id %s matches no discussion", path, conv);
			return SD_OK;
		}
	} else if ((disc = match_by_names(a, path, logs)) == (size_t)-1) {
		return SD_OK;
	}
	const ds_disc *dd = &d->discs[disc];
	for (size_t i = 0; i < json_array_size(logs); i++) {
		const json_t *e = json_array_get(logs, i);
		const char *name = json_string_value(json_object_get(e, "name"));
		if (i >= dd->n_rows || strcmp(d->rows[dd->first_row + i].c.name, name)) {
			unmatched++;
			continue;
		}
		json_t *o = json_pack("{s:O}", "annotation", json_object_get(e, "text"));
		if (!o || annot_add(a, who, dd->first_row + i, o, path))
			return sd__error_set(err, SD_ENOMEM, path, NULL, "out of memory");
	}
	if (unmatched)
		warn(d, "%s: %zu annotation(s) match no comment of %s", path, unmatched,
		     dd->path);
	return SD_OK;
}

static int load_annotation_logs(annot_ctx *a, const char *path, const json_t *root,
				const json_t *logs, sd_error *err)
{
	sd_dataset *d = a->d;
	char field[64];
	size_t who, unmatched = 0;
	char *name = annotator_of(root, path);
	int rc = name ? annot_name(a, name, &who) : SD_ENOMEM;
	free(name);
	if (rc)
		return sd__error_set(err, SD_ENOMEM, path, NULL, "out of memory");
	const json_t *first = json_array_get(logs, 0);
	if (json_is_object(first) && !json_object_get(first, "message_id"))
		return load_positional(a, who, path, root, logs, err);
	const char *conv = json_string_value(json_object_get(root, "conv_id"));
	size_t disc = (size_t)-1, next = 0;
	for (size_t i = 0; i < json_array_size(logs); i++) {
		json_t *e = json_array_get(logs, i);
		snprintf(field, sizeof(field), "logs[%zu]", i);
		if (json_is_object(e)) {
			/* ours: joined on the stable message id */
			const char *mid =
			    json_string_value(json_object_get(e, "message_id"));
			char *end = NULL;
			if (!mid || strlen(mid) != 16)
				return sd__error_set(err, SD_EPARSE, path, field,
						     "needs a 16-digit \"message_id\"");
			uint64_t k = strtoull(mid, &end, 16);
			size_t row =
			    end && !*end ? u64map_get(&a->by_message, k) : (size_t)-1;
			if (row == (size_t)-1) {
				unmatched++;
				continue;
			}
			/* a 2.2.1-shaped entry of ours holds the annotation as
			   "text", SynDisco's key for it */
			json_t *o = json_object_get(e, "annotation") ||
					    !json_is_string(json_object_get(e, "text"))
					? json_incref(e)
					: json_copy(e);
			if (o != e && o &&
			    json_object_set(o, "annotation",
					    json_object_get(e, "text"))) {
				json_decref(o);
				o = NULL;
			}
			if (!o || annot_add(a, who, row, o, path))
				return sd__error_set(err, SD_ENOMEM, path, NULL,
						     "out of memory");
		} else if (json_is_array(e) && json_array_size(e) == 2 &&
			   json_is_string(json_array_get(e, 0))) {
			/* SynDisco's [message, annotation]: the next comment with
			   the same text, walking the discussion in order */
			if (disc == (size_t)-1) {
				if (!conv)
					return sd__error_set(
					    err, SD_EPARSE, path, "conv_id",
					    "SynDisco annotation pairs need "
					    "\"conv_id\"");
				size_t c = u64map_get(&a->by_conv, str_key(conv));
				if (c == (size_t)-1 ||
				    strcmp(d->discs[c].conv_id, conv)) {
					warn(d, "%s: conv_id %s matches no discussion",
					     path, conv);
					return SD_OK;
				}
				disc = c;
			}
			const ds_disc *dd = &d->discs[disc];
			const char *msg = json_string_value(json_array_get(e, 0));
			size_t j = next;
			while (j < dd->n_rows &&
			       strcmp(d->rows[dd->first_row + j].c.text, msg) != 0)
				j++;
			if (j == dd->n_rows) {
				unmatched++;
				continue;
			}
			next = j + 1;
			json_t *o =
			    json_pack("{s:O}", "annotation", json_array_get(e, 1));
			if (!o || annot_add(a, who, dd->first_row + j, o, path))
				return sd__error_set(err, SD_ENOMEM, path, NULL,
						     "out of memory");
		} else {
			return sd__error_set(err, SD_EPARSE, path, field,
					     "must be an object with \"message_id\" or a "
					     "[message, annotation] pair");
		}
	}
	if (unmatched)
		warn(d,
		     "%s: %zu annotation(s) match no comment of the loaded "
		     "discussions",
		     path, unmatched);
	return SD_OK;
}

/*
 * Ours since the SynDisco profiles: SynDisco's "logs" as the profile writes
 * them ([message, annotation] pairs, or 2.2.1's {name, text, ...}) and our
 * per-comment fields (message_id, label, ...) in "annotation_meta",
 * parallel to them: joined on message_id like our older files.
 */
static int load_annotation_file(annot_ctx *a, const char *path, const json_t *root,
				sd_error *err)
{
	const json_t *logs = json_object_get(root, "logs");
	const json_t *meta = json_object_get(root, "annotation_meta");
	if (!json_is_array(logs))
		return sd__error_set(err, SD_EPARSE, path, "logs",
				     "an annotation file needs a \"logs\" array");
	if (!meta)
		return load_annotation_logs(a, path, root, logs, err);
	if (!json_is_array(meta) || json_array_size(meta) != json_array_size(logs))
		return sd__error_set(err, SD_EPARSE, path, "annotation_meta",
				     "needs one object per entry of \"logs\"");
	json_t *merged = json_array();
	int rc = merged ? SD_OK : SD_ENOMEM;
	for (size_t i = 0; rc == SD_OK && i < json_array_size(meta); i++) {
		const json_t *l = json_array_get(logs, i);
		const json_t *m = json_array_get(meta, i);
		json_t *text =
		    json_is_array(l) ? json_array_get(l, 1) : json_object_get(l, "text");
		if (!json_is_object(m)) {
			rc = SD_EPARSE;
			break;
		}
		json_t *e = json_copy((json_t *)m);
		if (!e) {
			rc = SD_ENOMEM;
			break;
		}
		/* append_new takes e (or drops it) whatever happens */
		if (json_array_append_new(merged, e) ||
		    json_object_set(e, "annotation", text ? text : json_null()))
			rc = SD_ENOMEM;
	}
	if (rc == SD_OK)
		rc = load_annotation_logs(a, path, root, merged, err);
	else if (rc == SD_EPARSE)
		sd__error_set(err, rc, path, "annotation_meta",
			      "entries must be objects");
	else
		sd__error_set(err, rc, path, NULL, "out of memory");
	json_decref(merged);
	return rc;
}

/* Whether path is one of the loaded discussion logs (the same file). */
static bool is_discussion(annot_ctx *a, const char *path)
{
	sd_dataset *d = a->d;
	if (!a->real.cap) { /* once: the real path of every discussion */
		if (u64map_init(&a->real, d->n_discs)) {
			u64map_free(&a->real); /* cap 0 again: no half map */
			return false;
		}
		for (size_t i = 0; i < d->n_discs; i++) {
			char *q = realpath(d->discs[i].path, NULL);
			if (q && !strlist_push(&a->reals, q))
				u64map_put(&a->real, str_key(q), a->reals.n - 1);
			free(q);
		}
	}
	char *rp = realpath(path, NULL);
	size_t k = rp ? u64map_get(&a->real, str_key(rp)) : (size_t)-1;
	bool yes = k != (size_t)-1 && !strcmp(a->reals.v[k], rp);
	free(rp);
	return yes;
}

static int annot_cmp(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

static int load_annotations(sd_dataset *d, const sd_dataset_params *p, sd_error *err)
{
	annot_ctx a = {.d = d};
	strlist files = {0};
	bool *ex = NULL;
	char *text = NULL;
	json_t *root = NULL;
	size_t *remap = NULL;
	int rc;
	if (!p->n_annotation_paths)
		return SD_OK;
	if ((rc = collect(p->annotation_paths, p->n_annotation_paths, &files, &ex, err)))
		goto out;
	rc = SD_ENOMEM;
	if (u64map_init(&a.by_message, d->n_rows) || u64map_init(&a.by_conv, d->n_discs))
		goto oom;
	for (size_t r = 0; r < d->n_rows; r++)
		u64map_put(&a.by_message, strtoull(d->rows[r].message_id, NULL, 16), r);
	for (size_t i = 0; i < d->n_discs; i++)
		if (d->discs[i].conv_id)
			u64map_put(&a.by_conv, str_key(d->discs[i].conv_id), i);
	for (size_t i = 0; i < files.n; i++) {
		if ((rc = read_json(files.v[i], &text, &root, err)))
			goto out;
		int kind = classify(root);
		/* a 2.2.1-shaped file whose prompts do not say "annotator" (or
		   that has none) is an annotation when it sits under
		   --annotations and is not one of the discussions */
		if (kind == KIND_LOG && !json_object_get(root, "id") &&
		    (ex[i] || !is_discussion(&a, files.v[i])))
			kind = KIND_ANNOTATION;
		if (kind == KIND_EVALUATION) {
			if ((rc = sd__ds_eval_add(d, files.v[i], root, err)))
				goto out;
		} else if (kind == KIND_ANNOTATION) {
			if ((rc = load_annotation_file(&a, files.v[i], root, err)))
				goto out;
		} else if (ex[i]) {
			rc = sd__error_set(
			    err, SD_EPARSE, files.v[i], NULL,
			    "not an annotation file: expected a JSON object "
			    "with \"conv_id\" and \"logs\", or SynDisco "
			    "2.2.1's \"logs\" written by an annotator");
			goto out;
		}
		/* else: a discussion log or manifest next to the annotations */
		json_decref(root);
		root = NULL;
		free(text);
		text = NULL;
	}
	/* annotator columns in name order, whatever order files came in */
	d->n_annotators = a.names.n;
	if (!(d->annotators = calloc(a.names.n ? a.names.n : 1, sizeof(char *))) ||
	    !(remap = calloc(a.names.n ? a.names.n : 1, sizeof(*remap))))
		goto oom;
	for (size_t i = 0; i < a.names.n; i++)
		if (!(d->annotators[i] = strdup(a.names.v[i])))
			goto oom;
	qsort(d->annotators, d->n_annotators, sizeof(char *), annot_cmp);
	for (size_t i = 0; i < a.names.n; i++)
		for (size_t k = 0; k < d->n_annotators; k++)
			if (!strcmp(a.names.v[i], d->annotators[k]))
				remap[i] = k;
	if (d->n_annotators &&
	    !(d->annots = calloc(d->n_rows * d->n_annotators + 1, sizeof(json_t *))))
		goto oom;
	for (size_t i = 0; i < a.n; i++) {
		pending_annot *pa = &a.v[i];
		json_t **slot =
		    &d->annots[pa->row * d->n_annotators + remap[pa->annotator]];
		if (*slot) {
			warn(d, "%s: message %s already annotated by %s; kept the first",
			     pa->file, d->rows[pa->row].message_id,
			     a.names.v[pa->annotator]);
			continue;
		}
		*slot = pa->entry;
		pa->entry = NULL;
	}
	rc = SD_OK;
	goto out;
oom:
	rc = sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
out:
	for (size_t i = 0; i < a.n; i++)
		json_decref(a.v[i].entry);
	free(a.v);
	free(remap);
	u64map_free(&a.by_message);
	u64map_free(&a.by_conv);
	u64map_free(&a.real);
	strlist_free(&a.reals);
	strlist_free(&a.names);
	json_decref(root);
	free(text);
	free(ex);
	strlist_free(&files);
	return rc;
}

/* ---- the public functions ---- */

int sd_dataset_load(const sd_dataset_params *p, sd_dataset **out, sd_error *err)
{
	if (!p || !out || !p->n_log_paths || !p->log_paths)
		return sd__error_set(err, SD_EINVAL, NULL, NULL, "no log paths given");
	*out = NULL;
	sd_dataset *d = calloc(1, sizeof(*d));
	if (!d)
		return sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
	int rc;
	if ((rc = load_logs(d, p, err)) || (rc = build_rows(d, err)) ||
	    (rc = load_annotations(d, p, err)) || (rc = sd__ds_eval_resolve(d, err))) {
		sd_dataset_free(d);
		return rc;
	}
	if (d->n_warnings_dropped)
		warn(d, "... and %zu more warnings", d->n_warnings_dropped);
	*out = d;
	return SD_OK;
}

void sd_dataset_free(sd_dataset *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n_discs; i++) {
		free(d->discs[i].path);
		free(d->discs[i].condition);
		sd_logs_free(d->discs[i].logs);
		json_decref(d->discs[i].personas);
		json_decref(d->discs[i].instructions);
		json_decref(d->discs[i].entry_info);
	}
	free(d->discs);
	if (d->annots)
		for (size_t i = 0; i < d->n_rows * d->n_annotators; i++)
			json_decref(d->annots[i]);
	free(d->annots);
	free(d->rows);
	for (size_t i = 0; i < d->n_annotators; i++)
		free(d->annotators ? d->annotators[i] : NULL);
	free(d->annotators);
	for (size_t i = 0; i < d->n_persona_fields; i++)
		free(d->persona_fields[i]);
	free(d->persona_fields);
	for (size_t i = 0; i < d->n_run_cells; i++) {
		free(d->run_cells[i].digest);
		free(d->run_cells[i].cell);
	}
	free(d->run_cells);
	for (size_t i = 0; i < d->n_warnings; i++)
		free(d->warnings[i]);
	free(d->warnings);
	sd__ds_evals_free(d->evals);
	free(d);
}

size_t sd_dataset_discussion_count(const sd_dataset *d) { return d ? d->n_discs : 0; }

size_t sd_dataset_comment_count(const sd_dataset *d) { return d ? d->n_rows : 0; }

size_t sd_dataset_annotator_count(const sd_dataset *d) { return d ? d->n_annotators : 0; }

const char *sd_dataset_annotator(const sd_dataset *d, size_t i)
{
	return d && i < d->n_annotators ? d->annotators[i] : NULL;
}

size_t sd_dataset_warning_count(const sd_dataset *d) { return d ? d->n_warnings : 0; }

const char *sd_dataset_warning(const sd_dataset *d, size_t i)
{
	return d && i < d->n_warnings ? d->warnings[i] : NULL;
}

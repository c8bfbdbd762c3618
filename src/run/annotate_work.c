/*
 * Annotation runs: the annotation workload of the scheduler loop
 * (run/loop.c). One item is one (annotator, log) pair; each finished
^ * annotation goes to OUT/<annotator>/<conv-id>.json atomically, and a killed
 * run resumes by skipping what is complete on disk.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "run/annotate.h"
#include "run/backend_open.h"
#include "run/config_common.h"
#include "run/files.h"
#include "run/logcompat.h"
#include "run/loop.h"
#include "run/model_id.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/pytext.h"

typedef struct ann_work {
	sd_annotate *a;
	const sd_run_params *p;
	sd__groups g;	     /* annotators by backend config */
	json_t *model_files; /* [{name, model_file}] per annotator (model_id.h) */
} ann_work;

/* The identity of annotator x's model file, or NULL (borrowed). */
static const json_t *ann_model(const ann_work *w, size_t x)
{
	const json_t *m =
	    json_object_get(json_array_get(w->model_files, x), "model_file");
	return json_is_object(m) ? m : NULL;
}

typedef struct ann_job {
	const sd_run_params *p;
	sd_logs *log;
	sd_actor *actor;
	sd_annotation *ann;
	char *model;
} ann_job;

#define ITEM(x, l, n) ((x) * (n) + (l))

static char *out_path(const char *out, const char *annotator, const char *file)
{
	sd__buf b;
	sd__buf_init(&b, 0);
	int rc = file ? sd__buf_printf(&b, "%s/%s/%s.json", out, annotator, file)
		      : sd__buf_printf(&b, "%s/%s", out, annotator);
	/* a failed buffer steals as NULL: never a path cut short */
	return rc ? NULL : sd__buf_steal(&b);
}

/* Done when the file parses as an annotation of this discussion, made
 * under this config (digest). */
static bool is_complete(const char *path, const char *id, const char *digest,
			const json_t *model)
{
	char *text = NULL;
	if (sd_file_read(path, &text, NULL, NULL) != SD_OK)
		return false;
	json_t *j = json_loads(text, 0, NULL);
	free(text);
	const char *c = json_string_value(json_object_get(j, "conv_id"));
	const char *d = json_string_value(json_object_get(j, "config_digest"));
	bool ok = c && strcmp(c, id) == 0 && json_is_array(json_object_get(j, "logs")) &&
		  d && strcmp(d, digest) == 0;
	if (ok && model) /* a model file replaced under the same path: redo */
		ok = json_equal(
		    json_object_get(json_object_get(j, "model_file"), "sha256"),
		    json_object_get(model, "sha256"));
	json_decref(j);
	return ok;
}

static size_t aw_n_groups(void *wp) { return ((ann_work *)wp)->g.n; }

static sd_backend *aw_open_backend(void *wp, size_t g, int32_t parallel, sd_error *err)
{
	ann_work *w = wp;
	const sd__annotator *x = &w->a->ann[w->g.first[g]];
	return sd__run_backend_open(&x->backend, w->a->path, parallel,
				    w->p->default_model, err);
}

static bool aw_next_item(void *wp, size_t g, size_t *cursor, size_t *item,
			 size_t *skipped)
{
	ann_work *w = wp;
	size_t n = w->a->n_logs;
	for (; *cursor < w->a->n_ann * n; (*cursor)++) {
		size_t x = *cursor / n, l = *cursor % n;
		if (w->g.of[x] != g || l % w->p->shard_count != w->p->shard_index)
			continue;
		char *path =
		    out_path(w->p->out_dir, w->a->ann[x].name, w->a->logs[l].file);
		bool done = path && is_complete(path, w->a->logs[l].id, w->a->digest,
						ann_model(w, x));
		free(path);
		if (done) {
			(*skipped)++;
			continue;
		}
		*item = (*cursor)++;
		return true;
	}
	return false;
}

static void aw_item_name(void *wp, size_t item, char *buf, size_t size)
{
	ann_work *w = wp;
	size_t n = w->a->n_logs;
	snprintf(buf, size, "annotation by %s of %s", w->a->ann[item / n].name,
		 w->a->logs[item % n].path);
}

static void aw_job_free(void *jp)
{
	ann_job *j = jp;
	if (!j)
		return;
	sd_annotation_free(j->ann);
	sd_actor_free(j->actor);
	sd_logs_free(j->log);
	free(j->model);
	free(j);
}

static void *aw_job_create(void *wp, size_t item, sd_backend *b, sd_error *err)
{
	ann_work *w = wp;
	const sd_annotate *a = w->a;
	const sd__annotator *x = &a->ann[item / a->n_logs];
	const sd__ann_log *l = &a->logs[item % a->n_logs];
	ann_job *j = calloc(1, sizeof(*j));
	if (!j || !(j->model = strdup(sd_backend_model_name(b)))) {
		free(j);
		sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
		return NULL;
	}
	j->p = w->p;
	if (sd_logs_load(l->path, &j->log, err))
		goto fail;
	if (sd__lc_ensure_id(j->log)) {
		sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
		goto fail;
	}
	sd_actor_params ap = sd_actor_default_params();
	ap.persona = x->persona;
	ap.model_name = j->model;
	ap.context = x->context;
	ap.instructions = x->instructions;
	ap.kind = SD_ACTOR_ANNOTATOR;
	ap.templates = a->templates;
	ap.profile = a->profile;
	ap.name = x->actor_name ? x->actor_name : x->name;
	ap.remove_strings = x->remove;
	ap.n_remove_strings = x->n_remove;
	ap.textwrap_len = a->textwrap_len;
	if (!(j->actor = sd_actor_create(&ap, err)))
		goto fail;
	sd_annotation_params pp = sd_annotation_default_params();
	pp.history_ctx_len = x->history_ctx_len;
	pp.include_moderator = x->include_moderator;
	pp.sampling = x->sampling;
	pp.seed = x->seed;
	pp.label = x->label;
	pp.max_retries = a->max_retries;
	if (!(j->ann = sd_annotation_create(j->actor, j->log, &pp, err)))
		goto fail;
	return j;
fail:
	aw_job_free(j);
	return NULL;
}

static int aw_job_next(void *jp, sd_request *req)
{
	ann_job *j = jp;
	int k = sd_annotation_next(j->ann, req);
	if (k == 1 && j->p->on_request)
		j->p->on_request(sd_actor_name(j->actor), "annotator", req, j->p->ud);
	return k == SD_ANNOTATION_WAIT ? SD__LOOP_WAIT : k == 1 ? SD__LOOP_OFFER : k;
}

static int aw_job_accept(void *jp, uint64_t key, const sd_reply *rep)
{
	return sd_annotation_accept(((ann_job *)jp)->ann, key, rep->text, rep);
}

/*
 * Our own fields, appended after SynDisco's: the config digest and the
 * model file's identity (what resume checks a file against). Replaces *json; non-zero
 * when out of memory.
 */
/*
 * Append config_digest and model_file as the last top-level fields of an
 * annotation file, by text: the profile's writer made the bytes before
 * them SynDisco's own, and a re-dump could change them.
 */
static int add_extras(char **json, const char *digest, const json_t *model)
{
	size_t n = strlen(*json);
	while (n && (*json)[n - 1] != '}')
		n--;
	if (!n)
		return -1;
	json_t *d = json_string(digest);
	char *ds = d ? sd__py_json_dumps(d, -1) : NULL;
	char *ms = model ? sd__py_json_dumps(model, 4) : NULL;
	json_decref(d);
	sd__buf b;
	sd__buf_init(&b, 0);
	int rc = !ds || (model && !ms) ? -1 : 0;
	/* "{}" has no member before ours */
	bool empty = n >= 2 && (*json)[n - 2] == '{';
	if (!rc)
		rc = sd__buf_append(&b, *json, empty ? n - 1 : n - 2) ||
		     sd__buf_printf(&b, "%s\n    \"config_digest\": %s", empty ? "" : ",",
				    ds);
	if (!rc && ms) {
		rc = sd__buf_append(&b, ",\n    \"model_file\": ", 20);
		/* one level deeper: every line of the value moves 4 right */
		for (const char *p = ms; !rc && *p; p++)
			rc = *p == '\n' ? sd__buf_append(&b, "\n    ", 5)
					: sd__buf_append(&b, p, 1);
	}
	if (!rc)
		rc = sd__buf_append(&b, "\n}", 2);
	free(ds);
	free(ms);
	char *out = rc ? NULL : sd__buf_steal(&b);
	sd__buf_free(&b);
	if (!out)
		return -1;
	sd_free(*json);
	*json = out;
	return 0;
}

static int aw_job_save(void *wp, void *jp, size_t item, sd_error *err)
{
	ann_work *w = wp;
	ann_job *j = jp;
	const sd__annotator *x = &w->a->ann[item / w->a->n_logs];
	const sd__ann_log *l = &w->a->logs[item % w->a->n_logs];
	char ts[32], *json = NULL;
	sd_timestamp_now(ts, sizeof(ts));
	sd_annotation_meta m = {x->name, j->model, ts, l->path};
	if (sd_annotation_to_json(j->ann, &m, &json))
		return sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
	if (w->p->on_text) {
		char *shown = NULL;
		if (sd_annotation_printed(j->ann, &shown) == SD_OK)
			w->p->on_text(shown, w->p->ud);
		sd_free(shown);
	}
	if (add_extras(&json, w->a->digest, ann_model(w, item / w->a->n_logs)))
		return sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
	char *path = out_path(w->p->out_dir, x->name, l->file);
	int rc = path ? sd_file_write_atomic(path, json, strlen(json), err)
		      : sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
	free(path);
	sd_free(json);
	return rc;
}

static const sd__loop_ops ann_ops = {
    .n_groups = aw_n_groups,
    .open_backend = aw_open_backend,
    .next_item = aw_next_item,
    .job_create = aw_job_create,
    .job_next = aw_job_next,
    .job_accept = aw_job_accept,
    .job_save = aw_job_save,
    .job_free = aw_job_free,
    .item_name = aw_item_name,
};

/* OUT/annotate.json: the config, its digest and the model files. Caller frees. */
static char *manifest_json(const sd_annotate *a, json_t *model_files)
{
	json_t *j = json_object();
	char *s = NULL;
	if (j && !json_object_set_new(j, "config_digest", json_string(a->digest)) &&
	    !json_object_set_new(j, "source", json_string(a->path)) &&
	    !json_object_set(j, "config", a->root) &&
	    !json_object_set(j, "model_files", model_files))
		s = json_dumps(j, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
	json_decref(j);
	return s;
}

static const char *ann_backend_key(const void *a, size_t x)
{
	return ((const sd_annotate *)a)->ann[x].backend_key;
}

int sd_annotate_run(sd_annotate *a, const sd_run_params *p, sd_run_progress *progress,
		    sd_error *err)
{
	ann_work w;
	sd_run_progress local;
	int rc;

	if (!progress)
		progress = &local;
	memset(progress, 0, sizeof(*progress));
	if (!a || !p)
		return sd__error_set(err, SD_EINVAL, NULL, NULL,
				     "no config or run parameters");
	memset(&w, 0, sizeof(w));
	w.a = a;
	w.p = p;
	/* which model files, before OUT is touched */
	if (!(w.model_files = json_array()))
		return sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
	for (size_t x = 0; x < a->n_ann; x++) {
		json_t *id = NULL;
		if ((rc = sd__run_model_identity(&a->ann[x].backend, a->path,
						 p->default_model, &id, err)))
			goto out_models;
		if (json_array_append_new(
			w.model_files, json_pack("{s:s,s:o}", "name", a->ann[x].name,
						 "model_file", id ? id : json_null()))) {
			rc = sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
			goto out_models;
		}
	}
	char *manifest = manifest_json(a, w.model_files);
	if (!manifest) {
		rc = sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
		goto out_models;
	}
	int created;
	rc = sd__store_prepare(p, "annotate.json", a->digest, manifest, "annotations",
			       &created, err);
	free(manifest);
	if (rc)
		goto out_models;
	if ((rc = sd__groups_build(&w.g, a->n_ann, ann_backend_key, a, err))) {
		sd__store_unprepare(p, "annotate.json", created);
		goto out_models;
	}
	for (size_t x = 0; x < a->n_ann; x++) {
		char *dir = out_path(p->out_dir, a->ann[x].name, NULL);
		rc = sd__store_subdir(dir, err);
		free(dir);
		if (rc)
			goto out;
		for (size_t l = 0; l < a->n_logs; l++)
			if (l % p->shard_count == p->shard_index)
				progress->total++;
	}
	rc = sd__loop_run(&ann_ops, &w, p, progress, err);
out:
	if (rc && progress->done == 0)
		sd__store_unprepare(p, "annotate.json", created);
	sd__groups_free(&w.g);
	if (rc == SD_OK && progress->failed > 0)
		rc = sd__error_set(
		    err, SD_EBACKEND, NULL, NULL,
		    "%zu annotation(s) failed; run the same command again to retry them",
		    progress->failed);
out_models:
	json_decref(w.model_files);
	return rc;
}

/*
 * Experiment runs: the discussion workload of the scheduler loop
 * (run/loop.c), which keeps up to `parallel` discussions in flight on
 * one backend and feeds every pending turn to it at once. Each finished
 * discussion goes to OUT/<cell>/<index>.json atomically. Because the
 * files are the only state, a killed run resumes by skipping what is on
 * disk; because every discussion is determined by (seed, cell, index),
 * the resumed set equals an uninterrupted one.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "run/backend_open.h"
#include "run/experiment.h"
#include "run/files.h"
#include "run/loop.h"
#include "run/model_id.h"
#include "util/buf.h"
#include "util/error.h"

typedef struct exp_work {
	sd_experiment *e;
	const sd_run_params *p;
	sd__groups g;	     /* cells by backend config */
	json_t *model_files; /* [{name, model_file}] per cell (model_id.h) */
} exp_work;

/* The identity of cell c's model file, or NULL (borrowed). */
static const json_t *cell_model(const exp_work *w, size_t c)
{
	const json_t *m =
	    json_object_get(json_array_get(w->model_files, c), "model_file");
	return json_is_object(m) ? m : NULL;
}

/* A discussion in flight: one request at a time. */
typedef struct exp_job {
	sd_job *job;
	bool busy;
} exp_job;

sd_run_params sd_run_default_params(void)
{
	sd_run_params p;
	memset(&p, 0, sizeof(p));
	p.parallel = 8;
	p.shard_index = 0;
	p.shard_count = 1;
	return p;
}

static bool in_shard(const sd_run_params *p, size_t index)
{
	return index % p->shard_count == p->shard_index;
}

#define ITEM_SHIFT 40
#define ITEM_CELL(x) ((size_t)((uint64_t)(x) >> ITEM_SHIFT))
#define ITEM_INDEX(x) ((size_t)((uint64_t)(x) & ((1ULL << ITEM_SHIFT) - 1)))
#define ITEM(c, i) ((size_t)(((uint64_t)(c) << ITEM_SHIFT) | (uint64_t)(i)))

static size_t w_n_groups(void *wp) { return ((exp_work *)wp)->g.n; }

static sd_backend *w_open_backend(void *wp, size_t g, int32_t parallel, sd_error *err)
{
	exp_work *w = wp;
	const sd__exp_cell *c = &w->e->cells[w->g.first[g]];
	return sd__run_backend_open(&c->backend, w->e->path, parallel,
				    w->p->default_model, err);
}

/* Cells of group g in order, indices of the shard, skipping done files. */
static bool w_next_item(void *wp, size_t g, size_t *cursor, size_t *item, size_t *skipped)
{
	exp_work *w = wp;
	size_t c = ITEM_CELL(*cursor), i = ITEM_INDEX(*cursor);
	for (; c < w->e->n_cells; c++, i = 0) {
		if (w->g.of[c] != g)
			continue;
		const sd__exp_cell *cell = &w->e->cells[c];
		for (; i < cell->num_discussions; i++) {
			if (!in_shard(w->p, i))
				continue;
			char *path = sd__cell_path(w->p->out_dir, cell->name, i);
			bool done = path && sd__run_file_complete(
						path, cell->name, i, w->e->digest,
						json_string_value(json_object_get(
						    cell_model(w, c), "sha256")));
			free(path);
			if (done) {
				(*skipped)++;
				continue;
			}
			*item = ITEM(c, i);
			*cursor = ITEM(c, i + 1);
			return true;
		}
	}
	*cursor = ITEM(c, 0);
	return false;
}

static void w_item_name(void *wp, size_t item, char *buf, size_t size)
{
	exp_work *w = wp;
	snprintf(buf, size, "discussion %s/%zu", w->e->cells[ITEM_CELL(item)].name,
		 ITEM_INDEX(item));
}

static void *w_job_create(void *wp, size_t item, sd_backend *b, sd_error *err)
{
	exp_work *w = wp;
	exp_job *j = calloc(1, sizeof(*j));
	if (!j) {
		sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
		return NULL;
	}
	j->job = sd_experiment_job_create(w->e, ITEM_CELL(item), ITEM_INDEX(item),
					  sd_backend_model_name(b), err);
	if (!j->job) {
		free(j);
		return NULL;
	}
	/* history_ctx_tokens measures with the model's own tokenizer */
	sd_discussion_set_token_counter(sd_job_discussion(j->job),
					sd_backend_token_counter, b);
	return j;
}

static int w_job_next(void *jp, sd_request *req)
{
	exp_job *j = jp;
	if (j->busy)
		return SD__LOOP_WAIT;
	int k = sd_discussion_next(sd_job_discussion(j->job), req);
	if (k > 0) {
		j->busy = true;
		return SD__LOOP_OFFER;
	}
	return k; /* 0 = done, or an error */
}

static int w_job_accept(void *jp, uint64_t key, const sd_reply *rep)
{
	exp_job *j = jp;
	(void)key;
	j->busy = false;
	return sd_discussion_accept(sd_job_discussion(j->job), rep->text, rep);
}

static void w_job_free(void *jp)
{
	exp_job *j = jp;
	if (!j)
		return;
	sd_job_free(j->job);
	free(j);
}

static int w_job_save(void *wp, void *jp, size_t item, sd_error *err)
{
	exp_work *w = wp;
	exp_job *j = jp;
	const sd__exp_cell *c = &w->e->cells[ITEM_CELL(item)];
	size_t index = ITEM_INDEX(item);
	sd_logs *l = sd_discussion_logs_mut(sd_job_discussion(j->job));
	char id[40], ts[32], num[32];
	sd_uuid4(id);
	sd_timestamp_now(ts, sizeof(ts));
	json_t *cellname = json_string(c->name);
	char *cellq = cellname ? json_dumps(cellname, JSON_ENCODE_ANY) : NULL;
	json_decref(cellname);
	json_t *dg = json_string(w->e->digest);
	char *dgq = dg ? json_dumps(dg, JSON_ENCODE_ANY) : NULL;
	json_decref(dg);
	snprintf(num, sizeof(num), "%zu", index);
	const json_t *mf = cell_model(w, ITEM_CELL(item));
	char *mfq = mf ? json_dumps(mf, JSON_COMPACT) : NULL;
	int rc;
	char *path = sd__cell_path(w->p->out_dir, c->name, index);
	if (!cellq || !dgq || !path || sd_logs_set_id(l, id) ||
	    sd_logs_set_timestamp(l, ts) || sd_logs_set_extra(l, "cell", cellq) ||
	    sd_logs_set_extra(l, "index", num) ||
	    sd_logs_set_extra(l, "config_digest", dgq) ||
	    (mf && (!mfq || sd_logs_set_extra(l, "model_file", mfq))))
		rc = sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
	else
		rc = sd_logs_save(l, path, err);
	free(cellq);
	free(dgq);
	free(mfq);
	free(path);
	return rc;
}

static const sd__loop_ops exp_ops = {
    .n_groups = w_n_groups,
    .open_backend = w_open_backend,
    .next_item = w_next_item,
    .job_create = w_job_create,
    .job_next = w_job_next,
    .job_accept = w_job_accept,
    .job_save = w_job_save,
    .job_free = w_job_free,
    .item_name = w_item_name,
};

static const char *cell_backend_key(const void *e, size_t c)
{
	return ((const sd_experiment *)e)->cells[c].backend_key;
}

/* [{name, model_file}] for every cell, in order (model_id.h). */
static int model_files(const sd_experiment *e, const sd_run_params *p, json_t **out,
		       sd_error *err)
{
	json_t *a = json_array();
	int rc = a ? SD_OK : sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
	for (size_t c = 0; !rc && c < e->n_cells; c++) {
		json_t *id = NULL;
		if ((rc = sd__run_model_identity(&e->cells[c].backend, e->path,
						 p->default_model, &id, err)))
			break;
		if (json_array_append_new(a,
					  json_pack("{s:s,s:o}", "name", e->cells[c].name,
						    "model_file", id ? id : json_null())))
			rc = sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
	}
	if (rc) {
		json_decref(a);
		a = NULL;
	}
	*out = a;
	return rc;
}

int sd_experiment_run(sd_experiment *e, const sd_run_params *p, sd_run_progress *progress,
		      sd_error *err)
{
	exp_work w;
	sd_run_progress local;
	int rc = SD_OK;

	if (!progress)
		progress = &local;
	memset(progress, 0, sizeof(*progress));
	if (!e || !p)
		return sd__error_set(err, SD_EINVAL, NULL, NULL,
				     "no experiment or run parameters");
	memset(&w, 0, sizeof(w));
	w.e = e;
	w.p = p;
	/* which model files, before OUT is touched */
	if ((rc = model_files(e, p, &w.model_files, err)))
		return rc;
	char *manifest = sd_experiment_manifest_json(e);
	json_t *mj = manifest ? json_loads(manifest, 0, NULL) : NULL;
	free(manifest);
	manifest = mj && !json_object_set(mj, "model_files", w.model_files)
		       ? json_dumps(mj, JSON_INDENT(2))
		       : NULL;
	json_decref(mj);
	if (!manifest) {
		json_decref(w.model_files);
		return sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
	}
	int created;
	rc =
	    sd__store_prepare(p, "run.json", e->digest, manifest, "a run", &created, err);
	free(manifest);
	if (rc) {
		json_decref(w.model_files);
		return rc;
	}
	for (size_t c = 0; c < e->n_cells; c++) {
		char *dir = sd__cell_path(p->out_dir, e->cells[c].name, (size_t)-1);
		rc = sd__store_subdir(dir, err);
		free(dir);
		if (rc) {
			sd__store_unprepare(p, "run.json", created);
			json_decref(w.model_files);
			return rc;
		}
		for (size_t i = 0; i < e->cells[c].num_discussions; i++)
			if (in_shard(p, i))
				progress->total++;
	}

	if ((rc = sd__groups_build(&w.g, e->n_cells, cell_backend_key, e, err))) {
		sd__store_unprepare(p, "run.json", created);
		json_decref(w.model_files);
		return rc;
	}
	rc = sd__loop_run(&exp_ops, &w, p, progress, err);
	if (rc && progress->done == 0)
		sd__store_unprepare(p, "run.json", created);
	sd__groups_free(&w.g);
	json_decref(w.model_files);
	if (rc == SD_OK && progress->failed > 0)
		rc = sd__error_set(
		    err, SD_EBACKEND, NULL, NULL,
		    "%zu discussion(s) failed; run the same command again to retry them",
		    progress->failed);
	return rc;
}

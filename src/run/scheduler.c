/*
 * The scheduler: keeps up to `parallel` discussions in flight on one
 * backend, feeds every pending turn to it at once, and writes each
 * finished discussion to OUT/<cell>/<index>.json atomically. Because the
 * files are the only state, a killed run resumes by skipping what is on
 * disk; because every discussion is determined by (seed, cell, index),
 * the resumed set equals an uninterrupted one.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"
#include "run/backend_open.h"
#include "run/experiment.h"
#include "run/files.h"
#include "util/buf.h"
#include "util/error.h"

typedef struct slot {
	sd_job *job;
	size_t cell;
	size_t index;
	uint64_t tag;   /* tag of the request in flight; 0 = none */
} slot;

typedef struct run_ctx {
	sd_experiment *e;
	const sd_run_params *p;
	sd_run_progress *prog;
	double t0;
	/* cells of the current backend group, and the cursor over them */
	size_t *cells;
	size_t n_cells;
	size_t cur_cell;
	size_t cur_index;
} run_ctx;

static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void logf_(const sd_run_params *p, sd_log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void logf_(const sd_run_params *p, sd_log_level lvl, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	if (!p->on_log)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	p->on_log(lvl, msg, p->ud);
}

sd_run_params sd_run_default_params(void)
{
	sd_run_params p;
	memset(&p, 0, sizeof(p));
	p.parallel = 8;
	p.shard_index = 0;
	p.shard_count = 1;
	return p;
}

static int mkdir_p(const char *path)
{
	char *tmp = strdup(path);
	int rc = 0;
	if (!tmp)
		return -1;
	for (char *s = tmp + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
			rc = -1;
		*s = '/';
	}
	if (rc == 0 && mkdir(tmp, 0755) != 0 && errno != EEXIST)
		rc = -1;
	free(tmp);
	return rc;
}

static char *cell_path(const char *out, const char *cell, size_t index)
{
	sd_buf b;
	sd_buf_init(&b, 0);
	if (index == (size_t)-1)
		sd_buf_printf(&b, "%s/%s", out, cell);
	else
		sd_buf_printf(&b, "%s/%s/%zu.json", out, cell, index);
	return sd_buf_steal(&b);
}

/* A file counts as done when it loads as a log of this cell and index. */
static bool is_complete(const char *path, const char *cell, size_t index)
{
	sd_logs *l = NULL;
	struct stat st;
	if (stat(path, &st) != 0)
		return false;
	if (sd_logs_load(path, &l, NULL) != SD_OK)
		return false;
	const json_t *c = sd_logs_get(l, "cell");
	const json_t *i = sd_logs_get(l, "index");
	bool ok = json_is_string(c) && strcmp(json_string_value(c), cell) == 0 &&
		  json_is_integer(i) && (size_t)json_integer_value(i) == index;
	sd_logs_free(l);
	return ok;
}

/*
 * Whether the temp file `name` (in a cell directory, stat'ed as st) was
 * left by a writer that is gone. The directory may be shared by many
 * hosts (a Slurm job array on a network file system), and a pid only
 * says something on the host that issued it: a temp of this host is
 * stale when its pid is dead; a temp of any host (or an old-style name
 * without a host) only once it is older than RUN_TEMP_MAX_AGE_S, since
 * a live writer holds its temp for one write + fsync.
 */
static bool temp_is_stale(const char *name, const struct stat *st, const char *self,
			  time_t now)
{
	char host[RUN_TEMP_HOST_MAX + 1];
	long pid;
	if (run_temp_parse(name, host, sizeof(host), &pid) && strcmp(host, self) == 0 &&
	    kill((pid_t)pid, 0) != 0 && errno == ESRCH)
		return true;
	return now - st->st_mtime > RUN_TEMP_MAX_AGE_S;
}

/* Remove temp files of writers that are gone (see temp_is_stale). */
static void clean_stale_temps(const char *dir)
{
	char self[RUN_TEMP_HOST_MAX + 1];
	DIR *d = opendir(dir);
	struct dirent *de;
	if (!d)
		return;
	run_temp_host(self, sizeof(self));
	time_t now = time(NULL);
	while ((de = readdir(d))) {
		if (!run_temp_like(de->d_name))
			continue;
		char *p = cell_path(dir, de->d_name, (size_t)-1);
		struct stat st;
		if (p && lstat(p, &st) == 0 && S_ISREG(st.st_mode) &&
		    temp_is_stale(de->d_name, &st, self, now))
			unlink(p);
		free(p);
	}
	closedir(d);
}

static int check_manifest(sd_experiment *e, const sd_run_params *p, sd_error *err)
{
	char *path = cell_path(p->out_dir, "run.json", (size_t)-1);
	char *text = NULL;
	int rc = SD_OK;
	if (!path)
		return sd_error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
	if (sd_file_read(path, &text, NULL, NULL) == SD_OK) {
		json_t *m = json_loads(text, 0, NULL);
		const char *old = json_string_value(json_object_get(m, "config_digest"));
		bool same = old && strcmp(old, e->digest) == 0;
		if (!same && !p->force) {
			rc = sd_error_set(err, SD_ESTATE, path, NULL,
					  "%s holds a run of a different config (digest %s, this "
					  "config %s); use a new output directory, or --force to "
					  "continue it with this config",
					  p->out_dir, old ? old : "unreadable", e->digest);
			json_decref(m);
			goto out;
		}
		json_decref(m);
		if (same)
			goto out;
	}
	char *manifest = sd_experiment_manifest_json(e);
	if (!manifest) {
		rc = sd_error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
		goto out;
	}
	rc = sd_file_write_atomic(path, manifest, strlen(manifest), err);
	free(manifest);
out:
	free(text);
	free(path);
	return rc;
}

static bool in_shard(const sd_run_params *p, size_t index)
{
	return index % p->shard_count == p->shard_index;
}

/* Next (cell, index) of the group to run, skipping complete files. */
static bool next_job(run_ctx *r, size_t *cell, size_t *index)
{
	while (r->cur_cell < r->n_cells) {
		const exp_cell *c = &r->e->cells[r->cells[r->cur_cell]];
		while (r->cur_index < c->num_discussions) {
			size_t i = r->cur_index++;
			if (!in_shard(r->p, i))
				continue;
			char *path = cell_path(r->p->out_dir, c->name, i);
			bool done = path && is_complete(path, c->name, i);
			free(path);
			if (done) {
				r->prog->skipped++;
				continue;
			}
			*cell = r->cells[r->cur_cell];
			*index = i;
			return true;
		}
		r->cur_cell++;
		r->cur_index = 0;
	}
	return false;
}

static void report(run_ctx *r)
{
	r->prog->seconds = now_seconds() - r->t0;
	if (r->p->on_progress)
		r->p->on_progress(r->prog, r->p->ud);
}

static int save_job(run_ctx *r, slot *s)
{
	const exp_cell *c = &r->e->cells[s->cell];
	sd_logs *l = sd_discussion_logs_mut(sd_job_discussion(s->job));
	char id[40], ts[32], num[32];
	sd_error err;
	sd_uuid4(id);
	sd_timestamp_now(ts, sizeof(ts));
	json_t *cellname = json_string(c->name);
	char *cellq = cellname ? json_dumps(cellname, JSON_ENCODE_ANY) : NULL;
	json_decref(cellname);
	json_t *dg = json_string(r->e->digest);
	char *dgq = dg ? json_dumps(dg, JSON_ENCODE_ANY) : NULL;
	json_decref(dg);
	snprintf(num, sizeof(num), "%zu", s->index);
	int rc = SD_ENOMEM;
	char *path = cell_path(r->p->out_dir, c->name, s->index);
	if (!cellq || !dgq || !path || sd_logs_set_id(l, id) ||
	    sd_logs_set_timestamp(l, ts) || sd_logs_set_extra(l, "cell", cellq) ||
	    sd_logs_set_extra(l, "index", num) ||
	    sd_logs_set_extra(l, "config_digest", dgq))
		goto out;
	rc = sd_logs_save(l, path, &err);
	if (rc) {
		char buf[1024];
		logf_(r->p, SD_LOG_ERROR, "%s", sd_error_format(&err, buf, sizeof(buf)));
	}
out:
	free(cellq);
	free(dgq);
	free(path);
	return rc;
}

static void drop(slot *s)
{
	sd_job_free(s->job);
	memset(s, 0, sizeof(*s));
}

static void fail_slot(run_ctx *r, slot *s, const char *why)
{
	logf_(r->p, SD_LOG_ERROR, "discussion %s/%zu failed: %s",
	      r->e->cells[s->cell].name, s->index, why);
	r->prog->failed++;
	r->prog->active--;
	drop(s);
}

/* Run every job of the current group on backend b. */
static int run_group(run_ctx *r, sd_backend *b, slot *slots, sd_error *err)
{
	const sd_run_params *p = r->p;
	uint64_t next_tag = 1;
	bool exhausted = false;
	double last_report = 0;
	int rc = SD_OK;

	for (;;) {
		if (p->stop && *p->stop) {
			for (int i = 0; i < p->parallel; i++) {
				if (!slots[i].job)
					continue;
				if (slots[i].tag)
					sd_backend_cancel(b, slots[i].tag);
				r->prog->active--;
				drop(&slots[i]);
			}
			rc = sd_error_set(err, SD_ESTATE, NULL, NULL,
					  "stopped; run the same command again to resume");
			break;
		}
		/* admit new discussions into free slots */
		for (int i = 0; i < p->parallel && !exhausted; i++) {
			if (slots[i].job)
				continue;
			size_t cell, index;
			if (!next_job(r, &cell, &index)) {
				exhausted = true;
				break;
			}
			sd_error jerr;
			sd_error_clear(&jerr);
			slots[i].job = sd_experiment_job_create(r->e, cell, index,
								sd_backend_model_name(b), &jerr);
			slots[i].cell = cell;
			slots[i].index = index;
			slots[i].tag = 0;
			if (!slots[i].job) {
				char buf[1024];
				logf_(p, SD_LOG_ERROR, "discussion %s/%zu: %s",
				      r->e->cells[cell].name, index,
				      sd_error_format(&jerr, buf, sizeof(buf)));
				r->prog->failed++;
				continue;
			}
			r->prog->active++;
		}
		/* offer the next turn of every discussion not waiting */
		int waiting = 0;
		for (int i = 0; i < p->parallel; i++) {
			slot *s = &slots[i];
			if (!s->job)
				continue;
			if (s->tag) {
				waiting++;
				continue;
			}
			sd_request req;
			int k = sd_discussion_next(sd_job_discussion(s->job), &req);
			if (k == 0) {
				if (save_job(r, s) == SD_OK) {
					r->prog->done++;
					r->prog->active--;
					drop(s);
				} else {
					fail_slot(r, s, "could not write its file");
				}
				continue;
			}
			if (k < 0) {
				fail_slot(r, s, sd_strerror(k));
				continue;
			}
			req.tag = next_tag++;
			if (sd_backend_submit(b, &req) != SD_OK) {
				fail_slot(r, s, "the backend refused the request");
				continue;
			}
			s->tag = req.tag;
			waiting++;
		}
		if (waiting == 0) {
			bool any = false;
			for (int i = 0; i < p->parallel; i++)
				any = any || slots[i].job != NULL;
			if (exhausted && !any)
				break;
			continue;
		}
		int st = sd_backend_step(b);
		if (st < 0)
			logf_(p, SD_LOG_ERROR, "backend step failed: %s",
			      sd_backend_last_error(b));
		sd_reply rep;
		while (sd_backend_collect(b, &rep) == 1) {
			slot *s = NULL;
			for (int i = 0; i < p->parallel; i++)
				if (slots[i].job && slots[i].tag == rep.tag)
					s = &slots[i];
			if (!s) {
				sd_reply_clear(&rep);
				continue;
			}
			s->tag = 0;
			if (rep.status != SD_OK) {
				fail_slot(r, s, rep.error ? rep.error : sd_strerror(rep.status));
			} else if (sd_discussion_accept(sd_job_discussion(s->job), rep.text,
							&rep) != SD_OK) {
				fail_slot(r, s, "could not record a reply");
			} else {
				r->prog->turns++;
				if (rep.n_gen_tokens > 0)
					r->prog->gen_tokens += (uint64_t)rep.n_gen_tokens;
				if (rep.n_prompt_tokens > 0)
					r->prog->prompt_tokens += (uint64_t)rep.n_prompt_tokens;
			}
			sd_reply_clear(&rep);
		}
		/* a broken backend fails its requests; do not spin on it */
		if (st < 0) {
			for (int i = 0; i < p->parallel; i++)
				if (slots[i].job && slots[i].tag)
					fail_slot(r, &slots[i], sd_backend_last_error(b));
		}
		double t = now_seconds();
		if (t - last_report >= 0.2) {
			last_report = t;
			report(r);
		}
	}
	return rc;
}

int sd_experiment_run(sd_experiment *e, const sd_run_params *p,
		      sd_run_progress *progress, sd_error *err)
{
	run_ctx r;
	slot *slots = NULL;
	bool *grouped = NULL;
	sd_run_progress local;
	int rc = SD_OK;

	if (!progress)
		progress = &local;
	memset(progress, 0, sizeof(*progress));
	if (!e || !p || !p->out_dir)
		return sd_error_set(err, SD_EINVAL, NULL, NULL, "no experiment or output dir");
	if (p->parallel < 1 || p->parallel > 4096)
		return sd_error_set(err, SD_EINVAL, NULL, "parallel",
				    "must be between 1 and 4096, got %d", (int)p->parallel);
	if (p->shard_count < 1 || p->shard_index >= p->shard_count)
		return sd_error_set(err, SD_EINVAL, NULL, "shard",
				    "shard %u/%u: need 0 <= K < N", p->shard_index,
				    p->shard_count);
	memset(&r, 0, sizeof(r));
	r.e = e;
	r.p = p;
	r.prog = progress;
	r.t0 = now_seconds();

	if (mkdir_p(p->out_dir) != 0)
		return sd_error_set(err, SD_EIO, p->out_dir, NULL, "cannot create: %s",
				    strerror(errno));
	if ((rc = check_manifest(e, p, err)))
		return rc;
	for (size_t c = 0; c < e->n_cells; c++) {
		char *dir = cell_path(p->out_dir, e->cells[c].name, (size_t)-1);
		if (!dir || mkdir_p(dir) != 0) {
			rc = sd_error_set(err, SD_EIO, dir ? dir : p->out_dir, NULL,
					  "cannot create: %s", strerror(errno));
			free(dir);
			return rc;
		}
		clean_stale_temps(dir);
		free(dir);
		for (size_t i = 0; i < e->cells[c].num_discussions; i++)
			if (in_shard(p, i))
				progress->total++;
	}

	slots = calloc((size_t)p->parallel, sizeof(*slots));
	grouped = calloc(e->n_cells + 1, sizeof(*grouped));
	r.cells = calloc(e->n_cells + 1, sizeof(*r.cells));
	if (!slots || !grouped || !r.cells) {
		rc = sd_error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
		goto out;
	}
	/* cells sharing a backend config run together on one loaded model */
	for (size_t c = 0; c < e->n_cells && rc == SD_OK; c++) {
		if (grouped[c])
			continue;
		r.n_cells = 0;
		for (size_t k = c; k < e->n_cells; k++) {
			if (!grouped[k] &&
			    strcmp(e->cells[k].backend_key, e->cells[c].backend_key) == 0) {
				grouped[k] = true;
				r.cells[r.n_cells++] = k;
			}
		}
		r.cur_cell = 0;
		r.cur_index = 0;
		/* open the model only if something of this group is left to do */
		size_t cell, index;
		size_t save_skipped = progress->skipped;
		if (!next_job(&r, &cell, &index))
			continue;
		progress->skipped = save_skipped;
		r.cur_cell = 0;
		r.cur_index = 0;
		sd_backend *b = run_backend_open(&e->cells[c].backend, e->path,
						 p->parallel, p->default_model, err);
		if (!b) {
			rc = err ? err->code : SD_EBACKEND;
			goto out;
		}
		logf_(p, SD_LOG_INFO, "model %s: %zu cell(s), %d in flight",
		      sd_backend_model_name(b), r.n_cells, (int)p->parallel);
		rc = run_group(&r, b, slots, err);
		sd_backend_free(b);
	}
out:
	progress->finished = true;
	report(&r);
	free(slots);
	free(grouped);
	free(r.cells);
	if (rc == SD_OK && progress->failed > 0)
		rc = sd_error_set(err, SD_EBACKEND, NULL, NULL,
				  "%zu discussion(s) failed; run the same command again to retry them",
				  progress->failed);
	return rc;
}

int sd_run_status(const char *out_dir, sd_cell_status **cells, size_t *n,
		  sd_error *err)
{
	char *path = cell_path(out_dir, "run.json", (size_t)-1);
	char *text = NULL;
	json_t *m = NULL;
	sd_cell_status *res = NULL;
	size_t count = 0;
	int rc;
	*cells = NULL;
	*n = 0;
	if (!path)
		return sd_error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
	if ((rc = sd_file_read(path, &text, NULL, err))) {
		if (rc == SD_ENOTFOUND)
			sd_error_set(err, rc, out_dir, NULL,
				     "no run.json: not an output directory of syndisco run");
		goto out;
	}
	json_error_t jerr;
	m = json_loads(text, 0, &jerr);
	const json_t *arr = json_object_get(m, "cells");
	if (!m || !json_is_array(arr)) {
		rc = sd_error_set(err, SD_EPARSE, path, "cells", "missing or malformed");
		goto out;
	}
	res = calloc(json_array_size(arr) + 1, sizeof(*res));
	if (!res) {
		rc = sd_error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < json_array_size(arr); i++) {
		const json_t *c = json_array_get(arr, i);
		const char *name = json_string_value(json_object_get(c, "name"));
		json_int_t total = json_integer_value(json_object_get(c, "num_discussions"));
		if (!name || total < 0) {
			rc = sd_error_set(err, SD_EPARSE, path, "cells", "entry %zu is malformed", i);
			goto out;
		}
		res[count].name = strdup(name);
		if (!res[count].name) {
			rc = sd_error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
			goto out;
		}
		res[count].total = (size_t)total;
		for (size_t k = 0; k < (size_t)total; k++) {
			char *f = cell_path(out_dir, name, k);
			if (f && is_complete(f, name, k))
				res[count].done++;
			free(f);
		}
		count++;
	}
	*cells = res;
	*n = count;
	res = NULL;
	rc = SD_OK;
out:
	if (res)
		sd_run_status_free(res, count);
	json_decref(m);
	free(text);
	free(path);
	return rc;
}

void sd_run_status_free(sd_cell_status *cells, size_t n)
{
	if (!cells)
		return;
	for (size_t i = 0; i < n; i++)
		free((char *)cells[i].name);
	free(cells);
}

/*
 * Evaluation runs: every judge scores every discussion log found under
 * the inputs on its rubric, as one grammar-constrained JSON object per
 * (judge, log) (docs/evaluate.md). The run machinery is annotate's: the
 * scheduler loop (sched.h) for batching, resume, shards and progress,
 * the dataset loader for finding logs of every SynDisco version, the
 * label code for grammars (core/rubric.h). Each evaluation goes to
 * OUT/<judge>/<conv-id>.json atomically; complete files are skipped on
 * the next run, and an evaluation depends only on the run seed, the
 * judge's name and the log's id.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/dataset.h"
#include "analysis/dataset_eval.h"
#include "core/core.h"
#include "core/rubric.h"
#include "run/backend_open.h"
#include "run/config_common.h"
#include "run/files.h"
#include "run/logcompat.h"
#include "run/loop.h"
#include "run/model_id.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/hash.h"
#include "util/json.h"
#include "util/rng.h"

#define DEFAULT_EVAL_PROMPT "Discussion:\n{history}\n\nYour evaluation:"

typedef struct ev_judge {
	char *name;
	json_t *json; /* resolved: files inlined, defaults applied */
	sd_persona *persona;
	char *context;
	char *instructions; /* the judge's own, then the rubric's description */
	sd__rubric *rubric;
	sd_sampling sampling;
	sd__cfg_backend backend;
	char *backend_key;
	uint64_t seed; /* mix(run seed, hash(name)) */
} ev_judge;

typedef struct ev_log {
	char *path;
	char *id;
	char *file; /* id made safe as a file name */
	char *cell; /* the log's "cell", or NULL */
} ev_log;

struct sd_evaluate {
	char *path;
	char *dir;
	json_t *root;
	uint64_t seed;
	int32_t max_retries;
	bool include_moderator;
	char *output_dir;
	const char *prompt; /* borrowed from root, or the default */
	sd_profile profile;
	ev_judge *judges;
	size_t n_judges;
	ev_log *logs;
	size_t n_logs;
	char digest[33];
};

static const char *const top_keys[] = {
    "seed",
    "discussions",
    "output_dir",
    "context",
    "context_file",
    "sampling",
    "backend",
    "rubric",
    "judges",
    "max_retries",
    "syndisco",
    "include_moderator",
    "evaluation_prompt",
};
static const char *const judge_keys[] = {
    "name",   "persona",  "context", "context_file", "instructions", "instructions_file",
    "rubric", "sampling", "backend",
};

/* ---------------- config ---------------- */

static void judge_clear(ev_judge *j)
{
	free(j->name);
	json_decref(j->json);
	sd_persona_free(j->persona);
	free(j->context);
	free(j->instructions);
	sd__rubric_free(j->rubric);
	sd__cfg_backend_clear(&j->backend);
	free(j->backend_key);
}

void sd_evaluate_free(sd_evaluate *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->n_judges; i++)
		judge_clear(&v->judges[i]);
	free(v->judges);
	for (size_t i = 0; i < v->n_logs; i++) {
		free(v->logs[i].path);
		free(v->logs[i].id);
		free(v->logs[i].file);
		free(v->logs[i].cell);
	}
	free(v->logs);
	json_decref(v->root);
	free(v->output_dir);
	free(v->path);
	free(v->dir);
	free(v);
}

static bool valid_name(const char *s)
{
	if (!*s || s[0] == '.' || strlen(s) > 100)
		return false;
	for (; *s; s++) {
		char c = *s;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
			return false;
	}
	return true;
}

static int parse_judge(sd_evaluate *v, size_t i, const json_t *o, const char *context,
		       sd_error *err)
{
	ev_judge *x = &v->judges[i];
	char prefix[64], f[128];
	int rc;
	snprintf(prefix, sizeof(prefix), "judges[%zu]", i);
	if (!json_is_object(o))
		return sd__error_set(err, SD_EINVAL, v->path, prefix,
				     "must be an object {name, instructions, ...}");
	if ((rc = sd__cfg_check_keys(o, judge_keys,
				     sizeof(judge_keys) / sizeof(judge_keys[0]), v->path,
				     "", err))) {
		sd__cfg_prefix_field(err, prefix, ".");
		return rc;
	}
	snprintf(f, sizeof(f), "%s.name", prefix);
	if ((rc = sd__cfg_get_str(o, "name", f, v->path, &x->name, err)))
		return rc;
	if (!x->name || !valid_name(x->name))
		return sd__error_set(err, SD_EINVAL, v->path, f,
				     "needs a name of letters, digits, '-', '_' and '.' "
				     "(it names the output directory)");
	for (size_t k = 0; k < i; k++)
		if (!strcmp(v->judges[k].name, x->name))
			return sd__error_set(err, SD_EINVAL, v->path, f,
					     "\"%s\" is used twice", x->name);
	snprintf(f, sizeof(f), "%s.", prefix);
	char *own = NULL;
	if ((rc = sd__cfg_text(o, "instructions", f, v->path, v->dir, &own, err)))
		return rc;
	if ((rc = sd__cfg_text(o, "context", f, v->path, v->dir, &x->context, err))) {
		free(own);
		return rc;
	}
	if (!x->context && !(x->context = strdup(context ? context : ""))) {
		free(own);
		return sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
	}
	const json_t *rub = json_object_get(o, "rubric");
	if (rub)
		snprintf(f, sizeof(f), "%s.rubric", prefix);
	else
		snprintf(f, sizeof(f), "rubric");
	rc = sd__rubric_parse(rub ? rub : json_object_get(v->root, "rubric"), v->path, f,
			      &x->rubric, err);
	if (rc) {
		free(own);
		return rc;
	}
	/* a failed allocation must not leave a judge without its rubric */
	char *desc = sd__rubric_describe(x->rubric);
	sd__buf b;
	sd__buf_init(&b, 0);
	int brc = desc ? 0 : SD_ENOMEM;
	if (!brc && own && strspn(own, " \t\r\n") != strlen(own))
		brc = sd__buf_printf(&b, "%s\n\n", own);
	if (!brc)
		brc = sd__buf_puts(&b, desc);
	x->instructions = brc ? NULL : sd__buf_steal(&b);
	sd__buf_free(&b);
	free(own);
	free(desc);
	if (!x->instructions)
		return sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
	const json_t *p = json_object_get(o, "persona");
	if (p && !json_is_null(p)) {
		if (!json_is_object(p)) {
			snprintf(f, sizeof(f), "%s.persona", prefix);
			return sd__error_set(err, SD_EINVAL, v->path, f,
					     "must be a persona object");
		}
		if (!(x->persona = sd__persona_from_object(p)))
			return sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
	} else {
		json_t *u = json_pack("{s:s}", "username", x->name);
		x->persona = u ? sd__persona_from_object(u) : NULL;
		json_decref(u);
		if (!x->persona)
			return sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
	}
	const json_t *sm = json_object_get(o, "sampling");
	if (!sm)
		sm = json_object_get(v->root, "sampling");
	x->sampling = sd_sampling_default();
	x->sampling.temperature = 0.0f; /* greedy unless asked, as annotators */
	if ((rc = sd__cfg_sampling(sm, v->path, &x->sampling, err))) {
		if (json_object_get(o, "sampling"))
			sd__cfg_prefix_field(err, prefix, ".");
		return rc;
	}
	/* the grammar's longest reply always fits: every token is a byte or more */
	if ((size_t)x->sampling.max_tokens < x->rubric->max_bytes + 1)
		x->sampling.max_tokens = (int32_t)x->rubric->max_bytes + 1;
	const json_t *bk = json_object_get(o, "backend");
	if (!bk)
		bk = json_object_get(v->root, "backend");
	if ((rc = sd__cfg_backend_parse(bk, v->path, v->dir, &x->backend, err))) {
		if (json_object_get(o, "backend"))
			sd__cfg_prefix_field(err, prefix, ".");
		return rc;
	}
	x->json = json_deep_copy(o);
	json_t *rj = sd__rubric_json(x->rubric);
	if (!x->json || !rj ||
	    json_object_set_new(x->json, "backend",
				bk ? json_deep_copy(bk) : json_object()) ||
	    json_object_set_new(x->json, "context", json_string(x->context)) ||
	    json_object_set_new(x->json, "instructions", json_string(x->instructions)) ||
	    json_object_set_new(x->json, "rubric", rj)) {
		json_decref(rj);
		return sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
	}
	json_object_del(x->json, "context_file");
	json_object_del(x->json, "instructions_file");
	if (!(x->backend_key = json_dumps(json_object_get(x->json, "backend"),
					  JSON_SORT_KEYS | JSON_COMPACT)))
		return sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
	x->seed =
	    sd__seed_mix(v->seed, sd__fnv1a64(x->name, strlen(x->name), SD_FNV1A64_INIT));
	return SD_OK;
}

static int update_digest(sd_evaluate *v)
{
	json_t *j = json_object(), *arr = json_array();
	if (!j || !arr) {
		json_decref(j);
		json_decref(arr);
		return SD_ENOMEM;
	}
	json_object_set_new(j, "seed", json_integer((json_int_t)v->seed));
	json_object_set_new(j, "max_retries", json_integer(v->max_retries));
	json_object_set_new(j, "include_moderator", json_boolean(v->include_moderator));
	json_object_set_new(j, "evaluation_prompt", json_string(v->prompt));
	json_object_set(j, "syndisco", json_object_get(v->root, "syndisco"));
	for (size_t i = 0; i < v->n_judges; i++)
		json_array_append(arr, v->judges[i].json);
	json_object_set_new(j, "judges", arr);
	char *canon = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
	json_decref(j);
	if (!canon)
		return SD_ENOMEM;
	uint64_t h = sd__fnv1a64(canon, strlen(canon), SD_FNV1A64_INIT);
	uint64_t h2 = sd__fnv1a64(canon, strlen(canon), h ^ 0x5bd1e995ULL);
	free(canon);
	snprintf(v->digest, sizeof(v->digest), "%016llx%016llx", (unsigned long long)h,
		 (unsigned long long)h2);
	return SD_OK;
}

static char *safe_file_name(const char *id)
{
	size_t n = strlen(id);
	char *s = malloc(n + 1);
	if (!s)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		char c = id[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
		s[i] = ok ? c : '_';
	}
	s[n] = '\0';
	if (n == 0 || s[0] == '.')
		s[0] = '_';
	return s;
}

/* The logs: found as export and stats find them (every SynDisco version;
 * manifests, annotations and evaluations passed by), in path order. */
static int find_logs(sd_evaluate *v, const char *const *inputs, size_t n_inputs,
		     sd_error *err)
{
	const char **paths = NULL;
	char **owned = NULL;
	size_t n = 0;
	sd_dataset *d = NULL;
	int rc = SD_OK;
	const json_t *dj = json_object_get(v->root, "discussions");
	if (n_inputs == 0) {
		if (json_is_string(dj)) {
			n = 1;
		} else if (json_is_array(dj) && json_array_size(dj) > 0) {
			n = json_array_size(dj);
		} else {
			return sd__error_set(
			    err, SD_EINVAL, v->path, "discussions",
			    "missing: give the discussion logs to evaluate (a "
			    "directory, a file or a list of them) in the config "
			    "or on the command line");
		}
		paths = calloc(n, sizeof(*paths));
		owned = calloc(n, sizeof(*owned));
		if (!paths || !owned) {
			rc = sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
			goto out;
		}
		for (size_t i = 0; i < n; i++) {
			const char *s = json_string_value(
			    json_is_string(dj) ? dj : json_array_get(dj, i));
			if (!s) {
				rc = sd__error_set(err, SD_EINVAL, v->path, "discussions",
						   "entry %zu is not a path string", i);
				goto out;
			}
			if (!(owned[i] = sd__cfg_resolve(v->dir, s))) {
				rc = sd__error_set(err, SD_ENOMEM, NULL, NULL,
						   "out of memory");
				goto out;
			}
			paths[i] = owned[i];
		}
	}
	sd_dataset_params dp = sd_dataset_default_params();
	dp.log_paths = n_inputs ? inputs : paths;
	dp.n_log_paths = n_inputs ? n_inputs : n;
	if ((rc = sd_dataset_load(&dp, &d, err)))
		goto out;
	if (!(v->logs = calloc(d->n_discs, sizeof(*v->logs)))) {
		rc = sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < d->n_discs; i++) {
		ev_log *l = &v->logs[v->n_logs++];
		const ds_disc *dd = &d->discs[i];
		if (!(l->path = strdup(dd->path)) || !(l->id = strdup(dd->conv_id)) ||
		    !(l->file = safe_file_name(dd->conv_id)) ||
		    (dd->cell && !(l->cell = strdup(dd->cell)))) {
			rc = sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
			goto out;
		}
		for (size_t k = 0; k < i; k++)
			if (!strcmp(v->logs[k].file, l->file)) {
				rc = sd__error_set(err, SD_EINVAL, l->path, "id",
						   "\"%s\" is also the id of %s; each "
						   "discussion must be given once",
						   l->id, v->logs[k].path);
				goto out;
			}
	}
out:
	sd_dataset_free(d);
	for (size_t i = 0; owned && i < n; i++)
		free(owned[i]);
	free(owned);
	free(paths);
	return rc;
}

int sd_evaluate_load(const char *path, const char *const *inputs, size_t n_inputs,
		     sd_evaluate **out, sd_error *err)
{
	sd_evaluate *v = NULL;
	char *context = NULL;
	int rc;

	*out = NULL;
	v = calloc(1, sizeof(*v));
	if (!v || !(v->path = strdup(path)) || !(v->dir = sd__cfg_dirname(path))) {
		rc = sd__error_set(err, SD_ENOMEM, path, NULL, "out of memory");
		goto out;
	}
	if ((rc = sd__cfg_load_object(path, "an evaluation config", &v->root, err)))
		goto out;
	if ((rc = sd__cfg_check_keys(v->root, top_keys,
				     sizeof(top_keys) / sizeof(top_keys[0]), path, "",
				     err)))
		goto out;
	long long seed = 42, retries = 2;
	if ((rc = sd__cfg_get_int(v->root, "seed", "seed", path, 0, INT64_MAX, &seed,
				  err)) ||
	    (rc = sd__cfg_get_int(v->root, "max_retries", "max_retries", path, 0, 100,
				  &retries, err)) ||
	    (rc = sd__cfg_get_str(v->root, "output_dir", "output_dir", path,
				  &v->output_dir, err)) ||
	    (rc = sd__cfg_text(v->root, "context", "", path, v->dir, &context, err)) ||
	    (rc = sd__cfg_profile(v->root, path, &v->profile, err)))
		goto out;
	v->seed = (uint64_t)seed;
	v->max_retries = (int32_t)retries;
	const json_t *im = json_object_get(v->root, "include_moderator");
	if (im && !json_is_boolean(im)) {
		rc = sd__error_set(err, SD_EINVAL, path, "include_moderator",
				   "must be true or false");
		goto out;
	}
	v->include_moderator = im ? json_is_true(im) : true;
	const json_t *pr = json_object_get(v->root, "evaluation_prompt");
	if (pr && (!json_is_string(pr) || !strstr(json_string_value(pr), "{history}"))) {
		rc = sd__error_set(err, SD_EINVAL, path, "evaluation_prompt",
				   "must be a string with {history} in it");
		goto out;
	}
	v->prompt = pr ? json_string_value(pr) : DEFAULT_EVAL_PROMPT;
	const json_t *arr = json_object_get(v->root, "judges");
	if (!json_is_array(arr) || json_array_size(arr) == 0) {
		rc = sd__error_set(
		    err, SD_EINVAL, path, "judges",
		    "missing: a list of judges, each {name, instructions, ...}");
		goto out;
	}
	if (!(v->judges = calloc(json_array_size(arr), sizeof(*v->judges)))) {
		rc = sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < json_array_size(arr); i++) {
		v->n_judges = i + 1;
		if ((rc = parse_judge(v, i, json_array_get(arr, i), context, err)))
			goto out;
	}
	if ((rc = find_logs(v, inputs, n_inputs, err)))
		goto out;
	if (update_digest(v)) {
		rc = sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
		goto out;
	}
	*out = v;
	v = NULL;
out:
	free(context);
	sd_evaluate_free(v);
	return rc;
}

int sd_evaluate_set_model(sd_evaluate *v, const char *path)
{
	if (!v || !path)
		return SD_EINVAL;
	for (size_t i = 0; i < v->n_judges; i++) {
		ev_judge *x = &v->judges[i];
		json_t *b = json_object_get(x->json, "backend");
		char *m = strdup(path);
		if (!b || !m || json_object_set_new(b, "model", json_string(path))) {
			free(m);
			return SD_ENOMEM;
		}
		free(x->backend.model);
		x->backend.model = m;
		free(x->backend_key);
		if (!(x->backend_key = json_dumps(b, JSON_SORT_KEYS | JSON_COMPACT)))
			return SD_ENOMEM;
	}
	return update_digest(v);
}

const char *sd_evaluate_output_dir(const sd_evaluate *v)
{
	return v ? v->output_dir : NULL;
}

const char *sd_evaluate_digest(const sd_evaluate *v) { return v ? v->digest : NULL; }

size_t sd_evaluate_log_count(const sd_evaluate *v) { return v ? v->n_logs : 0; }

size_t sd_evaluate_judge_count(const sd_evaluate *v) { return v ? v->n_judges : 0; }

const char *sd_evaluate_judge_grammar(const sd_evaluate *v, size_t judge)
{
	return v && judge < v->n_judges ? v->judges[judge].rubric->grammar : NULL;
}

/* ---------------- the workload ---------------- */

typedef struct ev_work {
	sd_evaluate *v;
	const sd_run_params *p;
	sd__groups g;	     /* judges by backend config */
	json_t *model_files; /* [{name, model_file}] per judge */
} ev_work;

typedef struct ev_job {
	const ev_work *w;
	const ev_judge *x;
	const ev_log *l;
	sd_logs *log;
	sd_actor *actor;
	char *model;
	char *system, *user;
	int32_t attempts;
	bool asked, done;
	char *reply;
	json_t *scores;
} ev_job;

static const json_t *ev_model(const ev_work *w, size_t x)
{
	const json_t *m =
	    json_object_get(json_array_get(w->model_files, x), "model_file");
	return json_is_object(m) ? m : NULL;
}

static char *out_path(const char *out, const char *judge, const char *file)
{
	sd__buf b;
	sd__buf_init(&b, 0);
	int rc = file ? sd__buf_printf(&b, "%s/%s/%s.json", out, judge, file)
		      : sd__buf_printf(&b, "%s/%s", out, judge);
	/* a failed buffer steals NULL, which callers take as out of memory */
	return rc ? (sd__buf_free(&b), NULL) : sd__buf_steal(&b);
}

/* Done when the file is an evaluation of this discussion by this judge,
 * made under this config (digest) and model file. */
static bool is_complete(const char *path, const char *id, const char *judge,
			const char *digest, const json_t *model)
{
	char *text = NULL;
	if (sd_file_read(path, &text, NULL, NULL) != SD_OK)
		return false;
	json_t *j = json_loads(text, 0, NULL);
	free(text);
	const char *c = json_string_value(json_object_get(j, "conv_id"));
	const char *jn = json_string_value(json_object_get(j, "judge"));
	const char *d = json_string_value(json_object_get(j, "config_digest"));
	bool ok = sd__eval_is_file(j) && c && !strcmp(c, id) && jn &&
		  !strcmp(jn, judge) && d && !strcmp(d, digest);
	if (ok && model)
		ok = json_equal(
		    json_object_get(json_object_get(j, "model_file"), "sha256"),
		    json_object_get(model, "sha256"));
	json_decref(j);
	return ok;
}

static size_t ew_n_groups(void *wp) { return ((ev_work *)wp)->g.n; }

static sd_backend *ew_open_backend(void *wp, size_t g, int32_t parallel, sd_error *err)
{
	ev_work *w = wp;
	const ev_judge *x = &w->v->judges[w->g.first[g]];
	return sd__run_backend_open(&x->backend, w->v->path, parallel,
				    w->p->default_model, err);
}

static bool ew_next_item(void *wp, size_t g, size_t *cursor, size_t *item,
			 size_t *skipped)
{
	ev_work *w = wp;
	size_t n = w->v->n_logs;
	for (; *cursor < w->v->n_judges * n; (*cursor)++) {
		size_t x = *cursor / n, l = *cursor % n;
		if (w->g.of[x] != g || l % w->p->shard_count != w->p->shard_index)
			continue;
		char *path =
		    out_path(w->p->out_dir, w->v->judges[x].name, w->v->logs[l].file);
		bool done =
		    path && is_complete(path, w->v->logs[l].id, w->v->judges[x].name,
					w->v->digest, ev_model(w, x));
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

static void ew_item_name(void *wp, size_t item, char *buf, size_t size)
{
	ev_work *w = wp;
	size_t n = w->v->n_logs;
	snprintf(buf, size, "evaluation by %s of %s", w->v->judges[item / n].name,
		 w->v->logs[item % n].path);
}

static void ew_job_free(void *jp)
{
	ev_job *j = jp;
	if (!j)
		return;
	sd_actor_free(j->actor);
	sd_logs_free(j->log);
	free(j->model);
	sd_free(j->system);
	sd_free(j->user);
	free(j->reply);
	json_decref(j->scores);
	free(j);
}

static void *ew_job_create(void *wp, size_t item, sd_backend *b, sd_error *err)
{
	ev_work *w = wp;
	const sd_evaluate *v = w->v;
	sd_comment_view *views = NULL;
	ev_job *j = calloc(1, sizeof(*j));
	if (!j || !(j->model = strdup(sd_backend_model_name(b)))) {
		free(j);
		sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
		return NULL;
	}
	j->w = w;
	j->x = &v->judges[item / v->n_logs];
	j->l = &v->logs[item % v->n_logs];
	if (sd_logs_load(j->l->path, &j->log, err))
		goto fail;
	sd_actor_params ap = sd_actor_default_params();
	ap.persona = j->x->persona;
	ap.model_name = j->model;
	ap.context = j->x->context;
	ap.instructions = j->x->instructions;
	ap.kind = SD_ACTOR_ANNOTATOR;
	ap.profile = v->profile;
	ap.name = j->x->name;
	ap.templates = sd_prompt_templates_default();
	ap.templates.annotator_prompt = v->prompt;
	if (!(j->actor = sd_actor_create(&ap, err)))
		goto fail;
	size_t n = sd_logs_comment_count(j->log), k = 0;
	if (!(views = calloc(n + 1, sizeof(*views))))
		goto oom;
	for (size_t i = 0; i < n; i++) {
		sd_log_comment c = sd_logs_comment(j->log, i);
		if (!v->include_moderator && c.is_moderator)
			continue;
		views[k].name = c.name;
		views[k++].text = c.text;
	}
	if (sd_actor_system_prompt(j->actor, &j->system) ||
	    sd_actor_user_prompt(j->actor, views, k, &j->user))
		goto oom;
	free(views);
	return j;
oom:
	sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
fail:
	free(views);
	ew_job_free(j);
	return NULL;
}

static int ew_job_next(void *jp, sd_request *req)
{
	ev_job *j = jp;
	if (j->done)
		return SD__LOOP_DONE;
	if (j->asked)
		return SD__LOOP_WAIT;
	memset(req, 0, sizeof(*req));
	req->tag = (uint64_t)j->attempts;
	req->system_prompt = j->system;
	req->user_prompt = j->user;
	req->sampling = j->x->sampling;
	/* a new seed per attempt: a retry must not repeat the reply */
	uint64_t s = sd__seed_mix(
	    j->x->seed, sd__fnv1a64(j->l->id, strlen(j->l->id), SD_FNV1A64_INIT));
	req->sampling.seed = (uint32_t)sd__seed_mix(s, (uint64_t)j->attempts);
	req->grammar = j->x->rubric->grammar;
	j->asked = true;
	if (j->w->p->on_request)
		j->w->p->on_request(j->x->name, "judge", req, j->w->p->ud);
	return SD__LOOP_OFFER;
}

static int ew_job_accept(void *jp, uint64_t key, const sd_reply *rep)
{
	ev_job *j = jp;
	(void)key;
	j->asked = false;
	j->attempts++;
	free(j->reply);
	if (!(j->reply = strdup(rep->text ? rep->text : "")))
		return SD_ENOMEM;
	int rc = sd__rubric_parse_reply(j->x->rubric, j->reply, &j->scores);
	if (rc == SD_ENOMEM)
		return rc;
	if (rc == SD_OK || j->attempts > j->w->v->max_retries)
		j->done = true;
	return SD_OK;
}

static int ew_job_save(void *wp, void *jp, size_t item, sd_error *err)
{
	ev_work *w = wp;
	ev_job *j = jp;
	char ts[32];
	sd_timestamp_now(ts, sizeof(ts));
	json_t *o = json_object();
	json_t *rj = sd__rubric_json(j->x->rubric);
	const json_t *model = ev_model(w, item / w->v->n_logs);
	int bad = !o || !rj;
	bad = bad || json_object_set_new(o, "conv_id", json_string(j->l->id));
	bad = bad || json_object_set_new(o, "judge", json_string(j->x->name));
	bad = bad ||
	      json_object_set_new(o, "judge_model", sd__json_string_repair(j->model));
	bad = bad || json_object_set_new(o, "timestamp", json_string(ts));
	bad = bad || json_object_set_new(o, "source", sd__json_string_repair(j->l->path));
	bad = bad || json_object_set_new(o, "cell",
					 j->l->cell ? sd__json_string_repair(j->l->cell)
						    : json_null());
	bad = bad || json_object_set_new(o, "rubric", rj);
	rj = NULL;
	bad = bad || json_object_set_new(
			 o, "scores", j->scores ? json_incref(j->scores) : json_null());
	bad = bad || json_object_set_new(o, "status",
					 json_string(j->scores ? "ok" : "unparsed"));
	bad = bad || json_object_set_new(o, "reply", sd__json_string_repair(j->reply));
	bad = bad || json_object_set_new(o, "attempts", json_integer(j->attempts));
	bad = bad ||
	      json_object_set_new(o, "judge_prompt", sd__json_string_repair(j->system));
	bad = bad || json_object_set_new(o, "seed", json_integer((json_int_t)j->x->seed));
	bad = bad || json_object_set_new(o, "config_digest", json_string(w->v->digest));
	if (model)
		bad = bad || json_object_set(o, "model_file", (json_t *)model);
	char *text =
	    bad ? NULL
		: json_dumps(o, JSON_INDENT(4) | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
	json_decref(o);
	json_decref(rj);
	if (!text)
		return sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
	char *path = out_path(w->p->out_dir, j->x->name, j->l->file);
	int rc = path ? sd_file_write_atomic(path, text, strlen(text), err)
		      : sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
	free(path);
	free(text);
	return rc;
}

static const sd__loop_ops ev_ops = {
    .n_groups = ew_n_groups,
    .open_backend = ew_open_backend,
    .next_item = ew_next_item,
    .job_create = ew_job_create,
    .job_next = ew_job_next,
    .job_accept = ew_job_accept,
    .job_save = ew_job_save,
    .job_free = ew_job_free,
    .item_name = ew_item_name,
};

/* OUT/evaluate.json: the config, its digest and the model files. */
static char *manifest_json(const sd_evaluate *v, json_t *model_files)
{
	json_t *j = json_object();
	char *s = NULL;
	if (j && !json_object_set_new(j, "config_digest", json_string(v->digest)) &&
	    !json_object_set_new(j, "source", json_string(v->path)) &&
	    !json_object_set(j, "evaluate_config", v->root) &&
	    !json_object_set(j, "model_files", model_files))
		s = json_dumps(j, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
	json_decref(j);
	return s;
}

static const char *ev_backend_key(const void *v, size_t x)
{
	return ((const sd_evaluate *)v)->judges[x].backend_key;
}

int sd_evaluate_run(sd_evaluate *v, const sd_run_params *p, sd_run_progress *progress,
		    sd_error *err)
{
	ev_work w;
	sd_run_progress local;
	int rc, created = 0;

	if (!progress)
		progress = &local;
	memset(progress, 0, sizeof(*progress));
	if (!v || !p)
		return sd__error_set(err, SD_EINVAL, NULL, NULL,
				     "no config or run parameters");
	memset(&w, 0, sizeof(w));
	w.v = v;
	w.p = p;
	if (!(w.model_files = json_array()))
		return sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
	for (size_t x = 0; x < v->n_judges; x++) {
		json_t *id = NULL;
		if ((rc = sd__run_model_identity(&v->judges[x].backend, v->path,
						 p->default_model, &id, err)))
			goto out_models;
		if (json_array_append_new(
			w.model_files, json_pack("{s:s,s:o}", "name", v->judges[x].name,
						 "model_file", id ? id : json_null()))) {
			rc = sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
			goto out_models;
		}
	}
	char *manifest = manifest_json(v, w.model_files);
	if (!manifest) {
		rc = sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
		goto out_models;
	}
	rc = sd__store_prepare(p, "evaluate.json", v->digest, manifest, "evaluations",
			       &created, err);
	free(manifest);
	if (rc)
		goto out_models;
	if ((rc = sd__groups_build(&w.g, v->n_judges, ev_backend_key, v, err))) {
		sd__store_unprepare(p, "evaluate.json", created);
		goto out_models;
	}
	for (size_t x = 0; x < v->n_judges; x++) {
		char *dir = out_path(p->out_dir, v->judges[x].name, NULL);
		rc = sd__store_subdir(dir, err);
		free(dir);
		if (rc)
			goto out;
		for (size_t l = 0; l < v->n_logs; l++)
			if (l % p->shard_count == p->shard_index)
				progress->total++;
	}
	rc = sd__loop_run(&ev_ops, &w, p, progress, err);
out:
	if (rc && progress->done == 0)
		sd__store_unprepare(p, "evaluate.json", created);
	sd__groups_free(&w.g);
	if (rc == SD_OK && progress->failed > 0)
		rc = sd__error_set(
		    err, SD_EBACKEND, NULL, NULL,
		    "%zu evaluation(s) failed; run the same command again to retry them",
		    progress->failed);
out_models:
	json_decref(w.model_files);
	return rc;
}

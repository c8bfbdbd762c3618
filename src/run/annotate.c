/*
 * Annotation runs: every annotator over every discussion log found under
 * the inputs, through the same scheduler loop as discussions. An item is
 * (annotator, log); its comments are independent requests, so a whole
 * directory is one big batch. Each finished annotation goes to
 * OUT/<annotator>/<conv-id>.json atomically; complete files are skipped
 * on the next run, and the annotation of (annotator, log) depends only on
 * the run seed, the annotator's name and the message ids.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/core.h"
#include "run/backend_open.h"
#include "run/config_common.h"
#include "run/files.h"
#include "run/log_walk.h"
#include "run/logcompat.h"
#include "run/loop.h"
#include "run/model_id.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/hash.h"
#include "util/pytext.h"
#include "util/rng.h"

#include "run/annotate.h"

static const char *const top_keys[] = {
    "seed",	  "discussions",  "output_dir", "history_ctx_len", "include_moderator",
    "context",	  "context_file", "sampling",	"backend",	   "templates",
    "annotators", "max_retries",  "syndisco",	"remove_strings",  "textwrap_len",
};
static const char *const ann_keys[] = {
    "name",	      "persona",	 "context",
    "context_file",   "instructions",	 "instructions_file",
    "label",	      "history_ctx_len", "include_moderator",
    "sampling",	      "backend",	 "actor_name",
    "remove_strings",
};

/* ---------------- finding logs ---------------- */

static int cmp_log(const void *a, const void *b)
{
	return strcmp(((const sd__ann_log *)a)->path, ((const sd__ann_log *)b)->path);
}

static int add_path(sd_annotate *a, const char *path, bool named)
{
	if (a->n_logs == a->cap_logs) {
		size_t cap = a->cap_logs ? 2 * a->cap_logs : 64;
		sd__ann_log *l = realloc(a->logs, cap * sizeof(*l));
		if (!l)
			return SD_ENOMEM;
		a->logs = l;
		a->cap_logs = cap;
	}
	memset(&a->logs[a->n_logs], 0, sizeof(sd__ann_log));
	if (!(a->logs[a->n_logs].path = strdup(path)))
		return SD_ENOMEM;
	a->logs[a->n_logs].named = named;
	a->n_logs++;
	return SD_OK;
}

static int add_found(const char *path, void *ud) { return add_path(ud, path, false); }

/* A log named on its own, or the logs under a directory (not the
 * manifests of runs and annotations that sit among them). */
static int walk(sd_annotate *a, const char *path, sd__dirset *seen, sd_error *err)
{
	static const char *const manifests[] = {"run.json", "annotate.json",
						"evaluate.json", NULL};
	struct stat st;
	if (stat(path, &st) != 0)
		return sd__error_set(err, SD_ENOTFOUND, path, NULL, "cannot open: %s",
				     strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return add_path(a, path, true)
			   ? sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory")
			   : SD_OK;
	return sd__log_walk(path, manifests, seen, add_found, a, err);
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

/* Whether a file is an annotation file of any version (SynDisco 2.2.1's
 * look like discussion logs), so a directory walk can pass it by. */
static int is_annotation_file(const char *path, bool *yes, sd_error *err)
{
	char *text = NULL;
	int rc = sd_file_read(path, &text, NULL, err);
	if (rc)
		return rc;
	json_t *root = json_loads(text, 0, NULL);
	free(text);
	*yes = sd__lc_is_annotation(root); /* bad JSON: the loader says why */
	json_decref(root);
	return SD_OK;
}

/* Load each log once: it must be a discussion, ids unique. A log without
 * an id (SynDisco 2.1+) is named by the id derived from its content. */
static int check_logs(sd_annotate *a, sd_error *err)
{
	if (a->n_logs)
		qsort(a->logs, a->n_logs, sizeof(*a->logs), cmp_log);
	size_t kept = 0;
	for (size_t i = 0; i < a->n_logs; i++) {
		sd__ann_log *l = &a->logs[i];
		bool annotation = false;
		int rc = is_annotation_file(l->path, &annotation, err);
		if (rc)
			return rc;
		if (annotation && l->named)
			return sd__error_set(err, SD_EINVAL, l->path, NULL,
					     "an annotation file, not a discussion log");
		if (annotation) {
			free(l->path);
			l->path = NULL;
			continue; /* annotations may live next to the logs */
		}
		/* move, leaving no second owner of the strings behind */
		sd__ann_log moved = *l;
		memset(l, 0, sizeof(*l));
		a->logs[kept++] = moved;
		l = &a->logs[kept - 1];
		sd_logs *lg = NULL;
		rc = sd_logs_load(l->path, &lg, err);
		if (rc)
			return rc; /* err names the file and field */
		if (sd__lc_ensure_id(lg)) {
			sd_logs_free(lg);
			return sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
		}
		const char *id = sd_logs_id(lg);
		l->id = strdup(id);
		l->file = safe_file_name(id);
		sd_logs_free(lg);
		if (!l->id || !l->file)
			return sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
	}
	a->n_logs = kept;
	for (size_t i = 0; i < a->n_logs; i++)
		for (size_t j = i + 1; j < a->n_logs; j++)
			if (strcmp(a->logs[i].file, a->logs[j].file) == 0)
				return sd__error_set(err, SD_EINVAL, a->logs[j].path,
						     "id",
						     "\"%s\" is also the id of %s; each "
						     "discussion must be given once",
						     a->logs[j].id, a->logs[i].path);
	return SD_OK;
}

/* ---------------- config ---------------- */

static void annotator_clear(sd__annotator *x)
{
	free(x->name);
	free(x->actor_name);
	free(x->remove);
	json_decref(x->json);
	sd_persona_free(x->persona);
	free(x->context);
	free(x->instructions);
	sd_label_spec_free(x->label);
	sd__cfg_backend_clear(&x->backend);
	free(x->backend_key);
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

static int parse_annotator(sd_annotate *a, size_t i, const json_t *o, const char *context,
			   sd_error *err)
{
	sd__annotator *x = &a->ann[i];
	char prefix[64];
	int rc;
	snprintf(prefix, sizeof(prefix), "annotators[%zu]", i);
	if (!json_is_object(o))
		return sd__error_set(err, SD_EINVAL, a->path, prefix,
				     "must be an object {name, instructions, ...}");
	if ((rc = sd__cfg_check_keys(o, ann_keys, sizeof(ann_keys) / sizeof(ann_keys[0]),
				     a->path, "", err))) {
		sd__cfg_prefix_field(err, prefix, ".");
		return rc;
	}
	char f[128];
	snprintf(f, sizeof(f), "%s.name", prefix);
	if ((rc = sd__cfg_get_str(o, "name", f, a->path, &x->name, err)))
		return rc;
	if (!x->name || !valid_name(x->name))
		return sd__error_set(err, SD_EINVAL, a->path, f,
				     "needs a name of letters, digits, '-', '_' and '.' "
				     "(it names the output directory)");
	for (size_t k = 0; k < i; k++)
		if (strcmp(a->ann[k].name, x->name) == 0)
			return sd__error_set(err, SD_EINVAL, a->path, f,
					     "\"%s\" is used twice", x->name);
	snprintf(f, sizeof(f), "%s.", prefix);
	if ((rc = sd__cfg_text(o, "instructions", f, a->path, a->dir, &x->instructions,
			       err)))
		return rc;
	if (!x->instructions ||
	    strspn(x->instructions, " \t\r\n") == strlen(x->instructions)) {
		snprintf(f, sizeof(f), "%s.instructions", prefix);
		return sd__error_set(err, SD_EINVAL, a->path, f,
				     "missing: an annotator needs instructions (what to "
				     "label and how), inline or as instructions_file");
	}
	if ((rc = sd__cfg_text(o, "context", f, a->path, a->dir, &x->context, err)))
		return rc;
	if (!x->context && !(x->context = strdup(context ? context : "")))
		return sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
	snprintf(f, sizeof(f), "%s.actor_name", prefix);
	if ((rc = sd__cfg_get_str(o, "actor_name", f, a->path, &x->actor_name, err)))
		return rc;
	snprintf(f, sizeof(f), "%s.remove_strings", prefix);
	if (json_object_get(o, "remove_strings")) {
		if ((rc = sd__cfg_string_list(o, "remove_strings", f, a->path, &x->remove,
					      &x->n_remove, err)))
			return rc;
	} else if ((rc = sd__cfg_string_list(a->root, "remove_strings", "remove_strings",
					     a->path, &x->remove, &x->n_remove, err))) {
		return rc;
	}
	const json_t *p = json_object_get(o, "persona");
	if (p && !json_is_null(p)) {
		/* SynDisco 2.2.1 personas are any object, username or not */
		if (!json_is_object(p)) {
			snprintf(f, sizeof(f), "%s.persona", prefix);
			return sd__error_set(err, SD_EINVAL, a->path, f,
					     "must be a persona object");
		}
		if (!(x->persona = sd__persona_from_object(p)))
			return sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
	} else {
		char text[256];
		snprintf(text, sizeof(text), "{\"username\": \"%s\"}", x->name);
		if (!(x->persona = sd_persona_from_json(text, err)))
			return err->code;
	}
	const json_t *label = json_object_get(o, "label");
	if (label && !json_is_null(label)) {
		char *text = json_dumps(label, JSON_ENCODE_ANY);
		snprintf(f, sizeof(f), "%s.label", prefix);
		rc = text ? sd_label_spec_parse(text, a->path, f, &x->label, err)
			  : SD_ENOMEM;
		free(text);
		if (rc)
			return rc == SD_ENOMEM && !err->text[0]
				   ? sd__error_set(err, rc, NULL, NULL, "out of memory")
				   : rc;
		char why[256];
		if (sd_grammar_check(sd_label_spec_grammar(x->label), why, sizeof(why))) {
			snprintf(f, sizeof(f), "%s.label%s", prefix,
				 json_object_get(label, "grammar") ? ".grammar" : "");
			return sd__error_set(err, SD_EINVAL, a->path, f,
					     "the grammar does not parse: %s", why);
		}
	}
	/* per-annotator overrides of the top-level settings */
	long long v = a->ann[i].history_ctx_len;
	snprintf(f, sizeof(f), "%s.history_ctx_len", prefix);
	if ((rc = sd__cfg_get_int(o, "history_ctx_len", f, a->path, 0, 1 << 20, &v, err)))
		return rc;
	x->history_ctx_len = (int32_t)v;
	const json_t *im = json_object_get(o, "include_moderator");
	if (im && !json_is_boolean(im)) {
		snprintf(f, sizeof(f), "%s.include_moderator", prefix);
		return sd__error_set(err, SD_EINVAL, a->path, f, "must be true or false");
	}
	if (im)
		x->include_moderator = json_is_true(im);
	const json_t *sm = json_object_get(o, "sampling");
	if (!sm)
		sm = json_object_get(a->root, "sampling");
	/* what the config leaves out is config.md's default, as for users:
	   greedy, as SynDisco decodes */
	x->sampling = sd_sampling_default();
	x->sampling.temperature = 0.0f;
	if ((rc = sd__cfg_sampling(sm, a->path, &x->sampling, err))) {
		if (json_object_get(o, "sampling"))
			sd__cfg_prefix_field(err, prefix, ".");
		return rc;
	}
	if (!sm || !json_object_get(sm, "max_tokens"))
		x->sampling.max_tokens = 64;
	const json_t *bk = json_object_get(o, "backend");
	if (!bk)
		bk = json_object_get(a->root, "backend");
	if ((rc = sd__cfg_backend_parse(bk, a->path, a->dir, &x->backend, err))) {
		if (json_object_get(o, "backend"))
			sd__cfg_prefix_field(err, prefix, ".");
		return rc;
	}
	x->json = json_deep_copy(o);
	if (!x->json ||
	    json_object_set_new(x->json, "backend",
				bk ? json_deep_copy(bk) : json_object()) ||
	    json_object_set_new(x->json, "context", json_string(x->context)) ||
	    json_object_set_new(x->json, "instructions", json_string(x->instructions)))
		return sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
	json_object_del(x->json, "context_file");
	json_object_del(x->json, "instructions_file");
	x->backend_key = json_dumps(json_object_get(x->json, "backend"),
				    JSON_SORT_KEYS | JSON_COMPACT);
	if (!x->backend_key)
		return sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
	x->seed =
	    sd__seed_mix(a->seed, sd__fnv1a64(x->name, strlen(x->name), SD_FNV1A64_INIT));
	return SD_OK;
}

static int update_digest(sd_annotate *a)
{
	json_t *j = json_object();
	json_t *arr = json_array();
	if (!j || !arr) {
		json_decref(j);
		json_decref(arr);
		return SD_ENOMEM;
	}
	json_object_set_new(j, "seed", json_integer((json_int_t)a->seed));
	json_object_set_new(j, "max_retries", json_integer(a->max_retries));
	json_object_set(j, "templates", json_object_get(a->root, "templates"));
	for (size_t i = 0; i < a->n_ann; i++) {
		json_t *x = json_deep_copy(a->ann[i].json);
		if (x) {
			json_object_set_new(x, "history_ctx_len",
					    json_integer(a->ann[i].history_ctx_len));
			json_object_set_new(x, "include_moderator",
					    json_boolean(a->ann[i].include_moderator));
		}
		json_array_append_new(arr, x);
	}
	json_object_set_new(j, "annotators", arr);
	char *canon = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
	json_decref(j);
	if (!canon)
		return SD_ENOMEM;
	uint64_t h = sd__fnv1a64(canon, strlen(canon), SD_FNV1A64_INIT);
	uint64_t h2 = sd__fnv1a64(canon, strlen(canon), h ^ 0x5bd1e995ULL);
	free(canon);
	snprintf(a->digest, sizeof(a->digest), "%016llx%016llx", (unsigned long long)h,
		 (unsigned long long)h2);
	return SD_OK;
}

void sd_annotate_free(sd_annotate *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->n_ann; i++)
		annotator_clear(&a->ann[i]);
	free(a->ann);
	for (size_t i = 0; i < a->n_logs; i++) {
		free(a->logs[i].path);
		free(a->logs[i].id);
		free(a->logs[i].file);
	}
	free(a->logs);
	json_decref(a->root);
	free(a->output_dir);
	free(a->path);
	free(a->dir);
	free(a);
}

static int find_inputs_in(sd_annotate *a, const char *const *inputs, size_t n_inputs,
			  sd__dirset *seen, sd_error *err)
{
	int rc = SD_OK;
	if (n_inputs > 0) {
		for (size_t i = 0; i < n_inputs && rc == SD_OK; i++)
			rc = walk(a, inputs[i], seen, err);
		return rc;
	}
	const json_t *d = json_object_get(a->root, "discussions");
	if (json_is_string(d)) {
		char *p = sd__cfg_resolve(a->dir, json_string_value(d));
		rc = p ? walk(a, p, seen, err) : SD_ENOMEM;
		free(p);
		return rc;
	}
	if (!json_is_array(d) || json_array_size(d) == 0)
		return sd__error_set(err, SD_EINVAL, a->path, "discussions",
				     "missing: give the discussion logs to annotate (a "
				     "directory, a file or a list of them) in the config "
				     "or on the command line");
	for (size_t i = 0; i < json_array_size(d) && rc == SD_OK; i++) {
		const char *s = json_string_value(json_array_get(d, i));
		if (!s)
			return sd__error_set(err, SD_EINVAL, a->path, "discussions",
					     "entry %zu is not a path string", i);
		char *p = sd__cfg_resolve(a->dir, s);
		rc = p ? walk(a, p, seen, err) : SD_ENOMEM;
		free(p);
	}
	return rc;
}

static int find_inputs(sd_annotate *a, const char *const *inputs, size_t n_inputs,
		       sd_error *err)
{
	sd__dirset seen = {0};
	int rc = find_inputs_in(a, inputs, n_inputs, &seen, err);
	sd__run_dirset_free(&seen);
	return rc;
}

int sd_annotate_load(const char *path, const char *const *inputs, size_t n_inputs,
		     sd_annotate **out, sd_error *err)
{
	sd_annotate *a = NULL;
	char *context = NULL;
	int rc;

	*out = NULL;
	a = calloc(1, sizeof(*a));
	if (!a || !(a->path = strdup(path)) || !(a->dir = sd__cfg_dirname(path))) {
		rc = sd__error_set(err, SD_ENOMEM, path, NULL, "out of memory");
		goto out;
	}
	if ((rc = sd__cfg_load_object(path, "an annotation config", &a->root, err)))
		goto out;
	if ((rc = sd__cfg_check_keys(a->root, top_keys,
				     sizeof(top_keys) / sizeof(top_keys[0]), path, "",
				     err)))
		goto out;
	long long seed = 42, hist = 2, retries = 2;
	a->templates = sd_prompt_templates_default();
	if ((rc = sd__cfg_get_int(a->root, "seed", "seed", path, 0, INT64_MAX, &seed,
				  err)) ||
	    (rc = sd__cfg_get_int(a->root, "history_ctx_len", "history_ctx_len", path, 0,
				  1 << 20, &hist, err)) ||
	    (rc = sd__cfg_get_int(a->root, "max_retries", "max_retries", path, 0, 100,
				  &retries, err)) ||
	    (rc = sd__cfg_get_str(a->root, "output_dir", "output_dir", path,
				  &a->output_dir, err)) ||
	    (rc = sd__cfg_text(a->root, "context", "", path, a->dir, &context, err)) ||
	    (rc = sd__cfg_templates(json_object_get(a->root, "templates"), path,
				    &a->templates, err)) ||
	    (rc = sd__cfg_profile(a->root, path, &a->profile, err)))
		goto out;
	long long tw = 900000;
	if ((rc = sd__cfg_get_int(a->root, "textwrap_len", "textwrap_len", path, 1,
				  INT32_MAX, &tw, err)))
		goto out;
	a->textwrap_len = (int32_t)tw;
	a->seed = (uint64_t)seed;
	a->max_retries = (int32_t)retries;
	/* output_dir is relative to the working directory, as for `run` */
	const json_t *im = json_object_get(a->root, "include_moderator");
	if (im && !json_is_boolean(im)) {
		rc = sd__error_set(err, SD_EINVAL, path, "include_moderator",
				   "must be true or false");
		goto out;
	}
	const json_t *arr = json_object_get(a->root, "annotators");
	if (!json_is_array(arr) || json_array_size(arr) == 0) {
		rc = sd__error_set(
		    err, SD_EINVAL, path, "annotators",
		    "missing: a list of annotators, each {name, instructions, ...}");
		goto out;
	}
	a->ann = calloc(json_array_size(arr), sizeof(*a->ann));
	if (!a->ann) {
		rc = sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < json_array_size(arr); i++) {
		a->ann[i].history_ctx_len = (int32_t)hist;
		a->ann[i].include_moderator = im ? json_is_true(im) : true;
		a->n_ann = i + 1;
		if ((rc = parse_annotator(a, i, json_array_get(arr, i), context, err)))
			goto out;
	}
	if ((rc = find_inputs(a, inputs, n_inputs, err)) || (rc = check_logs(a, err)))
		goto out;
	if (a->n_logs == 0) {
		rc = sd__error_set(err, SD_ENOTFOUND, path, "discussions",
				   "no discussion logs (*.json) found in the inputs");
		goto out;
	}
	if (update_digest(a)) {
		rc = sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
		goto out;
	}
	*out = a;
	a = NULL;
out:
	free(context);
	sd_annotate_free(a);
	return rc;
}

int sd_annotate_set_model(sd_annotate *a, const char *path)
{
	if (!a || !path)
		return SD_EINVAL;
	for (size_t i = 0; i < a->n_ann; i++) {
		sd__annotator *x = &a->ann[i];
		json_t *b = json_object_get(x->json, "backend");
		if (!b || json_object_set_new(b, "model", json_string(path)))
			return SD_ENOMEM;
		char *m = strdup(path);
		if (!m)
			return SD_ENOMEM;
		free(x->backend.model);
		x->backend.model = m;
		free(x->backend_key);
		if (!(x->backend_key = json_dumps(b, JSON_SORT_KEYS | JSON_COMPACT)))
			return SD_ENOMEM;
	}
	return update_digest(a);
}

const char *sd_annotate_output_dir(const sd_annotate *a)
{
	return a ? a->output_dir : NULL;
}

const char *sd_annotate_digest(const sd_annotate *a) { return a ? a->digest : NULL; }

size_t sd_annotate_log_count(const sd_annotate *a) { return a ? a->n_logs : 0; }

size_t sd_annotate_annotator_count(const sd_annotate *a) { return a ? a->n_ann : 0; }

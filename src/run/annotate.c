/*
 * Annotation runs: every annotator over every discussion log found under
 * the inputs, through the same scheduler loop as discussions. An item is
 * (annotator, log); its comments are independent requests, so a whole
 * directory is one big batch. Each finished annotation goes to
 * OUT/<annotator>/<conv-id>.json atomically; complete files are skipped
 * on the next run, and the annotation of (annotator, log) depends only on
 * the run seed, the annotator's name and the message ids.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/core.h"
#include "run/backend_open.h"
#include "run/config_common.h"
#include "run/logcompat.h"
#include "run/files.h"
#include "run/model_id.h"
#include "run/sched.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/hash.h"
#include "util/pytext.h"
#include "util/rng.h"

typedef struct ann_annotator {
	char *name;
	char *actor_name;    /* the seed's LLMActor name; NULL: name */
	const char **remove; /* remove_strings (borrowed from root) */
	size_t n_remove;
	json_t *json; /* resolved: files inlined, defaults applied */
	sd_persona *persona;
	char *context;
	char *instructions;
	sd_label_spec *label;
	int32_t history_ctx_len;
	bool include_moderator;
	sd_sampling sampling;
	cfg_backend backend;
	char *backend_key;
	uint64_t seed;          /* mix(run seed, hash(name)) */
} ann_annotator;

typedef struct ann_log {
	char *path;
	char *id;
	char *file;             /* id made safe as a file name */
	bool named;		/* given as a file, not found in a directory */
} ann_log;

struct sd_annotate {
	char *path;
	char *dir;
	json_t *root;
	uint64_t seed;
	int32_t max_retries;
	char *output_dir;
	sd_prompt_templates templates; /* strings borrowed from root */
	sd_profile profile;
	int32_t textwrap_len;
	ann_annotator *ann;
	size_t n_ann;
	ann_log *logs;
	size_t n_logs, cap_logs;
	char digest[33];
};

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
	return strcmp(((const ann_log *)a)->path, ((const ann_log *)b)->path);
}

static int add_path(sd_annotate *a, const char *path, bool named)
{
	if (a->n_logs == a->cap_logs) {
		size_t cap = a->cap_logs ? 2 * a->cap_logs : 64;
		ann_log *l = realloc(a->logs, cap * sizeof(*l));
		if (!l)
			return SD_ENOMEM;
		a->logs = l;
		a->cap_logs = cap;
	}
	memset(&a->logs[a->n_logs], 0, sizeof(ann_log));
	if (!(a->logs[a->n_logs].path = strdup(path)))
		return SD_ENOMEM;
	a->logs[a->n_logs].named = named;
	a->n_logs++;
	return SD_OK;
}

static bool ends_with(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);
	return n >= m && strcmp(s + n - m, suf) == 0;
}

static int walk(sd_annotate *a, const char *path, int depth, run_dirset *seen,
		sd_error *err)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return sd_error_set(err, SD_ENOTFOUND, path, NULL, "cannot open: %s",
				    strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return add_path(a, path, depth == 0)
			   ? sd_error_set(err, SD_ENOMEM, NULL, NULL, "out of memory")
			   : SD_OK;
	/* a link back to a directory walked already (ln -s . a) */
	int r = run_dirset_add(seen, path);
	if (r)
		return r == 1 ? SD_OK : sd_error_set(err, SD_EIO, path, NULL,
						     "cannot read directory");
	if (depth > 32)
		return sd_error_set(err, SD_EINVAL, path, NULL, "directories nested too deep");
	DIR *d = opendir(path);
	if (!d)
		return sd_error_set(err, SD_EIO, path, NULL, "cannot open: %s", strerror(errno));
	struct dirent *de;
	int rc = SD_OK;
	while (rc == SD_OK && (de = readdir(d))) {
		const char *n = de->d_name;
		if (n[0] == '.')
			continue;
		sd_buf b;
		sd_buf_init(&b, 0);
		sd_buf_printf(&b, "%s/%s", path, n);
		char *child = sd_buf_steal(&b);
		if (!child) {
			rc = sd_error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
			break;
		}
		struct stat cs;
		bool st_ok = stat(child, &cs) == 0;
		if (st_ok && S_ISDIR(cs.st_mode))
			rc = walk(a, child, depth + 1, seen, err);
		/* regular files only: a FIFO named *.json would block the read */
		else if (st_ok && S_ISREG(cs.st_mode) && ends_with(n, ".json") &&
			 strcmp(n, "run.json") &&
			 strcmp(n, "annotate.json") && strcmp(n, "evaluate.json"))
			rc = add_path(a, child, false) ? SD_ENOMEM : SD_OK;
		if (rc == SD_ENOMEM)
			sd_error_set(err, rc, NULL, NULL, "out of memory");
		free(child);
	}
	closedir(d);
	return rc;
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
	*yes = lc_is_annotation(root); /* bad JSON: the loader says why */
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
		ann_log *l = &a->logs[i];
		bool annotation = false;
		int rc = is_annotation_file(l->path, &annotation, err);
		if (rc)
			return rc;
		if (annotation && l->named)
			return sd_error_set(err, SD_EINVAL, l->path, NULL,
					    "an annotation file, not a discussion log");
		if (annotation) {
			free(l->path);
			l->path = NULL;
			continue; /* annotations may live next to the logs */
		}
		/* move, leaving no second owner of the strings behind */
		ann_log moved = *l;
		memset(l, 0, sizeof(*l));
		a->logs[kept++] = moved;
		l = &a->logs[kept - 1];
		sd_logs *lg = NULL;
		rc = sd_logs_load(l->path, &lg, err);
		if (rc)
			return rc; /* err names the file and field */
		if (lc_ensure_id(lg)) {
			sd_logs_free(lg);
			return sd_error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
		}
		const char *id = sd_logs_id(lg);
		l->id = strdup(id);
		l->file = safe_file_name(id);
		sd_logs_free(lg);
		if (!l->id || !l->file)
			return sd_error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
	}
	a->n_logs = kept;
	for (size_t i = 0; i < a->n_logs; i++)
		for (size_t j = i + 1; j < a->n_logs; j++)
			if (strcmp(a->logs[i].file, a->logs[j].file) == 0)
				return sd_error_set(err, SD_EINVAL, a->logs[j].path, "id",
						    "\"%s\" is also the id of %s; each "
						    "discussion must be given once",
						    a->logs[j].id, a->logs[i].path);
	return SD_OK;
}

/* ---------------- config ---------------- */

static void annotator_clear(ann_annotator *x)
{
	free(x->name);
	free(x->actor_name);
	free(x->remove);
	json_decref(x->json);
	sd_persona_free(x->persona);
	free(x->context);
	free(x->instructions);
	sd_label_spec_free(x->label);
	cfg_backend_clear(&x->backend);
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

static int parse_annotator(sd_annotate *a, size_t i, const json_t *o,
			   const char *context, sd_error *err)
{
	ann_annotator *x = &a->ann[i];
	char prefix[64];
	int rc;
	snprintf(prefix, sizeof(prefix), "annotators[%zu]", i);
	if (!json_is_object(o))
		return sd_error_set(err, SD_EINVAL, a->path, prefix,
				    "must be an object {name, instructions, ...}");
	if ((rc = cfg_check_keys(o, ann_keys, sizeof(ann_keys) / sizeof(ann_keys[0]),
				 a->path, "", err))) {
		cfg_prefix_field(err, prefix, ".");
		return rc;
	}
	char f[128];
	snprintf(f, sizeof(f), "%s.name", prefix);
	if ((rc = cfg_get_str(o, "name", f, a->path, &x->name, err)))
		return rc;
	if (!x->name || !valid_name(x->name))
		return sd_error_set(err, SD_EINVAL, a->path, f,
				    "needs a name of letters, digits, '-', '_' and '.' "
				    "(it names the output directory)");
	for (size_t k = 0; k < i; k++)
		if (strcmp(a->ann[k].name, x->name) == 0)
			return sd_error_set(err, SD_EINVAL, a->path, f,
					    "\"%s\" is used twice", x->name);
	snprintf(f, sizeof(f), "%s.", prefix);
	if ((rc = cfg_text(o, "instructions", f, a->path, a->dir, &x->instructions, err)))
		return rc;
	if (!x->instructions || strspn(x->instructions, " \t\r\n") == strlen(x->instructions)) {
		snprintf(f, sizeof(f), "%s.instructions", prefix);
		return sd_error_set(err, SD_EINVAL, a->path, f,
				    "missing: an annotator needs instructions (what to "
				    "label and how), inline or as instructions_file");
	}
	if ((rc = cfg_text(o, "context", f, a->path, a->dir, &x->context, err)))
		return rc;
	if (!x->context && !(x->context = strdup(context ? context : "")))
		return sd_error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
	snprintf(f, sizeof(f), "%s.actor_name", prefix);
	if ((rc = cfg_get_str(o, "actor_name", f, a->path, &x->actor_name, err)))
		return rc;
	snprintf(f, sizeof(f), "%s.remove_strings", prefix);
	if (json_object_get(o, "remove_strings")) {
		if ((rc = cfg_string_list(o, "remove_strings", f, a->path, &x->remove,
					  &x->n_remove, err)))
			return rc;
	} else if ((rc = cfg_string_list(a->root, "remove_strings", "remove_strings",
					 a->path, &x->remove, &x->n_remove, err))) {
		return rc;
	}
	const json_t *p = json_object_get(o, "persona");
	if (p && !json_is_null(p)) {
		/* SynDisco 2.2.1 personas are any object, username or not */
		if (!json_is_object(p)) {
			snprintf(f, sizeof(f), "%s.persona", prefix);
			return sd_error_set(err, SD_EINVAL, a->path, f,
					    "must be a persona object");
		}
		if (!(x->persona = sd_persona_from_object(p)))
			return sd_error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
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
		rc = text ? sd_label_spec_parse(text, a->path, f, &x->label, err) : SD_ENOMEM;
		free(text);
		if (rc)
			return rc == SD_ENOMEM && !err->text[0]
				       ? sd_error_set(err, rc, NULL, NULL, "out of memory") : rc;
		char why[256];
		if (sd_grammar_check(sd_label_spec_grammar(x->label), why, sizeof(why))) {
			snprintf(f, sizeof(f), "%s.label%s", prefix,
				 json_object_get(label, "grammar") ? ".grammar" : "");
			return sd_error_set(err, SD_EINVAL, a->path, f,
					    "the grammar does not parse: %s", why);
		}
	}
	/* per-annotator overrides of the top-level settings */
	long long v = a->ann[i].history_ctx_len;
	snprintf(f, sizeof(f), "%s.history_ctx_len", prefix);
	if ((rc = cfg_get_int(o, "history_ctx_len", f, a->path, 0, 1 << 20, &v, err)))
		return rc;
	x->history_ctx_len = (int32_t)v;
	const json_t *im = json_object_get(o, "include_moderator");
	if (im && !json_is_boolean(im)) {
		snprintf(f, sizeof(f), "%s.include_moderator", prefix);
		return sd_error_set(err, SD_EINVAL, a->path, f, "must be true or false");
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
	if ((rc = cfg_sampling(sm, a->path, &x->sampling, err))) {
		if (json_object_get(o, "sampling"))
			cfg_prefix_field(err, prefix, ".");
		return rc;
	}
	if (!sm || !json_object_get(sm, "max_tokens"))
		x->sampling.max_tokens = 64;
	const json_t *bk = json_object_get(o, "backend");
	if (!bk)
		bk = json_object_get(a->root, "backend");
	if ((rc = cfg_backend_parse(bk, a->path, a->dir, &x->backend, err))) {
		if (json_object_get(o, "backend"))
			cfg_prefix_field(err, prefix, ".");
		return rc;
	}
	x->json = json_deep_copy(o);
	if (!x->json || json_object_set_new(x->json, "backend", bk ? json_deep_copy(bk) : json_object()) ||
	    json_object_set_new(x->json, "context", json_string(x->context)) ||
	    json_object_set_new(x->json, "instructions", json_string(x->instructions)))
		return sd_error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
	json_object_del(x->json, "context_file");
	json_object_del(x->json, "instructions_file");
	x->backend_key = json_dumps(json_object_get(x->json, "backend"),
				    JSON_SORT_KEYS | JSON_COMPACT);
	if (!x->backend_key)
		return sd_error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
	x->seed = sd_seed_mix(a->seed, sd_fnv1a64(x->name, strlen(x->name), SD_FNV1A64_INIT));
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
	uint64_t h = sd_fnv1a64(canon, strlen(canon), SD_FNV1A64_INIT);
	uint64_t h2 = sd_fnv1a64(canon, strlen(canon), h ^ 0x5bd1e995ULL);
	free(canon);
	snprintf(a->digest, sizeof(a->digest), "%016llx%016llx",
		 (unsigned long long)h, (unsigned long long)h2);
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
			  run_dirset *seen, sd_error *err)
{
	int rc = SD_OK;
	if (n_inputs > 0) {
		for (size_t i = 0; i < n_inputs && rc == SD_OK; i++)
			rc = walk(a, inputs[i], 0, seen, err);
		return rc;
	}
	const json_t *d = json_object_get(a->root, "discussions");
	if (json_is_string(d)) {
		char *p = cfg_resolve(a->dir, json_string_value(d));
		rc = p ? walk(a, p, 0, seen, err) : SD_ENOMEM;
		free(p);
		return rc;
	}
	if (!json_is_array(d) || json_array_size(d) == 0)
		return sd_error_set(err, SD_EINVAL, a->path, "discussions",
				    "missing: give the discussion logs to annotate (a "
				    "directory, a file or a list of them) in the config "
				    "or on the command line");
	for (size_t i = 0; i < json_array_size(d) && rc == SD_OK; i++) {
		const char *s = json_string_value(json_array_get(d, i));
		if (!s)
			return sd_error_set(err, SD_EINVAL, a->path, "discussions",
					    "entry %zu is not a path string", i);
		char *p = cfg_resolve(a->dir, s);
		rc = p ? walk(a, p, 0, seen, err) : SD_ENOMEM;
		free(p);
	}
	return rc;
}

static int find_inputs(sd_annotate *a, const char *const *inputs, size_t n_inputs,
		       sd_error *err)
{
	run_dirset seen = { 0 };
	int rc = find_inputs_in(a, inputs, n_inputs, &seen, err);
	run_dirset_free(&seen);
	return rc;
}

int sd_annotate_load(const char *path, const char *const *inputs,
		     size_t n_inputs, sd_annotate **out, sd_error *err)
{
	sd_annotate *a = NULL;
	char *text = NULL, *context = NULL;
	json_error_t jerr;
	int rc;

	*out = NULL;
	if ((rc = sd_file_read(path, &text, NULL, err)))
		return rc;
	a = calloc(1, sizeof(*a));
	if (!a || !(a->path = strdup(path)) || !(a->dir = cfg_dirname(path))) {
		rc = sd_error_set(err, SD_ENOMEM, path, NULL, "out of memory");
		goto out;
	}
	a->root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	if (!a->root) {
		rc = sd_error_set_at(err, SD_EPARSE, path, jerr.line, jerr.column, "%s",
				     jerr.text);
		goto out;
	}
	if (!json_is_object(a->root)) {
		rc = sd_error_set(err, SD_EINVAL, path, NULL,
				  "an annotation config must be a JSON object");
		goto out;
	}
	if ((rc = cfg_check_keys(a->root, top_keys, sizeof(top_keys) / sizeof(top_keys[0]),
				 path, "", err)))
		goto out;
	long long seed = 42, hist = 2, retries = 2;
	a->templates = sd_prompt_templates_default();
	if ((rc = cfg_get_int(a->root, "seed", "seed", path, 0, INT64_MAX, &seed, err)) ||
	    (rc = cfg_get_int(a->root, "history_ctx_len", "history_ctx_len", path, 0,
			      1 << 20, &hist, err)) ||
	    (rc = cfg_get_int(a->root, "max_retries", "max_retries", path, 0, 100,
			      &retries, err)) ||
	    (rc = cfg_get_str(a->root, "output_dir", "output_dir", path, &a->output_dir, err)) ||
	    (rc = cfg_text(a->root, "context", "", path, a->dir, &context, err)) ||
	    (rc = cfg_templates(json_object_get(a->root, "templates"), path,
				&a->templates, err)) ||
	    (rc = cfg_profile(a->root, path, &a->profile, err)))
		goto out;
	long long tw = 900000;
	if ((rc = cfg_get_int(a->root, "textwrap_len", "textwrap_len", path, 1, INT32_MAX,
			      &tw, err)))
		goto out;
	a->textwrap_len = (int32_t)tw;
	a->seed = (uint64_t)seed;
	a->max_retries = (int32_t)retries;
	/* output_dir is relative to the working directory, as for `run` */
	const json_t *im = json_object_get(a->root, "include_moderator");
	if (im && !json_is_boolean(im)) {
		rc = sd_error_set(err, SD_EINVAL, path, "include_moderator",
				  "must be true or false");
		goto out;
	}
	const json_t *arr = json_object_get(a->root, "annotators");
	if (!json_is_array(arr) || json_array_size(arr) == 0) {
		rc = sd_error_set(err, SD_EINVAL, path, "annotators",
				  "missing: a list of annotators, each {name, instructions, ...}");
		goto out;
	}
	a->ann = calloc(json_array_size(arr), sizeof(*a->ann));
	if (!a->ann) {
		rc = sd_error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
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
		rc = sd_error_set(err, SD_ENOTFOUND, path, "discussions",
				  "no discussion logs (*.json) found in the inputs");
		goto out;
	}
	if (update_digest(a)) {
		rc = sd_error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
		goto out;
	}
	*out = a;
	a = NULL;
out:
	free(text);
	free(context);
	sd_annotate_free(a);
	return rc;
}

int sd_annotate_set_model(sd_annotate *a, const char *path)
{
	if (!a || !path)
		return SD_EINVAL;
	for (size_t i = 0; i < a->n_ann; i++) {
		ann_annotator *x = &a->ann[i];
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

const char *sd_annotate_digest(const sd_annotate *a)
{
	return a ? a->digest : NULL;
}

size_t sd_annotate_log_count(const sd_annotate *a)
{
	return a ? a->n_logs : 0;
}

size_t sd_annotate_annotator_count(const sd_annotate *a)
{
	return a ? a->n_ann : 0;
}

/* ---------------- the workload ---------------- */

typedef struct ann_work {
	sd_annotate *a;
	const sd_run_params *p;
	sched_groups g;  /* annotators by backend config */
	json_t *model_files; /* [{name, model_file}] per annotator (model_id.h) */
} ann_work;

/* The identity of annotator x's model file, or NULL (borrowed). */
static const json_t *ann_model(const ann_work *w, size_t x)
{
	const json_t *m = json_object_get(json_array_get(w->model_files, x), "model_file");
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
	sd_buf b;
	sd_buf_init(&b, 0);
	if (file)
		sd_buf_printf(&b, "%s/%s/%s.json", out, annotator, file);
	else
		sd_buf_printf(&b, "%s/%s", out, annotator);
	return sd_buf_steal(&b);
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
		ok = json_equal(json_object_get(json_object_get(j, "model_file"), "sha256"),
				json_object_get(model, "sha256"));
	json_decref(j);
	return ok;
}

static size_t aw_n_groups(void *wp)
{
	return ((ann_work *)wp)->g.n;
}

static sd_backend *aw_open_backend(void *wp, size_t g, int32_t parallel, sd_error *err)
{
	ann_work *w = wp;
	const ann_annotator *x = &w->a->ann[w->g.first[g]];
	return run_backend_open(&x->backend, w->a->path, parallel, w->p->default_model, err);
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
		char *path = out_path(w->p->out_dir, w->a->ann[x].name, w->a->logs[l].file);
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
	const ann_annotator *x = &a->ann[item / a->n_logs];
	const ann_log *l = &a->logs[item % a->n_logs];
	ann_job *j = calloc(1, sizeof(*j));
	if (!j || !(j->model = strdup(sd_backend_model_name(b)))) {
		free(j);
		sd_error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
		return NULL;
	}
	j->p = w->p;
	if (sd_logs_load(l->path, &j->log, err))
		goto fail;
	if (lc_ensure_id(j->log)) {
		sd_error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
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
	return k == SD_ANNOTATION_WAIT ? SCHED_WAIT : k == 1 ? SCHED_OFFER : k;
}

static int aw_job_accept(void *jp, uint64_t key, const sd_reply *rep)
{
	return sd_annotation_accept(((ann_job *)jp)->ann, key, rep->text, rep);
}

/*
 * Our own fields, appended after SynDisco's: the config digest and the
 * model file's identity (what resume checks a file against). Replaces *json; non-zero when out of
 * memory.
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
	char *ds = d ? sd_py_json_dumps(d, -1) : NULL;
	char *ms = model ? sd_py_json_dumps(model, 4) : NULL;
	json_decref(d);
	sd_buf b;
	sd_buf_init(&b, 0);
	int rc = !ds || (model && !ms) ? -1 : 0;
	/* "{}" has no member before ours */
	bool empty = n >= 2 && (*json)[n - 2] == '{';
	if (!rc)
		rc = sd_buf_append(&b, *json, empty ? n - 1 : n - 2) ||
		     sd_buf_printf(&b, "%s\n    \"config_digest\": %s",
				   empty ? "" : ",", ds);
	if (!rc && ms) {
		rc = sd_buf_append(&b, ",\n    \"model_file\": ", 20);
		/* one level deeper: every line of the value moves 4 right */
		for (const char *p = ms; !rc && *p; p++)
			rc = *p == '\n' ? sd_buf_append(&b, "\n    ", 5)
				       : sd_buf_append(&b, p, 1);
	}
	if (!rc)
		rc = sd_buf_append(&b, "\n}", 2);
	free(ds);
	free(ms);
	char *out = rc ? NULL : sd_buf_steal(&b);
	sd_buf_free(&b);
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
	const ann_annotator *x = &w->a->ann[item / w->a->n_logs];
	const ann_log *l = &w->a->logs[item % w->a->n_logs];
	char ts[32], *json = NULL;
	sd_timestamp_now(ts, sizeof(ts));
	sd_annotation_meta m = { x->name, j->model, ts, l->path };
	if (sd_annotation_to_json(j->ann, &m, &json))
		return sd_error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
	if (w->p->on_text) {
		char *shown = NULL;
		if (sd_annotation_printed(j->ann, &shown) == SD_OK)
			w->p->on_text(shown, w->p->ud);
		sd_free(shown);
	}
	if (add_extras(&json, w->a->digest, ann_model(w, item / w->a->n_logs)))
		return sd_error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
	char *path = out_path(w->p->out_dir, x->name, l->file);
	int rc = path ? sd_file_write_atomic(path, json, strlen(json), err)
		      : sd_error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
	free(path);
	sd_free(json);
	return rc;
}

static const sched_ops ann_ops = {
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

int sd_annotate_run(sd_annotate *a, const sd_run_params *p,
		    sd_run_progress *progress, sd_error *err)
{
	ann_work w;
	sd_run_progress local;
	int rc;

	if (!progress)
		progress = &local;
	memset(progress, 0, sizeof(*progress));
	if (!a || !p)
		return sd_error_set(err, SD_EINVAL, NULL, NULL, "no config or run parameters");
	memset(&w, 0, sizeof(w));
	w.a = a;
	w.p = p;
	/* which model files, before OUT is touched */
	if (!(w.model_files = json_array()))
		return sd_error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
	for (size_t x = 0; x < a->n_ann; x++) {
		json_t *id = NULL;
		if ((rc = run_model_identity(&a->ann[x].backend, a->path,
					      p->default_model, &id, err)))
			goto out_models;
		if (json_array_append_new(w.model_files,
					  json_pack("{s:s,s:o}", "name", a->ann[x].name,
						    "model_file", id ? id : json_null()))) {
			rc = sd_error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
			goto out_models;
		}
	}
	char *manifest = manifest_json(a, w.model_files);
	if (!manifest) {
		rc = sd_error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
		goto out_models;
	}
	int created;
	rc = sched_prepare(p, "annotate.json", a->digest, manifest, "annotations",
			   &created, err);
	free(manifest);
	if (rc)
		goto out_models;
	if ((rc = sched_groups_build(&w.g, a->n_ann, ann_backend_key, a, err))) {
		sched_unprepare(p, "annotate.json", created);
		goto out_models;
	}
	for (size_t x = 0; x < a->n_ann; x++) {
		char *dir = out_path(p->out_dir, a->ann[x].name, NULL);
		rc = sched_out_subdir(dir, err);
		free(dir);
		if (rc)
			goto out;
		for (size_t l = 0; l < a->n_logs; l++)
			if (l % p->shard_count == p->shard_index)
				progress->total++;
	}
	rc = sched_run(&ann_ops, &w, p, progress, err);
out:
	if (rc && progress->done == 0)
		sched_unprepare(p, "annotate.json", created);
	sched_groups_free(&w.g);
	if (rc == SD_OK && progress->failed > 0)
		rc = sd_error_set(err, SD_EBACKEND, NULL, NULL,
				  "%zu annotation(s) failed; run the same command again to retry them",
				  progress->failed);
out_models:
	json_decref(w.model_files);
	return rc;
}

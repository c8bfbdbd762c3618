/*
 * Allocation failure, on purpose, at every allocation in turn (jansson's
 * test_chaos habit): the core types must fail cleanly with SD_ENOMEM or
 * a NULL handle, never crash or leak (the ASan build checks leaks).
 * malloc/calloc/realloc and the libc calls that allocate for the
 * library (strdup, strndup, realpath) are wrapped at link time
 * (-Wl,--wrap); jansson's allocations go through json_set_alloc_funcs.
 */
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "syndisco.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t a, size_t b);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t a, size_t b);
void *__wrap_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
char *__real_realpath(const char *path, char *resolved);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);
char *__wrap_realpath(const char *path, char *resolved);

static long countdown = -1; /* -1: never fail */
static long failures;

static int should_fail(void)
{
	if (countdown < 0)
		return 0;
	if (countdown-- == 0) {
		failures++;
		return 1;
	}
	return 0;
}

void *__wrap_malloc(size_t n) { return should_fail() ? NULL : __real_malloc(n); }

void *__wrap_calloc(size_t a, size_t b)
{
	return should_fail() ? NULL : __real_calloc(a, b);
}

void *__wrap_realloc(void *p, size_t n)
{
	return should_fail() ? NULL : __real_realloc(p, n);
}

char *__wrap_strdup(const char *s) { return should_fail() ? NULL : __real_strdup(s); }

char *__wrap_strndup(const char *s, size_t n)
{
	return should_fail() ? NULL : __real_strndup(s, n);
}

/* realpath(p, NULL) allocates its result */
char *__wrap_realpath(const char *path, char *resolved)
{
	if (!resolved && should_fail()) {
		errno = ENOMEM;
		return NULL;
	}
	return __real_realpath(path, resolved);
}

/*
 * jansson 2.14's lexer ignores a failed allocation while saving a token
 * (lex_save): a parse can then succeed with a byte missing, or corrupt
 * jansson's own heap (seen as "free(): invalid next size" in a plain
 * build; ASan cannot see it inside the uninstrumented library). The
 * dataset scenario, which parses many files, therefore fails only our
 * own allocations and jansson's are left alone: that is what it tests.
 */
static int jansson_fails = 1;

static void *j_malloc(size_t n)
{
	return jansson_fails ? __wrap_malloc(n) : __real_malloc(n);
}

static void j_free(void *p) { free(p); }

/* One scripted discussion from personas to JSON; SD_OK or an error. */
static int scenario(void)
{
	static const char personas[] =
	    "[{\"username\": \"Emma35\", \"age\": 38, \"traits\": [\"calm\"]},"
	    " {\"username\": \"Giannis\", \"age\": 21}, {\"username\": \"Mod\"}]";
	sd_persona **p = NULL;
	size_t n = 0;
	sd_actor *a[3] = {NULL, NULL, NULL};
	sd_turn_manager *tm = NULL;
	sd_discussion *d = NULL;
	sd_backend *b = NULL;
	sd_logs *back = NULL;
	char *json = NULL;
	int rc = sd_persona_array_from_json(personas, "p", &p, &n, NULL);
	if (rc)
		goto out;
	sd_actor_params ap = sd_actor_default_params();
	ap.context = "ctx";
	ap.instructions = "be nice";
	rc = SD_ENOMEM;
	for (int i = 0; i < 3; i++) {
		ap.persona = p[i];
		if (!(a[i] = sd_actor_create(&ap, NULL)))
			goto out;
	}
	sd_turn_params tp = sd_turn_default_params();
	tp.kind = SD_TURN_RESPOND;
	if (!(tm = sd_turn_manager_create(&tp, 2, NULL)))
		goto out;
	sd_discussion_params dp = sd_discussion_default_params();
	sd_seed_opinion so = {"Giannis", "Opening words"};
	dp.seed_opinions = &so;
	dp.n_seed_opinions = 1;
	dp.conv_len = 4;
	if (!(d = sd_discussion_create(&dp, a, 2, a[2], tm, NULL)))
		goto out;
	sd_scripted_params sp = sd_scripted_default_params();
	if (!(b = sd_backend_scripted_create(&sp, NULL)))
		goto out;
	if ((rc = sd_discussion_run(d, b, NULL, NULL, NULL)))
		goto out;
	if ((rc = sd_logs_to_json(sd_discussion_logs(d), &json)))
		goto out;
	rc = sd_logs_from_json(json, "mem", &back, NULL);
out:
	sd_logs_free(back);
	sd_free(json);
	sd_backend_free(b);
	sd_discussion_free(d);
	sd_turn_manager_free(tm);
	for (int i = 0; i < 3; i++)
		sd_actor_free(a[i]);
	sd_persona_array_free(p, n);
	return rc;
}

/*
 * A discussion with our own turn managers (docs/turns.md): the director
 * (its requests, grammar and reply parsing) with history_ctx_tokens, or
 * mentions with history_ctx_tokens; scripted replies name the speakers.
 */
static sd_turn_kind turns_kind = SD_TURN_DIRECTOR;
static uint64_t turns_result, turns_baseline; /* FNV-1a of the log */

static int same_turns(void) { return turns_result == turns_baseline; }

static int turns_scenario(void)
{
	static const char *const replies[] = {
	    "Giannis", "@Emma35 a long reply that the token window has to cut short",
	    "Emma35",  "@Giannis, fine",
	    "nobody",  "short"};
	sd_actor *a[3] = {NULL, NULL, NULL};
	const char *names[3] = {"Emma35", "Giannis", "Mod"};
	sd_turn_manager *tm = NULL;
	sd_discussion *d = NULL;
	sd_backend *b = NULL;
	char *json = NULL;
	int rc = SD_ENOMEM;
	sd_actor_params ap = sd_actor_default_params();
	for (int i = 0; i < 3; i++) {
		ap.name = names[i];
		if (!(a[i] = sd_actor_create(&ap, NULL)))
			goto out;
	}
	sd_turn_params tp = sd_turn_default_params();
	tp.kind = turns_kind;
	tp.exclude_last_speaker = turns_kind == SD_TURN_DIRECTOR;
	tp.p_mention = 0.9;
	if (!(tm = sd_turn_manager_create(&tp, 3, NULL)))
		goto out;
	sd_discussion_params dp = sd_discussion_default_params();
	dp.conv_len = 4;
	dp.history_ctx_tokens = 6;
	if (!(d = sd_discussion_create(&dp, a, 3, NULL, tm, NULL)))
		goto out;
	sd_scripted_params sp = sd_scripted_default_params();
	sp.mode = SD_SCRIPTED_LIST;
	sp.replies = replies;
	sp.n_replies = 6;
	if (!(b = sd_backend_scripted_create(&sp, NULL)))
		goto out;
	sd_discussion_set_token_counter(d, sd_backend_token_counter, b);
	if ((rc = sd_discussion_run(d, b, NULL, NULL, NULL)))
		goto out;
	rc = sd_logs_to_json(sd_discussion_logs(d), &json);
	turns_result = 0xcbf29ce484222325ULL;
	for (const char *c = json; !rc && *c; c++)
		turns_result = (turns_result ^ (unsigned char)*c) * 0x100000001b3ULL;
out:
	sd_free(json);
	sd_backend_free(b);
	sd_discussion_free(d);
	sd_turn_manager_free(tm);
	for (int i = 0; i < 3; i++)
		sd_actor_free(a[i]);
	return rc;
}

/* What the dataset scenario wrote: its size and a hash of the bytes. */
typedef struct sink {
	size_t len;
	uint64_t hash;
} sink;

static int sink_write(const char *data, size_t len, void *ud)
{
	sink *s = ud;
	for (size_t i = 0; i < len; i++)
		s->hash = (s->hash ^ (unsigned char)data[i]) * 0x100000001b3ULL;
	s->len += len;
	return 0;
}

static sink export_result;

/* The dataset scenario's inputs: ours with both annotation formats, or
 * SynDisco 2.2.1's logs (no ids) with a 2.2.1 annotation file. */
static const char *ds_logs = FIXTURES "/export/logs/tricky.json";
static const char *ds_ann = FIXTURES "/export/annotations";
static size_t ds_annotators = 2, ds_cells = 2;

/* A dataset with annotations, exported and reported. */
static int dataset_scenario(void)
{
	const char *const logs[] = {ds_logs};
	const char *const ann[] = {ds_ann};
	sd_dataset_params p = sd_dataset_default_params();
	sd_dataset *d = NULL;
	sd_cell_summary *s = NULL;
	size_t n = 0;
	sink rep = {0, 0xcbf29ce484222325ULL};
	p.log_paths = logs;
	p.n_log_paths = 1;
	p.annotation_paths = ann;
	p.n_annotation_paths = 1;
	export_result = (sink){0, 0xcbf29ce484222325ULL};
	int rc = sd_dataset_load(&p, &d, NULL);
	if (rc)
		goto out;
	if ((rc =
		 sd_dataset_export(d, SD_EXPORT_CSV, sink_write, &export_result, NULL)) ||
	    (rc = sd_dataset_export(d, SD_EXPORT_JSONL, sink_write, &export_result,
				    NULL)) ||
	    (rc = sd_dataset_summary(d, &s, &n)) ||
	    (rc = sd_dataset_report_html(d, NULL, sink_write, &rep, NULL)))
		goto out;
	/* an absorbed failure must not change what was exported */
	if (sd_dataset_annotator_count(d) != ds_annotators || n != ds_cells)
		rc = SD_EINVAL;
out:
	sd_free(s);
	sd_dataset_free(d);
	return rc;
}

static sink manifest_result;

/* An experiment config with files to inline, conditions and roles, then
 * its manifest (run.json's text). */
static int config_scenario(void)
{
	sd_experiment *e = NULL;
	manifest_result = (sink){0, 0xcbf29ce484222325ULL};
	int rc = sd_experiment_load(EXAMPLES "/study/study.json", &e, NULL);
	if (rc)
		return rc;
	char *m = sd_experiment_manifest_json(e);
	if (!m)
		rc = SD_ENOMEM;
	else
		sink_write(m, strlen(m), &manifest_result);
	sd_free(m);
	sd_experiment_free(e);
	return rc;
}

static sink manifest_baseline;

static int same_manifest(void)
{
	return manifest_result.len == manifest_baseline.len &&
	       manifest_result.hash == manifest_baseline.hash;
}

/*
 * A label spec whose grammar takes several buffer growths: a failed
 * append must fail the spec, never leave an alternative out of the
 * grammar (it did: the appends' results were ignored, and the next
 * append grew the buffer again).
 */
static char *label_grammar;

static int label_scenario(void)
{
	static const char spec[] =
	    "{\"values\": [\"strongly disagree\", \"disagree\", \"somewhat disagree\","
	    " \"neither agree nor disagree\", \"somewhat agree\", \"agree\","
	    " \"strongly agree\", \"say \\\"no\\\"\\nplease\", \"tab\\there\"]}";
	sd_label_spec *l = NULL;
	free(label_grammar);
	label_grammar = NULL;
	int rc = sd_label_spec_parse(spec, "mem", "label", &l, NULL);
	if (rc == SD_OK && !(label_grammar = strdup(sd_label_spec_grammar(l))))
		rc = SD_ENOMEM;
	sd_label_spec_free(l);
	return rc;
}

static char *label_baseline;

static int same_label(void)
{
	return label_grammar && strcmp(label_grammar, label_baseline) == 0;
}

static int chaos(const char *name, int (*run)(void), int (*same)(void))
{
	countdown = -1;
	if (run() != SD_OK) {
		fprintf(stderr, "%s: fails without injected failures\n", name);
		return 1;
	}
	long n;
	int failed_cleanly = 0;
	for (n = 0;; n++) {
		countdown = n;
		failures = 0;

		int rc = run();
		countdown = -1;
		if (failures == 0) {
			if (rc != SD_OK) {
				fprintf(stderr,
					"%s run %ld: no failure injected but rc %d\n",
					name, n, rc);
				return 1;
			}
			break; /* every allocation has had its turn */
		}
		if (rc == SD_OK) {
			/* a failure the code absorbed (e.g. a size probe retried)
			 * is fine as long as the result is still right */
			if (same && !same()) {
				fprintf(stderr,
					"%s run %ld: a failed allocation changed the "
					"result without an error\n",
					name, n);
				return 1;
			}
			continue;
		}
		failed_cleanly++;
	}
	printf("%s: %ld allocations failed one at a time, %d runs reported the error, "
	       "none crashed\n",
	       name, n, failed_cleanly);
	return failed_cleanly > 0 ? 0 : 1;
}

/* An evaluation config: rubrics into grammars, the logs found. */
static sink evaluate_result;

static int evaluate_scenario(void)
{
	sd_evaluate *v = NULL;
	evaluate_result = (sink){0, 0xcbf29ce484222325ULL};
	int rc = sd_evaluate_load(FIXTURES "/evaluate/evaluate.json", NULL, 0, &v, NULL);
	if (rc)
		return rc;
	const char *g = sd_evaluate_judge_grammar(v, 0);
	const char *dg = sd_evaluate_digest(v);
	sink_write(g, strlen(g), &evaluate_result);
	sink_write(dg, strlen(dg), &evaluate_result);
	if (sd_evaluate_log_count(v) != 1 || sd_evaluate_judge_count(v) != 2)
		rc = SD_EINVAL;
	sd_evaluate_free(v);
	return rc;
}

static sink evaluate_baseline;

static int same_evaluate(void)
{
	return evaluate_result.len == evaluate_baseline.len &&
	       evaluate_result.hash == evaluate_baseline.hash;
}

static sink export_baseline;

static int same_export(void)
{
	return export_result.len == export_baseline.len &&
	       export_result.hash == export_baseline.hash;
}

int main(void)
{
	json_set_alloc_funcs(j_malloc, j_free);
	int bad = chaos("discussion", scenario, NULL);
	/* an absorbed failure must not change who speaks or what is shown */
	turns_scenario();
	turns_baseline = turns_result;
	bad +=
	    chaos("directed discussion, history by tokens", turns_scenario, same_turns);
	turns_kind = SD_TURN_MENTION;
	turns_scenario();
	turns_baseline = turns_result;
	bad += chaos("mention-driven discussion, history by tokens", turns_scenario,
		     same_turns);
	if (dataset_scenario() != SD_OK) {
		fprintf(stderr, "dataset: fails without injected failures\n");
		return 1;
	}
	export_baseline = export_result;
	jansson_fails = 0;
	bad += chaos("dataset (jansson's allocations spared)", dataset_scenario,
		     same_export);
	ds_logs = FIXTURES "/syndisco-2.2.1/logs";
	ds_ann = FIXTURES "/syndisco-2.2.1/annotations";
	ds_annotators = 1;
	if (dataset_scenario() != SD_OK) {
		fprintf(stderr, "dataset 2.2.1: fails without injected failures\n");
		return 1;
	}
	export_baseline = export_result;
	bad += chaos("dataset of SynDisco 2.2.1 files", dataset_scenario, same_export);
	if (config_scenario() != SD_OK) {
		fprintf(stderr, "config: fails without injected failures\n");
		return 1;
	}
	manifest_baseline = manifest_result;
	bad += chaos("experiment config (jansson's allocations spared)", config_scenario,
		     same_manifest);
	if (label_scenario() != SD_OK) {
		fprintf(stderr, "label: fails without injected failures\n");
		return 1;
	}
	label_baseline = label_grammar;
	label_grammar = NULL;
	bad += chaos("label grammar (jansson's allocations spared)", label_scenario,
		     same_label);
	free(label_grammar);
	free(label_baseline);
	if (evaluate_scenario() != SD_OK) {
		fprintf(stderr, "evaluate config: fails without injected failures\n");
		return 1;
	}
	evaluate_baseline = evaluate_result;
	bad += chaos("evaluate config (jansson's allocations spared)", evaluate_scenario,
		     same_evaluate);
	printf("%d passed, %d failed\n", 8 - bad, bad);
	return bad ? 1 : 0;
}

/*
 * Annotation of one finished discussion: every target comment gets a
 * prompt of its own (the previous history_ctx_len comments, then the
 * target), so all of them can be in flight at once. A reply that does
 * not parse as a label is asked again, with another seed, up to
 * max_retries times, then recorded as unparsed.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "syndisco.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/hash.h"
#include "util/json.h"
#include "util/pytext.h"
#include "util/rng.h"
#include "util/utf8.h"

typedef enum target_state { T_NEW, T_ASKED, T_DONE } target_state;

typedef struct target {
	size_t order; /* position in the log */
	char *entry;  /* its history entry */
	char message_id[17];
	char *prompt;
	char *annotation; /* the last reply, repaired */
	char *label;	  /* JSON text, or NULL */
	int32_t attempts;
	target_state state;
} target;

struct sd_annotation {
	const sd_actor *annotator;
	const sd_logs *log;
	sd_annotation_params p;
	char *system_prompt;
	target *t;
	size_t n;
	size_t n_done;
};

sd_annotation_params sd_annotation_default_params(void)
{
	sd_annotation_params p;
	memset(&p, 0, sizeof(p));
	p.history_ctx_len = 2;
	p.include_moderator = true;
	p.sampling = sd_sampling_default();
	p.sampling.max_tokens = 64;
	p.max_retries = 2;
	return p;
}

void sd_annotation_free(sd_annotation *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->n; i++) {
		free(a->t[i].prompt);
		free(a->t[i].entry);
		free(a->t[i].annotation);
		free(a->t[i].label);
	}
	free(a->t);
	sd_free(a->system_prompt);
	free(a);
}

/*
 * The prompt of target k: SynDisco's window, the last history_ctx_len
 * entries of the eligible comments up to and including the target.
 */
static int build_prompt(sd_annotation *a, size_t k, const char **window)
{
	size_t w = (size_t)a->p.history_ctx_len;
	size_t first = k + 1 > w ? k + 1 - w : 0;
	size_t n = 0;
	for (size_t j = first; j <= k && n < w; j++)
		window[n++] = a->t[j].entry;
	return sd__actor_prompt_from_entries(a->annotator, window, n, &a->t[k].prompt);
}

/* Whether comment c is annotated: seed and 2.0.8 skip, without
 * include_moderator, every name containing "moderator" (case-sensitive,
 * as they do); otherwise our is_moderator flag decides. */
static bool eligible_comment(const sd_annotation *a, const sd_log_comment *c)
{
	if (a->p.include_moderator)
		return true;
	if (sd__actor_profile(a->annotator) != SD_PROFILE_2_2_1)
		return !(c->name && strstr(c->name, "moderator"));
	return !c->is_moderator;
}

sd_annotation *sd_annotation_create(const sd_actor *annotator, const sd_logs *log,
				    const sd_annotation_params *params, sd_error *err)
{
	sd_annotation *a = NULL;
	size_t *eligible = NULL;
	const char **views = NULL;
	int rc;
	if (!annotator || !log || !params) {
		sd__error_set(err, SD_EINVAL, NULL, NULL,
			      "annotator, log and params are needed");
		return NULL;
	}
	if (params->history_ctx_len < 0 || params->max_retries < 0) {
		sd__error_set(err, SD_EINVAL, NULL, "history_ctx_len",
			      "history_ctx_len and max_retries must be >= 0");
		return NULL;
	}
	size_t total = sd_logs_comment_count(log);
	a = calloc(1, sizeof(*a));
	eligible = calloc(total + 1, sizeof(*eligible));
	views = calloc((size_t)params->history_ctx_len + 1, sizeof(*views));
	if (!a || !eligible || !views)
		goto oom;
	a->annotator = annotator;
	a->log = log;
	a->p = *params;
	for (size_t i = 0; i < total; i++) {
		sd_log_comment c = sd_logs_comment(log, i);
		if (eligible_comment(a, &c))
			eligible[a->n++] = i;
	}
	a->t = calloc(a->n + 1, sizeof(*a->t));
	if (!a->t)
		goto oom;
	if ((rc = sd_actor_system_prompt(annotator, &a->system_prompt)))
		goto fail;
	for (size_t k = 0; k < a->n; k++) {
		sd_log_comment c = sd_logs_comment(log, eligible[k]);
		a->t[k].order = eligible[k];
		/* SynDisco 2.2.1 logs have no id: their comments are named by
		   position alone */
		if (sd_logs_message_id(log, eligible[k], a->t[k].message_id)) {
			char num[32];
			snprintf(num, sizeof(num), "\n%zu", eligible[k]);
			snprintf(a->t[k].message_id, sizeof(a->t[k].message_id),
				 "%016llx",
				 (unsigned long long)sd__fnv1a64(num, strlen(num),
								 SD_FNV1A64_INIT));
		}
		if ((rc = sd__actor_format_entry(annotator, c.name ? c.name : "",
						 c.text ? c.text : "", &a->t[k].entry)) ||
		    (rc = build_prompt(a, k, views)))
			goto fail;
	}
	free(eligible);
	free(views);
	return a;
oom:
	rc = SD_ENOMEM;
fail:
	sd__error_set(err, rc, NULL, NULL, "%s", sd_strerror(rc));
	free(eligible);
	free(views);
	sd_annotation_free(a);
	return NULL;
}

int sd_annotation_next(sd_annotation *a, sd_request *req)
{
	if (!a || !req)
		return SD_EINVAL;
	if (a->n_done == a->n)
		return 0;
	for (size_t k = 0; k < a->n; k++) {
		target *t = &a->t[k];
		if (t->state != T_NEW)
			continue;
		memset(req, 0, sizeof(*req));
		req->tag = k;
		req->system_prompt = a->system_prompt;
		req->user_prompt = t->prompt;
		req->sampling = a->p.sampling;
		uint64_t h = sd__fnv1a64(t->message_id, 16, SD_FNV1A64_INIT);
		req->sampling.seed = (uint32_t)sd__seed_mix(sd__seed_mix(a->p.seed, h),
							    (uint64_t)t->attempts);
		req->grammar = a->p.label ? sd_label_spec_grammar(a->p.label) : NULL;
		/* a label cut by max_tokens never parses: its grammar's own
		   length ends the reply */
		size_t lb = sd_label_spec_max_bytes(a->p.label);
		if (lb && (size_t)req->sampling.max_tokens < lb + 1)
			req->sampling.max_tokens = (int32_t)(lb + 1);
		t->state = T_ASKED;
		return 1;
	}
	return SD_ANNOTATION_WAIT;
}

int sd_annotation_accept(sd_annotation *a, uint64_t tag, const char *text,
			 const sd_reply *reply)
{
	(void)reply;
	if (!a || tag >= a->n || a->t[tag].state != T_ASKED)
		return SD_ESTATE;
	target *t = &a->t[tag];
	char *raw = sd__utf8_repair(text ? text : "", strlen(text ? text : ""));
	char *fixed = NULL;
	if (!raw)
		return SD_ENOMEM;
	/* the profile's post-processing: 2.x strip, then remove_strings */
	int prc = sd__actor_postprocess(a->annotator, raw, &fixed);
	free(raw);
	if (prc)
		return prc;
	free(t->annotation);
	t->annotation = fixed;
	free(t->label);
	t->label = NULL;
	t->attempts++;
	if (a->p.label) {
		int rc = sd_label_parse(a->p.label, fixed, &t->label);
		if (rc == SD_ENOMEM)
			return rc;
		if (rc != SD_OK && t->attempts <= a->p.max_retries) {
			t->state = T_NEW; /* ask again with the next seed */
			return SD_OK;
		}
	}
	t->state = T_DONE;
	a->n_done++;
	return SD_OK;
}

size_t sd_annotation_target_count(const sd_annotation *a) { return a ? a->n : 0; }

int sd_annotation_printed(const sd_annotation *a, char **out)
{
	sd__buf b;
	int rc = SD_OK;
	if (!a || !out)
		return SD_EINVAL;
	*out = NULL;
	if (a->n_done != a->n)
		return SD_ESTATE;
	sd__buf_init(&b, 0);
	rc = sd__buf_append(&b, "", 0);
	/* print(textwrap.fill(entry, 70)) then print(annotation) */
	for (size_t k = 0; k < a->n && !rc; k++) {
		char *filled = NULL;
		rc = sd__py_fill(a->t[k].entry, 70, &filled);
		if (!rc)
			rc = sd__buf_printf(&b, "%s\n%s\n", filled, a->t[k].annotation);
		free(filled);
	}
	if (!rc && !(*out = sd__buf_steal(&b)))
		rc = SD_ENOMEM;
	sd__buf_free(&b);
	return rc;
}

static int set(json_t *o, const char *key, json_t *v)
{
	return json_object_set_new(o, key, v) ? SD_ENOMEM : SD_OK;
}

int sd_annotation_to_json(const sd_annotation *a, const sd_annotation_meta *m, char **out)
{
	json_t *root = NULL, *logs = NULL, *meta = NULL;
	int rc = SD_ENOMEM;
	if (!out)
		return SD_EINVAL;
	*out = NULL;
	if (!a || !m || a->n_done != a->n)
		return SD_ESTATE;
	sd_profile prof = sd__actor_profile(a->annotator);
	bool v221 = prof == SD_PROFILE_2_2_1;
	const char *id = sd_logs_id(a->log);
	const char *model = m->model ? m->model : "unknown";
	root = json_object();
	logs = json_array();
	meta = json_array();
	if (!root || !logs || !meta)
		goto out;
	/* SynDisco's part, as the profile's version writes it */
	for (size_t k = 0; k < a->n; k++) {
		const target *t = &a->t[k];
		sd_log_comment c = sd_logs_comment(a->log, t->order);
		json_t *e = v221 ? json_pack("{s:s,s:s,s:s,s:s}", "name", c.name, "text",
					     t->annotation, "model", model, "prompt",
					     a->system_prompt)
				 : json_pack("[s,s]", c.text, t->annotation);
		if (!e || json_array_append_new(logs, e))
			goto out;
	}
	if (v221) {
		if (set(root, "timestamp",
			json_string(m->timestamp ? m->timestamp : "")) ||
		    json_object_set(root, "logs", logs) ||
		    set(root, "conv_id", json_string(id ? id : "")) ||
		    set(root, "annotator_model", sd__json_string_repair(model)) ||
		    set(root, "ctx_length", json_integer(a->p.history_ctx_len)))
			goto out;
	} else {
		if (set(root, "conv_id", json_string(id ? id : "")) ||
		    set(root, "timestamp",
			json_string(m->timestamp ? m->timestamp : "")) ||
		    set(root, "annotator_model", sd__json_string_repair(model)) ||
		    set(root, "annotator_prompt", json_string(a->system_prompt)) ||
		    set(root, "ctx_length", json_integer(a->p.history_ctx_len)) ||
		    json_object_set(root, "logs", logs))
			goto out;
	}
	/* ours, after SynDisco's */
	json_t *spec = a->p.label ? json_loads(sd_label_spec_json(a->p.label), 0, NULL)
				  : json_null();
	if (set(root, "annotator",
		sd__json_string_repair(m->annotator ? m->annotator : "")) ||
	    set(root, "include_moderator", json_boolean(a->p.include_moderator)) ||
	    set(root, "source",
		m->source ? sd__json_string_repair(m->source) : json_null()) ||
	    set(root, "seed", json_integer((json_int_t)a->p.seed))) {
		json_decref(spec);
		goto out;
	}
	if (set(root, "label_spec", spec))
		goto out;
	for (size_t k = 0; k < a->n; k++) {
		const target *t = &a->t[k];
		sd_log_comment c = sd_logs_comment(a->log, t->order);
		json_t *e = json_object();
		const char *status = !a->p.label ? "none" : t->label ? "ok" : "unparsed";
		/* append_new takes e (or drops it) whatever happens */
		if (!e || json_array_append_new(meta, e))
			goto out;
		json_t *label =
		    t->label ? json_loads(t->label, JSON_DECODE_ANY, NULL) : json_null();
		if (!label || set(e, "message_id", json_string(t->message_id)) ||
		    set(e, "message_order", json_integer((json_int_t)t->order)) ||
		    set(e, "name", json_string(c.name)) ||
		    set(e, "is_moderator", json_boolean(c.is_moderator)) ||
		    set(e, "label", label) ||
		    set(e, "label_status", json_string(status)) ||
		    set(e, "attempts", json_integer(t->attempts)))
			goto out;
	}
	if (json_object_set(root, "annotation_meta", meta) ||
	    set(root, "syndisco_profile", json_string(sd_profile_name(prof))))
		goto out;
	*out = sd__py_json_dumps(root, 4);
	rc = *out ? SD_OK : SD_ENOMEM;
out:
	json_decref(logs);
	json_decref(meta);
	json_decref(root);
	return rc;
}

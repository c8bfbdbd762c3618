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
#include "util/error.h"
#include "util/hash.h"
#include "util/json.h"
#include "util/rng.h"
#include "util/utf8.h"

typedef enum target_state { T_NEW, T_ASKED, T_DONE } target_state;

typedef struct target {
	size_t order;          /* position in the log */
	char message_id[17];
	char *prompt;
	char *annotation;      /* the last reply, repaired */
	char *label;           /* JSON text, or NULL */
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
		free(a->t[i].annotation);
		free(a->t[i].label);
	}
	free(a->t);
	sd_free(a->system_prompt);
	free(a);
}

/* The prompt of target k: the window of eligible comments before it. */
static int build_prompt(sd_annotation *a, const size_t *eligible, size_t k,
			sd_comment_view *views)
{
	size_t w = (size_t)a->p.history_ctx_len;
	size_t first = k > w ? k - w : 0;
	size_t n = 0;
	for (size_t j = first; j <= k; j++) {
		sd_log_comment c = sd_logs_comment(a->log, eligible[j]);
		views[n].name = c.name;
		views[n].text = c.text;
		n++;
	}
	return sd_actor_user_prompt(a->annotator, views, n, &a->t[k].prompt);
}

sd_annotation *sd_annotation_create(const sd_actor *annotator,
				    const sd_logs *log,
				    const sd_annotation_params *params,
				    sd_error *err)
{
	sd_annotation *a = NULL;
	size_t *eligible = NULL;
	sd_comment_view *views = NULL;
	int rc;
	if (!annotator || !log || !params) {
		sd_error_set(err, SD_EINVAL, NULL, NULL, "annotator, log and params are needed");
		return NULL;
	}
	if (params->history_ctx_len < 0 || params->max_retries < 0) {
		sd_error_set(err, SD_EINVAL, NULL, "history_ctx_len",
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
		if (c.is_moderator && !params->include_moderator)
			continue;
		eligible[a->n++] = i;
	}
	a->t = calloc(a->n + 1, sizeof(*a->t));
	if (!a->t)
		goto oom;
	if ((rc = sd_actor_system_prompt(annotator, &a->system_prompt)))
		goto fail;
	for (size_t k = 0; k < a->n; k++) {
		a->t[k].order = eligible[k];
		if ((rc = sd_logs_message_id(log, eligible[k], a->t[k].message_id))) {
			sd_error_set(err, rc, NULL, "id",
				     "the log has no id to name its comments by");
			goto out;
		}
		if ((rc = build_prompt(a, eligible, k, views)))
			goto fail;
	}
	free(eligible);
	free(views);
	return a;
oom:
	rc = SD_ENOMEM;
fail:
	sd_error_set(err, rc, NULL, NULL, "%s", sd_strerror(rc));
out:
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
		uint64_t h = sd_fnv1a64(t->message_id, 16, SD_FNV1A64_INIT);
		req->sampling.seed = (uint32_t)sd_seed_mix(sd_seed_mix(a->p.seed, h),
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
	char *fixed = sd_utf8_repair(text ? text : "", strlen(text ? text : ""));
	if (!fixed)
		return SD_ENOMEM;
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

size_t sd_annotation_target_count(const sd_annotation *a)
{
	return a ? a->n : 0;
}

int sd_annotation_to_json(const sd_annotation *a, const sd_annotation_meta *m,
			  char **out)
{
	json_t *root = NULL, *logs = NULL;
	int rc = SD_ENOMEM;
	*out = NULL;
	if (!a || !m || a->n_done != a->n)
		return SD_ESTATE;
	const char *id = sd_logs_id(a->log);
	root = json_object();
	logs = json_array();
	if (!root || !logs)
		goto out;
	json_t *spec = a->p.label ? json_loads(sd_label_spec_json(a->p.label), 0, NULL)
				  : json_null();
	if (json_object_set_new(root, "conv_id", json_string(id ? id : "")) ||
	    json_object_set_new(root, "timestamp", json_string(m->timestamp ? m->timestamp : "")) ||
	    json_object_set_new(root, "annotator", sd_json_string_repair(m->annotator ? m->annotator : "")) ||
	    json_object_set_new(root, "annotator_model", sd_json_string_repair(m->model ? m->model : "unknown")) ||
	    json_object_set_new(root, "annotator_prompt", json_string(a->system_prompt)) ||
	    json_object_set_new(root, "ctx_length", json_integer(a->p.history_ctx_len)) ||
	    json_object_set_new(root, "include_moderator", json_boolean(a->p.include_moderator)) ||
	    json_object_set_new(root, "source", m->source ? sd_json_string_repair(m->source) : json_null()) ||
	    json_object_set_new(root, "seed", json_integer((json_int_t)a->p.seed)) ||
	    json_object_set_new(root, "label_spec", spec))
		goto out;
	for (size_t k = 0; k < a->n; k++) {
		const target *t = &a->t[k];
		sd_log_comment c = sd_logs_comment(a->log, t->order);
		json_t *e = json_object();
		json_t *label = t->label ? json_loads(t->label, JSON_DECODE_ANY, NULL) : json_null();
		const char *status = !a->p.label ? "none" : t->label ? "ok" : "unparsed";
		if (!e || !label || json_array_append_new(logs, e) ||
		    json_object_set_new(e, "message_id", json_string(t->message_id)) ||
		    json_object_set_new(e, "message_order", json_integer((json_int_t)t->order)) ||
		    json_object_set_new(e, "name", json_string(c.name)) ||
		    json_object_set_new(e, "is_moderator", json_boolean(c.is_moderator)) ||
		    json_object_set_new(e, "message", json_string(c.text)) ||
		    json_object_set_new(e, "annotation", json_string(t->annotation)) ||
		    json_object_set_new(e, "label", label) ||
		    json_object_set_new(e, "label_status", json_string(status)) ||
		    json_object_set_new(e, "attempts", json_integer(t->attempts)))
			goto out;
	}
	if (json_object_set(root, "logs", logs))
		goto out;
	*out = json_dumps(root, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
	rc = *out ? SD_OK : SD_ENOMEM;
out:
	json_decref(logs);
	json_decref(root);
	return rc;
}

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "syndisco.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/json.h"

struct sd_actor {
	sd_persona *persona;
	char *model_name;
	char *context;
	char *instructions;
	sd_actor_kind kind;
	/* owned copies of the template strings */
	char *history_entry;
	char *history_sep;
	char *user_prompt;
	char *annotator_prompt;
	bool wrap_user_json;
};

sd_prompt_templates sd_prompt_templates_default(void)
{
	sd_prompt_templates t = {
		.history_entry = "Comment by user {name}: \"\n{text}\"",
		.history_sep = "\n",
		.user_prompt = "Comments so far: {history}.\nYour comment:",
		.annotator_prompt = "Comments so far: {history}.\nYour annotation:",
		.wrap_user_json = false,
	};
	return t;
}

sd_actor_params sd_actor_default_params(void)
{
	sd_actor_params p = {
		.persona = NULL,
		.model_name = "unknown",
		.context = "",
		.instructions = "",
		.kind = SD_ACTOR_USER,
		.templates = sd_prompt_templates_default(),
	};
	return p;
}

static char *dup_or(const char *s, const char *fallback)
{
	return strdup(s ? s : fallback);
}

sd_actor *sd_actor_create(const sd_actor_params *params, sd_error *err)
{
	sd_prompt_templates def = sd_prompt_templates_default();
	if (!params || !params->persona) {
		sd_error_set(err, SD_EINVAL, NULL, "persona",
			     "an actor needs a persona");
		return NULL;
	}
	if (params->kind != SD_ACTOR_USER && params->kind != SD_ACTOR_ANNOTATOR) {
		sd_error_set(err, SD_EINVAL, NULL, "kind", "unknown actor kind");
		return NULL;
	}
	sd_actor *a = calloc(1, sizeof(*a));
	if (!a)
		goto oom;
	a->kind = params->kind;
	a->wrap_user_json = params->templates.wrap_user_json;
	a->persona = sd_persona_copy(params->persona);
	a->model_name = dup_or(params->model_name, "unknown");
	a->context = dup_or(params->context, "");
	a->instructions = dup_or(params->instructions, "");
	a->history_entry = dup_or(params->templates.history_entry,
				  def.history_entry);
	a->history_sep = dup_or(params->templates.history_sep, def.history_sep);
	a->user_prompt = dup_or(params->templates.user_prompt, def.user_prompt);
	a->annotator_prompt = dup_or(params->templates.annotator_prompt,
				     def.annotator_prompt);
	if (!a->persona || !a->model_name || !a->context || !a->instructions ||
	    !a->history_entry || !a->history_sep || !a->user_prompt ||
	    !a->annotator_prompt)
		goto oom;
	return a;
oom:
	sd_actor_free(a);
	sd_error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
	return NULL;
}

void sd_actor_free(sd_actor *a)
{
	if (!a)
		return;
	sd_persona_free(a->persona);
	free(a->model_name);
	free(a->context);
	free(a->instructions);
	free(a->history_entry);
	free(a->history_sep);
	free(a->user_prompt);
	free(a->annotator_prompt);
	free(a);
}

const char *sd_actor_name(const sd_actor *a)
{
	return a ? sd_persona_username(a->persona) : NULL;
}

const char *sd_actor_model_name(const sd_actor *a)
{
	return a ? a->model_name : NULL;
}

const sd_persona *sd_actor_persona(const sd_actor *a)
{
	return a ? a->persona : NULL;
}

int sd_actor_system_prompt(const sd_actor *a, char **out)
{
	int rc = SD_ENOMEM;
	json_t *o = NULL;
	if (!a || !out)
		return SD_EINVAL;
	*out = NULL;
	o = json_object();
	if (!o)
		goto out;
	/* key order is the contract: context, instructions, type, persona;
	 * json_object_set_new takes the value even when it fails */
	if (json_object_set_new(o, "context", sd_json_string_repair(a->context)) ||
	    json_object_set_new(o, "instructions",
				sd_json_string_repair(a->instructions)) ||
	    json_object_set_new(o, "type",
				json_string(a->kind == SD_ACTOR_ANNOTATOR
						    ? "annotator" : "user")) ||
	    json_object_set_new(o, "persona", sd_persona_prompt_object(a->persona)))
		goto out;
	*out = sd_json_dumps_python(o);
	if (*out)
		rc = SD_OK;
out:
	json_decref(o);
	return rc;
}

/*
 * Expand {name}, {text}, {history} in tmpl; "{{" is a literal "{". An
 * unknown placeholder is copied as it is, so user templates with braces
 * of their own keep working.
 */
static int expand(sd_buf *b, const char *tmpl, const char *name,
		  const char *text, const char *history)
{
	int rc = SD_OK;
	for (const char *p = tmpl; *p && rc == SD_OK;) {
		if (p[0] == '{' && p[1] == '{') {
			rc = sd_buf_append(b, "{", 1);
			p += 2;
		} else if (name && strncmp(p, "{name}", 6) == 0) {
			rc = sd_buf_puts(b, name);
			p += 6;
		} else if (text && strncmp(p, "{text}", 6) == 0) {
			rc = sd_buf_puts(b, text);
			p += 6;
		} else if (history && strncmp(p, "{history}", 9) == 0) {
			rc = sd_buf_puts(b, history);
			p += 9;
		} else {
			size_t n = strcspn(p + 1, "{") + 1;
			rc = sd_buf_append(b, p, n);
			p += n;
		}
	}
	return rc;
}

int sd_actor_user_prompt(const sd_actor *a, const sd_comment_view *history,
			 size_t n_history, char **out)
{
	sd_buf hist, text;
	int rc = SD_EINVAL;
	if (!a || !out || (n_history && !history))
		return SD_EINVAL;
	*out = NULL;
	sd_buf_init(&hist, 0);
	sd_buf_init(&text, 0);
	rc = sd_buf_puts(&hist, "");
	for (size_t i = 0; i < n_history && rc == SD_OK; i++) {
		if (i > 0)
			rc = sd_buf_puts(&hist, a->history_sep);
		if (rc == SD_OK)
			rc = expand(&hist, a->history_entry,
				    history[i].name ? history[i].name : "",
				    history[i].text ? history[i].text : "", NULL);
	}
	if (rc == SD_OK)
		rc = expand(&text,
			    a->kind == SD_ACTOR_ANNOTATOR ? a->annotator_prompt
							  : a->user_prompt,
			    NULL, NULL, hist.data ? hist.data : "");
	if (rc != SD_OK)
		goto out;
	if (a->wrap_user_json) {
		json_t *o = json_object();
		rc = SD_ENOMEM;
		if (o && !json_object_set_new(o, "role", json_string("user")) &&
		    !json_object_set_new(o, "content",
					 sd_json_string_repair(text.data ? text.data : "")))
			*out = sd_json_dumps_python(o);
		json_decref(o);
		if (*out)
			rc = SD_OK;
	} else {
		*out = sd_buf_steal(&text);
		rc = *out ? SD_OK : SD_ENOMEM;
	}
out:
	sd_buf_free(&hist);
	sd_buf_free(&text);
	return rc;
}

/*
 * Actors: a persona, a context, instructions and a profile that decides
 * how their system and user prompts look (conformance/BEHAVIOUR.md §1-3).
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "syndisco.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/json.h"
#include "util/pytext.h"

#define UNNAMED "<Unnamed>"
#define DEFAULT_TEXTWRAP 900000

struct sd_actor {
	sd_persona *persona; /* NULL: {} */
	char *name;
	char *model_name;
	char *context;
	char *instructions;
	sd_actor_kind kind;
	sd_profile profile;
	int32_t textwrap_len;
	/* owned template overrides; NULL = the profile's */
	char *history_entry;
	char *history_sep;
	char *user_prompt;
	char *annotator_prompt;
	int wrap_user_json;
	char **remove;
	size_t n_remove;
};

/* SynDisco's persona fields, in its dataclass order (seed and 2.0.8). */
static const char *const persona_fields[] = {
    "username",
    "age",
    "sex",
    "sexual_orientation",
    "demographic_group",
    "current_employment",
    "education_level",
    "special_instructions",
    "personality_characteristics",
};
#define N_PERSONA_FIELDS (sizeof(persona_fields) / sizeof(persona_fields[0]))

int sd_profile_from_name(const char *name, sd_profile *out)
{
	static const sd_profile all[] = {SD_PROFILE_SEED, SD_PROFILE_2_0_8,
					 SD_PROFILE_2_2_1};
	if (!name || !out)
		return SD_EINVAL;
	for (size_t i = 0; i < 3; i++) {
		if (strcmp(name, sd_profile_name(all[i])) == 0) {
			*out = all[i];
			return SD_OK;
		}
	}
	return SD_EINVAL;
}

const char *sd_profile_name(sd_profile p)
{
	switch (p) {
	case SD_PROFILE_SEED:
		return "seed";
	case SD_PROFILE_2_0_8:
		return "2.0.8";
	case SD_PROFILE_2_2_1:
		return "2.2.1";
	}
	return "unknown";
}

sd_prompt_templates sd_prompt_templates_default(void)
{
	sd_prompt_templates t = {
	    .history_entry = NULL,
	    .history_sep = NULL,
	    .user_prompt = NULL,
	    .annotator_prompt = NULL,
	    .wrap_user_json = -1,
	};
	return t;
}

sd_actor_params sd_actor_default_params(void)
{
	sd_actor_params p = {
	    .persona = NULL,
	    .name = NULL,
	    .model_name = "unknown",
	    .context = "",
	    .instructions = "",
	    .kind = SD_ACTOR_USER,
	    .profile = SD_PROFILE_DEFAULT,
	    .templates = sd_prompt_templates_default(),
	    .remove_strings = NULL,
	    .n_remove_strings = 0,
	    .textwrap_len = DEFAULT_TEXTWRAP,
	};
	return p;
}

static int dup_opt(const char *s, char **out)
{
	*out = NULL;
	if (!s)
		return SD_OK;
	*out = strdup(s);
	return *out ? SD_OK : SD_ENOMEM;
}

sd_actor *sd_actor_create(const sd_actor_params *params, sd_error *err)
{
	sd_actor *a = NULL;
	if (!params) {
		sd__error_set(err, SD_EINVAL, NULL, NULL, "no actor parameters");
		return NULL;
	}
	if (params->kind != SD_ACTOR_USER && params->kind != SD_ACTOR_ANNOTATOR) {
		sd__error_set(err, SD_EINVAL, NULL, "kind", "unknown actor kind");
		return NULL;
	}
	if (params->profile != SD_PROFILE_SEED && params->profile != SD_PROFILE_2_0_8 &&
	    params->profile != SD_PROFILE_2_2_1) {
		sd__error_set(err, SD_EINVAL, NULL, "syndisco",
			      "unknown profile %d (known: " SD_PROFILE_NAMES ")",
			      (int)params->profile);
		return NULL;
	}
	if (!params->persona && params->profile != SD_PROFILE_2_2_1) {
		sd__error_set(err, SD_EINVAL, NULL, "persona",
			      "an actor of profile %s needs a persona",
			      sd_profile_name(params->profile));
		return NULL;
	}
	/* the seed's LlmPersona has nine required fields */
	if (params->profile == SD_PROFILE_SEED) {
		const json_t *o = sd__persona_json(params->persona);
		for (size_t i = 0; i < N_PERSONA_FIELDS; i++) {
			if (!json_object_get(o, persona_fields[i])) {
				sd__error_set(err, SD_EINVAL, NULL, "persona",
					      "the seed profile needs the persona field "
					      "\"%s\" (it has nine required fields)",
					      persona_fields[i]);
				return NULL;
			}
		}
	}
	for (size_t i = 0; i < params->n_remove_strings; i++) {
		if (!params->remove_strings[i] || !params->remove_strings[i][0]) {
			sd__error_set(err, SD_EINVAL, NULL, "remove_strings",
				      "entry %zu must be a non-empty string", i);
			return NULL;
		}
	}
	a = calloc(1, sizeof(*a));
	if (!a)
		goto oom;
	a->kind = params->kind;
	a->profile = params->profile;
	a->textwrap_len =
	    params->textwrap_len > 0 ? params->textwrap_len : DEFAULT_TEXTWRAP;
	a->wrap_user_json = params->templates.wrap_user_json;
	if (params->persona && !(a->persona = sd_persona_copy(params->persona)))
		goto oom;
	{
		const char *name = params->name;
		const char *uname = a->persona ? sd_persona_username(a->persona) : NULL;
		if (a->profile == SD_PROFILE_2_0_8 || !name)
			name = uname ? uname : (params->name ? params->name : UNNAMED);
		if (!(a->name = strdup(name)))
			goto oom;
	}
	if (dup_opt(params->model_name ? params->model_name : "unknown",
		    &a->model_name) ||
	    dup_opt(params->context ? params->context : "", &a->context) ||
	    dup_opt(params->instructions ? params->instructions : "", &a->instructions) ||
	    dup_opt(params->templates.history_entry, &a->history_entry) ||
	    dup_opt(params->templates.history_sep, &a->history_sep) ||
	    dup_opt(params->templates.user_prompt, &a->user_prompt) ||
	    dup_opt(params->templates.annotator_prompt, &a->annotator_prompt))
		goto oom;
	if (params->n_remove_strings) {
		a->remove = calloc(params->n_remove_strings, sizeof(char *));
		if (!a->remove)
			goto oom;
		for (size_t i = 0; i < params->n_remove_strings; i++) {
			if (!(a->remove[i] = strdup(params->remove_strings[i])))
				goto oom;
			a->n_remove++;
		}
	}
	return a;
oom:
	sd_actor_free(a);
	sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
	return NULL;
}

void sd_actor_free(sd_actor *a)
{
	if (!a)
		return;
	sd_persona_free(a->persona);
	free(a->name);
	free(a->model_name);
	free(a->context);
	free(a->instructions);
	free(a->history_entry);
	free(a->history_sep);
	free(a->user_prompt);
	free(a->annotator_prompt);
	for (size_t i = 0; i < a->n_remove; i++)
		free(a->remove[i]);
	free(a->remove);
	free(a);
}

const char *sd_actor_name(const sd_actor *a) { return a ? a->name : NULL; }

const char *sd_actor_model_name(const sd_actor *a) { return a ? a->model_name : NULL; }

const sd_persona *sd_actor_persona(const sd_actor *a) { return a ? a->persona : NULL; }

sd_profile sd__actor_profile(const sd_actor *a)
{
	return a ? a->profile : SD_PROFILE_DEFAULT;
}

sd_actor_kind sd__actor_kind_of(const sd_actor *a) { return a ? a->kind : SD_ACTOR_USER; }

/* The persona as the profile puts it into the JSON system prompt. */
static json_t *persona_object(const sd_actor *a)
{
	const json_t *src = a->persona ? sd__persona_json(a->persona) : NULL;
	if (a->profile == SD_PROFILE_2_2_1)
		return src ? json_deep_copy(src) : json_object();
	/* 2.0.8: the dataclass fields in their order; missing ones get the
	   defaults, unknown ones are dropped */
	json_t *o = json_object();
	for (size_t i = 0; o && i < N_PERSONA_FIELDS; i++) {
		const json_t *v = src ? json_object_get(src, persona_fields[i]) : NULL;
		json_t *nv;
		if (v)
			nv = json_deep_copy(v);
		else if (!strcmp(persona_fields[i], "age"))
			nv = json_integer(-1);
		else if (!strcmp(persona_fields[i], "personality_characteristics"))
			nv = json_array();
		else
			nv = json_string("");
		if (json_object_set_new(o, persona_fields[i], nv)) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

static int seed_system_prompt(const sd_actor *a, char **out)
{
	const json_t *o = sd__persona_json(a->persona);
	sd__buf b;
	int rc;
	sd__buf_init(&b, 0);
	rc = sd__buf_printf(&b, "%s Your name is %s. Your traits: ", a->context, a->name);
	for (size_t i = 0; i < N_PERSONA_FIELDS && !rc; i++) {
		if (i)
			rc = sd__buf_puts(&b, ", ");
		if (!rc)
			rc = sd__buf_printf(&b, "%s: ", persona_fields[i]);
		if (!rc)
			rc = sd__py_str(&b, json_object_get(o, persona_fields[i]));
	}
	if (!rc)
		rc = sd__buf_printf(&b, " Your instructions: %s", a->instructions);
	if (!rc && !(*out = sd__buf_steal(&b)))
		rc = SD_ENOMEM;
	sd__buf_free(&b);
	return rc;
}

int sd_actor_system_prompt(const sd_actor *a, char **out)
{
	int rc = SD_ENOMEM;
	json_t *o = NULL;
	const char *type;
	if (!a || !out)
		return SD_EINVAL;
	*out = NULL;
	if (a->profile == SD_PROFILE_SEED)
		return seed_system_prompt(a, out);
	if (a->profile == SD_PROFILE_2_0_8)
		type = a->kind == SD_ACTOR_ANNOTATOR ? "2" : "1";
	else
		type = a->kind == SD_ACTOR_ANNOTATOR ? "annotator" : "user";
	o = json_object();
	if (!o)
		goto out;
	/* key order is the contract: context, instructions, type, persona;
	 * json_object_set_new takes the value even when it fails */
	if (json_object_set_new(o, "context", sd__json_string_repair(a->context)) ||
	    json_object_set_new(o, "instructions",
				sd__json_string_repair(a->instructions)) ||
	    json_object_set_new(o, "type", json_string(type)) ||
	    json_object_set_new(o, "persona", persona_object(a)))
		goto out;
	*out = sd__py_json_dumps(o, -1);
	if (*out)
		rc = SD_OK;
out:
	json_decref(o);
	return rc;
}

int sd__profile_bare_system_prompt(sd_profile p, char **out)
{
	sd_actor_params ap = sd_actor_default_params();
	sd_error err;
	ap.profile = p;
	if (p != SD_PROFILE_2_2_1)
		return SD_EINVAL;
	sd_actor *a = sd_actor_create(&ap, &err);
	if (!a)
		return SD_ENOMEM;
	int rc = sd_actor_system_prompt(a, out);
	sd_actor_free(a);
	return rc;
}

/*
 * Expand {name}, {text}, {history} in tmpl; "{{" is a literal "{". An
 * unknown placeholder is copied as it is, so user templates with braces
 * of their own keep working.
 */
static int expand(sd__buf *b, const char *tmpl, const char *name, const char *text,
		  const char *history)
{
	int rc = sd__buf_append(b, "", 0);
	for (const char *p = tmpl; *p && rc == SD_OK;) {
		if (p[0] == '{' && p[1] == '{') {
			rc = sd__buf_append(b, "{", 1);
			p += 2;
		} else if (name && strncmp(p, "{name}", 6) == 0) {
			rc = sd__buf_puts(b, name);
			p += 6;
		} else if (text && strncmp(p, "{text}", 6) == 0) {
			rc = sd__buf_puts(b, text);
			p += 6;
		} else if (history && strncmp(p, "{history}", 9) == 0) {
			rc = sd__buf_puts(b, history);
			p += 9;
		} else {
			size_t n = strcspn(p + 1, "{") + 1;
			rc = sd__buf_append(b, p, n);
			p += n;
		}
	}
	return rc;
}

int sd__actor_format_entry(const sd_actor *a, const char *name, const char *text,
			   char **out)
{
	char *filled = NULL;
	sd__buf b;
	int rc;
	*out = NULL;
	if (!a || !name || !text)
		return SD_EINVAL;
	/* a blank comment is an empty entry in every version */
	if (sd__py_is_blank(text)) {
		*out = strdup("");
		return *out ? SD_OK : SD_ENOMEM;
	}
	rc = sd__py_fill(text, a->profile == SD_PROFILE_2_2_1 ? a->textwrap_len : 70,
			 &filled);
	if (rc)
		return rc;
	const char *tmpl = a->history_entry;
	if (!tmpl)
		tmpl = a->profile == SD_PROFILE_2_2_1
			   ? "Comment by user {name}: \"\n{text}\""
			   : "User {name} posted:\n{text}";
	sd__buf_init(&b, 0);
	rc = expand(&b, tmpl, name, filled, NULL);
	if (!rc && !(*out = sd__buf_steal(&b)))
		rc = SD_ENOMEM;
	sd__buf_free(&b);
	free(filled);
	return rc;
}

static bool wraps_json(const sd_actor *a)
{
	if (a->wrap_user_json >= 0)
		return a->wrap_user_json != 0;
	return a->profile != SD_PROFILE_SEED;
}

int sd__actor_prompt_from_entries(const sd_actor *a, const char *const *entries, size_t n,
				  char **out)
{
	sd__buf hist, text;
	int rc;
	if (!a || !out || (n && !entries))
		return SD_EINVAL;
	*out = NULL;
	sd__buf_init(&hist, 0);
	sd__buf_init(&text, 0);
	rc = sd__buf_append(&hist, "", 0);
	for (size_t i = 0; i < n && rc == SD_OK; i++) {
		if (i > 0)
			rc = sd__buf_puts(&hist, a->history_sep ? a->history_sep : "\n");
		if (rc == SD_OK)
			rc = sd__buf_puts(&hist, entries[i] ? entries[i] : "");
	}
	const char *tmpl;
	if (a->kind == SD_ACTOR_ANNOTATOR) {
		tmpl = a->annotator_prompt;
		if (!tmpl)
			tmpl = a->profile == SD_PROFILE_SEED
				   ? "Conversation so far:\n\n{history}\nOutput:"
			       : a->profile == SD_PROFILE_2_0_8
				   ? "Conversation so far:\n{history}\nOutput:"
				   : "Comments so far: {history}.\nYour annotation:";
	} else {
		tmpl = a->user_prompt;
		if (!tmpl)
			tmpl = a->profile == SD_PROFILE_2_2_1
				   ? "Comments so far: {history}.\nYour comment:"
				   : "{history}\nUser {name} posted:";
	}
	if (rc == SD_OK)
		rc = expand(&text, tmpl, a->name, NULL, hist.data);
	if (rc != SD_OK)
		goto out;
	if (wraps_json(a)) {
		json_t *o = json_object();
		rc = SD_ENOMEM;
		if (o && !json_object_set_new(o, "role", json_string("user")) &&
		    !json_object_set_new(o, "content", sd__json_string_repair(text.data)))
			*out = sd__py_json_dumps(o, -1);
		json_decref(o);
		if (*out)
			rc = SD_OK;
	} else {
		*out = sd__buf_steal(&text);
		rc = *out ? SD_OK : SD_ENOMEM;
	}
out:
	sd__buf_free(&hist);
	sd__buf_free(&text);
	return rc;
}

int sd_actor_user_prompt(const sd_actor *a, const sd_comment_view *history,
			 size_t n_history, char **out)
{
	char **entries = NULL;
	int rc = SD_OK;
	if (!a || !out || (n_history && !history))
		return SD_EINVAL;
	if (n_history && !(entries = calloc(n_history, sizeof(char *))))
		return SD_ENOMEM;
	for (size_t i = 0; i < n_history && rc == SD_OK; i++)
		rc = sd__actor_format_entry(a, history[i].name ? history[i].name : "",
					    history[i].text ? history[i].text : "",
					    &entries[i]);
	if (rc == SD_OK)
		rc = sd__actor_prompt_from_entries(a, (const char *const *)entries,
						   n_history, out);
	for (size_t i = 0; i < n_history; i++)
		free(entries[i]);
	free(entries);
	return rc;
}

int sd__actor_postprocess(const sd_actor *a, const char *raw, char **out)
{
	char *s = a->profile == SD_PROFILE_SEED ? strdup(raw) : sd__py_strip(raw);
	/* sequential and non-recursive, in list order, as str.replace */
	for (size_t i = 0; s && i < a->n_remove; i++) {
		char *t = sd__py_remove_all(s, a->remove[i]);
		free(s);
		s = t;
	}
	*out = s;
	return s ? SD_OK : SD_ENOMEM;
}

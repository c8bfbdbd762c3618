#include "run/config_common.h"

#include <libgen.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "util/buf.h"
#include "util/error.h"

int sd__cfg_check_keys(const json_t *o, const char *const *keys, size_t n,
		       const char *source, const char *prefix, sd_error *err)
{
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)o, key, v)
	{
		size_t i;
		for (i = 0; i < n; i++)
			if (strcmp(key, keys[i]) == 0)
				break;
		if (i < n)
			continue;
		sd__buf allowed;
		sd__buf_init(&allowed, 0);
		for (i = 0; i < n; i++)
			if (sd__buf_printf(&allowed, "%s%s", i ? ", " : "", keys[i]))
				break; /* out of memory: the list is left out */
		char field[sizeof(err->field) + 64];
		snprintf(field, sizeof(field), "%s%s", prefix, key);
		sd__error_set(err, SD_EINVAL, source, field, "unknown field (valid: %s)",
			      allowed.data && !sd__buf_status(&allowed) ? allowed.data
									: "");
		sd__buf_free(&allowed);
		return SD_EINVAL;
	}
	return SD_OK;
}

int sd__cfg_get_str(const json_t *o, const char *key, const char *field,
		    const char *source, char **out, sd_error *err)
{
	const json_t *v = json_object_get(o, key);
	if (!v || json_is_null(v))
		return SD_OK;
	if (!json_is_string(v))
		return sd__error_set(err, SD_EINVAL, source, field, "must be a string");
	char *s = strdup(json_string_value(v));
	if (!s)
		return sd__error_set(err, SD_ENOMEM, source, field, "out of memory");
	free(*out);
	*out = s;
	return SD_OK;
}

int sd__cfg_get_int(const json_t *o, const char *key, const char *field,
		    const char *source, long long lo, long long hi, long long *out,
		    sd_error *err)
{
	const json_t *v = json_object_get(o, key);
	if (!v || json_is_null(v))
		return SD_OK;
	if (!json_is_integer(v))
		return sd__error_set(err, SD_EINVAL, source, field, "must be an integer");
	long long x = json_integer_value(v);
	if (x < lo || x > hi)
		return sd__error_set(err, SD_EINVAL, source, field,
				     "must be between %lld and %lld, got %lld", lo, hi,
				     x);
	*out = x;
	return SD_OK;
}

int sd__cfg_get_num(const json_t *o, const char *key, const char *field,
		    const char *source, double lo, double hi, double *out, sd_error *err)
{
	const json_t *v = json_object_get(o, key);
	if (!v || json_is_null(v))
		return SD_OK;
	if (!json_is_number(v))
		return sd__error_set(err, SD_EINVAL, source, field, "must be a number");
	double x = json_number_value(v);
	if (!(x >= lo && x <= hi))
		return sd__error_set(err, SD_EINVAL, source, field,
				     "must be between %g and %g, got %g", lo, hi, x);
	*out = x;
	return SD_OK;
}

void sd__cfg_prefix_field(sd_error *err, const char *prefix, const char *sep)
{
	char old[sizeof(err->field)];
	memcpy(old, err->field, sizeof(old));
	size_t n = strlen(prefix) + strlen(sep);
	if (n >= sizeof(err->field))
		return;
	memcpy(err->field, prefix, strlen(prefix));
	memcpy(err->field + strlen(prefix), sep, strlen(sep));
	size_t rest = strnlen(old, sizeof(old));
	if (rest > sizeof(err->field) - 1 - n)
		rest = sizeof(err->field) - 1 - n;
	memcpy(err->field + n, old, rest);
	err->field[n + rest] = '\0';
}

char *sd__cfg_resolve(const char *dir, const char *p)
{
	sd__buf b;
	sd__buf_init(&b, 0);
	int rc = p[0] == '/' || !dir || !dir[0] || strcmp(dir, ".") == 0
		     ? sd__buf_puts(&b, p)
		     : sd__buf_printf(&b, "%s/%s", dir, p);
	/* a failed buffer steals as NULL: never a path cut short */
	return rc ? NULL : sd__buf_steal(&b);
}

char *sd__cfg_dirname(const char *path)
{
	char *tmp = strdup(path);
	char *d = tmp ? strdup(dirname(tmp)) : NULL;
	free(tmp);
	return d;
}

int sd__cfg_load_object(const char *path, const char *what, json_t **root, sd_error *err)
{
	char *text = NULL;
	json_error_t jerr;
	int rc;

	*root = NULL;
	if ((rc = sd_file_read(path, &text, NULL, err)))
		return rc;
	json_t *o = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	free(text);
	if (!o)
		return sd__error_set_at(err, SD_EPARSE, path, jerr.line, jerr.column,
					"%s", jerr.text);
	if (!json_is_object(o)) {
		json_decref(o);
		return sd__error_set(err, SD_EINVAL, path, NULL,
				     "%s must be a JSON object", what);
	}
	*root = o;
	return SD_OK;
}

int sd__cfg_text(const json_t *o, const char *key, const char *prefix, const char *source,
		 const char *dir, char **out, sd_error *err)
{
	char fkey[96], field[160];
	snprintf(fkey, sizeof(fkey), "%s_file", key);
	const json_t *inl = json_object_get(o, key);
	const json_t *file = json_object_get(o, fkey);
	if (inl && !json_is_null(inl) && file) {
		snprintf(field, sizeof(field), "%s%s", prefix, key);
		return sd__error_set(err, SD_EINVAL, source, field,
				     "give either \"%s\" or \"%s\", not both", key, fkey);
	}
	if (!file) {
		snprintf(field, sizeof(field), "%s%s", prefix, key);
		return sd__cfg_get_str(o, key, field, source, out, err);
	}
	snprintf(field, sizeof(field), "%s%s", prefix, fkey);
	if (!json_is_string(file))
		return sd__error_set(err, SD_EINVAL, source, field,
				     "must be a path string");
	char *p = sd__cfg_resolve(dir, json_string_value(file));
	char *text = NULL;
	if (!p)
		return sd__error_set(err, SD_ENOMEM, source, NULL, "out of memory");
	int rc = sd_file_read(p, &text, NULL, err);
	free(p);
	if (rc)
		return rc;
	free(*out);
	*out = text;
	return SD_OK;
}

int sd__cfg_personas(const json_t *root, const char *source, const char *dir,
		     bool allow_missing, sd_persona ***out, size_t *n, sd_error *err)
{
	const json_t *inl = json_object_get(root, "personas");
	const json_t *file = json_object_get(root, "personas_file");
	sd_persona **all = NULL, **sel = NULL;
	size_t n_all = 0, n_sel = 0;
	int rc;
	*out = NULL;
	*n = 0;
	if (inl && file)
		return sd__error_set(
		    err, SD_EINVAL, source, "personas",
		    "give either \"personas\" or \"personas_file\", not both");
	if (!inl && !file) {
		if (allow_missing)
			return SD_OK;
		return sd__error_set(
		    err, SD_EINVAL, source, "personas",
		    "missing: list the users' personas inline or give \"personas_file\"");
	}
	if (file) {
		if (!json_is_string(file))
			return sd__error_set(err, SD_EINVAL, source, "personas_file",
					     "must be a path string");
		char *p = sd__cfg_resolve(dir, json_string_value(file));
		if (!p)
			return sd__error_set(err, SD_ENOMEM, source, NULL,
					     "out of memory");
		rc = sd_persona_array_load(p, &all, &n_all, err);
		free(p);
		if (rc)
			return rc;
	} else {
		char *text = json_dumps(inl, JSON_ENCODE_ANY);
		if (!text)
			return sd__error_set(err, SD_ENOMEM, source, NULL,
					     "out of memory");
		rc = sd_persona_array_from_json(text, source, &all, &n_all, err);
		free(text);
		if (rc) {
			/* point at the config's field, not at a re-dumped text */
			if (err && err->field[0])
				sd__cfg_prefix_field(err, "personas", "");
			if (err)
				err->line = err->column = 0;
			return rc;
		}
	}

	const json_t *users = json_object_get(root, "users");
	if (!users) {
		*out = all;
		*n = n_all;
		return SD_OK;
	}
	rc = SD_EINVAL;
	if (!json_is_array(users) || json_array_size(users) == 0) {
		sd__error_set(err, SD_EINVAL, source, "users",
			      "must be a non-empty array of usernames");
		goto out;
	}
	sel = calloc(json_array_size(users), sizeof(*sel));
	if (!sel) {
		rc = sd__error_set(err, SD_ENOMEM, source, NULL, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < json_array_size(users); i++) {
		const char *name = json_string_value(json_array_get(users, i));
		char field[64];
		snprintf(field, sizeof(field), "users[%zu]", i);
		if (!name) {
			sd__error_set(err, SD_EINVAL, source, field,
				      "must be a username string");
			goto out;
		}
		size_t k;
		for (k = 0; k < n_all; k++)
			if (all[k] && strcmp(sd_persona_username(all[k]), name) == 0)
				break;
		if (k == n_all) {
			sd__error_set(err, SD_EINVAL, source, field,
				      "no persona named \"%s\" (or it is listed twice)",
				      name);
			goto out;
		}
		sel[n_sel++] = all[k];
		all[k] = NULL;
	}
	*out = sel;
	*n = n_sel;
	sel = NULL;
	rc = SD_OK;
out:
	sd_persona_array_free(sel, n_sel);
	sd_persona_array_free(all, n_all);
	return rc;
}

int sd__cfg_moderator_parse(const json_t *m, const char *source, const char *dir,
			    sd__cfg_moderator *out, sd_error *err)
{
	static const char *const keys[] = {
	    "persona",	"instructions", "instructions_file", "context",
	    "in_users", "model_name",	"remove_strings",
	};
	int rc;
	memset(out, 0, sizeof(*out));
	if (!m || json_is_null(m))
		return SD_OK;
	if (!json_is_object(m))
		return sd__error_set(err, SD_EINVAL, source, "moderator",
				     "must be an object {persona, instructions} or null");
	if ((rc = sd__cfg_check_keys(m, keys, 7, source, "moderator.", err)))
		return rc;
	const json_t *iu = json_object_get(m, "in_users");
	if (iu && !json_is_boolean(iu))
		return sd__error_set(err, SD_EINVAL, source, "moderator.in_users",
				     "must be true or false");
	out->in_users = json_is_true(iu);
	const json_t *mn = json_object_get(m, "model_name");
	if (mn && !json_is_null(mn) && !json_is_string(mn))
		return sd__error_set(err, SD_EINVAL, source, "moderator.model_name",
				     "must be a string");
	out->model_name = json_string_value(mn);
	out->has_remove = json_object_get(m, "remove_strings") != NULL;
	if ((rc = sd__cfg_string_list(m, "remove_strings", "moderator.remove_strings",
				      source, &out->remove_strings,
				      &out->n_remove_strings, err)))
		return rc;
	const json_t *p = json_object_get(m, "persona");
	if (!p)
		return sd__error_set(
		    err, SD_EINVAL, source, "moderator.persona",
		    "missing: the moderator needs a persona with a username");
	char *text = json_dumps(p, JSON_ENCODE_ANY);
	if (!text)
		return sd__error_set(err, SD_ENOMEM, source, NULL, "out of memory");
	out->persona = sd_persona_from_json(text, err);
	free(text);
	if (!out->persona) {
		if (err) {
			snprintf(err->source, sizeof(err->source), "%s", source);
			sd__cfg_prefix_field(err, "moderator.persona",
					     err->field[0] ? "." : "");
			err->line = err->column = 0;
		}
		return SD_EINVAL;
	}
	out->instructions = strdup("");
	if (!out->instructions)
		return sd__error_set(err, SD_ENOMEM, source, NULL, "out of memory");
	if ((rc = sd__cfg_text(m, "instructions", "moderator.", source, dir,
			       &out->instructions, err)) ||
	    (rc = sd__cfg_get_str(m, "context", "moderator.context", source,
				  &out->context, err))) {
		sd__cfg_moderator_clear(out);
		return rc;
	}
	return SD_OK;
}

void sd__cfg_moderator_actor_params(const sd__cfg_moderator *m,
				    const char *shared_context, sd_actor_params *ap)
{
	ap->persona = m->persona;
	ap->instructions = m->instructions;
	ap->context = m->context ? m->context : shared_context;
	if (m->model_name)
		ap->model_name = m->model_name;
	if (m->has_remove) {
		ap->remove_strings = m->remove_strings;
		ap->n_remove_strings = m->n_remove_strings;
	}
}

void sd__cfg_moderator_clear(sd__cfg_moderator *m)
{
	free(m->remove_strings);
	m->remove_strings = NULL;
	sd_persona_free(m->persona);
	free(m->instructions);
	free(m->context);
	memset(m, 0, sizeof(*m));
}

int sd__cfg_turn_manager(const json_t *t, const char *source, sd_turn_params *out,
			 sd_error *err)
{
	static const char *const keys[] = {
	    "type",	    "p_respond", "random_first", "order",
	    "p_mention",    "fallback",	 "instructions", "exclude_last_speaker",
	    "silent_turns",
	};
	const char *name = NULL;
	int rc;
	if (!t || json_is_null(t))
		return SD_OK;
	if (json_is_string(t)) {
		name = json_string_value(t);
	} else if (json_is_object(t)) {
		if ((rc = sd__cfg_check_keys(t, keys, sizeof(keys) / sizeof(keys[0]),
					     source, "turn_manager.", err)))
			return rc;
		name = json_string_value(json_object_get(t, "type"));
		if (!name)
			return sd__error_set(
			    err, SD_EINVAL, source, "turn_manager.type",
			    "missing; one of round_robin, random, respond, order, "
			    "mention, director");
		if ((rc = sd__cfg_get_num(t, "p_respond", "turn_manager.p_respond",
					  source, 0.0, 1.0, &out->p_respond, err)))
			return rc;
		const json_t *rf = json_object_get(t, "random_first");
		if (rf && !json_is_boolean(rf))
			return sd__error_set(err, SD_EINVAL, source,
					     "turn_manager.random_first",
					     "must be true or false");
		out->random_first = json_is_true(rf);
		if ((rc = sd__cfg_turn_extras(t, source, out, err)))
			return rc;
	} else {
		return sd__error_set(err, SD_EINVAL, source, "turn_manager",
				     "must be a name or an object {type, ...}");
	}
	if (sd_turn_kind_from_name(name, &out->kind))
		return sd__error_set(err, SD_EINVAL, source,
				     json_is_string(t) ? "turn_manager"
						       : "turn_manager.type",
				     "unknown turn manager \"%s\" (valid: round_robin, "
				     "random, respond, order, mention, director)",
				     name);
	return sd__cfg_turn_extras_check(t, source, out, err);
}

int sd__cfg_sampling(const json_t *s, const char *source, sd_sampling *sp, sd_error *err)
{
	static const char *const keys[] = {
	    "max_tokens", "temperature",    "top_p",	     "top_k",
	    "min_p",	  "repeat_penalty", "repeat_last_n",
	};
	static const struct {
		const char *key, *field;
		long long lo, hi;
		size_t off;
	} ints[] = {
	    {"max_tokens", "sampling.max_tokens", 1, 1 << 20,
	     offsetof(sd_sampling, max_tokens)},
	    {"top_k", "sampling.top_k", 0, 1 << 20, offsetof(sd_sampling, top_k)},
	    {"repeat_last_n", "sampling.repeat_last_n", 0, 1 << 20,
	     offsetof(sd_sampling, repeat_last_n)},
	};
	static const struct {
		const char *key, *field;
		double lo, hi;
		size_t off;
	} nums[] = {
	    {"temperature", "sampling.temperature", 0, 100,
	     offsetof(sd_sampling, temperature)},
	    {"top_p", "sampling.top_p", 0, 1, offsetof(sd_sampling, top_p)},
	    {"min_p", "sampling.min_p", 0, 1, offsetof(sd_sampling, min_p)},
	    {"repeat_penalty", "sampling.repeat_penalty", 0, 100,
	     offsetof(sd_sampling, repeat_penalty)},
	};
	int rc;
	if (!s || json_is_null(s))
		return SD_OK;
	if (!json_is_object(s))
		return sd__error_set(err, SD_EINVAL, source, "sampling",
				     "must be an object");
	if ((rc = sd__cfg_check_keys(s, keys, 7, source, "sampling.", err)))
		return rc;
	for (size_t k = 0; k < sizeof(ints) / sizeof(ints[0]); k++) {
		int32_t *dst = (int32_t *)((char *)sp + ints[k].off);
		long long v = *dst;
		if ((rc = sd__cfg_get_int(s, ints[k].key, ints[k].field, source,
					  ints[k].lo, ints[k].hi, &v, err)))
			return rc;
		*dst = (int32_t)v;
	}
	for (size_t k = 0; k < sizeof(nums) / sizeof(nums[0]); k++) {
		float *dst = (float *)((char *)sp + nums[k].off);
		double v = *dst;
		if ((rc = sd__cfg_get_num(s, nums[k].key, nums[k].field, source,
					  nums[k].lo, nums[k].hi, &v, err)))
			return rc;
		*dst = (float)v;
	}
	return SD_OK;
}

/* templates.<key>: only the placeholders its renderer fills (issue 13.12) */
static int check_placeholders(const char *key, const char *tmpl, const char *source,
			      sd_error *err)
{
	static const char *const entry[] = {"name", "text"}, *const prompt[] = {
								 "history"};
	bool is_entry = !strcmp(key, "history_entry");
	bool is_prompt = !strcmp(key, "user_prompt") || !strcmp(key, "annotator_prompt");
	const char *bad;
	size_t n;
	if (!sd__template_check(tmpl, is_entry ? entry : prompt,
				is_entry    ? 2
				: is_prompt ? 1
					    : 0,
				&bad, &n))
		return SD_OK;
	char f[64];
	snprintf(f, sizeof(f), "templates.%s", key);
	return sd__error_set(
	    err, SD_EINVAL, source, f,
	    "unknown placeholder \"%.*s\"; this template knows %s (write "
	    "\"{{\" for a literal brace)",
	    (int)(n > 60 ? 60 : n), bad,
	    is_entry	? "{name} and {text}"
	    : is_prompt ? "{history}"
			: "none");
}

int sd__cfg_templates(const json_t *t, const char *source, sd_prompt_templates *out,
		      sd_error *err)
{
	static const char *const keys[] = {
	    "history_entry",	"history_sep",	  "user_prompt",
	    "annotator_prompt", "wrap_user_json",
	};
	const char **dst[] = {
	    &out->history_entry,
	    &out->history_sep,
	    &out->user_prompt,
	    &out->annotator_prompt,
	};
	int rc;
	if (!t || json_is_null(t))
		return SD_OK;
	if (!json_is_object(t))
		return sd__error_set(err, SD_EINVAL, source, "templates",
				     "must be an object");
	if ((rc = sd__cfg_check_keys(t, keys, 5, source, "templates.", err)))
		return rc;
	for (size_t k = 0; k < 4; k++) {
		const json_t *v = json_object_get(t, keys[k]);
		if (!v)
			continue;
		if (!json_is_string(v)) {
			char f[64];
			snprintf(f, sizeof(f), "templates.%s", keys[k]);
			return sd__error_set(err, SD_EINVAL, source, f,
					     "must be a string");
		}
		*dst[k] = json_string_value(v);
		if ((rc = check_placeholders(keys[k], *dst[k], source, err)))
			return rc;
	}
	const json_t *w = json_object_get(t, "wrap_user_json");
	if (w && !json_is_boolean(w))
		return sd__error_set(err, SD_EINVAL, source, "templates.wrap_user_json",
				     "must be true or false");
	if (w)
		out->wrap_user_json = json_is_true(w);
	return SD_OK;
}

/* backend.stop: an array of non-empty strings, borrowed into out->stop. */
static int parse_stop(const json_t *b, const char *source, sd__cfg_backend *out,
		      size_t *n, sd_error *err)
{
	const json_t *stop = json_object_get(b, "stop");
	*n = 0;
	if (!stop || json_is_null(stop))
		return SD_OK;
	if (!json_is_array(stop))
		return sd__error_set(err, SD_EINVAL, source, "backend.stop",
				     "must be an array of strings");
	out->stop = calloc(json_array_size(stop) + 1, sizeof(char *));
	if (!out->stop)
		return sd__error_set(err, SD_ENOMEM, source, NULL, "out of memory");
	for (size_t k = 0; k < json_array_size(stop); k++) {
		out->stop[k] = json_string_value(json_array_get(stop, k));
		if (!out->stop[k] || !out->stop[k][0])
			return sd__error_set(err, SD_EINVAL, source, "backend.stop",
					     "entry %zu must be a non-empty string", k);
	}
	*n = json_array_size(stop);
	return SD_OK;
}

static int parse_llama(const json_t *b, const char *source, const char *dir,
		       sd__cfg_backend *out, sd_error *err)
{
	static const char *const keys[] = {
	    "type",    "model",		"model_name",
	    "n_ctx",   "n_threads",	"n_gpu_layers",
	    "n_batch", "chat_template", "fallback_chat_template",
	    "stop",    "replies",	"prefix_cache",
	};
	static const struct {
		const char *key, *field;
		long long lo, hi;
		size_t off;
	} ints[] = {
	    {"n_ctx", "backend.n_ctx", 64, 1 << 24, offsetof(sd_llama_params, n_ctx)},
	    {"n_threads", "backend.n_threads", 1, 1024,
	     offsetof(sd_llama_params, n_threads)},
	    {"n_batch", "backend.n_batch", 1, 1 << 20,
	     offsetof(sd_llama_params, n_batch)},
	    {"n_gpu_layers", "backend.n_gpu_layers", -1, 100000,
	     offsetof(sd_llama_params, n_gpu_layers)},
	    {"prefix_cache", "backend.prefix_cache", -1, 256,
	     offsetof(sd_llama_params, n_prefix_cache)},
	};
	int rc;
	if ((rc = sd__cfg_check_keys(b, keys, sizeof(keys) / sizeof(keys[0]), source,
				     "backend.", err)))
		return rc;
	char *model = NULL;
	if ((rc = sd__cfg_get_str(b, "model", "backend.model", source, &model, err)))
		return rc;
	if (model) {
		out->model = sd__cfg_resolve(dir, model);
		free(model);
		if (!out->model)
			return sd__error_set(err, SD_ENOMEM, source, NULL,
					     "out of memory");
	}
	sd_llama_params *lp = &out->llama;
	static const char *const strs[] = {"model_name", "chat_template",
					   "fallback_chat_template"};
	const char **sdst[] = {&lp->model_name, &lp->chat_template,
			       &lp->fallback_chat_template};
	for (size_t k = 0; k < 3; k++) {
		const json_t *v = json_object_get(b, strs[k]);
		if (!v || json_is_null(v))
			continue;
		if (!json_is_string(v)) {
			char f[64];
			snprintf(f, sizeof(f), "backend.%s", strs[k]);
			return sd__error_set(err, SD_EINVAL, source, f,
					     "must be a string");
		}
		*sdst[k] = json_string_value(v);
	}
	for (size_t k = 0; k < sizeof(ints) / sizeof(ints[0]); k++) {
		int32_t *dst = (int32_t *)((char *)lp + ints[k].off);
		long long v = *dst;
		if ((rc = sd__cfg_get_int(b, ints[k].key, ints[k].field, source,
					  ints[k].lo, ints[k].hi, &v, err)))
			return rc;
		*dst = (int32_t)v;
	}
	if ((rc = parse_stop(b, source, out, &lp->n_stop, err)))
		return rc;
	lp->stop = out->stop;
	if (json_object_get(b, "replies") && strcmp(out->type, "scripted"))
		return sd__error_set(err, SD_EINVAL, source, "backend.replies",
				     "only the scripted backend answers from a list");
	return sd__cfg_string_list(b, "replies", "backend.replies", source, &out->replies,
				   &out->n_replies, err);
}

static int check_url(const json_t *v, const char *field, const char *source,
		     sd_error *err)
{
	const char *u = json_string_value(v);
	if (!u)
		return sd__error_set(
		    err, SD_EINVAL, source, field,
		    "must be a URL string such as \"http://127.0.0.1:8080/v1\"");
	if (strncmp(u, "http://", 7) && strncmp(u, "https://", 8))
		return sd__error_set(err, SD_EINVAL, source, field,
				     "must start with http:// or https:// (e.g. "
				     "\"http://127.0.0.1:8080/v1\"), got \"%.100s\"",
				     u);
	/* caught here, not after 600 s of retries (down_deadline) */
	for (const unsigned char *c = (const unsigned char *)u; *c; c++)
		if (*c <= 0x20 || *c == 0x7f)
			return sd__error_set(
			    err, SD_EINVAL, source, field,
			    "must not contain spaces or control characters "
			    "(byte %zu)",
			    (size_t)(c - (const unsigned char *)u));
	const char *host = strstr(u, "://") + 3;
	size_t alen = strcspn(host, "/?#");
	/* credentials in a URL would be written to run.json with it */
	if (memchr(host, '@', alen))
		return sd__error_set(
		    err, SD_EINVAL, source, field,
		    "must not hold credentials (user:password@): they would "
		    "be stored in run.json; put the key in an environment "
		    "variable named by \"api_key_env\" or in a file named by "
		    "\"api_key_file\"");
	const char *end = host + alen, *colon = NULL;
	if (*host == '[') { /* IPv6 literal */
		const char *rb = memchr(host, ']', alen);
		if (!rb)
			return sd__error_set(err, SD_EINVAL, source, field,
					     "has an unclosed '[' in its host");
		colon = rb + 1 < end && rb[1] == ':' ? rb + 1 : NULL;
		if (rb + 1 < end && !colon)
			return sd__error_set(err, SD_EINVAL, source, field,
					     "has a malformed host");
	} else {
		colon = memchr(host, ':', alen);
	}
	if ((colon ? colon : end) == host)
		return sd__error_set(err, SD_EINVAL, source, field, "has no host");
	if (colon) {
		long port = 0;
		const char *d = colon + 1;
		if (d == end)
			return sd__error_set(err, SD_EINVAL, source, field,
					     "has an empty port after ':'");
		for (; d < end; d++) {
			if (*d < '0' || *d > '9' || port > 65535)
				break;
			port = port * 10 + (*d - '0');
		}
		if (d < end || port < 1 || port > 65535)
			return sd__error_set(
			    err, SD_EINVAL, source, field,
			    "has an invalid port \"%.*s\" (must be 1 to 65535)",
			    (int)(end - colon - 1 < 20 ? end - colon - 1 : 20),
			    colon + 1);
	}
	return SD_OK;
}

static int parse_openai(const json_t *b, const char *source, const char *dir,
			sd__cfg_backend *out, sd_error *err)
{
	static const char *const keys[] = {
	    "type",
	    "base_url",
	    "base_urls",
	    "model",
	    "model_name",
	    "api_key_env",
	    "api_key_file",
	    "max_tokens",
	    "temperature",
	    "top_p",
	    "seed",
	    "stop",
	    "extra_body",
	    "grammar_field",
	    "request_timeout",
	    "connect_timeout",
	    "max_in_flight",
	    "max_retries",
	    "backoff_initial",
	    "backoff_max",
	    "down_deadline",
	};
	static const struct {
		const char *key, *field;
		double lo, hi;
		size_t off;
	} nums[] = {
	    {"request_timeout", "backend.request_timeout", 0.001, 1e7,
	     offsetof(sd_openai_params, request_timeout)},
	    {"connect_timeout", "backend.connect_timeout", 0.001, 1e7,
	     offsetof(sd_openai_params, connect_timeout)},
	    {"backoff_initial", "backend.backoff_initial", 0, 3600,
	     offsetof(sd_openai_params, backoff_initial)},
	    {"backoff_max", "backend.backoff_max", 0, 86400,
	     offsetof(sd_openai_params, backoff_max)},
	    {"down_deadline", "backend.down_deadline", 0, 1e9,
	     offsetof(sd_openai_params, down_deadline)},
	};
	static const struct {
		const char *key, *field;
		long long lo, hi;
		size_t off;
	} ints[] = {
	    {"max_tokens", "backend.max_tokens", 1, 1 << 24,
	     offsetof(sd_openai_params, max_tokens)},
	    {"max_in_flight", "backend.max_in_flight", 0, 1 << 20,
	     offsetof(sd_openai_params, max_in_flight)},
	    {"max_retries", "backend.max_retries", 0, 1000,
	     offsetof(sd_openai_params, max_retries)},
	};
	sd_openai_params *op = &out->openai;
	int rc;
	/* before the unknown-field check: this mistake deserves its own words */
	if (json_object_get(b, "api_key"))
		return sd__error_set(
		    err, SD_EINVAL, source, "backend.api_key",
		    "API keys do not belong in config files (they end up in "
		    "run.json, logs and version control); put the key in an "
		    "environment variable and name it in \"api_key_env\", or "
		    "in a file named by \"api_key_file\"");
	if ((rc = sd__cfg_check_keys(b, keys, sizeof(keys) / sizeof(keys[0]), source,
				     "backend.", err)))
		return rc;

	const json_t *one = json_object_get(b, "base_url");
	const json_t *many = json_object_get(b, "base_urls");
	if (one && many)
		return sd__error_set(
		    err, SD_EINVAL, source, "backend.base_url",
		    "give either \"base_url\" or \"base_urls\", not both");
	if (!one && !many)
		return sd__error_set(
		    err, SD_EINVAL, source, "backend.base_url",
		    "missing: the server's URL up to /v1, e.g. "
		    "\"http://127.0.0.1:8080/v1\" (or a list \"base_urls\")");
	if (many && (!json_is_array(many) || json_array_size(many) == 0))
		return sd__error_set(err, SD_EINVAL, source, "backend.base_urls",
				     "must be a non-empty array of URLs");
	size_t n = one ? 1 : json_array_size(many);
	out->base_urls = calloc(n + 1, sizeof(char *));
	if (!out->base_urls)
		return sd__error_set(err, SD_ENOMEM, source, NULL, "out of memory");
	for (size_t k = 0; k < n; k++) {
		const json_t *v = one ? one : json_array_get(many, k);
		char f[64];
		if (one)
			snprintf(f, sizeof(f), "backend.base_url");
		else
			snprintf(f, sizeof(f), "backend.base_urls[%zu]", k);
		if ((rc = check_url(v, f, source, err)))
			return rc;
		out->base_urls[k] = json_string_value(v);
	}
	op->base_urls = out->base_urls;
	op->n_base_urls = n;

	if ((rc = sd__cfg_get_str(b, "model", "backend.model", source, &out->model, err)))
		return rc;
	const json_t *mn = json_object_get(b, "model_name");
	if (mn && !json_is_null(mn) && !json_is_string(mn))
		return sd__error_set(err, SD_EINVAL, source, "backend.model_name",
				     "must be a string");
	op->model_name = json_string_value(mn);

	if (json_object_get(b, "api_key_env") && json_object_get(b, "api_key_file"))
		return sd__error_set(
		    err, SD_EINVAL, source, "backend.api_key_env",
		    "give either \"api_key_env\" or \"api_key_file\", not both");
	if ((rc = sd__cfg_get_str(b, "api_key_env", "backend.api_key_env", source,
				  &out->api_key_env, err)))
		return rc;
	if (out->api_key_env && !out->api_key_env[0])
		return sd__error_set(err, SD_EINVAL, source, "backend.api_key_env",
				     "must name an environment variable");
	char *kf = NULL;
	if ((rc = sd__cfg_get_str(b, "api_key_file", "backend.api_key_file", source, &kf,
				  err)))
		return rc;
	if (kf) {
		out->api_key_file = kf[0] ? sd__cfg_resolve(dir, kf) : NULL;
		bool empty = !kf[0];
		free(kf);
		if (empty)
			return sd__error_set(err, SD_EINVAL, source,
					     "backend.api_key_file", "must be a path");
		if (!out->api_key_file)
			return sd__error_set(err, SD_ENOMEM, source, NULL,
					     "out of memory");
	}

	for (size_t k = 0; k < sizeof(ints) / sizeof(ints[0]); k++) {
		int32_t *dst = (int32_t *)((char *)op + ints[k].off);
		long long v = *dst;
		if ((rc = sd__cfg_get_int(b, ints[k].key, ints[k].field, source,
					  ints[k].lo, ints[k].hi, &v, err)))
			return rc;
		*dst = (int32_t)v;
	}
	for (size_t k = 0; k < sizeof(nums) / sizeof(nums[0]); k++) {
		double *dst = (double *)((char *)op + nums[k].off);
		if ((rc = sd__cfg_get_num(b, nums[k].key, nums[k].field, source,
					  nums[k].lo, nums[k].hi, dst, err)))
			return rc;
	}
	double t = op->temperature, tp = op->top_p;
	if ((rc = sd__cfg_get_num(b, "temperature", "backend.temperature", source, 0, 100,
				  &t, err)) ||
	    (rc = sd__cfg_get_num(b, "top_p", "backend.top_p", source, 0, 1, &tp, err)))
		return rc;
	op->temperature = (float)t;
	op->top_p = (float)tp;
	const json_t *seed = json_object_get(b, "seed");
	if (seed && !json_is_boolean(seed))
		return sd__error_set(
		    err, SD_EINVAL, source, "backend.seed",
		    "must be true (send each request's seed, the default) "
		    "or false (for servers that reject \"seed\")");
	if (seed)
		op->send_seed = json_is_true(seed);
	if ((rc = parse_stop(b, source, out, &op->n_stop, err)))
		return rc;
	op->stop = out->stop;

	const json_t *extra = json_object_get(b, "extra_body");
	if (extra && !json_is_null(extra)) {
		if (!json_is_object(extra))
			return sd__error_set(
			    err, SD_EINVAL, source, "backend.extra_body",
			    "must be an object (merged into every request body)");
		out->extra_body = json_dumps(extra, JSON_COMPACT);
		if (!out->extra_body)
			return sd__error_set(err, SD_ENOMEM, source, NULL,
					     "out of memory");
		op->extra_body = out->extra_body;
	}
	const json_t *gf = json_object_get(b, "grammar_field");
	if (gf && json_is_null(gf)) {
		op->grammar_field = NULL;
	} else if (gf) {
		if (!json_is_string(gf) || !json_string_length(gf))
			return sd__error_set(
			    err, SD_EINVAL, source, "backend.grammar_field",
			    "must be a field name (\"grammar\", \"guided_grammar\") "
			    "or null");
		op->grammar_field = json_string_value(gf);
	}
	return SD_OK;
}

int sd__cfg_backend_parse(const json_t *b, const char *source, const char *dir,
			  sd__cfg_backend *out, sd_error *err)
{
	int rc;
	memset(out, 0, sizeof(*out));
	out->llama = sd_llama_default_params();
	out->openai = sd_openai_default_params();
	out->type = strdup("llama");
	if (!out->type)
		return sd__error_set(err, SD_ENOMEM, source, NULL, "out of memory");
	if (!b || json_is_null(b))
		return SD_OK;
	if (!json_is_object(b))
		return sd__error_set(err, SD_EINVAL, source, "backend",
				     "must be an object");
	if ((rc = sd__cfg_get_str(b, "type", "backend.type", source, &out->type, err)))
		return rc;
	if (!strcmp(out->type, "openai"))
		return parse_openai(b, source, dir, out, err);
	if (strcmp(out->type, "llama") && strcmp(out->type, "scripted"))
		return sd__error_set(
		    err, SD_EINVAL, source, "backend.type",
		    "unknown backend \"%s\" (valid: llama, openai, scripted)", out->type);
	return parse_llama(b, source, dir, out, err);
}

void sd__cfg_backend_clear(sd__cfg_backend *b)
{
	free(b->replies);
	b->replies = NULL;
	free(b->type);
	free(b->model);
	free(b->stop);
	free(b->base_urls);
	free(b->extra_body);
	free(b->api_key_env);
	free(b->api_key_file);
	memset(b, 0, sizeof(*b));
}

void sd__cfg_secret_free(char *s)
{
	if (!s)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}

int sd__cfg_backend_api_key(const sd__cfg_backend *b, const char *source, char **out,
			    sd_error *err)
{
	*out = NULL;
	if (b->api_key_env) {
		const char *v = getenv(b->api_key_env);
		if (!v || !v[0])
			return sd__error_set(
			    err, SD_EINVAL, source, "backend.api_key_env",
			    "the environment variable %s is not set or empty",
			    b->api_key_env);
		*out = strdup(v);
		return *out
			   ? SD_OK
			   : sd__error_set(err, SD_ENOMEM, source, NULL, "out of memory");
	}
	if (!b->api_key_file)
		return SD_OK;
	char *text = NULL;
	size_t len = 0;
	int rc = sd_file_read(b->api_key_file, &text, &len, err);
	if (rc) {
		if (err)
			snprintf(err->field, sizeof(err->field), "backend.api_key_file");
		return rc;
	}
	/* the usual file is "KEY\n"; surrounding blanks are never part of a key */
	size_t s = 0;
	while (len > 0 && strchr(" \t\r\n", text[len - 1]))
		len--;
	while (s < len && strchr(" \t\r\n", text[s]))
		s++;
	if (s == len || memchr(text + s, '\n', len - s) ||
	    memchr(text + s, '\r', len - s)) {
		sd__cfg_secret_free(text);
		return sd__error_set(err, SD_EINVAL, b->api_key_file,
				     "backend.api_key_file",
				     "must hold the API key on one line");
	}
	memmove(text, text + s, len - s);
	explicit_bzero(text + (len - s), s);
	text[len - s] = '\0';
	*out = text;
	return SD_OK;
}

int sd__cfg_profile(const json_t *root, const char *source, sd_profile *out,
		    sd_error *err)
{
	const json_t *v = json_object_get(root, "syndisco");
	*out = SD_PROFILE_DEFAULT;
	if (!v || json_is_null(v))
		return SD_OK;
	if (!json_is_string(v) || sd_profile_from_name(json_string_value(v), out))
		return sd__error_set(
		    err, SD_EINVAL, source, "syndisco",
		    "unknown SynDisco profile %s%s%s (known: " SD_PROFILE_NAMES ")",
		    json_is_string(v) ? "\"" : "",
		    json_is_string(v) ? json_string_value(v) : "(not a string)",
		    json_is_string(v) ? "\"" : "");
	return SD_OK;
}

int sd__cfg_string_list(const json_t *o, const char *key, const char *field,
			const char *source, const char ***out, size_t *n, sd_error *err)
{
	const json_t *a = json_object_get(o, key);
	*out = NULL;
	*n = 0;
	if (!a || json_is_null(a))
		return SD_OK;
	if (!json_is_array(a))
		return sd__error_set(err, SD_EINVAL, source, field,
				     "must be an array of strings");
	*out = calloc(json_array_size(a) + 1, sizeof(char *));
	if (!*out)
		return sd__error_set(err, SD_ENOMEM, source, NULL, "out of memory");
	for (size_t k = 0; k < json_array_size(a); k++) {
		(*out)[k] = json_string_value(json_array_get(a, k));
		if (!(*out)[k]) {
			free(*out);
			*out = NULL;
			return sd__error_set(err, SD_EINVAL, source, field,
					     "entry %zu must be a string", k);
		}
	}
	*n = json_array_size(a);
	return SD_OK;
}

/*
 * A discussion config file (docs/config.md) turned into actors, a turn
 * manager and a discussion. Strict: unknown fields are errors, so a typo
 * in a multi-day run's config is caught before the first token.
 */
#include <jansson.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "syndisco.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/rng.h"

struct sd_discussion_config {
	char *path;
	char *dir;
	json_t *root;
	sd_persona **personas; /* the users, in order */
	size_t n_users;
	sd_persona *moderator;
	char *moderator_instructions;
	char *moderator_context;
	char *context;
	char *instructions;
	sd_turn_params turn;
	sd_discussion_params disc;
	sd_seed_opinion *seeds;
	size_t n_seeds;
	sd_prompt_templates templates;
	char *backend_type;
	char *model;
	sd_llama_params llama;
	const char **stop;
	/* built by instantiate */
	sd_actor **actors;
	sd_actor *mod_actor;
	sd_turn_manager *tm;
	bool instantiated;
};

static const char *const top_keys[] = {
	"personas", "personas_file", "users", "context", "instructions",
	"moderator", "turn_manager", "conv_len", "history_ctx_len",
	"seed_opinions", "seed", "sampling", "backend", "templates",
	"description",
};

static int check_keys(const json_t *o, const char *const *keys, size_t n,
		      const char *source, const char *prefix, sd_error *err)
{
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)o, key, v) {
		size_t i;
		for (i = 0; i < n; i++)
			if (strcmp(key, keys[i]) == 0)
				break;
		if (i < n)
			continue;
		sd_buf allowed;
		sd_buf_init(&allowed, 0);
		for (i = 0; i < n; i++)
			sd_buf_printf(&allowed, "%s%s", i ? ", " : "", keys[i]);
		char field[sizeof(err->field) + 64];
		snprintf(field, sizeof(field), "%s%s", prefix, key);
		sd_error_set(err, SD_EINVAL, source, field,
			     "unknown field (valid: %s)",
			     allowed.data ? allowed.data : "");
		sd_buf_free(&allowed);
		return SD_EINVAL;
	}
	return SD_OK;
}

/* Typed getters: absent keeps *out, wrong type is an error. */
static int get_str(const json_t *o, const char *key, const char *field,
		   const char *source, char **out, sd_error *err)
{
	const json_t *v = json_object_get(o, key);
	if (!v || json_is_null(v))
		return SD_OK;
	if (!json_is_string(v))
		return sd_error_set(err, SD_EINVAL, source, field,
				    "must be a string");
	char *s = strdup(json_string_value(v));
	if (!s)
		return sd_error_set(err, SD_ENOMEM, source, field, "out of memory");
	free(*out);
	*out = s;
	return SD_OK;
}

static int get_int(const json_t *o, const char *key, const char *field,
		   const char *source, long long lo, long long hi,
		   long long *out, sd_error *err)
{
	const json_t *v = json_object_get(o, key);
	if (!v || json_is_null(v))
		return SD_OK;
	if (!json_is_integer(v))
		return sd_error_set(err, SD_EINVAL, source, field,
				    "must be an integer");
	long long x = json_integer_value(v);
	if (x < lo || x > hi)
		return sd_error_set(err, SD_EINVAL, source, field,
				    "must be between %lld and %lld, got %lld",
				    lo, hi, x);
	*out = x;
	return SD_OK;
}

static int get_num(const json_t *o, const char *key, const char *field,
		   const char *source, double lo, double hi, double *out,
		   sd_error *err)
{
	const json_t *v = json_object_get(o, key);
	if (!v || json_is_null(v))
		return SD_OK;
	if (!json_is_number(v))
		return sd_error_set(err, SD_EINVAL, source, field,
				    "must be a number");
	double x = json_number_value(v);
	if (!(x >= lo && x <= hi))
		return sd_error_set(err, SD_EINVAL, source, field,
				    "must be between %g and %g, got %g", lo, hi, x);
	*out = x;
	return SD_OK;
}

/* err->field = prefix + sep + err->field (truncated to fit). */
static void prefix_field(sd_error *err, const char *prefix, const char *sep)
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

static char *resolve(const sd_discussion_config *c, const char *p)
{
	sd_buf b;
	sd_buf_init(&b, 0);
	if (p[0] == '/' || !c->dir[0] || strcmp(c->dir, ".") == 0)
		sd_buf_puts(&b, p);
	else
		sd_buf_printf(&b, "%s/%s", c->dir, p);
	return sd_buf_steal(&b);
}

static int load_personas(sd_discussion_config *c, sd_error *err)
{
	const json_t *inl = json_object_get(c->root, "personas");
	const json_t *file = json_object_get(c->root, "personas_file");
	sd_persona **all = NULL;
	size_t n_all = 0;
	int rc;
	if (inl && file)
		return sd_error_set(err, SD_EINVAL, c->path, "personas",
				    "give either \"personas\" or \"personas_file\", not both");
	if (!inl && !file)
		return sd_error_set(err, SD_EINVAL, c->path, "personas",
				    "missing: list the users' personas inline or give \"personas_file\"");
	if (file) {
		if (!json_is_string(file))
			return sd_error_set(err, SD_EINVAL, c->path, "personas_file",
					    "must be a path string");
		char *p = resolve(c, json_string_value(file));
		if (!p)
			return sd_error_set(err, SD_ENOMEM, c->path, NULL, "out of memory");
		rc = sd_persona_array_load(p, &all, &n_all, err);
		free(p);
		if (rc)
			return rc;
	} else {
		char *text = json_dumps(inl, JSON_ENCODE_ANY);
		if (!text)
			return sd_error_set(err, SD_ENOMEM, c->path, NULL, "out of memory");
		rc = sd_persona_array_from_json(text, c->path, &all, &n_all, err);
		free(text);
		if (rc) {
			/* point at the config's field, not at a re-dumped text */
			if (err && err->field[0])
				prefix_field(err, "personas", "");
			if (err)
				err->line = err->column = 0;
			return rc;
		}
	}

	const json_t *users = json_object_get(c->root, "users");
	if (!users) {
		c->personas = all;
		c->n_users = n_all;
		return SD_OK;
	}
	rc = SD_EINVAL;
	if (!json_is_array(users) || json_array_size(users) == 0) {
		sd_error_set(err, SD_EINVAL, c->path, "users",
			     "must be a non-empty array of usernames");
		goto out;
	}
	c->personas = calloc(json_array_size(users), sizeof(*c->personas));
	if (!c->personas) {
		rc = sd_error_set(err, SD_ENOMEM, c->path, NULL, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < json_array_size(users); i++) {
		const char *name = json_string_value(json_array_get(users, i));
		char field[64];
		snprintf(field, sizeof(field), "users[%zu]", i);
		if (!name) {
			sd_error_set(err, SD_EINVAL, c->path, field, "must be a username string");
			goto out;
		}
		size_t k;
		for (k = 0; k < n_all; k++)
			if (all[k] && strcmp(sd_persona_username(all[k]), name) == 0)
				break;
		if (k == n_all) {
			sd_error_set(err, SD_EINVAL, c->path, field,
				     "no persona named \"%s\" (or it is listed twice)", name);
			goto out;
		}
		c->personas[c->n_users++] = all[k];
		all[k] = NULL;
	}
	rc = SD_OK;
out:
	sd_persona_array_free(all, n_all);
	return rc;
}

static int load_moderator(sd_discussion_config *c, sd_error *err)
{
	const json_t *m = json_object_get(c->root, "moderator");
	static const char *const keys[] = { "persona", "instructions", "context" };
	int rc;
	if (!m || json_is_null(m))
		return SD_OK;
	if (!json_is_object(m))
		return sd_error_set(err, SD_EINVAL, c->path, "moderator",
				    "must be an object {persona, instructions} or null");
	if ((rc = check_keys(m, keys, 3, c->path, "moderator.", err)))
		return rc;
	const json_t *p = json_object_get(m, "persona");
	if (!p)
		return sd_error_set(err, SD_EINVAL, c->path, "moderator.persona",
				    "missing: the moderator needs a persona with a username");
	char *text = json_dumps(p, JSON_ENCODE_ANY);
	if (!text)
		return sd_error_set(err, SD_ENOMEM, c->path, NULL, "out of memory");
	c->moderator = sd_persona_from_json(text, err);
	free(text);
	if (!c->moderator) {
		if (err) {
			snprintf(err->source, sizeof(err->source), "%s", c->path);
			prefix_field(err, "moderator.persona", err->field[0] ? "." : "");
			err->line = err->column = 0;
		}
		return SD_EINVAL;
	}
	if ((rc = get_str(m, "instructions", "moderator.instructions", c->path,
			  &c->moderator_instructions, err)) ||
	    (rc = get_str(m, "context", "moderator.context", c->path,
			  &c->moderator_context, err)))
		return rc;
	return SD_OK;
}

static int load_turn_manager(sd_discussion_config *c, sd_error *err)
{
	const json_t *t = json_object_get(c->root, "turn_manager");
	static const char *const keys[] = { "type", "p_respond", "random_first" };
	const char *name = NULL;
	int rc;
	if (!t)
		return SD_OK;
	if (json_is_string(t)) {
		name = json_string_value(t);
	} else if (json_is_object(t)) {
		if ((rc = check_keys(t, keys, 3, c->path, "turn_manager.", err)))
			return rc;
		name = json_string_value(json_object_get(t, "type"));
		if (!name)
			return sd_error_set(err, SD_EINVAL, c->path, "turn_manager.type",
					    "missing; one of round_robin, random, respond");
		if ((rc = get_num(t, "p_respond", "turn_manager.p_respond", c->path,
				  0.0, 1.0, &c->turn.p_respond, err)))
			return rc;
		const json_t *rf = json_object_get(t, "random_first");
		if (rf && !json_is_boolean(rf))
			return sd_error_set(err, SD_EINVAL, c->path,
					    "turn_manager.random_first", "must be true or false");
		c->turn.random_first = json_is_true(rf);
	} else {
		return sd_error_set(err, SD_EINVAL, c->path, "turn_manager",
				    "must be a name or an object {type, ...}");
	}
	if (sd_turn_kind_from_name(name, &c->turn.kind))
		return sd_error_set(err, SD_EINVAL, c->path,
				    json_is_string(t) ? "turn_manager" : "turn_manager.type",
				    "unknown turn manager \"%s\" (valid: round_robin, random, respond)",
				    name);
	return SD_OK;
}

static int load_seeds(sd_discussion_config *c, sd_error *err)
{
	const json_t *s = json_object_get(c->root, "seed_opinions");
	if (!s || json_is_null(s))
		return SD_OK;
	if (!json_is_array(s))
		return sd_error_set(err, SD_EINVAL, c->path, "seed_opinions",
				    "must be an array of {username, text}");
	c->seeds = calloc(json_array_size(s) + 1, sizeof(*c->seeds));
	if (!c->seeds)
		return sd_error_set(err, SD_ENOMEM, c->path, NULL, "out of memory");
	for (size_t i = 0; i < json_array_size(s); i++) {
		const json_t *e = json_array_get(s, i);
		char field[64];
		const char *u = json_string_value(json_object_get(e, "username"));
		const char *t = json_string_value(json_object_get(e, "text"));
		snprintf(field, sizeof(field), "seed_opinions[%zu]", i);
		if (!json_is_object(e) || !u || !u[0] || !t)
			return sd_error_set(err, SD_EINVAL, c->path, field,
					    "needs a non-empty \"username\" and a \"text\" string");
		/* borrowed from root, which lives as long as the config */
		c->seeds[c->n_seeds].username = u;
		c->seeds[c->n_seeds].text = t;
		c->n_seeds++;
	}
	return SD_OK;
}

static int load_sampling(sd_discussion_config *c, sd_error *err)
{
	const json_t *s = json_object_get(c->root, "sampling");
	static const char *const keys[] = {
		"max_tokens", "temperature", "top_p", "top_k", "min_p",
		"repeat_penalty", "repeat_last_n",
	};
	sd_sampling *sp = &c->disc.sampling;
	long long i;
	double d;
	int rc;
	if (!s)
		return SD_OK;
	if (!json_is_object(s))
		return sd_error_set(err, SD_EINVAL, c->path, "sampling", "must be an object");
	if ((rc = check_keys(s, keys, 7, c->path, "sampling.", err)))
		return rc;
	i = sp->max_tokens;
	if ((rc = get_int(s, "max_tokens", "sampling.max_tokens", c->path, 1, 1 << 20, &i, err)))
		return rc;
	sp->max_tokens = (int32_t)i;
	i = sp->top_k;
	if ((rc = get_int(s, "top_k", "sampling.top_k", c->path, 0, 1 << 20, &i, err)))
		return rc;
	sp->top_k = (int32_t)i;
	i = sp->repeat_last_n;
	if ((rc = get_int(s, "repeat_last_n", "sampling.repeat_last_n", c->path, 0, 1 << 20, &i, err)))
		return rc;
	sp->repeat_last_n = (int32_t)i;
	d = sp->temperature;
	if ((rc = get_num(s, "temperature", "sampling.temperature", c->path, 0, 100, &d, err)))
		return rc;
	sp->temperature = (float)d;
	d = sp->top_p;
	if ((rc = get_num(s, "top_p", "sampling.top_p", c->path, 0, 1, &d, err)))
		return rc;
	sp->top_p = (float)d;
	d = sp->min_p;
	if ((rc = get_num(s, "min_p", "sampling.min_p", c->path, 0, 1, &d, err)))
		return rc;
	sp->min_p = (float)d;
	d = sp->repeat_penalty;
	if ((rc = get_num(s, "repeat_penalty", "sampling.repeat_penalty", c->path, 0, 100, &d, err)))
		return rc;
	sp->repeat_penalty = (float)d;
	return SD_OK;
}

static int load_backend(sd_discussion_config *c, sd_error *err)
{
	const json_t *b = json_object_get(c->root, "backend");
	static const char *const keys[] = {
		"type", "model", "model_name", "n_ctx", "n_threads",
		"n_gpu_layers", "n_batch", "chat_template",
		"fallback_chat_template", "stop",
	};
	long long i;
	int rc;
	c->backend_type = strdup("llama");
	if (!c->backend_type)
		return sd_error_set(err, SD_ENOMEM, c->path, NULL, "out of memory");
	if (!b)
		return SD_OK;
	if (!json_is_object(b))
		return sd_error_set(err, SD_EINVAL, c->path, "backend", "must be an object");
	if ((rc = check_keys(b, keys, sizeof(keys) / sizeof(keys[0]), c->path,
			     "backend.", err)))
		return rc;
	if ((rc = get_str(b, "type", "backend.type", c->path, &c->backend_type, err)))
		return rc;
	if (strcmp(c->backend_type, "llama") && strcmp(c->backend_type, "scripted"))
		return sd_error_set(err, SD_EINVAL, c->path, "backend.type",
				    "unknown backend \"%s\" (valid: llama, scripted)",
				    c->backend_type);
	char *model = NULL;
	if ((rc = get_str(b, "model", "backend.model", c->path, &model, err)))
		return rc;
	if (model) {
		c->model = resolve(c, model);
		free(model);
		if (!c->model)
			return sd_error_set(err, SD_ENOMEM, c->path, NULL, "out of memory");
	}
	sd_llama_params *lp = &c->llama;
	lp->model_name = json_string_value(json_object_get(b, "model_name"));
	lp->chat_template = json_string_value(json_object_get(b, "chat_template"));
	if (json_object_get(b, "fallback_chat_template"))
		lp->fallback_chat_template =
			json_string_value(json_object_get(b, "fallback_chat_template"));
	i = lp->n_ctx;
	if ((rc = get_int(b, "n_ctx", "backend.n_ctx", c->path, 64, 1 << 24, &i, err)))
		return rc;
	lp->n_ctx = (int32_t)i;
	i = lp->n_threads;
	if ((rc = get_int(b, "n_threads", "backend.n_threads", c->path, 1, 1024, &i, err)))
		return rc;
	lp->n_threads = (int32_t)i;
	i = lp->n_batch;
	if ((rc = get_int(b, "n_batch", "backend.n_batch", c->path, 1, 1 << 20, &i, err)))
		return rc;
	lp->n_batch = (int32_t)i;
	i = lp->n_gpu_layers;
	if ((rc = get_int(b, "n_gpu_layers", "backend.n_gpu_layers", c->path, -1, 100000, &i, err)))
		return rc;
	lp->n_gpu_layers = (int32_t)i;
	const json_t *stop = json_object_get(b, "stop");
	if (stop) {
		if (!json_is_array(stop))
			return sd_error_set(err, SD_EINVAL, c->path, "backend.stop",
					    "must be an array of strings");
		c->stop = calloc(json_array_size(stop) + 1, sizeof(char *));
		if (!c->stop)
			return sd_error_set(err, SD_ENOMEM, c->path, NULL, "out of memory");
		for (size_t k = 0; k < json_array_size(stop); k++) {
			c->stop[k] = json_string_value(json_array_get(stop, k));
			if (!c->stop[k] || !c->stop[k][0])
				return sd_error_set(err, SD_EINVAL, c->path, "backend.stop",
						    "entry %zu must be a non-empty string", k);
		}
		lp->stop = c->stop;
		lp->n_stop = json_array_size(stop);
	}
	return SD_OK;
}

static int load_templates(sd_discussion_config *c, sd_error *err)
{
	const json_t *t = json_object_get(c->root, "templates");
	static const char *const keys[] = {
		"history_entry", "history_sep", "user_prompt",
		"annotator_prompt", "wrap_user_json",
	};
	int rc;
	if (!t)
		return SD_OK;
	if (!json_is_object(t))
		return sd_error_set(err, SD_EINVAL, c->path, "templates", "must be an object");
	if ((rc = check_keys(t, keys, 5, c->path, "templates.", err)))
		return rc;
	for (size_t k = 0; k < 4; k++) {
		const json_t *v = json_object_get(t, keys[k]);
		if (v && !json_is_string(v)) {
			char f[64];
			snprintf(f, sizeof(f), "templates.%s", keys[k]);
			return sd_error_set(err, SD_EINVAL, c->path, f, "must be a string");
		}
	}
	const char *s;
	if ((s = json_string_value(json_object_get(t, "history_entry"))))
		c->templates.history_entry = s;
	if ((s = json_string_value(json_object_get(t, "history_sep"))))
		c->templates.history_sep = s;
	if ((s = json_string_value(json_object_get(t, "user_prompt"))))
		c->templates.user_prompt = s;
	if ((s = json_string_value(json_object_get(t, "annotator_prompt"))))
		c->templates.annotator_prompt = s;
	const json_t *w = json_object_get(t, "wrap_user_json");
	if (w && !json_is_boolean(w))
		return sd_error_set(err, SD_EINVAL, c->path, "templates.wrap_user_json",
				    "must be true or false");
	c->templates.wrap_user_json = json_is_true(w);
	return SD_OK;
}

int sd_discussion_config_load(const char *path, sd_discussion_config **out,
			      sd_error *err)
{
	char *text = NULL;
	json_error_t jerr;
	sd_discussion_config *c = NULL;
	int rc;
	long long i;

	*out = NULL;
	rc = sd_file_read(path, &text, NULL, err);
	if (rc)
		return rc;
	c = calloc(1, sizeof(*c));
	if (!c) {
		rc = sd_error_set(err, SD_ENOMEM, path, NULL, "out of memory");
		goto out;
	}
	c->path = strdup(path);
	char *tmp = strdup(path);
	c->dir = tmp ? strdup(dirname(tmp)) : NULL;
	free(tmp);
	if (!c->path || !c->dir) {
		rc = sd_error_set(err, SD_ENOMEM, path, NULL, "out of memory");
		goto out;
	}
	c->root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	if (!c->root) {
		rc = sd_error_set_at(err, SD_EPARSE, path, jerr.line, jerr.column,
				     "%s", jerr.text);
		goto out;
	}
	if (!json_is_object(c->root)) {
		rc = sd_error_set(err, SD_EINVAL, path, NULL,
				  "a discussion config must be a JSON object");
		goto out;
	}
	if ((rc = check_keys(c->root, top_keys, sizeof(top_keys) / sizeof(top_keys[0]),
			     path, "", err)))
		goto out;
	c->turn = sd_turn_default_params();
	c->disc = sd_discussion_default_params();
	c->templates = sd_prompt_templates_default();
	c->llama = sd_llama_default_params();
	c->context = strdup("");
	c->instructions = strdup("");
	c->moderator_instructions = strdup("");
	if (!c->context || !c->instructions || !c->moderator_instructions) {
		rc = sd_error_set(err, SD_ENOMEM, path, NULL, "out of memory");
		goto out;
	}
	if ((rc = get_str(c->root, "context", "context", path, &c->context, err)) ||
	    (rc = get_str(c->root, "instructions", "instructions", path,
			  &c->instructions, err)) ||
	    (rc = load_personas(c, err)) || (rc = load_moderator(c, err)) ||
	    (rc = load_turn_manager(c, err)) || (rc = load_seeds(c, err)) ||
	    (rc = load_sampling(c, err)) || (rc = load_backend(c, err)) ||
	    (rc = load_templates(c, err)))
		goto out;
	i = c->disc.conv_len;
	if ((rc = get_int(c->root, "conv_len", "conv_len", path, 0, 1000000, &i, err)))
		goto out;
	c->disc.conv_len = (int32_t)i;
	i = c->disc.history_ctx_len;
	if ((rc = get_int(c->root, "history_ctx_len", "history_ctx_len", path, 1,
			  1000000, &i, err)))
		goto out;
	c->disc.history_ctx_len = (int32_t)i;
	i = 42;
	if ((rc = get_int(c->root, "seed", "seed", path, 0, INT64_MAX, &i, err)))
		goto out;
	c->disc.seed = (uint64_t)i;
	/* the turn manager and its RNG must be able to run with these users */
	if (c->turn.kind != SD_TURN_ROUND_ROBIN && c->n_users < 2) {
		rc = sd_error_set(err, SD_EINVAL, path, "users",
				  "the %s turn manager needs at least 2 users, got %zu",
				  sd_turn_kind_name(c->turn.kind), c->n_users);
		goto out;
	}
	for (size_t k = 0; c->moderator && k < c->n_users; k++) {
		if (strcmp(sd_persona_username(c->personas[k]),
			   sd_persona_username(c->moderator)) == 0) {
			rc = sd_error_set(err, SD_EINVAL, path, "moderator.persona.username",
					  "\"%s\" is also a user's username",
					  sd_persona_username(c->moderator));
			goto out;
		}
	}
	*out = c;
	c = NULL;
	rc = SD_OK;
out:
	free(text);
	sd_discussion_config_free(c);
	return rc;
}

void sd_discussion_config_free(sd_discussion_config *c)
{
	if (!c)
		return;
	if (c->actors)
		for (size_t i = 0; i < c->n_users; i++)
			sd_actor_free(c->actors[i]);
	free(c->actors);
	sd_actor_free(c->mod_actor);
	sd_turn_manager_free(c->tm);
	sd_persona_array_free(c->personas, c->n_users);
	sd_persona_free(c->moderator);
	free(c->moderator_instructions);
	free(c->moderator_context);
	free(c->context);
	free(c->instructions);
	free(c->seeds);
	free(c->stop);
	free(c->backend_type);
	free(c->model);
	free(c->path);
	free(c->dir);
	json_decref(c->root);
	free(c);
}

void sd_discussion_config_set_seed(sd_discussion_config *c, uint64_t seed)
{
	if (c)
		c->disc.seed = seed;
}

int sd_discussion_config_set_model(sd_discussion_config *c, const char *path)
{
	if (!c || !path)
		return SD_EINVAL;
	char *m = strdup(path);
	if (!m)
		return SD_ENOMEM;
	free(c->model);
	c->model = m;
	return SD_OK;
}

uint64_t sd_discussion_config_seed(const sd_discussion_config *c)
{
	return c ? c->disc.seed : 0;
}

const char *sd_discussion_config_backend_type(const sd_discussion_config *c)
{
	return c ? c->backend_type : NULL;
}

const char *sd_discussion_config_model(const sd_discussion_config *c)
{
	return c ? c->model : NULL;
}

sd_llama_params sd_discussion_config_llama_params(const sd_discussion_config *c)
{
	sd_llama_params p = c->llama;
	p.model_path = c->model;
	return p;
}

sd_discussion *sd_discussion_config_instantiate(sd_discussion_config *c,
						const char *model_name,
						sd_error *err)
{
	sd_actor_params ap = sd_actor_default_params();
	if (!c) {
		sd_error_set(err, SD_EINVAL, NULL, NULL, "no config");
		return NULL;
	}
	if (c->instantiated) {
		sd_error_set(err, SD_ESTATE, c->path, NULL,
			     "a config builds one discussion; load it again");
		return NULL;
	}
	c->instantiated = true;
	c->actors = calloc(c->n_users, sizeof(*c->actors));
	if (!c->actors) {
		sd_error_set(err, SD_ENOMEM, c->path, NULL, "out of memory");
		return NULL;
	}
	ap.model_name = model_name;
	ap.context = c->context;
	ap.instructions = c->instructions;
	ap.templates = c->templates;
	for (size_t i = 0; i < c->n_users; i++) {
		ap.persona = c->personas[i];
		c->actors[i] = sd_actor_create(&ap, err);
		if (!c->actors[i])
			return NULL;
	}
	if (c->moderator) {
		ap.persona = c->moderator;
		ap.instructions = c->moderator_instructions;
		if (c->moderator_context)
			ap.context = c->moderator_context;
		c->mod_actor = sd_actor_create(&ap, err);
		if (!c->mod_actor)
			return NULL;
	}
	sd_turn_params tp = c->turn;
	/* the turn order has its own stream, apart from the sampler seeds */
	tp.seed = sd_seed_mix(c->disc.seed, 0x7475726e /* "turn" */);
	c->tm = sd_turn_manager_create(&tp, c->n_users, err);
	if (!c->tm)
		return NULL;
	sd_discussion_params dp = c->disc;
	dp.seed_opinions = c->seeds;
	dp.n_seed_opinions = c->n_seeds;
	return sd_discussion_create(&dp, c->actors, c->n_users, c->mod_actor,
				    c->tm, err);
}

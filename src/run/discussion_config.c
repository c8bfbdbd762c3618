/*
 * A discussion config file (docs/config.md) turned into actors, a turn
 * manager and a discussion. Strict: unknown fields are errors, so a typo
 * in a multi-day run's config is caught before the first token.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "run/backend_open.h"
#include "run/config_common.h"
#include "run/model_id.h"
#include "syndisco.h"
#include "util/error.h"
#include "util/rng.h"

/* One actor of the config: a persona or a 2.2.1-style "actors" entry. */
typedef struct cfg_actor {
	sd_persona *persona;
	const char *name;	  /* borrowed; NULL: the persona's username */
	const char *instructions; /* borrowed; NULL: the shared ones */
	const char *context;	  /* borrowed; NULL: the shared one */
	const char *key;	  /* borrowed; what "users" names */
} cfg_actor;

struct sd_discussion_config {
	char *path;
	char *dir;
	json_t *root;
	sd_persona **personas; /* from "personas": the users, in order */
	size_t n_personas;
	cfg_actor *defs; /* every actor defined */
	size_t n_defs;
	size_t *user_def; /* users[i] is defs[user_def[i]]; SIZE_MAX is
			     the moderator (moderator.in_users) */
	size_t n_users;
	sd_profile profile;
	const char **remove; /* remove_strings (borrowed) */
	size_t n_remove;
	int32_t textwrap_len;
	size_t *order; /* turn_manager.order resolved to users */
	size_t n_order;
	sd__cfg_moderator mod;
	char *context;
	char *instructions;
	sd_turn_params turn;
	sd_discussion_params disc;
	sd_seed_opinion *seeds;
	size_t n_seeds;
	sd_prompt_templates templates;
	sd__cfg_backend backend;
	char *model_file; /* JSON of the opened model file's identity, or NULL */
	/* built by instantiate */
	sd_actor **actors; /* one per def */
	sd_actor **users;  /* borrowed from actors / mod_actor */
	sd_actor *mod_actor;
	sd_turn_manager *tm;
	bool instantiated;
};

static const char *const top_keys[] = {
    "personas",	       "personas_file", "users",
    "context",	       "instructions",	"instructions_file",
    "moderator",       "turn_manager",	"conv_len",
    "history_ctx_len", "seed_opinions", "seed",
    "sampling",	       "backend",	"templates",
    "description",     "syndisco",	"actors",
    "remove_strings",  "textwrap_len",	"history_ctx_tokens",
};

/*
 * "actors": SynDisco 2.2.1's Actor list, [{name, persona, instructions,
 * context, key}], persona any object or null, names free (duplicates
 * allowed); "users" then lists actor keys (or names), repeats allowed.
 */
static int load_actors(sd_discussion_config *c, const json_t *a, sd_error *err)
{
	static const char *const keys[] = {"name", "persona", "instructions", "context",
					   "key"};
	char field[64];
	int rc;
	if (!json_is_array(a) || json_array_size(a) == 0)
		return sd__error_set(err, SD_EINVAL, c->path, "actors",
				     "must be a non-empty array of {name, persona, ...}");
	if (json_object_get(c->root, "personas") ||
	    json_object_get(c->root, "personas_file"))
		return sd__error_set(err, SD_EINVAL, c->path, "actors",
				     "give either \"actors\" or personas, not both");
	c->defs = calloc(json_array_size(a), sizeof(*c->defs));
	if (!c->defs)
		return sd__error_set(err, SD_ENOMEM, c->path, NULL, "out of memory");
	for (size_t i = 0; i < json_array_size(a); i++) {
		const json_t *e = json_array_get(a, i);
		cfg_actor *d = &c->defs[c->n_defs];
		snprintf(field, sizeof(field), "actors[%zu].", i);
		if (!json_is_object(e))
			return sd__error_set(err, SD_EINVAL, c->path, "actors",
					     "entry %zu must be an object", i);
		if ((rc = sd__cfg_check_keys(e, keys, 5, c->path, field, err)))
			return rc;
		static const char *const strs[] = {"name", "instructions", "context",
						   "key"};
		const char **dst[] = {&d->name, &d->instructions, &d->context, &d->key};
		for (size_t k = 0; k < 4; k++) {
			const json_t *v = json_object_get(e, strs[k]);
			if (v && !json_is_null(v) && !json_is_string(v)) {
				snprintf(field, sizeof(field), "actors[%zu].%s", i,
					 strs[k]);
				return sd__error_set(err, SD_EINVAL, c->path, field,
						     "must be a string");
			}
			*dst[k] = json_string_value(v);
		}
		/* SynDisco 2.2.1's Actor(name=...) default */
		if (!d->name)
			d->name = "<Unnamed>";
		const json_t *p = json_object_get(e, "persona");
		if (p && !json_is_null(p) && !json_is_object(p)) {
			snprintf(field, sizeof(field), "actors[%zu].persona", i);
			return sd__error_set(err, SD_EINVAL, c->path, field,
					     "must be an object or null");
		}
		if (!(d->persona = sd__persona_from_object(json_is_object(p) ? p : NULL)))
			return sd__error_set(err, SD_ENOMEM, c->path, NULL,
					     "out of memory");
		c->n_defs++;
	}
	const json_t *users = json_object_get(c->root, "users");
	size_t n = users ? json_array_size(users) : c->n_defs;
	if (users && (!json_is_array(users) || n == 0))
		return sd__error_set(err, SD_EINVAL, c->path, "users",
				     "must be a non-empty array of actor keys");
	c->user_def = calloc(n + 1, sizeof(size_t));
	if (!c->user_def)
		return sd__error_set(err, SD_ENOMEM, c->path, NULL, "out of memory");
	for (size_t i = 0; i < n; i++) {
		if (!users) {
			c->user_def[c->n_users++] = i;
			continue;
		}
		const char *k = json_string_value(json_array_get(users, i));
		size_t j = 0;
		while (k && j < c->n_defs &&
		       strcmp(k, c->defs[j].key ? c->defs[j].key : c->defs[j].name))
			j++;
		if (!k || j == c->n_defs) {
			snprintf(field, sizeof(field), "users[%zu]", i);
			return sd__error_set(err, SD_EINVAL, c->path, field,
					     "no actor with key (or name) \"%s\"",
					     k ? k : "(not a string)");
		}
		c->user_def[c->n_users++] = j;
	}
	return SD_OK;
}

/* The personas as actors named by their usernames, in "users" order. */
static int personas_as_actors(sd_discussion_config *c, sd_error *err)
{
	size_t extra = c->mod.persona && c->mod.in_users ? 1 : 0;
	c->defs = calloc(c->n_personas + 1, sizeof(*c->defs));
	c->user_def = calloc(c->n_personas + 1, sizeof(size_t));
	if (!c->defs || !c->user_def)
		return sd__error_set(err, SD_ENOMEM, c->path, NULL, "out of memory");
	for (size_t i = 0; i < c->n_personas; i++) {
		c->defs[i].persona = c->personas[i];
		c->personas[i] = NULL;
		c->user_def[i] = i;
	}
	c->n_defs = c->n_users = c->n_personas;
	if (extra)
		c->user_def[c->n_users++] = SIZE_MAX;
	return SD_OK;
}

static const char *user_name(const sd_discussion_config *c, size_t i)
{
	size_t d = c->user_def[i];
	if (d == SIZE_MAX)
		return sd_persona_username(c->mod.persona);
	return c->defs[d].name ? c->defs[d].name
			       : sd_persona_username(c->defs[d].persona);
}

/* turn_manager.order: user names (or 0-based positions) -> positions. */
static int load_order(sd_discussion_config *c, sd_error *err)
{
	const json_t *t = json_object_get(c->root, "turn_manager");
	const json_t *o = json_is_object(t) ? json_object_get(t, "order") : NULL;
	char field[64];
	if (c->turn.kind != SD_TURN_ORDER) {
		if (o)
			return sd__error_set(
			    err, SD_EINVAL, c->path, "turn_manager.order",
			    "only the \"order\" turn manager takes an order");
		return SD_OK;
	}
	if (!json_is_array(o) || json_array_size(o) == 0)
		return sd__error_set(
		    err, SD_EINVAL, c->path, "turn_manager.order",
		    "must be a non-empty array of user names or positions");
	c->order = calloc(json_array_size(o), sizeof(size_t));
	if (!c->order)
		return sd__error_set(err, SD_ENOMEM, c->path, NULL, "out of memory");
	for (size_t i = 0; i < json_array_size(o); i++) {
		const json_t *v = json_array_get(o, i);
		size_t found = SIZE_MAX;
		snprintf(field, sizeof(field), "turn_manager.order[%zu]", i);
		if (json_is_integer(v)) {
			if (json_integer_value(v) < 0 ||
			    (size_t)json_integer_value(v) >= c->n_users)
				return sd__error_set(
				    err, SD_EINVAL, c->path, field,
				    "position %lld is not a user (0..%zu)",
				    (long long)json_integer_value(v), c->n_users - 1);
			found = (size_t)json_integer_value(v);
		} else if (json_is_string(v)) {
			for (size_t k = 0; k < c->n_users; k++) {
				if (strcmp(user_name(c, k), json_string_value(v)))
					continue;
				if (found != SIZE_MAX &&
				    c->user_def[found] != c->user_def[k])
					return sd__error_set(
					    err, SD_EINVAL, c->path, field,
					    "\"%s\" names several users; give a position",
					    json_string_value(v));
				if (found == SIZE_MAX)
					found = k;
			}
			if (found == SIZE_MAX)
				return sd__error_set(err, SD_EINVAL, c->path, field,
						     "\"%s\" is not a user",
						     json_string_value(v));
		} else {
			return sd__error_set(err, SD_EINVAL, c->path, field,
					     "must be a user name or a position");
		}
		c->order[c->n_order++] = found;
	}
	c->turn.order = c->order;
	c->turn.n_order = c->n_order;
	return SD_OK;
}

static int load_seeds(sd_discussion_config *c, sd_error *err)
{
	const json_t *s = json_object_get(c->root, "seed_opinions");
	if (!s || json_is_null(s))
		return SD_OK;
	if (!json_is_array(s))
		return sd__error_set(err, SD_EINVAL, c->path, "seed_opinions",
				     "must be an array of {username, text}");
	c->seeds = calloc(json_array_size(s) + 1, sizeof(*c->seeds));
	if (!c->seeds)
		return sd__error_set(err, SD_ENOMEM, c->path, NULL, "out of memory");
	for (size_t i = 0; i < json_array_size(s); i++) {
		const json_t *e = json_array_get(s, i);
		char field[64];
		const char *u = json_string_value(json_object_get(e, "username"));
		const char *t = json_string_value(json_object_get(e, "text"));
		snprintf(field, sizeof(field), "seed_opinions[%zu]", i);
		if (!json_is_object(e) || !u || !t)
			return sd__error_set(
			    err, SD_EINVAL, c->path, field,
			    "needs a \"username\" and a \"text\" string");
		/* borrowed from root, which lives as long as the config */
		c->seeds[c->n_seeds].username = u;
		c->seeds[c->n_seeds].text = t;
		c->n_seeds++;
	}
	return SD_OK;
}

int sd_discussion_config_load(const char *path, sd_discussion_config **out, sd_error *err)
{
	sd_discussion_config *c = NULL;
	int rc;
	long long i;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c || !(c->path = strdup(path)) || !(c->dir = sd__cfg_dirname(path))) {
		rc = sd__error_set(err, SD_ENOMEM, path, NULL, "out of memory");
		goto out;
	}
	if ((rc = sd__cfg_load_object(path, "a discussion config", &c->root, err)))
		goto out;
	if ((rc = sd__cfg_check_keys(c->root, top_keys,
				     sizeof(top_keys) / sizeof(top_keys[0]), path, "",
				     err)))
		goto out;
	c->turn = sd_turn_default_params();
	c->disc = sd_discussion_default_params();
	/* SynDisco decodes greedily; sampling.temperature can still say
	   otherwise */
	c->disc.sampling.temperature = 0.0f;
	c->templates = sd_prompt_templates_default();
	c->textwrap_len = 900000;
	c->context = strdup("");
	c->instructions = strdup("");
	if (!c->context || !c->instructions) {
		rc = sd__error_set(err, SD_ENOMEM, path, NULL, "out of memory");
		goto out;
	}
	if ((rc = sd__cfg_get_str(c->root, "context", "context", path, &c->context,
				  err)) ||
	    (rc = sd__cfg_text(c->root, "instructions", "", path, c->dir,
			       &c->instructions, err)) ||
	    (rc = sd__cfg_profile(c->root, path, &c->profile, err)) ||
	    (rc = sd__cfg_string_list(c->root, "remove_strings", "remove_strings", path,
				      &c->remove, &c->n_remove, err)) ||
	    (rc = sd__cfg_moderator_parse(json_object_get(c->root, "moderator"), path,
					  c->dir, &c->mod, err)))
		goto out;
	if (json_object_get(c->root, "actors")) {
		if ((rc = load_actors(c, json_object_get(c->root, "actors"), err)))
			goto out;
		if (c->mod.in_users) {
			rc = sd__error_set(
			    err, SD_EINVAL, path, "moderator.in_users",
			    "with \"actors\", list the moderator among them");
			goto out;
		}
	} else if ((rc = sd__cfg_personas(c->root, path, c->dir, false, &c->personas,
					  &c->n_personas, err)) ||
		   (rc = personas_as_actors(c, err))) {
		goto out;
	}
	if ((rc = sd__cfg_turn_manager(json_object_get(c->root, "turn_manager"), path,
				       &c->turn, err)) ||
	    (rc = load_order(c, err)) || (rc = load_seeds(c, err)) ||
	    (rc = sd__cfg_sampling(json_object_get(c->root, "sampling"), path,
				   &c->disc.sampling, err)) ||
	    (rc = sd__cfg_backend_parse(json_object_get(c->root, "backend"), path, c->dir,
					&c->backend, err)) ||
	    (rc = sd__cfg_templates(json_object_get(c->root, "templates"), path,
				    &c->templates, err)))
		goto out;
	i = c->disc.conv_len;
	if ((rc = sd__cfg_get_int(c->root, "conv_len", "conv_len", path, 0, 1000000, &i,
				  err)))
		goto out;
	c->disc.conv_len = (int32_t)i;
	i = c->disc.history_ctx_len;
	if ((rc = sd__cfg_get_int(c->root, "history_ctx_len", "history_ctx_len", path, 0,
				  1000000, &i, err)))
		goto out;
	c->disc.history_ctx_len = (int32_t)i;
	if ((rc = sd__cfg_history_tokens(c->root, path, c->backend.type,
					 &c->disc.history_ctx_tokens, err)))
		goto out;
	i = c->textwrap_len;
	if ((rc = sd__cfg_get_int(c->root, "textwrap_len", "textwrap_len", path, 1,
				  INT32_MAX, &i, err)))
		goto out;
	c->textwrap_len = (int32_t)i;
	i = 42;
	if ((rc = sd__cfg_get_int(c->root, "seed", "seed", path, 0, INT64_MAX, &i, err)))
		goto out;
	c->disc.seed = (uint64_t)i;
	/* the turn manager must be able to run with these users */
	if (c->turn.kind != SD_TURN_ROUND_ROBIN && c->turn.kind != SD_TURN_ORDER &&
	    c->turn.kind != SD_TURN_DIRECTOR &&
	    !(c->turn.kind == SD_TURN_MENTION &&
	      c->turn.fallback == SD_TURN_ROUND_ROBIN) &&
	    c->n_users < 2) {
		rc = sd__error_set(err, SD_EINVAL, path, "users",
				   "the %s turn manager needs at least 2 users, got %zu",
				   sd_turn_kind_name(c->turn.kind), c->n_users);
		goto out;
	}
	for (size_t k = 0; c->mod.persona && k < c->n_users; k++) {
		if (c->user_def[k] != SIZE_MAX &&
		    strcmp(user_name(c, k), sd_persona_username(c->mod.persona)) == 0) {
			rc = sd__error_set(err, SD_EINVAL, path,
					   "moderator.persona.username",
					   "\"%s\" is also a user's username",
					   sd_persona_username(c->mod.persona));
			goto out;
		}
	}
	*out = c;
	c = NULL;
	rc = SD_OK;
out:
	sd_discussion_config_free(c);
	return rc;
}

void sd_discussion_config_free(sd_discussion_config *c)
{
	if (!c)
		return;
	if (c->actors)
		for (size_t i = 0; i < c->n_defs; i++)
			sd_actor_free(c->actors[i]);
	free(c->actors);
	free(c->users);
	sd_actor_free(c->mod_actor);
	sd_turn_manager_free(c->tm);
	sd_persona_array_free(c->personas, c->n_personas);
	for (size_t i = 0; c->defs && i < c->n_defs; i++)
		sd_persona_free(c->defs[i].persona);
	free(c->defs);
	free(c->user_def);
	free(c->remove);
	free(c->order);
	sd__cfg_moderator_clear(&c->mod);
	free(c->context);
	free(c->instructions);
	free(c->model_file);
	free(c->seeds);
	sd__cfg_backend_clear(&c->backend);
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
	free(c->backend.model);
	c->backend.model = m;
	return SD_OK;
}

uint64_t sd_discussion_config_seed(const sd_discussion_config *c)
{
	return c ? c->disc.seed : 0;
}

const char *sd_discussion_config_backend_type(const sd_discussion_config *c)
{
	return c ? c->backend.type : NULL;
}

const char *sd_discussion_config_model(const sd_discussion_config *c)
{
	return c ? c->backend.model : NULL;
}

sd_llama_params sd_discussion_config_llama_params(const sd_discussion_config *c)
{
	sd_llama_params p = c->backend.llama;
	p.model_path = c->backend.model;
	return p;
}

sd_backend *sd_discussion_config_open_backend(sd_discussion_config *c,
					      const char *default_model, sd_error *err)
{
	if (!c) {
		sd__error_set(err, SD_EINVAL, NULL, NULL, "no config");
		return NULL;
	}
	/* which model file writes this log (a path says nothing of its bytes) */
	json_t *id = NULL;
	if (sd__run_model_identity(&c->backend, c->path, default_model, &id, err))
		return NULL;
	free(c->model_file);
	c->model_file = id ? json_dumps(id, JSON_COMPACT) : NULL;
	json_decref(id);
	if (id && !c->model_file) {
		sd__error_set(err, SD_ENOMEM, c->path, NULL, "out of memory");
		return NULL;
	}
	return sd__run_backend_open(&c->backend, c->path, 1, default_model, err);
}

sd_discussion *sd_discussion_config_instantiate(sd_discussion_config *c,
						const char *model_name, sd_error *err)
{
	sd_actor_params ap = sd_actor_default_params();
	if (!c) {
		sd__error_set(err, SD_EINVAL, NULL, NULL, "no config");
		return NULL;
	}
	if (c->instantiated) {
		sd__error_set(err, SD_ESTATE, c->path, NULL,
			      "a config builds one discussion; load it again");
		return NULL;
	}
	c->instantiated = true;
	c->actors = calloc(c->n_defs, sizeof(*c->actors));
	c->users = calloc(c->n_users, sizeof(*c->users));
	if (!c->actors || !c->users) {
		sd__error_set(err, SD_ENOMEM, c->path, NULL, "out of memory");
		return NULL;
	}
	ap.model_name = model_name;
	ap.templates = c->templates;
	ap.profile = c->profile;
	ap.remove_strings = c->remove;
	ap.n_remove_strings = c->n_remove;
	ap.textwrap_len = c->textwrap_len;
	for (size_t i = 0; i < c->n_defs; i++) {
		ap.persona = c->defs[i].persona;
		ap.name = c->defs[i].name;
		ap.context = c->defs[i].context ? c->defs[i].context : c->context;
		ap.instructions =
		    c->defs[i].instructions ? c->defs[i].instructions : c->instructions;
		c->actors[i] = sd_actor_create(&ap, err);
		if (!c->actors[i])
			return NULL;
	}
	if (c->mod.persona) {
		sd__cfg_moderator_actor_params(&c->mod, c->context, &ap);
		ap.name = NULL;
		c->mod_actor = sd_actor_create(&ap, err);
		if (!c->mod_actor)
			return NULL;
	}
	for (size_t i = 0; i < c->n_users; i++)
		c->users[i] =
		    c->user_def[i] == SIZE_MAX ? c->mod_actor : c->actors[c->user_def[i]];
	sd_turn_params tp = c->turn;
	/* the turn order has its own stream, apart from the sampler seeds */
	tp.seed = sd__seed_mix(c->disc.seed, 0x7475726e /* "turn" */);
	c->tm = sd_turn_manager_create(&tp, c->n_users, err);
	if (!c->tm)
		return NULL;
	sd_discussion_params dp = c->disc;
	dp.seed_opinions = c->seeds;
	dp.n_seed_opinions = c->n_seeds;
	sd_discussion *d =
	    sd_discussion_create(&dp, c->users, c->n_users, c->mod_actor, c->tm, err);
	if (d && c->model_file &&
	    sd_logs_set_extra(sd_discussion_logs_mut(d), "model_file", c->model_file)) {
		sd_discussion_free(d);
		sd__error_set(err, SD_ENOMEM, c->path, NULL, "out of memory");
		return NULL;
	}
	return d;
}

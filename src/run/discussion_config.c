/*
 * A discussion config file (docs/config.md) turned into actors, a turn
 * manager and a discussion. Strict: unknown fields are errors, so a typo
 * in a multi-day run's config is caught before the first token.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run/backend_open.h"
#include "run/config_common.h"
#include "syndisco.h"
#include "util/error.h"
#include "util/rng.h"

struct sd_discussion_config {
	char *path;
	char *dir;
	json_t *root;
	sd_persona **personas; /* the users, in order */
	size_t n_users;
	cfg_moderator mod;
	char *context;
	char *instructions;
	sd_turn_params turn;
	sd_discussion_params disc;
	sd_seed_opinion *seeds;
	size_t n_seeds;
	sd_prompt_templates templates;
	cfg_backend backend;
	/* built by instantiate */
	sd_actor **actors;
	sd_actor *mod_actor;
	sd_turn_manager *tm;
	bool instantiated;
};

static const char *const top_keys[] = {
	"personas", "personas_file", "users", "context", "instructions",
	"instructions_file", "moderator", "turn_manager", "conv_len",
	"history_ctx_len", "seed_opinions", "seed", "sampling", "backend",
	"templates", "description",
};

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
	if (!c || !(c->path = strdup(path)) || !(c->dir = cfg_dirname(path))) {
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
	if ((rc = cfg_check_keys(c->root, top_keys,
				 sizeof(top_keys) / sizeof(top_keys[0]), path, "", err)))
		goto out;
	c->turn = sd_turn_default_params();
	c->disc = sd_discussion_default_params();
	c->templates = sd_prompt_templates_default();
	c->context = strdup("");
	c->instructions = strdup("");
	if (!c->context || !c->instructions) {
		rc = sd_error_set(err, SD_ENOMEM, path, NULL, "out of memory");
		goto out;
	}
	if ((rc = cfg_get_str(c->root, "context", "context", path, &c->context, err)) ||
	    (rc = cfg_text(c->root, "instructions", "", path, c->dir,
			   &c->instructions, err)) ||
	    (rc = cfg_personas(c->root, path, c->dir, false, &c->personas,
			       &c->n_users, err)) ||
	    (rc = cfg_moderator_parse(json_object_get(c->root, "moderator"), path,
				      c->dir, &c->mod, err)) ||
	    (rc = cfg_turn_manager(json_object_get(c->root, "turn_manager"), path,
				   &c->turn, err)) ||
	    (rc = load_seeds(c, err)) ||
	    (rc = cfg_sampling(json_object_get(c->root, "sampling"), path,
			       &c->disc.sampling, err)) ||
	    (rc = cfg_backend_parse(json_object_get(c->root, "backend"), path,
				    c->dir, &c->backend, err)) ||
	    (rc = cfg_templates(json_object_get(c->root, "templates"), path,
				&c->templates, err)))
		goto out;
	i = c->disc.conv_len;
	if ((rc = cfg_get_int(c->root, "conv_len", "conv_len", path, 0, 1000000, &i, err)))
		goto out;
	c->disc.conv_len = (int32_t)i;
	i = c->disc.history_ctx_len;
	if ((rc = cfg_get_int(c->root, "history_ctx_len", "history_ctx_len", path, 1,
			      1000000, &i, err)))
		goto out;
	c->disc.history_ctx_len = (int32_t)i;
	i = 42;
	if ((rc = cfg_get_int(c->root, "seed", "seed", path, 0, INT64_MAX, &i, err)))
		goto out;
	c->disc.seed = (uint64_t)i;
	/* the turn manager must be able to run with these users */
	if (c->turn.kind != SD_TURN_ROUND_ROBIN && c->n_users < 2) {
		rc = sd_error_set(err, SD_EINVAL, path, "users",
				  "the %s turn manager needs at least 2 users, got %zu",
				  sd_turn_kind_name(c->turn.kind), c->n_users);
		goto out;
	}
	for (size_t k = 0; c->mod.persona && k < c->n_users; k++) {
		if (strcmp(sd_persona_username(c->personas[k]),
			   sd_persona_username(c->mod.persona)) == 0) {
			rc = sd_error_set(err, SD_EINVAL, path, "moderator.persona.username",
					  "\"%s\" is also a user's username",
					  sd_persona_username(c->mod.persona));
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
	cfg_moderator_clear(&c->mod);
	free(c->context);
	free(c->instructions);
	free(c->seeds);
	cfg_backend_clear(&c->backend);
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

sd_backend *sd_discussion_config_open_backend(const sd_discussion_config *c,
					      const char *default_model,
					      sd_error *err)
{
	if (!c) {
		sd_error_set(err, SD_EINVAL, NULL, NULL, "no config");
		return NULL;
	}
	return run_backend_open(&c->backend, c->path, 1, default_model, err);
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
	if (c->mod.persona) {
		ap.persona = c->mod.persona;
		ap.instructions = c->mod.instructions;
		if (c->mod.context)
			ap.context = c->mod.context;
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

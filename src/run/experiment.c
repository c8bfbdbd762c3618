/*
 * Experiment configs (docs/experiments.md) and the jobs they expand to.
 *
 * Loading has two phases. Resolving reads every file the config names and
 * inlines it, so the resolved JSON (written to run.json) holds everything a
 * discussion depends on and its digest detects any change on resume.
 * Parsing then turns each cell's resolved JSON into typed settings without
 * touching the file system.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "run/config_common.h"
#include "run/experiment.h"
#include "run/files.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/hash.h"
#include "util/rng.h"

/* Streams drawn from one discussion seed; changing one never shifts the
 * others, so e.g. adding usernames does not change the persona subset. */
enum {
	STREAM_PERSONAS = 1,
	STREAM_ROLES = 2,
	STREAM_NAMES = 3,
	STREAM_SEED_OPINION = 4,
	STREAM_TURNS = 5,
	STREAM_SAMPLER = 6,
};

static const char *const top_keys[] = {
    "description",
    "seed",
    "output_dir",
    "conditions",
    "personas",
    "personas_file",
    "users",
    "random_usernames",
    "context",
    "instructions",
    "instructions_file",
    "roles",
    "moderator",
    "turn_manager",
    "num_discussions",
    "num_active_users",
    "num_turns",
    "history_ctx_len",
    "history_ctx_tokens",
    "seed_opinions",
    "seed_opinions_file",
    "seed_opinion_posters",
    "sampling",
    "backend",
    "templates",
    "syndisco",
    "remove_strings",
    "textwrap_len",
};

/* Keys a condition level may not override. */
static const char *const run_only_keys[] = {
    "description",
    "seed",
    "output_dir",
    "conditions",
};

static bool is_run_only(const char *k)
{
	for (size_t i = 0; i < sizeof(run_only_keys) / sizeof(run_only_keys[0]); i++)
		if (strcmp(k, run_only_keys[i]) == 0)
			return true;
	return false;
}

/* ---------------- resolving: inline every file ---------------- */

static int inline_text(json_t *o, const char *key, const char *prefix, const char *path,
		       const char *dir, sd_error *err)
{
	char *text = NULL;
	char fkey[64];
	int rc;
	if (!json_is_object(o))
		return SD_OK;
	snprintf(fkey, sizeof(fkey), "%s_file", key);
	if (!json_object_get(o, fkey))
		return SD_OK;
	rc = sd__cfg_text(o, key, prefix, path, dir, &text, err);
	if (rc)
		return rc;
	rc = json_object_set_new(o, key, json_string(text)) ? SD_ENOMEM : SD_OK;
	json_object_del(o, fkey);
	free(text);
	if (rc)
		return sd__error_set(err, rc, path, key,
				     "not valid UTF-8 or out of memory");
	return SD_OK;
}

static int inline_personas(json_t *o, const char *path, const char *dir, sd_error *err)
{
	const json_t *file = json_object_get(o, "personas_file");
	char *text = NULL, *p = NULL;
	sd_persona **tmp = NULL;
	size_t n = 0;
	int rc;
	if (!file)
		return SD_OK;
	if (json_object_get(o, "personas"))
		return sd__error_set(
		    err, SD_EINVAL, path, "personas",
		    "give either \"personas\" or \"personas_file\", not both");
	if (!json_is_string(file))
		return sd__error_set(err, SD_EINVAL, path, "personas_file",
				     "must be a path string");
	p = sd__cfg_resolve(dir, json_string_value(file));
	if (!p)
		return sd__error_set(err, SD_ENOMEM, path, NULL, "out of memory");
	/* validate with messages that name the persona file itself */
	rc = sd_persona_array_load(p, &tmp, &n, err);
	sd_persona_array_free(tmp, n);
	if (rc)
		goto out;
	rc = sd_file_read(p, &text, NULL, err);
	if (rc)
		goto out;
	json_t *arr = json_loads(text, 0, NULL);
	if (!arr || json_object_set_new(o, "personas", arr)) {
		rc = sd__error_set(err, SD_ENOMEM, p, NULL, "out of memory");
		goto out;
	}
	json_object_del(o, "personas_file");
out:
	free(p);
	free(text);
	return rc;
}

/* Seed opinions: a JSON array, or plain text with one opinion per line. */
static int inline_seed_opinions(json_t *o, const char *path, const char *dir,
				sd_error *err)
{
	const json_t *file = json_object_get(o, "seed_opinions_file");
	char *text = NULL, *p = NULL;
	json_t *arr = NULL;
	int rc;
	if (!file)
		return SD_OK;
	if (json_object_get(o, "seed_opinions"))
		return sd__error_set(
		    err, SD_EINVAL, path, "seed_opinions",
		    "give either \"seed_opinions\" or \"seed_opinions_file\", not both");
	if (!json_is_string(file))
		return sd__error_set(err, SD_EINVAL, path, "seed_opinions_file",
				     "must be a path string");
	p = sd__cfg_resolve(dir, json_string_value(file));
	if (!p)
		return sd__error_set(err, SD_ENOMEM, path, NULL, "out of memory");
	rc = sd_file_read(p, &text, NULL, err);
	if (rc)
		goto out;
	size_t skip = strspn(text, " \t\r\n");
	if (text[skip] == '[') {
		json_error_t jerr;
		arr = json_loads(text, 0, &jerr);
		if (!arr) {
			rc = sd__error_set_at(err, SD_EPARSE, p, jerr.line, jerr.column,
					      "%s", jerr.text);
			goto out;
		}
	} else {
		arr = json_array();
		for (char *line = text; arr && line && *line;) {
			char *nl = strchr(line, '\n');
			if (nl)
				*nl = '\0';
			size_t len = strlen(line);
			if (len && line[len - 1] == '\r')
				line[--len] = '\0';
			if (line[strspn(line, " \t")]) {
				json_t *s = json_string(line);
				if (!s) {
					rc = sd__error_set(err, SD_EINVAL, p, NULL,
							   "a line is not valid UTF-8");
					goto out;
				}
				json_array_append_new(arr, s);
			}
			line = nl ? nl + 1 : NULL;
		}
	}
	if (!arr || json_object_set(o, "seed_opinions", arr)) {
		rc = sd__error_set(err, SD_ENOMEM, p, NULL, "out of memory");
		goto out;
	}
	json_object_del(o, "seed_opinions_file");
	rc = SD_OK;
out:
	json_decref(arr);
	free(p);
	free(text);
	return rc;
}

static int resolve_cell(json_t *c, const char *path, const char *dir, sd_error *err)
{
	int rc;
	if ((rc = inline_personas(c, path, dir, err)) ||
	    (rc = inline_text(c, "instructions", "", path, dir, err)) ||
	    (rc = inline_text(json_object_get(c, "moderator"), "instructions",
			      "moderator.", path, dir, err)) ||
	    (rc = inline_seed_opinions(c, path, dir, err)))
		return rc;
	json_t *roles = json_object_get(c, "roles");
	for (size_t i = 0; json_is_array(roles) && i < json_array_size(roles); i++) {
		char prefix[48];
		snprintf(prefix, sizeof(prefix), "roles[%zu].", i);
		if ((rc = inline_text(json_array_get(roles, i), "instructions", prefix,
				      path, dir, err)))
			return rc;
	}
	/* paths are resolved against the config's directory once; an openai
	 * backend's model is a name on the server, not a path */
	json_t *b = json_object_get(c, "backend");
	const char *type = json_string_value(json_object_get(b, "type"));
	const char *path_key = type && !strcmp(type, "openai") ? "api_key_file" : "model";
	const char *rel = json_string_value(json_object_get(b, path_key));
	if (rel && rel[0] && rel[0] != '/') {
		char *m = sd__cfg_resolve(dir, rel);
		if (!m || json_object_set_new(b, path_key, json_string(m))) {
			free(m);
			return sd__error_set(err, SD_ENOMEM, path, NULL, "out of memory");
		}
		free(m);
	}
	return SD_OK;
}

/* ---------------- parsing one cell ---------------- */

static int parse_roles(sd__exp_cell *c, const char *path, sd_error *err)
{
	const json_t *roles = json_object_get(c->json, "roles");
	static const char *const keys[] = {"name", "share", "p", "instructions"};
	double total = 0, total_p = 0;
	int rc;
	if (!roles || json_is_null(roles))
		return SD_OK;
	if (!json_is_array(roles))
		return sd__error_set(
		    err, SD_EINVAL, path, "roles",
		    "must be an array of {name, share or p, instructions}");
	c->roles = calloc(json_array_size(roles) + 1, sizeof(*c->roles));
	if (!c->roles)
		return sd__error_set(err, SD_ENOMEM, path, NULL, "out of memory");
	for (size_t i = 0; i < json_array_size(roles); i++) {
		const json_t *r = json_array_get(roles, i);
		char prefix[48], field[64];
		snprintf(prefix, sizeof(prefix), "roles[%zu].", i);
		snprintf(field, sizeof(field), "roles[%zu]", i);
		if (!json_is_object(r))
			return sd__error_set(err, SD_EINVAL, path, field,
					     "must be an object");
		if ((rc = sd__cfg_check_keys(r, keys, 4, path, prefix, err)))
			return rc;
		sd__exp_role *role = &c->roles[c->n_roles];
		role->name = json_string_value(json_object_get(r, "name"));
		role->instructions =
		    json_string_value(json_object_get(r, "instructions"));
		/* share: exactly round(share * n) users of each discussion;
		   p: each user independently, as SynDisco's authors drew trolls */
		bool has_share = json_object_get(r, "share") != NULL;
		role->coin = json_object_get(r, "p") != NULL;
		snprintf(field, sizeof(field), "roles[%zu].%s", i,
			 role->coin ? "p" : "share");
		if (has_share && role->coin)
			return sd__error_set(
			    err, SD_EINVAL, path, field,
			    "give either \"share\" (a fixed share of each "
			    "discussion's users) or \"p\" (each user's chance), "
			    "not both");
		if (!has_share && !role->coin)
			return sd__error_set(
			    err, SD_EINVAL, path, field,
			    "missing: the share of users with this role, in [0, 1], "
			    "or \"p\", each user's chance of it");
		if (!json_is_number(json_object_get(r, role->coin ? "p" : "share")))
			return sd__error_set(err, SD_EINVAL, path, field,
					     "must be a number in [0, 1]");
		if ((rc =
			 sd__cfg_get_num(r, role->coin ? "p" : "share", field, path, 0.0,
					 1.0, role->coin ? &role->p : &role->share, err)))
			return rc;
		if (!role->name || !role->name[0]) {
			snprintf(field, sizeof(field), "roles[%zu].name", i);
			return sd__error_set(err, SD_EINVAL, path, field,
					     "missing or empty");
		}
		if (!role->instructions) {
			snprintf(field, sizeof(field), "roles[%zu].instructions", i);
			return sd__error_set(
			    err, SD_EINVAL, path, field,
			    "missing: give instructions or instructions_file");
		}
		total += role->share;
		total_p += role->p;
		c->n_roles++;
	}
	if (total > 1.0 + 1e-9)
		return sd__error_set(err, SD_EINVAL, path, "roles",
				     "the shares add up to %g, more than 1", total);
	if (total_p > 1.0 + 1e-9)
		return sd__error_set(err, SD_EINVAL, path, "roles",
				     "the chances p add up to %g, more than 1 (a user "
				     "gets at most one role)",
				     total_p);
	return SD_OK;
}

static int parse_seed_opinions(sd__exp_cell *c, const char *path, sd_error *err)
{
	const json_t *posters = json_object_get(c->json, "seed_opinion_posters");
	const char *pv = json_string_value(posters);
	if (posters && !(pv && (!strcmp(pv, "distinct") || !strcmp(pv, "no_repeat"))))
		return sd__error_set(
		    err, SD_EINVAL, path, "seed_opinion_posters",
		    "must be \"no_repeat\" (a random participant each, "
		    "never the same twice in a row) or \"distinct\" (all "
		    "different participants, as SynDisco 2.0.8)");
	c->distinct_posters = pv && !strcmp(pv, "distinct");
	const json_t *s = json_object_get(c->json, "seed_opinions");
	if (!s || json_is_null(s))
		return SD_OK;
	if (!json_is_array(s))
		return sd__error_set(
		    err, SD_EINVAL, path, "seed_opinions",
		    "must be a list of strings or a list of lists of strings");
	for (size_t i = 0; i < json_array_size(s); i++) {
		const json_t *e = json_array_get(s, i);
		char field[64];
		snprintf(field, sizeof(field), "seed_opinions[%zu]", i);
		if (json_is_string(e))
			continue;
		if (!json_is_array(e) || json_array_size(e) == 0)
			return sd__error_set(
			    err, SD_EINVAL, path, field,
			    "must be a string or a non-empty list of strings");
		for (size_t k = 0; k < json_array_size(e); k++)
			if (!json_is_string(json_array_get(e, k)))
				return sd__error_set(err, SD_EINVAL, path, field,
						     "entry %zu is not a string", k);
	}
	c->seed_opinions = s;
	return SD_OK;
}

static int parse_cell(sd__exp_cell *c, const char *path, sd_error *err)
{
	long long v;
	int rc;
	c->turn = sd_turn_default_params();
	c->sampling = sd_sampling_default();
	/* SynDisco decodes greedily; sampling.temperature can say otherwise */
	c->sampling.temperature = 0.0f;
	c->textwrap_len = 900000;
	c->templates = sd_prompt_templates_default();
	c->num_discussions = 1;
	c->num_active_users = 2;
	c->num_turns = 5;
	c->history_ctx_len = 5;
	if ((rc =
		 sd__cfg_personas(c->json, path, "", false, &c->pool, &c->n_pool, err)) ||
	    (rc = sd__cfg_get_str(c->json, "context", "context", path, &c->context,
				  err)) ||
	    (rc = sd__cfg_get_str(c->json, "instructions", "instructions", path,
				  &c->instructions, err)) ||
	    (rc = parse_roles(c, path, err)) ||
	    (rc = sd__cfg_moderator_parse(json_object_get(c->json, "moderator"), path, "",
					  &c->mod, err)) ||
	    (rc = sd__cfg_turn_manager(json_object_get(c->json, "turn_manager"), path,
				       &c->turn, err)) ||
	    (rc = sd__cfg_sampling(json_object_get(c->json, "sampling"), path,
				   &c->sampling, err)) ||
	    (rc = sd__cfg_backend_parse(json_object_get(c->json, "backend"), path, "",
					&c->backend, err)) ||
	    (rc = sd__cfg_templates(json_object_get(c->json, "templates"), path,
				    &c->templates, err)) ||
	    (rc = parse_seed_opinions(c, path, err)) ||
	    (rc = sd__cfg_profile(c->json, path, &c->profile, err)) ||
	    (rc = sd__cfg_string_list(c->json, "remove_strings", "remove_strings", path,
				      &c->remove, &c->n_remove, err)))
		return rc;
	if (c->mod.in_users)
		return sd__error_set(
		    err, SD_EINVAL, path, "moderator.in_users",
		    "only a discussion config puts the moderator among the users");
	if (c->turn.kind == SD_TURN_ORDER)
		return sd__error_set(
		    err, SD_EINVAL, path, "turn_manager",
		    "an explicit order needs a discussion config (users vary here)");
	v = c->textwrap_len;
	if ((rc = sd__cfg_get_int(c->json, "textwrap_len", "textwrap_len", path, 1,
				  INT32_MAX, &v, err)))
		return rc;
	c->textwrap_len = (int32_t)v;
	v = (long long)c->num_discussions;
	if ((rc = sd__cfg_get_int(c->json, "num_discussions", "num_discussions", path, 0,
				  RUN_MAX_DISCUSSIONS, &v, err)))
		return rc;
	c->num_discussions = (size_t)v;
	v = c->num_active_users;
	if ((rc = sd__cfg_get_int(c->json, "num_active_users", "num_active_users", path,
				  1, 100000, &v, err)))
		return rc;
	c->num_active_users = (size_t)v;
	v = c->num_turns;
	if ((rc = sd__cfg_get_int(c->json, "num_turns", "num_turns", path, 0, 1000000, &v,
				  err)))
		return rc;
	c->num_turns = (int32_t)v;
	v = c->history_ctx_len;
	if ((rc = sd__cfg_get_int(c->json, "history_ctx_len", "history_ctx_len", path, 0,
				  1000000, &v, err)))
		return rc;
	c->history_ctx_len = (int32_t)v;
	if ((rc = sd__cfg_history_tokens(c->json, path, c->backend.type,
					 &c->history_ctx_tokens, err)))
		return rc;
	const json_t *ru = json_object_get(c->json, "random_usernames");
	if (ru && !json_is_boolean(ru))
		return sd__error_set(err, SD_EINVAL, path, "random_usernames",
				     "must be true or false");
	c->random_usernames = json_is_true(ru);
	if (!c->context && !(c->context = strdup("")))
		return sd__error_set(err, SD_ENOMEM, path, NULL, "out of memory");
	if (!c->instructions && !(c->instructions = strdup("")))
		return sd__error_set(err, SD_ENOMEM, path, NULL, "out of memory");

	for (size_t i = 0; c->distinct_posters && i < json_array_size(c->seed_opinions);
	     i++) {
		const json_t *e = json_array_get(c->seed_opinions, i);
		size_t m = json_is_string(e) ? 1 : json_array_size(e);
		char field[64];
		snprintf(field, sizeof(field), "seed_opinions[%zu]", i);
		if (m > c->num_active_users)
			return sd__error_set(
			    err, SD_EINVAL, path, field,
			    "%zu comments, but distinct seed_opinion_posters "
			    "need as many users and num_active_users is %zu",
			    m, c->num_active_users);
	}
	if (c->n_pool < c->num_active_users)
		return sd__error_set(
		    err, SD_EINVAL, path, "num_active_users",
		    "%zu users per discussion, but the pool has only %zu personas",
		    c->num_active_users, c->n_pool);
	if (c->turn.kind != SD_TURN_ROUND_ROBIN && c->num_active_users < 2)
		return sd__error_set(err, SD_EINVAL, path, "num_active_users",
				     "the %s turn manager needs at least 2 users",
				     sd_turn_kind_name(c->turn.kind));
	for (size_t k = 0; c->mod.persona && k < c->n_pool; k++)
		if (strcmp(sd_persona_username(c->pool[k]),
			   sd_persona_username(c->mod.persona)) == 0)
			return sd__error_set(err, SD_EINVAL, path,
					     "moderator.persona.username",
					     "\"%s\" is also a username in the user pool",
					     sd_persona_username(c->mod.persona));
	return SD_OK;
}

static void cell_clear(sd__exp_cell *c)
{
	free(c->name);
	json_decref(c->json);
	sd_persona_array_free(c->pool, c->n_pool);
	free(c->context);
	free(c->instructions);
	free(c->roles);
	sd__cfg_moderator_clear(&c->mod);
	sd__cfg_backend_clear(&c->backend);
	free(c->backend_key);
	free(c->remove);
}

/* ---------------- cells from conditions ---------------- */

static bool valid_name(const char *s)
{
	if (!s || !*s || strlen(s) > 100 || s[0] == '.')
		return false;
	for (; *s; s++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			    "0123456789._-=+",
			    *s))
			return false;
	return true;
}

static int add_cell(sd_experiment *e, const char *name, json_t *json, sd_error *err)
{
	if (e->n_cells == e->cap_cells) {
		size_t cap = e->cap_cells ? e->cap_cells * 2 : 4;
		sd__exp_cell *n = realloc(e->cells, cap * sizeof(*n));
		if (!n) {
			json_decref(json);
			return sd__error_set(err, SD_ENOMEM, e->path, NULL,
					     "out of memory");
		}
		e->cells = n;
		e->cap_cells = cap;
	}
	/* the name is a directory name: fail at load, not after OUT exists */
	if (strlen(name) > 240) {
		json_decref(json);
		return sd__error_set(
		    err, SD_EINVAL, e->path, "conditions",
		    "the cell name \"%.40s...\" (level names joined with "
		    "'_') is %zu bytes; a directory name may have at most 240: "
		    "shorten the level names",
		    name, strlen(name));
	}
	for (size_t i = 0; i < e->n_cells; i++) {
		if (strcmp(e->cells[i].name, name) == 0) {
			json_decref(json);
			return sd__error_set(err, SD_EINVAL, e->path, "conditions",
					     "two cells are both named \"%s\"", name);
		}
	}
	sd__exp_cell *c = &e->cells[e->n_cells];
	memset(c, 0, sizeof(*c));
	c->json = json;
	c->name = strdup(name);
	e->n_cells++;
	if (!c->name)
		return sd__error_set(err, SD_ENOMEM, e->path, NULL, "out of memory");
	return SD_OK;
}

/*
 * conditions: {factor: [{"name": level, <overrides>}, ...], ...}. Cells
 * are the cross product in key order, the last factor varying fastest;
 * a cell's name joins its level names with "_".
 */
static int expand_conditions(sd_experiment *e, const json_t *base, sd_error *err)
{
	const json_t *cond = json_object_get(e->root, "conditions");
	int rc = SD_OK;
	if (!cond || json_is_null(cond))
		return add_cell(e, "default", json_deep_copy(base), err);
	if (!json_is_object(cond) || json_object_size(cond) == 0)
		return sd__error_set(err, SD_EINVAL, e->path, "conditions",
				     "must be an object {factor: [levels...]}");
	size_t nf = json_object_size(cond);
	const json_t **factors = calloc(nf, sizeof(*factors));
	const char **fnames = calloc(nf, sizeof(*fnames));
	size_t *idx = calloc(nf, sizeof(*idx));
	if (!factors || !fnames || !idx) {
		rc = sd__error_set(err, SD_ENOMEM, e->path, NULL, "out of memory");
		goto out;
	}
	size_t f = 0;
	const char *key;
	const json_t *levels;
	json_object_foreach((json_t *)cond, key, levels)
	{
		char field[160];
		snprintf(field, sizeof(field), "conditions.%s", key);
		if (!json_is_array(levels) || json_array_size(levels) == 0) {
			rc = sd__error_set(
			    err, SD_EINVAL, e->path, field,
			    "must be a non-empty array of {name, overrides...}");
			goto out;
		}
		for (size_t l = 0; l < json_array_size(levels); l++) {
			const json_t *lv = json_array_get(levels, l);
			const char *name = json_string_value(json_object_get(lv, "name"));
			snprintf(field, sizeof(field), "conditions.%s[%zu]", key, l);
			if (!json_is_object(lv) || !valid_name(name)) {
				rc = sd__error_set(
				    err, SD_EINVAL, e->path, field,
				    "needs a \"name\" of letters, digits and ._-=+");
				goto out;
			}
			const char *k2;
			const json_t *v2;
			json_object_foreach((json_t *)lv, k2, v2)
			{
				if (strcmp(k2, "name") == 0)
					continue;
				size_t t;
				for (t = 0; t < sizeof(top_keys) / sizeof(top_keys[0]);
				     t++)
					if (strcmp(k2, top_keys[t]) == 0)
						break;
				if (t == sizeof(top_keys) / sizeof(top_keys[0]) ||
				    is_run_only(k2)) {
					rc = sd__error_set(
					    err, SD_EINVAL, e->path, field,
					    "\"%s\" cannot be set per cell%s", k2,
					    is_run_only(k2) ? "" : " (unknown field)");
					goto out;
				}
			}
		}
		factors[f] = levels;
		fnames[f] = key;
		f++;
	}
	for (;;) {
		json_t *cell = json_deep_copy(base);
		sd__buf name;
		sd__buf_init(&name, 512);
		if (!cell) {
			rc =
			    sd__error_set(err, SD_ENOMEM, e->path, NULL, "out of memory");
			goto out;
		}
		for (size_t k = 0; k < nf; k++) {
			const json_t *lv = json_array_get(factors[k], idx[k]);
			/* unchecked, a failed allocation dropped a level from the
			   cell's name (found by test_alloc) */
			if (sd__buf_printf(
				&name, "%s%s", k ? "_" : "",
				json_string_value(json_object_get(lv, "name")))) {
				json_decref(cell);
				sd__buf_free(&name);
				rc = sd__error_set(err, SD_ENOMEM, e->path, NULL,
						   "out of memory");
				goto out;
			}
			const char *k2;
			json_t *v2;
			json_object_foreach((json_t *)lv, k2, v2)
			{
				if (strcmp(k2, "name") != 0)
					json_object_set(cell, k2, v2);
			}
		}
		rc = add_cell(e, name.data ? name.data : "", cell, err);
		sd__buf_free(&name);
		if (rc)
			goto out;
		/* odometer over the factors */
		size_t k = nf;
		while (k > 0) {
			k--;
			if (++idx[k] < json_array_size(factors[k]))
				break;
			idx[k] = 0;
			if (k == 0)
				goto out;
		}
	}
out:
	free(factors);
	free(fnames);
	free(idx);
	return rc;
}

/* ---------------- the experiment ---------------- */

int sd_experiment_load(const char *path, sd_experiment **out, sd_error *err)
{
	sd_experiment *e = NULL;
	char *text = NULL;
	json_t *base = NULL;
	json_error_t jerr;
	int rc;

	*out = NULL;
	if ((rc = sd_file_read(path, &text, NULL, err)))
		return rc;
	e = calloc(1, sizeof(*e));
	if (!e || !(e->path = strdup(path)) || !(e->dir = sd__cfg_dirname(path))) {
		rc = sd__error_set(err, SD_ENOMEM, path, NULL, "out of memory");
		goto out;
	}
	e->root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	if (!e->root) {
		rc = sd__error_set_at(err, SD_EPARSE, path, jerr.line, jerr.column, "%s",
				      jerr.text);
		goto out;
	}
	if (!json_is_object(e->root)) {
		rc = sd__error_set(err, SD_EINVAL, path, NULL,
				   "an experiment config must be a JSON object");
		goto out;
	}
	if ((rc = sd__cfg_check_keys(e->root, top_keys,
				     sizeof(top_keys) / sizeof(top_keys[0]), path, "",
				     err)))
		goto out;
	long long seed = 42;
	if ((rc = sd__cfg_get_int(e->root, "seed", "seed", path, 0, INT64_MAX, &seed,
				  err)))
		goto out;
	e->seed = (uint64_t)seed;
	if ((rc = sd__cfg_get_str(e->root, "output_dir", "output_dir", path,
				  &e->output_dir, err)))
		goto out;

	base = json_deep_copy(e->root);
	if (!base) {
		rc = sd__error_set(err, SD_ENOMEM, path, NULL, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < sizeof(run_only_keys) / sizeof(run_only_keys[0]); i++)
		json_object_del(base, run_only_keys[i]);
	if ((rc = expand_conditions(e, base, err)))
		goto out;
	for (size_t i = 0; i < e->n_cells; i++) {
		sd__exp_cell *c = &e->cells[i];
		if ((rc = resolve_cell(c->json, path, e->dir, err)) ||
		    (rc = parse_cell(c, path, err))) {
			if (err && e->n_cells > 1 && err->field[0]) {
				char pre[160];
				snprintf(pre, sizeof(pre), "cell %s: ", c->name);
				sd__cfg_prefix_field(err, pre, "");
			}
			goto out;
		}
		c->seed = sd__seed_mix(
		    e->seed, sd__fnv1a64(c->name, strlen(c->name), SD_FNV1A64_INIT));
		const json_t *b = json_object_get(c->json, "backend");
		c->backend_key =
		    b ? json_dumps(b, JSON_SORT_KEYS | JSON_COMPACT) : strdup("{}");
		if (!c->backend_key) {
			rc = sd__error_set(err, SD_ENOMEM, path, NULL, "out of memory");
			goto out;
		}
	}
	if ((rc = sd__exp_update_digest(e, err)))
		goto out;
	*out = e;
	e = NULL;
	rc = SD_OK;
out:
	json_decref(base);
	free(text);
	sd_experiment_free(e);
	return rc;
}

int sd__exp_update_digest(sd_experiment *e, sd_error *err)
{
	char *m = sd_experiment_manifest_json(e);
	if (!m)
		return sd__error_set(err, SD_ENOMEM, e->path, NULL, "out of memory");
	/* the digest covers what determines the discussions, not itself */
	json_t *j = json_loads(m, 0, NULL);
	free(m);
	if (!j)
		return sd__error_set(err, SD_ENOMEM, e->path, NULL, "out of memory");
	json_object_del(j, "config_digest");
	json_object_del(j, "source");
	/* where an openai backend sends requests, and how patiently, does not
	 * change what comes back: a run resumed on other servers (a new Slurm
	 * job, a moved cluster) is the same run */
	static const char *const transport[] = {
	    "base_url",	       "base_urls",	  "api_key_env",   "api_key_file",
	    "request_timeout", "connect_timeout", "max_in_flight", "max_retries",
	    "backoff_initial", "backoff_max",	  "down_deadline",
	};
	size_t ci;
	json_t *cell;
	json_array_foreach(json_object_get(j, "cells"), ci, cell)
	{
		json_t *b = json_object_get(json_object_get(cell, "config"), "backend");
		const char *type = json_string_value(json_object_get(b, "type"));
		/* nor does a prefix cache: the same bytes with or without */
		json_object_del(b, "prefix_cache");
		if (!type || strcmp(type, "openai"))
			continue;
		for (size_t k = 0; k < sizeof(transport) / sizeof(transport[0]); k++)
			json_object_del(b, transport[k]);
	}
	char *canon = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
	json_decref(j);
	if (!canon)
		return sd__error_set(err, SD_ENOMEM, e->path, NULL, "out of memory");
	uint64_t h = sd__fnv1a64(canon, strlen(canon), SD_FNV1A64_INIT);
	uint64_t h2 = sd__fnv1a64(canon, strlen(canon), h ^ 0x5bd1e995ULL);
	free(canon);
	snprintf(e->digest, sizeof(e->digest), "%016llx%016llx", (unsigned long long)h,
		 (unsigned long long)h2);
	return SD_OK;
}

void sd_experiment_free(sd_experiment *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->n_cells; i++)
		cell_clear(&e->cells[i]);
	free(e->cells);
	json_decref(e->root);
	free(e->output_dir);
	free(e->path);
	free(e->dir);
	free(e);
}

int sd_experiment_set_model(sd_experiment *e, const char *path)
{
	if (!e || !path)
		return SD_EINVAL;
	for (size_t i = 0; i < e->n_cells; i++) {
		sd__exp_cell *c = &e->cells[i];
		json_t *b = json_object_get(c->json, "backend");
		if (!b) {
			b = json_object();
			if (!b || json_object_set_new(c->json, "backend", b))
				return SD_ENOMEM;
		}
		if (json_object_set_new(b, "model", json_string(path)))
			return SD_ENOMEM;
		char *m = strdup(path);
		if (!m)
			return SD_ENOMEM;
		free(c->backend.model);
		c->backend.model = m;
		free(c->backend_key);
		c->backend_key = json_dumps(b, JSON_SORT_KEYS | JSON_COMPACT);
		if (!c->backend_key)
			return SD_ENOMEM;
	}
	return sd__exp_update_digest(e, NULL);
}

size_t sd_experiment_cell_count(const sd_experiment *e) { return e ? e->n_cells : 0; }

const char *sd_experiment_cell_name(const sd_experiment *e, size_t cell)
{
	return e && cell < e->n_cells ? e->cells[cell].name : NULL;
}

size_t sd_experiment_cell_size(const sd_experiment *e, size_t cell)
{
	return e && cell < e->n_cells ? e->cells[cell].num_discussions : 0;
}

uint64_t sd_experiment_seed(const sd_experiment *e) { return e ? e->seed : 0; }

const char *sd_experiment_output_dir(const sd_experiment *e)
{
	return e ? e->output_dir : NULL;
}

const char *sd_experiment_digest(const sd_experiment *e) { return e ? e->digest : NULL; }

char *sd_experiment_manifest_json(const sd_experiment *e)
{
	json_t *m = json_object(), *cells = json_array();
	char *s = NULL;
	if (!m || !cells)
		goto out;
	if (json_object_set_new(m, "syndisco_version", json_string(SD_VERSION_STRING)) ||
	    json_object_set_new(m, "source", json_string(e->path)) ||
	    json_object_set_new(m, "seed", json_integer((json_int_t)e->seed)) ||
	    json_object_set_new(m, "config_digest", json_string(e->digest)) ||
	    json_object_set(m, "cells", cells))
		goto out;
	for (size_t i = 0; i < e->n_cells; i++) {
		const sd__exp_cell *c = &e->cells[i];
		json_t *o = json_pack("{s:s,s:I,s:O}", "name", c->name, "num_discussions",
				      (json_int_t)c->num_discussions, "config", c->json);
		if (!o || json_array_append_new(cells, o))
			goto out;
	}
	s = json_dumps(m, JSON_INDENT(2));
out:
	json_decref(cells);
	json_decref(m);
	return s;
}

/* ---------------- jobs ---------------- */

struct sd_job {
	sd_persona **personas;
	size_t n;
	sd_actor **actors;
	sd_actor *moderator;
	sd_turn_manager *tm;
	sd_seed_opinion *seeds;
	size_t n_seeds;
	sd_discussion *d;
};

void sd_job_free(sd_job *j)
{
	if (!j)
		return;
	sd_discussion_free(j->d);
	sd_turn_manager_free(j->tm);
	if (j->actors)
		for (size_t i = 0; i < j->n; i++)
			sd_actor_free(j->actors[i]);
	free(j->actors);
	sd_actor_free(j->moderator);
	sd_persona_array_free(j->personas, j->n);
	free(j->seeds);
	free(j);
}

sd_discussion *sd_job_discussion(sd_job *j) { return j ? j->d : NULL; }

uint64_t sd__exp_discussion_seed(const sd_experiment *e, size_t cell, size_t index)
{
	return sd__seed_mix(e->cells[cell].seed, (uint64_t)index);
}

sd_job *sd_experiment_job_create(const sd_experiment *e, size_t cell, size_t index,
				 const char *model_name, sd_error *err)
{
	sd_job *j = NULL;
	size_t *order = NULL;
	const char **instr = NULL;
	char **names = NULL;
	if (!e || cell >= e->n_cells) {
		sd__error_set(err, SD_EINVAL, NULL, NULL, "no such cell");
		return NULL;
	}
	const sd__exp_cell *c = &e->cells[cell];
	uint64_t s = sd__exp_discussion_seed(e, cell, index);
	sd__rng rng;
	size_t n = c->num_active_users;

	j = calloc(1, sizeof(*j));
	order = calloc(c->n_pool, sizeof(*order));
	instr = calloc(n, sizeof(*instr));
	if (!j || !order || !instr)
		goto oom;
	j->personas = calloc(n, sizeof(*j->personas));
	j->actors = calloc(n, sizeof(*j->actors));
	if (!j->personas || !j->actors)
		goto oom;

	/* which personas: a partial Fisher-Yates shuffle of the pool */
	sd__rng_seed(&rng, sd__seed_mix(s, STREAM_PERSONAS));
	for (size_t i = 0; i < c->n_pool; i++)
		order[i] = i;
	for (size_t i = 0; i < n; i++) {
		size_t k = i + (size_t)sd__rng_below(&rng, c->n_pool - i);
		size_t t = order[i];
		order[i] = order[k];
		order[k] = t;
		j->personas[i] = sd_persona_copy(c->pool[order[i]]);
		if (!j->personas[i])
			goto oom;
		j->n = i + 1;
	}

	/* roles: round(share * n) users each, drawn from those still plain */
	for (size_t i = 0; i < n; i++)
		instr[i] = c->instructions;
	sd__rng_seed(&rng, sd__seed_mix(s, STREAM_ROLES));
	size_t plain = n;
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	bool coins = false;
	for (size_t r = 0; r < c->n_roles; r++) {
		if (c->roles[r].coin) {
			coins = true;
			continue;
		}
		size_t want = (size_t)(c->roles[r].share * (double)n + 0.5);
		for (size_t k = 0; k < want && plain > 0; k++) {
			size_t pick = (size_t)sd__rng_below(&rng, plain);
			instr[order[pick]] = c->roles[r].instructions;
			order[pick] = order[--plain];
		}
	}
	/* coin-flip roles: one draw per user still plain, in participant
	   order; it falls into at most one role's slice of [0, 1). Only
	   configs with such roles draw, so share-only runs are unchanged. */
	if (coins) {
		bool *is_plain = calloc(n, sizeof(*is_plain));
		if (!is_plain)
			goto oom;
		for (size_t k = 0; k < plain; k++)
			is_plain[order[k]] = true;
		for (size_t i = 0; i < n; i++) {
			if (!is_plain[i])
				continue;
			double u = sd__rng_double(&rng), edge = 0;
			for (size_t r = 0; r < c->n_roles; r++) {
				if (!c->roles[r].coin)
					continue;
				edge += c->roles[r].p;
				if (u < edge) {
					instr[i] = c->roles[r].instructions;
					break;
				}
			}
		}
		free(is_plain);
	}

	if (c->random_usernames) {
		names = calloc(n, sizeof(*names));
		if (!names)
			goto oom;
		sd__rng_seed(&rng, sd__seed_mix(s, STREAM_NAMES));
		if (sd__random_usernames(&rng, n, names))
			goto oom;
		for (size_t i = 0; i < n; i++)
			if (sd_persona_set_username(j->personas[i], names[i]))
				goto oom;
	}

	sd_actor_params ap = sd_actor_default_params();
	ap.model_name = model_name;
	ap.context = c->context;
	ap.templates = c->templates;
	ap.profile = c->profile;
	ap.remove_strings = c->remove;
	ap.n_remove_strings = c->n_remove;
	ap.textwrap_len = c->textwrap_len;
	for (size_t i = 0; i < n; i++) {
		ap.persona = j->personas[i];
		ap.instructions = instr[i];
		if (!(j->actors[i] = sd_actor_create(&ap, err)))
			goto fail;
	}
	if (c->mod.persona) {
		sd__cfg_moderator_actor_params(&c->mod, c->context, &ap);
		if (!(j->moderator = sd_actor_create(&ap, err)))
			goto fail;
	}

	/* one seed opinion entry; each of its comments by a random user,
	 * never the same one twice in a row, or ("distinct") all by different
	 * users: SynDisco 2.0.8's random.sample, drawn here as a partial
	 * Fisher-Yates shuffle, which gives every ordered choice of distinct
	 * users the same chance */
	if (c->seed_opinions && json_array_size(c->seed_opinions) > 0) {
		sd__rng_seed(&rng, sd__seed_mix(s, STREAM_SEED_OPINION));
		const json_t *pick = json_array_get(
		    c->seed_opinions,
		    (size_t)sd__rng_below(&rng, json_array_size(c->seed_opinions)));
		size_t m = json_is_string(pick) ? 1 : json_array_size(pick);
		j->seeds = calloc(m, sizeof(*j->seeds));
		if (!j->seeds)
			goto oom;
		size_t last = (size_t)-1;
		for (size_t i = 0; i < n; i++)
			order[i] = i;
		for (size_t k = 0; k < m; k++) {
			size_t who;
			if (c->distinct_posters) { /* m <= n: checked when loading */
				size_t slot = k + (size_t)sd__rng_below(&rng, n - k);
				who = order[slot];
				order[slot] = order[k];
				order[k] = who;
			} else {
				who = (size_t)sd__rng_below(&rng, n);
				if (n > 1 && who == last)
					who = (who + 1 +
					       (size_t)sd__rng_below(&rng, n - 1)) %
					      n;
			}
			last = who;
			j->seeds[k].username = sd_actor_name(j->actors[who]);
			j->seeds[k].text = json_string_value(
			    json_is_string(pick) ? pick : json_array_get(pick, k));
		}
		j->n_seeds = m;
	}

	sd_turn_params tp = c->turn;
	tp.seed = sd__seed_mix(s, STREAM_TURNS);
	if (!(j->tm = sd_turn_manager_create(&tp, n, err)))
		goto fail;
	sd_discussion_params dp = sd_discussion_default_params();
	dp.conv_len = c->num_turns;
	dp.history_ctx_len = c->history_ctx_len;
	dp.history_ctx_tokens = c->history_ctx_tokens;
	dp.seed = sd__seed_mix(s, STREAM_SAMPLER);
	dp.sampling = c->sampling;
	dp.seed_opinions = j->seeds;
	dp.n_seed_opinions = j->n_seeds;
	if (!(j->d = sd_discussion_create(&dp, j->actors, n, j->moderator, j->tm, err)))
		goto fail;
	goto done;
oom:
	sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
fail:
	sd_job_free(j);
	j = NULL;
done:
	if (names)
		for (size_t i = 0; i < n; i++)
			free(names[i]);
	free(names);
	free(order);
	free(instr);
	return j;
}

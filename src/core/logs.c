/*
 * Discussion logs. In memory: one JSON object with every field any
 * version has plus ours. On disk: the log's profile decides; SynDisco's
 * keys come first exactly as that version writes them, then ours
 * (docs/logs.md). Reading accepts every version's files as they are.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "syndisco.h"
#include "util/error.h"
#include "util/hash.h"
#include "util/json.h"
#include "util/pytext.h"

struct sd_logs {
	json_t *root;
	sd_profile profile;
};

/* Keys the writer places itself; the rest follow in insertion order. */
static const char *const known_keys[] = {
    "id",	  "timestamp", "users", "moderator", "user_prompts", "moderator_prompt",
    "ctx_length", "logs",      "seed",	"tokens",    "comment_meta", "syndisco_profile",
};

/* SynDisco's per-comment keys; anything else on a comment is ours. */
static bool syndisco_comment_key(const char *k)
{
	return !strcmp(k, "name") || !strcmp(k, "text") || !strcmp(k, "model") ||
	       !strcmp(k, "prompt");
}

static int is_known(const char *key)
{
	for (size_t i = 0; i < sizeof(known_keys) / sizeof(known_keys[0]); i++)
		if (strcmp(key, known_keys[i]) == 0)
			return 1;
	return 0;
}

static json_t *tokens_obj(json_int_t prompt, json_int_t gen)
{
	return json_pack("{s:I,s:I}", "prompt", prompt, "generated", gen);
}

sd_logs *sd__logs_new(sd_profile profile)
{
	sd_logs *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->profile = profile;
	l->root = json_pack("{s:s,s:s,s:[],s:n,s:[],s:n,s:i,s:[],s:I,s:o}", "id", "",
			    "timestamp", "", "users", "moderator", "user_prompts",
			    "moderator_prompt", "ctx_length", 0, "logs", "seed",
			    (json_int_t)0, "tokens", tokens_obj(0, 0));
	if (!l->root) {
		free(l);
		return NULL;
	}
	return l;
}

void sd_logs_free(sd_logs *l)
{
	if (!l)
		return;
	json_decref(l->root);
	free(l);
}

static json_t *string_array(const char *const *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < n; i++) {
		if (json_array_append_new(a, sd__json_string_repair(v[i] ? v[i] : ""))) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static json_t *string_or_null(const char *s)
{
	return s ? sd__json_string_repair(s) : json_null();
}

int sd__logs_set_participants(sd_logs *l, const char *const *users,
			      const char *const *user_prompts, size_t n_users,
			      const char *moderator, const char *moderator_prompt,
			      int32_t ctx_length, uint64_t seed)
{
	if (json_object_set_new(l->root, "users", string_array(users, n_users)) ||
	    json_object_set_new(l->root, "moderator", string_or_null(moderator)) ||
	    json_object_set_new(l->root, "user_prompts",
				string_array(user_prompts, n_users)) ||
	    json_object_set_new(l->root, "moderator_prompt",
				string_or_null(moderator_prompt)) ||
	    json_object_set_new(l->root, "ctx_length", json_integer(ctx_length)) ||
	    json_object_set_new(l->root, "seed", json_integer((json_int_t)seed)))
		return SD_ENOMEM;
	return SD_OK;
}

/* Add to the log's token totals; SD_ENOMEM when they could not be
 * updated (a silently wrong total would pass for a right one). */
static int add_tokens(json_t *root, int32_t p, int32_t g)
{
	json_t *t = json_object_get(root, "tokens");
	if (!json_is_object(t))
		return SD_OK;
	if (p > 0 &&
	    json_object_set_new(
		t, "prompt",
		json_integer(json_integer_value(json_object_get(t, "prompt")) + p)))
		return SD_ENOMEM;
	if (g > 0 &&
	    json_object_set_new(
		t, "generated",
		json_integer(json_integer_value(json_object_get(t, "generated")) + g)))
		return SD_ENOMEM;
	return SD_OK;
}

int sd__logs_append(sd_logs *l, const char *name, const char *text, const char *model,
		    const char *prompt, const char *user_prompt, bool is_moderator,
		    int32_t n_prompt_tokens, int32_t n_gen_tokens)
{
	json_t *e = json_object();
	if (!e)
		return SD_ENOMEM;
	if (json_object_set_new(e, "name", sd__json_string_repair(name)) ||
	    json_object_set_new(e, "text", sd__json_string_repair(text)) ||
	    json_object_set_new(e, "model", sd__json_string_repair(model)) ||
	    json_object_set_new(e, "prompt", string_or_null(prompt)) ||
	    json_object_set_new(e, "user_prompt", string_or_null(user_prompt)) ||
	    json_object_set_new(e, "is_moderator", json_boolean(is_moderator)) ||
	    (n_prompt_tokens >= 0 &&
	     json_object_set_new(e, "tokens",
				 tokens_obj(n_prompt_tokens, n_gen_tokens)))) {
		json_decref(e);
		return SD_ENOMEM;
	}
	if (json_array_append_new(json_object_get(l->root, "logs"), e))
		return SD_ENOMEM;
	return add_tokens(l->root, n_prompt_tokens, n_gen_tokens);
}

/* ---- reading ---- */

static int bad(sd_error *err, const char *source, const char *field, const char *what)
{
	return sd__error_set(err, SD_EINVAL, source, field, "%s", what);
}

/* Copy an optional string-or-null field, checking its type. */
static int take_opt_string(json_t *dst, json_t *src, const char *key, const char *source,
			   sd_error *err)
{
	json_t *v = json_object_get(src, key);
	if (!v || json_is_null(v))
		return json_object_set_new(dst, key, json_null()) ? SD_ENOMEM : SD_OK;
	if (!json_is_string(v))
		return bad(err, source, key, "must be a string or null");
	return json_object_set(dst, key, v) ? SD_ENOMEM : SD_OK;
}

static int take_string_array(json_t *dst, json_t *src, const char *key,
			     const char *source, sd_error *err)
{
	json_t *v = json_object_get(src, key);
	if (!v || json_is_null(v))
		return json_object_set_new(dst, key, json_array()) ? SD_ENOMEM : SD_OK;
	if (!json_is_array(v))
		return bad(err, source, key, "must be an array of strings");
	for (size_t i = 0; i < json_array_size(v); i++) {
		if (!json_is_string(json_array_get(v, i))) {
			char field[64];
			snprintf(field, sizeof(field), "%s[%zu]", key, i);
			return bad(err, source, field, "must be a string");
		}
	}
	return json_object_set(dst, key, v) ? SD_ENOMEM : SD_OK;
}

static int take_comment(json_t *logs, json_t *c, size_t i, const char *mod,
			const char *source, sd_error *err)
{
	char field[64];
	json_t *e = NULL;
	int rc = SD_ENOMEM;
	if (!json_is_object(c)) {
		snprintf(field, sizeof(field), "logs[%zu]", i);
		return bad(err, source, field,
			   "must be an object with \"name\" and \"text\"");
	}
	static const char *const req[] = {"name", "text"};
	for (size_t k = 0; k < 2; k++) {
		if (!json_is_string(json_object_get(c, req[k]))) {
			snprintf(field, sizeof(field), "logs[%zu].%s", i, req[k]);
			return bad(err, source, field, "missing or not a string");
		}
	}
	json_t *model = json_object_get(c, "model");
	json_t *prompt = json_object_get(c, "prompt");
	json_t *ismod = json_object_get(c, "is_moderator");
	const char *name = json_string_value(json_object_get(c, "name"));
	e = json_object();
	if (!e)
		goto out;
	if (json_object_set(e, "name", json_object_get(c, "name")) ||
	    json_object_set(e, "text", json_object_get(c, "text")) ||
	    json_object_set_new(e, "model",
				json_is_string(model) ? json_incref(model)
						      : json_string("unknown")) ||
	    json_object_set_new(e, "prompt",
				json_is_string(prompt) ? json_incref(prompt)
						       : json_null()) ||
	    json_object_set_new(e, "is_moderator",
				json_is_boolean(ismod)
				    ? json_incref(ismod)
				    : json_boolean(mod && strcmp(mod, name) == 0)))
		goto out;
	/* keep whatever else the writer put there (tokens, timings, ...) */
	const char *key;
	json_t *v;
	json_object_foreach(c, key, v)
	{
		if (!json_object_get(e, key) && json_object_set(e, key, v))
			goto out;
	}
	rc = json_array_append(logs, e) ? SD_ENOMEM : SD_OK;
out:
	json_decref(e);
	return rc;
}

int sd_logs_from_json(const char *json_text, const char *source, sd_logs **out,
		      sd_error *err)
{
	json_error_t jerr;
	json_t *in = NULL;
	sd_logs *l = NULL;
	int rc = SD_ENOMEM;
	if (!source)
		source = "<logs>";
	if (!out)
		return sd__error_set(err, SD_EINVAL, source, NULL, "no output argument");
	*out = NULL;
	if (!json_text)
		return sd__error_set(err, SD_EINVAL, source, NULL, "no text");
	in = json_loads(json_text, 0, &jerr);
	if (!in) {
		return sd__error_set_at(err, SD_EPARSE, source, jerr.line, jerr.column,
					"%s", jerr.text);
	}
	if (!json_is_object(in)) {
		rc = bad(err, source, NULL,
			 "not a discussion log: expected a JSON object");
		goto out;
	}
	if (json_object_get(in, "conv_id") || json_object_get(in, "annotator_prompt")) {
		rc = bad(err, source, NULL,
			 "this is an annotation log, not a discussion log");
		goto out;
	}
	json_t *logs_in = json_object_get(in, "logs");
	if (!json_is_array(logs_in)) {
		rc = bad(err, source, "logs",
			 "not a discussion log: missing \"logs\" array");
		goto out;
	}
	l = calloc(1, sizeof(*l));
	if (!l || !(l->root = json_object()))
		goto out;
	json_t *id = json_object_get(in, "id");
	json_t *ts = json_object_get(in, "timestamp");
	if (id && !json_is_string(id)) {
		rc = bad(err, source, "id", "must be a string");
		goto out;
	}
	if (ts && !json_is_string(ts)) {
		rc = bad(err, source, "timestamp", "must be a string");
		goto out;
	}
	if (json_object_set_new(l->root, "id", id ? json_incref(id) : json_string("")) ||
	    json_object_set_new(l->root, "timestamp",
				ts ? json_incref(ts) : json_string("")))
		goto out;
	if ((rc = take_string_array(l->root, in, "users", source, err)) ||
	    (rc = take_opt_string(l->root, in, "moderator", source, err)) ||
	    (rc = take_string_array(l->root, in, "user_prompts", source, err)) ||
	    (rc = take_opt_string(l->root, in, "moderator_prompt", source, err)))
		goto out;
	rc = SD_ENOMEM;
	json_t *ctx = json_object_get(in, "ctx_length");
	if (ctx && !json_is_integer(ctx) && !json_is_null(ctx)) {
		rc = bad(err, source, "ctx_length", "must be an integer");
		goto out;
	}
	if (json_object_set_new(l->root, "ctx_length",
				ctx ? json_incref(ctx) : json_null()))
		goto out;
	json_t *logs = json_array();
	if (json_object_set_new(l->root, "logs", logs))
		goto out;
	const char *mod = json_string_value(json_object_get(l->root, "moderator"));
	for (size_t i = 0; i < json_array_size(logs_in); i++) {
		rc = take_comment(logs, json_array_get(logs_in, i), i, mod, source, err);
		if (rc)
			goto out;
	}
	/* our per-comment fields, written apart so SynDisco's part stays
	   byte-identical to what it writes */
	json_t *meta = json_object_get(in, "comment_meta");
	if (meta &&
	    (!json_is_array(meta) || json_array_size(meta) != json_array_size(logs))) {
		rc = bad(err, source, "comment_meta",
			 "must be an array with one object per comment");
		goto out;
	}
	rc = SD_ENOMEM;
	for (size_t i = 0; meta && i < json_array_size(meta); i++) {
		json_t *m = json_array_get(meta, i), *e = json_array_get(logs, i);
		if (!json_is_object(m)) {
			char field[64];
			snprintf(field, sizeof(field), "comment_meta[%zu]", i);
			rc = bad(err, source, field, "must be an object");
			goto out;
		}
		if (json_object_update(e, m))
			goto out;
	}
	const char *key;
	json_t *v;
	json_object_foreach(in, key, v)
	{
		if (json_object_get(l->root, key) || !strcmp(key, "comment_meta"))
			continue;
		if (json_object_set(l->root, key, v))
			goto out;
	}
	/* the profile it is written in: ours say so, SynDisco's by shape
	   (seed and 2.0.8 files have the same keys) */
	const char *prof = json_string_value(json_object_get(in, "syndisco_profile"));
	if (!prof || sd_profile_from_name(prof, &l->profile))
		l->profile =
		    json_object_get(in, "users") || json_object_get(in, "user_prompts")
			? SD_PROFILE_2_0_8
			: SD_PROFILE_2_2_1;
	rc = SD_OK;
out:
	json_decref(in);
	if (rc) {
		if (rc == SD_ENOMEM)
			sd__error_set(err, SD_ENOMEM, source, NULL, "out of memory");
		sd_logs_free(l);
		return rc;
	}
	*out = l;
	return SD_OK;
}

int sd__sd_logs_comment_set(sd_logs *l, size_t i, const char *key, json_t *v)
{
	json_t *c = l ? json_array_get(json_object_get(l->root, "logs"), i) : NULL;
	if (!c || !v || syndisco_comment_key(key)) {
		json_decref(v);
		return v ? SD_EINVAL : SD_ENOMEM;
	}
	return json_object_set_new(c, key, v) ? SD_ENOMEM : SD_OK;
}

static int put(json_t *o, const char *key, json_t *v)
{
	if (!v)
		return SD_OK;
	return json_object_set(o, key, v) ? SD_ENOMEM : SD_OK;
}

int sd_logs_to_json(const sd_logs *l, char **out)
{
	json_t *o = NULL, *logs = NULL, *meta = NULL, *prof = NULL;
	int rc = SD_ENOMEM;
	bool v221 = l && l->profile == SD_PROFILE_2_2_1;
	if (!l || !out)
		return SD_EINVAL;
	*out = NULL;
	o = json_object();
	logs = json_array();
	meta = json_array();
	prof = json_string(sd_profile_name(l->profile));
	if (!o || !logs || !meta || !prof)
		goto out;
	/* SynDisco's comments, and ours apart in comment_meta */
	json_t *in = json_object_get(l->root, "logs");
	for (size_t i = 0; i < json_array_size(in); i++) {
		json_t *c = json_array_get(in, i), *e = json_object(), *m = NULL;
		const char *key;
		json_t *v;
		/* append_new takes e (or drops it) whatever happens */
		if (!e || json_array_append_new(logs, e))
			goto out;
		if (!(m = json_object()) || json_array_append_new(meta, m))
			goto out;
		static const char *const keys[] = {"name", "text", "model"};
		for (size_t k = 0; k < 3; k++) {
			v = json_object_get(c, keys[k]);
			if (json_object_set_new(e, keys[k],
						json_is_string(v) ? json_incref(v)
								  : json_string("")))
				goto out;
		}
		if (v221) {
			v = json_object_get(c, "prompt");
			if (json_object_set_new(e, "prompt",
						json_is_string(v) ? json_incref(v)
								  : json_string("")))
				goto out;
		}
		json_object_foreach(c, key, v)
		{
			if (!syndisco_comment_key(key) && json_object_set(m, key, v))
				goto out;
		}
	}
	if (v221) {
		if (put(o, "timestamp", json_object_get(l->root, "timestamp")) ||
		    json_object_set(o, "logs", logs))
			goto out;
		const char *id = sd_logs_id(l);
		if (id && *id && put(o, "id", json_object_get(l->root, "id")))
			goto out;
		/* the seed guide's metadata, kept as our extras: readers take
		   personas and the moderator from them */
		static const char *const ours[] = {"users", "moderator", "user_prompts",
						   "moderator_prompt", "ctx_length"};
		for (size_t k = 0; k < 5; k++)
			if (put(o, ours[k], json_object_get(l->root, ours[k])))
				goto out;
	} else {
		static const char *const head[] = {
		    "id",	    "timestamp",	"users",      "moderator",
		    "user_prompts", "moderator_prompt", "ctx_length",
		};
		for (size_t k = 0; k < 7; k++) {
			json_t *v = json_object_get(l->root, head[k]);
			if (json_object_set_new(o, head[k],
						v ? json_incref(v) : json_null()))
				goto out;
		}
		if (json_object_set(o, "logs", logs))
			goto out;
	}
	if (put(o, "seed", json_object_get(l->root, "seed")) ||
	    put(o, "tokens", json_object_get(l->root, "tokens")) ||
	    json_object_set(o, "comment_meta", meta) ||
	    json_object_set(o, "syndisco_profile", prof))
		goto out;
	const char *key;
	json_t *v;
	json_object_foreach(l->root, key, v)
	{
		if (!is_known(key) && json_object_set(o, key, v))
			goto out;
	}
	*out = sd__py_json_dumps(o, 4);
	if (*out)
		rc = SD_OK;
out:
	json_decref(o);
	json_decref(logs);
	json_decref(meta);
	json_decref(prof);
	return rc;
}

sd_profile sd_logs_profile(const sd_logs *l)
{
	return l ? l->profile : SD_PROFILE_DEFAULT;
}

size_t sd_logs_comment_count(const sd_logs *l)
{
	return l ? json_array_size(json_object_get(l->root, "logs")) : 0;
}

static int32_t token_field(const json_t *e, const char *key)
{
	const json_t *t = json_object_get(e, "tokens");
	const json_t *v = t ? json_object_get(t, key) : NULL;
	return json_is_integer(v) ? (int32_t)json_integer_value(v) : -1;
}

sd_log_comment sd_logs_comment(const sd_logs *l, size_t i)
{
	sd_log_comment c;
	memset(&c, 0, sizeof(c));
	c.n_prompt_tokens = c.n_gen_tokens = -1;
	const json_t *e = json_array_get(json_object_get(l->root, "logs"), i);
	if (!e)
		return c;
	c.name = json_string_value(json_object_get(e, "name"));
	c.text = json_string_value(json_object_get(e, "text"));
	c.model = json_string_value(json_object_get(e, "model"));
	c.prompt = json_string_value(json_object_get(e, "prompt"));
	c.user_prompt = json_string_value(json_object_get(e, "user_prompt"));
	c.is_moderator = json_is_true(json_object_get(e, "is_moderator"));
	c.n_prompt_tokens = token_field(e, "prompt");
	c.n_gen_tokens = token_field(e, "generated");
	return c;
}

const char *sd_logs_id(const sd_logs *l)
{
	return json_string_value(json_object_get(l->root, "id"));
}

const char *sd_logs_timestamp(const sd_logs *l)
{
	return json_string_value(json_object_get(l->root, "timestamp"));
}

const char *sd_logs_moderator(const sd_logs *l)
{
	return json_string_value(json_object_get(l->root, "moderator"));
}

size_t sd_logs_user_count(const sd_logs *l)
{
	return json_array_size(json_object_get(l->root, "users"));
}

const char *sd_logs_user(const sd_logs *l, size_t i)
{
	return json_string_value(json_array_get(json_object_get(l->root, "users"), i));
}

int32_t sd_logs_ctx_length(const sd_logs *l)
{
	return (int32_t)json_integer_value(json_object_get(l->root, "ctx_length"));
}

uint64_t sd_logs_seed(const sd_logs *l)
{
	return (uint64_t)json_integer_value(json_object_get(l->root, "seed"));
}

static int set_string(sd_logs *l, const char *key, const char *v)
{
	if (!l || !v)
		return SD_EINVAL;
	return json_object_set_new(l->root, key, sd__json_string_repair(v)) ? SD_ENOMEM
									    : SD_OK;
}

int sd_logs_set_id(sd_logs *l, const char *id) { return set_string(l, "id", id); }

int sd_logs_set_timestamp(sd_logs *l, const char *timestamp)
{
	return set_string(l, "timestamp", timestamp);
}

int sd_logs_set_extra(sd_logs *l, const char *key, const char *json_text)
{
	if (!l || !key || !json_text || is_known(key))
		return SD_EINVAL;
	json_t *v = json_loads(json_text, JSON_DECODE_ANY, NULL);
	if (!v)
		return SD_EPARSE;
	return json_object_set_new(l->root, key, v) ? SD_ENOMEM : SD_OK;
}

const json_t *sd__logs_get(const sd_logs *l, const char *key)
{
	return l && key ? json_object_get(l->root, key) : NULL;
}

int sd_logs_discussion_key(const sd_logs *l, char *buf, size_t size)
{
	if (!l || !buf || size == 0)
		return SD_EINVAL;
	const char *digest = json_string_value(json_object_get(l->root, "config_digest"));
	const char *cell = json_string_value(json_object_get(l->root, "cell"));
	const json_t *index = json_object_get(l->root, "index");
	int n;
	if (digest && cell && json_is_integer(index))
		n = snprintf(buf, size, "%s/%s/%lld", digest, cell,
			     (long long)json_integer_value(index));
	else if (sd_logs_id(l) && *sd_logs_id(l))
		n = snprintf(buf, size, "%s", sd_logs_id(l));
	else
		return SD_EPARSE;
	return n < 0 || (size_t)n >= size ? SD_EINVAL : SD_OK;
}

int sd_logs_message_id(const sd_logs *l, size_t order, char buf[17])
{
	char key[512], num[32];
	int rc = sd_logs_discussion_key(l, key, sizeof(key));
	if (rc)
		return rc;
	snprintf(num, sizeof(num), "\n%zu", order);
	uint64_t h = sd__fnv1a64(key, strlen(key), SD_FNV1A64_INIT);
	h = sd__fnv1a64(num, strlen(num), h);
	snprintf(buf, 17, "%016llx", (unsigned long long)h);
	return SD_OK;
}

/*
 * The turn manager fields of mention and director managers (docs/turns.md):
 * p_mention and fallback; instructions, exclude_last_speaker and
 * silent_turns. Each belongs to one kind: given to another, it is an
 * error naming the field, not silently ignored.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "run/config_common.h"
#include "syndisco.h"
#include "util/error.h"

int sd__cfg_turn_extras(const json_t *t, const char *source, sd_turn_params *out,
			sd_error *err)
{
	int rc;
	if ((rc = sd__cfg_get_num(t, "p_mention", "turn_manager.p_mention", source, 0.0,
				  1.0, &out->p_mention, err)))
		return rc;
	const json_t *fb = json_object_get(t, "fallback");
	if (fb) {
		sd_turn_kind k;
		const char *fname = json_string_value(fb);
		if (!fname || sd_turn_kind_from_name(fname, &k) ||
		    (k != SD_TURN_ROUND_ROBIN && k != SD_TURN_RANDOM &&
		     k != SD_TURN_RESPOND))
			return sd__error_set(
			    err, SD_EINVAL, source, "turn_manager.fallback",
			    "unknown fallback %s%s%s (valid: round_robin, "
			    "random, respond)",
			    fname ? "\"" : "", fname ? fname : "(not a string)",
			    fname ? "\"" : "");
		out->fallback = k;
	}
	const json_t *in = json_object_get(t, "instructions");
	if (in) {
		if (!json_is_string(in) || json_string_length(in) == 0)
			return sd__error_set(err, SD_EINVAL, source,
					     "turn_manager.instructions",
					     "must be a non-empty string");
		/* borrowed from the config's JSON, which outlives the manager's
		   creation (it copies) */
		out->director_instructions = json_string_value(in);
	}
	const json_t *ex = json_object_get(t, "exclude_last_speaker");
	if (ex && !json_is_boolean(ex))
		return sd__error_set(err, SD_EINVAL, source,
				     "turn_manager.exclude_last_speaker",
				     "must be true or false");
	out->exclude_last_speaker = json_is_true(ex);
	long long k = out->silent_turns;
	if ((rc = sd__cfg_get_int(t, "silent_turns", "turn_manager.silent_turns", source,
				  0, 1000000, &k, err)))
		return rc;
	out->silent_turns = (int32_t)k;
	return SD_OK;
}

int sd__cfg_turn_extras_check(const json_t *t, const char *source,
			      const sd_turn_params *p, sd_error *err)
{
	static const struct {
		const char *key;
		sd_turn_kind kind;
	} own[] = {
	    {"p_mention", SD_TURN_MENTION},
	    {"fallback", SD_TURN_MENTION},
	    {"instructions", SD_TURN_DIRECTOR},
	    {"exclude_last_speaker", SD_TURN_DIRECTOR},
	    {"silent_turns", SD_TURN_DIRECTOR},
	};
	if (!json_is_object(t))
		return SD_OK;
	for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++) {
		if (json_object_get(t, own[i].key) && p->kind != own[i].kind) {
			char field[64];
			snprintf(field, sizeof(field), "turn_manager.%s", own[i].key);
			return sd__error_set(err, SD_EINVAL, source, field,
					     "only the \"%s\" turn manager takes it",
					     sd_turn_kind_name(own[i].kind));
		}
	}
	return SD_OK;
}

int sd__cfg_history_tokens(const json_t *o, const char *source, const char *backend_type,
			   int32_t *out, sd_error *err)
{
	const json_t *v = json_object_get(o, "history_ctx_tokens");
	if (!v || json_is_null(v))
		return SD_OK;
	if (!json_is_integer(v) || json_integer_value(v) < 1 ||
	    json_integer_value(v) > INT32_MAX)
		return sd__error_set(err, SD_EINVAL, source, "history_ctx_tokens",
				     "must be a whole number of tokens >= 1");
	if (backend_type && strcmp(backend_type, "openai") == 0)
		return sd__error_set(err, SD_EINVAL, source, "history_ctx_tokens",
				     "needs the model's tokenizer: the llama or scripted "
				     "backend (openai has none here)");
	*out = (int32_t)json_integer_value(v);
	return SD_OK;
}

/*
 * Reading SynDisco's files of every version next to ours; see
 * logcompat.h for the contract and docs/logs.md for the rules.
 */
#include <stdio.h>
#include <string.h>

#include "run/logcompat.h"
#include "util/md5.h"

static void md5_str(sd__md5 *m, const char *s)
{
	/* the NUL ends each field: JSON text cannot hold one (jansson
	   refuses \u0000 by default), so fields cannot run together */
	sd__md5_update(m, s ? s : "", strlen(s ? s : "") + 1);
}

void sd__lc_derived_id(const sd_logs *l, char out[LC_DERIVED_ID_SIZE])
{
	sd__md5 m;
	char hex[33];
	sd__md5_init(&m);
	md5_str(&m, "syndisco-log-v1");
	md5_str(&m, sd_logs_timestamp(l));
	for (size_t i = 0; i < sd_logs_comment_count(l); i++) {
		sd_log_comment c = sd_logs_comment(l, i);
		md5_str(&m, c.name);
		md5_str(&m, c.text);
	}
	sd__md5_hex(&m, hex);
	snprintf(out, LC_DERIVED_ID_SIZE, "sd-%s", hex);
}

int sd__lc_ensure_id(sd_logs *l)
{
	const char *id = sd_logs_id(l);
	char derived[LC_DERIVED_ID_SIZE];
	if (id && *id)
		return SD_OK;
	sd__lc_derived_id(l, derived);
	return sd_logs_set_id(l, derived) ? SD_ENOMEM : SD_OK;
}

void sd__lc_syndisco_message_id(const char *conv_id, const char *message, char out[33])
{
	sd__md5 m;
	sd__md5_init(&m);
	sd__md5_update(&m, conv_id, strlen(conv_id));
	sd__md5_update(&m, "_", 1);
	sd__md5_update(&m, message, strlen(message));
	sd__md5_hex(&m, out);
}

bool sd__lc_is_annotation(const json_t *root)
{
	if (!json_is_object(root))
		return false;
	if (json_object_get(root, "conv_id") || json_object_get(root, "annotator_prompt"))
		return true;
	const json_t *logs = json_object_get(root, "logs");
	/* every entry of one annotation file has the same prompt, so the
	   first prompt decides */
	for (size_t i = 0; i < json_array_size(logs); i++) {
		const char *p =
		    json_string_value(json_object_get(json_array_get(logs, i), "prompt"));
		if (!p || !*p)
			continue;
		if (!strstr(p, "annotator"))
			return false; /* cheap: no need to parse a user's prompt */
		json_t *sys = json_loads(p, 0, NULL);
		const char *type = json_string_value(json_object_get(sys, "type"));
		bool yes = type && !strcmp(type, "annotator");
		json_decref(sys);
		return yes;
	}
	return false;
}

int sd__lc_prompt_info(const char *prompt, json_t **persona, json_t **instructions)
{
	json_error_t jerr;
	*persona = *instructions = NULL;
	if (!prompt || !*prompt)
		return SD_OK;
	if (prompt[0] != '{') {
		/* the seed's "{context} Your name is N. Your traits: ... Your
		   instructions: {instructions}"; traits are Python reprs that
		   cannot be split back reliably, so only the instructions */
		const char *traits = strstr(prompt, " Your traits: ");
		const char *ins =
		    strstr(traits ? traits : prompt, " Your instructions: ");
		if (!ins)
			return SD_OK;
		*instructions = json_string(ins + strlen(" Your instructions: "));
		return *instructions ? SD_OK : SD_ENOMEM;
	}
	json_t *sys = json_loads(prompt, 0, &jerr);
	if (!sys)
		return json_error_code(&jerr) == json_error_out_of_memory ? SD_ENOMEM
									  : SD_OK;
	json_t *p = json_object_get(sys, "persona");
	json_t *i = json_object_get(sys, "instructions");
	if (json_is_object(p))
		*persona = json_incref(p);
	if (json_is_string(i))
		*instructions = json_incref(i);
	json_decref(sys);
	return SD_OK;
}

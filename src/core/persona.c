#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "syndisco.h"
#include "util/error.h"
#include "util/json.h"

struct sd_persona {
	json_t *obj; /* owned; always an object with a string "username" */
};

static int check_persona(const json_t *obj, const char *source, const char *where,
			 sd_error *err)
{
	char field[128];
	if (!json_is_object(obj))
		return sd__error_set(err, SD_EINVAL, source, where,
				     "a persona must be a JSON object");
	const json_t *u = json_object_get(obj, "username");
	snprintf(field, sizeof(field), "%s%susername", where, where[0] ? "." : "");
	if (!u)
		return sd__error_set(err, SD_EINVAL, source, field,
				     "missing; every persona needs a username");
	/* SynDisco accepts any string, "" included (persona_empty_fields) */
	if (!json_is_string(u))
		return sd__error_set(err, SD_EINVAL, source, field, "must be a string");
	return SD_OK;
}

static sd_persona *wrap(json_t *obj)
{
	sd_persona *p = malloc(sizeof(*p));
	if (!p) {
		json_decref(obj);
		return NULL;
	}
	p->obj = obj;
	return p;
}

static int parse_json(const char *text, const char *source, json_t **out, sd_error *err)
{
	json_error_t jerr;
	*out = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	if (!*out)
		return sd__error_set_at(err, SD_EPARSE, source, jerr.line, jerr.column,
					"%s", jerr.text);
	return SD_OK;
}

sd_persona *sd_persona_from_json(const char *json_text, sd_error *err)
{
	json_t *obj = NULL;
	if (!json_text) {
		sd__error_set(err, SD_EINVAL, NULL, NULL, "no persona text");
		return NULL;
	}
	if (parse_json(json_text, "<persona>", &obj, err))
		return NULL;
	if (check_persona(obj, "<persona>", "", err)) {
		json_decref(obj);
		return NULL;
	}
	sd_persona *p = wrap(obj);
	if (!p)
		sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
	return p;
}

sd_persona *sd_persona_from_json_object(const char *json_text, sd_error *err)
{
	json_t *obj = NULL;
	if (!json_text) {
		sd__error_set(err, SD_EINVAL, NULL, NULL, "no persona text");
		return NULL;
	}
	if (parse_json(json_text, "<persona>", &obj, err))
		return NULL;
	if (!json_is_object(obj)) {
		json_decref(obj);
		sd__error_set(err, SD_EINVAL, "<persona>", NULL,
			      "a persona must be a JSON object");
		return NULL;
	}
	sd_persona *p = wrap(obj);
	if (!p)
		sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
	return p;
}

int sd_persona_array_from_json(const char *json_text, const char *source,
			       sd_persona ***out, size_t *n, sd_error *err)
{
	json_t *arr = NULL;
	sd_persona **list = NULL;
	size_t count = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if (!source)
		source = "<personas>";
	rc = parse_json(json_text, source, &arr, err);
	if (rc)
		goto out;
	if (!json_is_array(arr)) {
		rc = sd__error_set(err, SD_EINVAL, source, NULL,
				   "expected a JSON array of personas");
		goto out;
	}
	if (json_array_size(arr) == 0) {
		rc = sd__error_set(err, SD_EINVAL, source, NULL,
				   "the persona array is empty");
		goto out;
	}
	list = calloc(json_array_size(arr), sizeof(*list));
	if (!list) {
		rc = sd__error_set(err, SD_ENOMEM, source, NULL, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < json_array_size(arr); i++) {
		char where[32];
		json_t *obj = json_array_get(arr, i);
		snprintf(where, sizeof(where), "[%zu]", i);
		rc = check_persona(obj, source, where, err);
		if (rc)
			goto out;
		/* usernames identify speakers: duplicates would merge them */
		const char *name = json_string_value(json_object_get(obj, "username"));
		for (size_t k = 0; k < count; k++) {
			if (strcmp(sd_persona_username(list[k]), name) == 0) {
				char field[64];
				snprintf(field, sizeof(field), "[%zu].username", i);
				rc = sd__error_set(
				    err, SD_EINVAL, source, field,
				    "duplicate username \"%s\" (also at [%zu])", name, k);
				goto out;
			}
		}
		list[count] = wrap(json_incref(obj));
		if (!list[count]) {
			rc = sd__error_set(err, SD_ENOMEM, source, NULL, "out of memory");
			goto out;
		}
		count++;
	}
	*out = list;
	*n = count;
	list = NULL;
	rc = SD_OK;
out:
	if (list)
		sd_persona_array_free(list, count);
	json_decref(arr);
	return rc;
}

sd_persona *sd_persona_copy(const sd_persona *p)
{
	if (!p)
		return NULL;
	json_t *obj = json_deep_copy(p->obj);
	return obj ? wrap(obj) : NULL;
}

const char *sd_persona_username(const sd_persona *p)
{
	/* NULL also for 2.2.1 personas without a string username */
	return p ? json_string_value(json_object_get(p->obj, "username")) : NULL;
}

int sd_persona_set_username(sd_persona *p, const char *username)
{
	if (!p || !username || !username[0])
		return SD_EINVAL;
	json_t *s = sd__json_string_repair(username);
	if (!s)
		return SD_ENOMEM;
	return json_object_set_new(p->obj, "username", s) ? SD_ENOMEM : SD_OK;
}

sd_persona *sd__persona_from_object(const json_t *obj)
{
	json_t *o = obj ? json_deep_copy(obj) : json_object();
	if (!o || !json_is_object(o)) {
		json_decref(o);
		return NULL;
	}
	return wrap(o);
}

const json_t *sd__persona_json(const sd_persona *p) { return p ? p->obj : NULL; }

json_t *sd__persona_prompt_object(const sd_persona *p)
{
	json_t *o = json_object();
	const char *key;
	json_t *v;
	if (!o)
		return NULL;
	json_object_foreach(p->obj, key, v)
	{
		if (sd__json_is_empty(v))
			continue;
		if (json_object_set(o, key, v)) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

char *sd_persona_to_prompt_json(const sd_persona *p)
{
	if (!p)
		return NULL;
	json_t *o = sd__persona_prompt_object(p);
	if (!o)
		return NULL;
	char *s = sd__json_dumps_python(o);
	json_decref(o);
	return s;
}

void sd_persona_free(sd_persona *p)
{
	if (!p)
		return;
	json_decref(p->obj);
	free(p);
}

void sd_persona_array_free(sd_persona **arr, size_t n)
{
	if (!arr)
		return;
	for (size_t i = 0; i < n; i++)
		sd_persona_free(arr[i]);
	free(arr);
}

/*
 * Rubrics for whole-discussion evaluation. The grammar is the label
 * code's: each dimension is a {"range": [min, max]} label spec whose
 * "root ::= ..." rule becomes rule dK of one object grammar with fixed
 * keys, order and spacing, so it is finite (every reply ends) and
 * every reply it allows parses.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rubric.h"
#include "util/buf.h"
#include "util/error.h"

#define RUBRIC_MAX_DIMS 64
#define RUBRIC_MAX_SPAN 1000

static const char *const dim_keys[] = {"name", "description", "range"};

static bool valid_name(const char *s)
{
	if (!*s || strlen(s) > 64)
		return false;
	for (; *s; s++) {
		char c = *s;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
			return false;
	}
	return true;
}

void sd__rubric_free(sd__rubric *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++) {
		free(r->dims[i].name);
		free(r->dims[i].description);
		sd_label_spec_free(r->dims[i].range);
	}
	free(r->dims);
	free(r->grammar);
	sd_label_spec_free(r->spec);
	free(r);
}

static int parse_dim(sd__rubric *r, size_t i, const json_t *o, const char *source,
		     const char *field, sd_error *err)
{
	sd__rubric_dim *d = &r->dims[i];
	char f[256];
	snprintf(f, sizeof(f), "%s[%zu]", field, i);
	if (!json_is_object(o))
		return sd__error_set(err, SD_EINVAL, source, f,
				     "must be an object {\"name\", \"description\", "
				     "\"range\": [min, max]}");
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)o, key, v)
	{
		bool known = false;
		for (size_t k = 0; k < sizeof(dim_keys) / sizeof(dim_keys[0]); k++)
			known = known || !strcmp(key, dim_keys[k]);
		if (!known) {
			snprintf(f, sizeof(f), "%s[%zu].%s", field, i, key);
			return sd__error_set(
			    err, SD_EINVAL, source, f,
			    "unknown key (expected name, description, range)");
		}
	}
	const char *name = json_string_value(json_object_get(o, "name"));
	snprintf(f, sizeof(f), "%s[%zu].name", field, i);
	if (!name || !valid_name(name))
		return sd__error_set(
		    err, SD_EINVAL, source, f,
		    "needs a name of 1 to 64 letters, digits, '-', '_' "
		    "and '.' (it is a key of the judge's reply and a column)");
	for (size_t k = 0; k < i; k++)
		if (!strcmp(r->dims[k].name, name))
			return sd__error_set(err, SD_EINVAL, source, f,
					     "\"%s\" is used twice", name);
	const json_t *desc = json_object_get(o, "description");
	snprintf(f, sizeof(f), "%s[%zu].description", field, i);
	if (desc && !json_is_string(desc))
		return sd__error_set(err, SD_EINVAL, source, f, "must be a string");
	if (!(d->name = strdup(name)) ||
	    !(d->description = strdup(desc ? json_string_value(desc) : "")))
		return sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
	const json_t *range = json_object_get(o, "range");
	snprintf(f, sizeof(f), "%s[%zu].range", field, i);
	if (!range)
		return sd__error_set(err, SD_EINVAL, source, f,
				     "missing: the integer scores allowed, [min, max]");
	if (!json_is_array(range) || json_array_size(range) != 2 ||
	    !json_is_integer(json_array_get(range, 0)) ||
	    !json_is_integer(json_array_get(range, 1)))
		return sd__error_set(err, SD_EINVAL, source, f,
				     "must be [min, max] with integers min <= max");
	d->min = json_integer_value(json_array_get(range, 0));
	d->max = json_integer_value(json_array_get(range, 1));
	if (d->min > d->max || (unsigned long long)(d->max - d->min) > RUBRIC_MAX_SPAN)
		return sd__error_set(err, SD_EINVAL, source, f,
				     "must be [min, max] with integers min <= max and at "
				     "most %d scores",
				     RUBRIC_MAX_SPAN + 1);
	char spec[96];
	snprintf(spec, sizeof(spec), "{\"range\": [%lld, %lld]}", d->min, d->max);
	snprintf(f, sizeof(f), "%s[%zu]", field, i);
	return sd_label_spec_parse(spec, source, f, &d->range, err);
}

/* The object grammar: root with fixed keys, then dK ::= the right-hand
 * side of dimension K's range label grammar ("root ::= <rhs>\n"). */
static int build_grammar(sd__rubric *r)
{
	sd__buf b;
	sd__buf_init(&b, 0);
	int rc = sd__buf_puts(&b, "root ::= \"{");
	size_t fixed = 2; /* "{" and "}" */
	for (size_t i = 0; i < r->n && !rc; i++) {
		rc = sd__buf_printf(&b, "%s\\\"%s\\\": \" d%zu \"", i ? ", " : "",
				    r->dims[i].name, i);
		fixed += (i ? 2 : 0) + strlen(r->dims[i].name) + 4;
		r->max_bytes += sd_label_spec_max_bytes(r->dims[i].range);
	}
	if (!rc)
		rc = sd__buf_puts(&b, "}\"\n");
	for (size_t i = 0; i < r->n && !rc; i++) {
		const char *g = sd_label_spec_grammar(r->dims[i].range);
		const char *rhs = strstr(g, "::=");
		if (strncmp(g, "root ", 5) || !rhs ||
		    strchr(rhs, '\n') != g + strlen(g) - 1)
			rc = SD_EINVAL; /* label.c's range grammar is one rule */
		else
			rc = sd__buf_printf(&b, "d%zu %s", i, rhs);
	}
	r->max_bytes += fixed;
	if (!rc && !(r->grammar = sd__buf_steal(&b)))
		rc = SD_ENOMEM;
	sd__buf_free(&b);
	return rc;
}

int sd__rubric_parse(const json_t *arr, const char *source, const char *field,
		     sd__rubric **out, sd_error *err)
{
	int rc;
	*out = NULL;
	if (!json_is_array(arr) || json_array_size(arr) == 0)
		return sd__error_set(err, SD_EINVAL, source, field,
				     "missing: a list of dimensions, each {\"name\", "
				     "\"description\", \"range\": [min, max]}");
	if (json_array_size(arr) > RUBRIC_MAX_DIMS)
		return sd__error_set(err, SD_EINVAL, source, field,
				     "has more than %d dimensions", RUBRIC_MAX_DIMS);
	sd__rubric *r = calloc(1, sizeof(*r));
	if (!r || !(r->dims = calloc(json_array_size(arr), sizeof(*r->dims)))) {
		free(r);
		return sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
	}
	for (size_t i = 0; i < json_array_size(arr); i++) {
		r->n = i + 1;
		if ((rc = parse_dim(r, i, json_array_get(arr, i), source, field, err)))
			goto fail;
	}
	if ((rc = build_grammar(r))) {
		rc = sd__error_set(err, rc, NULL, NULL,
				   rc == SD_ENOMEM ? "out of memory"
						   : "internal: range grammar");
		goto fail;
	}
	json_t *spec = json_pack("{s:s,s:s}", "grammar", r->grammar, "type", "json");
	char *text = spec ? json_dumps(spec, JSON_COMPACT) : NULL;
	json_decref(spec);
	rc = text ? sd_label_spec_parse(text, source, field, &r->spec, err)
		  : sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
	free(text);
	if (rc)
		goto fail;
	char why[256];
	if (sd_grammar_check(r->grammar, why, sizeof(why))) {
		rc = sd__error_set(err, SD_EINVAL, source, field,
				   "the rubric's grammar does not parse: %s", why);
		goto fail;
	}
	*out = r;
	return SD_OK;
fail:
	sd__rubric_free(r);
	return rc;
}

char *sd__rubric_describe(const sd__rubric *r)
{
	sd__buf b;
	sd__buf_init(&b, 0);
	int rc =
	    sd__buf_puts(&b, "Rate the whole discussion on each of these dimensions, "
			     "with an integer score in the range given:");
	for (size_t i = 0; i < r->n && !rc; i++)
		rc = sd__buf_printf(&b, "\n- %s (%lld to %lld)%s%s", r->dims[i].name,
				    r->dims[i].min, r->dims[i].max,
				    r->dims[i].description[0] ? ": " : "",
				    r->dims[i].description);
	if (!rc)
		rc = sd__buf_puts(&b, "\nReply with one JSON object and nothing else: {");
	for (size_t i = 0; i < r->n && !rc; i++)
		rc = sd__buf_printf(&b, "%s\"%s\": <score>", i ? ", " : "",
				    r->dims[i].name);
	if (!rc)
		rc = sd__buf_puts(&b, "}");
	char *s = rc ? NULL : sd__buf_steal(&b);
	sd__buf_free(&b);
	return s;
}

int sd__rubric_parse_reply(const sd__rubric *r, const char *reply, json_t **scores)
{
	char *text = NULL;
	json_t *o = NULL, *res = NULL;
	int rc = SD_EPARSE;
	*scores = NULL;
	if (!reply || sd_label_parse(r->spec, reply, &text) != SD_OK)
		goto out;
	o = json_loads(text, 0, NULL);
	if (!json_is_object(o) || json_object_size(o) != r->n || !(res = json_object()))
		goto out;
	for (size_t i = 0; i < r->n; i++) {
		const json_t *v = json_object_get(o, r->dims[i].name);
		char num[32], *label = NULL;
		if (!json_is_integer(v))
			goto out;
		/* the dimension's own label spec says whether it is in range */
		snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
		int prc = sd_label_parse(r->dims[i].range, num, &label);
		free(label);
		if (prc != SD_OK)
			goto out;
		if (json_object_set_new(res, r->dims[i].name,
					json_integer(json_integer_value(v)))) {
			rc = SD_ENOMEM;
			goto out;
		}
	}
	*scores = res;
	res = NULL;
	rc = SD_OK;
out:
	free(text);
	json_decref(o);
	json_decref(res);
	return rc;
}

json_t *sd__rubric_json(const sd__rubric *r)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < r->n; i++) {
		json_t *d =
		    json_pack("{s:s,s:s,s:[I,I]}", "name", r->dims[i].name, "description",
			      r->dims[i].description, "range", (json_int_t)r->dims[i].min,
			      (json_int_t)r->dims[i].max);
		if (!d || json_array_append_new(a, d)) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

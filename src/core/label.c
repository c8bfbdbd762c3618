/*
 * Label specs: a grammar the backend can enforce and a parser that says
 * whether a reply is a label. The two agree: every string the grammar
 * accepts parses (up to surrounding whitespace).
 */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "syndisco.h"
#include "util/buf.h"
#include "util/error.h"

/* Ranges up to this many values are spelled out in the grammar. */
#define RANGE_ENUM_MAX 1000

typedef enum label_kind { LABEL_VALUES, LABEL_RANGE, LABEL_GRAMMAR } label_kind;
typedef enum label_type { TYPE_STRING, TYPE_INTEGER, TYPE_NUMBER, TYPE_JSON } label_type;

struct sd_label_spec {
	label_kind kind;
	label_type type; /* grammar only */
	bool json_shape; /* reply is {"label": V} */
	char **values;
	size_t n_values;
	long long lo, hi;
	char *grammar;
	char *json; /* the spec, compact */
};

static int bad(sd_error *err, const char *source, const char *field, const char *key,
	       const char *msg)
{
	char f[256];
	snprintf(f, sizeof(f), "%s%s%s", field ? field : "", field && key ? "." : "",
		 key ? key : "");
	return sd__error_set(err, SD_EINVAL, source, f, "%s", msg);
}

/* A GBNF string literal for s. Returns 0 or the buffer's error. */
static int gbnf_literal(sd__buf *b, const char *s)
{
	int rc = sd__buf_append(b, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)s; *p && !rc; p++) {
		switch (*p) {
		case '"':
			rc = sd__buf_append(b, "\\\"", 2);
			break;
		case '\\':
			rc = sd__buf_append(b, "\\\\", 2);
			break;
		case '\n':
			rc = sd__buf_append(b, "\\n", 2);
			break;
		case '\r':
			rc = sd__buf_append(b, "\\r", 2);
			break;
		case '\t':
			rc = sd__buf_append(b, "\\t", 2);
			break;
		default:
			if (*p < 0x20)
				rc = sd__buf_printf(b, "\\x%02X", *p);
			else
				rc = sd__buf_append(b, (const char *)p, 1);
		}
	}
	return rc ? rc : sd__buf_append(b, "\"", 1);
}

/* A JSON string literal as GBNF: the JSON text of s, quoted for GBNF. */
static int gbnf_json_string(sd__buf *b, const char *s)
{
	json_t *v = json_string(s);
	char *t = v ? json_dumps(v, JSON_ENCODE_ANY) : NULL;
	json_decref(v);
	if (!t)
		return SD_ENOMEM;
	int rc = gbnf_literal(b, t);
	free(t);
	return rc;
}

#define GBNF_MAX_BYTES (64 * 1024)
#define GBNF_MAX_DEPTH 64

/*
 * NULL when the grammar text is within bounds, else why not. llama.cpp's
 * GBNF parser recurses once per "(": 20,000 nested groups overflow the
 * stack (SIGSEGV) while the config loads, so the nesting is counted here
 * first, skipping strings, character classes and comments.
 */
static const char *gbnf_bounds(const char *g)
{
	int depth = 0;
	if (strlen(g) > GBNF_MAX_BYTES)
		return "is longer than 64 KiB";
	for (const char *p = g; *p; p++) {
		if (*p == '#') {
			while (p[1] && p[1] != '\n')
				p++;
		} else if (*p == '"' || *p == '[') {
			char end = *p == '"' ? '"' : ']';
			while (p[1] && p[1] != end)
				p += p[1] == '\\' && p[2] ? 2 : 1;
			if (p[1])
				p++;
		} else if (*p == '(') {
			if (++depth > GBNF_MAX_DEPTH)
				return "nests groups \"(...)\" more than 64 deep";
		} else if (*p == ')' && depth > 0) {
			depth--;
		}
	}
	return NULL;
}

static int digits(long long v)
{
	unsigned long long u =
	    v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
	int d = 1;
	while (u >= 10)
		u /= 10, d++;
	return d;
}

static int max_digits(const sd_label_spec *s)
{
	return digits(s->lo) > digits(s->hi) ? digits(s->lo) : digits(s->hi);
}

size_t sd_label_spec_max_bytes(const sd_label_spec *s)
{
	size_t n = 0;
	if (!s || s->kind == LABEL_GRAMMAR)
		return 0;
	if (s->kind == LABEL_VALUES) {
		for (size_t i = 0; i < s->n_values; i++) {
			size_t k = strlen(s->values[i]);
			if (s->json_shape) { /* its JSON text: escapes may double it */
				json_t *v = json_string(s->values[i]);
				char *t = v ? json_dumps(v, JSON_ENCODE_ANY) : NULL;
				k = t ? strlen(t) : 6 * k + 2;
				free(t);
				json_decref(v);
			}
			n = k > n ? k : n;
		}
	} else {
		n = (size_t)max_digits(s) + (s->lo < 0);
	}
	return n + (s->json_shape ? strlen("{\"label\": }") : 0);
}

static int build_grammar(sd_label_spec *s)
{
	sd__buf b;
	int rc;
	if (s->kind == LABEL_GRAMMAR)
		return SD_OK; /* given */
	sd__buf_init(&b, 0);
	if (s->json_shape)
		rc = sd__buf_printf(
		    &b, "root ::= \"{\\\"label\\\": \" value \"}\"\nvalue ::= ");
	else
		rc = sd__buf_printf(&b, "root ::= ");
	if (s->kind == LABEL_VALUES) {
		for (size_t i = 0; i < s->n_values && !rc; i++) {
			if (i && (rc = sd__buf_printf(&b, " | ")))
				break;
			/* a value that failed to convert must fail the grammar,
			   not leave an alternative out of it */
			rc = s->json_shape ? gbnf_json_string(&b, s->values[i])
					   : gbnf_literal(&b, s->values[i]);
		}
	} else if ((unsigned long long)(s->hi - s->lo) < RANGE_ENUM_MAX) {
		for (long long v = s->lo; v <= s->hi && !rc; v++)
			rc = sd__buf_printf(&b, "%s\"%lld\"", v > s->lo ? " | " : "", v);
	} else {
		/* too many to spell out: digits, checked by the parser; at most
		   as many as the bounds have, so that every reply ends */
		rc = sd__buf_printf(&b, "%s[0-9]", s->lo < 0 ? "\"-\"? " : "");
		for (int d = 1; d < max_digits(s) && !rc; d++)
			rc = sd__buf_printf(&b, " [0-9]?");
	}
	if (!rc)
		rc = sd__buf_printf(&b, "\n");
	if (rc) {
		sd__buf_free(&b);
		return rc;
	}
	s->grammar = sd__buf_steal(&b);
	return s->grammar ? SD_OK : SD_ENOMEM;
}

void sd_label_spec_free(sd_label_spec *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_values; i++)
		free(s->values[i]);
	free(s->values);
	free(s->grammar);
	free(s->json);
	free(s);
}

int sd_label_spec_parse(const char *json_text, const char *source, const char *field,
			sd_label_spec **out, sd_error *err)
{
	json_error_t jerr;
	json_t *o = json_text ? json_loads(json_text, 0, &jerr) : NULL;
	sd_label_spec *s = NULL;
	int rc = SD_OK;
	*out = NULL;
	if (!json_is_object(o)) {
		rc = bad(err, source, field, NULL,
			 "must be an object: {\"values\": [...]}, {\"range\": [lo, hi]} "
			 "or {\"grammar\": \"root ::= ...\"}");
		goto out;
	}
	const char *key;
	json_t *v;
	json_object_foreach(o, key, v)
	{
		if (strcmp(key, "values") && strcmp(key, "range") &&
		    strcmp(key, "grammar") && strcmp(key, "type") &&
		    strcmp(key, "json")) {
			rc = bad(
			    err, source, field, key,
			    "unknown key (expected values, range, grammar, type, json)");
			goto out;
		}
	}
	json_t *values = json_object_get(o, "values");
	json_t *range = json_object_get(o, "range");
	json_t *grammar = json_object_get(o, "grammar");
	json_t *type = json_object_get(o, "type");
	json_t *shape = json_object_get(o, "json");
	if (!!values + !!range + !!grammar != 1) {
		rc = bad(err, source, field, NULL,
			 "give exactly one of \"values\", \"range\" and \"grammar\"");
		goto out;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		rc = sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
		goto out;
	}
	if (shape && !json_is_boolean(shape)) {
		rc = bad(err, source, field, "json", "must be true or false");
		goto out;
	}
	s->json_shape = json_is_true(shape);
	if (values) {
		s->kind = LABEL_VALUES;
		if (!json_is_array(values) || json_array_size(values) == 0) {
			rc = bad(err, source, field, "values",
				 "must be a non-empty list of strings");
			goto out;
		}
		s->values = calloc(json_array_size(values), sizeof(*s->values));
		if (!s->values) {
			rc = sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
			goto out;
		}
		for (size_t i = 0; i < json_array_size(values); i++) {
			const char *t = json_string_value(json_array_get(values, i));
			if (!t || !*t || isspace((unsigned char)t[0]) ||
			    isspace((unsigned char)t[strlen(t) - 1])) {
				rc = bad(err, source, field, "values",
					 "every value must be a non-empty string without "
					 "leading or trailing whitespace");
				goto out;
			}
			if (!(s->values[s->n_values++] = strdup(t))) {
				rc = sd__error_set(err, SD_ENOMEM, NULL, NULL,
						   "out of memory");
				goto out;
			}
		}
	} else if (range) {
		s->kind = LABEL_RANGE;
		if (!json_is_array(range) || json_array_size(range) != 2 ||
		    !json_is_integer(json_array_get(range, 0)) ||
		    !json_is_integer(json_array_get(range, 1)) ||
		    json_integer_value(json_array_get(range, 0)) >
			json_integer_value(json_array_get(range, 1))) {
			rc = bad(err, source, field, "range",
				 "must be [lo, hi] with integers lo <= hi");
			goto out;
		}
		s->lo = json_integer_value(json_array_get(range, 0));
		s->hi = json_integer_value(json_array_get(range, 1));
	} else {
		s->kind = LABEL_GRAMMAR;
		const char *g = json_string_value(grammar);
		if (!g || !strstr(g, "root")) {
			rc = bad(err, source, field, "grammar",
				 "must be a GBNF grammar text with a rule named root");
			goto out;
		}
		const char *why = gbnf_bounds(g);
		if (why) {
			rc = bad(err, source, field, "grammar", why);
			goto out;
		}
		if (s->json_shape) {
			rc = bad(err, source, field, "json",
				 "is for values and range; a grammar says its own shape "
				 "(use \"type\": \"json\")");
			goto out;
		}
		s->grammar = strdup(g);
		if (!s->grammar) {
			rc = sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
			goto out;
		}
		const char *t = type ? json_string_value(type) : "string";
		if (!t) {
			rc = bad(err, source, field, "type", "must be a string");
			goto out;
		}
		if (!strcmp(t, "string"))
			s->type = TYPE_STRING;
		else if (!strcmp(t, "integer"))
			s->type = TYPE_INTEGER;
		else if (!strcmp(t, "number"))
			s->type = TYPE_NUMBER;
		else if (!strcmp(t, "json"))
			s->type = TYPE_JSON;
		else {
			rc = bad(
			    err, source, field, "type",
			    "must be \"string\", \"integer\", \"number\" or \"json\"");
			goto out;
		}
	}
	if (type && !grammar) {
		rc = bad(err, source, field, "type", "is for grammar specs only");
		goto out;
	}
	if ((rc = build_grammar(s)) ||
	    !(s->json = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS))) {
		rc = sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
		goto out;
	}
	*out = s;
	s = NULL;
out:
	sd_label_spec_free(s);
	json_decref(o);
	return rc;
}

const char *sd_label_spec_grammar(const sd_label_spec *s)
{
	return s ? s->grammar : NULL;
}

const char *sd_label_spec_json(const sd_label_spec *s) { return s ? s->json : NULL; }

/* s without surrounding whitespace, as a new string. */
static char *trimmed(const char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	char *t = malloc(n + 1);
	if (t) {
		memcpy(t, s, n);
		t[n] = '\0';
	}
	return t;
}

static bool parse_ll(const char *t, long long *v)
{
	char *end;
	if (!*t || isspace((unsigned char)*t))
		return false;
	errno = 0;
	*v = strtoll(t, &end, 10);
	return errno == 0 && *end == '\0';
}

/* The label for value v (a reply or the "label" of a JSON reply). */
static json_t *check_value(const sd_label_spec *s, const json_t *v, const char *text)
{
	if (s->kind == LABEL_VALUES) {
		const char *t = v ? json_string_value(v) : text;
		for (size_t i = 0; t && i < s->n_values; i++)
			if (strcmp(t, s->values[i]) == 0)
				return json_string(t);
		return NULL;
	}
	long long n;
	if (v) {
		if (!json_is_integer(v))
			return NULL;
		n = json_integer_value(v);
	} else if (!parse_ll(text, &n)) {
		return NULL;
	}
	return n >= s->lo && n <= s->hi ? json_integer(n) : NULL;
}

int sd_label_parse(const sd_label_spec *s, const char *reply, char **label_json)
{
	json_t *label = NULL;
	char *t;
	*label_json = NULL;
	if (!s || !reply)
		return SD_EINVAL;
	if (!(t = trimmed(reply)))
		return SD_ENOMEM;
	if (s->kind == LABEL_GRAMMAR) {
		long long n;
		char *end;
		switch (s->type) {
		case TYPE_STRING:
			label = *t ? json_string(t) : NULL;
			break;
		case TYPE_INTEGER:
			label = parse_ll(t, &n) ? json_integer(n) : NULL;
			break;
		case TYPE_NUMBER: {
			errno = 0;
			double d = *t ? strtod(t, &end) : 0;
			label = *t && errno == 0 && *end == '\0' ? json_real(d) : NULL;
			break;
		}
		case TYPE_JSON:
			label = json_loads(t, JSON_DECODE_ANY, NULL);
			break;
		}
	} else if (s->json_shape) {
		json_t *o = json_loads(t, 0, NULL);
		const json_t *v = json_object_get(o, "label");
		if (json_is_object(o) && json_object_size(o) == 1 && v)
			label = check_value(s, v, NULL);
		json_decref(o);
	} else {
		label = check_value(s, NULL, t);
	}
	free(t);
	if (!label)
		return SD_EPARSE;
	*label_json = json_dumps(label, JSON_ENCODE_ANY | JSON_COMPACT);
	json_decref(label);
	return *label_json ? SD_OK : SD_ENOMEM;
}

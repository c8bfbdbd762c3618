/*
 * The director's request: a model names the next speaker. Its reply is
 * constrained by a label spec of exactly the allowed names (the label
 * code's GBNF grammar), so with a backend that enforces grammars it
 * always parses; the parser is the label parser, so the two agree.
 */
#include <ctype.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "util/buf.h"

int sd__sd_director_prompt(const char *const *names, const bool *allowed, size_t n,
			   const char *const *entries, size_t n_entries,
			   char **user_prompt, sd_label_spec **spec)
{
	json_t *spec_json = NULL, *values = NULL;
	char *spec_text = NULL;
	sd__buf b;
	int rc = SD_ENOMEM;
	sd_error err;
	*user_prompt = NULL;
	*spec = NULL;
	sd__buf_init(&b, 0);
	values = json_array();
	if (!values)
		goto out;
	/* names may repeat (2.2.1 actors): each once */
	for (size_t i = 0; i < n; i++) {
		if (!allowed[i])
			continue;
		size_t k = 0;
		while (k < i && !(allowed[k] && strcmp(names[k], names[i]) == 0))
			k++;
		if (k == i && json_array_append_new(values, json_string(names[i])))
			goto out;
	}
	if (json_array_size(values) == 0) {
		rc = SD_EINVAL;
		goto out;
	}
	spec_json = json_pack("{s:O}", "values", values);
	if (!spec_json || !(spec_text = json_dumps(spec_json, JSON_COMPACT)))
		goto out;
	if ((rc = sd_label_spec_parse(spec_text, NULL, "director", spec, &err)))
		goto out;
	rc = SD_ENOMEM;
	if (sd__buf_puts(&b, "Participants:"))
		goto out;
	for (size_t i = 0; i < json_array_size(values); i++)
		if (sd__buf_puts(&b, i ? ", " : " ") ||
		    sd__buf_puts(&b, json_string_value(json_array_get(values, i))))
			goto out;
	if (sd__buf_puts(&b, "\nComments so far:\n"))
		goto out;
	for (size_t i = 0; i < n_entries; i++)
		if ((i && sd__buf_puts(&b, "\n")) || sd__buf_puts(&b, entries[i]))
			goto out;
	if (sd__buf_puts(&b, "\n\nWho writes the next comment? Answer with the username "
			     "only.") ||
	    sd__buf_append(&b, "", 0))
		goto out;
	if (!(*user_prompt = sd__buf_steal(&b)))
		goto out;
	rc = SD_OK;
out:
	if (rc) {
		sd_label_spec_free(*spec);
		*spec = NULL;
	}
	sd__buf_free(&b);
	json_decref(values);
	json_decref(spec_json);
	free(spec_text);
	return rc;
}

int sd__sd_director_parse(const sd_label_spec *spec, const char *reply,
			  const char *const *names, const bool *allowed, size_t n,
			  size_t *out)
{
	/* what the label parser does for a values spec (ASCII blanks around
	   it dropped, then an exact name), without its allocations and JSON
	   round trip, so running out of memory cannot pass for a reply that
	   names nobody */
	(void)spec;
	const char *s = reply ? reply : "";
	while (isspace((unsigned char)*s))
		s++;
	size_t len = strlen(s);
	while (len > 0 && isspace((unsigned char)s[len - 1]))
		len--;
	for (size_t i = 0; i < n; i++) {
		if (allowed[i] && strlen(names[i]) == len &&
		    memcmp(names[i], s, len) == 0) {
			*out = i;
			return SD_OK;
		}
	}
	return SD_EPARSE;
}

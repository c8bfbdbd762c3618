#include "util/json.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "util/utf8.h"

char *sd__json_dumps_python(const json_t *v)
{
	/* jansson's default (no indent, not compact) already uses ", " and
	 * ": "; only its \u escapes are upper-case where Python's are not. */
	char *s = json_dumps(v, JSON_ENSURE_ASCII | JSON_ENCODE_ANY);
	if (!s)
		return NULL;
	for (char *p = s; *p; p++) {
		if (*p != '\\')
			continue;
		p++; /* the escaped character; "\\\\" must not start an escape */
		if (*p == 'u') {
			for (int k = 1; k <= 4 && p[k]; k++)
				p[k] = (char)tolower((unsigned char)p[k]);
			p += 4;
		}
	}
	return s;
}

json_t *sd__json_string_repair(const char *s)
{
	size_t n = strlen(s);
	if (sd__utf8_valid(s, n))
		return json_stringn(s, n);
	char *fixed = sd__utf8_repair(s, n);
	if (!fixed)
		return NULL;
	json_t *j = json_string(fixed);
	free(fixed);
	return j;
}

int sd__json_is_empty(const json_t *v)
{
	if (!v || json_is_null(v))
		return 1;
	if (json_is_string(v))
		return json_string_length(v) == 0;
	if (json_is_array(v))
		return json_array_size(v) == 0;
	if (json_is_object(v))
		return json_object_size(v) == 0;
	return 0;
}

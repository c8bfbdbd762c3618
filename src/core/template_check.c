/*
 * Prompt templates: a placeholder the renderer does not know is an error,
 * not literal text. A typo ({histroy}) used to be kept as it was, and the
 * model never saw the history.
 */
#include <string.h>

#include "core/core.h"

static bool ident_char(char c, bool first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	       (!first && c >= '0' && c <= '9');
}

int sd__template_check(const char *tmpl, const char *const *known, size_t n_known,
		       const char **bad, size_t *bad_len)
{
	for (const char *p = tmpl; p && *p; p++) {
		if (p[0] == '{' && p[1] == '{') {
			p++;
			continue;
		}
		if (p[0] != '{' || !ident_char(p[1], true))
			continue; /* braces of the text's own, e.g. JSON */
		size_t n = 1;
		while (ident_char(p[n], false))
			n++;
		if (p[n] != '}')
			continue;
		size_t k;
		for (k = 0; k < n_known; k++)
			if (strlen(known[k]) == n - 1 && !strncmp(p + 1, known[k], n - 1))
				break;
		if (k == n_known) {
			*bad = p;
			*bad_len = n + 1;
			return SD_EINVAL;
		}
		p += n;
	}
	return SD_OK;
}

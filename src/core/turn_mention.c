/*
 * Finding who a comment addresses: "@name", as forum threads and
 * SynDisco's own logs write it ("@camel-conduit, I disagree"). Names are
 * compared on code points, letters folded to lower case, so that
 * "@Ελένη" and "@ελένη" address the same user; the longest name that
 * matches wins, so "@anna-maria" is not taken for "@anna".
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "syndisco.h"
#include "util/pytext.h"

/*
 * Simple lower-case folding of the cased letters of Latin-1, Latin
 * Extended-A, Greek and Cyrillic: the scripts usernames are written in
 * here. (A full Unicode table would be the thing to add if a study's
 * usernames need more.)
 */
static uint32_t fold(uint32_t c)
{
	if (c >= 'A' && c <= 'Z')
		return c + 32;
	if (c < 0xC0)
		return c;
	if (c <= 0xDE && c != 0xD7)
		return c + 32;
	if (c >= 0x100 && c <= 0x137)
		return c | 1; /* pairs: even upper, odd lower */
	if (c >= 0x139 && c <= 0x148)
		return (c & 1) ? c + 1 : c;
	if (c >= 0x14A && c <= 0x177)
		return c | 1;
	if (c == 0x178)
		return 0xFF;
	if (c >= 0x179 && c <= 0x17E)
		return (c & 1) ? c + 1 : c;
	if (c == 0x386)
		return 0x3AC;
	if (c >= 0x388 && c <= 0x38A)
		return c + 0x25;
	if (c == 0x38C)
		return 0x3CC;
	if (c == 0x38E || c == 0x38F)
		return c + 0x3F;
	if (c >= 0x391 && c <= 0x3AB && c != 0x3A2)
		return c + 32;
	if (c == 0x3C2) /* final sigma */
		return 0x3C3;
	if (c >= 0x400 && c <= 0x40F)
		return c + 0x50;
	if (c >= 0x410 && c <= 0x42F)
		return c + 32;
	return c;
}

static bool name_char(uint32_t c) { return c == '_' || sd__py_isalnum(c); }

/*
 * Whether name (code points) matches text at t, and what follows it ends
 * the name: not a name character, nor a '-' or '.' joining one.
 */
static bool matches_at(const uint32_t *t, size_t nt, const uint32_t *name, size_t nn)
{
	if (nn == 0 || nn > nt)
		return false;
	for (size_t k = 0; k < nn; k++)
		if (fold(t[k]) != fold(name[k]))
			return false;
	if (nn == nt)
		return true;
	uint32_t next = t[nn];
	if (name_char(next))
		return false;
	if ((next == '-' || next == '.') && nn + 1 < nt && name_char(t[nn + 1]))
		return false;
	return true;
}

int sd_mention_find(const char *text, const char *const *names, size_t n,
		    const char *author, size_t *out)
{
	uint32_t *t = NULL, **cp = NULL;
	size_t nt = 0, *ncp = NULL, found = SIZE_MAX;
	int rc = SD_ENOMEM;
	if (!out)
		return SD_EINVAL;
	*out = SIZE_MAX;
	if (!text || !names || n == 0 || !strchr(text, '@'))
		return SD_OK;
	cp = calloc(n, sizeof(*cp));
	ncp = calloc(n, sizeof(*ncp));
	if (!cp || !ncp || sd__py_decode(text, strlen(text), &t, &nt))
		goto out;
	for (size_t i = 0; i < n; i++)
		if (names[i] &&
		    sd__py_decode(names[i], strlen(names[i]), &cp[i], &ncp[i]))
			goto out;
	rc = SD_OK;
	for (size_t at = 0; at < nt && found == SIZE_MAX; at++) {
		if (t[at] != '@')
			continue;
		/* "x@y" is an e-mail address, not a mention */
		if (at > 0 && name_char(t[at - 1]))
			continue;
		size_t best = SIZE_MAX, best_len = 0;
		for (size_t i = 0; i < n; i++) {
			if (ncp[i] > best_len &&
			    matches_at(t + at + 1, nt - at - 1, cp[i], ncp[i])) {
				best = i;
				best_len = ncp[i];
			}
		}
		if (best == SIZE_MAX)
			continue;
		/* the longest name is the one addressed; it may be the
		   author's own (then this mention counts for nobody) */
		if (author && strcmp(names[best], author) == 0)
			continue;
		found = best;
	}
	*out = found;
out:
	if (cp)
		for (size_t i = 0; i < n; i++)
			free(cp[i]);
	free(cp);
	free(ncp);
	free(t);
	return rc;
}

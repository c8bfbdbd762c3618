/*
 * The history window measured in tokens (history_ctx_tokens): as many of
 * the newest history entries as fit in N tokens of the model's own
 * tokenizer. Each entry is counted alone, as the tokenizer reads it, and
 * once (the counts are cached); separators and the prompt around the
 * entries are not counted. The newest entry is always shown: when it
 * alone is too long, its comment is cut and marked so it fits.
 */
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "util/buf.h"
#include "util/utf8.h"

#define CUT_MARKER " [...]"

/* Count through the cache (-1: not counted yet). */
static int count_entry(const sd_history_counter *hc, const char *entry, int32_t *cache,
		       int32_t *out)
{
	if (*cache < 0) {
		int r = hc->fn(entry, hc->ud);
		if (r < 0)
			return r;
		*cache = r;
	}
	*out = *cache;
	return SD_OK;
}

/* Whether text fits: its token count is at most max. */
static int fits(const sd_history_counter *hc, const char *text, int32_t max, bool *ok)
{
	int r = hc->fn(text, hc->ud);
	if (r < 0)
		return r;
	*ok = r <= max;
	return SD_OK;
}

/* Back up to the start of a UTF-8 sequence, so a cut never splits one. */
static size_t cp_floor(const char *s, size_t k)
{
	while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80)
		k--;
	return k;
}

/*
 * The longest prefix s[0..k) (cut at a code point) for which make(k)
 * fits, by bisection; every answer was measured to fit. *best is
 * SIZE_MAX when not even k = 0 fits.
 */
typedef int (*make_fn)(void *ctx, size_t k, char **out);

static int longest_fitting(const sd_history_counter *hc, const char *s, size_t len,
			   int32_t max, make_fn make, void *ctx, size_t *best,
			   char **best_text)
{
	size_t lo = 0, hi = len; /* answer in [lo, hi] once lo fits */
	char *t = NULL;
	bool ok = false;
	int rc;
	*best = SIZE_MAX;
	*best_text = NULL;
	if ((rc = make(ctx, 0, &t)))
		return rc;
	if ((rc = fits(hc, t, max, &ok)) || !ok) {
		free(t);
		return rc;
	}
	*best = 0;
	*best_text = t;
	while (lo < hi) {
		/* a code point boundary in (lo, hi] */
		size_t mid = cp_floor(s, lo + (hi - lo + 1) / 2);
		if (mid <= lo) {
			mid = lo + 1;
			while (mid < len && ((unsigned char)s[mid] & 0xC0) == 0x80)
				mid++;
			if (mid > hi)
				break;
		}
		if ((rc = make(ctx, mid, &t)))
			goto fail;
		if ((rc = fits(hc, t, max, &ok))) {
			free(t);
			goto fail;
		}
		if (ok) {
			free(*best_text);
			*best_text = t;
			*best = mid;
			lo = mid;
		} else {
			free(t);
			hi = mid - 1;
		}
	}
	return SD_OK;
fail:
	free(*best_text);
	*best_text = NULL;
	*best = SIZE_MAX;
	return rc;
}

typedef struct cut_ctx {
	const sd_actor *fmt;
	const char *name, *text, *entry;
	bool marker;
} cut_ctx;

static char *with_marker(const char *s, size_t k, bool marker)
{
	sd__buf b;
	sd__buf_init(&b, 0);
	if (sd__buf_append(&b, s, k) || (marker && sd__buf_puts(&b, CUT_MARKER)) ||
	    sd__buf_append(&b, "", 0)) {
		sd__buf_free(&b);
		return NULL;
	}
	return sd__buf_steal(&b);
}

/* The entry for the comment text cut to k bytes, marked. */
static int make_text_cut(void *vctx, size_t k, char **out)
{
	cut_ctx *c = vctx;
	char *t = with_marker(c->text, k, true);
	if (!t)
		return SD_ENOMEM;
	int rc = sd__actor_format_entry(c->fmt, c->name, t, out);
	free(t);
	return rc;
}

/* The formatted entry itself cut to k bytes (marked or not). */
static int make_entry_cut(void *vctx, size_t k, char **out)
{
	cut_ctx *c = vctx;
	*out = with_marker(c->entry, k, c->marker);
	return *out ? SD_OK : SD_ENOMEM;
}

/*
 * The newest entry cut to fit max tokens: the comment's text cut and
 * marked, re-formatted as an entry; if even an empty text's entry is too
 * long (a tiny N), the formatted entry cut and marked; then cut unmarked
 * (possibly empty, which always fits).
 */
static int cut_newest(const sd_history_counter *hc, const sd_actor *fmt, const char *name,
		      const char *text, const char *entry, int32_t max, char **out)
{
	cut_ctx c = {fmt, name, text, entry, true};
	size_t best;
	int rc = SD_OK;
	*out = NULL;
	/* a blank comment's entry is "" and fits; so only text cuts here */
	if (name && text)
		rc = longest_fitting(hc, text, strlen(text), max, make_text_cut, &c,
				     &best, out);
	else
		best = SIZE_MAX;
	if (rc || best != SIZE_MAX)
		return rc;
	rc = longest_fitting(hc, entry, strlen(entry), max, make_entry_cut, &c, &best,
			     out);
	if (rc || best != SIZE_MAX)
		return rc;
	c.marker = false;
	rc = longest_fitting(hc, entry, strlen(entry), max, make_entry_cut, &c, &best,
			     out);
	if (rc || best != SIZE_MAX)
		return rc;
	*out = strdup("");
	return *out ? SD_OK : SD_ENOMEM;
}

int sd__sd_history_window(const char *const *entries, int32_t *entry_tokens, size_t n,
			  int32_t max_comments, int32_t max_tokens,
			  const sd_history_counter *hc, const sd_actor *fmt,
			  const char *newest_name, const char *newest_text, size_t *first,
			  char **newest_cut)
{
	size_t w = max_comments < 0 ? 0 : (size_t)max_comments;
	size_t lo = n > w ? n - w : 0;
	int rc;
	*newest_cut = NULL;
	*first = lo;
	if (max_tokens <= 0 || lo == n)
		return SD_OK;
	if (!hc || !hc->fn)
		return SD_ESTATE;
	int64_t total = 0;
	size_t i = n;
	while (i > lo) {
		int32_t t;
		if ((rc = count_entry(hc, entries[i - 1], &entry_tokens[i - 1], &t)))
			return rc;
		if (total + t > max_tokens)
			break;
		total += t;
		i--;
	}
	if (i < n) {
		*first = i;
		return SD_OK;
	}
	*first = n - 1;
	return cut_newest(hc, fmt, newest_name, newest_text, entries[n - 1], max_tokens,
			  newest_cut);
}

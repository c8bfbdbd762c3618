/*
 * Chat templates and tokenising for the embedded llama.cpp backend: a
 * prompt pair rendered with llama.cpp's template machinery, and the
 * rendered text turned into tokens (both size-probe APIs, called, checked
 * and retried with the size they ask for).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/llama_internal.h"

/* Is name one of llama.cpp's built-in template names? */
static bool is_builtin_template(const char *name)
{
	int32_t n = llama_chat_builtin_templates(NULL, 0);
	if (n <= 0)
		return false;
	const char **names = calloc((size_t)n, sizeof(*names));
	if (!names)
		return false;
	int32_t got = llama_chat_builtin_templates(names, (size_t)n);
	bool found = false;
	for (int32_t i = 0; i < got && i < n; i++) {
		if (strcmp(names[i], name) == 0) {
			found = true;
			break;
		}
	}
	free(names);
	return found;
}

/*
 * A template for messages: its name when built in, else the start of its
 * text in quotes (a whole template would drown the message).
 */
void sd__llama_describe_template(const char *tmpl, char *buf, size_t size)
{
	if (is_builtin_template(tmpl)) {
		snprintf(buf, size, "%s", tmpl);
		return;
	}
	size_t n = strlen(tmpl);
	size_t cut = n > 40 ? 40 : n;
	/* do not cut a UTF-8 sequence in two */
	while (cut < n && cut > 0 && ((unsigned char)tmpl[cut] & 0xC0) == 0x80)
		cut--;
	snprintf(buf, size, "\"%.*s%s\"", (int)cut, tmpl, cut < n ? "..." : "");
}

/*
 * Render (system, user) with template tmpl into a new string (*out,
 * caller frees). Returns SD_OK, SD_ENOMEM, or SD_EBACKEND when llama.cpp
 * does not know the template.
 */
int sd__llama_render_chat(const char *tmpl, const char *system_prompt,
			  const char *user_prompt, char **out)
{
	struct llama_chat_message msgs[2] = {
	    {.role = "system", .content = system_prompt},
	    {.role = "user", .content = user_prompt},
	};
	size_t guess = 2 * (strlen(system_prompt) + strlen(user_prompt)) + 256;
	if (guess > INT32_MAX - 1)
		return SD_EINVAL;
	int32_t cap = (int32_t)guess;
	char *buf = NULL;
	int rc = SD_OK;
	*out = NULL;
	for (int tries = 0; tries < 2; tries++) {
		free(buf);
		/* +1: llama.cpp copies with strncpy and may not terminate */
		buf = malloc((size_t)cap + 1);
		if (!buf) {
			rc = SD_ENOMEM;
			goto out;
		}
		int32_t n = llama_chat_apply_template(tmpl, msgs, 2, true, buf, cap);
		if (n < 0) {
			rc = SD_EBACKEND;
			goto out;
		}
		if (n <= cap) {
			buf[n] = '\0';
			*out = buf;
			buf = NULL;
			goto out;
		}
		/* the buffer was too small: retry with the size it asked for */
		cap = n;
	}
	rc = SD_EBACKEND; /* asked for more twice: give up */
out:
	free(buf);
	return rc;
}

/*
 * Tokenize text into *toks (*cap entries, grown as needed); *n gets the
 * count. Returns SD_OK, SD_EINVAL, SD_ENOMEM or SD_EBACKEND.
 */
int sd__llama_tokenize(const lbackend *s, const char *text, llama_token **toks,
		       size_t *cap, int32_t *n)
{
	size_t len = strlen(text);
	if (len > INT32_MAX - 8)
		return SD_EINVAL;
	/* one token per byte plus BOS/EOS is an upper bound for BPE */
	size_t want = len + 8;
	for (int tries = 0; tries < 2; tries++) {
		if (want > *cap) {
			llama_token *t = malloc(want * sizeof(*t));
			if (!t)
				return SD_ENOMEM;
			free(*toks);
			*toks = t;
			*cap = want;
		}
		int32_t r = llama_tokenize(s->vocab, text, (int32_t)len, *toks,
					   (int32_t)*cap, true, true);
		if (r >= 0) {
			*n = r;
			return SD_OK;
		}
		if (r == INT32_MIN)
			return SD_EBACKEND;
		want = (size_t)(-(int64_t)r); /* the size it asked for */
	}
	return SD_EBACKEND;
}

/*
 * Scripted backend: canned replies with no model, for unit tests and
 * --dry-run. It honours the same submit/step/collect contract as the real
 * engines, finishing up to max_active requests per step in FIFO order.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/hash.h"

typedef struct item {
	uint64_t tag;
	char *user_prompt;
	size_t prompt_len;
	struct item *next;
} item;

typedef struct scripted {
	sd_scripted_mode mode;
	char **replies;
	size_t n_replies;
	int max_active;
	uint64_t served;
	item *pending_head, *pending_tail;
	/* finished replies, FIFO (ring grows as needed) */
	sd_reply *done;
	size_t done_cap, done_head, done_len;
} scripted;

sd_scripted_params sd_scripted_default_params(void)
{
	sd_scripted_params p = {
	    .mode = SD_SCRIPTED_ECHO,
	    .replies = NULL,
	    .n_replies = 0,
	    .model_name = "scripted",
	    .max_active = 64,
	};
	return p;
}

static int s_submit(sd_backend *b, const sd_request *req)
{
	scripted *s = b->impl;
	item *it = calloc(1, sizeof(*it));
	if (!it)
		return SD_ENOMEM;
	it->tag = req->tag;
	it->prompt_len = strlen(req->user_prompt);
	it->user_prompt = strdup(req->user_prompt);
	if (!it->user_prompt) {
		free(it);
		return SD_ENOMEM;
	}
	if (s->pending_tail)
		s->pending_tail->next = it;
	else
		s->pending_head = it;
	s->pending_tail = it;
	return SD_OK;
}

static int push_done(scripted *s, sd_reply *r)
{
	if (s->done_len == s->done_cap) {
		size_t cap = s->done_cap ? s->done_cap * 2 : 16;
		sd_reply *n = calloc(cap, sizeof(*n));
		if (!n)
			return SD_ENOMEM;
		for (size_t i = 0; i < s->done_len; i++)
			n[i] = s->done[(s->done_head + i) % s->done_cap];
		free(s->done);
		s->done = n;
		s->done_cap = cap;
		s->done_head = 0;
	}
	s->done[(s->done_head + s->done_len) % s->done_cap] = *r;
	s->done_len++;
	return SD_OK;
}

/* bytes of the prompt an echo reply quotes at most */
#define ECHO_MAX 120

static char *make_text(scripted *s, const item *it)
{
	if (s->mode == SD_SCRIPTED_LIST)
		return strdup(s->n_replies ? s->replies[s->served % s->n_replies] : "");
	/*
	 * echo: a digest of the prompt and the last line of what it asks, so
	 * tests can see what it got and the reply depends on nothing but the
	 * request. SynDisco 2.x prompts are one line of JSON
	 * ({"role": "user", "content": "...\nYour comment:"}): there the
	 * escaped \n ends a line too and the closing "} is left out (read by
	 * hand: jansson's parser asserts on a failed allocation, which the
	 * allocation-failure test injects). Capped,
	 * since a reply that quoted the whole prompt would be quoted whole by
	 * the next one (a run's logs grew geometrically to megabytes).
	 */
	const char *p = it->user_prompt;
	bool json = p[0] == '{';
	const char *last = p;
	for (const char *q = p; *q; q++) {
		if (*q == '\n')
			last = q + 1;
		else if (json && q[0] == '\\' && q[1] == 'n')
			last = q + 2;
	}
	size_t n = strlen(last);
	if (json && n >= 2 && !strcmp(last + n - 2, "\"}"))
		n -= 2;
	if (n > ECHO_MAX) {
		n = ECHO_MAX;
		while (n && ((unsigned char)last[n] & 0xc0) == 0x80)
			n--; /* never cut a UTF-8 sequence */
	}
	sd__buf b;
	sd__buf_init(&b, 0);
	uint64_t h = sd__fnv1a64(p, it->prompt_len, SD_FNV1A64_INIT);
	int rc = sd__buf_printf(&b, "echo %08llx: %.*s", (unsigned long long)(h >> 32),
				(int)n, last);
	if (rc) {
		sd__buf_free(&b);
		return NULL;
	}
	return sd__buf_steal(&b);
}

static int s_step(sd_backend *b)
{
	scripted *s = b->impl;
	for (int k = 0; k < s->max_active && s->pending_head; k++) {
		item *it = s->pending_head;
		sd_reply r;
		memset(&r, 0, sizeof(r));
		r.tag = it->tag;
		r.text = make_text(s, it);
		if (!r.text)
			return SD_ENOMEM;
		r.status = SD_OK;
		/* rough token counts: a word is about a token */
		r.n_prompt_tokens = (int32_t)(it->prompt_len / 4);
		r.n_gen_tokens = (int32_t)(strlen(r.text) / 4);
		if (push_done(s, &r)) {
			free(r.text);
			return SD_ENOMEM;
		}
		s->served++;
		s->pending_head = it->next;
		if (!s->pending_head)
			s->pending_tail = NULL;
		free(it->user_prompt);
		free(it);
	}
	int n = 0;
	for (item *it = s->pending_head; it; it = it->next)
		n++;
	return n;
}

static int s_collect(sd_backend *b, sd_reply *out)
{
	scripted *s = b->impl;
	if (s->done_len == 0)
		return 0;
	*out = s->done[s->done_head];
	s->done_head = (s->done_head + 1) % s->done_cap;
	s->done_len--;
	return 1;
}

static int s_cancel(sd_backend *b, uint64_t tag)
{
	scripted *s = b->impl;
	item *prev = NULL;
	for (item *it = s->pending_head; it; prev = it, it = it->next) {
		if (it->tag != tag)
			continue;
		if (prev)
			prev->next = it->next;
		else
			s->pending_head = it->next;
		if (s->pending_tail == it)
			s->pending_tail = prev;
		free(it->user_prompt);
		free(it);
		return SD_OK;
	}
	return SD_ENOTFOUND;
}

static void s_destroy(sd_backend *b)
{
	scripted *s = b->impl;
	if (!s)
		return;
	while (s->pending_head) {
		item *it = s->pending_head;
		s->pending_head = it->next;
		free(it->user_prompt);
		free(it);
	}
	while (s->done_len) {
		sd_reply_clear(&s->done[s->done_head]);
		s->done_head = (s->done_head + 1) % s->done_cap;
		s->done_len--;
	}
	free(s->done);
	for (size_t i = 0; i < s->n_replies; i++)
		free(s->replies[i]);
	free(s->replies);
	free(s);
}

/* A deterministic stand-in for a tokenizer: one token per 4 bytes,
 * rounded up (it grows with every byte, as cuts by bisection need). */
static int s_count_tokens(sd_backend *b, const char *text)
{
	(void)b;
	size_t n = (strlen(text) + 3) / 4;
	return n > INT32_MAX ? INT32_MAX : (int)n;
}

static const struct sd__backend_ops scripted_ops = {
    .kind = "scripted",
    .submit = s_submit,
    .step = s_step,
    .collect = s_collect,
    .cancel = s_cancel,
    .format_chat = NULL,
    .destroy = s_destroy,
    .count_tokens = s_count_tokens,
};

sd_backend *sd_backend_scripted_create(const sd_scripted_params *p, sd_error *err)
{
	sd_scripted_params def = sd_scripted_default_params();
	if (!p)
		p = &def;
	if (p->mode == SD_SCRIPTED_LIST && p->n_replies == 0) {
		sd__error_set(err, SD_EINVAL, NULL, "replies",
			      "the list mode needs at least one reply");
		return NULL;
	}
	scripted *s = calloc(1, sizeof(*s));
	sd_backend *b = NULL;
	if (!s)
		goto oom;
	s->mode = p->mode;
	s->max_active = p->max_active > 0 ? p->max_active : 64;
	if (p->n_replies) {
		s->replies = calloc(p->n_replies, sizeof(char *));
		if (!s->replies)
			goto oom;
		for (size_t i = 0; i < p->n_replies; i++) {
			s->replies[i] = strdup(p->replies[i] ? p->replies[i] : "");
			if (!s->replies[i])
				goto oom;
			s->n_replies = i + 1;
		}
	}
	b = sd__backend_new(&scripted_ops, p->model_name ? p->model_name : "scripted", s);
	if (!b)
		goto oom;
	return b;
oom:
	if (s) {
		sd_backend tmp = {.impl = s};
		s_destroy(&tmp);
	}
	sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
	return NULL;
}

/*
 * Embedded llama.cpp backend: one model, one context, up to n_seq_max
 * requests decoded together.
 *
 * Each active request owns one sequence id of the shared context. A new
 * request is prefilled on its own (chunked by n_batch) and its first token
 * sampled from the prefill's logits; after that every active sequence
 * advances by one token per step in a single llama_decode call, so the
 * weights are read once for all of them. A finished sequence gives its KV
 * cells back at once so the next pending request can use the slot.
 *
 * Also home of sd_global_init()/sd_global_free(), the library's only
 * process-wide state (llama.cpp's backend and its log sink).
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "llama.h"

#include "backend/backend.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/utf8.h"

/* ------------------------------------------------------------------ */
/* Process-wide set-up                                                */
/* ------------------------------------------------------------------ */

/*
 * The one global of the library: llama.cpp's backend is process-wide and
 * so is its log callback. Not thread-safe: call sd_global_init() once from
 * the main thread before creating backends.
 */
static struct {
	bool initialized;
	bool quiet;
	/* level of the last line that was not a continuation, so that
	 * GGML_LOG_LEVEL_CONT pieces follow the fate of their line */
	enum ggml_log_level last_level;
} g_global;

static void log_sink(enum ggml_log_level level, const char *text, void *ud)
{
	(void)ud;
	if (level == GGML_LOG_LEVEL_CONT)
		level = g_global.last_level;
	else
		g_global.last_level = level;
	if (g_global.quiet && level < GGML_LOG_LEVEL_ERROR)
		return;
	/*
	 * The only place the library writes to stderr: these are llama.cpp's
	 * own log lines, which the caller asked for (or errors).
	 */
	fputs(text, stderr);
}

void sd_global_init(bool quiet)
{
	g_global.quiet = quiet;
	/* set the sink first so that llama_backend_init's lines obey quiet */
	llama_log_set(log_sink, NULL);
	if (g_global.initialized)
		return;
	llama_backend_init();
	g_global.initialized = true;
}

void sd_global_free(void)
{
	if (!g_global.initialized)
		return;
	llama_backend_free();
	g_global.initialized = false;
}

/* ------------------------------------------------------------------ */
/* State                                                              */
/* ------------------------------------------------------------------ */

/* A submitted request waiting for a free sequence. */
typedef struct job {
	uint64_t tag;
	char *system_prompt;
	char *user_prompt;
	sd_sampling sampling;
	struct job *next;
} job;

/* One sequence of the shared context. */
typedef struct slot {
	bool active;
	uint64_t tag;
	llama_seq_id seq;
	struct llama_sampler *smpl;
	llama_token next;     /* sampled but not yet decoded */
	int32_t n_past;       /* tokens of this sequence in the KV cache */
	int32_t n_prompt;
	int32_t n_gen;
	int32_t max_tokens;
	sd_buf text;          /* raw bytes; repaired to UTF-8 at the end */
	int64_t t_start_us;
} slot;

typedef struct lbackend {
	struct llama_model *model;
	struct llama_context *ctx;
	const struct llama_vocab *vocab;
	struct llama_batch batch;
	int32_t n_batch;
	int32_t n_seq;
	int32_t seq_budget;   /* context cells available to one sequence */
	char *tmpl;           /* name or template text for llama.cpp */
	char **stop;
	size_t n_stop;
	size_t max_stop_len;
	slot *slots;
	int32_t *owner;       /* batch row -> slot index, for the shared step */
	job *pending_head, *pending_tail;
	/* finished replies, FIFO (ring grows as needed) */
	sd_reply *done;
	size_t done_cap, done_head, done_len;
	/* scratch for token pieces and tokens, reused across calls */
	char *piece;
	size_t piece_cap;
	llama_token *toks;
	size_t toks_cap;
} lbackend;

sd_llama_params sd_llama_default_params(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	sd_llama_params p = {
		.model_path = NULL,
		.model_name = NULL,
		.n_ctx = 4096,
		.n_seq_max = 1,
		.n_batch = 512,
		.n_threads = n > 0 ? (int32_t)n : 1,
		.n_gpu_layers = 0,
		.chat_template = NULL,
		.fallback_chat_template = "llama3",
		.stop = NULL,
		.n_stop = 0,
	};
	return p;
}

/* ------------------------------------------------------------------ */
/* Helpers                                                            */
/* ------------------------------------------------------------------ */

static void job_free(job *j)
{
	if (!j)
		return;
	free(j->system_prompt);
	free(j->user_prompt);
	free(j);
}

static int push_done(lbackend *s, sd_reply *r)
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

/* Queue a failed reply; takes nothing, copies msg. */
static int push_error(lbackend *s, uint64_t tag, int status, const char *msg,
		      int32_t n_prompt, double seconds)
{
	sd_reply r;
	memset(&r, 0, sizeof(r));
	r.tag = tag;
	r.status = status;
	r.error = strdup(msg);
	r.n_prompt_tokens = n_prompt;
	r.seconds = seconds;
	if (!r.error)
		return SD_ENOMEM;
	int rc = push_done(s, &r);
	if (rc)
		free(r.error);
	return rc;
}

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
static void describe_template(const char *tmpl, char *buf, size_t size)
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
static int render_chat(const char *tmpl, const char *system_prompt,
		       const char *user_prompt, char **out)
{
	struct llama_chat_message msgs[2] = {
		{ .role = "system", .content = system_prompt },
		{ .role = "user", .content = user_prompt },
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
		int32_t n = llama_chat_apply_template(tmpl, msgs, 2, true,
						      buf, cap);
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
 * Tokenize text into s->toks (grown as needed); *n gets the count.
 * Returns SD_OK, SD_ENOMEM or SD_EBACKEND.
 */
static int tokenize(lbackend *s, const char *text, int32_t *n)
{
	size_t len = strlen(text);
	if (len > INT32_MAX - 8)
		return SD_EINVAL;
	/* one token per byte plus BOS/EOS is an upper bound for BPE */
	size_t want = len + 8;
	for (int tries = 0; tries < 2; tries++) {
		if (want > s->toks_cap) {
			llama_token *t = malloc(want * sizeof(*t));
			if (!t)
				return SD_ENOMEM;
			free(s->toks);
			s->toks = t;
			s->toks_cap = want;
		}
		int32_t r = llama_tokenize(s->vocab, text, (int32_t)len, s->toks,
					   (int32_t)s->toks_cap, true, true);
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

/* Append the text of token tok to sl->text. */
static int append_piece(lbackend *s, slot *sl, llama_token tok)
{
	if (s->piece_cap == 0) {
		s->piece = malloc(64);
		if (!s->piece)
			return SD_ENOMEM;
		s->piece_cap = 64;
	}
	for (int tries = 0; tries < 2; tries++) {
		int32_t n = llama_token_to_piece(s->vocab, tok, s->piece,
						 (int32_t)s->piece_cap, 0, false);
		if (n >= 0)
			return sd_buf_append(&sl->text, s->piece, (size_t)n);
		size_t want = (size_t)(-(int64_t)n);
		char *p = malloc(want);
		if (!p)
			return SD_ENOMEM;
		free(s->piece);
		s->piece = p;
		s->piece_cap = want;
	}
	return SD_EBACKEND;
}

static const char *find_bytes(const char *hay, size_t n, const char *needle,
			      size_t m)
{
	if (m == 0 || m > n)
		return NULL;
	for (size_t i = 0; i + m <= n; i++) {
		if (hay[i] == needle[0] && memcmp(hay + i, needle, m) == 0)
			return hay + i;
	}
	return NULL;
}

/*
 * After text grew from old_len, cut it at the earliest stop string that
 * now appears. Only the tail that can hold a new match is searched.
 */
static bool cut_at_stop(lbackend *s, sd_buf *text, size_t old_len)
{
	if (s->n_stop == 0)
		return false;
	size_t from = old_len >= s->max_stop_len ? old_len - (s->max_stop_len - 1) : 0;
	const char *best = NULL;
	for (size_t i = 0; i < s->n_stop; i++) {
		const char *hit = find_bytes(text->data + from, text->len - from,
					     s->stop[i], strlen(s->stop[i]));
		if (hit && (!best || hit < best))
			best = hit;
	}
	if (!best)
		return false;
	text->len = (size_t)(best - text->data);
	text->data[text->len] = '\0';
	return true;
}

static struct llama_sampler *make_sampler(const sd_sampling *sp, int32_t n_vocab)
{
	struct llama_sampler_chain_params cp = llama_sampler_chain_default_params();
	cp.no_perf = true;
	struct llama_sampler *c = llama_sampler_chain_init(cp);
	if (!c)
		return NULL;
	/* the chain takes ownership of every sampler added to it */
	if (sp->repeat_penalty != 1.0f && sp->repeat_penalty > 0.0f)
		llama_sampler_chain_add(c, llama_sampler_init_penalties(
			n_vocab, sp->repeat_last_n, sp->repeat_penalty, 0.0f, 0.0f));
	if (sp->temperature <= 0.0f) {
		llama_sampler_chain_add(c, llama_sampler_init_greedy());
		return c;
	}
	if (sp->top_k > 0)
		llama_sampler_chain_add(c, llama_sampler_init_top_k(sp->top_k));
	if (sp->top_p > 0.0f && sp->top_p < 1.0f)
		llama_sampler_chain_add(c, llama_sampler_init_top_p(sp->top_p, 1));
	if (sp->min_p > 0.0f)
		llama_sampler_chain_add(c, llama_sampler_init_min_p(sp->min_p, 1));
	llama_sampler_chain_add(c, llama_sampler_init_temp(sp->temperature));
	llama_sampler_chain_add(c, llama_sampler_init_dist(sp->seed));
	return c;
}

/* Give the slot's sequence and sampler back; the slot becomes free. */
static void slot_release(lbackend *s, slot *sl)
{
	/* clear the cells now so the next request starts from an empty seq */
	llama_memory_seq_rm(llama_get_memory(s->ctx), sl->seq, -1, -1);
	if (sl->smpl)
		llama_sampler_free(sl->smpl);
	sl->smpl = NULL;
	sd_buf_free(&sl->text);
	sd_buf_init(&sl->text, 0);
	sl->active = false;
}

static double elapsed(const slot *sl)
{
	return (double)(llama_time_us() - sl->t_start_us) / 1e6;
}

/* Finish the slot with its text as an SD_OK reply. */
static int slot_finish(lbackend *s, slot *sl)
{
	sd_reply r;
	memset(&r, 0, sizeof(r));
	r.tag = sl->tag;
	r.status = SD_OK;
	r.n_prompt_tokens = sl->n_prompt;
	r.n_gen_tokens = sl->n_gen;
	r.seconds = elapsed(sl);
	/* pieces can split a multi-byte character; repair once, at the end */
	r.text = sd_utf8_repair(sl->text.data ? sl->text.data : "", sl->text.len);
	slot_release(s, sl);
	if (!r.text)
		return SD_ENOMEM;
	int rc = push_done(s, &r);
	if (rc)
		free(r.text);
	return rc;
}

/* Finish the slot with an error reply. */
static int slot_fail(lbackend *s, slot *sl, int status, const char *msg)
{
	int rc = push_error(s, sl->tag, status, msg, sl->n_prompt, elapsed(sl));
	slot_release(s, sl);
	return rc;
}

/*
 * Sample the slot's next token from output row idx of the last decode
 * and decide whether the sequence is done. Returns SD_OK or SD_ENOMEM.
 */
static int slot_sample(lbackend *s, slot *sl, int32_t idx)
{
	llama_token tok = llama_sampler_sample(sl->smpl, s->ctx, idx);
	if (llama_vocab_is_eog(s->vocab, tok))
		return slot_finish(s, sl);
	size_t old_len = sl->text.len;
	int rc = append_piece(s, sl, tok);
	if (rc) {
		slot_fail(s, sl, rc, "out of memory");
		return rc;
	}
	sl->n_gen++;
	sl->next = tok;
	if (cut_at_stop(s, &sl->text, old_len) || sl->n_gen >= sl->max_tokens ||
	    sl->n_past + 1 > s->seq_budget)
		return slot_finish(s, sl);
	return SD_OK;
}

/*
 * Start job j in free slot sl: render, tokenize, prefill and sample the
 * first token. Failures of this request become error replies; the return
 * value is only for allocation failures of the backend itself.
 */
static int slot_start(sd_backend *b, lbackend *s, slot *sl, job *j)
{
	char *prompt = NULL;
	char msg[160];
	int rc = SD_OK;

	sd_buf_init(&sl->text, 0);
	sl->tag = j->tag;
	sl->n_past = 0;
	sl->n_prompt = 0;
	sl->n_gen = 0;
	sl->max_tokens = j->sampling.max_tokens > 0 ? j->sampling.max_tokens : 1;
	sl->t_start_us = llama_time_us();
	sl->smpl = NULL;
	sl->active = true;

	rc = render_chat(s->tmpl, j->system_prompt, j->user_prompt, &prompt);
	if (rc == SD_ENOMEM)
		goto fail;
	if (rc) {
		char what[64];
		describe_template(s->tmpl, what, sizeof(what));
		snprintf(msg, sizeof(msg), "chat template %s is not supported",
			 what);
		rc = slot_fail(s, sl, SD_EBACKEND, msg);
		goto out;
	}
	int32_t n_tok = 0;
	rc = tokenize(s, prompt, &n_tok);
	if (rc == SD_ENOMEM)
		goto fail;
	if (rc || n_tok == 0) {
		rc = slot_fail(s, sl, SD_EBACKEND, "tokenization failed");
		goto out;
	}
	sl->n_prompt = n_tok;
	if ((int64_t)n_tok + sl->max_tokens > s->seq_budget) {
		snprintf(msg, sizeof(msg),
			 "prompt of %d tokens does not fit the context of %d per sequence (max_tokens %d)",
			 (int)n_tok, (int)s->seq_budget, (int)sl->max_tokens);
		rc = slot_fail(s, sl, SD_EBACKEND, msg);
		goto out;
	}
	sl->smpl = make_sampler(&j->sampling,
				llama_vocab_n_tokens(s->vocab));
	if (!sl->smpl)
		goto fail;

	/* prefill in chunks of n_batch; only the last token needs logits */
	int32_t last_n = 0;
	for (int32_t at = 0; at < n_tok; at += s->n_batch) {
		int32_t n = n_tok - at < s->n_batch ? n_tok - at : s->n_batch;
		struct llama_batch *bt = &s->batch;
		for (int32_t i = 0; i < n; i++) {
			bt->token[i] = s->toks[at + i];
			bt->pos[i] = at + i;
			bt->n_seq_id[i] = 1;
			bt->seq_id[i][0] = sl->seq;
			bt->logits[i] = (at + i == n_tok - 1);
		}
		bt->n_tokens = n;
		int32_t d = llama_decode(s->ctx, *bt);
		if (d != 0) {
			snprintf(msg, sizeof(msg),
				 "llama_decode failed during prefill (code %d)",
				 (int)d);
			sd_backend_set_error(b, "%s", msg);
			rc = slot_fail(s, sl, SD_EBACKEND, msg);
			goto out;
		}
		last_n = n;
	}
	sl->n_past = n_tok;
	/* the first token comes from the prefill's last logits */
	rc = slot_sample(s, sl, last_n - 1);
	goto out;
fail:
	rc = SD_ENOMEM;
	slot_fail(s, sl, SD_ENOMEM, "out of memory");
out:
	free(prompt);
	return rc;
}

static int count_work(const lbackend *s)
{
	int n = 0;
	for (const job *j = s->pending_head; j; j = j->next)
		n++;
	for (int32_t i = 0; i < s->n_seq; i++)
		n += s->slots[i].active;
	return n;
}

/* ------------------------------------------------------------------ */
/* Backend operations                                                 */
/* ------------------------------------------------------------------ */

static int l_submit(sd_backend *b, const sd_request *req)
{
	lbackend *s = b->impl;
	job *j = calloc(1, sizeof(*j));
	if (!j)
		return SD_ENOMEM;
	j->tag = req->tag;
	j->sampling = req->sampling;
	j->system_prompt = strdup(req->system_prompt);
	j->user_prompt = strdup(req->user_prompt);
	if (!j->system_prompt || !j->user_prompt) {
		job_free(j);
		return SD_ENOMEM;
	}
	if (s->pending_tail)
		s->pending_tail->next = j;
	else
		s->pending_head = j;
	s->pending_tail = j;
	return SD_OK;
}

static int l_step(sd_backend *b)
{
	lbackend *s = b->impl;
	int rc;

	/* (a) admit pending requests into free sequences, in FIFO order */
	for (int32_t i = 0; i < s->n_seq && s->pending_head; i++) {
		slot *sl = &s->slots[i];
		if (sl->active)
			continue;
		job *j = s->pending_head;
		s->pending_head = j->next;
		if (!s->pending_head)
			s->pending_tail = NULL;
		rc = slot_start(b, s, sl, j);
		job_free(j);
		if (rc)
			return rc;
	}

	/* (b) one token for every active sequence, in one decode */
	struct llama_batch *bt = &s->batch;
	int32_t *owner = s->owner;
	int32_t n = 0;
	for (int32_t i = 0; i < s->n_seq; i++) {
		slot *sl = &s->slots[i];
		if (!sl->active)
			continue;
		bt->token[n] = sl->next;
		bt->pos[n] = sl->n_past;
		bt->n_seq_id[n] = 1;
		bt->seq_id[n][0] = sl->seq;
		bt->logits[n] = 1;
		owner[n] = i;
		n++;
	}
	if (n == 0)
		return count_work(s);
	bt->n_tokens = n;
	int32_t d = llama_decode(s->ctx, *bt);
	if (d != 0) {
		/*
		 * The sequences' state is unknown now; fail them all so the
		 * caller gets a reply for each instead of waiting forever.
		 */
		sd_backend_set_error(b, "llama_decode failed (code %d)", (int)d);
		for (int32_t k = 0; k < n; k++)
			slot_fail(s, &s->slots[owner[k]], SD_EBACKEND,
				  b->last_error);
		return SD_EBACKEND;
	}
	for (int32_t k = 0; k < n; k++) {
		slot *sl = &s->slots[owner[k]];
		sl->n_past++;
		rc = slot_sample(s, sl, k);
		if (rc)
			return rc;
	}
	return count_work(s);
}

static int l_collect(sd_backend *b, sd_reply *out)
{
	lbackend *s = b->impl;
	if (s->done_len == 0)
		return 0;
	*out = s->done[s->done_head];
	s->done_head = (s->done_head + 1) % s->done_cap;
	s->done_len--;
	return 1;
}

static int l_cancel(sd_backend *b, uint64_t tag)
{
	lbackend *s = b->impl;
	job *prev = NULL;
	for (job *j = s->pending_head; j; prev = j, j = j->next) {
		if (j->tag != tag)
			continue;
		if (prev)
			prev->next = j->next;
		else
			s->pending_head = j->next;
		if (s->pending_tail == j)
			s->pending_tail = prev;
		job_free(j);
		return SD_OK;
	}
	for (int32_t i = 0; i < s->n_seq; i++) {
		slot *sl = &s->slots[i];
		if (sl->active && sl->tag == tag) {
			slot_release(s, sl);
			return SD_OK;
		}
	}
	return SD_ENOTFOUND;
}

static int l_format_chat(sd_backend *b, const char *system_prompt,
			 const char *user_prompt, char **out)
{
	lbackend *s = b->impl;
	int rc = render_chat(s->tmpl, system_prompt, user_prompt, out);
	if (rc == SD_EBACKEND) {
		char what[64];
		describe_template(s->tmpl, what, sizeof(what));
		sd_backend_set_error(b, "chat template %s is not supported",
				     what);
	}
	return rc;
}

static void lbackend_free(lbackend *s)
{
	if (!s)
		return;
	while (s->pending_head) {
		job *j = s->pending_head;
		s->pending_head = j->next;
		job_free(j);
	}
	if (s->slots) {
		for (int32_t i = 0; i < s->n_seq; i++) {
			if (s->slots[i].smpl)
				llama_sampler_free(s->slots[i].smpl);
			sd_buf_free(&s->slots[i].text);
		}
		free(s->slots);
	}
	free(s->owner);
	for (size_t i = 0; i < s->done_len; i++)
		sd_reply_clear(&s->done[(s->done_head + i) % s->done_cap]);
	free(s->done);
	if (s->batch.token)
		llama_batch_free(s->batch);
	if (s->ctx)
		llama_free(s->ctx);
	if (s->model)
		llama_model_free(s->model);
	for (size_t i = 0; i < s->n_stop; i++)
		free(s->stop[i]);
	free(s->stop);
	free(s->tmpl);
	free(s->piece);
	free(s->toks);
	free(s);
}

static void l_destroy(sd_backend *b)
{
	lbackend_free(b->impl);
	b->impl = NULL;
}

static const struct sd_backend_ops llama_ops = {
	.kind = "llama",
	.submit = l_submit,
	.step = l_step,
	.collect = l_collect,
	.cancel = l_cancel,
	.format_chat = l_format_chat,
	.destroy = l_destroy,
};

/* ------------------------------------------------------------------ */
/* Creation                                                           */
/* ------------------------------------------------------------------ */

/* Check that path exists and starts with the GGUF magic. */
static int check_gguf(const char *path, sd_error *err)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		if (errno == ENOENT)
			return sd_error_set(err, SD_ENOTFOUND, path, NULL,
					    "model file not found");
		return sd_error_set(err, SD_EIO, path, NULL, "cannot open: %s",
				    strerror(errno));
	}
	char magic[4];
	size_t got = fread(magic, 1, sizeof(magic), f);
	fclose(f);
	if (got != sizeof(magic) || memcmp(magic, "GGUF", 4) != 0)
		return sd_error_set(err, SD_EPARSE, path, NULL,
				    "is not a GGUF file");
	return SD_OK;
}

/* "dir/name.gguf" -> "name" (caller frees). */
static char *default_model_name(const char *path)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	size_t n = strlen(base);
	if (n > 5 && strcmp(base + n - 5, ".gguf") == 0)
		n -= 5;
	char *name = malloc(n + 1);
	if (!name)
		return NULL;
	memcpy(name, base, n);
	name[n] = '\0';
	return name;
}

/*
 * Pick the chat template: the override, else the model's own (when
 * llama.cpp's built-in renderer recognises it), else the fallback. A
 * template is tried once here so that an unsupported one fails creation
 * instead of every request.
 */
static int choose_template(lbackend *s, const sd_llama_params *p,
			   sd_error *err)
{
	const char *cands[3];
	bool must[3];
	int n = 0;
	if (p->chat_template && p->chat_template[0]) {
		cands[n] = p->chat_template;
		must[n++] = true;
	} else {
		const char *own = llama_model_chat_template(s->model, NULL);
		if (own) {
			cands[n] = own;
			must[n++] = false;
		}
		cands[n] = p->fallback_chat_template ? p->fallback_chat_template
						     : "llama3";
		must[n++] = true;
	}
	for (int i = 0; i < n; i++) {
		char *probe = NULL;
		int rc = render_chat(cands[i], "s", "u", &probe);
		free(probe);
		if (rc == SD_ENOMEM)
			return sd_error_set(err, rc, p->model_path, NULL,
					    "out of memory");
		if (rc == SD_OK) {
			s->tmpl = strdup(cands[i]);
			if (!s->tmpl)
				return sd_error_set(err, SD_ENOMEM, p->model_path,
						    NULL, "out of memory");
			return SD_OK;
		}
		if (must[i]) {
			char what[64];
			describe_template(cands[i], what, sizeof(what));
			return sd_error_set(err, SD_EBACKEND, p->model_path,
					    "chat_template",
					    "chat template %s is not supported",
					    what);
		}
	}
	return sd_error_set(err, SD_EBACKEND, p->model_path, "chat_template",
			    "no usable chat template");
}

sd_backend *sd_backend_llama_create(const sd_llama_params *p, sd_error *err)
{
	lbackend *s = NULL;
	sd_backend *b = NULL;
	char *name = NULL;
	int rc;

	if (!p || !p->model_path || !p->model_path[0]) {
		sd_error_set(err, SD_EINVAL, NULL, "model_path",
			     "a model path is required");
		goto out;
	}
	const char *bad = p->n_ctx <= 0 ? "n_ctx"
			  : p->n_seq_max <= 0 ? "n_seq_max"
			  : p->n_batch <= 0 ? "n_batch"
			  : p->n_threads <= 0 ? "n_threads" : NULL;
	if (bad) {
		sd_error_set(err, SD_EINVAL, NULL, bad, "must be positive");
		goto out;
	}
	if (p->n_seq_max > (int32_t)llama_max_parallel_sequences()) {
		sd_error_set(err, SD_EINVAL, NULL, "n_seq_max",
			     "at most %d sequences are supported",
			     (int)llama_max_parallel_sequences());
		goto out;
	}
	if (p->n_ctx / p->n_seq_max < 8) {
		sd_error_set(err, SD_EINVAL, NULL, "n_ctx",
			     "context of %d is too small for %d sequences",
			     (int)p->n_ctx, (int)p->n_seq_max);
		goto out;
	}
	for (size_t i = 0; i < p->n_stop; i++) {
		if (!p->stop || !p->stop[i] || !p->stop[i][0]) {
			sd_error_set(err, SD_EINVAL, NULL, "stop",
				     "stop strings must be non-empty");
			goto out;
		}
	}
	if (check_gguf(p->model_path, err))
		goto out;

	s = calloc(1, sizeof(*s));
	if (!s)
		goto nomem;
	s->n_seq = p->n_seq_max;
	/* a batch must hold a prefill chunk and one token per sequence */
	s->n_batch = p->n_batch > p->n_seq_max ? p->n_batch : p->n_seq_max;

	struct llama_model_params mp = llama_model_default_params();
	mp.n_gpu_layers = p->n_gpu_layers;
	s->model = llama_model_load_from_file(p->model_path, mp);
	if (!s->model) {
		sd_error_set(err, SD_EBACKEND, p->model_path, NULL,
			     "llama.cpp could not load the model");
		goto fail;
	}
	s->vocab = llama_model_get_vocab(s->model);

	struct llama_context_params cp = llama_context_default_params();
	cp.n_ctx = (uint32_t)p->n_ctx;
	cp.n_batch = (uint32_t)s->n_batch;
	cp.n_ubatch = (uint32_t)s->n_batch;
	cp.n_seq_max = (uint32_t)p->n_seq_max;
	cp.n_threads = p->n_threads;
	cp.n_threads_batch = p->n_threads;
	/* one pool of cells for all sequences; we budget per sequence */
	cp.kv_unified = true;
	cp.no_perf = true;
	s->ctx = llama_init_from_model(s->model, cp);
	if (!s->ctx) {
		sd_error_set(err, SD_EBACKEND, p->model_path, NULL,
			     "llama.cpp could not create a context (n_ctx %d)",
			     (int)p->n_ctx);
		goto fail;
	}
	/*
	 * llama.cpp pads n_ctx up (to 256 cells); budget from what the
	 * caller asked for so that limits do not depend on that padding.
	 */
	uint32_t n_ctx = llama_n_ctx(s->ctx);
	if (n_ctx > (uint32_t)p->n_ctx)
		n_ctx = (uint32_t)p->n_ctx;
	s->seq_budget = (int32_t)(n_ctx / (uint32_t)s->n_seq);

	/* every row belongs to exactly one sequence, hence 1 seq id per row */
	s->batch = llama_batch_init(s->n_batch, 0, 1);
	if (!s->batch.token)
		goto nomem;

	s->slots = calloc((size_t)s->n_seq, sizeof(*s->slots));
	s->owner = calloc((size_t)s->n_seq, sizeof(*s->owner));
	if (!s->slots || !s->owner)
		goto nomem;
	for (int32_t i = 0; i < s->n_seq; i++) {
		s->slots[i].seq = i;
		sd_buf_init(&s->slots[i].text, 0);
	}

	if (p->n_stop) {
		s->stop = calloc(p->n_stop, sizeof(*s->stop));
		if (!s->stop)
			goto nomem;
		for (size_t i = 0; i < p->n_stop; i++) {
			s->stop[i] = strdup(p->stop[i]);
			if (!s->stop[i])
				goto nomem;
			s->n_stop = i + 1;
			size_t l = strlen(p->stop[i]);
			if (l > s->max_stop_len)
				s->max_stop_len = l;
		}
	}

	rc = choose_template(s, p, err);
	if (rc)
		goto fail;

	if (p->model_name && p->model_name[0])
		name = strdup(p->model_name);
	else
		name = default_model_name(p->model_path);
	if (!name)
		goto nomem;
	b = sd_backend_new(&llama_ops, name, s);
	if (!b)
		goto nomem;
	s = NULL; /* owned by b now */
	goto out;
nomem:
	sd_error_set(err, SD_ENOMEM, p->model_path, NULL, "out of memory");
fail:
	lbackend_free(s);
out:
	free(name);
	return b;
}

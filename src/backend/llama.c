/*
 * Embedded llama.cpp backend: one model, one context, up to n_seq_max
 * requests decoded together (continuous batching).
 *
 * Each admitted request owns one sequence of the shared context, with a
 * KV stream of its own. A step admits pending requests into free slots
 * (requests wait only while none is free), decodes prompt chunks of
 * admitted sequences, oldest first, then advances every generating
 * sequence by one token in one llama_decode; chunks and generating rows
 * make at most n_batch tokens per step, so that a long prompt continues
 * over several steps. The last token of a prompt is decoded with the
 * generating rows, so a prompt completed in a step has its first token
 * sampled in the same step. A finished sequence drops its generated
 * tokens from the KV cache at once and its slot takes the next request
 * on the next step; its prompt stays in the cache until then, as a
 * prefix for that request (the stream is the slot's alone, so that takes
 * no room from anyone).
 *
 * Prefix reuse: a new prompt starts from the longest token prefix that
 * its slot or another sequence holds (the chat header and system prompt:
 * the same for every turn of a speaker and, up to the persona, for every
 * user of an experiment). From another sequence it is copied with
 * llama_memory_seq_cp, which between KV streams copies the whole stream
 * (about 2 ms for 1024 cells of a 1B model on a CPU, where 150 prompt
 * tokens take 1.4 s to decode); MIN_PREFIX_COPY keeps it for real gains.
 * A finished prompt is also kept in the prefix cache: n_cache more
 * streams after the slots', one entry per system prompt (the speaker's
 * latest prompt), least recently used evicted, so a speaker's persona is
 * decoded once while its entry lives, not once per turn, and the header
 * shared by all speakers once while any entry lives (cache_put).
 *
 * Determinism: a request's text depends only on its prompts and sampling
 * parameters, never on the requests that share the context, its slot,
 * how its prompt is cut into chunks or whether its prefix came from a
 * cache. With llama.cpp v0.5.0 on the CPU that takes four things, each
 * found by comparing logits bit for bit across batch compositions:
 *  - a KV stream per sequence (kv_unified = false): the sequence sits in
 *    cells 0..n-1 of its stream whatever the others do. In a shared pool
 *    its cells land where others left room, and the attention sums then
 *    group the same values differently;
 *  - no flash attention: its CPU kernel picks a reduction by thread
 *    count, KV length and the shape of the ubatch;
 *  - prompt chunks of two tokens or more, each decoded on its own, and
 *    prompts' last tokens decoded like generated ones. ggml computes a
 *    one-row product with its dot product kernel and a product of two
 *    rows or more with llamafile's sgemm, which round f32/f16 sums
 *    differently; in the attention every chunk is such a product. In
 *    one batch with the generating rows, llama_decode would cut a chunk
 *    (llama_batch_allocr::split_equal gives every sequence of a run of
 *    consecutive ids the same number of tokens per ubatch), and one of
 *    its tokens would ride with the generating rows, or not, depending
 *    on the neighbours. That split also means a chunk never shares a
 *    pass over the weights with the generating rows: one llama_decode
 *    per chunk costs nothing more;
 *  - a one-row product computed like a product of many: our patch to
 *    llama.cpp (scripts/llama-patches/sgemm-few-rows.patch, switched on
 *    by sd_global_init) lets llamafile's sgemm take one-row products
 *    too. Where that is not so (a llama.cpp without the patch, or a
 *    kernel that still changes with the row count), probe_lone_rows
 *    finds the difference at load and a sequence generating alone gets
 *    a partner row (plan_dummies), which costs a second row through
 *    every layer and the output at every step of a lone sequence.
 * Not covered: weights that the CPU backend repacks (q4_0, q4_K, iq4_nl
 * on AVX2), whose kernels change at four rows, and the GPU backends,
 * which pick kernels by batch size in their own ways.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend/llama_internal.h"
#include "util/cpu_isa.h"
#include "util/cpus.h"
#include "util/error.h"
#include "util/utf8.h"

/* ------------------------------------------------------------------ */
/* State                                                              */
/* ------------------------------------------------------------------ */

sd_llama_params sd_llama_default_params(void)
{
	sd_llama_params p = {
	    .model_path = NULL,
	    .model_name = NULL,
	    .n_ctx = 4096,
	    .n_seq_max = 1,
	    .n_batch = 512,
	    .n_threads = sd__default_threads(),
	    .n_gpu_layers = 0,
	    .chat_template = NULL,
	    .fallback_chat_template = "llama3",
	    .stop = NULL,
	    .n_stop = 0,
	    .n_prefix_cache = -1,
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
	free(j->grammar);
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
			return sd__buf_append(&sl->text, s->piece, (size_t)n);
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

static const char *find_bytes(const char *hay, size_t n, const char *needle, size_t m)
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
static bool cut_at_stop(lbackend *s, sd__buf *text, size_t old_len)
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

/*
 * How many leading prompt tokens of the slot sit in its KV cells, all
 * decoded as prompt chunks of two tokens or more: what a request with the
 * same prefix may take. Not the prompt's last token, which is decoded as
 * a generating row, and nothing of a 2-token prompt, whose first token
 * is a chunk of one (see the top of this file).
 */
static int32_t cached_prefix(const slot *sl)
{
	if (sl->n_prompt < 3)
		return 0;
	switch (sl->state) {
	case SLOT_PREFILL:
		return sl->n_past;
	case SLOT_GEN:
		return sl->n_prompt - 1;
	default:
		return sl->n_cached;
	}
}

/*
 * Give the slot's sampler back and make it free. Its generated tokens
 * leave the KV cache now; with keep, the prompt tokens stay there as a
 * prefix cache for later requests (the stream is this slot's alone, so
 * they take no room from anyone), else the cells are all cleared.
 */
static void slot_release(lbackend *s, slot *sl, bool keep)
{
	int32_t n = keep ? cached_prefix(sl) : 0;
	llama_memory_seq_rm(llama_get_memory(s->ctx), sl->seq, n, -1);
	if (sl->smpl)
		llama_sampler_free(sl->smpl);
	sl->smpl = NULL;
	sd__buf_free(&sl->text);
	sd__buf_init(&sl->text, 0);
	sl->state = SLOT_FREE;
	sl->n_cached = n;
}

static void cache_put(lbackend *s, const slot *sl);

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
	r.n_prompt_cached = sl->n_reused;
	r.seconds = elapsed(sl);
	/* pieces can split a multi-byte character; repair once, at the end */
	r.text = sd__utf8_repair(sl->text.data ? sl->text.data : "", sl->text.len);
	cache_put(s, sl);
	slot_release(s, sl, true);
	if (!r.text)
		return SD_ENOMEM;
	int rc = push_done(s, &r);
	if (rc)
		free(r.text);
	return rc;
}

/* Finish the slot with an error reply; its KV cells are cleared. */
static int slot_fail(lbackend *s, slot *sl, int status, const char *msg)
{
	int rc = push_error(s, sl->tag, status, msg, sl->n_prompt, elapsed(sl));
	slot_release(s, sl, false);
	return rc;
}

/*
 * Sample the slot's next token from logits row idx of the last decode
 * (on the fast path, top_k_pass has run on it) and decide whether the
 * sequence is done. A grammar that allows nothing but the end next ends
 * it now, a decode step early. Returns SD_OK or SD_ENOMEM.
 */
static int slot_sample(lbackend *s, slot *sl, int32_t idx)
{
	llama_token tok = -1;
	if (sl->fast_k > 0)
		tok = sd__llama_sample_fast(sl);
	else if (sl->gram)
		tok = sd__llama_sample_allowed(s, sl, idx);
	if (tok < 0)
		tok = llama_sampler_sample(sl->smpl, s->ctx, idx);
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
	    sl->n_past + 1 > s->seq_budget || sd__llama_grammar_done(s, sl))
		return slot_finish(s, sl);
	return SD_OK;
}

static int32_t common_prefix(const llama_token *a, int32_t na, const llama_token *b,
			     int32_t nb)
{
	int32_t n = na < nb ? na : nb, i = 0;
	while (i < n && a[i] == b[i])
		i++;
	return i;
}

/*
 * A usable prefix length for a prompt of n tokens: all but the last
 * token, or a prefix that leaves a chunk of two tokens or more.
 */
static int32_t fit_prefix(int32_t l, int32_t n)
{
	if (l >= n - 1)
		return n - 1;
	return l == n - 2 ? n - 3 : l;
}

/*
 * How much of the new prompt (s->toks, n tokens) for slot sl is already
 * in a KV cache: the longest prefix that sl itself holds or, when longer
 * by MIN_PREFIX_COPY tokens, that another sequence or an entry of the
 * prefix cache holds (*src gets its sequence, else -1; *hit the entry,
 * else NULL). The prefix cells are bit for bit what decoding the prompt
 * would give (see the top of this file).
 */
static int32_t find_prefix(const lbackend *s, const slot *sl, int32_t n,
			   llama_seq_id *src, centry **hit)
{
	*src = -1;
	*hit = NULL;
	if (n < 3)
		return 0;
	int32_t own = common_prefix(sl->prompt, cached_prefix(sl), s->toks, n);
	int32_t other = 0;
	for (int32_t i = 0; i < s->n_seq; i++) {
		const slot *o = &s->slots[i];
		if (o == sl)
			continue;
		int32_t l = common_prefix(o->prompt, cached_prefix(o), s->toks, n);
		if (l > other) {
			other = l;
			*src = o->seq;
		}
	}
	for (int32_t i = 0; i < s->n_cache; i++) {
		centry *e = &s->cache[i];
		int32_t l = common_prefix(e->tok, e->n, s->toks, n);
		if (l > other) {
			other = l;
			*src = e->seq;
			*hit = e;
		}
	}
	own = fit_prefix(own, n);
	other = fit_prefix(other, n);
	if (other < own + MIN_PREFIX_COPY) {
		*src = -1;
		*hit = NULL;
		return own;
	}
	return other;
}

/*
 * Keep the finishing slot's prompt (what of it sits in its cells) in the
 * prefix cache, one entry per system prompt: an entry that holds it
 * already is only touched; else it replaces the entry with the same
 * system part (sl->n_sys tokens: the speaker's previous turn, whose
 * history may still share a prefix with the next, as the seed opinion
 * does for the first turns), else an empty entry, else the least
 * recently used. The slot's stream is copied whole (the only copy
 * between streams llama.cpp has), then cut to the prompt.
 */
static void cache_put(lbackend *s, const slot *sl)
{
	int32_t n = cached_prefix(sl);
	if (s->n_cache == 0 || sl->n_sys < MIN_PREFIX_COPY || n < sl->n_sys)
		return;
	centry *victim = NULL;
	for (int32_t i = 0; i < s->n_cache; i++) {
		centry *e = &s->cache[i];
		if (e->n >= n && common_prefix(e->tok, n, sl->prompt, n) == n) {
			e->used = ++s->clock;
			return;
		}
	}
	for (int32_t i = 0; i < s->n_cache; i++) {
		centry *e = &s->cache[i];
		int32_t l = common_prefix(e->tok, e->n, sl->prompt, n);
		if (e->n > 0 && (l >= sl->n_sys || l == e->n)) {
			victim = e; /* the same speaker, or a part of this prompt */
			break;
		}
		if (!victim || (victim->n > 0 && (e->n == 0 || e->used < victim->used)))
			victim = e;
	}
	if ((size_t)n > victim->cap) {
		llama_token *t = malloc((size_t)n * sizeof(*t));
		if (!t)
			return; /* the cache is an optimisation: go without */
		free(victim->tok);
		victim->tok = t;
		victim->cap = (size_t)n;
	}
	llama_memory_t mem = llama_get_memory(s->ctx);
	llama_memory_seq_cp(mem, sl->seq, victim->seq, -1, -1);
	llama_memory_seq_rm(mem, victim->seq, n, -1);
	s->prof.n_copies++;
	s->prof.n_cache_puts++;
	s->prof.n_cache_evictions += victim->n > 0;
	memcpy(victim->tok, sl->prompt, (size_t)n * sizeof(*victim->tok));
	victim->n = n;
	victim->used = ++s->clock;
}

/*
 * Where the prompt's user message starts, as a token count: the prompt
 * (text, n tokens in s->toks) is compared with the system prompt
 * rendered beside an empty user message, and its tokens whose pieces lie
 * wholly inside the text both share are counted. Nothing is assumed
 * about the template or the prompts' text, and nothing is tokenized a
 * second time (BPE took milliseconds per request). 0 when it cannot be
 * told (the prefix cache then keeps nothing of this prompt).
 */
static int32_t system_part(lbackend *s, const char *text, const char *system_prompt,
			   int32_t n)
{
	char *sys = NULL;
	int32_t i = 0;
	if (sd__llama_render_chat(s->tmpl, system_prompt, "", &sys) != SD_OK)
		goto out;
	size_t shared = 0, at = 0;
	while (text[shared] && text[shared] == sys[shared])
		shared++;
	for (; i < n; i++) {
		int32_t len = llama_token_to_piece(s->vocab, s->toks[i], s->piece,
						   (int32_t)s->piece_cap, 0, true);
		/* a piece that does not fit the scratch is no header's */
		bool in = len >= 0 && at + (size_t)len <= shared &&
			  memcmp(text + at, s->piece, (size_t)len) == 0;
		if (!in && i == 0 && s->toks[0] == llama_vocab_bos(s->vocab))
			continue; /* added by the tokenizer, not in the text */
		if (!in)
			break;
		at += (size_t)len;
	}
out:
	free(sys);
	return i;
}

/*
 * Admit job j into free slot sl: render, tokenize, check the budget,
 * make its sampler and take what it can from the prefix cache; the rest
 * of the prompt is decoded by the following steps. A request that fails
 * here gets an error reply and leaves the slot as it was; the return
 * value is only for allocation failures of the backend itself.
 */
static int slot_start(lbackend *s, slot *sl, job *j)
{
	char *prompt = NULL;
	char msg[160];
	int32_t n = 0;
	int64_t t0 = llama_time_us();
	int32_t max_tokens = j->sampling.max_tokens > 0 ? j->sampling.max_tokens : 1;
	int rc =
	    sd__llama_render_chat(s->tmpl, j->system_prompt, j->user_prompt, &prompt);
	if (rc == SD_ENOMEM)
		goto nomem;
	if (rc) {
		char what[64];
		sd__llama_describe_template(s->tmpl, what, sizeof(what));
		snprintf(msg, sizeof(msg), "chat template %s is not supported", what);
		rc = push_error(s, j->tag, SD_EBACKEND, msg, 0, 0.0);
		goto out;
	}
	rc = sd__llama_tokenize(s, prompt, &s->toks, &s->toks_cap, &n);
	if (rc == SD_ENOMEM)
		goto nomem;
	if (rc || n == 0) {
		rc = push_error(s, j->tag, SD_EBACKEND, "tokenization failed", 0, 0.0);
		goto out;
	}
	if ((int64_t)n + max_tokens > s->seq_budget) {
		snprintf(msg, sizeof(msg),
			 "prompt of %d tokens does not fit the context of %d per "
			 "sequence (max_tokens %d)",
			 (int)n, (int)s->seq_budget, (int)max_tokens);
		rc = push_error(s, j->tag, SD_EBACKEND, msg, n, 0.0);
		goto out;
	}
	sampler_plan plan;
	int prc = sd__llama_sampler_plan(&j->sampling, s, j->grammar, &plan);
	if (prc == SD_EINVAL) {
		rc = push_error(
		    s, j->tag, SD_EINVAL,
		    "the grammar does not parse (llama.cpp GBNF, root rule \"root\")", n,
		    0.0);
		goto out;
	}
	if (prc)
		goto nomem;
	struct llama_sampler *smpl = plan.chain;
	if (sl->cand_cap < plan.fast_k) {
		llama_token_data *c = realloc(sl->cand, (size_t)plan.fast_k * sizeof(*c));
		if (!c) {
			llama_sampler_free(smpl);
			goto nomem;
		}
		sl->cand = c;
		sl->cand_cap = plan.fast_k;
	}
	sl->gram = plan.gram;
	sl->fast_k = plan.fast_k;
	sl->fast_pen = plan.fast_pen;
	sl->fast_tail = plan.fast_tail;

	llama_seq_id src;
	centry *hit;
	int32_t keep = find_prefix(s, sl, n, &src, &hit);
	llama_memory_t mem = llama_get_memory(s->ctx);
	/*
	 * Between KV streams llama.cpp copies whole streams only (it asserts
	 * on a range), at the start of the next llama_decode, in the order
	 * asked: take all, then drop what follows the shared prefix.
	 */
	if (src >= 0) {
		llama_memory_seq_cp(mem, src, sl->seq, -1, -1);
		s->prof.n_copies++;
	}
	if (hit) {
		hit->used = ++s->clock;
		s->prof.n_cache_hits++;
	}
	llama_memory_seq_rm(mem, sl->seq, keep, -1);
	sl->n_sys = s->n_cache > 0 ? system_part(s, prompt, j->system_prompt, n) : 0;
	if (s->n_cache > 0)
		s->prof.n_user += n - sl->n_sys;

	/* the new tokens become the slot's; its old buffer is the scratch */
	llama_token *t = sl->prompt;
	size_t cap = sl->prompt_cap;
	sl->prompt = s->toks;
	sl->prompt_cap = s->toks_cap;
	s->toks = t;
	s->toks_cap = cap;

	sd__buf_init(&sl->text, 0);
	sl->state = SLOT_PREFILL;
	sl->tag = j->tag;
	sl->admitted = s->n_admitted++;
	sl->smpl = smpl;
	sl->n_prompt = n;
	sl->n_cached = 0;
	sl->n_past = keep;
	sl->n_reused = keep;
	s->prof.n_prompt += n;
	s->prof.n_reused += keep;
	sl->n_gen = 0;
	sl->max_tokens = max_tokens;
	sl->t_start_us = t0;
	goto out;
nomem:
	push_error(s, j->tag, SD_ENOMEM, "out of memory", n, 0.0);
	rc = SD_ENOMEM;
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
		n += s->slots[i].state != SLOT_FREE;
	return n;
}

/*
 * Move pending requests into free slots, FIFO. The lowest free slot goes
 * first: llama.cpp decodes the rows of a batch in runs of consecutive
 * sequence ids (one KV stream each), so every gap between generating
 * sequences costs another pass over the weights.
 */
static int admit(lbackend *s)
{
	for (int32_t i = 0; i < s->n_seq && s->pending_head; i++) {
		slot *sl = &s->slots[i];
		/* a request that fails at once leaves the slot free */
		while (sl->state == SLOT_FREE && s->pending_head) {
			job *j = s->pending_head;
			s->pending_head = j->next;
			if (!s->pending_head)
				s->pending_tail = NULL;
			int rc = slot_start(s, sl, j);
			job_free(j);
			if (rc)
				return rc;
		}
	}
	return SD_OK;
}

/* ------------------------------------------------------------------ */
/* Steps                                                              */
/* ------------------------------------------------------------------ */

static void batch_add(struct llama_batch *bt, llama_token tok, llama_pos pos,
		      llama_seq_id seq, bool logits)
{
	int32_t n = bt->n_tokens++;
	bt->token[n] = tok;
	bt->pos[n] = pos;
	bt->n_seq_id[n] = 1;
	bt->seq_id[n][0] = seq;
	bt->logits[n] = logits;
}

/* A failed decode leaves the KV state unknown: fail and clear them all. */
static int fail_all(sd_backend *b, lbackend *s, int32_t code)
{
	sd__backend_set_error(b, "llama_decode failed (code %d)", (int)code);
	for (int32_t i = 0; i < s->n_seq; i++) {
		slot *sl = &s->slots[i];
		if (sl->state != SLOT_FREE)
			slot_fail(s, sl, SD_EBACKEND, b->last_error);
		else
			slot_release(s, sl, false);
	}
	for (int32_t i = 0; i < s->n_cache; i++) {
		llama_memory_seq_rm(llama_get_memory(s->ctx), s->cache[i].seq, -1, -1);
		s->cache[i].n = 0;
	}
	/* the reply is what matters to the caller; the queue stays */
	return SD_EBACKEND;
}

static bool generating(const lbackend *s, int32_t k)
{
	return k >= 0 && k < s->n_seq && s->slots[k].state == SLOT_GEN;
}

/*
 * Shape the generating rows into one run. llama.cpp cuts the rows of a
 * batch into runs of consecutive sequence ids (one KV stream each) and
 * decodes each run as a ubatch of its own, so every gap between
 * generating sequences costs another pass over the weights: a sequence
 * in the gap that is not generating gets a dummy row (no logits), placed
 * after whatever it holds and removed after the decode. And a product
 * of one row rounds differently from one of two or more (see the top of
 * this file), so a sequence generating alone gets a dummy partner with
 * logits (the last layer only computes output rows) in a neighbouring
 * sequence, the spare one when n_seq is 1. s->dummy[k] gets the dummy's
 * position in sequence k, or -1.
 */
static void plan_dummies(lbackend *s, bool *partner)
{
	int32_t first = -1, last = -1;
	for (int32_t k = 0; k < s->n_stream; k++) {
		s->dummy[k] = -1;
		if (generating(s, k)) {
			if (first < 0)
				first = k;
			last = k;
		}
	}
	*partner = false;
	if (first < 0)
		return;
	if (first == last && s->partner) {
		first = last + 1 < s->n_stream ? last : first - 1;
		last = first + 1;
		*partner = true;
	}
	for (int32_t k = first; k <= last; k++) {
		if (generating(s, k))
			continue;
		/* after what the sequence holds: its prompt so far or what
		 * it keeps of it, a cache entry's prefix; the spare is empty */
		int32_t c = k - s->n_seq;
		if (c < 0) {
			const slot *sl = &s->slots[k];
			s->dummy[k] =
			    sl->state == SLOT_PREFILL ? sl->n_past : sl->n_cached;
		} else {
			s->dummy[k] = c < s->n_cache ? s->cache[c].n : 0;
		}
	}
}

/*
 * One token for every generating sequence, in one llama_decode, then
 * sample. The last token of a prompt is decoded here too, as the first
 * row of its sequence, so that every sampled token comes from a row
 * computed the same way.
 */
static int decode_gen(sd_backend *b, lbackend *s)
{
	struct llama_batch *bt = &s->batch;
	llama_memory_t mem = llama_get_memory(s->ctx);
	bool partner;
	int rc = SD_OK;

	plan_dummies(s, &partner);
	bt->n_tokens = 0;
	for (int32_t k = 0; k < s->n_stream; k++) {
		if (k < s->n_seq)
			s->row[k] = -1;
		if (generating(s, k)) {
			slot *sl = &s->slots[k];
			s->row[k] = bt->n_tokens;
			batch_add(bt, sl->next, sl->n_past, sl->seq, true);
		} else if (s->dummy[k] >= 0) {
			batch_add(bt, 0, s->dummy[k], k, partner);
		}
	}
	if (bt->n_tokens == 0)
		return SD_OK;
	int64_t t0 = llama_time_us();
	int32_t d = llama_decode(s->ctx, *bt);
	/* the logits are read next anyway; wait here so the time is decode's */
	llama_synchronize(s->ctx);
	int64_t t1 = llama_time_us();
	s->prof.us_decode += t1 - t0;
	s->prof.n_gen_steps++;
	s->prof.n_gen_rows += bt->n_tokens;
	for (int32_t k = 0; k < s->n_stream; k++) {
		if (s->dummy[k] >= 0)
			llama_memory_seq_rm(mem, k, s->dummy[k], -1);
	}
	if (d != 0)
		return fail_all(b, s, d);
	/* the fast path's top-k passes, one row per thread at a time */
	int32_t n_fast = 0, n_vocab = llama_vocab_n_tokens(s->vocab);
	for (int32_t k = 0; k < s->n_seq; k++) {
		if (s->row[k] >= 0 && s->slots[k].fast_k > 0) {
			s->order[n_fast] = k;
			s->rowp[n_fast++] = llama_get_logits_ith(s->ctx, s->row[k]);
		}
	}
#ifdef _OPENMP
#pragma omp parallel for num_threads(s->n_threads) schedule(dynamic) if (n_fast > 1)
#endif
	for (int32_t i = 0; i < n_fast; i++)
		sd__llama_top_k_pass(&s->slots[s->order[i]], s->rowp[i], n_vocab);
	for (int32_t k = 0; k < s->n_seq && rc == SD_OK; k++) {
		if (s->row[k] < 0)
			continue;
		slot *sl = &s->slots[k];
		sl->n_past++;
		rc = slot_sample(s, sl, s->row[k]);
	}
	s->prof.us_sample += llama_time_us() - t1;
	return rc;
}

/*
 * Decode prompt chunks, oldest admission first, each a llama_decode of
 * its own with two tokens or more and no logits (see the top of this
 * file); with the generating rows they make at most n_batch tokens per
 * step. The prompt's last token is left to decode_gen: once the rest is
 * in, the sequence joins the generating rows with it.
 */
static int prefill(sd_backend *b, lbackend *s)
{
	struct llama_batch *bt = &s->batch;
	int32_t room = s->n_batch, n_pre = 0;
	for (int32_t i = 0; i < s->n_seq; i++) {
		room -= s->slots[i].state == SLOT_GEN;
		if (s->slots[i].state != SLOT_PREFILL)
			continue;
		/* insertion sort by admission; n_seq is small */
		int32_t k = n_pre++;
		while (k > 0 &&
		       s->slots[s->order[k - 1]].admitted > s->slots[i].admitted) {
			s->order[k] = s->order[k - 1];
			k--;
		}
		s->order[k] = i;
	}
	for (int32_t k = 0; k < n_pre; k++) {
		slot *sl = &s->slots[s->order[k]];
		int32_t left = sl->n_prompt - 1 - sl->n_past;
		int32_t n = left < room ? left : room;
		if (left - n == 1)
			n--; /* never leave a chunk of one token */
		if (n >= 2 || (n == 1 && left == 1)) {
			bt->n_tokens = 0;
			for (int32_t t = 0; t < n; t++) {
				int32_t pos = sl->n_past + t;
				batch_add(bt, sl->prompt[pos], pos, sl->seq, false);
			}
			int32_t d = llama_decode(s->ctx, *bt);
			if (d != 0)
				return fail_all(b, s, d);
			s->prof.n_prompt_decodes++;
			sl->n_past += n;
			room -= n;
		}
		if (sl->n_past == sl->n_prompt - 1) {
			sl->state = SLOT_GEN;
			sl->next = sl->prompt[sl->n_past];
		}
	}
	return SD_OK;
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
	j->grammar = req->grammar ? strdup(req->grammar) : NULL;
	if (!j->system_prompt || !j->user_prompt || (req->grammar && !j->grammar)) {
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
	int64_t t0 = llama_time_us();
	int rc = admit(s);
	int64_t t1 = llama_time_us();
	/* prompts first: one completed now samples its first token below */
	if (rc == SD_OK)
		rc = prefill(b, s);
	int64_t t2 = llama_time_us();
	if (rc == SD_OK)
		rc = decode_gen(b, s);
	s->prof.us_admit += t1 - t0;
	s->prof.us_prefill += t2 - t1;
	return rc ? rc : count_work(s);
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
		if (sl->state != SLOT_FREE && sl->tag == tag) {
			slot_release(s, sl, true);
			return SD_OK;
		}
	}
	return SD_ENOTFOUND;
}

static int l_format_chat(sd_backend *b, const char *system_prompt,
			 const char *user_prompt, char **out)
{
	lbackend *s = b->impl;
	int rc = sd__llama_render_chat(s->tmpl, system_prompt, user_prompt, out);
	if (rc == SD_EBACKEND) {
		char what[64];
		sd__llama_describe_template(s->tmpl, what, sizeof(what));
		sd__backend_set_error(b, "chat template %s is not supported", what);
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
			sd__buf_free(&s->slots[i].text);
			free(s->slots[i].prompt);
			free(s->slots[i].cand);
		}
		free(s->slots);
	}
	if (s->cache) {
		for (int32_t i = 0; i < s->n_cache; i++)
			free(s->cache[i].tok);
		free(s->cache);
	}
	free(s->order);
	free(s->row);
	free(s->rowp);
	free(s->dummy);
	sd__gcache_free(s->gcache);
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
	lbackend *s = b->impl;
	if (s && b->log_fn && s->prof.n_prompt) {
		char line[512];
		snprintf(
		    line, sizeof(line),
		    "llama: %lld prompt tokens sent, %lld decoded (%lld reused, %lld "
		    "after the system prompt; "
		    "prefix cache of %d: %lld hits, %lld puts, %lld evictions; %lld "
		    "stream copies) "
		    "in %lld decodes, %.3f s; "
		    "%lld steps of %lld rows, decode %.3f s, sample %.3f s; admit %.3f s",
		    (long long)s->prof.n_prompt,
		    (long long)(s->prof.n_prompt - s->prof.n_reused),
		    (long long)s->prof.n_reused, (long long)s->prof.n_user,
		    (int)s->n_cache, (long long)s->prof.n_cache_hits,
		    (long long)s->prof.n_cache_puts, (long long)s->prof.n_cache_evictions,
		    (long long)s->prof.n_copies, (long long)s->prof.n_prompt_decodes,
		    s->prof.us_prefill / 1e6, (long long)s->prof.n_gen_steps,
		    (long long)s->prof.n_gen_rows, s->prof.us_decode / 1e6,
		    s->prof.us_sample / 1e6, s->prof.us_admit / 1e6);
		b->log_fn(SD_LOG_DEBUG, line, b->log_ud);
	}
	lbackend_free(b->impl);
	b->impl = NULL;
}

/* Tokens of text as the model reads it inside a prompt: special tokens
 * parsed, no BOS (history_ctx_tokens). */
static int l_count_tokens(sd_backend *b, const char *text)
{
	lbackend *s = b->impl;
	size_t len = strlen(text);
	if (len > INT32_MAX - 8)
		return SD_EINVAL;
	int32_t r = llama_tokenize(s->vocab, text, (int32_t)len, NULL, 0, false, true);
	if (r == INT32_MIN)
		return SD_EBACKEND;
	/* with no room it says how many it needs, as a negative number */
	return r < 0 ? -r : r;
}

static const struct sd__backend_ops llama_ops = {
    .kind = "llama",
    .submit = l_submit,
    .step = l_step,
    .collect = l_collect,
    .cancel = l_cancel,
    .format_chat = l_format_chat,
    .destroy = l_destroy,
    .count_tokens = l_count_tokens,
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
			return sd__error_set(err, SD_ENOTFOUND, path, NULL,
					     "model file not found");
		return sd__error_set(err, SD_EIO, path, NULL, "cannot open: %s",
				     strerror(errno));
	}
	char magic[4];
	size_t got = fread(magic, 1, sizeof(magic), f);
	fclose(f);
	if (got != sizeof(magic) || memcmp(magic, "GGUF", 4) != 0)
		return sd__error_set(err, SD_EPARSE, path, NULL, "is not a GGUF file");
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
static int choose_template(lbackend *s, const sd_llama_params *p, sd_error *err)
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
		cands[n] =
		    p->fallback_chat_template ? p->fallback_chat_template : "llama3";
		must[n++] = true;
	}
	for (int i = 0; i < n; i++) {
		char *probe = NULL;
		int rc = sd__llama_render_chat(cands[i], "s", "u", &probe);
		free(probe);
		if (rc == SD_ENOMEM)
			return sd__error_set(err, rc, p->model_path, NULL,
					     "out of memory");
		if (rc == SD_OK) {
			s->tmpl = strdup(cands[i]);
			if (!s->tmpl)
				return sd__error_set(err, SD_ENOMEM, p->model_path, NULL,
						     "out of memory");
			return SD_OK;
		}
		if (must[i]) {
			char what[64];
			sd__llama_describe_template(cands[i], what, sizeof(what));
			return sd__error_set(err, SD_EBACKEND, p->model_path,
					     "chat_template",
					     "chat template %s is not supported", what);
		}
	}
	return sd__error_set(err, SD_EBACKEND, p->model_path, "chat_template",
			     "no usable chat template");
}

/*
 * Does a row decoded alone come out different from the same row decoded
 * next to another? On the CPU, ggml computes a product of one row with
 * its dot product kernel and of two rows or more with llamafile's sgemm;
 * they agree for the quantized types tried (q8_0: integer dot products
 * per block) and differ in the last bits for f32 and f16 weights. Decode
 * one token alone and beside a copy of itself, in a throwaway context
 * set up like the real one, and compare the logits bit for bit.
 * Returns 1 (they differ), 0 (identical) or a negative SD_E* code.
 */
static int probe_lone_rows(struct llama_model *model, int32_t n_threads)
{
	struct llama_context_params cp = llama_context_default_params();
	cp.n_ctx = 512;
	cp.n_batch = cp.n_ubatch = 2;
	cp.n_seq_max = 2;
	cp.n_threads = cp.n_threads_batch = n_threads;
	cp.kv_unified = false;
	cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
	cp.no_perf = true;
	struct llama_context *ctx = llama_init_from_model(model, cp);
	struct llama_batch bt = llama_batch_init(2, 0, 1);
	int32_t n_vocab = llama_vocab_n_tokens(llama_model_get_vocab(model));
	float *alone = malloc((size_t)n_vocab * sizeof(*alone));
	int rc = SD_EBACKEND;
	if (!alone || !bt.token) {
		rc = SD_ENOMEM;
		goto out;
	}
	if (!ctx)
		goto out;
	for (int32_t n = 1; n <= 2; n++) {
		bt.n_tokens = 0;
		for (int32_t k = 0; k < n; k++)
			batch_add(&bt, 0, 0, k, true);
		if (llama_decode(ctx, bt) != 0)
			goto out;
		const float *l = llama_get_logits_ith(ctx, 0);
		if (!l)
			goto out;
		if (n == 1)
			memcpy(alone, l, (size_t)n_vocab * sizeof(*alone));
		else
			rc = memcmp(alone, l, (size_t)n_vocab * sizeof(*l)) != 0;
		llama_memory_seq_rm(llama_get_memory(ctx), -1, -1, -1);
	}
out:
	free(alone);
	if (bt.token)
		llama_batch_free(bt);
	if (ctx)
		llama_free(ctx);
	return rc;
}

/*
 * Prefix cache entries when the caller leaves it to us: four per slot
 * (a discussion's speakers), at least 16 (personas recur across
 * discussions), as far as CACHE_BUDGET of f16 KV cells goes, at least 4.
 */
#define CACHE_BUDGET ((int64_t)1 << 30)
static int32_t default_cache(const struct llama_model *m, int32_t n_seq, int32_t cells)
{
	int64_t head = llama_model_n_head(m) > 0 ? llama_model_n_head(m) : 1;
	int64_t kv = (int64_t)llama_model_n_embd(m) / head * llama_model_n_head_kv(m);
	int64_t stream = 2 * 2 * (int64_t)llama_model_n_layer(m) * kv * cells;
	int64_t want = 4 * (int64_t)n_seq > 16 ? 4 * (int64_t)n_seq : 16;
	int64_t fits = stream > 0 ? CACHE_BUDGET / stream : want;
	int64_t n = want < fits ? want : fits;
	return n > 4 ? (int32_t)n : 4;
}

sd_backend *sd_backend_llama_create(const sd_llama_params *p, sd_error *err)
{
	lbackend *s = NULL;
	sd_backend *b = NULL;
	char *name = NULL;
	int rc;

	if (!p || !p->model_path || !p->model_path[0]) {
		sd__error_set(err, SD_EINVAL, NULL, "model_path",
			      "a model path is required");
		goto out;
	}
	const char *bad = p->n_ctx <= 0	      ? "n_ctx"
			  : p->n_seq_max <= 0 ? "n_seq_max"
			  : p->n_batch <= 0   ? "n_batch"
			  : p->n_threads <= 0 ? "n_threads"
					      : NULL;
	if (bad) {
		sd__error_set(err, SD_EINVAL, NULL, bad, "must be positive");
		goto out;
	}
	if (p->n_seq_max > (int32_t)llama_max_parallel_sequences()) {
		sd__error_set(err, SD_EINVAL, NULL, "n_seq_max",
			      "at most %d sequences are supported",
			      (int)llama_max_parallel_sequences());
		goto out;
	}
	if (p->n_ctx / p->n_seq_max < 8) {
		sd__error_set(err, SD_EINVAL, NULL, "n_ctx",
			      "context of %d is too small for %d sequences",
			      (int)p->n_ctx, (int)p->n_seq_max);
		goto out;
	}
	for (size_t i = 0; i < p->n_stop; i++) {
		if (!p->stop || !p->stop[i] || !p->stop[i][0]) {
			sd__error_set(err, SD_EINVAL, NULL, "stop",
				      "stop strings must be non-empty");
			goto out;
		}
	}
	if (check_gguf(p->model_path, err))
		goto out;
	/* before llama.cpp runs a kernel this machine would trap on */
	if (sd__cpu_isa_check(SD_LLAMA_ISA, p->model_path, err))
		goto out;

	s = calloc(1, sizeof(*s));
	if (!s || !(s->gcache = sd__gcache_new()))
		goto nomem;
	s->n_seq = p->n_seq_max;
	/*
	 * The generating rows (with dummies, at most one per sequence) must
	 * fit a batch, and a step must leave room for a prompt chunk of
	 * three tokens, so that chunks of two or more always exist.
	 */
	s->n_batch = p->n_batch > p->n_seq_max + 3 ? p->n_batch : p->n_seq_max + 3;
	/*
	 * llama.cpp pads each stream up (to 256 cells); budget from what
	 * the caller asked for so that limits do not depend on padding.
	 */
	s->seq_budget = p->n_ctx / p->n_seq_max;

	struct llama_model_params mp = llama_model_default_params();
	mp.n_gpu_layers = p->n_gpu_layers;
	s->model = llama_model_load_from_file(p->model_path, mp);
	if (!s->model) {
		sd__error_set(err, SD_EBACKEND, p->model_path, NULL,
			      "llama.cpp could not load the model");
		goto fail;
	}
	s->vocab = llama_model_get_vocab(s->model);

	rc = probe_lone_rows(s->model, p->n_threads);
	if (rc < 0) {
		sd__error_set(err, rc, p->model_path, NULL, "%s",
			      rc == SD_ENOMEM ? "out of memory"
					      : "llama.cpp could not decode a probe");
		goto fail;
	}
	s->partner = rc == 1;
	s->n_cache = p->n_prefix_cache >= 0
			 ? p->n_prefix_cache
			 : default_cache(s->model, s->n_seq, s->seq_budget);
	if (s->n_cache > (int32_t)llama_max_parallel_sequences() - s->n_seq)
		s->n_cache = (int32_t)llama_max_parallel_sequences() - s->n_seq;
	s->n_stream = s->n_seq + s->n_cache;
	if (s->n_stream == 1 && s->partner)
		s->n_stream = 2; /* a spare for the partner rows */

	struct llama_context_params cp = llama_context_default_params();
	cp.n_ctx = (uint32_t)s->seq_budget * (uint32_t)s->n_stream;
	cp.n_batch = (uint32_t)s->n_batch;
	cp.n_ubatch = (uint32_t)s->n_batch;
	cp.n_seq_max = (uint32_t)s->n_stream;
	cp.n_threads = p->n_threads;
	cp.n_threads_batch = p->n_threads;
	/* determinism: see the top of this file */
	cp.kv_unified = false;
	cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
	cp.no_perf = true;
	s->ctx = llama_init_from_model(s->model, cp);
	if (!s->ctx) {
		sd__error_set(err, SD_EBACKEND, p->model_path, NULL,
			      "llama.cpp could not create a context (n_ctx %d)",
			      (int)p->n_ctx);
		goto fail;
	}
	if (llama_n_ctx_seq(s->ctx) < (uint32_t)s->seq_budget)
		s->seq_budget = (int32_t)llama_n_ctx_seq(s->ctx);

	/* every row belongs to exactly one sequence, hence 1 seq id per row */
	s->batch = llama_batch_init(s->n_batch, 0, 1);
	if (!s->batch.token)
		goto nomem;

	s->slots = calloc((size_t)s->n_seq, sizeof(*s->slots));
	s->order = calloc((size_t)s->n_seq, sizeof(*s->order));
	s->row = calloc((size_t)s->n_seq, sizeof(*s->row));
	s->rowp = calloc((size_t)s->n_seq, sizeof(*s->rowp));
	s->dummy = calloc((size_t)s->n_stream, sizeof(*s->dummy));
	s->cache = calloc(s->n_cache > 0 ? (size_t)s->n_cache : 1, sizeof(*s->cache));
	s->piece = malloc(64);
	if (!s->slots || !s->order || !s->row || !s->rowp || !s->dummy || !s->cache ||
	    !s->piece)
		goto nomem;
	s->piece_cap = 64;
	for (int32_t i = 0; i < s->n_cache; i++)
		s->cache[i].seq = s->n_seq + i;
	s->n_threads = p->n_threads;
	for (int32_t i = 0; i < s->n_seq; i++) {
		s->slots[i].seq = i;
		sd__buf_init(&s->slots[i].text, 0);
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
	b = sd__backend_new(&llama_ops, name, s);
	if (!b)
		goto nomem;
	s = NULL; /* owned by b now */
	goto out;
nomem:
	sd__error_set(err, SD_ENOMEM, p->model_path, NULL, "out of memory");
fail:
	lbackend_free(s);
out:
	free(name);
	return b;
}

/*
 * Sampling for the embedded llama.cpp backend: the request's sampler
 * chain and its plan (sd__llama_sampler_plan), our repetition penalty,
 * and the fast paths that skip building a candidate array of the whole
 * vocabulary (top-k on the logits row; a grammar's known allowed set).
 * Each must pick exactly the token the plain chain would.
 */
#include <stdlib.h>
#include <string.h>

#include "backend/llama_internal.h"

/*
 * Repetition penalty over the last last_n sampled tokens: the arithmetic
 * of llama_sampler_init_penalties (repeat only; frequency and presence
 * penalties are 0, which subtract exactly nothing), so the candidates
 * come out bit for bit the same. llama.cpp's version looks every one of
 * the 128k candidates up in a hash map, which took longer than decoding
 * a step of the tiny model; this one touches only the tokens of its
 * window. Coming first in the chain, it sees the candidates in token
 * order and finds a token by its id (with a scan as the fallback).
 */

static const char *penalty_name(const struct llama_sampler *smpl)
{
	(void)smpl;
	return "sd-penalties";
}

static void penalty_accept(struct llama_sampler *smpl, llama_token tok)
{
	penalty *p = smpl->ctx;
	if (p->n < p->last_n) {
		p->ring[(p->head + p->n) % p->last_n] = tok;
		p->n++;
	} else {
		p->ring[p->head] = tok;
		p->head = (p->head + 1) % p->last_n;
	}
}

static int cmp_token(const void *a, const void *b)
{
	llama_token x = *(const llama_token *)a, y = *(const llama_token *)b;
	return (x > y) - (x < y);
}

static void penalty_apply(struct llama_sampler *smpl, llama_token_data_array *cur_p)
{
	penalty *p = smpl->ctx;
	memcpy(p->sorted, p->ring, (size_t)p->n * sizeof(*p->sorted));
	qsort(p->sorted, (size_t)p->n, sizeof(*p->sorted), cmp_token);
	for (int32_t k = 0; k < p->n; k++) {
		llama_token t = p->sorted[k];
		if (k > 0 && t == p->sorted[k - 1])
			continue; /* each distinct token once, like the map */
		llama_token_data *d = NULL;
		if (t >= 0 && (size_t)t < cur_p->size && cur_p->data[t].id == t) {
			d = &cur_p->data[t];
		} else {
			for (size_t i = 0; i < cur_p->size && !d; i++) {
				if (cur_p->data[i].id == t)
					d = &cur_p->data[i];
			}
		}
		if (!d)
			continue;
		if (d->logit <= 0)
			d->logit *= p->repeat;
		else
			d->logit /= p->repeat;
	}
	cur_p->sorted = false;
}

static void penalty_reset(struct llama_sampler *smpl)
{
	penalty *p = smpl->ctx;
	p->head = 0;
	p->n = 0;
}

static void penalty_free(struct llama_sampler *smpl)
{
	penalty *p = smpl->ctx;
	if (!p)
		return;
	free(p->ring);
	free(p->sorted);
	free(p);
}

static struct llama_sampler *penalty_new(int32_t last_n, float repeat);

static struct llama_sampler *penalty_clone(const struct llama_sampler *smpl)
{
	const penalty *p = smpl->ctx;
	struct llama_sampler *c = penalty_new(p->last_n, p->repeat);
	if (!c)
		return NULL;
	penalty *q = c->ctx;
	memcpy(q->ring, p->ring, (size_t)p->last_n * sizeof(*q->ring));
	q->head = p->head;
	q->n = p->n;
	return c;
}

static struct llama_sampler_i penalty_iface = {
    .name = penalty_name,
    .accept = penalty_accept,
    .apply = penalty_apply,
    .reset = penalty_reset,
    .clone = penalty_clone,
    .free = penalty_free,
};

/* last_n > 0. NULL on allocation failure. */
static struct llama_sampler *penalty_new(int32_t last_n, float repeat)
{
	penalty *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->last_n = last_n;
	p->repeat = repeat;
	p->ring = malloc((size_t)last_n * sizeof(*p->ring));
	p->sorted = malloc((size_t)last_n * sizeof(*p->sorted));
	struct llama_sampler *s = NULL;
	if (p->ring && p->sorted)
		s = llama_sampler_init(&penalty_iface, p);
	if (!s) {
		free(p->ring);
		free(p->sorted);
		free(p);
	}
	return s;
}

/*
 * The request's sampler chain, and the plan of how slot_sample may run
 * it. A grammar comes first, so that top-k and the rest choose among the
 * tokens it allows. The fast path (no grammar; greedy, or top-k)
 * is decided here, where the chain is built, rather than read back from
 * the members' names.
 */
int sd__llama_sampler_plan(const sd_sampling *sp, lbackend *s, const char *grammar,
			   sampler_plan *plan)
{
	struct llama_sampler_chain_params cp = llama_sampler_chain_default_params();
	cp.no_perf = true;
	memset(plan, 0, sizeof(*plan));
	struct llama_sampler *c = llama_sampler_chain_init(cp);
	if (!c)
		return SD_ENOMEM;
	if (grammar) {
		struct llama_sampler *g =
		    sd__gcache_sampler(s->gcache, s->vocab, grammar);
		if (!g) {
			llama_sampler_free(c);
			return SD_EINVAL;
		}
		llama_sampler_chain_add(c, g);
		plan->gram = sd__gcache_is_sampler(g) ? g : NULL;
	}
	/* the chain takes ownership of every sampler added to it */
	struct llama_sampler *pen = NULL;
	if (sp->repeat_penalty != 1.0f && sp->repeat_penalty > 0.0f &&
	    sp->repeat_last_n > 0) {
		pen = penalty_new(sp->repeat_last_n, sp->repeat_penalty);
		if (!pen) {
			llama_sampler_free(c);
			return SD_ENOMEM;
		}
		llama_sampler_chain_add(c, pen);
	}
	plan->chain = c;
	if (sp->temperature <= 0.0f) {
		llama_sampler_chain_add(c, llama_sampler_init_greedy());
		/*
		 * Greedy, no grammar, is the fast path too: a top-1 pass (its
		 * heap keeps the first of equal maxima, as the greedy sampler
		 * does), then the greedy member on that one candidate. The
		 * full path builds a 128k candidate array per token: a 1.5 MB
		 * allocation, fresh pages and a scan.
		 */
		if (!grammar) {
			plan->fast_k = 1;
			plan->fast_pen = pen ? pen->ctx : NULL;
			plan->fast_tail = pen ? 1 : 0;
		}
		return SD_OK;
	}
	if (sp->top_k > 0) {
		llama_sampler_chain_add(c, llama_sampler_init_top_k(sp->top_k));
		/* the fast path: [penalty] top-k ... dist, no grammar */
		if (!grammar) {
			plan->fast_k = sp->top_k;
			plan->fast_pen = pen ? pen->ctx : NULL;
			plan->fast_tail = pen ? 2 : 1;
		}
	}
	if (sp->top_p > 0.0f && sp->top_p < 1.0f)
		llama_sampler_chain_add(c, llama_sampler_init_top_p(sp->top_p, 1));
	if (sp->min_p > 0.0f)
		llama_sampler_chain_add(c, llama_sampler_init_min_p(sp->min_p, 1));
	llama_sampler_chain_add(c, llama_sampler_init_temp(sp->temperature));
	llama_sampler_chain_add(c, llama_sampler_init_dist(sp->seed));
	return SD_OK;
}

static int cmp_cand(const void *a, const void *b)
{
	const llama_token_data *x = a, *y = b;
	if (x->logit != y->logit)
		return x->logit > y->logit ? -1 : 1;
	return (x->id > y->id) - (x->id < y->id);
}

static void heap_down(llama_token_data *h, int32_t n, int32_t i)
{
	for (;;) {
		int32_t l = 2 * i + 1, m = i;
		if (l < n && h[l].logit < h[m].logit)
			m = l;
		if (l + 1 < n && h[l + 1].logit < h[m].logit)
			m = l + 1;
		if (m == i)
			return;
		llama_token_data t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
}

/* Logits scanned per test in top_k_pass. */
#define SCAN_BLOCK 64

/* gcc vectorizes loops from -O3 only (or -O2 since gcc 12) unless asked;
 * clang does at -O2 and knows no such attribute */
#if defined(__GNUC__) && !defined(__clang__)
#define SD_VECTORIZE __attribute__((optimize("tree-vectorize")))
#else
#define SD_VECTORIZE
#endif

/* Is any of x[0..SCAN_BLOCK) above floor? Written so that it vectorizes. */
SD_VECTORIZE static bool any_above(const float *x, float floor)
{
	int any = 0;
	for (int i = 0; i < SCAN_BLOCK; i++)
		any |= x[i] > floor;
	return any != 0;
}

/*
 * The fast path's penalty and top-k, done on the logits row itself: the
 * penalty touches only the tokens of its window, and top-k keeps a heap
 * of k while it reads the row once, instead of building and sorting a
 * candidate array of the whole vocabulary (128k for Llama 3), which took
 * as long as a decode step of a small model. Leaves sl->cand sorted, best
 * first. Touches nothing but the slot and its row, so rows of one step
 * run on several threads at once.
 */
void sd__llama_top_k_pass(slot *sl, float *logits, int32_t n_vocab)
{
	int32_t k = sl->fast_k < n_vocab ? sl->fast_k : n_vocab;
	llama_token_data *h = sl->cand;
	penalty *p = sl->fast_pen;
	if (p) {
		memcpy(p->sorted, p->ring, (size_t)p->n * sizeof(*p->sorted));
		qsort(p->sorted, (size_t)p->n, sizeof(*p->sorted), cmp_token);
		for (int32_t i = 0; i < p->n; i++) {
			llama_token t = p->sorted[i];
			if ((i > 0 && t == p->sorted[i - 1]) || t < 0 || t >= n_vocab)
				continue;
			logits[t] = logits[t] <= 0 ? logits[t] * p->repeat
						   : logits[t] / p->repeat;
		}
	}
	int32_t n = 0, t = 0;
	for (; t < n_vocab && n < k; t++, n++) {
		h[n].id = t;
		h[n].logit = logits[t];
		h[n].p = 0.0f;
	}
	for (int32_t i = n / 2 - 1; i >= 0; i--)
		heap_down(h, n, i);
	while (t < n_vocab) {
		int32_t end = t + SCAN_BLOCK <= n_vocab ? t + SCAN_BLOCK : n_vocab;
		/* the heap's floor only rises: a block with nothing above it
		 * now would insert nothing, so one vector test skips it */
		if (end - t == SCAN_BLOCK && !any_above(logits + t, h[0].logit)) {
			t = end;
			continue;
		}
		for (; t < end; t++) {
			if (logits[t] > h[0].logit) {
				h[0].id = t;
				h[0].logit = logits[t];
				heap_down(h, n, 0);
			}
		}
	}
	qsort(h, (size_t)n, sizeof(*h), cmp_cand);
	sl->n_cand = n;
}

/* The members after top-k, on the candidates of top_k_pass, as in the chain. */
llama_token sd__llama_sample_fast(slot *sl)
{
	llama_token_data_array cur = {sl->cand, (size_t)sl->n_cand, -1, true};
	int32_t members = llama_sampler_chain_n(sl->smpl);
	for (int32_t i = sl->fast_tail; i < members; i++)
		llama_sampler_apply(llama_sampler_chain_get(sl->smpl, i), &cur);
	llama_token tok = cur.selected >= 0 && (size_t)cur.selected < cur.size
			      ? cur.data[cur.selected].id
			      : cur.data[0].id;
	llama_sampler_accept(sl->smpl, tok);
	return tok;
}

/*
 * With a grammar whose allowed set is known for this state: the chain's
 * members after the grammar, on the allowed tokens only (in token order,
 * as the full array they would see masked). The full path builds and
 * masks an array of the whole vocabulary and sorts it for top-k, for the
 * five tokens of a 1..5 label. -1 when the set is not known yet.
 */
llama_token sd__llama_sample_allowed(lbackend *s, slot *sl, int32_t idx)
{
	const llama_token *allowed;
	int32_t n = sd__gcache_allowed(sl->gram, &allowed);
	if (n <= 0)
		return -1;
	if (sl->cand_cap < n) {
		llama_token_data *c = realloc(sl->cand, (size_t)n * sizeof(*c));
		if (!c)
			return -1; /* the full path needs no more memory */
		sl->cand = c;
		sl->cand_cap = n;
	}
	const float *logits = llama_get_logits_ith(s->ctx, idx);
	for (int32_t i = 0; i < n; i++) {
		sl->cand[i].id = allowed[i];
		sl->cand[i].logit = logits[allowed[i]];
		sl->cand[i].p = 0.0f;
	}
	llama_token_data_array cur = {sl->cand, (size_t)n, -1, false};
	int32_t members = llama_sampler_chain_n(sl->smpl);
	for (int32_t i = 1; i < members; i++)
		llama_sampler_apply(llama_sampler_chain_get(sl->smpl, i), &cur);
	llama_token tok = cur.selected >= 0 && (size_t)cur.selected < cur.size
			      ? cur.data[cur.selected].id
			      : cur.data[0].id;
	llama_sampler_accept(sl->smpl, tok);
	return tok;
}

/* Does the grammar allow only end-of-generation tokens now (when known)? */
bool sd__llama_grammar_done(const lbackend *s, const slot *sl)
{
	const llama_token *allowed;
	int32_t n = sl->gram ? sd__gcache_allowed(sl->gram, &allowed) : -1;
	for (int32_t i = 0; i < n; i++)
		if (!llama_vocab_is_eog(s->vocab, allowed[i]))
			return false;
	return n > 0;
}

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/grammar_cache.h"
#include "util/hash.h"

#define GC_SLOTS 4096 /* power of two */
#define GC_FILL 3072  /* stop memoising beyond this */

typedef struct gc_entry {
	uint64_t key; /* 0 = empty */
	llama_token *allowed;
	int32_t n;
} gc_entry;

struct gcache {
	gc_entry e[GC_SLOTS];
	size_t used;
};

typedef struct gsampler {
	gcache *cache;
	struct llama_sampler *inner; /* llama.cpp's grammar sampler */
	uint64_t grammar_hash;
	uint64_t key; /* grammar + accepted tokens so far */
	/* scratch for a hit: logits of the allowed tokens */
	float *keep;
	int32_t keep_cap;
} gsampler;

gcache *sd__gcache_new(void) { return calloc(1, sizeof(gcache)); }

void sd__gcache_free(gcache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < GC_SLOTS; i++)
		free(c->e[i].allowed);
	free(c);
}

static gc_entry *find(gcache *c, uint64_t key, bool *found)
{
	size_t i = (size_t)key & (GC_SLOTS - 1);
	while (c->e[i].key && c->e[i].key != key)
		i = (i + 1) & (GC_SLOTS - 1);
	*found = c->e[i].key == key;
	return &c->e[i];
}

static const char *g_name(const struct llama_sampler *s)
{
	(void)s;
	return "sd-grammar";
}

static void g_accept(struct llama_sampler *s, llama_token tok)
{
	gsampler *g = s->ctx;
	llama_sampler_accept(g->inner, tok);
	g->key = sd__fnv1a64(&tok, sizeof(tok), g->key);
	if (!g->key)
		g->key = 1;
}

/*
 * llama.cpp's grammar sampler, given a whole vocabulary, builds arrays the
 * size of it on every call (128k candidates: three of about 4 MB, plus a
 * decoded copy of every token), which are fresh pages each time where
 * the allocator maps large blocks anew (AddressSanitizer's always does).
 * A candidate's fate depends on it alone (its text against the grammar's
 * stacks; end-of-generation tokens on whether a stack is complete), so
 * the same mask comes out of chunks small enough to be reused.
 */
#define APPLY_CHUNK 2048

static void apply_in_chunks(struct llama_sampler *inner, llama_token_data_array *cur)
{
	for (size_t off = 0; off < cur->size; off += APPLY_CHUNK) {
		size_t n = cur->size - off < APPLY_CHUNK ? cur->size - off : APPLY_CHUNK;
		llama_token_data_array part = {cur->data + off, n, -1, cur->sorted};
		llama_sampler_apply(inner, &part);
	}
}

static void g_apply(struct llama_sampler *s, llama_token_data_array *cur)
{
	gsampler *g = s->ctx;
	bool found;
	gc_entry *e = find(g->cache, g->key, &found);
	bool in_order = cur->size > 0 && cur->data[0].id == 0 &&
			cur->data[cur->size - 1].id == (llama_token)(cur->size - 1);
	if (found && in_order) {
		if (g->keep_cap < e->n) {
			float *k = realloc(g->keep, (size_t)e->n * sizeof(*k));
			if (!k)
				goto full; /* fall back to the real thing */
			g->keep = k;
			g->keep_cap = e->n;
		}
		for (int32_t i = 0; i < e->n; i++)
			g->keep[i] = cur->data[e->allowed[i]].logit;
		for (size_t i = 0; i < cur->size; i++)
			cur->data[i].logit = -INFINITY;
		for (int32_t i = 0; i < e->n; i++)
			cur->data[e->allowed[i]].logit = g->keep[i];
		return;
	}
full:
	apply_in_chunks(g->inner, cur);
	if (found || !in_order || g->cache->used >= GC_FILL)
		return;
	int32_t n = 0;
	for (size_t i = 0; i < cur->size; i++)
		n += cur->data[i].logit != -INFINITY;
	llama_token *allowed = malloc((size_t)(n ? n : 1) * sizeof(*allowed));
	if (!allowed)
		return;
	n = 0;
	for (size_t i = 0; i < cur->size; i++)
		if (cur->data[i].logit != -INFINITY)
			allowed[n++] = cur->data[i].id;
	e->key = g->key;
	e->allowed = allowed;
	e->n = n;
	g->cache->used++;
}

static void g_reset(struct llama_sampler *s)
{
	gsampler *g = s->ctx;
	llama_sampler_reset(g->inner);
	g->key = g->grammar_hash;
}

static void g_free(struct llama_sampler *s)
{
	gsampler *g = s->ctx;
	if (!g)
		return;
	llama_sampler_free(g->inner);
	free(g->keep);
	free(g);
}

static struct llama_sampler *g_clone(const struct llama_sampler *s);

static struct llama_sampler_i g_iface = {
    .name = g_name,
    .accept = g_accept,
    .apply = g_apply,
    .reset = g_reset,
    .clone = g_clone,
    .free = g_free,
};

static struct llama_sampler *wrap(gcache *c, struct llama_sampler *inner,
				  uint64_t grammar_hash, uint64_t key)
{
	gsampler *g = calloc(1, sizeof(*g));
	struct llama_sampler *s = g ? llama_sampler_init(&g_iface, g) : NULL;
	if (!s) {
		free(g);
		llama_sampler_free(inner);
		return NULL;
	}
	g->cache = c;
	g->inner = inner;
	g->grammar_hash = grammar_hash;
	g->key = key;
	return s;
}

static struct llama_sampler *g_clone(const struct llama_sampler *s)
{
	const gsampler *g = s->ctx;
	struct llama_sampler *inner = llama_sampler_clone(g->inner);
	return inner ? wrap(g->cache, inner, g->grammar_hash, g->key) : NULL;
}

bool sd__gcache_is_sampler(const struct llama_sampler *s)
{
	return s && s->iface == &g_iface;
}

int32_t sd__gcache_allowed(const struct llama_sampler *s, const llama_token **allowed)
{
	const gsampler *g = s->ctx;
	bool found;
	gc_entry *e = find(g->cache, g->key, &found);
	if (!found)
		return -1;
	*allowed = e->allowed;
	return e->n;
}

struct llama_sampler *sd__gcache_sampler(gcache *c, const struct llama_vocab *vocab,
					 const char *grammar)
{
	struct llama_sampler *inner = llama_sampler_init_grammar(vocab, grammar, "root");
	if (!inner)
		return NULL;
	uint64_t h = sd__fnv1a64(grammar, strlen(grammar), SD_FNV1A64_INIT);
	if (!h)
		h = 1;
	return wrap(c, inner, h, h);
}

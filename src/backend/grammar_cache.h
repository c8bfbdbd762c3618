/*
 * Grammar sampling with memoised allowed sets. llama.cpp's grammar
 * sampler checks every one of a vocabulary's candidates (128k for
 * Llama 3) at every step, which costs far more than a step of a small
 * model. But the set of tokens a grammar allows depends only on the
 * grammar and the tokens accepted so far, not on the logits; label
 * grammars reach a handful of states, and thousands of requests share
 * them. So the set is computed once per (grammar, accepted tokens) with
 * llama.cpp's sampler and then applied by masking.
 */
#ifndef SD_BACKEND_GRAMMAR_CACHE_H
#define SD_BACKEND_GRAMMAR_CACHE_H

#include <llama.h>

typedef struct gcache gcache;

gcache *sd__gcache_new(void);
void sd__gcache_free(gcache *c);

/*
 * A sampler for the chain that enforces grammar (root rule "root"),
 * using and filling c (which must outlive it; single-threaded). It must
 * see the candidates in token order (first in the chain). NULL when the
 * grammar does not parse or on allocation failure.
 */
struct llama_sampler *sd__gcache_sampler(gcache *c, const struct llama_vocab *vocab,
					 const char *grammar);

/* Is s a sampler made by sd__gcache_sampler? */
bool sd__gcache_is_sampler(const struct llama_sampler *s);

/*
 * The tokens that the grammar of s (made by sd__gcache_sampler) allows next,
 * in ascending order, when its cache knows them: their count, with
 * *allowed pointing into the cache (valid until c is freed). -1 when
 * not known yet: the next full sampling step fills it in.
 */
int32_t sd__gcache_allowed(const struct llama_sampler *s, const llama_token **allowed);

#endif

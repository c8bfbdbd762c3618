/*
 * Internal layout of the embedded llama.cpp backend, shared by its files:
 * llama.c (the slot/batch engine and the backend's functions),
 * llama_chat.c (chat templates, tokenising) and llama_sampling.c (the
 * sampler chain, its plan and fast paths). See the top of llama.c for
 * how the engine batches and why its output is deterministic.
 */
#ifndef SD_BACKEND_LLAMA_INTERNAL_H
#define SD_BACKEND_LLAMA_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "llama.h"

#include "backend/backend.h"
#include "backend/grammar_cache.h"
#include "util/buf.h"

/* A submitted request waiting for a free sequence. */
typedef struct job {
	uint64_t tag;
	char *system_prompt;
	char *user_prompt;
	char *grammar; /* GBNF or NULL */
	sd_sampling sampling;
	struct job *next;
} job;

/* A repetition penalty window (see penalty_apply). */
typedef struct penalty {
	int32_t last_n;
	float repeat;
	llama_token *ring;   /* last_n entries */
	llama_token *sorted; /* scratch, last_n entries */
	int32_t head, n;
} penalty;

/* What a sequence of the shared context is doing. */
typedef enum slot_state {
	SLOT_FREE = 0, /* may hold a finished prompt as prefix cache */
	SLOT_PREFILL,  /* prompt tokens still to decode */
	SLOT_GEN       /* generating: one token per step */
} slot_state;

/* One sequence of the shared context. */
typedef struct slot {
	slot_state state;
	uint64_t tag;
	uint64_t admitted; /* admission number: prompts go oldest first */
	llama_seq_id seq;
	struct llama_sampler *smpl;
	/* fast path (see slot_sample): top-k size, the penalty member of
	   the chain (or NULL) and where the members after top-k start */
	int32_t fast_k;
	penalty *fast_pen;
	int32_t fast_tail;
	llama_token_data *cand; /* fast path: top-k candidates */
	int32_t cand_cap, n_cand;
	/* the chain's grammar (its first member), or NULL (see sample_allowed) */
	struct llama_sampler *gram;
	llama_token *prompt; /* the rendered prompt's tokens */
	size_t prompt_cap;
	int32_t n_prompt;
	int32_t n_cached; /* FREE: prompt tokens still in the KV cache */
	int32_t n_past;	  /* tokens of this sequence in the KV cache */
	int32_t n_reused; /* prompt tokens taken from a cache */
	int32_t n_sys;	  /* prompt tokens up to the user message */
	llama_token next; /* sampled but not yet decoded */
	int32_t n_gen;
	int32_t max_tokens;
	sd__buf text; /* raw bytes; repaired to UTF-8 at the end */
	int64_t t_start_us;
} slot;

/* Fewest prompt tokens worth a whole-stream copy from another sequence. */
#define MIN_PREFIX_COPY 32

/*
 * A prompt prefix of a finished request (up to its user message: chat
 * header and system prompt), kept in a KV stream of its own after the
 * slots' for later requests to copy (see the top of this file).
 */
typedef struct centry {
	llama_seq_id seq;
	llama_token *tok; /* the prefix; its cells hold nothing else */
	size_t cap;
	int32_t n;     /* 0: empty */
	uint64_t used; /* clock of the last insert or hit (LRU) */
} centry;

typedef struct lbackend {
	struct llama_model *model;
	struct llama_context *ctx;
	const struct llama_vocab *vocab;
	struct llama_batch batch;
	int32_t n_batch;
	int32_t n_seq;	  /* slots */
	int32_t n_stream; /* sequences of the context: n_seq slots, then
			     n_cache entries, or a spare when n_seq is 1,
			     partners need one and there is no entry */
	centry *cache;	  /* the prefix cache, streams n_seq.. */
	int32_t n_cache;
	uint64_t clock;
	bool partner;	    /* a lone generating row needs a partner */
	int32_t seq_budget; /* context cells available to one sequence */
	char *tmpl;	    /* name or template text for llama.cpp */
	char **stop;
	size_t n_stop;
	size_t max_stop_len;
	slot *slots;
	int32_t *order;	  /* scratch: prefilling slots, oldest first */
	int32_t *row;	  /* scratch: slot -> logits row, or -1 */
	float **rowp;	  /* scratch: the top-k passes' logits rows */
	llama_pos *dummy; /* scratch: sequence -> dummy position, or -1 */
	uint64_t n_admitted;
	job *pending_head, *pending_tail;
	/* finished replies, FIFO (ring grows as needed) */
	sd_reply *done;
	size_t done_cap, done_head, done_len;
	/* scratch for token pieces and a new prompt's tokens */
	char *piece;
	size_t piece_cap;
	llama_token *toks;
	size_t toks_cap;
	gcache *gcache;	   /* grammars' allowed sets, shared by requests */
	int32_t n_threads; /* also those of the top-k pass */
	/* where the time went, logged at debug level when freed */
	struct {
		int64_t n_prompt, n_reused, n_prompt_decodes, n_gen_steps, n_gen_rows,
		    n_copies, n_cache_hits, n_cache_puts, n_cache_evictions, n_user;
		int64_t us_admit, us_prefill, us_decode, us_sample;
	} prof;
} lbackend;

/* ---- llama_chat.c ---- */

/*
 * Render (system, user) with template tmpl into a new string (*out,
 * caller frees). Returns SD_OK, SD_ENOMEM, or SD_EBACKEND when llama.cpp
 * does not know the template.
 */
int sd__llama_render_chat(const char *tmpl, const char *system_prompt,
			  const char *user_prompt, char **out);
/* A template for messages: its name when built in, else the start of
 * its text in quotes. */
void sd__llama_describe_template(const char *tmpl, char *buf, size_t size);
/*
 * Tokenize text into *toks (*cap entries, grown as needed); *n gets the
 * count. Returns SD_OK, SD_EINVAL, SD_ENOMEM or SD_EBACKEND.
 */
int sd__llama_tokenize(const lbackend *s, const char *text, llama_token **toks,
		       size_t *cap, int32_t *n);

/* ---- llama_sampling.c ---- */

/* A request's sampler chain and how slot_sample may run it. */
typedef struct sampler_plan {
	struct llama_sampler *chain; /* caller frees (llama_sampler_free) */
	struct llama_sampler *gram;  /* the chain's grammar member when its
					allowed sets are cached, or NULL */
	int32_t fast_k;		     /* fast path: top-k; 0 = no fast path */
	penalty *fast_pen;	     /* fast path: the penalty, or NULL */
	int32_t fast_tail;	     /* fast path: first member after top-k */
} sampler_plan;

/*
 * Build the chain for sampling sp (and grammar, GBNF or NULL) into *plan.
 * Returns SD_OK, SD_ENOMEM, or SD_EINVAL when llama.cpp refuses the
 * grammar; plan->chain is NULL unless SD_OK.
 */
int sd__llama_sampler_plan(const sd_sampling *sp, lbackend *s, const char *grammar,
			   sampler_plan *plan);
/*
 * The fast path's penalty and top-k on a logits row (the row is changed);
 * leaves sl->cand sorted, best first. Touches only sl and the row.
 */
void sd__llama_top_k_pass(slot *sl, float *logits, int32_t n_vocab);
/* The chain's members after top-k on the candidates of the top-k pass. */
llama_token sd__llama_sample_fast(slot *sl);
/* With a grammar whose allowed set is known: the members after it on the
 * allowed tokens only. -1 when the set is not known yet. */
llama_token sd__llama_sample_allowed(lbackend *s, slot *sl, int32_t idx);
/* Does the grammar allow only end-of-generation tokens now (when known)? */
bool sd__llama_grammar_done(const lbackend *s, const slot *sl);

#endif

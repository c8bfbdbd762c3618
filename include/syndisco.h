/*
 * syndisco.h - synthetic online discussions between LLM agents (C11 API).
 *
 * Sections, in the order of the library's layers (docs/CONTRIBUTING.md
 * has the map of src/):
 *  - core: personas, actors, turn managers, discussions and annotations
 *    as next/accept state machines, logs, label specs; no I/O, never
 *    calls a backend;
 *  - backends: one interface over embedded llama.cpp, an OpenAI-compatible
 *    HTTP server and a scripted backend; sd_global_init() for the
 *    process-wide set-up;
 *  - run: files, configs, experiments and annotation runs (resumable,
 *    sharded), their status, and sd_discussion_run();
 *  - analysis: datasets of logs and annotations, export, summary, report.
 * Test aids (a tiny model writer) are marked as such.
 *
 * Conventions
 *  - Every function that can fail returns an int: SD_OK (0) or a negative
 *    SD_E* code. sd_strerror() names the code. The human-readable message
 *    goes into the caller's sd_error (may be NULL) or lives on the handle.
 *  - Every *_free(NULL) is a harmless no-op.
 *  - A type's constructors share one shape: either all return the handle
 *    (NULL on failure, err filled: personas, actors, backends, turn
 *    managers, discussions, annotations, jobs), or all return a status
 *    and the handle in *out, NULL on failure (logs, label specs, configs,
 *    experiments, annotation runs, datasets). The comment of each says
 *    which function frees what it returns.
 *  - Strings are UTF-8. Returned char* that the caller must free are freed
 *    with sd_free(). Borrowed pointers say until when they stay valid.
 *  - No function prints, exits or aborts on bad input.
 *  - Handles are not thread-safe; use one handle per thread.
 */
#ifndef SYNDISCO_H
#define SYNDISCO_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The version of this header; sd_version() is the library's. */
#define SD_VERSION_MAJOR 0
#define SD_VERSION_MINOR 1
#define SD_VERSION_PATCH 0
#define SD_VERSION_STRING "0.1.0"
/* MAJOR * 10000 + MINOR * 100 + PATCH, for #if comparisons */
#define SD_VERSION_NUMBER                                                                \
	(SD_VERSION_MAJOR * 10000 + SD_VERSION_MINOR * 100 + SD_VERSION_PATCH)

/* The library's version, "MAJOR.MINOR.PATCH" (static string); equal to
 * SD_VERSION_STRING when header and library match. */
const char *sd_version(void);

/* ------------------------------------------------------------------ */
/* Status codes and errors                                            */
/* ------------------------------------------------------------------ */

enum {
	SD_OK = 0,
	SD_EINVAL = -1,	  /* invalid argument or input value */
	SD_ENOMEM = -2,	  /* allocation failed */
	SD_EIO = -3,	  /* file could not be read or written */
	SD_EPARSE = -4,	  /* malformed JSON or file format */
	SD_EBACKEND = -5, /* generation engine failed */
	SD_ESTATE = -6,	  /* call not allowed in the object's current state */
	SD_ENOTFOUND = -7 /* file, key or entry does not exist */
};

/* Static string naming a status code ("invalid argument", ...). */
const char *sd_strerror(int status);

/*
 * Where a failure happened and why. Filled by functions that take one;
 * `source` is a file name or other origin ("<config>"), `line`/`column`
 * are 1-based (0 when unknown), `field` is a JSON path such as
 * "personas[2].username" (empty when not applicable).
 */
typedef struct sd_error {
	int code;
	int line;
	int column;
	char source[256];
	char field[128];
	char text[512];
} sd_error;

/* Clear an error struct (safe on NULL). */
void sd_error_clear(sd_error *err);

/*
 * Format "source:line:column: field: text" into buf (at most size bytes,
 * always NUL-terminated); parts that are unknown are left out. Returns buf.
 */
const char *sd_error_format(const sd_error *err, char *buf, size_t size);

typedef enum sd_log_level {
	SD_LOG_ERROR = 0,
	SD_LOG_WARN = 1,
	SD_LOG_INFO = 2,
	SD_LOG_DEBUG = 3
} sd_log_level;

/*
 * A log sink: one line per call, without a trailing newline. msg is
 * borrowed for the call only. Lines never contain API keys.
 */
typedef void (*sd_log_fn)(sd_log_level level, const char *msg, void *ud);

/* Free memory returned by this library (strings, arrays). NULL is ok. */
void sd_free(void *p);

/*
 * Process-wide set-up of the dependencies (llama.cpp backend, its log
 * sink). Call once before creating a llama backend; calling it more than
 * once is harmless. `quiet` silences llama.cpp's own log lines except
 * errors. libcurl's process-wide set-up is reference-counted by each
 * openai backend (curl_global_init/cleanup in create/free); a program
 * that uses libcurl itself on other threads should call
 * curl_global_init() once at start, before any backend exists.
 */
void sd_global_init(bool quiet);
/* Undo sd_global_init() (after every llama backend is freed); harmless
 * when it was not called. */
void sd_global_free(void);

/* ------------------------------------------------------------------ */
/* Persona                                                            */
/* ------------------------------------------------------------------ */

/*
 * A persona is any JSON object with a non-empty string "username". Usual
 * fields: username, age, sex, sexual_orientation, demographic_group,
 * current_employment, education_level, special_instructions,
 * personality_characteristics[]. Unknown fields are kept, in order.
 */
typedef struct sd_persona sd_persona;

/* Parse one persona from JSON text. Caller frees with sd_persona_free(). */
sd_persona *sd_persona_from_json(const char *json_text, sd_error *err);

/*
 * SynDisco 2.2.1's persona: any JSON object, "username" not required
 * (2.2.1 actors carry their own name; the Python package's Actor(persona=
 * {...})). Only for actors of the 2.2.1 profile. Caller frees.
 */
sd_persona *sd_persona_from_json_object(const char *json_text, sd_error *err);

/*
 * Parse a JSON array of personas. On success *out is an array of *n
 * personas; caller frees it with sd_persona_array_free(*out, *n).
 * `source` names the origin in error messages (e.g. the file name).
 */
int sd_persona_array_from_json(const char *json_text, const char *source,
			       sd_persona ***out, size_t *n, sd_error *err);

/* Copy a persona. Caller frees the result. NULL on allocation failure. */
sd_persona *sd_persona_copy(const sd_persona *p);

/* Borrowed; valid until the persona is freed. */
const char *sd_persona_username(const sd_persona *p);

/*
 * Set the username (a copy is kept). Used for random usernames.
 * Returns SD_EINVAL for an empty name.
 */
int sd_persona_set_username(sd_persona *p, const char *username);

/*
 * The persona as a compact JSON object with empty fields (empty strings,
 * null, empty arrays and objects) left out, as it appears in prompts.
 * Caller frees with sd_free(). NULL on allocation failure.
 */
char *sd_persona_to_prompt_json(const sd_persona *p);

void sd_persona_free(sd_persona *p);
void sd_persona_array_free(sd_persona **arr, size_t n);

/* ------------------------------------------------------------------ */
/* Prompt templates and actors                                        */
/* ------------------------------------------------------------------ */

/*
 * SynDisco profiles: which SynDisco version's observable behaviour a
 * discussion or annotation reproduces, byte for byte (docs/syndisco-compat.md):
 * prompts, history entries, reply post-processing, blank turns, moderator
 * scheduling, seed opinions and the file format.
 */
typedef enum sd_profile {
	SD_PROFILE_SEED = 0,  /* the "Creating a Discussion" guide (b4d385b) */
	SD_PROFILE_2_0_8 = 1, /* the version of the published study */
	SD_PROFILE_2_2_1 = 2  /* current SynDisco; the default */
} sd_profile;

#define SD_PROFILE_DEFAULT SD_PROFILE_2_2_1
/* The known names, for error messages: "seed, 2.0.8, 2.2.1". */
#define SD_PROFILE_NAMES "seed, 2.0.8, 2.2.1"

/* "seed" | "2.0.8" | "2.2.1" -> *out; SD_EINVAL for anything else. */
int sd_profile_from_name(const char *name, sd_profile *out);
/* Static name of a profile ("2.2.1"); "unknown" for a bad value. */
const char *sd_profile_name(sd_profile p);

/*
 * Templates override a profile's prompt pieces; NULL keeps the profile's.
 * Placeholders: {name}, {text} (history_entry; {text} is the comment
 * wrapped as the profile wraps it) and {history}, {name}
 * (user_prompt, annotator_prompt). "{{" is a literal "{". A blank comment
 * is always the empty entry. The profiles' own pieces:
 *   history_entry    seed, 2.0.8: "User {name} posted:\n{text}" (width 70)
 *                    2.2.1: "Comment by user {name}: \"\n{text}\""
 *   history_sep      "\n"
 *   user_prompt      seed, 2.0.8: "{history}\nUser {name} posted:"
 *                    2.2.1: "Comments so far: {history}.\nYour comment:"
 *   annotator_prompt seed: "Conversation so far:\n\n{history}\nOutput:"
 *                    2.0.8: "Conversation so far:\n{history}\nOutput:"
 *                    2.2.1: "Comments so far: {history}.\nYour annotation:"
 * wrap_user_json: -1 (default) the profile's (2.x send the user prompt as
 * the JSON text {"role": "user", "content": ...}, seed sends it plain),
 * 0 plain, 1 wrapped.
 */
typedef struct sd_prompt_templates {
	const char *history_entry;
	const char *history_sep;
	const char *user_prompt;
	const char *annotator_prompt;
	int wrap_user_json;
} sd_prompt_templates;

/* All NULL and wrap_user_json = -1: the profile decides everything. */
sd_prompt_templates sd_prompt_templates_default(void);

typedef enum sd_actor_kind { SD_ACTOR_USER = 0, SD_ACTOR_ANNOTATOR = 1 } sd_actor_kind;

typedef struct sd_actor_params {
	const sd_persona *persona;     /* copied; NULL = {} (2.2.1 only) */
	const char *name;	       /* the actor's name; NULL = the
					  persona's username, else "<Unnamed>"
					  (2.0.8 always uses the username) */
	const char *model_name;	       /* logged as "model"; default "unknown" */
	const char *context;	       /* default "" */
	const char *instructions;      /* default "" */
	sd_actor_kind kind;	       /* default SD_ACTOR_USER */
	sd_profile profile;	       /* default SD_PROFILE_DEFAULT */
	sd_prompt_templates templates; /* default sd_prompt_templates_default() */
	/* SynDisco's remove_string_list: removed from every reply, in order,
	   after the profile's strip (2.x); copied */
	const char *const *remove_strings;
	size_t n_remove_strings;
	int32_t textwrap_len; /* 2.2.1 history wrap width; 900000 */
} sd_actor_params;

sd_actor_params sd_actor_default_params(void);

typedef struct sd_actor sd_actor;

/* Caller frees with sd_actor_free(). All strings are copied. */
sd_actor *sd_actor_create(const sd_actor_params *params, sd_error *err);
void sd_actor_free(sd_actor *a);

/* Borrowed; valid until the actor is freed. */
const char *sd_actor_name(const sd_actor *a);
const char *sd_actor_model_name(const sd_actor *a);
const sd_persona *sd_actor_persona(const sd_actor *a);

/*
 * The system prompt of the actor's profile: seed, plain text
 * "{context} Your name is {name}. Your traits: ... Your instructions: ...";
 * 2.x, JSON {"context", "instructions", "type", "persona"} as Python's
 * json.dumps writes it. Caller frees with sd_free().
 */
int sd_actor_system_prompt(const sd_actor *a, char **out);

/* One comment as the history shows it. */
typedef struct sd_comment_view {
	const char *name;
	const char *text;
} sd_comment_view;

/*
 * The user prompt for the given history (oldest first, already cut to the
 * window), each comment formatted as the profile's history entry. Caller
 * frees *out with sd_free().
 */
int sd_actor_user_prompt(const sd_actor *a, const sd_comment_view *history,
			 size_t n_history, char **out);

/* ------------------------------------------------------------------ */
/* Generation requests (the seam between core and backends)           */
/* ------------------------------------------------------------------ */

typedef struct sd_sampling {
	int32_t max_tokens;    /* default 256 */
	float temperature;     /* default 0.8; 0 = greedy */
	float top_p;	       /* default 0.95 */
	int32_t top_k;	       /* default 40; 0 = off */
	float min_p;	       /* default 0.05 */
	float repeat_penalty;  /* default 1.1; 1 = off */
	int32_t repeat_last_n; /* default 64 */
	uint32_t seed;	       /* per request; set by the discussion */
} sd_sampling;

sd_sampling sd_sampling_default(void);

/*
 * One generation request. Strings are borrowed from whoever offered it
 * (a discussion) and stay valid until the matching accept or the
 * discussion is freed; backends copy what they keep.
 */
typedef struct sd_request {
	uint64_t tag; /* caller's tag, returned with the reply */
	const char *system_prompt;
	const char *user_prompt;
	sd_sampling sampling;
	/* optional GBNF grammar (llama.cpp syntax, root rule "root") the
	   reply must match; NULL = free text. llama enforces it with its
	   grammar sampler; openai sends it as the server's grammar field. */
	const char *grammar;
} sd_request;

/* A finished generation. text is owned by the reply (sd_reply_clear). */
typedef struct sd_reply {
	uint64_t tag;
	int status;  /* SD_OK or error code */
	char *text;  /* valid UTF-8; NULL when status != SD_OK */
	char *error; /* message when status != SD_OK */
	int32_t n_prompt_tokens;
	int32_t n_gen_tokens;
	double seconds; /* time from admission to finish */
	/* of n_prompt_tokens, those taken from a cache instead of decoded
	   (the backend's prefix cache, or what a server reports as
	   cached_tokens); 0 when none or unknown */
	int32_t n_prompt_cached;
} sd_reply;

/* Free the strings of a reply and zero it. */
void sd_reply_clear(sd_reply *r);

/* ------------------------------------------------------------------ */
/* Backends                                                           */
/* ------------------------------------------------------------------ */

typedef struct sd_backend sd_backend;

/*
 * Submit a request. The backend copies the strings. Many requests may be
 * in flight; the backend decides how many it works on at once.
 * Returns SD_OK, SD_EINVAL or SD_ENOMEM.
 */
int sd_backend_submit(sd_backend *b, const sd_request *req);

/*
 * The number of tokens of text in the backend's tokenizer, no BOS added
 * (llama: the model's; scripted: a stand-in, one token per 4 bytes,
 * rounded up). ud is the sd_backend: the signature of sd_token_count_fn.
 * Returns the count, SD_EINVAL, or SD_ESTATE when the backend has no
 * tokenizer (openai).
 */
int sd_backend_token_counter(const char *text, void *backend);

/*
 * Do one unit of work (one decode step for llama). Returns the number of
 * requests still pending or active (>= 0), or a negative error code for a
 * failure of the whole backend.
 */
int sd_backend_step(sd_backend *b);

/*
 * Take one finished reply, if any: returns 1 and fills *out (caller owns
 * it; sd_reply_clear), or 0 when none is ready.
 */
int sd_backend_collect(sd_backend *b, sd_reply *out);

/*
 * Drop a pending or active request, or a finished reply not yet
 * collected; its reply is never delivered. Returns SD_OK, SD_ENOTFOUND
 * when no request with that tag is known (never submitted, or already
 * collected), SD_EINVAL when b is NULL.
 */
int sd_backend_cancel(sd_backend *b, uint64_t tag);

/* The model name logged with each comment. Borrowed. */
const char *sd_backend_model_name(const sd_backend *b);

/* Message of the last backend failure ("" if none). Borrowed. */
const char *sd_backend_last_error(const sd_backend *b);

/*
 * Send the backend's own log lines (retries, endpoint health, at debug
 * level the raw replies) to fn; NULL (the default) drops them. Lines never
 * contain API keys. Backends with nothing to say (scripted) ignore it.
 */
void sd_backend_set_log(sd_backend *b, sd_log_fn fn, void *ud);

/* Free a backend made by any sd_backend_*_create() (or a config's
 * open_backend), with its requests and replies; NULL is a no-op. */
void sd_backend_free(sd_backend *b);

/*
 * Render the chat prompt the model would receive for (system, user), with
 * the backend's chat template. Caller frees *out. SD_ESTATE for backends
 * without a chat template (scripted).
 */
int sd_backend_format_chat(sd_backend *b, const char *system_prompt,
			   const char *user_prompt, char **out);

/* Scripted backend: canned replies, for tests and --dry-run. */
typedef enum sd_scripted_mode {
	SD_SCRIPTED_LIST = 0, /* replies[i % n_replies] for the i-th request */
	SD_SCRIPTED_ECHO = 1  /* "echo <hash of prompt>: " + its last line */
} sd_scripted_mode;

typedef struct sd_scripted_params {
	sd_scripted_mode mode;
	const char *const *replies; /* copied */
	size_t n_replies;
	const char *model_name; /* default "scripted" */
	int max_active;		/* replies finished per step; default 64 */
} sd_scripted_params;

sd_scripted_params sd_scripted_default_params(void);
/* NULL on failure (err filled). Caller frees with sd_backend_free(). */
sd_backend *sd_backend_scripted_create(const sd_scripted_params *p, sd_error *err);

/* Embedded llama.cpp backend. */
typedef struct sd_llama_params {
	const char *model_path;		    /* required: a GGUF file */
	const char *model_name;		    /* logged; default: file name w/o .gguf */
	int32_t n_ctx;			    /* total context, all sequences; 4096 */
	int32_t n_seq_max;		    /* sequences decoded together; default 1 */
	int32_t n_batch;		    /* default 512 */
	int32_t n_threads;		    /* default: OMP_NUM_THREADS, else the
					       CPUs this process may run on
					       (affinity: Slurm, taskset) */
	int32_t n_gpu_layers;		    /* default 0; -1 = all */
	const char *chat_template;	    /* override: a built-in name ("llama3",
					       "chatml", ...) or template text; NULL =
					       the model's own, else fallback */
	const char *fallback_chat_template; /* used when the model has none;
					       default "llama3" */
	const char *const *stop;	    /* stop strings, copied */
	size_t n_stop;
	/* prompt prefixes (chat header, system prompt) kept for later
	   requests, each in a KV stream of its own of n_ctx / n_seq_max
	   cells, least recently used evicted first: 0 = none, -1 (the
	   default) = 4 per sequence, at least 16, as far as 1 GiB of f16
	   KV goes, at least 4. KV memory grows by that many streams;
	   replies are the same bytes with or without it */
	int32_t n_prefix_cache;
} sd_llama_params;

sd_llama_params sd_llama_default_params(void);

/*
 * Load the model and create a context. Needs sd_global_init(). Errors
 * name the file: SD_ENOTFOUND (missing), SD_EPARSE (not GGUF),
 * SD_EBACKEND (llama.cpp refused it); NULL then. Caller frees with
 * sd_backend_free().
 */
sd_backend *sd_backend_llama_create(const sd_llama_params *p, sd_error *err);

/*
 * Check a GBNF grammar (llama.cpp's syntax, root rule "root") without a
 * model: SD_OK, or SD_EPARSE with llama.cpp's reason in msg. Grammars
 * that name tokens (<...>) need a vocabulary and fail here.
 */
int sd_grammar_check(const char *gbnf, char *msg, size_t size);

/*
 * OpenAI-compatible HTTP backend: POST {base_url}/chat/completions with a
 * system and a user message, for vLLM, TGI, SGLang, llama-server, Ollama
 * or a hosted API. Many requests are in flight at once from the calling
 * thread (libcurl's multi interface); sd_backend_step() waits on the
 * network for at most about 100 ms. Requests go to the endpoint with the
 * fewest outstanding requests. Connection errors, timeouts, HTTP 408, 429
 * and 5xx and unparsable replies are retried with exponential backoff and
 * jitter (Retry-After honoured); other 4xx fail at once with the server's
 * message. An endpoint that fails repeatedly is rested and probed later;
 * while every endpoint is down, requests wait, and fail once that has
 * lasted down_deadline seconds. A reply whose JSON lacks "choices", or
 * whose content is null, not a string or empty, is an error.
 */
typedef struct sd_openai_params {
	const char *const *base_urls; /* required, copied: e.g.
					 "http://127.0.0.1:8080/v1" */
	size_t n_base_urls;	      /* >= 1 */
	const char *model;	      /* required: the name the server serves */
	const char *model_name;	      /* logged as "model"; default: model */
	const char *api_key;	      /* sent as "Authorization: Bearer ...";
					 NULL = none. Copied; never logged */
	int32_t max_tokens;	      /* > 0: overrides each request's; 0 */
	float temperature;	      /* >= 0: overrides; default -1 */
	float top_p;		      /* >= 0: overrides; default -1 */
	bool send_seed;		      /* send each request's seed; true */
	const char *const *stop;      /* stop strings, copied */
	size_t n_stop;
	const char *extra_body;	   /* JSON object text merged into every
				      request body (its keys win); NULL */
	const char *grammar_field; /* body field for a request's grammar:
				      "grammar" (default, llama-server),
				      "guided_grammar" (vLLM); NULL = never
				      send one */
	double request_timeout;	   /* seconds per attempt; default 600 */
	double connect_timeout;	   /* seconds; default 10 */
	int32_t max_in_flight;	   /* per endpoint; 0 = no limit (default):
				      the caller's parallelism decides */
	int32_t max_retries;	   /* retries per request; default 8 */
	double backoff_initial;	   /* first retry delay, seconds; 0.5 */
	double backoff_max;	   /* cap on a retry delay; default 30 */
	double down_deadline;	   /* seconds all endpoints may be down
				      before waiting requests fail; 600;
				      0 = wait for ever */
} sd_openai_params;

sd_openai_params sd_openai_default_params(void);

/*
 * Check the parameters and set up the HTTP client; nothing is sent until
 * the first request. SD_EINVAL names the bad field in err->field
 * ("base_urls[1]", "extra_body", ...). Caller frees with sd_backend_free().
 * Calls curl_global_init() (reference-counted; see sd_global_init()).
 */
sd_backend *sd_backend_openai_create(const sd_openai_params *p, sd_error *err);

/*
 * TEST AID, not for real work: write a tiny random-weight llama model
 * with a real tokenizer taken from a vocab-only GGUF (e.g. llama.cpp's
 * models/ggml-vocab-llama-bpe.gguf), for tests and demos without a
 * download (`syndisco make-test-model`). Its replies are gibberish.
 */
typedef struct sd_test_model_params {
	const char *vocab_path; /* required */
	uint64_t seed;		/* weights; default 42 */
	int32_t n_embd;		/* 64 */
	int32_t n_layer;	/* 2 */
	int32_t n_head;		/* 4 */
	int32_t n_head_kv;	/* 2 */
	int32_t n_ff;		/* 128 */
	int32_t n_ctx_train;	/* 4096 */
	const char *type;	/* "f32" (default), "f16", "q8_0", "q4_k" */
} sd_test_model_params;

sd_test_model_params sd_test_model_default_params(void);

/* TEST AID. Atomically writes out_path (temp file + rename); reloads it to
 * check. Returns SD_OK or an error code naming the file in err. */
int sd_make_test_model(const sd_test_model_params *p, const char *out_path,
		       sd_error *err);

/* ------------------------------------------------------------------ */
/* Turn managers                                                      */
/* ------------------------------------------------------------------ */

typedef enum sd_turn_kind {
	SD_TURN_ROUND_ROBIN = 0,
	SD_TURN_RANDOM = 1,  /* uniform, never the last speaker twice */
	SD_TURN_RESPOND = 2, /* p_respond: second-to-last speaker answers */
	SD_TURN_ORDER = 3,   /* an explicit order of user indices, cycled */
	SD_TURN_MENTION = 4, /* the user the last comment @-addresses (with
				p_mention), else the fallback manager */
	SD_TURN_DIRECTOR = 5 /* a model names the next speaker: the
				discussion offers a director request first */
} sd_turn_kind;

typedef struct sd_turn_params {
	sd_turn_kind kind;
	double p_respond;    /* respond only; in [0, 1]; default 0.5 */
	bool random_first;   /* round robin: random first speaker */
	uint64_t seed;	     /* the manager's own RNG */
	const size_t *order; /* order only: user indices, copied; each
				< n_users; used in turn and cycled */
	size_t n_order;	     /* order only: >= 1 */
	/* mention (docs/turns.md) */
	double p_mention;      /* chance of following a valid @mention, in
				  [0, 1]; default 1 */
	sd_turn_kind fallback; /* round_robin, random or respond: who speaks
				  when the mention is not followed; default
				  random (p_respond and random_first apply) */
	/* director (docs/turns.md) */
	const char *director_instructions; /* the director's system prompt;
					      NULL: the default; copied */
	bool exclude_last_speaker;	   /* never the previous speaker */
	int32_t silent_turns;		   /* > 0: only users who have not spoken in the
					      last silent_turns user turns; 0 = off */
} sd_turn_params;

sd_turn_params sd_turn_default_params(void);

/* Parse "round_robin" | "random" | "respond" (SynDisco aliases too). */
int sd_turn_kind_from_name(const char *name, sd_turn_kind *out);
const char *sd_turn_kind_name(sd_turn_kind kind);

typedef struct sd_turn_manager sd_turn_manager;

/* n_users >= 1 (random/respond need >= 2). Caller frees. */
sd_turn_manager *sd_turn_manager_create(const sd_turn_params *p, size_t n_users,
					sd_error *err);
/* Index of the next speaker in [0, n_users). For a director, a uniform
 * pick among the allowed candidates (what a discussion falls back on when
 * the director's reply names nobody). */
size_t sd_turn_manager_next(sd_turn_manager *tm);
void sd_turn_manager_free(sd_turn_manager *tm);

sd_turn_kind sd_turn_manager_kind(const sd_turn_manager *tm);
/*
 * Who chose the speaker the last sd_turn_manager_next() or
 * sd_turn_manager_record() returned or took: "mention", "director",
 * "director_fallback" or the kind's name ("random" when a mention manager
 * fell back to random). Static string.
 */
const char *sd_turn_manager_chooser(const sd_turn_manager *tm);
/*
 * Mention managers: the user the latest comment addresses (SIZE_MAX: none
 * or no valid one). A discussion calls it after every turn and seed
 * opinion; other kinds ignore it.
 */
void sd_turn_manager_observe_mention(sd_turn_manager *tm, size_t user);
/*
 * Director: allowed[0..n_users) says who may speak next (the
 * restrictions; relaxed, silent_turns first, when they leave nobody).
 * Returns how many are allowed (>= 1).
 */
size_t sd_turn_manager_candidates(const sd_turn_manager *tm, bool *allowed);
/* Director: the speaker a director chose (chooser: a static string). */
void sd_turn_manager_record(sd_turn_manager *tm, size_t user, const char *chooser);
/* Director: its system prompt (borrowed; the default when none given). */
const char *sd_turn_manager_director_instructions(const sd_turn_manager *tm);
/* The default director system prompt. Static string. */
const char *sd_director_default_instructions(void);

/*
 * The user a comment addresses: the first "@name" in text naming one of
 * names[0..n) other than author (author may be NULL). The longest name
 * wins (names that are prefixes of others), letters compare without case
 * (Latin, Greek, Cyrillic), and the name must end the mention (what
 * follows is not a letter, digit, "_" or a "-" joining more of a name).
 * *out gets the index, or SIZE_MAX when nobody valid is addressed.
 * Returns SD_OK, SD_EINVAL (NULL out) or SD_ENOMEM.
 */
int sd_mention_find(const char *text, const char *const *names, size_t n,
		    const char *author, size_t *out);

/* ------------------------------------------------------------------ */
/* Discussion logs                                                    */
/* ------------------------------------------------------------------ */

/*
 * A discussion log: SynDisco 2.x fields, the seed guide's metadata and
 * ours. Reading accepts SynDisco's files as they are.
 */
typedef struct sd_logs sd_logs;

typedef struct sd_log_comment {
	const char *name; /* speaker */
	const char *text;
	const char *model;	 /* "hardcoded" for seed opinions */
	const char *prompt;	 /* SynDisco 2.2.1's "prompt": the speaker's
				    system prompt; may be NULL */
	const char *user_prompt; /* the user prompt that produced it (ours);
				    NULL for seed opinions and old logs */
	bool is_moderator;
	int32_t n_prompt_tokens; /* -1 unknown */
	int32_t n_gen_tokens;	 /* -1 unknown */
} sd_log_comment;

/*
 * Parse a log (SynDisco's or ours); source names it in errors. Returns
 * SD_OK with *out (caller frees with sd_logs_free()), or SD_EPARSE
 * (malformed JSON), SD_EINVAL (not a discussion log: the field is named)
 * or SD_ENOMEM, with *out NULL.
 */
int sd_logs_from_json(const char *json_text, const char *source, sd_logs **out,
		      sd_error *err);

/*
 * Serialize as the log's profile writes it (docs/logs.md): SynDisco's
 * keys first, byte for byte as that version's json.dump(indent=4) (ASCII
 * only, no final newline), then our extra top-level fields. Caller frees
 * *out with sd_free().
 */
int sd_logs_to_json(const sd_logs *l, char **out);
/* The profile the log is written in (read logs: detected from shape). */
sd_profile sd_logs_profile(const sd_logs *l);

size_t sd_logs_comment_count(const sd_logs *l);
/* Borrowed views; valid until the logs are changed or freed. */
sd_log_comment sd_logs_comment(const sd_logs *l, size_t i);
const char *sd_logs_id(const sd_logs *l);
const char *sd_logs_timestamp(const sd_logs *l);
const char *sd_logs_moderator(const sd_logs *l); /* NULL: none */
size_t sd_logs_user_count(const sd_logs *l);
const char *sd_logs_user(const sd_logs *l, size_t i);
int32_t sd_logs_ctx_length(const sd_logs *l);
uint64_t sd_logs_seed(const sd_logs *l);

/*
 * A key naming the discussion stably across re-runs: for logs written by
 * `syndisco run`, "<config_digest>/<cell>/<index>" (the same whatever
 * the random id); otherwise the log's "id" (SynDisco's files). Writes at
 * most size bytes into buf (>= 128 recommended). Returns SD_EPARSE when
 * the log has neither.
 */
int sd_logs_discussion_key(const sd_logs *l, char *buf, size_t size);

/*
 * The id of comment `order` (0-based position in "logs"): 16 lowercase
 * hex digits of FNV-1a-64 over the discussion key, "\n" and the decimal
 * order. Stable across runs; joins annotations to comments. buf >= 17.
 */
int sd_logs_message_id(const sd_logs *l, size_t order, char buf[17]);

/* Set metadata that core cannot know (it has no clock). Copies. */
int sd_logs_set_id(sd_logs *l, const char *id);
int sd_logs_set_timestamp(sd_logs *l, const char *timestamp);
/* Extra field kept in the JSON under "extra" (takes a JSON text). */
int sd_logs_set_extra(sd_logs *l, const char *key, const char *json_text);

void sd_logs_free(sd_logs *l);

/* ------------------------------------------------------------------ */
/* Discussion (a state machine: offer a request, accept its reply)    */
/* ------------------------------------------------------------------ */

typedef struct sd_seed_opinion {
	const char *username;
	const char *text;
} sd_seed_opinion;

typedef struct sd_discussion_params {
	int32_t conv_len;	    /* prompted user turns; default 5 */
	int32_t history_ctx_len;    /* comments shown (>= 0); default 5 */
	int32_t history_ctx_tokens; /* > 0: also at most this many tokens of
				       history entries (needs a token
				       counter); 0 = off */
	uint64_t seed;		    /* sampler seeds derive from it */
	sd_sampling sampling;	    /* per-request sampling (seed overwritten) */
	const sd_seed_opinion *seed_opinions; /* copied; may be NULL */
	size_t n_seed_opinions;
} sd_discussion_params;

sd_discussion_params sd_discussion_default_params(void);

typedef struct sd_discussion sd_discussion;

/*
 * Borrows the actors and the turn manager: they must outlive the
 * discussion. The turn manager must have been created for n_users.
 * moderator may be NULL, and may also be one of the users (the seed
 * guide). Every actor must have the same profile; the discussion follows
 * it (seed opinions, blank turns, moderator, log format). The same actor
 * may appear twice; two different actors with one name only under 2.2.1.
 * history_ctx_len may be 0 (no history). NULL on failure (err filled).
 * Caller frees with sd_discussion_free().
 */
sd_discussion *sd_discussion_create(const sd_discussion_params *p, sd_actor *const *users,
				    size_t n_users, sd_actor *moderator,
				    sd_turn_manager *tm, sd_error *err);

/*
 * Offer the next request. Returns 1 and fills *req (strings borrowed until
 * the matching accept), 0 when the discussion is over, or an error. Calling
 * it again before accept offers the same request.
 */
int sd_discussion_next(sd_discussion *d, sd_request *req);

/*
 * Accept the reply to the offered request. text may be invalid UTF-8; it
 * is repaired, then post-processed as the profile does (2.x strip, then
 * the speaker's remove_strings). A blank user reply is not logged (the
 * turn still counts); seed and 2.0.8 log a blank moderator reply. reply
 * may carry token counts (may be NULL).
 */
int sd_discussion_accept(sd_discussion *d, const char *text, const sd_reply *reply);

/* True once sd_discussion_next() returned 0. */
bool sd_discussion_done(const sd_discussion *d);

/* Speaker of the offered request (borrowed), NULL if none offered. */
const char *sd_discussion_pending_speaker(const sd_discussion *d);

/* The log so far (borrowed; valid until the discussion is freed). */
const sd_logs *sd_discussion_logs(const sd_discussion *d);
/* The same log, writable (to set its id, timestamp or extra fields
 * before saving); borrowed, freed with the discussion. */
sd_logs *sd_discussion_logs_mut(sd_discussion *d);

/*
 * Comment i as SynDisco prints it (verbose): its history entry, to be
 * followed by " \n\n"; NULL when the profile does not print it (2.2.1
 * seed opinions) or i is out of range. Borrowed; valid until the
 * discussion is freed.
 */
const char *sd_discussion_display(const sd_discussion *d, size_t i);

/*
 * Called with every request the discussion offers, once, when it is
 * first offered (speaker name and role "turn" or "moderator" borrowed
 * for the call). For tracing and replay checks.
 */
typedef void (*sd_request_hook)(const char *speaker, const char *role,
				const sd_request *req, void *ud);
void sd_discussion_set_request_hook(sd_discussion *d, sd_request_hook hook, void *ud);

/*
 * Counts the tokens of text as the model's tokenizer does (no BOS).
 * Returns the count (>= 0) or a negative SD_E* code.
 */
typedef int (*sd_token_count_fn)(const char *text, void *ud);
/*
 * The tokenizer that history_ctx_tokens measures with (e.g.
 * sd_backend_token_counter with the backend as ud). Without one, a
 * discussion with history_ctx_tokens fails its next turn with SD_ESTATE.
 */
void sd_discussion_set_token_counter(sd_discussion *d, sd_token_count_fn fn, void *ud);

/* Called by sd_discussion_run for each logged comment, in log order (seed
 * opinions logged at creation included). */
typedef void (*sd_comment_cb)(const sd_log_comment *c, void *ud);

/*
 * Blocking convenience: loop next -> backend submit/step/collect ->
 * accept until done. on_comment may be NULL.
 */
int sd_discussion_run(sd_discussion *d, sd_backend *b, sd_comment_cb on_comment, void *ud,
		      sd_error *err);

void sd_discussion_free(sd_discussion *d);

/* ------------------------------------------------------------------ */
/* Labels: what an annotator's reply must look like                   */
/* ------------------------------------------------------------------ */

/*
 * A label spec, from JSON (docs/annotations.md):
 *   {"values": ["toxic", "civil"]}       one of these strings
 *   {"range": [1, 5]}                    an integer in [lo, hi]
 *   {"grammar": "root ::= ...", "type": "string"|"integer"|"number"|"json"}
 * plus "json": true (values and range only) for replies shaped
 * {"label": <value>}. The spec yields a GBNF grammar that a backend can
 * enforce, and parses replies; a reply that does not parse is reported,
 * never guessed.
 */
typedef struct sd_label_spec sd_label_spec;

/*
 * json_text is the spec object; source and field name it in errors.
 * Returns SD_OK with *out (caller frees with sd_label_spec_free()), or
 * SD_EINVAL / SD_EPARSE / SD_ENOMEM with *out NULL.
 */
int sd_label_spec_parse(const char *json_text, const char *source, const char *field,
			sd_label_spec **out, sd_error *err);
/* The GBNF grammar (root rule "root"). Borrowed. */
const char *sd_label_spec_grammar(const sd_label_spec *s);
/*
 * The longest reply the spec's grammar allows, in bytes; 0 for a spec
 * given as a grammar (its length is not known). Every token of a reply
 * is at least one byte, so this many tokens (+1) always complete a label:
 * annotations raise max_tokens to it.
 */
size_t sd_label_spec_max_bytes(const sd_label_spec *s);
/* The spec as compact JSON (for logs). Borrowed. */
const char *sd_label_spec_json(const sd_label_spec *s);
/*
 * Parse a reply: SD_OK with *label_json (the label as JSON text: a
 * string or a number, or any value for type "json"; caller frees) or
 * SD_EPARSE when the reply is not a label of this spec.
 */
int sd_label_parse(const sd_label_spec *s, const char *reply, char **label_json);
void sd_label_spec_free(sd_label_spec *s);

/* ------------------------------------------------------------------ */
/* Annotation (a state machine over one finished discussion)          */
/* ------------------------------------------------------------------ */

/*
 * An annotator reads a finished discussion comment by comment and labels
 * each target comment. The prompt for target k shows SynDisco's window:
 * the last history_ctx_len comments up to and including comment k.
 * Without include_moderator, moderator comments are neither targets nor
 * context (seed and 2.0.8: every name containing "moderator", as they
 * do). Replies are post-processed as the annotator's profile does. Every
 * target is independent, so all of them may be in flight at once.
 */
typedef struct sd_annotation_params {
	int32_t history_ctx_len; /* comments shown, the target's
				    included; default 2 */
	bool include_moderator;	 /* default true */
	sd_sampling sampling;
	uint64_t seed;		    /* request seeds: mix(seed, message id) */
	const sd_label_spec *label; /* NULL: free text; borrowed */
	int32_t max_retries;	    /* re-asks for a reply that does not
				       parse; default 2 */
} sd_annotation_params;

sd_annotation_params sd_annotation_default_params(void);

typedef struct sd_annotation sd_annotation;

/*
 * annotator must be an SD_ACTOR_ANNOTATOR and, like log, outlive the
 * annotation. NULL on failure (err filled): SD_EPARSE when the log has
 * no stable key (no id). Caller frees with sd_annotation_free().
 */
sd_annotation *sd_annotation_create(const sd_actor *annotator, const sd_logs *log,
				    const sd_annotation_params *p, sd_error *err);

enum { SD_ANNOTATION_WAIT = 2 };

/*
 * Offer the next request: 1 (req filled; req->tag names the target),
 * SD_ANNOTATION_WAIT when every target is asked and replies are due, 0
 * when every target has its annotation, or a negative error. Strings in
 * req stay valid until its reply is accepted.
 */
int sd_annotation_next(sd_annotation *a, sd_request *req);

/* Accept the reply for tag (text may be invalid UTF-8: repaired). */
int sd_annotation_accept(sd_annotation *a, uint64_t tag, const char *text,
			 const sd_reply *reply);

size_t sd_annotation_target_count(const sd_annotation *a);

/* Metadata the core cannot know, for the JSON. */
typedef struct sd_annotation_meta {
	const char *annotator; /* name */
	const char *model;     /* annotator_model */
	const char *timestamp;
	const char *source; /* path of the discussion log, or NULL */
} sd_annotation_meta;

/*
 * The annotation file as the annotator's profile writes it, SynDisco's
 * keys first: seed and 2.0.8 {conv_id, timestamp, annotator_model,
 * annotator_prompt, ctx_length, logs: [[text, annotation], ...]}; 2.2.1
 * {timestamp, logs: [{name, text: annotation, model, prompt}, ...]}.
 * Ours follow (docs/annotations.md): annotator, include_moderator,
 * source, seed, label_spec, annotation_meta (per annotated comment:
 * message_id, message_order, name, is_moderator, label, label_status
 * "ok" | "unparsed" | "none", attempts) and syndisco_profile; 2.2.1 files
 * also carry conv_id, annotator_model and ctx_length there. ASCII only,
 * indent 4, no final newline. Caller frees *out.
 */
int sd_annotation_to_json(const sd_annotation *a, const sd_annotation_meta *m,
			  char **out);

/*
 * What SynDisco's verbose annotation run prints: for every annotated
 * comment, textwrap.fill(entry, 70) and the annotation, each followed by
 * a newline. SD_ESTATE before every target is done. Caller frees *out.
 */
int sd_annotation_printed(const sd_annotation *a, char **out);

void sd_annotation_free(sd_annotation *a);

/* ------------------------------------------------------------------ */
/* Files (run layer)                                                  */
/* ------------------------------------------------------------------ */

/* Read a whole file. Caller frees *out. Errors name the file. */
int sd_file_read(const char *path, char **out, size_t *len, sd_error *err);

/*
 * Write atomically: temp file in the same directory, fsync, rename. On
 * failure nothing is left at path and no temp file remains.
 */
int sd_file_write_atomic(const char *path, const char *data, size_t len, sd_error *err);

/* Load personas from a JSON array file. Returns SD_OK with *out (*n
 * entries; caller frees with sd_persona_array_free()), or an error code
 * naming the file in err. */
int sd_persona_array_load(const char *path, sd_persona ***out, size_t *n, sd_error *err);

/* Read and parse a log file (sd_logs_from_json). Returns SD_OK with *out
 * (caller frees with sd_logs_free()), or SD_ENOTFOUND / SD_EIO /
 * SD_EPARSE / SD_EINVAL / SD_ENOMEM with *out NULL. */
int sd_logs_load(const char *path, sd_logs **out, sd_error *err);
/* Write a log atomically (sd_logs_to_json, sd_file_write_atomic).
 * Returns SD_OK or an error code. */
int sd_logs_save(const sd_logs *l, const char *path, sd_error *err);

/* A random UUIDv4 string into buf (>= 37 bytes). */
void sd_uuid4(char *buf);
/* Local time as "%y-%m-%d-%H-%M" (SynDisco's format) into buf (>= 32). */
void sd_timestamp_now(char *buf, size_t size);

/* ------------------------------------------------------------------ */
/* Discussion config files (run layer)                                */
/* ------------------------------------------------------------------ */

/*
 * One discussion described by a JSON file (docs/config.md): personas
 * (inline or a file), context, instructions, optional moderator, turn
 * manager, conv_len, history_ctx_len, seed opinions, seed, sampling,
 * backend and prompt templates. Relative paths inside it are resolved
 * against the file's directory.
 */
typedef struct sd_discussion_config sd_discussion_config;

/* Caller frees with sd_discussion_config_free(). Errors name the file
 * and the field ("turn_manager.p_respond"). */
int sd_discussion_config_load(const char *path, sd_discussion_config **out,
			      sd_error *err);
void sd_discussion_config_free(sd_discussion_config *c);

/* Overrides from the command line. */
void sd_discussion_config_set_seed(sd_discussion_config *c, uint64_t seed);
int sd_discussion_config_set_model(sd_discussion_config *c, const char *path);

uint64_t sd_discussion_config_seed(const sd_discussion_config *c);
/* "llama", "scripted" or "openai". Borrowed. */
const char *sd_discussion_config_backend_type(const sd_discussion_config *c);
/* Model path or NULL when none is configured. Borrowed. */
const char *sd_discussion_config_model(const sd_discussion_config *c);
/* The configured llama parameters (strings borrowed from the config;
 * model_path is the configured model, possibly NULL). */
sd_llama_params sd_discussion_config_llama_params(const sd_discussion_config *c);

/*
 * Open the backend the config describes (any type), for one discussion:
 * one request in flight. default_model is the GGUF a llama backend uses
 * when the config names none (may be NULL). An openai backend reads its
 * API key here (api_key_env / api_key_file). A llama backend's model file
 * identity (size, SHA-256, llama.cpp version) is taken here and recorded
 * as "model_file" in the log of the discussion instantiated afterwards.
 * Caller frees the backend with sd_backend_free(); errors name the config
 * file and field.
 */
sd_backend *sd_discussion_config_open_backend(sd_discussion_config *c,
					      const char *default_model, sd_error *err);

/*
 * Build the actors, turn manager and discussion. model_name is what the
 * log records as each comment's model. The config owns the actors and
 * the turn manager and must outlive the discussion; caller frees the
 * discussion. SD_ESTATE when called twice.
 */
sd_discussion *sd_discussion_config_instantiate(sd_discussion_config *c,
						const char *model_name, sd_error *err);

/* ------------------------------------------------------------------ */
/* Experiments: many discussions, cells, jobs (run layer)             */
/* ------------------------------------------------------------------ */

/*
 * An experiment config (docs/experiments.md): a user pool, roles mixed
 * into it, an optional moderator, seed opinions, counts, a run seed and
 * optional conditions expanded into cells. Discussion i of cell c is
 * fully determined by (run seed, cell name, i).
 */
typedef struct sd_experiment sd_experiment;

/* Reads the config and every file it names. Caller frees. */
int sd_experiment_load(const char *path, sd_experiment **out, sd_error *err);
void sd_experiment_free(sd_experiment *e);

/* Override every cell's model (a GGUF path). */
int sd_experiment_set_model(sd_experiment *e, const char *path);

size_t sd_experiment_cell_count(const sd_experiment *e);
const char *sd_experiment_cell_name(const sd_experiment *e, size_t cell);
size_t sd_experiment_cell_size(const sd_experiment *e, size_t cell);
uint64_t sd_experiment_seed(const sd_experiment *e);
/* output_dir from the config, or NULL. Borrowed. */
const char *sd_experiment_output_dir(const sd_experiment *e);
/* Hex digest of the resolved config (file contents included). */
const char *sd_experiment_digest(const sd_experiment *e);
/* The resolved config as JSON (run.json). Caller frees. */
char *sd_experiment_manifest_json(const sd_experiment *e);

/*
 * One discussion of an experiment with everything it owns (personas,
 * actors, turn manager). model_name is what the log records. NULL on
 * failure (err filled). Caller frees with sd_job_free().
 */
typedef struct sd_job sd_job;
sd_job *sd_experiment_job_create(const sd_experiment *e, size_t cell, size_t index,
				 const char *model_name, sd_error *err);
/* Borrowed; valid until the job is freed. */
sd_discussion *sd_job_discussion(sd_job *j);
void sd_job_free(sd_job *j);

typedef struct sd_run_progress {
	size_t total;	/* discussions in this shard */
	size_t skipped; /* already complete on disk */
	size_t done;	/* finished in this run */
	size_t failed;
	size_t active;	/* in flight now */
	uint64_t turns; /* replies accepted */
	uint64_t gen_tokens;
	uint64_t prompt_tokens;
	uint64_t prompt_cached;	 /* of prompt_tokens, taken from a cache:
				    prompt_tokens - prompt_cached were decoded */
	double seconds;		 /* since the run started */
	double load_seconds;	 /* of that, opening backends (loading models) */
	double load_cpu_seconds; /* CPU time of this process spent opening
				    backends (all threads) */
	bool finished;		 /* last call */
} sd_run_progress;

typedef struct sd_run_params {
	const char *out_dir;	   /* required */
	int32_t parallel;	   /* discussions in flight; default 8 */
	uint32_t shard_index;	   /* run indices with i % shard_count == index */
	uint32_t shard_count;	   /* default 1 */
	bool force;		   /* resume even if the config changed */
	const char *default_model; /* GGUF for llama cells without a model */
	/* set to non-zero (e.g. by a signal handler: hence sig_atomic_t) to
	   stop admitting work; in-flight discussions are dropped, nothing
	   partial is written */
	volatile sig_atomic_t *stop;
	void (*on_progress)(const sd_run_progress *p, void *ud);
	void (*on_log)(sd_log_level level, const char *msg, void *ud);
	/* optional: every request when it is offered (annotation runs;
	   speaker and role borrowed for the call) */
	sd_request_hook on_request;
	/* optional: what SynDisco's verbose run prints, per finished
	   annotation (sd_annotation_printed) */
	void (*on_text)(const char *text, void *ud);
	void *ud;
} sd_run_params;

sd_run_params sd_run_default_params(void);

/*
 * Run (or resume) the experiment into out_dir/<cell>/<index>.json. Files
 * already complete are skipped; missing, partial or corrupt ones are run.
 * Returns SD_OK when every discussion of the shard is on disk, SD_EBACKEND
 * when some failed (progress.failed says how many), SD_ESTATE when stopped
 * or when out_dir holds a different config (and !force).
 */
int sd_experiment_run(sd_experiment *e, const sd_run_params *p, sd_run_progress *progress,
		      sd_error *err);

/* Per-cell completion read from out_dir (run.json + files). */
typedef struct sd_cell_status {
	const char *name; /* borrowed until sd_run_status_free */
	size_t done;
	size_t total;
} sd_cell_status;

int sd_run_status(const char *out_dir, sd_cell_status **cells, size_t *n, sd_error *err);
void sd_run_status_free(sd_cell_status *cells, size_t n);

/* ------------------------------------------------------------------ */
/* Annotation runs: annotators x discussion logs (run layer)          */
/* ------------------------------------------------------------------ */

/*
 * An annotation config (docs/annotations.md): annotators (name, persona,
 * context, instructions, optional label spec, sampling, backend), the
 * history window, whether moderator comments count, a seed, and the
 * discussion logs: every *.json found recursively under the given files
 * and directories (SynDisco's logs included; run.json manifests are
 * skipped).
 */
typedef struct sd_annotate sd_annotate;

/*
 * Load the config and find the logs. inputs (may be empty) replace the
 * config's "discussions". A file that is not a discussion log is an
 * error naming it. Returns SD_OK with *out (caller frees with
 * sd_annotate_free()), or an error code with *out NULL.
 */
int sd_annotate_load(const char *path, const char *const *inputs, size_t n_inputs,
		     sd_annotate **out, sd_error *err);
void sd_annotate_free(sd_annotate *a);
int sd_annotate_set_model(sd_annotate *a, const char *path);
/* output_dir from the config, or NULL. Borrowed. */
const char *sd_annotate_output_dir(const sd_annotate *a);
const char *sd_annotate_digest(const sd_annotate *a);
size_t sd_annotate_log_count(const sd_annotate *a);
size_t sd_annotate_annotator_count(const sd_annotate *a);

/*
 * Annotate every log with every annotator into
 * out_dir/<annotator>/<conv-id>.json, atomically; complete files are
 * skipped. Shards split the logs (log i with i % N == K, in path order).
 * Returns like sd_experiment_run.
 */
int sd_annotate_run(sd_annotate *a, const sd_run_params *p, sd_run_progress *progress,
		    sd_error *err);
/* ------------------------------------------------------------------ */
/* Evaluation runs: judges x discussion logs (run layer)              */
/* ------------------------------------------------------------------ */

/*
 * An evaluation config (docs/evaluate.md): judges (name, persona,
 * context, instructions, sampling, backend) that score each whole
 * discussion on a rubric (dimensions with a name, a description and an
 * integer range), as one grammar-constrained JSON object per judge and
 * discussion. Logs are found as sd_dataset_load finds them.
 */
typedef struct sd_evaluate sd_evaluate;

/*
 * Load the config and find the logs; inputs (may be empty) replace the
 * config's "discussions". Errors name the file and field. Caller frees
 * *out with sd_evaluate_free().
 */
int sd_evaluate_load(const char *path, const char *const *inputs, size_t n_inputs,
		     sd_evaluate **out, sd_error *err);
void sd_evaluate_free(sd_evaluate *v);
int sd_evaluate_set_model(sd_evaluate *v, const char *path);
/* output_dir from the config, or NULL. Borrowed. */
const char *sd_evaluate_output_dir(const sd_evaluate *v);
const char *sd_evaluate_digest(const sd_evaluate *v);
size_t sd_evaluate_log_count(const sd_evaluate *v);
size_t sd_evaluate_judge_count(const sd_evaluate *v);
/* The GBNF grammar every reply of judge i must match. Borrowed. */
const char *sd_evaluate_judge_grammar(const sd_evaluate *v, size_t judge);

/*
 * Evaluate every log with every judge into
 * out_dir/<judge>/<conv-id>.json, atomically; complete files are
 * skipped, shards split the logs (i % N == K, in path order). Returns
 * like sd_annotate_run.
 */
int sd_evaluate_run(sd_evaluate *v, const sd_run_params *p, sd_run_progress *progress,
		    sd_error *err);

/*
 * The indices 0..total-1 of `cell` in out_dir whose file is not a
 * complete log of that cell and index (missing, partial or corrupt), in
 * increasing order. *missing is NULL when none is missing; caller frees
 * it with free(). SD_EINVAL without arguments, SD_ENOMEM.
 */
int sd_run_missing(const char *out_dir, const char *cell, size_t total, size_t **missing,
		   size_t *n_missing, sd_error *err);

/*
 * The run's status as JSON text for scripts (caller frees *out with
 * free()):
 *   {"out_dir": ..., "cells": [{"name", "done", "total",
 *    "missing": [index, ...]}, ...], "done": n, "total": n,
 *    "complete": bool}
 * and, when shard_count > 0, "missing_shards": the shards K of
 * shard_count that own a missing index (i % shard_count == K), sorted,
 * and "shard_count". *complete (may be NULL) says the same as
 * "complete". Errors as sd_run_status().
 */
int sd_run_status_json(const char *out_dir, uint32_t shard_count, char **out,
		       bool *complete, sd_error *err);

/* ------------------------------------------------------------------ */
/* Datasets: export, summaries and reports (run layer)                */
/* ------------------------------------------------------------------ */

/*
 * Every discussion log found under some directories (searched
 * recursively), with the annotations found under others joined to its
 * comments: one row per comment. docs/export.md documents the columns.
 *
 * Log paths may be directories or files. In a directory, files ending in
 * ".json" are read; "run.json" manifests and annotation files are
 * skipped (a manifest gives the expected number of discussions and turns
 * per cell); any other .json file that is not a discussion log is an
 * error naming it. A file named explicitly must be a discussion log.
 *
 * Annotation files (ANNOT_DIR/<annotator>/<conv-id>.json) come in two
 * shapes: ours, with "logs" entries {message_id, annotation, label,
 * label_status} joined on message_id; and SynDisco's, with "logs" pairs
 * [message, annotation] joined by walking the discussion's comments in
 * order, each pair going to the next comment with the same text.
 */
typedef struct sd_dataset sd_dataset;

typedef struct sd_dataset_params {
	const char *const *log_paths; /* directories or files */
	size_t n_log_paths;
	const char *const *annotation_paths; /* directories or files; may be 0 */
	size_t n_annotation_paths;
} sd_dataset_params;

sd_dataset_params sd_dataset_default_params(void);

/*
 * Load everything. Errors name the file (and the field): unreadable
 * files, malformed JSON, .json files that are not discussion logs,
 * malformed annotation files, paths that do not exist, no logs at all
 * (SD_ENOTFOUND). Annotations that match no comment are not errors; they
 * are counted as warnings. Caller frees *out with sd_dataset_free().
 */
int sd_dataset_load(const sd_dataset_params *p, sd_dataset **out, sd_error *err);
void sd_dataset_free(sd_dataset *d);

size_t sd_dataset_discussion_count(const sd_dataset *d);
size_t sd_dataset_comment_count(const sd_dataset *d);
/* Annotator names, sorted. Borrowed; valid until the dataset is freed. */
size_t sd_dataset_annotator_count(const sd_dataset *d);
const char *sd_dataset_annotator(const sd_dataset *d, size_t i);
/* Problems that were not errors (annotations matching no comment, ...).
 * Borrowed; valid until the dataset is freed. */
size_t sd_dataset_warning_count(const sd_dataset *d);
const char *sd_dataset_warning(const sd_dataset *d, size_t i);

/* Where output goes: called with consecutive pieces; return non-zero to
 * stop (the caller's function then returns SD_EIO). */
typedef int (*sd_write_fn)(const char *data, size_t len, void *ud);

typedef enum sd_export_format {
	SD_EXPORT_CSV = 0,  /* RFC 4180, UTF-8, header row, CRLF line ends */
	SD_EXPORT_JSONL = 1 /* one JSON object per line */
} sd_export_format;

/* "csv" | "jsonl". SD_EINVAL for anything else. */
int sd_export_format_from_name(const char *name, sd_export_format *out);

/*
 * One row per comment, discussions in path order (numbers in names
 * compared as numbers), comments in log order. Returns SD_EIO when
 * write() failed, SD_ENOMEM.
 */
int sd_dataset_export(const sd_dataset *d, sd_export_format format, sd_write_fn write,
		      void *ud, sd_error *err);

/* Summary of one cell (logs without a "cell" field form the cell ""). */
typedef struct sd_cell_summary {
	const char *cell;	   /* borrowed until the dataset is freed */
	size_t discussions;	   /* logs found */
	size_t expected;	   /* from run.json; 0 when unknown */
	size_t comments;	   /* all logged comments */
	size_t seed_comments;	   /* hard-coded opening comments */
	size_t moderator_comments; /* moderator interventions */
	size_t blank_comments;	   /* logged with whitespace-only text */
	double mean_length;	   /* characters (code points) per comment */
	double moderator_per_discussion;
	/* prompted user turns that left no comment (empty reply); -1 when
	   the number of turns is unknown (no run.json, e.g. SynDisco logs) */
	long silent_turns;
	uint64_t generated_tokens; /* 0 when the logs do not say */
} sd_cell_summary;

/*
 * Per-cell summaries, cells in order of first appearance, plus a last
 * entry "all" over everything. Caller frees *out with sd_free().
 */
int sd_dataset_summary(const sd_dataset *d, sd_cell_summary **out, size_t *n);

/*
 * Condition comparisons (docs/export.md#condition-comparisons): for every
 * numeric annotation label and evaluation score, the mean per condition
 * (a log's cell, else the name of its directory) with a 95% percentile
 * bootstrap interval over discussions, pairwise differences of means,
 * and for labels the mean per turn index.
 */
typedef struct sd_compare_params {
	size_t replicates; /* bootstrap replicates B; default 1000 */
	uint64_t seed;	   /* default 42 */
} sd_compare_params;

sd_compare_params sd_compare_default_params(void);

/*
 * The comparisons as one JSON object (compact, ASCII): {"bootstrap":
 * {replicates, seed, confidence, interval, resampled}, "conditions":
 * [...], "metrics": [{name, kind: "label"|"score", by_condition: [{condition,
 * n, mean, lo, hi}], differences: [{a, b, n_a, n_b, diff, lo, hi}],
 * by_turn (labels): [{condition, turns: [{turn, n, mean, lo, hi}]}]}]}.
 * Caller frees *out with free(). SD_EINVAL for replicates outside
 * 1..1000000, SD_ENOMEM.
 */
int sd_dataset_compare_json(const sd_dataset *d, const sd_compare_params *p, char **out,
			    sd_error *err);

typedef struct sd_report_params {
	const char *title;	   /* default "syndisco report" */
	sd_compare_params compare; /* the report's condition comparisons */
} sd_report_params;

sd_report_params sd_report_default_params(void);

/*
 * One self-contained HTML page: per-cell summary, inline SVG charts
 * (comment lengths, comments per participant, labels per annotator) and
 * a discussion browser. The data is embedded once as JSON with every
 * "<" escaped, so no text can close the script element.
 */
int sd_dataset_report_html(const sd_dataset *d, const sd_report_params *p,
			   sd_write_fn write, void *ud, sd_error *err);

#ifdef __cplusplus
}
#endif
#endif /* SYNDISCO_H */

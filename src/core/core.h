/* Internal declarations shared inside src/core (not part of the API). */
#ifndef SD_CORE_CORE_H
#define SD_CORE_CORE_H

#include <jansson.h>

#include "syndisco.h"
#include "util/rng.h"

/* Borrowed persona object. */
const json_t *sd__persona_json(const sd_persona *p);
/* A persona from any JSON object (copied; NULL = {}), no username
 * needed: SynDisco 2.2.1 personas are any dict. NULL on OOM. */
sd_persona *sd__persona_from_object(const json_t *obj);
/* New reference: the persona without empty fields. */
json_t *sd__persona_prompt_object(const sd_persona *p);

/*
 * Append a comment to a log (copies; text repaired to valid UTF-8).
 * prompt is SynDisco 2.2.1's (the speaker's system prompt), user_prompt
 * ours; both may be NULL.
 */
int sd__logs_append(sd_logs *l, const char *name, const char *text, const char *model,
		    const char *prompt, const char *user_prompt, bool is_moderator,
		    int32_t n_prompt_tokens, int32_t n_gen_tokens);
/* An empty log with the discussion's metadata. users are names. */
sd_logs *sd__logs_new(sd_profile profile);
int sd__logs_set_participants(sd_logs *l, const char *const *users,
			      const char *const *user_prompts, size_t n_users,
			      const char *moderator, const char *moderator_prompt,
			      int32_t ctx_length, uint64_t seed);

/* Set one of our fields on comment i (written under comment_meta).
 * Takes v (a new reference), also on failure. */
int sd__sd_logs_comment_set(sd_logs *l, size_t i, const char *key, json_t *v);

/* Borrowed top-level field of a log (NULL if absent). */
const json_t *sd__logs_get(const sd_logs *l, const char *key);

/*
 * n distinct "adjective-noun" usernames from rng into out[0..n) (caller
 * frees each). SD_EINVAL if n exceeds the number of combinations.
 */
int sd__random_usernames(sd__rng *rng, size_t n, char **out);

/* ---- actors and profiles (actor.c) ---- */

sd_profile sd__actor_profile(const sd_actor *a);
sd_actor_kind sd__actor_kind_of(const sd_actor *a);
/* One history entry as the actor's profile formats it ("" when blank). */
int sd__actor_format_entry(const sd_actor *a, const char *name, const char *text,
			   char **out);
/* The user (or annotator) prompt over already formatted entries. */
int sd__actor_prompt_from_entries(const sd_actor *a, const char *const *entries, size_t n,
				  char **out);
/* The profile's reply post-processing: 2.x strip, then remove_strings. */
int sd__actor_postprocess(const sd_actor *a, const char *raw, char **out);
/* 2.2.1's bare Actor() system prompt (seed opinions' "prompt"). */
int sd__profile_bare_system_prompt(sd_profile p, char **out);

/*
 * Check a prompt template: every {identifier} must be one of known[0..n)
 * ("{{" is a literal brace; a brace not around an identifier is text).
 * SD_OK, or SD_EINVAL with *bad and *bad_len the first unknown placeholder
 * (borrowed from tmpl).
 */
int sd__template_check(const char *tmpl, const char *const *known, size_t n_known,
		       const char **bad, size_t *bad_len);

/* ---- discussions (discussion.c) ---- */

/* Hand the comments logged since the last call to on_comment (if not
 * NULL), in order; run/discussion_run.c calls it after every turn. */
void sd__discussion_report(sd_discussion *d, sd_comment_cb on_comment, void *ud);

/* ---- history by tokens (history_window.c) ---- */

typedef struct sd_history_counter {
	sd_token_count_fn fn;
	void *ud;
} sd_history_counter;

/*
 * The history window over entries[0..n): the last max_comments of them,
 * and with max_tokens > 0 only as many of the newest as fit in
 * max_tokens tokens (each entry counted alone through entry_tokens[],
 * a cache where -1 is "not counted yet"). The newest entry always shows:
 * when it alone is too long, *newest_cut (caller frees) is the entry to
 * show instead, its comment (newest_name, newest_text; formatted by fmt)
 * cut and marked " [...]" so it fits. *first is the first entry shown.
 * SD_ESTATE when max_tokens is set and hc has no function.
 */
int sd__sd_history_window(const char *const *entries, int32_t *entry_tokens, size_t n,
			  int32_t max_comments, int32_t max_tokens,
			  const sd_history_counter *hc, const sd_actor *fmt,
			  const char *newest_name, const char *newest_text, size_t *first,
			  char **newest_cut);

/* ---- the director's request (turn_director.c) ---- */

/*
 * The director's request: *user_prompt lists the allowed participants
 * and shows the history entries; *spec is a label spec of exactly the
 * allowed names (its grammar constrains the reply). Caller frees both
 * (free, sd_label_spec_free).
 */
int sd__sd_director_prompt(const char *const *names, const bool *allowed, size_t n,
			   const char *const *entries, size_t n_entries,
			   char **user_prompt, sd_label_spec **spec);
/*
 * The user a director's reply names (as spec's label parser would read
 * it, without allocating): SD_OK and *out, or SD_EPARSE when it names
 * none of the allowed.
 */
int sd__sd_director_parse(const sd_label_spec *spec, const char *reply,
			  const char *const *names, const bool *allowed, size_t n,
			  size_t *out);

#endif

/* Internal declarations shared inside src/core (not part of the API). */
#ifndef SD_CORE_CORE_H
#define SD_CORE_CORE_H

#include <jansson.h>

#include "syndisco.h"
#include "util/rng.h"

/* Borrowed persona object. */
const json_t *sd_persona_json(const sd_persona *p);
/* New reference: the persona without empty fields. */
json_t *sd_persona_prompt_object(const sd_persona *p);

/* Append a comment to a log (copies; text repaired to valid UTF-8). */
int sd_logs_append(sd_logs *l, const char *name, const char *text,
		   const char *model, const char *prompt, bool is_moderator,
		   int32_t n_prompt_tokens, int32_t n_gen_tokens);
/* An empty log with the discussion's metadata. users are names. */
sd_logs *sd_logs_new(void);
int sd_logs_set_participants(sd_logs *l, const char *const *users,
			     const char *const *user_prompts, size_t n_users,
			     const char *moderator, const char *moderator_prompt,
			     int32_t ctx_length, uint64_t seed);

/* Borrowed top-level field of a log (NULL if absent). */
const json_t *sd_logs_get(const sd_logs *l, const char *key);

/*
 * n distinct "adjective-noun" usernames from rng into out[0..n) (caller
 * frees each). SD_EINVAL if n exceeds the number of combinations.
 */
int sd_random_usernames(sd_rng *rng, size_t n, char **out);

/*
 * Check a prompt template: every {identifier} must be one of known[0..n)
 * ("{{" is a literal brace; a brace not around an identifier is text).
 * SD_OK, or SD_EINVAL with *bad and *bad_len the first unknown placeholder
 * (borrowed from tmpl).
 */
int sd_template_check(const char *tmpl, const char *const *known, size_t n_known,
		      const char **bad, size_t *bad_len);

#endif

/*
 * Reading the files of every SynDisco version (seed, 2.0.8, 2.2.1) and
 * ours alike, by content rather than by key order: ids for logs that have
 * none, SynDisco's own message ids, telling a 2.2.1 annotation file from
 * a discussion log (both are {"timestamp", "logs": [{name, text, model,
 * prompt}]}), and what a system prompt says about its speaker.
 * Internal to src/run (prefix lc_); docs/logs.md describes the rules.
 */
#ifndef SD_RUN_LOGCOMPAT_H
#define SD_RUN_LOGCOMPAT_H

#include <jansson.h>
#include <stdbool.h>

#include "syndisco.h"

/* "sd-" + 32 hex digits + NUL */
#define LC_DERIVED_ID_SIZE 36

/*
 * The id of a log without one (SynDisco 2.1+ writes none): "sd-" and the
 * MD5 of its timestamp and every comment's name and text, so the same file
 * gets the same id wherever it lies and whatever the key order or
 * formatting; the prompts are left out because SynDisco's Logs.from_file
 * drops them.
 */
void sd__lc_derived_id(const sd_logs *l, char out[LC_DERIVED_ID_SIZE]);

/* Give l its derived id when its "id" is missing or empty. SD_OK, or
 * SD_ENOMEM. */
int sd__lc_ensure_id(sd_logs *l);

/*
 * The message id SynDisco's postprocessing (import_discussions,
 * import_annotations) computes: the MD5 hex digest of the UTF-8 text
 * conv_id + "_" + message.
 */
void sd__lc_syndisco_message_id(const char *conv_id, const char *message, char out[33]);

/*
 * Whether a parsed JSON file is an annotation file of any version: ours
 * and seed/2.0.8 have "conv_id" or "annotator_prompt"; a 2.2.1 one is
 * shaped like a discussion log but its entries' prompt is an annotator's
 * system prompt ("type": "annotator").
 */
bool sd__lc_is_annotation(const json_t *root);

/*
 * What a system prompt says about its speaker: the "persona" object and
 * the "instructions" string of a JSON prompt (2.x and ours), or for the
 * seed's plain-text prompt ("... Your instructions: X") the instructions
 * only. *persona and *instructions get new references or NULL. SD_OK, or
 * SD_ENOMEM (which must not pass for "nothing there").
 */
int sd__lc_prompt_info(const char *prompt, json_t **persona, json_t **instructions);

#endif

/*
 * Parsing shared by discussion configs and experiment configs: typed
 * getters that name the file and field on error, and the sections both
 * formats have (personas, moderator, turn manager, sampling, backend,
 * templates).
 */
#ifndef SD_RUN_CONFIG_COMMON_H
#define SD_RUN_CONFIG_COMMON_H

#include <jansson.h>

#include "syndisco.h"

int sd__cfg_check_keys(const json_t *o, const char *const *keys, size_t n,
		       const char *source, const char *prefix, sd_error *err);
/* Absent or null keeps *out; a wrong type is an error. */
int sd__cfg_get_str(const json_t *o, const char *key, const char *field,
		    const char *source, char **out, sd_error *err);
int sd__cfg_get_int(const json_t *o, const char *key, const char *field,
		    const char *source, long long lo, long long hi, long long *out,
		    sd_error *err);
int sd__cfg_get_num(const json_t *o, const char *key, const char *field,
		    const char *source, double lo, double hi, double *out, sd_error *err);
/* err->field = prefix + sep + err->field */
void sd__cfg_prefix_field(sd_error *err, const char *prefix, const char *sep);
/* p relative to dir (unless absolute). Caller frees. */
char *sd__cfg_resolve(const char *dir, const char *p);
/* Directory part of path. Caller frees. */
char *sd__cfg_dirname(const char *path);
/*
 * Reads the config file at path as one JSON object, duplicate keys
 * rejected, into *root (caller decrefs). Errors name the file: a parse
 * error with its line and column, else "<what> must be a JSON object"
 * (what: "an annotation config", ...).
 */
int sd__cfg_load_object(const char *path, const char *what, json_t **root, sd_error *err);

/*
 * Text from "key" (a string) or "key_file" (a path read as it is). Both
 * given is an error; neither keeps *out.
 */
int sd__cfg_text(const json_t *o, const char *key, const char *prefix, const char *source,
		 const char *dir, char **out, sd_error *err);

/* Personas from "personas" (inline) or "personas_file", then "users". */
int sd__cfg_personas(const json_t *root, const char *source, const char *dir,
		     bool allow_missing, sd_persona ***out, size_t *n, sd_error *err);

typedef struct sd__cfg_moderator {
	sd_persona *persona; /* NULL: no moderator */
	char *instructions;
	char *context;		     /* NULL: the users' context */
	bool in_users;		     /* also one of the users (the seed guide) */
	const char *model_name;	     /* borrowed; NULL: the users' */
	const char **remove_strings; /* borrowed strings; owned array */
	size_t n_remove_strings;
	bool has_remove; /* remove_strings given (else the users') */
} sd__cfg_moderator;
int sd__cfg_moderator_parse(const json_t *m, const char *source, const char *dir,
			    sd__cfg_moderator *out, sd_error *err);
void sd__cfg_moderator_clear(sd__cfg_moderator *m);
/* Set the moderator's persona, instructions, context (its own, else
 * shared_context), model name and removals on actor params that already
 * hold the shared ones. Strings stay borrowed from m. */
void sd__cfg_moderator_actor_params(const sd__cfg_moderator *m,
				    const char *shared_context, sd_actor_params *ap);

/* config_turns.c: the mention and director fields of a turn_manager
 * object, and the check that each is given to its own kind only. */
int sd__cfg_turn_extras(const json_t *t, const char *source, sd_turn_params *out,
			sd_error *err);
int sd__cfg_turn_extras_check(const json_t *t, const char *source,
			      const sd_turn_params *p, sd_error *err);
/*
 * "history_ctx_tokens" of o (absent: *out stays 0): an integer >= 1, and
 * only with a backend that has a tokenizer (llama, scripted).
 */
int sd__cfg_history_tokens(const json_t *o, const char *source, const char *backend_type,
			   int32_t *out, sd_error *err);
int sd__cfg_turn_manager(const json_t *t, const char *source, sd_turn_params *out,
			 sd_error *err);
int sd__cfg_sampling(const json_t *s, const char *source, sd_sampling *out,
		     sd_error *err);
int sd__cfg_templates(const json_t *t, const char *source, sd_prompt_templates *out,
		      sd_error *err);

typedef struct sd__cfg_backend {
	char *type;	       /* "llama", "scripted" or "openai" */
	char *model;	       /* llama: resolved path; openai: the served
				  model's name; NULL when not configured */
	sd_llama_params llama; /* strings borrowed from the JSON */
	const char **stop;
	/* openai: strings borrow from the JSON and the fields below; the
	   API key is not here: sd__cfg_backend_api_key() reads it when needed */
	sd_openai_params openai;
	const char **base_urls;
	char *extra_body;     /* JSON text of backend.extra_body */
	char *api_key_env;    /* name of the variable holding the key */
	char *api_key_file;   /* resolved path of the file holding it */
	const char **replies; /* scripted: canned replies (borrowed strings) */
	size_t n_replies;
} sd__cfg_backend;
/* b may be NULL (defaults). Strings in out->llama borrow from b. */
int sd__cfg_backend_parse(const json_t *b, const char *source, const char *dir,
			  sd__cfg_backend *out, sd_error *err);
void sd__cfg_backend_clear(sd__cfg_backend *b);

/*
 * The API key an openai backend section names (api_key_env or
 * api_key_file), or *out = NULL when it names none. Errors name the
 * field, never the key. Caller wipes and frees *out (sd__cfg_secret_free).
 */
int sd__cfg_backend_api_key(const sd__cfg_backend *b, const char *source, char **out,
			    sd_error *err);
void sd__cfg_secret_free(char *s);

/* "syndisco": the profile (default SD_PROFILE_DEFAULT); an unknown one
 * is an error listing the known ones. */
int sd__cfg_profile(const json_t *root, const char *source, sd_profile *out,
		    sd_error *err);
/* An optional array of strings, borrowed from o into a new array (caller
 * frees the array only). Absent or null: *out = NULL, *n = 0. */
int sd__cfg_string_list(const json_t *o, const char *key, const char *field,
			const char *source, const char ***out, size_t *n, sd_error *err);

#endif

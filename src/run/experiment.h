/* Internal layout of an experiment, shared by experiment.c and the
 * scheduler. */
#ifndef SD_RUN_EXPERIMENT_H
#define SD_RUN_EXPERIMENT_H

#include <jansson.h>
#include <stdbool.h>

#include "run/config_common.h"
#include "syndisco.h"

typedef struct sd__exp_role {
	const char *name;	  /* borrowed from the cell's JSON */
	double share;		  /* a fixed share of each discussion's users */
	double p;		  /* or: each user's chance (coin flip) */
	bool coin;		  /* p is in force, not share */
	const char *instructions; /* borrowed */
} sd__exp_role;

typedef struct sd__exp_cell {
	char *name;
	json_t *json;  /* resolved: files inlined */
	uint64_t seed; /* mix(run seed, hash(name)) */
	sd_persona **pool;
	size_t n_pool;
	char *context;
	char *instructions;
	sd__exp_role *roles;
	size_t n_roles;
	sd__cfg_moderator mod;
	sd_turn_params turn;
	sd_sampling sampling;
	sd_prompt_templates templates; /* strings borrowed from json */
	sd__cfg_backend backend;
	char *backend_key;	     /* canonical JSON: cells sharing it share
					one loaded model */
	const json_t *seed_opinions; /* borrowed; NULL if none */
	bool distinct_posters;	     /* seed_opinion_posters: "distinct" */
	size_t num_discussions;
	size_t num_active_users;
	int32_t num_turns;
	int32_t history_ctx_len;
	int32_t history_ctx_tokens; /* 0 = off */
	bool random_usernames;
	sd_profile profile;  /* "syndisco" */
	const char **remove; /* remove_strings, borrowed from json */
	size_t n_remove;
	int32_t textwrap_len;
} sd__exp_cell;

struct sd_experiment {
	char *path;
	char *dir;
	json_t *root;
	uint64_t seed;
	char *output_dir;
	sd__exp_cell *cells;
	size_t n_cells, cap_cells;
	char digest[33];
};

int sd__exp_update_digest(sd_experiment *e, sd_error *err);
uint64_t sd__exp_discussion_seed(const sd_experiment *e, size_t cell, size_t index);

#endif

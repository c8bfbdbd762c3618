/* Internal layout of an annotation config, shared by annotate.c (the
 * config) and annotate_work.c (the workload). */
#ifndef SD_RUN_ANNOTATE_H
#define SD_RUN_ANNOTATE_H

#include <jansson.h>
#include <stdbool.h>

#include "run/config_common.h"
#include "syndisco.h"

typedef struct sd__annotator {
	char *name;
	char *actor_name;    /* the seed's LLMActor name; NULL: name */
	const char **remove; /* remove_strings (borrowed from root) */
	size_t n_remove;
	json_t *json; /* resolved: files inlined, defaults applied */
	sd_persona *persona;
	char *context;
	char *instructions;
	sd_label_spec *label;
	int32_t history_ctx_len;
	bool include_moderator;
	sd_sampling sampling;
	sd__cfg_backend backend;
	char *backend_key;
	uint64_t seed; /* mix(run seed, hash(name)) */
} sd__annotator;

typedef struct sd__ann_log {
	char *path;
	char *id;
	char *file; /* id made safe as a file name */
	bool named; /* given as a file, not found in a directory */
} sd__ann_log;

struct sd_annotate {
	char *path;
	char *dir;
	json_t *root;
	uint64_t seed;
	int32_t max_retries;
	char *output_dir;
	sd_prompt_templates templates; /* strings borrowed from root */
	sd_profile profile;
	int32_t textwrap_len;
	sd__annotator *ann;
	size_t n_ann;
	sd__ann_log *logs;
	size_t n_logs, cap_logs;
	char digest[33];
};

#endif

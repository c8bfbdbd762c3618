/*
 * Which model wrote this: the identity of a model file (path, size,
 * SHA-256) and the llama.cpp version, recorded in run.json, annotate.json
 * and every log and annotation file. Resume compares them, since the
 * config digest covers a model's path and not its bytes.
 */
#ifndef SD_RUN_MODEL_ID_H
#define SD_RUN_MODEL_ID_H

#include <jansson.h>

#include "run/config_common.h"
#include "util/error.h"

/* The llama.cpp version this library was built with (static string). */
const char *sd__run_llama_version(void);

/*
 * {"path", "size", "sha256", "llama_cpp"} of the model file a backend
 * section opens, into *out (caller decrefs); *out = NULL when it opens no
 * file (openai, scripted). The SHA-256 is computed once per path, size
 * and mtime and cached under $SYNDISCO_CACHE_DIR, $XDG_CACHE_HOME/syndisco
 * or ~/.cache/syndisco (model-sha256/). Errors name source (the config)
 * and the model file. Also checks what sd__run_backend_check() checks.
 */
int sd__run_model_identity(const sd__cfg_backend *cb, const char *source,
			   const char *default_model, json_t **out, sd_error *err);

/*
 * A manifest's "model_files" is [{"name": cell or annotator, "model_file":
 * identity or null}]. The sha256 recorded for name, or NULL.
 */
const char *sd__run_model_sha_of(const json_t *manifest, const char *name);

/*
 * SD_OK when every cell or annotator of new_manifest that the old one
 * records uses a model file with the same SHA-256; else SD_ESTATE with a
 * message naming it and the way out (--force).
 */
int sd__run_model_files_check(const json_t *old_manifest, const json_t *new_manifest,
			      const char *manifest_path, sd_error *err);

#endif

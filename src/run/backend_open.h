/*
 * Opening the backend a config section describes. Shared by discussion
 * runs and annotation runs so that a new backend type (openai) is added
 * in one place.
 */
#ifndef SD_RUN_BACKEND_OPEN_H
#define SD_RUN_BACKEND_OPEN_H

#include "run/config_common.h"
#include "syndisco.h"

/*
 * Create the backend for cb with room for `parallel` requests in flight.
 * default_model is used by llama when cb names no model (may be NULL).
 * source names the config file in errors. For openai, `parallel` is the
 * caller's business (it never has more requests out than that) and the
 * API key is read from the environment or the file here.
 */
sd_backend *sd__run_backend_open(const sd__cfg_backend *cb, const char *source,
				 int32_t parallel, const char *default_model,
				 sd_error *err);

/*
 * What sd__run_backend_open() would refuse and can be known without loading
 * anything: an openai model name and its API key (read, then wiped), a
 * llama model. Called before an output directory is touched.
 */
int sd__run_backend_check(const sd__cfg_backend *cb, const char *source,
			  const char *default_model, sd_error *err);

#endif

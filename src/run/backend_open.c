#include <stdio.h>
#include <string.h>

#include "run/backend_open.h"
#include "util/error.h"

/* An openai backend: the key is read now, handed over and wiped. */
static sd_backend *open_openai(const sd__cfg_backend *cb, const char *source,
			       sd_error *err)
{
	sd_openai_params op = cb->openai;
	char *key = NULL;
	sd_backend *b = NULL;
	op.model = cb->model;
	if (!op.model || !op.model[0]) {
		sd__error_set(err, SD_EINVAL, source, "backend.model",
			      "missing: the name of the model the server serves (as "
			      "listed by GET /v1/models), or pass --model NAME");
		return NULL;
	}
	if (sd__cfg_backend_api_key(cb, source, &key, err))
		return NULL;
	op.api_key = key;
	b = sd_backend_openai_create(&op, err);
	sd__cfg_secret_free(key);
	if (!b && err) {
		/* the library names its parameter; the user wrote a config field */
		snprintf(err->source, sizeof(err->source), "%s", source ? source : "");
		if (err->field[0])
			sd__cfg_prefix_field(err, "backend", ".");
		if (!strcmp(err->field, "backend.base_urls[0]") &&
		    cb->openai.n_base_urls == 1)
			snprintf(err->field, sizeof(err->field), "backend.base_url");
	}
	return b;
}

sd_backend *sd__run_backend_open(const sd__cfg_backend *cb, const char *source,
				 int32_t parallel, const char *default_model,
				 sd_error *err)
{
	if (strcmp(cb->type, "scripted") == 0) {
		sd_scripted_params sp = sd_scripted_default_params();
		sp.mode = cb->n_replies ? SD_SCRIPTED_LIST : SD_SCRIPTED_ECHO;
		sp.replies = cb->replies;
		sp.n_replies = cb->n_replies;
		if (cb->llama.model_name)
			sp.model_name = cb->llama.model_name;
		sp.max_active = parallel;
		return sd_backend_scripted_create(&sp, err);
	}
	if (strcmp(cb->type, "openai") == 0)
		return open_openai(cb, source, err);
	sd_llama_params lp = cb->llama;
	lp.model_path = cb->model ? cb->model : default_model;
	if (!lp.model_path) {
		sd__error_set(err, SD_EINVAL, source, "backend.model",
			      "no model: set backend.model or pass --model");
		return NULL;
	}
	/* n_ctx in a config is per request stream; the context holds them all */
	lp.n_seq_max = parallel;
	lp.n_ctx = cb->llama.n_ctx * parallel;
	return sd_backend_llama_create(&lp, err);
}

int sd__run_backend_check(const sd__cfg_backend *cb, const char *source,
			  const char *default_model, sd_error *err)
{
	if (strcmp(cb->type, "openai") == 0) {
		char *key = NULL;
		if (!cb->model || !cb->model[0])
			return sd__error_set(
			    err, SD_EINVAL, source, "backend.model",
			    "missing: the name of the model the server serves "
			    "(as listed by GET /v1/models), or pass --model NAME");
		int rc = sd__cfg_backend_api_key(cb, source, &key, err);
		sd__cfg_secret_free(key);
		return rc;
	}
	if (strcmp(cb->type, "llama") == 0 && !cb->model && !default_model)
		return sd__error_set(err, SD_EINVAL, source, "backend.model",
				     "no model: set backend.model or pass --model");
	return SD_OK;
}

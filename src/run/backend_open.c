#include <string.h>

#include "run/backend_open.h"
#include "util/error.h"

sd_backend *run_backend_open(const cfg_backend *cb, const char *source,
			     int32_t parallel, const char *default_model,
			     sd_error *err)
{
	if (strcmp(cb->type, "scripted") == 0) {
		sd_scripted_params sp = sd_scripted_default_params();
		sp.mode = SD_SCRIPTED_ECHO;
		sp.max_active = parallel;
		return sd_backend_scripted_create(&sp, err);
	}
	sd_llama_params lp = cb->llama;
	lp.model_path = cb->model ? cb->model : default_model;
	if (!lp.model_path) {
		sd_error_set(err, SD_EINVAL, source, "backend.model",
			     "no model: set backend.model or pass --model");
		return NULL;
	}
	/* n_ctx in a config is per request stream; the context holds them all */
	lp.n_seq_max = parallel;
	lp.n_ctx = cb->llama.n_ctx * parallel;
	return sd_backend_llama_create(&lp, err);
}

#include "backend/backend.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

sd_backend *sd__backend_new(const struct sd__backend_ops *ops, const char *model_name,
			    void *impl)
{
	sd_backend *b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->model_name = strdup(model_name ? model_name : "unknown");
	if (!b->model_name) {
		free(b);
		return NULL;
	}
	b->ops = ops;
	b->impl = impl;
	return b;
}

void sd__backend_set_error(sd_backend *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(b->last_error, sizeof(b->last_error), fmt, ap);
	va_end(ap);
}

void sd_backend_set_log(sd_backend *b, sd_log_fn fn, void *ud)
{
	if (!b)
		return;
	b->log_fn = fn;
	b->log_ud = ud;
}

int sd_backend_submit(sd_backend *b, const sd_request *req)
{
	if (!b || !req || !req->system_prompt || !req->user_prompt)
		return SD_EINVAL;
	return b->ops->submit(b, req);
}

int sd_backend_step(sd_backend *b) { return b ? b->ops->step(b) : SD_EINVAL; }

int sd_backend_collect(sd_backend *b, sd_reply *out)
{
	if (!b || !out)
		return SD_EINVAL;
	return b->ops->collect(b, out);
}

int sd_backend_cancel(sd_backend *b, uint64_t tag)
{
	return b ? b->ops->cancel(b, tag) : SD_EINVAL;
}

int sd_backend_format_chat(sd_backend *b, const char *system_prompt,
			   const char *user_prompt, char **out)
{
	if (!b || !system_prompt || !user_prompt || !out)
		return SD_EINVAL;
	if (!b->ops->format_chat)
		return SD_ESTATE;
	return b->ops->format_chat(b, system_prompt, user_prompt, out);
}

int sd_backend_token_counter(const char *text, void *backend)
{
	sd_backend *b = backend;
	if (!b || !text)
		return SD_EINVAL;
	if (!b->ops->count_tokens)
		return SD_ESTATE;
	return b->ops->count_tokens(b, text);
}

const char *sd_backend_model_name(const sd_backend *b) { return b ? b->model_name : ""; }

const char *sd_backend_last_error(const sd_backend *b) { return b ? b->last_error : ""; }

void sd_backend_free(sd_backend *b)
{
	if (!b)
		return;
	if (b->ops && b->ops->destroy)
		b->ops->destroy(b);
	free(b->model_name);
	free(b);
}

void sd_reply_clear(sd_reply *r)
{
	if (!r)
		return;
	free(r->text);
	free(r->error);
	memset(r, 0, sizeof(*r));
}

sd_sampling sd_sampling_default(void)
{
	sd_sampling s = {
	    .max_tokens = 256,
	    .temperature = 0.8f,
	    .top_p = 0.95f,
	    .top_k = 40,
	    .min_p = 0.05f,
	    .repeat_penalty = 1.1f,
	    .repeat_last_n = 64,
	    .seed = 0,
	};
	return s;
}

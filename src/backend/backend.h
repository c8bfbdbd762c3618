/*
 * The one internal interface every generation engine implements (curl's
 * vtls habit): a struct of function pointers behind the opaque sd_backend.
 */
#ifndef SD_BACKEND_BACKEND_H
#define SD_BACKEND_BACKEND_H

#include "syndisco.h"

struct sd__backend_ops {
	const char *kind;
	int (*submit)(sd_backend *b, const sd_request *req);
	int (*step)(sd_backend *b);
	int (*collect)(sd_backend *b, sd_reply *out);
	int (*cancel)(sd_backend *b, uint64_t tag);
	/* may be NULL: then sd_backend_format_chat returns SD_ESTATE */
	int (*format_chat)(sd_backend *b, const char *system_prompt,
			   const char *user_prompt, char **out);
	void (*destroy)(sd_backend *b); /* frees impl, not the sd_backend */
	/* may be NULL (no tokenizer): tokens of text, no BOS; >= 0 or SD_E* */
	int (*count_tokens)(sd_backend *b, const char *text);
};

struct sd_backend {
	const struct sd__backend_ops *ops;
	char *model_name;
	char last_error[512];
	sd_log_fn log_fn; /* NULL: the backend's lines are dropped */
	void *log_ud;
	void *impl;
};

/* Allocate the shell; takes nothing. NULL on allocation failure. */
sd_backend *sd__backend_new(const struct sd__backend_ops *ops, const char *model_name,
			    void *impl);
/* Record a message for sd_backend_last_error(). */
void sd__backend_set_error(sd_backend *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif

/* Growable byte buffer with a size cap (curl's dynbuf habit). */
#ifndef SD_UTIL_BUF_H
#define SD_UTIL_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct sd_buf {
	char *data;  /* always NUL-terminated when non-NULL */
	size_t len;
	size_t cap;
	size_t max;  /* hard limit on len; 0 = default (256 MiB) */
} sd_buf;

void sd_buf_init(sd_buf *b, size_t max);
/* Append; returns 0 or SD_ENOMEM (also when the cap would be exceeded). */
int sd_buf_append(sd_buf *b, const char *s, size_t n);
int sd_buf_puts(sd_buf *b, const char *s);
int sd_buf_printf(sd_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Hand the string to the caller (never NULL on success: "" for empty). */
char *sd_buf_steal(sd_buf *b);
void sd_buf_reset(sd_buf *b);
void sd_buf_free(sd_buf *b);

#endif

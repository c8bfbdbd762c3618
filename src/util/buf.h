/* Growable byte buffer with a size cap (curl's dynbuf habit). */
#ifndef SD_UTIL_BUF_H
#define SD_UTIL_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct sd__buf {
	char *data;  /* always NUL-terminated when non-NULL */
	size_t len;
	size_t cap;
	size_t max;  /* hard limit on len; 0 = default (256 MiB) */
} sd__buf;

void sd__buf_init(sd__buf *b, size_t max);
/* Append; returns 0 or SD_ENOMEM (also when the cap would be exceeded). */
int sd__buf_append(sd__buf *b, const char *s, size_t n);
int sd__buf_puts(sd__buf *b, const char *s);
int sd__buf_printf(sd__buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Hand the string to the caller (never NULL on success: "" for empty). */
char *sd__buf_steal(sd__buf *b);
void sd__buf_reset(sd__buf *b);
void sd__buf_free(sd__buf *b);

#endif

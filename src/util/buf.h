/*
 * Growable byte buffer with a size cap (curl's dynbuf habit).
 *
 * Failure is sticky: once an append fails (out of memory, or the cap
 * would be exceeded), the buffer is marked failed, every later append is
 * a no-op returning the same code, and sd__buf_steal() returns NULL, so
 * a piece can never go missing from the middle of a text that is then
 * used as if whole. The appends must have their result used
 * (warn_unused_result); a caller that appends many pieces may chain them
 * with || and check once, or check sd__buf_status() at the end.
 */
#ifndef SD_UTIL_BUF_H
#define SD_UTIL_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct sd__buf {
	char *data; /* always NUL-terminated when non-NULL */
	size_t len;
	size_t cap;
	size_t max; /* hard limit on len; 0 = default (256 MiB) */
	int failed; /* 0, or the SD_E* code of the first failed append */
} sd__buf;

#define SD__BUF_MUST_USE __attribute__((warn_unused_result))

void sd__buf_init(sd__buf *b, size_t max);
/* Append; returns 0, or SD_ENOMEM (also when the cap would be exceeded)
 * or SD_EINVAL (a bad format) and the buffer is failed from then on. */
SD__BUF_MUST_USE int sd__buf_append(sd__buf *b, const char *s, size_t n);
SD__BUF_MUST_USE int sd__buf_puts(sd__buf *b, const char *s);
SD__BUF_MUST_USE int sd__buf_printf(sd__buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* 0, or the code of the append that failed the buffer. */
int sd__buf_status(const sd__buf *b);
/*
 * Hand the string to the caller (caller frees; "" for empty) and leave
 * the buffer empty. NULL when the buffer failed (its contents are then
 * freed: a partial text is never handed out) or out of memory.
 */
char *sd__buf_steal(sd__buf *b);
/* Empty the buffer and clear a failure (the memory is kept). */
void sd__buf_reset(sd__buf *b);
void sd__buf_free(sd__buf *b);

#endif

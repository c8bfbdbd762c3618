#include "util/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "syndisco.h"

#define SD_BUF_DEFAULT_MAX ((size_t)256 << 20)

void sd__buf_init(sd__buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max ? max : SD_BUF_DEFAULT_MAX;
	b->failed = 0;
}

/* Mark the buffer failed (the first code wins) and return the code. */
static int fail(sd__buf *b, int rc)
{
	if (!b->failed)
		b->failed = rc;
	return b->failed;
}

static int grow(sd__buf *b, size_t need)
{
	if (need > b->max)
		return SD_ENOMEM;
	if (need + 1 <= b->cap)
		return SD_OK;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need + 1)
		cap *= 2;
	/* keep the old block on failure: never p = realloc(p, n) */
	char *p = realloc(b->data, cap);
	if (!p)
		return SD_ENOMEM;
	b->data = p;
	b->cap = cap;
	return SD_OK;
}

int sd__buf_append(sd__buf *b, const char *s, size_t n)
{
	if (b->failed)
		return b->failed;
	if (b->len + n < b->len)
		return fail(b, SD_ENOMEM);
	int rc = grow(b, b->len + n);
	if (rc)
		return fail(b, rc);
	if (n)
		memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
	return SD_OK;
}

int sd__buf_puts(sd__buf *b, const char *s) { return sd__buf_append(b, s, strlen(s)); }

int sd__buf_printf(sd__buf *b, const char *fmt, ...)
{
	va_list ap;
	if (b->failed)
		return b->failed;
	va_start(ap, fmt);
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	int rc = SD_EINVAL;
	if (n < 0)
		goto out;
	rc = grow(b, b->len + (size_t)n);
	if (rc)
		goto out;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
	b->len += (size_t)n;
	rc = SD_OK;
out:
	va_end(ap2);
	return rc ? fail(b, rc) : SD_OK;
}

int sd__buf_status(const sd__buf *b) { return b->failed; }

char *sd__buf_steal(sd__buf *b)
{
	if (b->failed) {
		sd__buf_free(b);
		b->failed = 0;
		return NULL;
	}
	if (!b->data && grow(b, 0))
		return NULL;
	if (b->len == 0)
		b->data[0] = '\0';
	char *p = b->data;
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}

void sd__buf_reset(sd__buf *b)
{
	b->len = 0;
	b->failed = 0;
	if (b->data)
		b->data[0] = '\0';
}

void sd__buf_free(sd__buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
	b->failed = 0;
}

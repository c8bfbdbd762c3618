#include "util/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *sd_strerror(int status)
{
	switch (status) {
	case SD_OK:
		return "ok";
	case SD_EINVAL:
		return "invalid input";
	case SD_ENOMEM:
		return "out of memory";
	case SD_EIO:
		return "input/output error";
	case SD_EPARSE:
		return "parse error";
	case SD_EBACKEND:
		return "generation backend error";
	case SD_ESTATE:
		return "not allowed in this state";
	case SD_ENOTFOUND:
		return "not found";
	default:
		return "unknown error";
	}
}

void sd_error_clear(sd_error *err)
{
	if (err)
		memset(err, 0, sizeof(*err));
}

static void copy_str(char *dst, size_t size, const char *src)
{
	if (!src) {
		dst[0] = '\0';
		return;
	}
	snprintf(dst, size, "%s", src);
}

int sd__error_set(sd_error *err, int code, const char *source, const char *field,
		  const char *fmt, ...)
{
	if (!err)
		return code;
	err->code = code;
	err->line = err->column = 0;
	copy_str(err->source, sizeof(err->source), source);
	copy_str(err->field, sizeof(err->field), field);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->text, sizeof(err->text), fmt, ap);
	va_end(ap);
	return code;
}

int sd__error_set_at(sd_error *err, int code, const char *source, int line, int column,
		     const char *fmt, ...)
{
	if (!err)
		return code;
	err->code = code;
	err->line = line;
	err->column = column;
	copy_str(err->source, sizeof(err->source), source);
	err->field[0] = '\0';
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->text, sizeof(err->text), fmt, ap);
	va_end(ap);
	return code;
}

const char *sd_error_format(const sd_error *err, char *buf, size_t size)
{
	if (!buf || size == 0)
		return buf;
	buf[0] = '\0';
	if (!err)
		return buf;
	size_t o = 0;
#define PUT(...)                                                                         \
	do {                                                                             \
		if (o < size) {                                                          \
			int n_ = snprintf(buf + o, size - o, __VA_ARGS__);               \
			if (n_ > 0)                                                      \
				o += (size_t)n_;                                         \
		}                                                                        \
	} while (0)
	if (err->source[0]) {
		PUT("%s", err->source);
		if (err->line > 0) {
			PUT(":%d", err->line);
			if (err->column > 0)
				PUT(":%d", err->column);
		}
		PUT(": ");
	}
	if (err->field[0])
		PUT("%s: ", err->field);
	PUT("%s", err->text[0] ? err->text : sd_strerror(err->code));
#undef PUT
	return buf;
}

void sd_free(void *p) { free(p); }

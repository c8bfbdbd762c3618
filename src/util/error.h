/* Filling sd_error structs; the message goes where the caller asked. */
#ifndef SD_UTIL_ERROR_H
#define SD_UTIL_ERROR_H

#include "syndisco.h"

/*
 * Set err (may be NULL) and return code. source/field may be NULL.
 */
int sd__error_set(sd_error *err, int code, const char *source, const char *field,
		  const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Same, with a line and column (1-based). */
int sd__error_set_at(sd_error *err, int code, const char *source, int line, int column,
		     const char *fmt, ...) __attribute__((format(printf, 6, 7)));

#endif

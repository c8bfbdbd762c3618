/*
 * Python-exact text primitives, so the profiles can reproduce SynDisco's
 * prompts and files byte for byte (conformance/BEHAVIOUR.md section 0):
 * str.isspace / strip on code points, textwrap.fill with default
 * options, json.dumps (compact and indent=4, ensure_ascii, float repr)
 * and str() / repr() of JSON values. Internal to the library.
 *
 * Strings in are UTF-8; invalid bytes are read as U+FFFD. Functions
 * returning int give SD_OK or SD_ENOMEM (SD_EINVAL for bad arguments).
 */
#ifndef SD_UTIL_PYTEXT_H
#define SD_UTIL_PYTEXT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* Python's str.isspace() of one code point. */
bool sd__py_isspace(uint32_t cp);
/* str.isalnum(), str.isdecimal(), str.isprintable() of one code point. */
bool sd__py_isalnum(uint32_t cp);
bool sd__py_isdecimal(uint32_t cp);
bool sd__py_isprintable(uint32_t cp);

/*
 * s[0..n) as code points. *out is caller-freed (free()); NULL when n is 0.
 */
int sd__py_decode(const char *s, size_t n, uint32_t **out, size_t *n_out);
/* Append code points as UTF-8. */
int sd__py_encode(sd__buf *b, const uint32_t *cp, size_t n);

/* s.strip() == "" (NULL counts as blank). */
bool sd__py_is_blank(const char *s);
/* s.strip(). Caller frees; NULL on allocation failure. */
char *sd__py_strip(const char *s);
/* s.replace(old, "") for a non-empty old. Caller frees; NULL on OOM. */
char *sd__py_remove_all(const char *s, const char *old);

/*
 * textwrap.fill(s, width) with the default options. width >= 1 (Python
 * raises otherwise: SD_EINVAL). Caller frees *out.
 */
int sd__py_fill(const char *s, long width, char **out);

/*
 * Append json.dumps(v) (indent < 0: one line with ", " and ": ") or
 * json.dumps(v, indent=N): ASCII only, \uXXXX in lowercase hex with
 * surrogate pairs, numbers as Python prints them, keys in insertion
 * order, no final newline.
 */
int sd__py_json_dump(sd__buf *b, const json_t *v, int indent);
/* The same into a new string. Caller frees; NULL on allocation failure. */
char *sd__py_json_dumps(const json_t *v, int indent);

/* Python's repr(float), e.g. "1.7", "1e+20", "1e-05". */
int sd__py_float_repr(sd__buf *b, double x);
/*
 * Python's repr() / str() of a value parsed from JSON: strings quoted as
 * repr does (str() leaves a top-level string as it is), None, True,
 * False, ints, floats, lists and dicts.
 */
int sd__py_repr(sd__buf *b, const json_t *v);
int sd__py_str(sd__buf *b, const json_t *v);

#endif

/* jansson helpers shared by core and run: Python-compatible dumps. */
#ifndef SD_UTIL_JSON_H
#define SD_UTIL_JSON_H

#include <jansson.h>

/*
 * Serialize like Python's json.dumps(obj) with its defaults: one line,
 * ", " and ": " separators, non-ASCII as lowercase \uXXXX escapes.
 * Caller frees. NULL on allocation failure.
 */
char *sd__json_dumps_python(const json_t *v);

/* A JSON string from possibly invalid UTF-8 (repaired). New reference. */
json_t *sd__json_string_repair(const char *s);

/* True for "", null, [] and {} (fields left out of prompts). */
int sd__json_is_empty(const json_t *v);

#endif

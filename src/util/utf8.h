/* UTF-8 validation and repair (invalid bytes become U+FFFD). */
#ifndef SD_UTIL_UTF8_H
#define SD_UTIL_UTF8_H

#include <stdbool.h>
#include <stddef.h>

bool sd__utf8_valid(const char *s, size_t n);
/* Length of the longest prefix of s[0..n) that is valid UTF-8 without NUL
 * bytes (n when all of it is). */
size_t sd__utf8_valid_prefix(const char *s, size_t n);
/*
 * Copy s[0..n) repairing every invalid or truncated sequence (and NUL
 * bytes) with U+FFFD. Caller frees. NULL on allocation failure.
 */
char *sd__utf8_repair(const char *s, size_t n);
/*
 * Length of the longest prefix of s[0..n) that does not end inside a
 * multi-byte sequence that could still be completed by more bytes. Used
 * to hold back an incomplete sequence until the next token piece.
 */
size_t sd__utf8_complete_prefix(const char *s, size_t n);

#endif

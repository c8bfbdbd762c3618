#include "util/utf8.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/*
 * Length of the valid sequence starting at s[i], or 0 when invalid,
 * or -1 when it is a valid but truncated prefix at the end of input.
 */
static int seq_len(const unsigned char *s, size_t i, size_t n)
{
	unsigned c = s[i];
	int len;
	uint32_t min, cp;
	if (c == 0)
		return 0; /* NUL would cut C strings short */
	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF) {
		len = 2;
		min = 0x80;
		cp = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		len = 3;
		min = 0x800;
		cp = c & 0x0F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4;
		min = 0x10000;
		cp = c & 0x07;
	} else {
		return 0;
	}
	for (int k = 1; k < len; k++) {
		if (i + (size_t)k >= n)
			return -1;
		unsigned cc = s[i + (size_t)k];
		if ((cc & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (cc & 0x3F);
		/* reject overlongs, surrogates and > U+10FFFF as soon as known */
		if (k == 1) {
			if (len == 3 && c == 0xE0 && cc < 0xA0)
				return 0;
			if (len == 3 && c == 0xED && cc > 0x9F)
				return 0;
			if (len == 4 && c == 0xF0 && cc < 0x90)
				return 0;
			if (len == 4 && c == 0xF4 && cc > 0x8F)
				return 0;
		}
	}
	if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return len;
}

size_t sd__utf8_valid_prefix(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;
	while (i < n) {
		int l = seq_len(u, i, n);
		if (l <= 0)
			break;
		i += (size_t)l;
	}
	return i;
}

bool sd__utf8_valid(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	for (size_t i = 0; i < n;) {
		int l = seq_len(u, i, n);
		if (l <= 0)
			return false;
		i += (size_t)l;
	}
	return true;
}

char *sd__utf8_repair(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	/* worst case: every byte becomes 3 bytes of U+FFFD */
	if (n > (SIZE_MAX - 1) / 3)
		return NULL;
	char *out = malloc(n * 3 + 1);
	if (!out)
		return NULL;
	size_t o = 0;
	for (size_t i = 0; i < n;) {
		int l = seq_len(u, i, n);
		if (l > 0) {
			memcpy(out + o, s + i, (size_t)l);
			o += (size_t)l;
			i += (size_t)l;
		} else {
			memcpy(out + o, "\xEF\xBF\xBD", 3);
			o += 3;
			i += 1;
			/* skip the continuation bytes of the broken sequence */
			while (l == -1 && i < n && (u[i] & 0xC0) == 0x80)
				i++;
		}
	}
	out[o] = '\0';
	return out;
}

size_t sd__utf8_complete_prefix(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	/* look back at most 3 bytes for a lead byte that wants more */
	size_t back = n < 4 ? n : 4;
	for (size_t k = 1; k <= back; k++) {
		size_t i = n - k;
		if ((u[i] & 0xC0) == 0x80)
			continue;
		if (seq_len(u, i, n) == -1)
			return i;
		break;
	}
	return n;
}

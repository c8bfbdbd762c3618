/*
 * Python-exact text primitives (see pytext.h). Written from the
 * behaviour documented in conformance/BEHAVIOUR.md section 0 and checked
 * against the recorded fixtures; no Python source was copied.
 */
#include "util/pytext.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "syndisco.h"

typedef struct sd__cp_range {
	uint32_t lo, hi;
} sd__cp_range;

#include "util/pyunicode_tables.h"

static bool in_ranges(const sd__cp_range *r, size_t n, uint32_t cp)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (cp < r[mid].lo)
			hi = mid;
		else if (cp > r[mid].hi)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

#define IN(tab, cp) in_ranges(tab, sizeof(tab) / sizeof(tab[0]), cp)

bool sd__py_isspace(uint32_t cp)
{
	return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 ||
	       cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
	       cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F ||
	       cp == 0x3000;
}

bool sd__py_isalnum(uint32_t cp) { return IN(py_alnum, cp); }

bool sd__py_isdecimal(uint32_t cp) { return IN(py_decimal, cp); }

bool sd__py_isprintable(uint32_t cp) { return IN(py_printable, cp); }

/* One code point from s[*i..n); invalid or truncated bytes give U+FFFD. */
static uint32_t next_cp(const unsigned char *s, size_t n, size_t *i)
{
	unsigned char c = s[*i];
	uint32_t cp;
	size_t len;
	if (c < 0x80) {
		(*i)++;
		return c;
	} else if (c >= 0xC2 && c <= 0xDF) {
		len = 2;
		cp = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		len = 3;
		cp = c & 0x0F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4;
		cp = c & 0x07;
	} else {
		(*i)++;
		return 0xFFFD;
	}
	if (*i + len > n)
		goto bad;
	for (size_t k = 1; k < len; k++) {
		if ((s[*i + k] & 0xC0) != 0x80)
			goto bad;
		cp = (cp << 6) | (s[*i + k] & 0x3F);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
		goto bad;
	*i += len;
	return cp;
bad:
	(*i)++;
	return 0xFFFD;
}

int sd__py_decode(const char *s, size_t n, uint32_t **out, size_t *n_out)
{
	*out = NULL;
	*n_out = 0;
	if (n == 0)
		return SD_OK;
	uint32_t *v = malloc(n * sizeof(*v));
	if (!v)
		return SD_ENOMEM;
	size_t i = 0, k = 0;
	while (i < n)
		v[k++] = next_cp((const unsigned char *)s, n, &i);
	*out = v;
	*n_out = k;
	return SD_OK;
}

static int put_cp(sd__buf *b, uint32_t cp)
{
	char u[4];
	size_t len;
	if (cp >= 0xD800 && cp <= 0xDFFF)
		cp = 0xFFFD;
	if (cp < 0x80) {
		u[0] = (char)cp;
		len = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xC0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3F));
		len = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xE0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[2] = (char)(0x80 | (cp & 0x3F));
		len = 3;
	} else {
		u[0] = (char)(0xF0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[3] = (char)(0x80 | (cp & 0x3F));
		len = 4;
	}
	return sd__buf_append(b, u, len);
}

int sd__py_encode(sd__buf *b, const uint32_t *cp, size_t n)
{
	int rc = sd__buf_append(b, "", 0);
	for (size_t i = 0; i < n && rc == SD_OK; i++)
		rc = put_cp(b, cp[i]);
	return rc;
}

/* Byte bounds [*lo, *hi) of s without Unicode whitespace at either end. */
static void strip_bounds(const char *s, size_t *lo, size_t *hi)
{
	size_t n = strlen(s), i = 0, first = n, last = 0;
	while (i < n) {
		size_t at = i;
		uint32_t cp = next_cp((const unsigned char *)s, n, &i);
		if (!sd__py_isspace(cp)) {
			if (first == n)
				first = at;
			last = i;
		}
	}
	*lo = first;
	*hi = first == n ? n : last;
}

bool sd__py_is_blank(const char *s)
{
	size_t lo, hi;
	if (!s)
		return true;
	strip_bounds(s, &lo, &hi);
	return lo >= hi;
}

char *sd__py_strip(const char *s)
{
	size_t lo, hi;
	strip_bounds(s, &lo, &hi);
	if (lo >= hi)
		return strdup("");
	char *r = malloc(hi - lo + 1);
	if (!r)
		return NULL;
	memcpy(r, s + lo, hi - lo);
	r[hi - lo] = '\0';
	return r;
}

char *sd__py_remove_all(const char *s, const char *old)
{
	sd__buf b;
	size_t k = strlen(old);
	sd__buf_init(&b, 0);
	if (sd__buf_append(&b, "", 0))
		return NULL;
	for (const char *p = s; *p;) {
		const char *q = k ? strstr(p, old) : NULL;
		if (!q) {
			if (sd__buf_puts(&b, p))
				goto oom;
			break;
		}
		if (sd__buf_append(&b, p, (size_t)(q - p)))
			goto oom;
		p = q + k;
	}
	return sd__buf_steal(&b);
oom:
	sd__buf_free(&b);
	return NULL;
}

/* ---- textwrap.fill ---- */

static bool is_ascii_ws(uint32_t c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static bool is_word(uint32_t c) { return c == '_' || sd__py_isalnum(c); }

/* textwrap's "letter": a \w character that is not a \d digit. */
static bool is_letter(uint32_t c) { return is_word(c) && !sd__py_isdecimal(c); }

static bool is_word_punct(uint32_t c)
{
	return is_word(c) || (c < 0x80 && strchr("!\"'&.,?", (int)c));
}

typedef struct chunk {
	size_t off, len; /* in code points of the munged text */
} chunk;

/* t[j..] is "--+" followed by a \w character. */
static bool dashes_then_word(const uint32_t *t, size_t n, size_t j)
{
	size_t k = j;
	while (k < n && t[k] == '-')
		k++;
	return k - j >= 2 && k < n && is_word(t[k]);
}

static bool letter_at(const uint32_t *t, size_t n, size_t i)
{
	return i < n && is_letter(t[i]);
}

/*
 * The end of the chunk that starts at i: textwrap's word-splitting
 * pattern, alternative by alternative (whitespace run, em-dash run,
 * shortest word ending at a hyphen break, a space, the end or an
 * em-dash). Its look-behinds may look before i.
 */
static size_t chunk_end(const uint32_t *t, size_t n, size_t i)
{
	if (t[i] == ' ') {
		while (i < n && t[i] == ' ')
			i++;
		return i;
	}
	if (i > 0 && is_word_punct(t[i - 1]) && dashes_then_word(t, n, i)) {
		while (t[i] == '-')
			i++;
		return i;
	}
	for (size_t j = i + 1;; j++) {
		/* t[i..j) is non-space */
		if (j < n && t[j] == '-') {
			bool behind =
			    (j >= 2 && is_letter(t[j - 2]) && is_letter(t[j - 1])) ||
			    (j >= 3 && is_letter(t[j - 3]) && t[j - 2] == '-' &&
			     is_letter(t[j - 1]));
			bool ahead =
			    letter_at(t, n, j + 1) &&
			    (letter_at(t, n, j + 2) ||
			     (j + 2 < n && t[j + 2] == '-' && letter_at(t, n, j + 3)));
			if (behind && ahead)
				return j + 1;
		}
		if (j >= n || t[j] == ' ')
			return j;
		if (is_word_punct(t[j - 1]) && dashes_then_word(t, n, j))
			return j;
	}
}

static bool chunk_blank(const uint32_t *t, const chunk *c)
{
	for (size_t k = 0; k < c->len; k++)
		if (!sd__py_isspace(t[c->off + k]))
			return false;
	return true;
}

int sd__py_fill(const char *s, long width, char **out)
{
	uint32_t *in = NULL, *t = NULL;
	size_t n_in = 0, n = 0, n_chunks = 0, col = 0;
	chunk *chunks = NULL, *line = NULL;
	sd__buf b;
	int rc;

	*out = NULL;
	if (!s || width < 1)
		return SD_EINVAL;
	sd__buf_init(&b, 0);
	if ((rc = sd__py_decode(s, strlen(s), &in, &n_in)) ||
	    (rc = sd__buf_append(&b, "", 0)))
		goto out;
	rc = SD_ENOMEM;
	/* expand tabs (size 8, by column; \n and \r restart it), then every
	   ASCII whitespace character becomes a space */
	size_t cap = n_in;
	for (size_t i = 0; i < n_in; i++)
		if (in[i] == '\t')
			cap += 8;
	if (cap && !(t = malloc(cap * sizeof(*t))))
		goto out;
	for (size_t i = 0; i < n_in; i++) {
		uint32_t c = in[i];
		if (c == '\t') {
			size_t pad = 8 - col % 8;
			for (size_t k = 0; k < pad; k++)
				t[n++] = ' ';
			col += pad;
			continue;
		}
		col = (c == '\n' || c == '\r') ? 0 : col + 1;
		t[n++] = is_ascii_ws(c) ? ' ' : c;
	}
	if (n && (!(chunks = malloc(n * sizeof(*chunks))) ||
		  !(line = malloc(n * sizeof(*line)))))
		goto out;
	for (size_t i = 0; i < n;) {
		size_t e = chunk_end(t, n, i);
		chunks[n_chunks].off = i;
		chunks[n_chunks].len = e - i;
		n_chunks++;
		i = e;
	}
	/* greedy filling, as textwrap's _wrap_chunks with the defaults */
	size_t next = 0, n_lines = 0;
	size_t w = (size_t)width;
	while (next < n_chunks) {
		size_t n_line = 0, cur = 0;
		if (n_lines > 0 && chunk_blank(t, &chunks[next]))
			next++;
		while (next < n_chunks && cur + chunks[next].len <= w) {
			line[n_line++] = chunks[next];
			cur += chunks[next++].len;
		}
		if (next < n_chunks && chunks[next].len > w) {
			chunk *c = &chunks[next];
			size_t space_left = w - cur, end = space_left;
			if (c->len > space_left) {
				/* the last hyphen before space_left, if the
				   part before it is not all hyphens */
				size_t h = space_left;
				while (h > 0 && t[c->off + h - 1] != '-')
					h--;
				if (h >= 1) {
					size_t hy = h - 1;
					bool other = false;
					for (size_t k = 0; k < hy; k++)
						if (t[c->off + k] != '-')
							other = true;
					if (hy > 0 && other)
						end = hy + 1;
				}
			}
			line[n_line].off = c->off;
			line[n_line++].len = end;
			c->off += end;
			c->len -= end;
		}
		if (n_line && chunk_blank(t, &line[n_line - 1]))
			n_line--;
		if (n_line) {
			if (n_lines++ && (rc = sd__buf_append(&b, "\n", 1)))
				goto out;
			for (size_t k = 0; k < n_line; k++)
				if ((rc =
					 sd__py_encode(&b, t + line[k].off, line[k].len)))
					goto out;
		}
	}
	*out = sd__buf_steal(&b);
	rc = *out ? SD_OK : SD_ENOMEM;
out:
	sd__buf_free(&b);
	free(in);
	free(t);
	free(chunks);
	free(line);
	return rc;
}

/* ---- json.dumps ---- */

static int json_string_esc(sd__buf *b, const char *s, size_t n)
{
	int rc = sd__buf_append(b, "\"", 1);
	size_t i = 0;
	while (i < n && rc == SD_OK) {
		uint32_t c = next_cp((const unsigned char *)s, n, &i);
		switch (c) {
		case '"':
			rc = sd__buf_puts(b, "\\\"");
			break;
		case '\\':
			rc = sd__buf_puts(b, "\\\\");
			break;
		case '\n':
			rc = sd__buf_puts(b, "\\n");
			break;
		case '\r':
			rc = sd__buf_puts(b, "\\r");
			break;
		case '\t':
			rc = sd__buf_puts(b, "\\t");
			break;
		case '\b':
			rc = sd__buf_puts(b, "\\b");
			break;
		case '\f':
			rc = sd__buf_puts(b, "\\f");
			break;
		default:
			if (c >= 0x20 && c < 0x7F) {
				char ch = (char)c;
				rc = sd__buf_append(b, &ch, 1);
			} else if (c < 0x10000) {
				rc = sd__buf_printf(b, "\\u%04x", (unsigned)c);
			} else {
				uint32_t v = c - 0x10000;
				rc = sd__buf_printf(b, "\\u%04x\\u%04x",
						    (unsigned)(0xD800 | (v >> 10)),
						    (unsigned)(0xDC00 | (v & 0x3FF)));
			}
		}
	}
	return rc ? rc : sd__buf_append(b, "\"", 1);
}

int sd__py_float_repr(sd__buf *b, double x)
{
	char digits[40], tmp[48];
	int exp10 = 0;
	if (isnan(x))
		return sd__buf_puts(b, "NaN");
	if (isinf(x))
		return sd__buf_puts(b, x < 0 ? "-Infinity" : "Infinity");
	if (x == 0)
		return sd__buf_puts(b, signbit(x) ? "-0.0" : "0.0");
	/* the shortest digits that read back as x */
	for (int p = 1; p <= 17; p++) {
		snprintf(tmp, sizeof(tmp), "%.*e", p - 1, x);
		if (strtod(tmp, NULL) == x || p == 17)
			break;
	}
	/* tmp is [-]d[.ddd]e[+-]xx */
	const char *p = tmp;
	size_t nd = 0;
	bool neg = *p == '-';
	if (neg)
		p++;
	for (; *p && *p != 'e'; p++)
		if (*p != '.')
			digits[nd++] = *p;
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	digits[nd] = '\0';
	exp10 = atoi(p + 1);
	int decpt = exp10 + 1; /* x = 0.digits * 10^decpt */
	int rc = neg ? sd__buf_puts(b, "-") : SD_OK;
	if (rc)
		return rc;
	if (decpt <= -4 || decpt > 16) {
		rc = sd__buf_append(b, digits, 1);
		if (!rc && nd > 1)
			rc = sd__buf_printf(b, ".%s", digits + 1);
		if (!rc)
			rc = sd__buf_printf(b, "e%c%02d", exp10 < 0 ? '-' : '+',
					    exp10 < 0 ? -exp10 : exp10);
	} else if (decpt <= 0) {
		rc = sd__buf_puts(b, "0.");
		for (int k = 0; k < -decpt && !rc; k++)
			rc = sd__buf_puts(b, "0");
		if (!rc)
			rc = sd__buf_puts(b, digits);
	} else if ((size_t)decpt >= nd) {
		rc = sd__buf_puts(b, digits);
		for (size_t k = nd; k < (size_t)decpt && !rc; k++)
			rc = sd__buf_puts(b, "0");
		if (!rc)
			rc = sd__buf_puts(b, ".0");
	} else {
		rc = sd__buf_append(b, digits, (size_t)decpt);
		if (!rc)
			rc = sd__buf_printf(b, ".%s", digits + decpt);
	}
	return rc;
}

static int newline_indent(sd__buf *b, int indent, int level)
{
	int rc = sd__buf_append(b, "\n", 1);
	for (int k = 0; k < indent * level && !rc; k++)
		rc = sd__buf_append(b, " ", 1);
	return rc;
}

static int dump(sd__buf *b, const json_t *v, int indent, int level)
{
	int rc = SD_OK;
	const char *item_sep = indent < 0 ? ", " : ",";
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		const char *key;
		json_t *val;
		size_t i = 0;
		if (json_object_size(v) == 0)
			return sd__buf_puts(b, "{}");
		rc = sd__buf_puts(b, "{");
		json_object_foreach((json_t *)v, key, val)
		{
			if (!rc && i++)
				rc = sd__buf_puts(b, item_sep);
			if (!rc && indent >= 0)
				rc = newline_indent(b, indent, level + 1);
			if (!rc)
				rc = json_string_esc(b, key, strlen(key));
			if (!rc)
				rc = sd__buf_puts(b, ": ");
			if (!rc)
				rc = dump(b, val, indent, level + 1);
		}
		if (!rc && indent >= 0)
			rc = newline_indent(b, indent, level);
		return rc ? rc : sd__buf_puts(b, "}");
	}
	case JSON_ARRAY:
		if (json_array_size(v) == 0)
			return sd__buf_puts(b, "[]");
		rc = sd__buf_puts(b, "[");
		for (size_t i = 0; i < json_array_size(v) && !rc; i++) {
			if (i)
				rc = sd__buf_puts(b, item_sep);
			if (!rc && indent >= 0)
				rc = newline_indent(b, indent, level + 1);
			if (!rc)
				rc = dump(b, json_array_get(v, i), indent, level + 1);
		}
		if (!rc && indent >= 0)
			rc = newline_indent(b, indent, level);
		return rc ? rc : sd__buf_puts(b, "]");
	case JSON_STRING:
		return json_string_esc(b, json_string_value(v), json_string_length(v));
	case JSON_INTEGER:
		return sd__buf_printf(b, "%lld", (long long)json_integer_value(v));
	case JSON_REAL:
		return sd__py_float_repr(b, json_real_value(v));
	case JSON_TRUE:
		return sd__buf_puts(b, "true");
	case JSON_FALSE:
		return sd__buf_puts(b, "false");
	case JSON_NULL:
		return sd__buf_puts(b, "null");
	}
	return SD_EINVAL;
}

int sd__py_json_dump(sd__buf *b, const json_t *v, int indent)
{
	if (!b || !v)
		return SD_EINVAL;
	int rc = sd__buf_append(b, "", 0);
	return rc ? rc : dump(b, v, indent, 0);
}

char *sd__py_json_dumps(const json_t *v, int indent)
{
	sd__buf b;
	sd__buf_init(&b, 0);
	if (sd__py_json_dump(&b, v, indent)) {
		sd__buf_free(&b);
		return NULL;
	}
	return sd__buf_steal(&b);
}

/* ---- repr / str ---- */

static int repr_string(sd__buf *b, const char *s, size_t n)
{
	bool has_sq = memchr(s, '\'', n) != NULL;
	bool has_dq = memchr(s, '"', n) != NULL;
	char q = (has_sq && !has_dq) ? '"' : '\'';
	int rc = sd__buf_append(b, &q, 1);
	size_t i = 0;
	while (i < n && !rc) {
		uint32_t c = next_cp((const unsigned char *)s, n, &i);
		if (c == (uint32_t)q || c == '\\') {
			char e[2] = {'\\', (char)c};
			rc = sd__buf_append(b, e, 2);
		} else if (c == '\t') {
			rc = sd__buf_puts(b, "\\t");
		} else if (c == '\n') {
			rc = sd__buf_puts(b, "\\n");
		} else if (c == '\r') {
			rc = sd__buf_puts(b, "\\r");
		} else if (c == ' ' || sd__py_isprintable(c)) {
			rc = put_cp(b, c);
		} else if (c <= 0xFF) {
			rc = sd__buf_printf(b, "\\x%02x", (unsigned)c);
		} else if (c <= 0xFFFF) {
			rc = sd__buf_printf(b, "\\u%04x", (unsigned)c);
		} else {
			rc = sd__buf_printf(b, "\\U%08x", (unsigned)c);
		}
	}
	return rc ? rc : sd__buf_append(b, &q, 1);
}

int sd__py_repr(sd__buf *b, const json_t *v)
{
	int rc = SD_OK;
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		const char *key;
		json_t *val;
		size_t i = 0;
		rc = sd__buf_puts(b, "{");
		json_object_foreach((json_t *)v, key, val)
		{
			if (!rc && i++)
				rc = sd__buf_puts(b, ", ");
			if (!rc)
				rc = repr_string(b, key, strlen(key));
			if (!rc)
				rc = sd__buf_puts(b, ": ");
			if (!rc)
				rc = sd__py_repr(b, val);
		}
		return rc ? rc : sd__buf_puts(b, "}");
	}
	case JSON_ARRAY:
		rc = sd__buf_puts(b, "[");
		for (size_t i = 0; i < json_array_size(v) && !rc; i++) {
			if (i)
				rc = sd__buf_puts(b, ", ");
			if (!rc)
				rc = sd__py_repr(b, json_array_get(v, i));
		}
		return rc ? rc : sd__buf_puts(b, "]");
	case JSON_STRING:
		return repr_string(b, json_string_value(v), json_string_length(v));
	case JSON_INTEGER:
		return sd__buf_printf(b, "%lld", (long long)json_integer_value(v));
	case JSON_REAL: {
		double x = json_real_value(v);
		if (isnan(x))
			return sd__buf_puts(b, "nan");
		if (isinf(x))
			return sd__buf_puts(b, x < 0 ? "-inf" : "inf");
		return sd__py_float_repr(b, x);
	}
	case JSON_TRUE:
		return sd__buf_puts(b, "True");
	case JSON_FALSE:
		return sd__buf_puts(b, "False");
	case JSON_NULL:
		return sd__buf_puts(b, "None");
	}
	return SD_EINVAL;
}

int sd__py_str(sd__buf *b, const json_t *v)
{
	if (json_is_string(v))
		return sd__buf_append(b, json_string_value(v), json_string_length(v));
	return sd__py_repr(b, v);
}

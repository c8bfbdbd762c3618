/* Python-exact text primitives (src/util/pytext.c) against values
 * CPython 3.12 gives; the cases follow conformance/BEHAVIOUR.md §0. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
/* clang-format on */

#include "syndisco.h"
#include "util/pytext.h"

static void check_fill(const char *in, long width, const char *want)
{
	char *out = NULL;
	assert_int_equal(sd__py_fill(in, width, &out), SD_OK);
	assert_string_equal(out, want);
	free(out);
}

static void test_fill(void **state)
{
	(void)state;
	check_fill("", 70, "");
	check_fill("   ", 70, "");
	check_fill("  lead and trail  ", 70, "  lead and trail");
	check_fill("a\nb\tc\r\nd", 900000, "a b       c  d");
	check_fill("ab\tc", 70, "ab      c");
	check_fill("re-implementation", 5, "re-im\npleme\nntati\non");
	check_fill("a re-implementation", 20, "a re-implementation");
	check_fill("a re-implementation", 10, "a re-imple\nmentation");
	check_fill("well-known word", 8, "well-\nknown\nword");
	check_fill("this--that", 6, "this--\nthat");
	check_fill("555-123 x", 3, "555\n-12\n3 x");
	check_fill("--flag", 3, "--f\nlag");
	check_fill("end \xe3\x80\x80", 70, "end ");
	check_fill("a-b-c-d-e", 3, "a-\nb-\nc-\nd-e");
	check_fill("x \xe3\x80\x80 y", 2, "x\n y");
	check_fill(
	    "\xce\x95\xce\xbb\xce\xbb\xce\xb7\xce\xbd\xce\xb9\xce\xba\xce\xac", 3,
	    "\xce\x95\xce\xbb\xce\xbb\n\xce\xb7\xce\xbd\xce\xb9\n\xce\xba\xce\xac");
	char *out = NULL;
	assert_int_equal(sd__py_fill("x", 0, &out), SD_EINVAL);
}

static void test_space_strip(void **state)
{
	(void)state;
	assert_true(sd__py_isspace(0x3000));
	assert_true(sd__py_isspace(0x85));
	assert_true(sd__py_isspace(0x1C));
	assert_false(sd__py_isspace(0x200B));
	assert_false(sd__py_isspace(0xFEFF));
	assert_true(sd__py_is_blank(" \xc2\xa0\xe2\x80\xa8\xe3\x80\x80\n"));
	assert_false(sd__py_is_blank("\xe2\x80\x8b"));
	char *s = sd__py_strip("\xc2\x85 hi there\xe3\x80\x80 ");
	assert_string_equal(s, "hi there");
	free(s);
	s = sd__py_remove_all("[o<x>k]", "<x>");
	assert_string_equal(s, "[ok]");
	free(s);
	assert_true(sd__py_isalnum(0x4E2D));
	assert_true(sd__py_isdecimal(0x663));
	assert_false(sd__py_isdecimal(0xB2));
}

static void check_json(const char *in, int indent, const char *want)
{
	json_t *v = json_loads(in, JSON_DECODE_ANY, NULL);
	assert_non_null(v);
	char *out = sd__py_json_dumps(v, indent);
	assert_string_equal(out, want);
	free(out);
	json_decref(v);
}

static void test_json(void **state)
{
	(void)state;
	check_json("{\"b\": [1, 1.7, 1e20, 1e-5, 0.5], \"a\": null, \"t\": true}", -1,
		   "{\"b\": [1, 1.7, 1e+20, 1e-05, 0.5], \"a\": null, \"t\": true}");
	check_json("\"\xce\xb5 \xf0\x9f\x99\x82 \\u0001\\u007f/\\\"\\\\\\n\"", -1,
		   "\"\\u03b5 \\ud83d\\ude42 \\u0001\\u007f/\\\"\\\\\\n\"");
	check_json("{\"a\": [], \"b\": {}, \"c\": [1, {\"d\": \"e\"}]}", 4,
		   "{\n    \"a\": [],\n    \"b\": {},\n    \"c\": [\n        1,\n"
		   "        {\n            \"d\": \"e\"\n        }\n    ]\n}");
	sd__buf b;
	sd__buf_init(&b, 0);
	assert_int_equal(sd__py_float_repr(&b, 123456789012345678.0), SD_OK);
	assert_string_equal(b.data, "1.2345678901234568e+17");
	sd__buf_free(&b);
}

static void test_repr(void **state)
{
	(void)state;
	json_t *v = json_loads(
	    "[\"it's\", \"say \\\"hi\\\"\", \"both ' and \\\"\", \"back\\\\slash\","
	    " \"tab\\there\", \"zero\\u200bwidth\", \"\", \"\\u3000\\u00a0\\u0001\","
	    " \"\xce\x95 \xf0\x9f\x99\x82\", 3, null, true, 1.5]",
	    0, NULL);
	assert_non_null(v);
	sd__buf b;
	sd__buf_init(&b, 0);
	assert_int_equal(sd__py_str(&b, v), SD_OK);
	assert_string_equal(
	    b.data, "[\"it's\", 'say \"hi\"', 'both \\' and \"', 'back\\\\slash', "
		    "'tab\\there', 'zero\\u200bwidth', '', '\\u3000\\xa0\\x01', "
		    "'\xce\x95 \xf0\x9f\x99\x82', 3, None, True, 1.5]");
	sd__buf_free(&b);
	sd__buf_init(&b, 0);
	assert_int_equal(sd__py_str(&b, json_array_get(v, 0)), SD_OK);
	assert_string_equal(b.data, "it's");
	sd__buf_free(&b);
	json_decref(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fill),
	    cmocka_unit_test(test_space_strip),
	    cmocka_unit_test(test_json),
	    cmocka_unit_test(test_repr),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

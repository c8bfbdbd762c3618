/* Unit tests for label specs and the annotation state machine: no model. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "syndisco.h"

/* ---------------- labels ---------------- */

static sd_label_spec *spec(const char *json)
{
	sd_label_spec *s = NULL;
	sd_error err;
	sd_error_clear(&err);
	int rc = sd_label_spec_parse(json, "cfg.json", "label", &s, &err);
	if (rc)
		fprintf(stderr, "%s\n", err.text);
	assert_int_equal(rc, SD_OK);
	return s;
}

/* label_json of reply, or NULL when it does not parse */
static char *parse(const sd_label_spec *s, const char *reply)
{
	char *out = NULL;
	int rc = sd_label_parse(s, reply, &out);
	if (rc == SD_EPARSE) {
		assert_null(out);
		return NULL;
	}
	assert_int_equal(rc, SD_OK);
	return out;
}

static void expect_label(const sd_label_spec *s, const char *reply, const char *want)
{
	char *got = parse(s, reply);
	if (!want) {
		assert_null(got);
		return;
	}
	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static void test_label_range(void **state)
{
	(void)state;
	sd_label_spec *s = spec("{\"range\": [1, 5]}");
	assert_string_equal(sd_label_spec_grammar(s),
			    "root ::= \"1\" | \"2\" | \"3\" | \"4\" | \"5\"\n");
	expect_label(s, "3", "3");
	expect_label(s, " 5\n", "5");
	expect_label(s, "0", NULL);
	expect_label(s, "6", NULL);
	expect_label(s, "3.0", NULL);
	expect_label(s, "three", NULL);
	expect_label(s, "", NULL);
	expect_label(s, "3 stars", NULL);
	sd_label_spec_free(s);

	/* a wide range is not spelled out; the parser still checks it */
	s = spec("{\"range\": [-5000, 5000]}");
	/* issue 13.14: bounded, so that every reply ends: at most 4 digits */
	assert_string_equal(sd_label_spec_grammar(s),
			    "root ::= \"-\"? [0-9] [0-9]? [0-9]? [0-9]?\n");
	assert_int_equal(sd_label_spec_max_bytes(s), 5);
	expect_label(s, "-4999", "-4999");
	expect_label(s, "5001", NULL);
	sd_label_spec_free(s);

	/* the longest reply each spec allows: annotations raise max_tokens to it */
	s = spec("{\"values\": [\"yes\", \"no\"], \"json\": true}");
	assert_int_equal(sd_label_spec_max_bytes(s), strlen("{\"label\": \"yes\"}"));
	sd_label_spec_free(s);
	s = spec("{\"values\": [\"toxic\", \"civil\"]}");
	assert_int_equal(sd_label_spec_max_bytes(s), 5);
	sd_label_spec_free(s);
	s = spec("{\"range\": [1, 5], \"json\": true}");
	assert_int_equal(sd_label_spec_max_bytes(s), strlen("{\"label\": 5}"));
	sd_label_spec_free(s);
	s = spec("{\"grammar\": \"root ::= [a-z]+\"}");
	assert_int_equal(sd_label_spec_max_bytes(s), 0);
	sd_label_spec_free(s);
}

static void test_label_values(void **state)
{
	(void)state;
	sd_label_spec *s = spec("{\"values\": [\"toxic\", \"say \\\"hi\\\"\"]}");
	assert_string_equal(sd_label_spec_grammar(s),
			    "root ::= \"toxic\" | \"say \\\"hi\\\"\"\n");
	expect_label(s, "toxic", "\"toxic\"");
	expect_label(s, "say \"hi\"", "\"say \\\"hi\\\"\"");
	expect_label(s, "Toxic", NULL);
	sd_label_spec_free(s);

	s = spec("{\"values\": [\"good\", \"bad\"], \"json\": true}");
	assert_string_equal(sd_label_spec_grammar(s),
			    "root ::= \"{\\\"label\\\": \" value \"}\"\n"
			    "value ::= \"\\\"good\\\"\" | \"\\\"bad\\\"\"\n");
	expect_label(s, "{\"label\": \"bad\"}", "\"bad\"");
	expect_label(s, "{\"label\": \"ugly\"}", NULL);
	expect_label(s, "bad", NULL);
	expect_label(s, "{\"label\": \"bad\", \"x\": 1}", NULL);
	sd_label_spec_free(s);

	s = spec("{\"range\": [1, 3], \"json\": true}");
	expect_label(s, "{\"label\": 2}", "2");
	expect_label(s, "{\"label\": \"2\"}", NULL);
	sd_label_spec_free(s);
}

static void test_label_grammar(void **state)
{
	(void)state;
	sd_label_spec *s = spec("{\"grammar\": \"root ::= [0-9]+ \\\".\\\" [0-9]\", "
				"\"type\": \"number\"}");
	assert_string_equal(sd_label_spec_grammar(s), "root ::= [0-9]+ \".\" [0-9]");
	expect_label(s, "2.5", "2.5");
	expect_label(s, "x", NULL);
	sd_label_spec_free(s);
	s = spec("{\"grammar\": \"root ::= \\\"{}\\\"\", \"type\": \"json\"}");
	expect_label(s, "{}", "{}");
	sd_label_spec_free(s);
	s = spec("{\"grammar\": \"root ::= [a-z]+\"}");
	expect_label(s, " yes ", "\"yes\"");
	sd_label_spec_free(s);
}

static void expect_spec_error(const char *json, const char *field)
{
	sd_label_spec *s = NULL;
	sd_error err;
	sd_error_clear(&err);
	assert_int_not_equal(
	    sd_label_spec_parse(json, "cfg.json", "annotators[0].label", &s, &err),
	    SD_OK);
	assert_null(s);
	assert_string_equal(err.source, "cfg.json");
	assert_string_equal(err.field, field);
	assert_true(strlen(err.text) > 10);
}

static void test_label_errors(void **state)
{
	(void)state;
	expect_spec_error("[1, 5]", "annotators[0].label");
	expect_spec_error("{}", "annotators[0].label");
	expect_spec_error("{\"range\": [5, 1]}", "annotators[0].label.range");
	expect_spec_error("{\"range\": [1]}", "annotators[0].label.range");
	expect_spec_error("{\"values\": []}", "annotators[0].label.values");
	expect_spec_error("{\"values\": [\" a\"]}", "annotators[0].label.values");
	expect_spec_error("{\"values\": [\"a\"], \"range\": [1, 2]}",
			  "annotators[0].label");
	expect_spec_error("{\"grammar\": \"x ::= y\"}", "annotators[0].label.grammar");
	expect_spec_error("{\"grammar\": \"root ::= [a]\", \"type\": \"date\"}",
			  "annotators[0].label.type");
	expect_spec_error("{\"range\": [1, 2], \"colour\": 1}",
			  "annotators[0].label.colour");
}

static void test_grammar_check(void **state)
{
	(void)state;
	char msg[256];
	assert_int_equal(sd_grammar_check("root ::= \"a\" | \"b\"", msg, sizeof(msg)),
			 SD_OK);
	assert_int_equal(sd_grammar_check("root ::= (\"a\" | ", msg, sizeof(msg)),
			 SD_EPARSE);
	assert_true(strlen(msg) > 0);
	assert_int_equal(sd_grammar_check("other ::= \"a\"", msg, sizeof(msg)),
			 SD_EPARSE);
}

/* ---------------- annotation ---------------- */

/* A log: users A, B, C and moderator M, comments in this order. */
static const char log_json[] =
    "{\"id\": \"conv-1\", \"timestamp\": \"t\", \"users\": [\"A\", \"B\", \"C\"],"
    " \"moderator\": \"M\", \"logs\": ["
    "{\"name\": \"A\", \"text\": \"a0\", \"model\": \"x\"},"
    "{\"name\": \"M\", \"text\": \"m1\", \"model\": \"x\"},"
    "{\"name\": \"B\", \"text\": \"b2\", \"model\": \"x\"},"
    "{\"name\": \"C\", \"text\": \"c3\", \"model\": \"x\"},"
    "{\"name\": \"M\", \"text\": \"m4\", \"model\": \"x\"},"
    "{\"name\": \"A\", \"text\": \"a5\", \"model\": \"x\"}]}";

typedef struct fixture {
	sd_logs *log;
	sd_actor *annotator;
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	assert_int_equal(sd_logs_from_json(log_json, "log.json", &f->log, NULL), SD_OK);
	sd_persona *p =
	    sd_persona_from_json("{\"username\": \"ann\", \"age\": 40}", NULL);
	sd_actor_params ap = sd_actor_default_params();
	ap.persona = p;
	ap.model_name = "scripted";
	ap.context = "ctx";
	ap.instructions = "Rate toxicity 1-5.";
	ap.kind = SD_ACTOR_ANNOTATOR;
	f->annotator = sd_actor_create(&ap, NULL);
	sd_persona_free(p);
	if (!f->log || !f->annotator)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	sd_actor_free(f->annotator);
	sd_logs_free(f->log);
	free(f);
	return 0;
}

/* The content of a 2.x user prompt, {"role": "user", "content": ...}. */
static const char *content(const char *user_prompt)
{
	static char buf[4][1024];
	static int k;
	json_t *j = json_loads(user_prompt, 0, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "role")), "user");
	k = (k + 1) % 4;
	snprintf(buf[k], sizeof(buf[k]), "%s",
		 json_string_value(json_object_get(j, "content")));
	json_decref(j);
	return buf[k];
}

/* Every request the annotation offers before it waits. */
static size_t offer_all(sd_annotation *a, sd_request *reqs, size_t max)
{
	size_t n = 0;
	for (;;) {
		assert_true(n < max);
		int k = sd_annotation_next(a, &reqs[n]);
		if (k != 1) {
			assert_int_equal(k, SD_ANNOTATION_WAIT);
			return n;
		}
		n++;
	}
}

static void test_window_and_moderator(void **state)
{
	fixture *f = *state;
	sd_annotation_params p = sd_annotation_default_params();
	p.history_ctx_len = 2;
	p.include_moderator = false;
	sd_annotation *a = sd_annotation_create(f->annotator, f->log, &p, NULL);
	assert_non_null(a);
	/* targets: a0 b2 c3 a5 (moderator comments skipped) */
	assert_int_equal(sd_annotation_target_count(a), 4);
	sd_request r[8];
	assert_int_equal(offer_all(a, r, 8), 4);
	/* SynDisco's window: the last 2 non-moderator comments, the target
	   included */
	assert_string_equal(
	    content(r[0].user_prompt),
	    "Comments so far: Comment by user A: \"\na0\".\nYour annotation:");
	assert_string_equal(content(r[1].user_prompt),
			    "Comments so far: Comment by user A: \"\na0\"\n"
			    "Comment by user B: \"\nb2\".\nYour annotation:");
	assert_string_equal(content(r[3].user_prompt),
			    "Comments so far: Comment by user C: \"\nc3\"\n"
			    "Comment by user A: \"\na5\".\nYour annotation:");
	assert_null(strstr(r[3].user_prompt, "m4"));
	assert_non_null(strstr(r[0].system_prompt, "\"type\": \"annotator\""));
	assert_null(r[0].grammar);
	/* distinct seeds per comment */
	assert_int_not_equal(r[0].sampling.seed, r[1].sampling.seed);
	/* replies in any order; 2.2.1 strips them */
	for (int i = 3; i >= 0; i--)
		assert_int_equal(sd_annotation_accept(a, r[i].tag, " fine\n", NULL),
				 SD_OK);
	assert_int_equal(sd_annotation_next(a, &r[0]), 0);

	char *json = NULL;
	sd_annotation_meta m = {"tox", "scripted", "26-11-29-10-00", "log.json"};
	assert_int_equal(sd_annotation_to_json(a, &m, &json), SD_OK);
	json_t *j = json_loads(json, 0, NULL);
	assert_non_null(j);
	/* 2.2.1's file: {timestamp, logs[{name, text, model, prompt}]} first,
	   ASCII, indent 4, no final newline; ours after */
	assert_memory_equal(
	    json, "{\n    \"timestamp\": \"26-11-29-10-00\",\n    \"logs\": [", 45);
	assert_true(json[strlen(json) - 1] == '}');
	assert_string_equal(json_string_value(json_object_get(j, "conv_id")), "conv-1");
	assert_string_equal(json_string_value(json_object_get(j, "annotator_model")),
			    "scripted");
	assert_int_equal(json_integer_value(json_object_get(j, "ctx_length")), 2);
	const json_t *logs = json_object_get(j, "logs");
	assert_int_equal(json_array_size(logs), 4);
	assert_int_equal(json_object_size(json_array_get(logs, 3)), 4);
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(logs, 3), "name")), "A");
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(logs, 3), "text")), "fine");
	const json_t *last = json_array_get(json_object_get(j, "annotation_meta"), 3);
	assert_int_equal(json_integer_value(json_object_get(last, "message_order")), 5);
	assert_string_equal(json_string_value(json_object_get(last, "label_status")),
			    "none");
	char id[17];
	assert_int_equal(sd_logs_message_id(f->log, 5, id), SD_OK);
	assert_string_equal(json_string_value(json_object_get(last, "message_id")), id);
	json_decref(j);
	sd_free(json);
	sd_annotation_free(a);

	/* with moderators: 6 targets, and a window of 2 shows the moderator */
	p.include_moderator = true;
	p.history_ctx_len = 2;
	a = sd_annotation_create(f->annotator, f->log, &p, NULL);
	assert_int_equal(sd_annotation_target_count(a), 6);
	assert_int_equal(offer_all(a, r, 8), 6);
	assert_string_equal(content(r[2].user_prompt),
			    "Comments so far: Comment by user M: \"\nm1\"\n"
			    "Comment by user B: \"\nb2\".\nYour annotation:");
	sd_annotation_free(a);

	/* a window of 0 keeps nothing, not even the target (as SynDisco) */
	p.history_ctx_len = 0;
	a = sd_annotation_create(f->annotator, f->log, &p, NULL);
	assert_int_equal(offer_all(a, r, 8), 6);
	assert_string_equal(content(r[5].user_prompt),
			    "Comments so far: .\nYour annotation:");
	sd_annotation_free(a);
}

static void test_labels_retry(void **state)
{
	fixture *f = *state;
	sd_label_spec *s = spec("{\"range\": [1, 5]}");
	sd_annotation_params p = sd_annotation_default_params();
	p.label = s;
	p.max_retries = 1;
	p.include_moderator = false;
	sd_annotation *a = sd_annotation_create(f->annotator, f->log, &p, NULL);
	sd_request r[8];
	assert_int_equal(offer_all(a, r, 8), 4);
	assert_string_equal(r[0].grammar, sd_label_spec_grammar(s));
	uint32_t seed0 = r[0].sampling.seed;
	assert_int_equal(sd_annotation_accept(a, r[0].tag, "3", NULL), SD_OK);
	assert_int_equal(sd_annotation_accept(a, r[1].tag, "seven", NULL), SD_OK);
	assert_int_equal(sd_annotation_accept(a, r[2].tag, "\xff", NULL), SD_OK);
	assert_int_equal(sd_annotation_accept(a, r[3].tag, "5", NULL), SD_OK);
	/* the two bad ones are asked again, with new seeds */
	sd_request again[4];
	assert_int_equal(offer_all(a, again, 4), 2);
	assert_int_equal(again[0].tag, r[1].tag);
	assert_int_not_equal(again[0].sampling.seed, r[1].sampling.seed);
	assert_int_not_equal(again[0].sampling.seed, seed0);
	assert_int_equal(sd_annotation_accept(a, again[0].tag, "2", NULL), SD_OK);
	assert_int_equal(sd_annotation_accept(a, again[1].tag, "nope", NULL), SD_OK);
	/* a second accept of the same tag is refused */
	assert_int_equal(sd_annotation_accept(a, again[1].tag, "1", NULL), SD_ESTATE);
	assert_int_equal(sd_annotation_next(a, &r[0]), 0);

	char *json = NULL;
	sd_annotation_meta m = {"tox", "scripted", "ts", NULL};
	assert_int_equal(sd_annotation_to_json(a, &m, &json), SD_OK);
	json_t *j = json_loads(json, 0, NULL);
	const json_t *logs = json_object_get(j, "annotation_meta");
	const char *status[] = {"ok", "ok", "unparsed", "ok"};
	const int labels[] = {3, 2, -1, 5};
	for (size_t i = 0; i < 4; i++) {
		const json_t *e = json_array_get(logs, i);
		assert_string_equal(json_string_value(json_object_get(e, "label_status")),
				    status[i]);
		if (labels[i] < 0)
			assert_true(json_is_null(json_object_get(e, "label")));
		else
			assert_int_equal(json_integer_value(json_object_get(e, "label")),
					 labels[i]);
	}
	/* the unparsed reply is kept as it came (repaired to UTF-8) */
	assert_string_equal(json_string_value(json_object_get(
				json_array_get(json_object_get(j, "logs"), 2), "text")),
			    "nope");
	/* the spec is recorded with the annotations */
	assert_true(
	    json_is_array(json_object_get(json_object_get(j, "label_spec"), "range")));
	json_decref(j);
	sd_free(json);
	sd_annotation_free(a);
	sd_label_spec_free(s);
}

/* Two annotations of the same log make the same requests (seeds too). */
static void test_deterministic(void **state)
{
	fixture *f = *state;
	sd_annotation_params p = sd_annotation_default_params();
	p.seed = 99;
	sd_annotation *a = sd_annotation_create(f->annotator, f->log, &p, NULL);
	sd_annotation *b = sd_annotation_create(f->annotator, f->log, &p, NULL);
	sd_request ra[8], rb[8];
	assert_int_equal(offer_all(a, ra, 8), 6);
	assert_int_equal(offer_all(b, rb, 8), 6);
	for (int i = 0; i < 6; i++) {
		assert_int_equal(ra[i].sampling.seed, rb[i].sampling.seed);
		assert_string_equal(ra[i].user_prompt, rb[i].user_prompt);
	}
	sd_annotation_free(a);
	sd_annotation_free(b);
}

/* SynDisco 2.2.1 logs have no id: comments are named by position. */
static void test_log_without_id(void **state)
{
	fixture *f = *state;
	sd_logs *l = NULL;
	assert_int_equal(
	    sd_logs_from_json("{\"logs\": [{\"name\": \"A\", \"text\": \"x\"}]}",
			      "noid.json", &l, NULL),
	    SD_OK);
	assert_non_null(l);
	sd_error err;
	sd_error_clear(&err);
	sd_annotation_params p = sd_annotation_default_params();
	sd_annotation *a = sd_annotation_create(f->annotator, l, &p, &err);
	assert_non_null(a);
	assert_int_equal(sd_annotation_target_count(a), 1);
	sd_annotation_free(a);
	sd_logs_free(l);
}

/* The seed profile: plain prompts, the case-sensitive "moderator"
 * substring filter, no strip, [text, annotation] pairs and the print. */
static void test_seed_profile(void **state)
{
	(void)state;
	sd_logs *l = NULL;
	assert_int_equal(
	    sd_logs_from_json(
		"{\"id\": \"c\", \"logs\": [{\"name\": \"Moderator\", \"text\": \"hi\"},"
		" {\"name\": \"a_moderator_fan\", \"text\": \"x\"},"
		" {\"name\": \"B\", \"text\": \"  \"}]}",
		"s.json", &l, NULL),
	    SD_OK);
	sd_persona *p = sd_persona_from_json(
	    "{\"username\": \"\", \"age\": 1, \"sex\": \"\", \"sexual_orientation\": "
	    "\"\","
	    " \"demographic_group\": \"\", \"current_employment\": \"\","
	    " \"education_level\": \"\", \"special_instructions\": \"\","
	    " \"personality_characteristics\": []}",
	    NULL);
	assert_non_null(l);
	assert_non_null(p);
	sd_actor_params ap = sd_actor_default_params();
	ap.persona = p;
	ap.name = "";
	ap.kind = SD_ACTOR_ANNOTATOR;
	ap.profile = SD_PROFILE_SEED;
	sd_actor *ann = sd_actor_create(&ap, NULL);
	assert_non_null(ann);
	sd_annotation_params pp = sd_annotation_default_params();
	pp.include_moderator = false;
	sd_annotation *a = sd_annotation_create(ann, l, &pp, NULL);
	assert_int_equal(sd_annotation_target_count(a), 2);
	sd_request r[4];
	assert_int_equal(offer_all(a, r, 4), 2);
	assert_string_equal(
	    r[0].user_prompt,
	    "Conversation so far:\n\nUser Moderator posted:\nhi\nOutput:");
	assert_string_equal(
	    r[1].user_prompt,
	    "Conversation so far:\n\nUser Moderator posted:\nhi\n\nOutput:");
	assert_int_equal(sd_annotation_accept(a, r[0].tag, "  2\n", NULL), SD_OK);
	assert_int_equal(sd_annotation_accept(a, r[1].tag, "3", NULL), SD_OK);
	char *json = NULL, *shown = NULL;
	sd_annotation_meta m = {"ann", "mod", "ts", NULL};
	assert_int_equal(sd_annotation_to_json(a, &m, &json), SD_OK);
	assert_non_null(
	    strstr(json, "\"ctx_length\": 2,\n    \"logs\": [\n        [\n"
			 "            \"hi\",\n            \"  2\\n\"\n        ],"));
	assert_memory_equal(json,
			    "{\n    \"conv_id\": \"c\",\n    \"timestamp\": \"ts\",", 41);
	assert_int_equal(sd_annotation_printed(a, &shown), SD_OK);
	assert_string_equal(shown, "User Moderator posted: hi\n  2\n\n\n3\n");
	sd_free(json);
	sd_free(shown);
	sd_annotation_free(a);
	sd_actor_free(ann);
	sd_persona_free(p);
	sd_logs_free(l);
}

/* Issue 13.6: a grammar nested 30,000 deep overflowed llama.cpp's parser's
 * stack (SIGSEGV) while the config loaded; now it is refused first. */
static void test_grammar_bounds(void **state)
{
	(void)state;
	size_t n = 30000;
	char *g = malloc(2 * n + 64);
	assert_non_null(g);
	strcpy(g, "root ::= ");
	size_t k = strlen(g);
	for (size_t i = 0; i < n; i++)
		g[k++] = '(';
	g[k++] = '"', g[k++] = 'a', g[k++] = '"';
	for (size_t i = 0; i < n; i++)
		g[k++] = ')';
	g[k] = 0;
	json_t *j = json_pack("{s:s}", "grammar", g);
	char *text = json_dumps(j, 0);
	sd_label_spec *s = NULL;
	sd_error err;
	assert_int_equal(
	    sd_label_spec_parse(text, "c.json", "annotators[0].label", &s, &err),
	    SD_EINVAL);
	assert_non_null(strstr(err.text, "64 deep"));
	assert_string_equal(err.field, "annotators[0].label.grammar");
	free(text);
	json_decref(j);
	/* parentheses inside strings, classes and comments do not count */
	strcpy(g, "root ::= \"((((\" [(] # ((((\n");
	j = json_pack("{s:s}", "grammar", g);
	text = json_dumps(j, 0);
	assert_int_equal(sd_label_spec_parse(text, "c.json", "l", &s, &err), SD_OK);
	sd_label_spec_free(s);
	free(text);
	json_decref(j);
	free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_label_range),
	    cmocka_unit_test(test_label_values),
	    cmocka_unit_test(test_label_grammar),
	    cmocka_unit_test(test_label_errors),
	    cmocka_unit_test(test_grammar_check),
	    cmocka_unit_test(test_grammar_bounds),
	    cmocka_unit_test_setup_teardown(test_window_and_moderator, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_labels_retry, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_deterministic, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_log_without_id, setup, teardown),
	    cmocka_unit_test(test_seed_profile),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

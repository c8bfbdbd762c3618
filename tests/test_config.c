/* Discussion config files: every bad input names the file and field. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "syndisco.h"

static char dir[] = "/tmp/sd-config-XXXXXX";

static const char *write_cfg(const char *name, const char *text)
{
	static char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(sd_file_write_atomic(path, text, strlen(text), NULL), SD_OK);
	return path;
}

/* Load `text` and expect failure with `field` (may be "") and `needle`. */
static void expect_error(const char *text, int code, const char *field,
			 const char *needle)
{
	sd_discussion_config *c = NULL;
	sd_error err;
	const char *path = write_cfg("c.json", text);
	int rc = sd_discussion_config_load(path, &c, &err);
	char buf[1024];
	sd_error_format(&err, buf, sizeof(buf));
	if (rc != code)
		fail_msg("expected %d, got %d: %s", code, rc, buf);
	assert_null(c);
	if (!strstr(buf, needle && strstr(needle, ".json") ? needle : "c.json"))
		fail_msg("no file name in '%s'", buf);
	if (field)
		assert_string_equal(err.field, field);
	if (needle && !strstr(buf, needle))
		fail_msg("'%s' not in '%s'", needle, buf);
}

#define USERS "\"personas\": [{\"username\": \"a\"}, {\"username\": \"b\"}]"

static void test_config_errors(void **state)
{
	(void)state;
	expect_error("{" USERS ",}", SD_EPARSE, NULL, "c.json:1:");
	expect_error("[]", SD_EINVAL, NULL, "JSON object");
	expect_error("{\"context\": \"x\"}", SD_EINVAL, "personas", "missing");
	expect_error("{\"personas\": [{\"age\": 3}]}", SD_EINVAL, "personas[0].username",
		     "username");
	expect_error("{" USERS ", \"turn_manager\": \"zigzag\"}", SD_EINVAL,
		     "turn_manager", "unknown turn manager");
	expect_error("{" USERS
		     ", \"turn_manager\": {\"type\": \"respond\", \"p_respond\": 1.5}}",
		     SD_EINVAL, "turn_manager.p_respond", "between 0 and 1");
	expect_error(
	    "{\"personas\": [{\"username\": \"a\"}], \"turn_manager\": \"random\"}",
	    SD_EINVAL, "users", "at least 2 users");
	expect_error("{" USERS ", \"users\": [\"a\", \"zed\"]}", SD_EINVAL, "users[1]",
		     "zed");
	expect_error("{" USERS ", \"conv_lenn\": 3}", SD_EINVAL, "conv_lenn",
		     "unknown field");
	expect_error("{" USERS ", \"conv_len\": \"3\"}", SD_EINVAL, "conv_len",
		     "integer");
	expect_error("{\"personas_file\": \"nope.json\"}", SD_ENOTFOUND, NULL,
		     "nope.json");
	expect_error("{" USERS ", \"moderator\": {\"instructions\": \"x\"}}", SD_EINVAL,
		     "moderator.persona", "missing");
	expect_error("{" USERS ", \"moderator\": {\"persona\": {\"username\": \"a\"}}}",
		     SD_EINVAL, "moderator.persona.username", "also a user");
	expect_error("{" USERS ", \"backend\": {\"type\": \"gpt\"}}", SD_EINVAL,
		     "backend.type", "unknown backend");
	expect_error("{" USERS ", \"seed_opinions\": [{\"text\": \"x\"}]}", SD_EINVAL,
		     "seed_opinions[0]", "username");
	/* issue 13.12: a placeholder typo is an error, not literal text */
	expect_error("{" USERS
		     ", \"templates\": {\"user_prompt\": \"So far: {histroy}.\"}}",
		     SD_EINVAL, "templates.user_prompt", "{histroy}");
	expect_error("{" USERS
		     ", \"templates\": {\"history_entry\": \"{name} said {txt}\"}}",
		     SD_EINVAL, "templates.history_entry", "{txt}");
	expect_error("{" USERS ", \"templates\": {\"history_sep\": \"{history}\"}}",
		     SD_EINVAL, "templates.history_sep", "{history}");
	/* known placeholders, escaped braces and braces of the text's own */
	sd_discussion_config *c = NULL;
	sd_error err;
	const char *path = write_cfg(
	    "tmpl.json",
	    "{" USERS ", \"backend\": {\"type\": \"scripted\"}, \"templates\": {"
	    "\"user_prompt\": \"{{histroy}} {\\\"a\\\": 1} { x } {history}\", "
	    "\"history_entry\": \"{name}: {text}\"}}");
	if (sd_discussion_config_load(path, &c, &err)) {
		char buf[1024];
		fail_msg("%s", sd_error_format(&err, buf, sizeof(buf)));
	}
	sd_discussion_config_free(c);
}

static void test_persona_file_errors(void **state)
{
	(void)state;
	write_cfg("bad-personas.json",
		  "[\n {\"username\": \"a\"},\n {\"username\": 5}\n]");
	expect_error("{\"personas_file\": \"bad-personas.json\"}", SD_EINVAL,
		     "[1].username", "bad-personas.json");
	write_cfg("broken.json", "[\n {\"username\": \"a\"\n");
	sd_discussion_config *c = NULL;
	sd_error err;
	const char *path = write_cfg("c2.json", "{\"personas_file\": \"broken.json\"}");
	assert_int_equal(sd_discussion_config_load(path, &c, &err), SD_EPARSE);
	assert_non_null(strstr(err.source, "broken.json"));
	assert_true(err.line >= 2);
}

#define OA "\"type\": \"openai\", \"model\": \"m\", "
#define OA_URL OA "\"base_url\": \"http://127.0.0.1:9/v1\""

static void test_config_openai(void **state)
{
	(void)state;
	expect_error("{" USERS ", \"backend\": {" OA "\"max_retries\": 3}}", SD_EINVAL,
		     "backend.base_url", "missing");
	expect_error("{" USERS ", \"backend\": {" OA_URL
		     ", \"api_key\": \"sk-zzz-secret\"}}",
		     SD_EINVAL, "backend.api_key", "api_key_env");
	expect_error("{" USERS ", \"backend\": {" OA_URL
		     ", \"base_urls\": [\"http://a/v1\"]}}",
		     SD_EINVAL, "backend.base_url", "not both");
	expect_error("{" USERS ", \"backend\": {" OA "\"base_urls\": []}}", SD_EINVAL,
		     "backend.base_urls", "non-empty");
	expect_error("{" USERS ", \"backend\": {" OA
		     "\"base_urls\": [\"http://a/v1\", 3]}}",
		     SD_EINVAL, "backend.base_urls[1]", "URL");
	expect_error("{" USERS ", \"backend\": {" OA "\"base_url\": \"127.0.0.1:8080\"}}",
		     SD_EINVAL, "backend.base_url", "http://");
	expect_error("{" USERS ", \"backend\": {" OA_URL ", \"n_ctx\": 3}}", SD_EINVAL,
		     "backend.n_ctx", "unknown field");
	expect_error("{" USERS ", \"backend\": {" OA_URL ", \"extra_body\": [1]}}",
		     SD_EINVAL, "backend.extra_body", "object");
	expect_error("{" USERS ", \"backend\": {" OA_URL ", \"grammar_field\": 3}}",
		     SD_EINVAL, "backend.grammar_field", "null");
	expect_error("{" USERS ", \"backend\": {" OA_URL ", \"seed\": 7}}", SD_EINVAL,
		     "backend.seed", "true");
	expect_error("{" USERS ", \"backend\": {" OA_URL ", \"request_timeout\": 0}}",
		     SD_EINVAL, "backend.request_timeout", "between");
	expect_error("{" USERS ", \"backend\": {" OA_URL ", \"max_in_flight\": -1}}",
		     SD_EINVAL, "backend.max_in_flight", "between");
	expect_error("{" USERS ", \"backend\": {" OA_URL ", \"api_key_env\": \"A\", "
		     "\"api_key_file\": \"k\"}}",
		     SD_EINVAL, "backend.api_key_env", "not both");
	expect_error("{" USERS ", \"backend\": {" OA_URL ", \"stop\": [\"\"]}}",
		     SD_EINVAL, "backend.stop", "non-empty");

	/* issue 13.2: credentials in a URL would be stored in run.json */
	expect_error("{" USERS ", \"backend\": {" OA
		     "\"base_url\": \"http://u:pw@127.0.0.1:8/v1\"}}",
		     SD_EINVAL, "backend.base_url", "api_key_env");
	expect_error("{" USERS ", \"backend\": {" OA
		     "\"base_urls\": [\"http://a/v1\", \"https://tok@b/v1\"]}}",
		     SD_EINVAL, "backend.base_urls[1]", "credentials");
	/* issue 13.10: malformed URLs fail at load, not after down_deadline */
	expect_error("{" USERS ", \"backend\": {" OA
		     "\"base_url\": \"http://127.0.0.1:99999/v1\"}}",
		     SD_EINVAL, "backend.base_url", "port");
	expect_error("{" USERS ", \"backend\": {" OA
		     "\"base_url\": \"http://127.0.0.1:80 80/v1\"}}",
		     SD_EINVAL, "backend.base_url", "spaces");
	expect_error("{" USERS ", \"backend\": {" OA
		     "\"base_url\": \"http://127.0.0.1/v1\\r\\nX: y\"}}",
		     SD_EINVAL, "backend.base_url", "control");
	expect_error("{" USERS ", \"backend\": {" OA "\"base_url\": \"http://:80/v1\"}}",
		     SD_EINVAL, "backend.base_url", "no host");
	expect_error("{" USERS ", \"backend\": {" OA "\"base_url\": \"http://h:/v1\"}}",
		     SD_EINVAL, "backend.base_url", "port");

	/* errors found when the backend is opened: the key and the model */
	static const struct {
		const char *backend, *field, *needle;
	} late[] = {
	    {OA_URL ", \"api_key_env\": \"SD_TEST_NO_SUCH_VAR\"", "backend.api_key_env",
	     "SD_TEST_NO_SUCH_VAR"},
	    {OA_URL ", \"api_key_file\": \"nokey.txt\"", "backend.api_key_file",
	     "nokey.txt"},
	    {OA_URL ", \"api_key_file\": \"twolines.txt\"", "backend.api_key_file",
	     "one line"},
	    {"\"type\": \"openai\", \"base_url\": \"http://h/v1\"", "backend.model",
	     "missing"},
	};
	write_cfg("twolines.txt", "sk-one\nsk-two\n");
	for (size_t k = 0; k < sizeof(late) / sizeof(late[0]); k++) {
		char text[512], buf[1024];
		sd_discussion_config *c = NULL;
		sd_error err;
		snprintf(text, sizeof(text), "{" USERS ", \"backend\": {%s}}",
			 late[k].backend);
		assert_int_equal(
		    sd_discussion_config_load(write_cfg("late.json", text), &c, &err),
		    SD_OK);
		assert_string_equal(sd_discussion_config_backend_type(c), "openai");
		assert_null(sd_discussion_config_open_backend(c, NULL, &err));
		sd_error_format(&err, buf, sizeof(buf));
		assert_string_equal(err.field, late[k].field);
		if (!strstr(buf, late[k].needle) || strstr(buf, "sk-"))
			fail_msg("'%s' lacks '%s' or shows a key", buf, late[k].needle);
		sd_discussion_config_free(c);
	}

	/* a good one: every field, the key from a file (blanks trimmed) */
	write_cfg("key.txt", "  sk-from-file\n");
	const char *path = write_cfg(
	    "good.json",
	    "{" USERS ", \"backend\": {\"type\": \"openai\", \"base_urls\": "
	    "[\"http://127.0.0.1:9/v1\", \"https://example.org/api/v1/\"], "
	    "\"model\": \"served\", \"model_name\": \"logged\", \"api_key_file\": "
	    "\"key.txt\", "
	    "\"max_tokens\": 20, \"temperature\": 0.5, \"top_p\": 0.9, \"seed\": false, "
	    "\"stop\": [\"\\n\\n\"], \"extra_body\": {\"top_k\": 3}, \"grammar_field\": "
	    "null, "
	    "\"request_timeout\": 30, \"connect_timeout\": 2, \"max_in_flight\": 4, "
	    "\"max_retries\": 2, \"backoff_initial\": 0.1, \"backoff_max\": 1, "
	    "\"down_deadline\": 0}}");
	sd_discussion_config *c = NULL;
	sd_error err;
	if (sd_discussion_config_load(path, &c, &err)) {
		char buf[1024];
		fail_msg("%s", sd_error_format(&err, buf, sizeof(buf)));
	}
	sd_backend *b = sd_discussion_config_open_backend(c, NULL, &err);
	assert_non_null(b);
	assert_string_equal(sd_backend_model_name(b), "logged");
	sd_backend_free(b);
	/* --model names the served model for openai */
	assert_int_equal(sd_discussion_config_set_model(c, "other"), SD_OK);
	assert_string_equal(sd_discussion_config_model(c), "other");
	sd_discussion_config_free(c);
}

static void test_config_scripted_run(void **state)
{
	(void)state;
	sd_discussion_config *c = NULL;
	sd_error err;
	char path[512];
	snprintf(path, sizeof(path), "%s/../../examples/guide-moderated.json", FIXTURES);
	if (sd_discussion_config_load(path, &c, &err)) {
		char b[1024];
		fail_msg("%s", sd_error_format(&err, b, sizeof(b)));
	}
	sd_scripted_params sp = sd_scripted_default_params();
	sd_backend *b = sd_backend_scripted_create(&sp, NULL);
	sd_discussion *d = sd_discussion_config_instantiate(c, "scripted", &err);
	assert_non_null(d);
	assert_null(sd_discussion_config_instantiate(c, "scripted", &err));
	assert_int_equal(err.code, SD_ESTATE);
	assert_int_equal(sd_discussion_run(d, b, NULL, NULL, &err), SD_OK);
	const sd_logs *l = sd_discussion_logs(d);
	/* 1 seed + 5 user turns + 5 moderator turns */
	assert_int_equal(sd_logs_comment_count(l), 11);
	assert_string_equal(sd_logs_comment(l, 0).model, "hardcoded");
	assert_string_equal(sd_logs_comment(l, 1).name, "Emma35");
	assert_string_equal(sd_logs_comment(l, 2).name, "Moderator");
	assert_string_equal(sd_logs_comment(l, 3).name, "Giannis");
	assert_int_equal(sd_logs_seed(l), 42);
	sd_discussion_free(d);
	sd_backend_free(b);
	sd_discussion_config_free(c);
}

/* Profiles, actors and explicit orders in a discussion config. */
static void test_config_profiles(void **state)
{
	(void)state;
	expect_error("{" USERS ", \"syndisco\": \"2.1\"}", SD_EINVAL, "syndisco",
		     "seed, 2.0.8, 2.2.1");
	expect_error(
	    "{" USERS
	    ", \"turn_manager\": {\"type\": \"order\", \"order\": [\"a\", \"zed\"]}}",
	    SD_EINVAL, "turn_manager.order[1]", "not a user");
	expect_error("{\"actors\": [{\"name\": \"S\"}, {\"name\": \"S\", \"persona\": "
		     "{\"x\": 1}}],"
		     " \"turn_manager\": {\"type\": \"order\", \"order\": [\"S\"]}}",
		     SD_EINVAL, "turn_manager.order[0]", "several users");
	expect_error("{" USERS
		     ", \"turn_manager\": {\"type\": \"random\", \"order\": [\"a\"]}}",
		     SD_EINVAL, "turn_manager.order", "only the");
	expect_error("{" USERS ", \"remove_strings\": [3]}", SD_EINVAL, "remove_strings",
		     "must be a string");

	/* 2.2.1 actors: same name twice, a null persona, repeats in users,
	   an explicit order by position; scripted replies from the config */
	const char *path = write_cfg(
	    "a.json", "{\"actors\": [{\"name\": \"S\", \"persona\": {\"age\": 1}},"
		      " {\"name\": \"S\", \"persona\": null, \"key\": \"s2\", "
		      "\"instructions\": \"I2\"},"
		      " {\"name\": null}],"
		      " \"users\": [\"S\", \"s2\", \"<Unnamed>\"],"
		      " \"turn_manager\": {\"type\": \"order\", \"order\": [1, 2, 0]},"
		      " \"conv_len\": 3, \"history_ctx_len\": 0,"
		      " \"remove_strings\": [\"!\"],"
		      " \"backend\": {\"type\": \"scripted\", \"model_name\": \"m\","
		      " \"replies\": [\" one! \", \"two\", \"three\"]}}");
	sd_discussion_config *c = NULL;
	sd_error err;
	if (sd_discussion_config_load(path, &c, &err)) {
		char b[1024];
		fail_msg("%s", sd_error_format(&err, b, sizeof(b)));
	}
	sd_backend *b = sd_discussion_config_open_backend(c, NULL, &err);
	assert_non_null(b);
	assert_string_equal(sd_backend_model_name(b), "m");
	sd_discussion *d =
	    sd_discussion_config_instantiate(c, sd_backend_model_name(b), &err);
	assert_non_null(d);
	assert_int_equal(sd_discussion_run(d, b, NULL, NULL, &err), SD_OK);
	const sd_logs *l = sd_discussion_logs(d);
	assert_int_equal(sd_logs_comment_count(l), 3);
	/* stripped first, then "!" removed */
	assert_string_equal(sd_logs_comment(l, 0).text, "one");
	assert_string_equal(sd_logs_comment(l, 0).name, "S");
	assert_non_null(strstr(sd_logs_comment(l, 0).prompt, "\"instructions\": \"I2\""));
	assert_non_null(strstr(sd_logs_comment(l, 0).prompt, "\"persona\": {}"));
	assert_string_equal(sd_logs_comment(l, 1).name, "<Unnamed>");
	assert_non_null(
	    strstr(sd_logs_comment(l, 2).prompt, "\"persona\": {\"age\": 1}"));
	assert_int_equal(sd_logs_profile(l), SD_PROFILE_2_2_1);
	sd_discussion_free(d);
	sd_backend_free(b);
	sd_discussion_config_free(c);
}

/* An experiment config in the test directory; fails the test on error. */
static sd_experiment *load_exp(const char *text)
{
	sd_experiment *e = NULL;
	sd_error err;
	char b[1024];
	const char *path = write_cfg("exp.json", text);
	if (sd_experiment_load(path, &e, &err))
		fail_msg("%s", sd_error_format(&err, b, sizeof(b)));
	return e;
}

static void expect_exp_error(const char *text, const char *field, const char *needle)
{
	sd_experiment *e = NULL;
	sd_error err;
	char b[1024];
	const char *path = write_cfg("exp.json", text);
	assert_int_equal(sd_experiment_load(path, &e, &err), SD_EINVAL);
	assert_null(e);
	sd_error_format(&err, b, sizeof(b));
	assert_string_equal(err.field, field);
	if (!strstr(b, needle))
		fail_msg("'%s' not in '%s'", needle, b);
}

#define POOL8                                                                            \
	"\"personas\": [{\"username\": \"a\"}, {\"username\": \"b\"}, {\"username\": "   \
	"\"c\"}, "                                                                       \
	"{\"username\": \"d\"}, {\"username\": \"e\"}, {\"username\": \"f\"}, "          \
	"{\"username\": \"g\"}, {\"username\": \"h\"}]"

/* How many users of discussion i got the troll instructions. */
static size_t trolls_in(const sd_experiment *e, size_t i)
{
	sd_error err;
	sd_job *j = sd_experiment_job_create(e, 0, i, "m", &err);
	assert_non_null(j);
	char *json = NULL;
	assert_int_equal(sd_logs_to_json(sd_discussion_logs(sd_job_discussion(j)), &json),
			 SD_OK);
	size_t n = 0; /* no comments yet: each troll's system prompt once */
	for (const char *p = json; (p = strstr(p, "TROLL")); p++)
		n++;
	sd_free(json);
	sd_job_free(j);
	return n;
}

/* roles with "p": each user a troll by a coin flip of its own, so the
 * number per discussion varies; the same run seed gives the same flips. */
static void test_experiment_role_coin_flip(void **state)
{
	(void)state;
	sd_experiment *e =
	    load_exp("{" POOL8 ", \"num_active_users\": 4, \"num_discussions\": 400, "
		     "\"roles\": [{\"name\": \"troll\", \"p\": 0.3, \"instructions\": "
		     "\"TROLL\"}]}");
	size_t total = 0, seen[5] = {0};
	for (size_t i = 0; i < 400; i++) {
		size_t t = trolls_in(e, i);
		assert_true(t <= 4);
		seen[t]++;
		total += t;
		if (i < 20)
			assert_int_equal(trolls_in(e, i), t); /* deterministic */
	}
	/* Binomial(4, 0.3): 0 trolls in ~24% of discussions, 1 in ~41% */
	assert_true(seen[0] > 40 && seen[1] > 100 && seen[2] > 40);
	assert_true(total > 1600 * 0.25 && total < 1600 * 0.35);
	sd_experiment_free(e);
	/* a fixed share stays exact */
	e = load_exp("{" POOL8 ", \"num_active_users\": 4, \"num_discussions\": 50, "
		     "\"roles\": [{\"name\": \"troll\", \"share\": 0.25, "
		     "\"instructions\": \"TROLL\"}]}");
	for (size_t i = 0; i < 50; i++)
		assert_int_equal(trolls_in(e, i), 1);
	sd_experiment_free(e);
	expect_exp_error("{" POOL8
			 ", \"roles\": [{\"name\": \"t\", \"p\": 0.3, \"share\": 0.2, "
			 "\"instructions\": \"x\"}]}",
			 "roles[0].p", "not both");
	expect_exp_error(
	    "{" POOL8
	    ", \"roles\": [{\"name\": \"t\", \"p\": 0.7, \"instructions\": \"x\"}, "
	    "{\"name\": \"u\", \"p\": 0.5, \"instructions\": \"y\"}]}",
	    "roles", "more than 1");
	expect_exp_error(
	    "{" POOL8
	    ", \"roles\": [{\"name\": \"t\", \"p\": 1.5, \"instructions\": \"x\"}]}",
	    "roles[0].p", "");
	expect_exp_error("{" POOL8
			 ", \"roles\": [{\"name\": \"t\", \"instructions\": \"x\"}]}",
			 "roles[0].share", "\"p\"");
}

/* Whether the seed opinions of discussion i were posted by distinct users. */
static bool distinct_posters(const sd_experiment *e, size_t i, sd_backend *b)
{
	sd_error err;
	sd_job *j = sd_experiment_job_create(e, 0, i, "m", &err);
	assert_non_null(j);
	assert_int_equal(sd_discussion_run(sd_job_discussion(j), b, NULL, NULL, &err),
			 SD_OK);
	const sd_logs *l = sd_discussion_logs(sd_job_discussion(j));
	assert_int_equal(sd_logs_comment_count(l), 3);
	const char *x = sd_logs_comment(l, 0).name, *y = sd_logs_comment(l, 1).name,
		   *z = sd_logs_comment(l, 2).name;
	assert_string_not_equal(x, y); /* never twice in a row, either way */
	assert_string_not_equal(y, z);
	bool yes = strcmp(x, z) != 0;
	sd_job_free(j);
	return yes;
}

/* seed_opinion_posters "distinct": SynDisco 2.0.8's random.sample. */
static void test_experiment_distinct_posters(void **state)
{
	(void)state;
	sd_scripted_params sp = sd_scripted_default_params();
	sd_backend *b = sd_backend_scripted_create(&sp, NULL);
	const char *cfg =
	    "{" POOL8 ", \"num_active_users\": 3, \"num_turns\": 0, "
	    "\"num_discussions\": 60, \"seed_opinions\": [[\"s1\", \"s2\", \"s3\"]]%s}";
	char text[1024];
	snprintf(text, sizeof(text), cfg, ", \"seed_opinion_posters\": \"distinct\"");
	sd_experiment *e = load_exp(text);
	for (size_t i = 0; i < 60; i++)
		assert_true(distinct_posters(e, i, b));
	sd_experiment_free(e);
	/* the default lets the first poster come back for the third */
	snprintf(text, sizeof(text), cfg, "");
	e = load_exp(text);
	size_t repeats = 0;
	for (size_t i = 0; i < 60; i++)
		repeats += !distinct_posters(e, i, b);
	assert_true(repeats > 5);
	sd_experiment_free(e);
	sd_backend_free(b);
	expect_exp_error(
	    "{" POOL8
	    ", \"num_active_users\": 2, \"seed_opinion_posters\": \"distinct\", "
	    "\"seed_opinions\": [\"x\", [\"s1\", \"s2\", \"s3\"]]}",
	    "seed_opinions[1]", "num_active_users is 2");
	expect_exp_error("{" POOL8 ", \"seed_opinion_posters\": \"sample\"}",
			 "seed_opinion_posters", "distinct");
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_config_errors),
	    cmocka_unit_test(test_persona_file_errors),
	    cmocka_unit_test(test_config_scripted_run),
	    cmocka_unit_test(test_config_openai),
	    cmocka_unit_test(test_config_profiles),
	    cmocka_unit_test(test_experiment_role_coin_flip),
	    cmocka_unit_test(test_experiment_distinct_posters),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		return 1;
	return rc;
}

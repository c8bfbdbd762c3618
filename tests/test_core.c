/* Unit tests for src/core and src/util: no model, scripted backend. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "syndisco.h"
#include "util/buf.h"
#include "util/cpus.h"
#include "util/utf8.h"

static const char emma_json[] =
    "{\"username\": \"Emma35\", \"age\": 38, \"sex\": \"female\", "
    "\"sexual_orientation\": \"\", \"demographic_group\": null, "
    "\"current_employment\": \"\", \"education_level\": \"Bachelor's\", "
    "\"special_instructions\": \"\", "
    "\"personality_characteristics\": [\"compassionate\", \"patient\"]}";

static sd_actor *make_actor(const char *persona_json, const char *model)
{
	sd_persona *p = sd_persona_from_json(persona_json, NULL);
	assert_non_null(p);
	sd_actor_params ap = sd_actor_default_params();
	ap.persona = p;
	ap.model_name = model;
	ap.context = "You are taking part in an online conversation";
	ap.instructions = "Act like a human would";
	sd_actor *a = sd_actor_create(&ap, NULL);
	sd_persona_free(p);
	assert_non_null(a);
	return a;
}

/* The default profile, 2.2.1, byte for byte: the persona as given (empty
 * fields included), the user prompt as the JSON text of a chat message. */
/* A failed append fails the buffer for good: later appends that would
 * fit are no-ops, and steal hands out NULL, never a text with a hole. */
static void test_buf_sticky_failure(void **state)
{
	(void)state;
	sd__buf b;
	sd__buf_init(&b, 8); /* the cap stands in for a failed realloc */
	assert_int_equal(sd__buf_puts(&b, "12345"), SD_OK);
	assert_int_equal(sd__buf_status(&b), SD_OK);
	assert_int_equal(sd__buf_puts(&b, "67890"), SD_ENOMEM);
	assert_int_equal(sd__buf_status(&b), SD_ENOMEM);
	assert_int_equal(sd__buf_puts(&b, "a"), SD_ENOMEM); /* would fit */
	assert_int_equal(sd__buf_printf(&b, "%d", 7), SD_ENOMEM);
	assert_int_equal(sd__buf_append(&b, "b", 1), SD_ENOMEM);
	assert_int_equal(b.len, 5);
	assert_string_equal(b.data, "12345");
	assert_null(sd__buf_steal(&b));
	/* after steal the buffer is empty and usable again */
	assert_int_equal(sd__buf_status(&b), SD_OK);
	assert_int_equal(sd__buf_puts(&b, "ok"), SD_OK);
	char *t = sd__buf_steal(&b);
	assert_string_equal(t, "ok");
	free(t);
	/* reset starts over, failure included */
	assert_int_equal(sd__buf_puts(&b, "123456789"), SD_ENOMEM);
	sd__buf_reset(&b);
	assert_int_equal(sd__buf_puts(&b, "abc"), SD_OK);
	assert_string_equal(b.data, "abc");
	sd__buf_free(&b);
	assert_int_equal(sd__buf_status(&b), SD_OK);
}

/* The library says the version its header says, and the numeric macros
 * spell the string. */
static void test_version(void **state)
{
	(void)state;
	char buf[32];
	assert_string_equal(sd_version(), SD_VERSION_STRING);
	snprintf(buf, sizeof(buf), "%d.%d.%d", SD_VERSION_MAJOR, SD_VERSION_MINOR,
		 SD_VERSION_PATCH);
	assert_string_equal(buf, SD_VERSION_STRING);
	assert_int_equal(SD_VERSION_NUMBER, SD_VERSION_MAJOR * 10000 +
						SD_VERSION_MINOR * 100 +
						SD_VERSION_PATCH);
}

static void test_prompt_worked_example(void **state)
{
	(void)state;
	sd_actor *a = make_actor(emma_json, "m");
	char *sys = NULL, *user = NULL;
	assert_int_equal(sd_actor_system_prompt(a, &sys), SD_OK);
	assert_string_equal(
	    sys,
	    "{\"context\": \"You are taking part in an online conversation\", "
	    "\"instructions\": \"Act like a human would\", \"type\": \"user\", "
	    "\"persona\": {\"username\": \"Emma35\", \"age\": 38, \"sex\": \"female\", "
	    "\"sexual_orientation\": \"\", \"demographic_group\": null, "
	    "\"current_employment\": \"\", \"education_level\": \"Bachelor's\", "
	    "\"special_instructions\": \"\", \"personality_characteristics\": "
	    "[\"compassionate\", \"patient\"]}}");
	sd_comment_view h[] = {
	    {"Giannis", "Hello\tthere\n"},
	    {"Moderator", "Keep it civil."},
	};
	assert_int_equal(sd_actor_user_prompt(a, h, 2, &user), SD_OK);
	assert_string_equal(
	    user, "{\"role\": \"user\", \"content\": \"Comments so far: Comment by user "
		  "Giannis: \\\"\\nHello   there\\\"\\nComment by user Moderator: "
		  "\\\"\\nKeep it civil.\\\".\\nYour comment:\"}");
	sd_free(sys);
	sd_free(user);
	sd_actor_free(a);
}

/* The same actor under the seed and 2.0.8 profiles (BEHAVIOUR.md §1, §2). */
static void test_prompt_profiles(void **state)
{
	(void)state;
	sd_persona *p = sd_persona_from_json(emma_json, NULL);
	sd_actor_params ap = sd_actor_default_params();
	ap.persona = p;
	ap.context = "Ctx";
	ap.instructions = "Be brief";
	ap.profile = SD_PROFILE_SEED;
	ap.name = "Em";
	sd_actor *seed = sd_actor_create(&ap, NULL);
	ap.profile = SD_PROFILE_2_0_8;
	sd_actor *v208 = sd_actor_create(&ap, NULL);
	ap.kind = SD_ACTOR_ANNOTATOR;
	ap.profile = SD_PROFILE_SEED;
	sd_actor *seed_ann = sd_actor_create(&ap, NULL);
	assert_non_null(seed);
	assert_non_null(v208);
	assert_non_null(seed_ann);
	char *sys = NULL, *user = NULL;
	sd_comment_view h[] = {{"Gi", "a well-known   text "}, {"X", " \xe3\x80\x80"}};

	assert_int_equal(sd_actor_system_prompt(seed, &sys), SD_OK);
	assert_string_equal(
	    sys,
	    "Ctx Your name is Em. Your traits: username: Emma35, age: 38, sex: female, "
	    "sexual_orientation: , demographic_group: None, current_employment: , "
	    "education_level: Bachelor's, special_instructions: , "
	    "personality_characteristics: ['compassionate', 'patient'] "
	    "Your instructions: Be brief");
	sd_free(sys);
	assert_int_equal(sd_actor_user_prompt(seed, h, 2, &user), SD_OK);
	assert_string_equal(user,
			    "User Gi posted:\na well-known   text\n\nUser Em posted:");
	sd_free(user);
	assert_int_equal(sd_actor_user_prompt(seed, NULL, 0, &user), SD_OK);
	assert_string_equal(user, "\nUser Em posted:");
	sd_free(user);
	assert_int_equal(sd_actor_user_prompt(seed_ann, h, 1, &user), SD_OK);
	assert_string_equal(
	    user,
	    "Conversation so far:\n\nUser Gi posted:\na well-known   text\nOutput:");
	sd_free(user);

	/* 2.0.8: the name is the username; the dataclass fields in order */
	assert_string_equal(sd_actor_name(v208), "Emma35");
	assert_int_equal(sd_actor_system_prompt(v208, &sys), SD_OK);
	assert_string_equal(
	    sys,
	    "{\"context\": \"Ctx\", \"instructions\": \"Be brief\", \"type\": \"1\", "
	    "\"persona\": {\"username\": \"Emma35\", \"age\": 38, \"sex\": \"female\", "
	    "\"sexual_orientation\": \"\", \"demographic_group\": null, "
	    "\"current_employment\": \"\", \"education_level\": \"Bachelor's\", "
	    "\"special_instructions\": \"\", \"personality_characteristics\": "
	    "[\"compassionate\", \"patient\"]}}");
	sd_free(sys);
	assert_int_equal(sd_actor_user_prompt(v208, h, 1, &user), SD_OK);
	assert_string_equal(user, "{\"role\": \"user\", \"content\": \"User Gi posted:"
				  "\\na well-known   text\\nUser Emma35 posted:\"}");
	sd_free(user);

	/* the seed's persona has nine required fields */
	sd_persona *thin = sd_persona_from_json("{\"username\": \"t\"}", NULL);
	ap.persona = thin;
	ap.kind = SD_ACTOR_USER;
	sd_error err;
	assert_null(sd_actor_create(&ap, &err));
	assert_non_null(strstr(err.text, "nine required fields"));
	sd_persona_free(thin);
	sd_profile pr;
	assert_int_equal(sd_profile_from_name("2.0.8", &pr), SD_OK);
	assert_int_equal(pr, SD_PROFILE_2_0_8);
	assert_int_equal(sd_profile_from_name("2.1", &pr), SD_EINVAL);
	sd_actor_free(seed);
	sd_actor_free(v208);
	sd_actor_free(seed_ann);
	sd_persona_free(p);
}

static void test_prompt_wrap_json_and_annotator(void **state)
{
	(void)state;
	sd_persona *p =
	    sd_persona_from_json("{\"username\": \"Ann\", \"x\": \"caf\xc3\xa9\"}", NULL);
	assert_non_null(p);
	sd_actor_params ap = sd_actor_default_params();
	ap.persona = p;
	ap.kind = SD_ACTOR_ANNOTATOR;
	ap.templates.wrap_user_json = true;
	sd_actor *a = sd_actor_create(&ap, NULL);
	char *sys = NULL, *user = NULL;
	sd_comment_view h[] = {{"Bob", "Hi"}};
	assert_int_equal(sd_actor_user_prompt(a, h, 1, &user), SD_OK);
	assert_string_equal(
	    user, "{\"role\": \"user\", \"content\": \"Comments so far: Comment by user "
		  "Bob: \\\"\\nHi\\\".\\nYour annotation:\"}");
	/* Python's json.dumps escapes non-ASCII with lower-case hex */
	assert_int_equal(sd_actor_system_prompt(a, &sys), SD_OK);
	assert_non_null(strstr(sys, "\"type\": \"annotator\""));
	assert_non_null(strstr(sys, "\"x\": \"caf\\u00e9\""));
	sd_free(sys);
	sd_free(user);
	sd_actor_free(a);
	sd_persona_free(p);
}

static void test_persona_errors(void **state)
{
	(void)state;
	sd_error err;
	sd_persona **arr = NULL;
	size_t n = 0;
	char buf[1024];
	assert_int_equal(
	    sd_persona_array_from_json("[{\"username\": \"a\"}, {\"age\": 3}]", "p.json",
				       &arr, &n, &err),
	    SD_EINVAL);
	assert_string_equal(err.field, "[1].username");
	sd_error_format(&err, buf, sizeof(buf));
	assert_non_null(strstr(buf, "p.json"));
	assert_int_equal(sd_persona_array_from_json("[{\"username\": \"a\",}]", "p.json",
						    &arr, &n, &err),
			 SD_EPARSE);
	assert_int_equal(err.line, 1);
	assert_true(err.column > 0);
	assert_int_equal(
	    sd_persona_array_from_json("[{\"username\": \"a\"}, {\"username\": \"a\"}]",
				       "p.json", &arr, &n, &err),
	    SD_EINVAL);
	assert_non_null(strstr(err.text, "duplicate"));
	assert_int_equal(sd_persona_array_from_json("{}", "p.json", &arr, &n, &err),
			 SD_EINVAL);
	/* unknown fields are kept and rendered, in order */
	assert_int_equal(
	    sd_persona_array_from_json(
		"[{\"username\": \"a\", \"hobby\": \"chess\", \"empty\": []}]", "p.json",
		&arr, &n, &err),
	    SD_OK);
	char *s = sd_persona_to_prompt_json(arr[0]);
	assert_string_equal(s, "{\"username\": \"a\", \"hobby\": \"chess\"}");
	sd_free(s);
	sd_persona_array_free(arr, n);
}

/* 2.2.1 personas: any object, no username needed; the actor names itself */
static void test_persona_any_object(void **state)
{
	(void)state;
	sd_error err;
	sd_persona *p = sd_persona_from_json_object("{\"age\": 3, \"x\": [\"y\"]}", &err);
	assert_non_null(p);
	assert_null(sd_persona_username(p));
	sd_actor_params ap = sd_actor_default_params();
	ap.persona = p;
	ap.name = "Ann";
	sd_actor *a = sd_actor_create(&ap, &err);
	assert_non_null(a);
	char *sys = NULL;
	assert_int_equal(sd_actor_system_prompt(a, &sys), SD_OK);
	assert_non_null(strstr(sys, "\"persona\": {\"age\": 3, \"x\": [\"y\"]}"));
	sd_free(sys);
	sd_actor_free(a);
	sd_persona_free(p);
	assert_null(sd_persona_from_json_object("[1]", &err));
	assert_int_equal(err.code, SD_EINVAL);
	assert_null(sd_persona_from_json_object("{\"a\": ", &err));
	assert_int_equal(err.code, SD_EPARSE);
	assert_null(sd_persona_from_json_object(NULL, &err));
}

static void test_round_robin_order(void **state)
{
	(void)state;
	sd_turn_params p = sd_turn_default_params();
	sd_turn_manager *tm = sd_turn_manager_create(&p, 3, NULL);
	for (int i = 0; i < 9; i++)
		assert_int_equal(sd_turn_manager_next(tm), (size_t)(i % 3));
	sd_turn_manager_free(tm);
	/* random first speaker: still cyclic afterwards */
	p.random_first = true;
	p.seed = 7;
	tm = sd_turn_manager_create(&p, 5, NULL);
	size_t first = sd_turn_manager_next(tm);
	for (int i = 1; i < 10; i++)
		assert_int_equal(sd_turn_manager_next(tm), (first + (size_t)i) % 5);
	sd_turn_manager_free(tm);
}

static void test_random_never_repeats(void **state)
{
	(void)state;
	sd_turn_params p = sd_turn_default_params();
	p.kind = SD_TURN_RANDOM;
	p.seed = 12345;
	sd_turn_manager *tm = sd_turn_manager_create(&p, 4, NULL);
	size_t last = sd_turn_manager_next(tm);
	size_t counts[4] = {0};
	for (int i = 0; i < 10000; i++) {
		size_t s = sd_turn_manager_next(tm);
		assert_true(s < 4);
		assert_int_not_equal(s, last);
		counts[s]++;
		last = s;
	}
	for (int k = 0; k < 4; k++)
		assert_true(counts[k] > 2000); /* everyone speaks */
	sd_turn_manager_free(tm);
}

static void respond_frequency(double prob, size_t n)
{
	sd_turn_params p = sd_turn_default_params();
	p.kind = SD_TURN_RESPOND;
	p.p_respond = prob;
	p.seed = 99;
	sd_turn_manager *tm = sd_turn_manager_create(&p, n, NULL);
	size_t prev2 = sd_turn_manager_next(tm);
	size_t prev1 = sd_turn_manager_next(tm);
	int hits = 0;
	const int draws = 10000;
	for (int i = 0; i < draws; i++) {
		size_t s = sd_turn_manager_next(tm);
		assert_int_not_equal(s, prev1);
		if (s == prev2)
			hits++;
		prev2 = prev1;
		prev1 = s;
	}
	double expect = prob + (1.0 - prob) / (double)(n - 1);
	double got = (double)hits / draws;
	if (fabs(got - expect) > 0.02)
		fail_msg("respond p=%g n=%zu: %g, expected %g", prob, n, got, expect);
	sd_turn_manager_free(tm);
}

static void test_respond_frequency(void **state)
{
	(void)state;
	respond_frequency(0.5, 4);
	respond_frequency(0.2, 6);
	respond_frequency(0.8, 3);
}

static void test_turn_manager_errors(void **state)
{
	(void)state;
	sd_error err;
	sd_turn_params p = sd_turn_default_params();
	sd_turn_kind k;
	p.kind = SD_TURN_RESPOND;
	p.p_respond = 1.5;
	assert_null(sd_turn_manager_create(&p, 3, &err));
	assert_string_equal(err.field, "p_respond");
	p.p_respond = NAN;
	assert_null(sd_turn_manager_create(&p, 3, &err));
	p.p_respond = 0.5;
	assert_null(sd_turn_manager_create(&p, 1, &err));
	assert_int_equal(sd_turn_kind_from_name("nonsense", &k), SD_EINVAL);
	assert_int_equal(sd_turn_kind_from_name("respond", &k), SD_OK);
	assert_int_equal(k, SD_TURN_RESPOND);
}

/* Build the guide's two users (+ optional moderator) and run scripted. */
typedef struct guide {
	sd_actor *users[2];
	sd_actor *mod;
	sd_turn_manager *tm;
	sd_discussion *d;
	sd_backend *b;
} guide;

static void guide_setup(guide *g, bool moderator, bool seeds, const char *const *replies,
			size_t n_replies)
{
	memset(g, 0, sizeof(*g));
	g->users[0] = make_actor(emma_json, "scripted");
	g->users[1] = make_actor("{\"username\": \"Giannis\", \"age\": 21}", "scripted");
	if (moderator)
		g->mod = make_actor("{\"username\": \"Moderator\"}", "scripted");
	sd_turn_params tp = sd_turn_default_params();
	g->tm = sd_turn_manager_create(&tp, 2, NULL);
	sd_discussion_params dp = sd_discussion_default_params();
	dp.conv_len = 3;
	dp.history_ctx_len = 2;
	sd_seed_opinion so[] = {{"Seeder", "Cats beat dogs."}};
	if (seeds) {
		dp.seed_opinions = so;
		dp.n_seed_opinions = 1;
	}
	g->d = sd_discussion_create(&dp, g->users, 2, g->mod, g->tm, NULL);
	assert_non_null(g->d);
	sd_scripted_params sp = sd_scripted_default_params();
	sp.mode = SD_SCRIPTED_LIST;
	sp.replies = replies;
	sp.n_replies = n_replies;
	g->b = sd_backend_scripted_create(&sp, NULL);
	assert_non_null(g->b);
}

static void guide_free(guide *g)
{
	sd_discussion_free(g->d);
	sd_backend_free(g->b);
	sd_turn_manager_free(g->tm);
	sd_actor_free(g->users[0]);
	sd_actor_free(g->users[1]);
	sd_actor_free(g->mod);
}

static void expect_transcript(const sd_logs *l, const char *const *want, size_t n)
{
	assert_int_equal(sd_logs_comment_count(l), n);
	for (size_t i = 0; i < n; i++) {
		sd_log_comment c = sd_logs_comment(l, i);
		char line[256];
		snprintf(line, sizeof(line), "%s|%s|%s", c.name, c.text, c.model);
		assert_string_equal(line, want[i]);
	}
}

static void test_transcript_round_robin(void **state)
{
	(void)state;
	guide g;
	const char *const r[] = {"one", "two", "three"};
	guide_setup(&g, false, false, r, 3);
	assert_int_equal(sd_discussion_run(g.d, g.b, NULL, NULL, NULL), SD_OK);
	const char *const want[] = {
	    "Emma35|one|scripted",
	    "Giannis|two|scripted",
	    "Emma35|three|scripted",
	};
	expect_transcript(sd_discussion_logs(g.d), want, 3);
	/* the third prompt saw exactly the last two comments */
	sd_log_comment c = sd_logs_comment(sd_discussion_logs(g.d), 2);
	assert_string_equal(
	    c.user_prompt,
	    "{\"role\": \"user\", \"content\": \"Comments so far: Comment by user "
	    "Emma35: \\\"\\none\\\"\\nComment by user Giannis: \\\"\\ntwo\\\".\\n"
	    "Your comment:\"}");
	/* 2.2.1 logs the speaker's system prompt as "prompt" */
	assert_non_null(strstr(c.prompt, "\"type\": \"user\""));
	assert_true(sd_discussion_done(g.d));
	guide_free(&g);
}

static void test_transcript_moderator_seeds_blank(void **state)
{
	(void)state;
	guide g;
	/* Emma, Mod, Giannis(blank: skipped, no moderator), Emma, Mod */
	const char *const r[] = {"hi", "be nice", "  \n\t", "ok", "thanks"};
	guide_setup(&g, true, true, r, 5);
	assert_int_equal(sd_discussion_run(g.d, g.b, NULL, NULL, NULL), SD_OK);
	const char *const want[] = {
	    "Seeder|Cats beat dogs.|hardcoded", "Emma35|hi|scripted",
	    "Moderator|be nice|scripted",	"Emma35|ok|scripted",
	    "Moderator|thanks|scripted",
	};
	expect_transcript(sd_discussion_logs(g.d), want, 5);
	sd_log_comment c = sd_logs_comment(sd_discussion_logs(g.d), 2);
	assert_true(c.is_moderator);
	assert_string_equal(sd_logs_moderator(sd_discussion_logs(g.d)), "Moderator");
	guide_free(&g);
}

/* A 2.0.8 discussion: explicit order, a blank moderator reply logged, a
 * blank user turn skipped, the file as 2.0.8 writes it with ours last. */
static void test_profile_2_0_8_log(void **state)
{
	(void)state;
	sd_persona *pa = sd_persona_from_json("{\"username\": \"A\"}", NULL);
	sd_persona *pb = sd_persona_from_json("{\"username\": \"B\"}", NULL);
	sd_persona *pm = sd_persona_from_json("{\"username\": \"M\"}", NULL);
	const char *const remove[] = {"<x>", "[ok]"};
	sd_actor_params ap = sd_actor_default_params();
	ap.profile = SD_PROFILE_2_0_8;
	ap.model_name = "m";
	ap.remove_strings = remove;
	ap.n_remove_strings = 2;
	ap.persona = pa;
	sd_actor *a = sd_actor_create(&ap, NULL);
	ap.persona = pb;
	sd_actor *b = sd_actor_create(&ap, NULL);
	ap.persona = pm;
	sd_actor *m = sd_actor_create(&ap, NULL);
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(m);
	sd_actor *users[] = {a, b};
	const size_t order[] = {1, 1, 0};
	sd_turn_params tp = sd_turn_default_params();
	tp.kind = SD_TURN_ORDER;
	tp.order = order;
	tp.n_order = 3;
	sd_turn_manager *tm = sd_turn_manager_create(&tp, 2, NULL);
	assert_non_null(tm);
	sd_discussion_params dp = sd_discussion_default_params();
	dp.conv_len = 3;
	sd_seed_opinion so[] = {{"S", "\xe3\x80\x80"}, {"S", "Hi \xf0\x9f\x99\x82"}};
	dp.seed_opinions = so;
	dp.n_seed_opinions = 2;
	sd_discussion *d = sd_discussion_create(&dp, users, 2, m, tm, NULL);
	assert_non_null(d);
	/* B says "[o<x>k]" (removed to ""), B says " x ", M answers blank,
	   A says "y" and M "z" */
	const char *const r[] = {"[o<x>k]", " x ", "  ", "y", "z"};
	sd_scripted_params sp = sd_scripted_default_params();
	sp.mode = SD_SCRIPTED_LIST;
	sp.replies = r;
	sp.n_replies = 5;
	sd_backend *be = sd_backend_scripted_create(&sp, NULL);
	assert_int_equal(sd_discussion_run(d, be, NULL, NULL, NULL), SD_OK);
	/* the blank seed opinion is skipped, the blank moderator reply kept */
	const char *const want[] = {"S|Hi \xf0\x9f\x99\x82|hardcoded", "B|x|m", "M||m",
				    "A|y|m", "M|z|m"};
	expect_transcript(sd_discussion_logs(d), want, 5);
	assert_null(sd_discussion_display(d, 9));
	assert_string_equal(sd_discussion_display(d, 2), "");
	assert_string_equal(sd_discussion_display(d, 1), "User B posted:\nx");
	char *json = NULL;
	sd_logs_set_id(sd_discussion_logs_mut(d), "ID");
	sd_logs_set_timestamp(sd_discussion_logs_mut(d), "TS");
	assert_int_equal(sd_logs_to_json(sd_discussion_logs(d), &json), SD_OK);
	assert_memory_equal(json,
			    "{\n    \"id\": \"ID\",\n    \"timestamp\": \"TS\",\n"
			    "    \"users\": [\n        \"A\",\n        \"B\"\n    ],\n"
			    "    \"moderator\": \"M\",\n",
			    110);
	assert_non_null(
	    strstr(json, "    \"logs\": [\n        {\n            \"name\": \"S\",\n"
			 "            \"text\": \"Hi \\ud83d\\ude42\",\n"
			 "            \"model\": \"hardcoded\"\n        },"));
	assert_non_null(strstr(json, "\n    ],\n    \"seed\": 0,"));
	assert_true(json[strlen(json) - 1] == '}');
	/* it reads back, our fields included */
	sd_logs *back = NULL;
	assert_int_equal(sd_logs_from_json(json, "mem", &back, NULL), SD_OK);
	assert_true(sd_logs_comment(back, 2).is_moderator);
	assert_int_equal(sd_logs_profile(back), SD_PROFILE_2_0_8);
	sd_logs_free(back);
	sd_free(json);
	sd_backend_free(be);
	sd_discussion_free(d);
	sd_turn_manager_free(tm);
	sd_actor_free(a);
	sd_actor_free(b);
	sd_actor_free(m);
	sd_persona_free(pa);
	sd_persona_free(pb);
	sd_persona_free(pm);
}

/* 2.2.1: blank seed opinions are logged (with the bare actor's prompt)
 * and never shown; the file is {timestamp, logs} and then ours. */
static void test_profile_2_2_1_log(void **state)
{
	(void)state;
	guide g;
	const char *const r[] = {"one", "\n", "three"};
	memset(&g, 0, sizeof(g));
	g.users[0] = make_actor(emma_json, "scripted");
	g.users[1] = make_actor("{\"username\": \"Giannis\"}", "scripted");
	sd_turn_params tp = sd_turn_default_params();
	g.tm = sd_turn_manager_create(&tp, 2, NULL);
	sd_discussion_params dp = sd_discussion_default_params();
	dp.conv_len = 3;
	dp.history_ctx_len = 0;
	sd_seed_opinion so[] = {{"X", "   "}};
	dp.seed_opinions = so;
	dp.n_seed_opinions = 1;
	g.d = sd_discussion_create(&dp, g.users, 2, NULL, g.tm, NULL);
	assert_non_null(g.d);
	sd_scripted_params sp = sd_scripted_default_params();
	sp.mode = SD_SCRIPTED_LIST;
	sp.replies = r;
	sp.n_replies = 3;
	g.b = sd_backend_scripted_create(&sp, NULL);
	assert_int_equal(sd_discussion_run(g.d, g.b, NULL, NULL, NULL), SD_OK);
	const char *const want[] = {"X|   |hardcoded", "Emma35|one|scripted",
				    "Emma35|three|scripted"};
	expect_transcript(sd_discussion_logs(g.d), want, 3);
	assert_null(sd_discussion_display(g.d, 0));
	assert_string_equal(sd_discussion_display(g.d, 1),
			    "Comment by user Emma35: \"\none\"");
	/* a window of 0 shows nothing */
	sd_log_comment c = sd_logs_comment(sd_discussion_logs(g.d), 2);
	assert_non_null(strstr(c.user_prompt, "Comments so far: .\\nYour comment:"));
	assert_string_equal(
	    sd_logs_comment(sd_discussion_logs(g.d), 0).prompt,
	    "{\"context\": \"\", \"instructions\": \"\", \"type\": \"user\", "
	    "\"persona\": {}}");
	char *json = NULL;
	sd_logs_set_id(sd_discussion_logs_mut(g.d), "ID");
	assert_int_equal(sd_logs_to_json(sd_discussion_logs(g.d), &json), SD_OK);
	assert_memory_equal(json, "{\n    \"timestamp\": \"\",\n    \"logs\": [\n", 37);
	assert_non_null(strstr(json, "\n    ],\n    \"id\": \"ID\",\n    \"users\": ["));
	sd_free(json);
	guide_free(&g);
}

static void test_accept_repairs_utf8(void **state)
{
	(void)state;
	guide g;
	const char *const r[] = {"bad \xff\xfe byte and cut \xe2\x82"};
	guide_setup(&g, false, false, r, 1);
	assert_int_equal(sd_discussion_run(g.d, g.b, NULL, NULL, NULL), SD_OK);
	sd_log_comment c = sd_logs_comment(sd_discussion_logs(g.d), 0);
	assert_true(sd__utf8_valid(c.text, strlen(c.text)));
	assert_string_equal(c.text,
			    "bad \xef\xbf\xbd\xef\xbf\xbd byte and cut \xef\xbf\xbd");
	char *json = NULL;
	assert_int_equal(sd_logs_to_json(sd_discussion_logs(g.d), &json), SD_OK);
	sd_logs *back = NULL;
	assert_int_equal(sd_logs_from_json(json, "mem", &back, NULL), SD_OK);
	assert_string_equal(sd_logs_comment(back, 0).text, c.text);
	sd_logs_free(back);
	sd_free(json);
	guide_free(&g);
}

static void test_utf8(void **state)
{
	(void)state;
	assert_true(sd__utf8_valid("h\xc3\xa9", 3));
	assert_false(sd__utf8_valid("\xc0\xaf", 2));	 /* overlong */
	assert_false(sd__utf8_valid("\xed\xa0\x80", 3)); /* surrogate */
	assert_int_equal(sd__utf8_complete_prefix("ab\xe2\x82", 4), 2);
	assert_int_equal(sd__utf8_complete_prefix("ab\xe2\x82\xac", 5), 5);
	char *r = sd__utf8_repair("a\xf4\x90\x80\x80z", 6);
	assert_true(sd__utf8_valid(r, strlen(r)));
	free(r);
}

static char *read_all(const char *path)
{
	char *text = NULL;
	assert_int_equal(sd_file_read(path, &text, NULL, NULL), SD_OK);
	return text;
}

/* Every SynDisco log loads; load -> save -> load keeps every comment. */
static void test_syndisco_logs_roundtrip(void **state)
{
	(void)state;
	static const char *const files[] = {
	    "llama70b_constructive_communications_26-02-09-19-01-51.json",
	    "llama70b_constructive_communications_26-02-09-19-19-58.json",
	    "llama8b_nomod_26-02-11-13-25-21.json",
	    "llama8b_nomod_26-02-11-13-28-22.json",
	    "llama8b_vanilla_noseeds_26-02-17-01-17-53.json",
	    "mistral24b_erulemaking_26-02-10-13-28-23.json",
	    "mistral24b_erulemaking_26-02-10-13-33-26.json",
	    "qwen7b_vanilla_26-02-11-00-54-33.json",
	    "qwen7b_vanilla_26-02-11-00-56-50.json",
	};
	for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
		char path[512];
		snprintf(path, sizeof(path), "%s/syndisco-logs/%s", FIXTURES, files[f]);
		sd_error err;
		sd_logs *l = NULL;
		if (sd_logs_load(path, &l, &err) != SD_OK) {
			char b[1024];
			fail_msg("%s", sd_error_format(&err, b, sizeof(b)));
		}
		assert_true(sd_logs_comment_count(l) > 10);
		char *json = NULL;
		assert_int_equal(sd_logs_to_json(l, &json), SD_OK);
		sd_logs *back = NULL;
		assert_int_equal(sd_logs_from_json(json, "roundtrip", &back, &err),
				 SD_OK);
		assert_int_equal(sd_logs_comment_count(back), sd_logs_comment_count(l));
		assert_string_equal(sd_logs_id(back), sd_logs_id(l));
		for (size_t i = 0; i < sd_logs_comment_count(l); i++) {
			sd_log_comment a = sd_logs_comment(l, i),
				       b = sd_logs_comment(back, i);
			assert_string_equal(a.name, b.name);
			assert_string_equal(a.text, b.text);
			assert_string_equal(a.model, b.model);
			assert_int_equal(a.is_moderator, b.is_moderator);
		}
		/* the moderator's comments are recognised in SynDisco's files */
		const char *mod = sd_logs_moderator(l);
		for (size_t i = 0; mod && i < sd_logs_comment_count(l); i++) {
			sd_log_comment c = sd_logs_comment(l, i);
			assert_int_equal(c.is_moderator, strcmp(c.name, mod) == 0);
		}
		sd_free(json);
		sd_logs_free(back);
		sd_logs_free(l);
	}
}

static void test_logs_reject_non_discussions(void **state)
{
	(void)state;
	sd_error err;
	sd_logs *none = (sd_logs *)1;
	assert_int_equal(sd_logs_from_json("[1,2]", "x.json", &none, &err), SD_EINVAL);
	assert_null(none); /* *out is NULL on failure */
	assert_int_equal(sd_logs_from_json("{\"conv_id\": \"a\", \"logs\": []}", "x.json",
					   &none, &err),
			 SD_EINVAL);
	assert_non_null(strstr(err.text, "annotation"));
	assert_int_not_equal(
	    sd_logs_from_json("{\"logs\": [{\"name\": \"a\"}]}", "x.json", &none, &err),
	    SD_OK);
	assert_string_equal(err.field, "logs[0].text");
	assert_int_equal(sd_logs_from_json("{\"logs\": ", "x.json", &none, &err),
			 SD_EPARSE);
	assert_int_equal(err.code, SD_EPARSE);
	char *t = read_all(FIXTURES "/personas.json");
	assert_int_not_equal(sd_logs_from_json(t, "personas.json", &none, &err), SD_OK);
	assert_null(none);
	free(t);
}

/*
 * The default thread count: OMP_NUM_THREADS when it is a positive
 * number, else the affinity mask (a Slurm task's CPUs), else the CPUs
 * online.
 */
static void test_default_threads(void **state)
{
	(void)state;
	assert_int_equal(sd__threads_from(NULL, 3, 64), 3);
	assert_int_equal(sd__threads_from("1", 3, 64), 1);
	assert_int_equal(sd__threads_from("4,2", 3, 64), 4);
	assert_int_equal(sd__threads_from("0", 3, 64), 3);
	assert_int_equal(sd__threads_from("-2", 3, 64), 3);
	assert_int_equal(sd__threads_from("two", 3, 64), 3);
	assert_int_equal(sd__threads_from("", 3, 64), 3);
	assert_int_equal(sd__threads_from("2x", 3, 64), 3);
	assert_int_equal(sd__threads_from(NULL, 0, 64), 64);
	assert_int_equal(sd__threads_from(NULL, 0, -1), 1);
	assert_true(sd__default_threads() >= 1);
	assert_int_equal(sd_llama_default_params().n_threads, sd__default_threads());
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_version),
	    cmocka_unit_test(test_default_threads),
	    cmocka_unit_test(test_buf_sticky_failure),
	    cmocka_unit_test(test_prompt_worked_example),
	    cmocka_unit_test(test_prompt_profiles),
	    cmocka_unit_test(test_prompt_wrap_json_and_annotator),
	    cmocka_unit_test(test_persona_errors),
	    cmocka_unit_test(test_persona_any_object),
	    cmocka_unit_test(test_round_robin_order),
	    cmocka_unit_test(test_random_never_repeats),
	    cmocka_unit_test(test_respond_frequency),
	    cmocka_unit_test(test_turn_manager_errors),
	    cmocka_unit_test(test_transcript_round_robin),
	    cmocka_unit_test(test_transcript_moderator_seeds_blank),
	    cmocka_unit_test(test_accept_repairs_utf8),
	    cmocka_unit_test(test_profile_2_0_8_log),
	    cmocka_unit_test(test_profile_2_2_1_log),
	    cmocka_unit_test(test_utf8),
	    cmocka_unit_test(test_syndisco_logs_roundtrip),
	    cmocka_unit_test(test_logs_reject_non_discussions),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Mention-driven turns, the director and history by tokens, with the
 * scripted backend (label: unit). docs/turns.md.
 */
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
#include <unistd.h>

#include "core/core.h"
#include "syndisco.h"

#define NONE SIZE_MAX

static size_t mention(const char *text, const char *const *names, size_t n,
		      const char *author)
{
	size_t who = 0;
	assert_int_equal(sd_mention_find(text, names, n, author, &who), SD_OK);
	return who;
}

static void test_mention_parsing(void **state)
{
	(void)state;
	const char *names[] = {"anna",	"anna-maria",	 "Bob",
			       "Ελένη", "camel-conduit", "Zoë"};
	size_t n = 6;
	/* punctuation after the name, case */
	assert_int_equal(mention("@bob, I disagree", names, n, "anna"), 2);
	assert_int_equal(mention("thanks @BOB.", names, n, NULL), 2);
	assert_int_equal(mention("@bob!", names, n, NULL), 2);
	assert_int_equal(mention("(@camel-conduit) no", names, n, NULL), 4);
	assert_int_equal(mention("@Camel-Conduit: yes", names, n, NULL), 4);
	/* names that are prefixes of others: the longest wins */
	assert_int_equal(mention("@anna-maria you", names, n, NULL), 1);
	assert_int_equal(mention("@anna you", names, n, NULL), 0);
	assert_int_equal(mention("@anna-mari you", names, n, NULL), NONE);
	assert_int_equal(mention("@annabel", names, n, NULL), NONE);
	assert_int_equal(mention("@bobby", names, n, NULL), NONE);
	/* unicode usernames, without case */
	assert_int_equal(mention("@Ελένη σωστά", names, n, NULL), 3);
	assert_int_equal(mention("@ΕΛΈΝΗ;", names, n, NULL), 3);
	assert_int_equal(mention("@zoë?", names, n, NULL), 5);
	assert_int_equal(mention("@ZOË", names, n, NULL), 5);
	/* no self-address: the author's own name is skipped, the next
	   mention counts */
	assert_int_equal(mention("@bob", names, n, "Bob"), NONE);
	assert_int_equal(mention("@bob as @anna said", names, n, "Bob"), 0);
	/* no mention, a stranger, an e-mail address */
	assert_int_equal(mention("I agree", names, n, NULL), NONE);
	assert_int_equal(mention("@moderator please", names, n, NULL), NONE);
	assert_int_equal(mention("mail bob@bob.org", names, n, NULL), NONE);
	assert_int_equal(mention("@", names, n, NULL), NONE);
	assert_int_equal(mention("", names, n, NULL), NONE);
}

static sd_turn_manager *mention_tm(double p, sd_turn_kind fallback, size_t n,
				   uint64_t seed)
{
	sd_turn_params tp = sd_turn_default_params();
	tp.kind = SD_TURN_MENTION;
	tp.p_mention = p;
	tp.fallback = fallback;
	tp.seed = seed;
	sd_turn_manager *tm = sd_turn_manager_create(&tp, n, NULL);
	assert_non_null(tm);
	return tm;
}

static void test_mention_manager(void **state)
{
	(void)state;
	/* always followed at p = 1 */
	sd_turn_manager *tm = mention_tm(1.0, SD_TURN_RANDOM, 4, 7);
	for (size_t i = 0; i < 40; i++) {
		sd_turn_manager_observe_mention(tm, i % 4);
		assert_int_equal(sd_turn_manager_next(tm), i % 4);
		assert_string_equal(sd_turn_manager_chooser(tm), "mention");
	}
	/* nobody addressed: the fallback (random: never the last twice) */
	size_t last = NONE;
	for (int i = 0; i < 200; i++) {
		sd_turn_manager_observe_mention(tm, NONE);
		size_t k = sd_turn_manager_next(tm);
		assert_true(k < 4);
		assert_true(k != last);
		assert_string_equal(sd_turn_manager_chooser(tm), "random");
		last = k;
	}
	sd_turn_manager_free(tm);
	/* round robin fallback resumes after the mentioned speaker */
	tm = mention_tm(1.0, SD_TURN_ROUND_ROBIN, 3, 1);
	sd_turn_manager_observe_mention(tm, 1);
	assert_int_equal(sd_turn_manager_next(tm), 1);
	assert_int_equal(sd_turn_manager_next(tm), 2);
	assert_int_equal(sd_turn_manager_next(tm), 0);
	sd_turn_manager_free(tm);
	/* the share followed is p_mention, and the same seed gives the same
	   turns */
	sd_turn_manager *a = mention_tm(0.3, SD_TURN_RANDOM, 5, 99);
	sd_turn_manager *b = mention_tm(0.3, SD_TURN_RANDOM, 5, 99);
	int followed = 0;
	for (int i = 0; i < 10000; i++) {
		sd_turn_manager_observe_mention(a, 2);
		sd_turn_manager_observe_mention(b, 2);
		size_t ka = sd_turn_manager_next(a);
		assert_int_equal(ka, sd_turn_manager_next(b));
		followed += strcmp(sd_turn_manager_chooser(a), "mention") == 0;
	}
	assert_true(followed > 2800 && followed < 3200);
	sd_turn_manager_free(a);
	sd_turn_manager_free(b);
	/* p = 0: never */
	tm = mention_tm(0.0, SD_TURN_RANDOM, 3, 5);
	for (int i = 0; i < 100; i++) {
		sd_turn_manager_observe_mention(tm, 0);
		sd_turn_manager_next(tm);
		assert_string_equal(sd_turn_manager_chooser(tm), "random");
	}
	sd_turn_manager_free(tm);
}

static void test_turn_params_errors(void **state)
{
	(void)state;
	sd_error err;
	sd_turn_params tp = sd_turn_default_params();
	tp.kind = SD_TURN_MENTION;
	tp.p_mention = 1.5;
	assert_null(sd_turn_manager_create(&tp, 3, &err));
	assert_string_equal(err.field, "turn_manager.p_mention");
	tp.p_mention = 0.5;
	tp.fallback = SD_TURN_ORDER;
	assert_null(sd_turn_manager_create(&tp, 3, &err));
	assert_string_equal(err.field, "turn_manager.fallback");
	tp = sd_turn_default_params();
	tp.kind = SD_TURN_DIRECTOR;
	tp.silent_turns = -1;
	assert_null(sd_turn_manager_create(&tp, 3, &err));
	assert_string_equal(err.field, "turn_manager.silent_turns");
	sd_discussion_params dp = sd_discussion_default_params();
	dp.history_ctx_tokens = -2;
	tp = sd_turn_default_params();
	sd_turn_manager *tm = sd_turn_manager_create(&tp, 1, NULL);
	sd_actor_params ap = sd_actor_default_params();
	ap.name = "a";
	sd_actor *a = sd_actor_create(&ap, NULL);
	assert_null(sd_discussion_create(&dp, &a, 1, NULL, tm, &err));
	assert_string_equal(err.field, "history_ctx_tokens");
	sd_actor_free(a);
	sd_turn_manager_free(tm);
}

/* ---- discussions on the scripted backend ---- */

typedef struct fixture {
	sd_actor *users[4];
	sd_turn_manager *tm;
	sd_discussion *d;
	sd_backend *b;
	json_t *log;
	char roles[64][16];
	char grammars[64][256];
	size_t n_req;
} fixture;

static void hook(const char *speaker, const char *role, const sd_request *req, void *ud)
{
	fixture *f = ud;
	(void)speaker;
	if (f->n_req < 64) {
		snprintf(f->roles[f->n_req], sizeof(f->roles[0]), "%s", role);
		snprintf(f->grammars[f->n_req], sizeof(f->grammars[0]), "%s",
			 req->grammar ? req->grammar : "");
		f->n_req++;
	}
}

static void run_fixture(fixture *f, const sd_turn_params *tp, const char *const *names,
			size_t n, const char *const *replies, size_t n_replies,
			int32_t conv_len, int32_t ctx_tokens)
{
	memset(f, 0, sizeof(*f));
	sd_error err;
	char buf[1024];
	for (size_t i = 0; i < n; i++) {
		sd_actor_params ap = sd_actor_default_params();
		ap.name = names[i];
		f->users[i] = sd_actor_create(&ap, NULL);
		assert_non_null(f->users[i]);
	}
	f->tm = sd_turn_manager_create(tp, n, &err);
	if (!f->tm)
		fail_msg("%s", sd_error_format(&err, buf, sizeof(buf)));
	sd_discussion_params dp = sd_discussion_default_params();
	dp.conv_len = conv_len;
	dp.history_ctx_tokens = ctx_tokens;
	f->d = sd_discussion_create(&dp, f->users, n, NULL, f->tm, &err);
	assert_non_null(f->d);
	sd_discussion_set_request_hook(f->d, hook, f);
	sd_scripted_params sp = sd_scripted_default_params();
	sp.mode = SD_SCRIPTED_LIST;
	sp.replies = replies;
	sp.n_replies = n_replies;
	f->b = sd_backend_scripted_create(&sp, NULL);
	assert_non_null(f->b);
	sd_discussion_set_token_counter(f->d, sd_backend_token_counter, f->b);
	if (sd_discussion_run(f->d, f->b, NULL, NULL, &err))
		fail_msg("%s", sd_error_format(&err, buf, sizeof(buf)));
	char *json = NULL;
	assert_int_equal(sd_logs_to_json(sd_discussion_logs(f->d), &json), SD_OK);
	f->log = json_loads(json, 0, NULL);
	assert_non_null(f->log);
	sd_free(json);
}

static void free_fixture(fixture *f, size_t n)
{
	json_decref(f->log);
	sd_discussion_free(f->d);
	sd_turn_manager_free(f->tm);
	sd_backend_free(f->b);
	for (size_t i = 0; i < n; i++)
		sd_actor_free(f->users[i]);
}

static const char *log_name(const fixture *f, size_t i)
{
	return json_string_value(
	    json_object_get(json_array_get(json_object_get(f->log, "logs"), i), "name"));
}

static const char *log_chooser(const fixture *f, size_t i)
{
	return json_string_value(json_object_get(
	    json_array_get(json_object_get(f->log, "comment_meta"), i), "chosen_by"));
}

static void test_mention_discussion(void **state)
{
	(void)state;
	const char *names[] = {"ann", "bob", "cleo"};
	/* replies in request order: each addresses the next speaker */
	const char *replies[] = {"@cleo what do you think?", "@ANN, no.", "@bob!",
				 "I have nothing to add", "@cleo?"};
	sd_turn_params tp = sd_turn_default_params();
	tp.kind = SD_TURN_MENTION;
	tp.fallback = SD_TURN_ROUND_ROBIN;
	fixture f;
	run_fixture(&f, &tp, names, 3, replies, 5, 5, 0);
	/* ann (round robin), cleo, ann, bob (mentions), then round robin
	   resumes after bob: cleo */
	const char *want[] = {"ann", "cleo", "ann", "bob", "cleo"};
	const char *by[] = {"round_robin", "mention", "mention", "mention",
			    "round_robin"};
	for (size_t i = 0; i < 5; i++) {
		assert_string_equal(log_name(&f, i), want[i]);
		assert_string_equal(log_chooser(&f, i), by[i]);
	}
	/* SynDisco's part of each comment stays SynDisco's */
	assert_null(json_object_get(json_array_get(json_object_get(f.log, "logs"), 0),
				    "chosen_by"));
	free_fixture(&f, 3);
}

static void test_director_discussion(void **state)
{
	(void)state;
	const char *names[] = {"ann", "bob", "cleo"};
	/* request order: director, user, director, user, ... */
	const char *replies[] = {"bob",	   "hi",  " cleo\n", "hello",
				 "nobody", "hey", "cleo",    "yo"};
	sd_turn_params tp = sd_turn_default_params();
	tp.kind = SD_TURN_DIRECTOR;
	tp.exclude_last_speaker = true;
	fixture f;
	run_fixture(&f, &tp, names, 3, replies, 8, 4, 0);
	assert_int_equal(f.n_req, 8);
	for (size_t i = 0; i < 8; i++)
		assert_string_equal(f.roles[i], i % 2 ? "turn" : "director");
	/* the director's grammar names exactly the candidates: everyone
	   first, then not the last speaker */
	assert_non_null(strstr(f.grammars[0], "\"ann\""));
	assert_non_null(strstr(f.grammars[0], "\"bob\""));
	assert_non_null(strstr(f.grammars[2], "\"ann\""));
	assert_null(strstr(f.grammars[2], "\"bob\""));
	assert_string_equal(log_name(&f, 0), "bob");
	assert_string_equal(log_chooser(&f, 0), "director");
	assert_string_equal(log_name(&f, 1), "cleo");
	assert_string_equal(log_chooser(&f, 1), "director");
	/* "nobody" names nobody: a seeded pick among the candidates */
	assert_string_equal(log_chooser(&f, 2), "director_fallback");
	assert_string_not_equal(log_name(&f, 2), "cleo");
	assert_string_equal(log_chooser(&f, 3), "director");
	assert_string_equal(log_name(&f, 3), "cleo");
	free_fixture(&f, 3);
}

static void test_director_candidates(void **state)
{
	(void)state;
	sd_turn_params tp = sd_turn_default_params();
	tp.kind = SD_TURN_DIRECTOR;
	tp.silent_turns = 2;
	sd_turn_manager *tm = sd_turn_manager_create(&tp, 4, NULL);
	bool allowed[4];
	assert_int_equal(sd_turn_manager_candidates(tm, allowed), 4);
	sd_turn_manager_record(tm, 0, "director");
	sd_turn_manager_record(tm, 1, "director");
	/* 0 and 1 spoke in the last 2 turns */
	assert_int_equal(sd_turn_manager_candidates(tm, allowed), 2);
	assert_false(allowed[0]);
	assert_false(allowed[1]);
	assert_true(allowed[2] && allowed[3]);
	sd_turn_manager_record(tm, 2, "director");
	assert_int_equal(sd_turn_manager_candidates(tm, allowed), 2);
	assert_true(allowed[0] && allowed[3]);
	/* the fallback pick keeps to the candidates */
	for (int i = 0; i < 50; i++) {
		bool ok[4];
		sd_turn_manager_candidates(tm, ok);
		size_t k = sd_turn_manager_next(tm);
		assert_true(ok[k]);
	}
	sd_turn_manager_free(tm);
	/* restrictions that leave nobody are relaxed */
	tp.silent_turns = 5;
	tp.exclude_last_speaker = true;
	tm = sd_turn_manager_create(&tp, 2, NULL);
	sd_turn_manager_record(tm, 0, "director");
	sd_turn_manager_record(tm, 1, "director");
	assert_int_equal(sd_turn_manager_candidates(tm, allowed), 1);
	assert_true(allowed[0]);
	sd_turn_manager_free(tm);
}

/* ---- history by tokens, with the scripted stand-in tokenizer ---- */

static int stand_in(const char *text, void *ud)
{
	(void)ud;
	return (int)((strlen(text) + 3) / 4);
}

static void test_history_tokens(void **state)
{
	(void)state;
	sd_actor_params ap = sd_actor_default_params();
	ap.name = "x";
	sd_actor *fmt = sd_actor_create(&ap, NULL);
	sd_history_counter hc = {stand_in, NULL};
	const char *entries[] = {"aaaaaaaa", "bbbbbbbbbbbb", "cccc", "dddddddd"};
	/* tokens: 2, 3, 1, 2 */
	int32_t cache[4];
	size_t first;
	char *cut;
	for (int32_t n = 1; n <= 10; n++) {
		for (int k = 0; k < 4; k++)
			cache[k] = -1;
		assert_int_equal(sd__sd_history_window(entries, cache, 4, 10, n, &hc, fmt,
						       "x", "dddddddd", &first, &cut),
				 SD_OK);
		int32_t total = 0;
		for (size_t k = first; k < 4; k++)
			total += stand_in(k == 3 && cut ? cut : entries[k], NULL);
		assert_true(total <= n);
		/* as many as fit: one more would not */
		if (first > 0 && !cut)
			assert_true(total + stand_in(entries[first - 1], NULL) > n);
		if (n == 1) {
			/* the newest alone is too long: cut, marked, shown */
			assert_int_equal(first, 3);
			assert_non_null(cut);
		} else {
			assert_null(cut);
		}
		free(cut);
	}
	/* both limits apply */
	for (int k = 0; k < 4; k++)
		cache[k] = -1;
	sd__sd_history_window(entries, cache, 4, 1, 100, &hc, fmt, "x", "dddddddd",
			      &first, &cut);
	assert_int_equal(first, 3);
	sd__sd_history_window(entries, cache, 4, 100, 3, &hc, fmt, "x", "dddddddd",
			      &first, &cut);
	assert_int_equal(first, 2);
	/* no counter: an error, not a silent window */
	assert_int_equal(sd__sd_history_window(entries, cache, 4, 4, 3, NULL, fmt, "x",
					       "dddddddd", &first, &cut),
			 SD_ESTATE);
	sd_actor_free(fmt);
}

/* A discussion's prompts keep their history within N stand-in tokens,
 * and a long comment is cut with the marker. */
static void test_history_tokens_discussion(void **state)
{
	(void)state;
	const char *names[] = {"ann", "bob"};
	char long_reply[400];
	memset(long_reply, 'z', sizeof(long_reply) - 1);
	long_reply[sizeof(long_reply) - 1] = '\0';
	const char *replies[] = {"short one", long_reply, "ok"};
	sd_turn_params tp = sd_turn_default_params();
	fixture f;
	run_fixture(&f, &tp, names, 2, replies, 3, 4, 40);
	json_t *meta = json_object_get(f.log, "comment_meta");
	/* the third prompt followed the 400-byte comment: cut to fit */
	const char *up =
	    json_string_value(json_object_get(json_array_get(meta, 2), "user_prompt"));
	assert_non_null(up);
	assert_non_null(strstr(up, "[...]"));
	assert_null(strstr(up, "short one"));
	assert_int_equal(json_integer_value(json_object_get(f.log, "history_ctx_tokens")),
			 40);
	free_fixture(&f, 2);
}

/* ---- config errors name the field ---- */

static void expect_config_error(const char *json, const char *field)
{
	char path[] = "/tmp/test_turns_XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, json, strlen(json)), (ssize_t)strlen(json));
	close(fd);
	sd_discussion_config *c = NULL;
	sd_error err;
	memset(&err, 0, sizeof(err));
	int rc = sd_discussion_config_load(path, &c, &err);
	unlink(path);
	if (rc == SD_OK)
		sd_discussion_config_free(c);
	assert_int_not_equal(rc, SD_OK);
	if (strcmp(err.field, field) != 0)
		fail_msg("field %s, wanted %s (%s)", err.field, field, err.text);
}

#define USERS "\"personas\": [{\"username\": \"a\"}, {\"username\": \"b\"}], "

static void test_config_errors(void **state)
{
	(void)state;
	expect_config_error("{" USERS "\"turn_manager\": {\"type\": \"mention\", "
			    "\"fallback\": \"telepathy\"}}",
			    "turn_manager.fallback");
	expect_config_error("{" USERS "\"turn_manager\": {\"type\": \"mention\", "
			    "\"p_mention\": 1.5}}",
			    "turn_manager.p_mention");
	expect_config_error("{" USERS "\"turn_manager\": {\"type\": \"mention\", "
			    "\"p_mention\": -0.1}}",
			    "turn_manager.p_mention");
	expect_config_error("{" USERS "\"turn_manager\": {\"type\": \"random\", "
			    "\"silent_turns\": 2}}",
			    "turn_manager.silent_turns");
	expect_config_error("{" USERS "\"turn_manager\": {\"type\": \"director\", "
			    "\"silent_turns\": -1}}",
			    "turn_manager.silent_turns");
	expect_config_error("{" USERS "\"turn_manager\": {\"type\": \"director\", "
			    "\"instructions\": 3}}",
			    "turn_manager.instructions");
	expect_config_error("{" USERS "\"history_ctx_tokens\": 0}", "history_ctx_tokens");
	expect_config_error("{" USERS "\"history_ctx_tokens\": -5}",
			    "history_ctx_tokens");
	expect_config_error("{" USERS "\"history_ctx_tokens\": \"many\"}",
			    "history_ctx_tokens");
	expect_config_error(
	    "{" USERS "\"history_ctx_tokens\": 10, \"backend\": {\"type\": "
	    "\"openai\", \"base_url\": \"http://127.0.0.1:1/v1\", \"model\": "
	    "\"m\"}}",
	    "history_ctx_tokens");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mention_parsing),
	    cmocka_unit_test(test_mention_manager),
	    cmocka_unit_test(test_turn_params_errors),
	    cmocka_unit_test(test_mention_discussion),
	    cmocka_unit_test(test_director_discussion),
	    cmocka_unit_test(test_director_candidates),
	    cmocka_unit_test(test_history_tokens),
	    cmocka_unit_test(test_history_tokens_discussion),
	    cmocka_unit_test(test_config_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

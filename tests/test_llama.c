/* Integration tests on the tiny generated model (label: model). */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "syndisco.h"
#include "util/utf8.h"

static const char *model_path;

/* n_threads 0: the default (ctest sets OMP_NUM_THREADS=1) */
static sd_backend *open_model_threads(int n_seq, int n_threads)
{
	sd_llama_params lp = sd_llama_default_params();
	lp.model_path = model_path;
	lp.n_seq_max = n_seq;
	if (n_threads > 0)
		lp.n_threads = n_threads;
	sd_error err;
	sd_backend *b = sd_backend_llama_create(&lp, &err);
	if (!b) {
		char buf[1024];
		fail_msg("%s", sd_error_format(&err, buf, sizeof(buf)));
	}
	return b;
}

static sd_backend *open_model(int n_seq) { return open_model_threads(n_seq, 0); }

/*
 * One 1-sequence backend for the tests that need nothing else: loading
 * the model is most of such a test's time (over a second under ASan),
 * and a backend that served other requests must reply as a fresh one
 * would (its prefix and grammar caches may only save work), which these
 * tests then check too. Freed at the end of main.
 */
static sd_backend *shared;

static sd_backend *shared_model(void)
{
	if (!shared)
		shared = open_model(1);
	return shared;
}

/* The prompt the model receives is a proper Llama-3 chat prompt. */
static void test_chat_prompt_is_llama3(void **state)
{
	(void)state;
	sd_backend *b = shared_model();
	char *chat = NULL;
	assert_int_equal(sd_backend_format_chat(b, "SYS", "USER", &chat), SD_OK);
	assert_string_equal(chat,
			    "<|start_header_id|>system<|end_header_id|>\n\nSYS<|eot_id|>"
			    "<|start_header_id|>user<|end_header_id|>\n\nUSER<|eot_id|>"
			    "<|start_header_id|>assistant<|end_header_id|>\n\n");
	sd_free(chat);
}

static char *run_config(const char *config)
{
	sd_discussion_config *c = NULL;
	sd_error err;
	char buf[1024];
	if (sd_discussion_config_load(config, &c, &err))
		fail_msg("%s", sd_error_format(&err, buf, sizeof(buf)));
	sd_backend *b = shared_model();
	sd_discussion *d =
	    sd_discussion_config_instantiate(c, sd_backend_model_name(b), &err);
	assert_non_null(d);
	if (sd_discussion_run(d, b, NULL, NULL, &err))
		fail_msg("%s", sd_error_format(&err, buf, sizeof(buf)));
	char *json = NULL;
	assert_int_equal(sd_logs_to_json(sd_discussion_logs(d), &json), SD_OK);
	sd_discussion_free(d);
	sd_discussion_config_free(c);
	return json;
}

/* Same config and seed: identical logs (ids/timestamps are not set), the
 * second time with the prompts' prefixes cached by the first. */
static void test_deterministic_and_valid(void **state)
{
	(void)state;
	const char *cfg = FIXTURES "/../../examples/guide-moderated.json";
	char *a = run_config(cfg);
	char *b = run_config(cfg);
	assert_string_equal(a, b);
	assert_true(sd__utf8_valid(a, strlen(a)));
	sd_logs *l = NULL;
	assert_int_equal(sd_logs_from_json(a, "generated", &l, NULL), SD_OK);
	/* 1 seed opinion, 5 user turns, a moderator after each non-empty one */
	assert_true(sd_logs_comment_count(l) >= 2);
	for (size_t i = 0; i < sd_logs_comment_count(l); i++) {
		sd_log_comment c = sd_logs_comment(l, i);
		assert_true(sd__utf8_valid(c.text, strlen(c.text)));
		if (i > 0) {
			assert_string_equal(c.model, "tiny");
			assert_true(c.n_gen_tokens > 0);
			assert_true(c.n_gen_tokens <= 48);
		}
	}
	sd_logs_free(l);
	sd_free(a);
	sd_free(b);
}

/* Several requests in flight on several sequences all finish, on two
 * threads (the other tests take the default, one thread under ctest). */
static void test_many_in_flight(void **state)
{
	(void)state;
	sd_backend *b = open_model_threads(4, 2);
	sd_request r;
	memset(&r, 0, sizeof(r));
	r.system_prompt = "You are terse.";
	r.sampling = sd_sampling_default();
	r.sampling.max_tokens = 16;
	char prompt[64];
	for (int i = 0; i < 6; i++) {
		snprintf(prompt, sizeof(prompt), "Say something about %d.", i);
		r.user_prompt = prompt;
		r.tag = (uint64_t)i + 100;
		r.sampling.seed = (uint32_t)i;
		assert_int_equal(sd_backend_submit(b, &r), SD_OK);
	}
	int seen[6] = {0}, got = 0, steps = 0;
	while (got < 6) {
		assert_true(sd_backend_step(b) >= 0);
		assert_true(++steps < 10000);
		sd_reply rep;
		while (sd_backend_collect(b, &rep) == 1) {
			assert_int_equal(rep.status, SD_OK);
			assert_true(rep.tag >= 100 && rep.tag < 106);
			assert_true(sd__utf8_valid(rep.text, strlen(rep.text)));
			assert_true(rep.n_gen_tokens >= 1 && rep.n_gen_tokens <= 16);
			seen[rep.tag - 100]++;
			got++;
			sd_reply_clear(&rep);
		}
	}
	for (int i = 0; i < 6; i++)
		assert_int_equal(seen[i], 1);
	sd_backend_free(b);
}

/* One request on backend b (1 sequence, nothing else in flight), driven
 * to its reply; returns the reply text. */
static char *drive_one(sd_backend *b, const sd_sampling *sp, const char *user)
{
	sd_request r;
	memset(&r, 0, sizeof(r));
	r.system_prompt = "You are terse.";
	r.user_prompt = user;
	r.sampling = *sp;
	assert_int_equal(sd_backend_submit(b, &r), SD_OK);
	char *text = NULL;
	for (int steps = 0; !text; steps++) {
		assert_true(sd_backend_step(b) >= 0);
		assert_true(steps < 1000);
		sd_reply rep;
		if (sd_backend_collect(b, &rep) == 1) {
			assert_int_equal(rep.status, SD_OK);
			text = strdup(rep.text);
			sd_reply_clear(&rep);
		}
	}
	return text;
}

/* One request on the shared 1-sequence backend; returns its reply text. */
static char *reply_of(const sd_sampling *sp, const char *user)
{
	return drive_one(shared_model(), sp, user);
}

static void keep_profile(sd_log_level level, const char *msg, void *ud)
{
	if (level == SD_LOG_DEBUG && strncmp(msg, "llama: ", 7) == 0)
		snprintf(ud, 512, "%s", msg);
}

/*
 * A sequence decoded alone needs no partner row: llamafile's sgemm takes
 * one-row products too (scripts/llama-patches/sgemm-few-rows.patch, set
 * by sd_global_init), so a lone row sums as it would among others, the
 * load-time probe finds no difference, and every step of one request on
 * a 1-sequence backend decodes one row, not two. (The bytes staying the
 * same at every --parallel is tests/turns_parallel_test.sh's and
 * prefix_cache_test.sh's to check.)
 */
static void test_lone_sequence_has_no_partner(void **state)
{
	(void)state;
	char line[512] = "";
	sd_backend *b = open_model(1);
	sd_backend_set_log(b, keep_profile, line);
	sd_sampling sp = sd_sampling_default();
	sp.max_tokens = 12;
	free(drive_one(b, &sp, "Say something."));
	sd_backend_free(b); /* writes the profile line */
	const char *p = strstr(line, " steps of ");
	assert_non_null(p);
	while (p > line && p[-1] >= '0' && p[-1] <= '9')
		p--;
	long long n_steps = 0, n_rows = 0;
	assert_int_equal(sscanf(p, "%lld steps of %lld rows", &n_steps, &n_rows), 2);
	assert_true(n_steps >= 1);
	if (n_rows != n_steps)
		fail_msg("%lld steps decoded %lld rows: a partner row per step (%s)",
			 n_steps, n_rows, line);
}

/*
 * Greedy decoding takes the fast path (a top-1 pass over the logits row,
 * the penalty applied in place); a temperature of 1e-6 with no top-k goes
 * through llama.cpp's full chain on the whole vocabulary, and at that
 * temperature every token but the best has probability 0. The two must
 * pick the same tokens, with and without the repetition penalty.
 */
static void test_greedy_fast_path_is_argmax(void **state)
{
	(void)state;
	static const float penalties[] = {1.1f, 1.0f};
	for (size_t i = 0; i < sizeof(penalties) / sizeof(*penalties); i++) {
		sd_sampling g = sd_sampling_default();
		g.max_tokens = 24;
		g.temperature = 0.0f;
		g.repeat_penalty = penalties[i];
		sd_sampling t = g;
		t.temperature = 1e-6f;
		t.top_k = 0;
		t.top_p = 1.0f;
		t.min_p = 0.0f;
		char *a = reply_of(&g, "Tell me about the weather.");
		char *c = reply_of(&t, "Tell me about the weather.");
		assert_true(strlen(a) > 0);
		assert_string_equal(a, c);
		free(a);
		free(c);
	}
}

/* Run requests 0..n-1 with a grammar; texts[i] gets request i's reply,
 *n_gen the tokens generated. Returns the backend steps it took. */
static int run_grammar_round(sd_backend *b, int n, char **texts, int *n_gen)
{
	static const char *const g =
	    "root ::= \"yes\" | \"no\" | \"maybe so\" | \"12345\"";
	sd_request r;
	memset(&r, 0, sizeof(r));
	r.system_prompt = "Answer yes, no, maybe so or 12345.";
	r.grammar = g;
	r.sampling = sd_sampling_default();
	r.sampling.max_tokens = 8;
	char prompt[64];
	for (int i = 0; i < n; i++) {
		snprintf(prompt, sizeof(prompt), "Question number %d?", i);
		r.user_prompt = prompt;
		r.tag = (uint64_t)i;
		r.sampling.seed = (uint32_t)(1000 + i);
		assert_int_equal(sd_backend_submit(b, &r), SD_OK);
	}
	int got = 0, steps = 0;
	*n_gen = 0;
	while (got < n) {
		assert_true(sd_backend_step(b) >= 0);
		assert_true(++steps < 10000);
		sd_reply rep;
		while (sd_backend_collect(b, &rep) == 1) {
			assert_int_equal(rep.status, SD_OK);
			assert_true(rep.tag < (uint64_t)n);
			texts[rep.tag] = strdup(rep.text);
			*n_gen += rep.n_gen_tokens;
			got++;
			sd_reply_clear(&rep);
		}
	}
	return steps;
}

/*
 * Grammar replies are always in the language, the same whether the
 * grammar's allowed sets were computed on the spot or taken from the
 * cache, on any number of sequences. With the cache warm, a reply ends
 * as soon as the grammar allows nothing but the end: on one sequence,
 * each request takes one step per token (its prompt is decoded in the
 * step of its first token), with no step to sample the end.
 */
static void test_grammar_replies(void **state)
{
	(void)state;
	enum { N = 8 };
	char *a[N] = {0}, *b2[N] = {0}, *c[N] = {0}, *d[N] = {0};
	int n_gen;
	sd_backend *b = open_model(3);
	run_grammar_round(b, N, a, &n_gen);
	run_grammar_round(b, N, b2, &n_gen);
	sd_backend_free(b);
	b = shared_model();
	run_grammar_round(b, N, c, &n_gen);
	int warm = run_grammar_round(b, N, d, &n_gen);
	assert_int_equal(warm, n_gen);
	for (int i = 0; i < N; i++) {
		assert_non_null(a[i]);
		assert_true(!strcmp(a[i], "yes") || !strcmp(a[i], "no") ||
			    !strcmp(a[i], "maybe so") || !strcmp(a[i], "12345"));
		assert_string_equal(a[i], b2[i]);
		assert_string_equal(a[i], c[i]);
		assert_string_equal(a[i], d[i]);
		free(a[i]);
		free(b2[i]);
		free(c[i]);
		free(d[i]);
	}
}

static void test_bad_model_files(void **state)
{
	(void)state;
	sd_llama_params lp = sd_llama_default_params();
	sd_error err;
	lp.model_path = "/nonexistent/model.gguf";
	assert_null(sd_backend_llama_create(&lp, &err));
	assert_int_equal(err.code, SD_ENOTFOUND);
	assert_non_null(strstr(err.source, "model.gguf"));
	char path[] = "/tmp/sd-notgguf-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "hello world, not a model", 24), 24);
	close(fd);
	lp.model_path = path;
	assert_null(sd_backend_llama_create(&lp, &err));
	assert_int_equal(err.code, SD_EPARSE);
	unlink(path);
}

/*
 * An unknown type fails before anything is written. (Making a model of
 * each type, through this same function, is the fixture's for f32 and
 * tests/quantized_test.sh's for q8_0 and q4_k: a second q8_0 model here
 * cost 5 s under ASan and checked nothing more.)
 */
static void test_make_model_types(void **state)
{
	(void)state;
	char dir[] = "/tmp/sd-models-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char out[256];
	sd_test_model_params p = sd_test_model_default_params();
	p.vocab_path = getenv("SYNDISCO_VOCAB");
	if (!p.vocab_path)
		skip();
	sd_error err;
	p.type = "q3_weird";
	snprintf(out, sizeof(out), "%s/bad.gguf", dir);
	assert_int_equal(sd_make_test_model(&p, out, &err), SD_EINVAL);
	assert_string_equal(err.field, "type");
	struct stat st;
	assert_int_not_equal(stat(out, &st), 0); /* nothing left behind */
	assert_int_equal(rmdir(dir), 0);	 /* nor any temp file */
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: test_llama TINY.gguf\n");
		return 2;
	}
	model_path = argv[1];
	sd_global_init(true);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_chat_prompt_is_llama3),
	    cmocka_unit_test(test_deterministic_and_valid),
	    cmocka_unit_test(test_many_in_flight),
	    cmocka_unit_test(test_greedy_fast_path_is_argmax),
	    cmocka_unit_test(test_lone_sequence_has_no_partner),
	    cmocka_unit_test(test_grammar_replies),
	    cmocka_unit_test(test_bad_model_files),
	    cmocka_unit_test(test_make_model_types),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	sd_backend_free(shared);
	sd_global_free();
	return rc;
}

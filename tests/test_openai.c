/*
 * The openai backend against tests/fault_server.py (started by
 * openai_fault_test.sh, which passes its base URL): request bodies,
 * retries and their timing, replies that are errors, timeouts, dead
 * endpoints, load spread, cancel, and no API key in any message.
 *   test_openai http://127.0.0.1:PORT
 */
/* cmocka.h needs these first */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */
#include <curl/curl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "syndisco.h"

#define KEY "sk-syndisco-TEST-7f3a9c1e5b2d"
#define MAXN 16

static const char *g_base;
static char *g_logs;
static size_t g_logs_len;
static FILE *g_logf;
static int g_debug_lines;

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Everything logged so far (the stream's buffer is only valid flushed). */
static const char *logs(void)
{
	fflush(g_logf);
	return g_logs ? g_logs : "";
}

/* Where the log ends now: logs() + mark() is what came after. */
static size_t mark(void)
{
	fflush(g_logf);
	return g_logs_len;
}

/* How many times needle occurs in the log since m. */
static int count_since(size_t m, const char *needle)
{
	int n = 0;
	for (const char *p = logs() + m; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static void cap_log(sd_log_level level, const char *msg, void *ud)
{
	(void)ud;
	if (level == SD_LOG_DEBUG)
		g_debug_lines++;
	fprintf(g_logf, "%d %s\n", (int)level, msg);
}

typedef void (*tweak_fn)(sd_openai_params *p);

static sd_backend *make2(const char *url0, const char *url1, tweak_fn tweak)
{
	const char *urls[2] = {url0, url1};
	sd_openai_params p = sd_openai_default_params();
	p.base_urls = urls;
	p.n_base_urls = url1 ? 2 : 1;
	p.model = "fault-model";
	p.api_key = KEY;
	p.backoff_initial = 0.05;
	p.backoff_max = 0.2;
	p.request_timeout = 1.0;
	p.connect_timeout = 1.0;
	p.max_retries = 3;
	if (tweak)
		tweak(&p);
	sd_error err;
	sd_error_clear(&err);
	sd_backend *b = sd_backend_openai_create(&p, &err);
	if (!b)
		fail_msg("create: %s: %s", err.field, err.text);
	sd_backend_set_log(b, cap_log, NULL);
	return b;
}

static char *url_for(const char *scenario)
{
	static char bufs[4][256];
	static int k;
	char *u = bufs[k++ % 4];
	snprintf(u, 256, "%s/%s/v1", g_base, scenario);
	return u;
}

static sd_backend *make(const char *scenario, tweak_fn tweak)
{
	return make2(url_for(scenario), NULL, tweak);
}

/* Submit n requests (tags 1..n, seeds 1000+i) and collect every reply. */
static double run_n(sd_backend *b, int n, sd_reply *out, double limit,
		    const char *grammar)
{
	char prompts[MAXN][32];
	memset(out, 0, sizeof(*out) * (size_t)n);
	for (int i = 0; i < n; i++) {
		sd_request req;
		memset(&req, 0, sizeof(req));
		snprintf(prompts[i], sizeof(prompts[i]), "user %d", i);
		req.tag = (uint64_t)i + 1;
		req.system_prompt = "sys";
		req.user_prompt = prompts[i];
		req.sampling = sd_sampling_default();
		req.sampling.seed = 1000u + (uint32_t)i;
		req.grammar = grammar;
		assert_int_equal(sd_backend_submit(b, &req), SD_OK);
	}
	double t0 = mono();
	int got = 0;
	while (got < n) {
		if (mono() - t0 > limit)
			fail_msg("only %d of %d replies after %.0f s: the backend hangs",
				 got, n, limit);
		int st = sd_backend_step(b);
		assert_true(st >= 0);
		sd_reply r;
		while (sd_backend_collect(b, &r) == 1) {
			assert_true(r.tag >= 1 && r.tag <= (uint64_t)n);
			out[r.tag - 1] = r;
			got++;
		}
	}
	return mono() - t0;
}

static void clear_n(sd_reply *r, int n)
{
	for (int i = 0; i < n; i++) {
		if (r[i].error && strstr(r[i].error, KEY))
			fail_msg("the API key is in an error: %s", r[i].error);
		sd_reply_clear(&r[i]);
	}
}

/* ---- the server's record ---- */

static size_t on_body(char *p, size_t s, size_t n, void *ud)
{
	fwrite(p, s, n, ud);
	return s * n;
}

static json_t *server_get(const char *what)
{
	char url[256], *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	snprintf(url, sizeof(url), "%s/%s", g_base, what);
	CURL *c = curl_easy_init();
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, f);
	CURLcode rc = curl_easy_perform(c);
	curl_easy_cleanup(c);
	fclose(f);
	assert_int_equal(rc, CURLE_OK);
	json_t *j = json_loads(text, 0, NULL);
	free(text);
	assert_non_null(j);
	return j;
}

/* Requests the server saw for a scenario, in arrival order. */
static json_t *seen(const char *scenario)
{
	json_t *all = server_get("_log"), *out = json_array();
	size_t i;
	json_t *e;
	json_array_foreach(all, i, e)
	{
		if (!strcmp(json_string_value(json_object_get(e, "scenario")), scenario))
			json_array_append(out, e);
	}
	json_decref(all);
	return out;
}

static int reset(void **state)
{
	(void)state;
	json_decref(server_get("_reset"));
	return 0;
}

/* Attempts the server saw of the request with this seed. */
static int attempts_of(const json_t *log, int seed, double *t_first, double *t_last)
{
	size_t i;
	json_t *e;
	int n = 0;
	json_array_foreach(log, i, e)
	{
		const json_t *s = json_object_get(json_object_get(e, "body"), "seed");
		if (json_integer_value(s) != seed)
			continue;
		double t = json_real_value(json_object_get(e, "t"));
		if (n == 0 && t_first)
			*t_first = t;
		if (t_last)
			*t_last = t;
		n++;
	}
	return n;
}

/* ---- tests ---- */

static void extra_tweak(sd_openai_params *p)
{
	static const char *const stop[] = {"\n\n", "END"};
	p->extra_body = "{\"top_k\": 5, \"temperature\": 0.25}";
	p->stop = stop;
	p->n_stop = 2;
}

static void test_request_body(void **state)
{
	(void)state;
	sd_reply r[6];
	sd_backend *b = make("ok", extra_tweak);
	assert_string_equal(sd_backend_model_name(b), "fault-model");
	run_n(b, 6, r, 10, "root ::= \"a\"");
	for (int i = 0; i < 6; i++) {
		char want[64];
		snprintf(want, sizeof(want), "reply to seed %d: user %d", 1000 + i, i);
		assert_int_equal(r[i].status, SD_OK);
		assert_string_equal(r[i].text, want);
		assert_int_equal(r[i].n_prompt_tokens, 11);
		assert_int_equal(r[i].n_gen_tokens, 7);
	}
	clear_n(r, 6);
	json_t *log = seen("ok");
	assert_int_equal(json_array_size(log), 6);
	size_t i;
	json_t *e;
	json_array_foreach(log, i, e)
	{
		const json_t *body = json_object_get(e, "body");
		assert_true(json_is_true(json_object_get(e, "auth_ok")));
		assert_string_equal(json_string_value(json_object_get(body, "model")),
				    "fault-model");
		const json_t *msgs = json_object_get(body, "messages");
		assert_int_equal(json_array_size(msgs), 2);
		assert_string_equal(
		    json_string_value(json_object_get(json_array_get(msgs, 0), "role")),
		    "system");
		assert_string_equal(json_string_value(json_object_get(
					json_array_get(msgs, 0), "content")),
				    "sys");
		assert_string_equal(
		    json_string_value(json_object_get(json_array_get(msgs, 1), "role")),
		    "user");
		assert_int_equal(json_integer_value(json_object_get(body, "max_tokens")),
				 256);
		/* extra_body wins over our fields */
		assert_true(json_real_value(json_object_get(body, "temperature")) ==
			    0.25);
		assert_int_equal(json_integer_value(json_object_get(body, "top_k")), 5);
		assert_true(json_real_value(json_object_get(body, "top_p")) == 0.95);
		assert_int_equal(json_array_size(json_object_get(body, "stop")), 2);
		assert_string_equal(json_string_value(json_object_get(body, "grammar")),
				    "root ::= \"a\"");
		assert_int_equal(
		    attempts_of(log,
				(int)json_integer_value(json_object_get(body, "seed")),
				NULL, NULL),
		    1);
	}
	/* a distinct seed per request, as the discussion set them */
	for (int s = 1000; s < 1006; s++)
		assert_int_equal(attempts_of(log, s, NULL, NULL), 1);
	json_decref(log);
	sd_backend_free(b);
}

/* One request after another: one connection, kept alive. */
static void test_keep_alive(void **state)
{
	(void)state;
	sd_reply r[1];
	sd_backend *b = make("okK", NULL);
	for (int k = 0; k < 3; k++) {
		run_n(b, 1, r, 10, NULL);
		assert_int_equal(r[0].status, SD_OK);
		clear_n(r, 1);
	}
	sd_backend_free(b);
	json_t *log = seen("okK");
	assert_int_equal(json_array_size(log), 3);
	json_int_t p0 =
	    json_integer_value(json_object_get(json_array_get(log, 0), "client_port"));
	for (size_t i = 1; i < 3; i++)
		assert_int_equal(json_integer_value(json_object_get(
				     json_array_get(log, i), "client_port")),
				 p0);
	json_decref(log);
}

static void vllm_tweak(sd_openai_params *p)
{
	p->grammar_field = "guided_grammar";
	p->send_seed = false;
	p->max_tokens = 9;
	p->temperature = 0;
}

static void nogrammar_tweak(sd_openai_params *p) { p->grammar_field = NULL; }

static void test_grammar_field(void **state)
{
	(void)state;
	sd_reply r[1];
	sd_backend *b = make("okV", vllm_tweak);
	run_n(b, 1, r, 10, "root ::= \"yes\" | \"no\"");
	clear_n(r, 1);
	sd_backend_free(b);
	b = make("okN", nogrammar_tweak);
	run_n(b, 1, r, 10, "root ::= \"yes\"");
	clear_n(r, 1);
	sd_backend_free(b);
	json_t *v = seen("okV"), *n = seen("okN");
	const json_t *bv = json_object_get(json_array_get(v, 0), "body");
	const json_t *bn = json_object_get(json_array_get(n, 0), "body");
	assert_non_null(json_object_get(bv, "guided_grammar"));
	assert_null(json_object_get(bv, "grammar"));
	assert_null(json_object_get(bv, "seed"));
	assert_int_equal(json_integer_value(json_object_get(bv, "max_tokens")), 9);
	assert_true(json_real_value(json_object_get(bv, "temperature")) == 0.0);
	assert_null(json_object_get(bn, "grammar"));
	assert_non_null(json_object_get(bn, "seed"));
	json_decref(v);
	json_decref(n);
}

static void backoff_max_2(sd_openai_params *p) { p->backoff_max = 2.0; }

static void test_retry_after(void **state)
{
	(void)state;
	sd_reply r[3];
	sd_backend *b = make("r429", backoff_max_2);
	double secs = run_n(b, 3, r, 10, NULL);
	for (int i = 0; i < 3; i++)
		assert_int_equal(r[i].status, SD_OK);
	clear_n(r, 3);
	sd_backend_free(b);
	assert_true(secs >= 0.95);
	json_t *log = seen("r429");
	for (int s = 1000; s < 1003; s++) {
		double t0 = 0, t1 = 0;
		assert_int_equal(attempts_of(log, s, &t0, &t1), 2);
		/* Retry-After: 1, not the 0.05 s backoff */
		if (t1 - t0 < 0.95)
			fail_msg("retried %.3f s after a 429 with Retry-After: 1",
				 t1 - t0);
	}
	json_decref(log);
	assert_non_null(strstr(logs(), "HTTP 429"));
}

/* Issue 13.10: Retry-After: 100000 waits backoff_max (0.2 s), and says so. */
static void test_retry_after_capped(void **state)
{
	(void)state;
	sd_reply r[1];
	size_t m = mark();
	sd_backend *b = make("r429huge", NULL);
	/* a wait of 100000 s would trip run_n's hang limit */
	run_n(b, 1, r, 5, NULL);
	assert_int_equal(r[0].status, SD_OK);
	clear_n(r, 1);
	sd_backend_free(b);
	json_t *log = seen("r429huge");
	assert_int_equal(attempts_of(log, 1000, NULL, NULL), 2);
	json_decref(log);
	assert_int_equal(
	    count_since(
		m, "asks to wait 100000 s (Retry-After); waiting 0.2 s (backoff_max)"),
	    1);
}

/* A first attempt that fails this way is retried and then succeeds. */
static void retried_once(const char *scenario)
{
	sd_reply r[4];
	size_t m = mark();
	sd_backend *b = make(scenario, NULL);
	run_n(b, 4, r, 10, NULL);
	for (int i = 0; i < 4; i++)
		if (r[i].status != SD_OK)
			fail_msg("%s: request %d failed: %s", scenario, i, r[i].error);
	clear_n(r, 4);
	sd_backend_free(b);
	json_t *log = seen(scenario);
	for (int s = 1000; s < 1004; s++)
		assert_int_equal(attempts_of(log, s, NULL, NULL), 2);
	json_decref(log);
	/* one retry each, after the backoff (not a Retry-After) */
	assert_int_equal(count_since(m, "; retry 1 of "), 4);
	assert_int_equal(count_since(m, "; retry 2 of "), 0);
}

static void test_retried(void **state)
{
	(void)state;
	retried_once("r500");
	retried_once("garbage");
}

static void stall_tweak(sd_openai_params *p) { p->request_timeout = 0.5; }

static void test_stall(void **state)
{
	(void)state;
	sd_reply r[2];
	size_t m = mark();
	sd_backend *b = make("stall", stall_tweak);
	run_n(b, 2, r, 10, NULL);
	for (int i = 0; i < 2; i++)
		if (r[i].status != SD_OK)
			fail_msg("stall: %s", r[i].error);
	clear_n(r, 2);
	sd_backend_free(b);
	/* the 0.5 s timeout ended each stalled first attempt, and the retry
	 * answered (waiting out the server's 3 s would log neither) */
	assert_int_equal(count_since(m, "(request_timeout); retry 1 of "), 2);
	assert_int_equal(count_since(m, "; retry 2 of "), 0);
}

static void stallall_tweak(sd_openai_params *p)
{
	p->request_timeout = 0.4;
	p->max_retries = 1;
}

static void test_stall_gives_up(void **state)
{
	(void)state;
	sd_reply r[1];
	size_t m = mark();
	sd_backend *b = make("stallall", stallall_tweak);
	run_n(b, 1, r, 10, NULL);
	assert_int_equal(r[0].status, SD_EBACKEND);
	assert_non_null(strstr(r[0].error, "gave up after 2 attempts"));
	assert_non_null(strstr(r[0].error, "within"));
	clear_n(r, 1);
	sd_backend_free(b);
	/* two timed-out attempts, one retry between them */
	assert_int_equal(count_since(m, "(request_timeout); retry 1 of 1"), 1);
}

static void test_bad_replies(void **state)
{
	(void)state;
	static const struct {
		const char *scenario, *needle;
	} cases[] = {
	    {"empty", "content is empty"},
	    {"nullc", "content is null"},
	    {"nochoices", "no \"choices\""},
	    {"r400", "HTTP 400"},
	};
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		sd_reply r[2];
		size_t m = mark();
		sd_backend *b = make(cases[k].scenario, NULL);
		run_n(b, 2, r, 10, NULL);
		for (int i = 0; i < 2; i++) {
			assert_int_equal(r[i].status, SD_EBACKEND);
			assert_null(r[i].text);
			if (!strstr(r[i].error, cases[k].needle))
				fail_msg("%s: '%s' lacks '%s'", cases[k].scenario,
					 r[i].error, cases[k].needle);
			/* which server said it */
			assert_non_null(strstr(r[i].error, g_base));
		}
		if (!strcmp(cases[k].scenario, "r400"))
			assert_non_null(strstr(r[0].error, "model 'x' does not exist"));
		assert_non_null(strstr(sd_backend_last_error(b), cases[k].needle));
		clear_n(r, 2);
		sd_backend_free(b);
		/* reported at once: one attempt each, no backoff */
		json_t *log = seen(cases[k].scenario);
		assert_int_equal(json_array_size(log), 2);
		json_decref(log);
		assert_int_equal(count_since(m, "; retry "), 0);
	}
}

static void test_bad_utf8(void **state)
{
	(void)state;
	sd_reply r[1];
	sd_backend *b = make("badutf8", NULL);
	run_n(b, 1, r, 10, NULL);
	assert_int_equal(r[0].status, SD_OK);
	assert_string_equal(r[0].text, "ok \xEF\xBF\xBD\xEF\xBF\xBD end");
	clear_n(r, 1);
	sd_backend_free(b);
}

static void giveup_tweak(sd_openai_params *p) { p->max_retries = 2; }

static void test_5xx_gives_up(void **state)
{
	(void)state;
	sd_reply r[1];
	sd_backend *b = make("r503all", giveup_tweak);
	run_n(b, 1, r, 10, NULL);
	assert_int_equal(r[0].status, SD_EBACKEND);
	assert_non_null(strstr(r[0].error, "gave up after 3 attempts"));
	assert_non_null(strstr(r[0].error, "HTTP 503"));
	assert_non_null(strstr(r[0].error, "overloaded"));
	clear_n(r, 1);
	sd_backend_free(b);
	json_t *log = seen("r503all");
	assert_int_equal(json_array_size(log), 3);
	json_decref(log);
}

static void test_key_echoed(void **state)
{
	(void)state;
	sd_reply r[1];
	sd_backend *b = make("r401echo", NULL);
	run_n(b, 1, r, 10, NULL);
	assert_int_equal(r[0].status, SD_EBACKEND);
	assert_non_null(strstr(r[0].error, "HTTP 401"));
	assert_non_null(
	    strstr(r[0].error, "Incorrect API key provided: Bearer [REDACTED]"));
	assert_null(strstr(sd_backend_last_error(b), KEY));
	clear_n(r, 1);
	sd_backend_free(b);
}

/* A 33-byte key with a '/', so that JSON may escape it as "\/". */
#define KEY33 "sk-TEST/hardening-0123456789abcde"

static void key33(sd_openai_params *p)
{
	p->api_key = KEY33;
	p->max_retries = 0;
}

/* No 12-byte piece of KEY33 (raw) in s. */
static void no_key33_piece(const char *what, const char *s)
{
	size_t n = strlen(KEY33);
	for (size_t i = 0; i + 12 <= n; i++) {
		char piece[13];
		memcpy(piece, KEY33 + i, 12);
		piece[12] = 0;
		if (s && strstr(s, piece))
			fail_msg("%s holds part of the API key (\"%s\"): %s", what, piece,
				 s);
	}
}

/* Issue 13.1: a key that straddles where a message is clipped, or comes
 * back JSON-escaped, is scrubbed all the same. */
static void test_key_clipped_or_escaped(void **state)
{
	(void)state;
	const char *scen[] = {"keyclip400", "keyclip80", "keyclip4096", "keyescaped"};
	for (size_t i = 0; i < sizeof(scen) / sizeof(*scen); i++) {
		sd_reply r[1];
		sd_backend *b = make(scen[i], key33);
		logs();
		size_t before = g_logs_len;
		run_n(b, 1, r, 10, NULL);
		fflush(g_logf);
		no_key33_piece("an error", r[0].error);
		no_key33_piece("the last error", sd_backend_last_error(b));
		no_key33_piece("the log", logs() + before);
		/* the escaped form, with "\/" and "\u0054" for 'T' */
		assert_null(strstr(logs() + before, "hardening-0123"));
		assert_null(strstr(logs() + before, "\\/hardening"));
		sd_reply_clear(&r[0]);
		sd_backend_free(b);
	}
}

/* A loopback port nobody listens on (bound, then closed). */
static int dead_port(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
	close(s);
	return ntohs(a.sin_port);
}

static void deadline_tweak(sd_openai_params *p) { p->down_deadline = 1.0; }

static void test_all_down(void **state)
{
	(void)state;
	char url[128];
	sd_reply r[3];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1", dead_port());
	sd_backend *b = make2(url, NULL, deadline_tweak);
	double secs = run_n(b, 3, r, 10, NULL);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(r[i].status, SD_EBACKEND);
		if (!strstr(r[i].error, "all 1 endpoint(s) down") ||
		    !strstr(r[i].error, "down_deadline"))
			fail_msg("all down: '%s'", r[i].error);
	}
	clear_n(r, 3);
	sd_backend_free(b);
	/* waited for the deadline (not at all would be quicker; for ever
	 * trips run_n's hang limit) */
	assert_true(secs >= 0.9);
	assert_non_null(strstr(logs(), "resting it"));
}

static void test_failover(void **state)
{
	(void)state;
	char url[128];
	sd_reply r[12];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1", dead_port());
	sd_backend *b = make2(url, url_for("okF"), NULL);
	run_n(b, 12, r, 10, NULL);
	for (int i = 0; i < 12; i++)
		if (r[i].status != SD_OK)
			fail_msg("failover: %s", r[i].error);
	clear_n(r, 12);
	sd_backend_free(b);
	json_t *log = seen("okF");
	assert_int_equal(json_array_size(log), 12);
	json_decref(log);
}

static void test_spread(void **state)
{
	(void)state;
	sd_reply r[8];
	sd_backend *b = make2(url_for("slowA"), url_for("slowB"), NULL);
	run_n(b, 8, r, 10, NULL);
	clear_n(r, 8);
	sd_backend_free(b);
	json_t *a = seen("slowA"), *c = seen("slowB");
	/* all at once, least outstanding first: an even split */
	assert_int_equal(json_array_size(a), 4);
	assert_int_equal(json_array_size(c), 4);
	json_decref(a);
	json_decref(c);
}

static void cap_tweak(sd_openai_params *p) { p->max_in_flight = 2; }

static void test_max_in_flight(void **state)
{
	(void)state;
	sd_reply r[6];
	sd_backend *b = make("slow", cap_tweak);
	double secs = run_n(b, 6, r, 10, NULL);
	for (int i = 0; i < 6; i++)
		assert_int_equal(r[i].status, SD_OK);
	clear_n(r, 6);
	sd_backend_free(b);
	json_t *log = seen("slow");
	size_t i;
	json_t *e;
	json_array_foreach(log, i, e)
	    assert_true(json_integer_value(json_object_get(e, "concurrent")) <= 2);
	json_decref(log);
	assert_true(secs >= 0.85); /* three rounds of 0.3 s */
}

static void test_cancel(void **state)
{
	(void)state;
	sd_backend *b = make("slowC", NULL);
	sd_request req;
	memset(&req, 0, sizeof(req));
	req.system_prompt = "s";
	req.sampling = sd_sampling_default();
	for (int i = 1; i <= 3; i++) {
		req.tag = (uint64_t)i;
		req.user_prompt = i == 1 ? "one" : i == 2 ? "two" : "three";
		assert_int_equal(sd_backend_submit(b, &req), SD_OK);
	}
	assert_int_equal(sd_backend_cancel(b, 3), SD_OK); /* still queued */
	sd_backend_step(b);				  /* 1 and 2 go out */
	assert_int_equal(sd_backend_cancel(b, 1), SD_OK); /* in flight */
	assert_int_equal(sd_backend_cancel(b, 42), SD_ENOTFOUND);
	sd_reply r;
	int got = 0;
	double t0 = mono();
	while (mono() - t0 < 5 && sd_backend_step(b) > 0)
		;
	while (sd_backend_collect(b, &r) == 1) {
		assert_int_equal(r.tag, 2);
		got++;
		sd_reply_clear(&r);
	}
	assert_int_equal(got, 1);
	/* freed with a request in flight and one finished, uncollected */
	req.tag = 7;
	assert_int_equal(sd_backend_submit(b, &req), SD_OK);
	sd_backend_step(b);
	sd_backend_free(b);
	sd_backend_free(NULL);
}

static void test_params(void **state)
{
	(void)state;
	sd_error err;
	const char *bad[] = {"ftp://x/v1"};
	const char *good[] = {"http://127.0.0.1:1/v1/"};
	sd_openai_params p = sd_openai_default_params();
	assert_null(sd_backend_openai_create(&p, &err));
	assert_string_equal(err.field, "base_urls");
	p.base_urls = bad;
	p.n_base_urls = 1;
	p.model = "m";
	assert_null(sd_backend_openai_create(&p, &err));
	assert_string_equal(err.field, "base_urls[0]");
	p.base_urls = good;
	p.model = NULL;
	assert_null(sd_backend_openai_create(&p, &err));
	assert_string_equal(err.field, "model");
	p.model = "m";
	p.extra_body = "[1]";
	assert_null(sd_backend_openai_create(&p, &err));
	assert_string_equal(err.field, "extra_body");
	p.extra_body = NULL;
	p.api_key = "a\nb";
	assert_null(sd_backend_openai_create(&p, &err));
	assert_null(strstr(err.text, "a\nb"));
	p.api_key = NULL;
	p.model_name = "shown";
	sd_backend *b = sd_backend_openai_create(&p, &err);
	assert_non_null(b);
	assert_string_equal(sd_backend_model_name(b), "shown");
	char *chat = NULL;
	assert_int_equal(sd_backend_format_chat(b, "s", "u", &chat), SD_ESTATE);
	assert_int_equal(sd_backend_step(b), 0); /* idle: returns at once */
	sd_backend_free(b);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr,
			"usage: test_openai http://127.0.0.1:PORT (fault_server.py)\n");
		return 2;
	}
	g_base = argv[1];
	g_logf = open_memstream(&g_logs, &g_logs_len);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_request_body, reset),
	    cmocka_unit_test_setup(test_grammar_field, reset),
	    cmocka_unit_test_setup(test_keep_alive, reset),
	    cmocka_unit_test_setup(test_retry_after, reset),
	    cmocka_unit_test_setup(test_retry_after_capped, reset),
	    cmocka_unit_test_setup(test_retried, reset),
	    cmocka_unit_test_setup(test_stall, reset),
	    cmocka_unit_test_setup(test_stall_gives_up, reset),
	    cmocka_unit_test_setup(test_bad_replies, reset),
	    cmocka_unit_test_setup(test_bad_utf8, reset),
	    cmocka_unit_test_setup(test_5xx_gives_up, reset),
	    cmocka_unit_test_setup(test_key_echoed, reset),
	    cmocka_unit_test_setup(test_key_clipped_or_escaped, reset),
	    cmocka_unit_test_setup(test_all_down, reset),
	    cmocka_unit_test_setup(test_failover, reset),
	    cmocka_unit_test_setup(test_spread, reset),
	    cmocka_unit_test_setup(test_max_in_flight, reset),
	    cmocka_unit_test_setup(test_cancel, reset),
	    cmocka_unit_test(test_params),
	};
	int failed = cmocka_run_group_tests(tests, NULL, NULL);
	fflush(g_logf);
	/* every line the backend logged, across all the tests above */
	if (g_logs && strstr(g_logs, KEY)) {
		fprintf(stderr, "FAIL: the API key appears in the backend's log\n");
		failed++;
	}
	if (g_debug_lines == 0 || !strstr(g_logs, "\"choices\"")) {
		fprintf(stderr, "FAIL: no raw replies in the debug log\n");
		failed++;
	}
	fclose(g_logf);
	free(g_logs);
	curl_global_cleanup();
	return failed ? 1 : 0;
}

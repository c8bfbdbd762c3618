/*
 * Unit tests of whole-discussion evaluation and condition comparisons:
 * the rubric's grammar and the parsing of a judge's object, config errors
 * naming their field, runs on the scripted backend (retries, unparsed,
 * resume, shards), and the bootstrap against brute-force enumeration.
 */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "analysis/bootstrap.h"
#include "core/rubric.h"
#include "syndisco.h"

/* ---------------- rubric ---------------- */

static sd__rubric *rubric(const char *json)
{
	json_t *j = json_loads(json, 0, NULL);
	sd__rubric *r = NULL;
	sd_error err;
	sd_error_clear(&err);
	assert_non_null(j);
	int rc = sd__rubric_parse(j, "cfg.json", "rubric", &r, &err);
	if (rc)
		fprintf(stderr, "%s\n", err.text);
	assert_int_equal(rc, SD_OK);
	json_decref(j);
	return r;
}

static void test_grammar(void **state)
{
	(void)state;
	sd__rubric *r =
	    rubric("[{\"name\": \"toxicity\", \"description\": \"d\", \"range\": [1, 3]},"
		   " {\"name\": \"coherence\", \"range\": [-1, 1]}]");
	assert_string_equal(
	    r->grammar,
	    "root ::= \"{\\\"toxicity\\\": \" d0 \", \\\"coherence\\\": \" d1 \"}\"\n"
	    "d0 ::= \"1\" | \"2\" | \"3\"\n"
	    "d1 ::= \"-1\" | \"0\" | \"1\"\n");
	char why[256];
	assert_int_equal(sd_grammar_check(r->grammar, why, sizeof(why)), 0);
	/* the longest reply: {"toxicity": 3, "coherence": -1} */
	assert_int_equal(r->max_bytes, strlen("{\"toxicity\": 3, \"coherence\": -1}"));
	char *d = sd__rubric_describe(r);
	assert_non_null(strstr(d, "- toxicity (1 to 3): d\n"));
	assert_non_null(strstr(d, "{\"toxicity\": <score>, \"coherence\": <score>}"));
	free(d);
	sd__rubric_free(r);
}

static void expect_reply(const sd__rubric *r, const char *reply, const char *want)
{
	json_t *s = NULL;
	int rc = sd__rubric_parse_reply(r, reply, &s);
	if (!want) {
		assert_int_equal(rc, SD_EPARSE);
		assert_null(s);
		return;
	}
	assert_int_equal(rc, SD_OK);
	char *got = json_dumps(s, JSON_COMPACT | JSON_PRESERVE_ORDER);
	assert_string_equal(got, want);
	free(got);
	json_decref(s);
}

static void test_parse_reply(void **state)
{
	(void)state;
	sd__rubric *r = rubric("[{\"name\": \"tox\", \"range\": [1, 5]},"
			       " {\"name\": \"coh\", \"range\": [0, 1000]}]");
	expect_reply(r, "{\"tox\": 3, \"coh\": 999}", "{\"tox\":3,\"coh\":999}");
	/* order and spacing free when an engine did not enforce the grammar */
	expect_reply(r, " {\"coh\":0,\"tox\":5}\n", "{\"tox\":5,\"coh\":0}");
	expect_reply(r, "{\"tox\": 6, \"coh\": 1}", NULL); /* out of range */
	expect_reply(r, "{\"tox\": 0, \"coh\": 1}", NULL);
	expect_reply(r, "{\"tox\": 2, \"coh\": 1001}", NULL);
	expect_reply(r, "{\"tox\": 2}", NULL);			     /* missing */
	expect_reply(r, "{\"tox\": 2, \"coh\": 1, \"x\": 1}", NULL); /* extra */
	expect_reply(r, "{\"tox\": 2.5, \"coh\": 1}", NULL);	     /* not an integer */
	expect_reply(r, "{\"tox\": \"2\", \"coh\": 1}", NULL);
	expect_reply(r, "[2, 1]", NULL);
	expect_reply(r, "tox: 2", NULL);
	expect_reply(r, "", NULL);
	sd__rubric_free(r);
}

static void expect_rubric_error(const char *json, const char *field, const char *what)
{
	json_t *j = json_loads(json, 0, NULL);
	sd__rubric *r = NULL;
	sd_error err;
	sd_error_clear(&err);
	assert_int_not_equal(sd__rubric_parse(j, "cfg.json", "rubric", &r, &err), SD_OK);
	assert_null(r);
	assert_string_equal(err.field, field);
	if (!strstr(err.text, what))
		fail_msg("'%s' has no '%s'", err.text, what);
	json_decref(j);
}

static void test_rubric_errors(void **state)
{
	(void)state;
	expect_rubric_error("[]", "rubric", "missing");
	expect_rubric_error("{}", "rubric", "missing");
	expect_rubric_error("[3]", "rubric[0]", "must be an object");
	expect_rubric_error("[{\"range\": [1, 2]}]", "rubric[0].name", "needs a name");
	expect_rubric_error("[{\"name\": \"a b\", \"range\": [1, 2]}]", "rubric[0].name",
			    "needs a name");
	expect_rubric_error("[{\"name\": \"a\", \"range\": [1, 2]}, {\"name\": \"a\", "
			    "\"range\": [1, 2]}]",
			    "rubric[1].name", "used twice");
	expect_rubric_error("[{\"name\": \"a\"}]", "rubric[0].range", "missing");
	expect_rubric_error("[{\"name\": \"a\", \"range\": [2, 1]}]", "rubric[0].range",
			    "min <= max");
	expect_rubric_error("[{\"name\": \"a\", \"range\": [1, 2.5]}]", "rubric[0].range",
			    "integers");
	expect_rubric_error("[{\"name\": \"a\", \"range\": [0, 5000]}]",
			    "rubric[0].range", "at most 1001");
	expect_rubric_error("[{\"name\": \"a\", \"range\": [1, 2], \"scale\": 3}]",
			    "rubric[0].scale", "unknown key");
	expect_rubric_error("[{\"name\": \"a\", \"range\": [1, 2], \"description\": 3}]",
			    "rubric[0].description", "must be a string");
}

/* ---------------- runs on the scripted backend ---------------- */

static char dir[64];

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int setup(void **state)
{
	(void)state;
	char path[256];
	snprintf(dir, sizeof(dir), "/tmp/sd-evaluate-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/logs", dir);
	mkdir(path, 0755);
	for (int i = 0; i < 4; i++) {
		char text[512];
		snprintf(path, sizeof(path), "%s/logs/%d.json", dir, i);
		snprintf(text, sizeof(text),
			 "{\"id\": \"conv-%d\", \"timestamp\": \"t\", \"users\": [\"a\", "
			 "\"b\"], "
			 "\"moderator\": null, \"logs\": [{\"name\": \"a\", \"text\": "
			 "\"hi %d\", "
			 "\"model\": \"m\"}, {\"name\": \"b\", \"text\": \"no\", "
			 "\"model\": \"m\"}]}",
			 i, i);
		write_file(path, text);
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Write a config with the given replies and judges, load it. */
static int load(const char *replies, const char *extra, sd_evaluate **v, sd_error *err)
{
	char path[256], text[2048];
	snprintf(path, sizeof(path), "%s/ev.json", dir);
	snprintf(text, sizeof(text),
		 "{\"seed\": 3, \"discussions\": \"logs\", \"max_retries\": 1,"
		 " \"backend\": {\"type\": \"scripted\", \"replies\": %s},"
		 " \"rubric\": [{\"name\": \"tox\", \"range\": [1, 5]},"
		 "              {\"name\": \"coh\", \"range\": [0, 3]}],"
		 " \"judges\": [{\"name\": \"j1\", \"instructions\": \"Judge.\"}%s]}",
		 replies, extra);
	write_file(path, text);
	sd_error_clear(err);
	return sd_evaluate_load(path, NULL, 0, v, err);
}

static json_t *read_json(const char *rel)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	return json_load_file(path, 0, NULL);
}

static void test_run_retry_and_unparsed(void **state)
{
	(void)state;
	sd_evaluate *v = NULL;
	sd_error err;
	/* one scripted backend serves requests in order: per log the first
	   reply is bad; conv-0 then gets a good one, ... (FIFO, parallel 1) */
	assert_int_equal(
	    load("[\"nonsense\", \"{\\\"tox\\\": 2, \\\"coh\\\": 3}\"]", "", &v, &err),
	    SD_OK);
	assert_int_equal(sd_evaluate_log_count(v), 4);
	assert_int_equal(sd_evaluate_judge_count(v), 1);
	sd_run_params p = sd_run_default_params();
	char out[128];
	snprintf(out, sizeof(out), "%s/out", dir);
	p.out_dir = out;
	p.parallel = 1;
	sd_run_progress prog;
	assert_int_equal(sd_evaluate_run(v, &p, &prog, &err), SD_OK);
	assert_int_equal(prog.done, 4);
	for (int i = 0; i < 4; i++) {
		char rel[64];
		snprintf(rel, sizeof(rel), "out/j1/conv-%d.json", i);
		json_t *j = read_json(rel);
		assert_non_null(j);
		assert_string_equal(json_string_value(json_object_get(j, "status")),
				    "ok");
		assert_int_equal(json_integer_value(json_object_get(j, "attempts")), 2);
		assert_int_equal(json_integer_value(json_object_get(
				     json_object_get(j, "scores"), "coh")),
				 3);
		json_decref(j);
	}
	/* resume: nothing left to do */
	assert_int_equal(sd_evaluate_run(v, &p, &prog, &err), SD_OK);
	assert_int_equal(prog.done, 0);
	assert_int_equal(prog.skipped, 4);
	sd_evaluate_free(v);

	/* never a valid reply: recorded as unparsed after 1 + max_retries */
	assert_int_equal(load("[\"{\\\"tox\\\": 9, \\\"coh\\\": 1}\"]", "", &v, &err),
			 SD_OK);
	snprintf(out, sizeof(out), "%s/out2", dir);
	p.out_dir = out;
	assert_int_equal(sd_evaluate_run(v, &p, &prog, &err), SD_OK);
	json_t *j = read_json("out2/j1/conv-3.json");
	assert_string_equal(json_string_value(json_object_get(j, "status")), "unparsed");
	assert_true(json_is_null(json_object_get(j, "scores")));
	assert_int_equal(json_integer_value(json_object_get(j, "attempts")), 2);
	json_decref(j);
	sd_evaluate_free(v);
}

static void test_shards(void **state)
{
	(void)state;
	sd_evaluate *v = NULL;
	sd_error err;
	assert_int_equal(load("[\"{\\\"tox\\\": 1, \\\"coh\\\": 0}\"]",
			      ", {\"name\": \"j2\", \"instructions\": \"Judge too.\"}",
			      &v, &err),
			 SD_OK);
	sd_run_params p = sd_run_default_params();
	char out[128];
	snprintf(out, sizeof(out), "%s/sh", dir);
	p.out_dir = out;
	p.shard_count = 2;
	p.shard_index = 1;
	sd_run_progress prog;
	assert_int_equal(sd_evaluate_run(v, &p, &prog, &err), SD_OK);
	assert_int_equal(prog.total, 4); /* logs 1 and 3, two judges */
	assert_int_equal(prog.done, 4);
	char path[256];
	snprintf(path, sizeof(path), "%s/sh/j2/conv-1.json", dir);
	assert_int_equal(access(path, F_OK), 0);
	snprintf(path, sizeof(path), "%s/sh/j2/conv-0.json", dir);
	assert_int_not_equal(access(path, F_OK), 0);
	p.shard_index = 0;
	assert_int_equal(sd_evaluate_run(v, &p, &prog, &err), SD_OK);
	assert_int_equal(prog.done, 4);
	assert_int_equal(access(path, F_OK), 0);
	sd_evaluate_free(v);
}

static void expect_config_error(const char *replies, const char *extra, const char *field)
{
	sd_evaluate *v = NULL;
	sd_error err;
	assert_int_not_equal(load(replies, extra, &v, &err), SD_OK);
	assert_null(v);
	if (strcmp(err.field, field))
		fail_msg("field '%s', want '%s' (%s)", err.field, field, err.text);
	assert_non_null(strstr(err.source, "ev.json"));
}

static void test_config_errors(void **state)
{
	(void)state;
	expect_config_error("[]", ", {\"name\": \"j1\", \"instructions\": \"x\"}",
			    "judges[1].name");
	expect_config_error("[]",
			    ", {\"name\": \"j2\", \"instructions\": \"x\", \"rubric\": "
			    "[{\"name\": \"q\", \"range\": [3]}]}",
			    "judges[1].rubric[0].range");
	expect_config_error("[]",
			    ", {\"name\": \"j2\", \"instructions\": \"x\", \"rubric\": "
			    "[{\"name\": \"q\", \"range\": [1, 2], \"min\": 1}]}",
			    "judges[1].rubric[0].min");
	expect_config_error("[]", ", {\"name\": \"j2\", \"instrucions\": \"x\"}",
			    "judges[1].instrucions");
	expect_config_error("[]", ", \"x\"", "judges[1]");
}

/* ---------------- bootstrap ---------------- */

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* The exact bootstrap distribution of the mean of x (n <= 4): every one
 * of the n^n index tuples, equally likely. Sorted into out. */
static size_t enumerate(const double *x, size_t n, double *out)
{
	size_t total = 1, k = 0;
	for (size_t i = 0; i < n; i++)
		total *= n;
	for (size_t t = 0; t < total; t++) {
		size_t c = t;
		double s = 0;
		for (size_t i = 0; i < n; i++, c /= n)
			s += x[c % n];
		out[k++] = s / (double)n;
	}
	qsort(out, k, sizeof(*out), cmp_d);
	return k;
}

static void test_bootstrap_enumerated(void **state)
{
	(void)state;
	const double x[] = {0, 1, 5, 2};
	double all[256];
	size_t k = enumerate(x, 4, all);
	/* the exact distribution's 2.5% and 97.5% quantiles */
	double lo = sd__percentile(all, k, 0.025), hi = sd__percentile(all, k, 0.975);
	sd__ci ci;
	assert_int_equal(sd__bootstrap_mean(x, 4, 11, 200000, &ci), SD_OK);
	assert_true(fabs(ci.mean - 2.0) < 1e-12);
	/* Monte Carlo with 200,000 replicates lands on the exact quantile or
	   the support point next to it: the distribution moves in 0.25s */
	assert_true(fabs(ci.lo - lo) <= 0.25 + 1e-9);
	assert_true(fabs(ci.hi - hi) <= 0.25 + 1e-9);
	/* and the difference of two groups against their joint enumeration */
	const double a[] = {1, 2, 2}, b[] = {3, 5, 4};
	double ea[27], eb[27], diffs[729];
	enumerate(a, 3, ea);
	enumerate(b, 3, eb);
	size_t m = 0;
	for (size_t i = 0; i < 27; i++)
		for (size_t j = 0; j < 27; j++)
			diffs[m++] = eb[j] - ea[i];
	qsort(diffs, m, sizeof(*diffs), cmp_d);
	assert_int_equal(sd__bootstrap_diff(a, 3, b, 3, 5, 200000, &ci), SD_OK);
	assert_true(fabs(ci.mean - (4.0 - 5.0 / 3.0)) < 1e-12);
	assert_true(fabs(ci.lo - sd__percentile(diffs, m, 0.025)) <= 1.0 / 3 + 1e-9);
	assert_true(fabs(ci.hi - sd__percentile(diffs, m, 0.975)) <= 1.0 / 3 + 1e-9);
	/* one discussion: nothing varies */
	assert_int_equal(sd__bootstrap_mean(x + 2, 1, 1, 100, &ci), SD_OK);
	assert_true(ci.lo == 5 && ci.hi == 5 && ci.mean == 5);
}

static void test_percentile(void **state)
{
	(void)state;
	/* numpy.percentile([1, 2, 4, 8], [2.5, 50, 97.5]) = 1.075, 3, 7.7 */
	const double s[] = {1, 2, 4, 8};
	assert_true(fabs(sd__percentile(s, 4, 0.025) - 1.075) < 1e-12);
	assert_true(fabs(sd__percentile(s, 4, 0.5) - 3.0) < 1e-12);
	assert_true(fabs(sd__percentile(s, 4, 0.975) - 7.7) < 1e-12);
	assert_true(sd__percentile(s, 1, 0.975) == 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_grammar),
	    cmocka_unit_test(test_parse_reply),
	    cmocka_unit_test(test_rubric_errors),
	    cmocka_unit_test_setup_teardown(test_run_retry_and_unparsed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_shards, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_config_errors, setup, teardown),
	    cmocka_unit_test(test_bootstrap_enumerated),
	    cmocka_unit_test(test_percentile),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

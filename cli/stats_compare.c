/* `syndisco stats`: the condition comparisons as terminal tables or JSON. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static double num(const json_t *o, const char *k)
{
	return json_number_value(json_object_get(o, k));
}

static const char *str(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s && *s ? s : "(none)";
}

static int width(const json_t *conds, int w)
{
	for (size_t i = 0; i < json_array_size(conds); i++) {
		int l = (int)strlen(json_string_value(json_array_get(conds, i)));
		w = l > w ? l : w;
	}
	return w;
}

static void print_tables(const json_t *j)
{
	const json_t *b = json_object_get(j, "bootstrap");
	const json_t *metrics = json_object_get(j, "metrics");
	int w = width(json_object_get(j, "conditions"), 9);
	printf("\nconditions compared: mean per discussion, 95%% percentile bootstrap CI "
	       "(%lld replicates over discussions, seed %lld)\n",
	       (long long)json_integer_value(json_object_get(b, "replicates")),
	       (long long)json_integer_value(json_object_get(b, "seed")));
	for (size_t i = 0; i < json_array_size(metrics); i++) {
		const json_t *m = json_array_get(metrics, i);
		const json_t *byc = json_object_get(m, "by_condition");
		const json_t *ds = json_object_get(m, "differences");
		printf("\n%s (%s)\n", str(m, "name"), str(m, "kind"));
		printf("  %-*s  %11s  %8s  %19s\n", w, "condition", "discussions", "mean",
		       "95% CI");
		for (size_t k = 0; k < json_array_size(byc); k++) {
			const json_t *c = json_array_get(byc, k);
			printf("  %-*s  %11lld  %8.3f  [%7.3f, %7.3f]\n", w,
			       str(c, "condition"),
			       (long long)json_integer_value(json_object_get(c, "n")),
			       num(c, "mean"), num(c, "lo"), num(c, "hi"));
		}
		for (size_t k = 0; k < json_array_size(ds); k++) {
			const json_t *d = json_array_get(ds, k);
			double lo = num(d, "lo"), hi = num(d, "hi");
			printf("  %s - %s: %+.3f  [%.3f, %.3f]%s\n", str(d, "b"),
			       str(d, "a"), num(d, "diff"), lo, hi,
			       lo > 0 || hi < 0 ? "  *" : "");
		}
	}
	if (json_array_size(metrics))
		printf("\n* the interval excludes 0\n");
}

int cli_print_comparisons(const sd_dataset *d, const sd_compare_params *p, bool json,
			  bool always)
{
	char *text = NULL;
	sd_error err;
	sd_error_clear(&err);
	if (sd_dataset_compare_json(d, p, &text, &err))
		return cli_fail(&err);
	json_t *j = json_loads(text, 0, NULL);
	if (!j) {
		free(text);
		return cli_errorf(1, "out of memory");
	}
	if (json)
		printf("%s\n", text);
	else if (always || json_array_size(json_object_get(j, "metrics")))
		print_tables(j);
	json_decref(j);
	free(text);
	return 0;
}

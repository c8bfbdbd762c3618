#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char usage[] =
    "usage: syndisco stats DIR... [--annotations DIR...] [--json] [--compare]\n"
    "\n"
    "Summary per cell of the discussion logs under DIR (searched\n"
    "recursively): discussions found (/ expected, from run.json), comments,\n"
    "mean comment length in characters, moderator interventions per\n"
    "discussion, seed and blank comments, silent turns (prompted user turns\n"
    "whose reply was empty; needs run.json) and missing discussions.\n"
    "Then, for every numeric annotation label and evaluation score, the\n"
    "conditions compared (a condition is a log's cell, else its directory):\n"
    "the mean per condition with a 95% percentile bootstrap CI over\n"
    "discussions, and the pairwise differences of those means.\n"
    "\n"
    "options:\n"
    "  --json      one JSON object per cell, one per line\n"
    "  --compare   only the comparisons (with --json: one JSON object,\n"
    "              per-turn means of labels included)\n"
    "  --annotations DIR...  annotation and evaluation files to join\n"
    "  --bootstrap B  bootstrap replicates (default 1000)\n"
    "  --seed S    bootstrap seed (default 42)\n"
    "  --quiet     no warnings\n"
    "  -h, --help  this help\n";

static void print_json(const sd_cell_summary *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		/* cell names are validated identifiers in our runs, but a
		   SynDisco file could hold anything: escape what JSON needs */
		fputs("{\"cell\": \"", stdout);
		for (const char *p = s[i].cell; *p; p++) {
			if (*p == '"' || *p == '\\')
				printf("\\%c", *p);
			else if ((unsigned char)*p < 0x20)
				printf("\\u%04x", (unsigned char)*p);
			else
				putchar(*p);
		}
		printf("\", \"discussions\": %zu, \"expected\": %zu, \"comments\": %zu, "
		       "\"mean_length\": %.2f, \"moderator_comments\": %zu, "
		       "\"moderator_per_discussion\": %.3f, \"seed_comments\": %zu, "
		       "\"blank_comments\": %zu, \"silent_turns\": %ld, "
		       "\"generated_tokens\": %llu}\n",
		       s[i].discussions, s[i].expected, s[i].comments, s[i].mean_length,
		       s[i].moderator_comments, s[i].moderator_per_discussion,
		       s[i].seed_comments, s[i].blank_comments, s[i].silent_turns,
		       (unsigned long long)s[i].generated_tokens);
	}
}

static void print_table(const sd_cell_summary *s, size_t n)
{
	int w = 4;
	for (size_t i = 0; i < n; i++) {
		int l = (int)strlen(s[i].cell[0] ? s[i].cell : "(no cell)");
		if (l > w)
			w = l;
	}
	printf("%-*s  %11s  %8s  %8s  %8s  %5s  %5s  %6s  %7s\n", w, "cell",
	       "discussions", "comments", "mean len", "mod/disc", "seed", "blank",
	       "silent", "missing");
	for (size_t i = 0; i < n; i++) {
		bool all = i == n - 1;
		char disc[48], silent[24], missing[24];
		if (all && n == 2)
			break; /* one cell: "all" would repeat it */
		if (s[i].expected)
			snprintf(disc, sizeof(disc), "%zu/%zu", s[i].discussions,
				 s[i].expected);
		else
			snprintf(disc, sizeof(disc), "%zu", s[i].discussions);
		if (s[i].silent_turns >= 0)
			snprintf(silent, sizeof(silent), "%ld", s[i].silent_turns);
		else
			snprintf(silent, sizeof(silent), "-");
		if (s[i].expected)
			snprintf(missing, sizeof(missing), "%zu",
				 s[i].expected > s[i].discussions
				     ? s[i].expected - s[i].discussions
				     : 0);
		else
			snprintf(missing, sizeof(missing), "-");
		printf("%-*s  %11s  %8zu  %8.1f  %8.2f  %5zu  %5zu  %6s  %7s\n", w,
		       all	      ? "all"
		       : s[i].cell[0] ? s[i].cell
				      : "(no cell)",
		       disc, s[i].comments, s[i].mean_length,
		       s[i].moderator_per_discussion, s[i].seed_comments,
		       s[i].blank_comments, silent, missing);
	}
}

int cmd_stats(int argc, char **argv)
{
	cli_inputs in = {0};
	bool json = false, quiet = false, compare = false;
	sd_compare_params cp = sd_compare_default_params();
	const char *v;
	uint64_t u;
	sd_dataset *d = NULL;
	sd_cell_summary *s = NULL;
	size_t n = 0;
	int status = 2, t;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			fputs(usage, stdout);
			status = 0;
			goto out;
		} else if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "--compare")) {
			compare = true;
		} else if ((v = cli_opt(argc, argv, &i, "--bootstrap"))) {
			if (!cli_parse_u64(v, &u) || u < 1 || u > 1000000) {
				cli_errorf(
				    2,
				    "--bootstrap: '%s' is not a number from 1 to 1000000",
				    v);
				goto out;
			}
			cp.replicates = (size_t)u;
		} else if ((v = cli_opt(argc, argv, &i, "--seed"))) {
			if (!cli_parse_u64(v, &u)) {
				cli_errorf(2, "--seed: '%s' is not a whole number >= 0",
					   v);
				goto out;
			}
			cp.seed = u;
		} else if (!strcmp(argv[i], "--quiet") || !strcmp(argv[i], "-q")) {
			quiet = true;
		} else if ((t = cli_inputs_take(&in, argc, argv, &i)) != 0) {
			if (t != 1)
				goto out;
		} else {
			fputs(usage, stderr);
			cli_errorf(2, "unknown option '%s'", argv[i]);
			goto out;
		}
	}
	if (!in.n_logs) {
		fputs(usage, stderr);
		cli_errorf(2, "no DIR given");
		goto out;
	}
	if ((status = cli_inputs_load(&in, quiet, &d)))
		goto out;
	if (sd_dataset_summary(d, &s, &n)) {
		status = cli_errorf(1, "out of memory");
		goto out;
	}
	if (compare) {
		status = cli_print_comparisons(d, &cp, json, true);
		goto out;
	}
	if (json)
		print_json(s, n);
	else
		print_table(s, n);
	status = json ? 0 : cli_print_comparisons(d, &cp, false, false);
out:
	sd_free(s);
	sd_dataset_free(d);
	cli_inputs_free(&in);
	return status;
}

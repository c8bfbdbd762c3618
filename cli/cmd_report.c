#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char usage[] =
    "usage: syndisco report DIR... [--annotations DIR...] -o REPORT.html\n"
    "\n"
    "Write one self-contained HTML page (no external assets, no network)\n"
    "about the discussion logs under DIR: a summary per cell, charts of\n"
    "comment lengths, comments per participant and labels per annotator,\n"
    "and a browser to read each discussion as a thread (personas on\n"
    "click, moderator comments set apart, annotations as badges). With\n"
    "numeric labels or evaluation scores (evaluations under DIR or\n"
    "--annotations are joined), the conditions compared: means with 95%\n"
    "bootstrap CIs, each label through the turns, pairwise differences.\n"
    "\n"
    "options:\n"
    "  --annotations DIR...  annotation files to show with the comments;\n"
    "                        takes every argument up to the next option\n"
    "  -o, --output FILE     the page, written atomically (\"-\": stdout)\n"
    "  --title TEXT          page title (default \"syndisco report\")\n"
    "  --bootstrap B         bootstrap replicates of the condition\n"
    "                        comparisons (default 1000)\n"
    "  --seed S              their seed (default 42)\n"
    "  --quiet               no warnings\n"
    "  -h, --help            this help\n";

int cmd_report(int argc, char **argv)
{
	cli_inputs in = {0};
	const char *output = NULL, *v;
	bool quiet = false;
	sd_dataset *d = NULL;
	cli_out *o = NULL;
	sd_report_params rp = sd_report_default_params();
	int status = 2, t;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			fputs(usage, stdout);
			status = 0;
			goto out;
		} else if ((v = cli_opt(argc, argv, &i, "--output")) ||
			   (v = cli_opt(argc, argv, &i, "-o"))) {
			output = v;
		} else if ((v = cli_opt(argc, argv, &i, "--title"))) {
			rp.title = v;
		} else if ((v = cli_opt(argc, argv, &i, "--bootstrap"))) {
			uint64_t u;
			if (!cli_parse_u64(v, &u) || u < 1 || u > 1000000) {
				cli_errorf(
				    2,
				    "--bootstrap: '%s' is not a number from 1 to 1000000",
				    v);
				goto out;
			}
			rp.compare.replicates = (size_t)u;
		} else if ((v = cli_opt(argc, argv, &i, "--seed"))) {
			uint64_t u;
			if (!cli_parse_u64(v, &u)) {
				cli_errorf(2, "--seed: '%s' is not a whole number >= 0",
					   v);
				goto out;
			}
			rp.compare.seed = u;
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
	if (!output) {
		fputs(usage, stderr);
		cli_errorf(2, "no -o REPORT.html given");
		goto out;
	}
	if ((status = cli_inputs_check_output(&in, output)))
		goto out;
	if ((status = cli_inputs_load(&in, quiet, &d)))
		goto out;
	status = 1;
	if (!(o = cli_out_open(output)))
		goto out;
	sd_error err;
	sd_error_clear(&err);
	if (sd_dataset_report_html(d, &rp, cli_out_write, o, &err)) {
		cli_out_abort(o);
		if (err.code == SD_EIO)
			cli_errorf(1, "%s: write failed", output);
		else
			cli_fail(&err);
		goto out;
	}
	if ((status = cli_out_commit(o)))
		goto out;
	if (strcmp(output, "-") && !quiet)
		fprintf(stderr, "syndisco: wrote %s (%zu discussions, %zu comments)\n",
			output, sd_dataset_discussion_count(d),
			sd_dataset_comment_count(d));
out:
	sd_dataset_free(d);
	cli_inputs_free(&in);
	return status;
}

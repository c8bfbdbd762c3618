#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char usage[] =
    "usage: syndisco export DIR... [--annotations DIR...] [--format csv|jsonl]\n"
    "                       [-o FILE]\n"
    "\n"
    "One row per comment of every discussion log under DIR (searched\n"
    "recursively; run.json and annotation files are skipped), with the\n"
    "speaker's persona in persona_<field> columns and, for each annotator\n"
    "found under the --annotations directories, <annotator>_annotation and\n"
    "<annotator>_label. Ready for pandas.read_csv / read.csv. Columns:\n"
    "docs/export.md.\n"
    "\n"
    "options:\n"
    "  --annotations DIR...  annotation files (ANNOT_DIR/<annotator>/<id>.json,\n"
    "                        ours or SynDisco's); takes every argument up to\n"
    "                        the next option\n"
    "  --format F            csv (default; RFC 4180, UTF-8) or jsonl (one JSON\n"
    "                        object per line)\n"
    "  -o, --output FILE     write FILE atomically (nothing is left behind on\n"
    "                        failure); default: standard output\n"
    "  --quiet               no warnings\n"
    "  -h, --help            this help\n"
    "\n"
    "Exit status: 0 done, 1 error (a file that is not a log, ...), 2 usage.\n";

int cmd_export(int argc, char **argv)
{
	cli_inputs in = {0};
	const char *format = "csv", *output = NULL, *v;
	bool quiet = false;
	sd_dataset *d = NULL;
	cli_out *o = NULL;
	sd_export_format f;
	int status = 2, t;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			fputs(usage, stdout);
			status = 0;
			goto out;
		} else if ((v = cli_opt(argc, argv, &i, "--format"))) {
			format = v;
		} else if ((v = cli_opt(argc, argv, &i, "--output")) ||
			   (v = cli_opt(argc, argv, &i, "-o"))) {
			output = v;
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
	if (sd_export_format_from_name(format, &f)) {
		cli_errorf(2, "--format: unknown format '%s' (use csv or jsonl)", format);
		goto out;
	}
	if (!in.n_logs) {
		fputs(usage, stderr);
		cli_errorf(2, "no DIR given");
		goto out;
	}
	/* everything is read before the output is opened: bad input leaves
	   no file behind */
	if ((status = cli_inputs_check_output(&in, output)))
		goto out;
	if ((status = cli_inputs_load(&in, quiet, &d)))
		goto out;
	status = 1;
	if (!(o = cli_out_open(output)))
		goto out;
	sd_error err;
	sd_error_clear(&err);
	if (sd_dataset_export(d, f, cli_out_write, o, &err)) {
		cli_out_abort(o);
		if (err.code == SD_EIO)
			cli_errorf(1, "%s: write failed", output ? output : "stdout");
		else
			cli_fail(&err);
		goto out;
	}
	if ((status = cli_out_commit(o)))
		goto out;
	if (output && !quiet)
		fprintf(stderr,
			"syndisco: wrote %zu rows (%zu discussions, %zu annotators) "
			"to %s\n",
			sd_dataset_comment_count(d), sd_dataset_discussion_count(d),
			sd_dataset_annotator_count(d), output);
out:
	sd_dataset_free(d);
	cli_inputs_free(&in);
	return status;
}

#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char usage[] =
    "usage: syndisco <command> [options]\n"
    "\n"
    "Synthetic online discussions between LLM agents with personas.\n"
    "\n"
    "commands:\n"
    "  discuss CONFIG.json       run one discussion and write its JSON log\n"
    "  run CONFIG.json           run or resume an experiment: many\n"
    "                            discussions at once, one file each\n"
    "  status OUT                done/total per cell of a run\n"
    "  annotate CONFIG.json [DIR...]\n"
    "                            label every comment of every discussion\n"
    "                            log with LLM annotators\n"
    "  evaluate CONFIG.json [DIR...]\n"
    "                            score every whole discussion on a rubric\n"
    "                            with LLM judges\n"
    "  export DIR...             one row per comment as CSV or JSON lines,\n"
    "                            with personas and annotations\n"
    "  report DIR... -o F.html   one self-contained HTML report: summary,\n"
    "                            charts and a discussion browser\n"
    "  stats DIR...              summary per cell in the terminal\n"
    "  make-test-model OUT.gguf  write a tiny random-weight model with a\n"
    "                            real Llama-3 tokenizer (for tests, demos)\n"
    "\n"
    "options:\n"
    "  -h, --help     this help; 'syndisco <command> --help' for a command\n"
    "  -V, --version  print the version\n"
    "\n"
    "Docs: README.md and docs/ in the source tree.\n";

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage, stderr);
		return 2;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
		fputs(usage, stdout);
		return 0;
	}
	if (!strcmp(cmd, "-V") || !strcmp(cmd, "--version")) {
		printf("syndisco %s\n", sd_version());
		return 0;
	}
	if (!strcmp(cmd, "discuss"))
		return cmd_discuss(argc - 1, argv + 1);
	if (!strcmp(cmd, "run"))
		return cmd_run(argc - 1, argv + 1);
	if (!strcmp(cmd, "annotate"))
		return cmd_annotate(argc - 1, argv + 1);
	if (!strcmp(cmd, "evaluate"))
		return cmd_evaluate(argc - 1, argv + 1);
	if (!strcmp(cmd, "status"))
		return cmd_status(argc - 1, argv + 1);
	if (!strcmp(cmd, "export"))
		return cmd_export(argc - 1, argv + 1);
	if (!strcmp(cmd, "report"))
		return cmd_report(argc - 1, argv + 1);
	if (!strcmp(cmd, "stats"))
		return cmd_stats(argc - 1, argv + 1);
	if (!strcmp(cmd, "make-test-model"))
		return cmd_make_model(argc - 1, argv + 1);
	fprintf(stderr, "syndisco: error: unknown command '%s'\n\n%s", cmd, usage);
	return 2;
}

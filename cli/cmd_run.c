#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static const char usage[] =
    "usage: syndisco run CONFIG.json [options]\n"
    "\n"
    "Run (or resume) an experiment: every discussion of every cell, many at\n"
    "once on one model, each written to OUT/<cell>/<index>.json atomically.\n"
    "Running the same command again skips what is complete and re-runs\n"
    "what is missing, partial or corrupt.\n"
    "\n"
    "options:\n"
    "  --out DIR          output directory (default: output_dir in the config)\n"
    "  --parallel N       discussions in flight on the model (default 8)\n"
    "  --shard K/N        run only indices i with i % N == K (default: the\n"
    "                     task's position in a Slurm job array, from\n"
    "                     SLURM_ARRAY_TASK_ID/_COUNT/_MIN/_MAX/_STEP, else 0/1)\n"
    "  --model PATH       GGUF model for every cell (default: backend.model,\n"
    "                     else the tiny test model)\n"
    "  --force            resume even though OUT holds another config's run\n"
    "  --log-level L      error, warn, info (default) or debug\n"
    "  --log-file FILE    also append log lines to FILE, rotated daily\n"
    "                     (FILE.YYYY-MM-DD)\n"
    "  --json             print the final summary as JSON on stdout\n"
    "  --quiet            no progress, only errors\n"
    "  -h, --help         this help\n"
    "\n"
    "Exit status: 0 all done, 1 error, 2 usage, 3 interrupted (run again to\n"
    "resume), 10+N when N discussions failed (N capped at 100).\n";

static const char annotate_usage[] =
    "usage: syndisco annotate CONFIG.json [DIR|FILE ...] [options]\n"
    "\n"
    "Annotate discussion logs: every annotator of the config labels every\n"
    "comment of every log found (recursively) under the DIRs and FILEs, or\n"
    "under the config's \"discussions\" when none are given. Logs written by\n"
    "the Python SynDisco work too. Each annotation is written to\n"
    "OUT/<annotator>/<conv-id>.json atomically; running the same command\n"
    "again skips what is complete.\n"
    "\n"
    "options:\n"
    "  --out DIR          output directory (default: output_dir in the config)\n"
    "  --parallel N       requests in flight on the model (default 8)\n"
    "  --shard K/N        annotate only logs i with i % N == K, in path order\n"
    "                     (default: from SLURM_ARRAY_TASK_ID/_COUNT, else 0/1)\n"
    "  --model PATH       GGUF model for every annotator (default:\n"
    "                     backend.model, else the tiny test model)\n"
    "  --force            resume even though OUT holds another config's run\n"
    "  --log-level L      error, warn, info (default) or debug\n"
    "  --log-file FILE    also append log lines to FILE, rotated daily\n"
    "  --json             print the final summary as JSON on stdout\n"
    "  --quiet            no progress, only errors\n"
    "  --print            print each finished annotation on stdout as\n"
    "                     SynDisco's verbose run does\n"
    "  --trace-requests FILE\n"
    "                     write every request (speaker, role, system and\n"
    "                     user prompt) to FILE, one JSON object a line\n"
    "  -h, --help         this help\n"
    "\n"
    "Exit status: 0 all done, 1 error, 2 usage, 3 interrupted (run again to\n"
    "resume), 10+N when N annotations failed (N capped at 100).\n";

static const char evaluate_usage[] =
    "usage: syndisco evaluate CONFIG.json [DIR|FILE ...] [options]\n"
    "\n"
    "Evaluate whole discussions: every judge of the config scores every\n"
    "discussion log found (recursively) under the DIRs and FILEs, or under\n"
    "the config's \"discussions\", on the config's rubric, as one JSON\n"
    "object per judge and discussion (grammar-constrained, so it parses).\n"
    "Each evaluation is written to OUT/<judge>/<conv-id>.json atomically;\n"
    "running the same command again skips what is complete. Put OUT inside\n"
    "the run (e.g. RUN/evaluations) and export, stats and report join it.\n"
    "\n"
    "options:\n"
    "  --out DIR          output directory (default: output_dir in the config)\n"
    "  --parallel N       requests in flight on the model (default 8)\n"
    "  --shard K/N        evaluate only logs i with i % N == K, in path order\n"
    "                     (default: from SLURM_ARRAY_TASK_ID/_COUNT, else 0/1)\n"
    "  --model PATH       GGUF model for every judge (default:\n"
    "                     backend.model, else the tiny test model)\n"
    "  --force            resume even though OUT holds another config's run\n"
    "  --log-level L      error, warn, info (default) or debug\n"
    "  --log-file FILE    also append log lines to FILE, rotated daily\n"
    "  --json             print the final summary as JSON on stdout\n"
    "  --quiet            no progress, only errors\n"
    "  --trace-requests FILE\n"
    "                     write every request (speaker, role, system and\n"
    "                     user prompt) to FILE, one JSON object a line\n"
    "  -h, --help         this help\n"
    "\n"
    "Exit status: 0 all done, 1 error, 2 usage, 3 interrupted (run again to\n"
    "resume), 10+N when N evaluations failed (N capped at 100).\n";

/* What differs between `run` (an experiment), `annotate` and `evaluate`. */
typedef struct workload {
	bool annotate;
	bool evaluate;
	sd_experiment *e;
	sd_annotate *a;
	sd_evaluate *v;
} workload;

static int wl_load(workload *w, const char *config, const char *const *inputs,
		   size_t n_inputs, sd_error *err)
{
	if (w->evaluate)
		return sd_evaluate_load(config, inputs, n_inputs, &w->v, err);
	if (w->annotate)
		return sd_annotate_load(config, inputs, n_inputs, &w->a, err);
	return sd_experiment_load(config, &w->e, err);
}

static int wl_set_model(workload *w, const char *model)
{
	if (w->evaluate)
		return sd_evaluate_set_model(w->v, model);
	return w->annotate ? sd_annotate_set_model(w->a, model)
			   : sd_experiment_set_model(w->e, model);
}

static const char *wl_output_dir(const workload *w)
{
	if (w->evaluate)
		return sd_evaluate_output_dir(w->v);
	return w->annotate ? sd_annotate_output_dir(w->a)
			   : sd_experiment_output_dir(w->e);
}

static const char *wl_digest(const workload *w)
{
	if (w->evaluate)
		return sd_evaluate_digest(w->v);
	return w->annotate ? sd_annotate_digest(w->a) : sd_experiment_digest(w->e);
}

static int wl_run(workload *w, const sd_run_params *p, sd_run_progress *prog,
		  sd_error *err)
{
	if (w->evaluate)
		return sd_evaluate_run(w->v, p, prog, err);
	return w->annotate ? sd_annotate_run(w->a, p, prog, err)
			   : sd_experiment_run(w->e, p, prog, err);
}

static void wl_free(workload *w)
{
	sd_annotate_free(w->a);
	sd_evaluate_free(w->v);
	sd_experiment_free(w->e);
}

/* written by the signal handler: only sig_atomic_t is safe there */
static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	/* a second signal means "now": files are atomic, so nothing partial */
	if (stop_flag)
		_exit(128 + sig);
	stop_flag = 1;
}

typedef struct run_ui {
	int level;
	bool quiet;
	bool tty;
	bool color;
	double last_plain;
	cli_log *log;
	FILE *trace;
	bool trace_failed;
} run_ui;

static void on_request(const char *speaker, const char *role, const sd_request *req,
		       void *ud)
{
	run_ui *ui = ud;
	if (!cli_trace_request(ui->trace, speaker, role, req))
		ui->trace_failed = true;
}

static void on_text(const char *text, void *ud)
{
	(void)ud;
	fputs(text, stdout);
	fflush(stdout);
}

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void fmt_eta(char *buf, size_t n, double s)
{
	if (s < 0 || s > 1e8)
		snprintf(buf, n, "?");
	else if (s < 60)
		snprintf(buf, n, "%.0fs", s);
	else if (s < 3600)
		snprintf(buf, n, "%dm%02ds", (int)s / 60, (int)s % 60);
	else
		snprintf(buf, n, "%dh%02dm", (int)s / 3600, ((int)s % 3600) / 60);
}

static void on_progress(const sd_run_progress *p, void *ud)
{
	run_ui *ui = ud;
	if (ui->quiet)
		return;
	size_t todo = p->total > p->skipped ? p->total - p->skipped : 0;
	double rate = p->seconds > 0 ? (double)p->gen_tokens / p->seconds : 0;
	double per = p->done ? p->seconds / (double)p->done : -1;
	size_t left = todo > p->done + p->failed ? todo - p->done - p->failed : 0;
	char eta[32];
	fmt_eta(eta, sizeof(eta), per < 0 ? -1 : per * (double)left);
	char line[256];
	snprintf(line, sizeof(line),
		 "%zu/%zu done (%zu skipped, %zu failed), %zu active, %llu turns, "
		 "%.1f tok/s, ETA %s",
		 p->done + p->skipped, p->total, p->skipped, p->failed, p->active,
		 (unsigned long long)p->turns, rate, p->finished ? "0s" : eta);
	if (ui->tty) {
		fprintf(stderr, "\r%s%s%s\033[K%s", ui->color ? "\033[1m" : "", line,
			ui->color ? "\033[0m" : "", p->finished ? "\n" : "");
		fflush(stderr);
		return;
	}
	double t = mono();
	if (p->finished || t - ui->last_plain >= 5.0) {
		ui->last_plain = t;
		fprintf(stderr, "syndisco: %s\n", line);
	}
}

static void on_log(sd_log_level level, const char *msg, void *ud)
{
	run_ui *ui = ud;
	cli_log_write(ui->log, (int)level, msg);
	if ((int)level > ui->level || (ui->quiet && level != SD_LOG_ERROR))
		return;
	static const char *const names[] = {"error", "warning", "info", "debug"};
	if (ui->tty)
		fputs("\r\033[K", stderr);
	if (ui->color && level == SD_LOG_ERROR)
		fprintf(stderr, "syndisco: \033[31m%s\033[0m: %s\n", names[level], msg);
	else
		fprintf(stderr, "syndisco: %s: %s\n", names[level], msg);
}

/* An optional Slurm variable: absent is fine, present must be a number. */
static bool slurm_var(const char *name, uint64_t *v, bool *present)
{
	const char *s = getenv(name);
	*present = s && *s;
	return !*present || cli_parse_u64(s, v);
}

/*
 * K/N from --shard, else from Slurm's job-array variables: shard K is the
 * task's position in the array, so --array=0-7, 1-8 and 0-14:2 all give
 * shards 0..7 of 8. A list that is not one range with one step (e.g. a
 * resubmission of shards 1 and 4, --array=1,4) does not say N: the task
 * must be given --shard, and is refused rather than guessed. Returns 0, or
 * an exit status after printing why.
 */
static int parse_shard(const char *arg, uint32_t *k, uint32_t *n)
{
	uint64_t a, b;
	if (arg) {
		const char *slash = strchr(arg, '/');
		char kb[32];
		if (!slash || (size_t)(slash - arg) >= sizeof(kb))
			goto bad_arg;
		memcpy(kb, arg, (size_t)(slash - arg));
		kb[slash - arg] = '\0';
		if (!cli_parse_u64(kb, &a) || !cli_parse_u64(slash + 1, &b) || b == 0 ||
		    a >= b || b > UINT32_MAX)
			goto bad_arg;
		*k = (uint32_t)a;
		*n = (uint32_t)b;
		return 0;
	bad_arg:
		return cli_errorf(2, "--shard: '%s' is not K/N with 0 <= K < N", arg);
	}
	uint64_t id, count = 0, lo = 0, hi = 0, step = 1;
	bool has_id, has_count, has_lo, has_hi, has_step;
	if (!slurm_var("SLURM_ARRAY_TASK_ID", &id, &has_id))
		return cli_errorf(
		    2, "SLURM_ARRAY_TASK_ID='%s' is not a number; pass --shard K/N",
		    getenv("SLURM_ARRAY_TASK_ID"));
	if (!has_id)
		return 0;
	if (!slurm_var("SLURM_ARRAY_TASK_COUNT", &count, &has_count) ||
	    !slurm_var("SLURM_ARRAY_TASK_MIN", &lo, &has_lo) ||
	    !slurm_var("SLURM_ARRAY_TASK_MAX", &hi, &has_hi) ||
	    !slurm_var("SLURM_ARRAY_TASK_STEP", &step, &has_step) || step == 0)
		return cli_errorf(2, "SLURM_ARRAY_TASK_COUNT/_MIN/_MAX/_STEP are not all "
				     "numbers; pass --shard K/N");
	if (has_hi && hi < lo)
		return cli_errorf(2, "SLURM_ARRAY_TASK_MAX < _MIN; pass --shard K/N");
	if (!has_count) {
		if (!has_hi || (hi - lo) % step)
			return cli_errorf(
			    2, "SLURM_ARRAY_TASK_ID is set but the array's size "
			       "is not (SLURM_ARRAY_TASK_COUNT or _MIN/_MAX); "
			       "pass --shard K/N");
		count = (hi - lo) / step + 1;
	}
	if (count == 0 || count > UINT32_MAX || step > UINT32_MAX || id < lo ||
	    (id - lo) % step || (id - lo) / step >= count ||
	    (has_hi && hi != lo + step * (count - 1)))
		return cli_errorf(
		    2,
		    "Slurm array task %llu (count %llu, min %llu, max %s, step "
		    "%llu) is not one range with one step, so it does not say "
		    "the shard; pass --shard K/N",
		    (unsigned long long)id, (unsigned long long)count,
		    (unsigned long long)lo,
		    has_hi ? getenv("SLURM_ARRAY_TASK_MAX") : "unset",
		    (unsigned long long)step);
	*k = (uint32_t)((id - lo) / step);
	*n = (uint32_t)count;
	return 0;
}

static long peak_rss_kib(void)
{
	struct rusage ru;
	return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : -1;
}

/* user + system CPU time of this process so far, all threads */
static double cpu_seconds(void)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return -1;
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

static int run_main(int argc, char **argv, bool annotate, bool evaluate)
{
	const char *config = NULL, *out = NULL, *model = NULL, *shard = NULL;
	const char *help = evaluate ? evaluate_usage : annotate ? annotate_usage : usage;
	const char *inputs[argc > 0 ? argc : 1]; /* annotate: logs to read */
	size_t n_inputs = 0;
	const char *log_file = NULL, *v, *trace = NULL;
	int parallel = 8;
	bool force = false, json = false, print = false;
	run_ui ui = {.level = SD_LOG_INFO};
	workload wl = {.annotate = annotate, .evaluate = evaluate};
	char *default_model = NULL;
	sd_error err;
	int status = 1;

	sd_error_clear(&err);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			fputs(help, stdout);
			return 0;
		} else if ((v = cli_opt(argc, argv, &i, "--out"))) {
			out = v;
		} else if ((v = cli_opt(argc, argv, &i, "--parallel"))) {
			if (!cli_parse_int(v, 1, 4096, &parallel))
				return cli_errorf(
				    2, "--parallel: '%s' is not a number from 1 to 4096",
				    v);
		} else if ((v = cli_opt(argc, argv, &i, "--shard"))) {
			shard = v;
		} else if ((v = cli_opt(argc, argv, &i, "--model"))) {
			model = v;
		} else if ((v = cli_opt(argc, argv, &i, "--log-level"))) {
			if ((ui.level = cli_parse_log_level(v)) < 0)
				return cli_errorf(
				    2,
				    "--log-level: '%s' is not error, warn, info or debug",
				    v);
		} else if ((v = cli_opt(argc, argv, &i, "--log-file"))) {
			log_file = v;
		} else if (!strcmp(argv[i], "--force")) {
			force = true;
		} else if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (annotate && !evaluate && !strcmp(argv[i], "--print")) {
			print = true;
		} else if (annotate &&
			   (v = cli_opt(argc, argv, &i, "--trace-requests"))) {
			trace = v;
		} else if (!strcmp(argv[i], "--quiet") || !strcmp(argv[i], "-q")) {
			ui.quiet = true;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			fputs(help, stderr);
			return cli_errorf(2, "unknown option '%s'", argv[i]);
		} else if (!config) {
			config = argv[i];
		} else if (annotate) {
			inputs[n_inputs++] = argv[i];
		} else {
			return cli_errorf(2, "only one CONFIG.json, got '%s' too",
					  argv[i]);
		}
	}
	if (!config) {
		fputs(help, stderr);
		return cli_errorf(2, "no CONFIG.json given");
	}
	sd_run_params rp = sd_run_default_params();
	rp.parallel = parallel;
	rp.force = force;
	int sh = parse_shard(shard, &rp.shard_index, &rp.shard_count);
	if (sh)
		return sh;

	ui.tty = isatty(STDERR_FILENO);
	const char *nc = getenv("NO_COLOR");
	ui.color = ui.tty && !(nc && *nc);
	if (log_file && !(ui.log = cli_log_open(log_file))) {
		status = cli_errorf(1, "cannot open log file %s: %s", log_file,
				    strerror(errno));
		goto out;
	}

	if (wl_load(&wl, config, inputs, n_inputs, &err))
		goto fail;
	if (model && wl_set_model(&wl, model)) {
		status = cli_errorf(1, "out of memory");
		goto out;
	}
	rp.out_dir = out ? out : wl_output_dir(&wl);
	if (!rp.out_dir) {
		status = cli_errorf(2,
				    "no output directory: pass --out DIR or set "
				    "\"output_dir\" in %s",
				    config);
		goto out;
	}
	if (!model) {
		/* only made when some cell needs it; cheap when cached */
		sd_global_init(true);
		default_model = cli_default_model(true);
		rp.default_model = default_model;
	} else {
		sd_global_init(true);
	}
	rp.stop = &stop_flag;
	rp.on_progress = on_progress;
	rp.on_log = on_log;
	rp.ud = &ui;
	if (print)
		rp.on_text = on_text;
	if (trace) {
		if (!(ui.trace = fopen(trace, "w"))) {
			status =
			    cli_errorf(1, "--trace-requests: cannot write '%s'", trace);
			goto out;
		}
		rp.on_request = on_request;
	}

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	char line[256];
	snprintf(line, sizeof(line), "%s %s -> %s, shard %u/%u, %d in flight, config %s",
		 evaluate   ? "evaluate"
		 : annotate ? "annotate"
			    : "run",
		 config, rp.out_dir, rp.shard_index, rp.shard_count, parallel,
		 wl_digest(&wl));
	on_log(SD_LOG_INFO, line, &ui);

	sd_run_progress prog;
	int rc = wl_run(&wl, &rp, &prog, &err);
	double rate = prog.seconds > 0 ? (double)prog.gen_tokens / prog.seconds : 0;
	long rss = peak_rss_kib();
	if (json)
		printf(
		    "{\"total\": %zu, \"done\": %zu, \"skipped\": %zu, \"failed\": %zu, "
		    "\"turns\": %llu, \"generated_tokens\": %llu, \"prompt_tokens\": "
		    "%llu, "
		    "\"prompt_tokens_cached\": %llu, \"prompt_tokens_decoded\": %llu, "
		    "\"seconds\": %.3f, \"load_seconds\": %.3f, \"tokens_per_second\": "
		    "%.2f, "
		    "\"cpu_seconds\": %.3f, \"load_cpu_seconds\": %.3f, "
		    "\"peak_rss_kib\": %ld, \"parallel\": %d}\n",
		    prog.total, prog.done, prog.skipped, prog.failed,
		    (unsigned long long)prog.turns, (unsigned long long)prog.gen_tokens,
		    (unsigned long long)prog.prompt_tokens,
		    (unsigned long long)prog.prompt_cached,
		    (unsigned long long)(prog.prompt_tokens - prog.prompt_cached),
		    prog.seconds, prog.load_seconds, rate, cpu_seconds(),
		    prog.load_cpu_seconds, rss, parallel);
	snprintf(line, sizeof(line),
		 "%zu done, %zu skipped, %zu failed in %.1f s; %llu tokens generated "
		 "(%.1f tok/s); %llu prompt tokens sent, %llu decoded; peak RSS %.1f MiB",
		 prog.done, prog.skipped, prog.failed, prog.seconds,
		 (unsigned long long)prog.gen_tokens, rate,
		 (unsigned long long)prog.prompt_tokens,
		 (unsigned long long)(prog.prompt_tokens - prog.prompt_cached),
		 (double)rss / 1024.0);
	on_log(SD_LOG_INFO, line, &ui);
	if (stop_flag) {
		on_log(SD_LOG_WARN,
		       "interrupted: nothing partial was written; run the "
		       "same command again to resume",
		       &ui);
		status = 3;
		goto out;
	}
	if (rc == SD_EBACKEND && prog.failed > 0) {
		on_log(SD_LOG_ERROR, err.text, &ui);
		status = 10 + (int)(prog.failed > 100 ? 100 : prog.failed);
		goto out;
	}
	if (rc)
		goto fail;
	if (ui.trace) {
		FILE *f = ui.trace;
		ui.trace = NULL;
		if (fclose(f) || ui.trace_failed) {
			status = cli_errorf(1, "--trace-requests: could not write '%s'",
					    trace);
			goto out;
		}
	}
	status = 0;
	goto out;
fail : {
	char buf[1024];
	sd_error_format(&err, buf, sizeof(buf));
	on_log(SD_LOG_ERROR, buf, &ui);
	status = 1;
}
out:
	if (ui.trace)
		fclose(ui.trace);
	wl_free(&wl);
	free(default_model);
	cli_log_close(ui.log);
	sd_global_free();
	return status;
}

int cmd_run(int argc, char **argv) { return run_main(argc, argv, false, false); }

int cmd_annotate(int argc, char **argv) { return run_main(argc, argv, true, false); }

int cmd_evaluate(int argc, char **argv) { return run_main(argc, argv, true, true); }

static const char status_usage[] =
    "usage: syndisco status OUT [--json] [--shards N]\n"
    "\n"
    "Print done/total per cell of the run in OUT (all shards together).\n"
    "\n"
    "options:\n"
    "  --json        print JSON instead: per cell done, total and the list of\n"
    "                missing indices; \"complete\" for the whole run\n"
    "  --shards N    also name the shards K of N (indices i with i % N == K)\n"
    "                that own a missing discussion: a last line\n"
    "                \"missing shards: K,K,...\" (\"none\" when complete), or\n"
    "                \"missing_shards\" in the JSON; the list is the syntax of\n"
    "                sbatch --array\n"
    "  -h, --help    this help\n"
    "\n"
    "Exit status 0 when every discussion is done, 4 when some are missing,\n"
    "1 on an error, 2 on a usage error.\n";

/* "missing shards: 1,4" for the text report. */
static int print_missing_shards(const char *out, const sd_cell_status *cells, size_t n,
				uint32_t shards)
{
	bool *flag = calloc(shards, sizeof(*flag));
	sd_error err;
	int rc = 0;
	if (!flag)
		return cli_errorf(1, "out of memory");
	for (size_t c = 0; c < n && rc == 0; c++) {
		size_t *miss = NULL, n_miss = 0;
		if (cells[c].done == cells[c].total)
			continue;
		if (sd_run_missing(out, cells[c].name, cells[c].total, &miss, &n_miss,
				   &err)) {
			rc = cli_fail(&err);
			break;
		}
		for (size_t i = 0; i < n_miss; i++)
			flag[miss[i] % shards] = true;
		free(miss);
	}
	if (rc == 0) {
		bool any = false;
		fputs("missing shards: ", stdout);
		for (uint32_t k = 0; k < shards; k++) {
			if (!flag[k])
				continue;
			printf("%s%u", any ? "," : "", k);
			any = true;
		}
		puts(any ? "" : "none");
	}
	free(flag);
	return rc;
}

int cmd_status(int argc, char **argv)
{
	const char *out = NULL, *v;
	bool json = false;
	uint32_t shards = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			fputs(status_usage, stdout);
			return 0;
		} else if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if ((v = cli_opt(argc, argv, &i, "--shards"))) {
			uint64_t n;
			if (!cli_parse_u64(v, &n) || n == 0 || n > UINT32_MAX)
				return cli_errorf(
				    2, "--shards: '%s' is not a number from 1 to %u", v,
				    UINT32_MAX);
			shards = (uint32_t)n;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			fputs(status_usage, stderr);
			return cli_errorf(2, "unknown option '%s'", argv[i]);
		} else if (!out) {
			out = argv[i];
		} else {
			return cli_errorf(2, "only one OUT directory, got '%s' too",
					  argv[i]);
		}
	}
	if (!out) {
		fputs(status_usage, stderr);
		return cli_errorf(2, "no OUT directory given");
	}
	sd_error err;
	if (json) {
		char *text = NULL;
		bool complete = false;
		if (sd_run_status_json(out, shards, &text, &complete, &err))
			return cli_fail(&err);
		puts(text);
		free(text);
		return complete ? 0 : 4;
	}
	sd_cell_status *cells = NULL;
	size_t n = 0, done = 0, total = 0;
	if (sd_run_status(out, &cells, &n, &err))
		return cli_fail(&err);
	size_t w = 4;
	for (size_t i = 0; i < n; i++)
		if (strlen(cells[i].name) > w)
			w = strlen(cells[i].name);
	printf("%-*s  %8s  %8s\n", (int)w, "cell", "done", "total");
	for (size_t i = 0; i < n; i++) {
		printf("%-*s  %8zu  %8zu\n", (int)w, cells[i].name, cells[i].done,
		       cells[i].total);
		done += cells[i].done;
		total += cells[i].total;
	}
	printf("%-*s  %8zu  %8zu\n", (int)w, "all", done, total);
	int rc = shards ? print_missing_shards(out, cells, n, shards) : 0;
	sd_run_status_free(cells, n);
	if (rc)
		return rc;
	return done == total ? 0 : 4;
}

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char usage[] =
    "usage: syndisco discuss CONFIG.json [options]\n"
    "\n"
    "Run one discussion described by CONFIG.json, print each comment as it\n"
    "is generated and write the discussion log (JSON) atomically.\n"
    "\n"
    "options:\n"
    "  --model M      overrides backend.model: a GGUF file for llama (without\n"
    "                 one, the tiny random-weight test model is used), the\n"
    "                 served model's name for openai\n"
    "  --out FILE     where to write the log (default:\n"
    "                 discussion-<timestamp>-<id>.json in the current dir)\n"
    "  --seed N       run seed (overrides \"seed\"; default 42)\n"
    "  --dry-run      no model: print the exact prompts each speaker would\n"
    "                 get, with canned replies; writes a log only with --out\n"
    "  --quiet        do not print comments, only errors\n"
    "  --trace-requests FILE\n"
    "                 write every request (speaker, role, system and user\n"
    "                 prompt) to FILE, one JSON object a line\n"
    "  --log-level L  backend messages on stderr: error, warn (default),\n"
    "                 info or debug (debug: every raw server reply)\n"
    "  -h, --help     this help\n";

typedef struct discuss_ui {
	bool quiet;
	int level;
	sd_discussion *d;
	size_t next; /* index of the next comment on_comment sees */
	FILE *trace;
	bool trace_failed;
} discuss_ui;

/* Each comment as SynDisco's verbose run prints it: print(entry, "\n"). */
static void on_comment(const sd_log_comment *c, void *ud)
{
	discuss_ui *ui = ud;
	const char *shown = sd_discussion_display(ui->d, ui->next++);
	(void)c;
	if (ui->quiet || !shown)
		return;
	printf("%s \n\n", shown);
	fflush(stdout);
}

static void on_request(const char *speaker, const char *role, const sd_request *req,
		       void *ud)
{
	discuss_ui *ui = ud;
	if (!cli_trace_request(ui->trace, speaker, role, req))
		ui->trace_failed = true;
}

/* The backend's own lines: retries, endpoints, raw replies (debug). */
static void on_backend_log(sd_log_level level, const char *msg, void *ud)
{
	static const char *const names[] = {"error", "warning", "info", "debug"};
	const discuss_ui *ui = ud;
	if ((int)level > ui->level || (ui->quiet && level != SD_LOG_ERROR))
		return;
	fprintf(stderr, "syndisco: %s: %s\n", names[level], msg);
}

/* Dry run: step the state machine by hand to show every prompt. */
static int dry_run(sd_discussion *d, sd_backend *b)
{
	sd_request req;
	int rc, turn = 0;
	while ((rc = sd_discussion_next(d, &req)) == 1) {
		printf("=== request %d: %s ===\n--- system prompt ---\n%s\n"
		       "--- user prompt ---\n%s\n",
		       ++turn, sd_discussion_pending_speaker(d), req.system_prompt,
		       req.user_prompt);
		if ((rc = sd_backend_submit(b, &req)))
			return rc;
		sd_reply r;
		memset(&r, 0, sizeof(r));
		while ((rc = sd_backend_collect(b, &r)) == 0)
			if (sd_backend_step(b) < 0)
				return SD_EBACKEND;
		printf("--- canned reply ---\n%s\n\n", r.text);
		rc = sd_discussion_accept(d, r.text, &r);
		sd_reply_clear(&r);
		if (rc)
			return rc;
	}
	return rc < 0 ? rc : SD_OK;
}

int cmd_discuss(int argc, char **argv)
{
	const char *config = NULL, *model = NULL, *out = NULL, *v;
	const char *trace = NULL;
	uint64_t seed = 0;
	bool have_seed = false, dry = false, quiet = false;
	discuss_ui ui = {.quiet = false, .level = SD_LOG_WARN};
	sd_discussion_config *cfg = NULL;
	sd_backend *backend = NULL;
	sd_discussion *d = NULL;
	char *default_model = NULL;
	sd_error err;
	int status = 1, rc;

	sd_error_clear(&err);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			fputs(usage, stdout);
			return 0;
		} else if ((v = cli_opt(argc, argv, &i, "--model"))) {
			model = v;
		} else if ((v = cli_opt(argc, argv, &i, "--out"))) {
			out = v;
		} else if ((v = cli_opt(argc, argv, &i, "--seed"))) {
			if (!cli_parse_u64(v, &seed) || seed > INT64_MAX)
				return cli_errorf(
				    2, "--seed: '%s' is not a whole number >= 0", v);
			have_seed = true;
		} else if ((v = cli_opt(argc, argv, &i, "--trace-requests"))) {
			trace = v;
		} else if (!strcmp(argv[i], "--dry-run")) {
			dry = true;
		} else if (!strcmp(argv[i], "--quiet") || !strcmp(argv[i], "-q")) {
			quiet = true;
		} else if ((v = cli_opt(argc, argv, &i, "--log-level"))) {
			if ((ui.level = cli_parse_log_level(v)) < 0)
				return cli_errorf(
				    2,
				    "--log-level: '%s' is not error, warn, info or debug",
				    v);
		} else if (argv[i][0] == '-' && argv[i][1]) {
			fputs(usage, stderr);
			return cli_errorf(2, "unknown option '%s'", argv[i]);
		} else if (!config) {
			config = argv[i];
		} else {
			return cli_errorf(2, "only one CONFIG.json, got '%s' too",
					  argv[i]);
		}
	}
	if (!config) {
		fputs(usage, stderr);
		return cli_errorf(2, "no CONFIG.json given");
	}

	if ((rc = sd_discussion_config_load(config, &cfg, &err)))
		goto fail;
	if (have_seed)
		sd_discussion_config_set_seed(cfg, seed);
	if (model && sd_discussion_config_set_model(cfg, model))
		goto oom;

	ui.quiet = quiet;
	if (dry) {
		sd_scripted_params sp = sd_scripted_default_params();
		sp.mode = SD_SCRIPTED_ECHO;
		sp.model_name = "dry-run";
		backend = sd_backend_scripted_create(&sp, &err);
	} else {
		if (!strcmp(sd_discussion_config_backend_type(cfg), "llama")) {
			sd_global_init(true);
			if (!sd_discussion_config_model(cfg)) {
				default_model = cli_default_model(quiet);
				if (!default_model)
					goto out;
				if (!quiet)
					fprintf(stderr,
						"syndisco: no model given (--model or "
						"backend.model): using the tiny "
						"random-weight "
						"test model; its text is gibberish\n");
			}
		}
		backend = sd_discussion_config_open_backend(cfg, default_model, &err);
	}
	if (!backend)
		goto fail;
	sd_backend_set_log(backend, on_backend_log, &ui);

	d = sd_discussion_config_instantiate(cfg, sd_backend_model_name(backend), &err);
	if (d)
		sd_discussion_set_token_counter(d, sd_backend_token_counter, backend);
	if (!d)
		goto fail;
	ui.d = d;
	if (trace) {
		if (!(ui.trace = fopen(trace, "w"))) {
			cli_errorf(1, "--trace-requests: cannot write '%s'", trace);
			goto out;
		}
		sd_discussion_set_request_hook(d, on_request, &ui);
	}

	if (dry) {
		if ((rc = dry_run(d, backend)))
			goto backend_fail;
	} else {
		if ((rc = sd_discussion_run(d, backend, on_comment, &ui, &err)))
			goto fail;
	}

	char id[40], ts[32];
	sd_uuid4(id);
	sd_timestamp_now(ts, sizeof(ts));
	sd_logs *logs = sd_discussion_logs_mut(d);
	if (sd_logs_set_id(logs, id) || sd_logs_set_timestamp(logs, ts))
		goto oom;
	char default_out[96];
	if (!out && !dry) {
		snprintf(default_out, sizeof(default_out), "discussion-%s-%.8s.json", ts,
			 id);
		out = default_out;
	}
	if (out) {
		if ((rc = sd_logs_save(logs, out, &err)))
			goto fail;
		if (!quiet)
			fprintf(stderr, "syndisco: wrote %s (%zu comments)\n", out,
				sd_logs_comment_count(logs));
	}
	if (ui.trace && (fclose(ui.trace) || ui.trace_failed)) {
		ui.trace = NULL;
		cli_errorf(1, "--trace-requests: could not write '%s'", trace);
		goto out;
	}
	ui.trace = NULL;
	status = 0;
	goto out;

backend_fail:
	cli_errorf(1, "dry run failed: %s", sd_strerror(rc));
	goto out;
oom:
	cli_errorf(1, "out of memory");
	goto out;
fail:
	cli_fail(&err);
out:
	if (ui.trace)
		fclose(ui.trace);
	sd_discussion_free(d);
	sd_backend_free(backend);
	sd_discussion_config_free(cfg);
	free(default_model);
	sd_global_free();
	return status;
}

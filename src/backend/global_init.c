/*
 * The library's only process-wide state: llama.cpp's backend and its log
 * sink, set up by sd_global_init() and torn down by sd_global_free();
 * sd_grammar_check() borrows the sink to capture llama.cpp's message.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "llama.h"

#include "syndisco.h"

/*
 * The one global of the library: llama.cpp's backend is process-wide and
 * so is its log callback. Not thread-safe: call sd_global_init() once from
 * the main thread before creating backends.
 */
static struct {
	bool initialized;
	bool quiet;
	/* level of the last line that was not a continuation, so that
	 * GGML_LOG_LEVEL_CONT pieces follow the fate of their line */
	enum ggml_log_level last_level;
	/* sd_grammar_check: llama.cpp's messages go here, not to stderr */
	char *capture;
	size_t capture_size;
} g_global;

/*
 * Defined by scripts/llama-patches/sgemm-few-rows.patch: 1 has llamafile's
 * sgemm compute one-row products too, so a lone row's sums are grouped
 * as they are among other rows and a sequence decoded alone needs no
 * partner row (src/backend/llama.c). Weak: a llama.cpp without the patch
 * leaves it NULL, and the engine's probe then finds the rows differ.
 */
extern int syndisco_sgemm_one_row __attribute__((weak));

static void log_sink(enum ggml_log_level level, const char *text, void *ud)
{
	(void)ud;
	if (level == GGML_LOG_LEVEL_CONT)
		level = g_global.last_level;
	else
		g_global.last_level = level;
	if (g_global.capture) {
		size_t n = strlen(g_global.capture);
		snprintf(g_global.capture + n, g_global.capture_size - n, "%s", text);
		return;
	}
	if (g_global.quiet && level < GGML_LOG_LEVEL_ERROR)
		return;
	/*
	 * The only place the library writes to stderr: these are llama.cpp's
	 * own log lines, which the caller asked for (or errors).
	 */
	fputs(text, stderr);
}

void sd_global_init(bool quiet)
{
	g_global.quiet = quiet;
	/* set the sink first so that llama_backend_init's lines obey quiet */
	llama_log_set(log_sink, NULL);
	if (g_global.initialized)
		return;
	llama_backend_init();
	if (&syndisco_sgemm_one_row)
		syndisco_sgemm_one_row = 1;
	g_global.initialized = true;
}

int sd_grammar_check(const char *gbnf, char *msg, size_t size)
{
	char buf[512] = "";
	if (!gbnf)
		return SD_EINVAL;
	/* parsing needs no vocab unless the grammar names tokens (<...>) */
	g_global.capture = buf;
	g_global.capture_size = sizeof(buf);
	llama_log_set(log_sink, NULL);
	struct llama_sampler *g = llama_sampler_init_grammar(NULL, gbnf, "root");
	g_global.capture = NULL;
	if (g) {
		llama_sampler_free(g);
		return SD_OK;
	}
	/* one line: llama.cpp's reason without its trailing dump */
	char *nl = strchr(buf, '\n');
	if (nl)
		*nl = '\0';
	if (msg && size)
		snprintf(msg, size, "%s", buf[0] ? buf : "does not parse");
	return SD_EPARSE;
}

void sd_global_free(void)
{
	if (!g_global.initialized)
		return;
	llama_backend_free();
	g_global.initialized = false;
}

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

#include <jansson.h>

bool cli_trace_request(FILE *f, const char *speaker, const char *role,
		       const sd_request *req)
{
	char *line = NULL;
	json_t *o = json_pack("{s:s,s:s,s:s,s:s}", "speaker", speaker, "role", role,
			      "system", req->system_prompt, "user", req->user_prompt);
	if (o)
		line = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
	bool ok = line && fprintf(f, "%s\n", line) >= 0;
	free(line);
	json_decref(o);
	return ok;
}

int cli_fail(const sd_error *err)
{
	char buf[1024];
	fprintf(stderr, "syndisco: error: %s\n", sd_error_format(err, buf, sizeof(buf)));
	return 1;
}

int cli_errorf(int code, const char *fmt, ...)
{
	va_list ap;
	fputs("syndisco: error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

int cli_parse_log_level(const char *s)
{
	static const char *const names[] = {"error", "warn", "info", "debug"};
	for (int k = 0; k < 4; k++)
		if (s && !strcmp(s, names[k]))
			return k;
	return -1;
}

bool cli_parse_u64(const char *s, uint64_t *out)
{
	char *end;
	if (!s || !*s || *s == '-')
		return false;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end)
		return false;
	*out = (uint64_t)v;
	return true;
}

bool cli_parse_int(const char *s, int lo, int hi, int *out)
{
	char *end;
	if (!s || !*s)
		return false;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return false;
	*out = (int)v;
	return true;
}

const char *cli_opt(int argc, char **argv, int *i, const char *name)
{
	size_t n = strlen(name);
	const char *a = argv[*i];
	if (strncmp(a, name, n) != 0)
		return NULL;
	if (a[n] == '=')
		return a + n + 1;
	if (a[n] != '\0')
		return NULL;
	if (*i + 1 >= argc) {
		cli_errorf(2, "%s needs a value", name);
		exit(2);
	}
	return argv[++*i];
}

static int mkdir_p(char *path)
{
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) != 0 && errno != EEXIST) {
			*p = '/';
			return -1;
		}
		*p = '/';
	}
	return (mkdir(path, 0755) != 0 && errno != EEXIST) ? -1 : 0;
}

char *cli_default_model(bool quiet)
{
	char dir[PATH_MAX], path[PATH_MAX + 64];
	const char *cache = getenv("SYNDISCO_CACHE");
	const char *home = getenv("HOME");
	if (cache && *cache)
		snprintf(dir, sizeof(dir), "%s/models", cache);
	else
		snprintf(dir, sizeof(dir), "%s/.cache/syndisco/models",
			 home && *home ? home : "/tmp");
	snprintf(path, sizeof(path), "%s/tiny-llama3-v1.gguf", dir);
	struct stat st;
	if (stat(path, &st) == 0)
		return strdup(path);
	if (mkdir_p(dir) != 0) {
		cli_errorf(1, "cannot create %s: %s", dir, strerror(errno));
		return NULL;
	}
	sd_test_model_params p = sd_test_model_default_params();
	const char *vocab = getenv("SYNDISCO_VOCAB");
	p.vocab_path = vocab && *vocab ? vocab : SYNDISCO_DEFAULT_VOCAB;
	if (!quiet)
		fprintf(stderr, "syndisco: making the tiny test model %s\n", path);
	sd_error err;
	sd_error_clear(&err);
	if (sd_make_test_model(&p, path, &err) != SD_OK) {
		cli_fail(&err);
		return NULL;
	}
	return strdup(path);
}

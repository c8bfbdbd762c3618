/* Shared by export, report and stats: their inputs and their output file. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static int push(const char ***v, size_t *n, const char *s)
{
	const char **nv = realloc(*v, (*n + 1) * sizeof(*nv));
	if (!nv)
		return -1;
	nv[(*n)++] = s;
	*v = nv;
	return 0;
}

int cli_inputs_take(cli_inputs *in, int argc, char **argv, int *i)
{
	const char *a = argv[*i];
	if (!strncmp(a, "--annotations=", 14)) {
		if (!a[14])
			return cli_errorf(2, "--annotations needs a directory");
		return push(&in->annots, &in->n_annots, a + 14)
			   ? cli_errorf(2, "out of memory")
			   : 1;
	}
	if (!strcmp(a, "--annotations")) {
		size_t before = in->n_annots;
		while (*i + 1 < argc && (argv[*i + 1][0] != '-' || !argv[*i + 1][1])) {
			if (push(&in->annots, &in->n_annots, argv[++*i]))
				return cli_errorf(2, "out of memory");
		}
		if (in->n_annots == before)
			return cli_errorf(2, "--annotations needs a directory");
		return 1;
	}
	if (a[0] == '-' && a[1])
		return 0;
	return push(&in->logs, &in->n_logs, a) ? cli_errorf(2, "out of memory") : 1;
}

void cli_inputs_free(cli_inputs *in)
{
	free(in->logs);
	free(in->annots);
	memset(in, 0, sizeof(*in));
}

int cli_inputs_load(const cli_inputs *in, bool quiet, sd_dataset **out)
{
	sd_dataset_params p = sd_dataset_default_params();
	sd_error err;
	sd_error_clear(&err);
	p.log_paths = in->logs;
	p.n_log_paths = in->n_logs;
	p.annotation_paths = in->annots;
	p.n_annotation_paths = in->n_annots;
	if (sd_dataset_load(&p, out, &err))
		return cli_fail(&err);
	for (size_t i = 0; !quiet && i < sd_dataset_warning_count(*out); i++)
		fprintf(stderr, "syndisco: warning: %s\n", sd_dataset_warning(*out, i));
	return 0;
}

struct cli_out {
	FILE *f;
	char *path; /* NULL for stdout */
	char *tmp;
};

cli_out *cli_out_open(const char *path)
{
	cli_out *o = calloc(1, sizeof(*o));
	if (!o) {
		cli_errorf(1, "out of memory");
		return NULL;
	}
	if (!path || !strcmp(path, "-")) {
		o->f = stdout;
		return o;
	}
	size_t n = strlen(path) + 32;
	o->path = strdup(path);
	o->tmp = malloc(n);
	if (!o->path || !o->tmp) {
		cli_errorf(1, "out of memory");
		goto fail;
	}
	/* next to the target, so that rename() is atomic */
	snprintf(o->tmp, n, "%s.tmp.%ld", path, (long)getpid());
	int fd = open(o->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0 || !(o->f = fdopen(fd, "wb"))) {
		cli_errorf(1, "%s: cannot create: %s", path, strerror(errno));
		if (fd >= 0) {
			close(fd);
			unlink(o->tmp);
		}
		goto fail;
	}
	return o;
fail:
	free(o->path);
	free(o->tmp);
	free(o);
	return NULL;
}

int cli_out_write(const char *data, size_t len, void *ud)
{
	cli_out *o = ud;
	return fwrite(data, 1, len, o->f) == len ? 0 : -1;
}

static void out_free(cli_out *o)
{
	free(o->path);
	free(o->tmp);
	free(o);
}

int cli_out_commit(cli_out *o)
{
	int status = 0;
	if (!o->path) {
		if (fflush(stdout) != 0 || ferror(stdout))
			status = cli_errorf(1, "writing to stdout failed: %s",
					    strerror(errno));
		out_free(o);
		return status;
	}
	if (fflush(o->f) != 0 || ferror(o->f) || fsync(fileno(o->f)) != 0) {
		status = cli_errorf(1, "%s: write failed: %s", o->path, strerror(errno));
		fclose(o->f);
	} else if (fclose(o->f) != 0) {
		status = cli_errorf(1, "%s: write failed: %s", o->path, strerror(errno));
	} else if (rename(o->tmp, o->path) != 0) {
		status = cli_errorf(1, "%s: cannot rename into place: %s", o->path,
				    strerror(errno));
	}
	if (status)
		unlink(o->tmp);
	out_free(o);
	return status;
}

void cli_out_abort(cli_out *o)
{
	if (!o)
		return;
	if (o->path) {
		fclose(o->f);
		unlink(o->tmp);
	} else {
		fflush(stdout);
	}
	out_free(o);
}

/* realpath of a path that may not exist yet: its directory's, plus its name */
static char *real_out(const char *path)
{
	char *r = realpath(path, NULL);
	if (r)
		return r;
	const char *slash = strrchr(path, '/');
	char *dir =
	    slash ? strndup(path, (size_t)(slash - path + (slash == path))) : strdup(".");
	char *rd = dir ? realpath(dir, NULL) : NULL;
	const char *name = slash ? slash + 1 : path;
	char *out = NULL;
	size_t n = rd ? strlen(rd) + strlen(name) + 2 : 0;
	if (rd && (out = malloc(n)))
		snprintf(out, n, "%s/%s", strcmp(rd, "/") ? rd : "", name);
	free(dir);
	free(rd);
	return out;
}

static int inside(const char *out, const char *const *paths, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char *r = realpath(paths[i], NULL);
		size_t k = r ? strlen(r) : 0;
		bool hit = r && !strncmp(out, r, k) && (out[k] == 0 || out[k] == '/');
		if (hit) {
			cli_errorf(2,
				   "-o %s: %s the input %s; write the output elsewhere",
				   out, out[k] ? "is inside" : "is", paths[i]);
			free(r);
			return 2;
		}
		free(r);
	}
	return 0;
}

int cli_inputs_check_output(const cli_inputs *in, const char *output)
{
	if (!output || !strcmp(output, "-"))
		return 0;
	char *out = real_out(output);
	int rc = out ? inside(out, in->logs, in->n_logs) ||
			       inside(out, in->annots, in->n_annots)
			   ? 2
			   : 0
		     : 0;
	free(out);
	return rc;
}

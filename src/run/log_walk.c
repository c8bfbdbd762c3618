/* The log-file walker shared by annotate and the analysis (log_walk.h). */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "run/log_walk.h"
#include "util/buf.h"
#include "util/error.h"

#define MAX_DEPTH 64

bool sd__ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

int sd__natural_cmp(const char *a, const char *b)
{
	while (*a && *b) {
		if (*a >= '0' && *a <= '9' && *b >= '0' && *b <= '9') {
			while (*a == '0' && a[1] >= '0' && a[1] <= '9')
				a++;
			while (*b == '0' && b[1] >= '0' && b[1] <= '9')
				b++;
			size_t la = 0, lb = 0;
			while (a[la] >= '0' && a[la] <= '9')
				la++;
			while (b[lb] >= '0' && b[lb] <= '9')
				lb++;
			if (la != lb)
				return la < lb ? -1 : 1;
			int c = strncmp(a, b, la);
			if (c)
				return c;
			a += la;
			b += lb;
			continue;
		}
		if (*a != *b)
			return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
		a++;
		b++;
	}
	return *a ? 1 : (*b ? -1 : 0);
}

static int name_cmp(const void *x, const void *y)
{
	return sd__natural_cmp(*(char *const *)x, *(char *const *)y);
}

static bool skipped(const char *name, const char *const *skip)
{
	for (; skip && *skip; skip++)
		if (!strcmp(name, *skip))
			return true;
	return false;
}

typedef struct names {
	char **v;
	size_t n, cap;
} names;

static int names_push(names *l, const char *s)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		char **v = realloc(l->v, cap * sizeof(*v));
		if (!v)
			return SD_ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	if (!(l->v[l->n] = strdup(s)))
		return SD_ENOMEM;
	l->n++;
	return SD_OK;
}

static void names_free(names *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
}

static int walk(const char *dir, int depth, const char *const *skip, sd__dirset *seen,
		sd__log_found_fn found, void *ud, sd_error *err)
{
	int r = sd__run_dirset_add(seen, dir);
	if (r == 1)
		return SD_OK; /* a link back to a directory walked already */
	if (r < 0)
		return sd__error_set(err, SD_EIO, dir, NULL, "cannot read directory: %s",
				     strerror(errno));
	if (depth > MAX_DEPTH)
		return sd__error_set(err, SD_EINVAL, dir, NULL,
				     "directories nested too deeply (a link loop?)");
	DIR *dh = opendir(dir);
	if (!dh)
		return sd__error_set(err, errno == ENOENT ? SD_ENOTFOUND : SD_EIO, dir,
				     NULL, "cannot open directory: %s", strerror(errno));
	struct dirent *de;
	names ns = {0};
	int rc = SD_OK;
	sd__buf p;
	sd__buf_init(&p, 0);
	while ((de = readdir(dh))) {
		if (de->d_name[0] == '.')
			continue; /* ., .., hidden files */
		if ((rc = names_push(&ns, de->d_name)))
			goto out;
	}
	if (ns.n) /* qsort(NULL, 0, ...) is undefined */
		qsort(ns.v, ns.n, sizeof(*ns.v), name_cmp);
	for (size_t i = 0; i < ns.n; i++) {
		struct stat st;
		bool json = sd__ends_with(ns.v[i], ".json");
		sd__buf_reset(&p);
		if (sd__buf_printf(&p, "%s/%s", dir, ns.v[i])) {
			rc = SD_ENOMEM;
			goto out;
		}
		if (stat(p.data, &st) != 0) {
			/* a dangling link that looks like a log is a real problem */
			if (json) {
				rc = sd__error_set(err, SD_EIO, p.data, NULL,
						   "cannot read: %s", strerror(errno));
				goto out;
			}
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			if ((rc = walk(p.data, depth + 1, skip, seen, found, ud, err)))
				goto out;
		} else if (S_ISREG(st.st_mode) && json && !skipped(ns.v[i], skip)) {
			if ((rc = found(p.data, ud)))
				goto out;
		}
	}
out:
	if (rc == SD_ENOMEM)
		sd__error_set(err, SD_ENOMEM, dir, NULL, "out of memory");
	closedir(dh);
	names_free(&ns);
	sd__buf_free(&p);
	return rc;
}

int sd__log_walk(const char *dir, const char *const *skip, sd__dirset *seen,
		 sd__log_found_fn found, void *ud, sd_error *err)
{
	return walk(dir, 0, skip, seen, found, ud, err);
}

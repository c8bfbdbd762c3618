/*
 * The output store: everything that touches the file system (reads,
 * atomic writes, ids, temp names), what counts as a complete file, and
 * the output directories and manifests a run starts with.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"
#include "run/files.h"
#include "run/model_id.h"
#include "syndisco.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/utf8.h"

int sd_file_read(const char *path, char **out, size_t *len, sd_error *err)
{
	sd__buf b;
	char chunk[65536];
	int rc = SD_OK;
	if (!path || !out)
		return sd__error_set(err, SD_EINVAL, NULL, NULL, "no path");
	*out = NULL;
	/* O_NONBLOCK: opening a FIFO for reading would wait for a writer */
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return sd__error_set(err, errno == ENOENT ? SD_ENOTFOUND : SD_EIO, path,
				     NULL, "cannot open: %s", strerror(errno));
	struct stat st;
	/* a FIFO named on purpose (/dev/stdin, <(...)) is read; directory
	   walks skip everything but regular files */
	if (fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
		close(fd);
		return sd__error_set(err, SD_EIO, path, NULL,
				     "is a directory, expected a file");
	}
	int fl = fcntl(fd, F_GETFL);
	FILE *f = fl >= 0 && fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) == 0 ? fdopen(fd, "rb")
								       : NULL;
	if (!f) {
		close(fd);
		return sd__error_set(err, SD_EIO, path, NULL, "cannot open: %s",
				     strerror(errno));
	}
	sd__buf_init(&b, 0);
	for (;;) {
		size_t n = fread(chunk, 1, sizeof(chunk), f);
		if (n && sd__buf_append(&b, chunk, n)) {
			rc = sd__error_set(err, SD_ENOMEM, path, NULL,
					   "file too large or out of memory");
			break;
		}
		if (n < sizeof(chunk)) {
			if (ferror(f))
				rc = sd__error_set(err, SD_EIO, path, NULL,
						   "read error: %s", strerror(errno));
			break;
		}
	}
	fclose(f);
	/* text only: a NUL would end parsing early and hide what follows it
	   ({valid}\0garbage), and invalid UTF-8 must not reach prompts or logs */
	size_t ok = rc ? 0 : sd__utf8_valid_prefix(b.data ? b.data : "", b.len);
	if (!rc && ok < b.len) {
		size_t line = 1, col = 1;
		for (size_t i = 0; i < ok; i++, col++)
			if (b.data[i] == '\n')
				line++, col = 0;
		rc = sd__error_set(
		    err, SD_EPARSE, path, NULL,
		    "%s at line %zu, column %zu (byte %zu): expected UTF-8 text",
		    b.data[ok] ? "invalid UTF-8" : "a NUL byte", line, col, ok);
	}
	if (rc) {
		sd__buf_free(&b);
		return rc;
	}
	if (len)
		*len = b.len;
	*out = sd__buf_steal(&b);
	return *out ? SD_OK : sd__error_set(err, SD_ENOMEM, path, NULL, "out of memory");
}

void sd__run_temp_host(char *buf, size_t size)
{
	char h[256];
	size_t n = 0;
	if (size < 2)
		return;
	if (gethostname(h, sizeof(h)) != 0)
		h[0] = '\0';
	h[sizeof(h) - 1] = '\0';
	for (const char *s = h; *s && n + 1 < size && n < RUN_TEMP_HOST_MAX; s++) {
		char c = *s;
		bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			    (c >= '0' && c <= '9') || c == '-';
		/* no dots: the name is split at them when read back */
		buf[n++] = keep ? c : '_';
	}
	buf[n] = '\0';
	if (n == 0)
		snprintf(buf, size, "unknown");
}

static bool all_digits(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static bool all_hex(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

bool sd__run_temp_like(const char *name) { return name && strstr(name, ".tmp.") != NULL; }

bool sd__run_temp_parse(const char *name, char *host, size_t host_size, long *pid)
{
	/* the last ".tmp." starts the suffix: a target name may contain one */
	const char *t = NULL;
	for (const char *s = name; (s = strstr(s, ".tmp.")); s++)
		t = s;
	if (!t || host_size == 0)
		return false;
	const char *h = t + 5;
	const char *d2 = strrchr(h, '.');
	if (!d2 || d2 == h)
		return false;
	const char *d1 = d2 - 1;
	while (d1 > h && *d1 != '.')
		d1--;
	if (*d1 != '.' || d1 == h)
		return false;
	size_t hl = (size_t)(d1 - h);
	if (!all_digits(d1 + 1, (size_t)(d2 - d1 - 1)) ||
	    !all_hex(d2 + 1, strlen(d2 + 1)) || memchr(h, '.', hl))
		return false;
	errno = 0;
	long p = strtol(d1 + 1, NULL, 10);
	if (errno || p <= 0)
		return false;
	if (hl >= host_size)
		hl = host_size - 1;
	memcpy(host, h, hl);
	host[hl] = '\0';
	*pid = p;
	return true;
}

static uint32_t temp_random(void)
{
	uint32_t r;
	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) == (ssize_t)sizeof(r))
		return r;
	/* no entropy yet: O_EXCL still keeps two writers apart */
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint32_t)ts.tv_nsec ^ ((uint32_t)getpid() << 16);
}

/* excl: link() instead of rename(), so an existing target is kept and
   RUN_EXISTS returned (see sd__run_file_create_excl). */
static int write_file(const char *path, const char *data, size_t len, bool excl,
		      sd_error *err)
{
	sd__buf tmp;
	char host[RUN_TEMP_HOST_MAX + 1];
	int fd = -1, rc = SD_OK;
	sd__buf_init(&tmp, 0);
	if (!path || !data)
		return sd__error_set(err, SD_EINVAL, NULL, NULL, "no path or data");
	sd__run_temp_host(host, sizeof(host));
	/*
	 * Same directory as the target so rename() is atomic. The name is
	 * unique across hosts sharing the directory (host, pid, random), and
	 * O_EXCL makes a clash an error instead of two writers interleaving
	 * their bytes in one temp file.
	 */
	for (int attempt = 0; fd < 0 && attempt < 8; attempt++) {
		sd__buf_reset(&tmp);
		if (sd__buf_printf(&tmp, "%s.tmp.%s.%ld.%08x", path, host, (long)getpid(),
				   (unsigned)temp_random())) {
			sd__buf_free(&tmp);
			return sd__error_set(err, SD_ENOMEM, path, NULL, "out of memory");
		}
		fd = open(tmp.data, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd < 0 && errno != EEXIST)
			break;
	}
	if (fd < 0) {
		rc = sd__error_set(err, SD_EIO, path, NULL, "cannot create: %s",
				   strerror(errno));
		sd__buf_free(&tmp);
		return rc;
	}
	for (size_t off = 0; off < len;) {
		ssize_t n = write(fd, data + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = sd__error_set(err, SD_EIO, path, NULL, "write failed: %s",
					   strerror(errno));
			goto out;
		}
		off += (size_t)n;
	}
	if (fsync(fd) != 0) {
		rc = sd__error_set(err, SD_EIO, path, NULL, "fsync failed: %s",
				   strerror(errno));
		goto out;
	}
	if (close(fd) != 0) {
		fd = -1;
		rc = sd__error_set(err, SD_EIO, path, NULL, "close failed: %s",
				   strerror(errno));
		goto out;
	}
	fd = -1;
	/* another writer of the same target may rename first: its file is
	   complete and, the output being deterministic, equivalent; the last
	   rename wins and a reader sees one whole file or the other */
	if (excl) {
		/* link() fails on an existing target: of two creators, one wins */
		if (link(tmp.data, path) != 0)
			rc = errno == EEXIST
				 ? RUN_EXISTS
				 : sd__error_set(err, SD_EIO, path, NULL,
						 "cannot create: %s", strerror(errno));
		unlink(tmp.data);
		goto out;
	}
	if (rename(tmp.data, path) != 0) {
		rc = sd__error_set(err, SD_EIO, path, NULL, "rename failed: %s",
				   strerror(errno));
		goto out;
	}
out:
	if (fd >= 0)
		close(fd);
	if (rc)
		unlink(tmp.data);
	sd__buf_free(&tmp);
	return rc;
}

int sd_file_write_atomic(const char *path, const char *data, size_t len, sd_error *err)
{
	return write_file(path, data, len, false, err);
}

int sd__run_file_create_excl(const char *path, const char *data, size_t len,
			     sd_error *err)
{
	return write_file(path, data, len, true, err);
}

int sd_persona_array_load(const char *path, sd_persona ***out, size_t *n, sd_error *err)
{
	char *text = NULL;
	int rc = sd_file_read(path, &text, NULL, err);
	if (rc)
		return rc;
	rc = sd_persona_array_from_json(text, path, out, n, err);
	free(text);
	return rc;
}

int sd_logs_load(const char *path, sd_logs **out, sd_error *err)
{
	char *text = NULL;
	*out = NULL;
	int rc = sd_file_read(path, &text, NULL, err);
	if (rc)
		return rc;
	rc = sd_logs_from_json(text, path, out, err);
	free(text);
	return rc;
}

int sd_logs_save(const sd_logs *l, const char *path, sd_error *err)
{
	char *text = NULL;
	int rc = sd_logs_to_json(l, &text);
	if (rc)
		return sd__error_set(err, rc, path, NULL, "cannot serialize the log");
	/* exactly what SynDisco's json.dump writes: no final newline */
	rc = sd_file_write_atomic(path, text, strlen(text), err);
	free(text);
	return rc;
}

void sd_uuid4(char *buf)
{
	unsigned char r[16];
	size_t got = 0;
	while (got < sizeof(r)) {
		ssize_t n = getrandom(r + got, sizeof(r) - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* no entropy source: fall back to time and pid, ids
			 * only need to be unique, not secret */
			uint64_t x = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
			for (size_t i = got; i < sizeof(r); i++) {
				x = x * 6364136223846793005ULL + 1442695040888963407ULL;
				r[i] = (unsigned char)(x >> 56);
			}
			break;
		}
		got += (size_t)n;
	}
	r[6] = (unsigned char)((r[6] & 0x0F) | 0x40);
	r[8] = (unsigned char)((r[8] & 0x3F) | 0x80);
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			buf[o++] = '-';
		buf[o++] = hex[r[i] >> 4];
		buf[o++] = hex[r[i] & 15];
	}
	buf[o] = '\0';
}

void sd_timestamp_now(char *buf, size_t size)
{
	time_t t = time(NULL);
	struct tm tm;
	if (size == 0)
		return;
	if (!localtime_r(&t, &tm) || strftime(buf, size, "%y-%m-%d-%H-%M", &tm) == 0)
		buf[0] = '\0';
}

int sd__run_dirset_add(sd__dirset *s, const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return -1;
	unsigned long long dev = (unsigned long long)st.st_dev,
			   ino = (unsigned long long)st.st_ino;
	for (size_t i = 0; i < s->n; i++)
		if (s->v[2 * i] == dev && s->v[2 * i + 1] == ino)
			return 1;
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 16;
		unsigned long long *v = realloc(s->v, 2 * cap * sizeof(*v));
		if (!v)
			return -1;
		s->v = v;
		s->cap = cap;
	}
	s->v[2 * s->n] = dev;
	s->v[2 * s->n + 1] = ino;
	s->n++;
	return 0;
}

void sd__run_dirset_free(sd__dirset *s)
{
	free(s->v);
	s->v = NULL;
	s->n = s->cap = 0;
}

char *sd__run_manifest_digest(const char *out_dir, const char *manifest, const char *name,
			      char **model_sha)
{
	sd__buf b;
	char *text = NULL, *d = NULL;
	sd__buf_init(&b, 0);
	if (!sd__buf_printf(&b, "%s/%s", out_dir, manifest) &&
	    sd_file_read(b.data, &text, NULL, NULL) == SD_OK) {
		json_t *m = json_loads(text, 0, NULL);
		const char *s = json_string_value(json_object_get(m, "config_digest"));
		d = s ? strdup(s) : NULL;
		const char *h = name ? sd__run_model_sha_of(m, name) : NULL;
		if (model_sha)
			*model_sha = h ? strdup(h) : NULL;
		json_decref(m);
	}
	free(text);
	sd__buf_free(&b);
	return d;
}

bool sd__run_file_complete(const char *path, const char *cell, size_t index,
			   const char *digest, const char *model_sha)
{
	sd_logs *l = NULL;
	struct stat st;
	if (stat(path, &st) != 0)
		return false;
	if (sd_logs_load(path, &l, NULL) != SD_OK)
		return false;
	const json_t *c = sd__logs_get(l, "cell");
	const json_t *i = sd__logs_get(l, "index");
	bool ok = json_is_string(c) && strcmp(json_string_value(c), cell) == 0 &&
		  json_is_integer(i) && json_integer_value(i) >= 0 &&
		  (size_t)json_integer_value(i) == index;
	/* a file of another config (a foreign run, or the one before --force)
	   is not this run's discussion, however complete */
	if (ok && digest) {
		const json_t *d = sd__logs_get(l, "config_digest");
		ok = json_is_string(d) && strcmp(json_string_value(d), digest) == 0;
	}
	if (ok && model_sha) {
		const json_t *h =
		    json_object_get(sd__logs_get(l, "model_file"), "sha256");
		ok = json_is_string(h) && strcmp(json_string_value(h), model_sha) == 0;
	}
	sd_logs_free(l);
	return ok;
}

char *sd__cell_path(const char *out, const char *cell, size_t index)
{
	sd__buf b;
	sd__buf_init(&b, 0);
	int rc = index == (size_t)-1
		     ? sd__buf_printf(&b, "%s/%s", out, cell)
		     : sd__buf_printf(&b, "%s/%s/%zu.json", out, cell, index);
	/* a failed buffer steals as NULL: never a path cut short */
	return rc ? NULL : sd__buf_steal(&b);
}

int sd__mkdir_p(const char *path)
{
	char *tmp = strdup(path);
	int rc = 0;
	if (!tmp)
		return -1;
	for (char *s = tmp + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
			rc = -1;
		*s = '/';
	}
	if (rc == 0 && mkdir(tmp, 0755) != 0 && errno != EEXIST)
		rc = -1;
	free(tmp);
	return rc;
}

int sd__store_prepare(const sd_run_params *p, const char *manifest, const char *digest,
		      const char *manifest_json, const char *what, int *created,
		      sd_error *err)
{
	struct stat dst;
	*created = 0;
	if (!p || !p->out_dir)
		return sd__error_set(err, SD_EINVAL, NULL, NULL, "no output directory");
	if (p->parallel < 1 || p->parallel > 4096)
		return sd__error_set(err, SD_EINVAL, NULL, "parallel",
				     "must be between 1 and 4096, got %d",
				     (int)p->parallel);
	if (p->shard_count < 1 || p->shard_index >= p->shard_count)
		return sd__error_set(err, SD_EINVAL, NULL, "shard",
				     "shard %u/%u: need 0 <= K < N", p->shard_index,
				     p->shard_count);
	bool dir_existed = stat(p->out_dir, &dst) == 0;
	if (sd__mkdir_p(p->out_dir) != 0)
		return sd__error_set(err, SD_EIO, p->out_dir, NULL, "cannot create: %s",
				     strerror(errno));
	sd__buf b;
	char *text = NULL;
	int rc = SD_OK;
	sd__buf_init(&b, 0);
	if (sd__buf_printf(&b, "%s/%s", p->out_dir, manifest))
		return sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
	/*
	 * Create the manifest exclusively: two runs of different configs
	 * started together on a new directory both read "no manifest"; only
	 * one may then create it, the other reads it and is refused.
	 */
	for (int attempt = 0;; attempt++) {
		if (sd_file_read(b.data, &text, NULL, NULL) == SD_OK) {
			json_t *m = json_loads(text, 0, NULL);
			const char *old =
			    json_string_value(json_object_get(m, "config_digest"));
			bool same = old && strcmp(old, digest) == 0;
			if (!same && !p->force)
				rc = sd__error_set(
				    err, SD_ESTATE, b.data, NULL,
				    "%s holds %s of a different config (digest %s, "
				    "this config %s); use a new output directory, or "
				    "--force to continue it with this config",
				    p->out_dir, what, old ? old : "unreadable", digest);
			if (!rc && same) {
				/* the digest covers a model's path, not its bytes */
				json_t *nm = json_loads(manifest_json, 0, NULL);
				rc = sd__run_model_files_check(m, nm, b.data, err);
				json_decref(nm);
				if (rc && p->force)
					rc = SD_OK, same = false;
			}
			json_decref(m);
			if (rc || same)
				goto out;
			rc = sd_file_write_atomic(b.data, manifest_json,
						  strlen(manifest_json), err);
			goto out;
		}
		rc = sd__run_file_create_excl(b.data, manifest_json,
					      strlen(manifest_json), err);
		*created = rc == SD_OK
			       ? SD__MADE_MANIFEST | (dir_existed ? 0 : SD__MADE_DIR)
			       : 0;
		if (rc != RUN_EXISTS || attempt == 3)
			break;
		rc = SD_OK;
	}
	if (rc == RUN_EXISTS)
		rc =
		    sd__error_set(err, SD_EIO, b.data, NULL, "exists but cannot be read");
out:
	free(text);
	sd__buf_free(&b);
	return rc;
}

void sd__store_unprepare(const sd_run_params *p, const char *manifest, int created)
{
	if (!(created & SD__MADE_MANIFEST))
		return;
	DIR *d = opendir(p->out_dir);
	struct dirent *de;
	bool left = false;
	sd__buf b;
	sd__buf_init(&b, 0);
	while (d && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    !strcmp(de->d_name, manifest))
			continue;
		sd__buf_reset(&b);
		/* rmdir() removes empty directories only: never anyone's data */
		if (sd__buf_printf(&b, "%s/%s", p->out_dir, de->d_name) ||
		    rmdir(b.data) != 0)
			left = true;
	}
	if (d)
		closedir(d);
	sd__buf_reset(&b);
	if (d && !left && !sd__buf_printf(&b, "%s/%s", p->out_dir, manifest) &&
	    unlink(b.data) == 0 && (created & SD__MADE_DIR))
		rmdir(p->out_dir); /* fails, harmlessly, if it holds more */
	sd__buf_free(&b);
}

/*
 * Whether the temp file `name` (in a cell directory, stat'ed as st) was
 * left by a writer that is gone. The directory may be shared by many
 * hosts (a Slurm job array on a network file system), and a pid only
 * says something on the host that issued it: a temp of this host is
 * stale when its pid is dead; a temp of any host (or an old-style name
 * without a host) only once it is older than RUN_TEMP_MAX_AGE_S, since
 * a live writer holds its temp for one write + fsync.
 */
static bool temp_is_stale(const char *name, const struct stat *st, const char *self,
			  time_t now)
{
	char host[RUN_TEMP_HOST_MAX + 1];
	long pid;
	if (sd__run_temp_parse(name, host, sizeof(host), &pid) &&
	    strcmp(host, self) == 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH)
		return true;
	return now - st->st_mtime > RUN_TEMP_MAX_AGE_S;
}

/* Remove temp files of writers that are gone (see temp_is_stale). */
static void clean_stale_temps(const char *dir)
{
	char self[RUN_TEMP_HOST_MAX + 1];
	DIR *d = opendir(dir);
	struct dirent *de;
	if (!d)
		return;
	sd__run_temp_host(self, sizeof(self));
	time_t now = time(NULL);
	while ((de = readdir(d))) {
		if (!sd__run_temp_like(de->d_name))
			continue;
		sd__buf p;
		sd__buf_init(&p, 0);
		struct stat st;
		if (sd__buf_printf(&p, "%s/%s", dir, de->d_name) == SD_OK &&
		    lstat(p.data, &st) == 0 && S_ISREG(st.st_mode) &&
		    temp_is_stale(de->d_name, &st, self, now))
			unlink(p.data);
		sd__buf_free(&p);
	}
	closedir(d);
}

int sd__store_subdir(const char *dir, sd_error *err)
{
	if (!dir)
		return sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
	if (sd__mkdir_p(dir) != 0)
		return sd__error_set(err, SD_EIO, dir, NULL, "cannot create: %s",
				     strerror(errno));
	clean_stale_temps(dir);
	return SD_OK;
}

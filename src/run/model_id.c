#include "run/model_id.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "run/backend_open.h"
#include "run/files.h"
#include "syndisco.h"
#include "util/buf.h"
#include "util/hash.h"
#include "util/sha256.h"

#ifndef SYNDISCO_LLAMA_VERSION
#define SYNDISCO_LLAMA_VERSION "unknown"
#endif

const char *sd__run_llama_version(void) { return SYNDISCO_LLAMA_VERSION; }

/* The cache directory's model-sha256/, or NULL when there is no home. */
static char *cache_dir(void)
{
	const char *d = getenv("SYNDISCO_CACHE_DIR"), *x = getenv("XDG_CACHE_HOME"),
		   *h = getenv("HOME");
	sd__buf b;
	sd__buf_init(&b, 0);
	int rc = d && d[0]   ? sd__buf_printf(&b, "%s/model-sha256", d)
		 : x && x[0] ? sd__buf_printf(&b, "%s/syndisco/model-sha256", x)
		 : h && h[0] ? sd__buf_printf(&b, "%s/.cache/syndisco/model-sha256", h)
			     : -1;
	if (rc) {
		sd__buf_free(&b);
		return NULL;
	}
	return sd__buf_steal(&b);
}

static int hash_file(const char *path, char hex[65], sd_error *err)
{
	static unsigned char buf[1 << 16];
	sd__sha256 s;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return sd__error_set(err, SD_ENOTFOUND, path, "backend.model",
				     "cannot open the model file: %s", strerror(errno));
	sd__sha256_init(&s);
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			close(fd);
			return sd__error_set(err, SD_EIO, path, "backend.model",
					     "cannot read the model file: %s",
					     strerror(e));
		}
		if (n == 0)
			break;
		sd__sha256_update(&s, buf, (size_t)n);
	}
	close(fd);
	sd__sha256_hex(&s, hex);
	return SD_OK;
}

int sd__run_model_identity(const sd__cfg_backend *cb, const char *source,
			   const char *default_model, json_t **out, sd_error *err)
{
	*out = NULL;
	int rc = sd__run_backend_check(cb, source, default_model, err);
	if (rc || strcmp(cb->type, "llama") != 0)
		return rc;
	const char *path = cb->model ? cb->model : default_model;
	struct stat st;
	if (!path[0] || stat(path, &st) != 0)
		return sd__error_set(err, SD_ENOTFOUND, source, "backend.model",
				     "cannot read the model file \"%s\": %s", path,
				     path[0] ? strerror(errno) : "empty path");
	if (!S_ISREG(st.st_mode))
		return sd__error_set(err, SD_EINVAL, source, "backend.model",
				     "the model \"%s\" is not a regular file", path);
	char hex[65] = "";
	char key[64];
	sd__buf k;
	sd__buf_init(&k, 0);
	/* the cache is keyed by what changes when the file is replaced */
	int krc = sd__buf_printf(&k, "%s\n%lld\n%lld.%09ld\n%llu", path,
				 (long long)st.st_size, (long long)st.st_mtim.tv_sec,
				 st.st_mtim.tv_nsec, (unsigned long long)st.st_ino);
	snprintf(key, sizeof(key), "%016llx",
		 (unsigned long long)sd__fnv1a64(k.data ? k.data : "", k.len,
						 SD_FNV1A64_INIT));
	char *dir = cache_dir();
	sd__buf cf;
	sd__buf_init(&cf, 0);
	/* no key or no path (out of memory): no cache, the file is hashed */
	if (dir && !krc && sd__buf_printf(&cf, "%s/%s", dir, key))
		sd__buf_free(&cf);
	char *cached = NULL;
	if (cf.data && sd_file_read(cf.data, &cached, NULL, NULL) == SD_OK) {
		/* "<key text>\t<hex>": the key text guards against a hash clash */
		char *tab = strrchr(cached, '\t');
		if (tab && strlen(tab + 1) == 64 && (size_t)(tab - cached) == k.len &&
		    !memcmp(cached, k.data, k.len))
			memcpy(hex, tab + 1, 65);
	}
	free(cached);
	if (!hex[0]) {
		if ((rc = hash_file(path, hex, err)))
			goto out;
		if (cf.data && sd__mkdir_p(dir) == 0) {
			sd__buf line;
			sd__buf_init(&line, 0);
			if (!sd__buf_printf(&line, "%s\t%s", k.data, hex))
				sd_file_write_atomic(cf.data, line.data, line.len, NULL);
			sd__buf_free(&line);
		}
	}
	*out =
	    json_pack("{s:s,s:I,s:s,s:s}", "path", path, "size", (json_int_t)st.st_size,
		      "sha256", hex, "llama_cpp", sd__run_llama_version());
	if (!*out)
		rc = sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
out:
	free(dir);
	sd__buf_free(&cf);
	sd__buf_free(&k);
	return rc;
}

static const char *str(const json_t *o, const char *k)
{
	const char *v = json_string_value(json_object_get(o, k));
	return v ? v : "?";
}

const char *sd__run_model_sha_of(const json_t *manifest, const char *name)
{
	size_t i;
	const json_t *v;
	json_array_foreach(json_object_get(manifest, "model_files"), i, v)
	{
		const char *n = json_string_value(json_object_get(v, "name"));
		if (n && !strcmp(n, name))
			return json_string_value(
			    json_object_get(json_object_get(v, "model_file"), "sha256"));
	}
	return NULL;
}

int sd__run_model_files_check(const json_t *old_manifest, const json_t *new_manifest,
			      const char *manifest_path, sd_error *err)
{
	size_t i, j;
	const json_t *v, *w;
	json_array_foreach(json_object_get(new_manifest, "model_files"), i, v)
	{
		const char *name = str(v, "name");
		const json_t *nf = json_object_get(v, "model_file");
		json_array_foreach(json_object_get(old_manifest, "model_files"), j, w)
		{
			const json_t *of = json_object_get(w, "model_file");
			if (strcmp(str(w, "name"), name) || !json_is_object(of) ||
			    !json_is_object(nf) ||
			    !strcmp(str(of, "sha256"), str(nf, "sha256")))
				continue;
			return sd__error_set(
			    err, SD_ESTATE, manifest_path, "model_files",
			    "%s: the model file %s is not the one this output was made "
			    "with (sha256 %.16s..., now %.16s...); use a new output "
			    "directory, or --force to continue with this file",
			    name, str(nf, "path"), str(of, "sha256"), str(nf, "sha256"));
		}
	}
	return SD_OK;
}

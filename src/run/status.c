/*
 * What is missing from a run's output directory, for people and for
 * scripts (a Slurm follow-up job that resubmits only the shards with
 * missing discussions).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/core.h"
#include "run/files.h"
#include "run/model_id.h"
#include "syndisco.h"
#include "util/buf.h"
#include "util/error.h"

int sd_run_missing(const char *out_dir, const char *cell, size_t total, size_t **missing,
		   size_t *n_missing, sd_error *err)
{
	size_t *res = NULL, n = 0;
	char *sha = NULL;
	sd__buf path;
	int rc = SD_OK;
	if (!missing || !n_missing)
		return sd__error_set(err, SD_EINVAL, NULL, NULL, "no output arguments");
	*missing = NULL;
	*n_missing = 0;
	if (!out_dir || !cell)
		return sd__error_set(err, SD_EINVAL, NULL, NULL, "no output dir or cell");
	if (total > RUN_MAX_DISCUSSIONS)
		return sd__error_set(err, SD_EINVAL, out_dir, cell,
				     "%zu discussions is more than a run may have (%d)",
				     total, RUN_MAX_DISCUSSIONS);
	char *digest = sd__run_manifest_digest(out_dir, "run.json", cell, &sha);
	sd__buf_init(&path, 0);
	for (size_t k = 0; k < total; k++) {
		sd__buf_reset(&path);
		if (sd__buf_printf(&path, "%s/%s/%zu.json", out_dir, cell, k)) {
			rc = sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
			goto out;
		}
		if (sd__run_file_complete(path.data, cell, k, digest, sha))
			continue;
		if (!res) {
			/* at most total - k more are missing */
			res = malloc((total - k) * sizeof(*res));
			if (!res) {
				rc = sd__error_set(err, SD_ENOMEM, NULL, NULL,
						   "out of memory");
				goto out;
			}
		}
		res[n++] = k;
	}
	*missing = res;
	*n_missing = n;
	res = NULL;
out:
	free(res);
	free(digest);
	free(sha);
	sd__buf_free(&path);
	return rc;
}

/* Append index-owning shards to a set of flags (one per shard). */
static void mark_shards(bool *flags, uint32_t shard_count, const size_t *idx, size_t n)
{
	for (size_t i = 0; i < n; i++)
		flags[idx[i] % shard_count] = true;
}

int sd_run_status_json(const char *out_dir, uint32_t shard_count, char **out,
		       bool *complete, sd_error *err)
{
	sd_cell_status *cells = NULL;
	size_t n_cells = 0, done = 0, total = 0;
	bool *shard_flags = NULL;
	json_t *root = NULL, *arr = NULL;
	int rc;
	if (!out)
		return sd__error_set(err, SD_EINVAL, NULL, NULL, "no output argument");
	*out = NULL;
	if (complete)
		*complete = false;
	if ((rc = sd_run_status(out_dir, &cells, &n_cells, err)))
		return rc;
	rc = SD_ENOMEM;
	root = json_object();
	arr = json_array();
	if (shard_count > 0 && !(shard_flags = calloc(shard_count, sizeof(*shard_flags))))
		goto nomem;
	if (!root || !arr || json_object_set_new(root, "out_dir", json_string(out_dir)) ||
	    json_object_set(root, "cells", arr))
		goto nomem;
	for (size_t c = 0; c < n_cells; c++) {
		size_t *miss = NULL, n_miss = 0;
		json_t *m = json_array(), *o;
		if (!m)
			goto nomem;
		/* only incomplete cells are scanned a second time */
		if (cells[c].done < cells[c].total &&
		    (rc = sd_run_missing(out_dir, cells[c].name, cells[c].total, &miss,
					 &n_miss, err))) {
			json_decref(m);
			goto out;
		}
		rc = SD_ENOMEM;
		for (size_t i = 0; i < n_miss; i++)
			if (json_array_append_new(m, json_integer((json_int_t)miss[i]))) {
				free(miss);
				json_decref(m);
				goto nomem;
			}
		if (shard_flags)
			mark_shards(shard_flags, shard_count, miss, n_miss);
		free(miss);
		/* a file may have appeared between the two scans: the list is
		   the later truth */
		size_t cdone = cells[c].total - n_miss;
		o = json_pack("{s:s,s:I,s:I,s:o}", "name", cells[c].name, "done",
			      (json_int_t)cdone, "total", (json_int_t)cells[c].total,
			      "missing", m);
		if (!o || json_array_append_new(arr, o))
			goto nomem;
		done += cdone;
		total += cells[c].total;
	}
	if (json_object_set_new(root, "done", json_integer((json_int_t)done)) ||
	    json_object_set_new(root, "total", json_integer((json_int_t)total)) ||
	    json_object_set_new(root, "complete", json_boolean(done == total)))
		goto nomem;
	if (shard_flags) {
		json_t *s = json_array();
		if (!s || json_object_set_new(root, "missing_shards", s) ||
		    json_object_set_new(root, "shard_count", json_integer(shard_count)))
			goto nomem;
		for (uint32_t k = 0; k < shard_count; k++)
			if (shard_flags[k] && json_array_append_new(s, json_integer(k)))
				goto nomem;
	}
	*out = json_dumps(root, JSON_PRESERVE_ORDER);
	if (!*out)
		goto nomem;
	if (complete)
		*complete = done == total;
	rc = SD_OK;
	goto out;
nomem:
	rc = sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
out:
	json_decref(arr);
	json_decref(root);
	free(shard_flags);
	sd_run_status_free(cells, n_cells);
	return rc;
}

int sd_run_status(const char *out_dir, sd_cell_status **cells, size_t *n, sd_error *err)
{
	char *path = sd__cell_path(out_dir, "run.json", (size_t)-1);
	char *text = NULL;
	json_t *m = NULL;
	sd_cell_status *res = NULL;
	size_t count = 0;
	int rc;
	*cells = NULL;
	*n = 0;
	if (!path)
		return sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
	if ((rc = sd_file_read(path, &text, NULL, err))) {
		if (rc == SD_ENOTFOUND)
			sd__error_set(
			    err, rc, out_dir, NULL,
			    "no run.json: not an output directory of syndisco run");
		goto out;
	}
	json_error_t jerr;
	m = json_loads(text, 0, &jerr);
	const json_t *arr = json_object_get(m, "cells");
	const char *digest = json_string_value(json_object_get(m, "config_digest"));
	if (!m || !json_is_array(arr)) {
		rc = sd__error_set(err, SD_EPARSE, path, "cells", "missing or malformed");
		goto out;
	}
	res = calloc(json_array_size(arr) + 1, sizeof(*res));
	if (!res) {
		rc = sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < json_array_size(arr); i++) {
		const json_t *c = json_array_get(arr, i);
		const char *name = json_string_value(json_object_get(c, "name"));
		json_int_t total =
		    json_integer_value(json_object_get(c, "num_discussions"));
		if (total > RUN_MAX_DISCUSSIONS) {
			rc = sd__error_set(
			    err, SD_EPARSE, path, "cells",
			    "entry %zu claims %lld discussions, more than a "
			    "config may ask for (%d)",
			    i, (long long)total, RUN_MAX_DISCUSSIONS);
			goto out;
		}
		if (!name || total < 0) {
			rc = sd__error_set(err, SD_EPARSE, path, "cells",
					   "entry %zu is malformed", i);
			goto out;
		}
		res[count].name = strdup(name);
		if (!res[count].name) {
			rc = sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
			goto out;
		}
		res[count].total = (size_t)total;
		for (size_t k = 0; k < (size_t)total; k++) {
			char *f = sd__cell_path(out_dir, name, k);
			if (f && sd__run_file_complete(f, name, k, digest,
						       sd__run_model_sha_of(m, name)))
				res[count].done++;
			free(f);
		}
		count++;
	}
	*cells = res;
	*n = count;
	res = NULL;
	rc = SD_OK;
out:
	if (res)
		sd_run_status_free(res, count);
	json_decref(m);
	free(text);
	free(path);
	return rc;
}

void sd_run_status_free(sd_cell_status *cells, size_t n)
{
	if (!cells)
		return;
	for (size_t i = 0; i < n; i++)
		free((char *)cells[i].name);
	free(cells);
}

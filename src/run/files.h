/*
 * The output store: reading and writing files atomically, temp names,
 * what counts as a complete discussion file, and the directories and
 * manifests a run starts with (not part of the API).
 *
 * Temp files. sd_file_write_atomic() writes "<target>.tmp.<host>.<pid>.<rnd>"
 * in the target's directory, fsyncs it and renames it over the target.
 * <host> is this machine's name (sd__run_temp_host()), <pid> the writer's
 * process id, <rnd> 8 random hex digits. The host is in the name because
 * an output directory may sit on a file system shared by many machines
 * (a Slurm job array): a pid says nothing about a process on another
 * host, so only temps of this host can be judged by their pid.
 */
#ifndef SD_RUN_FILES_H
#define SD_RUN_FILES_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "syndisco.h"

/* A temp file older than this (by mtime) is abandoned, whatever its host:
   a writer keeps its temp for one write + fsync. A day leaves room for
   clock skew between hosts and very slow shared file systems. */
#define RUN_TEMP_MAX_AGE_S (24 * 3600)

/* Longest host part of a temp name. */
#define RUN_TEMP_HOST_MAX 64

/*
 * This host's name as used in temp names into buf (size >= 2): the
 * gethostname() result with every byte outside [A-Za-z0-9-] replaced by
 * '_' and cut to RUN_TEMP_HOST_MAX bytes; "unknown" if there is none.
 */
void sd__run_temp_host(char *buf, size_t size);

/*
 * Parse the file name (no directory) of a temp file. Returns true for a
 * name "<target>.tmp.<host>.<pid>.<rnd>" and fills host (cut to
 * host_size - 1 bytes) and *pid. Returns false for anything else,
 * including the older "<target>.tmp.<pid>" names, which carry no host.
 */
bool sd__run_temp_parse(const char *name, char *host, size_t host_size, long *pid);

/* True when name contains ".tmp." (any temp name, old or new). */
bool sd__run_temp_like(const char *name);

/*
 * True when the file at path loads as a complete discussion log of this
 * cell and index (what resume and status count as done), written under
 * the config digest `digest` and with the model file whose SHA-256 is
 * model_sha (each not checked when NULL).
 */
bool sd__run_file_complete(const char *path, const char *cell, size_t index,
			   const char *digest, const char *model_sha);

/* OUT/<cell>/<index>.json, or OUT/<cell> when index is (size_t)-1; NULL
 * when out of memory. Caller frees. */
char *sd__cell_path(const char *out, const char *cell, size_t index);

/* Most discussions per cell a config may ask for, and so a manifest claim. */
#define RUN_MAX_DISCUSSIONS 100000000

/* The config_digest of OUT/<manifest>, or NULL; and into *model_sha (if
 * not NULL) the SHA-256 of the model file of cell `name`, or NULL. Caller
 * frees both. */
char *sd__run_manifest_digest(const char *out_dir, const char *manifest, const char *name,
			      char **model_sha);

/*
 * Write path whole (temp file, fsync) unless it exists: returns SD_OK,
 * RUN_EXISTS (> 0) when it does (it is left as it was), or an SD_E* code.
 * Two processes creating the same file: exactly one gets SD_OK.
 */
#define RUN_EXISTS 1
struct sd_error;
int sd__run_file_create_excl(const char *path, const char *data, size_t len,
			     struct sd_error *err);

/*
 * Directories a walk has entered, by (device, inode): a link loop
 * (ln -s . a; ln -s . b) would otherwise be walked 2^depth times.
 */
typedef struct sd__dirset {
	unsigned long long *v; /* dev, ino pairs */
	size_t n, cap;
} sd__dirset;
/* 1 when the directory `path` was seen before, 0 when it is new (now
 * recorded), -1 when it cannot be stat'ed or memory ran out. */
int sd__run_dirset_add(sd__dirset *s, const char *path);
void sd__run_dirset_free(sd__dirset *s);

/*
 * Start a run into p->out_dir: check p (parallel, shard), create the
 * directory, and check its manifest (OUT/<manifest>): a manifest of
 * another digest is refused unless p->force; a missing or different one
 * is (re)written from manifest_json. what names the workload in errors
 * ("a run", "annotations").
 */
int sd__store_prepare(const sd_run_params *p, const char *manifest, const char *digest,
		      const char *manifest_json, const char *what, int *created,
		      sd_error *err);

/*
 * A run that failed before writing anything (an error found only when a
 * backend opened, a directory that could not be made): undo what
 * sd__store_prepare created, as *created says (SCHED_MADE_*). Removes empty
 * subdirectories, then, if nothing else is left, the manifest and the
 * directory if it made it (never a file or a non-empty directory).
 */
#define SD__MADE_MANIFEST 1
#define SD__MADE_DIR 2
void sd__store_unprepare(const sd_run_params *p, const char *manifest, int created);

/* Shared by workloads */
int sd__mkdir_p(const char *path);
/*
 * Create a workload's output directory (dir, owned by the caller; NULL
 * means out of memory) and remove the temp files that writers gone from
 * it left behind.
 */
int sd__store_subdir(const char *dir, sd_error *err);

#endif

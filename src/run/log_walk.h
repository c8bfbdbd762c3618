/*
 * Finding discussion logs and annotation files under a directory: the one
 * walker of annotate (its inputs) and of the analysis (dataset, export,
 * stats, report), so that both see the same files in the same order.
 */
#ifndef SD_RUN_LOG_WALK_H
#define SD_RUN_LOG_WALK_H

#include <stdbool.h>

#include "run/files.h"
#include "syndisco.h"

/* True when s ends with suffix. */
bool sd__ends_with(const char *s, const char *suffix);

/* Compare names so that "2.json" sorts before "10.json". */
int sd__natural_cmp(const char *a, const char *b);

/* A file found; a non-zero return stops the walk and is returned by it. */
typedef int (*sd__log_found_fn)(const char *path, void *ud);

/*
 * Call found(path, ud) for every regular file named *.json under the
 * directory dir, in natural order of the names within each directory,
 * a directory's files and subdirectories interleaved by name. Rules:
 * names starting with '.' are skipped (hidden files, ., ..); so are the
 * names listed in skip (NULL-terminated; NULL for none), e.g. a run's
 * manifest; a *.json that cannot be stat'ed (a dangling link) is an
 * error, anything else that cannot be is ignored; a FIFO or device named
 * *.json is ignored (reading it would block); each directory is entered
 * once (seen, by device and inode: link loops) and at most 64 deep.
 * Returns SD_OK, found's first non-zero return, or an SD_E* code with
 * err set (naming the file or directory).
 */
int sd__log_walk(const char *dir, const char *const *skip, sd__dirset *seen,
		 sd__log_found_fn found, void *ud, sd_error *err);

#endif

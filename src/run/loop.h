/*
 * The scheduler loop shared by discussion runs and annotation runs. A
 * workload hands it items (one discussion, one annotation of a log) in
 * groups that share a backend; it keeps up to `parallel` jobs in memory
 * and up to `parallel` requests in flight, feeds every pending request
 * to the backend at once, and saves each finished job. Items already
 * complete on disk are skipped by the workload's next_item.
 */
#ifndef SD_RUN_LOOP_H
#define SD_RUN_LOOP_H

#include "syndisco.h"

/* job_next results */
enum { SD__LOOP_DONE = 0, SD__LOOP_OFFER = 1, SD__LOOP_WAIT = 2 };

typedef struct sd__loop_ops {
	size_t (*n_groups)(void *w);
	/* Backend for group g, or NULL with err set. */
	sd_backend *(*open_backend)(void *w, size_t g, int32_t parallel, sd_error *err);
	/*
	 * The next item of group g not yet complete, advancing *cursor (the
	 * workload's position, starts at 0). Complete items it passes are
	 * counted in *skipped. false when none is left.
	 */
	bool (*next_item)(void *w, size_t g, size_t *cursor, size_t *item,
			  size_t *skipped);
	void *(*job_create)(void *w, size_t item, sd_backend *b, sd_error *err);
	/*
	 * SD__LOOP_OFFER fills req (req->tag is the job's own key for the
	 * request), SD__LOOP_WAIT when it needs replies first, SD__LOOP_DONE when
	 * every reply is in, or a negative error.
	 */
	int (*job_next)(void *job, sd_request *req);
	int (*job_accept)(void *job, uint64_t key, const sd_reply *rep);
	int (*job_save)(void *w, void *job, size_t item, sd_error *err);
	void (*job_free)(void *job);
	/* e.g. "cell/3", for messages */
	void (*item_name)(void *w, size_t item, char *buf, size_t size);
} sd__loop_ops;

/*
 * Run every group. prog->total and prog->skipped as set by the caller
 * are kept; done, failed, turns and tokens are counted here. Returns
 * SD_OK, SD_ESTATE when stopped, or a backend open error.
 */
int sd__loop_run(const sd__loop_ops *ops, void *w, const sd_run_params *p,
		 sd_run_progress *prog, sd_error *err);

/*
 * Units (cells, annotators) whose backend configs are equal run together
 * on one loaded model: of[i] is unit i's group, first[k] the first unit
 * of group k, in order of first appearance.
 */
typedef struct sd__groups {
	size_t *of;
	size_t *first;
	size_t n;
} sd__groups;

/* Group units 0..n-1 by the string key(w, i). */
int sd__groups_build(sd__groups *g, size_t n, const char *(*key)(const void *w, size_t i),
		     const void *w, sd_error *err);
void sd__groups_free(sd__groups *g);
void sd__run_log(const sd_run_params *p, sd_log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif

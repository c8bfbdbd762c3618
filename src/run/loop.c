/*
 * The scheduler loop: jobs in slots, their requests in one backend, each
 * reply routed back to its job by the slot number carried in the tag.
 */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "run/files.h"
#include "run/loop.h"
#include "run/model_id.h"
#include "util/buf.h"
#include "util/error.h"

#define SLOT_BITS 16 /* parallel <= 4096 < 1 << SLOT_BITS */

typedef struct pending {
	uint64_t tag; /* the backend's */
	uint64_t key; /* the job's */
} pending;

typedef struct slot {
	void *job;
	size_t item;
	pending *out; /* requests in flight */
	size_t n_out, cap_out;
	bool waiting; /* job said SD__LOOP_WAIT: ask again after a reply */
} slot;

typedef struct loop {
	const sd__loop_ops *ops;
	void *w;
	const sd_run_params *p;
	sd_run_progress *prog;
	slot *slots;
	size_t in_flight;
	uint64_t serial;
	double t0, last_report;
	size_t reported_ended; /* done + failed at the last report */
} loop;

static double clock_seconds(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double now_seconds(void) { return clock_seconds(CLOCK_MONOTONIC); }

void sd__run_log(const sd_run_params *p, sd_log_level lvl, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	if (!p->on_log)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	p->on_log(lvl, msg, p->ud);
}

/*
 * Progress goes out at most every 0.2 s, and at once when a discussion
 * finished or failed since the last report: a caller that acts at a
 * counted point ("after 5 done") sees every count, however fast the
 * discussions are.
 */
static void report(loop *L, bool force)
{
	double t = now_seconds();
	size_t ended = L->prog->done + L->prog->failed;
	if (!force && t - L->last_report < 0.2 && ended == L->reported_ended)
		return;
	L->last_report = t;
	L->reported_ended = ended;
	L->prog->seconds = t - L->t0;
	if (L->p->on_progress)
		L->p->on_progress(L->prog, L->p->ud);
}

static void drop(loop *L, slot *s, sd_backend *b)
{
	for (size_t k = 0; k < s->n_out; k++)
		sd_backend_cancel(b, s->out[k].tag);
	L->in_flight -= s->n_out;
	L->ops->job_free(s->job);
	s->job = NULL;
	s->n_out = 0;
	s->waiting = false;
	L->prog->active--;
}

static void fail(loop *L, slot *s, sd_backend *b, const char *why)
{
	char name[256];
	L->ops->item_name(L->w, s->item, name, sizeof(name));
	sd__run_log(L->p, SD_LOG_ERROR, "%s failed: %s", name, why);
	L->prog->failed++;
	drop(L, s, b);
}

static int track(slot *s, uint64_t tag, uint64_t key)
{
	if (s->n_out == s->cap_out) {
		size_t cap = s->cap_out ? 2 * s->cap_out : 4;
		pending *o = realloc(s->out, cap * sizeof(*o));
		if (!o)
			return SD_ENOMEM;
		s->out = o;
		s->cap_out = cap;
	}
	s->out[s->n_out].tag = tag;
	s->out[s->n_out].key = key;
	s->n_out++;
	return SD_OK;
}

/* Ask the job in s for requests while there is room. */
static void feed(loop *L, slot *s, sd_backend *b, size_t parallel)
{
	while (s->job && !s->waiting && L->in_flight < parallel) {
		sd_request req;
		memset(&req, 0, sizeof(req));
		int k = L->ops->job_next(s->job, &req);
		if (k == SD__LOOP_WAIT) {
			s->waiting = true;
			return;
		}
		if (k == SD__LOOP_DONE) {
			if (s->n_out > 0) { /* a job bug; do not save it half done */
				fail(L, s, b, "finished with replies outstanding");
				return;
			}
			sd_error err;
			sd_error_clear(&err);
			if (L->ops->job_save(L->w, s->job, s->item, &err) == SD_OK) {
				L->prog->done++;
				drop(L, s, b);
			} else {
				char buf[1024];
				fail(L, s, b, sd_error_format(&err, buf, sizeof(buf)));
			}
			return;
		}
		if (k < 0) {
			fail(L, s, b, sd_strerror(k));
			return;
		}
		uint64_t key = req.tag;
		req.tag = (++L->serial << SLOT_BITS) | (uint64_t)(s - L->slots);
		if (track(s, req.tag, key) != SD_OK) {
			fail(L, s, b, "out of memory");
			return;
		}
		if (sd_backend_submit(b, &req) != SD_OK) {
			s->n_out--;
			fail(L, s, b, "the backend refused the request");
			return;
		}
		L->in_flight++;
	}
}

static void deliver(loop *L, sd_backend *b, sd_reply *rep, size_t parallel)
{
	size_t i = (size_t)(rep->tag & ((1u << SLOT_BITS) - 1));
	slot *s = i < parallel ? &L->slots[i] : NULL;
	size_t k = 0;
	while (s && k < s->n_out && s->out[k].tag != rep->tag)
		k++;
	if (!s || !s->job || k == s->n_out)
		return; /* cancelled */
	uint64_t key = s->out[k].key;
	s->out[k] = s->out[--s->n_out];
	L->in_flight--;
	s->waiting = false;
	if (rep->status != SD_OK) {
		fail(L, s, b, rep->error ? rep->error : sd_strerror(rep->status));
		return;
	}
	if (L->ops->job_accept(s->job, key, rep) != SD_OK) {
		fail(L, s, b, "could not record a reply");
		return;
	}
	L->prog->turns++;
	if (rep->n_gen_tokens > 0)
		L->prog->gen_tokens += (uint64_t)rep->n_gen_tokens;
	if (rep->n_prompt_tokens > 0)
		L->prog->prompt_tokens += (uint64_t)rep->n_prompt_tokens;
	if (rep->n_prompt_cached > 0)
		L->prog->prompt_cached += (uint64_t)rep->n_prompt_cached;
}

static int run_group(loop *L, size_t g, sd_backend *b, sd_error *err)
{
	const sd_run_params *p = L->p;
	size_t parallel = (size_t)p->parallel;
	size_t cursor = 0;
	bool exhausted = false;

	for (;;) {
		if (p->stop && *p->stop) {
			for (size_t i = 0; i < parallel; i++)
				if (L->slots[i].job)
					drop(L, &L->slots[i], b);
			return sd__error_set(
			    err, SD_ESTATE, NULL, NULL,
			    "stopped; run the same command again to resume");
		}
		for (size_t i = 0; i < parallel && !exhausted; i++) {
			slot *s = &L->slots[i];
			if (s->job)
				continue;
			size_t item;
			if (!L->ops->next_item(L->w, g, &cursor, &item,
					       &L->prog->skipped)) {
				exhausted = true;
				break;
			}
			sd_error jerr;
			sd_error_clear(&jerr);
			s->item = item;
			s->job = L->ops->job_create(L->w, item, b, &jerr);
			if (!s->job) {
				char name[256], buf[1024];
				L->ops->item_name(L->w, item, name, sizeof(name));
				sd__run_log(p, SD_LOG_ERROR, "%s: %s", name,
					    sd_error_format(&jerr, buf, sizeof(buf)));
				L->prog->failed++;
				continue;
			}
			L->prog->active++;
		}
		for (size_t i = 0; i < parallel; i++)
			feed(L, &L->slots[i], b, parallel);
		if (L->in_flight == 0) {
			bool any = false;
			for (size_t i = 0; i < parallel && !any; i++)
				any = L->slots[i].job != NULL;
			if (exhausted && !any)
				return SD_OK;
			continue;
		}
		int st = sd_backend_step(b);
		if (st < 0)
			sd__run_log(p, SD_LOG_ERROR, "backend step failed: %s",
				    sd_backend_last_error(b));
		sd_reply rep;
		while (sd_backend_collect(b, &rep) == 1) {
			deliver(L, b, &rep, parallel);
			sd_reply_clear(&rep);
		}
		/* a broken backend fails its requests; do not spin on it */
		if (st < 0) {
			for (size_t i = 0; i < parallel; i++)
				if (L->slots[i].job && L->slots[i].n_out)
					fail(L, &L->slots[i], b,
					     sd_backend_last_error(b));
		}
		report(L, false);
	}
}

int sd__loop_run(const sd__loop_ops *ops, void *w, const sd_run_params *p,
		 sd_run_progress *prog, sd_error *err)
{
	loop L;
	int rc = SD_OK;
	memset(&L, 0, sizeof(L));
	L.ops = ops;
	L.w = w;
	L.p = p;
	L.prog = prog;
	L.t0 = now_seconds();
	L.slots = calloc((size_t)p->parallel, sizeof(*L.slots));
	if (!L.slots)
		return sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
	size_t n = ops->n_groups(w);
	for (size_t g = 0; g < n && rc == SD_OK; g++) {
		/* open the model only if something of this group is left */
		size_t cursor = 0, item, skipped = 0;
		if (!ops->next_item(w, g, &cursor, &item, &skipped)) {
			prog->skipped += skipped; /* all done already */
			continue;
		}
		double t_open = now_seconds();
		double c_open = clock_seconds(CLOCK_PROCESS_CPUTIME_ID);
		sd_backend *b = ops->open_backend(w, g, p->parallel, err);
		prog->load_seconds += now_seconds() - t_open;
		prog->load_cpu_seconds +=
		    clock_seconds(CLOCK_PROCESS_CPUTIME_ID) - c_open;
		if (!b) {
			rc = err ? err->code : SD_EBACKEND;
			break;
		}
		sd_backend_set_log(b, p->on_log, p->ud);
		sd__run_log(p, SD_LOG_INFO, "model %s: up to %d in flight",
			    sd_backend_model_name(b), (int)p->parallel);
		rc = run_group(&L, g, b, err);
		sd_backend_free(b);
	}
	for (size_t i = 0; i < (size_t)p->parallel; i++)
		free(L.slots[i].out);
	free(L.slots);
	prog->finished = true;
	report(&L, true);
	return rc;
}

int sd__groups_build(sd__groups *g, size_t n, const char *(*key)(const void *w, size_t i),
		     const void *w, sd_error *err)
{
	memset(g, 0, sizeof(*g));
	g->of = calloc(n + 1, sizeof(*g->of));
	g->first = calloc(n + 1, sizeof(*g->first));
	if (!g->of || !g->first) {
		sd__groups_free(g);
		return sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		size_t k = 0;
		while (k < g->n && strcmp(key(w, g->first[k]), key(w, i)) != 0)
			k++;
		if (k == g->n)
			g->first[g->n++] = i;
		g->of[i] = k;
	}
	return SD_OK;
}

void sd__groups_free(sd__groups *g)
{
	free(g->of);
	free(g->first);
	memset(g, 0, sizeof(*g));
}

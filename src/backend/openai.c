/*
 * OpenAI-compatible backend: POST {base_url}/chat/completions for every
 * request, many in flight at once from the calling thread through
 * libcurl's multi interface. sd_backend_step() starts what may start,
 * lets curl move bytes and waits on the sockets for a bounded time, so the
 * scheduler's loop stays the same as for the embedded engine.
 *
 * Requests wait in one queue; a request leaves it for the endpoint with
 * the fewest outstanding requests and comes back to it (at the head: it
 * has waited longest) when an attempt fails in a way worth retrying.
 *
 * Failures, and what they cost:
 *  - connection errors (refused, reset, nothing received): the endpoint
 *    takes the blame, the request goes back at once and does not spend a
 *    retry, so a server killed mid-run loses nothing and a request never
 *    runs out of retries while all servers are down (down_deadline bounds
 *    that wait instead);
 *  - timeouts and HTTP 5xx: a retry, and a failure of the endpoint;
 *  - HTTP 408, 429 and replies that are not JSON: a retry only; a 429
 *    also pauses the endpoint for Retry-After (rate limits are per
 *    endpoint and key);
 *  - other HTTP errors and well-formed but unusable replies (no choices,
 *    null or empty content): the request fails at once. Retrying with the
 *    same seed would get the same answer.
 * An endpoint with OA_FAILS_TO_REST consecutive failures rests, then gets
 * a single probe request; the rest doubles (to OA_REST_MAX) while probes
 * fail and ends at the first success.
 *
 * Secrets: the API key lives only in the Authorization header list and in
 * o->api_key (to scrub it). Every log line and error message goes through
 * scrub() because servers do echo keys back ("Incorrect API key: ...").
 */
#include <curl/curl.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backend/backend.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/json.h"
#include "util/rng.h"
#include "util/utf8.h"

#define OA_STEP_BUDGET 0.1  /* seconds one step may wait on sockets */
#define OA_FAILS_TO_REST 3  /* consecutive failures that rest an endpoint */
#define OA_REST_INITIAL 1.0 /* seconds; doubles while probes fail */
#define OA_REST_MAX 30.0
#define OA_RETRY_AFTER_MAX 600.0 /* a longer Retry-After is capped */
#define OA_MAX_REPLY ((size_t)64 << 20)
#define OA_LOG_BODY_MAX 4096  /* bytes of a raw reply in the debug log */
#define OA_SERVER_MSG_MAX 400 /* bytes of a server's error text kept */

typedef struct oa_req oa_req;
struct oa_req {
	uint64_t tag;
	char *body;
	size_t body_len;
	int retries;	     /* retries spent (connection errors are free) */
	int attempts;	     /* all attempts, for messages */
	double not_before;   /* monotonic seconds; the next attempt waits */
	double t_first;	     /* first attempt started; 0 = not yet */
	char *last_error;    /* scrubbed */
	int32_t n_cached;    /* usage.prompt_tokens_details.cached_tokens */
	oa_req *prev, *next; /* in the wait queue or the in-flight list */
	/* while in flight */
	CURL *easy;
	size_t ep;
	bool probe;
	sd__buf resp;
	char errbuf[CURL_ERROR_SIZE];
};

typedef struct oa_ep {
	char *url;     /* base + "/chat/completions" */
	char *display; /* base without user:password@, for messages */
	int in_flight;
	int fails; /* consecutive */
	double rest_until;
	double rest_len;
	double paused_until; /* Retry-After of a 429 */
	uint64_t ok, failed;
} oa_ep;

typedef struct oa_list {
	oa_req *head, *tail;
	size_t n;
} oa_list;

typedef struct oa {
	sd_backend *b;
	CURLM *multi;
	struct curl_slist *headers;
	char *api_key;
	size_t key_len;
	char *model;
	json_t *extra;	     /* object or NULL */
	json_t *stop;	     /* array or NULL */
	char *grammar_field; /* NULL: never send */
	int32_t max_tokens;
	float temperature, top_p;
	bool send_seed;
	long timeout_ms, connect_timeout_ms;
	int32_t max_in_flight, max_retries;
	double backoff_initial, backoff_max, down_deadline;
	oa_ep *eps;
	size_t n_eps;
	size_t rr; /* where the next endpoint search starts */
	oa_list queue, flight;
	sd_reply *done; /* finished replies, FIFO ring */
	size_t done_cap, done_head, done_len;
	double all_down_since;
	sd__rng rng;
	bool curl_ready;
} oa;

sd_openai_params sd_openai_default_params(void)
{
	sd_openai_params p;
	memset(&p, 0, sizeof(p));
	p.temperature = -1.0f;
	p.top_p = -1.0f;
	p.send_seed = true;
	p.grammar_field = "grammar";
	p.request_timeout = 600.0;
	p.connect_timeout = 10.0;
	p.max_in_flight = 0;
	p.max_retries = 8;
	p.backoff_initial = 0.5;
	p.backoff_max = 30.0;
	p.down_deadline = 600.0;
	return p;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ------------------------------------------------------------------ */
/* Secrets, messages, logging                                         */
/* ------------------------------------------------------------------ */

static int hex_val(const char *s, int n)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		char c = s[i];
		int d = c >= '0' && c <= '9'   ? c - '0'
			: c >= 'a' && c <= 'f' ? c - 'a' + 10
			: c >= 'A' && c <= 'F' ? c - 'A' + 10
					       : -1;
		if (d < 0)
			return -1;
		v = v * 16 + d;
	}
	return v;
}

/*
 * Length of the key at s[0..n), raw or escaped, or 0. Each byte of the key
 * may be written as itself, JSON-escaped (\/, \\, \", \u00XX) or
 * URL-encoded (%XX): servers echo keys back in all of these, and a debug
 * log shows the raw body.
 */
static size_t key_at(const oa *o, const char *s, size_t n)
{
	size_t i = 0;
	for (size_t k = 0; k < o->key_len; k++) {
		int c = (unsigned char)o->api_key[k];
		if (i < n && (unsigned char)s[i] == c)
			i++;
		else if (i + 2 <= n && s[i] == '\\' && s[i + 1] == c &&
			 (c == '/' || c == '\\' || c == '"'))
			i += 2;
		else if (i + 6 <= n && s[i] == '\\' && s[i + 1] == 'u' &&
			 hex_val(s + i + 2, 4) == c)
			i += 6;
		else if (i + 3 <= n && s[i] == '%' && hex_val(s + i + 1, 2) == c)
			i += 3;
		else
			return 0;
	}
	return i;
}

/*
 * Copy of s[0..n) with every occurrence of the API key, raw or escaped,
 * replaced; *out_len (if not NULL) its length. Always scrub before
 * clipping: a key cut in two by a clip would no longer match.
 */
static char *scrub_n(const oa *o, const char *s, size_t n, size_t *out_len)
{
	sd__buf out;
	sd__buf_init(&out, 0);
	size_t p = 0, from = 0;
	while (o->key_len && p < n) {
		size_t m = (s[p] == o->api_key[0] || s[p] == '\\' || s[p] == '%')
			       ? key_at(o, s + p, n - p)
			       : 0;
		if (!m) {
			p++;
			continue;
		}
		if (sd__buf_append(&out, s + from, p - from) ||
		    sd__buf_puts(&out, "[REDACTED]"))
			goto oom;
		p += m;
		from = p;
	}
	if (sd__buf_append(&out, s + from, n - from))
		goto oom;
	if (out_len)
		*out_len = out.len;
	return sd__buf_steal(&out);
oom:
	sd__buf_free(&out);
	return NULL;
}

static char *scrub(const oa *o, const char *s) { return scrub_n(o, s, strlen(s), NULL); }

static char *vformat(const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap);
	char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
	if (s)
		vsnprintf(s, (size_t)n + 1, fmt, ap2);
	va_end(ap2);
	return s;
}

/* A scrubbed, formatted message; NULL only when memory ran out. */
static char *msgf(const oa *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static char *msgf(const oa *o, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *raw = vformat(fmt, ap);
	va_end(ap);
	char *s = raw ? scrub(o, raw) : NULL;
	free(raw);
	return s;
}

static void oa_log(const oa *o, sd_log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void oa_log(const oa *o, sd_log_level lvl, const char *fmt, ...)
{
	if (!o->b->log_fn)
		return;
	va_list ap;
	va_start(ap, fmt);
	char *raw = vformat(fmt, ap);
	va_end(ap);
	char *s = raw ? scrub(o, raw) : NULL;
	free(raw);
	if (s)
		o->b->log_fn(lvl, s, o->b->log_ud);
	free(s);
}

/* At most max bytes of s[0..n), scrubbed, as valid UTF-8 (for messages).
 * Caller frees. */
static char *clip(const oa *o, const char *s, size_t n, size_t max)
{
	size_t sn = 0;
	char *t = scrub_n(o, s, n, &sn);
	if (!t)
		return NULL;
	if (sn > max)
		sn = sd__utf8_complete_prefix(t, max);
	char *r = sd__utf8_repair(t, sn);
	free(t);
	return r;
}

/* ------------------------------------------------------------------ */
/* Queues                                                             */
/* ------------------------------------------------------------------ */

static void list_unlink(oa_list *l, oa_req *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		l->head = r->next;
	if (r->next)
		r->next->prev = r->prev;
	else
		l->tail = r->prev;
	r->prev = r->next = NULL;
	l->n--;
}

static void list_push_tail(oa_list *l, oa_req *r)
{
	r->next = NULL;
	r->prev = l->tail;
	if (l->tail)
		l->tail->next = r;
	else
		l->head = r;
	l->tail = r;
	l->n++;
}

static void list_push_head(oa_list *l, oa_req *r)
{
	r->prev = NULL;
	r->next = l->head;
	if (l->head)
		l->head->prev = r;
	else
		l->tail = r;
	l->head = r;
	l->n++;
}

static void req_free(oa_req *r)
{
	if (!r)
		return;
	free(r->body);
	free(r->last_error);
	sd__buf_free(&r->resp);
	free(r);
}

static int push_done(oa *o, sd_reply *rep)
{
	if (o->done_len == o->done_cap) {
		size_t cap = o->done_cap ? o->done_cap * 2 : 16;
		sd_reply *n = calloc(cap, sizeof(*n));
		if (!n)
			return SD_ENOMEM;
		for (size_t i = 0; i < o->done_len; i++)
			n[i] = o->done[(o->done_head + i) % o->done_cap];
		free(o->done);
		o->done = n;
		o->done_cap = cap;
		o->done_head = 0;
	}
	o->done[(o->done_head + o->done_len) % o->done_cap] = *rep;
	o->done_len++;
	return SD_OK;
}

/*
 * Deliver r (already out of every list) with text (taken) or error (taken,
 * scrubbed). Returns SD_ENOMEM when even that failed: the step reports it.
 */
static int finish(oa *o, oa_req *r, int status, char *text, char *error, int32_t n_prompt,
		  int32_t n_gen, double now)
{
	sd_reply rep;
	memset(&rep, 0, sizeof(rep));
	rep.tag = r->tag;
	rep.status = status;
	rep.text = text;
	rep.error = error;
	rep.n_prompt_tokens = n_prompt;
	rep.n_gen_tokens = n_gen;
	rep.n_prompt_cached = status == SD_OK ? r->n_cached : 0;
	rep.seconds = r->t_first > 0 ? now - r->t_first : 0;
	if (status != SD_OK) {
		if (!rep.error)
			rep.error = strdup(sd_strerror(status));
		sd__backend_set_error(o->b, "%s",
				      rep.error ? rep.error : "out of memory");
		oa_log(o, SD_LOG_WARN, "request %llu failed: %s",
		       (unsigned long long)r->tag,
		       rep.error ? rep.error : "out of memory");
	}
	req_free(r);
	if (push_done(o, &rep)) {
		sd_reply_clear(&rep);
		return SD_ENOMEM;
	}
	return SD_OK;
}

static int fail_req(oa *o, oa_req *r, char *error, double now)
{
	return finish(o, r, SD_EBACKEND, NULL, error, -1, -1, now);
}

/* ------------------------------------------------------------------ */
/* Endpoints                                                          */
/* ------------------------------------------------------------------ */

static bool ep_down(const oa_ep *e) { return e->fails >= OA_FAILS_TO_REST; }

/* May e take one more request now? */
static bool ep_open(const oa *o, const oa_ep *e, double now)
{
	if (now < e->paused_until)
		return false;
	if (ep_down(e)) /* resting, or its one probe is out */
		return now >= e->rest_until && e->in_flight == 0;
	return o->max_in_flight <= 0 || e->in_flight < o->max_in_flight;
}

/* The endpoint for the next attempt, or -1 when none may take one now. */
static long pick_ep(oa *o, double now)
{
	long best = -1;
	for (size_t k = 0; k < o->n_eps; k++) {
		size_t i = (o->rr + k) % o->n_eps;
		const oa_ep *e = &o->eps[i];
		if (!ep_open(o, e, now))
			continue;
		if (best < 0 || e->in_flight < o->eps[best].in_flight)
			best = (long)i;
	}
	if (best >= 0)
		o->rr = (size_t)best + 1;
	return best;
}

static void ep_failed(oa *o, oa_ep *e, bool probe, const char *why, double now)
{
	e->fails++;
	e->failed++;
	if (e->fails == OA_FAILS_TO_REST) {
		e->rest_len = OA_REST_INITIAL;
		e->rest_until = now + e->rest_len;
		oa_log(o, SD_LOG_WARN,
		       "endpoint %s is failing (%s); resting it for %.0f s", e->display,
		       why, e->rest_len);
	} else if (e->fails > OA_FAILS_TO_REST && probe) {
		e->rest_len = fmin(e->rest_len * 2, OA_REST_MAX);
		e->rest_until = now + e->rest_len;
		oa_log(o, SD_LOG_INFO,
		       "endpoint %s is still down (%s); next probe in %.0f s", e->display,
		       why, e->rest_len);
	}
}

static void ep_ok(oa *o, oa_ep *e)
{
	if (ep_down(e))
		oa_log(o, SD_LOG_WARN, "endpoint %s is back", e->display);
	e->fails = 0;
	e->rest_len = 0;
	e->ok++;
}

/* ------------------------------------------------------------------ */
/* Requests                                                           */
/* ------------------------------------------------------------------ */

/* The float as a short decimal: 0.8f is sent as 0.8, not 0.800000011. */
static json_t *short_real(float f)
{
	char t[32];
	snprintf(t, sizeof(t), "%.6g", (double)f);
	return json_real(strtod(t, NULL));
}

static json_t *message(const char *role, const char *content)
{
	json_t *m = json_object();
	if (!m || json_object_set_new(m, "role", json_string(role)) ||
	    json_object_set_new(m, "content", sd__json_string_repair(content))) {
		json_decref(m);
		return NULL;
	}
	return m;
}

static char *build_body(const oa *o, const sd_request *req)
{
	json_t *body = json_object(), *msgs = json_array();
	char *text = NULL;
	int32_t max_tokens = o->max_tokens > 0 ? o->max_tokens : req->sampling.max_tokens;
	float temp = o->temperature >= 0 ? o->temperature : req->sampling.temperature;
	float top_p = o->top_p >= 0 ? o->top_p : req->sampling.top_p;
	if (!body || !msgs)
		goto out;
	if (json_array_append_new(msgs, message("system", req->system_prompt)) ||
	    json_array_append_new(msgs, message("user", req->user_prompt)) ||
	    json_object_set_new(body, "model", json_string(o->model)) ||
	    json_object_set(body, "messages", msgs))
		goto out;
	if (max_tokens > 0 &&
	    json_object_set_new(body, "max_tokens", json_integer(max_tokens)))
		goto out;
	if (json_object_set_new(body, "temperature", short_real(temp)) ||
	    json_object_set_new(body, "top_p", short_real(top_p)))
		goto out;
	if (o->send_seed &&
	    json_object_set_new(body, "seed",
				json_integer((json_int_t)req->sampling.seed)))
		goto out;
	if (o->stop && json_object_set(body, "stop", o->stop))
		goto out;
	if (req->grammar && o->grammar_field &&
	    json_object_set_new(body, o->grammar_field,
				sd__json_string_repair(req->grammar)))
		goto out;
	if (o->extra && json_object_update(body, o->extra))
		goto out;
	text = json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(15));
out:
	json_decref(msgs);
	json_decref(body);
	return text;
}

static int o_submit(sd_backend *b, const sd_request *req)
{
	oa *o = b->impl;
	oa_req *r = calloc(1, sizeof(*r));
	if (!r)
		return SD_ENOMEM;
	r->tag = req->tag;
	sd__buf_init(&r->resp, OA_MAX_REPLY);
	r->body = build_body(o, req);
	if (!r->body) {
		free(r);
		return SD_ENOMEM;
	}
	r->body_len = strlen(r->body);
	list_push_tail(&o->queue, r);
	return SD_OK;
}

static size_t on_write(char *ptr, size_t size, size_t n, void *ud)
{
	oa_req *r = ud;
	/* a short count makes curl fail the transfer with CURLE_WRITE_ERROR */
	if (sd__buf_append(&r->resp, ptr, size * n))
		return 0;
	return size * n;
}

static int start(oa *o, oa_req *r, size_t ep, double now)
{
	oa_ep *e = &o->eps[ep];
	CURL *c = curl_easy_init();
	if (!c)
		return SD_ENOMEM;
	sd__buf_reset(&r->resp);
	r->errbuf[0] = '\0';
	curl_easy_setopt(c, CURLOPT_URL, e->url);
	curl_easy_setopt(c, CURLOPT_PRIVATE, r);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, r->body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, o->headers);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, r->errbuf);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, o->timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms);
	/* curl's default DNS resolver may use alarm(); we have other threads */
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "syndisco/" SD_VERSION_STRING);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	if (curl_multi_add_handle(o->multi, c) != CURLM_OK) {
		curl_easy_cleanup(c);
		return SD_ENOMEM;
	}
	list_unlink(&o->queue, r);
	list_push_tail(&o->flight, r);
	r->easy = c;
	r->ep = ep;
	r->probe = ep_down(e);
	r->attempts++;
	if (r->t_first == 0)
		r->t_first = now;
	e->in_flight++;
	if (r->probe)
		oa_log(o, SD_LOG_INFO, "probing endpoint %s with request %llu",
		       e->display, (unsigned long long)r->tag);
	return SD_OK;
}

/* Start every waiting request that may start now. */
static int dispatch(oa *o, double now)
{
	oa_req *r, *next;
	for (r = o->queue.head; r; r = next) {
		next = r->next;
		if (r->not_before > now)
			continue;
		long ep = pick_ep(o, now);
		if (ep < 0)
			break;
		if (start(o, r, (size_t)ep, now)) {
			list_unlink(&o->queue, r);
			if (fail_req(o, r, strdup("out of memory starting a request"),
				     now))
				return SD_ENOMEM;
		}
	}
	return SD_OK;
}

static double backoff(oa *o, int retry)
{
	double d = o->backoff_initial * ldexp(1.0, retry > 30 ? 30 : retry - 1);
	d = fmin(d, o->backoff_max);
	/* "equal jitter": never less than half, so retries still back off */
	return d * (0.5 + 0.5 * sd__rng_double(&o->rng));
}

/*
 * A server's Retry-After, capped at backoff_max: a server may ask for hours,
 * and the config's patience is the user's to set. Says so in the log.
 */
static double capped_retry_after(const oa *o, const oa_req *r, const oa_ep *e,
				 curl_off_t retry_after)
{
	if (retry_after <= 0)
		return 0;
	double d = fmin((double)retry_after, OA_RETRY_AFTER_MAX);
	if (d > o->backoff_max) {
		oa_log(o, SD_LOG_WARN,
		       "request %llu: %s asks to wait %lld s (Retry-After); waiting "
		       "%.1f s (backoff_max)",
		       (unsigned long long)r->tag, e->display, (long long)retry_after,
		       o->backoff_max);
		d = o->backoff_max;
	}
	return d > 0 ? d : 0.001;
}

/* Back into the queue after retry_after (<= 0: backoff) or fail for good. */
static int retry_or_fail(oa *o, oa_req *r, char *why, double retry_after, double now)
{
	if (!why)
		return fail_req(o, r, NULL, now);
	if (r->retries >= o->max_retries) {
		char *m = msgf(o, "gave up after %d attempts (max_retries %d): %s",
			       r->attempts, (int)o->max_retries, why);
		free(why);
		return fail_req(o, r, m, now);
	}
	r->retries++;
	double d = retry_after > 0 ? fmin(retry_after, OA_RETRY_AFTER_MAX)
				   : backoff(o, r->retries);
	r->not_before = now + d;
	oa_log(o, SD_LOG_INFO, "request %llu: %s; retry %d of %d in %.1f s",
	       (unsigned long long)r->tag, why, r->retries, (int)o->max_retries, d);
	free(r->last_error);
	r->last_error = why;
	list_push_head(&o->queue, r);
	return SD_OK;
}

/* The server's own words from an error body: error.message and kin. */
static char *server_message(const oa *o, const char *body, size_t len)
{
	json_t *j = json_loadb(body, len, 0, NULL);
	const char *m = NULL;
	if (json_is_object(j)) {
		const json_t *e = json_object_get(j, "error");
		if (json_is_object(e))
			m = json_string_value(json_object_get(e, "message"));
		else if (json_is_string(e))
			m = json_string_value(e);
		if (!m)
			m = json_string_value(json_object_get(j, "message"));
		if (!m)
			m = json_string_value(json_object_get(j, "detail"));
	}
	char *s = m	? clip(o, m, strlen(m), OA_SERVER_MSG_MAX)
		  : len ? clip(o, body, len, OA_SERVER_MSG_MAX)
			: strdup("(empty body)");
	json_decref(j);
	return s;
}

enum { PARSE_OK, PARSE_RETRY, PARSE_FAIL };

/*
 * A 2xx body: the text of choices[0].message.content and the usage
 * counts, or *why (unscrubbed) and whether the failure is worth a retry.
 */
static int parse_reply(const oa *o, const char *body, size_t len, char **text,
		       int32_t *n_prompt, int32_t *n_gen, int32_t *n_cached, char **why)
{
	char *fixed = NULL;
	json_error_t je;
	json_t *j = NULL;
	int rc = PARSE_FAIL;
	int mrc = 0; /* the message's append: failed -> *why NULL (out of memory) */
	sd__buf m;
	sd__buf_init(&m, 0);
	*text = NULL;
	*why = NULL;
	if (!sd__utf8_valid(body, len)) {
		fixed = sd__utf8_repair(body, len);
		if (!fixed)
			goto oom;
		body = fixed;
		len = strlen(fixed);
	}
	j = json_loadb(body, len, JSON_ALLOW_NUL, &je);
	if (!j) {
		char *head = clip(o, body, len, 80);
		mrc =
		    sd__buf_printf(&m, "reply is not valid JSON (%s at byte %d): \"%s\"",
				   je.text, je.position, head ? head : "");
		free(head);
		rc = PARSE_RETRY;
		goto out;
	}
	const json_t *choices = json_object_get(j, "choices");
	if (!json_is_array(choices) || json_array_size(choices) == 0) {
		const json_t *e = json_object_get(j, "error");
		const char *em = json_is_object(e)
				     ? json_string_value(json_object_get(e, "message"))
				     : json_string_value(e);
		mrc = sd__buf_printf(&m, "reply has no \"choices\"%s%s", em ? ": " : "",
				     em ? em : "");
		goto out;
	}
	const json_t *c0 = json_array_get(choices, 0);
	const json_t *content =
	    json_object_get(json_object_get(c0, "message"), "content");
	const char *fr = json_string_value(json_object_get(c0, "finish_reason"));
	if (!content || json_is_null(content)) {
		mrc = sd__buf_printf(&m, "reply content is null (finish_reason: %s)",
				     fr ? fr : "none");
		goto out;
	}
	if (!json_is_string(content)) {
		mrc = sd__buf_printf(&m, "reply content is not a string but %s",
				     json_is_array(content)    ? "an array"
				     : json_is_object(content) ? "an object"
							       : "a number or boolean");
		goto out;
	}
	if (json_string_length(content) == 0) {
		mrc = sd__buf_printf(&m, "reply content is empty (finish_reason: %s)",
				     fr ? fr : "none");
		goto out;
	}
	*text = sd__utf8_repair(json_string_value(content), json_string_length(content));
	if (!*text)
		goto oom;
	const json_t *usage = json_object_get(j, "usage");
	const json_t *pt = json_object_get(usage, "prompt_tokens");
	const json_t *ct = json_object_get(usage, "completion_tokens");
	*n_prompt = json_is_integer(pt) && json_integer_value(pt) >= 0 &&
			    json_integer_value(pt) <= INT32_MAX
			? (int32_t)json_integer_value(pt)
			: -1;
	*n_gen = json_is_integer(ct) && json_integer_value(ct) >= 0 &&
			 json_integer_value(ct) <= INT32_MAX
		     ? (int32_t)json_integer_value(ct)
		     : -1;
	/* prompt tokens the server took from its cache (OpenAI, vLLM and
	   llama-server report them here); absent = none known */
	const json_t *cached = json_object_get(
	    json_object_get(usage, "prompt_tokens_details"), "cached_tokens");
	*n_cached = json_is_integer(cached) && json_integer_value(cached) >= 0 &&
			    json_integer_value(cached) <= *n_prompt
			? (int32_t)json_integer_value(cached)
			: 0;
	rc = PARSE_OK;
	goto out;
oom:
	sd__buf_reset(&m);
	mrc = sd__buf_puts(&m, "out of memory reading a reply");
out:
	if (rc != PARSE_OK)
		*why = mrc ? NULL : sd__buf_steal(&m);
	sd__buf_free(&m);
	json_decref(j);
	free(fixed);
	return rc;
}

/* One finished transfer: deliver, retry or fail it. */
static int handle_done(oa *o, oa_req *r, CURLcode res, double now)
{
	oa_ep *e = &o->eps[r->ep];
	CURL *c = r->easy;
	long code = 0;
	curl_off_t retry_after = 0, connect_us = 0;
	double secs = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_getinfo(c, CURLINFO_RETRY_AFTER, &retry_after);
	curl_easy_getinfo(c, CURLINFO_CONNECT_TIME_T, &connect_us);
	curl_easy_getinfo(c, CURLINFO_TOTAL_TIME, &secs);
	curl_multi_remove_handle(o->multi, c);
	curl_easy_cleanup(c);
	r->easy = NULL;
	e->in_flight--;
	list_unlink(&o->flight, r);

	const char *body = r->resp.data ? r->resp.data : "";
	size_t len = r->resp.len;
	if (o->b->log_fn && (res == CURLE_OK || len)) {
		char *shown = clip(o, body, len, OA_LOG_BODY_MAX);
		oa_log(o, SD_LOG_DEBUG,
		       "request %llu: HTTP %ld from %s in %.3f s, %zu bytes: %s%s",
		       (unsigned long long)r->tag, code, e->display, secs, len,
		       shown ? shown : "", len > OA_LOG_BODY_MAX ? " [...]" : "");
		free(shown);
	}

	if (res == CURLE_WRITE_ERROR)
		return fail_req(o, r,
				msgf(o, "reply from %s is larger than %zu MiB",
				     e->display, OA_MAX_REPLY >> 20),
				now);
	if (res == CURLE_OPERATION_TIMEDOUT && connect_us > 0) {
		char *why = msgf(o, "no reply from %s within %.0f s (request_timeout)",
				 e->display, (double)o->timeout_ms / 1000.0);
		ep_failed(o, e, r->probe, "timeout", now);
		return retry_or_fail(o, r, why, 0, now);
	}
	if (res != CURLE_OK) {
		/* never connected, or the connection broke: the endpoint's fault */
		char *why = msgf(o, "%s: %s", e->display,
				 r->errbuf[0] ? r->errbuf : curl_easy_strerror(res));
		ep_failed(o, e, r->probe,
			  r->errbuf[0] ? r->errbuf : curl_easy_strerror(res), now);
		if (!why)
			return fail_req(o, r, NULL, now);
		oa_log(o, SD_LOG_DEBUG, "request %llu: %s; sending it again",
		       (unsigned long long)r->tag, why);
		free(r->last_error);
		r->last_error = why;
		r->not_before = 0;
		list_push_head(&o->queue, r);
		return SD_OK;
	}
	if (code >= 200 && code < 300) {
		char *text = NULL, *why = NULL;
		int32_t np = -1, ng = -1;
		int pr = parse_reply(o, body, len, &text, &np, &ng, &r->n_cached, &why);
		ep_ok(o, e);
		if (pr == PARSE_OK) {
			o->all_down_since = 0;
			return finish(o, r, SD_OK, text, NULL, np, ng, now);
		}
		char *m = msgf(o, "%s: %s", e->display, why ? why : "out of memory");
		free(why);
		if (pr == PARSE_RETRY)
			return retry_or_fail(o, r, m, 0, now);
		return fail_req(o, r, m, now);
	}
	char *sm = server_message(o, body, len);
	char *why = msgf(o, "HTTP %ld from %s: %s", code, e->display, sm ? sm : "");
	free(sm);
	if (code == 429 || code == 408) {
		double d = capped_retry_after(o, r, e, retry_after);
		if (code == 429) {
			/* rate limits hold for the endpoint, not one request */
			double pause = d > 0 ? fmin(d, OA_RETRY_AFTER_MAX)
					     : backoff(o, r->retries + 1);
			e->paused_until = fmax(e->paused_until, now + pause);
		}
		return retry_or_fail(o, r, why, d, now);
	}
	if (code >= 500) {
		ep_failed(o, e, r->probe, "server error", now);
		return retry_or_fail(o, r, why, capped_retry_after(o, r, e, retry_after),
				     now);
	}
	/* other 4xx: the request itself is wrong; the server is fine */
	ep_ok(o, e);
	return fail_req(o, r, why, now);
}

static int harvest(oa *o)
{
	CURLMsg *m;
	int left, rc = SD_OK;
	while ((m = curl_multi_info_read(o->multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		oa_req *r = NULL;
		CURLcode res = m->data.result;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
		if (r && handle_done(o, r, res, now_s()))
			rc = SD_ENOMEM;
	}
	return rc;
}

/* All endpoints down: wait, and after down_deadline fail what waits. */
static int check_down(oa *o, double now)
{
	bool all = true;
	for (size_t i = 0; i < o->n_eps && all; i++)
		all = ep_down(&o->eps[i]);
	if (!all) {
		o->all_down_since = 0;
		return SD_OK;
	}
	if (o->all_down_since == 0) {
		o->all_down_since = now;
		if (o->down_deadline > 0)
			oa_log(o, SD_LOG_WARN,
			       "all %zu endpoint(s) are down; requests wait up "
			       "to %.0f s (down_deadline) for one to come back",
			       o->n_eps, o->down_deadline);
		else
			oa_log(o, SD_LOG_WARN,
			       "all %zu endpoint(s) are down; requests wait "
			       "until one comes back",
			       o->n_eps);
		return SD_OK;
	}
	if (o->down_deadline <= 0 || now - o->all_down_since < o->down_deadline)
		return SD_OK;
	while (o->queue.head) {
		oa_req *r = o->queue.head;
		list_unlink(&o->queue, r);
		char *m =
		    msgf(o,
			 "all %zu endpoint(s) down for %.0f s (down_deadline %.0f s); "
			 "last error: %s",
			 o->n_eps, now - o->all_down_since, o->down_deadline,
			 r->last_error ? r->last_error : "none");
		if (fail_req(o, r, m, now))
			return SD_ENOMEM;
	}
	return SD_OK;
}

/* Seconds until something waiting may start (a retry, a rest's end). */
static double next_wake(const oa *o, double now)
{
	double t = INFINITY;
	bool ready = false;
	for (const oa_req *r = o->queue.head; r; r = r->next) {
		if (r->not_before > now)
			t = fmin(t, r->not_before);
		else
			ready = true;
	}
	if (ready) {
		/* it waits for an endpoint: for a rest or a pause to end */
		for (size_t i = 0; i < o->n_eps; i++) {
			const oa_ep *e = &o->eps[i];
			if (ep_open(o, e, now))
				return 0;
			if (e->paused_until > now)
				t = fmin(t, e->paused_until);
			if (ep_down(e) && e->rest_until > now)
				t = fmin(t, e->rest_until);
		}
	}
	return t - now;
}

static int o_step(sd_backend *b)
{
	oa *o = b->impl;
	double end = now_s() + OA_STEP_BUDGET;
	for (;;) {
		int running = 0;
		if (dispatch(o, now_s()))
			goto oom;
		CURLMcode mc = curl_multi_perform(o->multi, &running);
		if (mc != CURLM_OK) {
			sd__backend_set_error(b, "libcurl: %s", curl_multi_strerror(mc));
			return SD_EBACKEND;
		}
		if (harvest(o) || check_down(o, now_s()))
			goto oom;
		size_t live = o->queue.n + o->flight.n;
		double t = now_s();
		if (o->done_len > 0 || live == 0 || t >= end)
			return live > INT_MAX ? INT_MAX : (int)live;
		double wait = end - t;
		if (o->flight.n == 0)
			wait = fmin(wait, next_wake(o, t));
		if (wait <= 0)
			continue; /* something may start right away */
		int ms = (int)ceil(wait * 1000.0);
		curl_multi_poll(o->multi, NULL, 0, ms < 1 ? 1 : ms, NULL);
	}
oom:
	sd__backend_set_error(b, "out of memory");
	return SD_ENOMEM;
}

static int o_collect(sd_backend *b, sd_reply *out)
{
	oa *o = b->impl;
	if (o->done_len == 0)
		return 0;
	*out = o->done[o->done_head];
	o->done_head = (o->done_head + 1) % o->done_cap;
	o->done_len--;
	return 1;
}

static int o_cancel(sd_backend *b, uint64_t tag)
{
	oa *o = b->impl;
	oa_req *r;
	for (r = o->queue.head; r; r = r->next) {
		if (r->tag == tag) {
			list_unlink(&o->queue, r);
			req_free(r);
			return SD_OK;
		}
	}
	for (r = o->flight.head; r; r = r->next) {
		if (r->tag == tag) {
			curl_multi_remove_handle(o->multi, r->easy);
			curl_easy_cleanup(r->easy);
			o->eps[r->ep].in_flight--;
			list_unlink(&o->flight, r);
			req_free(r);
			return SD_OK;
		}
	}
	for (size_t i = 0; i < o->done_len; i++) {
		size_t k = (o->done_head + i) % o->done_cap;
		if (o->done[k].tag != tag)
			continue;
		sd_reply_clear(&o->done[k]);
		/* close the gap, keeping the order of the rest */
		for (size_t j = i; j + 1 < o->done_len; j++)
			o->done[(o->done_head + j) % o->done_cap] =
			    o->done[(o->done_head + j + 1) % o->done_cap];
		o->done_len--;
		return SD_OK;
	}
	return SD_ENOTFOUND;
}

static void wipe(char *s, size_t n)
{
	if (s)
		explicit_bzero(s, n);
}

static void o_destroy(sd_backend *b)
{
	oa *o = b->impl;
	if (!o)
		return;
	while (o->flight.head) {
		oa_req *r = o->flight.head;
		curl_multi_remove_handle(o->multi, r->easy);
		curl_easy_cleanup(r->easy);
		list_unlink(&o->flight, r);
		req_free(r);
	}
	while (o->queue.head) {
		oa_req *r = o->queue.head;
		list_unlink(&o->queue, r);
		req_free(r);
	}
	while (o->done_len) {
		sd_reply_clear(&o->done[o->done_head]);
		o->done_head = (o->done_head + 1) % o->done_cap;
		o->done_len--;
	}
	free(o->done);
	if (o->multi)
		curl_multi_cleanup(o->multi);
	for (struct curl_slist *h = o->headers; h; h = h->next)
		wipe(h->data, strlen(h->data));
	curl_slist_free_all(o->headers);
	wipe(o->api_key, o->key_len);
	free(o->api_key);
	free(o->model);
	free(o->grammar_field);
	json_decref(o->extra);
	json_decref(o->stop);
	for (size_t i = 0; i < o->n_eps; i++) {
		free(o->eps[i].url);
		free(o->eps[i].display);
	}
	free(o->eps);
	if (o->curl_ready)
		curl_global_cleanup();
	free(o);
}

static const struct sd__backend_ops openai_ops = {
    .kind = "openai",
    .submit = o_submit,
    .step = o_step,
    .collect = o_collect,
    .cancel = o_cancel,
    .format_chat = NULL,
    .destroy = o_destroy,
};

/* ------------------------------------------------------------------ */
/* Creation                                                           */
/* ------------------------------------------------------------------ */

/* "http://user:pw@host/v1/" -> url ".../v1/chat/completions", display
 * "http://host/v1". */
static int make_endpoint(oa_ep *e, const char *base, size_t i, sd_error *err)
{
	char field[64];
	snprintf(field, sizeof(field), "base_urls[%zu]", i);
	if (!base || (strncmp(base, "http://", 7) && strncmp(base, "https://", 8)))
		return sd__error_set(
		    err, SD_EINVAL, NULL, field,
		    "must start with http:// or https://, got \"%.100s\"",
		    base ? base : "(null)");
	size_t n = strlen(base);
	while (n > 0 && base[n - 1] == '/')
		n--;
	const char *host = strstr(base, "://") + 3;
	const char *at = memchr(host, '@', (size_t)(base + n - host));
	const char *slash = memchr(host, '/', (size_t)(base + n - host));
	sd__buf u, d;
	sd__buf_init(&u, 0);
	sd__buf_init(&d, 0);
	int rc = sd__buf_append(&u, base, n) || sd__buf_puts(&u, "/chat/completions");
	if (at && (!slash || at < slash))
		rc = rc || sd__buf_append(&d, base, (size_t)(host - base)) ||
		     sd__buf_append(&d, at + 1, (size_t)(base + n - at - 1));
	else
		rc = rc || sd__buf_append(&d, base, n);
	if (rc || (host == base + n)) {
		sd__buf_free(&u);
		sd__buf_free(&d);
		return rc ? sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory")
			  : sd__error_set(err, SD_EINVAL, NULL, field, "no host");
	}
	e->url = sd__buf_steal(&u);
	e->display = sd__buf_steal(&d);
	return SD_OK;
}

static int set_params(oa *o, const sd_openai_params *p, sd_error *err)
{
	if (!p->base_urls || p->n_base_urls == 0)
		return sd__error_set(err, SD_EINVAL, NULL, "base_urls",
				     "at least one base URL is needed");
	if (!p->model || !p->model[0])
		return sd__error_set(err, SD_EINVAL, NULL, "model",
				     "the name of the model the server serves is needed");
	if (!(p->request_timeout > 0) || !(p->connect_timeout > 0))
		return sd__error_set(err, SD_EINVAL, NULL,
				     p->request_timeout > 0 ? "connect_timeout"
							    : "request_timeout",
				     "must be more than 0 seconds");
	if (p->max_in_flight < 0 || p->max_retries < 0 || p->backoff_initial < 0 ||
	    p->backoff_max < 0 || p->down_deadline < 0)
		return sd__error_set(
		    err, SD_EINVAL, NULL, NULL,
		    "max_in_flight, max_retries, backoff_* and down_deadline "
		    "must not be negative");
	if (p->grammar_field && !p->grammar_field[0])
		return sd__error_set(err, SD_EINVAL, NULL, "grammar_field",
				     "must be a field name or null");
	o->max_tokens = p->max_tokens;
	o->temperature = p->temperature;
	o->top_p = p->top_p;
	o->send_seed = p->send_seed;
	o->timeout_ms = (long)fmin(p->request_timeout * 1000.0, (double)LONG_MAX / 2);
	o->connect_timeout_ms =
	    (long)fmin(p->connect_timeout * 1000.0, (double)LONG_MAX / 2);
	o->max_in_flight = p->max_in_flight;
	o->max_retries = p->max_retries;
	o->backoff_initial = p->backoff_initial;
	o->backoff_max = p->backoff_max;
	o->down_deadline = p->down_deadline;
	o->model = strdup(p->model);
	if (!o->model)
		return sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
	if (p->grammar_field && !(o->grammar_field = strdup(p->grammar_field)))
		return sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
	if (p->extra_body) {
		json_error_t je;
		o->extra = json_loads(p->extra_body, 0, &je);
		if (!json_is_object(o->extra))
			return sd__error_set(err, SD_EINVAL, NULL, "extra_body",
					     "must be a JSON object%s%s",
					     o->extra ? "" : ": ",
					     o->extra ? "" : je.text);
	}
	if (p->n_stop) {
		o->stop = json_array();
		if (!o->stop)
			return sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
		for (size_t i = 0; i < p->n_stop; i++) {
			if (!p->stop[i] || !p->stop[i][0])
				return sd__error_set(
				    err, SD_EINVAL, NULL, "stop",
				    "entry %zu must be a non-empty string", i);
			if (json_array_append_new(o->stop,
						  sd__json_string_repair(p->stop[i])))
				return sd__error_set(err, SD_ENOMEM, NULL, NULL,
						     "out of memory");
		}
	}
	o->eps = calloc(p->n_base_urls, sizeof(*o->eps));
	if (!o->eps)
		return sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
	for (size_t i = 0; i < p->n_base_urls; i++) {
		int rc = make_endpoint(&o->eps[i], p->base_urls[i], i, err);
		if (rc)
			return rc;
		o->n_eps = i + 1;
	}
	return SD_OK;
}

static int set_headers(oa *o, const char *key, sd_error *err)
{
	static const char *const fixed[] = {
	    "Content-Type: application/json",
	    "Accept: application/json",
	    /* curl would wait up to a second for "100 Continue" on big bodies */
	    "Expect:",
	};
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		struct curl_slist *h = curl_slist_append(o->headers, fixed[i]);
		if (!h)
			return sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
		o->headers = h;
	}
	if (!key || !key[0])
		return SD_OK;
	if (strpbrk(key, "\r\n"))
		return sd__error_set(err, SD_EINVAL, NULL, "api_key",
				     "contains a line break");
	o->key_len = strlen(key);
	o->api_key = strdup(key);
	sd__buf h;
	sd__buf_init(&h, 0);
	int rc = !o->api_key || sd__buf_printf(&h, "Authorization: Bearer %s", key);
	struct curl_slist *l = rc ? NULL : curl_slist_append(o->headers, h.data);
	wipe(h.data, h.len);
	sd__buf_free(&h);
	if (!l)
		return sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
	o->headers = l;
	return SD_OK;
}

sd_backend *sd_backend_openai_create(const sd_openai_params *p, sd_error *err)
{
	oa *o = NULL;
	sd_backend *b = NULL;
	if (!p) {
		sd__error_set(err, SD_EINVAL, NULL, NULL, "no parameters");
		return NULL;
	}
	o = calloc(1, sizeof(*o));
	if (!o) {
		sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
		return NULL;
	}
	b = sd__backend_new(&openai_ops, p->model_name ? p->model_name : p->model, o);
	if (!b) {
		free(o);
		sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
		return NULL;
	}
	o->b = b;
	if (set_params(o, p, err) || set_headers(o, p->api_key, err))
		goto fail;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		sd__error_set(err, SD_EBACKEND, NULL, NULL,
			      "libcurl could not initialize");
		goto fail;
	}
	o->curl_ready = true;
	o->multi = curl_multi_init();
	if (!o->multi) {
		sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
		goto fail;
	}
	/* jitter only: the timing of retries never reaches the output */
	sd__rng_seed(&o->rng, (uint64_t)getpid() ^ (uint64_t)(now_s() * 1e9));
	return b;
fail:
	sd_backend_free(b);
	return NULL;
}

/*
 * For the fuzz target only (tests/fuzz/fuzz_openai_reply.c; declared
 * there, not in any header): read body as a 2xx reply and as an error
 * reply, as handle_done() does, with key as the API key to scrub. Returns
 * 1 when a message still holds the key (the target then aborts).
 */
int sd__openai_fuzz_reply(const char *body, size_t len, const char *key);
int sd__openai_fuzz_reply(const char *body, size_t len, const char *key)
{
	oa o;
	int leak = 0;
	memset(&o, 0, sizeof(o));
	o.api_key = (char *)key;
	o.key_len = strlen(key);
	char *text = NULL, *why = NULL;
	int32_t np = 0, ng = 0, nc = 0;
	parse_reply(&o, body, len, &text, &np, &ng, &nc, &why);
	char *m = why ? scrub(&o, why) : NULL;
	char *sm = server_message(&o, body, len);
	char *shown = clip(&o, body, len, OA_LOG_BODY_MAX);
	leak = (m && strstr(m, key)) || (sm && strstr(sm, key)) ||
	       (shown && strstr(shown, key));
	free(text);
	free(why);
	free(m);
	free(sm);
	free(shown);
	return leak;
}

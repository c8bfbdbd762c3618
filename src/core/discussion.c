/*
 * A discussion as a state machine: it offers the next generation request
 * and accepts its reply. It never blocks and never calls a backend, which
 * is what lets a scheduler hold many discussions and batch their turns.
 */
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "syndisco.h"
#include "util/error.h"
#include "util/rng.h"
#include "util/utf8.h"

enum pending_kind { PENDING_NONE, PENDING_USER, PENDING_MODERATOR };

struct sd_discussion {
	sd_discussion_params p;
	sd_actor *const *users; /* borrowed */
	size_t n_users;
	sd_actor *moderator;    /* borrowed; may be NULL */
	sd_turn_manager *tm;    /* borrowed */
	char **system_prompts;  /* per user; computed once */
	char *moderator_system;
	sd_logs *logs;

	int32_t turns_done;     /* prompted user turns so far */
	uint64_t n_requests;    /* requests offered; drives sampler seeds */
	bool moderator_due;
	bool done;
	enum pending_kind pending;
	size_t pending_user;
	char *pending_prompt;
};

sd_discussion_params sd_discussion_default_params(void)
{
	sd_discussion_params p = {
		.conv_len = 5,
		.history_ctx_len = 5,
		.seed = 0,
		.sampling = sd_sampling_default(),
		.seed_opinions = NULL,
		.n_seed_opinions = 0,
	};
	return p;
}

static bool is_blank(const char *s)
{
	for (; *s; s++)
		if (!strchr(" \t\r\n\v\f", *s))
			return false;
	return true;
}

sd_discussion *sd_discussion_create(const sd_discussion_params *p,
				    sd_actor *const *users, size_t n_users,
				    sd_actor *moderator, sd_turn_manager *tm,
				    sd_error *err)
{
	sd_discussion *d = NULL;
	const char **names = NULL;
	int rc;

	if (!p || !users || n_users == 0 || !tm) {
		sd_error_set(err, SD_EINVAL, NULL, "users",
			     "a discussion needs users and a turn manager");
		return NULL;
	}
	if (p->conv_len < 0) {
		sd_error_set(err, SD_EINVAL, NULL, "conv_len",
			     "must be >= 0, got %d", (int)p->conv_len);
		return NULL;
	}
	if (p->history_ctx_len < 1) {
		sd_error_set(err, SD_EINVAL, NULL, "history_ctx_len",
			     "must be >= 1, got %d", (int)p->history_ctx_len);
		return NULL;
	}
	for (size_t i = 0; i < n_users; i++) {
		if (!users[i]) {
			sd_error_set(err, SD_EINVAL, NULL, "users", "NULL user");
			return NULL;
		}
		for (size_t k = 0; k < i; k++) {
			if (strcmp(sd_actor_name(users[i]), sd_actor_name(users[k])) == 0) {
				sd_error_set(err, SD_EINVAL, NULL, "users",
					     "username \"%s\" appears twice",
					     sd_actor_name(users[i]));
				return NULL;
			}
		}
		if (moderator && strcmp(sd_actor_name(users[i]),
					sd_actor_name(moderator)) == 0) {
			sd_error_set(err, SD_EINVAL, NULL, "moderator",
				     "the moderator's username \"%s\" is also a user's",
				     sd_actor_name(moderator));
			return NULL;
		}
	}
	for (size_t i = 0; i < p->n_seed_opinions; i++) {
		const sd_seed_opinion *s = &p->seed_opinions[i];
		if (!s->username || !s->username[0] || !s->text) {
			sd_error_set(err, SD_EINVAL, NULL, "seed_opinions",
				     "seed opinion %zu needs a username and a text", i);
			return NULL;
		}
	}

	d = calloc(1, sizeof(*d));
	if (!d)
		goto oom;
	d->p = *p;
	d->p.seed_opinions = NULL;
	d->users = users;
	d->n_users = n_users;
	d->moderator = moderator;
	d->tm = tm;
	d->logs = sd_logs_new();
	d->system_prompts = calloc(n_users, sizeof(char *));
	names = calloc(n_users, sizeof(char *));
	if (!d->logs || !d->system_prompts || !names)
		goto oom;
	for (size_t i = 0; i < n_users; i++) {
		if (sd_actor_system_prompt(users[i], &d->system_prompts[i]))
			goto oom;
		names[i] = sd_actor_name(users[i]);
	}
	if (moderator && sd_actor_system_prompt(moderator, &d->moderator_system))
		goto oom;
	rc = sd_logs_set_participants(d->logs, names,
				      (const char *const *)d->system_prompts,
				      n_users,
				      moderator ? sd_actor_name(moderator) : NULL,
				      d->moderator_system, p->history_ctx_len,
				      p->seed);
	if (rc)
		goto oom;
	/* seed opinions open the thread; they are hard-coded, not prompted */
	for (size_t i = 0; i < p->n_seed_opinions; i++) {
		const sd_seed_opinion *s = &p->seed_opinions[i];
		if (is_blank(s->text))
			continue;
		if (sd_logs_append(d->logs, s->username, s->text, "hardcoded",
				   NULL, false, -1, -1))
			goto oom;
	}
	free(names);
	return d;
oom:
	free(names);
	sd_discussion_free(d);
	sd_error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
	return NULL;
}

void sd_discussion_free(sd_discussion *d)
{
	if (!d)
		return;
	if (d->system_prompts)
		for (size_t i = 0; i < d->n_users; i++)
			free(d->system_prompts[i]);
	free(d->system_prompts);
	free(d->moderator_system);
	free(d->pending_prompt);
	sd_logs_free(d->logs);
	free(d);
}

/* The user prompt for `a` over the last history_ctx_len comments. */
static int render_prompt(sd_discussion *d, const sd_actor *a, char **out)
{
	size_t n = sd_logs_comment_count(d->logs);
	size_t w = (size_t)d->p.history_ctx_len;
	size_t first = n > w ? n - w : 0;
	sd_comment_view *views = NULL;
	if (n - first) {
		views = calloc(n - first, sizeof(*views));
		if (!views)
			return SD_ENOMEM;
	}
	for (size_t i = first; i < n; i++) {
		sd_log_comment c = sd_logs_comment(d->logs, i);
		views[i - first].name = c.name;
		views[i - first].text = c.text;
	}
	int rc = sd_actor_user_prompt(a, views, n - first, out);
	free(views);
	return rc;
}

int sd_discussion_next(sd_discussion *d, sd_request *req)
{
	if (!d || !req)
		return SD_EINVAL;
	if (d->pending == PENDING_NONE) {
		const sd_actor *speaker;
		if (d->moderator && d->moderator_due) {
			d->pending = PENDING_MODERATOR;
			speaker = d->moderator;
		} else if (d->turns_done < d->p.conv_len) {
			d->pending = PENDING_USER;
			d->pending_user = sd_turn_manager_next(d->tm);
			if (d->pending_user >= d->n_users) {
				d->pending = PENDING_NONE;
				return SD_ESTATE;
			}
			speaker = d->users[d->pending_user];
		} else {
			d->done = true;
			return 0;
		}
		int rc = render_prompt(d, speaker, &d->pending_prompt);
		if (rc) {
			d->pending = PENDING_NONE;
			return rc;
		}
		d->n_requests++;
	}
	memset(req, 0, sizeof(*req));
	req->tag = d->n_requests;
	req->system_prompt = d->pending == PENDING_MODERATOR
				     ? d->moderator_system
				     : d->system_prompts[d->pending_user];
	req->user_prompt = d->pending_prompt;
	req->sampling = d->p.sampling;
	/* each request gets its own seed so a retry or a reorder by the
	 * scheduler cannot change what a given turn samples */
	req->sampling.seed = (uint32_t)sd_seed_mix(d->p.seed, d->n_requests);
	return 1;
}

int sd_discussion_accept(sd_discussion *d, const char *text,
			 const sd_reply *reply)
{
	if (!d || !text)
		return SD_EINVAL;
	if (d->pending == PENDING_NONE)
		return SD_ESTATE;
	const sd_actor *a = d->pending == PENDING_MODERATOR
				    ? d->moderator : d->users[d->pending_user];
	bool was_user = d->pending == PENDING_USER;
	char *fixed = NULL;
	int rc = SD_OK;
	size_t n = strlen(text);
	if (!sd_utf8_valid(text, n)) {
		fixed = sd_utf8_repair(text, n);
		if (!fixed)
			return SD_ENOMEM;
		text = fixed;
	}
	if (!is_blank(text)) {
		rc = sd_logs_append(d->logs, sd_actor_name(a), text,
				    sd_actor_model_name(a), d->pending_prompt,
				    !was_user,
				    reply ? reply->n_prompt_tokens : -1,
				    reply ? reply->n_gen_tokens : -1);
		if (rc)
			goto out;
	}
	if (was_user) {
		d->turns_done++;
		/* the moderator speaks after every non-empty user comment */
		d->moderator_due = d->moderator && !is_blank(text);
	} else {
		d->moderator_due = false;
	}
	free(d->pending_prompt);
	d->pending_prompt = NULL;
	d->pending = PENDING_NONE;
out:
	free(fixed);
	return rc;
}

bool sd_discussion_done(const sd_discussion *d)
{
	return d ? d->done : true;
}

const char *sd_discussion_pending_speaker(const sd_discussion *d)
{
	if (!d || d->pending == PENDING_NONE)
		return NULL;
	return sd_actor_name(d->pending == PENDING_MODERATOR
				     ? d->moderator : d->users[d->pending_user]);
}

const sd_logs *sd_discussion_logs(const sd_discussion *d)
{
	return d ? d->logs : NULL;
}

sd_logs *sd_discussion_logs_mut(sd_discussion *d)
{
	return d ? d->logs : NULL;
}

int sd_discussion_run(sd_discussion *d, sd_backend *b,
		      sd_comment_cb on_comment, void *ud, sd_error *err)
{
	sd_request req;
	sd_reply reply;
	int rc;
	memset(&reply, 0, sizeof(reply));
	if (!d || !b)
		return sd_error_set(err, SD_EINVAL, NULL, NULL,
				    "a discussion and a backend are needed");
	for (;;) {
		rc = sd_discussion_next(d, &req);
		if (rc == 0)
			break;
		if (rc < 0)
			return sd_error_set(err, rc, NULL, NULL,
					    "could not prepare the next turn: %s",
					    sd_strerror(rc));
		rc = sd_backend_submit(b, &req);
		if (rc)
			return sd_error_set(err, rc, NULL, NULL,
					    "backend refused the request: %s",
					    sd_backend_last_error(b));
		while ((rc = sd_backend_collect(b, &reply)) == 0) {
			int active = sd_backend_step(b);
			if (active < 0)
				return sd_error_set(err, SD_EBACKEND, NULL, NULL,
						    "%s", sd_backend_last_error(b));
			if (active > 0)
				continue;
			/* idle and still no reply: it was lost, do not spin */
			if ((rc = sd_backend_collect(b, &reply)) == 0)
				return sd_error_set(err, SD_EBACKEND, NULL, NULL,
						    "the backend dropped a request");
			break;
		}
		if (rc < 0)
			return sd_error_set(err, rc, NULL, NULL,
					    "could not collect a reply");
		if (reply.status != SD_OK) {
			rc = sd_error_set(err, reply.status, NULL, NULL,
					  "generation failed for %s: %s",
					  sd_discussion_pending_speaker(d),
					  reply.error ? reply.error : "unknown");
			sd_reply_clear(&reply);
			return rc;
		}
		size_t before = sd_logs_comment_count(d->logs);
		rc = sd_discussion_accept(d, reply.text, &reply);
		sd_reply_clear(&reply);
		if (rc)
			return sd_error_set(err, rc, NULL, NULL,
					    "could not record the reply: %s",
					    sd_strerror(rc));
		if (on_comment && sd_logs_comment_count(d->logs) > before) {
			sd_log_comment c = sd_logs_comment(d->logs, before);
			on_comment(&c, ud);
		}
	}
	return SD_OK;
}

/*
 * A discussion as a state machine: it offers the next generation request
 * and accepts its reply. It never blocks and never calls a backend, which
 * is what lets a scheduler hold many discussions and batch their turns.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "syndisco.h"
#include "util/error.h"
#include "util/pytext.h"
#include "util/rng.h"
#include "util/utf8.h"

enum pending_kind { PENDING_NONE, PENDING_USER, PENDING_MODERATOR, PENDING_DIRECTOR };

struct sd_discussion {
	sd_discussion_params p;
	sd_actor *const *users; /* borrowed */
	size_t n_users;
	sd_actor *moderator;   /* borrowed; may be NULL */
	sd_turn_manager *tm;   /* borrowed */
	char **system_prompts; /* per user; computed once */
	char *moderator_system;
	sd_logs *logs;

	int32_t turns_done;  /* prompted user turns so far */
	uint64_t n_requests; /* requests offered; drives sampler seeds */
	bool moderator_due;
	bool done;
	enum pending_kind pending;
	size_t pending_user;
	char *pending_prompt;

	sd_profile profile; /* the actors' (they must agree) */
	/* one formatted history entry per logged comment; the window is the
	   last history_ctx_len of them */
	char **entries;
	bool *printed; /* whether SynDisco prints comment i */
	size_t n_entries, cap_entries;
	size_t n_reported; /* comments handed to on_comment so far */
	char *bare_prompt; /* 2.2.1 seed opinions' "prompt" */
	sd_request_hook hook;
	void *hook_ud;
	/* history_ctx_tokens: tokens per entry (-1 not counted yet) */
	int32_t *entry_tokens;
	sd_history_counter counter;
	/* mention and director turn managers (docs/turns.md) */
	const char **names;	 /* users' names, borrowed from the actors */
	bool *allowed;		 /* director: candidates of the pending pick */
	sd_label_spec *dir_spec; /* director: the pending request's names */
	bool have_choice;	 /* director: the next user turn is chosen */
	size_t choice;
	const char *chooser; /* who chose the pending user (static) */
};

sd_discussion_params sd_discussion_default_params(void)
{
	sd_discussion_params p = {
	    .conv_len = 5,
	    .history_ctx_len = 5,
	    .history_ctx_tokens = 0,
	    .seed = 0,
	    .sampling = sd_sampling_default(),
	    .seed_opinions = NULL,
	    .n_seed_opinions = 0,
	};
	return p;
}

/*
 * Archive a comment: log it and add its history entry (formatted as the
 * profile does, by the first user, whose profile and templates every
 * actor shares).
 */
static int archive(sd_discussion *d, const char *name, const char *text,
		   const char *model, const char *prompt, const char *user_prompt,
		   bool is_moderator, bool printed, const sd_reply *reply)
{
	char *entry = NULL;
	int rc;
	if (d->n_entries == d->cap_entries) {
		size_t cap = d->cap_entries ? d->cap_entries * 2 : 16;
		char **e = realloc(d->entries, cap * sizeof(*e));
		if (!e)
			return SD_ENOMEM;
		d->entries = e;
		bool *p = realloc(d->printed, cap * sizeof(*p));
		if (!p)
			return SD_ENOMEM;
		d->printed = p;
		int32_t *t = realloc(d->entry_tokens, cap * sizeof(*t));
		if (!t)
			return SD_ENOMEM;
		d->entry_tokens = t;
		d->cap_entries = cap;
	}
	if ((rc = sd__actor_format_entry(d->users[0], name, text, &entry)))
		return rc;
	rc = sd__logs_append(d->logs, name, text, model, prompt, user_prompt,
			     is_moderator, reply ? reply->n_prompt_tokens : -1,
			     reply ? reply->n_gen_tokens : -1);
	if (rc) {
		free(entry);
		return rc;
	}
	d->entries[d->n_entries] = entry;
	d->entry_tokens[d->n_entries] = -1;
	d->printed[d->n_entries++] = printed;
	/* a mention manager hears whom each comment addresses */
	if (sd_turn_manager_kind(d->tm) == SD_TURN_MENTION) {
		size_t who;
		if ((rc = sd_mention_find(text, d->names, d->n_users, name, &who)))
			return rc;
		sd_turn_manager_observe_mention(d->tm, who);
	}
	return SD_OK;
}

/* Record in the comment's meta (comment_meta) who chose its speaker. */
static int note_chooser(sd_discussion *d, size_t comment)
{
	sd_turn_kind k = sd_turn_manager_kind(d->tm);
	if ((k != SD_TURN_MENTION && k != SD_TURN_DIRECTOR) || !d->chooser)
		return SD_OK;
	return sd__sd_logs_comment_set(d->logs, comment, "chosen_by",
				       json_string(d->chooser));
}

sd_discussion *sd_discussion_create(const sd_discussion_params *p, sd_actor *const *users,
				    size_t n_users, sd_actor *moderator,
				    sd_turn_manager *tm, sd_error *err)
{
	sd_discussion *d = NULL;
	const char **names = NULL;
	int rc;

	if (!p || !users || n_users == 0 || !tm) {
		sd__error_set(err, SD_EINVAL, NULL, "users",
			      "a discussion needs users and a turn manager");
		return NULL;
	}
	if (p->conv_len < 0) {
		sd__error_set(err, SD_EINVAL, NULL, "conv_len", "must be >= 0, got %d",
			      (int)p->conv_len);
		return NULL;
	}
	if (p->history_ctx_len < 0) {
		sd__error_set(err, SD_EINVAL, NULL, "history_ctx_len",
			      "must be >= 0, got %d", (int)p->history_ctx_len);
		return NULL;
	}
	if (p->history_ctx_tokens < 0) {
		sd__error_set(err, SD_EINVAL, NULL, "history_ctx_tokens",
			      "must be > 0 (or 0 for no token limit), got %d",
			      (int)p->history_ctx_tokens);
		return NULL;
	}
	for (size_t i = 0; i < n_users; i++) {
		if (!users[i]) {
			sd__error_set(err, SD_EINVAL, NULL, "users", "NULL user");
			return NULL;
		}
		if (sd__actor_kind_of(users[i]) != SD_ACTOR_USER) {
			sd__error_set(err, SD_EINVAL, NULL, "users",
				      "user %zu is an annotator", i);
			return NULL;
		}
		if (sd__actor_profile(users[i]) != sd__actor_profile(users[0]) ||
		    (moderator &&
		     sd__actor_profile(moderator) != sd__actor_profile(users[0]))) {
			sd__error_set(
			    err, SD_EINVAL, NULL, "syndisco",
			    "every actor of a discussion needs the same profile");
			return NULL;
		}
		/* the same actor may take part twice (2.2.1, and the seed
		   guide's moderator among the users); two different actors
		   with one name are ambiguous in the seed and 2.0.8 logs */
		for (size_t k = 0; k < i; k++) {
			if (users[i] != users[k] &&
			    sd__actor_profile(users[0]) != SD_PROFILE_2_2_1 &&
			    strcmp(sd_actor_name(users[i]), sd_actor_name(users[k])) ==
				0) {
				sd__error_set(err, SD_EINVAL, NULL, "users",
					      "username \"%s\" appears twice",
					      sd_actor_name(users[i]));
				return NULL;
			}
		}
		if (moderator && users[i] != moderator &&
		    strcmp(sd_actor_name(users[i]), sd_actor_name(moderator)) == 0) {
			sd__error_set(err, SD_EINVAL, NULL, "moderator",
				      "the moderator's username \"%s\" is also a user's",
				      sd_actor_name(moderator));
			return NULL;
		}
	}
	for (size_t i = 0; i < p->n_seed_opinions; i++) {
		const sd_seed_opinion *s = &p->seed_opinions[i];
		if (!s->username || !s->text) {
			sd__error_set(err, SD_EINVAL, NULL, "seed_opinions",
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
	d->profile = sd__actor_profile(users[0]);
	d->logs = sd__logs_new(d->profile);
	d->system_prompts = calloc(n_users, sizeof(char *));
	d->names = calloc(n_users, sizeof(char *));
	d->allowed = calloc(n_users, sizeof(bool));
	if (!d->names || !d->allowed)
		goto oom;
	for (size_t i = 0; i < n_users; i++)
		d->names[i] = sd_actor_name(users[i]);
	names = calloc(n_users, sizeof(char *));
	const char **prompts = calloc(n_users, sizeof(char *));
	if (!d->logs || !d->system_prompts || !names || !prompts) {
		free(prompts);
		goto oom;
	}
	/* the log's participants are SynDisco's name -> actor map: one
	   entry per name, in order of first appearance */
	size_t n_names = 0;
	for (size_t i = 0; i < n_users; i++) {
		if (sd_actor_system_prompt(users[i], &d->system_prompts[i])) {
			free(prompts);
			goto oom;
		}
		size_t k = 0;
		while (k < n_names && strcmp(names[k], sd_actor_name(users[i])))
			k++;
		names[k] = sd_actor_name(users[i]);
		prompts[k] = d->system_prompts[i];
		if (k == n_names)
			n_names++;
	}
	if (moderator && sd_actor_system_prompt(moderator, &d->moderator_system)) {
		free(prompts);
		goto oom;
	}
	rc = sd__logs_set_participants(d->logs, names, prompts, n_names,
				       moderator ? sd_actor_name(moderator) : NULL,
				       d->moderator_system, p->history_ctx_len, p->seed);
	free(prompts);
	if (rc)
		goto oom;
	if (d->profile == SD_PROFILE_2_2_1 &&
	    sd__profile_bare_system_prompt(d->profile, &d->bare_prompt))
		goto oom;
	if (p->history_ctx_tokens > 0) {
		char n[32];
		snprintf(n, sizeof(n), "%d", (int)p->history_ctx_tokens);
		if (sd_logs_set_extra(d->logs, "history_ctx_tokens", n))
			goto oom;
	}
	/* seed opinions open the thread; they are hard-coded, not prompted.
	   seed and 2.0.8 skip blank ones and print the others; 2.2.1 logs
	   every one, blank too, and prints none */
	for (size_t i = 0; i < p->n_seed_opinions; i++) {
		const sd_seed_opinion *s = &p->seed_opinions[i];
		bool v221 = d->profile == SD_PROFILE_2_2_1;
		if (!v221 && sd__py_is_blank(s->text))
			continue;
		if (archive(d, s->username, s->text, "hardcoded",
			    v221 ? d->bare_prompt : NULL, NULL, false, !v221, NULL))
			goto oom;
	}
	free(names);
	return d;
oom:
	free(names);
	sd_discussion_free(d);
	sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
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
	for (size_t i = 0; i < d->n_entries; i++)
		free(d->entries[i]);
	free(d->entries);
	free(d->printed);
	free(d->entry_tokens);
	free(d->names);
	free(d->allowed);
	sd_label_spec_free(d->dir_spec);
	free(d->bare_prompt);
	sd_logs_free(d->logs);
	free(d);
}

/*
 * The history window (history_ctx_len, history_ctx_tokens) as entries:
 * *shown points into d->entries, or into *owned when the newest entry
 * had to be cut (caller frees *owned and *cut).
 */
static int window(sd_discussion *d, const char *const **shown, size_t *n_shown,
		  const char ***owned, char **cut)
{
	size_t n = d->n_entries, first;
	const char *name = NULL, *text = NULL;
	*owned = NULL;
	if (n > 0) {
		sd_log_comment c = sd_logs_comment(d->logs, n - 1);
		name = c.name;
		text = c.text;
	}
	int rc = sd__sd_history_window((const char *const *)d->entries, d->entry_tokens,
				       n, d->p.history_ctx_len, d->p.history_ctx_tokens,
				       &d->counter, d->users[0], name, text, &first, cut);
	if (rc)
		return rc;
	*shown = (const char *const *)d->entries + first;
	*n_shown = n - first;
	if (*cut) {
		const char **e = malloc(*n_shown * sizeof(*e));
		if (!e) {
			free(*cut);
			*cut = NULL;
			return SD_ENOMEM;
		}
		memcpy(e, *shown, *n_shown * sizeof(*e));
		e[*n_shown - 1] = *cut;
		*owned = e;
		*shown = e;
	}
	return SD_OK;
}

/* The user prompt for `a` over the history window. */
static int render_prompt(sd_discussion *d, const sd_actor *a, char **out)
{
	const char *const *shown;
	const char **owned;
	char *cut = NULL;
	size_t n;
	int rc = window(d, &shown, &n, &owned, &cut);
	if (rc)
		return rc;
	rc = sd__actor_prompt_from_entries(a, shown, n, out);
	free(owned);
	free(cut);
	return rc;
}

/* The director's prompt and the names its reply may be. */
static int render_director(sd_discussion *d, char **out)
{
	const char *const *shown;
	const char **owned;
	char *cut = NULL;
	size_t n;
	sd_label_spec_free(d->dir_spec);
	d->dir_spec = NULL;
	sd_turn_manager_candidates(d->tm, d->allowed);
	int rc = window(d, &shown, &n, &owned, &cut);
	if (rc)
		return rc;
	rc = sd__sd_director_prompt(d->names, d->allowed, d->n_users, shown, n, out,
				    &d->dir_spec);
	free(owned);
	free(cut);
	return rc;
}

static const char *pending_system(const sd_discussion *d)
{
	switch (d->pending) {
	case PENDING_MODERATOR:
		return d->moderator_system;
	case PENDING_DIRECTOR:
		return sd_turn_manager_director_instructions(d->tm);
	default:
		return d->system_prompts[d->pending_user];
	}
}

/* The pending request, as offered (strings borrowed from d). */
static void fill_request(const sd_discussion *d, sd_request *r)
{
	memset(r, 0, sizeof(*r));
	r->tag = d->n_requests;
	r->system_prompt = pending_system(d);
	r->user_prompt = d->pending_prompt;
	r->sampling = d->p.sampling;
	/* each request gets its own seed so a retry or a reorder by the
	 * scheduler cannot change what a given turn samples */
	r->sampling.seed = (uint32_t)sd__seed_mix(d->p.seed, d->n_requests);
	if (d->pending == PENDING_DIRECTOR) {
		/* a name is all the director says: its longest, one token per
		   byte at worst, always completes */
		r->grammar = sd_label_spec_grammar(d->dir_spec);
		r->sampling.max_tokens =
		    (int32_t)sd_label_spec_max_bytes(d->dir_spec) + 1;
	}
}

int sd_discussion_next(sd_discussion *d, sd_request *req)
{
	if (!d || !req)
		return SD_EINVAL;
	if (d->pending == PENDING_NONE) {
		const sd_actor *speaker = NULL;
		int rc;
		if (d->moderator && d->moderator_due) {
			d->pending = PENDING_MODERATOR;
			speaker = d->moderator;
		} else if (d->turns_done < d->p.conv_len) {
			if (sd_turn_manager_kind(d->tm) == SD_TURN_DIRECTOR &&
			    !d->have_choice) {
				/* ask the director first: an ordinary request,
				   batched with everyone else's */
				d->pending = PENDING_DIRECTOR;
			} else if (d->have_choice) {
				d->pending = PENDING_USER;
				d->pending_user = d->choice;
				d->have_choice = false;
			} else {
				d->pending = PENDING_USER;
				d->pending_user = sd_turn_manager_next(d->tm);
				d->chooser = sd_turn_manager_chooser(d->tm);
			}
			if (d->pending == PENDING_USER) {
				if (d->pending_user >= d->n_users) {
					d->pending = PENDING_NONE;
					return SD_ESTATE;
				}
				speaker = d->users[d->pending_user];
			}
		} else {
			d->done = true;
			return 0;
		}
		rc = speaker ? render_prompt(d, speaker, &d->pending_prompt)
			     : render_director(d, &d->pending_prompt);
		if (rc) {
			d->pending = PENDING_NONE;
			return rc;
		}
		d->n_requests++;
		if (d->hook) {
			sd_request r;
			fill_request(d, &r);
			d->hook(speaker ? sd_actor_name(speaker) : "director",
				d->pending == PENDING_MODERATOR	 ? "moderator"
				: d->pending == PENDING_DIRECTOR ? "director"
								 : "turn",
				&r, d->hook_ud);
		}
	}
	fill_request(d, req);
	return 1;
}

/* The director's reply: the name of the next speaker. A reply naming
 * nobody allowed (a backend that enforces no grammar) falls back to a
 * seeded pick among the candidates, and the log says so. */
static int accept_director(sd_discussion *d, const char *text)
{
	size_t who;
	int rc = sd__sd_director_parse(d->dir_spec, text, d->names, d->allowed,
				       d->n_users, &who);
	if (rc == SD_ENOMEM)
		return rc;
	if (rc == SD_OK) {
		sd_turn_manager_record(d->tm, who, "director");
	} else {
		who = sd_turn_manager_next(d->tm);
	}
	d->chooser = sd_turn_manager_chooser(d->tm);
	d->choice = who;
	d->have_choice = true;
	sd_label_spec_free(d->dir_spec);
	d->dir_spec = NULL;
	free(d->pending_prompt);
	d->pending_prompt = NULL;
	d->pending = PENDING_NONE;
	return SD_OK;
}

int sd_discussion_accept(sd_discussion *d, const char *text, const sd_reply *reply)
{
	if (!d || !text)
		return SD_EINVAL;
	if (d->pending == PENDING_NONE)
		return SD_ESTATE;
	if (d->pending == PENDING_DIRECTOR)
		return accept_director(d, text);
	const sd_actor *a =
	    d->pending == PENDING_MODERATOR ? d->moderator : d->users[d->pending_user];
	bool was_user = d->pending == PENDING_USER;
	char *fixed = NULL, *post = NULL;
	int rc = SD_OK;
	size_t n = strlen(text);
	if (!sd__utf8_valid(text, n)) {
		fixed = sd__utf8_repair(text, n);
		if (!fixed)
			return SD_ENOMEM;
		text = fixed;
	}
	if ((rc = sd__actor_postprocess(a, text, &post)))
		goto out;
	bool blank = sd__py_is_blank(post);
	/* seed and 2.0.8 archive the moderator's reply whatever it is */
	bool keep = !blank || (!was_user && d->profile != SD_PROFILE_2_2_1);
	if (keep) {
		rc = archive(d, sd_actor_name(a), post, sd_actor_model_name(a),
			     d->profile == SD_PROFILE_2_2_1
				 ? (was_user ? d->system_prompts[d->pending_user]
					     : d->moderator_system)
				 : NULL,
			     d->pending_prompt, !was_user, true, reply);
		if (rc)
			goto out;
		if (was_user && (rc = note_chooser(d, d->n_entries - 1)))
			goto out;
	} else if (sd_turn_manager_kind(d->tm) == SD_TURN_MENTION) {
		/* a turn that left no comment addresses nobody */
		sd_turn_manager_observe_mention(d->tm, SIZE_MAX);
	}
	if (was_user) {
		d->turns_done++;
		/* the moderator speaks after every non-blank user comment */
		d->moderator_due = d->moderator && !blank;
	} else {
		d->moderator_due = false;
	}
	free(d->pending_prompt);
	d->pending_prompt = NULL;
	d->pending = PENDING_NONE;
out:
	free(fixed);
	free(post);
	return rc;
}

const char *sd_discussion_display(const sd_discussion *d, size_t i)
{
	if (!d || i >= d->n_entries || !d->printed[i])
		return NULL;
	return d->entries[i];
}

void sd_discussion_set_token_counter(sd_discussion *d, sd_token_count_fn fn, void *ud)
{
	if (!d)
		return;
	d->counter.fn = fn;
	d->counter.ud = ud;
}

void sd_discussion_set_request_hook(sd_discussion *d, sd_request_hook hook, void *ud)
{
	if (!d)
		return;
	d->hook = hook;
	d->hook_ud = ud;
}

void sd__discussion_report(sd_discussion *d, sd_comment_cb on_comment, void *ud)
{
	size_t n = sd_logs_comment_count(d->logs);
	for (; d->n_reported < n; d->n_reported++) {
		if (!on_comment)
			continue;
		sd_log_comment c = sd_logs_comment(d->logs, d->n_reported);
		on_comment(&c, ud);
	}
}

bool sd_discussion_done(const sd_discussion *d) { return d ? d->done : true; }

const char *sd_discussion_pending_speaker(const sd_discussion *d)
{
	if (!d || d->pending == PENDING_NONE)
		return NULL;
	if (d->pending == PENDING_DIRECTOR)
		return "director";
	return sd_actor_name(d->pending == PENDING_MODERATOR ? d->moderator
							     : d->users[d->pending_user]);
}

const sd_logs *sd_discussion_logs(const sd_discussion *d) { return d ? d->logs : NULL; }

sd_logs *sd_discussion_logs_mut(sd_discussion *d) { return d ? d->logs : NULL; }

#include <stdlib.h>
#include <string.h>

#include "syndisco.h"
#include "util/error.h"
#include "util/rng.h"

#define NONE ((size_t)-1)

struct sd_turn_manager {
	sd_turn_params p;
	size_t n;
	sd__rng rng;
	size_t turn; /* round robin: next index */
	size_t last; /* NONE before the first turn */
	size_t second_last;
	size_t *order; /* order: owned copy */
	/* mention and director (turn_mention.c, docs/turns.md) */
	sd_turn_manager *fallback; /* mention: who speaks otherwise */
	size_t addressed;	   /* mention: SIZE_MAX = nobody */
	const char *chooser;	   /* who chose the last speaker */
	char *instructions;	   /* director: owned copy, or NULL */
	int64_t *spoke_at;	   /* director: user turn each last spoke, -1 */
	int64_t n_turns;	   /* director: speakers recorded */
};

sd_turn_params sd_turn_default_params(void)
{
	sd_turn_params p = {
	    .kind = SD_TURN_ROUND_ROBIN,
	    .p_respond = 0.5,
	    .random_first = false,
	    .seed = 0,
	    .order = NULL,
	    .n_order = 0,
	    .p_mention = 1.0,
	    .fallback = SD_TURN_RANDOM,
	    .director_instructions = NULL,
	    .exclude_last_speaker = false,
	    .silent_turns = 0,
	};
	return p;
}

static const struct {
	const char *name;
	sd_turn_kind kind;
} names[] = {
    {"round_robin", SD_TURN_ROUND_ROBIN},
    {"random", SD_TURN_RANDOM},
    {"respond", SD_TURN_RESPOND},
    {"order", SD_TURN_ORDER},
    {"mention", SD_TURN_MENTION},
    {"director", SD_TURN_DIRECTOR},
    /* SynDisco's class and config names */
    {"queue", SD_TURN_ROUND_ROBIN},
    {"round_robin_turn_manager", SD_TURN_ROUND_ROBIN},
    /* seed and 2.0.8 "random weighted" never flipped its coin: it ran as a
       uniform pick among everyone but the last speaker */
    {"random_weighted", SD_TURN_RANDOM},
};

int sd_turn_kind_from_name(const char *name, sd_turn_kind *out)
{
	if (!name || !out)
		return SD_EINVAL;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(name, names[i].name) == 0) {
			*out = names[i].kind;
			return SD_OK;
		}
	}
	return SD_EINVAL;
}

const char *sd_turn_kind_name(sd_turn_kind kind)
{
	switch (kind) {
	case SD_TURN_ROUND_ROBIN:
		return "round_robin";
	case SD_TURN_RANDOM:
		return "random";
	case SD_TURN_RESPOND:
		return "respond";
	case SD_TURN_ORDER:
		return "order";
	case SD_TURN_MENTION:
		return "mention";
	case SD_TURN_DIRECTOR:
		return "director";
	}
	return "unknown";
}

sd_turn_manager *sd_turn_manager_create(const sd_turn_params *p, size_t n_users,
					sd_error *err)
{
	if (!p) {
		sd__error_set(err, SD_EINVAL, NULL, NULL, "no parameters");
		return NULL;
	}
	if (p->kind != SD_TURN_ROUND_ROBIN && p->kind != SD_TURN_RANDOM &&
	    p->kind != SD_TURN_RESPOND && p->kind != SD_TURN_ORDER &&
	    p->kind != SD_TURN_MENTION && p->kind != SD_TURN_DIRECTOR) {
		sd__error_set(err, SD_EINVAL, NULL, "turn_manager",
			      "unknown turn manager kind %d", (int)p->kind);
		return NULL;
	}
	/* !(x >= 0 && x <= 1) also rejects NaN */
	if (p->kind == SD_TURN_RESPOND && !(p->p_respond >= 0.0 && p->p_respond <= 1.0)) {
		sd__error_set(err, SD_EINVAL, NULL, "p_respond",
			      "must be between 0 and 1, got %g", p->p_respond);
		return NULL;
	}
	if (p->kind == SD_TURN_MENTION && !(p->p_mention >= 0.0 && p->p_mention <= 1.0)) {
		sd__error_set(err, SD_EINVAL, NULL, "turn_manager.p_mention",
			      "must be between 0 and 1, got %g", p->p_mention);
		return NULL;
	}
	if (p->kind == SD_TURN_MENTION && p->fallback != SD_TURN_ROUND_ROBIN &&
	    p->fallback != SD_TURN_RANDOM && p->fallback != SD_TURN_RESPOND) {
		sd__error_set(err, SD_EINVAL, NULL, "turn_manager.fallback",
			      "must be round_robin, random or respond, got %s",
			      sd_turn_kind_name(p->fallback));
		return NULL;
	}
	if (p->kind == SD_TURN_DIRECTOR && p->silent_turns < 0) {
		sd__error_set(err, SD_EINVAL, NULL, "turn_manager.silent_turns",
			      "must be >= 0, got %d", (int)p->silent_turns);
		return NULL;
	}
	if (p->kind == SD_TURN_ORDER) {
		if (!p->order || p->n_order == 0 || n_users < 1) {
			sd__error_set(err, SD_EINVAL, NULL, "order",
				      "an explicit order needs at least one speaker");
			return NULL;
		}
		for (size_t i = 0; i < p->n_order; i++) {
			if (p->order[i] >= n_users) {
				sd__error_set(err, SD_EINVAL, NULL, "order",
					      "entry %zu is user %zu of %zu", i,
					      p->order[i], n_users);
				return NULL;
			}
		}
	} else if (n_users < 1 ||
		   (p->kind != SD_TURN_ROUND_ROBIN && p->kind != SD_TURN_DIRECTOR &&
		    !(p->kind == SD_TURN_MENTION && p->fallback == SD_TURN_ROUND_ROBIN) &&
		    n_users < 2)) {
		sd__error_set(err, SD_EINVAL, NULL, "users",
			      "the %s turn manager needs at least %d users, got %zu",
			      sd_turn_kind_name(p->kind), n_users < 1 ? 1 : 2, n_users);
		return NULL;
	}
	sd_turn_manager *tm = calloc(1, sizeof(*tm));
	if (!tm) {
		sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
		return NULL;
	}
	tm->p = *p;
	tm->p.order = NULL;
	tm->n = n_users;
	if (p->kind == SD_TURN_ORDER) {
		tm->order = malloc(p->n_order * sizeof(*tm->order));
		if (!tm->order) {
			free(tm);
			sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
			return NULL;
		}
		memcpy(tm->order, p->order, p->n_order * sizeof(*tm->order));
	}
	tm->p.director_instructions = NULL;
	tm->addressed = NONE;
	tm->chooser = sd_turn_kind_name(p->kind);
	if (p->kind == SD_TURN_MENTION) {
		/* the fallback draws from a stream of its own, so following a
		   mention or not leaves its sequence of draws alone */
		sd_turn_params fp = *p;
		fp.kind = p->fallback;
		fp.seed = sd__seed_mix(p->seed, 0x66616c6c /* "fall" */);
		tm->fallback = sd_turn_manager_create(&fp, n_users, err);
		if (!tm->fallback) {
			free(tm);
			return NULL;
		}
	}
	if (p->kind == SD_TURN_DIRECTOR) {
		tm->spoke_at = malloc(n_users * sizeof(*tm->spoke_at));
		tm->instructions =
		    p->director_instructions ? strdup(p->director_instructions) : NULL;
		if (!tm->spoke_at || (p->director_instructions && !tm->instructions)) {
			sd_turn_manager_free(tm);
			sd__error_set(err, SD_ENOMEM, NULL, NULL, "out of memory");
			return NULL;
		}
		for (size_t i = 0; i < n_users; i++)
			tm->spoke_at[i] = -1;
	}
	sd__rng_seed(&tm->rng, p->seed);
	tm->last = tm->second_last = NONE;
	if (p->kind == SD_TURN_ROUND_ROBIN && p->random_first)
		tm->turn = (size_t)sd__rng_below(&tm->rng, n_users);
	return tm;
}

/* Uniform over the users other than `exclude` (NONE: over all). */
static size_t pick_other(sd_turn_manager *tm, size_t exclude)
{
	if (exclude == NONE)
		return (size_t)sd__rng_below(&tm->rng, tm->n);
	size_t k = (size_t)sd__rng_below(&tm->rng, tm->n - 1);
	return k >= exclude ? k + 1 : k;
}

/* Tell a manager who spoke (so a fallback avoids the actual last
 * speaker and round robin resumes after them). */
static void note_speaker(sd_turn_manager *tm, size_t who)
{
	tm->second_last = tm->last;
	tm->last = who;
	if (tm->p.kind == SD_TURN_ROUND_ROBIN)
		tm->turn = (who + 1) % tm->n;
	if (tm->spoke_at && who < tm->n)
		tm->spoke_at[who] = tm->n_turns;
	tm->n_turns++;
}

/* Mention: follow a valid mention with probability p_mention; the coin
 * is drawn only when someone is addressed. */
static size_t mention_next(sd_turn_manager *tm)
{
	size_t who = tm->addressed;
	tm->addressed = NONE;
	if (who != NONE && who < tm->n &&
	    (tm->p.p_mention >= 1.0 || sd__rng_double(&tm->rng) < tm->p.p_mention)) {
		note_speaker(tm->fallback, who);
		tm->chooser = "mention";
		return who;
	}
	size_t next = sd_turn_manager_next(tm->fallback);
	tm->chooser = sd_turn_kind_name(tm->p.fallback);
	return next;
}

size_t sd_turn_manager_candidates(const sd_turn_manager *tm, bool *allowed)
{
	size_t n_allowed = 0;
	if (!tm || !allowed)
		return 0;
	/* restrictions relaxed in this order when they leave nobody: the
	   silence rule, then the last-speaker rule */
	for (int pass = 0; pass < 3 && n_allowed == 0; pass++) {
		bool silent = pass == 0 && tm->p.silent_turns > 0;
		bool not_last = pass <= 1 && tm->p.exclude_last_speaker;
		for (size_t i = 0; i < tm->n; i++) {
			bool ok = true;
			if (not_last && i == tm->last)
				ok = false;
			if (silent && tm->spoke_at && tm->spoke_at[i] >= 0 &&
			    tm->n_turns - tm->spoke_at[i] <= tm->p.silent_turns)
				ok = false;
			allowed[i] = ok;
			n_allowed += ok;
		}
	}
	return n_allowed;
}

/* Director without a usable reply: uniform over the candidates. */
static size_t director_fallback_pick(sd_turn_manager *tm)
{
	bool stack[64];
	bool *allowed = tm->n <= 64 ? stack : malloc(tm->n * sizeof(*allowed));
	size_t next = 0;
	if (!allowed)
		return (size_t)sd__rng_below(&tm->rng, tm->n); /* OOM: any user */
	size_t k = sd_turn_manager_candidates(tm, allowed);
	size_t pick = (size_t)sd__rng_below(&tm->rng, k);
	for (size_t i = 0; i < tm->n; i++) {
		if (allowed[i] && pick-- == 0) {
			next = i;
			break;
		}
	}
	if (allowed != stack)
		free(allowed);
	if (tm->spoke_at)
		tm->spoke_at[next] = tm->n_turns;
	tm->n_turns++;
	tm->chooser = "director_fallback";
	return next;
}

size_t sd_turn_manager_next(sd_turn_manager *tm)
{
	size_t next;
	tm->chooser = sd_turn_kind_name(tm->p.kind);
	switch (tm->p.kind) {
	case SD_TURN_MENTION:
		next = mention_next(tm);
		break;
	case SD_TURN_DIRECTOR:
		next = director_fallback_pick(tm);
		break;
	case SD_TURN_ROUND_ROBIN:
		next = tm->turn;
		tm->turn = (tm->turn + 1) % tm->n;
		break;
	case SD_TURN_ORDER:
		next = tm->order[tm->turn];
		tm->turn = (tm->turn + 1) % tm->p.n_order;
		break;
	case SD_TURN_RESPOND:
		/* the draw happens only once there is someone to answer */
		if (tm->second_last != NONE &&
		    sd__rng_double(&tm->rng) < tm->p.p_respond) {
			next = tm->second_last;
			break;
		}
		/* fall through */
	case SD_TURN_RANDOM:
	default:
		next = pick_other(tm, tm->last);
		break;
	}
	tm->second_last = tm->last;
	tm->last = next;
	return next;
}

void sd_turn_manager_free(sd_turn_manager *tm)
{
	if (tm) {
		free(tm->order);
		sd_turn_manager_free(tm->fallback);
		free(tm->instructions);
		free(tm->spoke_at);
	}
	free(tm);
}

sd_turn_kind sd_turn_manager_kind(const sd_turn_manager *tm)
{
	return tm ? tm->p.kind : SD_TURN_ROUND_ROBIN;
}

const char *sd_turn_manager_chooser(const sd_turn_manager *tm)
{
	return tm ? tm->chooser : "";
}

void sd_turn_manager_observe_mention(sd_turn_manager *tm, size_t user)
{
	if (tm && tm->p.kind == SD_TURN_MENTION)
		tm->addressed = user < tm->n ? user : NONE;
}

void sd_turn_manager_record(sd_turn_manager *tm, size_t user, const char *chooser)
{
	if (!tm || user >= tm->n)
		return;
	note_speaker(tm, user);
	tm->chooser = chooser ? chooser : "director";
}

const char *sd_director_default_instructions(void)
{
	return "You direct an online discussion. Read the comments so far and "
	       "decide which participant should write the next comment, so that "
	       "the discussion stays lively and everyone can take part. Answer "
	       "with that participant's username only.";
}

const char *sd_turn_manager_director_instructions(const sd_turn_manager *tm)
{
	if (tm && tm->instructions)
		return tm->instructions;
	return sd_director_default_instructions();
}

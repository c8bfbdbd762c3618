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
	    p->kind != SD_TURN_RESPOND && p->kind != SD_TURN_ORDER) {
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
	} else if (n_users < 1 || (p->kind != SD_TURN_ROUND_ROBIN && n_users < 2)) {
		sd__error_set(err, SD_EINVAL, NULL, "users",
			      "the %s turn manager needs at least %d users, got %zu",
			      sd_turn_kind_name(p->kind),
			      p->kind == SD_TURN_ROUND_ROBIN ? 1 : 2, n_users);
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

size_t sd_turn_manager_next(sd_turn_manager *tm)
{
	size_t next;
	switch (tm->p.kind) {
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
	if (tm)
		free(tm->order);
	free(tm);
}

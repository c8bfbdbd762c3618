/* Per-cell summaries of a dataset (syndisco stats, the report's table). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/dataset.h"
#include "core/core.h"

static bool is_blank(const char *s)
{
	for (; s && *s; s++)
		if (!isspace((unsigned char)*s))
			return false;
	return true;
}

static const char *cell_of(const ds_disc *dd) { return dd->cell ? dd->cell : ""; }

typedef struct acc {
	sd_cell_summary s;
	size_t chars;
	bool turns_known;
} acc;

static void add_disc(acc *a, const sd_dataset *d, const ds_disc *dd)
{
	size_t prompted = 0;
	a->s.discussions++;
	for (size_t k = 0; k < dd->n_rows; k++) {
		const sd_log_comment *c = &d->rows[dd->first_row + k].c;
		bool seed = c->model && !strcmp(c->model, "hardcoded");
		a->s.comments++;
		a->chars += sd__ds_utf8_length(c->text);
		if (c->is_moderator)
			a->s.moderator_comments++;
		else if (seed)
			a->s.seed_comments++;
		else
			prompted++;
		if (is_blank(c->text))
			a->s.blank_comments++;
	}
	if (dd->num_turns >= 0) {
		if (!a->turns_known)
			a->s.silent_turns = 0;
		a->turns_known = true;
		if ((size_t)dd->num_turns > prompted)
			a->s.silent_turns += dd->num_turns - (long)prompted;
	}
	const json_t *t = json_object_get(sd__logs_get(dd->logs, "tokens"), "generated");
	if (json_is_integer(t) && json_integer_value(t) > 0)
		a->s.generated_tokens += (uint64_t)json_integer_value(t);
}

static void finish(acc *a)
{
	a->s.mean_length = a->s.comments ? (double)a->chars / (double)a->s.comments : 0;
	a->s.moderator_per_discussion =
	    a->s.discussions ? (double)a->s.moderator_comments / (double)a->s.discussions
			     : 0;
}

int sd_dataset_summary(const sd_dataset *d, sd_cell_summary **out, size_t *n)
{
	if (!d || !out || !n)
		return SD_EINVAL;
	/* at most one cell per discussion or run.json cell, plus "all" */
	acc *v = calloc(d->n_discs + d->n_run_cells + 1, sizeof(*v));
	sd_cell_summary *res = NULL;
	size_t nc = 0;
	if (!v)
		return SD_ENOMEM;
	for (size_t i = 0; i < d->n_discs; i++) {
		const char *cell = cell_of(&d->discs[i]);
		size_t k = 0;
		while (k < nc && strcmp(v[k].s.cell, cell))
			k++;
		if (k == nc) {
			v[nc].s.cell = cell;
			v[nc].s.silent_turns = -1;
			for (size_t r = 0; r < d->n_run_cells; r++)
				if (!strcmp(d->run_cells[r].cell, cell))
					v[nc].s.expected +=
					    d->run_cells[r].num_discussions;
			nc++;
		}
		add_disc(&v[k], d, &d->discs[i]);
	}
	/* cells run.json expects but with nothing on disk (all failed) */
	for (size_t r = 0; r < d->n_run_cells; r++) {
		const char *cell = d->run_cells[r].cell;
		size_t k = 0;
		while (k < nc && strcmp(v[k].s.cell, cell))
			k++;
		if (k < nc)
			continue;
		v[nc].s.cell = cell;
		v[nc].s.silent_turns = -1;
		for (size_t q = r; q < d->n_run_cells; q++)
			if (!strcmp(d->run_cells[q].cell, cell))
				v[nc].s.expected += d->run_cells[q].num_discussions;
		nc++;
	}
	acc *all = &v[nc];
	all->s.cell = "all";
	all->s.silent_turns = -1;
	for (size_t k = 0; k < nc; k++) {
		all->s.discussions += v[k].s.discussions;
		all->s.expected += v[k].s.expected;
		all->s.comments += v[k].s.comments;
		all->s.seed_comments += v[k].s.seed_comments;
		all->s.moderator_comments += v[k].s.moderator_comments;
		all->s.blank_comments += v[k].s.blank_comments;
		all->s.generated_tokens += v[k].s.generated_tokens;
		all->chars += v[k].chars;
		if (v[k].turns_known) {
			all->s.silent_turns =
			    (all->turns_known ? all->s.silent_turns : 0) +
			    v[k].s.silent_turns;
			all->turns_known = true;
		}
	}
	/* "expected" is only meaningful when every cell knows it */
	for (size_t k = 0; k < nc; k++)
		if (!v[k].s.expected)
			all->s.expected = 0;
	res = calloc(nc + 1, sizeof(*res));
	if (!res) {
		free(v);
		return SD_ENOMEM;
	}
	for (size_t k = 0; k <= nc; k++) {
		finish(&v[k]);
		res[k] = v[k].s;
	}
	free(v);
	*out = res;
	*n = nc + 1;
	return SD_OK;
}

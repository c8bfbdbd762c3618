/*
 * Random forum-style usernames ("quiet-lantern"), drawn from a seeded
 * RNG so a discussion's names are reproducible. Unique within one call.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

static const char *const adjectives[] = {
    "quiet",  "brave",	"lucky",  "salty",   "sunny",  "grumpy",  "witty",  "sleepy",
    "bold",   "calm",	"eager",  "fuzzy",   "gentle", "jolly",	  "keen",   "lively",
    "mellow", "nimble", "odd",	  "proud",   "rapid",  "shy",	  "tidy",   "vivid",
    "wild",   "zesty",	"humble", "curious", "silent", "crimson", "golden", "frosty",
    "rusty",  "dusty",	"cosmic", "urban",   "rural",  "lazy",	  "noisy",  "polite",
};

static const char *const nouns[] = {
    "lantern", "otter",	 "falcon",  "pebble", "harbor", "maple",   "comet",  "badger",
    "canyon",  "meadow", "walrus",  "kettle", "piano",	"beacon",  "cactus", "dune",
    "ember",   "fjord",	 "glacier", "heron",  "island", "jackal",  "koala",  "lagoon",
    "magnet",  "nebula", "orchid",  "parrot", "quarry", "raven",   "saddle", "tundra",
    "violin",  "willow", "yak",	    "zephyr", "anchor", "bramble", "cobalt", "drizzle",
};

#define N_ADJ (sizeof(adjectives) / sizeof(adjectives[0]))
#define N_NOUN (sizeof(nouns) / sizeof(nouns[0]))

int sd__random_usernames(sd__rng *rng, size_t n, char **out)
{
	if (n > N_ADJ * N_NOUN)
		return SD_EINVAL;
	for (size_t i = 0; i < n; i++)
		out[i] = NULL;
	for (size_t i = 0; i < n; i++) {
		char name[64];
		for (;;) {
			snprintf(name, sizeof(name), "%s-%s",
				 adjectives[sd__rng_below(rng, N_ADJ)],
				 nouns[sd__rng_below(rng, N_NOUN)]);
			size_t k;
			for (k = 0; k < i; k++)
				if (strcmp(out[k], name) == 0)
					break;
			if (k == i)
				break;
		}
		out[i] = strdup(name);
		if (!out[i]) {
			for (size_t k = 0; k < i; k++) {
				free(out[k]);
				out[k] = NULL;
			}
			return SD_ENOMEM;
		}
	}
	return SD_OK;
}

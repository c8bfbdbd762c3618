/*
 * SynDisco's "Creating a Discussion" guide, step by step, through the
 * public C API only, with the seed profile: the guide's model, personas
 * from a file, actors named by their usernames, a moderator that is also
 * one of the users (as the guide does), a round-robin turn manager over
 * the three names, five turns, the comments printed as the guide prints
 * them, and the log saved in the guide's format. Its user_prompts are the
 * guide's byte for byte (the conformance case seed/guide_with_moderator).
 *
 *   guide MODEL.gguf PERSONAS.json OUT.json
 */
#include <stdio.h>
#include <stdlib.h>

#include "syndisco.h"

typedef struct shown {
	const sd_discussion *d;
	size_t next;
} shown;

/* The guide's verbose output: print(comment, "\n") for each comment. */
static void print_comment(const sd_log_comment *c, void *ud)
{
	shown *s = ud;
	const char *text = sd_discussion_display(s->d, s->next++);
	(void)c;
	if (text)
		printf("%s \n\n", text);
}

static int fail(const char *what, const sd_error *err)
{
	char buf[1024];
	fprintf(stderr, "guide: %s: %s\n", what, sd_error_format(err, buf, sizeof(buf)));
	return 1;
}

int main(int argc, char **argv)
{
	sd_error err;
	sd_persona **personas = NULL;
	size_t n_personas = 0;
	sd_persona *mod_persona = NULL;
	sd_actor *users[3] = {NULL, NULL, NULL}, *moderator = NULL;
	sd_backend *model = NULL;
	sd_turn_manager *tm = NULL;
	sd_discussion *d = NULL;
	int status = 1;

	if (argc != 4) {
		fprintf(stderr, "usage: guide MODEL.gguf PERSONAS.json OUT.json\n");
		return 2;
	}
	sd_error_clear(&err);
	sd_global_init(true);

	/* 1. the model (TransformersModel(..., max_out_tokens=100)); SynDisco
	   decodes greedily */
	sd_llama_params lp = sd_llama_default_params();
	lp.model_path = argv[1];
	lp.model_name = "test_model";
	model = sd_backend_llama_create(&lp, &err);
	if (!model) {
		status = fail("model", &err);
		goto out;
	}

	/* 2. personas from a file (LlmPersona.from_json_file) */
	if (sd_persona_array_load(argv[2], &personas, &n_personas, &err)) {
		status = fail("personas", &err);
		goto out;
	}
	if (n_personas < 2) {
		fprintf(stderr, "guide: %s needs two personas\n", argv[2]);
		goto out;
	}
	/* the seed's LlmPersona has nine required fields */
	mod_persona = sd_persona_from_json(
	    "{\"username\": \"Moderator\", \"age\": 41, \"sex\": \"male\","
	    " \"education_level\": \"PhD\", \"sexual_orientation\": \"Pansexual\","
	    " \"demographic_group\": \"White\", \"current_employment\": \"Moderator\","
	    " \"special_instructions\": \"\","
	    " \"personality_characteristics\": [\"strict\", \"neutral\", \"just\"]}",
	    &err);
	if (!mod_persona) {
		status = fail("moderator persona", &err);
		goto out;
	}

	/* 3. actors: LLMActor(model, name=username, attributes, context,
	   instructions, actor_type=USER) */
	sd_actor_params ap = sd_actor_default_params();
	ap.profile = SD_PROFILE_SEED;
	ap.model_name = sd_backend_model_name(model);
	ap.context = "You are taking part in an online conversation";
	ap.instructions = "Act like a human would";
	for (int i = 0; i < 2; i++) {
		ap.persona = personas[i];
		ap.name = sd_persona_username(personas[i]);
		if (!(users[i] = sd_actor_create(&ap, &err))) {
			status = fail("actor", &err);
			goto out;
		}
	}
	ap.persona = mod_persona;
	ap.name = "Moderator";
	ap.instructions = "You are a moderator. Oversee the discussion";
	if (!(moderator = sd_actor_create(&ap, &err))) {
		status = fail("moderator", &err);
		goto out;
	}
	/* the guide lists the moderator among the users too */
	users[2] = moderator;

	/* 4. turn manager (RoundRobbin over the three names) and the
	   discussion: conv_len 5, history_context_len 5 */
	sd_turn_params tp = sd_turn_default_params();
	tp.kind = SD_TURN_ROUND_ROBIN;
	if (!(tm = sd_turn_manager_create(&tp, 3, &err))) {
		status = fail("turn manager", &err);
		goto out;
	}
	sd_discussion_params dp = sd_discussion_default_params();
	dp.conv_len = 5;
	dp.history_ctx_len = 5;
	dp.seed = 42;
	dp.sampling.temperature = 0.0f;
	/* the guide's max_out_tokens is 100; fewer keep the example quick
	   on a CPU, and the prompts do not depend on it */
	dp.sampling.max_tokens = 32;
	if (!(d = sd_discussion_create(&dp, users, 3, moderator, tm, &err))) {
		status = fail("discussion", &err);
		goto out;
	}

	/* 5. begin (verbose) and save the log */
	shown s = {d, 0};
	if (sd_discussion_run(d, model, print_comment, &s, &err)) {
		status = fail("run", &err);
		goto out;
	}
	char id[40], ts[32];
	sd_uuid4(id);
	sd_timestamp_now(ts, sizeof(ts));
	sd_logs_set_id(sd_discussion_logs_mut(d), id);
	sd_logs_set_timestamp(sd_discussion_logs_mut(d), ts);
	if (sd_logs_save(sd_discussion_logs(d), argv[3], &err)) {
		status = fail("save", &err);
		goto out;
	}
	fprintf(stderr, "wrote %s\n", argv[3]);
	status = 0;
out:
	sd_discussion_free(d);
	sd_turn_manager_free(tm);
	sd_actor_free(moderator);
	sd_actor_free(users[0]);
	sd_actor_free(users[1]);
	sd_persona_free(mod_persona);
	sd_persona_array_free(personas, n_personas);
	sd_backend_free(model);
	sd_global_free();
	return status;
}

/*
 * SynDisco's "Creating a Discussion" guide through the public C API only:
 * a model, personas from a file, actors, a turn manager, a discussion with
 * a moderator, and the log saved as JSON.
 *
 *   guide MODEL.gguf PERSONAS.json OUT.json
 */
#include <stdio.h>
#include <stdlib.h>

#include "syndisco.h"

static void print_comment(const sd_log_comment *c, void *ud)
{
	(void)ud;
	printf("User %s posted: %s\n\n", c->name, c->text);
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
	sd_actor *users[2] = { NULL, NULL }, *moderator = NULL;
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

	/* 1. the model */
	sd_llama_params lp = sd_llama_default_params();
	lp.model_path = argv[1];
	model = sd_backend_llama_create(&lp, &err);
	if (!model) {
		status = fail("model", &err);
		goto out;
	}

	/* 2. personas from a file (like LlmPersona.from_json_file) */
	if (sd_persona_array_load(argv[2], &personas, &n_personas, &err)) {
		status = fail("personas", &err);
		goto out;
	}
	if (n_personas < 2) {
		fprintf(stderr, "guide: %s needs two personas\n", argv[2]);
		goto out;
	}
	mod_persona = sd_persona_from_json(
		"{\"username\": \"Moderator\", \"age\": 41, \"sex\": \"male\","
		" \"education_level\": \"PhD\", \"current_employment\": \"Moderator\","
		" \"personality_characteristics\": [\"strict\", \"neutral\", \"fair\"]}",
		&err);
	if (!mod_persona) {
		status = fail("moderator persona", &err);
		goto out;
	}

	/* 3. actors */
	sd_actor_params ap = sd_actor_default_params();
	ap.model_name = sd_backend_model_name(model);
	ap.context = "You are taking part in an online conversation";
	ap.instructions = "Act like a human would";
	for (int i = 0; i < 2; i++) {
		ap.persona = personas[i];
		if (!(users[i] = sd_actor_create(&ap, &err))) {
			status = fail("actor", &err);
			goto out;
		}
	}
	ap.persona = mod_persona;
	ap.instructions = "You are a moderator. Keep the discussion civil.";
	if (!(moderator = sd_actor_create(&ap, &err))) {
		status = fail("moderator", &err);
		goto out;
	}

	/* 4. turn manager and discussion */
	sd_turn_params tp = sd_turn_default_params();
	tp.kind = SD_TURN_ROUND_ROBIN;
	if (!(tm = sd_turn_manager_create(&tp, 2, &err))) {
		status = fail("turn manager", &err);
		goto out;
	}
	sd_discussion_params dp = sd_discussion_default_params();
	dp.conv_len = 5;
	dp.seed = 42;
	dp.sampling.max_tokens = 32;
	if (!(d = sd_discussion_create(&dp, users, 2, moderator, tm, &err))) {
		status = fail("discussion", &err);
		goto out;
	}

	/* 5. run it and save the log */
	if (sd_discussion_run(d, model, print_comment, NULL, &err)) {
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
	printf("wrote %s\n", argv[3]);
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

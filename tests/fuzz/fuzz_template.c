/* Prompt templates: the placeholder check, then rendering what passed:
 * "USER_PROMPT\nHISTORY_ENTRY". */
#include "core/core.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const entry_known[] = {"name", "text"}, *const prompt_known[] =
								       {"history"};
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = 0;
	char *nl = strchr(text, '\n');
	const char *entry = nl ? nl + 1 : "{name}: {text}";
	if (nl)
		*nl = 0;
	const char *bad;
	size_t bl;
	fuzz_dir();
	if (sd__template_check(text, prompt_known, 1, &bad, &bl) == SD_OK &&
	    sd__template_check(entry, entry_known, 2, &bad, &bl) == SD_OK) {
		sd_error err;
		sd_persona *p = sd_persona_from_json("{\"username\": \"u\"}", &err);
		sd_actor_params ap = sd_actor_default_params();
		ap.persona = p;
		ap.templates.user_prompt = text;
		ap.templates.history_entry = entry;
		sd_actor *a = p ? sd_actor_create(&ap, &err) : NULL;
		sd_comment_view h[2] = {{0}, {0}};
		h[0].name = "a", h[0].text = "{history} {{ }";
		h[1].name = "b{", h[1].text = "x";
		char *out = NULL;
		if (a && sd_actor_user_prompt(a, h, 2, &out) == SD_OK)
			sd_free(out);
		sd_actor_free(a);
		sd_persona_free(p);
	}
	free(text);
	return 0;
}

/* Evaluation rubrics, their grammars (llama.cpp's GBNF parser) and judges'
 * replies: "RUBRIC\nREPLY". */
#include <jansson.h>

#include "core/rubric.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = 0;
	char *nl = strchr(text, '\n');
	const char *reply = nl ? nl + 1 : "";
	if (nl)
		*nl = 0;
	json_t *j = json_loads(text, 0, NULL);
	sd__rubric *r = NULL;
	sd_error err;
	if (j && sd__rubric_parse(j, "f.json", "rubric", &r, &err) == SD_OK) {
		json_t *scores = NULL;
		char *d = sd__rubric_describe(r);
		free(d);
		if (sd__rubric_parse_reply(r, reply, &scores) == SD_OK)
			json_decref(scores);
		json_decref(sd__rubric_json(r));
		sd__rubric_free(r);
	}
	json_decref(j);
	free(text);
	return 0;
}

/* Annotation configs (syndisco annotate CONFIG.json): annotators, label
 * specs and their grammars, over one small log. */
#include "fuzz_util.h"

static const char LOG[] =
    "{\"id\": \"c1\", \"timestamp\": \"26-01-01-00-00\", \"users\": [\"a\", \"b\"],"
    " \"moderator\": null, \"user_prompts\": [\"p\", \"q\"], \"moderator_prompt\": null,"
    " \"ctx_length\": 3, \"logs\": [{\"name\": \"a\", \"text\": \"hi\", \"model\": "
    "\"m\"},"
    " {\"name\": \"b\", \"text\": \"yo\", \"model\": \"m\"}]}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *log = fuzz_write("logs/c1.json", LOG, sizeof(LOG) - 1);
	const char *p = fuzz_write("a.json", data, size);
	const char *inputs[] = {log};
	sd_annotate *a = NULL;
	sd_error err;
	if (sd_annotate_load(p, inputs, 1, &a, &err) == SD_OK)
		sd_annotate_free(a);
	return 0;
}

/* Label specs, their grammars (llama.cpp's GBNF parser behind our
 * bounds) and replies: "SPEC\nREPLY". */
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
	sd_label_spec *s = NULL;
	sd_error err;
	fuzz_dir();
	if (sd_label_spec_parse(text, "f.json", "label", &s, &err) == SD_OK) {
		char msg[256], *label = NULL;
		sd_grammar_check(sd_label_spec_grammar(s), msg, sizeof(msg));
		sd_label_spec_max_bytes(s);
		if (sd_label_parse(s, reply, &label) == SD_OK)
			sd_free(label);
		sd_label_spec_free(s);
	}
	free(text);
	return 0;
}

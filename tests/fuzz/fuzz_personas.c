/* Persona files (personas_file) and single personas. */
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = fuzz_write("p.json", data, size);
	sd_persona **ps = NULL;
	size_t n = 0;
	sd_error err;
	if (sd_persona_array_load(p, &ps, &n, &err) == SD_OK) {
		for (size_t i = 0; i < n; i++)
			sd_persona_free(ps[i]);
		free(ps);
	}
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = 0;
	sd_persona_free(sd_persona_from_json(text, &err));
	free(text);
	return 0;
}

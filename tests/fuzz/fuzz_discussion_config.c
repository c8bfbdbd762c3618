/* Discussion configs (syndisco discuss CONFIG.json). */
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = fuzz_write("c.json", data, size);
	sd_discussion_config *c = NULL;
	sd_error err;
	if (sd_discussion_config_load(p, &c, &err) == SD_OK)
		sd_discussion_config_free(c);
	return 0;
}

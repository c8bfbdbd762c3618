/* OpenAI replies: the body of a 2xx reply and of an error reply, and the
 * scrubbing of an API key from every message made of them. (Headers are
 * parsed by libcurl; Retry-After reaches us as a number.) */
#include "fuzz_util.h"

int sd__openai_fuzz_reply(const char *body, size_t len, const char *key);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* the key a server might echo, raw or escaped, anywhere in the body */
	if (sd__openai_fuzz_reply((const char *)data, size, "sk-k/y"))
		abort(); /* the key is in a message */
	return 0;
}

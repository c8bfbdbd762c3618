/* Mentions in model replies: "NAME\tNAME...\nAUTHOR\nTEXT" (names,
 * the author, then the comment). A found index must name someone other
 * than the author. */
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	const char *names[16];
	size_t n = 0;
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = 0;
	char *nl = strchr(text, '\n');
	char *author = nl ? nl + 1 : NULL;
	char *nl2 = author ? strchr(author, '\n') : NULL;
	const char *comment = nl2 ? nl2 + 1 : "";
	if (nl)
		*nl = 0;
	if (nl2)
		*nl2 = 0;
	for (char *p = text; n < 16;) {
		names[n++] = p;
		char *tab = strchr(p, '\t');
		if (!tab)
			break;
		*tab = 0;
		p = tab + 1;
	}
	size_t k = SIZE_MAX;
	if (sd_mention_find(comment, names, n, author, &k) != SD_OK)
		k = SIZE_MAX;
	if (k != SIZE_MAX && (k >= n || (author && strcmp(names[k], author) == 0)))
		abort();
	free(text);
	return 0;
}

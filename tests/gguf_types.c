/*
 * Print how many tensors of each type a GGUF file holds ("q8_0 13"), one
 * type per line: the quantized-model test checks that the model it runs
 * really is quantized.
 */
#include <stdio.h>

#include "ggml.h"
#include "gguf.h"

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: gguf_types MODEL.gguf\n");
		return 2;
	}
	struct gguf_init_params ip = {.no_alloc = true, .ctx = NULL};
	struct gguf_context *g = gguf_init_from_file(argv[1], ip);
	if (!g) {
		fprintf(stderr, "gguf_types: cannot read %s\n", argv[1]);
		return 1;
	}
	int counts[GGML_TYPE_COUNT] = {0};
	for (int64_t i = 0; i < gguf_get_n_tensors(g); i++) {
		enum ggml_type t = gguf_get_tensor_type(g, i);
		if ((int)t >= 0 && t < GGML_TYPE_COUNT)
			counts[t]++;
	}
	for (int t = 0; t < GGML_TYPE_COUNT; t++)
		if (counts[t])
			printf("%s %d\n", ggml_type_name((enum ggml_type)t), counts[t]);
	gguf_free(g);
	return 0;
}

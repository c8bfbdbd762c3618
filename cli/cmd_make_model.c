#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char usage[] =
    "usage: syndisco make-test-model OUT.gguf [options]\n"
    "\n"
    "Write a small random-weight llama model with the real Llama-3\n"
    "tokenizer, for tests, demos and benchmarks. Its text is gibberish.\n"
    "\n"
    "options:\n"
    "  --seed N        weight seed (default 42)\n"
    "  --vocab PATH    vocab-only GGUF to take the tokenizer from (default:\n"
    "                  llama.cpp's ggml-vocab-llama-bpe.gguf)\n"
    "  --n-embd N      embedding size (default 64)\n"
    "  --n-layer N     layers (default 2)\n"
    "  --n-head N      attention heads (default 4)\n"
    "  --n-head-kv N   KV heads (default 2)\n"
    "  --n-ff N        feed-forward size (default 128)\n"
    "  --type T        f32 (default), f16, q8_0, q4_k\n"
    "  -h, --help      this help\n"
    "\n"
    "Llama-3.2-1B's shape: --n-embd 2048 --n-layer 16 --n-head 32\n"
    "  --n-head-kv 8 --n-ff 8192\n";

int cmd_make_model(int argc, char **argv)
{
	sd_test_model_params p = sd_test_model_default_params();
	const char *out = NULL, *v;
	const char *vocab = getenv("SYNDISCO_VOCAB");
	sd_error err;
	struct {
		const char *name;
		int32_t *dst;
	} ints[] = {
	    {"--n-embd", &p.n_embd}, {"--n-layer", &p.n_layer},
	    {"--n-head", &p.n_head}, {"--n-head-kv", &p.n_head_kv},
	    {"--n-ff", &p.n_ff},
	};

	sd_error_clear(&err);
	for (int i = 1; i < argc; i++) {
		bool matched = false;
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			fputs(usage, stdout);
			return 0;
		}
		for (size_t k = 0; k < sizeof(ints) / sizeof(ints[0]); k++) {
			if ((v = cli_opt(argc, argv, &i, ints[k].name))) {
				int x;
				if (!cli_parse_int(v, 1, 1 << 20, &x))
					return cli_errorf(
					    2, "%s: '%s' is not a positive whole number",
					    ints[k].name, v);
				*ints[k].dst = x;
				matched = true;
				break;
			}
		}
		if (matched)
			continue;
		if ((v = cli_opt(argc, argv, &i, "--seed"))) {
			uint64_t s;
			if (!cli_parse_u64(v, &s))
				return cli_errorf(
				    2, "--seed: '%s' is not a whole number >= 0", v);
			p.seed = s;
		} else if ((v = cli_opt(argc, argv, &i, "--vocab"))) {
			vocab = v;
		} else if ((v = cli_opt(argc, argv, &i, "--type"))) {
			p.type = v;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			fputs(usage, stderr);
			return cli_errorf(2, "unknown option '%s'", argv[i]);
		} else if (!out) {
			out = argv[i];
		} else {
			return cli_errorf(2, "only one OUT.gguf, got '%s' too", argv[i]);
		}
	}
	if (!out) {
		fputs(usage, stderr);
		return cli_errorf(2, "no OUT.gguf given");
	}
	p.vocab_path = vocab && *vocab ? vocab : SYNDISCO_DEFAULT_VOCAB;
	sd_global_init(true);
	int rc = sd_make_test_model(&p, out, &err);
	sd_global_free();
	if (rc)
		return cli_fail(&err);
	fprintf(stderr, "syndisco: wrote %s (%d-dim, %d layers, %s)\n", out,
		(int)p.n_embd, (int)p.n_layer, p.type ? p.type : "f32");
	return 0;
}

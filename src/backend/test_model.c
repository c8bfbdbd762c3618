/*
 * Tiny random-weight llama models for tests: a real tokenizer (copied from
 * a vocab-only GGUF) on top of a few small layers of deterministic noise.
 * The text they write is gibberish, but every code path of the llama
 * backend (templates, tokenizing, batching, sampling, UTF-8 repair) runs
 * for real and in milliseconds.
 *
 * Needs sd_global_init() first: llama.cpp builds and saves the model.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ggml-backend.h"
#include "ggml.h"
#include "gguf.h"
#include "llama.h"

#include "backend/backend.h"
#include "util/buf.h"
#include "util/cpu_isa.h"
#include "util/error.h"
#include "util/rng.h"

sd_test_model_params sd_test_model_default_params(void)
{
	sd_test_model_params p = {
	    .vocab_path = NULL,
	    .seed = 42,
	    .n_embd = 64,
	    .n_layer = 2,
	    .n_head = 4,
	    .n_head_kv = 2,
	    .n_ff = 128,
	    .n_ctx_train = 4096,
	    .type = "f32",
	};
	return p;
}

/* What the weight callback needs; it cannot return an error, so it
 * records one here. */
typedef struct fill_ud {
	uint64_t seed;
	bool failed;
	char failed_name[GGML_MAX_NAME];
} fill_ud;

/* FNV-1a: a stable hash of the tensor name, so each tensor gets its own
 * stream whatever order llama.cpp creates them in. */
static uint64_t name_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

/*
 * Box-Muller: two uniforms give two independent normals, and both are
 * used, which halves the cost of filling the 8M-value embedding tables.
 * 1 - u keeps the log argument in (0, 1].
 */
static void normal_pair(sd__rng *r, float stdev, float out[2])
{
	double u1 = 1.0 - sd__rng_double(r);
	double u2 = sd__rng_double(r);
	float rad = stdev * sqrtf(-2.0f * logf((float)u1));
	float th = (float)(6.283185307179586 * u2);
	out[0] = rad * cosf(th);
	out[1] = rad * sinf(th);
}

static void fill_tensor(struct ggml_tensor *t, void *userdata)
{
	fill_ud *ud = userdata;
	int64_t ne = ggml_nelements(t);
	bool is_norm = strstr(t->name, "_norm") != NULL;
	sd__rng rng;
	sd__rng_seed(&rng, sd__seed_mix(ud->seed, name_hash(t->name)));

	if (t->type != GGML_TYPE_F32 && t->type != GGML_TYPE_F16) {
		goto fail;
	}
	size_t esz = t->type == GGML_TYPE_F32 ? sizeof(float) : sizeof(ggml_fp16_t);
	void *buf = malloc((size_t)ne * esz);
	if (!buf)
		goto fail;
	float pair[2] = {1.0f, 1.0f};
	for (int64_t i = 0; i < ne; i++) {
		/* RMS norm weights of 1 keep activations at a sane scale */
		if (!is_norm && (i & 1) == 0)
			normal_pair(&rng, 0.02f, pair);
		float v = pair[i & 1];
		if (t->type == GGML_TYPE_F32)
			((float *)buf)[i] = v;
		else
			((ggml_fp16_t *)buf)[i] = ggml_fp32_to_fp16(v);
	}
	ggml_backend_tensor_set(t, buf, 0, ggml_nbytes(t));
	free(buf);
	return;
fail:
	if (!ud->failed) {
		ud->failed = true;
		snprintf(ud->failed_name, sizeof(ud->failed_name), "%s", t->name);
	}
}

static bool silent_progress(float progress, void *ud)
{
	(void)progress;
	(void)ud;
	return true;
}

/* Map the type name to an ftype; *quantize false for plain f32. */
static int parse_type(const char *type, enum llama_ftype *ftype, bool *quantize)
{
	*quantize = true;
	if (!type || strcmp(type, "f32") == 0) {
		*ftype = LLAMA_FTYPE_ALL_F32;
		*quantize = false;
	} else if (strcmp(type, "f16") == 0) {
		*ftype = LLAMA_FTYPE_MOSTLY_F16;
	} else if (strcmp(type, "q8_0") == 0) {
		*ftype = LLAMA_FTYPE_MOSTLY_Q8_0;
	} else if (strcmp(type, "q4_k") == 0) {
		*ftype = LLAMA_FTYPE_MOSTLY_Q4_K_M;
	} else {
		return SD_EINVAL;
	}
	return SD_OK;
}

static int check_params(const sd_test_model_params *p, sd_error *err)
{
	const struct {
		const char *name;
		int32_t v;
	} pos[] = {
	    {"n_embd", p->n_embd}, {"n_layer", p->n_layer},
	    {"n_head", p->n_head}, {"n_head_kv", p->n_head_kv},
	    {"n_ff", p->n_ff},	   {"n_ctx_train", p->n_ctx_train},
	};
	for (size_t i = 0; i < sizeof(pos) / sizeof(pos[0]); i++) {
		if (pos[i].v <= 0)
			return sd__error_set(err, SD_EINVAL, NULL, pos[i].name,
					     "must be positive (got %d)", (int)pos[i].v);
	}
	if (p->n_embd % p->n_head != 0)
		return sd__error_set(err, SD_EINVAL, NULL, "n_embd",
				     "%d is not a multiple of n_head %d", (int)p->n_embd,
				     (int)p->n_head);
	if (p->n_head % p->n_head_kv != 0)
		return sd__error_set(err, SD_EINVAL, NULL, "n_head",
				     "%d is not a multiple of n_head_kv %d",
				     (int)p->n_head, (int)p->n_head_kv);
	/* RoPE rotates pairs of dimensions */
	if ((p->n_embd / p->n_head) % 2 != 0)
		return sd__error_set(err, SD_EINVAL, NULL, "n_embd",
				     "head size n_embd/n_head = %d must be even",
				     (int)(p->n_embd / p->n_head));
	enum llama_ftype ft;
	bool q;
	if (parse_type(p->type, &ft, &q))
		return sd__error_set(err, SD_EINVAL, NULL, "type",
				     "unknown type \"%s\" (valid: f32, f16, q8_0, q4_k)",
				     p->type);
	return SD_OK;
}

/*
 * The model's metadata: the vocab file's tokenizer.* keys plus our
 * hyper-parameters. Caller frees *out with gguf_free().
 */
static int build_meta(const sd_test_model_params *p, struct gguf_context **out,
		      uint32_t *n_vocab, sd_error *err)
{
	struct gguf_context *vocab = NULL;
	struct gguf_context *meta = NULL;
	char **drop = NULL;
	size_t n_drop = 0;
	int rc = SD_OK;

	*out = NULL;
	FILE *f = fopen(p->vocab_path, "rb");
	if (!f) {
		if (errno == ENOENT)
			rc = sd__error_set(err, SD_ENOTFOUND, p->vocab_path, NULL,
					   "vocab file not found");
		else
			rc = sd__error_set(err, SD_EIO, p->vocab_path, NULL,
					   "cannot open: %s", strerror(errno));
		goto out;
	}
	char magic[4];
	size_t got = fread(magic, 1, sizeof(magic), f);
	fclose(f);
	if (got != sizeof(magic) || memcmp(magic, "GGUF", 4) != 0) {
		rc = sd__error_set(err, SD_EPARSE, p->vocab_path, NULL,
				   "is not a GGUF file");
		goto out;
	}
	struct gguf_init_params gp = {.no_alloc = true, .ctx = NULL};
	vocab = gguf_init_from_file(p->vocab_path, gp);
	if (!vocab) {
		rc = sd__error_set(err, SD_EPARSE, p->vocab_path, NULL,
				   "malformed GGUF file");
		goto out;
	}
	int64_t k = gguf_find_key(vocab, "tokenizer.ggml.tokens");
	if (k < 0 || gguf_get_kv_type(vocab, k) != GGUF_TYPE_ARRAY ||
	    gguf_get_arr_n(vocab, k) == 0 || gguf_get_arr_n(vocab, k) > INT32_MAX) {
		rc = sd__error_set(err, SD_EPARSE, p->vocab_path, "tokenizer.ggml.tokens",
				   "no token list in this file");
		goto out;
	}
	*n_vocab = (uint32_t)gguf_get_arr_n(vocab, k);

	meta = gguf_init_empty();
	if (!meta)
		goto nomem;
	/*
	 * gguf_set_kv copies every key with its type, which saves a
	 * per-type copy; then everything but tokenizer.* goes, so no
	 * stale hyper-parameter of the vocab file survives.
	 */
	gguf_set_kv(meta, vocab);
	int64_t n_kv = gguf_get_n_kv(meta);
	drop = calloc(n_kv > 0 ? (size_t)n_kv : 1, sizeof(*drop));
	if (!drop)
		goto nomem;
	for (int64_t i = 0; i < n_kv; i++) {
		const char *key = gguf_get_key(meta, i);
		if (strncmp(key, "tokenizer.", 10) == 0)
			continue;
		/* copy: removing a key frees its name */
		drop[n_drop] = strdup(key);
		if (!drop[n_drop])
			goto nomem;
		n_drop++;
	}
	for (size_t i = 0; i < n_drop; i++)
		gguf_remove_key(meta, drop[i]);

	gguf_set_val_str(meta, "general.architecture", "llama");
	gguf_set_val_str(meta, "general.name", "syndisco-tiny");
	gguf_set_val_u32(meta, "llama.vocab_size", *n_vocab);
	gguf_set_val_u32(meta, "llama.context_length", (uint32_t)p->n_ctx_train);
	gguf_set_val_u32(meta, "llama.embedding_length", (uint32_t)p->n_embd);
	gguf_set_val_u32(meta, "llama.block_count", (uint32_t)p->n_layer);
	gguf_set_val_u32(meta, "llama.feed_forward_length", (uint32_t)p->n_ff);
	gguf_set_val_u32(meta, "llama.attention.head_count", (uint32_t)p->n_head);
	gguf_set_val_u32(meta, "llama.attention.head_count_kv", (uint32_t)p->n_head_kv);
	/* must equal the head size, or llama.cpp rejects the model */
	gguf_set_val_u32(meta, "llama.rope.dimension_count",
			 (uint32_t)(p->n_embd / p->n_head));
	gguf_set_val_f32(meta, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
	gguf_set_val_f32(meta, "llama.rope.freq_base", 500000.0f);
	*out = meta;
	meta = NULL;
	goto out;
nomem:
	rc = sd__error_set(err, SD_ENOMEM, p->vocab_path, NULL, "out of memory");
out:
	for (size_t i = 0; i < n_drop; i++)
		free(drop[i]);
	free(drop);
	if (meta)
		gguf_free(meta);
	if (vocab)
		gguf_free(vocab);
	return rc;
}

static bool file_exists(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return false;
	fclose(f);
	return true;
}

int sd_make_test_model(const sd_test_model_params *p, const char *out_path, sd_error *err)
{
	struct gguf_context *meta = NULL;
	struct llama_model *model = NULL;
	sd__buf tmp_f32, tmp_q;
	uint32_t n_vocab = 0;
	enum llama_ftype ftype = LLAMA_FTYPE_ALL_F32;
	bool quantize = false;
	int rc;

	sd__buf_init(&tmp_f32, 0);
	sd__buf_init(&tmp_q, 0);
	if (!p || !p->vocab_path || !p->vocab_path[0]) {
		rc = sd__error_set(err, SD_EINVAL, NULL, "vocab_path",
				   "a vocab GGUF path is required");
		goto out;
	}
	if (!out_path || !out_path[0]) {
		rc = sd__error_set(err, SD_EINVAL, NULL, "out_path",
				   "an output path is required");
		goto out;
	}
	rc = check_params(p, err);
	if (rc)
		goto out;
	rc = sd__cpu_isa_check(SD_LLAMA_ISA, NULL, err);
	if (rc)
		goto out;
	parse_type(p->type, &ftype, &quantize);

	/* temp files next to out_path, so the final rename() is atomic */
	long pid = (long)getpid();
	if (sd__buf_printf(&tmp_f32, "%s.tmp.%ld", out_path, pid) ||
	    sd__buf_printf(&tmp_q, "%s.q.tmp.%ld", out_path, pid)) {
		rc = sd__error_set(err, SD_ENOMEM, out_path, NULL, "out of memory");
		goto out;
	}

	rc = build_meta(p, &meta, &n_vocab, err);
	if (rc)
		goto out;

	fill_ud ud = {.seed = p->seed, .failed = false};
	struct llama_model_params mp = llama_model_default_params();
	mp.n_gpu_layers = 0; /* built on the CPU: it is written straight out */
	mp.progress_callback = silent_progress;
	model = llama_model_init_from_user(meta, fill_tensor, &ud, mp);
	if (!model) {
		rc = sd__error_set(err, SD_EBACKEND, out_path, NULL,
				   "llama.cpp could not build the model");
		goto out;
	}
	if (ud.failed) {
		rc = sd__error_set(err, SD_EBACKEND, out_path, NULL,
				   "cannot fill tensor %s", ud.failed_name);
		goto out;
	}
	/* returns nothing: success is checked by loading the file below */
	llama_model_save_to_file(model, tmp_f32.data);
	llama_model_free(model);
	model = NULL;
	if (!file_exists(tmp_f32.data)) {
		rc = sd__error_set(err, SD_EIO, tmp_f32.data, NULL,
				   "llama.cpp could not write the model");
		goto out;
	}

	const char *final_tmp = tmp_f32.data;
	if (quantize) {
		struct llama_model_quantize_params qp =
		    llama_model_quantize_default_params();
		qp.ftype = ftype;
		qp.nthread = 1; /* the model is tiny; threads cost more */
		if (llama_model_quantize(tmp_f32.data, tmp_q.data, &qp) != 0) {
			rc = sd__error_set(err, SD_EBACKEND, out_path, "type",
					   "llama.cpp could not quantize to %s", p->type);
			goto out;
		}
		final_tmp = tmp_q.data;
	}

	/* reload: proves the file is a model llama.cpp accepts */
	mp = llama_model_default_params();
	mp.n_gpu_layers = 0;
	mp.vocab_only = false;
	mp.progress_callback = silent_progress;
	model = llama_model_load_from_file(final_tmp, mp);
	if (!model) {
		rc = sd__error_set(err, SD_EBACKEND, out_path, NULL,
				   "the written model does not load");
		goto out;
	}
	int32_t got = llama_vocab_n_tokens(llama_model_get_vocab(model));
	if (got < 0 || (uint32_t)got != n_vocab) {
		rc = sd__error_set(err, SD_EBACKEND, out_path, NULL,
				   "reloaded model has %d tokens, expected %u", (int)got,
				   (unsigned)n_vocab);
		goto out;
	}
	if (rename(final_tmp, out_path) != 0) {
		rc = sd__error_set(err, SD_EIO, out_path, NULL, "cannot rename %s: %s",
				   final_tmp, strerror(errno));
		goto out;
	}
	rc = SD_OK;
out:
	if (model)
		llama_model_free(model);
	if (meta)
		gguf_free(meta);
	/* after a successful rename these are gone; then remove() just fails */
	if (tmp_f32.data)
		remove(tmp_f32.data);
	if (tmp_q.data)
		remove(tmp_q.data);
	sd__buf_free(&tmp_f32);
	sd__buf_free(&tmp_q);
	return rc;
}

/* Annotation files (ours and SynDisco's) matched against a log. */
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
	fuzz_write("ann/tox/c1.json", data, size);
	char ann[512];
	snprintf(ann, sizeof(ann), "%s/ann", fuzz_dir());
	sd_dataset_params dp = sd_dataset_default_params();
	const char *logs[] = {log}, *anns[] = {ann};
	dp.log_paths = logs;
	dp.n_log_paths = 1;
	dp.annotation_paths = anns;
	dp.n_annotation_paths = 1;
	sd_dataset *d = NULL;
	sd_error err;
	if (sd_dataset_load(&dp, &d, &err) == SD_OK) {
		sd_dataset_export(d, SD_EXPORT_CSV, fuzz_sink, NULL, &err);
		sd_dataset_export(d, SD_EXPORT_JSONL, fuzz_sink, NULL, &err);
		sd_dataset_free(d);
	}
	return 0;
}

/* Discussion logs of every SynDisco version and ours: the log loader,
 * then the dataset reader and the export of what it read. */
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = fuzz_write("logs/x.json", data, size);
	sd_logs *l = NULL;
	sd_error err;
	if (sd_logs_load(p, &l, &err) == SD_OK)
		sd_logs_free(l);
	sd_dataset_params dp = sd_dataset_default_params();
	const char *paths[] = {p};
	dp.log_paths = paths;
	dp.n_log_paths = 1;
	sd_dataset *d = NULL;
	if (sd_dataset_load(&dp, &d, &err) == SD_OK) {
		sd_dataset_export(d, SD_EXPORT_CSV, fuzz_sink, NULL, &err);
		sd_dataset_export(d, SD_EXPORT_JSONL, fuzz_sink, NULL, &err);
		sd_dataset_free(d);
	}
	return 0;
}

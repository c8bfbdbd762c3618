/* Experiment configs (syndisco run CONFIG.json): cells, roles, files. */
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = fuzz_write("e.json", data, size);
	sd_experiment *e = NULL;
	sd_error err;
	if (sd_experiment_load(p, &e, &err) == SD_OK) {
		sd_free(sd_experiment_manifest_json(e));
		sd_experiment_free(e);
	}
	return 0;
}

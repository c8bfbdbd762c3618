/*
 * Build-time probe for scripts/build-llama.sh: which x86 extensions this
 * machine can run, as ggml CMake switches (never -march=native, which
 * trusts CPUID alone: a CPU that advertises AMX under a kernel or
 * hypervisor that does not enable tiles then dies with SIGILL in the
 * first quantized matrix product).
 *
 *   isa_probe --cmake   -DGGML_NATIVE=OFF -DGGML_AVX2=ON ... (one line)
 *   isa_probe --names   avx avx2 fma ... (what the build will use)
 *   isa_probe --facts   what CPUID, XCR0 and the AMX trial said
 *
 * Compiled with src/util/cpu_isa.c and src/util/error.c, nothing else.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "util/cpu_isa.h"

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "--cmake";
	sd__cpu_facts f;
	sd__cpu_facts_read(&f, true);
	uint32_t use = sd__cpu_isa_usable(&f);

	if (strcmp(mode, "--cmake") == 0) {
		printf("-DGGML_NATIVE=OFF");
		for (uint32_t bit = 1; bit < SD__ISA_END; bit <<= 1)
			printf(" -D%s=%s", sd__cpu_isa_cmake(bit),
			       (use & bit) ? "ON" : "OFF");
		printf("\n");
	} else if (strcmp(mode, "--names") == 0) {
		const char *sep = "";
		for (uint32_t bit = 1; bit < SD__ISA_END; bit <<= 1) {
			if (use & bit) {
				printf("%s%s", sep, sd__cpu_isa_name(bit));
				sep = " ";
			}
		}
		printf("\n");
	} else if (strcmp(mode, "--facts") == 0) {
		printf("xcr0=0x%" PRIx64 " amx_permitted=%d amx_runs=%d\n", f.xcr0,
		       f.amx_permitted, f.amx_runs);
		for (uint32_t bit = 1; bit < SD__ISA_END; bit <<= 1)
			printf("%-12s advertised=%d usable=%d\n", sd__cpu_isa_name(bit),
			       !!(f.advertised & bit), !!(use & bit));
	} else {
		fprintf(stderr, "usage: isa_probe [--cmake|--names|--facts]\n");
		return 2;
	}
	return 0;
}

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

static const struct {
	uint32_t bit;
	const char *cmake;
} switches[] = {
    {SD__ISA_SSE42, "GGML_SSE42"},
    {SD__ISA_AVX, "GGML_AVX"},
    {SD__ISA_F16C, "GGML_F16C"},
    {SD__ISA_FMA, "GGML_FMA"},
    {SD__ISA_AVX2, "GGML_AVX2"},
    {SD__ISA_BMI2, "GGML_BMI2"},
    {SD__ISA_AVX_VNNI, "GGML_AVX_VNNI"},
    {SD__ISA_AVX512, "GGML_AVX512"},
    {SD__ISA_AVX512_VBMI, "GGML_AVX512_VBMI"},
    {SD__ISA_AVX512_VNNI, "GGML_AVX512_VNNI"},
    {SD__ISA_AVX512_BF16, "GGML_AVX512_BF16"},
    {SD__ISA_AMX_TILE, "GGML_AMX_TILE"},
    {SD__ISA_AMX_INT8, "GGML_AMX_INT8"},
    {SD__ISA_AMX_BF16, "GGML_AMX_BF16"},
};
#define N_SW (sizeof(switches) / sizeof(switches[0]))

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "--cmake";
	sd__cpu_facts f;
	sd__cpu_facts_read(&f, true);
	uint32_t use = sd__cpu_isa_usable(&f);

	if (strcmp(mode, "--cmake") == 0) {
		printf("-DGGML_NATIVE=OFF");
		for (size_t i = 0; i < N_SW; i++)
			printf(" -D%s=%s", switches[i].cmake,
			       (use & switches[i].bit) ? "ON" : "OFF");
		printf("\n");
	} else if (strcmp(mode, "--names") == 0) {
		const char *sep = "";
		for (size_t i = 0; i < N_SW; i++) {
			if (use & switches[i].bit) {
				printf("%s%s", sep, sd__cpu_isa_name(switches[i].bit));
				sep = " ";
			}
		}
		printf("\n");
	} else if (strcmp(mode, "--facts") == 0) {
		printf("xcr0=0x%" PRIx64 " amx_permitted=%d amx_runs=%d\n", f.xcr0,
		       f.amx_permitted, f.amx_runs);
		for (size_t i = 0; i < N_SW; i++)
			printf("%-12s advertised=%d usable=%d\n",
			       sd__cpu_isa_name(switches[i].bit),
			       !!(f.advertised & switches[i].bit),
			       !!(use & switches[i].bit));
	} else {
		fprintf(stderr, "usage: isa_probe [--cmake|--names|--facts]\n");
		return 2;
	}
	return 0;
}

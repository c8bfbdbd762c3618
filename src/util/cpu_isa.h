/*
 * Which x86 instruction-set extensions this machine can really run.
 *
 * One source for two uses: scripts/build-llama.sh compiles it into a probe
 * (scripts/isa_probe.c) that picks the ggml build flags, and the library
 * checks at model load that the running machine has every extension the
 * llama.cpp build was compiled with (SD_LLAMA_ISA, recorded at build
 * time), so a binary carried to an older node fails with a sentence
 * instead of SIGILL.
 *
 * "Can run" is stricter than "the CPU advertises": AVX state must be
 * enabled by the OS in XCR0, and AMX tiles additionally need the per-
 * process permission (arch_prctl ARCH_REQ_XCOMP_PERM) and, since some
 * hypervisors grant the permission without enabling the state, a tile
 * instruction that actually executes.
 */
#ifndef SD_UTIL_CPU_ISA_H
#define SD_UTIL_CPU_ISA_H

#include <stdbool.h>
#include <stdint.h>

#include "syndisco.h"

/* One bit per extension ggml has a build switch for. */
enum {
	SD__ISA_SSE42 = 1u << 0,
	SD__ISA_AVX = 1u << 1,
	SD__ISA_F16C = 1u << 2,
	SD__ISA_FMA = 1u << 3,
	SD__ISA_AVX2 = 1u << 4,
	SD__ISA_BMI2 = 1u << 5,
	SD__ISA_AVX_VNNI = 1u << 6,
	SD__ISA_AVX512 = 1u << 7, /* F, CD, VL, DQ, BW together */
	SD__ISA_AVX512_VBMI = 1u << 8,
	SD__ISA_AVX512_VNNI = 1u << 9,
	SD__ISA_AVX512_BF16 = 1u << 10,
	SD__ISA_AMX_TILE = 1u << 11,
	SD__ISA_AMX_INT8 = 1u << 12,
	SD__ISA_AMX_BF16 = 1u << 13,
};

/* What the CPU and the OS say, before any decision. */
typedef struct sd__cpu_facts {
	uint32_t advertised; /* SD__ISA_* bits from CPUID */
	uint64_t xcr0;	     /* OS-enabled state; 0 when OSXSAVE is off */
	bool amx_permitted;  /* arch_prctl(ARCH_REQ_XCOMP_PERM) succeeded */
	bool amx_runs;	     /* a tile instruction executed in a child */
} sd__cpu_facts;

/*
 * Read the facts of this machine. AMX is only tried (fork + tile
 * instructions) when try_amx is true and the CPU advertises it. On a
 * non-x86 machine everything is zero.
 */
void sd__cpu_facts_read(sd__cpu_facts *f, bool try_amx);

/* The SD__ISA_* bits that are safe to use given the facts (pure). */
uint32_t sd__cpu_isa_usable(const sd__cpu_facts *f);

/* Name of one SD__ISA_* bit ("avx512_vnni"), or NULL. */
const char *sd__cpu_isa_name(uint32_t bit);
/* ggml's CMake switch for one bit ("GGML_AVX512_VNNI"), or NULL. */
const char *sd__cpu_isa_cmake(uint32_t bit);
/* One past the highest SD__ISA_* bit: iterate with bit <<= 1 below it. */
#define SD__ISA_END (SD__ISA_AMX_BF16 << 1)

/*
 * Parse a space-separated list of names into bits. Unknown names set
 * *unknown (borrowed pointer into list, or NULL) and return 0 bits for
 * them.
 */
uint32_t sd__cpu_isa_parse(const char *list, const char **unknown);

/*
 * Check that this machine can run every extension in `required` (a
 * space-separated name list, as recorded by the build). The environment
 * variable SYNDISCO_TEST_HIDE_ISA (names) pretends those are missing,
 * so the failure path can be tested on any machine. Returns SD_OK or
 * SD_EBACKEND with err naming the missing extensions and what to do.
 */
int sd__cpu_isa_check(const char *required, const char *source, sd_error *err);

#endif

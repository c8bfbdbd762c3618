/*
 * x86 instruction-set detection; see cpu_isa.h for why "can run" needs
 * more than CPUID. Kept free of the rest of the library (only error.c
 * for the check) so that scripts/build-llama.sh can compile it into its
 * probe with nothing else.
 */
#include "util/cpu_isa.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#if defined(__linux__)
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#endif
#define SD_X86 1
#endif

static const struct {
	uint32_t bit;
	const char *name;
	const char *cmake; /* ggml's build switch */
} isa_names[] = {
    {SD__ISA_SSE42, "sse4.2", "GGML_SSE42"},
    {SD__ISA_AVX, "avx", "GGML_AVX"},
    {SD__ISA_F16C, "f16c", "GGML_F16C"},
    {SD__ISA_FMA, "fma", "GGML_FMA"},
    {SD__ISA_AVX2, "avx2", "GGML_AVX2"},
    {SD__ISA_BMI2, "bmi2", "GGML_BMI2"},
    {SD__ISA_AVX_VNNI, "avx_vnni", "GGML_AVX_VNNI"},
    {SD__ISA_AVX512, "avx512", "GGML_AVX512"},
    {SD__ISA_AVX512_VBMI, "avx512_vbmi", "GGML_AVX512_VBMI"},
    {SD__ISA_AVX512_VNNI, "avx512_vnni", "GGML_AVX512_VNNI"},
    {SD__ISA_AVX512_BF16, "avx512_bf16", "GGML_AVX512_BF16"},
    {SD__ISA_AMX_TILE, "amx_tile", "GGML_AMX_TILE"},
    {SD__ISA_AMX_INT8, "amx_int8", "GGML_AMX_INT8"},
    {SD__ISA_AMX_BF16, "amx_bf16", "GGML_AMX_BF16"},
};
#define N_ISA (sizeof(isa_names) / sizeof(isa_names[0]))

const char *sd__cpu_isa_name(uint32_t bit)
{
	for (size_t i = 0; i < N_ISA; i++)
		if (isa_names[i].bit == bit)
			return isa_names[i].name;
	return NULL;
}

#ifdef SD_X86
static uint64_t read_xcr0(void)
{
	uint32_t lo, hi;
	/* xgetbv, spelled as bytes so no -mxsave is needed */
	__asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(lo), "=d"(hi) : "c"(0));
	return ((uint64_t)hi << 32) | lo;
}

static uint32_t read_advertised(bool *osxsave)
{
	unsigned a, b, c, d;
	uint32_t bits = 0;

	*osxsave = false;
	if (!__get_cpuid(1, &a, &b, &c, &d))
		return 0;
	*osxsave = (c >> 27) & 1;
	if ((c >> 20) & 1)
		bits |= SD__ISA_SSE42;
	if ((c >> 28) & 1)
		bits |= SD__ISA_AVX;
	if ((c >> 29) & 1)
		bits |= SD__ISA_F16C;
	if ((c >> 12) & 1)
		bits |= SD__ISA_FMA;
	if (__get_cpuid_max(0, NULL) < 7)
		return bits;
	__cpuid_count(7, 0, a, b, c, d);
	unsigned max_sub = a;
	if ((b >> 5) & 1)
		bits |= SD__ISA_AVX2;
	if ((b >> 8) & 1)
		bits |= SD__ISA_BMI2;
	/* ggml's AVX512 switch means F, CD, DQ, BW and VL together */
	const unsigned avx512 =
	    (1u << 16) | (1u << 17) | (1u << 28) | (1u << 30) | (1u << 31);
	if ((b & avx512) == avx512)
		bits |= SD__ISA_AVX512;
	if ((c >> 1) & 1)
		bits |= SD__ISA_AVX512_VBMI;
	if ((c >> 11) & 1)
		bits |= SD__ISA_AVX512_VNNI;
	if ((d >> 24) & 1)
		bits |= SD__ISA_AMX_TILE;
	if ((d >> 25) & 1)
		bits |= SD__ISA_AMX_INT8;
	if ((d >> 22) & 1)
		bits |= SD__ISA_AMX_BF16;
	if (max_sub >= 1) {
		__cpuid_count(7, 1, a, b, c, d);
		if ((a >> 4) & 1)
			bits |= SD__ISA_AVX_VNNI;
		if ((a >> 5) & 1)
			bits |= SD__ISA_AVX512_BF16;
	}
	return bits;
}

#if defined(__linux__)
/*
 * In a child: ask for the tile data permission, then load a one-tile
 * config, zero the tile and release. Exit 0 = ran, 2 = permission
 * refused; a SIGILL (state not enabled, or a hypervisor that grants the
 * permission but traps the instructions) kills the child. The parent
 * never touches AMX state.
 */
static void try_amx(bool *permitted, bool *runs)
{
	*permitted = *runs = false;
	pid_t pid = fork();
	if (pid < 0)
		return;
	if (pid == 0) {
		/* ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA */
		if (syscall(SYS_arch_prctl, 0x1023, 18) != 0)
			_exit(2);
		static unsigned char cfg[64] __attribute__((aligned(64)));
		cfg[0] = 1;   /* palette 1 */
		cfg[16] = 64; /* tile 0: 64 bytes per row */
		cfg[48] = 16; /* tile 0: 16 rows */
		__asm__ volatile(
		    /* ldtilecfg (%rdi); tilezero %tmm0; tilerelease */
		    ".byte 0xc4, 0xe2, 0x78, 0x49, 0x07\n\t"
		    ".byte 0xc4, 0xe2, 0x7b, 0x49, 0xc0\n\t"
		    ".byte 0xc4, 0xe2, 0x78, 0x49, 0xc0\n\t"
		    :
		    : "D"(cfg)
		    : "memory");
		_exit(0);
	}
	int st = 0;
	while (waitpid(pid, &st, 0) < 0)
		;
	if (WIFEXITED(st)) {
		*permitted = WEXITSTATUS(st) != 2;
		*runs = WEXITSTATUS(st) == 0;
	} else {
		*permitted = true; /* it got as far as the instructions */
	}
}
#endif
#endif

void sd__cpu_facts_read(sd__cpu_facts *f, bool amx)
{
	memset(f, 0, sizeof(*f));
#ifdef SD_X86
	bool osxsave;
	f->advertised = read_advertised(&osxsave);
	f->xcr0 = osxsave ? read_xcr0() : 0;
#if defined(__linux__)
	if (amx && (f->advertised & SD__ISA_AMX_TILE) &&
	    (f->xcr0 & (3ull << 17)) == (3ull << 17))
		try_amx(&f->amx_permitted, &f->amx_runs);
#else
	(void)amx;
#endif
#else
	(void)amx;
#endif
}

uint32_t sd__cpu_isa_usable(const sd__cpu_facts *f)
{
	const uint32_t needs_avx_state =
	    SD__ISA_AVX | SD__ISA_F16C | SD__ISA_FMA | SD__ISA_AVX2 | SD__ISA_AVX_VNNI;
	const uint32_t needs_zmm_state = SD__ISA_AVX512 | SD__ISA_AVX512_VBMI |
					 SD__ISA_AVX512_VNNI | SD__ISA_AVX512_BF16;
	const uint32_t amx = SD__ISA_AMX_TILE | SD__ISA_AMX_INT8 | SD__ISA_AMX_BF16;
	uint32_t ok = f->advertised;

	/* XCR0 bits 1-2: SSE and AVX state; 5-7: opmask and ZMM state */
	if ((f->xcr0 & 0x6) != 0x6)
		ok &= ~(needs_avx_state | needs_zmm_state | amx);
	if ((f->xcr0 & 0xe0) != 0xe0)
		ok &= ~needs_zmm_state;
	/* the AVX-512 extensions are only used on top of the base set */
	if (!(ok & SD__ISA_AVX512))
		ok &= ~needs_zmm_state;
	/* 17-18: tile config and data; then permission, then a real run */
	if ((f->xcr0 & (3ull << 17)) != (3ull << 17) || !f->amx_permitted ||
	    !f->amx_runs || !(ok & SD__ISA_AMX_TILE))
		ok &= ~amx;
	return ok;
}

const char *sd__cpu_isa_cmake(uint32_t bit)
{
	for (size_t i = 0; i < N_ISA; i++)
		if (isa_names[i].bit == bit)
			return isa_names[i].cmake;
	return NULL;
}

uint32_t sd__cpu_isa_parse(const char *list, const char **unknown)
{
	uint32_t bits = 0;
	const char *p = list ? list : "";

	if (unknown)
		*unknown = NULL;
	while (*p) {
		while (*p == ' ' || *p == ',')
			p++;
		size_t n = strcspn(p, " ,");
		if (n == 0)
			break;
		bool found = false;
		for (size_t i = 0; i < N_ISA; i++) {
			if (strlen(isa_names[i].name) == n &&
			    memcmp(isa_names[i].name, p, n) == 0) {
				bits |= isa_names[i].bit;
				found = true;
			}
		}
		if (!found && unknown && !*unknown)
			*unknown = p;
		p += n;
	}
	return bits;
}

int sd__cpu_isa_check(const char *required, const char *source, sd_error *err)
{
	const uint32_t amx = SD__ISA_AMX_TILE | SD__ISA_AMX_INT8 | SD__ISA_AMX_BF16;
	uint32_t need = sd__cpu_isa_parse(required, NULL);
	if (!need)
		return SD_OK;
	sd__cpu_facts f;
	sd__cpu_facts_read(&f, (need & amx) != 0);
	uint32_t have = sd__cpu_isa_usable(&f);
	have &= ~sd__cpu_isa_parse(getenv("SYNDISCO_TEST_HIDE_ISA"), NULL);
	uint32_t missing = need & ~have;
	if (!missing)
		return SD_OK;

	char names[256] = "";
	size_t len = 0;
	for (size_t i = 0; i < N_ISA; i++) {
		if (!(missing & isa_names[i].bit))
			continue;
		int w = snprintf(names + len, sizeof(names) - len, "%s%s",
				 len ? ", " : "", isa_names[i].name);
		if (w < 0 || (size_t)w >= sizeof(names) - len)
			break;
		len += (size_t)w;
	}
	return sd__error_set(
	    err, SD_EBACKEND, source, NULL,
	    "this build of llama.cpp uses %s, which this machine cannot "
	    "run (the CPU lacks it or the OS has not enabled it); build "
	    "syndisco on this machine (scripts/build.sh: the llama.cpp "
	    "cache is kept per instruction set) or on the oldest node it "
	    "must run on",
	    names);
}

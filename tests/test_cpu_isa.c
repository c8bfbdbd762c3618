/*
 * The instruction-set decision (label: unit): what the llama.cpp build
 * may use given what CPUID advertises, what the OS enabled in XCR0 and
 * whether AMX tiles were granted and really ran. A machine of each kind
 * is described by its facts; no such machine is needed.
 */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */
#include <stdlib.h>
#include <string.h>

#include "util/cpu_isa.h"

#define ALL_AVX512                                                                       \
	(SD__ISA_AVX512 | SD__ISA_AVX512_VBMI | SD__ISA_AVX512_VNNI | SD__ISA_AVX512_BF16)
#define ALL_AMX (SD__ISA_AMX_TILE | SD__ISA_AMX_INT8 | SD__ISA_AMX_BF16)
#define BASE                                                                             \
	(SD__ISA_SSE42 | SD__ISA_AVX | SD__ISA_F16C | SD__ISA_FMA | SD__ISA_AVX2 |       \
	 SD__ISA_BMI2)
/* x87/SSE/AVX, opmask/ZMM, tile config/data */
#define XCR0_AVX 0x7ull
#define XCR0_ZMM 0xe0ull
#define XCR0_AMX (3ull << 17)

/* A Sapphire Rapids whose kernel enables tiles and lets us use them. */
static void test_amx_used_when_it_runs(void **state)
{
	(void)state;
	sd__cpu_facts f = {BASE | ALL_AVX512 | ALL_AMX, XCR0_AVX | XCR0_ZMM | XCR0_AMX,
			   true, true};
	assert_int_equal(sd__cpu_isa_usable(&f), BASE | ALL_AVX512 | ALL_AMX);
}

/* The reported crash: CPUID says AMX, the permission is refused. */
static void test_amx_dropped_without_permission(void **state)
{
	(void)state;
	sd__cpu_facts f = {BASE | ALL_AVX512 | ALL_AMX, XCR0_AVX | XCR0_ZMM | XCR0_AMX,
			   false, false};
	assert_int_equal(sd__cpu_isa_usable(&f), BASE | ALL_AVX512);
}

/* A hypervisor that grants the permission but traps the instruction. */
static void test_amx_dropped_when_it_traps(void **state)
{
	(void)state;
	sd__cpu_facts f = {BASE | ALL_AVX512 | ALL_AMX, XCR0_AVX | XCR0_ZMM | XCR0_AMX,
			   true, false};
	assert_int_equal(sd__cpu_isa_usable(&f) & ALL_AMX, 0);
}

/* Tile state not enabled in XCR0: no AMX, whatever the trial said. */
static void test_amx_dropped_without_xcr0_state(void **state)
{
	(void)state;
	sd__cpu_facts f = {BASE | ALL_AVX512 | ALL_AMX, XCR0_AVX | XCR0_ZMM, true, true};
	assert_int_equal(sd__cpu_isa_usable(&f) & ALL_AMX, 0);
}

/* AVX-512 advertised, ZMM state off (a VM that hides it): AVX2 only. */
static void test_avx512_needs_zmm_state(void **state)
{
	(void)state;
	sd__cpu_facts f = {BASE | ALL_AVX512, XCR0_AVX, false, false};
	assert_int_equal(sd__cpu_isa_usable(&f), BASE);
}

/* No OSXSAVE (xcr0 0): only what needs no extended state. */
static void test_no_avx_state(void **state)
{
	(void)state;
	sd__cpu_facts f = {BASE | ALL_AVX512, 0, false, false};
	assert_int_equal(sd__cpu_isa_usable(&f), SD__ISA_SSE42 | SD__ISA_BMI2);
}

/* VNNI without the AVX-512 base set is never used on its own. */
static void test_avx512_extensions_need_base(void **state)
{
	(void)state;
	sd__cpu_facts f = {BASE | SD__ISA_AVX512_VNNI, XCR0_AVX | XCR0_ZMM, false, false};
	assert_int_equal(sd__cpu_isa_usable(&f), BASE);
}

static void test_names_round_trip(void **state)
{
	(void)state;
	const char *unknown = "x";
	assert_int_equal(sd__cpu_isa_parse("avx2 fma avx512_vnni", &unknown),
			 SD__ISA_AVX2 | SD__ISA_FMA | SD__ISA_AVX512_VNNI);
	assert_null(unknown);
	assert_int_equal(sd__cpu_isa_parse("avx2 avx9", &unknown), SD__ISA_AVX2);
	assert_string_equal(unknown, "avx9");
	assert_int_equal(sd__cpu_isa_parse("", NULL), 0);
	assert_string_equal(sd__cpu_isa_name(SD__ISA_AMX_INT8), "amx_int8");
}

/* A required set this machine cannot run: an error that says which. */
static void test_check_names_what_is_missing(void **state)
{
	(void)state;
	sd_error err;
	setenv("SYNDISCO_TEST_HIDE_ISA", "sse4.2 bmi2", 1);
	assert_int_equal(sd__cpu_isa_check("sse4.2 bmi2", "m.gguf", &err), SD_EBACKEND);
	assert_non_null(strstr(err.text, "sse4.2, bmi2"));
	assert_non_null(strstr(err.text, "cannot run"));
	assert_string_equal(err.source, "m.gguf");
	unsetenv("SYNDISCO_TEST_HIDE_ISA");
	/* nothing required: nothing to check */
	assert_int_equal(sd__cpu_isa_check("", NULL, &err), SD_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_amx_used_when_it_runs),
	    cmocka_unit_test(test_amx_dropped_without_permission),
	    cmocka_unit_test(test_amx_dropped_when_it_traps),
	    cmocka_unit_test(test_amx_dropped_without_xcr0_state),
	    cmocka_unit_test(test_avx512_needs_zmm_state),
	    cmocka_unit_test(test_no_avx_state),
	    cmocka_unit_test(test_avx512_extensions_need_base),
	    cmocka_unit_test(test_names_round_trip),
	    cmocka_unit_test(test_check_names_what_is_missing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

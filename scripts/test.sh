#!/usr/bin/env bash
# Quick start, step two: the whole test suite, once in a normal build and
# once under AddressSanitizer + UndefinedBehaviorSanitizer.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
jobs=$(nproc)

# -Werror here and in CI (zstd's zero-warning policy); a plain
# scripts/build.sh leaves it off so that a newer compiler's new warning
# does not stop a user's build
"$root/scripts/build.sh" "$root/build" -DSYNDISCO_WERROR=ON
(cd "$root/build" && ctest --output-on-failure -j "$jobs")

"$root/scripts/build.sh" "$root/build-asan" -DSYNDISCO_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug \
	-DSYNDISCO_WERROR=ON
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS=suppressions=$root/tests/lsan.supp
(cd "$root/build-asan" && ctest --output-on-failure -j "$jobs")

# every fuzz target for 10 s (clang + libFuzzer; scripts/fuzz.sh SECONDS
# runs longer sessions)
"$root/scripts/fuzz.sh" 10

#!/usr/bin/env bash
# Quick start, step two: the whole test suite, once in a normal build and
# once under AddressSanitizer + UndefinedBehaviorSanitizer, then every fuzz
# target for 5 s. Everything the tests drive is installed and built first
# (scripts/deps.sh --tests, scripts/build-llama.sh --tools): no test
# installs or compiles anything, and each must finish within 90 s.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
jobs=$(nproc)
# The tests use the system Python and Debian's packages (python3-pytest,
# python3-pandas), not whatever a pyenv or conda shim puts first in PATH:
# such a shim also costs a third of a second per start (pyenv's bash
# wrapper), and the shell tests start Python a few hundred times.
export PATH="/usr/bin:/bin:$PATH"

"$root/scripts/deps.sh" --tests
"$root/scripts/build-llama.sh" --tools >/dev/null

# -Werror here and in CI (zstd's zero-warning policy); a plain
# scripts/build.sh leaves it off so that a newer compiler's new warning
# does not stop a user's build
"$root/scripts/build.sh" "$root/build" -DSYNDISCO_WERROR=ON
(cd "$root/build" && ctest --output-on-failure -j "$jobs")

# -O1, as the sanitizers' authors advise: the model tests spend their time
# in our sampling loops, and at -O0 test_llama took 35 s of CPU against 25
"$root/scripts/build.sh" "$root/build-asan" -DSYNDISCO_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug \
	"-DCMAKE_C_FLAGS_DEBUG=-g -O1" -DSYNDISCO_WERROR=ON
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS=suppressions=$root/tests/lsan.supp
(cd "$root/build-asan" && ctest --output-on-failure -j "$jobs")

# every fuzz target for 5 s, one per core (clang + libFuzzer;
# scripts/fuzz.sh SECONDS runs longer sessions)
JOBS=$jobs "$root/scripts/fuzz.sh" 5

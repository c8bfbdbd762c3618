#!/usr/bin/env bash
# Quick start, step two: the whole test suite, once in a normal build and
# once under AddressSanitizer + UndefinedBehaviorSanitizer, and every fuzz
# target for 5 s, in one ctest queue. Everything the tests drive is
# installed and built first (scripts/deps.sh --tests,
# scripts/build-llama.sh --tools): no test installs or compiles anything,
# and each must finish within 90 s.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
jobs=$(nproc)
# The tests use the system Python and Debian's packages (python3-pytest,
# python3-pandas), not whatever a pyenv or conda shim puts first in PATH:
# such a shim also costs a third of a second per start (pyenv's bash
# wrapper), and the shell tests start Python a few hundred times.
export PATH="/usr/bin:/bin:$PATH"

# llama.cpp and its server compile (minutes, once) while apt fetches and
# installs what else the suite needs
"$root/scripts/deps.sh" --llama
# (its own process group, so that a failure or Ctrl-C here stops it all)
setsid "$root/scripts/build-llama.sh" --tools >/dev/null &
llama=$!
trap 'kill -- "-$llama" 2>/dev/null || true' EXIT
"$root/scripts/deps.sh" --tests
wait "$llama"
trap - EXIT

# -Werror here and in CI (zstd's zero-warning policy); a plain
# scripts/build.sh leaves it off so that a newer compiler's new warning
# does not stop a user's build
"$root/scripts/build.sh" "$root/build" -DSYNDISCO_WERROR=ON
# -O1, as the sanitizers' authors advise: the model tests spend their time
# in our sampling loops, and at -O0 test_llama took 35 s of CPU against 25
"$root/scripts/build.sh" "$root/build-asan" -DSYNDISCO_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug \
	"-DCMAKE_C_FLAGS_DEBUG=-g -O1" -DSYNDISCO_WERROR=ON
# clang + libFuzzer: every fuzz target, run below for 5 s each
# (scripts/fuzz.sh SECONDS runs longer sessions)
"$root/scripts/fuzz.sh" --build 5 >/dev/null

# One ctest over the three builds: the plain suite, the same suite under
# AddressSanitizer + UndefinedBehaviorSanitizer (its tests named
# <name>-asan) and the fuzz sessions (fuzz_<target>; not the fuzz build's
# copy of the suite, <name>-fuzz, nor the fuzz_extra sessions). One queue
# keeps both cores busy where two in a row each left one idle at their
# ends and while a test waits (Slurm's scheduler, a server's timeouts).
#
# A 64 MB quarantine of freed memory rather than ASan's 256 MB: a use
# after free is still caught while 64 MB of other frees have not pushed
# the block out, and llama.cpp's model loads (hundreds of thousands of
# vocabulary allocations) no longer touch fresh pages for every one: an
# annotate run of the tiny model took 4.4 s of CPU, now 3.6 (page faults
# 167k -> 114k).
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:quarantine_size_mb=64
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS=suppressions=$root/tests/lsan.supp
suite=$root/build-suite
mkdir -p "$suite"
printf 'subdirs("%s" "%s" "%s")\n' "$root/build" "$root/build-asan" "$root/build-fuzz" \
	>"$suite/CTestTestfile.cmake"
# One more test than cores: some tests mostly wait (a Slurm cluster's
# scheduler, a server's timeouts, a browser), and every test decodes on
# one thread (OMP_NUM_THREADS=1, tests/CMakeLists.txt), so a third keeps
# the two cores busy (2 cores: 282 s against 338 with two at a time).
cd "$suite" && ctest --output-on-failure --no-tests=error -j $((jobs + 1)) -E '[-]fuzz$' -LE fuzz_extra

#!/usr/bin/env bash
# The libFuzzer targets (tests/fuzz/), built with clang into build-fuzz/,
# each run for SECONDS (default 10; give more for a real session) from
# its seed corpus, in parallel over JOBS.
#   scripts/fuzz.sh [--build] [SECONDS] [TARGET...]
# --build: configure and build only (scripts/test.sh then runs the
# sessions, 5 s each, in its one ctest with the other builds' tests).
# A crash leaves its input in build-fuzz/tests/fuzz/crash-<target>/; copy
# it to tests/fuzz/regress/<target>/ so that every build replays it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build_only=0
if [ "${1:-}" = --build ]; then
	build_only=1
	shift
fi
secs=${1:-10}
shift || true
"$root/scripts/deps.sh"
CC=clang CXX=clang++ cmake -S "$root" -B "$root/build-fuzz" -G Ninja \
	-DSYNDISCO_FUZZ=ON -DSYNDISCO_FUZZ_SECONDS="$secs" >/dev/null
# (tests/fuzz/CMakeLists.txt's SD_FUZZ_SESSIONS)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(discussion_config experiment_config annotate_config
	personas logs annotation_file label openai_reply template)
cmake --build "$root/build-fuzz" -j "$(nproc)" --target "${targets[@]/#/fuzz_}"
[ "$build_only" = 1 ] && exit 0
regex=$(printf '|%s' "${targets[@]}")
cd "$root/build-fuzz" && ctest --output-on-failure --no-tests=error -L fuzz -R "^fuzz_(${regex:1})\$" \
	-j "${JOBS:-1}" --timeout $((secs + 120))

#!/usr/bin/env bash
# kill -9 at random moments, several times in a row, then finish: the
# result must equal an uninterrupted run (apart from id/timestamp).
#   resume_test.sh SYNDISCO_BIN TINY_MODEL SOURCE_DIR
set -u
bin=$1 model=$2 src=$3
. "$src/tests/lib.sh"
cat >"$tmp/exp.json" <<JSON
{
    "seed": 5,
    "personas_file": "$src/examples/study/personas.json",
    "instructions": "Take part in the discussion.",
    "moderator": {"persona": {"username": "mod"}, "instructions": "Moderate."},
    "num_discussions": 16,
    "num_active_users": 3,
    "num_turns": 4,
    "history_ctx_len": 3,
    "seed_opinions": ["Cats are better than dogs."],
    "sampling": {"max_tokens": 24},
    "backend": {"n_ctx": 2048}
}
JSON
run() { "$bin" run "$tmp/exp.json" --model "$model" --parallel 4 --quiet "$@"; }

start=$(date +%s.%N)
run --out "$tmp/full" || fail "uninterrupted run"
full=$(python3 -c "import time; print(time.time() - $start)")
echo "uninterrupted run: ${full}s"

kills=0
count() { find "$tmp/killed" -name '*.json' ! -name run.json 2>/dev/null | wc -l; }
for attempt in 1 2 3 4; do
	# kill at a random point of progress (not time: machines differ):
	# once a random number of further files is on disk, plus a random
	# few milliseconds, so that some kills land mid-write
	have=$(count)
	target=$((have + 1 + RANDOM % 3))
	extra=$(python3 -c "import random; print(round(random.uniform(0, 0.05), 3))")
	# the binary itself, not a subshell: kill -9 must hit syndisco
	"$bin" run "$tmp/exp.json" --model "$model" --parallel 4 --quiet \
		--out "$tmp/killed" &
	pid=$!
	while kill -0 "$pid" 2>/dev/null && [ "$(count)" -lt "$target" ]; do
		sleep 0.01
	done
	sleep "$extra"
	if kill -9 "$pid" 2>/dev/null; then
		kills=$((kills + 1))
		echo "killed at $(count) files (target $target)"
	fi
	wait "$pid" 2>/dev/null
done
run --out "$tmp/killed" || fail "final resume"
python3 "$src/tests/compare_runs.py" "$tmp/full" "$tmp/killed" || fail "differs"
if find "$tmp/killed" -name '*.tmp.*' | grep -q .; then
	fail "temp files left behind"
fi
[ "$kills" -ge 2 ] || fail "only $kills kill(s) landed mid-run"
echo "1 passed, 0 failed ($kills kills)"

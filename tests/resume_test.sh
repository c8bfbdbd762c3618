#!/usr/bin/env bash
# kill -9 at random moments, several times in a row, then finish: the
# result must equal an uninterrupted run (apart from id/timestamp).
#   resume_test.sh SYNDISCO_BIN TINY_MODEL SOURCE_DIR
set -u
bin=$1 model=$2 src=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/exp.json" <<JSON
{
    "seed": 5,
    "personas_file": "$src/examples/study/personas.json",
    "instructions": "Take part in the discussion.",
    "moderator": {"persona": {"username": "mod"}, "instructions": "Moderate."},
    "num_discussions": 10,
    "num_active_users": 3,
    "num_turns": 4,
    "history_ctx_len": 3,
    "seed_opinions": ["Cats are better than dogs."],
    "sampling": {"max_tokens": 24},
    "backend": {"n_ctx": 2048, "n_threads": 2}
}
JSON
run() { "$bin" run "$tmp/exp.json" --model "$model" --parallel 4 --quiet "$@"; }

start=$(date +%s.%N)
run --out "$tmp/full" || { echo "FAIL: uninterrupted run"; exit 1; }
full=$(python3 -c "import time; print(time.time() - $start)")
echo "uninterrupted run: ${full}s"

kills=0
for attempt in 1 2 3 4; do
	# a random moment within the first ~80% of a full run's length
	delay=$(python3 -c "import random; print(round(random.uniform(0.1, 0.8) * $full, 2))")
	run --out "$tmp/killed" &
	pid=$!
	sleep "$delay"
	if kill -9 "$pid" 2>/dev/null; then
		kills=$((kills + 1))
		echo "killed after ${delay}s: $(find "$tmp/killed" -name '*.json' ! -name run.json | wc -l) files"
	fi
	wait "$pid" 2>/dev/null
done
run --out "$tmp/killed" || { echo "FAIL: final resume"; exit 1; }
python3 "$src/tests/compare_runs.py" "$tmp/full" "$tmp/killed" || { echo "FAIL: differs"; exit 1; }
if find "$tmp/killed" -name '*.tmp.*' | grep -q .; then
	echo "FAIL: temp files left behind"; exit 1
fi
[ "$kills" -ge 2 ] || { echo "FAIL: only $kills kill(s) landed mid-run"; exit 1; }
echo "1 passed, 0 failed ($kills kills)"

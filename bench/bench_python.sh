#!/usr/bin/env bash
# The Python package's overhead: the same 16-discussion experiment
# (tests/python/experiment_helpers.py: tiny model, 16 discussions of 3
# users, 2 turns, 4-token replies, parallel 16) run from Python
# (DiscussionExperiment.begin) and from the CLI (`syndisco run` on the
# config Python writes), each a fresh process timed whole (start-up,
# model load, run), in interleaved rounds (py, cli, py, cli, ...) so that
# drift of a loaded machine hits both alike. Prints the medians and their
# ratio, python / cli (target <= 1.05).
#   bench/bench_python.sh [BUILD_DIR] [ROUNDS] [MODEL.gguf]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
rounds=${2:-5}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
model=${3:-$tmp/tiny.gguf}
[ -f "$model" ] || "$build/syndisco" make-test-model "$model" --seed 42 2>/dev/null
py=/usr/bin/python3
[ -x "$py" ] || py=python3
export SYNDISCO_LIBRARY=$build/libsyndisco.so PYTHONPATH=$root/python:$root/tests/python

cat >"$tmp/run.py" <<'PY'
import sys
import syndisco
from experiment_helpers import experiment
exp = experiment(syndisco.LlamaModel(sys.argv[2], max_out_tokens=4))
if sys.argv[1] == "--write-config":
    exp.write_config(sys.argv[3])
else:
    c = exp.begin(sys.argv[1], parallel=16, progress=False)
    assert c["done"] == 16, c
PY
"$py" "$tmp/run.py" --write-config "$model" "$tmp/config.json"

now() { date +%s.%N; }
for r in $(seq 1 "$rounds"); do
	rm -rf "$tmp/py" "$tmp/cli"
	t0=$(now)
	"$py" "$tmp/run.py" "$tmp/py" "$model"
	t1=$(now)
	"$build/syndisco" run "$tmp/config.json" --out "$tmp/cli" --parallel 16 --quiet
	t2=$(now)
	echo "$t0 $t1 $t2" | awk -v r="$r" '{printf "round %d: python %.3f s, cli %.3f s\n", r, $2-$1, $3-$2}' |
		tee -a "$tmp/times"
done
awk '
function median(a, n,   i, j, t) {
	for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++)
		if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
{ n++; p[n] = $4; c[n] = $7 }
END {
	mp = median(p, n); mc = median(c, n)
	printf "median python %.3f s, cli %.3f s, ratio python/cli %.3f (target <= 1.05)\n", mp, mc, mp / mc
}' "$tmp/times"

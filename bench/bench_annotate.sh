#!/usr/bin/env bash
# Annotation throughput, --parallel 1 vs --parallel 16, in one run, on the
# tiny model: SynDisco's sample logs (tests/fixtures/syndisco-logs), one
# annotator with a 1..5 label enforced by the grammar, and one without a
# label (free text, 24 tokens). Target: parallel 16 >= 3x parallel 1.
#   bench/bench_annotate.sh [BUILD_DIR] [MODEL.gguf]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
bin=$build/syndisco
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
threads=${THREADS:-$(nproc)}
model=${2:-$tmp/tiny.gguf}
[ -f "$model" ] || "$bin" make-test-model "$model" --seed 42 2>/dev/null

config() { # name, label-json-or-null, max_tokens
	cat >"$tmp/$1.json" <<JSON
{
    "seed": 11,
    "discussions": "$root/tests/fixtures/syndisco-logs",
    "history_ctx_len": 2,
    "include_moderator": false,
    "context": "You are annotating comments of an online discussion.",
    "sampling": {"max_tokens": $3},
    "backend": {"n_ctx": 1024, "n_threads": $threads},
    "annotators": [{"name": "$1",
        "instructions": "Rate the toxicity of the last comment from 1 to 5.",
        "label": $2}]
}
JSON
}
config label '{"range": [1, 5]}' 8
config free null 24

field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }
printf '%-22s %9s %8s %12s %12s %10s\n' run parallel seconds annotations "annot/s" "gen tok/s"
for kind in label free; do
	declare -A rate
	for par in 1 16; do
		s=$("$bin" annotate "$tmp/$kind.json" --model "$model" --out "$tmp/out-$kind-$par" \
			--parallel "$par" --quiet --json)
		secs=$(field "$s" seconds)
		turns=$(field "$s" turns)
		ann=$(python3 -c "print(round($turns / $secs, 1))")
		rate[$par]=$ann
		printf '%-22s %9s %8s %12s %12s %10s\n' "$kind" "$par" "$secs" "$turns" "$ann" \
			"$(field "$s" tokens_per_second)"
	done
	python3 -c "print('%-22s parallel 16 / parallel 1 = %.2fx (target >= 3)' % ('$kind', ${rate[16]} / ${rate[1]}))"
	unset rate
done

#!/usr/bin/env bash
# Annotation throughput, --parallel 1 vs --parallel 16, in one run, on the
# tiny model: SynDisco's sample logs (tests/fixtures/syndisco-logs), one
# annotator with a 1..5 label enforced by the grammar, and one without a
# label (free text, 24 tokens). Target: parallel 16 >= 3x parallel 1.
# Rates are annotations per second once the model is loaded. The machine
# drifts from minute to minute, so each kind runs ROUNDS times (default 3)
# as p1, p16 pairs and the median of the pairs' ratios is the figure.
# A 1..5 label is one or two tokens after a ~360-token prompt: that work
# is prompt processing, and the bench prints what batching gains on it
# (llama-batched-bench's S_PP at batch 16 over batch 1): a ceiling for
# the label ratio that no scheduler can pass.
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

rounds=${ROUNDS:-3}
for kind in label free; do
	for r in $(seq "$rounds"); do
		for par in 1 16; do
			rm -rf "$tmp/out"
			"$bin" annotate "$tmp/$kind.json" --model "$model" --out "$tmp/out" \
				--parallel "$par" --quiet --json >"$tmp/$kind-$par-$r.json"
		done
	done
done
llama=$("$root/scripts/build-llama.sh" --tools | tail -n 1)
pp=$(python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(round(d['prompt_tokens']/d['turns']))" "$tmp/label-16-1.json")
npl=$(printf "16,%.0s" $(seq 12) | sed 's/,$//')
"$llama/bin/llama-batched-bench" -m "$model" -c 32768 -b 2048 -ub 512 -npp "$pp" -ntg 1 \
	-npl "1,1,1,1,1,1,1,1,1,1,1,1,$npl" -t "$threads" 2>/dev/null | grep '^|' >"$tmp/bb.txt"

python3 - "$tmp" "$rounds" "$pp" <<'PY'
import json, sys
tmp, rounds, pp = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def rate(kind, par, r):
    d = json.load(open(f"{tmp}/{kind}-{par}-{r}.json"))
    return d, d["turns"] / (d["seconds"] - d["load_seconds"])
print(f"{'run':<8}{'round':>6}{'annotations':>13}{'gen tokens':>12}"
      f"{'p1 annot/s':>12}{'p16 annot/s':>13}{'ratio':>8}")
med = {}
for kind in ("label", "free"):
    ratios = []
    for r in range(1, rounds + 1):
        d1, a1 = rate(kind, 1, r)
        d16, a16 = rate(kind, 16, r)
        ratios.append(a16 / a1)
        print(f"{kind:<8}{r:>6}{d16['turns']:>13}{d16['generated_tokens']:>12}"
              f"{a1:>12.1f}{a16:>13.1f}{ratios[-1]:>8.2f}")
    med[kind] = sorted(ratios)[rounds // 2]
# |PP|TG|B|N_KV|T_PP s|S_PP t/s|...: prompt tokens over prompt time, per batch size
tok, t = {}, {}
for line in open(f"{tmp}/bb.txt"):
    c = [x.strip() for x in line.strip().strip("|").split("|")]
    if len(c) >= 10 and c[2].isdigit():
        b = int(c[2])
        tok[b] = tok.get(b, 0) + b * int(c[0])
        t[b] = t.get(b, 0.0) + float(c[4])
spp1, spp16 = tok[1] / t[1], tok[16] / t[16]
print()
print(f"free text (24 tokens)  parallel 16 / parallel 1 = {med['free']:.2f}x (median of {rounds}; target >= 3)")
print(f"1..5 labels            parallel 16 / parallel 1 = {med['label']:.2f}x (median of {rounds}; target >= 3)")
print(f"prompt processing alone, llama-batched-bench -npp {pp}: S_PP {spp1:.0f} t/s at batch 1, "
      f"{spp16:.0f} at batch 16 = {spp16 / spp1:.2f}x (the most batching gives prompt-bound work)")
PY

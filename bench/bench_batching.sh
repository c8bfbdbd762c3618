#!/usr/bin/env bash
# Continuous batching, measured in one run, side by side:
#  1. the same experiment (32 discussions x 8 turns x 48 max tokens on the
#     tiny model) with --parallel 1 and --parallel 16: generated tokens/s
#     and their ratio (target >= 3x on 2 cores);
#  2. llama.cpp's own llama-batched-bench, built from the same tree, at
#     batch 1 and 16 with similar prompt/generation lengths: our
#     throughput / its generation throughput (target >= 0.8).
#   bench/bench_batching.sh [BUILD_DIR] [MODEL.gguf]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
bin=$build/syndisco
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
threads=${THREADS:-$(nproc)}

llama=$("$root/scripts/build-llama.sh" --tools | tail -n 1)
model=${2:-$tmp/tiny.gguf}
[ -f "$model" ] || "$bin" make-test-model "$model" --seed 42 2>/dev/null

cat >"$tmp/bench.json" <<JSON
{
    "seed": 3,
    "personas_file": "$root/examples/study/personas.json",
    "context": "You are taking part in an online forum discussion.",
    "instructions_file": "$root/examples/study/user_instructions_vanilla.txt",
    "num_discussions": 32,
    "num_active_users": 4,
    "num_turns": 8,
    "history_ctx_len": 3,
    "seed_opinions_file": "$root/examples/study/seed_opinions.txt",
    "sampling": {"max_tokens": 48},
    "backend": {"n_ctx": 2048, "n_threads": $threads}
}
JSON

field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }
ours() { "$bin" run "$tmp/bench.json" --model "$model" --out "$tmp/out-$1" --parallel "$1" --quiet --json; }

echo "== syndisco run: 32 discussions x 8 turns x 48 max tokens, $threads threads"
s1=$(ours 1)
s16=$(ours 16)
tok1=$(field "$s1" tokens_per_second)
tok16=$(field "$s16" tokens_per_second)
pp=$(python3 -c "import json,sys; d=json.loads(sys.argv[1]); print(round(d['prompt_tokens']/d['turns']))" "$s16")
tg=$(python3 -c "import json,sys; d=json.loads(sys.argv[1]); print(round(d['generated_tokens']/d['turns']))" "$s16")
printf '%-12s %12s %14s %10s\n' parallel seconds "gen tokens" "tok/s"
printf '%-12s %12s %14s %10s\n' 1 "$(field "$s1" seconds)" "$(field "$s1" generated_tokens)" "$tok1"
printf '%-12s %12s %14s %10s\n' 16 "$(field "$s16" seconds)" "$(field "$s16" generated_tokens)" "$tok16"
echo "mean prompt $pp tokens, mean reply $tg tokens per turn"

echo
cmd=("$llama/bin/llama-batched-bench" -m "$model" -c 32768 -b 2048 -ub 512
     -npp "$pp" -ntg 48 -npl 1,16 -t "$threads")
echo "== ${cmd[*]}"
"${cmd[@]}" 2>/dev/null | tee "$tmp/bb.txt" | grep '^|'
read -r bb_tg1 bb_s1 bb_tg16 bb_s16 < <(python3 - "$tmp/bb.txt" <<'PY'
import sys
rows = {}
for line in open(sys.argv[1]):
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    if len(cells) >= 10 and cells[2].isdigit():
        # |PP|TG|B|N_KV|T_PP s|S_PP t/s|T_TG s|S_TG t/s|T s|S t/s|
        # S_TG, and generated tokens per second of the whole (PP + TG) time
        b, tg, t = int(cells[2]), int(cells[1]), float(cells[8])
        rows[b] = (float(cells[7]), b * tg / t)
print(rows[1][0], rows[1][1], rows[16][0], rows[16][1])
PY
)
echo
python3 - "$tok1" "$tok16" "$bb_tg1" "$bb_s1" "$bb_tg16" "$bb_s16" <<'PY'
import sys
t1, t16, bt1, bs1, bt16, bs16 = map(float, sys.argv[1:])
print(f"{'':28}{'batch 1':>12}{'batch 16':>12}")
print(f"{'syndisco run (gen tok/s)':28}{t1:>12.1f}{t16:>12.1f}")
print(f"{'llama-batched-bench S_TG':28}{bt1:>12.1f}{bt16:>12.1f}")
print(f"{'batched-bench B*TG / T':28}{bs1:>12.1f}{bs16:>12.1f}")
print(f"parallel 16 / parallel 1        = {t16 / t1:.2f}x (target >= 3)")
print(f"ours / batched-bench S_TG @16   = {t16 / bt16:.2f} (target >= 0.8)")
print(f"ours / batched-bench B*TG/T @16 = {t16 / bs16:.2f} (generated tokens over its prompt + generation time, as ours counts)")
PY

#!/usr/bin/env bash
# Raw llama.cpp throughput, the yard-stick for the engine (docs: DESIGN,
# "Performance, measured not assumed"): llama-batched-bench, built from the
# pinned tree, at batch sizes 1 and 16 with 256-token prompts and 48
# generated tokens per sequence. Compare the engine's generated tokens/s
# with S_TG (generation alone) and S (prompt and generation).
#
#   bench/bench_raw.sh [MODEL.gguf] [extra llama-batched-bench args]
#
# Without a model it uses the tiny test model (made once, --seed 42).
# Extra arguments go to llama-batched-bench last, e.g. -ngl 99 or -fa on.
# Flash attention is off by default because the engine runs without it
# (determinism; see src/backend/llama.c).
#
# Environment: THREADS (default nproc), NPP (256), NTG (48), NPL (1,16),
# SYNDISCO_BIN (a syndisco binary for make-test-model; default: build/,
# else one is built in build-bench/).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
threads=${THREADS:-$(nproc)}
npp=${NPP:-256}
ntg=${NTG:-48}
npl=${NPL:-1,16}

llama=$("$root/scripts/build-llama.sh" --tools | tail -n 1)
bench=$llama/bin/llama-batched-bench

model=${1:-}
[ $# -gt 0 ] && shift
if [ -z "$model" ]; then
	model=$(dirname "$llama")/tiny-seed42.gguf
	if [ ! -f "$model" ]; then
		bin=${SYNDISCO_BIN:-$root/build/syndisco}
		if [ ! -x "$bin" ]; then
			echo "bench_raw: building syndisco in $root/build-bench" >&2
			cmake -S "$root" -B "$root/build-bench" -G Ninja \
				-DSYNDISCO_LLAMA_DIR="$llama" >/dev/null
			cmake --build "$root/build-bench" --target syndisco-cli >/dev/null
			bin=$root/build-bench/syndisco
		fi
		"$bin" make-test-model "$model.tmp" --seed 42 >&2
		mv "$model.tmp" "$model"
	fi
fi
[ -f "$model" ] || { echo "bench_raw: no model at $model" >&2; exit 1; }

# every sequence keeps its own KV stream: the largest batch needs
# npl * (npp + ntg) cells, padded to llama.cpp's 256
max_npl=$(tr ',' '\n' <<<"$npl" | sort -n | tail -n 1)
ctx=$(((max_npl * (npp + ntg) + 255) / 256 * 256))

cmd=("$bench" -m "$model" -c "$ctx" -b 512 -ub 512 -t "$threads" -fa off
	-npp "$npp" -ntg "$ntg" -npl "$npl" "$@")
echo "${cmd[*]}"
"${cmd[@]}" 2>/dev/null | grep '^|'

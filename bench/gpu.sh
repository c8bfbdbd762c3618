#!/usr/bin/env bash
# GPU benchmark (NVIDIA, sm_90 / H100-H200): build llama.cpp's CUDA backend
# from the pinned tree, build syndisco against it, make a random model with
# Llama-3.2-1B's shape in q8_0, and print our throughput at --parallel 1,
# 16 and 64 beside llama-batched-bench at the same batch sizes.
#
#   bench/gpu.sh [LLAMA_SRC]
#
# LLAMA_SRC: the llama.cpp source tree, or the gitRelease.bundle from the
# node-llama-cpp npm package (default: ~/.cache/syndisco/.../src, or
# ./llama-src, or ./gitRelease.bundle). The machine needs nvcc, cmake,
# a C compiler and libjansson-dev; it needs no network.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${WORK:-$root/build-gpu}
jobs=$(nproc)
mkdir -p "$work"
src=${1:-}
if [ -z "$src" ]; then
	for c in "$root/llama-src" "$root/gitRelease.bundle" \
		"$HOME"/.cache/syndisco/llama-*/src; do
		[ -e "$c" ] && { src=$c; break; }
	done
fi
[ -n "$src" ] || { echo "gpu.sh: no llama.cpp source; pass its path" >&2; exit 1; }
if [ -f "$src" ]; then
	rm -rf "$work/llama-src"
	git -c advice.detachedHead=false clone --quiet "$src" "$work/llama-src"
	src=$work/llama-src
fi

t0=$(date +%s)
# the CPU side gets the instruction sets this host can run, as in
# scripts/build-llama.sh (GPU hosts are often Xeons that advertise AMX)
isa="-DGGML_NATIVE=ON"
if ${CC:-cc} -std=gnu11 -O1 -I"$root/include" -I"$root/src" "$root/scripts/isa_probe.c" \
	"$root/src/util/cpu_isa.c" "$root/src/util/error.c" -o "$work/isa_probe" 2>/dev/null; then
	isa=$("$work/isa_probe" --cmake)
	echo "== CPU instruction sets: $("$work/isa_probe" --names)"
fi
echo "== building llama.cpp (CUDA, sm_90) from $src"
# shellcheck disable=SC2086
cmake -S "$src" -B "$work/llama-cuda" -G Ninja -DCMAKE_BUILD_TYPE=Release \
	-DBUILD_SHARED_LIBS=OFF -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 \
	$isa -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF \
	-DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=OFF \
	-DLLAMA_BUILD_APP=OFF -DCMAKE_INSTALL_PREFIX="$work/llama-install" >"$work/cmake.log" 2>&1 ||
	{ tail -20 "$work/cmake.log"; exit 1; }
cmake --build "$work/llama-cuda" -j "$jobs" --target llama llama-batched-bench \
	>"$work/build.log" 2>&1 || { tail -30 "$work/build.log"; exit 1; }
# install only what was built: headers, libraries, cmake configs
cmake --install "$work/llama-cuda" --component Unspecified >/dev/null 2>&1 ||
	cmake --install "$work/llama-cuda" >/dev/null 2>&1 || true
mkdir -p "$work/llama-install/share/llama/models"
cp "$src/models/ggml-vocab-llama-bpe.gguf" "$work/llama-install/share/llama/models/"
echo "   llama.cpp built in $(( $(date +%s) - t0 )) s"

echo "== building syndisco against it"
cmake -S "$root" -B "$work/syndisco" -G Ninja -DCMAKE_BUILD_TYPE=Release \
	-DSYNDISCO_BUILD_TESTS=OFF -DSYNDISCO_LLAMA_DIR="$work/llama-install" \
	-DCMAKE_CUDA_ARCHITECTURES=90 >"$work/cmake-sd.log" 2>&1 ||
	{ tail -20 "$work/cmake-sd.log"; exit 1; }
cmake --build "$work/syndisco" -j "$jobs" --target syndisco-cli >>"$work/build.log" 2>&1 ||
	{ tail -30 "$work/build.log"; exit 1; }
bin=$work/syndisco/syndisco

model=$work/llama-3.2-1b-shape-q8_0.gguf
[ -f "$model" ] || SYNDISCO_VOCAB="$src/models/ggml-vocab-llama-bpe.gguf" "$bin" \
	make-test-model "$model" --n-embd 2048 --n-layer 16 --n-head 32 \
	--n-head-kv 8 --n-ff 8192 --type q8_0
echo "   ready after $(( $(date +%s) - t0 )) s"

cat >"$work/bench.json" <<JSON
{
    "seed": 3,
    "personas_file": "$root/examples/study/personas.json",
    "context": "You are taking part in an online forum discussion.",
    "instructions_file": "$root/examples/study/user_instructions_vanilla.txt",
    "num_discussions": 128,
    "num_active_users": 4,
    "num_turns": 4,
    "history_ctx_len": 3,
    "seed_opinions_file": "$root/examples/study/seed_opinions.txt",
    "sampling": {"max_tokens": 48},
    "backend": {"n_ctx": 2048, "n_gpu_layers": -1}
}
JSON
declare -A ours sent decoded
for p in 1 16 64; do
	n=$(( p == 1 ? 8 : 128 ))
	sed "s/\"num_discussions\": 128/\"num_discussions\": $n/" "$work/bench.json" >"$work/b$p.json"
	rm -rf "$work/out-$p"
	s=$("$bin" run "$work/b$p.json" --model "$model" --out "$work/out-$p" --parallel "$p" --quiet --json)
	# generated tokens over the run once the model is loaded, as bench_batching
	# (awk, not python: the GPU machine may have no python3)
	ours[$p]=$(echo "$s" | awk '{
		g = $0; sub(/.*"generated_tokens": /, "", g); sub(/,.*/, "", g)
		t = $0; sub(/.*"seconds": /, "", t); sub(/,.*/, "", t)
		l = $0; sub(/.*"load_seconds": /, "", l); sub(/,.*/, "", l)
		printf "%.1f", g / (t - l) }')
	sent[$p]=$(echo "$s" | sed 's/.*"prompt_tokens": \([0-9]*\).*/\1/')
	decoded[$p]=$(echo "$s" | sed 's/.*"prompt_tokens_decoded": \([0-9]*\).*/\1/')
done
"$work/llama-cuda/bin/llama-batched-bench" -m "$model" -ngl 99 -c 65536 -b 2048 -ub 512 \
	-npp 256 -ntg 48 -npl 1,16,64 2>/dev/null | tee "$work/bb.txt" | grep '^|'
echo
printf '%-10s %18s %24s %10s %14s %16s\n' batch "syndisco tok/s" "batched-bench S_TG t/s" ratio \
	"prompt sent" "prompt decoded"
for p in 1 16 64; do
	bb=$(awk -F'|' -v b="$p" 'NF > 10 && $4+0 == b { gsub(/ /, "", $9); print $9 }' "$work/bb.txt")
	printf '%-10s %18s %24s %10s %14s %16s\n' "$p" "${ours[$p]}" "$bb" \
		"$(awk -v a="${ours[$p]}" -v b="$bb" 'BEGIN { if (b > 0) printf "%.2f", a / b }')" \
		"${sent[$p]}" "${decoded[$p]}"
done
echo "total time $(( $(date +%s) - t0 )) s"

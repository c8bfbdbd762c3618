#!/usr/bin/env bash
# Against the peer: SynDisco's own loop sends one request at a time to a
# llama-server; this bench does the same study
#   16 discussions x 4 users x 8 turns x 48 max tokens, history 3, the
#   study personas and instructions (examples/study/)
# three ways, on the same model file:
#  1. server p1: llama-server -np 1 (built from the same tree with
#     llama.cpp's default switches, PEER_LLAMA_ARGS; its defaults:
#     its slot prompt cache and host prompt cache on), driven by our
#     openai backend with --parallel 1, i.e. one request at a time;
#  2. ours p1:  the embedded engine, --parallel 1;
#  3. ours p16: the embedded engine, --parallel 16;
# in ROUNDS (default 3) of all three, in turn, so that a noisy shared
# machine weighs on every side alike; the median round's figures are the
# result. The server is restarted for every round, so each run starts
# cold, as a fresh study would. Figures: generated tokens/s once the
# model is loaded (ours: run time less load time; the server's load is
# outside our run), and prompt tokens sent / decoded. The server's
# decoded count is prompt tokens less usage.prompt_tokens_details.
# cached_tokens summed over its replies, cross-checked with its /metrics
# (llamacpp:prompt_tokens_total). The server gets our engine's default
# repetition penalty (1.1 over the last 64 tokens) in extra_body, so both
# sides generate alike; without it the server decodes greedily and its
# replies loop, which shortens the history it is sent. Beside tokens per
# wall second, tokens per CPU second (ours: the process less its model
# load; the server: its CPU time during the run, from /proc) stay
# comparable on a busy machine.
#   bench/bench_peer.sh [BUILD_DIR]
# Environment: THREADS (default nproc), ROUNDS (3), MODELS ("tiny 512",
# or one of them), DISCUSSIONS (16). On 2 cores the tiny model takes
# about 2 minutes for 3 rounds, the 512-dim f16 model about 15.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
bin=$build/syndisco
tmp=$(mktemp -d)
server_pid=
stop_server() {
	if [ -n "$server_pid" ]; then
		kill "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
		server_pid=
	fi
}
trap 'stop_server; rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
threads=${THREADS:-$(nproc)}
rounds=${ROUNDS:-3}
models=${MODELS:-tiny 512}
discussions=${DISCUSSIONS:-16}
# The server is llama.cpp as its own build makes it (tinyBLAS on, our
# default too); with SYNDISCO_LLAMA_TINYBLAS=0 for our engine, the
# server still gets tinyBLAS (PEER_LLAMA_ARGS="" serves from our build).
if [ "${SYNDISCO_LLAMA_TINYBLAS:-1}" = 0 ]; then
	peer_args=${PEER_LLAMA_ARGS--DGGML_LLAMAFILE=ON}
else
	peer_args=${PEER_LLAMA_ARGS-}
fi
llama=$(SYNDISCO_LLAMA_TINYBLAS=1 LLAMA_CMAKE_ARGS="$peer_args" "$root/scripts/build-llama.sh" --tools | tail -n 1)

# exp FILE BACKEND_JSON
exp() {
	cat >"$1" <<JSON
{
    "seed": 3,
    "personas_file": "$root/examples/study/personas.json",
    "context": "You are taking part in an online forum discussion.",
    "instructions_file": "$root/examples/study/user_instructions_vanilla.txt",
    "num_discussions": $discussions,
    "num_active_users": 4,
    "num_turns": 8,
    "history_ctx_len": 3,
    "seed_opinions_file": "$root/examples/study/seed_opinions.txt",
    "sampling": {"max_tokens": 48},
    "backend": $2
}
JSON
}

start_server() {
	local model=$1
	port=$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
	"$llama/bin/llama-server" -m "$model" --host 127.0.0.1 --port "$port" -np 1 \
		-c 2048 -t "$threads" --no-jinja --chat-template llama3 --no-webui --metrics \
		>"$tmp/server.log" 2>&1 &
	server_pid=$!
	for _ in $(seq 600); do
		curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
		sleep 0.2
	done
	curl -sf "http://127.0.0.1:$port/health" >/dev/null || { tail "$tmp/server.log"; exit 1; }
}

# metric NAME: a counter from the server's /metrics
# server_cpu: the server's user + system CPU seconds so far
server_cpu() {
	awk -v hz="$(getconf CLK_TCK)" '{ printf "%.3f\n", ($14 + $15) / hz }' "/proc/$server_pid/stat"
}

metric() {
	curl -sf "http://127.0.0.1:$port/metrics" | awk -v n="llamacpp:$1" '$1 == n { print $2 }'
}

for m in $models; do
	case $m in
	tiny) args=() ;;
	512) args=(--n-embd 512 --n-layer 8 --n-head 8 --n-head-kv 4 --n-ff 1536 --type f16) ;;
	*) echo "unknown model $m (tiny or 512)" >&2; exit 2 ;;
	esac
	model=$tmp/$m.gguf
	"$bin" make-test-model "$model" --seed 42 "${args[@]}" 2>/dev/null
	exp "$tmp/ours-$m.json" "{\"model\": \"$model\", \"n_ctx\": 2048, \"n_threads\": $threads}"
	echo "== model $m: $discussions discussions x 4 users x 8 turns x 48 max tokens, $threads threads, $rounds rounds"
	for r in $(seq "$rounds"); do
		start_server "$model"
		exp "$tmp/server-$m.json" "{\"type\": \"openai\", \"base_url\": \"http://127.0.0.1:$port/v1\", \"model\": \"$m\", \"extra_body\": {\"repeat_penalty\": 1.1, \"repeat_last_n\": 64}}"
		c0=$(server_cpu)
		"$bin" run "$tmp/server-$m.json" --out "$tmp/out-server-$m-$r" --parallel 1 \
			--quiet --json >"$tmp/server-$m-$r.json"
		echo "$c0 $(server_cpu)" >"$tmp/server-$m-$r.cpu"
		metric prompt_tokens_total >"$tmp/server-$m-$r.metric"
		stop_server
		for p in 1 16; do
			"$bin" run "$tmp/ours-$m.json" --out "$tmp/out-ours$p-$m-$r" --parallel "$p" \
				--quiet --json >"$tmp/ours$p-$m-$r.json"
		done
		echo "   round $r done"
	done
	python3 - "$tmp" "$m" "$rounds" <<'PY'
import json, sys
tmp, m, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])

def load(side, r):
    d = json.load(open(f"{tmp}/{side}-{m}-{r}.json"))
    d["rate"] = d["generated_tokens"] / (d["seconds"] - d["load_seconds"])
    if side == "server":
        c0, c1 = map(float, open(f"{tmp}/server-{m}-{r}.cpu").read().split())
        d["cpu"] = c1 - c0
    else:
        d["cpu"] = d["cpu_seconds"] - d["load_cpu_seconds"]
    d["cpu_rate"] = d["generated_tokens"] / d["cpu"]
    return d

rows = []
for r in range(1, rounds + 1):
    s, o1, o16 = load("server", r), load("ours1", r), load("ours16", r)
    try:
        s["metric"] = int(float(open(f"{tmp}/server-{m}-{r}.metric").read().split()[0]))
    except (IndexError, ValueError):
        s["metric"] = -1
    rows.append((s, o1, o16))
print(f"{'round':<7}{'server p1':>11}{'ours p1':>10}{'ours p16':>10}{'p1/server':>11}{'p16/server':>12}  (generated tok/s)")
for i, (s, o1, o16) in enumerate(rows):
    print(f"{i + 1:<7}{s['rate']:>11.1f}{o1['rate']:>10.1f}{o16['rate']:>10.1f}"
          f"{o1['rate'] / s['rate']:>11.2f}{o16['rate'] / s['rate']:>12.2f}")
med = lambda xs: sorted(xs)[len(xs) // 2]
r1 = med([o1["rate"] / s["rate"] for s, o1, _ in rows])
r16 = med([o16["rate"] / s["rate"] for s, _, o16 in rows])
print(f"median ratio: ours p1 / server = {r1:.2f} (target >= 1.0), "
      f"ours p16 / server = {r16:.2f} (target >= 3)")
print()
print(f"{'round':<7}{'server p1':>11}{'ours p1':>10}{'ours p16':>10}{'p1/server':>11}{'p16/server':>12}  (generated tok per CPU s)")
for i, (s, o1, o16) in enumerate(rows):
    print(f"{i + 1:<7}{s['cpu_rate']:>11.1f}{o1['cpu_rate']:>10.1f}{o16['cpu_rate']:>10.1f}"
          f"{o1['cpu_rate'] / s['cpu_rate']:>11.2f}{o16['cpu_rate'] / s['cpu_rate']:>12.2f}")
c1 = med([o1["cpu_rate"] / s["cpu_rate"] for s, o1, _ in rows])
c16 = med([o16["cpu_rate"] / s["cpu_rate"] for s, _, o16 in rows])
print(f"median ratio per CPU second: ours p1 / server = {c1:.2f}, ours p16 / server = {c16:.2f}")
s, o1, o16 = rows[0]
print()
print(f"{'prompt tokens (round 1)':<26}{'sent':>9}{'decoded':>9}{'decoded/sent':>14}{'generated':>11}")
for name, d in (("server p1 (usage)", s), ("ours p1", o1), ("ours p16", o16)):
    print(f"{name:<26}{d['prompt_tokens']:>9}{d['prompt_tokens_decoded']:>9}"
          f"{d['prompt_tokens_decoded'] / d['prompt_tokens']:>14.2f}{d['generated_tokens']:>11}")
print(f"{'server p1 (/metrics)':<26}{'':>9}{s['metric']:>9}")
print(f"ours p16 decoded / server decoded = {o16['prompt_tokens_decoded'] / s['prompt_tokens_decoded']:.2f}, "
      f"ours p1: {o1['prompt_tokens_decoded'] / s['prompt_tokens_decoded']:.2f} (target <= 0.5)")
print()
PY
done

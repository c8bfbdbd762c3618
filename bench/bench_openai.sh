#!/usr/bin/env bash
# The openai backend against the embedded engine, side by side: the same
# experiment (32 discussions x 8 turns x 48 max tokens on the tiny model,
# 16 in flight) run
#  1. by the embedded llama.cpp engine (--parallel 16), and
#  2. through llama-server -np 16 (built from the same tree) on loopback,
# with generated tokens/s of both and their ratio, and the client's own CPU
# time (getrusage of the syndisco process) per request: the HTTP client
# must not be what limits a run.
#   bench/bench_openai.sh [BUILD_DIR] [MODEL.gguf]
# Environment: THREADS (default nproc) for the engine and the server.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)  # absolute: the script works in a temp dir
bin=$build/syndisco
tmp=$(mktemp -d)
server_pid=
cleanup() {
	[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
threads=${THREADS:-$(nproc)}
parallel=16

llama=$("$root/scripts/build-llama.sh" --tools | tail -n 1)
model=$(realpath -m "${2:-$tmp/tiny.gguf}")
[ -f "$model" ] || "$bin" make-test-model "$model" --seed 42 2>/dev/null

# exp FILE BACKEND_JSON
exp() {
	cat >"$1" <<JSON
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
    "backend": $2
}
JSON
}

# timed NAME ARGS...: runs syndisco with --json; writes NAME.json with the
# summary plus the process's CPU seconds (user, sys) from getrusage
timed() {
	local name=$1
	shift
	python3 - "$tmp/$name.json" "$@" <<'PY'
import json, resource, subprocess, sys
out = subprocess.run(sys.argv[2:], stdout=subprocess.PIPE, check=True).stdout
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
d = json.loads(out)
d["cpu_user"], d["cpu_sys"] = ru.ru_utime, ru.ru_stime
json.dump(d, open(sys.argv[1], "w"))
PY
}

echo "== embedded engine: syndisco run --parallel $parallel, $threads threads"
exp "$tmp/embedded.json" "{\"model\": \"$model\", \"n_ctx\": 2048, \"n_threads\": $threads}"
timed embedded "$bin" run "$tmp/embedded.json" --out "$tmp/out-embedded" \
	--parallel "$parallel" --quiet --json

port=$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
echo "== llama-server -np $parallel on 127.0.0.1:$port, $threads threads"
"$llama/bin/llama-server" -m "$model" --host 127.0.0.1 --port "$port" -np "$parallel" \
	-c $((2048 * parallel)) -t "$threads" --no-jinja --chat-template llama3 --no-webui \
	>"$tmp/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 300); do
	curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
	sleep 0.2
done
curl -sf "http://127.0.0.1:$port/health" >/dev/null || { tail "$tmp/server.log"; exit 1; }
echo "== syndisco run --parallel $parallel through it (openai backend)"
exp "$tmp/openai.json" "{\"type\": \"openai\", \"base_url\": \"http://127.0.0.1:$port/v1\", \"model\": \"tiny\"}"
timed openai "$bin" run "$tmp/openai.json" --out "$tmp/out-openai" \
	--parallel "$parallel" --quiet --json

echo
python3 - "$tmp/embedded.json" "$tmp/openai.json" <<'PY'
import json, sys
e, o = (json.load(open(p)) for p in sys.argv[1:3])
print(f"{'':34}{'embedded':>12}{'llama-server':>14}")
for key, label, fmt in [("seconds", "wall seconds", "{:.2f}"),
                        ("turns", "requests (turns)", "{}"),
                        ("generated_tokens", "generated tokens", "{}"),
                        ("tokens_per_second", "generated tokens/s", "{:.1f}")]:
    print(f"{label:34}{fmt.format(e[key]):>12}{fmt.format(o[key]):>14}")
for d, name in ((e, "embedded"), (o, "openai")):
    d["cpu"] = d["cpu_user"] + d["cpu_sys"]
print(f"{'syndisco CPU s (user+sys)':34}{e['cpu']:>12.2f}{o['cpu']:>14.2f}")
print()
print(f"llama-server / embedded throughput   = {o['tokens_per_second'] / e['tokens_per_second']:.2f}")
per = o["cpu"] / o["turns"] * 1e3
print(f"openai client CPU per request        = {per:.3f} ms "
      f"({o['cpu_user']:.2f} s user + {o['cpu_sys']:.2f} s sys for {o['turns']} requests)")
print(f"openai client CPU / wall time        = {100 * o['cpu'] / o['seconds']:.1f} % of one core")
print(f"client-bound ceiling                 = {o['turns'] / o['cpu']:.0f} requests/s "
      f"(vs {o['turns'] / o['seconds']:.0f} requests/s achieved)")
PY

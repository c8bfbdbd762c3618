#!/usr/bin/env bash
# The openai backend against real llama-server processes built from the
# same llama.cpp tree, serving the tiny model on loopback with -np 4:
#  1. syndisco discuss completes through one server;
#  2. syndisco run spreads an experiment over two servers (both serve),
#     and syndisco annotate gets labels that parse through them;
#  3. killing one server mid-run loses no discussion: the run completes
#     on the other.
# Servers are killed on every exit path.
#   openai_server_test.sh SYNDISCO_BIN TINY_MODEL SOURCE_DIR
set -u
bin=$1 model=$2 src=$3
. "$src/tests/lib.sh" # kills the servers in pids at exit

# the llama.cpp install this build uses (cached: prints its prefix); its
# llama-server comes from scripts/build-llama.sh --tools (scripts/test.sh
# runs it first), minutes of compiling that no test should hide
llama=$("$src/scripts/build-llama.sh" | tail -n 1) || fail "build-llama.sh failed"
server=$llama/bin/llama-server
[ -x "$server" ] || skip "no llama-server in $llama/bin: run scripts/build-llama.sh --tools"

free_port() { python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"; }

# start_server NAME: sets port_NAME and pid_NAME; log in $tmp/NAME.log
start_server() {
	local name=$1 port
	port=$(free_port)
	# the model has no chat template; --no-jinja makes "llama3" the built-in
	# template of that name, the one the embedded engine falls back to
	"$server" -m "$model" --host 127.0.0.1 --port "$port" -np 4 -c 8192 \
		--no-jinja --chat-template llama3 --no-webui -t 1 --metrics \
		>"$tmp/$name.log" 2>&1 &
	local pid=$!
	pids+=("$pid")
	eval "port_$name=$port pid_$name=$pid"
	for _ in $(seq 300); do
		curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.2
	done
	echo "llama-server $name did not come up:"; tail -20 "$tmp/$name.log"; exit 1
}
served() { grep -c "processing task" "$tmp/$1.log"; }

start_server a
start_server b
url_a="http://127.0.0.1:$port_a/v1"
url_b="http://127.0.0.1:$port_b/v1"

# 1. one discussion through one server
cat >"$tmp/disc.json" <<JSON
{
  "personas_file": "$src/examples/personas.json",
  "context": "You are taking part in an online conversation",
  "instructions": "Act like a human would",
  "moderator": {"persona": {"username": "Moderator"}, "instructions": "Keep it civil."},
  "conv_len": 4,
  "sampling": {"max_tokens": 24},
  "backend": {"type": "openai", "base_url": "$url_a", "model": "tiny"}
}
JSON
"$bin" discuss "$tmp/disc.json" --out "$tmp/disc.log.json" >"$tmp/disc.out" 2>"$tmp/disc.err" &&
	ok || bad "discuss: $(cat "$tmp/disc.err")"
python3 - "$tmp/disc.log.json" <<'PY' && ok || bad "discussion log"
import json, sys
d = json.load(open(sys.argv[1]))
# our per-comment fields are in comment_meta, parallel to logs
gen = [dict(c, **m) for c, m in zip(d["logs"], d["comment_meta"]) if c["model"] != "hardcoded"]
assert len([c for c in gen if not c["is_moderator"]]) == 4, d["logs"]
assert all(c["model"] == "tiny" for c in gen)
assert all(c["tokens"]["generated"] > 0 and c["tokens"]["prompt"] > 0 for c in gen), gen
PY
[ "$(served a)" -gt 0 ] && ok || bad "server a saw no request"

# 2. an experiment over both servers
exp() { # FILE NUM_DISCUSSIONS NUM_TURNS
	cat >"$1" <<JSON
{
  "seed": 7,
  "personas_file": "$src/examples/study/personas.json",
  "instructions": "Take part in the discussion.",
  "num_discussions": $2, "num_active_users": 3, "num_turns": $3,
  "sampling": {"max_tokens": 24},
  "backend": {"type": "openai", "base_urls": ["$url_a", "$url_b"], "model": "tiny",
              "backoff_initial": 0.1, "backoff_max": 1}
}
JSON
}
a0=$(served a) b0=$(served b)
exp "$tmp/exp.json" 8 4
"$bin" run "$tmp/exp.json" --out "$tmp/run" --parallel 8 --quiet --json >"$tmp/run.json" 2>"$tmp/run.err" &&
	ok || bad "run: $(cat "$tmp/run.err")"
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d['done']==8 and d['failed']==0 and d['generated_tokens']>0, d" \
	"$tmp/run.json" && ok || bad "run summary: $(cat "$tmp/run.json")"
da=$(($(served a) - a0)) db=$(($(served b) - b0))
echo "experiment: server a served $da requests, server b $db"
# 32 requests, least outstanding first: neither gets less than a quarter
[ "$da" -ge 8 ] && [ "$db" -ge 8 ] && ok || bad "load not shared: a $da, b $db"
for s in a b; do
	p=port_$s
	curl -s "http://127.0.0.1:${!p}/metrics" | grep -q '^llamacpp:tokens_predicted_total [1-9]' &&
		ok || bad "server $s /metrics shows no generated tokens"
done

# 2b. annotation through both servers: llama-server enforces the label's
# grammar (the "grammar" field), so every 1..5 label of SynDisco's logs
# parses although the weights are random
# (two of SynDisco's logs, one with a moderator and one without: 49
# comments, each with its own prompt)
mkdir -p "$tmp/logs"
cp "$src/tests/fixtures/syndisco-logs/llama70b_constructive_communications_26-02-09-19-01-51.json" \
	"$src/tests/fixtures/syndisco-logs/llama8b_nomod_26-02-11-13-25-21.json" "$tmp/logs/"
cat >"$tmp/ann.json" <<JSON
{
  "seed": 5, "discussions": "$tmp/logs", "history_ctx_len": 2,
  "sampling": {"max_tokens": 8},
  "backend": {"type": "openai", "base_urls": ["$url_a", "$url_b"], "model": "tiny"},
  "annotators": [{"name": "tox", "instructions": "Rate the toxicity from 1 to 5.",
                  "label": {"range": [1, 5]}}]
}
JSON
"$bin" annotate "$tmp/ann.json" --out "$tmp/ann" --parallel 8 --quiet --json >"$tmp/ann.sum" 2>"$tmp/ann.err" &&
	ok || bad "annotate: $(tail -3 "$tmp/ann.err")"
python3 - "$tmp/ann/tox" <<'PY' && ok || bad "annotations through llama-server"
import json, os, sys
n = 0
for f in os.listdir(sys.argv[1]):
    for r in json.load(open(os.path.join(sys.argv[1], f)))["annotation_meta"]:
        assert r["label_status"] == "ok" and r["label"] in (1, 2, 3, 4, 5), r
        n += 1
assert n == 32 + 17, n  # every comment of both logs
print(f"annotate through llama-server: {n} labels, all parse")
PY

# 3. kill one server mid-run: nothing is lost
exp "$tmp/exp2.json" 16 4
"$bin" run "$tmp/exp2.json" --out "$tmp/run2" --parallel 8 --quiet --json \
	>"$tmp/run2.json" 2>"$tmp/run2.err" &
rpid=$!
pids+=("$rpid")
for _ in $(seq 300); do
	n=$(find "$tmp/run2/default" -name '*.json' 2>/dev/null | wc -l)
	[ "$n" -ge 2 ] && break
	sleep 0.05
done
b_before=$(served b)
kill -9 "$pid_b"
wait "$pid_b" 2>/dev/null
echo "killed server b after $n discussions were written and $b_before requests served by it"
[ "$n" -lt 16 ] && ok || bad "the run ended before the kill; make it longer"
wait "$rpid" && ok || bad "run after kill: exit $?: $(tail -5 "$tmp/run2.err")"
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d['done']==16 and d['failed']==0, d" \
	"$tmp/run2.json" && ok || bad "run after kill: $(cat "$tmp/run2.json")"
"$bin" status "$tmp/run2" >"$tmp/status" && grep -q "^all *16 *16$" "$tmp/status" && ok ||
	bad "status after kill: $(cat "$tmp/status")"

finish

#!/usr/bin/env bash
# The openai backend against a misbehaving server (tests/fault_server.py):
# the C tests (test_openai), then the command line: discuss and run through
# faults, config errors, waiting for a server that comes up late, labels
# from a server that ignores grammars, and no API key in any output, log
# or file.
#   openai_fault_test.sh SYNDISCO_BIN TEST_OPENAI_BIN SOURCE_DIR
set -u
bin=$1 test_bin=$2 src=$3
. "$src/tests/lib.sh" # kills the servers in pids at exit

# a key nobody could mistake for anything else; the server checks it arrives
export SD_TEST_KEY="sk-syndisco-TEST-7f3a9c1e5b2d"
mkdir -p "$tmp/secret" "$tmp/out"
printf '%s\n' "$SD_TEST_KEY" >"$tmp/secret/key"

start_server() { # PORT_FILE [--port N]
	python3 "$src/tests/fault_server.py" --port-file "$1" --expect-key SD_TEST_KEY "${@:2}" \
		>/dev/null 2>"$tmp/out/fault-server.err" &
	pids+=($!)
	for _ in $(seq 100); do [ -s "$1" ] && return 0; sleep 0.1; done
	echo "fault server did not start"; cat "$tmp/out/fault-server.err"; exit 1
}
start_server "$tmp/port"
port=$(cat "$tmp/port")
base="http://127.0.0.1:$port"

# 1. the library: bodies, retries, timing, errors, failover, cancel
"$test_bin" "$base" >"$tmp/out/test_openai.out" 2>&1 && ok ||
	{ cat "$tmp/out/test_openai.out"; bad "test_openai"; }

# 2. the command line
cfg() { # FILE SCENARIO [extra backend fields]
	cat >"$1" <<JSON
{
  "personas": [{"username": "alice"}, {"username": "bob"}],
  "instructions": "Discuss.",
  "conv_len": 4,
  "backend": {"type": "openai", "base_url": "$base/$2/v1", "model": "m",
              "backoff_initial": 0.05, "backoff_max": 0.2, "request_timeout": 1 $3}
}
JSON
}
discuss() { "$bin" discuss "$@" >>"$tmp/out/discuss.out" 2>>"$tmp/out/discuss.err"; }

cfg "$tmp/ok.json" ok ', "api_key_env": "SD_TEST_KEY"'
discuss "$tmp/ok.json" --out "$tmp/out/ok.log.json" --log-level debug && ok || bad "discuss ok"
python3 - "$tmp/out/ok.log.json" <<'PY' && ok || bad "discuss log content"
import json, sys
d = json.load(open(sys.argv[1]))
texts = [c["text"] for c in d["logs"]]
assert len(texts) == 4 and all(t.startswith("reply to seed ") for t in texts), texts
seeds = {t.split(":")[0] for t in texts}
assert len(seeds) == 4, seeds                  # a distinct seed per request
assert all(c["model"] == "m" for c in d["logs"])
# token counts are ours: in comment_meta, parallel to SynDisco's logs
assert all(m["tokens"] == {"prompt": 11, "generated": 7} for m in d["comment_meta"]), d["comment_meta"]
PY
grep -q '"choices"' "$tmp/out/discuss.err" && ok || bad "no raw reply in the debug log"
python3 -c "import json,sys; l=json.load(sys.stdin); assert l and all(e['auth_ok'] for e in l), l" \
	< <(curl -s "$base/_log") && ok || bad "the key did not arrive as a Bearer token"

cfg "$tmp/file.json" ok ', "api_key_file": "secret/key"'
discuss "$tmp/file.json" --out "$tmp/out/file.log.json" --quiet && ok || bad "api_key_file"

cfg "$tmp/retry.json" r500 ', "api_key_env": "SD_TEST_KEY"'
discuss "$tmp/retry.json" --out "$tmp/out/retry.log.json" --log-level info && ok || bad "discuss through 500s"
grep -q "HTTP 500" "$tmp/out/discuss.err" && ok || bad "retries not reported"

cfg "$tmp/echo.json" r401echo ', "api_key_env": "SD_TEST_KEY"'
"$bin" discuss "$tmp/echo.json" --out "$tmp/out/echo.log.json" --log-level debug \
	>"$tmp/out/echo.out" 2>"$tmp/out/echo.err"
[ $? -eq 1 ] && grep -q "HTTP 401" "$tmp/out/echo.err" && grep -q "REDACTED" "$tmp/out/echo.err" &&
	ok || bad "401 echo: $(cat "$tmp/out/echo.err")"

cfg "$tmp/empty.json" empty ''
"$bin" discuss "$tmp/empty.json" --out "$tmp/out/empty.log.json" 2>"$tmp/out/empty.err"
[ $? -eq 1 ] && grep -q "content is empty" "$tmp/out/empty.err" && ok ||
	bad "empty content: $(cat "$tmp/out/empty.err")"

# config errors name the file and the field, and never echo a key
cfg "$tmp/lit.json" ok ', "api_key": "sk-literal-in-the-config-0000"'
"$bin" discuss "$tmp/lit.json" 2>"$tmp/out/lit.err"
[ $? -eq 1 ] && grep -q "lit.json" "$tmp/out/lit.err" && grep -q "backend.api_key" "$tmp/out/lit.err" &&
	grep -q "api_key_env" "$tmp/out/lit.err" && ! grep -q "sk-literal" "$tmp/out/lit.err" &&
	ok || bad "literal api_key: $(cat "$tmp/out/lit.err")"
rm "$tmp/lit.json"
cfg "$tmp/unset.json" ok ', "api_key_env": "SD_NO_SUCH_VARIABLE"'
"$bin" discuss "$tmp/unset.json" 2>"$tmp/out/unset.err"
[ $? -eq 1 ] && grep -q "backend.api_key_env" "$tmp/out/unset.err" &&
	grep -q "SD_NO_SUCH_VARIABLE" "$tmp/out/unset.err" && ok || bad "unset env: $(cat "$tmp/out/unset.err")"
cfg "$tmp/nourl.json" ok ', "n_ctx": 4096'
"$bin" discuss "$tmp/nourl.json" 2>"$tmp/out/nourl.err"
[ $? -eq 1 ] && grep -q "backend.n_ctx" "$tmp/out/nourl.err" && grep -q "unknown field" "$tmp/out/nourl.err" &&
	ok || bad "llama field in openai: $(cat "$tmp/out/nourl.err")"
sed 's|"base_url": "[^"]*"|"base_url": "localhost:8080"|' "$tmp/ok.json" >"$tmp/scheme.json"
"$bin" discuss "$tmp/scheme.json" 2>"$tmp/out/scheme.err"
[ $? -eq 1 ] && grep -q "backend.base_url" "$tmp/out/scheme.err" && grep -q "http://" "$tmp/out/scheme.err" &&
	ok || bad "bad scheme: $(cat "$tmp/out/scheme.err")"

# 3. an experiment through faults; --log-file gets every line
cat >"$tmp/exp.json" <<JSON
{
  "seed": 5,
  "personas": [{"username": "a"}, {"username": "b"}, {"username": "c"}],
  "instructions": "Discuss.",
  "num_discussions": 6, "num_active_users": 2, "num_turns": 3,
  "backend": {"type": "openai", "base_urls": ["$base/r500/v1", "$base/garbage/v1"],
              "model": "m", "api_key_file": "secret/key",
              "backoff_initial": 0.05, "backoff_max": 0.2}
}
JSON
"$bin" run "$tmp/exp.json" --out "$tmp/out/run" --parallel 4 --log-level debug \
	--log-file "$tmp/out/run.log" --json >"$tmp/out/run.json" 2>"$tmp/out/run.err" &&
	ok || bad "run through faults: $(tail -5 "$tmp/out/run.err")"
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d['done']==6 and d['failed']==0, d" \
	"$tmp/out/run.json" && ok || bad "run counts: $(cat "$tmp/out/run.json")"
grep -q "sk-" "$tmp/out/run/run.json" && bad "a key in run.json" || ok
# resumed on other endpoints with other timeouts: the same run, all skipped
sed -e "s|\"base_urls\": \[[^]]*\]|\"base_urls\": [\"$base/okR/v1\"]|" \
    -e 's|"backoff_max": 0.2|"backoff_max": 0.3, "request_timeout": 9|' "$tmp/exp.json" >"$tmp/exp-moved.json"
grep -q okR "$tmp/exp-moved.json" || bad "sed did not move the endpoints"
"$bin" run "$tmp/exp-moved.json" --out "$tmp/out/run" --json >"$tmp/out/run-moved.json" 2>"$tmp/out/run-moved.err" &&
	python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d['skipped']==6 and d['done']==0, d" \
		"$tmp/out/run-moved.json" && ok || bad "resume on moved endpoints: $(cat "$tmp/out/run-moved.err")"

# 4. no server yet: the discussion waits, and goes on when one comes up
late=$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
cat >"$tmp/late.json" <<JSON
{
  "personas": [{"username": "alice"}, {"username": "bob"}],
  "conv_len": 3,
  "backend": {"type": "openai", "base_url": "http://127.0.0.1:$late/ok/v1", "model": "m",
              "api_key_env": "SD_TEST_KEY", "down_deadline": 60}
}
JSON
"$bin" discuss "$tmp/late.json" --out "$tmp/out/late.log.json" --log-level info \
	>"$tmp/out/late.out" 2>"$tmp/out/late.err" &
dpid=$!
pids+=($dpid)
# the server comes up once the discussion has found it down (a counted
# point, not a sleep)
for _ in $(seq 600); do
	grep -q "all 1 endpoint(s) are down" "$tmp/out/late.err" && break
	sleep 0.05
done
start_server "$tmp/late-port" --port "$late"
wait "$dpid" && ok || bad "discussion did not resume: $(cat "$tmp/out/late.err")"
grep -q "all 1 endpoint(s) are down" "$tmp/out/late.err" && grep -q "is back" "$tmp/out/late.err" &&
	ok || bad "down/back not reported: $(cat "$tmp/out/late.err")"
# resumed promptly: probes at 1, 2, 4, 8 s... while the server starts; a
# fifth failed probe (31 s of rests) would mean it did not notice the server
still=$(grep -c "is still down" "$tmp/out/late.err")
[ "$still" -le 4 ] && ok || bad "resumed after $still failed probes"

# 5. annotation through the openai backend: the label's grammar is sent;
# a server that ignores it gets unparsed labels retried with new seeds,
# and what still does not parse after max_retries is recorded as such
mkdir -p "$tmp/logs1"
cp "$(ls "$src"/tests/fixtures/syndisco-logs/*.json | head -n 1)" "$tmp/logs1/"
ann_cfg() { # FILE SCENARIO
	cat >"$1" <<JSON
{
  "seed": 3, "discussions": "$tmp/logs1", "max_retries": 2,
  "backend": {"type": "openai", "base_url": "$base/$2/v1", "model": "m",
              "api_key_env": "SD_TEST_KEY", "backoff_initial": 0.05},
  "annotators": [{"name": "tox", "instructions": "Rate the toxicity from 1 to 5.",
                  "label": {"range": [1, 5]}}]
}
JSON
}
for sc in label labelbad; do
	ann_cfg "$tmp/ann-$sc.json" $sc
	curl -s "$base/_reset" >/dev/null
	"$bin" annotate "$tmp/ann-$sc.json" --out "$tmp/out/ann-$sc" --quiet --parallel 4 \
		2>>"$tmp/out/annotate.err" && ok || bad "annotate through $sc: $(tail -3 "$tmp/out/annotate.err")"
	curl -s "$base/_log" >"$tmp/ann-$sc.log"
	python3 - "$tmp/out/ann-$sc/tox" "$tmp/ann-$sc.log" $sc <<'PY' && ok || bad "annotations through $sc"
import json, os, sys
out, log, sc = sys.argv[1], json.load(open(sys.argv[2])), sys.argv[3]
(f,) = os.listdir(out)
a = json.load(open(os.path.join(out, f)))
# the default profile (2.2.1) keeps the annotation in logs[].text, ours
# (labels) in annotation_meta
rows = [dict(m, annotation=l["text"]) for m, l in zip(a["annotation_meta"], a["logs"])]
assert rows and all("grammar" in e["body"] and "root" in e["body"]["grammar"] for e in log), log[:1]
seeds = [e["body"]["seed"] for e in log]
assert len(set(seeds)) == len(seeds), "a retry reused a seed"
st = [r["label_status"] for r in rows]
if sc == "label":
    # an odd seed does not parse and is retried: up to 3 attempts
    assert len(rows) < len(log) <= 3 * len(rows), (len(rows), len(log))
    assert all(s in ("ok", "unparsed") for s in st), st
    for r in rows:
        if r["label_status"] == "ok":
            assert r["label"] == 3 and r["annotation"] == "3", r
        else:
            assert r["label"] is None and r["annotation"] == "I'd say three", r
    assert st.count("ok") > st.count("unparsed"), st
else:
    assert len(log) == 3 * len(rows), (len(rows), len(log))
    assert all(r["label_status"] == "unparsed" and r["label"] is None
               and r["annotation"] == "three" for r in rows), rows[:2]
print(f"{sc}: {len(rows)} comments, {len(log)} requests, {st.count('ok')} labels parsed")
PY
done

# 6. the key is nowhere: not in stdout, stderr, logs, outputs
if grep -rl --exclude-dir=secret -- "$SD_TEST_KEY" "$tmp"; then
	bad "the API key leaked into the files above"
else
	ok
fi

finish

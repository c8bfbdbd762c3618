#!/usr/bin/env bash
# CLI tests: exit status, messages and files left behind.
#   cli_test.sh SYNDISCO_BIN TINY_MODEL SOURCE_DIR
set -u
bin=$1 model=$2 src=$3
. "$src/tests/lib.sh"
# expect_fail's runs write here (and must not leave it)
expect_out=(--out "$tmp/out.json")

cfg() { printf '%s' "$2" >"$tmp/$1"; echo "$tmp/$1"; }

# help and version
"$bin" --help | grep -q "discuss CONFIG.json" && ok || bad "--help"
"$bin" --version | grep -q "^syndisco [0-9]" && ok || bad "--version"
"$bin" discuss --help | grep -q -- "--dry-run" && ok || bad "discuss --help"
"$bin" make-test-model --help | grep -q -- "--n-embd" && ok || bad "make-test-model --help"
"$bin" frobnicate >/dev/null 2>&1; [ $? -eq 2 ] && ok || bad "unknown command exit 2"

users='"personas": [{"username": "a"}, {"username": "b"}]'
expect_fail "missing config" "nope.json" any "$bin" discuss "$tmp/nope.json"
# --log-level takes error, warn, info or debug (discuss and run alike)
good=$(cfg ok.json "{$users, \"conv_len\": 1, \"backend\": {\"type\": \"scripted\"}}")
expect_fail "discuss bad log level" "--log-level: 'loud' is not error, warn, info or debug" any \
	"$bin" discuss "$good" --log-level loud
expect_fail "run bad log level" "--log-level: 'loud' is not error, warn, info or debug" any \
	"$bin" run "$good" --log-level loud
"$bin" discuss "$good" --log-level debug --out "$tmp/ll.json" >/dev/null 2>&1 && ok || bad "--log-level debug"
# a discussion log names the model file that wrote it: its bytes, not its path
"$bin" discuss "$(cfg mfc.json "{$users, \"conv_len\": 1, \"sampling\": {\"max_tokens\": 4}}")" \
	--model "$model" --out "$tmp/mf.json" --quiet >/dev/null 2>&1 || bad "discuss --model"
python3 - "$tmp/mf.json" "$model" "$(sha256sum "$model" | cut -d' ' -f1)" <<'PY' && ok || bad "discuss log: model_file"
import json, os, sys
log, model, sha = sys.argv[1:]
m = json.load(open(log))["model_file"]
assert m["sha256"] == sha and m["size"] == os.path.getsize(model), m
assert m["llama_cpp"], m
PY
rm -f "$tmp/ll.json"
expect_fail "malformed config" "bad.json:2:" any "$bin" discuss "$(cfg bad.json $'{\n "personas": [,\n}')"
expect_fail "persona without username" "personas[1].username" any \
	"$bin" discuss "$(cfg nouser.json '{"personas": [{"username": "a"}, {"age": 3}]}')"
printf '[{"username": "a"},\n {"username": "b",}]' >"$tmp/broken-personas.json"
expect_fail "malformed persona file" "broken-personas.json:2:" any \
	"$bin" discuss "$(cfg pf.json '{"personas_file": "broken-personas.json"}')"
expect_fail "unknown turn manager" "unknown turn manager \"zigzag\"" any \
	"$bin" discuss "$(cfg tm.json "{$users, \"turn_manager\": \"zigzag\"}")"
expect_fail "p_respond out of range" "turn_manager.p_respond" any \
	"$bin" discuss "$(cfg pr.json "{$users, \"turn_manager\": {\"type\": \"respond\", \"p_respond\": -0.1}}")"
expect_fail "fewer users than needed" "at least 2 users" any \
	"$bin" discuss "$(cfg few.json '{"personas": [{"username": "a"}], "turn_manager": "random"}')"
good=$(cfg good.json "{$users, \"conv_len\": 2, \"sampling\": {\"max_tokens\": 8}}")
expect_fail "missing model file" "/nonexistent/m.gguf" any \
	"$bin" discuss "$good" --model /nonexistent/m.gguf
echo "not a model" >"$tmp/fake.gguf"
expect_fail "not a GGUF file" "fake.gguf" any "$bin" discuss "$good" --model "$tmp/fake.gguf"
expect_fail "bad seed" "--seed" any "$bin" discuss "$good" --seed -5
"$bin" make-test-model "$tmp/m.gguf" --vocab "$tmp/nope.gguf" 2>"$tmp/stderr"
[ $? -ne 0 ] && grep -q "nope.gguf" "$tmp/stderr" && ok || bad "missing vocab"
ls "$tmp"/m.gguf* >/dev/null 2>&1 && bad "make-test-model left a file" || ok

# dry run shows the exact prompts without a model
"$bin" discuss "$src/examples/guide.json" --dry-run >"$tmp/dry" 2>&1 && ok || bad "dry run exit"
grep -qF '{"role": "user", "content": "Comments so far: Comment by user Emma35: \"\n' "$tmp/dry" && ok || bad "dry run prompt"
grep -qF '{"context": "You are taking part in an online conversation", "instructions": "Act like a human would", "type": "user", "persona": {"username": "Emma35"' "$tmp/dry" && ok || bad "dry run system prompt"

# a real discussion on the tiny model, twice with the same seed
for k in 1 2; do
	"$bin" discuss "$src/examples/guide-moderated.json" --model "$model" \
		--seed 7 --out "$tmp/run$k.json" >"$tmp/run$k.out" 2>"$tmp/run$k.err" ||
		bad "discuss run $k: $(cat "$tmp/run$k.err")"
done
grep -q '^Comment by user Emma35: "$' "$tmp/run1.out" && ok || bad "comments printed"
grep -q '^Comment by user Moderator: "$' "$tmp/run1.out" && ok || bad "moderator printed"
if command -v python3 >/dev/null; then
	python3 - "$tmp/run1.json" "$tmp/run2.json" <<'PY' && ok || bad "log check"
import json, sys
a, b = (json.load(open(p, encoding="utf-8", errors="strict")) for p in sys.argv[1:3])
for d in (a, b):
    d.pop("id"); d.pop("timestamp")
assert a == b, "same seed gave different logs"
assert a["seed"] == 7 and a["moderator"] == "Moderator"
assert a["logs"][0]["model"] == "hardcoded"
assert all(c["model"] == "tiny" for c in a["logs"][1:])
assert len(a["user_prompts"]) == 2 and a["ctx_length"] == 5
PY
else
	diff <(grep -v '"id"\|"timestamp"' "$tmp/run1.json") \
		<(grep -v '"id"\|"timestamp"' "$tmp/run2.json") >/dev/null && ok || bad "same seed differs"
fi
ls "$tmp"/*.tmp.* >/dev/null 2>&1 && bad "temp files left" || ok

finish

#!/usr/bin/env bash
# syndisco run / status with the scripted backend: determinism, parallel
# independence, shards, resume of missing/corrupt files, config changes.
#   run_test.sh SYNDISCO_BIN SOURCE_DIR
set -u
bin=$1 src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }
cmp_runs() { python3 "$src/tests/compare_runs.py" "$@" >"$tmp/cmp" 2>&1; }

cat >"$tmp/exp.json" <<JSON
{
    "seed": 11,
    "personas_file": "$src/examples/study/personas.json",
    "random_usernames": true,
    "instructions": "Take part.",
    "roles": [{"name": "troll", "share": 0.25, "instructions": "Troll."}],
    "moderator": {"persona": {"username": "mod"}, "instructions": "Moderate."},
    "num_discussions": 12,
    "num_active_users": 4,
    "num_turns": 6,
    "seed_opinions": ["Seed A.", ["Seed B1.", "Seed B2."]],
    "backend": {"type": "scripted"},
    "conditions": {
        "tm": [{"name": "rr", "turn_manager": {"type": "round_robin", "random_first": true}},
               {"name": "respond", "turn_manager": {"type": "respond", "p_respond": 0.5}}]
    }
}
JSON
run() { "$bin" run "$tmp/exp.json" --quiet "$@"; }

run --out "$tmp/a" --parallel 1 && ok || bad "run a"
run --out "$tmp/b" --parallel 7 && ok || bad "run b"
cmp_runs "$tmp/a" "$tmp/b" && ok || bad "parallel 1 vs 7: $(cat "$tmp/cmp")"
[ "$(ls "$tmp/a/rr" | wc -l)" = 12 ] && [ "$(ls "$tmp/a/respond" | wc -l)" = 12 ] && ok || bad "file count"

# what a discussion depends on: persona subsets, roles, seed opinions,
# usernames and turn order come from (seed, cell, index) only
python3 - "$tmp/a" <<'PY' && ok || bad "determinism content"
import json, sys, os
d = sys.argv[1]
logs = [json.load(open(os.path.join(d, "respond", f"{i}.json"))) for i in range(12)]
subsets = {tuple(l["users"]) for l in logs}
assert len(subsets) > 6, "persona subsets do not vary"
assert all(l["logs"][0]["model"] == "hardcoded" for l in logs)
assert {l["logs"][0]["text"] for l in logs} <= {"Seed A.", "Seed B1."}
trolls = [sum("Troll." in p for p in l["user_prompts"]) for l in logs]
assert all(t == 1 for t in trolls), trolls   # round(0.25 * 4) = 1
for l in logs:
    names = [c["name"] for c in l["logs"] if not c["is_moderator"] and c["model"] != "hardcoded"]
    assert all(a != b for a, b in zip(names, names[1:])), names
PY

# shards 0/3, 1/3, 2/3 together equal the unsharded run
for k in 0 1 2; do run --out "$tmp/s$k" --shard "$k/3" || bad "shard $k"; done
cmp_runs "$tmp/a" "$tmp/s0" "$tmp/s1" "$tmp/s2" && ok || bad "shards: $(cat "$tmp/cmp")"
SLURM_ARRAY_TASK_ID=1 SLURM_ARRAY_TASK_COUNT=3 run --out "$tmp/slurm1" && ok || bad "slurm env"
cmp_runs "$tmp/s1" "$tmp/slurm1" && ok || bad "slurm shard = --shard 1/3"

# resume: missing, truncated and corrupt files are re-run; the rest skipped
cp -r "$tmp/a" "$tmp/r"
rm "$tmp/r/rr/3.json"
head -c 100 "$tmp/a/rr/5.json" >"$tmp/r/rr/5.json"
echo '{"not": "a log"}' >"$tmp/r/respond/0.json"
touch "$tmp/r/rr/7.json.tmp.999999"
run --out "$tmp/r" --json >"$tmp/resume.json" && ok || bad "resume run"
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d['done']==3 and d['skipped']==21, d" \
	"$tmp/resume.json" && ok || bad "resume counts: $(cat "$tmp/resume.json")"
cmp_runs "$tmp/a" "$tmp/r" && ok || bad "resume result: $(cat "$tmp/cmp")"
[ -e "$tmp/r/rr/7.json.tmp.999999" ] && bad "stale temp file kept" || ok

# status
"$bin" status "$tmp/r" >"$tmp/status" && ok || bad "status exit"
grep -q "^all *24 *24$" "$tmp/status" && ok || bad "status table: $(cat "$tmp/status")"
"$bin" status "$tmp/s0" >/dev/null; [ $? -eq 4 ] && ok || bad "status of a shard should exit 4"
"$bin" status "$tmp/nope" 2>"$tmp/err"; [ $? -eq 1 ] && grep -q "nope" "$tmp/err" && ok || bad "status missing dir"

# a changed config is detected on resume, and --force overrides
sed 's/"num_turns": 6/"num_turns": 7/' "$tmp/exp.json" >"$tmp/exp2.json"
"$bin" run "$tmp/exp2.json" --out "$tmp/a" --quiet 2>"$tmp/err"
[ $? -eq 1 ] && grep -q "different config" "$tmp/err" && ok || bad "config change: $(cat "$tmp/err")"
"$bin" run "$tmp/exp2.json" --out "$tmp/a" --quiet --force && ok || bad "--force"

# bad input
echo '{"personas": [{"username": "a"}], "num_active_users": 3, "backend": {"type": "scripted"}}' >"$tmp/few.json"
"$bin" run "$tmp/few.json" --out "$tmp/few" 2>"$tmp/err"
[ $? -eq 1 ] && grep -q "num_active_users" "$tmp/err" && [ ! -e "$tmp/few" ] && ok || bad "few users: $(cat "$tmp/err")"
"$bin" run "$tmp/exp.json" --out "$tmp/x" --shard 3/3 2>/dev/null; [ $? -eq 2 ] && ok || bad "bad shard"
"$bin" run "$tmp/exp.json" 2>"$tmp/err"; [ $? -eq 2 ] && grep -q "output directory" "$tmp/err" && ok || bad "no out dir"
echo '{"personas": [{"username": "a"}, {"username": "b"}], "conditions": {"m": [{"name": "x", "seed": 3}]}}' >"$tmp/c.json"
"$bin" run "$tmp/c.json" --out "$tmp/c" 2>"$tmp/err"; [ $? -eq 1 ] && grep -q "cannot be set per cell" "$tmp/err" && ok || bad "per-cell seed"
echo '{"personas_file": "p.json", "roles": [{"name": "t", "share": 0.7, "instructions": "x"}, {"name": "u", "share": 0.5, "instructions": "y"}]}' >"$tmp/r.json"
cp "$src/examples/personas.json" "$tmp/p.json"
"$bin" run "$tmp/r.json" --out "$tmp/rr" 2>"$tmp/err"; [ $? -eq 1 ] && grep -q "more than 1" "$tmp/err" && ok || bad "role shares"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]

#!/usr/bin/env bash
# syndisco run / status with the scripted backend: determinism, parallel
# independence, shards, resume of missing/corrupt files, config changes.
#   run_test.sh SYNDISCO_BIN SOURCE_DIR
set -u
bin=$1 src=$2
. "$src/tests/lib.sh"
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
    names = [c["name"] for c, m in zip(l["logs"], l["comment_meta"]) if not m["is_moderator"] and c["model"] != "hardcoded"]
    assert all(a != b for a, b in zip(names, names[1:])), names
PY

# shards 0/3, 1/3, 2/3 together equal the unsharded run
for k in 0 1 2; do run --out "$tmp/s$k" --shard "$k/3" || bad "shard $k"; done
cmp_runs "$tmp/a" "$tmp/s0" "$tmp/s1" "$tmp/s2" && ok || bad "shards: $(cat "$tmp/cmp")"
SLURM_ARRAY_TASK_ID=1 SLURM_ARRAY_TASK_COUNT=3 run --out "$tmp/slurm1" && ok || bad "slurm env"
cmp_runs "$tmp/s1" "$tmp/slurm1" && ok || bad "slurm shard = --shard 1/3"
# the shard is the task's position in the array: --array=1-3 and 0-4:2
# give shard 1/3 to tasks 2 and 2; --shard wins over the environment
SLURM_ARRAY_TASK_ID=2 SLURM_ARRAY_TASK_COUNT=3 SLURM_ARRAY_TASK_MIN=1 SLURM_ARRAY_TASK_MAX=3 \
	run --out "$tmp/slurm2" && cmp_runs "$tmp/s1" "$tmp/slurm2" && ok || bad "slurm 1-based array"
SLURM_ARRAY_TASK_ID=2 SLURM_ARRAY_TASK_MIN=0 SLURM_ARRAY_TASK_MAX=4 SLURM_ARRAY_TASK_STEP=2 \
	run --out "$tmp/slurm3" && cmp_runs "$tmp/s1" "$tmp/slurm3" && ok || bad "slurm array with a step"
SLURM_ARRAY_TASK_ID=0 SLURM_ARRAY_TASK_COUNT=3 run --out "$tmp/slurm4" --shard 1/3 &&
	cmp_runs "$tmp/s1" "$tmp/slurm4" && ok || bad "--shard over SLURM_*"
# two or more tasks of the same shard at once (a requeued task while the
# old one still runs) into one directory: no lock, the output is
# deterministic and every write is temp + fsync + rename
pids=
for j in 1 2 3; do run --out "$tmp/dup" --shard 1/3 --parallel 1 & pids="$pids $!"; done
dup_ok=1
for p in $pids; do wait "$p" || dup_ok=0; done
[ "$dup_ok" = 1 ] && cmp_runs "$tmp/s1" "$tmp/dup" && ok || bad "concurrent writers of one shard: $(cat "$tmp/cmp")"
ls "$tmp"/dup/*/ | grep -q '\.tmp\.' && bad "concurrent writers left temp files" || ok
# a list like --array=1,4 (a resubmission) does not say N: refused
SLURM_ARRAY_TASK_ID=1 SLURM_ARRAY_TASK_COUNT=2 SLURM_ARRAY_TASK_MIN=1 SLURM_ARRAY_TASK_MAX=4 \
	run --out "$tmp/slurm5" 2>"$tmp/err"
[ $? -eq 2 ] && grep -q -- "--shard" "$tmp/err" && [ ! -e "$tmp/slurm5" ] && ok || bad "sparse array: $(cat "$tmp/err")"
SLURM_ARRAY_TASK_ID=1 run --out "$tmp/slurm6" 2>"$tmp/err"
[ $? -eq 2 ] && grep -q "size" "$tmp/err" && ok || bad "array without size: $(cat "$tmp/err")"

# resume: missing, truncated and corrupt files are re-run; the rest skipped
cp -r "$tmp/a" "$tmp/r"
rm "$tmp/r/rr/3.json"
head -c 100 "$tmp/a/rr/5.json" >"$tmp/r/rr/5.json"
echo '{"not": "a log"}' >"$tmp/r/respond/0.json"
# temp files: <file>.tmp.<host>.<pid>.<hex>. Only this host's dead
# writers' temps go at once; another host's pid means nothing here, so its
# temps stay until they are a day old (a shared file system)
host=$(uname -n | tr -c 'A-Za-z0-9\n-' '_')
touch "$tmp/r/rr/7.json.tmp.$host.999999.0badf00d"      # this host, dead
touch "$tmp/r/rr/7.json.tmp.$host.$$.0badf00d"          # this host, alive
touch "$tmp/r/rr/8.json.tmp.other-host.999999.0badf00d" # another host
touch -d '2 days ago' "$tmp/r/rr/9.json.tmp.other-host.1.0badf00d"
touch "$tmp/r/rr/9.json.tmp.999999"                     # old style, fresh
touch -d '2 days ago' "$tmp/r/rr/10.json.tmp.999999"    # old style, old
run --out "$tmp/r" --json >"$tmp/resume.json" && ok || bad "resume run"
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d['done']==3 and d['skipped']==21, d" \
	"$tmp/resume.json" && ok || bad "resume counts: $(cat "$tmp/resume.json")"
cmp_runs "$tmp/a" "$tmp/r" && ok || bad "resume result: $(cat "$tmp/cmp")"
left=$(cd "$tmp/r/rr" && ls | grep '\.tmp\.' | sort | tr '\n' ' ')
want="7.json.tmp.$host.$$.0badf00d 8.json.tmp.other-host.999999.0badf00d 9.json.tmp.999999 "
[ "$left" = "$want" ] && ok || bad "temp cleaning: left '$left', want '$want'"
# a finished run leaves no temp file of its own
ls "$tmp"/a/*/ | grep -q '\.tmp\.' && bad "temp files left by a run" || ok

# status
"$bin" status "$tmp/r" >"$tmp/status" && ok || bad "status exit"
grep -q "^all *24 *24$" "$tmp/status" && ok || bad "status table: $(cat "$tmp/status")"
"$bin" status "$tmp/s0" >/dev/null; [ $? -eq 4 ] && ok || bad "status of a shard should exit 4"
# what a follow-up job needs: the missing indices, and the shards they
# belong to (i % N) in sbatch --array syntax
"$bin" status "$tmp/s1" --shards 3 >"$tmp/status"; [ $? -eq 4 ] && ok || bad "status --shards exit"
[ "$(tail -n1 "$tmp/status")" = "missing shards: 0,2" ] && ok || bad "missing shards: $(cat "$tmp/status")"
"$bin" status "$tmp/r" --shards 3 | tail -n1 | grep -qx "missing shards: none" && ok || bad "no missing shards"
"$bin" status "$tmp/s1" --json --shards 5 >"$tmp/status.json"; [ $? -eq 4 ] && ok || bad "status --json exit"
python3 - "$tmp/status.json" <<'PY' && ok || bad "status --json: $(cat "$tmp/status.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["complete"] is False and d["total"] == 24 and d["done"] == 8, d
for c in d["cells"]:
    assert c["total"] == 12 and c["done"] == 4, c
    assert c["missing"] == [i for i in range(12) if i % 3 != 1], c
assert d["shard_count"] == 5
assert d["missing_shards"] == sorted({i % 5 for i in range(12) if i % 3 != 1}), d
PY
"$bin" status "$tmp/r" --json >"$tmp/status.json" && ok || bad "status --json complete exit"
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d['complete'] and all(c['missing']==[] for c in d['cells']) and 'missing_shards' not in d, d" \
	"$tmp/status.json" && ok || bad "status --json complete: $(cat "$tmp/status.json")"
"$bin" status "$tmp/r" --shards 0 2>/dev/null; [ $? -eq 2 ] && ok || bad "--shards 0"
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

finish

#!/usr/bin/env bash
# The director is an ordinary request of the discussions it directs, so
# it batches with everyone else's and the files do not depend on
# --parallel: the same bytes at 1 and 4, with history_ctx_tokens on too.
# Every comment says who chose its speaker.
#   turns_parallel_test.sh SYNDISCO_BIN TINY_MODEL SOURCE_DIR
set -u
bin=$1 model=$2 src=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/exp.json" <<JSON
{
    "seed": 5,
    "personas_file": "$src/examples/study/personas.json",
    "context": "You are taking part in an online forum discussion.",
    "instructions": "Reply to the others; address them as @username.",
    "num_discussions": 3,
    "num_active_users": 3,
    "num_turns": 3,
    "history_ctx_tokens": 40,
    "turn_manager": {"type": "director", "exclude_last_speaker": true},
    "sampling": {"max_tokens": 6, "temperature": 0.7},
    "backend": {"n_ctx": 1024, "n_threads": 1, "prefix_cache": 0}
}
JSON
fails=0
bad() { echo "FAIL: $1"; fails=$((fails + 1)); }
for p in 1 4; do
	"$bin" run "$tmp/exp.json" --model "$model" --out "$tmp/out-$p" \
		--parallel "$p" --quiet || bad "run --parallel $p"
done
python3 "$src/tests/compare_runs.py" "$tmp/out-1" "$tmp/out-4" ||
	bad "--parallel 1 and 4 differ"
python3 - "$tmp/out-1" <<'PY' || bad "comment_meta"
import glob, json, sys
n = 0
for f in glob.glob(sys.argv[1] + "/**/*.json", recursive=True):
    d = json.load(open(f))
    if "logs" not in d:
        continue
    assert d["history_ctx_tokens"] == 40, f
    for c, m in zip(d["logs"], d["comment_meta"]):
        if m.get("user_prompt") is None:
            continue  # seed opinions
        assert m["chosen_by"] == "director", (f, m)
        assert c["name"] in d["users"], (f, c["name"])
        n += 1
assert n == 9, n
print(f"{n} comments, every speaker chosen by the director")
PY
# a mention manager and bad values, through the command line
cat >"$tmp/bad.json" <<JSON
{"personas": [{"username": "a"}, {"username": "b"}],
 "turn_manager": {"type": "mention", "fallback": "telepathy"}}
JSON
out=$("$bin" discuss "$tmp/bad.json" --model "$model" --quiet 2>&1) && bad "bad fallback accepted"
case $out in *turn_manager.fallback*) ;; *) bad "error does not name the field: $out" ;; esac
[ "$fails" = 0 ] && echo "director: same files at --parallel 1 and 4"

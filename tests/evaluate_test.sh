#!/usr/bin/env bash
# syndisco evaluate end to end on the tiny random-weight model: two judges
# score four discussions on a three-dimension rubric and every reply
# parses (the grammar does the work); resume skips, shards and --parallel
# give the same evaluations, --trace-requests records every request, bad
# configs are errors naming the field and leave nothing behind.
#   evaluate_test.sh SYNDISCO_BIN TINY_MODEL SOURCE_DIR
set -u
bin=$1 model=$2 src=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

cat >"$tmp/exp.json" <<JSON
{
    "seed": 11,
    "personas_file": "$src/examples/study/personas.json",
    "random_usernames": true,
    "instructions": "Take part.",
    "moderator": {"persona": {"username": "moderator"}, "instructions": "Moderate."},
    "num_discussions": 2,
    "num_active_users": 3,
    "num_turns": 3,
    "seed_opinions": ["Should cities ban cars from their centres?"],
    "backend": {"type": "scripted"},
    "conditions": {"mod": [{"name": "nomod", "moderator": null}, {"name": "vanilla"}]}
}
JSON
"$bin" run "$tmp/exp.json" --out "$tmp/run" --quiet || fail "run"
cat >"$tmp/ev.json" <<'JSON'
{
    "seed": 5,
    "context": "You judge online discussions.",
    "backend": {"n_ctx": 2048},
    "rubric": [
        {"name": "tox", "description": "how hostile it is", "range": [1, 5]},
        {"name": "coh", "description": "whether comments follow each other", "range": [0, 10]},
        {"name": "persona", "description": "whether users act their persona", "range": [-3, 3]}
    ],
    "judges": [
        {"name": "strict", "persona": {"username": "judge1", "age": 50}, "instructions": "Be strict."},
        {"name": "lenient", "instructions": "Be lenient.",
         "rubric": [{"name": "tox", "description": "how hostile it is", "range": [1, 100]}]}
    ]
}
JSON
ev() { "$bin" evaluate "$tmp/ev.json" "$tmp/run" --model "$model" --quiet "$@"; }

ev --out "$tmp/run/evaluations" --parallel 4 --trace-requests "$tmp/trace.jsonl" \
	|| fail "evaluate"
python3 - "$tmp/run" "$tmp/trace.jsonl" <<'PY' || fail "evaluations do not parse"
import json, os, sys
run = sys.argv[1]
logs = [json.load(open(os.path.join(run, c, f))) for c in ("nomod", "vanilla")
        for f in sorted(os.listdir(os.path.join(run, c)))]
assert len(logs) == 4
rubrics = {"strict": {"tox": (1, 5), "coh": (0, 10), "persona": (-3, 3)},
           "lenient": {"tox": (1, 100)}}
for judge, rub in rubrics.items():
    for log in logs:
        e = json.load(open(os.path.join(run, "evaluations", judge, log["id"] + ".json")))
        assert e["conv_id"] == log["id"] and e["judge"] == judge and e["cell"] == log["cell"]
        assert e["status"] == "ok" and e["attempts"] == 1, e
        assert list(e["scores"]) == list(rub), e["scores"]
        for k, (lo, hi) in rub.items():
            assert isinstance(e["scores"][k], int) and lo <= e["scores"][k] <= hi, e["scores"]
        # the reply is the grammar's object, exactly
        assert json.loads(e["reply"]) == e["scores"], e["reply"]
        assert [r["name"] for r in e["rubric"]] == list(rub)
        # the judge saw the whole discussion, and its persona and rubric
        assert '"type": "annotator"' in e["judge_prompt"] and "Reply with one JSON object" in e["judge_prompt"]
trace = [json.loads(l) for l in open(sys.argv[2])]
assert len(trace) == 8 and all(t["role"] == "judge" for t in trace), trace[:1]
# every request shows one whole discussion: each of its comments
for log in logs:
    assert sum(all(json.dumps(c["text"])[1:-1] in t["user"] for c in log["logs"]) for t in trace) == 2
PY

# resume: everything is complete
ev --out "$tmp/run/evaluations" --json >"$tmp/again.json" || fail "evaluate again"
python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); assert j["done"]==0 and j["skipped"]==8, j' \
	"$tmp/again.json" || fail "a complete run was not skipped"

# a shard at --parallel 1 gives the same evaluations as the whole run
ev --out "$tmp/sh" --shard 1/2 --parallel 1 || fail "shard 1/2"
python3 - "$tmp/run/evaluations" "$tmp/sh" <<'PY' || fail "shards differ from the whole run"
import json, os, sys
a, b = sys.argv[1], sys.argv[2]
n = 0
for judge in ("strict", "lenient"):
    fa, fb = sorted(os.listdir(os.path.join(a, judge))), sorted(os.listdir(os.path.join(b, judge)))
    assert len(fa) == 4 and len(fb) == 2 and set(fb) <= set(fa), (fa, fb)
    for f in fb:
        x, y = (json.load(open(os.path.join(d, judge, f))) for d in (a, b))
        assert x["scores"] == y["scores"] and x["reply"] == y["reply"], f
        n += 1
assert n == 4
PY

# the run's tools join the evaluations found in the run directory
"$bin" export "$tmp/run" -o "$tmp/rows.csv" -q || fail "export"
head -1 "$tmp/rows.csv" | grep -q "eval_strict_persona" || fail "export has no evaluation columns"
"$bin" stats "$tmp/run" | grep -q "^strict.coh (score)" || fail "stats compares no scores"

# annotate passes the evaluations (and evaluate.json) in the run by
printf '%s' '{"backend": {"type": "scripted", "replies": ["2"]}, "annotators": [{"name": "t", "instructions": "x", "label": {"range": [1, 5]}}]}' >"$tmp/ann.json"
"$bin" annotate "$tmp/ann.json" "$tmp/run" --out "$tmp/ann" -q || fail "annotate of a run with evaluations"
[ "$(ls "$tmp/ann/t" | wc -l)" = 4 ] || fail "annotate took evaluations for logs: $(ls "$tmp/ann/t")"

# a different config is refused in the same OUT
sed 's/"seed": 5/"seed": 6/' "$tmp/ev.json" >"$tmp/ev2.json"
"$bin" evaluate "$tmp/ev2.json" "$tmp/run" --model "$model" --out "$tmp/run/evaluations" -q \
	2>/dev/null && fail "another config's evaluations were mixed in"

# bad configs: an error naming file and field, exit 1, nothing written
bad() { # FIELD JSON
	printf '%s' "$2" >"$tmp/bad.json"
	"$bin" evaluate "$tmp/bad.json" "$tmp/run" --model "$model" --out "$tmp/bad-out" -q \
		2>"$tmp/err"
	rc=$?
	[ $rc = 1 ] || fail "bad config $1: exit $rc"
	grep -qF "bad.json" "$tmp/err" && grep -qF "$1" "$tmp/err" || fail "error does not name $1: $(cat "$tmp/err")"
	[ ! -e "$tmp/bad-out" ] || fail "bad config $1 left $tmp/bad-out"
}
bad judges '{"rubric": [{"name": "a", "range": [1, 2]}]}'
bad rubric '{"judges": [{"name": "j", "instructions": "x"}]}'
bad 'rubric[0].range' '{"rubric": [{"name": "a", "range": [5, 1]}], "judges": [{"name": "j"}]}'
bad 'rubric[1].name' '{"rubric": [{"name": "a", "range": [1, 2]}, {"name": "a", "range": [1, 2]}], "judges": [{"name": "j"}]}'
bad 'rubric[0].name' '{"rubric": [{"name": "a\"b", "range": [1, 2]}], "judges": [{"name": "j"}]}'
bad 'judges[0].rubric[0].description' '{"judges": [{"name": "j", "rubric": [{"name": "a", "range": [1, 2], "description": 1}]}]}'
bad 'judges[1].name' '{"rubric": [{"name": "a", "range": [1, 2]}], "judges": [{"name": "j"}, {"name": "j"}]}'
bad evaluation_prompt '{"evaluation_prompt": "no history", "rubric": [{"name": "a", "range": [1, 2]}], "judges": [{"name": "j"}]}'
echo "PASS"

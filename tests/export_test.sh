#!/usr/bin/env bash
# syndisco export / stats: every field of every row checked against the
# JSON (SynDisco's logs, a hand-made log with hostile text, a scripted run
# of ours), annotation joins in both formats, and bad input.
#   export_test.sh SYNDISCO_BIN SOURCE_DIR
set -u
bin=$1 src=$2
fx=$src/tests/fixtures
. "$src/tests/lib.sh"
check() { python3 "$src/tests/export_check.py" "$@" >"$tmp/check" 2>&1; }

# help
for c in export report stats; do
	"$bin" $c --help | grep -q "usage: syndisco $c" && ok || bad "$c --help"
done
"$bin" --help | grep -q "export DIR" && ok || bad "export in --help"

# --- SynDisco's logs: one row per comment, personas filled ------------------
"$bin" export "$fx/syndisco-logs" -o "$tmp/syn.csv" 2>"$tmp/err" && ok || bad "export syn: $(cat "$tmp/err")"
grep -q "wrote 256 rows (9 discussions, 0 annotators)" "$tmp/err" && ok || bad "summary line: $(cat "$tmp/err")"
check --csv "$tmp/syn.csv" --logs "$fx/syndisco-logs" --expect-annotators &&
	ok || bad "syn csv: $(cat "$tmp/check")"
python3 - "$tmp/syn.csv" "$fx/syndisco-logs" <<'PY' && ok || bad "syn csv counts"
import csv, json, os, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="", encoding="utf-8")))
d = sys.argv[2]
n = sum(len(json.load(open(os.path.join(d, f)))["logs"]) for f in os.listdir(d))
assert len(rows) == n == 256, (len(rows), n)
assert all(r["persona_username"] == r["user"] for r in rows)
assert all(r["persona_age"] and r["persona_sex"] for r in rows)
assert {r["persona_personality_characteristics"] for r in rows} >= {"fair"}
assert sum(r["is_moderator"] == "true" for r in rows) == 105, sum(r["is_moderator"] == "true" for r in rows)
PY
# trolls can be told apart: the instructions column holds each speaker's
# own instructions (from user_prompts / moderator_prompt)
python3 - "$tmp/syn.csv" <<'PY' && ok || bad "syn instructions"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="", encoding="utf-8")))
trolls = [r for r in rows if r["instructions"].startswith("- Pretend you are an online tr")]
assert trolls and len(trolls) < len(rows), len(trolls)
assert all(r["instructions"] for r in rows if r["model"] != "hardcoded")
assert {r["condition"] for r in rows} == {"syndisco-logs"}
PY

# --- SynDisco 2.2.1: logs without id, a time-named annotation file ----------
s2=$fx/syndisco-2.2.1
"$bin" export "$s2/logs" --annotations "$s2/annotations" --format jsonl -o "$tmp/s2.jsonl" \
	2>"$tmp/err" && ok || bad "export 2.2.1: $(cat "$tmp/err")"
grep -q "wrote 21 rows (4 discussions, 1 annotators)" "$tmp/err" && ok || bad "2.2.1 summary: $(cat "$tmp/err")"
check --jsonl "$tmp/s2.jsonl" --logs "$s2/logs" --annotations "$s2/annotations" \
	--expect-annotators toxicity --expect-joined 9 && ok || bad "2.2.1 jsonl: $(cat "$tmp/check")"
"$bin" export "$s2/logs" --annotations "$s2/annotations" -o "$tmp/s2.csv" 2>/dev/null &&
	check --csv "$tmp/s2.csv" --logs "$s2/logs" --annotations "$s2/annotations" --expect-joined 9 &&
	ok || bad "2.2.1 csv: $(cat "$tmp/check")"
# the logs themselves under --annotations are not annotations; a 2.2.1
# file whose prompts were emptied (Logs.from_file) still is one there
"$bin" export "$s2/logs" --annotations "$s2" --format jsonl -q | python3 -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin]
assert [k for k in rows[0] if k.endswith("_annotation")] == ["toxicity_annotation"], rows[0].keys()
assert sum(r["toxicity_annotation"] is not None for r in rows) == 9' && ok || bad "logs under --annotations"
mkdir -p "$tmp/noprompt/tox2"
python3 - "$s2"/annotations/toxicity/*.json "$tmp/noprompt/tox2/a.json" <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))
for e in a["logs"]:
    e["prompt"] = ""
json.dump(a, open(sys.argv[2], "w"), indent=4)
PY
"$bin" export "$s2/logs" --annotations "$tmp/noprompt" --format jsonl -q | python3 -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin]
assert sum(r["tox2_annotation"] is not None for r in rows) == 9' && ok || bad "2.2.1 annotations without prompts"

# our annotation files in the 2.2.1 shape: entries with a message_id hold
# the annotation as "text"
mkdir -p "$tmp/ours221/tox3"
python3 - "$tmp/s2.jsonl" "$tmp/ours221/tox3/x.json" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])][:5]
logs = [{"name": r["user"], "text": str(i), "model": "m", "prompt": "",
         "message_id": r["message_id"]} for i, r in enumerate(rows)]
json.dump({"timestamp": "t", "logs": logs, "conv_id": rows[0]["conv_id"]},
          open(sys.argv[2], "w"), indent=4)
PY
"$bin" export "$s2/logs" --annotations "$tmp/ours221" --format jsonl -q | python3 -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin]
assert [r["tox3_annotation"] for r in rows[:6]] == ["0", "1", "2", "3", "4", None], rows[:6]' \
	&& ok || bad "2.2.1-shaped annotations with message ids"

# ids are derived from the content: the same after moving the files
mkdir -p "$tmp/moved/x/y" && cp "$s2"/logs/*.json "$tmp/moved/x/y/"
"$bin" export "$tmp/moved" --format jsonl -q | python3 -c '
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in sys.stdin]
assert [r["conv_id"] for r in a] == [r["conv_id"] for r in b]
assert [r["message_id"] for r in a] == [r["message_id"] for r in b]
assert all(r["conv_id"].startswith("sd-") for r in b)
assert {r["condition"] for r in b} == {"y"}' "$tmp/s2.jsonl" && ok || bad "derived ids moved"
# two discussions with the same speakers in the same order: the annotation
# file cannot be matched by speakers alone and is skipped with a warning,
# unless it bears one log's file name
mkdir -p "$tmp/twin/logs" "$tmp/twin/ann/tox"
cp "$s2/logs/tricky_replies.json" "$tmp/twin/logs/a.json"
sed 's/26-07-07-12-01/26-07-07-13-01/' "$s2/logs/tricky_replies.json" >"$tmp/twin/logs/b.json"
cp "$s2"/annotations/toxicity/*.json "$tmp/twin/ann/tox/"
"$bin" export "$tmp/twin/logs" --annotations "$tmp/twin/ann" -o "$tmp/twin.csv" 2>"$tmp/err" && ok || bad "twin export"
grep -q "2 loaded discussions have these speakers" "$tmp/err" && ok || bad "twin warning: $(cat "$tmp/err")"
mv "$tmp"/twin/ann/tox/*.json "$tmp/twin/ann/tox/b.json"
"$bin" export "$tmp/twin/logs" --annotations "$tmp/twin/ann" --format jsonl -q | python3 -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin]
got = [r["tox_annotation"] is not None for r in rows]
assert got == [False] * 9 + [True] * 9, got' && ok || bad "twin by file name"

# stdout and -o give the same bytes
"$bin" export "$fx/syndisco-logs" -q >"$tmp/stdout.csv" && cmp -s "$tmp/stdout.csv" "$tmp/syn.csv" &&
	ok || bad "stdout differs from -o"

# --- hostile text, both annotation formats, CSV and JSONL --------------------
logs=("$fx/syndisco-logs" "$fx/export/logs")
ann=("$fx/export/annotations")
for f in csv jsonl; do
	"$bin" export "${logs[@]}" --annotations "${ann[@]}" --format $f -o "$tmp/all.$f" \
		2>"$tmp/err" && ok || bad "export all $f: $(cat "$tmp/err")"
	# 36 toxicity (ours, ids) + 21 argument_quality (SynDisco pairs)
	check --$f "$tmp/all.$f" --logs "${logs[@]}" --annotations "${ann[@]}" \
		--expect-annotators argument_quality toxicity --expect-joined 57 &&
		ok || bad "all $f: $(cat "$tmp/check")"
done
grep -q "warning: .*tox-v2/7e1c0a52.*1 annotation(s) match no comment" "$tmp/err" &&
	ok || bad "unmatched annotation warning: $(cat "$tmp/err")"
# the pair walk: each pair goes to the next comment with the same text
python3 - "$tmp/all.csv" <<'PY' && ok || bad "pair join"
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1], newline="", encoding="utf-8"))
        if r["conv_id"].startswith("7e1c0a52")]
got = {int(r["message_order"]): r["argument_quality_annotation"] for r in rows
       if r["argument_quality_annotation"]}
assert got == {0: "1", 4: "2", 5: "3", 11: "4"}, got
lab = {int(r["message_order"]): r["toxicity_label"] for r in rows}
assert lab[0] == "0.5" and lab[1] == "3" and lab[2] == "high" and lab[3] == "", lab
t = rows[1]["text"]
assert t == 'She said "no", then left.\r\nNew line\rlone CR\nLF', repr(t)
assert rows[3]["text"] == "ελληνικά 🎉 中文 — émigré"
assert rows[0]["cell"] == 'tricky,cell "q"' and rows[0]["seed"] == "18446744073709"
assert rows[1]["persona_personality_characteristics"] == "curious; blunt; direct; 7; true"
assert rows[1]["persona_details"] == '{"city":"Αθήνα","pets":2}'
assert rows[8]["persona_username"] == ""  # a speaker with no persona
PY

# --- a run of ours: cells, indices, seeds, stable message ids ----------------
cat >"$tmp/exp.json" <<JSON
{
    "seed": 5,
    "personas_file": "$src/examples/study/personas.json",
    "instructions": "Take part.",
    "num_discussions": 3,
    "num_active_users": 3,
    "num_turns": 4,
    "seed_opinions": ["Opening, with \"quotes\"."],
    "backend": {"type": "scripted"},
    "conditions": {
        "mod": [{"name": "nomod", "moderator": null},
                {"name": "mod", "moderator": {"persona": {"username": "mod", "age": 50}, "instructions": "Moderate."}}]
    }
}
JSON
"$bin" run "$tmp/exp.json" --out "$tmp/run" --quiet && ok || bad "run"
"$bin" export "$tmp/run" --format jsonl -o "$tmp/run.jsonl" -q && ok || bad "export run"
check --jsonl "$tmp/run.jsonl" --logs "$tmp/run" && ok || bad "run jsonl: $(cat "$tmp/check")"
python3 - "$tmp/run.jsonl" <<'PY' && ok || bad "run rows"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
assert {r["cell"] for r in rows} == {"nomod", "mod"}
assert {r["discussion_index"] for r in rows} == {0, 1, 2}
assert all(isinstance(r["seed"], int) for r in rows)
assert any(r["is_moderator"] and r["persona_age"] == "50" for r in rows)
# 3 discussions x (1 seed + 4 turns) + moderator after each user turn
assert len(rows) == 3 * 5 + 3 * 9, len(rows)
PY
# message ids do not depend on the run's random ids: re-run, same ids
"$bin" run "$tmp/exp.json" --out "$tmp/run2" --quiet && ok || bad "run 2"
"$bin" export "$tmp/run2" --format jsonl -q >"$tmp/run2.jsonl" && ok || bad "export run 2"
python3 - "$tmp/run.jsonl" "$tmp/run2.jsonl" <<'PY' && ok || bad "stable message ids"
import json, sys
a, b = ([json.loads(l) for l in open(p)] for p in sys.argv[1:3])
assert [r["conv_id"] for r in a] != [r["conv_id"] for r in b]
assert [r["message_id"] for r in a] == [r["message_id"] for r in b]
PY

# --- our own annotation files (SynDisco's layout + annotation_meta) join ----
cat >"$tmp/ann.json" <<JSON
{"discussions": "$tmp/run/nomod", "backend": {"type": "scripted", "replies": ["3", " 4 "]},
 "annotators": [{"name": "tox", "instructions": "Rate."}]}
JSON
"$bin" annotate "$tmp/ann.json" --out "$tmp/ann-out" --quiet && ok || bad "annotate run"
"$bin" export "$tmp/run/nomod" --annotations "$tmp/ann-out" --format jsonl -q >"$tmp/ann.jsonl" &&
	ok || bad "export with our annotations"
python3 - "$tmp/ann.jsonl" <<'PY' && ok || bad "our annotations joined"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
assert rows and all(r["tox_annotation"] in ("3", "4") for r in rows), rows[:2]
PY

# --- stats: expected counts from run.json, silent turns, missing files -------
"$bin" stats "$tmp/run" >"$tmp/stats" && ok || bad "stats"
grep -Eq '^all +6/6 +42 ' "$tmp/stats" && ok || bad "stats all: $(cat "$tmp/stats")"
# an empty reply is not logged: drop one user comment, and one discussion
python3 - "$tmp/run/mod/1.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
# our per-comment fields sit in comment_meta, parallel to SynDisco's logs
i = next(k for k, c in enumerate(d["logs"]) if c["model"] != "hardcoded" and not d["comment_meta"][k]["is_moderator"])
del d["logs"][i]
del d["comment_meta"][i]
json.dump(d, open(sys.argv[1], "w"))
PY
rm "$tmp/run/nomod/2.json"
"$bin" stats "$tmp/run" --json >"$tmp/stats.json" && ok || bad "stats --json"
python3 - "$tmp/stats.json" <<'PY' && ok || bad "stats numbers: $(cat "$tmp/stats.json")"
import json, sys
s = {o["cell"]: o for o in map(json.loads, open(sys.argv[1]))}
assert s["mod"]["silent_turns"] == 1 and s["mod"]["discussions"] == 3, s["mod"]
assert s["nomod"]["discussions"] == 2 and s["nomod"]["expected"] == 3, s["nomod"]
assert s["nomod"]["moderator_per_discussion"] == 0
assert s["mod"]["seed_comments"] == 3
PY
# a cell with every discussion missing still shows, with what it lacks
mkdir -p "$tmp/gone" && cp -r "$tmp/run/run.json" "$tmp/run/mod" "$tmp/gone/"
"$bin" stats "$tmp/gone" >"$tmp/stats" && grep -Eq '^nomod +0/3 +0 .* 3$' "$tmp/stats" &&
	grep -Eq '^all +3/6 ' "$tmp/stats" && ok || bad "stats of a missing cell: $(cat "$tmp/stats")"
"$bin" stats "$fx/syndisco-logs" >"$tmp/stats" && grep -Eq '^\(no cell\) +9 +256 ' "$tmp/stats" &&
	ok || bad "stats syndisco: $(cat "$tmp/stats")"

# --- the report without a browser: nothing in the data can end the script
"$bin" report "$fx/export/logs" --annotations "$fx/export/annotations" -q \
	--title '</script><b>x</b>' -o "$tmp/r.html" && ok || bad "report"
python3 - "$tmp/r.html" <<'PY' && ok || bad "report escaping"
import json, re, sys
h = open(sys.argv[1], encoding="utf-8").read()
# the data, the browser, the comparisons' drawing and their data (numeric
# labels here): no other script element
assert h.count("</script") == 3 + ('id="sd-compare"' in h), h.count("</script")
assert 'id="sd-compare"' in h
assert h.count("<!--") == 1                              # the template's comment
assert "<title>&lt;/script&gt;&lt;b&gt;x&lt;/b&gt;</title>" in h
m = re.search(r'<script type="application/json" id="sd-data">(.*?)</script>', h, re.S)
data = json.loads(m.group(1))
d = data["discussions"][0]
assert d["comments"][2]["t"] == "</script><script>alert('x')</script> <!-- keep it civil -->"
assert len(d["comments"]) == 12 and data["annotators"] == ["argument_quality", "toxicity"]
assert not re.search(r'(src|href)=["\']?(https?:)?//', h), "external reference"
PY

# --- bad input: clear error naming the culprit, non-zero, no output ---------
# expect_fail (tests/lib.sh) appends -o OUT: nothing there, nothing on stdout
expect_out=(-o "$tmp/out.csv")
expect_quiet=1
mkdir -p "$tmp/bad1" "$tmp/bad2" "$tmp/bad3" "$tmp/bad4"
cp "$fx/syndisco-logs/qwen7b_vanilla_26-02-11-00-54-33.json" "$tmp/bad1/"
echo '[{"username": "a"}]' >"$tmp/bad1/personas.json"
expect_fail "non-log json in dir" "bad1/personas.json: not a discussion log" 1 \
	"$bin" export "$tmp/bad1"
printf '{"logs": [' >"$tmp/bad2/broken.json"
expect_fail "malformed json" "bad2/broken.json:1:" 1 "$bin" export "$tmp/bad2"
echo "hello" >"$tmp/notes.txt"
expect_fail "explicit non-log file" "notes.txt" 1 "$bin" export "$tmp/notes.txt"
ln -s "$tmp/nowhere.json" "$tmp/bad3/dangling.json"
expect_fail "unreadable file" "bad3/dangling.json" 1 "$bin" export "$tmp/bad3"
if [ "$(id -u)" != 0 ]; then
	cp "$fx/syndisco-logs/qwen7b_vanilla_26-02-11-00-54-33.json" "$tmp/bad4/locked.json"
	chmod 000 "$tmp/bad4/locked.json"
	expect_fail "permission denied" "locked.json: cannot open" 1 "$bin" export "$tmp/bad4"
fi
expect_fail "missing dir" "$tmp/nope" 1 "$bin" export "$tmp/nope"
expect_fail "empty dir" "no discussion logs found" 1 "$bin" export "$tmp/bad4" "$tmp/bad4"
expect_fail "unknown format" "--format: unknown format 'xlsx'" 2 \
	"$bin" export "$fx/syndisco-logs" --format xlsx
expect_fail "unknown option" "unknown option '--frobnicate'" 2 \
	"$bin" export "$fx/syndisco-logs" --frobnicate
expect_fail "annotation file as a log" "an annotation file, not a discussion log" 1 \
	"$bin" export "$fx/export/annotations/tox-v2/7e1c0a52-0000-4000-8000-tricky000001.json"
mkdir -p "$tmp/badann/tox"
echo '{"conv_id": "x", "logs": [42]}' >"$tmp/badann/tox/x.json"
expect_fail "malformed annotation" "badann/tox/x.json: logs[0]" 1 \
	"$bin" export "$fx/syndisco-logs" --annotations "$tmp/badann"
expect_fail "report on bad input" "bad1/personas.json" 1 "$bin" report "$tmp/bad1"
# a directory run.json and annotations inside a log directory are skipped
mkdir -p "$tmp/mixed/annotations"
cp "$tmp/run/run.json" "$fx/export/logs/tricky.json" "$tmp/mixed/"
cp -r "$fx/export/annotations/tox-v2" "$tmp/mixed/annotations/"
"$bin" export "$tmp/mixed" -q -o "$tmp/mixed.csv" && check --csv "$tmp/mixed.csv" --logs "$tmp/mixed" &&
	ok || bad "skip run.json and annotations: $(cat "$tmp/check")"
# a failed write leaves nothing (a directory where the file should go)
mkdir "$tmp/isdir"
"$bin" export "$fx/syndisco-logs" -o "$tmp/isdir" 2>"$tmp/stderr"
[ $? -eq 1 ] && grep -q "isdir" "$tmp/stderr" && ! ls "$tmp"/isdir.tmp.* >/dev/null 2>&1 &&
	ok || bad "write over a directory: $(cat "$tmp/stderr")"
ls "$tmp"/*.tmp.* >/dev/null 2>&1 && bad "temp files left" || ok

finish

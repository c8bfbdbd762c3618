#!/usr/bin/env bash
# Every discussion log and annotation file of every SynDisco version loads
# in export, stats, report and annotate: the shared conformance cases
# (seed, 2.0.8, 2.2.1: each case's log_file_text, annotation_file_text and
# the discussion files its annotation cases read) and the real logs of the
# authors' experiments. `syndisco export` has one row per comment.
#   syndisco_versions_test.sh SYNDISCO_BIN SOURCE_DIR [CONFORMANCE_DIR]
set -u
bin=$1 src=$2 conf=${3:-}
. "$src/tests/lib.sh"
fx=$src/tests/fixtures

# the cases: the shared ones when this machine has them, else our copies
if [ -n "$conf" ] && [ -d "$conf/fixtures" ]; then
	cases=$conf/fixtures
else
	cases=$fx/conformance
fi
python3 - "$cases" "$tmp/cases" <<'PY' || fail "extracting the cases"
import json, os, sys
src, out = sys.argv[1], sys.argv[2]
n = 0
for version in sorted(os.listdir(src)):
    for f in sorted(os.listdir(os.path.join(src, version))):
        case = json.load(open(os.path.join(src, version, f), encoding="utf-8"))
        name, exp, inp = case["case"], case["expected"], case["input"]
        def put(kind, text):
            d = os.path.join(out, version, kind)
            os.makedirs(d, exist_ok=True)
            open(os.path.join(d, name + ".json"), "w", encoding="utf-8").write(text)
        if "log_file_text" in exp:
            put("logs", exp["log_file_text"]); n += 1
        if "annotation_file_text" in exp:
            put("annotations", exp["annotation_file_text"]); n += 1
        for k in ("conv_log_file_text", "discussion_log_file_text"):
            if k in inp:
                put("annotated", inp[k]); n += 1
        if "discussion_log_entries" in inp:
            # a Logs() built in memory: the file 2.2.1 would have written
            logs = [dict({"model": "hardcoded", "prompt": ""}, **e)
                    for e in inp["discussion_log_entries"]]
            put("annotated", json.dumps({"timestamp": "<timestamp>", "logs": logs},
                                        indent=4)); n += 1
print(f"{n} files from {src}")
PY

# comments per discussion file, and annotations per annotation file
count() { python3 -c 'import json,sys; print(sum(len(json.load(open(f, encoding="utf-8"))["logs"]) for f in sys.argv[1:]))' "$@"; }

# export rows = comments, in CSV and JSON lines; stats and report agree
check_logs() { # DIR... (every *.json under them is a discussion log)
	local want got files
	files=$(find "$@" -name '*.json' | sort)
	want=$(count $files)
	"$bin" export "$@" -o "$tmp/x.csv" 2>"$tmp/err" || fail "export $*: $(cat "$tmp/err")"
	got=$(python3 -c 'import csv,sys; print(len(list(csv.DictReader(open(sys.argv[1], newline="", encoding="utf-8")))))' "$tmp/x.csv")
	[ "$got" = "$want" ] || fail "export $*: $got CSV rows for $want comments"
	"$bin" export "$@" --format jsonl -o "$tmp/x.jsonl" 2>"$tmp/err" || fail "export --format jsonl $*"
	got=$(wc -l <"$tmp/x.jsonl")
	[ "$got" = "$want" ] || fail "export --format jsonl $*: $got rows for $want comments"
	"$bin" stats "$@" --json >"$tmp/stats" 2>"$tmp/err" || fail "stats $*: $(cat "$tmp/err")"
	got=$(python3 -c 'import json,sys; print([json.loads(l) for l in open(sys.argv[1])][-1]["comments"])' "$tmp/stats")
	[ "$got" = "$want" ] || fail "stats $*: $got comments for $want"
	"$bin" report "$@" -o "$tmp/r.html" 2>"$tmp/err" || fail "report $*: $(cat "$tmp/err")"
	echo "ok: $want comments in $(echo "$files" | wc -l) logs: $*"
}

for v in "$tmp"/cases/*/; do
	check_logs "$v/logs"
	check_logs "$v/annotated"
done
check_logs "$fx/syndisco-logs"

# annotation files of every version join to their discussions: each
# annotation of the case's file lands on a comment
for v in "$tmp"/cases/*/; do
	want=$(count "$v"/annotations/*.json)
	"$bin" export "$v/annotated" --annotations "$v/annotations" --format jsonl \
		-o "$tmp/a.jsonl" 2>"$tmp/err" || fail "export with annotations $v: $(cat "$tmp/err")"
	got=$(python3 -c '
import json, sys
n = 0
for l in open(sys.argv[1], encoding="utf-8"):
    r = json.loads(l)
    n += r.get("annotations_annotation") is not None
print(n)' "$tmp/a.jsonl")
	[ "$got" = "$want" ] || fail "$v: $got of $want annotations joined: $(cat "$tmp/err")"
	# a directory holding both logs and annotations: annotations are passed by
	mkdir -p "$tmp/mixed"
	cp "$v"/annotated/*.json "$tmp/mixed/"
	for f in "$v"/annotations/*.json; do cp "$f" "$tmp/mixed/ann-$(basename "$f")"; done
	"$bin" export "$tmp/mixed" -o "$tmp/m.csv" 2>"$tmp/err" || fail "mixed directory $v: $(cat "$tmp/err")"
	got=$(python3 -c 'import csv,sys; print(len(list(csv.DictReader(open(sys.argv[1], newline="", encoding="utf-8")))))' "$tmp/m.csv")
	[ "$got" = "$(count "$v"/annotated/*.json)" ] || fail "mixed directory $v: $got rows"
	rm -rf "$tmp/mixed"
	echo "ok: $want annotations joined: $v"
done

# annotate (scripted backend: no model) reads every version's logs, and
# passes by annotation files lying among them
cat >"$tmp/ann.json" <<JSON
{"seed": 1, "history_ctx_len": 2, "backend": {"type": "scripted"},
 "annotators": [{"name": "echo", "instructions": "Rate it."}]}
JSON
for d in "$tmp"/cases/*/logs "$tmp"/cases/*/annotated "$fx/syndisco-logs"; do
	rm -rf "$tmp/in" "$tmp/out"
	mkdir "$tmp/in"
	# the cases share the id "<id>": one directory per file
	i=0
	for f in "$d"/*.json; do
		i=$((i + 1))
		mkdir "$tmp/in/$i"
		cp "$f" "$tmp/in/$i/"
	done
	for f in "$tmp"/cases/*/annotations/*.json; do cp "$f" "$tmp/in/1/ann-$(basename "$f")"; done
	n=0
	for sub in "$tmp"/in/*/; do
		"$bin" annotate "$tmp/ann.json" "$sub" --out "$tmp/out/$n" --quiet 2>"$tmp/err" \
			|| fail "annotate $sub ($d): $(cat "$tmp/err")"
		python3 - "$sub" "$tmp/out/$n/echo" <<'PY' || fail "annotate $sub ($d)"
import json, os, sys
logs = [f for f in os.listdir(sys.argv[1]) if not f.startswith("ann-")]
outs = os.listdir(sys.argv[2])
assert len(outs) == len(logs) == 1, (logs, outs)
d = json.load(open(os.path.join(sys.argv[1], logs[0]), encoding="utf-8"))
a = json.load(open(os.path.join(sys.argv[2], outs[0]), encoding="utf-8"))
assert len(a["logs"]) == len(d["logs"]), (len(a["logs"]), len(d["logs"]))
# SynDisco 2.2.1's layout (the default profile): entry i annotates comment i
assert [e["name"] for e in a["logs"]] == [c["name"] for c in d["logs"]]
assert [m["message_order"] for m in a["annotation_meta"]] == list(range(len(d["logs"])))
if not d.get("id"):
    assert a["conv_id"].startswith("sd-") and len(a["conv_id"]) == 35, a["conv_id"]
PY
		# and the annotations it wrote join back in export
		"$bin" export "$sub" --annotations "$tmp/out/$n" --format jsonl -o "$tmp/j.jsonl" 2>"$tmp/err" \
			|| fail "export of annotate's output ($sub): $(cat "$tmp/err")"
		python3 -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
assert all(r["echo_annotation"] is not None for r in rows), "unjoined"' "$tmp/j.jsonl" \
			|| fail "annotate's output does not join ($sub)"
		n=$((n + 1))
	done
	echo "ok: annotate over $n logs of $d"
done
# an annotation file named as a discussion to annotate is refused, clearly
for f in "$tmp"/cases/*/annotations/*.json; do
	"$bin" annotate "$tmp/ann.json" "$f" --out "$tmp/refused" --quiet 2>"$tmp/err" \
		&& fail "annotate took the annotation file $f"
	grep -q "an annotation file, not a discussion log" "$tmp/err" || fail "unclear refusal: $(cat "$tmp/err")"
done
echo "ok: annotation files named as discussions are refused"
echo "all SynDisco versions load"

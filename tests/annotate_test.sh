#!/usr/bin/env bash
# syndisco annotate end to end on the tiny model: SynDisco's own logs, two
# annotators, labels that must all parse although the weights are random
# (the grammar does the work), resume, shards, and bad input.
#   annotate_test.sh SYNDISCO_BIN TINY_MODEL SOURCE_DIR
set -u
bin=$1 model=$2 src=$3
. "$src/tests/lib.sh"
# three of SynDisco's logs, of three kinds: with a moderator (excluded
# from annotation here), without one, and without seed opinions; the
# other six add time (every comment is annotated twice, twice over) but
# no case
logs=$tmp/logs
mkdir -p "$logs"
for f in llama70b_constructive_communications_26-02-09-19-01-51 llama8b_nomod_26-02-11-13-25-21 \
	llama8b_vanilla_noseeds_26-02-17-01-17-53; do
	cp "$src/tests/fixtures/syndisco-logs/$f.json" "$logs/" || fail "no fixture $f"
done

cat >"$tmp/ann.json" <<JSON
{
    "seed": 7,
    "discussions": "$logs",
    "history_ctx_len": 2,
    "include_moderator": false,
    "context": "You are annotating comments of an online discussion.",
    "sampling": {"max_tokens": 12},
    "backend": {"n_ctx": 1024},
    "annotators": [
        {"name": "toxicity", "persona": {"username": "ann1", "age": 30},
         "instructions": "Rate the toxicity of the last comment from 1 to 5. Answer with the number only.",
         "label": {"range": [1, 5]}},
        {"name": "quality", "instructions": "Is the last comment a good argument?",
         "label": {"values": ["good", "bad"], "json": true}}
    ]
}
JSON
ann() { "$bin" annotate "$tmp/ann.json" --model "$model" --quiet "$@"; }

ann --out "$tmp/full" --parallel 8 || fail "annotate"
python3 - "$logs" "$tmp/full" <<'PY' || fail "annotations do not match the logs"
import json, os, sys
logs, out = sys.argv[1], sys.argv[2]
n_files = 0
for f in sorted(os.listdir(logs)):
    d = json.load(open(os.path.join(logs, f), encoding="utf-8"))
    mod = d.get("moderator")
    want = [c for c in d["logs"] if c["name"] != mod]
    for ann in ("toxicity", "quality"):
        a = json.load(open(os.path.join(out, ann, d["id"] + ".json"), encoding="utf-8"))
        n_files += 1
        assert a["conv_id"] == d["id"] and a["ctx_length"] == 2, f
        # 2.2.1's file (the default profile): logs[{name, text: the
        # annotation, model, prompt}]; labels in our annotation_meta
        assert len(a["logs"]) == len(want), (f, len(a["logs"]), len(want))
        assert len(a["annotation_meta"]) == len(want), f
        for got, m, c in zip(a["logs"], a["annotation_meta"], want):
            assert list(got) == ["name", "text", "model", "prompt"], got
            assert got["name"] == c["name"] and m["name"] == c["name"], f
            assert '"type": "annotator"' in got["prompt"], got
            assert not m["is_moderator"]
            assert m["label_status"] == "ok", (f, ann, got["text"])
            if ann == "toxicity":
                assert m["label"] in (1, 2, 3, 4, 5), m
                assert got["text"] == str(m["label"]), got
            else:
                assert m["label"] in ("good", "bad"), m
                assert json.loads(got["text"]) == {"label": m["label"]}, got
assert n_files == 2 * len(os.listdir(logs)), n_files
print(f"{n_files} annotation files, every label parses")
PY

# a second run has nothing to do, and it removes the temps of this host's
# dead writers (not another host's: see run_test.sh)
host=$(uname -n | tr -c 'A-Za-z0-9\n-' '_')
touch "$tmp/full/toxicity/x.json.tmp.$host.999999.0badf00d"
touch "$tmp/full/quality/y.json.tmp.other-host.999999.0badf00d"
sum=$(ann --out "$tmp/full" --json) || fail "resume"
[ ! -e "$tmp/full/toxicity/x.json.tmp.$host.999999.0badf00d" ] || fail "a dead writer's temp was left"
[ -e "$tmp/full/quality/y.json.tmp.other-host.999999.0badf00d" ] || fail "another host's temp was removed"
rm "$tmp/full/quality/y.json.tmp.other-host.999999.0badf00d"
python3 -c "import json,sys; d=json.loads(sys.argv[1]); assert d['done']==0 and d['skipped']==d['total']==6, d" "$sum" \
	|| fail "resume re-ran work: $sum"

# a changed config is refused on resume, and nothing is written
sed 's/"seed": 7/"seed": 8/' "$tmp/ann.json" >"$tmp/ann8.json"
before=$(find "$tmp/full" -type f | sort | xargs cat | md5sum)
out=$("$bin" annotate "$tmp/ann8.json" --model "$model" --out "$tmp/full" --quiet 2>&1) \
	&& fail "a changed config was not refused"
echo "$out" | grep -q "holds annotations of a different config" || fail "unclear refusal: $out"
[ "$before" = "$(find "$tmp/full" -type f | sort | xargs cat | md5sum)" ] \
	|| fail "a refused run changed files"

# shards together equal the whole, and --parallel does not change labels
ann --out "$tmp/sharded" --parallel 3 --shard 0/2 || fail "shard 0/2"
ann --out "$tmp/sharded" --parallel 3 --shard 1/2 || fail "shard 1/2"
python3 - "$tmp/full" "$tmp/sharded" <<'PY' || fail "shards differ from the whole"
import json, os, sys
def load(d):
    out = {}
    for ann in ("toxicity", "quality"):
        for f in os.listdir(os.path.join(d, ann)):
            a = json.load(open(os.path.join(d, ann, f)))
            a.pop("timestamp")
            out[(ann, f)] = a
    return out
a, b = load(sys.argv[1]), load(sys.argv[2])
assert a.keys() == b.keys(), (len(a), len(b))
for k in a:
    assert a[k] == b[k], k
print(f"{len(a)} files identical across shards and parallelism")
PY

# an annotator without "sampling" decodes with config.md's defaults
# (greedy, as SynDisco): the same annotations as with them written out
mkdir -p "$tmp/one"
cp "$(ls "$logs"/*.json | head -n 1)" "$tmp/one/"
for kind in implicit explicit; do
	if [ $kind = implicit ]; then samp=''; else
		samp='"sampling": {"max_tokens": 64, "temperature": 0, "top_p": 0.95, "top_k": 40, "min_p": 0.05, "repeat_penalty": 1.1, "repeat_last_n": 64},'
	fi
	cat >"$tmp/$kind.json" <<JSON
{"seed": 5, "discussions": "$tmp/one", "context": "Annotate.", $samp
 "backend": {"n_ctx": 1024},
 "annotators": [{"name": "free", "instructions": "Say something about the last comment."}]}
JSON
	"$bin" annotate "$tmp/$kind.json" --model "$model" --out "$tmp/out-$kind" --quiet \
		|| fail "annotate $kind sampling"
done
python3 - "$tmp/out-implicit/free" "$tmp/out-explicit/free" <<'PY' || fail "annotators do not sample with the default settings"
import json, os, sys
a, b = sys.argv[1], sys.argv[2]
(f,) = os.listdir(a)
x = [c["text"] for c in json.load(open(os.path.join(a, f)))["logs"]]
y = [c["text"] for c in json.load(open(os.path.join(b, f)))["logs"]]
assert x == y, (x[:2], y[:2])
print(f"{len(x)} annotations identical with the defaults written out")
PY

# annotators with different backend configs run on their own models
# (grouped by config); annotator_model says which answered
cat >"$tmp/two.json" <<JSON
{"seed": 5, "discussions": "$tmp/one", "context": "Annotate.", "sampling": {"max_tokens": 4},
 "backend": {"n_ctx": 1024},
 "annotators": [
   {"name": "a1", "instructions": "Rate it.", "backend": {"n_ctx": 1024, "model_name": "tinyA"}},
   {"name": "b1", "instructions": "Rate it.", "backend": {"n_ctx": 1024, "model_name": "tinyB"}},
   {"name": "a2", "instructions": "Rate it.", "backend": {"n_ctx": 1024, "model_name": "tinyA"}}]}
JSON
"$bin" annotate "$tmp/two.json" --model "$model" --out "$tmp/out-two" --quiet || fail "annotate two backends"
for x in a1:tinyA b1:tinyB a2:tinyA; do
	f=$(ls "$tmp/out-two/${x%%:*}"/*.json)
	python3 -c "import json,sys; m=json.load(open(sys.argv[1]))['annotator_model']; assert m==sys.argv[2], m" \
		"$f" "${x#*:}" || fail "annotator ${x%%:*} did not run on ${x#*:}"
done

# bad input: a clear error naming the file and field, no output
# (expect_fail of tests/lib.sh appends expect_out; OUT comes last)
expect_out=(--model "$model" --quiet --out "$tmp/bad")
mkdir -p "$tmp/notlog"
echo '{"hello": "world"}' >"$tmp/notlog/x.json"
expect_fail not_a_log "notlog/x.json: logs" any "$bin" annotate "$tmp/ann.json" "$tmp/notlog"
python3 - "$tmp/ann.json" "$tmp" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
d = json.loads(json.dumps(c)); del d["annotators"][1]["instructions"]
json.dump(d, open(sys.argv[2] + "/noinstr.json", "w"))
d = json.loads(json.dumps(c)); d["annotators"][0]["label"] = {"grammar": "root ::= (\"1\" | "}
json.dump(d, open(sys.argv[2] + "/badgrammar.json", "w"))
d = json.loads(json.dumps(c)); d["annotators"][0]["label"] = {"range": [5, 1]}
json.dump(d, open(sys.argv[2] + "/badrange.json", "w"))
PY
expect_fail no_instructions "noinstr.json: annotators[1].instructions: missing" any "$bin" annotate "$tmp/noinstr.json"
expect_fail bad_grammar "badgrammar.json: annotators[0].label.grammar: the grammar does not parse" any "$bin" annotate "$tmp/badgrammar.json"
expect_fail bad_range "badrange.json: annotators[0].label.range" any "$bin" annotate "$tmp/badrange.json"
finish

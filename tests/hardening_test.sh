#!/usr/bin/env bash
# Issue 13 (hardening), one section per item: what an adversarial user
# found, run as a normal test so that it stays fixed.
#   hardening_test.sh SYNDISCO_BIN TINY_MODEL SOURCE_DIR
set -u
bin=$1 model=$(realpath "$2") src=$3
. "$src/tests/lib.sh"
logs=$src/tests/fixtures/syndisco-logs

exp_cfg() { # FILE INSTRUCTIONS [extra fields]
	cat >"$1" <<JSON
{
    "seed": 3,
    "personas": [{"username": "a"}, {"username": "b"}, {"username": "c"}],
    "instructions": "$2",
    "num_discussions": 6,
    "num_active_users": 2,
    "num_turns": 2,
    "backend": {"type": "scripted"} ${3:-}
}
JSON
}
digests() { # DIR/CELL: the config digests its logs record, sorted, unique
	python3 - "$1" <<'PY'
import json, os, sys
d = sys.argv[1]
print(" ".join(sorted({json.load(open(os.path.join(d, f)))["config_digest"]
                       for f in os.listdir(d) if f.endswith(".json")})))
PY
}
manifest_digest() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["config_digest"])' "$1"; }

# ---- 3. two configs, one directory ---------------------------------------
echo "[${SECONDS}s] item 3"
exp_cfg "$tmp/A.json" "Config A."
exp_cfg "$tmp/B.json" "Config B."
# started together on one new directory: exactly one may run
for k in 1 2 3; do
	"$bin" run "$tmp/A.json" --out "$tmp/race$k" --quiet 2>/dev/null & pa=$!
	"$bin" run "$tmp/B.json" --out "$tmp/race$k" --quiet 2>/dev/null & pb=$!
	wait $pa; ra=$?; wait $pb; rb=$?
	if [ $ra = 0 ] && [ $rb = 0 ]; then bad "3: race $k: both configs ran into one directory"; break; fi
	[ ! -d "$tmp/race$k/default" ] || [ "$(digests "$tmp/race$k/default" | wc -w)" -le 1 ] || { bad "3: race $k: mixed logs"; break; }
done
ok
# the outcome of such a race: run.json of B over logs of A; B must redo them
"$bin" run "$tmp/A.json" --out "$tmp/mix" --quiet || bad "3: run A"
"$bin" run "$tmp/B.json" --out "$tmp/mixb" --quiet || bad "3: run B"
cp "$tmp/mixb/run.json" "$tmp/mix/run.json"
"$bin" status "$tmp/mix" >"$tmp/st" 2>&1
grep -q "6/6\|6 of 6" "$tmp/st" && bad "3: status counts logs of another config as done: $(cat "$tmp/st")" || ok
"$bin" run "$tmp/B.json" --out "$tmp/mix" --quiet || bad "3: rerun B"
[ "$(digests "$tmp/mix/default")" = "$(manifest_digest "$tmp/mixb/run.json")" ] && ok ||
	bad "3: a rerun kept logs of another config"
# --force: the old config's files are redone, not counted as complete
"$bin" run "$tmp/A.json" --out "$tmp/forced" --quiet || bad "3: run A"
"$bin" run "$tmp/B.json" --out "$tmp/forced" --quiet --force || bad "3: run B --force"
[ "$(digests "$tmp/forced/default")" = "$(manifest_digest "$tmp/forced/run.json")" ] && ok ||
	bad "3: after --force, logs of the old config stayed"
# the same for annotate
ann_cfg() { # FILE INSTRUCTIONS
	cat >"$1" <<JSON
{"discussions": "$logs", "backend": {"type": "scripted"},
 "annotators": [{"name": "x", "instructions": "$2"}]}
JSON
}
ann_cfg "$tmp/annA.json" "Annotate A."
ann_cfg "$tmp/annB.json" "Annotate B."
"$bin" annotate "$tmp/annA.json" --out "$tmp/ann" --quiet || bad "3: annotate A"
"$bin" annotate "$tmp/annB.json" --out "$tmp/ann" --quiet --force || bad "3: annotate B --force"
[ "$(digests "$tmp/ann/x")" = "$(manifest_digest "$tmp/ann/annotate.json")" ] && ok ||
	bad "3: after annotate --force, annotations of the old config stayed"

# ---- 3b. which model wrote this? ------------------------------------------
echo "[${SECONDS}s] item 3b"
export SYNDISCO_CACHE_DIR=$tmp/cache
cp "$model" "$tmp/m.gguf"
cat >"$tmp/L.json" <<JSON
{"seed": 3, "personas": [{"username": "a"}, {"username": "b"}],
 "instructions": "Talk.", "num_discussions": 2, "num_turns": 1,
 "sampling": {"max_tokens": 4},
 "backend": {"model": "$tmp/m.gguf", "n_ctx": 512}}
JSON
"$bin" run "$tmp/L.json" --out "$tmp/L" --quiet || bad "3b: run"
sha=$(sha256sum "$tmp/m.gguf" | cut -d' ' -f1)
python3 - "$tmp/L" "$sha" <<'PY' && ok || bad "3b: model identity not recorded"
import json, os, sys
d, sha = sys.argv[1], sys.argv[2]
m = json.load(open(os.path.join(d, "run.json")))
mf = m["model_files"][0]["model_file"]
assert mf["sha256"] == sha and mf["size"] > 0 and mf["llama_cpp"], mf
for f in os.listdir(os.path.join(d, "default")):
    l = json.load(open(os.path.join(d, "default", f)))
    assert l["model_file"]["sha256"] == sha and l["model_file"]["llama_cpp"], l.get("model_file")
    assert list(l)[-1] == "model_file", "our extra field goes last"
PY
"$bin" make-test-model "$tmp/m2.gguf" --seed 43 >/dev/null 2>&1 || bad "3b: make model"
mv "$tmp/m2.gguf" "$tmp/m.gguf"   # another file at the same path
"$bin" run "$tmp/L.json" --out "$tmp/L" --quiet 2>"$tmp/err" && bad "3b: resumed with another model file" || ok
grep -q "model file.*m.gguf.*--force" "$tmp/err" && ok || bad "3b: message: $(cat "$tmp/err")"
"$bin" run "$tmp/L.json" --out "$tmp/L" --quiet --force || bad "3b: --force"
sha2=$(sha256sum "$tmp/m.gguf" | cut -d' ' -f1)
python3 - "$tmp/L" "$sha2" <<'PY' && ok || bad "3b: after --force, logs of the old model file stayed"
import json, os, sys
d, sha = sys.argv[1], sys.argv[2]
assert json.load(open(os.path.join(d, "run.json")))["model_files"][0]["model_file"]["sha256"] == sha
for f in os.listdir(os.path.join(d, "default")):
    assert json.load(open(os.path.join(d, "default", f)))["model_file"]["sha256"] == sha
PY
ls "$tmp/cache/"* >/dev/null 2>&1 && ok || bad "3b: no cached sha256"
cat >"$tmp/LA.json" <<JSON
{"discussions": "$tmp/L/default", "sampling": {"max_tokens": 2},
 "backend": {"model": "$tmp/m.gguf", "n_ctx": 512},
 "annotators": [{"name": "x", "instructions": "Rate."}]}
JSON
"$bin" annotate "$tmp/LA.json" --out "$tmp/LA" --quiet || bad "3b: annotate"
python3 - "$tmp/LA" "$sha2" <<'PY' && ok || bad "3b: annotations lack the model identity"
import json, os, sys
d, sha = sys.argv[1], sys.argv[2]
assert json.load(open(os.path.join(d, "annotate.json")))["model_files"][0]["model_file"]["sha256"] == sha
fs = os.listdir(os.path.join(d, "x"))
assert fs
for f in fs:
    a = json.load(open(os.path.join(d, "x", f)))
    assert a["model_file"]["sha256"] == sha and list(a)[-1] == "model_file"
PY
cp "$model" "$tmp/m.gguf"
"$bin" annotate "$tmp/LA.json" --out "$tmp/LA" --quiet 2>"$tmp/err" && bad "3b: annotate resumed with another model file" || ok
unset SYNDISCO_CACHE_DIR

# ---- 5. errors found late leave no OUT behind -------------------------------
echo "[${SECONDS}s] item 5"
long=$(printf 'x%.0s' $(seq 100))
# A context too large to have: 4.5M tokens, whose KV cache on the tiny
# model (256 bytes a token) is 1.1 GiB, over the 1 GiB allowed below.
# Uncapped, llama.cpp would try for real and a machine with much memory
# pages for minutes before it fails; under a 1 GiB address-space cap the
# allocation fails at once, with the same late error. A sanitizer build
# cannot run under a cap (its shadow memory): there the allocator returns
# NULL past 1 GiB instead. One stream (--parallel 1, no prefix cache):
# llama.cpp zeroes per-cell tables (about 40 bytes a cell) for every
# stream before the KV buffer fails, and with more streams those alone
# filled the cap, 4 s of page faults (16M tokens on 20 streams).
huge_ctx="\"n_ctx\": 4500000, \"prefix_cache\": 0"
capped() {
	if ldd "$bin" 2>/dev/null | grep -q libasan; then
		"$@"
	else
		(ulimit -v 1048576 && "$@")
	fi
}
five() { # NAME EXTRA_FIELDS [run args...]
	cat >"$tmp/5.json" <<JSON
{"seed": 3, "personas": [{"username": "a"}, {"username": "b"}],
 "instructions": "Talk.", "num_discussions": 1, "num_turns": 1, $2}
JSON
	# an ASan build aborts on a huge allocation unless told to return NULL;
	# past 1 GiB it returns NULL at once instead of mapping and paging
	ASAN_OPTIONS=${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}allocator_may_return_null=1:max_allocation_size_mb=1024 \
		capped "$bin" run "$tmp/5.json" --out "$tmp/o5-$1" --quiet "${@:3}" 2>"$tmp/err" &&
		bad "5: $1: ran" || true
	echo "5: $1: $(tail -1 "$tmp/err")" >>"$tmp/five.log"
	[ -e "$tmp/o5-$1" ] && bad "5: $1: left $(find "$tmp/o5-$1" | head -5 | tr '\n' ' ')" || ok
}
unset SD_NO_SUCH_KEY
five key_env '"backend": {"type": "openai", "base_url": "http://127.0.0.1:9/v1", "model": "m", "api_key_env": "SD_NO_SUCH_KEY"}'
five key_file '"backend": {"type": "openai", "base_url": "http://127.0.0.1:9/v1", "model": "m", "api_key_file": "no-such-key"}'
five openai_model '"backend": {"type": "openai", "base_url": "http://127.0.0.1:9/v1", "model": ""}'
five model '"backend": {"model": ""}'
five n_ctx "\"backend\": {\"model\": \"$model\", $huge_ctx}" --parallel 1
five cell_name "\"backend\": {\"type\": \"scripted\"}, \"conditions\": {\"f\": [{\"name\": \"$long\"}], \"g\": [{\"name\": \"$long\"}], \"h\": [{\"name\": \"$long\"}]}"
grep -q "cell\|name" "$tmp/err" && ok || bad "5: cell_name: message: $(cat "$tmp/err")"
# an OUT that existed (empty) before stays; only what the run made goes
mkdir "$tmp/o5-pre"
cat >"$tmp/5.json" <<JSON
{"seed": 3, "personas": [{"username": "a"}, {"username": "b"}],
 "instructions": "Talk.", "num_discussions": 1, "num_turns": 1,
 "backend": {"model": "$model", $huge_ctx}}
JSON
ASAN_OPTIONS=${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}allocator_may_return_null=1:max_allocation_size_mb=1024 \
	capped "$bin" run "$tmp/5.json" --out "$tmp/o5-pre" --quiet --parallel 1 2>"$tmp/err" && bad "5: pre: ran" || true
grep -q "could not create a context" "$tmp/err" || bad "5: pre: $(tail -1 "$tmp/err")"
[ -d "$tmp/o5-pre" ] && [ -z "$(ls -A "$tmp/o5-pre")" ] && ok || bad "5: pre-existing OUT removed or left dirty"
cat >"$tmp/5a.json" <<JSON
{"discussions": "$logs", "annotators": [{"name": "x", "instructions": "Rate."}],
 "backend": {"type": "openai", "base_url": "http://127.0.0.1:9/v1", "model": "m", "api_key_env": "SD_NO_SUCH_KEY"}}
JSON
"$bin" annotate "$tmp/5a.json" --out "$tmp/o5-ann" --quiet 2>/dev/null && bad "5: annotate ran" || true
[ -e "$tmp/o5-ann" ] && bad "5: annotate left its OUT" || ok

# ---- 11. NUL bytes and invalid UTF-8 in text inputs -------------------------
echo "[${SECONDS}s] item 11"
printf '{"personas": [{"username": "a"}, {"username": "b"}], "backend": {"type": "scripted"}}\0garbage' >"$tmp/nul.json"
"$bin" discuss "$tmp/nul.json" --out "$tmp/nul.out.json" 2>"$tmp/err" && bad "11: config with a NUL accepted" || ok
grep -q "nul.json.*NUL byte" "$tmp/err" && ok || bad "11: message: $(cat "$tmp/err")"
printf '[{"username": "a"}, {"username": "b"}]\0[' >"$tmp/nulp.json"
printf '{"personas_file": "nulp.json", "backend": {"type": "scripted"}}' >"$tmp/usep.json"
"$bin" discuss "$tmp/usep.json" --out "$tmp/nul.out.json" 2>"$tmp/err" && bad "11: persona file with a NUL accepted" || ok
grep -q "nulp.json" "$tmp/err" && ok || bad "11: message: $(cat "$tmp/err")"
head -c 300 "$model" >"$tmp/binary.txt"
exp_cfg "$tmp/bin.json" "x" ', "seed_opinions_file": "binary.txt"'
"$bin" run "$tmp/bin.json" --out "$tmp/o11" --quiet 2>"$tmp/err" && bad "11: a binary seed_opinions_file became an opinion" || ok
grep -q "binary.txt" "$tmp/err" && ok || bad "11: message: $(cat "$tmp/err")"
printf 'Be nice \xe9t\xe9.\n' >"$tmp/latin1.txt"
exp_cfg "$tmp/lat.json" "x" ', "roles": [{"name": "r", "share": 0.5, "instructions_file": "latin1.txt"}]'
sed -i 's/"instructions": "x",//' "$tmp/lat.json"
"$bin" run "$tmp/lat.json" --out "$tmp/o11b" --quiet 2>"$tmp/err" && bad "11: invalid UTF-8 instructions accepted" || ok
grep -q "latin1.txt.*UTF-8" "$tmp/err" && ok || bad "11: message: $(cat "$tmp/err")"
[ -e "$tmp/o11" ] || [ -e "$tmp/o11b" ] && bad "11: OUT created" || ok

# ---- 14. grammar-constrained labels always complete -------------------------
echo "[${SECONDS}s] item 14"
mkdir -p "$tmp/l14"
cp "$logs/llama8b_nomod_26-02-11-13-25-21.json" "$tmp/l14/"
cat >"$tmp/14.json" <<JSON
{"discussions": "$tmp/l14", "history_ctx_len": 1, "max_retries": 0,
 "sampling": {"max_tokens": 2},
 "backend": {"model": "$model", "n_ctx": 1024},
 "annotators": [
   {"name": "yn", "instructions": "Yes or no?", "label": {"values": ["yes", "no"], "json": true}}]}
JSON
"$bin" annotate "$tmp/14.json" --out "$tmp/o14" --parallel 4 --quiet || bad "14: annotate"
python3 - "$tmp/o14" <<'PY' && ok || bad "14: labels cut short by max_tokens"
import json, os, sys
d = sys.argv[1]
for a in ("yn",):
    for f in os.listdir(os.path.join(d, a)):
        j = json.load(open(os.path.join(d, a, f)))
        # our per-comment fields sit in annotation_meta, parallel to logs
        for c, e in zip(j["annotation_meta"], j["logs"]):
            assert c["label_status"] == "ok", (a, e["text"])
        assert len(j["annotation_meta"]) == len(j["logs"]) > 0
PY

# ---- 7. link loops in a log directory --------------------------------------
echo "[${SECONDS}s] item 7"
mkdir -p "$tmp/loop/sub"
cp "$logs/llama8b_nomod_26-02-11-13-25-21.json" "$tmp/loop/sub/"
(cd "$tmp/loop/sub" && ln -s . a && ln -s . b && ln -s .. up)
for cmd in "export -o $tmp/loop.csv" "stats" "report -o $tmp/loop.html"; do
	timeout 60 "$bin" $cmd "$tmp/loop" >"$tmp/out7" 2>&1 ||
		bad "7: $cmd on a directory with link loops: rc $? $(tail -2 "$tmp/out7")"
done
python3 - "$tmp/loop.csv" <<'PY' && ok || bad "7: the log was exported more than once"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], encoding="utf-8")))
assert len(rows) == 17, len(rows)
PY

# ---- 8. FIFOs and manifests that claim too much ------------------------------
echo "[${SECONDS}s] item 8"
mkdir -p "$tmp/fifo"
cp "$logs/llama8b_nomod_26-02-11-13-25-21.json" "$tmp/fifo/"
mkfifo "$tmp/fifo/trap.json"
ann_cfg "$tmp/annF.json" "Annotate."
timeout 60 "$bin" annotate "$tmp/annF.json" "$tmp/fifo" --out "$tmp/o8" --quiet 2>"$tmp/err" && ok ||
	bad "8: annotate with a FIFO named *.json: rc $? $(cat "$tmp/err")"
timeout 60 "$bin" export "$tmp/fifo" -o "$tmp/fifo.csv" 2>"$tmp/err" && ok ||
	bad "8: export with a FIFO named *.json: rc $? $(cat "$tmp/err")"
mkdir -p "$tmp/huge"
printf '{"config_digest": "x", "cells": [{"name": "default", "num_discussions": 1000000000000}]}' >"$tmp/huge/run.json"
timeout 20 "$bin" status "$tmp/huge" >"$tmp/err" 2>&1; rc=$?
[ $rc != 0 ] && [ $rc != 124 ] && grep -q "num_discussions\|malformed\|more than" "$tmp/err" && ok ||
	bad "8: status on a manifest claiming 1e12 discussions: rc $rc $(cat "$tmp/err")"

# ---- 9. a directory without logs (UBSan: qsort(NULL, 0, ...)) --------------
echo "[${SECONDS}s] item 9"
mkdir -p "$tmp/nologs"
printf '{}' >"$tmp/nologs/run.json"
"$bin" annotate "$tmp/annF.json" "$tmp/nologs" --out "$tmp/o9" --quiet 2>"$tmp/err"; rc=$?
[ $rc = 1 ] || [ $rc = 2 ] && grep -q "no discussion logs" "$tmp/err" && ok ||
	bad "9: annotate on a directory without logs: rc $rc $(cat "$tmp/err")"

# ---- 4. an output path that is one of the inputs ---------------------------
echo "[${SECONDS}s] item 4"
mkdir -p "$tmp/in4/cell"
cp "$logs/llama8b_nomod_26-02-11-13-25-21.json" "$tmp/in4/cell/0.json"
cp "$tmp/in4/cell/0.json" "$tmp/in4.orig"
for o in "$tmp/in4/cell/0.json" "$tmp/in4/new.csv" "$tmp/in4"; do
	"$bin" export "$tmp/in4" -o "$o" 2>"$tmp/err" && bad "4: export -o $o accepted" || ok
	grep -q "write the output elsewhere" "$tmp/err" || bad "4: message: $(cat "$tmp/err")"
done
(cd "$tmp/in4/cell" && "$bin" export .. -o 0.json 2>/dev/null) && bad "4: relative -o accepted" || ok
"$bin" report "$tmp/in4" -o "$tmp/in4/r.html" 2>/dev/null && bad "4: report -o inside an input accepted" || ok
cmp -s "$tmp/in4/cell/0.json" "$tmp/in4.orig" && [ ! -e "$tmp/in4/new.csv" ] && ok || bad "4: an input was replaced"
"$bin" export "$tmp/in4" -o "$tmp/in4.csv" 2>/dev/null && ok || bad "4: export elsewhere"

# ---- 13. column names unique by construction ------------------------------
echo "[${SECONDS}s] item 13"
cat >"$tmp/13.json" <<JSON
{"seed": 3, "personas": [{"username": "a", "x_label": "AX"}, {"username": "b", "x_label": "BX"}],
 "instructions": "Talk.", "num_discussions": 1, "num_active_users": 2, "num_turns": 2,
 "backend": {"type": "scripted"}}
JSON
"$bin" run "$tmp/13.json" --out "$tmp/o13" --quiet || bad "13: run"
cat >"$tmp/13a.json" <<JSON
{"discussions": "$tmp/o13", "backend": {"type": "scripted"},
 "annotators": [{"name": "persona_x", "instructions": "Say."}]}
JSON
"$bin" annotate "$tmp/13a.json" --out "$tmp/a13" --quiet || bad "13: annotate"
"$bin" export "$tmp/o13" --annotations "$tmp/a13" -o "$tmp/13.csv" 2>/dev/null || bad "13: export csv"
"$bin" export "$tmp/o13" --annotations "$tmp/a13" --format jsonl -o "$tmp/13.jsonl" 2>/dev/null || bad "13: export jsonl"
python3 - "$tmp/13.csv" "$tmp/13.jsonl" <<'PY' && ok || bad "13: duplicate or overwritten columns"
import csv, json, sys
head = next(csv.reader(open(sys.argv[1], encoding="utf-8")))
assert len(head) == len(set(head)), [h for h in head if head.count(h) > 1]
assert "persona_x_label" in head and "persona_x_label_2" in head, head
rows = [json.loads(l) for l in open(sys.argv[2], encoding="utf-8")]
users = [r for r in rows if r["user"] in ("a", "b")]
assert users and all(r["persona_x_label"] in ("AX", "BX") for r in users), users[0]
PY

cat "$tmp/five.log"
finish

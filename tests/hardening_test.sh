#!/usr/bin/env bash
# Issue 13 (hardening), one section per item: what an adversarial user
# found, run as a normal test so that it stays fixed.
#   hardening_test.sh SYNDISCO_BIN TINY_MODEL SOURCE_DIR
set -u
bin=$1 model=$2 src=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }
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
exp_cfg "$tmp/A.json" "Config A."
exp_cfg "$tmp/B.json" "Config B."
# started together on one new directory: exactly one may run
for k in 1 2 3 4 5; do
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

echo "hardening: $pass passed, $fail failed"
[ "$fail" = 0 ]

#!/usr/bin/env bash
# The prefix cache changes what is decoded, never what is written: the
# same config gives the same files with the cache on (a small one that
# evicts, the default) or off, at --parallel 1 and 5; and with it on,
# fewer prompt tokens are decoded for the same prompt tokens sent.
#   prefix_cache_test.sh SYNDISCO_BIN TINY_MODEL SOURCE_DIR
set -u
bin=$1 model=$2 src=$3
. "$src/tests/lib.sh"
# exp NAME PREFIX_CACHE
exp() {
	cat >"$tmp/$1.json" <<JSON
{
    "seed": 11,
    "personas_file": "$src/examples/study/personas.json",
    "context": "You are taking part in an online forum discussion.",
    "instructions_file": "$src/examples/study/user_instructions_vanilla.txt",
    "moderator": {"persona": {"username": "mod"}, "instructions": "Moderate."},
    "num_discussions": 4,
    "num_active_users": 2,
    "num_turns": 4,
    "history_ctx_len": 3,
    "seed_opinions_file": "$src/examples/study/seed_opinions.txt",
    "sampling": {"max_tokens": 8},
    "backend": {"n_ctx": 2048$2}
}
JSON
}
exp on ""
exp small ', "prefix_cache": 2'
exp off ', "prefix_cache": 0'
# run NAME PARALLEL: out-NAME-PARALLEL/ and NAME-PARALLEL.sum (--json)
run() {
	"$bin" run "$tmp/$1.json" --model "$model" --out "$tmp/out-$1-$2" \
		--parallel "$2" --quiet --json >"$tmp/$1-$2.sum" && ok || bad "run $1 --parallel $2"
}
run small 1
run on 5
run off 1
run off 5
for o in on-5 off-1 off-5; do
	python3 "$src/tests/compare_runs.py" "$tmp/out-small-1" "$tmp/out-$o" && ok ||
		bad "small-1 and $o differ"
done
python3 - "$tmp" <<'PY' && ok || bad "token counts"
import json, sys
t = sys.argv[1]
s = {n: json.load(open(f"{t}/{n}.sum")) for n in ("small-1", "on-5", "off-1", "off-5")}
sent = {d["prompt_tokens"] for d in s.values()}
assert len(sent) == 1, f"prompt tokens sent differ: {sent}"
for n, d in s.items():
    assert d["prompt_tokens_decoded"] + d["prompt_tokens_cached"] == d["prompt_tokens"], n
    print(f"{n}: {d['prompt_tokens']} sent, {d['prompt_tokens_decoded']} decoded")
    # CPU time: the model load is part of the run's CPU time
    assert 0 < d["load_cpu_seconds"] <= d["cpu_seconds"], (n, d)
assert s["small-1"]["prompt_tokens_decoded"] < s["off-1"]["prompt_tokens_decoded"], "no gain at 1"
assert s["on-5"]["prompt_tokens_decoded"] < s["off-5"]["prompt_tokens_decoded"], "no gain at 5"
PY
finish

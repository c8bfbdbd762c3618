#!/usr/bin/env bash
# Quantized models generate (labels: model, quantized): a q8_0 and a q4_k
# model made by make-test-model run a discussion and a batched experiment.
# Before the llama.cpp build chose its instruction sets with
# scripts/isa_probe.c, a CPU advertising AMX under a kernel that does not
# enable tiles died with SIGILL here (in the q8_0 matrix product).
# Also: a build for instruction sets this machine lacks refuses clearly.
#   quantized_test.sh SYNDISCO GGUF_TYPES ROOT "ISA LIST"
set -uo pipefail
bin=$1 types=$2 root=$3 isa=${4:-}
. "$root/tests/lib.sh"

# q8_0 blocks are 32 wide: the 64-dim shape works. q4_k blocks are 256
# wide: at 64 dims llama.cpp would fall back to other types for every
# tensor, so that model is 256-dim.
"$bin" make-test-model "$tmp/q8.gguf" --seed 7 --type q8_0 >/dev/null 2>&1 &&
	ok || bad "make q8_0 model"
"$bin" make-test-model "$tmp/q4k.gguf" --seed 7 --type q4_k --n-embd 256 \
	--n-head 4 --n-head-kv 4 --n-ff 512 >/dev/null 2>&1 &&
	ok || bad "make q4_k model"

# the files are what they claim to be
grep -q '^q8_0 [1-9]' <("$types" "$tmp/q8.gguf") && ok ||
	bad "q8_0 model has no q8_0 tensors: $("$types" "$tmp/q8.gguf" | tr '\n' ' ')"
grep -q '^q4_K [1-9]' <("$types" "$tmp/q4k.gguf") && ok ||
	bad "q4_k model has no q4_K tensors: $("$types" "$tmp/q4k.gguf" | tr '\n' ' ')"

count_comments() {
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(len(d["logs"]))' "$1"
}

cat >"$tmp/discussion.json" <<JSON
{
  "personas_file": "$root/examples/personas.json",
  "users": ["Emma35", "Giannis"],
  "context": "An online forum.",
  "instructions": "Reply briefly.",
  "conv_len": 2,
  "sampling": {"max_tokens": 8},
  "backend": {"n_ctx": 1024}
}
JSON
cat >"$tmp/exp.json" <<JSON
{
  "personas_file": "$root/examples/personas.json",
  "context": "An online forum.",
  "instructions": "Reply briefly.",
  "num_discussions": 3,
  "num_active_users": 2,
  "num_turns": 2,
  "sampling": {"max_tokens": 8},
  "backend": {"n_ctx": 1024}
}
JSON

for m in q8 q4k; do
	# one stream: the prompt is a matrix-matrix product, the reply
	# matrix-vector products
	if "$bin" discuss "$tmp/discussion.json" --model "$tmp/$m.gguf" \
		--out "$tmp/$m-discussion.json" --quiet 2>"$tmp/$m.err"; then
		n=$(count_comments "$tmp/$m-discussion.json")
		[ "$n" -ge 1 ] && ok || bad "$m: discussion has $n comments"
	else
		bad "$m: discuss failed: $(tail -3 "$tmp/$m.err")"
	fi
	# three discussions batched: the generating rows form a matrix too
	if "$bin" run "$tmp/exp.json" --model "$tmp/$m.gguf" --out "$tmp/$m-run" \
		--parallel 3 --quiet 2>"$tmp/$m-run.err"; then
		n=$(find "$tmp/$m-run" -name '[0-9]*.json' | wc -l)
		[ "$n" -eq 3 ] && ok || bad "$m: run wrote $n of 3 discussions"
	else
		bad "$m: run failed: $(tail -3 "$tmp/$m-run.err")"
	fi
done

# A build for instruction sets this machine cannot run says so, with no
# output file (SYNDISCO_TEST_HIDE_ISA pretends the machine lacks them).
first=${isa%% *}
if [ -n "$first" ]; then
	SYNDISCO_TEST_HIDE_ISA=$first "$bin" discuss "$tmp/discussion.json" \
		--model "$tmp/q8.gguf" --out "$tmp/refused.json" --quiet 2>"$tmp/refused.err"
	rc=$?
	[ "$rc" -eq 1 ] && ok || bad "hidden $first: exit $rc, want 1"
	grep -q "uses $first, which this machine cannot run" "$tmp/refused.err" && ok ||
		bad "hidden $first: message was: $(cat "$tmp/refused.err")"
	[ ! -e "$tmp/refused.json" ] && ok || bad "hidden $first: output file left"
else
	echo "skip: no instruction-set list recorded (not an x86 probe build)"
fi

finish

#!/usr/bin/env bash
# Orchestration overhead with the scripted backend (no model): 200 and
# 2,000 discussions x 10 turns, --parallel 64. Prints wall time, turns/s
# and peak RSS side by side; memory must follow active discussions, so
# the 2,000 run's peak RSS should be within 20% of the 200 run's.
#   bench/bench_scripted.sh [BUILD_DIR] [OUT_BASE]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$root/build}/syndisco
base=${2:-$(mktemp -d)}
cfg=$base/bench-scripted.json
mkdir -p "$base"

run() { # N -> JSON summary line
	local n=$1
	cat >"$cfg" <<JSON
{
    "seed": 7,
    "personas_file": "$root/examples/study/personas.json",
    "instructions": "Take part in the discussion.",
    "roles": [{"name": "troll", "share": 0.3, "instructions": "Derail the discussion."}],
    "moderator": {"persona": {"username": "mod"}, "instructions": "Keep it civil."},
    "turn_manager": {"type": "respond", "p_respond": 0.4},
    "num_discussions": $n,
    "num_active_users": 4,
    "num_turns": 10,
    "history_ctx_len": 5,
    "seed_opinions": ["Opinion one.", "Opinion two."],
    "backend": {"type": "scripted"}
}
JSON
	rm -rf "$base/out-$n"
	"$bin" run "$cfg" --out "$base/out-$n" --parallel 64 --quiet --json
}

field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }

a=$(run 200)
b=$(run 2000)
printf '%-14s %10s %12s %12s %14s\n' discussions seconds turns turns/s "peak RSS KiB"
for s in "$a" "$b"; do
	t=$(field "$s" turns); sec=$(field "$s" seconds)
	printf '%-14s %10s %12s %12.0f %14s\n' "$(field "$s" done)" "$sec" "$t" \
		"$(python3 -c "print($t/$sec)")" "$(field "$s" peak_rss_kib)"
done
python3 - "$a" "$b" <<'PY'
import json, sys
a, b = (json.loads(x) for x in sys.argv[1:3])
r = b["peak_rss_kib"] / a["peak_rss_kib"]
print(f"peak RSS 2000/200 = {r:.3f} (target <= 1.20): {'ok' if r <= 1.2 else 'FAIL'}")
print(f"2000 x 10 turns in {b['seconds']:.2f} s: {b['turns']/b['seconds']:.0f} turns/s")
PY

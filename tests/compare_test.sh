#!/usr/bin/env bash
# Condition comparisons in `syndisco stats --compare --json` recomputed
# independently: a Python reimplementation of the documented bootstrap
# (xoshiro256** seeded by splitmix64, sd__rng_below draws, series seeds
# from FNV-1a 64, percentiles as numpy's 'linear') over the per-discussion
# values read back from `syndisco export`. Scripted backends: no model.
#   compare_test.sh SYNDISCO_BIN SOURCE_DIR
set -u
bin=$1 src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

cat >"$tmp/exp.json" <<JSON
{
    "seed": 4,
    "personas_file": "$src/examples/study/personas.json",
    "random_usernames": true,
    "instructions": "Take part.",
    "moderator": {"persona": {"username": "moderator"}, "instructions": "Moderate."},
    "num_discussions": 5,
    "num_active_users": 3,
    "num_turns": 5,
    "seed_opinions": ["Should cities ban cars from their centres?"],
    "backend": {"type": "scripted"},
    "conditions": {"mod": [{"name": "nomod", "moderator": null}, {"name": "vanilla"}, {"name": "strict"}]}
}
JSON
"$bin" run "$tmp/exp.json" --out "$tmp/run" --quiet || fail "run"
cat >"$tmp/ann.json" <<'JSON'
{"seed": 1, "max_retries": 0,
 "backend": {"type": "scripted", "replies": ["1", "3", "2", "5", "9", "4", "2", "1", "5", "3"]},
 "annotators": [{"name": "toxicity", "instructions": "Rate 1-5.", "label": {"range": [1, 5]}}]}
JSON
"$bin" annotate "$tmp/ann.json" "$tmp/run" --out "$tmp/ann" --quiet --parallel 1 || fail "annotate"
cat >"$tmp/ev.json" <<'JSON'
{"seed": 2, "backend": {"type": "scripted", "replies": [
   "{\"hostility\": 2, \"coherence\": 7}", "{\"hostility\": 5, \"coherence\": 3}",
   "{\"hostility\": 1, \"coherence\": 9}", "{\"hostility\": 4, \"coherence\": 4}",
   "{\"hostility\": 3, \"coherence\": 8}", "{\"hostility\": 5, \"coherence\": 1}",
   "{\"hostility\": 1, \"coherence\": 6}"]},
 "rubric": [{"name": "hostility", "description": "d", "range": [1, 5]},
            {"name": "coherence", "description": "d", "range": [0, 10]}],
 "judges": [{"name": "judge", "instructions": "Judge."}]}
JSON
# evaluations inside the run directory are joined by export, stats, report
"$bin" evaluate "$tmp/ev.json" "$tmp/run" --out "$tmp/run/evaluations" --quiet --parallel 1 \
	|| fail "evaluate"
"$bin" export "$tmp/run" --annotations "$tmp/ann" --format jsonl -o "$tmp/rows.jsonl" -q \
	|| fail "export"
"$bin" stats "$tmp/run" --annotations "$tmp/ann" --compare --json --bootstrap 400 --seed 9 \
	>"$tmp/cmp.json" || fail "stats --compare --json"
"$bin" stats "$tmp/run" --annotations "$tmp/ann" --bootstrap 400 --seed 9 >"$tmp/stats.txt" \
	|| fail "stats"
grep -q "^toxicity (label)" "$tmp/stats.txt" || fail "stats prints no comparison table"
grep -q "^judge.hostility (score)" "$tmp/stats.txt" || fail "stats prints no score table"

python3 - "$tmp/rows.jsonl" "$tmp/cmp.json" <<'PY' || fail "the intervals differ from the reference"
import json, sys

M = (1 << 64) - 1
def splitmix(x):
    x = (x + 0x9e3779b97f4a7c15) & M
    z = x
    z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & M
    z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & M
    return x, z ^ (z >> 31)
def rotl(x, k): return ((x << k) | (x >> (64 - k))) & M
class Rng:
    def __init__(self, seed):
        self.s = []
        x = seed
        for _ in range(4):
            x, z = splitmix(x); self.s.append(z)
    def next(self):
        s = self.s
        r = (rotl((s[1] * 5) & M, 7) * 9) & M
        t = (s[1] << 17) & M
        s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]; s[2] ^= t
        s[3] = rotl(s[3], 45)
        return r
    def below(self, n):
        limit = M - (M % n)
        while True:
            v = self.next()
            if v < limit: return v % n
def fnv(parts):
    h = 0xcbf29ce484222325
    for i, p in enumerate(parts):
        for b in (b"\x1f" if i else b"") + p.encode():
            h = ((h ^ b) * 0x100000001b3) & M
    return h
def seed_of(seed, parts):
    return splitmix(seed ^ ((fnv(parts) * 0x9e3779b97f4a7c15) & M))[1]
def pct(s, q):
    pos = q * (len(s) - 1); i = int(pos)
    return s[-1] if i + 1 >= len(s) else s[i] + (pos - i) * (s[i + 1] - s[i])
def resample(r, x): return sum(x[r.below(len(x))] for _ in x) / len(x)
def boot(x, seed, B):
    r = Rng(seed); reps = sorted(resample(r, x) for _ in range(B))
    return sum(x) / len(x), pct(reps, 0.025), pct(reps, 0.975)
def boot_diff(a, b, seed, B):
    r = Rng(seed); reps = []
    for _ in range(B):
        ma = resample(r, a); reps.append(resample(r, b) - ma)
    reps.sort()
    return sum(b) / len(b) - sum(a) / len(a), pct(reps, 0.025), pct(reps, 0.975)

rows = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
got = json.load(open(sys.argv[2], encoding="utf-8"))
B, S = 400, 9
assert got["bootstrap"]["replicates"] == B and got["bootstrap"]["seed"] == S
assert got["bootstrap"]["resampled"] == "discussions"
discs, conds = {}, []
for r in rows:
    d = discs.setdefault(r["conv_id"], {"cond": r["cell"] or r["condition"], "rows": []})
    d["rows"].append(r)
    if d["cond"] not in conds: conds.append(d["cond"])
assert got["conditions"] == conds, (got["conditions"], conds)
# "9" is out of range: unparsed, no label, and not a value of the measure
unparsed = [r for r in rows if r["toxicity_annotation"] == "9"]
assert unparsed and all(r["toxicity_label"] is None for r in unparsed)
metrics = {}
def lab(r): return r.get("toxicity_label")
metrics["toxicity"] = ({k: (sum(lab(r) for r in d["rows"] if lab(r) is not None) /
                            max(1, sum(1 for r in d["rows"] if lab(r) is not None)))
                        for k, d in discs.items()}, True)
for dim in ("hostility", "coherence"):
    metrics["judge." + dim] = ({k: d["rows"][0]["eval_judge_" + dim] for k, d in discs.items()}, False)
assert [m["name"] for m in got["metrics"]] == ["toxicity", "judge.hostility", "judge.coherence"]
close = lambda a, b: abs(a - b) < 1e-9
checked = 0
for m in got["metrics"]:
    vals, is_label = metrics[m["name"]]
    assert m["kind"] == ("label" if is_label else "score")
    groups = {c: [vals[k] for k, d in discs.items() if d["cond"] == c] for c in conds}
    assert [x["condition"] for x in m["by_condition"]] == conds
    for x in m["by_condition"]:
        mean, lo, hi = boot(groups[x["condition"]], seed_of(S, [m["name"], x["condition"]]), B)
        assert x["n"] == len(groups[x["condition"]])
        assert close(x["mean"], mean) and close(x["lo"], lo) and close(x["hi"], hi), (m["name"], x, mean, lo, hi)
        checked += 1
    pairs = [(a, b) for i, a in enumerate(conds) for b in conds[i + 1:]]
    assert [(x["a"], x["b"]) for x in m["differences"]] == pairs
    for x in m["differences"]:
        diff, lo, hi = boot_diff(groups[x["a"]], groups[x["b"]], seed_of(S, [m["name"], x["a"], x["b"]]), B)
        assert close(x["diff"], diff) and close(x["lo"], lo) and close(x["hi"], hi), (x, diff, lo, hi)
        checked += 1
    if is_label:
        for s in m["by_turn"]:
            c = s["condition"]
            T = max(len(d["rows"]) for d in discs.values())
            want = []
            for t in range(T):
                xs = [d["rows"][t]["toxicity_label"] for d in discs.values()
                      if d["cond"] == c and t < len(d["rows"]) and d["rows"][t]["toxicity_label"] is not None]
                if xs: want.append((t, xs))
            assert [x["turn"] for x in s["turns"]] == [t for t, _ in want]
            for x, (t, xs) in zip(s["turns"], want):
                mean, lo, hi = boot(xs, seed_of(S, [m["name"], c, str(t)]), B)
                assert close(x["mean"], mean) and close(x["lo"], lo) and close(x["hi"], hi), (c, t)
                checked += 1
    else:
        assert "by_turn" not in m
# the intervals are not degenerate: the data varies
assert any(x["lo"] < x["hi"] for m in got["metrics"] for x in m["by_condition"])
print(f"{checked} intervals match the reference")
PY
# B and the seed are validated
"$bin" stats "$tmp/run" --compare --bootstrap 0 2>/dev/null && fail "--bootstrap 0 accepted"
"$bin" stats "$tmp/run" --compare --seed x 2>/dev/null && fail "--seed x accepted"
echo "PASS"

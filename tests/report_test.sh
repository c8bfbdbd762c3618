#!/usr/bin/env bash
# syndisco report in a real browser: headless Chromium (Debian's package)
# driven by playwright-core (npm, pinned, cached). Opens the page with no
# network, fails on console errors, screenshots the summary and an open
# discussion, checks the thread against the JSON log, and loads a report
# of 1,000 discussions. Exit 77 (skipped) without a browser: scripts/deps.sh
# --tests installs one.
#   report_test.sh SYNDISCO_BIN SOURCE_DIR OUT_DIR
set -u
bin=$1 src=$2 out=$3
fx=$src/tests/fixtures
pw_version=1.61.0  # as scripts/deps.sh --tests installs it
cache=${SYNDISCO_CACHE:-$HOME/.cache/syndisco}
pw_dir=$cache/playwright-core-$pw_version
. "$src/tests/lib.sh"

# --- the browser (scripts/deps.sh --tests installs both) ------------------
chromium=${SYNDISCO_CHROMIUM:-$(command -v chromium || true)}
[ -n "$chromium" ] || skip "no chromium: run scripts/deps.sh --tests (Debian's 'chromium'), or set SYNDISCO_CHROMIUM"
command -v node >/dev/null || skip "no node (needed to drive chromium with playwright-core): run scripts/deps.sh --tests"
[ -f "$pw_dir/node_modules/playwright-core/package.json" ] ||
	skip "no playwright-core@$pw_version in $pw_dir: run scripts/deps.sh --tests"
echo "browser: $("$chromium" --version 2>/dev/null | head -1), playwright-core $pw_version"

# --- the data ----------------------------------------------------------------
mkdir -p "$out"
rm -f "$out"/report*.html "$out"/*.png
cat >"$tmp/exp.json" <<JSON
{
    "seed": 3,
    "personas_file": "$src/examples/study/personas.json",
    "random_usernames": true,
    "instructions": "Take part.",
    "moderator": {"persona": {"username": "moderator", "age": 45, "personality_characteristics": ["patient", "fair"]}, "instructions": "Moderate."},
    "num_discussions": 4,
    "num_active_users": 4,
    "num_turns": 6,
    "seed_opinions": ["Should cities ban cars from their centres?"],
    "backend": {"type": "scripted"},
    "conditions": {"mod": [{"name": "nomod", "moderator": null}, {"name": "vanilla"}]}
}
JSON
"$bin" run "$tmp/exp.json" --out "$tmp/run" --quiet || fail "run"
"$bin" report "$fx/syndisco-logs" "$fx/export/logs" "$tmp/run" \
	--annotations "$fx/export/annotations" --title 'Report <test> & "friends"' \
	-o "$out/report.html" -q || fail "report"
# 1,000 discussions: the page must stay usable
sed -e 's/"num_discussions": 4/"num_discussions": 500/' "$tmp/exp.json" >"$tmp/big.json"
"$bin" run "$tmp/big.json" --out "$tmp/big" --quiet --parallel 64 || fail "big run"
"$bin" report "$tmp/big" -o "$out/report-1000.html" -q || fail "big report"
echo "report: $out/report.html ($(du -h "$out/report.html" | cut -f1)), " \
	"$out/report-1000.html ($(du -h "$out/report-1000.html" | cut -f1))"

# self-contained: nothing fetched from anywhere
if grep -Eoi '(src|href)=["'"'"']?(https?:)?//[^"'"'"' >]*' "$out/report.html" | head -3 | grep -q .; then
	fail "the report references external resources"
fi

cat >"$tmp/check.json" <<JSON
{
    "playwright": "$pw_dir/node_modules/playwright-core",
    "chromium": "$chromium",
    "report": "$out/report.html",
    "shots": "$out",
    "annotators": 2,
    "open": [
        {"log": "$fx/syndisco-logs/llama70b_constructive_communications_26-02-09-19-01-51.json",
         "annotations": 32, "shot": "report-discussion.png"},
        {"log": "$fx/export/logs/tricky.json", "annotations": 8,
         "shot": "report-discussion-tricky.png"},
        {"log": "$tmp/run/vanilla/2.json", "annotations": 0}
    ],
    "big": {"report": "$out/report-1000.html", "discussions": 1000}
}
JSON
NODE_PATH= node "$src/tests/report_check.mjs" "$tmp/check.json"
rc=$?

# --- conditions compared ------------------------------------------------------
# three conditions, a label on every comment and two scores per discussion
# (scripted annotators and judges), drawn by the page
sed -e 's/"num_discussions": 4/"num_discussions": 6/' \
    -e 's/{"name": "vanilla"}]/{"name": "vanilla"}, {"name": "strict", "instructions": "Moderate strictly."}]/' \
	"$tmp/exp.json" >"$tmp/cond.json"
"$bin" run "$tmp/cond.json" --out "$tmp/cond" --quiet || { echo "FAIL: conditions run"; exit 1; }
cat >"$tmp/cond-ann.json" <<'JSON'
{"seed": 1, "backend": {"type": "scripted", "replies": ["1", "3", "2", "5", "4", "2", "1", "5", "3", "2", "4"]},
 "annotators": [{"name": "toxicity", "instructions": "Rate 1-5.", "label": {"range": [1, 5]}}]}
JSON
cat >"$tmp/cond-ev.json" <<'JSON'
{"seed": 2, "backend": {"type": "scripted", "replies": [
   "{\"hostility\": 2, \"coherence\": 7}", "{\"hostility\": 5, \"coherence\": 3}",
   "{\"hostility\": 1, \"coherence\": 9}", "{\"hostility\": 4, \"coherence\": 4}",
   "{\"hostility\": 3, \"coherence\": 8}"]},
 "rubric": [{"name": "hostility", "range": [1, 5]}, {"name": "coherence", "range": [0, 10]}],
 "judges": [{"name": "judge", "instructions": "Judge."}]}
JSON
"$bin" annotate "$tmp/cond-ann.json" "$tmp/cond" --out "$tmp/cond-annotations" --quiet \
	--parallel 1 || { echo "FAIL: conditions annotate"; exit 1; }
"$bin" evaluate "$tmp/cond-ev.json" "$tmp/cond" --out "$tmp/cond/evaluations" --quiet \
	--parallel 1 || { echo "FAIL: conditions evaluate"; exit 1; }
"$bin" report "$tmp/cond" --annotations "$tmp/cond-annotations" --title "Conditions compared" \
	--bootstrap 500 -o "$out/report-conditions.html" -q || { echo "FAIL: conditions report"; exit 1; }
"$bin" stats "$tmp/cond" --annotations "$tmp/cond-annotations" --compare --json --bootstrap 500 \
	>"$tmp/cond-stats.json" || { echo "FAIL: conditions stats"; exit 1; }
cat >"$tmp/cond-check.json" <<JSON
{"playwright": "$pw_dir/node_modules/playwright-core", "chromium": "$chromium",
 "report": "$out/report-conditions.html", "stats": "$tmp/cond-stats.json",
 "shot": "$out/report-conditions.png"}
JSON
NODE_PATH= node "$src/tests/report_compare_check.mjs" "$tmp/cond-check.json" || rc=1
[ $rc -eq 0 ] && echo "screenshots: $out/report-summary.png $out/report-discussion.png" \
	"$out/report-discussion-tricky.png $out/report-conditions.png"
exit $rc

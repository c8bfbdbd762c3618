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
[ $rc -eq 0 ] && echo "screenshots: $out/report-summary.png $out/report-discussion.png" \
	"$out/report-discussion-tricky.png"
exit $rc

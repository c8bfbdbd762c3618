#!/usr/bin/env bash
# Quick start, step one: install what is missing, build llama.cpp (once,
# cached in ~/.cache/syndisco) and syndisco, then run the guide's
# discussion with a moderator on the tiny generated model.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/build.sh" "$root/build"
# the Python package carries the library it loads (docs/python.md)
"$root/scripts/python-package.sh" "$root/build" >/dev/null
out=${1:-$root/demo-discussion.json}
echo
echo "== syndisco discuss examples/guide-moderated.json --out $out"
"$root/build/syndisco" discuss "$root/examples/guide-moderated.json" --out "$out"

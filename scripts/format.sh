#!/usr/bin/env bash
# Format the C sources with the repository's .clang-format (clang-format
# 14, Debian's clang-format-14 package).
#   scripts/format.sh           format every file in place
#   scripts/format.sh --check   change nothing; name each file that is not
#                               formatted and exit 1 (0 when all are)
# Exit 77 when clang-format is not installed (ctest's "skipped").
# Covers src/ cli/ include/ tests/ examples/ bench/ (*.c, *.h), except
# generated tables (src/util/pyunicode_tables.h: scripts/gen_pyunicode.py
# writes it, and formatting 6,000 lines of numbers says nothing).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
check=0
case ${1:-} in
--check) check=1 ;;
"") ;;
*)
	echo "usage: scripts/format.sh [--check]" >&2
	exit 2
	;;
esac

cf=${CLANG_FORMAT:-}
if [ -z "$cf" ]; then
	for c in clang-format-14 clang-format; do
		if command -v "$c" >/dev/null 2>&1; then
			cf=$c
			break
		fi
	done
fi
if [ -z "$cf" ]; then
	echo "format.sh: clang-format not found (apt-get install clang-format-14)" >&2
	exit 77
fi
case $("$cf" --version) in
*"version 14."*) ;;
*) echo "format.sh: warning: $("$cf" --version) is not clang-format 14; its output may differ" >&2 ;;
esac

cd "$root"
mapfile -t files < <(find src cli include tests examples bench \
	-type f \( -name '*.c' -o -name '*.h' \) \
	! -path src/util/pyunicode_tables.h | LC_ALL=C sort)

if [ "$check" = 0 ]; then
	"$cf" -i --style=file "${files[@]}"
	exit 0
fi
# one clang-format for all files (a process per file took minutes on a
# loaded machine); --dry-run reports each change as file:line:col
mapfile -t bad < <("$cf" --style=file --dry-run "${files[@]}" 2>&1 |
	sed -n 's/^\([^:]*\.[ch]\):[0-9]*:[0-9]*: .*/\1/p' | LC_ALL=C sort -u)
for f in "${bad[@]}"; do
	echo "not formatted: $f (scripts/format.sh fixes it)"
done
if [ "${#bad[@]}" -gt 0 ]; then
	echo "format.sh: ${#bad[@]} of ${#files[@]} files are not formatted"
	exit 1
fi
echo "format.sh: all ${#files[@]} files formatted"

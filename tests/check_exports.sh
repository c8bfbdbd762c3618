#!/usr/bin/env bash
# The static library exports the public API and nothing else (jansson's
# test/suites/api/check-exports): every function declared in the public
# header is defined, and every other global symbol is in the internal
# sd__ namespace. Catches a helper that lost its `static` or its sd__
# prefix, and an API function declared but never written.
#   check_exports.sh NM CC LIBRARY INCLUDE_DIR [CFLAGS...]
set -euo pipefail
nm=$1 cc=$2 lib=$3 inc=$4
shift 4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# defined global symbols of every member (T text, D/B/R data, ...)
"$nm" -g --defined-only "$lib" | awk 'NF == 3 { print $3 }' | sort -u >"$tmp/exported"
# the header's functions: names followed by '(' after preprocessing
# (a function pointer type reads "(*name)(" and is not matched)
echo '#include "syndisco.h"' |
	"$cc" -E -P -I"$inc" "$@" - |
	grep -o '\bsd_[A-Za-z0-9_]*[[:space:]]*(' | tr -d '( \t' | sort -u >"$tmp/declared"

status=0
# __names are the implementation's (the sanitizers' __odr_asan.*, ...)
grep -v -e '^sd__' -e '^__' "$tmp/exported" >"$tmp/public" || true
extra=$(comm -23 "$tmp/public" "$tmp/declared")
missing=$(comm -13 "$tmp/public" "$tmp/declared")
if [ -n "$extra" ]; then
	echo "exported but not in include/syndisco.h (make it static, or name it sd__...):"
	echo "$extra" | sed 's/^/  /'
	status=1
fi
if [ -n "$missing" ]; then
	echo "declared in include/syndisco.h but not defined in $lib:"
	echo "$missing" | sed 's/^/  /'
	status=1
fi
n_api=$(wc -l <"$tmp/declared")
n_int=$(grep -c '^sd__' "$tmp/exported" || true)
echo "exports: $n_api API functions, $n_int internal sd__ symbols"
exit $status

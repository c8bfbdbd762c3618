#!/bin/sh
# libsyndisco.so exports exactly the functions include/syndisco.h declares
# (no llama.cpp, ggml, C++ runtime or internal symbol), under the soname
# libsyndisco.so.0. The header's list comes from the compiler itself
# (gcc -aux-info), not from the parser that wrote the version script.
#   so_exports_test.sh CC HEADER LIBRARY
set -eu
cc=$1 header=$2 lib=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# -aux-info is gcc's; with another compiler use gcc if there is one
if ! "$cc" -std=c11 -fsyntax-only -aux-info "$tmp/aux" -x c "$header" 2>/dev/null; then
	command -v gcc >/dev/null || { echo "no gcc for -aux-info: skipped"; exit 77; }
	gcc -std=c11 -fsyntax-only -aux-info "$tmp/aux" -x c "$header"
fi
grep -F "$(basename "$header"):" "$tmp/aux" |
	sed -n 's/.*[ *]\(sd_[a-z0-9_]*\) (.*/\1/p' | sort -u >"$tmp/want"
[ "$(wc -l <"$tmp/want")" -ge 50 ] || { echo "only $(wc -l <"$tmp/want") functions in $header?" >&2; exit 1; }

# every defined dynamic symbol, whatever its kind (functions, data)
nm -D --defined-only "$lib" | awk '{print $NF}' | sed 's/@.*//' |
	grep -v '^SYNDISCO_0$' | sort -u >"$tmp/got"
if ! cmp -s "$tmp/want" "$tmp/got"; then
	echo "exports differ from the header (< header only, > library only):" >&2
	diff "$tmp/want" "$tmp/got" | grep '^[<>]' | head -40 >&2
	exit 1
fi
# (implied by the comparison, said plainly: nothing of llama.cpp or ggml)
if grep -v '^sd_' "$tmp/got" | grep -Eiq 'llama|ggml|gguf'; then
	echo "llama.cpp symbols exported" >&2
	exit 1
fi
soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = libsyndisco.so.0 ] || { echo "soname '$soname', want libsyndisco.so.0" >&2; exit 1; }
# every export carries the version node
nm -D --defined-only "$lib" | grep -v ' SYNDISCO_0$' | grep -vq '@@SYNDISCO_0$' &&
	{ echo "an export without the SYNDISCO_0 version" >&2; exit 1; }
echo "libsyndisco.so: $(wc -l <"$tmp/got") exports, all from the header; soname $soname"

#!/usr/bin/env bash
# `cmake --install` into a fresh prefix gives a syndisco.pc that names
# nothing of the build machine (the llama.cpp build cache) and links the
# guide example against the installed files alone.
#   install_test.sh BUILD_DIR SOURCE_DIR CC [CFLAGS...] (the sanitizers')
set -euo pipefail
build=$1 src=$2 cc=$3
shift 3
source "$src/tests/lib.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cmake --install "$build" --prefix "$tmp/prefix" >"$tmp/install.log" 2>&1 ||
	{ cat "$tmp/install.log"; exit 1; }
pc=$(find "$tmp/prefix" -name syndisco.pc | head -1)
[ -n "$pc" ] && ok || bad "no syndisco.pc installed"
if grep -n -e "$build" -e '\.cache/syndisco' "$pc"; then
	bad "syndisco.pc names the build tree or the llama.cpp build cache"
else
	ok
fi
export PKG_CONFIG_PATH=$(dirname "$pc")
flags=$(pkg-config --cflags --libs syndisco)
for d in $(echo "$flags" | tr ' ' '\n' | sed -n 's/^-L//p'); do
	case $d in
	"$tmp/prefix"/*) ok ;;
	*) bad "syndisco.pc points outside the prefix: -L$d" ;;
	esac
done
# the guide uses the llama backend: it links only if llama.cpp's archives
# are found where syndisco.pc says
if "$cc" "$@" -o "$tmp/guide" "$src/examples/guide.c" $flags 2>"$tmp/cc.log"; then
	ok
else
	cat "$tmp/cc.log"
	bad "the guide does not link against the installed library"
fi
finish

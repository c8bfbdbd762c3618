#!/bin/sh
# Replay SynDisco's conformance cases through syndisco (see run.py).
# usage: tests/conformance/run.sh [DIR...]
#   DIR defaults to ../shared/conformance/fixtures beside the repository;
#   SYNDISCO names the binary (default: build/syndisco).
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${SYNDISCO:-$root/build/syndisco}
if [ $# -eq 0 ]; then
	set -- "$root/../shared/conformance/fixtures"
	[ -d "$1" ] || set -- /work/shared/conformance/fixtures
	if [ ! -d "$1" ]; then
		echo "no conformance fixtures found (give DIR)" >&2
		exit 77 # ctest: skipped
	fi
fi
exec python3 "$here/run.py" "$bin" "$@"

#!/usr/bin/env bash
# Put the build's libsyndisco.so into the Python package
# (python/syndisco/_lib/, ignored by git), so that
#   python3 -m venv --system-site-packages v
#   v/bin/pip install --no-build-isolation ./python
# installs a package that carries its library (docs/python.md).
#   scripts/python-package.sh [BUILD_DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
lib=$(readlink -f "$build/libsyndisco.so.0")
[ -f "$lib" ] || { echo "no $build/libsyndisco.so.0: build first (scripts/build.sh)" >&2; exit 1; }
dest=$root/python/syndisco/_lib
mkdir -p "$dest"
rm -f "$dest"/libsyndisco.so*
cp "$lib" "$dest/libsyndisco.so.0"
echo "python/syndisco/_lib/libsyndisco.so.0 <- $lib"

#!/usr/bin/env bash
# Install the Debian packages the build and tests need, when missing.
# As root it runs apt-get; otherwise it prints the exact command to run.
set -euo pipefail

pkgs=(cmake ninja-build pkg-config gcc g++ make git ca-certificates
      libjansson-dev libcurl4-openssl-dev libcmocka-dev
      curl   # the HTTP tests talk to their servers with it
      clang libclang-rt-14-dev  # the fuzz targets (libFuzzer)
      python3-pytest python3-pandas python3-venv)  # the Python package's tests
# npm fetches the pinned llama.cpp; Debian's nodejs/npm are enough
command -v npm >/dev/null 2>&1 || pkgs+=(nodejs npm)
command -v python3 >/dev/null 2>&1 || pkgs+=(python3)

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "syndisco: missing Debian packages; install them with:" >&2
	echo "  sudo apt-get install -y ${missing[*]}" >&2
	exit 1
fi
echo "syndisco: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

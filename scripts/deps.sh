#!/usr/bin/env bash
# Install the Debian packages the build and tests need, when missing.
# As root it runs apt-get; otherwise it prints the exact command to run.
#   scripts/deps.sh            what the build and the unit tests need
#   scripts/deps.sh --tests    also what the whole suite drives: Chromium
#                              and playwright-core (the report test), Slurm
#                              and munge (the slurm test). Tests never
#                              install anything: without these they skip
#                              (exit 77) and say what to run.
#   scripts/deps.sh --llama    only what scripts/build-llama.sh needs (so
#                              that llama.cpp compiles while the rest is
#                              fetched, as scripts/test.sh does)
set -euo pipefail

want_tests=0 only_llama=0
for a in "$@"; do
	case "$a" in
	--tests) want_tests=1 ;;
	--llama) only_llama=1 ;;
	-h | --help)
		sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "deps.sh: unknown argument '$a' (try --help)" >&2
		exit 2
		;;
	esac
done

pkgs=(cmake ninja-build gcc g++ make git ca-certificates)
if [ "$only_llama" = 0 ]; then
	pkgs+=(pkg-config libjansson-dev libcurl4-openssl-dev libcmocka-dev
		curl # the HTTP tests talk to their servers with it
		clang libclang-rt-14-dev # the fuzz targets (libFuzzer)
		python3-pytest python3-pandas python3-venv) # the Python package's tests
	command -v python3 >/dev/null 2>&1 || pkgs+=(python3)
fi
# npm fetches the pinned llama.cpp; Debian's nodejs/npm are enough
command -v npm >/dev/null 2>&1 || pkgs+=(nodejs npm)
if [ "$want_tests" = 1 ] && [ "$only_llama" = 0 ]; then
	command -v chromium >/dev/null 2>&1 || [ -n "${SYNDISCO_CHROMIUM:-}" ] || pkgs+=(chromium)
	pkgs+=(slurm-wlm munge)
fi

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "syndisco: missing Debian packages; install them with:" >&2
		echo "  sudo apt-get install -y ${missing[*]}" >&2
		exit 1
	fi
	echo "syndisco: installing ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	# keep apt from starting the system's own munge/slurm daemons: the
	# slurm test starts a cluster of its own
	rc_guard=
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod +x /usr/sbin/policy-rc.d
		rc_guard=1
	fi
	apt_rc=0
	{ apt-get update -qq -o DPkg::Lock::Timeout=600 &&
		apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=600 \
			"${missing[@]}" >/dev/null; } || apt_rc=$?
	[ -n "$rc_guard" ] && rm -f /usr/sbin/policy-rc.d
	[ "$apt_rc" = 0 ] || exit "$apt_rc"
fi

# playwright-core drives the report test's Chromium (pinned: 1.61.0 is the
# last that runs on Debian 12's Node.js 18); no browser download, no
# install scripts; cached next to llama.cpp
if [ "$want_tests" = 1 ] && [ "$only_llama" = 0 ]; then
	pw_version=1.61.0
	pw_dir=${SYNDISCO_CACHE:-$HOME/.cache/syndisco}/playwright-core-$pw_version
	if [ ! -f "$pw_dir/node_modules/playwright-core/package.json" ]; then
		mkdir -p "$pw_dir" && echo '{"private": true}' >"$pw_dir/package.json"
		echo "syndisco: installing playwright-core@$pw_version into $pw_dir" >&2
		(cd "$pw_dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --no-audit \
			--no-fund --ignore-scripts --loglevel=error "playwright-core@$pw_version" >&2)
	fi
fi

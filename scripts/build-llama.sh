#!/usr/bin/env bash
# Fetch llama.cpp from the pinned npm package node-llama-cpp, verify it, and
# build it once into a cache outside the clone. Prints the install prefix on
# the last line of stdout.
#
#   scripts/build-llama.sh            libllama + ggml (static), installed
#   scripts/build-llama.sh --tools    also llama-server and llama-batched-bench
#
# Environment:
#   SYNDISCO_CACHE      cache root (default ~/.cache/syndisco)
#   LLAMA_CMAKE_ARGS    extra cmake arguments, e.g. "-DGGML_CUDA=ON"; they
#                       change the cache key so builds never mix
#   SYNDISCO_JOBS       parallel build jobs (default: nproc)
#   SYNDISCO_LLAMA_ISA  x86 instruction sets to build for: "probe" (default:
#                       what this machine can run, see scripts/isa_probe.c),
#                       a list such as "sse4.2 avx f16c fma avx2 bmi2" (the
#                       oldest node of a cluster), or "native" (-march=native,
#                       which trusts CPUID alone)
#   SYNDISCO_LLAMA_TINYBLAS  1 (default): llamafile's tinyBLAS, faster
#                       batches; 0: without, faster at --parallel 1
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=llama-version.env
. "$here/llama-version.env"

want_tools=0
for a in "$@"; do
	case "$a" in
	--tools) want_tools=1 ;;
	-h | --help)
		sed -n '2,/^set -e/{/^#/p}' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "build-llama.sh: unknown argument '$a' (try --help)" >&2
		exit 2
		;;
	esac
done

log() { echo "build-llama: $*" >&2; }

# The instruction sets ggml is compiled for. -march=native is not used by
# default: it enables whatever CPUID advertises, and a CPU that advertises
# AMX under a kernel or hypervisor that does not enable tiles then dies
# with SIGILL in the first q8_0 matrix product. The probe asks the OS
# (XCR0, arch_prctl) and runs a tile instruction before enabling AMX.
isa_args=""
isa_names=""
isa_mode=${SYNDISCO_LLAMA_ISA:-probe}
case "$(uname -m)" in
x86_64 | i?86)
	probe_dir=$(mktemp -d)
	if ! ${CC:-cc} -std=gnu11 -O1 -I"$here/../include" -I"$here/../src" \
		"$here/isa_probe.c" "$here/../src/util/cpu_isa.c" "$here/../src/util/error.c" \
		-o "$probe_dir/isa_probe" 2>"$probe_dir/cc.log"; then
		sed 's/^/  /' "$probe_dir/cc.log" >&2
		log "could not compile scripts/isa_probe.c; building for -march=native"
		isa_mode=native
	fi
	case "$isa_mode" in
	native) ;;
	probe)
		isa_args=$("$probe_dir/isa_probe" --cmake)
		isa_names=$("$probe_dir/isa_probe" --names)
		;;
	*)
		# an explicit list: every name must be one the probe knows
		isa_names=$isa_mode
		isa_args="-DGGML_NATIVE=OFF"
		for sw in sse4.2:GGML_SSE42 avx:GGML_AVX f16c:GGML_F16C fma:GGML_FMA \
			avx2:GGML_AVX2 bmi2:GGML_BMI2 avx_vnni:GGML_AVX_VNNI avx512:GGML_AVX512 \
			avx512_vbmi:GGML_AVX512_VBMI avx512_vnni:GGML_AVX512_VNNI \
			avx512_bf16:GGML_AVX512_BF16 amx_tile:GGML_AMX_TILE \
			amx_int8:GGML_AMX_INT8 amx_bf16:GGML_AMX_BF16; do
			case " $isa_names " in
			*" ${sw%%:*} "*) isa_args="$isa_args -D${sw#*:}=ON" ;;
			*) isa_args="$isa_args -D${sw#*:}=OFF" ;;
			esac
		done
		for n in $isa_names; do
			case " sse4.2 avx f16c fma avx2 bmi2 avx_vnni avx512 avx512_vbmi avx512_vnni avx512_bf16 amx_tile amx_int8 amx_bf16 " in
			*" $n "*) ;;
			*)
				log "SYNDISCO_LLAMA_ISA: unknown instruction set '$n' (known: sse4.2 avx f16c fma avx2 bmi2 avx_vnni avx512 avx512_vbmi avx512_vnni avx512_bf16 amx_tile amx_int8 amx_bf16, or probe, native)"
				rm -rf "$probe_dir"
				exit 2
				;;
			esac
		done
		;;
	esac
	rm -rf "$probe_dir"
	;;
esac

# llamafile's tinyBLAS (llama.cpp's default) stays on: it decodes
# prompts and batches of many rows much faster (512-dim f16 model, 16
# discussions in flight: 160 against 98 generated tokens/s). Its cost is
# at --parallel 1, where one generating row gets a partner row to stay
# deterministic (docs/design.md). SYNDISCO_LLAMA_TINYBLAS=0 builds
# without it: one stream then runs about 1.5x faster and batches slower;
# the bytes are the same either way.
case ${SYNDISCO_LLAMA_TINYBLAS:-1} in
0) engine_args="-DGGML_LLAMAFILE=OFF" ;;
1) engine_args="-DGGML_LLAMAFILE=ON" ;;
*)
	log "SYNDISCO_LLAMA_TINYBLAS: '${SYNDISCO_LLAMA_TINYBLAS}' is not 0 or 1"
	exit 2
	;;
esac
extra=${LLAMA_CMAKE_ARGS:-}
# Our patches to the source (scripts/llama-patches, applied in name order
# once fetched): each says at its top what it changes and why.
patches=("$here"/llama-patches/*.patch)
patch_sum=$(cat "${patches[@]}" | sha256sum | cut -c1-16)
key="llama-${LLAMA_CPP_RELEASE}-npm${NODE_LLAMA_CPP_VERSION}"
# The instruction sets are part of the key: a cache in a home directory
# shared by a cluster's nodes must not hand one node's build to another.
key="$key-$(printf '%s|%s|%s|%s|%s' "$isa_mode" "$isa_args" "$engine_args" "$extra" "$patch_sum" | sha256sum | cut -c1-10)"
cache_root=${SYNDISCO_CACHE:-$HOME/.cache/syndisco}
dir="$cache_root/$key"
jobs=${SYNDISCO_JOBS:-$(nproc)}
mkdir -p "$dir"

# One builder at a time per cache entry (parallel test runs, two shells).
exec 9>"$dir/.lock"
flock 9

fetch_source() {
	[ -f "$dir/src/.complete" ] && return 0
	command -v npm >/dev/null || {
		log "npm is required to fetch llama.cpp (apt-get install npm)"
		exit 1
	}
	local tmp
	tmp=$(mktemp -d)
	log "fetching node-llama-cpp@$NODE_LLAMA_CPP_VERSION from the npm registry"
	if ! (cd "$tmp" && npm pack --loglevel=error "node-llama-cpp@$NODE_LLAMA_CPP_VERSION" \
		>"$tmp/npm.log" 2>&1); then
		sed 's/^/  /' "$tmp/npm.log" >&2
		log "npm could not fetch node-llama-cpp@$NODE_LLAMA_CPP_VERSION from $(npm config get registry)."
		log "Check the network and the registry (npm config get registry); behind a TLS-inspecting"
		log "proxy, give npm its CA (npm config set cafile FILE, or NODE_EXTRA_CA_CERTS=FILE)."
		rm -rf "$tmp"
		exit 1
	fi
	local tgz="$tmp/node-llama-cpp-$NODE_LLAMA_CPP_VERSION.tgz"
	local got
	got=$(sha512sum "$tgz" | cut -d' ' -f1)
	if [ "$got" != "$NODE_LLAMA_CPP_SHA512" ]; then
		log "sha512 mismatch for $tgz"
		log "  expected $NODE_LLAMA_CPP_SHA512"
		log "  got      $got"
		rm -rf "$tmp"
		exit 1
	fi
	tar -xzf "$tgz" -C "$tmp" package/llama/gitRelease.bundle
	rm -rf "$dir/src.tmp" "$dir/src"
	git -c advice.detachedHead=false clone --quiet "$tmp/package/llama/gitRelease.bundle" "$dir/src.tmp"
	rm -rf "$tmp"
	local p
	for p in "${patches[@]}"; do
		git -C "$dir/src.tmp" apply "$p" || {
			log "could not apply $p to llama.cpp $LLAMA_CPP_RELEASE"
			exit 1
		}
	done
	touch "$dir/src.tmp/.complete"
	mv "$dir/src.tmp" "$dir/src"
}

common_args=(
	-G Ninja
	-DCMAKE_BUILD_TYPE=Release
	-DBUILD_SHARED_LIBS=OFF
	-DCMAKE_POSITION_INDEPENDENT_CODE=ON
	-DLLAMA_BUILD_TESTS=OFF
	-DLLAMA_BUILD_EXAMPLES=OFF
	-DLLAMA_CURL=OFF
	$engine_args
)

build_lib() {
	[ -f "$dir/install/.complete" ] && return 0
	log "building libllama in $dir/build-lib (a few minutes, once)"
	rm -rf "$dir/install"
	# shellcheck disable=SC2086
	cmake -S "$dir/src" -B "$dir/build-lib" "${common_args[@]}" \
		-DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF \
		-DLLAMA_BUILD_COMMON=OFF -DLLAMA_BUILD_APP=OFF \
		-DCMAKE_INSTALL_PREFIX="$dir/install" $isa_args $extra >"$dir/build-lib.log" 2>&1 ||
		{ tail -30 "$dir/build-lib.log" >&2; exit 1; }
	cmake --build "$dir/build-lib" -j "$jobs" >>"$dir/build-lib.log" 2>&1 ||
		{ tail -30 "$dir/build-lib.log" >&2; exit 1; }
	cmake --install "$dir/build-lib" >>"$dir/build-lib.log" 2>&1 ||
		{ tail -30 "$dir/build-lib.log" >&2; exit 1; }
	# The tokenizer files travel with the install: the test model needs one.
	mkdir -p "$dir/install/share/llama/models"
	cp "$dir/src/models/ggml-vocab-llama-bpe.gguf" "$dir/install/share/llama/models/"
	# What the library checks at model load (empty: no check, e.g. native)
	mkdir -p "$dir/install/share/syndisco"
	printf '%s\n' "$isa_names" >"$dir/install/share/syndisco/llama-isa.txt"
	log "instruction sets: ${isa_names:-$isa_mode}"
	touch "$dir/install/.complete"
}

build_tools() {
	[ -f "$dir/install/bin/.tools-complete" ] &&
		[ -x "$dir/install/bin/llama-server" ] &&
		[ -x "$dir/install/bin/llama-batched-bench" ] && return 0
	# The library's tree, configured again with the tools: libllama and
	# ggml compile with the same commands there, so ninja reuses their
	# objects and only common/, the server and the bench are compiled.
	log "building llama-server and llama-batched-bench in $dir/build-lib (about 3 minutes on 2 cores, once)"
	local t0=$SECONDS
	# LLAMA_BUILD_APP=OFF: app/ (the all-in-one "llama" binary) includes
	# build-info.h without linking the common library that provides it,
	# so it does not compile; nothing here needs it.
	# shellcheck disable=SC2086
	cmake -S "$dir/src" -B "$dir/build-lib" "${common_args[@]}" \
		-DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_COMMON=ON \
		-DLLAMA_BUILD_APP=OFF $isa_args $extra \
		>"$dir/build-tools.log" 2>&1 ||
		{ tail -30 "$dir/build-tools.log" >&2; exit 1; }
	cmake --build "$dir/build-lib" -j "$jobs" \
		--target llama-server llama-batched-bench >>"$dir/build-tools.log" 2>&1 ||
		{ tail -30 "$dir/build-tools.log" >&2; exit 1; }
	mkdir -p "$dir/install/bin"
	cp "$dir/build-lib/bin/llama-server" "$dir/build-lib/bin/llama-batched-bench" \
		"$dir/install/bin/"
	touch "$dir/install/bin/.tools-complete"
	log "tools built in $((SECONDS - t0)) s"
}

fetch_source
build_lib
[ "$want_tools" = 1 ] && build_tools
echo "$dir/install"

# Shared helpers of the shell tests (bash). Source it after the test has
# read its arguments:
#   tmp                  a fresh temporary directory, removed at exit; the
#                        pids in the array pids are killed (-9) and reaped
#                        first, so a test's servers never outlive it
#   ok                   count a check that passed
#   bad MSG              count a check that failed, and say which
#   fail MSG             a failure that ends the test at once (exit 1)
#   skip MSG             the test cannot run here: exit 77, which ctest
#                        reports as skipped (SKIP_RETURN_CODE 77)
#   expect_fail NAME NEEDLE CODE CMD...
#                        CMD "${expect_out[@]}" fails with exit status CODE
#                        ("any": any non-zero), NEEDLE (a fixed string) is
#                        on its stderr, and the output file (the last word
#                        of expect_out) was not left behind, nor a temp of
#                        it; with expect_quiet=1, nothing on stdout either
#   finish               print "N passed, M failed"; exit 0 if none failed
pass=0
fail=0
pids=()
expect_out=()
expect_quiet=0
tmp=$(mktemp -d)
sd_test_cleanup() {
	local p
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	chmod -R u+rwX "$tmp" 2>/dev/null # a test may have locked files
	rm -rf "$tmp"
}
trap sd_test_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }
fail() {
	echo "FAIL: $*"
	exit 1
}
skip() {
	echo "SKIP: $*"
	exit 77
}

expect_fail() {
	local name=$1 needle=$2 code=$3 rc out=
	shift 3
	[ ${#expect_out[@]} -gt 0 ] && out=${expect_out[-1]}
	[ -n "$out" ] && rm -f "$out"
	"$@" "${expect_out[@]}" >"$tmp/expect.stdout" 2>"$tmp/expect.stderr"
	rc=$?
	if [ "$code" = any ] && [ $rc -eq 0 ]; then
		bad "$name: exit 0"
		return
	fi
	if [ "$code" != any ] && [ $rc -ne "$code" ]; then
		bad "$name: exit $rc, expected $code: $(cat "$tmp/expect.stderr")"
		return
	fi
	if ! grep -qF -- "$needle" "$tmp/expect.stderr"; then
		bad "$name: '$needle' not in stderr: $(cat "$tmp/expect.stderr")"
		return
	fi
	if [ -n "$out" ] && { [ -e "$out" ] || ls "$out".tmp.* >/dev/null 2>&1; }; then
		bad "$name: output file left behind"
		return
	fi
	if [ "$expect_quiet" = 1 ] && [ -s "$tmp/expect.stdout" ]; then
		bad "$name: wrote to stdout"
		return
	fi
	ok
}

finish() {
	echo "$pass passed, $fail failed"
	[ "$fail" -eq 0 ]
	exit
}

# Shared helpers of the shell tests: source it, count with ok/bad, end
# with finish (prints "N passed, M failed" and sets the exit status).
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }
finish() {
	echo "$pass passed, $fail failed"
	[ "$fail" -eq 0 ]
	exit
}

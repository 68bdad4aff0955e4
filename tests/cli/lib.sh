# Shared by the command-line tests (sourced): counters and checks.
# shellcheck shell=sh
pass=0
fail=0

ok() { echo "ok - $1"; pass=$((pass + 1)); }
bad() { echo "not ok - $1"; fail=$((fail + 1)); }

# expect NAME STATUS PATTERN -- command...
# The command must exit with STATUS; PATTERN (if not empty) must appear in
# its output; a failing command with a PATTERN must say why in one line.
expect() {
	name=$1 want=$2 pattern=$3
	shift 4
	"$@" >"$tmp/out" 2>"$tmp/err"
	got=$?
	if [ "$got" -ne "$want" ]; then
		bad "$name: exit $got, expected $want"
		cat "$tmp/err"
	elif [ -n "$pattern" ] && ! grep -q -- "$pattern" "$tmp/err" "$tmp/out"; then
		bad "$name: output lacks '$pattern'"
		cat "$tmp/err"
	elif [ "$want" -ne 0 ] && [ -n "$pattern" ] && [ "$(wc -l <"$tmp/err")" -ne 1 ]; then
		bad "$name: $(wc -l <"$tmp/err") lines on stderr, expected one"
		cat "$tmp/err"
	else
		ok "$name"
	fi
}

# summary LABEL: prints the counts; the exit status of the test.
summary() {
	echo "$1: $pass passed, $fail failed"
	[ "$fail" -eq 0 ]
}

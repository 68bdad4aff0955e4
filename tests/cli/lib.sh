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

# free_port: a TCP port of 127.0.0.1 that nothing listens on now
free_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_port PORT: until something listens on 127.0.0.1:PORT (at most 10 s)
wait_port() {
	i=0
	while ! /usr/bin/python3 -c "import socket; socket.create_connection(('127.0.0.1',$1),0.2)" 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt 100 ] && return 1
		sleep 0.1
	done
}

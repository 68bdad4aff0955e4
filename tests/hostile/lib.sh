# The standing attack suite's helpers, sourced by tests/hostile/run before
# each area file. An attack is one line: what refusal it expects, and what
# the real binaries did.
# shellcheck shell=sh

# secret VALUE: VALUE must appear on no host-visible surface. Hex values are
# also searched as the raw bytes they spell.
secret() {
	printf '%s\n' "$1" >>"$secrets_file"
}

# scan FILE...: prints the first registered secret found in the files.
scan() {
	[ -s "$secrets_file" ] || return 0
	/usr/bin/python3 - "$secrets_file" "$@" <<'PY'
import sys, re
secrets = [l.strip() for l in open(sys.argv[1]) if l.strip()]
needles = []
for s in secrets:
    needles.append((s, s.encode()))
    if re.fullmatch(r'([0-9a-fA-F]{2}){8,}', s):
        needles.append((s, bytes.fromhex(s)))
        needles.append((s, s.upper().encode()))
for path in sys.argv[2:]:
    try:
        data = open(path, 'rb').read()
    except OSError:
        continue
    for name, n in needles:
        if n in data:
            print(f"{path}: {name[:16]}...")
            sys.exit(0)
PY
}

# line NAME VERDICT WANT SEEN: the one line of an attack, counted.
line() {
	if [ "$2" = ok ]; then
		hostile_pass=$((hostile_pass + 1))
		printf 'refused  %-44s want %-28s saw %s\n' "$area/$1" "$3" "$4"
	else
		hostile_fail=$((hostile_fail + 1))
		printf 'FAILED   %-44s want %-28s saw %s\n' "$area/$1" "$3" "$4"
	fi
}

# attack NAME WANT_EXIT WANT_PATTERN -- cmd...: cmd must exit WANT_EXIT with
# output matching the extended regex WANT_PATTERN, and no secret in it.
attack() {
	a_name=$1 a_exit=$2 a_pat=$3
	shift 4
	"$@" </dev/null >"$tmp/.attack.out" 2>"$tmp/.attack.err"
	a_got=$?
	a_seen=$(grep -Eo -m1 -- "$a_pat" "$tmp/.attack.err" "$tmp/.attack.out" 2>/dev/null | head -n1 | sed 's/^[^:]*://')
	[ -n "$a_seen" ] || a_seen=$(head -c 60 "$tmp/.attack.err" | head -n1)
	a_leak=$(scan "$tmp/.attack.out" "$tmp/.attack.err")
	if [ -n "$a_leak" ]; then
		line "$a_name" fail "$a_pat (exit $a_exit)" "SECRET in output: $a_leak"
	elif [ "$a_got" -ne "$a_exit" ] || ! grep -Eq -- "$a_pat" "$tmp/.attack.err" "$tmp/.attack.out"; then
		line "$a_name" fail "$a_pat (exit $a_exit)" "${a_seen:-nothing} (exit $a_got)"
		sed 's/^/    | /' "$tmp/.attack.err" | head -n 5
	else
		line "$a_name" ok "$a_pat (exit $a_exit)" "$a_seen (exit $a_got)"
	fi
}

# record NAME WANT SEEN: an attack checked by the area's own code.
record() {
	if [ "$2" = "$3" ]; then
		line "$1" ok "$2" "$3"
	else
		line "$1" fail "$2" "$3"
	fi
}

# no_secret NAME FILE...: none of the registered secrets is in the files.
no_secret() {
	ns_name=$1
	shift
	ns_leak=$(scan "$@")
	if [ -n "$ns_leak" ]; then
		line "$ns_name" fail "no secret" "$ns_leak"
	else
		line "$ns_name" ok "no secret" "none in $# file(s)"
	fi
}

#!/bin/sh
# The manual pages: each renders without a warning, and names every long
# option that its command's --help names (so neither drifts from the other).
set -u
cvm=${CVM_BIN:?}
tmp=${CVM_TEST_TMP:?}/cli-man
top=$(cd "$(dirname "$0")/../.." && pwd)
rm -rf "$tmp" && mkdir -p "$tmp"
. "$top/tests/cli/lib.sh"

pages=0
for page in "$top"/docs/man/cvm-*.1; do
	name=$(basename "$page" .1)
	verb=${name#cvm-}
	pages=$((pages + 1))
	LC_ALL=C.UTF-8 groff -man -ww -z -Tutf8 "$page" >"$tmp/groff.out" 2>&1
	[ $? -eq 0 ] && [ ! -s "$tmp/groff.out" ] && ok "$name renders without a warning" ||
		{ bad "$name: groff"; cat "$tmp/groff.out"; }
	# the help of the verb, and of its subcommands when it has them
	: >"$tmp/help"
	"$cvm" "$verb" --help >>"$tmp/help" 2>&1
	for sub in $(sed -n "s/^\.B cvm $verb \([a-z][a-z-]*\)$/\1/p; s/^\.B cvm $verb \([a-z][a-z-]*\) .*/\1/p" "$page" | sort -u); do
		"$cvm" "$verb" "$sub" --help >>"$tmp/help" 2>&1
	done
	missing=""
	# the options a help text lists: "  --name ..." or "  -x, --name ..."
	for opt in $(grep -oE -- '^ +(-[a-zA-Z], )?--[a-z][a-z-]*' "$tmp/help" | grep -o -- '--[a-z-]*' | sort -u); do
		grep -q -- "$(printf '%s' "$opt" | sed 's/-/\\\\-/g')" "$page" || missing="$missing $opt"
	done
	[ -s "$tmp/help" ] && [ -z "$missing" ] && ok "$name names every option of cvm $verb --help" ||
		bad "$name does not name:$missing"
done
# every command of 'cvm --help' has its page, and cvm.1 names it
LC_ALL=C.UTF-8 groff -man -ww -z -Tutf8 "$top/docs/man/cvm.1" >"$tmp/groff.out" 2>&1
[ $? -eq 0 ] && [ ! -s "$tmp/groff.out" ] && ok "cvm renders without a warning" || { bad "cvm.1: groff"; cat "$tmp/groff.out"; }
"$cvm" --help >"$tmp/help" 2>&1
verbs=$(sed -n '/^Commands:/,/^$/s/^  \([a-z][a-z-]*\) .*/\1/p' "$tmp/help")
missing=""
for v in $verbs; do
	esc=$(printf '%s' "$v" | sed 's/-/\\-/g')
	[ -r "$top/docs/man/cvm-$v.1" ] && grep -qF ".BR cvm\\-$esc (1)" "$top/docs/man/cvm.1" ||
		missing="$missing $v"
done
[ -n "$verbs" ] && [ -z "$missing" ] && ok "every command of cvm --help has a page that cvm.1 names" ||
	bad "commands without a page or not in cvm.1:$missing"
[ "$pages" -ge 10 ] && ok "$pages manual pages" || bad "only $pages manual pages"

summary "cli man"

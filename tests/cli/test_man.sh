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
[ "$pages" -ge 5 ] && ok "$pages manual pages" || bad "only $pages manual pages"

summary "cli man"

#!/bin/sh
# docs/tutorial.md, run as written: every ```sh block of it, in order, in
# one shell (set -eu), in a scratch HOME, with this tree's build on the PATH.
# The tutorial's own last step stops its servers; so does this test if a
# step fails. Then what the tutorial says comes out is checked.
# usage: tests/e2e/test_tutorial.sh BUILD_DIR
set -u
build=${1:?usage: test_tutorial.sh BUILD_DIR}
top=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$top/$build/tmp/tutorial
rm -rf "$tmp" && mkdir -p "$tmp/home"
. "$top/tests/cli/lib.sh"
export PATH="$PATH:/usr/sbin:/sbin"

# the blocks, as the page shows them
awk '/^```sh$/ { on = 1; next } /^```/ { on = 0 } on' "$top/docs/tutorial.md" >"$tmp/steps.sh"
[ "$(grep -c '^```sh$' "$top/docs/tutorial.md")" -ge 10 ] && ok "the tutorial's sh blocks: $(grep -c '^```sh$' "$top/docs/tutorial.md")" ||
	bad "too few sh blocks in docs/tutorial.md"
work=$tmp/home/cvm-tutorial
cleanup() {
	[ -f "$work/pids" ] && kill $(cat "$work/pids") 2>/dev/null
	return 0
}
trap cleanup EXIT INT TERM
(cd "$top" && HOME="$tmp/home" CVM_SRC="$top" sh -eu "$tmp/steps.sh") >"$tmp/log" 2>&1
st=$?
[ $st -eq 0 ] && ok "every step ran as written, exit 0" || { bad "the tutorial stopped: exit $st"; tail -n 30 "$tmp/log"; }
[ "$(cat "$work/result/output/words.txt" 2>/dev/null)" = 7 ] && ok "the result opens, and says 7 as the page says" ||
	bad "result/output/words.txt"
grep -q '^sha256 [0-9a-f]\{64\}$' "$work/solution.pack" && grep -q '^luks_header_sha256 ' "$work/data.pack" &&
	ok "cvm pack printed what the order took" || bad "pack output"
[ ! -f "$work/pids" ] && ok "the clean-up step stopped the servers" || bad "pids left"
grep -q 'TEST ONLY' "$work/platform/TEST-ONLY" && ok "the platform says it is test only" || bad "TEST-ONLY"
summary "tutorial"

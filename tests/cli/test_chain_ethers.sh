#!/bin/sh
# chain/tx.c and chain/eip712.c against ethers 6, an independent signer
# (from npm; scripts/setup-deps installs it): tests/chain/ethers-vectors.mjs
# makes 50 random vectors of each kind (type-2 and legacy transactions,
# typed data, personal_sign messages, with random keys and fields), and
# test_chain_tx checks every one (CVM_CHAIN_ETHERS_VECTORS). Then one vector
# changed by a digit must fail it: the check checks. Skipped only when
# there is no node at all; no ethers is a failure.
set -u
cvm=${CVM_BIN:?}
tmp=${CVM_TEST_TMP:?}/cli-chain-ethers
rm -rf "$tmp" && mkdir -p "$tmp"
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$here/lib.sh"
npmdir=${CVM_NPM_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/cvm/npm}
unit=$(dirname "$cvm")/tests/test_chain_tx
count=50

if ! command -v node >/dev/null 2>&1; then
	echo "skip - no node: the ethers cross-check needs node (scripts/setup-deps installs it)"
	exit 0
fi
if [ ! -f "$npmdir/node_modules/ethers/package.json" ]; then
	bad "no ethers in $npmdir/node_modules (scripts/setup-deps installs it)"
	summary "cli chain ethers"
	exit 1
fi
if [ ! -x "$unit" ]; then
	bad "no $unit (make $unit)"
	summary "cli chain ethers"
	exit 1
fi

if node "$top/tests/chain/ethers-vectors.mjs" --ethers "$npmdir" "$count" \
	>"$tmp/vectors.txt" 2>"$tmp/gen.err"; then
	made=$(grep -vc '^#' "$tmp/vectors.txt")
	ok "$(head -n 1 "$tmp/vectors.txt" | sed 's/^# //') made $made vectors"
else
	bad "ethers-vectors.mjs failed"
	cat "$tmp/gen.err"
fi

want="ethers vectors: $count tx1559, $count legacy, $count typed, $count personal"
CVM_CHAIN_ETHERS_VECTORS="$tmp/vectors.txt" "$unit" >"$tmp/unit.out" 2>&1
rc=$?
if [ "$rc" -eq 0 ] && grep -q "$want" "$tmp/unit.out"; then
	ok "test_chain_tx agrees with ethers on every vector ($want)"
else
	bad "test_chain_tx on the ethers vectors: exit $rc"
	grep -E 'ERROR|FAILED|LINE|ethers vectors' "$tmp/unit.out"
fi

# the last hex digit of the first typed-data digest changed: the file check must fail
awk '!done && $1 == "typed" {
	c = substr($4, 64, 1)
	$4 = substr($4, 1, 63) (c == "0" ? "1" : "0")
	done = 1
} { print }' "$tmp/vectors.txt" >"$tmp/changed.txt"
if cmp -s "$tmp/vectors.txt" "$tmp/changed.txt"; then
	bad "no typed vector to change"
elif CVM_CHAIN_ETHERS_VECTORS="$tmp/changed.txt" "$unit" >"$tmp/changed.out" 2>&1; then
	bad "test_chain_tx passed a vector with a wrong digest"
else
	ok "a wrong digest in the file fails test_chain_tx"
fi

summary "cli chain ethers"

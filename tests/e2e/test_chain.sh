#!/bin/sh
# One order through the chain, end to end: the demo with --chain (scripts/
# demo-order): the Market contract on a local anvil node, three offers, the
# order placed with escrow, the provider's daemon running it in QEMU (TCG)
# and posting the result, the result checked against the chain and opened,
# confirmed, and each owner's pay withdrawn, balances checked to the wei.
# usage: tests/e2e/test_chain.sh BUILD_DIR
set -u
build=${1:?usage: test_chain.sh BUILD_DIR}
top=$(cd "$(dirname "$0")/../.." && pwd)
log=$top/$build/tmp/e2e-chain.log
mkdir -p "$(dirname "$log")"
if "$top/scripts/demo-order" "$build" --chain >"$log" 2>&1; then
	grep -c '^\$ ' "$log" | sed 's/^/e2e chain: ok, commands shown: /'
	grep -e "to the wei" -e "^== done" "$log"
	echo "e2e chain: 1 passed, 0 failed"
else
	tail -n 40 "$log"
	echo "e2e chain: 0 passed, 1 failed (the whole log: $log)"
	exit 1
fi

#!/bin/sh
# The JSON-RPC client (chain/rpc.c) against a real local EVM node: anvil,
# from npm (scripts/setup-deps installs it), started on a port of its own
# choice, then the unit test's node tests (tests/unit/test_chain_rpc.c,
# which skip without CVM_TEST_ANVIL_URL): chain id, head, balance and nonce
# of a development account, fees, transactions with their receipts and
# logs, confirmations, snapshot, revert and mining. Without node at all the
# test is skipped; with node but no anvil it fails.
set -u
bin=${CVM_BIN:?}
tmp=${CVM_TEST_TMP:?}/cli-chain-rpc
rm -rf "$tmp" && mkdir -p "$tmp"
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
py=/usr/bin/python3
unit=$(dirname "$bin")/tests/test_chain_rpc
npmdir=${CVM_NPM_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/cvm/npm}
anvil=$(anvil_path "$npmdir")
pid=""
cleanup() {
	# anvil itself, not its npm wrapper (lib.sh: anvil_path), so that it ends
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	return 0
}
trap cleanup EXIT INT TERM

if ! command -v node >/dev/null 2>&1; then
	echo "skip - no node on PATH: no anvil to run (scripts/setup-deps installs both)"
	summary "cli chain rpc"
	exit
fi
if [ ! -x "$anvil" ]; then
	bad "no anvil in $npmdir (scripts/setup-deps installs @foundry-rs/anvil)"
	summary "cli chain rpc"
	exit 1
fi
if [ ! -x "$unit" ]; then
	bad "no $unit (make $(dirname "$bin")/tests/test_chain_rpc)"
	summary "cli chain rpc"
	exit 1
fi

# start PORT: anvil on 127.0.0.1:PORT (0: a port the kernel picks, which anvil
# reports as "Listening on 127.0.0.1:N"); sets pid and port, or fails
start() {
	"$anvil" --host 127.0.0.1 --port "$1" >"$tmp/anvil.log" 2>&1 &
	pid=$!
	i=0
	port=""
	while [ -z "$port" ]; do
		port=$(sed -n 's/^Listening on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$tmp/anvil.log")
		i=$((i + 1))
		if [ -z "$port" ] && { [ $i -gt 300 ] || ! kill -0 "$pid" 2>/dev/null; }; then
			kill "$pid" 2>/dev/null
			wait "$pid" 2>/dev/null
			pid=""
			return 1
		fi
		[ -n "$port" ] || sleep 0.1
	done
}

# a port of anvil's choice; else (an anvil that does not take 0) drawn ports, a few times
if ! start 0; then
	for _ in 1 2 3; do
		start "$(free_port)" && break
	done
fi
if [ -z "$pid" ]; then
	bad "anvil did not start"
	cat "$tmp/anvil.log"
	summary "cli chain rpc"
	exit 1
fi
url=http://127.0.0.1:$port

# answers URL: whether eth_chainId answers 0x7a69 (31337, anvil's chain)
answers() {
	$py -c 'import json, sys, urllib.request
req = urllib.request.Request(sys.argv[1], json.dumps({"jsonrpc": "2.0", "id": 1,
      "method": "eth_chainId", "params": []}).encode(), {"Content-Type": "application/json"})
sys.exit(json.load(urllib.request.urlopen(req, timeout=2)).get("result") != "0x7a69")' "$1" 2>/dev/null
}
i=0
until answers "$url"; do
	i=$((i + 1))
	if [ $i -gt 100 ]; then
		bad "anvil on $url does not answer"
		cat "$tmp/anvil.log"
		summary "cli chain rpc"
		exit 1
	fi
	sleep 0.1
done
ok "anvil answers on $url"

CVM_TEST_ANVIL_URL=$url "$unit" >"$tmp/unit.log" 2>&1
rc=$?
if [ $rc -ne 0 ]; then
	bad "test_chain_rpc against anvil: exit $rc"
	cat "$tmp/unit.log"
elif grep -q "SKIPPED" "$tmp/unit.log"; then
	bad "test_chain_rpc skipped its node tests with CVM_TEST_ANVIL_URL set"
	grep "SKIPPED" "$tmp/unit.log"
else
	ok "test_chain_rpc against anvil: $(grep -c '^\[       OK \]' "$tmp/unit.log") tests passed"
fi
grep -q '^\[       OK \] test_anvil_transactions$' "$tmp/unit.log" &&
	ok "transactions, receipts, logs and confirmations on a real node" ||
	bad "test_anvil_transactions did not pass"

# the node down: its port freed, the client names the refusal
cleanup
pid=""
CVM_TEST_ANVIL_URL=$url "$unit" >"$tmp/down.log" 2>&1 &&
	bad "test_chain_rpc passed against a node that is down" ||
	{ grep -q "connection refused" "$tmp/down.log" &&
		ok "a node that is down: connection refused, named" ||
		bad "a node that is down: $(grep -m1 'rpc:' "$tmp/down.log")"; }

summary "cli chain rpc"

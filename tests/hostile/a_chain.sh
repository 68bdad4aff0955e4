# A node that lies to the chain's verbs (tests/cli/evil_node.py): answers
# that are not JSON-RPC, oversized, slow, quantities negative, overflowing or
# not canonical, a contract whose answers do not decode (short, an offset or
# a count past the answer, an address wider than 20 bytes), logs of another
# contract or event or too many of them, a transaction hash or a receipt of
# another transaction, a transaction that failed. Each is refused by name,
# exit 3, and no key reaches what the commands print.
# shellcheck shell=sh

py=/usr/bin/python3
here=$top/tests/cli
key=59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d
(umask 077 && echo "$key" >"$tmp/provider.key")
secret "$key"
contract=0x5FbDB2315678afecb367f032d93F642f64180aa3
node_pids=""
: >"$tmp/ports"
for mode in garbage big slow types negative overflow leadingzero wrongid escape abi-short abi-offset \
	abi-address abi-count log-topic log-flood foreign-log lying-hash receipt-other receipt-reverted \
	balance-huge; do
	p=$(free_port)
	$py "$here/evil_node.py" "$p" "$mode" &
	node_pids="$node_pids $!"
	echo "$mode $p" >>"$tmp/ports"
done
for mode in garbage abi-short log-flood; do
	wait_port "$(sed -n "s/^$mode //p" "$tmp/ports")"
done
url() { echo "http://127.0.0.1:$(sed -n "s/^$1 //p" "$tmp/ports")"; }
status() {
	sm=$1
	shift
	"$cvm" order status 1 --contract "$contract" --rpc "$(url "$sm")" "$@"
}
watch() {
	rm -rf "$tmp/state"
	mkdir -p "$tmp/orders"
	"$cvm" provider watch --once --key "$tmp/provider.key" --contract "$contract" --orders "$tmp/orders" \
		--state "$tmp/state" --from-block 0 --confirmations 1 --rpc "$(url "$1")"
}
accept() { "$cvm" provider accept 1 --key "$tmp/provider.key" --contract "$contract" --rpc "$(url "$1")"; }

attack "not JSON-RPC" 3 "not JSON-RPC 2.0" -- status garbage
attack "an answer of 5 MiB" 3 "larger than" -- status big
attack "no answer" 3 "within 500 ms" -- status slow --rpc-timeout-ms 500
attack "a quantity as a JSON number" 3 "eth_chainId.*not a quantity" -- status types
attack "a negative quantity" 3 "eth_chainId" -- status negative
attack "a quantity over 64 bits" 3 "eth_chainId" -- status overflow
attack "a quantity with a leading zero" 3 "eth_chainId" -- status leadingzero
attack "the answer to another request" 3 "answer to another request" -- status wrongid
attack "an error message with escapes and a newline" 3 "node error -32000: bad\?\[2J\?FAKE" -- status escape
attack "the contract answers 31 bytes" 3 "getOrder" -- status abi-short
attack "an array offset past the answer" 3 "getOrder" -- status abi-offset
attack "an address wider than 20 bytes" 3 "getOrder" -- status abi-address
attack "an array of 2^64 items" 3 "getOrder" -- status abi-count
attack "a balance over 256 bits" 3 "eth_getBalance" -- \
	"$cvm" chain balance --address "$contract" --rpc "$(url balance-huge)"
attack "a log under another event's topic" 3 "eth_getLogs" -- watch log-topic
attack "10,001 logs" 3 "eth_getLogs" -- watch log-flood
attack "a log of another contract" 3 "eth_getLogs" -- watch foreign-log
attack "a transaction hash that is not the transaction's" 3 "eth_sendRawTransaction" -- accept lying-hash
attack "the receipt of another transaction" 3 "eth_getTransactionReceipt" -- accept receipt-other
attack "a transaction that failed" 3 "failed \(status 0\)" -- accept receipt-reverted
no_secret "the provider's key in its state" "$tmp/state" "$tmp/orders"

for p in $node_pids; do kill "$p" 2>/dev/null; done
for p in $node_pids; do wait "$p" 2>/dev/null; done

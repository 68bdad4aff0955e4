#!/bin/sh
# The Market contract on a real local EVM node (anvil, from npm; scripts/
# setup-deps installs it): deploy, offers, an order placed with escrow, the
# provider's daemon accepting it and posting a result kept from a run, the
# result checked against the chain, confirmation and payment, balances to
# the wei. Then the refusals: a result posted by another address, a bundle
# that is not the result posted, a refund before the deadline (and after
# it), a replayed transaction, a reorganisation (the node's snapshot and
# revert) that drops an order, and a node that is down, slow or hostile.
# The QEMU run of a chain order is the demo's (scripts/demo-order --chain).
set -u
cvm=${CVM_BIN:?}
cvmt=${CVM_TEST_BIN:?}
pki=${CVM_TEST_PKI:?}
tmp=${CVM_TEST_TMP:?}/cli-chain-market
rm -rf "$tmp" && mkdir -p "$tmp"
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$here/lib.sh"
py=/usr/bin/python3
npmdir=${CVM_NPM_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/cvm/npm}
anvil=$(anvil_path "$npmdir")
pids=""
cleanup() { for p in $pids; do kill "$p" 2>/dev/null; done; return 0; }
trap cleanup EXIT INT TERM

if [ ! -x "$anvil" ]; then
	bad "no anvil in $npmdir (scripts/setup-deps installs @foundry-rs/anvil)"
	summary "cli chain market"
	exit 1
fi
port=$(free_port)
"$anvil" --host 127.0.0.1 --port "$port" --silent >"$tmp/anvil.log" 2>&1 &
pids="$pids $!"
url=http://127.0.0.1:$port
# rpc METHOD PARAMS_JSON: the node's result, as JSON
rpc() {
	$py -c 'import json, sys, urllib.request
req = urllib.request.Request(sys.argv[1], json.dumps({"jsonrpc": "2.0", "id": 1, "method": sys.argv[2],
      "params": json.loads(sys.argv[3])}).encode(), {"Content-Type": "application/json"})
a = json.load(urllib.request.urlopen(req, timeout=10))
print(json.dumps(a.get("result", a.get("error"))))' "$url" "$1" "$2"
}
i=0
until rpc eth_chainId '[]' >/dev/null 2>&1; do
	i=$((i + 1))
	[ $i -gt 100 ] && { bad "anvil did not start"; cat "$tmp/anvil.log"; summary "cli chain market"; exit 1; }
	sleep 0.1
done
ok "anvil answers on $url"
# j FILE EXPR: a value of a JSON file
j() { $py -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }

# anvil's well-known development accounts (its default mnemonic): keys in files, never in argv
mkkey() { (umask 077 && printf '%s\n' "$2" >"$tmp/$1.key"); }
mkkey deployer ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80
mkkey provider 59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d
mkkey solution 5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a
mkkey data 7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6
mkkey customer 47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a
mkkey other 8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba
[ "$("$cvm" chain address --key "$tmp/deployer.key")" = 0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266 ] &&
	[ "$("$cvm" chain address --key "$tmp/provider.key")" = 0x70997970C51812dc3A010C7d01b50e0d17dc79C8 ] &&
	ok "chain address: anvil's account addresses, EIP-55" || bad "chain address"
"$cvm" keygen -o "$tmp/fresh.key" >/dev/null &&
	"$cvm" chain address --key "$tmp/fresh.key" | grep -q '^0x[0-9a-fA-F]\{40\}$' &&
	ok "chain address: a key of cvm keygen" || bad "chain address of a keygen key"

c() { "$cvm" "$@" --rpc "$url"; }
expect "an unknown option: one line" 2 "unknown or incomplete option '--bogus'" -- c chain deploy --bogus
expect "provider: an unknown option: one line" 2 "unknown or incomplete option '--bogus'" -- \
	"$cvm" provider watch --bogus
expect "deploy: needs --key" 2 "--key FILE is required" -- c chain deploy
expect "deploy" 0 "" -- c chain deploy --key "$tmp/deployer.key" --challenge-window 60
cp "$tmp/out" "$tmp/deploy.json"
contract=$(j "$tmp/deploy.json" 'd["contract"]')
[ "$(j "$tmp/deploy.json" 'd["chain_id"]')" = 31337 ] && ok "deploy: chain 31337, contract $contract" ||
	bad "deploy: $(cat "$tmp/deploy.json")"
m() { c "$@" --contract "$contract"; }
expect "a node of another chain is refused" 2 "is chain 31337, not 1" -- m order status 1 --chain-id 1

# ---- offers ----
kernel=$(ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1)
"$cvm" keygen -o "$tmp/builder.key" >/dev/null
mkdir -p "$tmp/images"
"$cvm" image build "$top/vm-images/default" -o "$tmp/images/default" --key "$tmp/builder.key" \
	--kver "${kernel#/boot/vmlinuz-}" --file cvm-agent="$(dirname "$cvm")/cvm-agent" --platforms tdx \
	>/dev/null 2>"$tmp/err" || { bad "image build"; cat "$tmp/err"; }
sol_h=$(printf 'the solution LUKS2 header' | sha256sum | cut -c1-64)
data_h=$(printf 'the data LUKS2 header' | sha256sum | cut -c1-64)
expect "offer: compute needs --platforms" 2 "needs --platforms" -- \
	m offer register --key "$tmp/provider.key" --kind compute --manifest "$tmp/images/default/manifest.json" \
	--price-per-hour 1
expect "offer: unknown platform" 2 "unknown platform 'sgx'" -- \
	m offer register --key "$tmp/provider.key" --kind compute --platforms sgx --price-per-hour 1 \
	--manifest "$tmp/images/default/manifest.json"
expect "offer: a price that is not wei" 2 "not a whole number of wei" -- \
	m offer register --key "$tmp/solution.key" --kind solution --header-sha256 "$sol_h" --price 1.5 \
	--broker https://127.0.0.1:1
expect "offer register compute" 0 '"offer":1' -- \
	m offer register --key "$tmp/provider.key" --kind compute --platforms tdx,snp --price-per-hour 1000000000000000 \
	--manifest "$tmp/images/default/manifest.json"
expect "offer register solution" 0 '"offer":2' -- \
	m offer register --key "$tmp/solution.key" --kind solution --header-sha256 "$sol_h" --price 30000000000000 \
	--broker https://127.0.0.1:8443
expect "offer: a data offer that allows a compute offer is refused by the contract" 1 \
	"an allowed offer is not a solution" -- \
	m offer register --key "$tmp/data.key" --kind data --header-sha256 "$data_h" --price 7 \
	--broker https://127.0.0.1:8444 --allow 1
expect "offer register data, allowing the solution" 0 '"offer":3' -- \
	m offer register --key "$tmp/data.key" --kind data --header-sha256 "$data_h" --price 20000000000000 \
	--broker https://127.0.0.1:8444 --allow 2
expect "offer show" 0 '"allowed_solutions":\[2\]' -- m offer show 3
expect "offer show: no such offer" 1 "no such offer" -- m offer show 9

# ---- the customer's order ----
sign_order() { # ID OUT [solution header] [deadline seconds]
	cat >"$tmp/order.u.json" <<EOO
{"version": 2, "id": "$1", "image": "default", "vcpus": 1, "memory_mib": 1024, "deadline_seconds": ${4:-600},
 "inputs": [{"name": "solution", "role": "solution",
             "volume": {"url": "https://f.example.com/s.img", "sha256": "$(printf '%064d' 0)", "size": 4096,
                        "luks_header_sha256": "${3:-$sol_h}"},
             "broker": {"url": "https://127.0.0.1:8443", "resource": "a/b/c", "spki_sha256": "$(printf '%064d' 1)"}},
            {"name": "data", "role": "data",
             "volume": {"url": "https://f.example.com/d.img", "sha256": "$(printf '%064d' 2)", "size": 4096,
                        "luks_header_sha256": "$data_h"},
             "broker": {"url": "https://127.0.0.1:8444", "resource": "d/e/f", "spki_sha256": "$(printf '%064d' 3)"}}],
 "result": {"upload_url": "https://f.example.com/r"}}
EOO
	"$cvm" order sign "$tmp/order.u.json" --key "$tmp/customer.key" -o "$2" >/dev/null
}
sign_order chain-1 "$tmp/order1.json"
sign_order chain-2 "$tmp/order2.json"
sign_order chain-3 "$tmp/order3.json"
sign_order chain-x "$tmp/orderx.json" "$(printf '%064d' 9)"
sha_of() { "$cvm" order check "$1" | sed -n 's/^sha256 //p'; }
expect "place: the payer must be the order's customer" 1 "customer_pubkey is not --key's" -- \
	m order place "$tmp/order1.json" --key "$tmp/other.key" --compute 1 --input 2,3
expect "place: an input offer that is not the order's" 1 "no input of the order has its LUKS2 header" -- \
	m order place "$tmp/orderx.json" --key "$tmp/customer.key" --compute 1 --input 2,3
sign_order chain-long "$tmp/order-long.json" "" 7300
expect "place: hours that do not cover the order's deadline" 1 "buys 7200 s of compute" -- \
	m order place "$tmp/order-long.json" --key "$tmp/customer.key" --compute 1 --input 2,3 --hours 2
expect "place: a compute offer as input" 1 "" -- \
	m order place "$tmp/order1.json" --key "$tmp/customer.key" --compute 1 --input 1,3
bal() { c chain balance --address "$1" --contract "$contract" >"$tmp/bal.json" && j "$tmp/bal.json" "int(d[\"$2\"])"; }
customer=$("$cvm" chain address --key "$tmp/customer.key")
provider=$("$cvm" chain address --key "$tmp/provider.key")
solution=$("$cvm" chain address --key "$tmp/solution.key")
data=$("$cvm" chain address --key "$tmp/data.key")
cb0=$(bal "$customer" balance_wei)
expect "place: 2 hours of compute, the solution and the data, in escrow" 0 '"order":1' -- \
	m order place "$tmp/order1.json" --key "$tmp/customer.key" --compute 1 --input 2,3 --hours 2
cp "$tmp/out" "$tmp/place1.json"
escrow=$((2 * 1000000000000000 + 30000000000000 + 20000000000000))
[ "$(j "$tmp/place1.json" 'd["escrow_wei"]')" = "$escrow" ] && ok "escrow: the quote, $escrow wei" ||
	bad "escrow: $(cat "$tmp/place1.json")"
[ "$(j "$tmp/place1.json" 'd["order_sha256"][2:]')" = "$(sha_of "$tmp/order1.json")" ] &&
	ok "the order's digest on the chain is its signed form's SHA-256" || bad "order digest"
fee=$(j "$tmp/place1.json" 'int(d["gas_used"]) * int(d["effective_gas_price"])')
cb1=$(bal "$customer" balance_wei)
$py -c "import sys; sys.exit(0 if $cb0 - $escrow - $fee == $cb1 else 1)" &&
	ok "the customer paid the escrow and the gas, to the wei" || bad "customer balance: $cb0 -> $cb1"
expect "status: placed" 0 '"state":"placed"' -- m order status 1
expect "refund before the deadline is refused" 1 "deadline not passed" -- \
	m order refund 1 --key "$tmp/customer.key"

# ---- the order as EIP-712 typed data, signed by a wallet (ethers, from npm) ----
expect "typed-data: the order for a wallet" 0 '"digest":"0x' -- \
	"$cvm" order typed-data "$tmp/order1.json" --compute 1 --input 2,3 --hours 2 --chain-id 31337 \
	--contract "$contract" -o "$tmp/typed.json"
wallet_sign() { # TYPED.json KEYFILE: the wallet's signature (eth_signTypedData_v4)
	NODE_PATH=$npmdir/node_modules node -e '
const { Wallet } = require("ethers");
const fs = require("fs");
const t = JSON.parse(fs.readFileSync(process.argv[1]));
const w = new Wallet("0x" + fs.readFileSync(process.argv[2], "utf8").trim());
delete t.types.EIP712Domain;
w.signTypedData(t.domain, t.types, t.message).then((s) => console.log(s));' "$1" "$2"
}
sig=$(wallet_sign "$tmp/typed.json" "$tmp/customer.key")
expect "check-typed: the wallet's signature is the customer's, over this order" 0 "\"signer\":\"$customer\"" -- \
	"$cvm" order check-typed "$tmp/typed.json" --signature "$sig" --order "$tmp/order1.json" --signer "$customer"
$py -c 'import json,sys; t=json.load(open(sys.argv[1])); t["message"]["hours"]=3; json.dump(t, open(sys.argv[2], "w"))' \
	"$tmp/typed.json" "$tmp/typed3.json"
expect "check-typed: typed data changed after signing is not the signer's" 1 "signed by 0x" -- \
	"$cvm" order check-typed "$tmp/typed3.json" --signature "$sig" --signer "$customer"
expect "check-typed: the typed data of another order" 1 "not the typed data of the order" -- \
	"$cvm" order check-typed "$tmp/typed.json" --signature "$sig" --order "$tmp/order2.json"
expect "check-typed: a signature that is not 65 bytes" 2 "65 bytes" -- \
	"$cvm" order check-typed "$tmp/typed.json" --signature 0x1234

# ---- a result, as the agent seals it (sim TDX quote), kept in the order's run directory ----
pub=$("$cvm" result --help >/dev/null 2>&1; $py -c '
import sys
from cryptography.hazmat.primitives import serialization as s
k = bytes.fromhex(open(sys.argv[1]).read().strip())
from cryptography.hazmat.primitives.asymmetric import ec
p = ec.derive_private_key(int.from_bytes(k, "big"), ec.SECP256K1())
print(p.public_key().public_bytes(s.Encoding.X962, s.PublicFormat.CompressedPoint).hex())' "$tmp/customer.key")
mrtd=$($py -c 'print(bytes(range(48)).hex())')
sim_evidence_cmd "$tmp/ev.sh" "$cvmt" "$pki" "$mrtd" log
mkdir -p "$tmp/stage/output"
echo "the answer" >"$tmp/stage/output/answer.txt"
seal() { # ORDER OUT
	$py "$here/seal_result.py" --recipient "$pub" --order-id "$(j "$1" 'd["id"]')" --order "$1" \
		--stage "$tmp/stage" --evidence-cmd "$tmp/ev.sh" "$2" >/dev/null 2>"$tmp/err" || cat "$tmp/err"
}
seal "$tmp/order1.json" "$tmp/r1.cvmr"
seal "$tmp/order2.json" "$tmp/r2.cvmr"
# the daemon's work directory of an order: its id and 16 hex digits of its digest
rundir() { echo "$tmp/state/orders/$1-$(sha_of "$2" | cut -c1-16)/run"; }
mkdir -p "$tmp/orders" "$(rundir 1 "$tmp/order1.json")"
cp "$tmp/r1.cvmr" "$(rundir 1 "$tmp/order1.json")/result.cvmr"
watch() { # KEY [options]: one round of the provider's daemon
	k=$1
	shift
	m provider watch --once --key "$k" --orders "$tmp/orders" --state "$tmp/state" --images "$tmp/images" \
		--from-block 0 "$@"
}
expect "watch: an order whose document has not come yet waits" 0 "waiting for its signed order" -- \
	watch "$tmp/provider.key" --confirmations 1
expect "status: still placed" 0 '"state":"placed"' -- m order status 1
cp "$tmp/order1.json" "$tmp/orders/$(sha_of "$tmp/order1.json").json"
expect "watch: accepts it and posts the result kept from its run" 0 "result posted" -- \
	watch "$tmp/provider.key" --confirmations 1
grep -q "kept from an earlier run" "$tmp/err" && ok "watch: the kept result is posted, not made again" ||
	bad "watch did not say the result was kept"
expect "status: resulted" 0 '"state":"resulted"' -- m order status 1
[ "$(j "$tmp/out" 'd["result_sha256"][2:]')" = "$(sha256sum <"$tmp/r1.cvmr" | cut -c1-64)" ] &&
	ok "the posted result is the bundle's SHA-256" || bad "result digest: $(cat "$tmp/out")"
grep -rq "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d" "$tmp/state" &&
	bad "the provider's key reached its state directory" || ok "no key in the daemon's state"
next=$(j "$tmp/state/watch.json" 'd["next_block"]')
expect "watch again: nothing more to do" 0 "" -- watch "$tmp/provider.key" --confirmations 1
grep -q "watching from block $next\$" "$tmp/err" && [ "$next" -gt 1 ] &&
	ok "watch again resumes from the block after the last one done ($next), not --from-block 0" ||
	bad "watch did not resume from $next: $(head -n 1 "$tmp/err")"
grep -q "posting\|accepting" "$tmp/err" && bad "watch did something twice" || ok "watch again: nothing twice"

# the result against the chain
inspect() { "$cvm" result inspect "$@" --test-roots "$pki/tdx/roots.pem"; }
expect "result inspect --rpc: the posted bundle passes the chain's check" 0 "" -- \
	inspect "$tmp/r1.cvmr" --rpc "$url" --contract "$contract" --chain-order 1
seal "$tmp/order1.json" "$tmp/r1b.cvmr"
expect "result inspect --rpc: another bundle of the same order is not the result posted" 1 \
	"E_RESULT_CHAIN: the bundle's SHA-256 is not the result posted for order 1" -- \
	inspect "$tmp/r1b.cvmr" --rpc "$url" --contract "$contract" --chain-order 1
expect "result inspect --rpc: a bundle of another order" 1 \
	"E_RESULT_CHAIN: the bundle is for another order than the chain's order 1" -- \
	inspect "$tmp/r2.cvmr" --rpc "$url" --contract "$contract" --chain-order 1
expect "result inspect --rpc: an order that is not on the chain" 1 "order 2 is not on the chain" -- \
	inspect "$tmp/r2.cvmr" --rpc "$url" --contract "$contract" --chain-order 2
expect "result inspect --rpc: the three go together" 2 "go together" -- \
	inspect "$tmp/r1.cvmr" --rpc "$url" --chain-order 1

# ---- a result posted by another address; the replayed transaction ----
expect "place order 2" 0 '"order":2' -- m order place "$tmp/order2.json" --key "$tmp/customer.key" --compute 1 --input 2,3
cp "$tmp/out" "$tmp/place2.json"
expect "accept by another address is refused" 1 "not the order's provider" -- \
	m provider accept 2 --key "$tmp/other.key"
expect "a fee over --max-fee-per-gas is not paid" 1 "over --max-fee-per-gas 1" -- \
	m provider accept 2 --key "$tmp/provider.key" --max-fee-per-gas 1
expect "accept by hand" 0 '"order":2' -- m provider accept 2 --key "$tmp/provider.key"
expect "result inspect --rpc: an order with no result posted" 1 "order 2 is accepted: no result was posted" -- \
	inspect "$tmp/r2.cvmr" --rpc "$url" --contract "$contract" --chain-order 2
expect "a result posted by another address is refused" 1 "not the order's provider" -- \
	m provider post 2 --result "$tmp/r2.cvmr" --key "$tmp/other.key"
tx=$(j "$tmp/place2.json" 'd["tx"]')
rpc eth_getTransactionByHash "[\"$tx\"]" >"$tmp/tx2.json"
count0=$(rpc eth_call "[{\"to\": \"$contract\", \"data\": \"0x2453ffa8\"}, \"latest\"]")
$py "$here/raw_tx.py" "$tmp/tx2.json" >"$tmp/raw2" && rpc eth_sendRawTransaction "[\"$(cat "$tmp/raw2")\"]" >"$tmp/replay.json"
count1=$(rpc eth_call "[{\"to\": \"$contract\", \"data\": \"0x2453ffa8\"}, \"latest\"]")
grep -qi "nonce\|known" "$tmp/replay.json" && [ "$count0" = "$count1" ] &&
	ok "a replayed transaction is refused by the node; still $count1 orders" ||
	bad "replay: $(cat "$tmp/replay.json") $count0 $count1"

# ---- confirm, settle, payment and withdrawal to the wei ----
expect "confirm by another address is refused" 1 "not the order's customer" -- m order confirm 1 --key "$tmp/other.key"
expect "settle inside the challenge window is refused" 1 "challenge window open" -- m order settle 1 --key "$tmp/other.key"
expect "confirm" 0 '"state":"paid"' -- m order confirm 1 --key "$tmp/customer.key"
expect "confirm twice is refused" 1 "no result" -- m order confirm 1 --key "$tmp/customer.key"
[ "$(bal "$provider" owed_wei)" = 2000000000000000 ] && [ "$(bal "$solution" owed_wei)" = 30000000000000 ] &&
	[ "$(bal "$data" owed_wei)" = 20000000000000 ] &&
	ok "paid: each offer's owner is owed its price (the provider 2 hours)" || bad "owed after confirm"
pb0=$(bal "$provider" balance_wei)
expect "withdraw" 0 '"withdrawn_wei":"2000000000000000"' -- m chain withdraw --key "$tmp/provider.key"
fee=$(j "$tmp/out" 'int(d["gas_used"]) * int(d["effective_gas_price"])')
pb1=$(bal "$provider" balance_wei)
$py -c "import sys; sys.exit(0 if $pb0 + 2000000000000000 - $fee == $pb1 else 1)" &&
	[ "$(bal "$provider" owed_wei)" = 0 ] &&
	ok "the provider withdrew its pay, to the wei" || bad "provider balance: $pb0 -> $pb1"

# ---- a refund once the deadline passed ----
expect "place order 3, to expire" 0 '"order":3' -- \
	m order place "$tmp/order3.json" --key "$tmp/customer.key" --compute 1 --input 3,2 --expires-in 60
escrow=$(j "$tmp/out" 'd["escrow_wei"]')
rpc evm_increaseTime '[120]' >/dev/null && rpc evm_mine '[]' >/dev/null
expect "accept after the deadline is refused" 1 "deadline passed" -- m provider accept 3 --key "$tmp/provider.key"
cb0=$(bal "$customer" balance_wei)
expect "refund after the deadline" 0 '"state":"refunded"' -- m order refund 3 --key "$tmp/customer.key"
fee=$(j "$tmp/out" 'int(d["gas_used"]) * int(d["effective_gas_price"])')
cb1=$(bal "$customer" balance_wei)
$py -c "import sys; sys.exit(0 if $cb0 + $escrow - $fee == $cb1 else 1)" &&
	ok "the refund is the escrow, to the wei" || bad "refund: $cb0 -> $cb1"
expect "refund twice is refused" 1 "not refundable" -- m order refund 3 --key "$tmp/customer.key"

# ---- a reorganisation drops an order ----
sign_order chain-4 "$tmp/order4.json"
cp "$tmp/order4.json" "$tmp/orders/$(sha_of "$tmp/order4.json").json"
snap=$(rpc evm_snapshot '[]')
expect "place order 4" 0 '"order":4' -- m order place "$tmp/order4.json" --key "$tmp/customer.key" --compute 1 --input 2,3
expect "watch, 3 confirmations: order 4 is not deep enough" 0 "" -- watch "$tmp/provider.key" --confirmations 3
grep -q "order 4" "$tmp/err" && bad "watch took a shallow order: $(cat "$tmp/err")" || ok "watch leaves a shallow order"
rpc evm_revert "[$snap]" | grep -q true && ok "the node reverts to before order 4" || bad "evm_revert"
for _ in 1 2 3 4 5; do rpc evm_mine '[]' >/dev/null; done
expect "watch after the reorganisation" 0 "" -- watch "$tmp/provider.key" --confirmations 3
expect "order 4 is not on the chain" 1 "no such order" -- m order status 4
[ -z "$(ls "$tmp/state/orders" | grep '^4-')" ] && ok "the dropped order was never accepted or run" ||
	bad "the daemon kept a dropped order"
# the same with one confirmation: taken, dropped, placed again; posted once more, never run again
seal "$tmp/order4.json" "$tmp/r4.cvmr"
snap=$(rpc evm_snapshot '[]')
m order place "$tmp/order4.json" --key "$tmp/customer.key" --compute 1 --input 2,3 >/dev/null
mkdir -p "$(rundir 4 "$tmp/order4.json")" && cp "$tmp/r4.cvmr" "$(rundir 4 "$tmp/order4.json")/result.cvmr"
expect "watch, 1 confirmation: order 4 taken" 0 "result posted" -- watch "$tmp/provider.key" --confirmations 1
rpc evm_revert "[$snap]" >/dev/null
for _ in 1 2; do rpc evm_mine '[]' >/dev/null; done
m order place "$tmp/order4.json" --key "$tmp/customer.key" --compute 1 --input 2,3 >/dev/null
expect "watch sees the reorganisation and posts the kept result again" 0 "no longer the one done" -- \
	watch "$tmp/provider.key" --confirmations 1
grep -q "kept from an earlier run" "$tmp/err" && grep -q "result posted" "$tmp/err" &&
	ok "after the reorganisation: posted from the kept result, not run again" || bad "reorg: $(cat "$tmp/err")"
pw0=$(bal "$provider" owed_wei)
m order confirm 4 --key "$tmp/customer.key" >/dev/null
[ "$(($(bal "$provider" owed_wei) - pw0))" = 1000000000000000 ] && ok "order 4 paid once" || bad "order 4 pay"

# ---- an order the contract will not let the provider accept does not hold up the next ----
# (the chain's clock runs 120 s ahead of this machine's since order 3: order 5's deadline is
# still ahead here, and behind on the chain once it moves on 150 s more)
for n in 5 6; do
	sign_order chain-$n "$tmp/order$n.json"
	cp "$tmp/order$n.json" "$tmp/orders/$(sha_of "$tmp/order$n.json").json"
done
seal "$tmp/order6.json" "$tmp/r6.cvmr"
mkdir -p "$(rundir 6 "$tmp/order6.json")" && cp "$tmp/r6.cvmr" "$(rundir 6 "$tmp/order6.json")/result.cvmr"
expect "place order 5, to expire on the chain first" 0 '"order":5' -- \
	m order place "$tmp/order5.json" --key "$tmp/customer.key" --compute 1 --input 2,3 --expires-in 200
rpc evm_increaseTime '[150]' >/dev/null && rpc evm_mine '[]' >/dev/null
expect "place order 6" 0 '"order":6' -- m order place "$tmp/order6.json" --key "$tmp/customer.key" --compute 1 --input 2,3
expect "watch: order 5, past its deadline on the chain, waits; order 6 is done" 0 \
	"order 6: result posted" -- watch "$tmp/provider.key" --confirmations 1
grep -q "order 5: tried again in later rounds" "$tmp/err" && grep -q "deadline passed" "$tmp/err" &&
	ok "the contract's refusal of order 5 is named, and the order kept for the next rounds" ||
	bad "order 5: $(cat "$tmp/err")"

# ---- the daemon running: it takes an order placed while it runs, and stops on SIGTERM ----
sign_order chain-7 "$tmp/order7.json"
cp "$tmp/order7.json" "$tmp/orders/$(sha_of "$tmp/order7.json").json"
seal "$tmp/order7.json" "$tmp/r7.cvmr"
mkdir -p "$(rundir 7 "$tmp/order7.json")" && cp "$tmp/r7.cvmr" "$(rundir 7 "$tmp/order7.json")/result.cvmr"
"$cvm" provider watch --key "$tmp/provider.key" --orders "$tmp/orders" --state "$tmp/state" \
	--images "$tmp/images" --confirmations 1 --poll-ms 200 --rpc "$url" --contract "$contract" \
	2>"$tmp/daemon.log" &
daemon=$!
m order place "$tmp/order7.json" --key "$tmp/customer.key" --compute 1 --input 2,3 >/dev/null
i=0
until m order status 7 2>/dev/null | grep -q '"state":"resulted"'; do
	i=$((i + 1))
	[ $i -gt 150 ] && break
	sleep 0.2
done
kill -TERM "$daemon"
wait "$daemon"
rc=$?
[ $i -le 150 ] && grep -q "order 7: result posted" "$tmp/daemon.log" && [ $rc -eq 0 ] &&
	ok "the daemon takes an order placed while it runs, and exits 0 on SIGTERM" ||
	bad "daemon: exit $rc, $(cat "$tmp/daemon.log")"
[ "$(grep -c "order 2: waiting for its signed order" "$tmp/daemon.log")" -le 1 ] &&
	ok "an order waiting for its document is said once, not each round" || bad "the daemon repeats itself"

# ---- a node that is down, slow or hostile ----
dead=$(free_port)
expect "node down: one line, exit 3" 3 "connection refused" -- \
	"$cvm" order status 1 --rpc "http://127.0.0.1:$dead" --contract "$contract"
evil() { # MODE: its port
	sed -n "s/^$1 //p" "$tmp/evil.ports"
}
: >"$tmp/evil.ports"
for mode in slow garbage big types negative overflow leadingzero wrongid escape foreign-log lying-hash; do
	p=$(free_port)
	$py "$here/evil_node.py" "$p" "$mode" &
	pids="$pids $!"
	echo "$mode $p" >>"$tmp/evil.ports"
done
sleep 1
ev() { # MODE NAME PATTERN -- command args (the node's URL appended)
	mode=$1 name=$2 pat=$3
	shift 4
	expect "hostile node ($mode): $name" 3 "$pat" -- "$@" --rpc "http://127.0.0.1:$(evil "$mode")"
}
st() { "$cvm" order status 1 --contract "$contract" "$@"; }
ev slow "no answer within the timeout" "within 500 ms" -- st --rpc-timeout-ms 500
ev garbage "not JSON-RPC" "rpc:" -- st
ev big "an answer over the cap" "larger than" -- st
ev types "a chain id that is a JSON number" "not a quantity" -- st
ev negative "a negative chain id" "not a quantity" -- st
ev overflow "a chain id over 64 bits" "" -- st
ev leadingzero "a quantity with a leading zero" "" -- st
ev wrongid "an answer to another request" "" -- st
ev escape "an error with terminal escapes" "" -- st
grep -q "$(printf '\033')" "$tmp/err" && bad "a terminal escape reached the log" || ok "no escape byte reaches the log"
mkdir -p "$tmp/evil-state"
ev foreign-log "a log of another contract" "" -- \
	"$cvm" provider watch --once --key "$tmp/provider.key" --contract "$contract" --orders "$tmp/orders" \
	--state "$tmp/evil-state" --from-block 0 --confirmations 1
ev lying-hash "a transaction hash that is not the transaction's" "" -- \
	"$cvm" provider accept 1 --key "$tmp/provider.key" --contract "$contract"

summary "cli chain market"

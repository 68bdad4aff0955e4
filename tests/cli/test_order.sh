#!/bin/sh
# cvm order sign | check: a signed order verifies, and an independent
# verifier (Python's cryptography, RFC 8785 by json.dumps) agrees with the
# signature; a changed, unsigned or foreign-signed order, one over the
# provider's limits and bad arguments are refused with the documented exit
# codes and one line.
set -u
cvm=${CVM_BIN:?}
tmp=${CVM_TEST_TMP:?}/cli-order
rm -rf "$tmp" && mkdir -p "$tmp"
. "$(dirname "$0")/lib.sh"
py=/usr/bin/python3

openssl ecparam -name secp256k1 -genkey -noout -out "$tmp/customer.pem" 2>/dev/null || bad "customer key"
openssl ecparam -name secp256k1 -genkey -noout -out "$tmp/other.pem" 2>/dev/null || bad "other key"
cat >"$tmp/order.json" <<'EOJ'
{"id": "order-cli-1",
 "workload": {"url": "https://files.example.com/w/workload.img",
              "sha256": "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
              "size": 33554432},
 "broker": {"url": "https://broker.example.com:8443", "resource": "default/workload/key"},
 "image": "default", "vcpus": 2, "memory_mib": 1024, "deadline_seconds": 600,
 "result": {"upload_url": "https://files.example.com/r/order-cli-1.cvmr"}}
EOJ

expect "help" 0 "Usage: cvm order sign" -- "$cvm" order --help
expect "sign" 0 "" -- "$cvm" order sign "$tmp/order.json" --key "$tmp/customer.pem" -o "$tmp/signed.json"
expect "check" 0 "order order-cli-1 sha256 " -- "$cvm" order check "$tmp/signed.json"
sha=$(sed -n 's/^order order-cli-1 sha256 //p' "$tmp/out")

# the signature, the key and the digest as someone else computes them
$py - "$tmp/signed.json" "$tmp/customer.pem" "$sha" >"$tmp/indep" 2>&1 <<'EOP'
import hashlib, json, sys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils
order = json.load(open(sys.argv[1]))
key = serialization.load_pem_private_key(open(sys.argv[2], "rb").read(), None)
pub = key.public_key().public_bytes(serialization.Encoding.X962,
                                    serialization.PublicFormat.CompressedPoint).hex()
assert order["customer_pubkey"] == pub, "customer_pubkey"
sig = bytes.fromhex(order.pop("signature"))
canon = json.dumps(order, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
assert hashlib.sha256(canon).hexdigest() == sys.argv[3], "the printed digest"
r, s = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
assert s <= n // 2, "low S"
key.public_key().verify(utils.encode_dss_signature(r, s), canon, ec.ECDSA(hashes.SHA256()))
print("verified")
EOP
grep -q '^verified$' "$tmp/indep" && ok "an independent verifier accepts the signature and digest" ||
	{ bad "independent verification"; cat "$tmp/indep"; }
"$cvm" order sign "$tmp/order.json" --key "$tmp/customer.pem" -o "$tmp/signed2.json"
cmp -s "$tmp/signed.json" "$tmp/signed2.json" && ok "signing is deterministic (RFC 6979)" || bad "two signatures differ"

# changed after signing, unsigned, signed by another key
sed 's/"vcpus":2/"vcpus":4/' "$tmp/signed.json" >"$tmp/changed.json"
expect "a changed order is refused" 1 "E_ORDER_SIGNATURE: does not verify" -- "$cvm" order check "$tmp/changed.json"
sed 's/,"signature":"[0-9a-f]*"//' "$tmp/signed.json" >"$tmp/unsigned.json"
expect "an unsigned order is refused" 1 "E_ORDER_SIGNATURE: the order is not signed" -- "$cvm" order check "$tmp/unsigned.json"
"$cvm" order sign "$tmp/order.json" --key "$tmp/other.pem" -o "$tmp/other.json" || bad "sign with the other key"
$py -c "
import json, sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
a['signature'] = b['signature']
json.dump(a, open(sys.argv[3], 'w'))" "$tmp/signed.json" "$tmp/other.json" "$tmp/swapped.json"
expect "a signature by another key is refused" 1 "does not verify with customer_pubkey" -- "$cvm" order check "$tmp/swapped.json"
expect "signing an order that names another key is refused" 1 "names another key" -- \
	"$cvm" order sign "$tmp/signed.json" --key "$tmp/other.pem" -o "$tmp/x.json"
[ ! -e "$tmp/x.json" ] && ok "nothing written on refusal" || bad "a refused signing wrote a file"
sed 's/"image":"default"/"image":"..\/etc"/' "$tmp/signed.json" >"$tmp/image.json"
expect "a bad image name is refused" 1 "E_ORDER: image" -- "$cvm" order check "$tmp/image.json"

# the provider's limits
echo '{"max_vcpus": 2, "max_memory_mib": 1024, "max_deadline_seconds": 600, "max_workload_bytes": 33554432}' >"$tmp/exact.json"
expect "an order at the limits passes" 0 "" -- "$cvm" order check "$tmp/signed.json" --limits "$tmp/exact.json"
echo '{"max_vcpus": 1}' >"$tmp/small.json"
expect "an order over the limits is refused" 1 "E_ORDER_LIMIT: vcpus 2 is over the provider's 1" -- \
	"$cvm" order check "$tmp/signed.json" --limits "$tmp/small.json"
echo '{"max_cpus": 1}' >"$tmp/badlim.json"
expect "bad limits are a usage error" 2 "E_LIMITS: unknown member" -- "$cvm" order check "$tmp/signed.json" --limits "$tmp/badlim.json"

# usage and files
expect "no such order" 2 "No such file" -- "$cvm" order check "$tmp/missing.json"
expect "sign needs a key" 2 "wrong arguments" -- "$cvm" order sign "$tmp/order.json" -o "$tmp/y.json"
expect "unknown subcommand" 2 "not an order command" -- "$cvm" order verify "$tmp/signed.json"
expect "an unreadable key" 2 "E_RESULT_KEY" -- "$cvm" order sign "$tmp/order.json" --key "$tmp/order.json" -o "$tmp/y.json"

summary "cli order"

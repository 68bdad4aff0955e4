# Orders as a host that runs them might alter them: the customer's signed
# order changed after signing, stripped of its signature, signed by another
# key, naming a path as its image, or over the provider's limits. cvm order
# check and cvm run refuse each before anything runs.
# shellcheck shell=sh

py=/usr/bin/python3
openssl ecparam -name secp256k1 -genkey -noout -out "$tmp/customer.pem" 2>/dev/null
openssl ecparam -name secp256k1 -genkey -noout -out "$tmp/other.pem" 2>/dev/null
cat >"$tmp/order.json" <<'EOJ'
{"id": "order-hostile-1",
 "workload": {"url": "https://files.example.com/w/workload.img",
              "sha256": "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
              "size": 33554432},
 "broker": {"url": "https://broker.example.com:8443", "resource": "default/workload/key"},
 "image": "default", "vcpus": 2, "memory_mib": 1024, "deadline_seconds": 600,
 "result": {"upload_url": "https://files.example.com/r/order-hostile-1.cvmr"}}
EOJ
"$cvm" order sign "$tmp/order.json" --key "$tmp/customer.pem" -o "$tmp/signed.json" >/dev/null

# alter KEY VALUE OUT: the signed order with one member changed, its signature kept
alter() {
	$py - "$tmp/signed.json" "$1" "$2" "$3" <<'EOP'
import json, sys
o = json.load(open(sys.argv[1]))
path, value = sys.argv[2].split("."), json.loads(sys.argv[3])
d = o
for k in path[:-1]:
    d = d[k]
d[path[-1]] = value
json.dump(o, open(sys.argv[4], "w"))
EOP
}
alter vcpus 4 "$tmp/vcpus.json"
attack order-more-vcpus-after-signing 1 "E_ORDER_SIGNATURE" -- "$cvm" order check "$tmp/vcpus.json"
alter workload.url '"https://evil.example.com/w.img"' "$tmp/url.json"
attack order-other-workload-url 1 "E_ORDER_SIGNATURE" -- "$cvm" order check "$tmp/url.json"
alter workload.sha256 '"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"' "$tmp/sha.json"
attack order-other-workload-digest 1 "E_ORDER_SIGNATURE" -- "$cvm" order check "$tmp/sha.json"
alter broker.url '"https://evil.example.com:8443"' "$tmp/broker.json"
attack order-other-broker 1 "E_ORDER_SIGNATURE" -- "$cvm" order check "$tmp/broker.json"
alter result.upload_url '"https://evil.example.com/r.cvmr"' "$tmp/upload.json"
attack order-other-upload-url 1 "E_ORDER_SIGNATURE" -- "$cvm" order check "$tmp/upload.json"
alter deadline_seconds 86400 "$tmp/deadline.json"
attack order-longer-deadline 1 "E_ORDER_SIGNATURE" -- "$cvm" order check "$tmp/deadline.json"
sed 's/,"signature":"[0-9a-f]*"//' "$tmp/signed.json" >"$tmp/unsigned.json"
attack order-signature-stripped 1 "E_ORDER_SIGNATURE" -- "$cvm" order check "$tmp/unsigned.json"
"$cvm" order sign "$tmp/order.json" --key "$tmp/other.pem" -o "$tmp/other.json" >/dev/null
$py -c "
import json, sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
a['signature'] = b['signature']
json.dump(a, open(sys.argv[3], 'w'))" "$tmp/signed.json" "$tmp/other.json" "$tmp/swapped.json"
attack order-signature-of-another-key 1 "E_ORDER_SIGNATURE" -- "$cvm" order check "$tmp/swapped.json"
$py -c "
import json, sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
a['customer_pubkey'], a['signature'] = b['customer_pubkey'], b['signature']
a['vcpus'] = 4
json.dump(a, open(sys.argv[3], 'w'))" "$tmp/signed.json" "$tmp/other.json" "$tmp/resigned.json"
attack order-key-and-signature-swapped 1 "E_ORDER_SIGNATURE" -- "$cvm" order check "$tmp/resigned.json"
sed 's/"image":"default"/"image":"..\/etc"/' "$tmp/signed.json" >"$tmp/image.json"
attack order-image-path 1 "E_ORDER" -- "$cvm" order check "$tmp/image.json"
echo '{"max_vcpus": 1}' >"$tmp/small.json"
attack order-over-provider-limits 1 "E_ORDER_LIMIT" -- "$cvm" order check "$tmp/signed.json" --limits "$tmp/small.json"
printf '{"id": "x", "unknown": 1}' >"$tmp/junk.json"
attack order-unknown-member 1 "E_ORDER" -- "$cvm" order check "$tmp/junk.json"
head -c 100000 /dev/zero | tr '\0' ' ' >"$tmp/big.json"
attack order-oversized 1 "E_ORDER" -- "$cvm" order check "$tmp/big.json"
mkdir -p "$tmp/images" "$tmp/work"
attack run-altered-order-refused 1 "E_ORDER_SIGNATURE" -- "$cvm" run "$tmp/vcpus.json" --print-qemu \
	--images "$tmp/images" --workdir "$tmp/work"

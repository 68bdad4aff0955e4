# Orders as a host that runs them might alter them: the customer's signed
# order changed after signing (an input's volume, header digest, broker,
# TLS pin or mount; the upload URL; the deadline), stripped of its
# signature, signed by another key, naming a path as its image, or over the
# provider's limits; and orders no customer should sign: duplicate inputs,
# two solutions or none, a mount outside /inputs, a broker over http, the
# version 1 form. cvm order check and cvm run refuse each before anything
# runs.
# shellcheck shell=sh

py=/usr/bin/python3
openssl ecparam -name secp256k1 -genkey -noout -out "$tmp/customer.pem" 2>/dev/null
openssl ecparam -name secp256k1 -genkey -noout -out "$tmp/other.pem" 2>/dev/null
cat >"$tmp/order.json" <<'EOJ'
{"version": 2, "id": "order-hostile-1", "image": "default", "vcpus": 2, "memory_mib": 1024,
 "deadline_seconds": 600,
 "inputs": [
  {"name": "solution", "role": "solution",
   "volume": {"url": "https://files.example.com/w/solution.img",
              "sha256": "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
              "size": 33554432,
              "luks_header_sha256": "11112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"},
   "broker": {"url": "https://broker-a.example.com:8443", "resource": "sol/volume/key",
              "spki_sha256": "22222233445566778899aabbccddeeff00112233445566778899aabbccddeeff"}},
  {"name": "data", "role": "data",
   "volume": {"url": "https://files.example.com/w/data.img",
              "sha256": "33332233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
              "size": 1048576,
              "luks_header_sha256": "44442233445566778899aabbccddeeff00112233445566778899aabbccddeeff"},
   "broker": {"url": "https://broker-b.example.com:8443", "resource": "data/volume/key",
              "spki_sha256": "55552233445566778899aabbccddeeff00112233445566778899aabbccddeeff"}}],
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
    d = d[int(k)] if isinstance(d, list) else d[k]
if isinstance(d, list):
    d[int(path[-1])] = value
else:
    d[path[-1]] = value
json.dump(o, open(sys.argv[4], "w"))
EOP
}
alter vcpus 4 "$tmp/vcpus.json"
attack order-more-vcpus-after-signing 1 "E_ORDER_SIGNATURE" -- "$cvm" order check "$tmp/vcpus.json"
alter inputs.0.volume.url '"https://evil.example.com/w.img"' "$tmp/url.json"
attack order-other-solution-url 1 "E_ORDER_SIGNATURE" -- "$cvm" order check "$tmp/url.json"
alter inputs.1.volume.sha256 '"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"' "$tmp/sha.json"
attack order-other-data-digest 1 "E_ORDER_SIGNATURE" -- "$cvm" order check "$tmp/sha.json"
alter inputs.0.volume.luks_header_sha256 '"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"' "$tmp/hdr.json"
attack order-other-solution-header 1 "E_ORDER_SIGNATURE" -- "$cvm" order check "$tmp/hdr.json"
alter inputs.1.broker.url '"https://evil.example.com:8443"' "$tmp/broker.json"
attack order-other-broker 1 "E_ORDER_SIGNATURE" -- "$cvm" order check "$tmp/broker.json"
alter inputs.1.broker.spki_sha256 '"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"' "$tmp/pin.json"
attack order-other-broker-pin 1 "E_ORDER_SIGNATURE" -- "$cvm" order check "$tmp/pin.json"
alter inputs.1.role '"solution"' "$tmp/role.json"
attack order-data-made-solution 1 "E_ORDER" -- "$cvm" order check "$tmp/role.json"
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
# orders no customer should sign: each refused by cvm order sign, naming the member
bad_order() { # NAME REGEX PYTHON-EDIT
	$py - "$tmp/order.json" "$tmp/$1.json" "$3" <<'EOP'
import json, sys
o = json.load(open(sys.argv[1]))
exec(sys.argv[3])
json.dump(o, open(sys.argv[2], "w"))
EOP
	attack "order-$1" 1 "$2" -- "$cvm" order sign "$tmp/$1.json" --key "$tmp/customer.pem" -o "$tmp/$1.signed"
}
bad_order duplicate-input-names "E_ORDER: inputs.*name" 'o["inputs"][1]["name"] = "solution"'
bad_order two-solutions "E_ORDER: inputs.*solution" 'o["inputs"][1]["role"] = "solution"'
bad_order no-solution "E_ORDER: inputs.*solution" 'o["inputs"][0]["role"] = "data"'
bad_order mount-outside-inputs "E_ORDER: inputs.0.*mount" 'o["inputs"][0]["mount"] = "/etc"'
bad_order mount-dotdot "E_ORDER: inputs.0.*mount" 'o["inputs"][0]["mount"] = "/inputs/../etc"'
bad_order broker-over-http "E_ORDER: inputs.1.*broker.url" 'o["inputs"][1]["broker"]["url"] = "http://broker-b.example.com:8443"'
bad_order broker-ca-and-pin "E_ORDER: inputs.1.*broker" 'o["inputs"][1]["broker"]["ca"] = "x"'
bad_order input-unknown-member "E_ORDER: .*unknown member" 'o["inputs"][0]["volume"]["offset"] = 0'
bad_order too-many-inputs "E_ORDER: inputs" 'o["inputs"] += [dict(o["inputs"][1], name="d%d" % i) for i in range(16)]'
bad_order version-1 "E_ORDER_VERSION" 'o.pop("version"); o.pop("inputs"); o["workload"] = {}; o["broker"] = {}'
printf '{"id": "x", "unknown": 1}' >"$tmp/junk.json"
attack order-unknown-member 1 "E_ORDER" -- "$cvm" order check "$tmp/junk.json"
head -c 100000 /dev/zero | tr '\0' ' ' >"$tmp/big.json"
attack order-oversized 1 "E_ORDER" -- "$cvm" order check "$tmp/big.json"
mkdir -p "$tmp/images" "$tmp/work"
attack run-altered-order-refused 1 "E_ORDER_SIGNATURE" -- "$cvm" run "$tmp/vcpus.json" --print-qemu \
	--images "$tmp/images" --workdir "$tmp/work"

#!/bin/sh
# cvm order sign | check: a signed order (version 2: a solution and a data
# input, two brokers) verifies, and an independent verifier (Python's
# cryptography, RFC 8785 by json.dumps) agrees with the signature; a
# changed, unsigned or foreign-signed order, the version 1 form, one over
# the provider's limits and bad arguments are refused with the documented
# exit codes and one line. Then cvm run --print-qemu, and real QEMU taking
# its plain command line.
set -u
cvm=${CVM_BIN:?}
tmp=${CVM_TEST_TMP:?}/cli-order
rm -rf "$tmp" && mkdir -p "$tmp"
. "$(dirname "$0")/lib.sh"
py=/usr/bin/python3

openssl ecparam -name secp256k1 -genkey -noout -out "$tmp/customer.pem" 2>/dev/null || bad "customer key"
openssl ecparam -name secp256k1 -genkey -noout -out "$tmp/other.pem" 2>/dev/null || bad "other key"
cat >"$tmp/order.json" <<'EOJ'
{"version": 2, "id": "order-cli-1",
 "inputs": [
  {"name": "solution", "role": "solution",
   "volume": {"url": "https://files.example.com/w/solution.img",
              "sha256": "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
              "size": 33554432,
              "luks_header_sha256": "11112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"},
   "broker": {"url": "https://broker.example.com:8443", "resource": "default/workload/key",
              "spki_sha256": "22222233445566778899aabbccddeeff00112233445566778899aabbccddeeff"}},
  {"name": "ledger", "role": "data", "mount": "/inputs/books",
   "volume": {"url": "https://files.example.com/w/ledger.img",
              "sha256": "33332233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
              "size": 4096,
              "luks_header_sha256": "44442233445566778899aabbccddeeff00112233445566778899aabbccddeeff"},
   "broker": {"url": "https://10.1.2.3", "resource": "data/ledger/key",
              "spki_sha256": "55552233445566778899aabbccddeeff00112233445566778899aabbccddeeff"}}],
 "image": "default", "vcpus": 2, "memory_mib": 1024, "deadline_seconds": 600,
 "result": {"upload_url": "https://files.example.com/r/order-cli-1.cvmr"}}
EOJ

expect "help" 0 "Usage: cvm order new" -- "$cvm" order --help
expect "help of a verb" 0 "cvm order add-input ORDER.json" -- "$cvm" order add-input --help

# ---- an order built step by step from what each party publishes ----
printf '{"sha256": "%s", "size": 12288, "luks_header_sha256": "%s", "verity_root_hash": "%s", "source_date_epoch": 1}' \
	"$(printf a | sha256sum | cut -c1-64)" "$(printf b | sha256sum | cut -c1-64)" "$(printf c | sha256sum | cut -c1-64)" >"$tmp/sol.pack.json"
printf '{"sha256": "%s", "size": 8192, "luks_header_sha256": "%s"}' \
	"$(printf d | sha256sum | cut -c1-64)" "$(printf e | sha256sum | cut -c1-64)" >"$tmp/data.pack.json"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/ca.key" -out "$tmp/ca.pem" \
	-days 2 -subj /CN=broker-a 2>/dev/null
spki=$(printf f | sha256sum | cut -c1-64)
expect "new: names what is missing" 2 "needs --id ID --upload-url URL" -- "$cvm" order new -o "$tmp/new.json"
expect "new" 0 "no inputs yet" -- "$cvm" order new --id order-new-1 --upload-url https://files.example.com/r/1.cvmr \
	--deadline-seconds 600 -o "$tmp/new.json"
expect "add-input: names what is missing" 2 "needs ORDER.json --pack PACK.json --url VOLUME_URL" -- \
	"$cvm" order add-input "$tmp/new.json" --name solution --role solution --broker https://127.0.0.1:1 --resource a/b/c --ca "$tmp/ca.pem"
expect "add-input: a CA and a pin at once" 2 "one of --ca CA.pem or --spki-sha256 HEX" -- \
	"$cvm" order add-input "$tmp/new.json" --name solution --role solution --pack "$tmp/sol.pack.json" \
	--url https://files.example.com/s.img --broker https://127.0.0.1:1 --resource a/b/c --ca "$tmp/ca.pem" --spki-sha256 "$spki"
expect "add-input: the solution, its broker's CA" 0 "input solution (solution) added" -- \
	"$cvm" order add-input "$tmp/new.json" --name solution --role solution --pack "$tmp/sol.pack.json" \
	--url https://files.example.com/s.img --broker https://broker-a.example.com --resource sol/volume/key --ca "$tmp/ca.pem"
expect "add-input: the data, its broker's SPKI pin" 0 "input ledger (data) added" -- \
	"$cvm" order add-input "$tmp/new.json" --name ledger --role data --pack "$tmp/data.pack.json" \
	--url https://files.example.com/d.img --broker https://broker-b.example.com --resource data/volume/key --spki-sha256 "$spki"
expect "add-input: a name taken" 2 "an input is named ledger already" -- \
	"$cvm" order add-input "$tmp/new.json" --name ledger --role data --pack "$tmp/data.pack.json" \
	--url https://files.example.com/d.img --broker https://broker-b.example.com --resource data/volume/key --spki-sha256 "$spki"
printf '{"sha256": "00"}' >"$tmp/bad.pack.json"
expect "add-input: a pack output without size" 2 "lacks size" -- \
	"$cvm" order add-input "$tmp/new.json" --name x --role data --pack "$tmp/bad.pack.json" \
	--url https://files.example.com/d.img --broker https://broker-b.example.com --resource data/volume/key --spki-sha256 "$spki"
expect "the built order signs" 0 "" -- "$cvm" order sign "$tmp/new.json" --key "$tmp/customer.pem" -o "$tmp/new.signed.json"
# -o - is standard output, in every verb that writes one file
"$cvm" order sign "$tmp/new.json" --key "$tmp/customer.pem" -o - >"$tmp/stdout.signed.json" 2>"$tmp/err" &&
	cmp -s "$tmp/stdout.signed.json" "$tmp/new.signed.json" && ok "order sign -o -: the same signed order on standard output" ||
	bad "order sign -o -"
"$cvm" order new --id x --upload-url https://a.example.com/r -o - >"$tmp/stdout.new.json" 2>"$tmp/err" &&
	$py -c 'import json,sys; assert json.load(open(sys.argv[1]))["id"] == "x"' "$tmp/stdout.new.json" &&
	ok "order new -o -: the order alone on standard output" || bad "order new -o -"
expect "keygen -o -: a private key is never written to standard output" 2 "never to standard output" -- "$cvm" keygen -o -
$cvm order check "$tmp/new.signed.json" --json >"$tmp/check.json" 2>/dev/null &&
	$py -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["order"] == "order-new-1" and len(d["sha384"]) == 96 and [i["name"] for i in d["inputs"]] == ["solution", "ledger"] and d["inputs"][1]["mount"] == "/inputs/ledger", d' "$tmp/check.json" &&
	ok "order check --json: the same, as one object" || bad "order check --json"
# usage errors name what is missing
expect "image build: names what is missing" 2 "image build needs -o OUT --key BUILDER.key" -- "$cvm" image build "$tmp"
expect "initrd build: names what is missing" 2 "initrd build needs -o OUT" -- "$cvm" initrd build "$tmp/x.list"
expect "order check: names what is missing" 2 "order check needs one SIGNED.json" -- "$cvm" order check
expect "pack -o -: refused, saying why" 2 "go to files" -- "$cvm" pack "$tmp" -o - --key-out "$tmp/k.key"
expect "initrd build -o -: refused, saying why" 2 "goes to a file" -- "$cvm" initrd build "$tmp/x.list" -o -
expect "and checks, with what each party gave" 0 "^input ledger data /inputs/ledger broker https://broker-b.example.com data/volume/key luks_header_sha256 $(printf e | sha256sum | cut -c1-64)" -- \
	"$cvm" order check "$tmp/new.signed.json"
grep -q "^input solution solution /inputs/solution broker https://broker-a.example.com sol/volume/key luks_header_sha256 $(printf b | sha256sum | cut -c1-64)" "$tmp/out" &&
	ok "the solution's volume and broker as published" || bad "the solution input"
expect "sign" 0 "" -- "$cvm" order sign "$tmp/order.json" --key "$tmp/customer.pem" -o "$tmp/signed.json"
expect "check" 0 "^order order-cli-1$" -- "$cvm" order check "$tmp/signed.json"
sha=$(sed -n 's/^sha256 //p' "$tmp/out")
sha384=$(sed -n 's/^sha384 //p' "$tmp/out")
grep -q "^input solution solution /inputs/solution broker https://broker.example.com:8443 default/workload/key luks_header_sha256 1111" "$tmp/out" &&
	grep -q "^input ledger data /inputs/books broker https://10.1.2.3 data/ledger/key " "$tmp/out" &&
	ok "check prints every input" || { bad "check: inputs"; cat "$tmp/out"; }

# the signature, the key and the digest as someone else computes them
$py - "$tmp/signed.json" "$tmp/customer.pem" "$sha" "$sha384" >"$tmp/indep" 2>&1 <<'EOP'
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
assert hashlib.sha256(canon).hexdigest() == sys.argv[3], "the printed SHA-256"
assert hashlib.sha384(canon).hexdigest() == sys.argv[4], "the printed SHA-384"
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
# the version 1 form, named as such
cat >"$tmp/v1.json" <<'EOJ'
{"id": "order-cli-1", "workload": {"url": "https://f.example.com/w.img", "sha256": "00", "size": 1},
 "broker": {"url": "https://b.example.com", "resource": "a/b/c"}, "image": "default", "vcpus": 1,
 "memory_mib": 1024, "deadline_seconds": 60, "result": {"upload_url": "https://f.example.com/r"}}
EOJ
expect "a version 1 order is refused by name" 1 "E_ORDER_VERSION: a version 1 order" -- "$cvm" order check "$tmp/v1.json"
expect "signing a version 1 order is refused" 1 "E_ORDER_VERSION" -- "$cvm" order sign "$tmp/v1.json" --key "$tmp/customer.pem" -o "$tmp/v1s.json"

# the provider's limits
echo '{"max_vcpus": 2, "max_memory_mib": 1024, "max_deadline_seconds": 600, "max_workload_bytes": 33558528}' >"$tmp/exact.json"
expect "an order at the limits passes" 0 "" -- "$cvm" order check "$tmp/signed.json" --limits "$tmp/exact.json"
echo '{"max_vcpus": 1}' >"$tmp/small.json"
expect "an order over the limits is refused" 1 "E_ORDER_LIMIT: vcpus 2 is over the provider's 1" -- \
	"$cvm" order check "$tmp/signed.json" --limits "$tmp/small.json"
echo '{"max_workload_bytes": 33558527}' >"$tmp/small.json"
expect "the inputs together over the limit are refused" 1 "E_ORDER_LIMIT: the inputs' volumes 33558528 is over" -- \
	"$cvm" order check "$tmp/signed.json" --limits "$tmp/small.json"
echo '{"max_cpus": 1}' >"$tmp/badlim.json"
expect "bad limits are a usage error" 2 "E_LIMITS: unknown member" -- "$cvm" order check "$tmp/signed.json" --limits "$tmp/badlim.json"

# usage and files
expect "no such order" 2 "No such file" -- "$cvm" order check "$tmp/missing.json"
expect "sign needs a key" 2 "order sign needs --key KEY" -- "$cvm" order sign "$tmp/order.json" -o "$tmp/y.json"
expect "unknown subcommand" 2 "not an order command" -- "$cvm" order verify "$tmp/signed.json"
expect "an unreadable key" 2 "E_RESULT_KEY" -- "$cvm" order sign "$tmp/order.json" --key "$tmp/order.json" -o "$tmp/y.json"

# ---- cvm run --print-qemu; real QEMU takes the plain command line ----
kernel=$(ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1)
[ -r "$kernel" ] || bad "no kernel in /boot (scripts/setup-deps installs linux-image-amd64)"
mkdir -p "$tmp/images/default" "$tmp/images/dev" "$tmp/work"
sed "s|\"vmlinuz\"|\"$kernel\"|" "$(dirname "$0")/../../vm-images/default/image.json" >"$tmp/images/default/image.json"
head -c 4096 /dev/zero >"$tmp/images/default/initrd.img"
mkdir -p "$tmp/work/inputs"
truncate -s 8M "$tmp/work/order.img" "$tmp/work/inputs/solution.img" "$tmp/work/inputs/ledger.img" "$tmp/work/output.img"
expect "print-qemu plain" 0 "" -- "$cvm" run "$tmp/signed.json" --print-qemu --images "$tmp/images" --workdir "$tmp/work"
cp "$tmp/out" "$tmp/plain.cmd"
# a relative work directory is named absolutely (QEMU reads a relative "w:1/x" as protocol "w")
(cd "$tmp" && "$cvm" run "$tmp/signed.json" --print-qemu --images "$tmp/images" --workdir w:1 >"$tmp/rel.cmd" 2>"$tmp/err")
grep -q "file=$tmp/w:1/order.img," "$tmp/rel.cmd" && grep -q "file=$tmp/w:1/inputs/ledger.img," "$tmp/rel.cmd" &&
	grep -q "path=$tmp/w:1/status " "$tmp/rel.cmd" &&
	ok "print-qemu: a relative work directory becomes absolute" || { bad "relative workdir"; cat "$tmp/rel.cmd" "$tmp/err"; }
grep -q "^qemu-system-x86_64 -accel tcg -cpu max -m 1024 -smp 2 .*'user,id=n0,restrict=on,guestfwd=tcp:10.0.2.100:8443-cmd:socat - TCP:broker.example.com:8443,guestfwd=tcp:10.0.2.101:443-cmd:socat - TCP:10.1.2.3:443'" "$tmp/plain.cmd" &&
	ok "plain: the order's size and a forward per broker" || { bad "plain command line"; cat "$tmp/plain.cmd"; }
# --tunnel: one forward in, to the guest's terminator; an address that is not one is refused
expect "print-qemu --tunnel" 0 "hostfwd=tcp:127.0.0.1:18443-:8443'" -- \
	"$cvm" run "$tmp/signed.json" --print-qemu --images "$tmp/images" --workdir "$tmp/work" --tunnel 18443
expect "print-qemu --tunnel ADDR:PORT" 0 "hostfwd=tcp:0.0.0.0:443-:8443'" -- \
	"$cvm" run "$tmp/signed.json" --print-qemu --images "$tmp/images" --workdir "$tmp/work" --tunnel 0.0.0.0:443
for t in 0 65536 x:1 "1.2.3.4:1,guestfwd=tcp:1.1.1.1:1-cmd:sh" "1.2.3:80" ":80" "127.0.0.1:"; do
	expect "--tunnel '$t' refused" 2 "--tunnel: PORT or A.B.C.D:PORT" -- \
		"$cvm" run "$tmp/signed.json" --print-qemu --images "$tmp/images" --tunnel "$t"
done
swtpm socket --tpm2 --tpmstate dir="$tmp/work" --ctrl type=unixio,path="$tmp/work/swtpm.sock" \
	--pid file="$tmp/work/swtpm.pid" --flags startup-clear --daemon 2>"$tmp/swtpm.log" || bad "swtpm"
# QEMU opens every device, disk, chardev and the vTPM, loads the kernel and stops before
# the first instruction (-S): still running after 5 s means it took every option
eval "set -- $(cat "$tmp/plain.cmd")"
timeout 5 "$@" -S </dev/null >"$tmp/qemu.log" 2>&1
st=$?
[ $st -eq 124 ] && ok "QEMU takes the plain command line" || { bad "QEMU refused it (exit $st)"; cat "$tmp/qemu.log"; }
kill "$(cat "$tmp/work/swtpm.pid" 2>/dev/null)" 2>/dev/null
expect "print-qemu tdx" 0 "mrconfigid" -- "$cvm" run "$tmp/signed.json" --print-qemu --platform tdx --images "$tmp/images"
want=$($py -c "import base64,hashlib,json,sys
o=json.load(open(sys.argv[1])); o.pop('signature')
print(base64.b64encode(hashlib.sha384(json.dumps(o,sort_keys=True,separators=(',',':')).encode()).digest()).decode())" "$tmp/signed.json")
grep -q "\"mrconfigid\":\"$want\"" "$tmp/out" && ok "tdx: MRCONFIGID is SHA-384 of the signed form" || { bad "tdx mrconfigid"; cat "$tmp/out"; }
expect "print-qemu snp" 0 "sev-snp-guest" -- "$cvm" run "$tmp/signed.json" --print-qemu --platform snp --images "$tmp/images"
want=$($py -c "import base64,hashlib,json,sys
o=json.load(open(sys.argv[1])); o.pop('signature')
print(base64.b64encode(hashlib.sha256(json.dumps(o,sort_keys=True,separators=(',',':')).encode()).digest()).decode())" "$tmp/signed.json")
grep -q "kernel-hashes=on,host-data=$want " "$tmp/out" && ok "snp: HOST_DATA is SHA-256 of the signed form" || { bad "snp host-data"; cat "$tmp/out"; }
echo '{"name": "dev", "kernel": "k", "initrd": "i", "cmdline": "c", "platforms": {"plain": {}}}' >"$tmp/images/dev/image.json"
reimage() { # NAME OUT: the signed order, for another image, signed again
	$py -c "
import json, sys
o = json.load(open(sys.argv[1])); o['image'] = sys.argv[2]; o.pop('signature')
json.dump(o, open(sys.argv[3], 'w'))" "$tmp/signed.json" "$1" "$tmp/$1.unsigned.json" &&
		"$cvm" order sign "$tmp/$1.unsigned.json" --key "$tmp/customer.pem" -o "$2" || bad "sign the $1 order"
}
reimage dev "$tmp/dev.json"
reimage gpu "$tmp/gpu.json"
expect "an image without the platform" 1 "E_LAUNCH: image dev has no tdx platform" -- \
	"$cvm" run "$tmp/dev.json" --print-qemu --platform tdx --images "$tmp/images"
expect "an image the provider does not have" 1 "E_ORDER_IMAGE: image gpu is not one of" -- \
	"$cvm" run "$tmp/gpu.json" --print-qemu --images "$tmp/images"
expect "a refused order prints nothing" 1 "E_ORDER_SIGNATURE" -- "$cvm" run "$tmp/changed.json" --print-qemu --images "$tmp/images"
[ ! -s "$tmp/out" ] && ok "nothing on standard output for a refused order" || bad "output for a refused order"
# without --workdir, ./cvm-run-ID; a result there that is not this order's is refused
mkdir -p "$tmp/cwd/cvm-run-order-cli-1"
echo "not a bundle" >"$tmp/cwd/cvm-run-order-cli-1/result.cvmr"
(cd "$tmp/cwd" && "$cvm" run "$tmp/signed.json" --images "$tmp/images" >"$tmp/out" 2>"$tmp/err")
st=$?
[ $st -eq 2 ] && grep -q "E_WORKDIR: $tmp/cwd/cvm-run-order-cli-1/result.cvmr holds a result that is not this order's" "$tmp/err" &&
	grep -q '"code":"E_WORKDIR"' "$tmp/out" && [ "$(cat "$tmp/cwd/cvm-run-order-cli-1/result.cvmr")" = "not a bundle" ] &&
	[ "$(ls "$tmp/cwd/cvm-run-order-cli-1")" = result.cvmr ] &&
	ok "run: the work directory defaults to ./cvm-run-ID; another result there is refused, left as it was" ||
	{ bad "default workdir: exit $st"; cat "$tmp/err"; }
expect "run with an unknown platform" 2 "plain, tdx or snp" -- "$cvm" run "$tmp/signed.json" --print-qemu --platform sev

summary "cli order"

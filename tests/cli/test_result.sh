#!/bin/sh
# Result bundles through result_tool (tests/e2e/result_tool.c) on a disk
# image: sealed with the sim TEE's evidence, opened by the customer, opened
# again by an independent reader written from docs/result.md, and refused
# when cut at every 4 KiB boundary, crashed before the commit record, or
# opened with another key.
set -u
cvmt=${CVM_TEST_BIN:?}
tmp=${CVM_TEST_TMP:?}/cli-result
pki=${CVM_TEST_PKI:?}
rm -rf "$tmp" && mkdir -p "$tmp"
. "$(dirname "$0")/lib.sh"

tool=$(dirname "$cvmt")/e2e/result_tool
py=/usr/bin/python3
[ -x "$tool" ] && ok "result_tool present" || { bad "no $tool"; summary "cli result"; exit 1; }

# the agent's evidence: the sim backend, as `cvm-test kbs-client --evidence` gives it
cat >"$tmp/evidence.sh" <<EOF
#!/bin/sh
exec "$cvmt" kbs-client --tee sim --sim-pki "$pki" --evidence "\$1" -o "\$2"
EOF
chmod +x "$tmp/evidence.sh"

# ---- keys and disk ----
expect "keygen" 0 "" -- "$tool" keygen "$tmp/customer.pem"
pub=$(cat "$tmp/out")
echo "$pub" | grep -qE '^0[23][0-9a-f]{64}$' && ok "keygen prints a compressed public key" || bad "keygen output: $pub"
[ "$(stat -c %a "$tmp/customer.pem")" = 600 ] && ok "the key file is 0600" || bad "key file mode"
"$tool" keygen "$tmp/other.pem" >/dev/null
expect "init-disk" 0 "" -- "$tool" init-disk "$tmp/disk.img" --size 4194304 --order-id order-cli-1

mkdir -p "$tmp/stage/output/deep/er" "$tmp/stage/log"
head -c 500000 /dev/urandom >"$tmp/stage/output/deep/er/random.bin"
echo "the quick brown fox" >"$tmp/stage/output/fox.txt"
echo "exit 0" >"$tmp/stage/log/stdout"
ln -s /etc/passwd "$tmp/stage/output/link"

expect "seal onto the disk" 0 "" -- "$tool" seal "$tmp/disk.img" --stage "$tmp/stage" --recipient "$pub" \
	--tee tdx --evidence-cmd "$tmp/evidence.sh" --exit-code 0
bundle_len=$(cat "$tmp/out")
grep -q 'quick brown fox' "$tmp/disk.img" && bad "plaintext on the output disk" || ok "no plaintext on the output disk"

# ---- the customer opens it ----
expect "open" 0 "complete" -- "$tool" open "$tmp/disk.img" --key "$tmp/customer.pem" -o "$tmp/opened"
grep -q '"order_id":"order-cli-1"' "$tmp/out" && ok "the header names the order" || bad "header order id"
cmp -s "$tmp/stage/output/deep/er/random.bin" "$tmp/opened/output/deep/er/random.bin" &&
	cmp -s "$tmp/stage/output/fox.txt" "$tmp/opened/output/fox.txt" && ok "the files come back" || bad "files differ"
[ ! -e "$tmp/opened/output/link" ] && ok "the symlink is not part of the result" || bad "symlink archived"
rd=$(sed -n 's/^report_data //p' "$tmp/out")
expect "the evidence is genuine and binds report_data" 0 "" -- \
	"$cvmt" verify "$tmp/opened.evidence" --test-roots "$pki/tdx/roots.pem" --report-data "$rd"
expect "open refuses an existing directory" 1 "E_RESULT_OUTPUT" -- \
	"$tool" open "$tmp/disk.img" --key "$tmp/customer.pem" -o "$tmp/opened"
expect "another key opens nothing" 1 "E_RESULT_RECIPIENT" -- \
	"$tool" open "$tmp/disk.img" --key "$tmp/other.pem" -o "$tmp/other"
[ ! -e "$tmp/other" ] && ok "no directory for another key" || bad "output for another key"

# ---- an independent reader of docs/result.md ----
dd if="$tmp/disk.img" of="$tmp/bundle.cvmr" bs=4096 skip=2 count=$(((bundle_len + 4095) / 4096)) status=none
truncate -s "$bundle_len" "$tmp/bundle.cvmr"
cat >"$tmp/reader.py" <<'EOP'
import hashlib, io, json, struct, sys, tarfile
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

b = open(sys.argv[1], "rb").read()
priv = serialization.load_pem_private_key(open(sys.argv[2], "rb").read(), None)
assert b[:4] == b"CVMR" and b[4] == 2 and b[5:8] == b"\0\0\0"
hl = struct.unpack("<I", b[8:12])[0]
htext = b[12:12 + hl]
h = json.loads(htext)
assert json.dumps(h, sort_keys=True, separators=(",", ":")).encode() == htext
comp = lambda k: k.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)
rpub = comp(priv.public_key())
assert bytes.fromhex(h["recipient_key_id"]) == hashlib.sha256(rpub).digest()
eph = bytes.fromhex(h["ephemeral_pubkey"])
x = priv.exchange(ec.ECDH(), ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256K1(), eph))
key = HKDF(hashes.SHA256(), 32, b"cvm-result-v1", eph + rpub).derive(x)
aad = hashlib.sha256(htext).digest()
off, i, out, last = 12 + hl, 0, io.BytesIO(), False
while not last:
    w = struct.unpack("<I", b[off:off + 4])[0]
    n, last = w & 0x7FFFFFFF, bool(w >> 31)
    nonce = struct.pack(">Q", i) + b"\0\0\0" + bytes([1 if last else 0])
    out.write(AESGCM(key).decrypt(nonce, b[off + 4:off + 4 + n], aad))
    off, i = off + 4 + n, i + 1
d = hashlib.sha256(b[:off]).digest()
tl = struct.unpack("<I", b[off:off + 4])[0]
assert off + 4 + tl == len(b)
t = json.loads(b[off + 4:])
spub = bytes.fromhex(h["signing_pubkey"])
rd = hashlib.sha512(d + spub).digest()
sig = bytes.fromhex(t["signature"])
ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256K1(), spub).verify(
    encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")), rd,
    ec.ECDSA(hashes.SHA256()))
assert t["evidence"]["tee"] == "tdx" and isinstance(t["eventlog"], list)
tar = tarfile.open(fileobj=io.BytesIO(out.getvalue()))
for m in tar.getmembers():
    assert m.mtime == 0 and m.uid == 0 and m.gid == 0 and (m.isfile() or m.isdir()), m.name
    print(m.name)
print(rd.hex())
EOP
if $py "$tmp/reader.py" "$tmp/bundle.cvmr" "$tmp/customer.pem" >"$tmp/py.out" 2>"$tmp/py.err"; then
	ok "an independent reader decrypts and checks the bundle"
	[ "$(tail -n 1 "$tmp/py.out")" = "$rd" ] && ok "both readers compute the same report_data" || bad "report_data differs"
	grep -qx 'output/deep/er/random.bin' "$tmp/py.out" && ok "the tar lists the files" || bad "tar listing"
else
	bad "the independent reader failed"
	cat "$tmp/py.err"
fi
expect "the bundle file opens on its own" 0 "complete" -- \
	"$tool" open "$tmp/bundle.cvmr" --key "$tmp/customer.pem" -o "$tmp/opened-file"

# ---- cut at every 4 KiB boundary ----
# The disk as a crash or a short copy leaves it: truncated, or with the
# blocks after the cut never written; and the bundle file cut alone.
end=$((8192 + bundle_len))
cut_open() { # IMAGE: fails when refused, nothing extracted and nothing called complete
	rm -rf "$tmp/cut-out"
	"$tool" open "$1" --key "$tmp/customer.pem" -o "$tmp/cut-out" || grep -q complete "$tmp/cut.out" ||
		[ -e "$tmp/cut-out" ]
}
disk_cuts "$tmp/disk.img" "$end" cut_open
k=4096
while [ "$k" -lt "$bundle_len" ]; do
	head -c "$k" "$tmp/bundle.cvmr" >"$tmp/cut.cvmr"
	rm -rf "$tmp/cut-out"
	if "$tool" open "$tmp/cut.cvmr" --key "$tmp/customer.pem" -o "$tmp/cut-out" >"$tmp/cut.out" 2>"$tmp/cut.err" ||
		grep -q complete "$tmp/cut.out" || [ -e "$tmp/cut-out" ] || ! grep -q E_RESULT_ "$tmp/cut.err"; then
		failed=$((failed + 1))
		echo "cut bundle at $k: $(cat "$tmp/cut.err")"
	fi
	k=$((k + 4096))
done
[ "$cuts" -eq $(((end - 1) / 4096)) ] && [ "$cuts" -gt 100 ] && [ "$failed" -eq 0 ] && ok "every one of $cuts cuts is refused, none marked complete" ||
	bad "$failed of $cuts cuts not refused"

# ---- a crash before the commit record, and a result over its bound ----
cp "$tmp/disk.img" "$tmp/crash.img"
dd if=/dev/zero of="$tmp/crash.img" bs=4096 count=1 conv=notrunc status=none
expect "block 0 zeroed (a crash before the commit) is no result" 1 "E_NO_RESULT: no commit record" -- \
	"$tool" open "$tmp/crash.img" --key "$tmp/customer.pem" -o "$tmp/crash-out"
expect "a result over its bound is refused by the writer" 1 "E_OUTPUT_TOO_LARGE" -- \
	"$tool" seal "$tmp/crash.img" --stage "$tmp/stage" --recipient "$pub" --tee tdx \
	--evidence-cmd "$tmp/evidence.sh" --max 100000
expect "and leaves no result" 1 "E_NO_RESULT" -- \
	"$tool" open "$tmp/crash.img" --key "$tmp/customer.pem" -o "$tmp/crash-out"
cp "$tmp/disk.img" "$tmp/small.img" && truncate -s 65536 "$tmp/small.img"
expect "a disk too small for the result" 1 "E_OUTPUT_FULL" -- \
	"$tool" seal "$tmp/small.img" --stage "$tmp/stage" --recipient "$pub" --tee tdx \
	--evidence-cmd "$tmp/evidence.sh"

summary "cli result"

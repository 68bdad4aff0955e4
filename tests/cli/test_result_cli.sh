#!/bin/sh
# cvm keygen, cvm result open and cvm result inspect on real bundles: sealed
# by the agent's writer (result_tool seal) and by an independent writer of
# docs/result.md (seal_result.py, whose signing key is known before the
# runtime log is made, as the agent's is), with sim TDX and SNP evidence and
# a swtpm quote. Each check of docs/result-cli.md is made to fail on its own
# and must be refused with its named error, leaving no output directory.
set -u
cvm=${CVM_BIN:?}
cvmt=${CVM_TEST_BIN:?}
pki=${CVM_TEST_PKI:?}
tmp=${CVM_TEST_TMP:?}/cli-result-cli
rm -rf "$tmp" && mkdir -p "$tmp"
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
py=/usr/bin/python3
tool=$(dirname "$cvmt")/e2e/result_tool
tdxroots="--test-roots $pki/tdx/roots.pem"

swtpm_pid=""
cleanup() {
	[ -n "$swtpm_pid" ] && kill "$swtpm_pid" 2>/dev/null
	return 0
}
trap cleanup EXIT INT TERM

# refused NAME PATTERN -- command: exit 1, one line naming the error, no output directory
refused() {
	rname=$1 rpat=$2
	shift 2
	expect "$rname" 1 "$rpat" "$@"
	[ ! -e "$tmp/res" ] && [ ! -e "$tmp/res.part" ] && ok "$rname: nothing extracted" ||
		bad "$rname: an output directory was left"
	rm -rf "$tmp/res" "$tmp/res.part"
}
# without --reference, these checks are about something else than the image: say so by name
open_() {
	case " $* " in
	*" --reference "*) "$cvm" result open "$@" --key "$tmp/customer.key" -o "$tmp/res" ;;
	*) "$cvm" result open "$@" --accept-unpinned-image --key "$tmp/customer.key" -o "$tmp/res" ;;
	esac
}

# ---- cvm keygen ----
expect "keygen" 0 "" -- "$cvm" keygen -o "$tmp/customer.key"
pub=$(cat "$tmp/out")
echo "$pub" | grep -qE '^0[23][0-9a-f]{64}$' && ok "keygen prints a compressed public key" || bad "keygen output: $pub"
[ "$(stat -c %a "$tmp/customer.key")" = 600 ] && ok "the key file is 0600" || bad "key file mode"
head -1 "$tmp/customer.key" | grep -qx -- '-----BEGIN PRIVATE KEY-----' && ok "the key file is PKCS#8 PEM" || bad "key file format"
sum=$(sha256sum <"$tmp/customer.key")
expect "keygen refuses to overwrite a key" 2 "already exists" -- "$cvm" keygen -o "$tmp/customer.key"
[ "$(sha256sum <"$tmp/customer.key")" = "$sum" ] && ok "the existing key is unchanged" || bad "key overwritten"
ln -s "$tmp/nowhere" "$tmp/link.key"
expect "keygen refuses a symlink" 2 "already exists" -- "$cvm" keygen -o "$tmp/link.key"
[ ! -e "$tmp/nowhere" ] && ok "no key through the symlink" || bad "key written through a symlink"
expect "keygen needs -o" 2 "-o KEY" -- "$cvm" keygen
got=$($py -c '
import sys
from cryptography.hazmat.primitives import serialization as s
k = s.load_pem_private_key(open(sys.argv[1], "rb").read(), None)
print(k.curve.name, k.public_key().public_bytes(s.Encoding.X962, s.PublicFormat.CompressedPoint).hex())' "$tmp/customer.key")
[ "$got" = "secp256k1 $pub" ] && ok "OpenSSL reads the key and its public key is the one printed" || bad "key file: $got"
"$cvm" keygen -o "$tmp/other.key" >/dev/null

# ---- evidence: PROG REPORT_DATA_HEX OUT RUNTIME_LOG ----
mrtd=$($py -c 'print(bytes(range(48)).hex())')
snpm=$($py -c 'print(bytes(range(0xa0, 0xd0)).hex())')
# the customer's order (docs/order.md): the sim's MRCONFIGID is its SHA-384, as a TDX launch for it
sign_order() { # ID DEADLINE OUT
	cat >"$tmp/order.u.json" <<EOO
{"version": 2, "id": "$1", "image": "default", "vcpus": 1, "memory_mib": 1024, "deadline_seconds": $2,
 "inputs": [{"name": "solution", "role": "solution",
             "volume": {"url": "https://f.example.com/s.img", "sha256": "$(printf '%064d' 0)", "size": 4096,
                        "luks_header_sha256": "$(printf 'a LUKS2 header' | sha256sum | cut -c1-64)"},
             "broker": {"url": "https://b.example.com", "resource": "a/b/c", "spki_sha256": "$(printf '%064d' 1)"}}],
 "result": {"upload_url": "https://f.example.com/r"}}
EOO
	"$cvm" order sign "$tmp/order.u.json" --key "$tmp/customer.key" -o "$3" >/dev/null
}
sign_order order-cli-2 60 "$tmp/order.json"
sign_order order-cli-9 60 "$tmp/order9.json"
sign_order order-cli-2 61 "$tmp/order2b.json"
echo "{\"mrtd\": \"$mrtd\", \"mrconfigid\": \"$("$cvm" order check "$tmp/order.json" | sed -n 's/^sha384 //p')\"}" >"$tmp/launch.json"
printf '#!/bin/sh\nexec "%s" kbs-client --tee sim --sim-pki "%s" --sim-launch "%s" --runtime-log "$3" --evidence "$1" -o "$2"\n' \
	"$cvmt" "$pki" "$tmp/launch.json" >"$tmp/ev-tdx.sh"
chmod +x "$tmp/ev-tdx.sh"
# the same, launched for no order
sim_evidence_cmd "$tmp/ev-noorder.sh" "$cvmt" "$pki" "$mrtd" log
cat >"$tmp/ev-snp.sh" <<EOF
#!/bin/sh
exec "$cvmt" kbs-client --tee sim --sim-platform snp --sim-pki "$pki" --sim-measurement $snpm --evidence "\$1" -o "\$2"
EOF
chmod +x "$tmp"/ev-*.sh



# the job's output: nested directories, a file over many chunks
mkdir -p "$tmp/stage/output/deep/er" "$tmp/stage/log"
head -c 300000 /dev/urandom >"$tmp/stage/output/deep/er/random.bin"
echo "the quick brown fox" >"$tmp/stage/output/fox.txt"
echo "exit 0" >"$tmp/stage/log/stdout"
seal() {
	$py "$here/seal_result.py" --recipient "$pub" --order-id order-cli-2 --order "$tmp/order.json" --stage "$tmp/stage" \
		--evidence-cmd "$tmp/ev-tdx.sh" "$@" >/dev/null
}
reset_out() { rm -rf "$tmp/res" "$tmp/res.part"; }

# ---- a whole result, opened ----
seal "$tmp/good.cvmr" && ok "seal_result.py seals a bundle" || bad "seal_result.py failed"
expect "open: every check passes" 0 "verified and opened" -- open_ "$tmp/good.cvmr" $tdxroots
for s in framing evidence binding runtime_log events decrypt; do
	grep -q "^  ok   $s " "$tmp/out" || bad "open does not show $s as verified"
done
grep -q "^  --   reference    measurements NOT compared" "$tmp/out" &&
	grep -q "measurements NOT compared (image not pinned: --accept-unpinned-image)$" "$tmp/out" &&
	ok "open says that the measurements were not compared" || bad "no word on the measurements"
grep -q "order:  *order-cli-2" "$tmp/out" && grep -q "job:  *exit code 0, no signal, not timed out" "$tmp/out" &&
	ok "open shows the order and the job's outcome" || bad "order or outcome missing"
grep -q "^  output/deep/er/random.bin  *300000 bytes" "$tmp/out" && grep -q "^  output/fox.txt " "$tmp/out" &&
	ok "open lists the extracted files" || bad "file listing"
grep -q PARTIAL "$tmp/out" "$tmp/err" && bad "a complete result shown as partial" || ok "a complete result is not called partial"
cmp -s "$tmp/stage/output/deep/er/random.bin" "$tmp/res/output/deep/er/random.bin" &&
	cmp -s "$tmp/stage/output/fox.txt" "$tmp/res/output/fox.txt" && ok "the files come back" || bad "files differ"
expect "open refuses an existing directory" 2 "already exists" -- open_ "$tmp/good.cvmr" $tdxroots
reset_out
expect "open --json" 0 "" -- open_ "$tmp/good.cvmr" $tdxroots --json
cat >"$tmp/check-open.py" <<'EOP'
import json, sys
o = json.load(open(sys.argv[1]))
c = {x["name"]: x for x in o["checks"]}
assert o["verified"] and o["error"] is None and not o["partial"] and not o["measurements_compared"]
assert all(c[n]["ok"] for n in ("framing", "evidence", "binding", "runtime_log", "events", "decrypt"))
assert c["reference"]["state"] == "not checked"
assert o["header"]["order_id"] == "order-cli-2" and o["header"]["job"]["exit_code"] == 0
assert {"path": "output/fox.txt", "type": "file", "size": 20} in o["files"]
names = [e["name"] for e in o["runtime_events"] if e["bound"]]
assert names == ["agent-version", "agent-config", "order", "result-key", "luks-header", "job-manifest"]
assert o["header"]["inputs"][0]["name"] == "solution" and not o["order_checked"]
EOP
$py "$tmp/check-open.py" "$tmp/out" && ok "the JSON says what was verified and what came out" || bad "open --json"
reset_out

# ---- the same on an output disk ----
"$tool" init-disk "$tmp/disk.img" --size 2097152 --order-id order-cli-2
seal "$tmp/disk.cvmr" --disk "$tmp/disk.img"
expect "open an output disk" 0 "commit record matches the bundle" -- open_ "$tmp/disk.img" $tdxroots
cmp -s "$tmp/stage/output/fox.txt" "$tmp/res/output/fox.txt" && ok "the disk's files come back" || bad "disk files"
reset_out

# ---- reference values ----
luks=$(printf 'a LUKS2 header' | sha256sum | cut -c1-64)
other=$(printf 'another' | sha256sum | cut -c1-64)
echo "{\"tdx\":{\"mrtd\":\"$mrtd\"},\"luks_header_sha256\":\"$luks\"}" >"$tmp/ref.json"
echo "{\"tdx\":{\"mrtd\":\"$(printf '%096d' 0)\"}}" >"$tmp/ref-mrtd.json"
echo "{\"tdx\":{\"mrtd\":\"$mrtd\"},\"luks_header_sha256\":\"$other\"}" >"$tmp/ref-luks.json"
echo "{\"snp\":{\"measurement\":\"$snpm\"}}" >"$tmp/ref-snp.json"
expect "open with matching reference values" 0 "verified and opened$" -- open_ "$tmp/good.cvmr" $tdxroots --reference "$tmp/ref.json"
grep -q "^  ok   reference    the measurements match" "$tmp/out" && grep -q "ok   mrtd " "$tmp/out" &&
	grep -q "ok   luks_header " "$tmp/out" && ok "the reference stage shows what it compared" || bad "reference stage"
reset_out
expect "open --order with the bundle's order" 0 "verified and opened" -- open_ "$tmp/good.cvmr" $tdxroots --order "$tmp/order.json"
grep -q "the evidence is bound to the order" "$tmp/out" && ok "open --order: the evidence's binding to the order shown" ||
	bad "open --order: binding not shown"
reset_out
refused "open --order with another order" "E_RESULT_ORDER: the bundle is for order order-cli-2, not order-cli-9" -- \
	open_ "$tmp/good.cvmr" $tdxroots --order "$tmp/order9.json"
refused "open --order with another order of the same id" "E_RESULT_ORDER: the bundle is for another order of id order-cli-2" -- \
	open_ "$tmp/good.cvmr" $tdxroots --order "$tmp/order2b.json"
sed 's/"signature":"\(..\)/"signature":"00/' "$tmp/order.json" >"$tmp/order-badsig.json"
refused "open --order with an order whose signature fails" "E_RESULT_ORDER: .*E_ORDER_SIGNATURE" -- \
	open_ "$tmp/good.cvmr" $tdxroots --order "$tmp/order-badsig.json"
seal "$tmp/unbound.cvmr" --evidence-cmd "$tmp/ev-noorder.sh"
refused "open --order with evidence launched for another order" "E_RESULT_ORDER: E_ORDER_BINDING: mrconfigid" -- \
	open_ "$tmp/unbound.cvmr" $tdxroots --order "$tmp/order.json"
expect "open --order of a file that is not there" 2 "nowhere.json" -- open_ "$tmp/good.cvmr" $tdxroots --order "$tmp/nowhere.json"
refused "another MRTD than the reference" "E_RESULT_REFERENCE: mrtd" -- open_ "$tmp/good.cvmr" $tdxroots --reference "$tmp/ref-mrtd.json"
refused "another workload than the reference" "E_RESULT_REFERENCE: luks_header" -- open_ "$tmp/good.cvmr" $tdxroots --reference "$tmp/ref-luks.json"
refused "a reference without the platform" "E_RESULT_REFERENCE: .* has no reference values for tdx" -- open_ "$tmp/good.cvmr" $tdxroots --reference "$tmp/ref-snp.json"
echo '{"tdx":{"mrtdd":"00"}}' >"$tmp/ref-typo.json"
expect "a reference with a typo is a usage error" 2 "mrtdd" -- open_ "$tmp/good.cvmr" $tdxroots --reference "$tmp/ref-typo.json"

# ---- each check refuses on its own ----
refused "no trusted root for the evidence" "E_RESULT_EVIDENCE: root_pinned" -- open_ "$tmp/good.cvmr"
cp "$tmp/good.cvmr" "$tmp/flip.cvmr"
printf '\001' | dd of="$tmp/flip.cvmr" bs=1 seek=5000 conv=notrunc status=none
refused "a tampered bundle" "E_RESULT_SIGNATURE" -- open_ "$tmp/flip.cvmr" $tdxroots
refused "another recipient's key" "E_RESULT_RECIPIENT" -- \
	"$cvm" result open "$tmp/good.cvmr" $tdxroots --accept-unpinned-image --key "$tmp/other.key" -o "$tmp/res"
# the evidence of one bundle in another's trailer, every other byte genuine
seal "$tmp/second.cvmr"
$py "$here/swap_evidence.py" "$tmp/good.cvmr" "$tmp/second.cvmr" "$tmp/swapped.cvmr"
refused "the evidence of another bundle" "E_RESULT_BINDING: the evidence does not bind this bundle" -- open_ "$tmp/swapped.cvmr" $tdxroots
seal "$tmp/replay.cvmr" --strip-evidence-log --trailer-log-extra
refused "a runtime log that does not replay" "E_RESULT_EVENTLOG: runtime_log: .*does not replay to RTMR3" -- open_ "$tmp/replay.cvmr" $tdxroots
seal "$tmp/twologs.cvmr" --trailer-log-extra
refused "a trailer log other than the evidence's" "E_RESULT_EVENTLOG: the evidence carries another runtime log" -- open_ "$tmp/twologs.cvmr" $tdxroots
for ev in result-key order job-manifest; do
	seal "$tmp/drop-$ev.cvmr" --drop "$ev"
	refused "no $ev event" "E_RESULT_EVENT: the runtime log has no $ev event" -- open_ "$tmp/drop-$ev.cvmr" $tdxroots
	seal "$tmp/alter-$ev.cvmr" --alter "$ev"
	refused "another $ev event" "E_RESULT_EVENT: the $ev event is not the header's" -- open_ "$tmp/alter-$ev.cvmr" $tdxroots
done
seal "$tmp/drop-luks.cvmr" --drop luks-header
refused "no luks-header event" "E_RESULT_EVENT: the runtime log measured 0 of 1 inputs" -- open_ "$tmp/drop-luks.cvmr" $tdxroots
seal "$tmp/alter-luks.cvmr" --alter luks-header
refused "another luks-header event" "E_RESULT_EVENT: the luks-header events are not the header's inputs" -- open_ "$tmp/alter-luks.cvmr" $tdxroots
seal "$tmp/twice.cvmr" --twice result-key
refused "result-key measured twice" "E_RESULT_EVENT: the runtime log measured result-key twice" -- open_ "$tmp/twice.cvmr" $tdxroots

# ---- the agent's own writer (result_tool): a fresh signing key that no log names ----
"$tool" init-disk "$tmp/agent.img" --size 4194304 --order-id order-cli-2
cat >"$tmp/agent-log.py" <<'EOP'
import hashlib, json, sys
ev = [("agent-version", b"cvm-agent test"), ("agent-config", hashlib.sha256(b"test config").digest()),
      ("order", hashlib.sha256(b"order-cli-2").digest()), ("luks-header", hashlib.sha256(b"test LUKS2 header").digest()),
      ("result-key", bytes.fromhex("02" + "11" * 32)), ("job-manifest", hashlib.sha256(b"test manifest").digest())]
json.dump([{"recnum": i, "rtmr": 3, "digests": [{"hashAlg": "sha384", "digest": hashlib.sha384(v).hexdigest()}],
            "content_type": "cvm", "content": {"name": n, "value": v.hex()}} for i, (n, v) in enumerate(ev)],
          open(sys.argv[1], "w"))
EOP
$py "$tmp/agent-log.py" "$tmp/agent.log"
printf '#!/bin/sh\nexec "%s" "$1" "$2" "%s"\n' "$tmp/ev-tdx.sh" "$tmp/agent.log" >"$tmp/ev-agent.sh"
chmod +x "$tmp/ev-agent.sh"
expect "result_tool seals onto a disk" 0 "" -- "$tool" seal "$tmp/agent.img" --stage "$tmp/stage" --recipient "$pub" \
	--tee tdx --evidence-cmd "$tmp/ev-agent.sh" --eventlog "$tmp/agent.log"
bundle_len=$(cat "$tmp/out")
refused "the agent's bundle with a log of another result key" "E_RESULT_EVENT: the result-key event is not the header's signing_pubkey" -- \
	open_ "$tmp/agent.img" $tdxroots
grep -q "^  ok   runtime_log  6 runtime events replay to RTMR3" "$tmp/out" &&
	ok "the agent's bundle passes framing, evidence, binding and replay" || bad "the agent's bundle"

# ---- cut short: the bundle file, and the disk ----
size=$(stat -c %s "$tmp/good.cvmr")
cuts=0 failed=0
k=1
while [ "$k" -lt "$size" ]; do
	head -c "$k" "$tmp/good.cvmr" >"$tmp/cut.cvmr"
	reset_out
	if open_ "$tmp/cut.cvmr" $tdxroots >"$tmp/cut.out" 2>"$tmp/cut.err" || [ -e "$tmp/res" ] ||
		! grep -q "E_RESULT_" "$tmp/cut.err" || [ "$(wc -l <"$tmp/cut.err")" -ne 1 ]; then
		failed=$((failed + 1))
		echo "cut bundle at $k: $(cat "$tmp/cut.err")"
	fi
	cuts=$((cuts + 1))
	k=$((k + 4093))
done
[ "$cuts" -gt 50 ] && [ "$failed" -eq 0 ] && ok "every one of $cuts cuts of the bundle is refused" ||
	bad "$failed of $cuts bundle cuts not refused"
cut_open() { # IMAGE: fails when refused in one line with nothing extracted
	reset_out
	open_ "$1" $tdxroots || [ -e "$tmp/res" ] || [ "$(wc -l <"$tmp/cut.err")" -ne 1 ]
}
disk_cuts "$tmp/agent.img" $((8192 + bundle_len)) cut_open
[ "$cuts" -gt 50 ] && [ "$failed" -eq 0 ] && ok "every one of $cuts cuts of the disk is refused, truncated or zeroed" ||
	bad "$failed of $cuts disk cuts not refused"
cp "$tmp/agent.img" "$tmp/crash.img"
dd if=/dev/zero of="$tmp/crash.img" bs=4096 count=1 conv=notrunc status=none
refused "a disk without a commit record" "E_NO_RESULT: no commit record" -- open_ "$tmp/crash.img" $tdxroots

# ---- a partial result ----
seal "$tmp/partial.cvmr" --partial --timed-out --exit-code -1 --signal 9
expect "open a partial result" 0 "PARTIAL" -- open_ "$tmp/partial.cvmr" $tdxroots
grep -q '^\*\*\* PARTIAL RESULT' "$tmp/out" && grep -q "; PARTIAL result$" "$tmp/out" &&
	grep -q "warning: PARTIAL result" "$tmp/err" && ok "partial is shown prominently, and on stderr" || bad "partial not prominent"
grep -q "job:  *no exit code, signal 9, TIMED OUT" "$tmp/out" && ok "the outcome of a killed job" || bad "outcome of a killed job"
reset_out
expect "open --json a partial result" 0 "" -- open_ "$tmp/partial.cvmr" $tdxroots --json
$py -c 'import json,sys; o=json.load(open(sys.argv[1])); assert o["verified"] and o["partial"] and o["header"]["job"]["timed_out"]' "$tmp/out" &&
	ok "the JSON marks it partial" || bad "JSON partial"
reset_out

# ---- SEV-SNP: no runtime register ----
seal "$tmp/snp.cvmr" --tee snp --evidence-cmd "$tmp/ev-snp.sh"
expect "open an SEV-SNP result" 0 "verified and opened" -- open_ "$tmp/snp.cvmr" --test-roots "$pki/snp/roots.pem" \
	--reference "$tmp/ref-snp.json"
grep -q "^  --   runtime_log  not bound" "$tmp/out" && grep -q "^  --   events       not measured" "$tmp/out" &&
	grep -q "ok   measurement " "$tmp/out" && ok "SNP: the log is not called bound, the measurement is compared" || bad "SNP output"
reset_out
refused "SNP: a VCEK chain from --certs that did not sign the report" "E_RESULT_EVIDENCE" -- \
	open_ "$tmp/snp.cvmr" --test-roots "$pki/snp/roots.pem" --certs "$pki/snp/certs-vlek"
expect "--collateral does not apply to SNP" 2 "applies to TDX evidence" -- open_ "$tmp/snp.cvmr" --collateral "$tmp"

# ---- a TPM quote (swtpm) under a pinned AK ----
mkdir -p "$tmp/tpmstate"
tport=$(swtpm_tcp "$tmp/tpmstate" "$tmp/swtpm.pid")
swtpm_pid=$(cat "$tmp/swtpm.pid" 2>/dev/null)
tcti=swtpm:host=127.0.0.1,port=$tport
ak=$("$cvmt" kbs-client --tee tpm --tcti "$tcti" --show-ak)
[ ${#ak} -eq 64 ] && ok "swtpm and its AK" || bad "no AK ($ak)"
# PCR 15 gets the log's extends, as the agent makes them, then the quote
cat >"$tmp/ev-tpm.sh" <<'EOS'
#!/bin/sh
for d in $(/usr/bin/python3 -c 'import json,sys; [print(r["digests"][0]["digest"]) for r in json.load(open(sys.argv[1]))]' "$3"); do
	TPM2TOOLS_TCTI=$TCTI tpm2_pcrextend "15:sha256=$d" || exit 1
done
exec "$CVMT" kbs-client --tee tpm --tcti "$TCTI" --runtime-log "$3" --evidence "$1" -o "$2"
EOS
chmod +x "$tmp/ev-tpm.sh"
TCTI=$tcti CVMT=$cvmt seal "$tmp/tpm.cvmr" --tee tpm --evidence-cmd "$tmp/ev-tpm.sh"
echo "{\"tpm\":{\"ak_sha256\":\"$ak\"}}" >"$tmp/ref-tpm.json"
echo "{\"tpm\":{\"ak_sha256\":\"$other\"}}" >"$tmp/ref-tpm-other.json"
expect "open a TPM result under its pinned AK" 0 "runtime events replay to PCR15" -- open_ "$tmp/tpm.cvmr" --reference "$tmp/ref-tpm.json"
reset_out
refused "a TPM result under another AK" "E_RESULT_EVIDENCE: attestation_key" -- open_ "$tmp/tpm.cvmr" --reference "$tmp/ref-tpm-other.json"
expect "a TPM result without a pinned AK is a usage error" 2 "pinned attestation key" -- open_ "$tmp/tpm.cvmr"
kill "$swtpm_pid" 2>/dev/null && swtpm_pid=""

# ---- inspect: no key, nothing written ----
expect "inspect" 0 "verified (not decrypted)" -- "$cvm" result inspect "$tmp/good.cvmr" $tdxroots
grep -q "order:  *order-cli-2" "$tmp/out" && grep -q "^  ok   events " "$tmp/out" && ! grep -q "^  .... decrypt" "$tmp/out" &&
	ok "inspect shows the header and the checks that need no key" || bad "inspect output"
expect "inspect an output disk" 0 "output disk" -- "$cvm" result inspect "$tmp/disk.img" $tdxroots
expect "inspect without trusted roots" 1 "E_RESULT_EVIDENCE: root_pinned" -- "$cvm" result inspect "$tmp/good.cvmr"
grep -q "order:  *order-cli-2" "$tmp/out" && ok "a refused inspect still shows the header" || bad "inspect refusal output"
expect "inspect a tampered bundle" 1 "E_RESULT_SIGNATURE" -- "$cvm" result inspect "$tmp/flip.cvmr"
expect "inspect --json" 0 "" -- "$cvm" result inspect "$tmp/good.cvmr" $tdxroots --json
$py -c 'import json,sys; o=json.load(open(sys.argv[1])); assert o["verified"] and "files" not in o and [c["name"] for c in o["checks"]][-1] == "reference"' "$tmp/out" &&
	ok "inspect --json: verified, nothing decrypted" || bad "inspect --json"
expect "inspect takes no key" 2 "no key" -- "$cvm" result inspect "$tmp/good.cvmr" --key "$tmp/customer.key"
[ ! -e "$tmp/res" ] && ok "inspect wrote nothing" || bad "inspect wrote"

# ---- usage ----
expect "open needs --key and -o" 2 "needs --key KEY and -o DIR" -- "$cvm" result open "$tmp/good.cvmr"
expect "open needs --reference, or --accept-unpinned-image by name" 2 "accept-unpinned-image" -- \
	"$cvm" result open "$tmp/good.cvmr" $tdxroots --key "$tmp/customer.key" -o "$tmp/res"
[ ! -e "$tmp/res" ] && ok "without a reference nothing is extracted" || bad "extracted without a reference"
expect "--reference and --accept-unpinned-image exclude each other" 2 "exclude each other" -- \
	"$cvm" result open "$tmp/good.cvmr" $tdxroots --key "$tmp/customer.key" -o "$tmp/res" \
	--reference "$tmp/ref.json" --accept-unpinned-image
expect "an unreadable bundle" 2 "No such file" -- open_ "$tmp/none.cvmr"
echo "not a key" >"$tmp/bad.key"
expect "a key file that is no key" 2 "E_RESULT_KEY" -- "$cvm" result open "$tmp/good.cvmr" --accept-unpinned-image \
	--key "$tmp/bad.key" -o "$tmp/res"
expect "cvm result without a verb" 2 "" -- "$cvm" result
expect "cvm result open --help" 0 "Exit status" -- "$cvm" result open --help

summary "cli result-cli"

#!/bin/sh
# cvm verify as a user runs it: exit codes, the one-line reason, --json.
# Needs CVM_BIN, CVM_VECTORS, CVM_TEST_TMP (set by scripts/run-tests).
set -u
cvm=${CVM_BIN:?}
vec=${CVM_VECTORS:?}
tmp=${CVM_TEST_TMP:?}/cli-verify
rm -rf "$tmp" && mkdir -p "$tmp"
snp="$vec/snp/milan"
now="--now 2024-01-01T00:00:00Z"
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

# The real Milan report dates from 2022 (firmware 1.49): far below AMD-SB-3019's
# floor, which cvm applies by default. The tests of its chain and signature
# give its own TCB as min_tcb (docs/verify.md).
printf '{"snp": {"allow_debug": true, "min_tcb": %s}}' \
	'{"bootloader": 2, "tee": 0, "snp": 5, "microcode": 68}' >"$tmp/allow-debug.json"
printf '{"snp": {"allow_debug": true, "mesurement": "00"}}' >"$tmp/typo.json"
printf '{"snp": {"allow_debug": true, "product": "Genoa"}}' >"$tmp/genoa.json"
printf '%0100d' 7 >"$tmp/random.bin"
head -c 70000 /dev/zero >"$tmp/huge.bin"
head -c 1184 /dev/zero >"$tmp/zero-report.bin"
cp "$snp/report.bin" "$tmp/flipped.bin"
printf '\001' | dd of="$tmp/flipped.bin" bs=1 seek=144 conv=notrunc 2>/dev/null

expect "no arguments is a usage error" 2 "" -- "$cvm"
expect "unknown command" 2 "not a command" -- "$cvm" frobnicate
expect "help" 0 "" -- "$cvm" verify --help
expect "unknown option" 2 "unknown or incomplete option" -- "$cvm" verify --bogus "$snp/report.bin"
expect "missing evidence" 2 "No such file" -- "$cvm" verify "$tmp/none.bin"
expect "SNP without --certs" 2 "needs --certs" -- "$cvm" verify "$snp/report.bin"
expect "bad --now" 2 "RFC 3339" -- "$cvm" verify "$snp/report.bin" --certs "$snp" --now yesterday
expect "bad --report-data" 2 "report-data" -- "$cvm" verify "$snp/report.bin" --certs "$snp" --report-data xyz
expect "reference with a typo" 2 "snp.mesurement: unknown member" -- \
	"$cvm" verify "$snp/report.bin" --certs "$snp" --reference "$tmp/typo.json"
expect "real SNP report refused for its debug policy" 1 "policy_debug" -- \
	"$cvm" verify "$snp/report.bin" --certs "$snp" $now
expect "real SNP report accepted when debug is allowed" 0 "" -- \
	"$cvm" verify "$snp/report.bin" --certs "$snp" --reference "$tmp/allow-debug.json" $now
expect "real SNP report under the wrong product" 1 "product" -- \
	"$cvm" verify "$snp/report.bin" --certs "$snp" --reference "$tmp/genoa.json" $now
expect "report_data mismatch" 1 "report_data" -- \
	"$cvm" verify "$snp/report.bin" --certs "$snp" --reference "$tmp/allow-debug.json" \
	--report-data 0102030406 $now
expect "report_data match" 0 "" -- \
	"$cvm" verify "$snp/report.bin" --certs "$snp" --reference "$tmp/allow-debug.json" \
	--report-data 0102030405 $now
expect "no measurement in the reference: verified, and it says so" 0 "measurement NOT compared (the reference names none)" -- \
	"$cvm" verify "$snp/report.bin" --certs "$snp" --reference "$tmp/allow-debug.json" $now
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d["snp"]["measurement"]=sys.argv[2]; json.dump(d, open(sys.argv[3], "w"))' \
	"$tmp/allow-debug.json" b07af9620f3b839b47996422ddec6058338951d984e312115131ea82705eaf5b6bdf8a9ece31a5a608eb0cf2e4872b01 "$tmp/measured.json"
"$cvm" verify "$snp/report.bin" --certs "$snp" --reference "$tmp/measured.json" $now >"$tmp/out" 2>&1
grep -q 'verified' "$tmp/out" && ! grep -q 'NOT compared' "$tmp/out" &&
	ok "with the measurement in the reference: no such note" || bad "the note with a measured reference"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d["snp"]["measurement"]="b07af9620f3b839b47996422ddec6058338951d984e312115131ea82705eaf5b6bdf8a9ece31a5a608eb0cf2e4872b00"; json.dump(d, open(sys.argv[2], "w"))' \
	"$tmp/allow-debug.json" "$tmp/last-byte.json"
expect "a measurement that differs in its last byte: both in full" 1 "a608eb0cf2e4872b01 differs from the reference .*a608eb0cf2e4872b00" -- \
	"$cvm" verify "$snp/report.bin" --certs "$snp" --reference "$tmp/last-byte.json" $now
expect "one flipped bit in the measurement" 1 "signature" -- \
	"$cvm" verify "$tmp/flipped.bin" --certs "$snp" --reference "$tmp/allow-debug.json" $now
expect "random bytes" 1 "format" -- "$cvm" verify "$tmp/random.bin" --certs "$snp"
expect "oversized input" 1 "format" -- "$cvm" verify "$tmp/huge.bin"
expect "zero-filled report" 1 "format" -- "$cvm" verify "$tmp/zero-report.bin" --certs "$snp"
expect "expired at --now" 1 "validity" -- \
	"$cvm" verify "$snp/report.bin" --certs "$snp" --reference "$tmp/allow-debug.json" \
	--now 2035-01-01T00:00:00Z

# --json: a document with the verdict, every check and the claims.
"$cvm" verify "$snp/report.bin" --certs "$snp" --reference "$tmp/allow-debug.json" $now --json \
	>"$tmp/out.json" 2>/dev/null
if python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["verified"] is True and d["platform"] == "snp", d
assert all(c["ok"] for c in d["checks"]) and len(d["checks"]) >= 10
assert d["claims"]["measurement"].startswith("b07af962"), d["claims"]
assert d["claims"]["policy"] == "0x00000000000b0000"
assert d["claims"]["reported_tcb"]["microcode"] == 0x44
' "$tmp/out.json"; then
	ok "--json verdict and claims"
else
	bad "--json verdict and claims"
fi
"$cvm" verify "$snp/report.bin" --certs "$snp" $now --json >"$tmp/out.json" 2>/dev/null
if python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["verified"] is False
bad = [c for c in d["checks"] if not c["ok"]]
assert bad[0]["name"] == "policy_debug", bad
' "$tmp/out.json"; then
	ok "--json rejection names the check"
else
	bad "--json rejection names the check"
fi

# SEV-SNP defaults: the minimum TCB of AMD-SB-3019, policy and PLATFORM_INFO.
sd="$CVM_TOP/tests/data/snp"
now26="--now 2026-06-01T00:00:00Z"
printf '{"snp": {"allow_debug": true}}' >"$tmp/debug-only.json"
expect "2022 Milan report below the default minimum TCB" 1 \
	"min_tcb: reported_tcb bootloader 2 below 4 .AMD-SB-3019 Milan." -- \
	"$cvm" verify "$snp/report.bin" --certs "$snp" --reference "$tmp/debug-only.json" $now
for p in milan genoa turin; do
	expect "real $p report at AMD-SB-3019's floor verifies by default" 0 "" -- \
		"$cvm" verify "$sd/$p/report.bin" --certs "$sd/$p" $now26
done
if "$cvm" verify "$sd/milan/report.bin" --certs "$sd/milan" $now26 |
	grep -q "min_tcb .*at least 4/0/24/219 (AMD-SB-3019 Milan)"; then
	ok "the text output names the floor and its bulletin"
else
	bad "the text output names the floor and its bulletin"
fi
expect "Turin report under another real Turin VCEK" 1 "signature" -- \
	"$cvm" verify "$sd/turin/report.bin" --certs "$sd/turin/virtee" $now26
printf '{"snp": {"min_tcb": {"fmc": 2}}}' >"$tmp/turin-fmc.json"
expect "Turin below a reference's fmc" 1 "min_tcb: reported_tcb fmc 1 below 2" -- \
	"$cvm" verify "$sd/turin/report.bin" --certs "$sd/turin" --reference "$tmp/turin-fmc.json" $now26
printf '{"snp": {"require_single_socket": true}}' >"$tmp/ss.json"
expect "SINGLE_SOCKET required" 1 "policy_single_socket" -- \
	"$cvm" verify "$sd/genoa/report.bin" --certs "$sd/genoa" --reference "$tmp/ss.json" $now26
printf '{"snp": {"min_abi": {"major": 1, "minor": 55}}}' >"$tmp/abi.json"
expect "ABI below the reference's minimum" 1 "policy_abi: guest policy ABI 0.31 below" -- \
	"$cvm" verify "$sd/genoa/report.bin" --certs "$sd/genoa" --reference "$tmp/abi.json" $now26
printf '{"snp": {"min_abi": {"major": 0, "minor": 31}}}' >"$tmp/abi-ok.json"
expect "ABI at the reference's minimum" 0 "" -- \
	"$cvm" verify "$sd/genoa/report.bin" --certs "$sd/genoa" --reference "$tmp/abi-ok.json" $now26
printf '{"snp": {"require_policy": ["ciphertext_hiding_dram"]}}' >"$tmp/ch.json"
expect "policy feature required" 1 "policy_features: guest policy lacks ciphertext_hiding_dram" -- \
	"$cvm" verify "$sd/genoa/report.bin" --certs "$sd/genoa" --reference "$tmp/ch.json" $now26
printf '{"snp": {"require_platform": ["alias_check_complete", "tsme_en"]}}' >"$tmp/pi.json"
expect "PLATFORM_INFO flags present" 0 "" -- \
	"$cvm" verify "$sd/genoa/report.bin" --certs "$sd/genoa" --reference "$tmp/pi.json" $now26
expect "PLATFORM_INFO flag required and absent" 1 "platform_info: PLATFORM_INFO lacks tsme_en" -- \
	"$cvm" verify "$sd/milan/report.bin" --certs "$sd/milan" --reference "$tmp/pi.json" $now26
printf '{"snp": {"require_platform": ["alias_check"]}}' >"$tmp/pi-typo.json"
expect "unknown PLATFORM_INFO name" 2 "snp.require_platform: must be an array of names" -- \
	"$cvm" verify "$sd/genoa/report.bin" --certs "$sd/genoa" --reference "$tmp/pi-typo.json" $now26
"$cvm" verify "$sd/turin/report.bin" --certs "$sd/turin" $now26 --json >"$tmp/out.json" 2>/dev/null
if python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
c = d["claims"]
assert d["verified"] is True and c["product"] == "Turin", d
assert c["platform_info_bits"]["alias_check_complete"] is True, c
assert c["platform_info_bits"]["other"] == "0x0000000000000040", c
assert c["policy_bits"]["page_swap_disable"] is False, c
assert c["reported_tcb"]["fmc"] == 1 and c["reported_tcb"]["microcode"] == 81, c
names = [x["name"] for x in d["checks"]]
for n in ("policy_single_socket", "policy_abi", "policy_features", "platform_info", "min_tcb"):
    assert n in names, names
' "$tmp/out.json"; then
	ok "--json: PLATFORM_INFO flags, policy bits, Turin TCB"
else
	bad "--json: PLATFORM_INFO flags, policy bits, Turin TCB"
fi

# TDX: a real quote verifies; without collateral the output says TCB was not checked.
# 2026-06-01 lies within the validity of all three PCK certificates.
now="--now 2026-06-01T00:00:00Z"
# The Sapphire Rapids quote's TD runs without SEPT_VE_DISABLE (TD attributes
# 0x40000000): refused by default, accepted when a reference says so by name.
printf '{"tdx": {"allow_sept_ve": true}}' >"$tmp/sept-ve.json"
expect "real TDX quote without SEPT_VE_DISABLE refused by default" 1 \
	"td_attributes: .*lack SEPT_VE_DISABLE" -- "$cvm" verify "$vec/tdx/spr-prod-quote-v4.bin" $now
for q in spr-prod-quote-v4.bin quote-v5.bin gcp-cos-ccel/quote.bin; do
	expect "real TDX quote $q" 0 "" -- "$cvm" verify "$vec/tdx/$q" $now --reference "$tmp/sept-ve.json"
	if grep -q "TCB status NOT checked" "$tmp/out"; then
		ok "$q: says TCB status not checked"
	else
		bad "$q: no word on the TCB status"
	fi
	if [ "$(grep -c "warning: collateral not checked" "$tmp/err")" = 1 ]; then
		ok "$q: one line on stderr says collateral was not checked"
	else
		bad "$q: no line on stderr says collateral was not checked"
	fi
done
"$cvm" verify "$vec/tdx/quote-v5.bin" $now --json >"$tmp/out.json" 2>/dev/null
if python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["verified"] is True and d["collateral_checked"] is False and d["tcb_status_checked"] is False, d
c = {x["name"]: x for x in d["checks"]}
assert c["td_attributes"]["ok"] and "0000001000000000" in c["td_attributes"]["detail"], c
assert c["xfam"]["ok"] and "e702060000000000" in c["xfam"]["detail"], c
assert d["claims"]["td_attributes"] == "0000001000000000" and d["claims"]["td_sept_ve_disable"] is True
assert d["claims"]["xfam"] == "e702060000000000"
' "$tmp/out.json"; then
	ok "TDX --json: collateral_checked, td_attributes and xfam"
else
	bad "TDX --json: collateral_checked, td_attributes and xfam"
fi
printf '{"tdx": {"td_attributes": "0000001000000000", "xfam": "e702060000000000"}}' >"$tmp/pins.json"
expect "TD attributes and XFAM as pinned" 0 "" -- "$cvm" verify "$vec/tdx/quote-v5.bin" $now --reference "$tmp/pins.json"
printf '{"tdx": {"td_attributes": "0000005000000000"}}' >"$tmp/pin-attr.json"
expect "TD attributes off the pin" 1 "td_attributes: TD attributes 0000001000000000, the reference pins 0000005000000000" -- \
	"$cvm" verify "$vec/tdx/quote-v5.bin" $now --reference "$tmp/pin-attr.json"
printf '{"tdx": {"xfam": "e71a060000000000"}}' >"$tmp/pin-xfam.json"
expect "XFAM off the pin" 1 "xfam: XFAM e702060000000000" -- \
	"$cvm" verify "$vec/tdx/quote-v5.bin" $now --reference "$tmp/pin-xfam.json"
printf '{"tdx": {"xfam": "e71a060000000000", "xfam_mask": "ff00ffffffffffff"}}' >"$tmp/pin-xfam-mask.json"
expect "XFAM under a mask that leaves the differing bits out" 0 "" -- \
	"$cvm" verify "$vec/tdx/quote-v5.bin" $now --reference "$tmp/pin-xfam-mask.json"
printf '{"tdx": {"td_attributes": "0000000000000000"}}' >"$tmp/pin-nosept.json"
expect "a pin with SEPT_VE_DISABLE clear needs allow_sept_ve" 2 "tdx.td_attributes: pins SEPT_VE_DISABLE" -- \
	"$cvm" verify "$vec/tdx/quote-v5.bin" $now --reference "$tmp/pin-nosept.json"
expect "TDX report_data from nonce.bin" 0 "" -- "$cvm" verify "$vec/tdx/gcp-cos-ccel/quote.bin" $now \
	--report-data "$(od -An -tx1 -v "$vec/tdx/gcp-cos-ccel/nonce.bin" | tr -d ' \n')"
expect "TDX quote before its PCK certificate was issued" 1 "validity" -- \
	"$cvm" verify "$vec/tdx/quote-v5.bin" --now 2025-01-01T00:00:00Z
expect "TDX with collateral: signatures check, no TCB level matches this quote" 1 "tcb_status" -- \
	"$cvm" verify "$vec/tdx/spr-prod-quote-v4.bin" --now 2023-06-20T00:00:00Z \
	--collateral "$CVM_TOP/tests/data/tdx/collateral" --reference "$tmp/sept-ve.json"
expect "TDX collateral out of date" 1 "collateral" -- \
	"$cvm" verify "$vec/tdx/spr-prod-quote-v4.bin" --now 2024-06-20T00:00:00Z \
	--collateral "$CVM_TOP/tests/data/tdx/collateral" --reference "$tmp/sept-ve.json"
expect "TDX collateral for another FMSPC" 1 "FMSPC" -- \
	"$cvm" verify "$vec/tdx/gcp-cos-ccel/quote.bin" --now 2024-07-20T00:00:00Z \
	--collateral "$CVM_TOP/tests/data/tdx/collateral"
expect "missing collateral dir" 2 "" -- "$cvm" verify "$vec/tdx/quote-v5.bin" --collateral "$tmp/nope"
expect "TDX with --certs is a usage error" 2 "" -- "$cvm" verify "$vec/tdx/quote-v5.bin" --certs "$snp"

# --runtime-log: cvm-agent's CEL-JSON log, written here as docs/measurements.md
# describes it (RTMR3 and PCR 15 records of each event), replayed against the
# sim's TDX quote (its RTMR3 is the replay of the log it is given) and against
# a TPM quote of a swtpm whose PCR 15 got the same extends.
test_bin=${CVM_TEST_BIN:?}
pki=${CVM_TEST_PKI:?}
rd=$(printf '%0128d' 0)
luks=$(printf '1c%.0s' $(seq 32))
mklog() { # mklog FILE [forge|reorder]: the agent's first two events, order-id and luks-header, both registers
	python3 - "$@" <<'EOF_PY'
import hashlib, json, sys
events = [("agent-version", b"cvm-agent test".hex()), ("agent-config", "ac" * 32),
          ("order-id", b"order-7".hex()), ("luks-header", "1c" * 32)]
if sys.argv[2:] == ["reorder"]:
    events[2], events[3] = events[3], events[2]
if sys.argv[2:] == ["late"]:
    events = events[2:3] + events[:2] + events[3:]
recs = []
for name, value in events:
    v = bytes.fromhex(value)
    h = lambda alg: {"hashAlg": alg, "digest": hashlib.new(alg, v).hexdigest()}
    recs.append({"recnum": len(recs), "rtmr": 3, "digests": [h("sha384")],
                 "content_type": "cvm", "content": {"name": name, "value": value}})
    recs.append({"recnum": len(recs), "pcr": 15, "digests": [h("sha256"), h("sha384")],
                 "content_type": "cvm", "content": {"name": name, "value": value}})
if sys.argv[2:] == ["forge"]:
    recs[6]["content"]["value"] = "2d" * 32
json.dump(recs, open(sys.argv[1], "w"))
EOF_PY
}
mklog "$tmp/log.json"
mklog "$tmp/reordered.json" reorder
mklog "$tmp/forged.json" forge
mklog "$tmp/late.json" late
printf '{"luks_header_sha256": "%s"}' "$luks" >"$tmp/luks.json"
printf '{"luks_header_sha256": "%s"}' "$(printf '2d%.0s' $(seq 32))" >"$tmp/other-luks.json"
"$test_bin" kbs-client --tee sim --sim-pki "$pki" --runtime-log "$tmp/log.json" \
	--evidence "$rd" -o "$tmp/tdx.json" 2>"$tmp/err" || bad "sim TDX evidence: $(cat "$tmp/err")"
troots="--test-roots $pki/tdx/roots.pem"

expect "TDX quote and its runtime log" 0 "runtime_log .*4 runtime events replay to RTMR3" -- \
	"$test_bin" verify "$tmp/tdx.json" $troots --runtime-log "$tmp/log.json"
if grep -q "order-id  *6f726465722d37" "$tmp/out" && grep -q "luks-header  *$luks" "$tmp/out"; then
	ok "runtime events printed with their values"
else
	bad "runtime events printed with their values"
fi
expect "runtime log and the expected LUKS header" 0 "luks_header" -- \
	"$test_bin" verify "$tmp/tdx.json" $troots --runtime-log "$tmp/log.json" \
	--reference "$tmp/luks.json"
expect "runtime log of another LUKS header" 1 "luks_header: the guest measured another" -- \
	"$test_bin" verify "$tmp/tdx.json" $troots --runtime-log "$tmp/log.json" \
	--reference "$tmp/other-luks.json"
expect "events in another order do not replay" 1 "runtime_log: runtime event log does not replay to RTMR3" -- \
	"$test_bin" verify "$tmp/tdx.json" $troots --runtime-log "$tmp/reordered.json"
"$test_bin" kbs-client --tee sim --sim-pki "$pki" --runtime-log "$tmp/late.json" \
	--evidence "$rd" -o "$tmp/tdx-late.json" 2>"$tmp/err" || bad "sim TDX evidence: $(cat "$tmp/err")"
expect "a log that replays but measured something before the agent" 1 "the log must start with the agent" -- \
	"$test_bin" verify "$tmp/tdx-late.json" $troots --runtime-log "$tmp/late.json"
expect "a value its digest does not measure" 1 "digest is not that of its value" -- \
	"$test_bin" verify "$tmp/tdx.json" $troots --runtime-log "$tmp/forged.json"
printf '[{"recnum": 0, "rtmr": 2}]' >"$tmp/rtmr2.json"
expect "a record of another register" 1 "RTMR other than RTMR3" -- \
	"$test_bin" verify "$tmp/tdx.json" $troots --runtime-log "$tmp/rtmr2.json"
expect "LUKS reference without a runtime log" 2 "needs --runtime-log" -- \
	"$test_bin" verify "$tmp/tdx.json" $troots --reference "$tmp/luks.json"
expect "missing runtime log" 2 "No such file" -- \
	"$test_bin" verify "$tmp/tdx.json" $troots --runtime-log "$tmp/none.json"
expect "SEV-SNP has no runtime register" 2 "SEV-SNP has no runtime register" -- \
	"$cvm" verify "$snp/report.bin" --certs "$snp" --runtime-log "$tmp/log.json"
"$test_bin" verify "$tmp/tdx.json" $troots --runtime-log "$tmp/log.json" --json >"$tmp/out.json" 2>/dev/null
if python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["verified"] is True, d
ev = d["claims"]["runtime_events"]
assert [(e["recnum"], e["register"], e["name"]) for e in ev] == [
    (0, "rtmr3", "agent-version"), (2, "rtmr3", "agent-config"),
    (4, "rtmr3", "order-id"), (6, "rtmr3", "luks-header")], ev
assert ev[2]["value"] == b"order-7".hex()
assert [c for c in d["checks"] if c["name"] == "runtime_log"][0]["ok"]
' "$tmp/out.json"; then
	ok "--json: runtime events in the claims"
else
	bad "--json: runtime events in the claims"
fi

# JSON evidence as the backends give it: SNP with its own cert_chain; hostile JSON.
"$test_bin" kbs-client --tee sim --sim-platform snp --sim-pki "$pki" --evidence "$rd" \
	-o "$tmp/snp.json" 2>"$tmp/err" || bad "sim SNP evidence: $(cat "$tmp/err")"
expect "SNP evidence as JSON, chain from its cert_chain" 0 "genuine SEV-SNP report" -- \
	"$test_bin" verify "$tmp/snp.json" --test-roots "$pki/snp/roots.pem" --report-data 00
printf '{"quote": 5}' >"$tmp/bad-quote.json"
expect "JSON evidence with a malformed quote" 1 "format: quote is not standard base64" -- \
	"$cvm" verify "$tmp/bad-quote.json"
printf '{"evidence": "x"}' >"$tmp/unknown.json"
expect "JSON of no known evidence shape" 1 "format: neither" -- "$cvm" verify "$tmp/unknown.json"

# A TPM quote: swtpm with SHA-256 and SHA-384 banks, PCR 15 extended as the agent extends it.
tpmdir="$tmp/tpm"
mkdir -p "$tpmdir"
if swtpm_setup --tpm2 --tpmstate "$tpmdir" --pcr-banks sha256,sha384 --overwrite \
	--config /dev/null >"$tpmdir/setup.log" 2>&1 &&
	port=$(swtpm_tcp "$tpmdir" "$tpmdir/pid"); then
	tcti="swtpm:host=127.0.0.1,port=$port"
	python3 -c '
import json, sys
for r in json.load(open(sys.argv[1])):
    if "pcr" in r:
        print(",".join("%s=%s" % (d["hashAlg"], d["digest"]) for d in r["digests"]))
' "$tmp/log.json" | while read -r d; do
		TPM2TOOLS_TCTI=$tcti tpm2_pcrextend "15:$d" || echo "extend failed" >&2
	done
	ak=$("$cvm" kbs-client --tee tpm --tcti "$tcti" --show-ak)
	printf '{"tpm": {"ak_sha256": "%s"}, "luks_header_sha256": "%s"}' "$ak" "$luks" >"$tmp/tpm-ref.json"
	printf '{"tpm": {"ak_sha256": "%064d"}}' 0 >"$tmp/tpm-other-ak.json"
	"$cvm" kbs-client --tee tpm --tcti "$tcti" --evidence "$rd" -o "$tmp/tpm.json" 2>"$tmp/err" ||
		bad "TPM evidence: $(cat "$tmp/err")"
	kill "$(cat "$tpmdir/pid")"
	expect "TPM quote and its runtime log" 0 "4 runtime events replay to PCR15" -- \
		"$cvm" verify "$tmp/tpm.json" --reference "$tmp/tpm-ref.json" --runtime-log "$tmp/log.json"
	if grep -q "^    5 *order-id" "$tmp/out" && grep -q "^    7 *luks-header" "$tmp/out"; then
		ok "TPM: the PCR 15 events printed"
	else
		bad "TPM: the PCR 15 events printed"
	fi
	expect "TPM runtime log out of order" 1 "does not replay to PCR15" -- \
		"$cvm" verify "$tmp/tpm.json" --reference "$tmp/tpm-ref.json" \
		--runtime-log "$tmp/reordered.json"
	expect "TPM quote without a pinned AK" 2 "tpm.ak_sha256" -- \
		"$cvm" verify "$tmp/tpm.json" --runtime-log "$tmp/log.json"
	expect "TPM quote under another AK pin" 1 "attestation_key" -- \
		"$cvm" verify "$tmp/tpm.json" --reference "$tmp/tpm-other-ak.json"
else
	bad "swtpm: $(cat "$tpmdir/setup.log")"
fi

summary "cli verify"

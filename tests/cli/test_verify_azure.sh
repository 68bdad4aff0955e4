#!/bin/sh
# cvm verify of Azure's vTPM evidence (az-snp-vtpm, az-tdx-vtpm): the real
# vectors of tests/vectors/azure accepted, their claims against reference
# values, and refusals by name. The byte-level attacks are in
# tests/hostile/a_azure.sh; the sim backend's evidence under the test PKI.
# Needs CVM_BIN, CVM_TEST_BIN, CVM_TEST_PKI, CVM_VECTORS, CVM_TEST_TMP.
set -u
cvm=${CVM_BIN:?}
vec=${CVM_VECTORS:?}/azure
tmp=${CVM_TEST_TMP:?}/cli-verify-azure
rm -rf "$tmp" && mkdir -p "$tmp"
. "$(dirname "$0")/lib.sh"
azpy="$(dirname "$0")/az_evidence.py"
now="--now 2026-06-01T00:00:00Z"
rd="--report-data 6368616c6c656e6765" # "challenge"
rd2=982f5c6e45df0ed3f10b6f60b02f0c8390e281300f3805e2279c16168cd6ae9aa398f647caa2338748cd0fd9f5f819ef
pcr0=e15c44796beabf46abcec7c57e590942041e47497e4ec27571c8b7664f48dced
meas=6a063be9dd79f6371c842e480f8dc3b5c725961344e57130e88c5adf49e8f7f6c79b75a5eb77fc769959f4aeb2f9401e
mrtd=024a32b070383331181619fa387cb4d55d1e38879f989933055ccad5bc2db795d1737b66205949d15469dc8c1ba7ab7b
zero48=000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000

printf '{"snp": {"measurement": "%s"}, "tpm": {"pcrs": {"sha256": {"0": "%s"}}}}' \
	"$meas" "$pcr0" >"$tmp/snp-pins.json"
printf '{"tpm": {"pcrs": {"sha256": {"0": "%s"}}}}' \
	"$(echo $pcr0 | tr 'e' 'f')" >"$tmp/pcr0-other.json"
printf '{"snp": {"measurement": "%s"}}' "$zero48" >"$tmp/meas-other.json"
printf '{"tdx": {"mrtd": "%s"}}' "$mrtd" >"$tmp/tdx-pins.json"
printf '{"tdx": {"mrtd": "%s"}}' "$zero48" >"$tmp/tdx-other.json"
printf '{"snp": {"min_tcb": {"bootloader": 3, "tee": 0, "snp": 8, "microcode": 115}}}' \
	>"$tmp/old-tcb.json"
python3 "$azpy" - "$tmp/older.json" assemble "$vec/snp-hcl-report.bin" \
	"$vec/snp-tpm-quote-v1.json" "$vec/snp-vcek.pem"

expect "az-snp-vtpm v1 accepted" 0 "verified: genuine az-snp-vtpm evidence" -- \
	"$cvm" verify "$vec/snp-evidence-v1.json" $rd $now
expect "az-snp-vtpm v2 accepted, user-data bound" 0 "user-data binds report_data" -- \
	"$cvm" verify "$vec/snp-evidence-v2.json" --report-data $rd2 $now
expect "az-snp-vtpm without report_data" 0 "verified" -- \
	"$cvm" verify "$vec/snp-evidence-v1.json" $now
expect "az-snp-vtpm pins of measurement and PCR 0" 0 "PCR0 $pcr0" -- \
	"$cvm" verify "$vec/snp-evidence-v1.json" $rd $now --reference "$tmp/snp-pins.json"
expect "az-snp-vtpm other PCR 0" 1 "pcr: PCR0 " -- \
	"$cvm" verify "$vec/snp-evidence-v1.json" $rd $now --reference "$tmp/pcr0-other.json"
expect "az-snp-vtpm other paravisor measurement" 1 "measurement: " -- \
	"$cvm" verify "$vec/snp-evidence-v1.json" $rd $now --reference "$tmp/meas-other.json"
expect "az-snp-vtpm v2 with another report_data" 1 "report_data: TPM quote qualifying data" -- \
	"$cvm" verify "$vec/snp-evidence-v2.json" $rd $now
expect "older report below the default TCB floor" 1 "min_tcb: reported_tcb bootloader 3" -- \
	"$cvm" verify "$tmp/older.json" $rd $now
expect "older report with its own TCB as min_tcb" 0 "verified" -- \
	"$cvm" verify "$tmp/older.json" $rd $now --reference "$tmp/old-tcb.json"
expect "after the VCEK expired" 1 "validity: " -- \
	"$cvm" verify "$vec/snp-evidence-v1.json" $rd --now 2033-01-01T00:00:00Z
expect "Trustee's version 0 shape" 1 "format: version missing" -- \
	"$cvm" verify "$vec/snp-evidence-genoa.json" $now
expect "--certs does not apply" 2 "--certs applies to SEV-SNP evidence; this is az-snp-vtpm evidence" -- \
	"$cvm" verify "$vec/snp-evidence-v1.json" --certs "$vec" $now
expect "az-tdx-vtpm: the paravisor TD without SEPT_VE_DISABLE" 0 "SEPT_VE_DISABLE clear" -- \
	"$cvm" verify "$vec/tdx-evidence-v1.json" $rd $now
printf '{"tdx": {"td_attributes": "0000001000000000"}}' >"$tmp/tdx-attr.json"
expect "az-tdx-vtpm against a td_attributes pin" 1 "td_attributes: TD attributes 0000000000000000, the reference pins" -- \
	"$cvm" verify "$vec/tdx-evidence-v1.json" $rd $now --reference "$tmp/tdx-attr.json"
expect "az-tdx-vtpm accepted with allow_sept_ve and its MRTD" 0 "TCB status NOT checked" -- \
	"$cvm" verify "$vec/tdx-evidence-v1.json" $rd $now --reference "$tmp/tdx-pins.json"
expect "az-tdx-vtpm other MRTD" 1 "mrtd: " -- \
	"$cvm" verify "$vec/tdx-evidence-v1.json" $rd $now --reference "$tmp/tdx-other.json"

# The sim backend's Azure evidence (test PKI) with a runtime log in the vTPM's PCR 15.
cvmt=${CVM_TEST_BIN:?}
pki=${CVM_TEST_PKI:?}
cat "$pki/snp/roots.pem" "$pki/tdx/roots.pem" >"$tmp/roots.pem"
simrd=$(printf 'ab%.0s' $(seq 48))$(printf '00%.0s' $(seq 16))
/usr/bin/python3 - "$tmp/rt.json" "$tmp/rt-bad.json" <<'EOP'
import hashlib, json, sys
ev = [("agent-version", b"cvm-agent 0.1".hex()), ("agent-config", "22" * 32), ("luks-header", "33" * 32)]
log = [{"recnum": i, "pcr": 15, "digests": [{"hashAlg": "sha256",
        "digest": hashlib.sha256(bytes.fromhex(v)).hexdigest()}],
        "content_type": "cvm", "content": {"name": n, "value": v}} for i, (n, v) in enumerate(ev)]
json.dump(log, open(sys.argv[1], "w"))
json.dump(log[:2], open(sys.argv[2], "w"))
EOP
for p in az-snp-vtpm az-tdx-vtpm; do
	"$cvmt" kbs-client --tee sim --sim-pki "$pki" --sim-platform $p --runtime-log "$tmp/rt.json" \
		--evidence "$simrd" -o "$tmp/sim-$p.json" 2>"$tmp/err" || bad "sim $p evidence: $(cat "$tmp/err")"
	expect "sim $p under the test roots, its runtime log replayed" 0 "3 runtime events replay to PCR15" -- \
		"$cvm" verify "$tmp/sim-$p.json" --test-roots "$tmp/roots.pem" --report-data "$simrd" \
		--runtime-log "$tmp/rt.json"
	expect "sim $p: the events listed" 0 "luks-header      3333" -- \
		"$cvm" verify "$tmp/sim-$p.json" --test-roots "$tmp/roots.pem" --runtime-log "$tmp/rt.json"
	expect "sim $p: a runtime log with an event dropped" 1 "runtime_log: " -- \
		"$cvm" verify "$tmp/sim-$p.json" --test-roots "$tmp/roots.pem" --runtime-log "$tmp/rt-bad.json"
	expect "sim $p without the test roots" 1 "root_pinned: " -- "$cvm" verify "$tmp/sim-$p.json"
done

"$cvm" verify "$vec/snp-evidence-v1.json" $rd $now --json >"$tmp/v.json" 2>/dev/null
if python3 -c '
import json, sys
v = json.load(open(sys.argv[1]))
names = [c["name"] for c in v["checks"]]
assert v["verified"] and v["platform"] == "az-snp-vtpm", v["platform"]
for n in ("chain", "signature", "report_data", "attestation_key", "pcr_digest"):
    assert n in names, n
c = v["claims"]
assert c["hcl"]["var_data_sha256"].startswith("af2910341dd81083"), c["hcl"]
assert c["snp"]["measurement"].startswith("6a063be9"), c["snp"]["measurement"]
assert c["tpm"]["pcrs"]["0"].startswith("e15c4479"), c["tpm"]
' "$tmp/v.json"; then ok "--json names the platform, the checks and the claims to pin"; else bad "--json"; fi

summary test_verify_azure

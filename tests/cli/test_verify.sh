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
. "$(dirname "$0")/lib.sh"

printf '{"snp": {"allow_debug": true}}' >"$tmp/allow-debug.json"
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

# TDX: a real quote verifies; without collateral the output says TCB was not checked.
# 2026-06-01 lies within the validity of all three PCK certificates.
now="--now 2026-06-01T00:00:00Z"
for q in spr-prod-quote-v4.bin quote-v5.bin gcp-cos-ccel/quote.bin; do
	expect "real TDX quote $q" 0 "" -- "$cvm" verify "$vec/tdx/$q" $now
	if grep -q "TCB status NOT checked" "$tmp/out"; then
		ok "$q: says TCB status not checked"
	else
		bad "$q: no word on the TCB status"
	fi
done
expect "TDX report_data from nonce.bin" 0 "" -- "$cvm" verify "$vec/tdx/gcp-cos-ccel/quote.bin" $now \
	--report-data "$(od -An -tx1 -v "$vec/tdx/gcp-cos-ccel/nonce.bin" | tr -d ' \n')"
expect "TDX quote before its PCK certificate was issued" 1 "validity" -- \
	"$cvm" verify "$vec/tdx/quote-v5.bin" --now 2025-01-01T00:00:00Z
expect "TDX with collateral: signatures check, no TCB level matches this quote" 1 "tcb_status" -- \
	"$cvm" verify "$vec/tdx/spr-prod-quote-v4.bin" --now 2023-06-20T00:00:00Z \
	--collateral "$CVM_TOP/tests/data/tdx/collateral"
expect "TDX collateral out of date" 1 "collateral" -- \
	"$cvm" verify "$vec/tdx/spr-prod-quote-v4.bin" --now 2024-06-20T00:00:00Z \
	--collateral "$CVM_TOP/tests/data/tdx/collateral"
expect "TDX collateral for another FMSPC" 1 "FMSPC" -- \
	"$cvm" verify "$vec/tdx/gcp-cos-ccel/quote.bin" --now 2024-07-20T00:00:00Z \
	--collateral "$CVM_TOP/tests/data/tdx/collateral"
expect "missing collateral dir" 2 "" -- "$cvm" verify "$vec/tdx/quote-v5.bin" --collateral "$tmp/nope"
expect "TDX with --certs is a usage error" 2 "" -- "$cvm" verify "$vec/tdx/quote-v5.bin" --certs "$snp"

summary "cli verify"

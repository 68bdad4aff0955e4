# Azure vTPM evidence (az-snp-vtpm, az-tdx-vtpm: tests/vectors/azure) a
# malicious host changed: each change to the HCL report, its var data, the
# vTPM quote, the PCRs or the hardware evidence must be refused by name.
# shellcheck shell=sh

az="$vectors/azure"
azpy="$top/tests/cli/az_evidence.py"
az_now="--now 2026-06-01T00:00:00Z"
az_rd="--report-data 6368616c6c656e6765" # "challenge", the vectors' nonce

az_snp() { # NAME PATTERN OP ARGS...: a changed az-snp-vtpm vector
	n=$1 p=$2
	shift 2
	python3 "$azpy" "$az/snp-evidence-v1.json" "$tmp/az-$n.json" "$@" &&
		attack "az-snp-$n" 1 "$p" -- "$cvm" verify "$tmp/az-$n.json" $az_rd $az_now
}

az_tdx() {
	n=$1 p=$2
	shift 2
	python3 "$azpy" "$az/tdx-evidence-v1.json" "$tmp/az-tdx-$n.json" "$@" &&
		attack "az-tdx-$n" 1 "$p" -- "$cvm" verify "$tmp/az-tdx-$n.json" $az_rd $az_now
}

# The SEV-SNP report inside the HCL report (at 32): signed by the VCEK.
az_snp report-signature "signature: report signature does not verify with the VCEK" hcl-flip $((32 + 0x2a0))
az_snp report-measurement "signature: report signature does not verify" hcl-flip $((32 + 0x90))
az_snp report-data "signature: report signature does not verify" hcl-flip $((32 + 0x50))
az_snp report-vmpl "signature: report signature does not verify" hcl-set32 $((32 + 0x30)) 1
az_snp other-vcek "(chip_id|tcb_match|signature): [a-z]" vcek-pem "$az/snp-vcek.pem"
# The var data (JSON after the IGVM request data): its SHA-256 is in report_data.
az_snp var-data "report_data: hardware report_data does not bind the HCL var data" \
	var-replace '"vmUniqueId":"' '"vmUniqueID":"'
az_snp ak-swapped "report_data: hardware report_data does not bind" var-replace '"n":"mHSR' '"n":"mHSS'
# The vTPM quote: signed by the AK the var data holds.
az_snp quote-signature "signature: quote signature does not verify" quote-flip signature 7
az_snp quote-message "signature: quote signature does not verify" quote-flip message 60
az_snp quote-other-ak "signature: quote signature does not verify" quote-from "$az/snp-evidence-v2.json"
az_snp pcr0 "pcr_digest: the PCR values given do not hash" pcr-flip 0
az_snp pcr15 "pcr_digest: the PCR values given do not hash" pcr-flip 15
az_snp pcrs-23 "format: tpm_quote.pcrs is not 24" pcrs-drop
# The HCL report's own layout.
az_snp hcl-truncated "format: HCL report of 2000 bytes is truncated" hcl-cut 2000
az_snp hcl-short "format: HCL report of 1000 bytes is shorter" hcl-cut 1000
az_snp hcl-type-tdx "format: HCL report type 4" hcl-set32 1224 4
az_snp hcl-magic "format: HCL report does not start" hcl-flip 0
az_snp hcl-hash-type "format: HCL report hash type" hcl-set32 1228 2
az_snp hcl-var-size "format: HCL report sizes disagree|format: HCL report of" hcl-set32 1232 1100
az_snp hcl-trailing "format: bytes after the HCL report" hcl-append 01
az_snp version-3 "format: version must be 1 or 2" set version 3
az_snp as-tdx "format: HCL report type 2, this evidence shape needs 4" rename vcek td_quote
# The nonce the broker binds: qualifying data of the quote.
attack az-snp-nonce 1 "report_data: TPM quote qualifying data" -- \
	"$cvm" verify "$az/snp-evidence-v1.json" --report-data 6368616c6c656e6766 $az_now
attack az-snp-nonce-longer 1 "report_data: TPM quote qualifying data" -- \
	"$cvm" verify "$az/snp-evidence-v1.json" --report-data 6368616c6c656e676501 $az_now

# TDX: the TD quote beside the HCL report, its report_data the var data's hash.
az_tdx td-signature "signature: quote signature does not verify with the attestation key" td-flip 640
az_tdx td-report-data "signature: quote signature does not verify with the attestation key" td-flip $((48 + 520))
az_tdx var-data "report_data: hardware report_data does not bind the HCL var data" \
	var-replace '"vmUniqueId":"' '"vmUniqueID":"'
az_tdx quote-signature "signature: quote signature does not verify" quote-flip signature 9
az_tdx pcr7 "pcr_digest: the PCR values given do not hash" pcr-flip 7
az_tdx hcl-type-snp "format: HCL report type 4, this evidence shape needs 2" vcek-pem "$az/snp-vcek.pem"
az_tdx td-padding "format: padding after the TD report" hcl-flip $((32 + 1100))
printf '{"tdx": {"td_attributes": "0000001000000000"}}' >"$tmp/az-tdx-attr.json"
attack az-tdx-attributes-pin 1 "td_attributes: TD attributes 0000000000000000, the reference pins" -- \
	"$cvm" verify "$az/tdx-evidence-v1.json" $az_rd $az_now --reference "$tmp/az-tdx-attr.json"

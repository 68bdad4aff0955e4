# Evidence a malicious host hands to a verifier: real SEV-SNP reports and TDX
# quotes (tests/vectors) with one field changed, truncated, padded, or with
# its certificates swapped. Every change must be refused by name.
# shellcheck shell=sh

snp="$vectors/snp/milan"
tdxq="$vectors/tdx/spr-prod-quote-v4.bin"
snp_now="--now 2024-01-01T00:00:00Z"
tdx_now="--now 2026-06-01T00:00:00Z"
# its TD lacks SEPT_VE_DISABLE: accepted only by name, so that later checks are reached
printf '{"tdx": {"allow_sept_ve": true}}' >"$tmp/sept-ve.json"
printf '{"snp": {"allow_debug": true}}' >"$tmp/debug-ok.json"

# flip IN OFFSET OUT: OUT is IN with the low bit of byte OFFSET flipped
flip() {
	cp "$1" "$3"
	b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
	printf "\\$(printf '%03o' $((b ^ 1)))" | dd of="$3" bs=1 seek="$2" conv=notrunc 2>/dev/null
}

snp_flip() { # NAME OFFSET PATTERN
	flip "$snp/report.bin" "$2" "$tmp/snp-$1.bin"
	attack "snp-flip-$1" 1 "$3" -- "$cvm" verify "$tmp/snp-$1.bin" --certs "$snp" \
		--reference "$tmp/debug-ok.json" $snp_now
}

# SEV-SNP ABI 56860 Table 23 offsets: each field is covered by the signature.
snp_flip guest-svn 4 "signature"
snp_flip family-id 16 "signature"
snp_flip image-id 32 "signature"
snp_flip report-data 80 "signature"
snp_flip measurement 144 "signature"
snp_flip host-data 192 "signature"
snp_flip id-key-digest 224 "signature"
snp_flip report-id 320 "signature"
snp_flip chip-id 416 "chip_id|signature"
snp_flip reported-tcb 384 "tcb_match|signature"
snp_flip signature-r 672 "signature"
snp_flip signature-s 744 "signature"
snp_flip signature-algo 52 "signature_algorithm|format"
attack snp-debug-policy 1 "policy_debug" -- "$cvm" verify "$snp/report.bin" --certs "$snp" $snp_now
head -c 1183 "$snp/report.bin" >"$tmp/snp-short.bin"
attack snp-truncated 1 "format" -- "$cvm" verify "$tmp/snp-short.bin" --certs "$snp" $snp_now
cat "$snp/report.bin" "$snp/report.bin" >"$tmp/snp-long.bin"
attack snp-padded 1 "format" -- "$cvm" verify "$tmp/snp-long.bin" --certs "$snp" $snp_now
head -c 1184 /dev/zero >"$tmp/snp-zero.bin"
attack snp-all-zero 1 "format" -- "$cvm" verify "$tmp/snp-zero.bin" --certs "$snp" $snp_now
attack snp-expired-chain 1 "validity" -- "$cvm" verify "$snp/report.bin" --certs "$snp" \
	--reference "$tmp/debug-ok.json" --now 2040-01-01T00:00:00Z
printf '{"snp": {"allow_debug": true, "product": "Genoa"}}' >"$tmp/genoa.json"
attack snp-other-product 1 "product" -- "$cvm" verify "$snp/report.bin" --certs "$snp" \
	--reference "$tmp/genoa.json" $snp_now
attack snp-report-data-other 1 "report_data" -- "$cvm" verify "$snp/report.bin" --certs "$snp" \
	--reference "$tmp/debug-ok.json" --report-data 0102030406 $snp_now
# the VCEK replaced by a certificate of the test PKI: not AMD's chain
mkdir -p "$tmp/certs-foreign"
cp "$snp/ask_ark.pem" "$tmp/certs-foreign/"
openssl x509 -in "$pki/snp/vcek.pem" -outform DER -out "$tmp/certs-foreign/vcek.der" 2>/dev/null ||
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:secp384r1 -nodes -subj /CN=SEV-VCEK \
		-keyout "$tmp/k.pem" -outform DER -out "$tmp/certs-foreign/vcek.der" -days 1 2>/dev/null
attack snp-foreign-vcek 1 "chain|certificates|root_pinned" -- "$cvm" verify "$snp/report.bin" \
	--certs "$tmp/certs-foreign" --reference "$tmp/debug-ok.json" $snp_now
printf '{"snp": {"allow_debug": true, "measurement": "%096d"}}' 0 >"$tmp/meas.json"
attack snp-measurement-unpinned-value 1 "measurement" -- "$cvm" verify "$snp/report.bin" \
	--certs "$snp" --reference "$tmp/meas.json" $snp_now
printf '{"snp": {"allow_debug": true, "mesurement": "00"}}' >"$tmp/typo.json"
attack snp-reference-typo 2 "mesurement" -- "$cvm" verify "$snp/report.bin" --certs "$snp" \
	--reference "$tmp/typo.json" $snp_now

tdx_flip() { # NAME OFFSET PATTERN
	flip "$tdxq" "$2" "$tmp/tdx-$1.bin"
	attack "tdx-flip-$1" 1 "$3" -- "$cvm" verify "$tmp/tdx-$1.bin" $tdx_now
}

# Quote v4 (Intel DCAP Quote Generation Library, App. A): header 48 bytes, TD
# report body 584, signature data length 4, ECDSA signature 64, attestation
# key 64, certification data type 2 and size 4, QE report 384, its signature 64.
tdx_flip header-qe-vendor 12 "signature|format"
tdx_flip mrseam 64 "signature"
tdx_flip mrtd 184 "signature"
tdx_flip mrconfigid 232 "signature"
tdx_flip mrowner 280 "signature"
tdx_flip rtmr0 376 "signature"
tdx_flip rtmr3 520 "signature"
tdx_flip report-data 600 "signature"
tdx_flip quote-signature 640 "signature"
tdx_flip attestation-key 710 "qe_report_data|signature"
tdx_flip qe-report 800 "qe_report_signature"
tdx_flip qe-report-data 1090 "qe_report_signature|qe_report_data"
tdx_flip qe-report-signature 1160 "qe_report_signature"
tdx_flip td-attributes-debug 168 "signature|td_debug"
head -c 700 "$tdxq" >"$tmp/tdx-short.bin"
attack tdx-truncated 1 "format|certification_data" -- "$cvm" verify "$tmp/tdx-short.bin" $tdx_now
attack tdx-before-pck-issued 1 "validity" -- "$cvm" verify "$vectors/tdx/quote-v5.bin" \
	--now 2025-01-01T00:00:00Z
attack tdx-collateral-stale 1 "collateral" -- "$cvm" verify "$tdxq" --now 2024-06-20T00:00:00Z \
	--collateral "$top/tests/data/tdx/collateral" --reference "$tmp/sept-ve.json"
attack tdx-collateral-other-fmspc 1 "FMSPC|collateral" -- "$cvm" verify \
	"$vectors/tdx/gcp-cos-ccel/quote.bin" --now 2024-07-20T00:00:00Z \
	--collateral "$top/tests/data/tdx/collateral"
attack tdx-report-data-other 1 "report_data" -- "$cvm" verify "$tdxq" $tdx_now \
	--report-data 00112233 --reference "$tmp/sept-ve.json"
printf '{"tdx": {"mrtd": "%096d", "allow_sept_ve": true}}' 0 >"$tmp/mrtd.json"
attack tdx-mrtd-other 1 "mrtd" -- "$cvm" verify "$tdxq" $tdx_now --reference "$tmp/mrtd.json"

printf '%0100d' 7 >"$tmp/random.bin"
attack random-bytes 1 "format" -- "$cvm" verify "$tmp/random.bin" --certs "$snp"
head -c 70000 /dev/zero >"$tmp/huge.bin"
attack oversized-evidence 1 "format" -- "$cvm" verify "$tmp/huge.bin"
printf '{"quote": "!!!"}' >"$tmp/bad.json"
attack json-evidence-bad-base64 1 "format" -- "$cvm" verify "$tmp/bad.json"

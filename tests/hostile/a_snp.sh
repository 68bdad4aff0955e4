# SEV-SNP defaults a malicious host tries to slip past: a TCB below AMD's
# published floor, policies without what the reference requires, PLATFORM_INFO
# without a required flag, reserved policy bits, debug, a migration agent, a
# VMPL other than 0, and a Turin chip that is not the VCEK's. Real reports
# (tests/vectors, tests/data/snp) where they carry the field; otherwise reports
# signed here with the test PKI's keys and VCEKs issued here by its ASK.
# shellcheck shell=sh

sd="$top/tests/data/snp"
old="$vectors/snp/milan"
now26="--now 2026-06-01T00:00:00Z"
roots="--test-roots $pki/snp/roots.pem"

# sign.py OUT KEY VERSION POLICY TCB PLATFORM_INFO VMPL CHIP_ID_HEX FAM MOD STEP:
# an ATTESTATION_REPORT (56860 Table 23) signed as the firmware signs it:
# ECDSA P-384 with SHA-384 over bytes 0x000-0x29F, r and s little-endian.
cat >"$tmp/sign.py" <<'PY'
import struct, sys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
out, key, ver, pol, tcb, pinfo, vmpl, chip, fam, mod, step = sys.argv[1:]
r = bytearray(0x4A0)
struct.pack_into("<IIQ", r, 0, int(ver), 0, int(pol, 0))
struct.pack_into("<IIQQ", r, 0x30, int(vmpl), 1, int(tcb, 0), int(pinfo, 0))
for off in (0x180, 0x1E0, 0x1F0):
    struct.pack_into("<Q", r, off, int(tcb, 0))
if int(ver) >= 3:
    r[0x188:0x18B] = bytes([int(fam, 0), int(mod, 0), int(step, 0)])
r[0x1A0:0x1E0] = bytes.fromhex(chip).ljust(64, b"\0")
k = serialization.load_pem_private_key(open(key, "rb").read(), None)
rr, ss = decode_dss_signature(k.sign(bytes(r[:0x2A0]), ec.ECDSA(hashes.SHA384())))
r[0x2A0:0x2A0 + 48] = rr.to_bytes(48, "little")
r[0x2E8:0x2E8 + 48] = ss.to_bytes(48, "little")
open(out, "wb").write(r)
PY

# vcek NAME PRODUCT BL TEE SNP UCODE [FMC HWID]: a VCEK of the test PKI's ASK
# with these SPL extensions (57230 Table 8), in $tmp/NAME/ with the ASK and ARK.
vcek() {
	v_hwid=${8:-$(cat "$pki/snp/chip_id.hex")}
	{
		echo "[v]"
		echo "1.3.6.1.4.1.3704.1.1 = ASN1:INTEGER:0"
		echo "1.3.6.1.4.1.3704.1.2 = ASN1:IA5STRING:$2"
		[ -n "${7:-}" ] && echo "1.3.6.1.4.1.3704.1.3.9 = ASN1:INTEGER:$7"
		echo "1.3.6.1.4.1.3704.1.3.1 = ASN1:INTEGER:$3"
		echo "1.3.6.1.4.1.3704.1.3.2 = ASN1:INTEGER:$4"
		echo "1.3.6.1.4.1.3704.1.3.3 = ASN1:INTEGER:$5"
		echo "1.3.6.1.4.1.3704.1.3.8 = ASN1:INTEGER:$6"
		echo "1.3.6.1.4.1.3704.1.4 = DER:$v_hwid"
	} >"$tmp/$1.cnf"
	mkdir -p "$tmp/$1"
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$tmp/$1/key.pem" 2>/dev/null
	openssl req -new -key "$tmp/$1/key.pem" -subj "/O=cvm test PKI/CN=SEV-VCEK" \
		-out "$tmp/$1.csr" 2>/dev/null
	openssl x509 -req -in "$tmp/$1.csr" -CA "$pki/snp/ask.pem" -CAkey "$pki/snp/ask.key" \
		-CAcreateserial -CAserial "$tmp/serial" -sha384 -sigopt rsa_padding_mode:pss \
		-sigopt rsa_pss_saltlen:48 -sigopt rsa_mgf1_md:sha384 -days 30 \
		-extfile "$tmp/$1.cnf" -extensions v -out "$tmp/$1/vcek.pem" 2>/dev/null
	cp "$pki/snp/ask.pem" "$pki/snp/ark.pem" "$tmp/$1/"
}

# tcb BL TEE SNP UCODE: Milan and Genoa TCB_VERSION (56860 Table 3).
tcb() { printf '0x%016x' $(($1 | $2 << 8 | $3 << 48 | $4 << 56)); }

# report NAME CERTS VERSION POLICY TCB PINFO VMPL CHIP FAM MOD STEP: signs $tmp/NAME.bin
report() {
	python3 "$tmp/sign.py" "$tmp/$1.bin" "$2/key.pem" "$3" "$4" "$5" "$6" "$7" "$8" "$9" \
		"${10}" "${11}"
}

chip=$(cat "$pki/snp/chip_id.hex")
ok_tcb=$(tcb 4 1 24 219)
mkdir -p "$tmp/milan"
cp "$pki/snp/certs-vcek/"* "$tmp/milan/" && cp "$pki/snp/vcek.key" "$tmp/milan/key.pem"

# snp_attack NAME PATTERN CERTS [REFERENCE] -- report args: one signed report, refused.
snp_attack() {
	sa_name=$1 sa_pat=$2 sa_certs=$3 sa_ref=$4
	shift 5
	report "$sa_name" "$sa_certs" "$@"
	if [ -n "$sa_ref" ]; then
		printf '%s' "$sa_ref" >"$tmp/$sa_name.json"
		attack "snp-$sa_name" 1 "$sa_pat" -- "$cvm" verify "$tmp/$sa_name.bin" --certs "$sa_certs" \
			$roots --reference "$tmp/$sa_name.json"
	else
		attack "snp-$sa_name" 1 "$sa_pat" -- "$cvm" verify "$tmp/$sa_name.bin" --certs "$sa_certs" \
			$roots
	fi
}

# The signer and a genuine baseline: without them every refusal below proves nothing.
report baseline "$tmp/milan" 3 0x30000 "$ok_tcb" 0x25 0 "$chip" 0x19 0x01 0x01
"$cvm" verify "$tmp/baseline.bin" --certs "$tmp/milan" $roots >/dev/null 2>&1
record snp-signed-baseline-verifies 0 "$?"

# Below AMD-SB-3019's floor, component by component, with VCEKs issued for those TCBs.
vcek bl3 Milan-B0 3 1 24 219
snp_attack min-tcb-milan-bootloader "min_tcb: reported_tcb bootloader 3 below 4" "$tmp/bl3" "" -- \
	3 0x30000 "$(tcb 3 1 24 219)" 0 0 "$chip" 0x19 0x01 0x01
vcek snp23 Milan-B0 4 1 23 219
snp_attack min-tcb-milan-snp "min_tcb: reported_tcb snp 23 below 24" "$tmp/snp23" "" -- \
	3 0x30000 "$(tcb 4 1 23 219)" 0 0 "$chip" 0x19 0x01 0x01
vcek uc218 Milan-B0 4 1 24 218
snp_attack min-tcb-milan-microcode "min_tcb: reported_tcb microcode 218 below 219" "$tmp/uc218" "" -- \
	3 0x30000 "$(tcb 4 1 24 218)" 0 0 "$chip" 0x19 0x01 0x01
# A version 2 report has no CPUID: the strictest Milan line, not Milan-X's 68.
vcek uc100 Milan-B0 4 1 24 100
snp_attack min-tcb-v2-no-cpuid-microcode "min_tcb: reported_tcb microcode 100 below 219" "$tmp/uc100" "" -- \
	2 0x30000 "$(tcb 4 1 24 100)" 0 0 "$chip" 0 0 0
vcek mx67 Milan-B0 4 1 24 67
snp_attack min-tcb-milan-x-microcode "min_tcb: reported_tcb microcode 67 below 68" "$tmp/mx67" "" -- \
	3 0x30000 "$(tcb 4 1 24 67)" 0 0 "$chip" 0x19 0x01 0x02
vcek g22 Genoa-B1 10 0 22 84
snp_attack min-tcb-genoa-snp "min_tcb: reported_tcb snp 22 below 23" "$tmp/g22" "" -- \
	3 0x30000 "$(tcb 10 0 22 84)" 0 0 "$chip" 0x19 0x11 0x01
vcek g83 Genoa-B1 10 0 23 83
snp_attack min-tcb-genoa-microcode "min_tcb: reported_tcb microcode 83 below 84" "$tmp/g83" "" -- \
	3 0x30000 "$(tcb 10 0 23 83)" 0 0 "$chip" 0x19 0x11 0x01
vcek gx78 Genoa-B2 10 0 23 78
snp_attack min-tcb-genoa-x-microcode "min_tcb: reported_tcb microcode 78 below 79" "$tmp/gx78" "" -- \
	3 0x30000 "$(tcb 10 0 23 78)" 0 0 "$chip" 0x19 0x11 0x02
vcek b24 Genoa 10 0 23 24
snp_attack min-tcb-bergamo-microcode "min_tcb: reported_tcb microcode 24 below 25" "$tmp/b24" "" -- \
	3 0x30000 "$(tcb 10 0 23 24)" 0 0 "$chip" 0x19 0xa0 0x02
snp_attack min-tcb-reference-tee "min_tcb: reported_tcb tee 1 below 2" "$tmp/milan" \
	'{"snp": {"min_tcb": {"bootloader": 4, "tee": 2, "snp": 24, "microcode": 219}}}' -- \
	3 0x30000 "$ok_tcb" 0 0 "$chip" 0x19 0x01 0x01
printf '{"snp": {"min_tcb": {"fmc": 2}}}' >"$tmp/fmc2.json"
attack snp-min-tcb-turin-fmc 1 "min_tcb: reported_tcb fmc 1 below 2" -- "$cvm" verify \
	"$sd/turin/report.bin" --certs "$sd/turin" --reference "$tmp/fmc2.json" $now26
printf '{"snp": {"allow_debug": true}}' >"$tmp/debug-ok.json"
attack snp-min-tcb-real-2022-milan 1 "min_tcb: reported_tcb bootloader 2 below 4" -- "$cvm" verify \
	"$old/report.bin" --certs "$old" --reference "$tmp/debug-ok.json" --now 2024-01-01T00:00:00Z

# The policy the reference requires.
snp_attack single-socket-absent "policy_single_socket" "$tmp/milan" \
	'{"snp": {"require_single_socket": true}}' -- \
	3 0x30000 "$ok_tcb" 0 0 "$chip" 0x19 0x01 0x01
snp_attack abi-below-minimum "policy_abi: guest policy ABI 1.54 below the reference's minimum 1.55" \
	"$tmp/milan" '{"snp": {"min_abi": {"major": 1, "minor": 55}}}' -- \
	3 0x30136 "$ok_tcb" 0 0 "$chip" 0x19 0x01 0x01
for f in mem_aes_256_xts:0x400000 rapl_dis:0x800000 ciphertext_hiding_dram:0x1000000 \
	page_swap_disable:0x2000000; do
	name=${f%%:*} others=$((0x3c30000 & ~${f#*:}))
	snp_attack "policy-$name-absent" "policy_features: guest policy lacks $name" "$tmp/milan" \
		"{\"snp\": {\"require_policy\": [\"$name\"]}}" -- \
		3 "$others" "$ok_tcb" 0 0 "$chip" 0x19 0x01 0x01
done
snp_attack platform-alias-check-absent "platform_info: PLATFORM_INFO lacks alias_check_complete" \
	"$tmp/milan" '{"snp": {"require_platform": ["alias_check_complete"]}}' -- \
	3 0x30000 "$ok_tcb" 0x07 0 "$chip" 0x19 0x01 0x01
printf '{"snp": {"require_platform": ["ciphertext_hiding_dram_en"]}}' >"$tmp/ch-en.json"
attack snp-platform-ciphertext-hiding-real-genoa 1 "platform_info: PLATFORM_INFO lacks ciphertext_hiding_dram_en" \
	-- "$cvm" verify "$sd/genoa/report.bin" --certs "$sd/genoa" --reference "$tmp/ch-en.json" $now26

# Reserved policy bits, debug, a migration agent, VMPL.
snp_attack policy-mbo-bit17-clear "format: policy 0x10000" "$tmp/milan" "" -- \
	3 0x10000 "$ok_tcb" 0 0 "$chip" 0x19 0x01 0x01
snp_attack policy-reserved-bit26 "format: policy 0x4030000" "$tmp/milan" "" -- \
	3 0x4030000 "$ok_tcb" 0 0 "$chip" 0x19 0x01 0x01
snp_attack policy-reserved-bit63 "format: policy 0x8000000000030000" "$tmp/milan" "" -- \
	3 0x8000000000030000 "$ok_tcb" 0 0 "$chip" 0x19 0x01 0x01
snp_attack policy-debug "policy_debug" "$tmp/milan" "" -- \
	3 0xb0000 "$ok_tcb" 0 0 "$chip" 0x19 0x01 0x01
snp_attack policy-migration-agent "policy_migration_agent" "$tmp/milan" "" -- \
	3 0x70000 "$ok_tcb" 0 0 "$chip" 0x19 0x01 0x01
snp_attack vmpl-1 "vmpl: VMPL 1, expected 0" "$tmp/milan" "" -- \
	3 0x30000 "$ok_tcb" 0 1 "$chip" 0x19 0x01 0x01
snp_attack vmpl-4 "format: VMPL 4 out of range" "$tmp/milan" "" -- \
	3 0x30000 "$ok_tcb" 0 4 "$chip" 0x19 0x01 0x01

# Turin: the VCEK's 8-byte hwID is CHIP_ID's first 8 bytes, the rest zero.
hw=$(cat "$pki/snp/turin_hwid.hex")
ttcb=$(printf '0x%016x' $((1 | 1 << 8 | 1 << 16 | 4 << 24 | 81 << 56)))
mkdir -p "$tmp/turin"
cp "$pki/snp/certs-turin/"* "$tmp/turin/" && cp "$pki/snp/vcek-turin.key" "$tmp/turin/key.pem"
report turin-baseline "$tmp/turin" 5 0x30000 "$ttcb" 0x25 0 "$hw" 0x1a 0x02 0x01
"$cvm" verify "$tmp/turin-baseline.bin" --certs "$tmp/turin" $roots >/dev/null 2>&1
record snp-turin-signed-baseline-verifies 0 "$?"
snp_attack turin-hwid-other-chip "chip_id: chip_id differs from the VCEK hwID" "$tmp/turin" "" -- \
	5 0x30000 "$ttcb" 0 0 "c0ffee02deadbeee" 0x1a 0x02 0x01
snp_attack turin-hwid-tail-not-zero "chip_id: chip_id differs from the VCEK hwID" "$tmp/turin" "" -- \
	5 0x30000 "$ttcb" 0 0 "${hw}01" 0x1a 0x02 0x01
vcek turin64 Turin 1 1 4 81 1 "$chip"
snp_attack turin-vcek-64-byte-hwid "chip_id: Turin VCEK hwID is 64 bytes, not 8" "$tmp/turin64" "" -- \
	5 0x30000 "$ttcb" 0 0 "$chip" 0x1a 0x02 0x01
attack snp-turin-real-report-other-real-vcek 1 "signature" -- "$cvm" verify \
	"$sd/turin/report.bin" --certs "$sd/turin/virtee" $now26

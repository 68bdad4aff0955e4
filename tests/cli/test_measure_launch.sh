#!/bin/sh
# cvm measure against sev-snp-measure: every case of
# tests/data/measure/sev-snp-measure-cases.txt, bit for bit, refusals included.
set -u
cvm=${CVM_BIN:?}
vec=${CVM_VECTORS:?}
top=${CVM_TOP:?}
data="$top/tests/data/measure"
code=/usr/share/OVMF/OVMF_CODE.fd
vars=/usr/share/OVMF/OVMF_VARS.fd
tmp=${CVM_TEST_TMP:?}/cli-measure-launch
rm -rf "$tmp" && mkdir -p "$tmp"
pass=0
fail=0
tab=$(printf '\t')

while IFS= read -r line; do
	case "$line" in '#'* | '') continue ;; esac
	want=${line%%"$tab"*}
	args=${line#*"$tab"}
	old_ifs=$IFS
	IFS=$tab
	# shellcheck disable=SC2086
	set -- $args
	IFS=$old_ifs
	n=$#
	i=0
	while [ "$i" -lt "$n" ]; do
		a=$1
		shift
		case "$a" in
		@amdsev) a="$vec/measure/snp/ovmf_AmdSev_suffix.bin" ;;
		@ovmfx64) a="$vec/measure/snp/ovmf_OvmfX64_suffix.bin" ;;
		@debian) a=/usr/share/OVMF/OVMF_CODE.fd ;;
		@kernel) a="$data/kernel.bin" ;;
		@initrd) a="$data/initrd.bin" ;;
		@null) a=/dev/null ;;
		@svsm) a="$data/svsm/svsm.bin" ;;
		@svsmovmf) a="$data/svsm/svsm_ovmf.fd" ;;
		@vars4m) a=/usr/share/OVMF/OVMF_VARS_4M.fd ;;
		esac
		set -- "$@" "$a"
		i=$((i + 1))
	done
	got=$("$cvm" measure "$@" 2>"$tmp/err")
	rc=$?
	if [ "$want" = ERROR ]; then
		if [ "$rc" -eq 2 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ]; then
			pass=$((pass + 1))
		else
			echo "not ok - refusal expected (exit $rc): $args"; fail=$((fail + 1))
		fi
	elif [ "$rc" -eq 0 ] && [ "$got" = "$want" ]; then
		pass=$((pass + 1))
	else
		echo "not ok - $args: got '$got' (exit $rc), want '$want'"; cat "$tmp/err"
		fail=$((fail + 1))
	fi
done <"$data/sev-snp-measure-cases.txt"

# The error sev-snp-measure gives for a kernel with an OVMF lacking kernel hashes.
"$cvm" measure --mode snp --vcpus 1 --vcpu-type EPYC-v4 --ovmf "$vec/measure/snp/ovmf_OvmfX64_suffix.bin" \
	--kernel "$data/kernel.bin" 2>"$tmp/err" >/dev/null
if grep -q "no SNP_KERNEL_HASHES section" "$tmp/err"; then
	pass=$((pass + 1))
else
	echo "not ok - kernel without a kernel-hashes section"; cat "$tmp/err"; fail=$((fail + 1))
fi
# The vectors README's table, once more, from the shared vectors.
got=$("$cvm" measure --mode snp --vcpus 1 --vcpu-type EPYC-v4 --ovmf "$vec/measure/snp/ovmf_AmdSev_suffix.bin" \
	--kernel /dev/null --initrd /dev/null --append "console=ttyS0 loglevel=7" --guest-features 0x21)
if [ "$got" = 803f691094946e42068aaa3a8f9e26a5c89f36f7b73ecfb28c653360fe4b3aba7e534442e7e1e17895dfe778d0228977 ]; then
	pass=$((pass + 1))
else
	echo "not ok - vectors README case"; fail=$((fail + 1))
fi
# Hostile images: not page-sized, a footer table that lies.
head -c 5000 /dev/zero >"$tmp/odd.bin"
cp "$vec/measure/snp/ovmf_AmdSev_suffix.bin" "$tmp/lying.bin"
printf '\377\377' | dd of="$tmp/lying.bin" bs=1 seek=$((4096 - 32 - 18)) conv=notrunc 2>/dev/null
for f in odd lying; do
	"$cvm" measure --mode snp --vcpus 1 --vcpu-type EPYC-v4 --ovmf "$tmp/$f.bin" >/dev/null 2>"$tmp/err"
	if [ $? -eq 2 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ]; then
		pass=$((pass + 1))
	else
		echo "not ok - hostile image $f"; fail=$((fail + 1))
	fi
done
# --dump-vmsa writes one VMSA per vCPU, as sev-snp-measure's tests expect;
# the pages are byte for byte sev-snp-measure's (their SHA-256 taken from
# its --dump-vmsa output for these arguments).
mkdir -p "$tmp/dump" && rm -f "$tmp/dump"/vmsa*.bin
(cd "$tmp/dump" && "$cvm" measure --mode seves --vcpus 4 --vcpu-type EPYC-v4 \
	--ovmf "$vec/measure/snp/ovmf_AmdSev_suffix.bin" --kernel /dev/null --initrd /dev/null \
	--dump-vmsa >/dev/null)
if [ -f "$tmp/dump/vmsa3.bin" ] && [ ! -f "$tmp/dump/vmsa4.bin" ] &&
	[ "$(sha256sum "$tmp/dump/vmsa0.bin" | cut -d' ' -f1)" = 8295cef559b57130391d59605890ef93297720b48bef9a8c3c985b9c3fb0788c ] &&
	[ "$(sha256sum "$tmp/dump/vmsa1.bin" | cut -d' ' -f1)" = 7ff723da33f39dedbe8336bb697e0a2f76471690074d5902e1a8177cd5312c95 ]; then
	pass=$((pass + 1))
else
	echo "not ok - --dump-vmsa"; fail=$((fail + 1))
fi
"$cvm" measure --mode sev --ovmf "$vec/measure/snp/ovmf_AmdSev_suffix.bin" --dump-vmsa >/dev/null 2>&1
[ $? -eq 2 ] && pass=$((pass + 1)) || { echo "not ok - --dump-vmsa with sev"; fail=$((fail + 1)); }

# Overlapping metadata sections are refused: SEV (AmdSev suffix) and TDVF (Debian's CODE).
python3 - "$vec/measure/snp/ovmf_AmdSev_suffix.bin" "$tmp/overlap-sev.bin" \
	/usr/share/OVMF/OVMF_CODE.fd "$tmp/overlap-tdvf.fd" <<'PY'
import struct, sys
for src, dst, magic, first, stride in ((sys.argv[1], sys.argv[2], b"ASEV", 16, 12),
                                       (sys.argv[3], sys.argv[4], b"TDVF", 16 + 8, 32)):
    d = bytearray(open(src, "rb").read())
    m = d.rfind(magic)
    size = 4 if magic == b"ASEV" else 8
    gpa0 = d[m + first:m + first + size]
    d[m + first + stride:m + first + stride + size] = gpa0   # section 1 starts where section 0 does
    open(dst, "wb").write(d)
PY
"$cvm" measure --mode snp --vcpus 1 --vcpu-type EPYC-v4 --ovmf "$tmp/overlap-sev.bin" >/dev/null 2>"$tmp/err"
if [ $? -eq 2 ] && grep -q "sections 0 and 1 overlap" "$tmp/err"; then
	pass=$((pass + 1))
else
	echo "not ok - overlapping SEV metadata sections"; cat "$tmp/err"; fail=$((fail + 1))
fi
"$cvm" measure --mode tdx --ovmf "$tmp/overlap-tdvf.fd" --ovmf-vars "$vars" >/dev/null 2>"$tmp/err"
if [ $? -eq 2 ] && grep -q "sections 0 and 1 overlap" "$tmp/err"; then
	pass=$((pass + 1))
else
	echo "not ok - overlapping TDVF sections"; cat "$tmp/err"; fail=$((fail + 1))
fi
for a in "--mode snp --ovmf x" "--mode snp --vcpus 1 --ovmf x" "--mode bogus --ovmf x" \
	"--mode snp --vcpus 1 --vcpu-type EPYC-v4 --ovmf x --initrd y" \
	"--mode sev --ovmf x --snp-ovmf-hash 00"; do
	# shellcheck disable=SC2086
	"$cvm" measure $a >/dev/null 2>"$tmp/err"
	if [ $? -eq 2 ]; then
		pass=$((pass + 1))
	else
		echo "not ok - usage error expected: $a"; fail=$((fail + 1))
	fi
done

# TDX MRTD of Debian's OVMF: CODE alone runs past its end (its metadata
# describes VARS+CODE); the two page orders give different values.
"$cvm" measure --mode tdx --ovmf "$code" >/dev/null 2>"$tmp/err"
if [ $? -eq 2 ] && grep -q "runs past the end" "$tmp/err"; then
	pass=$((pass + 1))
else
	echo "not ok - TDX: CODE alone must be refused"; cat "$tmp/err"; fail=$((fail + 1))
fi
one=$("$cvm" measure --mode tdx --ovmf "$code" --ovmf-vars "$vars")
two=$("$cvm" measure --mode tdx --ovmf "$code" --ovmf-vars "$vars" --two-pass)
json=$("$cvm" measure --mode tdx --ovmf "$code" --ovmf-vars "$vars" --output-format json)
if [ ${#one} -eq 96 ] && [ ${#two} -eq 96 ] && [ "$one" != "$two" ] &&
	printf '%s' "$json" | grep -Eq "\"mrtd\":[[:space:]]*\"$one\""; then
	pass=$((pass + 1))
else
	echo "not ok - TDX MRTD: '$one' '$two'"; fail=$((fail + 1))
fi
"$cvm" measure --mode tdx --ovmf "$code" --ovmf-vars "$vars" --kernel "$data/kernel.bin" >/dev/null 2>&1
[ $? -eq 2 ] && pass=$((pass + 1)) || { echo "not ok - TDX with --kernel"; fail=$((fail + 1)); }
head -c 8192 /dev/zero >"$tmp/plain.bin"
"$cvm" measure --mode tdx --ovmf "$tmp/plain.bin" >/dev/null 2>"$tmp/err"
if [ $? -eq 2 ] && grep -q "no TDX metadata" "$tmp/err"; then
	pass=$((pass + 1))
else
	echo "not ok - TDX on an image without a footer table"; fail=$((fail + 1))
fi

# TDX RTMRs of a direct boot against a reference CCEL (OVMF's, from Trustee).
ccel="$vec/eventlog/ccel-ovmf.bin"
kernel=$(ls /boot/vmlinuz-* 2>/dev/null | sort | tail -n 1)
replayed=$("$cvm" measure replay "$ccel" | sed -n 's/^RTMR0  sha384 //p')
pred=$("$cvm" measure --mode tdx --ovmf "$code" --ovmf-vars "$vars" --event-log "$ccel" --output-format json)
if [ -n "$replayed" ] && printf '%s' "$pred" | grep -Eq "\"rtmr0\":[[:space:]]*\"$replayed\""; then
	pass=$((pass + 1))
else
	echo "not ok - TDX: with no inputs, RTMR0 is the log's"; fail=$((fail + 1))
fi
"$cvm" measure --mode tdx --ovmf "$code" --ovmf-vars "$vars" --event-log "$ccel" --kernel "$kernel" \
	--initrd "$data/initrd.bin" --append "console=ttyS0 quiet" --memory 4G >"$tmp/rtmr.txt" 2>"$tmp/err"
initrd384=$(sha384sum "$data/initrd.bin" | cut -d' ' -f1)
# OVMF appends " initrd=initrd" to the command line when there is an initrd.
cmd384=$(python3 -c 'import hashlib; print(hashlib.sha384("console=ttyS0 quiet initrd=initrd".encode("utf-16-le") + b"\0\0").hexdigest())')
if grep -q "RTMR1  EV_EFI_BOOT_SERVICES_APPLICATION   --kernel   differs from the log" "$tmp/rtmr.txt" &&
	grep -q "RTMR0  EV_EFI_VARIABLE_DRIVER_CONFIG      event log" "$tmp/rtmr.txt" &&
	grep -A1 -- "--initrd   differs" "$tmp/rtmr.txt" | grep -q "predicted $initrd384" &&
	grep -A1 -- "--append   differs" "$tmp/rtmr.txt" | grep -q "predicted $cmd384" &&
	grep -q "^RTMR0  $replayed" "$tmp/rtmr.txt"; then
	pass=$((pass + 1))
else
	echo "not ok - TDX RTMR prediction: provenance and predicted digests"; cat "$tmp/rtmr.txt" "$tmp/err"
	fail=$((fail + 1))
fi
# RTMR3 is runtime (the agent's events): never a reference value, in text or JSON
if grep -q "^RTMR3  (runtime: the agent's events, not a reference value)" "$tmp/rtmr.txt" &&
	! printf '%s' "$pred" | grep -q rtmr3; then
	pass=$((pass + 1))
else
	echo "not ok - TDX: RTMR3 is not predicted"; grep RTMR3 "$tmp/rtmr.txt"; fail=$((fail + 1))
fi
# Without a reference log, RTMR1-2 come from OVMF's direct-boot events; with
# OVMF's real CCEL as the reference they must come out the same.
args="--mode tdx --ovmf $code --ovmf-vars $vars --kernel $kernel --initrd $data/initrd.bin --append x=1 --output-format json"
# shellcheck disable=SC2086
"$cvm" measure $args --event-log "$ccel" >"$tmp/with.json"
# shellcheck disable=SC2086
"$cvm" measure $args >"$tmp/without.json"
if python3 -c '
import json, sys
a = json.load(open(sys.argv[1]))["tdx"]
b = json.load(open(sys.argv[2]))["tdx"]
assert a["rtmr1"] == b["rtmr1"] and a["rtmr2"] == b["rtmr2"] and a["mrtd"] == b["mrtd"]
assert "rtmr0" in a and "rtmr0" not in b
' "$tmp/with.json" "$tmp/without.json"; then
	pass=$((pass + 1))
else
	echo "not ok - TDX: RTMR1-2 without a log equal those with OVMF's real log as reference"
	fail=$((fail + 1))
fi
# The reference boot had an initrd: a kernel without one would be patched otherwise.
for a in "--append x" "--event-log $ccel --memory lots" "--event-log $vec/tdx/quote-v5.bin" \
	"--event-log $ccel --kernel $kernel"; do
	# shellcheck disable=SC2086
	"$cvm" measure --mode tdx --ovmf "$code" --ovmf-vars "$vars" $a >/dev/null 2>"$tmp/err"
	if [ $? -eq 2 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ]; then
		pass=$((pass + 1))
	else
		echo "not ok - TDX usage error expected: $a"; fail=$((fail + 1))
	fi
done

echo "cli measure launch: $pass passed, $fail failed"
[ "$fail" -eq 0 ]

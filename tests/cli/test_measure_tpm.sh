#!/bin/sh
# cvm measure --mode tpm: the vTPM PCRs of a direct boot through OVMF, against
# the real boots of tests/data/measure/ovmf-vtpm. Exact values need the
# kernel of those boots; with another kernel, what holds for any kernel.
# Needs CVM_BIN, CVM_TOP, CVM_VECTORS, CVM_TEST_TMP.
set -u
cvm=${CVM_BIN:?}
top=${CVM_TOP:?}
vec=${CVM_VECTORS:?}
tmp=${CVM_TEST_TMP:?}/cli-measure-tpm
rm -rf "$tmp" && mkdir -p "$tmp"
. "$(dirname "$0")/lib.sh"

runs="$top/tests/data/measure/ovmf-vtpm"
kernel=$(ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1)
# The kernel the runs booted: Debian 12's linux-image-6.1.0-57-amd64 (6.1.192-3).
runs_kernel=85667e6c72245133bd7e3e80bac7d16b26fda15c0a3c68faa4b713850ea526cd
append_a="console=ttyS0 panic=-1 quiet"
append_b="console=ttyS0 panic=-1 quiet rdinit=/init"
# The runs' initrd is not in the tree; its size is what moves the kernel's
# header, so a file of that size stands in for it (PCR 9 then differs).
head -c 331161 /dev/zero >"$tmp/initrd"
: >"$tmp/empty"

# pcr N FILE: PCR N of a cvm measure output; real N RUN: of a run's TPM.
pcr() { sed -n "s/^PCR$1  \([0-9a-f]*\).*/\1/p" "$2"; }
real() { sed -n "s/^PCR$1 //p" "$runs/$2.pcrs"; }
# pcr9 APPEND [INITRD]: PCR 9 computed here, independently of cvm.
pcr9() {
	python3 -c '
import hashlib, sys
def ext(p, d): return hashlib.sha256(p + d).digest()
opts = sys.argv[1] + (" initrd=initrd" if len(sys.argv) > 2 else "")
p = bytes(32)
if opts:
    p = ext(p, hashlib.sha256(b"".join(bytes([c, 0]) for c in opts.encode()) + b"\0\0").digest())
if len(sys.argv) > 2:
    p = ext(p, hashlib.sha256(open(sys.argv[2], "rb").read()).digest())
print(p.hex())
' "$@"
}

if [ -z "$kernel" ]; then
	bad "no /boot/vmlinuz-* on this machine (Debian: linux-image-amd64)"
	summary "cli measure tpm"
	exit
fi

expect "tpm without --kernel" 2 "--kernel" -- "$cvm" measure --mode tpm --append x
expect "tpm with --ovmf" 2 "--mode tpm takes" -- \
	"$cvm" measure --mode tpm --kernel "$kernel" --ovmf /usr/share/OVMF/OVMF_CODE.fd
expect "tpm with a bad --memory" 2 "--memory" -- \
	"$cvm" measure --mode tpm --kernel "$kernel" --memory lots
expect "tpm with --output-format base64" 2 "hex or json" -- \
	"$cvm" measure --mode tpm --kernel "$kernel" --output-format base64
expect "tpm with an empty initrd" 2 "empty" -- \
	"$cvm" measure --mode tpm --kernel "$kernel" --initrd "$tmp/empty"
expect "tpm with a kernel that is no PE image" 2 "PE image" -- \
	"$cvm" measure --mode tpm --kernel "$top/tests/data/measure/kernel.bin"
expect "tpm with a CCEL as reference" 2 "SHA-256" -- \
	"$cvm" measure --mode tpm --kernel "$kernel" --event-log "$vec/eventlog/ccel-ovmf.bin"
expect "tpm with a missing log" 2 "$tmp/none" -- \
	"$cvm" measure --mode tpm --kernel "$kernel" --event-log "$tmp/none"

# Run a's log as the reference, with its command line and memory.
"$cvm" measure --mode tpm --kernel "$kernel" --initrd "$tmp/initrd" --append "$append_a" \
	--memory 1024M --event-log "$runs/a.log" >"$tmp/a.txt" 2>"$tmp/err"
same=yes
for i in 0 1 2 3 5 6 7 8; do
	[ -n "$(pcr $i "$tmp/a.txt")" ] && [ "$(pcr $i "$tmp/a.txt")" = "$(real $i a)" ] || same=no
done
if [ "$same" = yes ] && grep -q "^PCR0 .*reference log" "$tmp/a.txt"; then
	ok "PCR 0-3 and 5-8 are the reference boot's"
else
	bad "PCR 0-3 and 5-8 are the reference boot's"; cat "$tmp/a.txt" "$tmp/err"
fi
if [ "$(pcr 9 "$tmp/a.txt")" = "$(pcr9 "$append_a" "$tmp/initrd")" ]; then
	ok "PCR 9: the LoadOptions with \" initrd=initrd\", then the initrd"
else
	bad "PCR 9: the LoadOptions with \" initrd=initrd\", then the initrd"
fi
"$cvm" measure --mode tpm --kernel "$kernel" --initrd "$tmp/initrd" --append "$append_a" \
	--memory 1024M >"$tmp/a0.txt"
"$cvm" measure --mode tpm --kernel "$kernel" --initrd "$tmp/initrd" --append "$append_a" \
	--memory 2G >"$tmp/a2.txt"
if [ "$(pcr 4 "$tmp/a0.txt")" = "$(pcr 4 "$tmp/a.txt")" ] &&
	[ "$(pcr 9 "$tmp/a0.txt")" = "$(pcr 9 "$tmp/a.txt")" ] &&
	[ "$(wc -l <"$tmp/a0.txt")" -eq 2 ]; then
	ok "without a log: PCR 4 and PCR 9 only, as with OVMF's real log"
else
	bad "without a log: PCR 4 and PCR 9 only, as with OVMF's real log"; cat "$tmp/a0.txt"
fi
if [ "$(pcr 4 "$tmp/a2.txt")" != "$(pcr 4 "$tmp/a0.txt")" ]; then
	ok "the guest memory moves the initrd, so PCR 4"
else
	bad "the guest memory moves the initrd, so PCR 4"
fi
"$cvm" measure --mode tpm --kernel "$kernel" --append "$append_a" >"$tmp/noinitrd.txt"
if [ "$(pcr 9 "$tmp/noinitrd.txt")" = "$(pcr9 "$append_a")" ]; then
	ok "without an initrd: no suffix and no initrd event"
else
	bad "without an initrd: no suffix and no initrd event"
fi

"$cvm" measure --mode tpm --kernel "$kernel" --initrd "$tmp/initrd" --append "$append_a" \
	--output-format json >"$tmp/4.json"
"$cvm" measure --mode tpm --kernel "$kernel" --initrd "$tmp/initrd" --append "$append_a" \
	--memory 1024M --event-log "$runs/a.log" --output-format json >"$tmp/10.json"
if python3 -c '
import json, sys
a = json.load(open(sys.argv[1]))
b = json.load(open(sys.argv[2]))
assert list(a) == ["tpm"] and list(a["tpm"]) == ["pcrs"] and list(a["tpm"]["pcrs"]) == ["sha256"]
assert sorted(a["tpm"]["pcrs"]["sha256"]) == ["4", "9"]
assert sorted(b["tpm"]["pcrs"]["sha256"], key=int) == [str(i) for i in range(10)]
' "$tmp/4.json" "$tmp/10.json"; then
	ok "json: the reference-values shape, tpm.pcrs.sha256"
else
	bad "json: the reference-values shape, tpm.pcrs.sha256"
fi

# With the runs' kernel, PCR 4 is exact: the kernel event as QEMU patched it.
if [ "$(sha256sum "$kernel" | cut -d' ' -f1)" = "$runs_kernel" ]; then
	"$cvm" measure --mode tpm --kernel "$kernel" --initrd "$tmp/initrd" --append "$append_b" \
		--memory 2048M --event-log "$runs/b.log" >"$tmp/b.txt"
	if [ "$(pcr 4 "$tmp/a.txt")" = "$(real 4 a)" ] && [ "$(pcr 4 "$tmp/b.txt")" = "$(real 4 b)" ]; then
		ok "PCR 4 of runs a (1 GiB) and b (2 GiB) as their TPMs held it"
	else
		bad "PCR 4 of runs a (1 GiB) and b (2 GiB) as their TPMs held it"
		cat "$tmp/a.txt" "$tmp/b.txt"
	fi
else
	echo "skip - $kernel is not the runs' kernel: PCR 4 not compared with real values"
fi

summary "cli measure tpm"

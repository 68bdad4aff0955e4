#!/bin/sh
# The unlock path in a real guest: QEMU (TCG) boots Debian's kernel with an
# initrd whose PID 1 (tests/e2e/volume_init.c) uses the agent's code to
# validate, unlock (dm-crypt from the in-memory header), verify (dm-verity)
# and mount a `cvm pack` volume, and reads a file back; a copy with one
# encrypted block of that file changed must fail the read.
set -u
cvm=${CVM_BIN:?}
tmp=${CVM_TEST_TMP:?}/cli-volume-guest
rm -rf "$tmp" && mkdir -p "$tmp"
. "$(dirname "$0")/lib.sh"

build=$(dirname "$cvm")
case "$build" in
*/san)
	# PID 1 under AddressSanitizer has no /proc to start from: the plain build runs this.
	ok "guest test: run by the plain build"
	summary "cli volume guest"
	exit $?
	;;
esac
init=$build/e2e/volume_init
kernel=$(ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1)
kver=${kernel#/boot/vmlinuz-}
[ -x "$init" ] && [ -r "$kernel" ] && ok "init and kernel $kver present" || { bad "no init ($init) or kernel"; summary "cli volume guest"; exit 1; }

# the volume, its key on a disk of its own, and a tampered copy
mkdir -p "$tmp/wl/data"
/usr/bin/python3 -c "import sys; sys.stdout.buffer.write(bytes((i * 7 + 1) & 255 for i in range(600000)))" >"$tmp/wl/data/blob"
expect "pack" 0 "" -- "$cvm" pack "$tmp/wl" -o "$tmp/good.img" --key-out "$tmp/good.key" --source-date-epoch 1
cp "$tmp/good.key" "$tmp/key.img" && truncate -s 4096 "$tmp/key.img"
/usr/bin/python3 -c "import json,sys; sys.stdout.buffer.write(bytes.fromhex(json.load(open('$tmp/good.key'))['volume_key']))" >"$tmp/pass"
cryptsetup luksDump --dump-volume-key --volume-key-file "$tmp/mk" --key-file "$tmp/pass" --batch-mode "$tmp/good.img" >/dev/null 2>&1
/usr/bin/python3 - "$tmp" <<'EOP'
import json, subprocess, sys
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
t = sys.argv[1]
mk = open(t + "/mk", "rb").read()
key = json.load(open(t + "/good.key"))
img = bytearray(open(t + "/good.img", "rb").read())
seg = key["header_size"]  # the data segment follows the header area
fs = bytearray()
for off in range(0, key["verity"]["hash_offset"], 4096):
    d = Cipher(algorithms.AES(mk), modes.XTS((off // 512).to_bytes(16, "little"))).decryptor()
    fs += d.update(bytes(img[seg + off:seg + off + 4096])) + d.finalize()
open(t + "/fs.img", "wb").write(fs)
out = subprocess.run(["debugfs", "-R", "blocks /data/blob", t + "/fs.img"], capture_output=True,
                     text=True).stdout.split()
block = int(out[len(out) // 2])
img[seg + block * 4096 + 100] ^= 0x55
open(t + "/bad.img", "wb").write(img)

EOP
rm -f "$tmp/mk" "$tmp/pass"
expect_sha=$(sha256sum <"$tmp/wl/data/blob" | cut -c1-64)

cat >"$tmp/initrd.list" <<EOL
dir /dev 0755 0 0
nod /dev/console 0600 0 0 c 5 1
dir /proc 0555 0 0
dir /sys 0555 0 0
dir /mnt 0755 0 0
lib $init /init
module virtio_pci
module virtio_blk
module dm-crypt
module dm-verity
module xts
module aesni-intel
module ext4
module crc32c_generic
EOL
expect "initrd" 0 "" -- "$cvm" initrd build "$tmp/initrd.list" -o "$tmp/initrd.img" --kver "$kver"

timeout 300 qemu-system-x86_64 -accel tcg -cpu max -m 512 -smp 1 -nographic -no-reboot \
	-kernel "$kernel" -initrd "$tmp/initrd.img" -append "console=ttyS0 panic=-1 quiet" \
	-drive file="$tmp/good.img",if=virtio,format=raw,readonly=on \
	-drive file="$tmp/key.img",if=virtio,format=raw,readonly=on \
	-drive file="$tmp/bad.img",if=virtio,format=raw,readonly=on >"$tmp/console" 2>&1
st=$?
[ $st -eq 0 ] && grep -q '^E2E done' "$tmp/console" && ok "the guest ran and powered off" || { bad "the guest did not finish ($st)"; tail -n 30 "$tmp/console"; }
grep -q "^E2E good sha256 $expect_sha" "$tmp/console" && ok "dm-crypt and dm-verity read the file back whole" || { bad "good volume"; grep '^E2E' "$tmp/console"; }
grep '^E2E good mount' "$tmp/console" | grep -q 'ro,nosuid,nodev' && ok "mounted read-only, nosuid, nodev" || { bad "mount options"; grep '^E2E good mount' "$tmp/console"; }
grep -q '^E2E tampered read-error Input/output error' "$tmp/console" && ok "a changed block fails the read (I/O error)" || { bad "tampered volume"; grep '^E2E' "$tmp/console"; }
grep -q '^E2E module-failed' "$tmp/console" && { bad "a module failed to load"; grep '^E2E module-failed' "$tmp/console"; } || ok "every module loaded"

summary "cli volume guest"

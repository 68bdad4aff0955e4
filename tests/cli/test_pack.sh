#!/bin/sh
# cvm pack: the volume opens with cryptsetup and the key file, its payload
# (decrypted here with Python's AES-XTS, and equal to what cryptsetup's own
# offline encryption writes) is an ext4 image that e2fsck accepts and a
# dm-verity tree that veritysetup verifies; the same directory and epoch
# give the same filesystem and root hash.
set -u
cvm=${CVM_BIN:?}
tmp=${CVM_TEST_TMP:?}/cli-pack
rm -rf "$tmp" && mkdir -p "$tmp"
. "$(dirname "$0")/lib.sh"

mkdir -p "$tmp/wl/bin" "$tmp/wl/data"
printf '#!/bin/sh\necho hello from the job\n' >"$tmp/wl/bin/job"
chmod 0755 "$tmp/wl/bin/job"
/usr/bin/python3 -c "import sys; sys.stdout.buffer.write(bytes((i * 131 + 7) & 255 for i in range(700000)))" >"$tmp/wl/data/blob"
ln -s ../bin/job "$tmp/wl/data/link"

expect "pack" 0 "luks_header_sha256" -- "$cvm" pack "$tmp/wl" -o "$tmp/w.img" --key-out "$tmp/w.key" --source-date-epoch 1700000000
printed=$(sed -n 's/^luks_header_sha256 //p' "$tmp/out")
j() { /usr/bin/python3 -c "import json,sys; d=json.load(open('$tmp/w.key')); print(eval(sys.argv[1]))" "$1"; }
[ "$printed" = "$(j 'd["luks_header_sha256"]')" ] && ok "the printed digest is the key file's" || bad "digest mismatch"
hdr=290816 # the header area: 2 x 16 KiB of metadata and one keyslot of 252 KiB
[ "$(head -c $hdr "$tmp/w.img" | sha256sum | cut -c1-64)" = "$printed" ] && ok "the digest is SHA-256 of the 284 KiB header area" || bad "digest is not of the header area"
[ "$(j 'd["header_size"]')" = $hdr ] && ok "the key file names the header area's size" || bad "header_size"
[ "$(stat -c %a "$tmp/w.key")" = 600 ] && ok "the key file is mode 0600" || bad "key file mode"
ls "$tmp" | grep -q 'pack\.' && bad "temporary files left" || ok "no temporary files left"
[ "$(sed -n 's/^sha256 //p' "$tmp/out")" = "$(sha256sum "$tmp/w.img" | cut -c1-64)" ] &&
	ok "the printed sha256 (hashed as written) is the volume file's" || bad "volume digest"

# DIR is only read: its times are what they were (the image's are set inside it)
before=$(stat -c '%y %z' "$tmp/wl/data/blob" "$tmp/wl/data")
# --scratch: the filesystem and tree made there, nothing left after, the same volume
mkdir -p "$tmp/scratch"
expect "--scratch DIR" 0 "luks_header_sha256" -- "$cvm" pack "$tmp/wl" -o "$tmp/s.img" --key-out "$tmp/s.key" \
	--source-date-epoch 1700000000 --scratch "$tmp/scratch"
[ -z "$(ls -A "$tmp/scratch")" ] && ok "--scratch: nothing left there" || bad "--scratch: files left"
[ "$(stat -c '%y %z' "$tmp/wl/data/blob" "$tmp/wl/data")" = "$before" ] && ok "DIR's own times untouched" ||
	bad "DIR's times changed"
[ "$(j 'd["verity"]["root_hash"]')" = "$(/usr/bin/python3 -c "import json; print(json.load(open('$tmp/s.key'))['verity']['root_hash'])")" ] &&
	ok "--scratch: the same filesystem and tree" || bad "--scratch: another tree"
expect "--scratch not a directory" 2 "--scratch $tmp/w.key: not a directory" -- \
	"$cvm" pack "$tmp/wl" -o "$tmp/s2.img" --key-out "$tmp/s2.key" --scratch "$tmp/w.key"
printf '{"command": 5}' >"$tmp/wl-bad-manifest"
mkdir -p "$tmp/wlbad" && cp "$tmp/wl-bad-manifest" "$tmp/wlbad/cvm-job.json"
expect "a refused manifest: nothing packed" 2 "cvm-job.json" -- \
	"$cvm" pack "$tmp/wlbad" -o "$tmp/s3.img" --key-out "$tmp/s3.key" --scratch "$tmp/scratch"
[ -z "$(ls -A "$tmp/scratch")" ] && [ ! -e "$tmp/s3.img" ] && ok "a refused pack leaves nothing in --scratch" ||
	bad "a refused pack left files"

cryptsetup luksDump "$tmp/w.img" >"$tmp/dump"
grep -q 'cipher: aes-xts-plain64' "$tmp/dump" && grep -q 'sector: 4096 \[bytes\]' "$tmp/dump" &&
	grep -q "offset: $hdr \\[bytes\\]" "$tmp/dump" && ok "LUKS2: aes-xts-plain64, 4096-byte sectors, data at 284 KiB" || bad "segment"
[ "$(grep -c '^  [0-9]*: luks2' "$tmp/dump")" = 1 ] && grep -q 'Key:        512 bits' "$tmp/dump" && ok "one keyslot of a 512-bit key" || bad "keyslots"
grep -q 'PBKDF:      pbkdf2' "$tmp/dump" && grep -q 'Iterations: 1000' "$tmp/dump" && ok "PBKDF2 at 1000 iterations" || bad "pbkdf"
sed -n '/^Tokens:/,/^Digests:/p' "$tmp/dump" | grep -q '^  [0-9]' && bad "tokens present" || ok "no tokens"

/usr/bin/python3 -c "import json,sys; sys.stdout.buffer.write(bytes.fromhex(json.load(open('$tmp/w.key'))['volume_key']))" >"$tmp/pass"
expect "cryptsetup opens it with the volume key" 0 "" -- cryptsetup open --test-passphrase --key-file "$tmp/pass" "$tmp/w.img"
head -c 32 /dev/urandom >"$tmp/wrong"
expect "and not with another" 2 "" -- cryptsetup open --test-passphrase --key-file "$tmp/wrong" "$tmp/w.img"

# the master key, then the payload decrypted by an independent AES-XTS
cryptsetup luksDump --dump-volume-key --volume-key-file "$tmp/mk" --key-file "$tmp/pass" --batch-mode "$tmp/w.img" >/dev/null 2>&1
/usr/bin/python3 - "$tmp/mk" "$tmp/w.img" "$tmp/payload" "$hdr" <<'EOP'
import sys
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
mk = open(sys.argv[1], "rb").read()
img = open(sys.argv[2], "rb").read()[int(sys.argv[4]):]
out = bytearray()
for off in range(0, len(img), 4096):
    d = Cipher(algorithms.AES(mk), modes.XTS((off // 512).to_bytes(16, "little"))).decryptor()
    out += d.update(img[off:off + 4096]) + d.finalize()
open(sys.argv[3], "wb").write(out)
EOP
hoff=$(j 'd["verity"]["hash_offset"]')
head -c "$hoff" "$tmp/payload" >"$tmp/fs.img"
expect "the filesystem passes e2fsck" 0 "" -- e2fsck -n -f "$tmp/fs.img"
debugfs -R "cat /data/blob" "$tmp/fs.img" 2>/dev/null | cmp -s - "$tmp/wl/data/blob" && ok "a file reads back whole" || bad "file content"
debugfs -R "stat /bin/job" "$tmp/fs.img" 2>/dev/null | grep -q 'mtime: 0x6553f100' && ok "times are the source date epoch" || bad "mtime not clamped"
tail -c +$((hoff + 1)) "$tmp/payload" >"$tmp/hash.img"
expect "veritysetup verifies the tree against the root hash" 0 "" -- veritysetup verify --no-superblock \
	--data-block-size 4096 --hash-block-size 4096 --data-blocks "$(j 'd["verity"]["data_blocks"]')" \
	--salt "$(j 'd["verity"]["salt"]')" "$tmp/fs.img" "$tmp/hash.img" "$(j 'd["verity"]["root_hash"]')"
printf 'X' | dd of="$tmp/fs.img" bs=1 seek=$((4096 * 40)) conv=notrunc 2>/dev/null
if veritysetup verify --no-superblock --data-block-size 4096 --hash-block-size 4096 \
	--data-blocks "$(j 'd["verity"]["data_blocks"]')" --salt "$(j 'd["verity"]["salt"]')" \
	"$tmp/fs.img" "$tmp/hash.img" "$(j 'd["verity"]["root_hash"]')" >/dev/null 2>&1; then
	bad "a changed block passes verity"
else
	ok "a changed block fails verity"
fi

# cryptsetup's own offline encryption of the same payload with the same key writes the same bytes
cp "$tmp/payload" "$tmp/ref.img" && truncate -s +32M "$tmp/ref.img"
cryptsetup reencrypt --encrypt --type luks2 --cipher aes-xts-plain64 --key-size 512 --sector-size 4096 \
	--reduce-device-size 32M --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --volume-key-file "$tmp/mk" \
	--key-file "$tmp/pass" --batch-mode "$tmp/ref.img" >/dev/null 2>&1
size=$(j 'd["payload_size"]')
if cmp -s -n "$size" -i 16777216:$hdr "$tmp/ref.img" "$tmp/w.img"; then
	ok "the data segment equals cryptsetup's offline encryption"
else
	bad "the data segment differs from cryptsetup's"
fi

# deterministic filesystem and tree
expect "pack again" 0 "" -- "$cvm" pack "$tmp/wl" -o "$tmp/w2.img" --key-out "$tmp/w2.key" --source-date-epoch 1700000000
[ "$(j 'd["verity"]["root_hash"]')" = "$(/usr/bin/python3 -c "import json; print(json.load(open('$tmp/w2.key'))['verity']['root_hash'])")" ] &&
	ok "the same directory and epoch: the same verity root hash" || bad "root hash differs"
[ "$(j 'd["volume_key"]')" != "$(/usr/bin/python3 -c "import json; print(json.load(open('$tmp/w2.key'))['volume_key'])")" ] &&
	ok "but a fresh volume key" || bad "volume key repeated"

# --seed: the same content and seed give the same volume, byte for byte, and
# the same key file, across a clock that moved on and the default epoch 0
# (which e2fsprogs cannot be told: it stamps "now" in its place)
seed="$tmp/owner.seed"
(umask 077 && head -c 32 /dev/urandom >"$seed")
expect "pack --seed" 0 "luks_header_sha256" -- "$cvm" pack "$tmp/wl" -o "$tmp/s1.img" --key-out "$tmp/s1.key" --seed "$seed"
cp "$tmp/out" "$tmp/s1.out"
sleep 1.1 # the clock's second moves on between the two packs
expect "pack --seed again" 0 "luks_header_sha256" -- "$cvm" pack "$tmp/wl" -o "$tmp/s2.img" --key-out "$tmp/s2.key" --seed "$seed"
cmp -s "$tmp/s1.out" "$tmp/out" && ok "the same printed digests" || bad "printed digests differ"
cmp -s "$tmp/s1.img" "$tmp/s2.img" && cmp -s "$tmp/s1.key" "$tmp/s2.key" &&
	ok "the same content and seed: the same volume and key file, byte for byte" || bad "seeded packs differ"
/usr/bin/python3 -c "import json,sys; sys.stdout.buffer.write(bytes.fromhex(json.load(open('$tmp/s1.key'))['volume_key']))" >"$tmp/pass"
expect "cryptsetup opens the seeded volume" 0 "" -- cryptsetup open --test-passphrase --key-file "$tmp/pass" "$tmp/s1.img"
cryptsetup luksDump "$tmp/s1.img" >"$tmp/dump" 2>&1 &&
	grep -q 'Label:.*cvm-workload' "$tmp/dump" && grep -q 'AF stripes: 4000' "$tmp/dump" &&
	ok "cryptsetup reads the header: label, one keyslot of 4000 stripes" || bad "luksDump of the seeded volume"
(umask 077 && head -c 32 /dev/urandom >"$tmp/other.seed")
expect "another seed" 0 "" -- "$cvm" pack "$tmp/wl" -o "$tmp/s3.img" --key-out "$tmp/s3.key" --seed "$tmp/other.seed"
k() { /usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(d['volume_key'], d['luks_header_sha256'], d['verity']['root_hash'])" "$1"; }
set -- $(k "$tmp/s1.key") && a1=$1 h1=$2 r1=$3
set -- $(k "$tmp/s3.key")
[ "$1" != "$a1" ] && [ "$2" != "$h1" ] && [ "$3" = "$r1" ] &&
	ok "another seed: another key and header, the same filesystem" || bad "another seed"
echo more >"$tmp/wl/data/more"
expect "other content, the same seed" 0 "" -- "$cvm" pack "$tmp/wl" -o "$tmp/s4.img" --key-out "$tmp/s4.key" --seed "$seed"
rm -f "$tmp/wl/data/more"
set -- $(k "$tmp/s4.key")
[ "$1" != "$a1" ] && [ "$2" != "$h1" ] && ok "other content under the same seed: another key" || bad "key reused across contents"
chmod 0644 "$seed"
expect "a seed others can read" 2 "readable by others" -- "$cvm" pack "$tmp/wl" -o "$tmp/x.img" --key-out "$tmp/x.key" --seed "$seed"
chmod 0600 "$seed"
(umask 077 && head -c 31 /dev/urandom >"$tmp/short.seed")
expect "a seed of 31 bytes" 2 "32 to 4096 bytes" -- "$cvm" pack "$tmp/wl" -o "$tmp/x.img" --key-out "$tmp/x.key" --seed "$tmp/short.seed"
ln -sf "$seed" "$tmp/link.seed"
expect "a seed behind a link" 2 "seed" -- "$cvm" pack "$tmp/wl" -o "$tmp/x.img" --key-out "$tmp/x.key" --seed "$tmp/link.seed"
expect "a missing seed" 2 "No such file" -- "$cvm" pack "$tmp/wl" -o "$tmp/x.img" --key-out "$tmp/x.key" --seed "$tmp/none.seed"
[ ! -e "$tmp/x.img" ] && [ ! -e "$tmp/x.key" ] && ok "a refused seed leaves nothing" || bad "files left by a refused seed"

# extended attributes past an inode's room take a block each: counted in the image's size
mkdir -p "$tmp/xa"
if /usr/bin/python3 -c "
import os, sys
for i in range(2500):
    p = sys.argv[1] + '/f%d' % i
    open(p, 'w').close()
    os.setxattr(p, 'user.big', b'x' * 3000)
" "$tmp/xa" 2>/dev/null; then
	expect "2500 files with a 3000-byte attribute each" 0 "luks_header_sha256" -- \
		"$cvm" pack "$tmp/xa" -o "$tmp/xa.img" --key-out "$tmp/xa.key"
else
	ok "skipped: user extended attributes on $tmp"
fi

# a signal mid-pack: pack removes what it made (plaintext included) and ends by the signal
mkdir -p "$tmp/sig/wl" "$tmp/sig/scratch"
head -c 314572800 /dev/zero >"$tmp/sig/wl/big"
for d in 0.1 0.3; do
	"$cvm" pack "$tmp/sig/wl" -o "$tmp/sig/o.img" --key-out "$tmp/sig/o.key" --scratch "$tmp/sig/scratch" \
		>/dev/null 2>"$tmp/sig/err" &
	pid=$!
	sleep $d
	kill -TERM $pid
	wait $pid
	st=$?
	if [ $st = 143 ] && [ ! -e "$tmp/sig/o.img" ] && [ ! -e "$tmp/sig/o.key" ] &&
		[ -z "$(ls -A "$tmp/sig/scratch")" ] && [ "$(ls "$tmp/sig")" = "$(printf 'err\nscratch\nwl')" ] &&
		grep -q "stopped by" "$tmp/sig/err"; then
		ok "SIGTERM after ${d} s: ended by it, nothing left"
	else
		bad "SIGTERM after ${d} s: exit $st, left: $(ls "$tmp/sig" "$tmp/sig/scratch" | tr '\n' ' ')"
	fi
done
rm -rf "$tmp/sig"

expect "a missing directory" 2 "not a directory" -- "$cvm" pack "$tmp/none" -o "$tmp/x.img" --key-out "$tmp/x.key"
expect "no --key-out" 2 "key-out" -- "$cvm" pack "$tmp/wl" -o "$tmp/x.img"
[ ! -e "$tmp/x.img" ] && ok "nothing written on refusal" || bad "output written on refusal"
rm -f "$tmp/mk" "$tmp/pass"

summary "cli pack"

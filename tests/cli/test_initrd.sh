#!/bin/sh
# cvm initrd: the same bytes whatever the builder's umask, file times,
# directory creation order, locale or working directory; list round-trips;
# bad lists are refused with the line named and nothing written.
set -u
cvm=${CVM_BIN:?}
tmp=${CVM_TEST_TMP:?}/cli-initrd
rm -rf "$tmp" && mkdir -p "$tmp"

. "$(dirname "$0")/lib.sh"

# make_tree DIR ORDER: the same content, created in a given order.
make_tree() {
	d=$1
	mkdir -p "$d"
	if [ "$2" = forward ]; then
		mkdir -p "$d/src/etc" "$d/tree/a/b" "$d/tree/z"
	else
		mkdir -p "$d/tree/z" "$d/tree/a/b" "$d/src/etc"
	fi
	printf '#!/bin/sh\necho hello\n' >"$d/src/init"
	chmod 0755 "$d/src/init"
	echo 'key=value' >"$d/src/etc/agent.conf"
	if [ "$2" = forward ]; then
		echo one >"$d/tree/a/one"
		echo two >"$d/tree/a/b/two"
		echo zed >"$d/tree/z/zed"
	else
		echo zed >"$d/tree/z/zed"
		echo two >"$d/tree/a/b/two"
		echo one >"$d/tree/a/one"
	fi
	ln -s one "$d/tree/a/link"
	cat >"$d/list" <<LIST
# a small image: every entry type of the kernel's list format, and a tree
dir /dev 0755 0 0
nod /dev/console 0600 0 0 c 5 1
nod /dev/vda 0660 0 6 b 254 0
dir /etc 0755 0 0
dir /etc/cvm 0755 0 0
file /etc/cvm/agent.conf src/etc/agent.conf 0640 0 0
file /init src/init 0755 0 0 /sbin/init
dir /sbin 0755 0 0
dir /usr 0755 0 0
dir /usr/bin 0755 0 0
slink /bin usr/bin 0777 0 0
pipe /run-fifo 0600 0 0
sock /run-sock 0600 0 0
tree tree /opt
LIST
}

make_tree "$tmp/a" forward
make_tree "$tmp/b" backward
touch -d '2001-01-01' "$tmp/b/src/init" "$tmp/b/tree/a/one"
chmod 0700 "$tmp/b/tree/a"

for comp in gzip zstd none; do
	(cd "$tmp/a" && umask 022 && LC_ALL=C "$cvm" initrd build list -o "$tmp/a.$comp" \
		--compress "$comp" >/dev/null) || bad "build a ($comp)"
	(cd / && umask 077 && LC_ALL=C.UTF-8 LANG=de_DE.UTF-8 "$cvm" initrd build "$tmp/b/list" \
		-o "$tmp/b.$comp" --compress "$comp" >/dev/null) || bad "build b ($comp)"
	if cmp -s "$tmp/a.$comp" "$tmp/b.$comp"; then
		ok "$comp: identical across umask, mtimes, creation order, locale and cwd"
	else
		bad "$comp: builds differ"
		"$cvm" initrd diff "$tmp/a.$comp" "$tmp/b.$comp"
	fi
done

# SOURCE_DATE_EPOCH changes the bytes, and only through the times; the epoch used is printed.
SOURCE_DATE_EPOCH=1700000000 "$cvm" initrd build "$tmp/a/list" -o "$tmp/sde.img" >"$tmp/sde.out"
grep -qx 'source_date_epoch 1700000000' "$tmp/sde.out" && ok "the epoch used is printed" || bad "epoch not printed"
SOURCE_DATE_EPOCH=1700000000 "$cvm" initrd build "$tmp/a/list" -o "$tmp/sde2.img" --json >"$tmp/sde.json"
/usr/bin/python3 -c 'import json,sys,hashlib; d=json.load(open(sys.argv[1])); assert d["source_date_epoch"] == 1700000000 and d["sha256"] == hashlib.sha256(open(sys.argv[2],"rb").read()).hexdigest() and len(d["sha384"]) == 96, d' \
	"$tmp/sde.json" "$tmp/sde2.img" && ok "--json: path, sha256, sha384, the epoch" || bad "initrd build --json"
if ! cmp -s "$tmp/sde.img" "$tmp/a.gzip" && "$cvm" initrd diff "$tmp/sde.img" "$tmp/a.gzip" >/dev/null; then
	ok "SOURCE_DATE_EPOCH sets every mtime and nothing else"
else
	bad "SOURCE_DATE_EPOCH"
fi

# Real tools read what we write.
if zcat "$tmp/a.gzip" | cpio -t 2>/dev/null | grep -qx 'opt/a/b/two' &&
	zstd -dc "$tmp/a.zstd" | cmp -s - "$tmp/a.none" && gzip -t "$tmp/a.gzip"; then
	ok "cpio, gzip and zstd read the images"
else
	bad "external tools cannot read the images"
fi

# list round-trips: unpack, list, build from the listing: the same bytes.
mkdir -p "$tmp/unpacked"
(cd "$tmp/unpacked" && zcat "$tmp/a.gzip" | cpio -idm 2>/dev/null)
"$cvm" initrd list "$tmp/a.gzip" >"$tmp/unpacked/list"
"$cvm" initrd build "$tmp/unpacked/list" -o "$tmp/rt.img" >/dev/null
if cmp -s "$tmp/rt.img" "$tmp/a.gzip"; then
	ok "list output builds the same image again"
else
	bad "list does not round-trip"
fi
if "$cvm" initrd list "$tmp/a.zstd" | grep -qx 'file /init sbin/init 0755 0 0 /sbin/init'; then
	ok "list keeps hard links as one line"
else
	bad "hard links in list"
fi

# The kernel's concatenated form: an uncompressed archive (early microcode),
# then a compressed one; list reads both, a later name replacing an earlier.
mkdir -p "$tmp/early/kernel"
echo microcode >"$tmp/early/ucode.bin"
printf 'dir /kernel 0755 0 0\nfile /kernel/ucode.bin ucode.bin 0644 0 0\nfile /init ucode.bin 0700 0 0\n' \
	>"$tmp/early/list"
"$cvm" initrd build "$tmp/early/list" -o "$tmp/early.cpio" --compress none >/dev/null
cat "$tmp/early.cpio" "$tmp/a.zstd" >"$tmp/concat.img"
"$cvm" initrd list "$tmp/concat.img" >"$tmp/concat.txt" 2>"$tmp/err"
if grep -qx 'file /kernel/ucode.bin kernel/ucode.bin 0644 0 0' "$tmp/concat.txt" &&
	grep -q '^file /etc/cvm/agent.conf ' "$tmp/concat.txt" &&
	grep -qx 'file /init sbin/init 0755 0 0 /sbin/init' "$tmp/concat.txt"; then
	ok "list reads concatenated archives, later names winning"
else
	bad "concatenated archives"
	cat "$tmp/err" "$tmp/concat.txt"
fi

# diff names what moved.
sed 's|^file /etc/cvm/agent.conf src/etc/agent.conf 0640|file /etc/cvm/agent.conf src/etc/agent.conf 0644|' \
	"$tmp/a/list" >"$tmp/a/list2"
"$cvm" initrd build "$tmp/a/list2" -o "$tmp/c.img" >/dev/null
"$cvm" initrd diff "$tmp/a.gzip" "$tmp/c.img" >"$tmp/out" 2>"$tmp/err"
if [ $? -eq 1 ] && grep -q '/etc/cvm/agent.conf: mode 0640, 0644' "$tmp/out"; then
	ok "diff names a changed mode"
else
	bad "diff"
fi
"$cvm" initrd diff "$tmp/a.gzip" "$tmp/a.zstd" >/dev/null
[ $? -eq 0 ] && ok "diff: same entries in two compressions" || bad "diff across compressions"

# Bad lists: exit 2, the line named, no output file left.
refuse() { # name pattern list-text
	printf '%s\n' "$3" >"$tmp/a/bad.list"
	rm -f "$tmp/bad.img"
	"$cvm" initrd build "$tmp/a/bad.list" -o "$tmp/bad.img" >/dev/null 2>"$tmp/err"
	rc=$?
	if [ $rc -eq 2 ] && grep -q -- "$2" "$tmp/err" && [ "$(wc -l <"$tmp/err")" -eq 1 ] &&
		[ -z "$(ls "$tmp" | grep 'bad.img')" ]; then
		ok "refused: $1"
	else
		bad "refused: $1 (exit $rc)"
		cat "$tmp/err"
	fi
}
refuse "missing source" "line 2: .*nope: No such file" "dir /etc 0755 0 0
file /etc/x nope 0644 0 0"
refuse "unknown type" "line 1: unknown type 'fil'" "fil /x src/init 0644 0 0"
refuse "too few fields" "line 1: dir takes 4 fields" "dir /etc 0755 0"
refuse "bad mode" "line 1: mode '999'" "dir /etc 999 0 0"
printf 'dir etc 0755 0 0\nfile etc/x.conf src/etc/agent.conf 0644 0 0\n' >"$tmp/a/rel.list"
printf 'dir /etc 0755 0 0\nfile /etc/x.conf src/etc/agent.conf 0644 0 0\n' >"$tmp/a/abs.list"
"$cvm" initrd build "$tmp/a/rel.list" -o "$tmp/rel.img" >/dev/null &&
	"$cvm" initrd build "$tmp/a/abs.list" -o "$tmp/abs.img" >/dev/null &&
	cmp -s "$tmp/rel.img" "$tmp/abs.img" && ok "names with or without the leading slash, as gen_init_cpio" ||
	bad "names without a leading slash"
refuse "dot-dot name" "line 1: name /a/../b" "dir /a/../b 0755 0 0"
refuse "tree escaping with .." "line 1: tree source ../x escapes" "tree ../x /x"
refuse "missing parent" "line 1: /a/b: its directory /a is not listed" "dir /a/b 0755 0 0"
refuse "duplicate" "listed twice" "dir /a 0755 0 0
dir /a 0755 0 0"
refuse "bad device type" "device type" "nod /c 0600 0 0 x 1 1"
ln -sf loop "$tmp/a/loop"
refuse "symlink loop as tree" "symbolic link loop" "tree loop /x"
refuse "module without --kver" "module lines need --kver" "module virtio_blk"
refuse "a second compress line" "line 2: a second compress line" "compress zstd
compress gzip"
refuse "an unknown compression" "compress takes none, gzip or zstd, not 'xz'" "compress xz"

# compress in the list: the image's compression; --compress wins over it
magic() { head -c 4 "$1" | od -An -tx1 | tr -d ' '; }
printf 'compress none\ndir /etc 0755 0 0\n' >"$tmp/a/none.list"
printf 'compress zstd\ndir /etc 0755 0 0\n' >"$tmp/a/zstd.list"
"$cvm" initrd build "$tmp/a/none.list" -o "$tmp/none.img" >/dev/null &&
	[ "$(magic "$tmp/none.img")" = 30373037 ] && ok "compress none: a plain cpio" || bad "compress none"
"$cvm" initrd build "$tmp/a/zstd.list" -o "$tmp/zstd.img" >/dev/null &&
	[ "$(magic "$tmp/zstd.img")" = 28b52ffd ] && ok "compress zstd: zstd" || bad "compress zstd"
"$cvm" initrd build "$tmp/a/zstd.list" -o "$tmp/zg.img" --compress gzip >/dev/null &&
	[ "$(magic "$tmp/zg.img" | cut -c1-4)" = 1f8b ] && ok "--compress overrides the list's" || bad "--compress override"
[ "$("$cvm" initrd list "$tmp/zstd.img")" = "$("$cvm" initrd list "$tmp/zg.img")" ] &&
	ok "the same entries either way" || bad "entries differ by compression"

summary "cli initrd"

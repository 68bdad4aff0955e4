#!/bin/sh
# The default image: its module closure for the installed Debian kernel,
# ELF closures, and the same bytes from two different builders.
set -u
cvm=${CVM_BIN:?}
top=${CVM_TOP:?}
tmp=${CVM_TEST_TMP:?}/cli-initrd-default
rm -rf "$tmp" && mkdir -p "$tmp"
. "$(dirname "$0")/lib.sh"

kver=$(ls /lib/modules 2>/dev/null | sort | tail -n 1)
if [ -z "$kver" ]; then
	bad "no kernel modules installed (scripts/setup-deps installs linux-image-amd64)"
	exit 1
fi
# The image directory: the recipe and the agent (the image names no broker: the order does).
agent=$(dirname "$cvm")/cvm-agent
[ -x "$agent" ] || { bad "no $agent (make builds it)"; summary "cli initrd default"; exit 1; }
mkdir -p "$tmp/img" "$tmp/img2"
cp "$top"/vm-images/default/* "$agent" "$tmp/img/"
cp -p "$tmp"/img/* "$tmp/img2/"
list="$tmp/img/initrd.list"

(cd / && umask 022 && LC_ALL=C "$cvm" initrd build "$list" -o "$tmp/a.img" --kver "$kver" \
	>"$tmp/a.out") || bad "build a"
(cd "$tmp/img2" && umask 077 && LC_ALL=C.UTF-8 SOURCE_DATE_EPOCH=0 "$cvm" initrd build initrd.list \
	-o ../b.img --kver "$kver" >/dev/null) || bad "build b"
cmp -s "$tmp/a.img" "$tmp/b.img" && ok "default image: the same bytes from two builders" ||
	bad "default image differs between builders"
[ "$(head -c 4 "$tmp/a.img" | od -An -tx1 | tr -d ' ')" = 28b52ffd ] &&
	ok "default image: zstd, as its list says" || bad "default image: not zstd"
zstdcat "$tmp/a.img" | cpio -i --to-stdout init 2>/dev/null | cmp -s - "$agent" &&
	ok "default image: cvm-agent is /init" || bad "default image: /init is not cvm-agent"
zstdcat "$tmp/a.img" | cpio -t 2>/dev/null | grep -qx etc/cvm/agent.json &&
	ok "default image: agent.json is in the image" || bad "default image: no agent.json"
zstdcat "$tmp/a.img" | cpio -i --to-stdout etc/cvm/agent.json 2>/dev/null | grep -q -e '"url"' -e '"resource"' -e cacert &&
	bad "default image: agent.json names a broker" || ok "default image: generic, agent.json names no broker"
grep -q "note: tpm_tis is built into kernel" "$tmp/a.out" && ok "built-in module noted, not an error" ||
	bad "built-in module note"

zstdcat "$tmp/a.img" | cpio -i --to-stdout etc/cvm/modules 2>/dev/null >"$tmp/boot"
zstdcat "$tmp/a.img" | cpio -i --to-stdout etc/cvm/modules.background 2>/dev/null >"$tmp/bg"
# The agent loads the background list after the boot list: one order, the boot's first.
cat "$tmp/boot" "$tmp/bg" >"$tmp/order"
# Dependencies load first: virtio before virtio_blk, dm-mod before dm-crypt, jbd2 before ext4.
before() { # a b: a is listed before b
	la=$(grep -n "/$1.ko" "$tmp/order" | head -n 1 | cut -d: -f1)
	lb=$(grep -n "/$2.ko" "$tmp/order" | head -n 1 | cut -d: -f1)
	[ -n "$la" ] && [ -n "$lb" ] && [ "$la" -lt "$lb" ]
}
if before virtio_ring virtio_blk && before dm-mod dm-crypt && before dm-bufio dm-verity &&
	before jbd2 ext4 && before cryptd aesni-intel; then
	ok "module load order puts dependencies first"
else
	bad "module load order"
	cat "$tmp/order"
fi
# What the agent needs before its first line loads at boot; the volumes' modules in the background.
if grep -q "/virtio_console.ko$" "$tmp/boot" && grep -q "/virtio_blk.ko$" "$tmp/boot" &&
	grep -q "/virtio_net.ko$" "$tmp/boot" && grep -q "/dm-crypt.ko$" "$tmp/bg" &&
	grep -q "/ext4.ko$" "$tmp/bg" && grep -q "/jbd2.ko$" "$tmp/bg" &&
	! grep -q "/dm-crypt.ko$" "$tmp/boot" &&
	[ -z "$(grep -v '^#' "$tmp/order" | sort | uniq -d)" ]; then
	ok "boot and background module lists: each module once, in its stage"
else
	bad "module stages"
	cat "$tmp/boot" "$tmp/bg"
fi
missing=0
for m in $(grep -v '^#' "$tmp/order"); do
	zstdcat "$tmp/a.img" | cpio -t 2>/dev/null | grep -qx "${m#/}" || missing=1
done
[ $missing -eq 0 ] && ok "every module of the order file is in the image" || bad "modules missing"

# cvm initrd tcb: every file, its package and why it is there
"$cvm" initrd tcb "$tmp/a.img" >"$tmp/tcb" 2>&1 && ok "initrd tcb: lists the default image" || bad "initrd tcb failed"
grep -q '^ *[0-9]*  /init .*the agent, PID 1 (this tree); static: libcurl from curl .*cJSON from cjson' "$tmp/tcb" &&
	ok "initrd tcb: the agent, with what it carries statically" || bad "initrd tcb: the agent's line"
grep -q 'libcrypto.so.3 *libssl3:amd64=[^ ]* *needed by init' "$tmp/tcb" &&
	ok "initrd tcb: a library's package, version and who needs it" || bad "initrd tcb: libcrypto's line"
grep -q 'libtss2-tcti-device.so.0 .*linked by no file here: loaded at run time' "$tmp/tcb" &&
	ok "initrd tcb: the TCTI, loaded at run time" || bad "initrd tcb: the TCTI's line"
grep -q 'jbd2.ko *linux-image-[^ ]* *dependency of ext4' "$tmp/tcb" &&
	ok "initrd tcb: a module's dependency" || bad "initrd tcb: jbd2's line"
grep -q 'NOT the installed bytes' "$tmp/tcb" && bad "initrd tcb: a file differs from its package" ||
	ok "initrd tcb: every packaged file is the installed bytes"
objs=$(sed -n 's/.* \([0-9]*\) shared objects.*/\1/p' "$tmp/tcb")
if grep -q 'libasan' "$tmp/tcb"; then
	# the sanitizer runtime (libasan, libubsan and their libstdc++) is no part of a shipped image
	ok "initrd tcb: a sanitized agent ($objs shared objects): the closure goals apply to the plain build"
else
	[ -n "$objs" ] && [ "$objs" -le 20 ] && ok "initrd tcb: $objs shared objects (at most 20)" ||
		bad "initrd tcb: $objs shared objects"
	if grep -E -i 'ldap|krb5|gssapi|sasl|gnutls|nettle|gmp|p11-kit|rtmp|ssh2|libxml2|icu|stdc\+\+' "$tmp/tcb"; then
		bad "initrd tcb: a library the agent must not carry"
	else
		ok "initrd tcb: no LDAP, Kerberos, SASL, GnuTLS, nettle, gmp, p11-kit, RTMP, SSH2, libxml2, ICU, libstdc++"
	fi
fi
"$cvm" initrd tcb --json "$tmp/a.img" | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); assert all(set(f) == {"path","size","sha256","package","version","installed_bytes","why"} for f in d["files"]); assert any(f["path"] == "/init" for f in d["files"])' &&
	ok "initrd tcb --json: one object, a member per file" || bad "initrd tcb --json"
expect "initrd tcb: no image" 2 "needs IMG" -- "$cvm" initrd tcb
# an image handed over by someone else is input: cut short or not an image, one line (expect checks it), exit 2
head -c 3000000 "$tmp/a.img" >"$tmp/cut.img"
expect "initrd tcb: an image cut short" 2 "truncated" -- "$cvm" initrd tcb "$tmp/cut.img"
printf 'x' >"$tmp/junk.img"
expect "initrd tcb: not an image" 2 "junk.img: " -- "$cvm" initrd tcb "$tmp/junk.img"

# An ELF closure: the shell, its interpreter and libc, as the loader finds them.
printf 'lib /bin/sh\n' >"$tmp/sh.list"
"$cvm" initrd build "$tmp/sh.list" -o "$tmp/sh.img" >/dev/null || bad "lib /bin/sh"
"$cvm" initrd list "$tmp/sh.img" >"$tmp/sh.txt"
interp=$(readelf -l /bin/sh 2>/dev/null | sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p')
if grep -q "^file /bin/sh " "$tmp/sh.txt" && grep -q "libc.so.6" "$tmp/sh.txt" &&
	{ [ -z "$interp" ] || grep -q " $interp " "$tmp/sh.txt"; }; then
	ok "lib closure holds the binary, its interpreter and libc"
else
	bad "lib closure"
	cat "$tmp/sh.txt"
fi
printf 'module no_such_module_x\n' >"$tmp/nm.list"
"$cvm" initrd build "$tmp/nm.list" -o "$tmp/nm.img" --kver "$kver" >/dev/null 2>"$tmp/err"
[ $? -eq 2 ] && grep -q "not found for kernel" "$tmp/err" && [ ! -e "$tmp/nm.img" ] &&
	ok "missing module refused, nothing written" || bad "missing module"
# A module at boot takes what it depends on to boot, even when a background line named it first.
printf 'module dm-verity background\nmodule dm-mod\nmodule dm-crypt bogus\n' >"$tmp/st.list"
"$cvm" initrd build "$tmp/st.list" -o "$tmp/st.img" --kver "$kver" >/dev/null 2>"$tmp/err"
[ $? -eq 2 ] && grep -q "line 3: module takes NAME \[background\]" "$tmp/err" &&
	ok "module: an unknown stage refused" || bad "module: an unknown stage"
printf 'module dm-verity background\nmodule dm-mod\n' >"$tmp/st.list"
"$cvm" initrd build "$tmp/st.list" -o "$tmp/st.img" --kver "$kver" >/dev/null 2>&1 || bad "staged list"
gzip -dc "$tmp/st.img" | cpio -i --to-stdout etc/cvm/modules 2>/dev/null >"$tmp/st.boot"
gzip -dc "$tmp/st.img" | cpio -i --to-stdout etc/cvm/modules.background 2>/dev/null >"$tmp/st.bg"
if grep -q "/dm-mod.ko$" "$tmp/st.boot" && ! grep -q "/dm-mod.ko$" "$tmp/st.bg" &&
	grep -q "/dm-verity.ko$" "$tmp/st.bg" && grep -q "/dm-bufio.ko$" "$tmp/st.bg" &&
	[ "$(grep -c . "$tmp/st.boot")" -eq 1 ]; then
	ok "module stages: a dependency of a boot module moves to boot, the rest stays behind"
else
	bad "module stages: dependency moved"
	cat "$tmp/st.boot" "$tmp/st.bg"
fi
printf 'lib /etc/passwd\n' >"$tmp/ne.list"
"$cvm" initrd build "$tmp/ne.list" -o "$tmp/ne.img" >/dev/null 2>"$tmp/err"
[ $? -eq 2 ] && grep -q "not an ELF file" "$tmp/err" && ok "non-ELF refused" || bad "non-ELF"

summary "cli initrd default"

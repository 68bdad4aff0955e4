#!/bin/sh
# cvm pack --oci: container images made here (Debian's busybox-static, as
# an OCI layout and as docker save's tarball) become solution volumes; the
# same image gives the same filesystem (verity root hash) in either form
# and on every pack, and with the owner's --seed the same volume and
# header digest; what an order names is printed, as lines or --json;
# a key file is never overwritten; a solution's cvm-job.json is checked
# before anything is packed, the refusal naming the member; usage errors
# name what is missing.
set -u
cvm=${CVM_BIN:?}
tmp=${CVM_TEST_TMP:?}/cli-pack-oci
top=${CVM_TOP:?}
rm -rf "$tmp" && mkdir -p "$tmp"
. "$(dirname "$0")/lib.sh"
py=/usr/bin/python3
field() { sed -n "s/^$1 //p" "$2"; }

$py "$top/tests/e2e/oci_image.py" busybox "$tmp/bb" || bad "the busybox image"
$py "$top/tests/e2e/oci_image.py" busybox "$tmp/bb.tar" --docker || bad "the busybox tarball"

expect "pack --oci: an OCI layout" 0 "verity_root_hash" -- \
	"$cvm" pack --oci "$tmp/bb" -o "$tmp/bb.img" --key-out "$tmp/bb.key" --source-date-epoch 1
cp "$tmp/out" "$tmp/bb.out"
[ "$(field sha256 "$tmp/bb.out")" = "$(sha256sum <"$tmp/bb.img" | cut -c1-64)" ] &&
	ok "the printed sha256 is the volume's" || bad "sha256"
[ "$(field size "$tmp/bb.out")" = "$(stat -c %s "$tmp/bb.img")" ] && ok "the printed size is the volume's" || bad "size"
[ "$(field luks_header_sha256 "$tmp/bb.out")" = "$(head -c 290816 "$tmp/bb.img" | sha256sum | cut -c1-64)" ] &&
	ok "the printed header digest is the header area's" || bad "header digest"
[ "$(field source_date_epoch "$tmp/bb.out")" = 1 ] && ok "the epoch used is printed" || bad "epoch"

expect "pack --oci: docker save's tarball, --json" 0 "verity_root_hash" -- \
	"$cvm" pack --oci "$tmp/bb.tar" -o "$tmp/bb2.img" --key-out "$tmp/bb2.key" --source-date-epoch 1 --json
root2=$($py -c 'import json,sys; d=json.load(open(sys.argv[1])); assert set(d) == {"sha256","size","luks_header_sha256","verity_root_hash","source_date_epoch"}; print(d["verity_root_hash"])' "$tmp/out") &&
	ok "--json: one object with the five members" || bad "--json"
[ "$root2" = "$(field verity_root_hash "$tmp/bb.out")" ] &&
	ok "the layout and the tarball give the same filesystem" || bad "layout and tarball differ"
"$cvm" pack --oci "$tmp/bb" -o "$tmp/bb3.img" --key-out "$tmp/bb3.key" --source-date-epoch 1 >"$tmp/bb3.out" 2>&1
[ "$(field verity_root_hash "$tmp/bb3.out")" = "$(field verity_root_hash "$tmp/bb.out")" ] &&
	ok "reproducible: the same image packs to the same filesystem" || bad "not reproducible"
[ "$(field sha256 "$tmp/bb3.out")" != "$(field sha256 "$tmp/bb.out")" ] &&
	ok "and every pack has a fresh volume key" || bad "the same volume twice"
"$cvm" pack --oci "$tmp/bb" -o "$tmp/bb4.img" --key-out "$tmp/bb4.key" --source-date-epoch 2 >"$tmp/bb4.out" 2>&1
[ "$(field verity_root_hash "$tmp/bb4.out")" != "$(field verity_root_hash "$tmp/bb.out")" ] &&
	ok "another epoch, another filesystem" || bad "the epoch is not used"
# with the owner's --seed, the same image gives the same volume and header digest,
# whether it comes as a layout or as a tarball
(umask 077 && head -c 32 /dev/urandom >"$tmp/owner.seed")
"$cvm" pack --oci "$tmp/bb" -o "$tmp/bs1.img" --key-out "$tmp/bs1.key" --seed "$tmp/owner.seed" >"$tmp/bs1.out" 2>&1
"$cvm" pack --oci "$tmp/bb.tar" -o "$tmp/bs2.img" --key-out "$tmp/bs2.key" --seed "$tmp/owner.seed" >"$tmp/bs2.out" 2>&1
[ -s "$tmp/bs1.img" ] && cmp -s "$tmp/bs1.out" "$tmp/bs2.out" && cmp -s "$tmp/bs1.img" "$tmp/bs2.img" &&
	ok "--seed: the same image packs to the same volume and header digest" || bad "seeded packs of one image differ"
"$cvm" pack --oci "$tmp/bb" -o "$tmp/bs3.img" --key-out "$tmp/bs3.key" --seed "$tmp/owner.seed" --source-date-epoch 2 >"$tmp/bs3.out" 2>&1
[ "$(field luks_header_sha256 "$tmp/bs3.out")" != "$(field luks_header_sha256 "$tmp/bs1.out")" ] &&
	ok "--seed: another filesystem gets another key and header" || bad "one key for two filesystems"
ls "$tmp" | grep -q 'pack\.' && bad "temporary files left" || ok "no temporary files left"

# a key file is never overwritten, and nothing is packed then
sum=$(sha256sum <"$tmp/bb.key")
expect "an existing key file is refused" 2 "already exists; a key is never overwritten" -- \
	"$cvm" pack --oci "$tmp/bb" -o "$tmp/again.img" --key-out "$tmp/bb.key"
[ "$(sha256sum <"$tmp/bb.key")" = "$sum" ] && [ ! -e "$tmp/again.img" ] && ok "the key is intact, nothing written" ||
	bad "the key was touched"

# usage errors name what is missing
expect "no -o" 2 "needs -o WORKLOAD.img" -- "$cvm" pack --oci "$tmp/bb" --key-out "$tmp/x.key"
expect "no --key-out" 2 "needs --key-out VOLUME.key" -- "$cvm" pack --oci "$tmp/bb" -o "$tmp/x.img"
expect "DIR and --oci" 2 "not both" -- "$cvm" pack "$tmp" --oci "$tmp/bb" -o "$tmp/x.img" --key-out "$tmp/x.key"
expect "neither" 2 "needs DIR (or --oci IMAGE)" -- "$cvm" pack -o "$tmp/x.img" --key-out "$tmp/x.key"
expect "--user without --oci" 2 "--user goes with --oci" -- "$cvm" pack "$tmp" --user 5 -o "$tmp/x.img" --key-out "$tmp/x.key"
expect "a missing image" 2 "No such file" -- "$cvm" pack --oci "$tmp/none" -o "$tmp/x.img" --key-out "$tmp/x.key"
printf 'not a tar' >"$tmp/junk.tar"
expect "a file that is no image" 2 "not a docker save / podman save / OCI layout tarball" -- \
	"$cvm" pack --oci "$tmp/junk.tar" -o "$tmp/x.img" --key-out "$tmp/x.key"
expect "--help says what --oci takes" 0 "docker save or podman save" -- "$cvm" pack --help

# a solution's manifest, checked before anything is packed
mkdir -p "$tmp/sol"
check() { # NAME MANIFEST PATTERN
	printf '%s' "$2" >"$tmp/sol/cvm-job.json"
	rm -f "$tmp/x.key" "$tmp/x.img"
	expect "$1" 2 "$3" -- "$cvm" pack "$tmp/sol" -o "$tmp/x.img" --key-out "$tmp/x.key"
	[ ! -e "$tmp/x.img" ] && [ ! -e "$tmp/x.key" ] || bad "$1: something written"
}
check "manifest: not JSON" '{"argv": [' "cvm-job.json: E_MANIFEST: cvm-job.json: not valid JSON"
check "manifest: an unknown member" '{"argv": ["a"], "user": {"uid": 1, "gid": 1}, "shell": 1}' 'unknown member "shell"'
check "manifest: an absolute program" '{"argv": ["/bin/sh"], "user": {"uid": 1, "gid": 1}}' "argv\[0\]: not a relative path"
check "manifest: root" '{"argv": ["a"], "user": {"uid": 0, "gid": 1}}' "user.uid"
printf '{"argv": ["a"], "user": {"uid": 1000, "gid": 1000}}' >"$tmp/sol/cvm-job.json"
expect "manifest: a good one packs" 0 "luks_header_sha256" -- "$cvm" pack "$tmp/sol" -o "$tmp/x.img" --key-out "$tmp/x.key"
rm "$tmp/sol/cvm-job.json"
expect "no manifest: a data volume packs" 0 "luks_header_sha256" -- "$cvm" pack "$tmp/sol" -o "$tmp/y.img" --key-out "$tmp/y.key"

summary "cli pack --oci"

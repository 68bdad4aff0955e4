#!/bin/sh
# cvm image build and verify, and the key broker pinning the image: a sim
# TDX quote and SNP report carrying the manifest's values are released to;
# each value changed by one bit is refused, the register named; bad
# manifests and incomplete policies are refused with one line.
set -u
cvm=${CVM_BIN:?}
cvmt=${CVM_TEST_BIN:?}
pki=${CVM_TEST_PKI:?}
vectors=${CVM_VECTORS:?}
tmp=${CVM_TEST_TMP:?}/cli-image
rm -rf "$tmp" && mkdir -p "$tmp"
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$here/lib.sh"
py=/usr/bin/python3
pids=""
cleanup() { for p in $pids; do kill "$p" 2>/dev/null; done; return 0; }
trap cleanup EXIT INT TERM

kernel=$(ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1)
kver=${kernel#/boot/vmlinuz-}
agent=$(dirname "$cvm")/cvm-agent
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/tls.key" \
	-out "$tmp/tls.pem" -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null
builder=$("$cvm" keygen -o "$tmp/builder.key")
other=$("$cvm" keygen -o "$tmp/other.key")
snpfw=$vectors/measure/snp/ovmf_AmdSev_suffix.bin
build() { # OUT [more args]
	o=$1
	shift
	"$cvm" image build "$top/vm-images/default" -o "$o" --key "$tmp/builder.key" --kver "$kver" \
		--file cvm-agent="$agent" "$@"
}

# ---- build and verify ----
expect "build: tdx and snp, the manifest signed" 0 "tdx: 2 launches; not predicted, pin by hand: rtmr0" -- \
	build "$tmp/img" --platforms tdx,snp --firmware snp="$snpfw"
build "$tmp/img-json" --platforms tdx --json >"$tmp/build.json" 2>"$tmp/err" &&
	/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert len(d["manifest_sha256"]) == 64 and d["platforms"]["tdx"] == {"launches": 2, "pin_by_hand": "rtmr0"}, d' "$tmp/build.json" &&
	ok "build --json: the manifest digest and each platform's launches" || { bad "build --json"; cat "$tmp/err" "$tmp/build.json"; }
# cvm measure --image: the launch as the image describes it, equal to what the build predicted
"$cvm" measure --mode tdx --image "$top/vm-images/default" --initrd "$tmp/img/initrd.img" --memory 2048M --json \
	>"$tmp/measure-image.json" 2>"$tmp/err" &&
	/usr/bin/python3 -c 'import json,sys
m = json.load(open(sys.argv[1]))["platforms"]["tdx"]["launches"]
l = [x for x in m if x["memory_mib"] == 2048][0]
d = json.load(open(sys.argv[2]))["tdx"]
assert all(d[k] == l[k] for k in ("mrtd", "rtmr1", "rtmr2")), (d, l)' "$tmp/img/manifest.json" "$tmp/measure-image.json" &&
	ok "measure --image: MRTD, RTMR1 and RTMR2 as the signed manifest has them" || { bad "measure --image"; cat "$tmp/err"; }
expect "measure --image: several launch shapes, one must be named" 2 "offers 2 tdx launches (1024, 2048): give --memory" -- \
	"$cvm" measure --mode tdx --image "$top/vm-images/default" --initrd "$tmp/img/initrd.img"
expect "measure --image: the initrd is the built one, given" 2 "--image needs --initrd" -- \
	"$cvm" measure --mode tdx --image "$top/vm-images/default"
expect "verify: the builder's signature" 0 "signed by the builder" -- \
	"$cvm" image verify "$tmp/img/manifest.json" --builder "$builder"
expect "verify: another builder's key is refused" 1 "E_MANIFEST_SIGNATURE" -- \
	"$cvm" image verify "$tmp/img/manifest.json" --builder "$other"
expect "build without --key" 2 "--key" -- "$cvm" image build "$top/vm-images/default" -o "$tmp/x"
expect "build: a firmware that is not here names --firmware and --platforms" 2 "--platforms" -- \
	build "$tmp/x" --platforms snp
# a deployment file the recipe names and nobody gave
cp -r "$top/vm-images/default" "$tmp/extra"
sed 's/"deployment_files": \["cvm-agent"\]/"deployment_files": ["cvm-agent", "site.pem"]/' \
	"$top/vm-images/default/build.json" >"$tmp/extra/build.json"
expect "build: a missing deployment file names --file" 2 "--file site.pem=PATH" -- \
	"$cvm" image build "$tmp/extra" -o "$tmp/x" --key "$tmp/builder.key" --kver "$kver" \
	--file cvm-agent="$agent" --platforms tdx
# a build.json of unknown members: each named, never ignored
cp -r "$top/vm-images/default" "$tmp/typo"
$py -c 'import json,sys; p=sys.argv[1]; j=json.load(open(p)); j["platforms"]["tdx"]["smp"]=2; json.dump(j,open(p,"w"))' "$tmp/typo/build.json"
expect "build: an unknown member of a platform in build.json is named" 2 'platforms.tdx: "smp": unknown member' -- \
	"$cvm" image build "$tmp/typo" -o "$tmp/x" --key "$tmp/builder.key" --kver "$kver"
$py -c 'import json,sys; p=sys.argv[1]; j=json.load(open(p)); del j["platforms"]["tdx"]["smp"]; j["deployment_files"]={"a":"b"}; json.dump(j,open(p,"w"))' "$tmp/typo/build.json"
expect "build: deployment_files that is no array" 2 "deployment_files: an array of file names" -- \
	"$cvm" image build "$tmp/typo" -o "$tmp/x" --key "$tmp/builder.key" --kver "$kver"

# ---- manifests that are refused ----
man=$tmp/img/manifest.json
mutate() { # OUT PYTHON-EXPR over m (the manifest, a dict); the signature copied along
	$py -c "import json,sys; m=json.load(open(sys.argv[1])); $2; json.dump(m, open(sys.argv[2], 'w'))" "$man" "$1"
	cp "$tmp/img/manifest.sig" "${1%.json}.sig"
}
mutate "$tmp/unknown.json" 'm["extra"] = 1'
mutate "$tmp/changed.json" 'm["cmdline"] += " rdinit=/init"'
mutate "$tmp/both.json" 'm["platforms"]["tdx"]["unpredicted"].append("rtmr1")'
sed 's/"platforms":{/"platforms":{"tdx":{"launches":[]},/' "$man" >"$tmp/dup.json"
cp "$tmp/img/manifest.sig" "$tmp/dup.sig"
cp "$man" "$tmp/unsigned.json"
store=$tmp/store
expect "add-image: an unknown member" 1 "unknown member" -- "$cvm" kbs add-image --store "$store" "$tmp/unknown.json"
expect "add-image: changed after signing" 1 "does not verify" -- "$cvm" kbs add-image --store "$store" "$tmp/changed.json"
expect "add-image: a register both predicted and unpredicted" 1 "both predicted and unpredicted" -- \
	"$cvm" kbs add-image --store "$store" "$tmp/both.json"
expect "add-image: duplicate platforms" 1 "E_MANIFEST" -- "$cvm" kbs add-image --store "$store" "$tmp/dup.json"
expect "add-image: unsigned" 2 "unsigned.sig" -- "$cvm" kbs add-image --store "$store" "$tmp/unsigned.json"
[ ! -d "$store/images" ] && ok "no refused manifest reached the store" || bad "a refused manifest was stored"
expect "add-image: the signed manifest" 0 "" -- "$cvm" kbs add-image --store "$store" "$man"

# ---- the launch values: the manifest's, and the hand-pinned RTMR0 ----
r0=$(printf '5a%.0s' $(seq 48))
$py - "$man" "$tmp" "$r0" <<'EOP'
import json, sys
m = json.load(open(sys.argv[1]))
out, r0 = sys.argv[2], sys.argv[3]
l = m["platforms"]["tdx"]["launches"][1]
tdx = {"mrtd": l["mrtd"], "rtmr0": r0, "rtmr1": l["rtmr1"], "rtmr2": l["rtmr2"]}
json.dump(tdx, open(out + "/tdx-good.json", "w"))
for k in tdx:
    bad = dict(tdx)
    b = bytearray.fromhex(bad[k]); b[47] ^= 1; bad[k] = b.hex()
    json.dump(bad, open(out + "/tdx-" + k + ".json", "w"))
for i, s in enumerate(m["platforms"]["snp"]["launches"]):
    json.dump({"measurement": s["measurement"]}, open(out + "/snp-good%d.json" % i, "w"))
b = bytearray.fromhex(m["platforms"]["snp"]["launches"][0]["measurement"]); b[0] ^= 0x80
json.dump({"measurement": b.hex()}, open(out + "/snp-bad.json", "w"))
EOP
head -c 64 /dev/urandom >"$tmp/volkey"
"$cvm" kbs add-resource --store "$store" default/key/vol "$tmp/volkey" >/dev/null || bad "add-resource"
mrtd=$($py -c "import json; print(json.load(open('$tmp/tdx-good.json'))['mrtd'])")
policy() { echo "$2" >"$tmp/$1.policy.json"; }
policy good "{\"image\": {\"builder\": \"$builder\", \"name\": \"default\"}, \"reference\": {\"tdx\": {\"rtmr0\": \"$r0\"}}}"
policy mrtd-only "{\"reference\": {\"tdx\": {\"mrtd\": \"$mrtd\"}, \"luks_header_sha256\": \"$(printf '11%.0s' $(seq 32))\"}}"
policy no-rtmr0 "{\"image\": {\"builder\": \"$builder\", \"name\": \"default\"}}"
policy pins-rtmr1 "{\"image\": {\"builder\": \"$builder\", \"name\": \"default\"}, \"reference\": {\"tdx\": {\"rtmr0\": \"$r0\", \"rtmr1\": \"$r0\"}}}"
policy absent "{\"image\": {\"manifest_sha256\": \"$(printf '00%.0s' $(seq 32))\"}, \"reference\": {\"tdx\": {\"rtmr0\": \"$r0\"}}}"
policy not-offered "{\"image\": {\"builder\": \"$builder\", \"name\": \"default\"}, \"platforms\": [\"tpm\"], \"reference\": {\"tpm\": {\"ak_sha256\": \"$(printf '22%.0s' $(seq 32))\"}}}"
policy other-builder "{\"image\": {\"builder\": \"$other\", \"name\": \"default\"}, \"reference\": {\"tdx\": {\"rtmr0\": \"$r0\"}}}"
sp() { "$cvm" kbs set-policy --store "$store" default/key/vol "$tmp/$1.policy.json"; }
expect "policy: MRTD alone is refused, naming what it leaves open" 1 "rtmr0, rtmr1, rtmr2 not pinned" -- sp mrtd-only
expect "policy: an unpredicted register left open" 1 "rtmr0" -- sp no-rtmr0
expect "policy: a predicted register pinned again" 1 "leave it to the manifest" -- sp pins-rtmr1
expect "policy: an image the store lacks" 1 "cvm kbs add-image" -- sp absent
expect "policy: a platform the image is not offered on" 1 "not offered on tpm" -- sp not-offered
expect "policy: the image by another builder's key" 1 "signed by that builder" -- sp other-builder
expect "policy: the image by builder and name, RTMR0 by hand" 0 "" -- sp good

# ---- the broker ----
port=$(free_port)
cat >"$tmp/kbs.json" <<EOC
{"listen": "127.0.0.1:$port", "tls_cert": "$tmp/tls.pem", "tls_key": "$tmp/tls.key", "store": "$store",
 "timeout": 5, "test_roots": {"snp": "$pki/snp/roots.pem", "tdx": "$pki/tdx/roots.pem"},
 "tdx_without_collateral": true}
EOC
"$cvm" kbs serve --config "$tmp/kbs.json" 2>"$tmp/broker.log" &
pids="$pids $!"
wait_port "$port" && ok "the broker listens" || { bad "the broker did not start"; cat "$tmp/broker.log"; }
cl() { # PLATFORM LAUNCH OUT
	rm -f "$3"
	"$cvmt" kbs-client --url "https://127.0.0.1:$port" --cacert "$tmp/tls.pem" --tee sim --sim-pki "$pki" \
		--sim-platform "$1" --sim-launch "$2" --resource default/key/vol -o "$3"
}
expect "TDX: the manifest's launch and the pinned RTMR0: released" 0 "" -- cl tdx "$tmp/tdx-good.json" "$tmp/got"
cmp -s "$tmp/got" "$tmp/volkey" && ok "TDX: the released resource is the stored one" || bad "TDX: resource differs"
for k in mrtd rtmr0 rtmr1 rtmr2; do
	K=$(echo "$k" | tr a-z A-Z)
	expect "TDX: $k changed by one bit is refused" 1 "PolicyDeny" -- cl tdx "$tmp/tdx-$k.json" "$tmp/got-$k"
	[ ! -e "$tmp/got-$k" ] && grep 'denied' "$tmp/broker.log" | tail -n 1 | grep -q "$K" &&
		ok "TDX $k: nothing released, the broker names $K" || { bad "TDX $k: register not named"; tail -n 1 "$tmp/broker.log"; }
done
for i in 0 1; do
	expect "SNP: the manifest's measurement for $((i + 1)) vCPU: released" 0 "" -- cl snp "$tmp/snp-good$i.json" "$tmp/got-snp$i"
done
expect "SNP: the measurement changed by one bit is refused" 1 "PolicyDeny" -- cl snp "$tmp/snp-bad.json" "$tmp/got-snpbad"
[ ! -e "$tmp/got-snpbad" ] && grep 'denied' "$tmp/broker.log" | tail -n 1 | grep -q 'measurement' &&
	ok "SNP: nothing released, the broker names the measurement" || bad "SNP: measurement not named"
n=$(grep -c 'released' "$tmp/broker.log")
[ "$n" -eq 3 ] && ok "three releases, all to the image" || bad "$n releases"

# ---- verify against the manifest ----
rd=$(printf '%0128d' 0)
"$cvmt" kbs-client --tee sim --sim-pki "$pki" --sim-launch "$tmp/tdx-good.json" --evidence "$rd" -o "$tmp/ev.json" ||
	bad "sim evidence"
"$cvmt" kbs-client --tee sim --sim-pki "$pki" --sim-launch "$tmp/tdx-rtmr2.json" --evidence "$rd" -o "$tmp/ev-bad.json" ||
	bad "sim evidence"
echo "{\"tdx\": {\"rtmr0\": \"$r0\"}}" >"$tmp/pins.json"
expect "cvm verify --reference MANIFEST: one of its launches" 0 "verified" -- "$cvmt" verify "$tmp/ev.json" \
	--test-roots "$pki/tdx/roots.pem" --reference "$man" --builder "$builder" --pins "$tmp/pins.json"
expect "cvm verify --reference MANIFEST: RTMR2 one bit off" 1 "RTMR2" -- "$cvmt" verify "$tmp/ev-bad.json" \
	--test-roots "$pki/tdx/roots.pem" --reference "$man" --builder "$builder" --pins "$tmp/pins.json"
expect "cvm verify --reference MANIFEST without --builder" 2 "--builder" -- "$cvmt" verify "$tmp/ev.json" \
	--test-roots "$pki/tdx/roots.pem" --reference "$man"

# ---- a broker whose policy names an image it no longer has does not start ----
kill $pids 2>/dev/null
rm -f "$store"/images/*
port2=$(free_port)
sed "s/:$port\"/:$port2\"/" "$tmp/kbs.json" >"$tmp/kbs2.json"
"$cvm" kbs serve --config "$tmp/kbs2.json" >"$tmp/out" 2>"$tmp/err"
st=$?
[ $st -eq 2 ] && grep -q "not starting" "$tmp/err" && grep -q "default/key/vol.*add-image" "$tmp/err" &&
	ok "a policy naming an image the store lacks: the broker does not start, naming it" ||
	{ bad "the broker started without the image ($st)"; cat "$tmp/err"; }

summary "cli image"

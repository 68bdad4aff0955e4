#!/bin/sh
# Key release pins the whole launched image, proven with real measured boot
# under TCG: Debian's OVMF measures the kernel into PCR 4, the kernel's EFI
# stub measures the command line and the initrd into PCR 9, all into a swtpm
# vTPM; the agent (the production build, vm-images/default as it is) quotes
# them with its runtime log. The image builder makes the image and its
# signed manifest with cvm image build (firmware PCRs from a reference boot
# of the same firmware and machine); the broker's policy names the image and
# the AK. The broker releases to that image, and refuses each substitution
# a host could try, naming the PCR: another initrd, the same initrd with
# another command line (rdinit=, init=, a sysctl. word), another kernel,
# another firmware. Then the customer's cvm result open checks the result
# against the manifest.
# usage: tests/e2e/test_image.sh BUILD_DIR
set -u
build=${1:?usage: test_image.sh BUILD_DIR}
top=$(cd "$(dirname "$0")/../.." && pwd)
export PATH="$PATH:/usr/sbin:/sbin"
cvm=$top/$build/cvm
tool=$top/$build/e2e/result_tool
tmp=$top/$build/tmp/e2e-image
rm -rf "$tmp" && mkdir -p "$tmp"
. "$top/tests/cli/lib.sh"
py=/usr/bin/python3
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	for p in $pids; do wait "$p" 2>/dev/null; done
}
trap cleanup EXIT INT TERM

kernel=$(ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1)
kver=${kernel#/boot/vmlinuz-}
code=/usr/share/OVMF/OVMF_CODE_4M.fd
vars=/usr/share/OVMF/OVMF_VARS_4M.fd
other_code=/usr/share/OVMF/OVMF_CODE_4M.secboot.fd
mem=1024
# the default image's own kernel command line: PCR 9 measures it as booted
append=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["cmdline"])' "$top/vm-images/default/image.json")
for f in "$cvm" "$tool" "$top/$build/cvm-agent" "$top/$build/e2e/job_transform" \
	"$top/$build/e2e/eventlog_init" "$kernel" "$code" "$vars" "$other_code"; do
	[ -r "$f" ] || { bad "missing $f"; summary "e2e image"; exit 1; }
done

# ---- keys: the broker's TLS, the image builder's, the customer's ----
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/tls.key" \
	-out "$tmp/tls.pem" -days 2 -subj /CN=cvm-broker -addext subjectAltName=IP:127.0.0.1 2>/dev/null
builder=$("$cvm" keygen -o "$tmp/builder.key") || bad "builder key"
customer=$("$cvm" keygen -o "$tmp/customer.key") || bad "customer key"

# ---- the workload ----
mkdir -p "$tmp/wl/bin" "$tmp/wl/data"
cp "$top/$build/e2e/job_transform" "$tmp/wl/bin/transform"
printf 'Measured boot, pinned image.\n' >"$tmp/wl/data/a.txt"
cat >"$tmp/wl/cvm-job.json" <<EOJ
{"argv": ["bin/transform", "data/a.txt"], "cwd": ".", "user": {"uid": 1000, "gid": 1000},
 "deadline_seconds": 120, "limits": {"cpu_seconds": 60, "file_size_bytes": 16777216, "processes": 16},
 "output_dir": "/output"}
EOJ
"$cvm" pack "$tmp/wl" -o "$tmp/wl.img" --key-out "$tmp/wl.key" --source-date-epoch 1 >/dev/null || bad "pack"
luks=$($py -c "import json,sys; print(json.load(open(sys.argv[1]))['luks_header_sha256'])" "$tmp/wl.key")

# ---- the provider's vTPM: made once, its AK published ----
tpm=$tmp/tpm
mkdir -p "$tpm"
tport=$(swtpm_tcp "$tpm" "$tmp/swtpm-ak.pid") || bad "swtpm"
ak=$("$cvm" kbs-client --tee tpm --tcti "swtpm:host=127.0.0.1,port=$tport" --show-ak 2>"$tmp/ak.err" |
	grep -Eo '[0-9a-f]{64}' | head -n 1)
kill "$(cat "$tmp/swtpm-ak.pid")" 2>/dev/null
sleep 0.5
[ ${#ak} -eq 64 ] && ok "the vTPM's AK: $ak" || { bad "no AK"; cat "$tmp/ak.err"; }

# ---- one boot through OVMF with measured boot: NAME KERNEL INITRD APPEND FIRMWARE ----
port=9 # no broker yet: the reference boot uses no network
boot() {
	run=$tmp/run-$1
	mkdir -p "$run"
	cp "$vars" "$run/vars.fd"
	"$tool" init-disk "$run/out.img" --size 67108864 --order-id order-image-1 >/dev/null ||
		bad "$1: output disk"
	# the order disk: zeros for the reference boot (its firmware sees the same devices)
	[ -e "$tmp/order.img" ] || truncate -s 65536 "$tmp/order.img"
	swtpm socket --tpm2 --tpmstate dir="$tpm" --ctrl type=unixio,path="$run/swtpm.sock" \
		--pid file="$run/swtpm.pid" --flags startup-clear --daemon 2>"$run/swtpm.log" ||
		bad "$1: swtpm"
	pids="$pids $(cat "$run/swtpm.pid" 2>/dev/null)"
	start=$(date +%s)
	timeout 400 qemu-system-x86_64 -machine q35 -accel tcg -cpu max -m $mem -smp 1 -nographic \
		-no-reboot -nic none \
		-drive if=pflash,format=raw,unit=0,readonly=on,file="$5" \
		-drive if=pflash,format=raw,unit=1,file="$run/vars.fd" \
		-kernel "$2" -initrd "$3" -append "$4" \
		-drive file="$tmp/order.img",if=virtio,format=raw,readonly=on \
		-drive file="$run/out.img",if=virtio,format=raw \
		-drive file="$tmp/wl.img",if=virtio,format=raw,readonly=on \
		-device virtio-serial-pci \
		-chardev file,id=status,path="$run/status" \
		-device virtserialport,chardev=status,name=org.cvm.status \
		-netdev user,id=n0,restrict=on,guestfwd=tcp:10.0.2.100:$port-cmd:"socat - TCP:127.0.0.1:$port" \
		-device virtio-net-pci,netdev=n0,romfile= \
		-chardev socket,id=chrtpm,path="$run/swtpm.sock" \
		-tpmdev emulator,id=tpm0,chardev=chrtpm -device tpm-tis,tpmdev=tpm0 \
		>"$run/console" 2>&1
	st=$?
	echo "$1: QEMU exit $st after $(($(date +%s) - start)) s"
	[ $st -eq 0 ] || { bad "$1: QEMU exit $st"; tail -n 20 "$run/console"; }
}

# ---- a reference boot: the firmware's event log of this firmware and machine ----
mkdir -p "$tmp/ref"
cp "$top/$build/e2e/eventlog_init" "$tmp/ref/"
printf 'dir /dev 0755 0 0\nnod /dev/console 0600 0 0 c 5 1\ndir /proc 0555 0 0\ndir /sys 0555 0 0\nlib eventlog_init /init\n' \
	>"$tmp/ref/initrd.list"
"$cvm" initrd build "$tmp/ref/initrd.list" -o "$tmp/ref/initrd.img" --kver "$kver" >/dev/null || bad "reference initrd"
boot reference "$kernel" "$tmp/ref/initrd.img" "$append" "$code"
sed -n '/CVM-EVENTLOG-BEGIN/,/CVM-EVENTLOG-END/p' "$tmp/run-reference/console" | tr -d '\r' |
	grep -v CVM-EVENTLOG | $py -c 'import sys; sys.stdout.buffer.write(bytes.fromhex("".join(sys.stdin.read().split())))' \
	>"$tmp/firmware.log"
grep -a -q 'CVM-EVENTLOG-END ok' "$tmp/run-reference/console" && [ -s "$tmp/firmware.log" ] &&
	ok "reference boot: the firmware's TCG2 log ($(stat -c %s "$tmp/firmware.log") bytes)" ||
	bad "reference boot: no event log"

# ---- the image builder: the default image and its signed manifest ----
expect "cvm image build: the default image, its manifest predicted and signed" 0 "manifest_sha256" -- \
	"$cvm" image build "$top/vm-images/default" -o "$tmp/img" --key "$tmp/builder.key" \
	--file cvm-agent="$top/$build/cvm-agent" --kver "$kver" \
	--platforms tpm --firmware-log tpm="$tmp/firmware.log"
cat "$tmp/out"
expect "cvm image verify: the builder's signature" 0 "signed by the builder" -- \
	"$cvm" image verify "$tmp/img/manifest.json" --builder "$builder"
# anyone rebuilds it and gets the same manifest
"$cvm" image build "$top/vm-images/default" -o "$tmp/img-again" --key "$tmp/builder.key" \
	--file cvm-agent="$top/$build/cvm-agent" --kver "$kver" \
	--platforms tpm --firmware-log tpm="$tmp/firmware.log" >/dev/null 2>&1
cmp -s "$tmp/img/manifest.json" "$tmp/img-again/manifest.json" && cmp -s "$tmp/img/initrd.img" "$tmp/img-again/initrd.img" &&
	ok "a rebuild gives the same initrd and manifest, byte for byte" || bad "the rebuild differs"

# ---- the broker: the key, under a policy naming the image (builder and name) and the AK ----
store=$tmp/store
"$cvm" kbs add-image --store "$store" "$tmp/img/manifest.json" >/dev/null || bad "add-image"
"$cvm" kbs add-resource --store "$store" default/workload/key "$tmp/wl.key" >/dev/null || bad "add-resource"
cat >"$tmp/policy.json" <<EOP
{"image": {"builder": "$builder", "name": "default"}, "platforms": ["tpm"],
 "reference": {"tpm": {"ak_sha256": "$ak"}, "luks_header_sha256": "$luks"},
 "order": {"customer_pubkey": ["$customer"]}}
EOP
expect "set-policy: the image by builder and name, the AK, the volume" 0 "" -- \
	"$cvm" kbs set-policy --store "$store" default/workload/key "$tmp/policy.json"
port=$(free_port)
cat >"$tmp/kbs.json" <<EOC
{"listen": "127.0.0.1:$port", "tls_cert": "$tmp/tls.pem", "tls_key": "$tmp/tls.key",
 "store": "$store", "timeout": 10}
EOC
"$cvm" kbs serve --config "$tmp/kbs.json" 2>"$tmp/broker.log" &
pids="$pids $!"
wait_port "$port" && ok "the broker listens" || { bad "the broker did not start"; cat "$tmp/broker.log"; }

# ---- the customer's order: the volume and the broker (its CA pinned in the order); one image ----
$py - "$tmp" "$port" <<'EOP' >"$tmp/order.unsigned.json"
import hashlib, json, sys
tmp, port = sys.argv[1:]
img = open(tmp + "/wl.img", "rb").read()
print(json.dumps({"version": 2, "id": "order-image-1", "image": "default", "vcpus": 1, "memory_mib": 1024,
  "deadline_seconds": 600,
  "inputs": [{"name": "solution", "role": "solution",
              "volume": {"url": "https://files.example.com/wl.img", "sha256": hashlib.sha256(img).hexdigest(),
                         "size": len(img), "luks_header_sha256": json.load(open(tmp + "/wl.key"))["luks_header_sha256"]},
              "broker": {"url": "https://127.0.0.1:" + port, "resource": "default/workload/key",
                         "ca": open(tmp + "/tls.pem").read()}}],
  "result": {"upload_url": "https://files.example.com/r/order-image-1.cvmr"}}))
EOP
"$cvm" order sign "$tmp/order.unsigned.json" --key "$tmp/customer.key" -o "$tmp/order.json" >/dev/null || bad "order sign"
$py "$top/tests/e2e/order_disk.py" "$tmp/order.json" "$tmp/order.img" 65536 || bad "order disk"

key_phase() { grep '"phase":"key"' "$tmp/run-$1/status" 2>/dev/null | tail -n 1; }
decisions() { grep -c 'resource default/workload/key' "$tmp/broker.log"; }

# ---- the image as built: released ----
boot good "$tmp/img/vmlinuz" "$tmp/img/initrd.img" "$append" "$code"
key_phase good | grep -q '"ok":true' && ok "good: the broker released the key to the pinned image" ||
	{ bad "good: no key"; cat "$tmp/run-good/status"; tail -n 5 "$tmp/broker.log"; }
grep -q '"phase":"result".*"ok":true' "$tmp/run-good/status" && ok "good: the result was written" ||
	bad "good: no result"
grep -q 'released' "$tmp/broker.log" && ok "good: the broker logged the release" || bad "good: release not logged"

# ---- the customer: the result against the manifest ----
echo "{\"tpm\": {\"ak_sha256\": \"$ak\"}, \"luks_header_sha256\": \"$luks\"}" >"$tmp/pins.json"
expect "cvm result open --reference MANIFEST: verified against the pinned image" 0 "verified and opened" -- \
	"$cvm" result open "$tmp/run-good/out.img" --key "$tmp/customer.key" --order "$tmp/order.json" \
	--reference "$tmp/img/manifest.json" --builder "$builder" --pins "$tmp/pins.json" -o "$tmp/result"
expect "cvm result open: a manifest signed by another key is refused" 1 "E_MANIFEST_SIGNATURE" -- \
	"$cvm" result open "$tmp/run-good/out.img" --key "$tmp/customer.key" \
	--reference "$tmp/img/manifest.json" --builder "$customer" --pins "$tmp/pins.json" -o "$tmp/result2"
expect "cvm result open without a reference is refused" 2 "accept-unpinned-image" -- \
	"$cvm" result open "$tmp/run-good/out.img" --key "$tmp/customer.key" -o "$tmp/result3"

# ---- the host's substitutions: each one asks for the key, each one is refused ----
# refused NAME PCR: the agent failed at key release and the broker's denial names PCR
# (an extended regular expression: another initrd moves PCR 4 too, since QEMU
# places the initrd by its size and patches that into the kernel's header)
refused() {
	if key_phase "$1" | grep -q 'E_KEY_RELEASE' &&
		grep 'denied' "$tmp/broker.log" | tail -n 1 | grep -Eq "pcr: ($2) "; then
		ok "$1: refused, the broker names $2: $(grep denied "$tmp/broker.log" | tail -n 1 | sed 's/.*denied: //' | cut -c1-60)"
	else
		bad "$1: not refused on $2"
		key_phase "$1"
		tail -n 3 "$tmp/broker.log"
	fi
}
# another initrd: the same agent, one more file in the image
mkdir -p "$tmp/other"
cp "$top/vm-images/default/initrd.list" "$tmp/other/initrd.list"
printf 'file /etc/cvm/extra extra 0644 0 0\n' >>"$tmp/other/initrd.list"
echo "a file the image builder never approved" >"$tmp/other/extra"
"$cvm" image build "$top/vm-images/default" -o "$tmp/img-other" --key "$tmp/builder.key" \
	--file broker.pem="$tmp/tls.pem" --file cvm-agent="$top/$build/cvm-agent" --kver "$kver" \
	--file initrd.list="$tmp/other/initrd.list" --file extra="$tmp/other/extra" \
	--platforms tpm --firmware-log tpm="$tmp/firmware.log" >/dev/null || bad "other initrd"
boot initrd "$tmp/img/vmlinuz" "$tmp/img-other/initrd.img" "$append" "$code"
refused initrd "PCR4|PCR9"
boot rdinit "$tmp/img/vmlinuz" "$tmp/img/initrd.img" "$append rdinit=/init" "$code"
refused rdinit PCR9
boot init "$tmp/img/vmlinuz" "$tmp/img/initrd.img" "$append init=/init" "$code"
refused init PCR9
boot sysctl "$tmp/img/vmlinuz" "$tmp/img/initrd.img" "$append sysctl.kernel.printk_ratelimit=0" "$code"
refused sysctl PCR9
# another kernel: the same kernel with bytes appended (its Authenticode digest moves)
cp "$tmp/img/vmlinuz" "$tmp/vmlinuz-other"
head -c 4096 /dev/zero >>"$tmp/vmlinuz-other"
boot kernel "$tmp/vmlinuz-other" "$tmp/img/initrd.img" "$append" "$code"
refused kernel PCR4
boot firmware "$tmp/img/vmlinuz" "$tmp/img/initrd.img" "$append" "$other_code"
refused firmware PCR0
n=$(grep -c 'released' "$tmp/broker.log")
[ "$n" -eq 1 ] && ok "one release in all, to the pinned image" || bad "$n releases"

# ---- nothing secret on a host-visible surface ----
vk=$($py -c "import json,sys; print(json.load(open(sys.argv[1]))['volume_key'])" "$tmp/wl.key")
if grep -r -a -q -i -e "$vk" -e "Measured boot, pinned" "$tmp"/run-* "$tmp/broker.log"; then
	bad "a key or plaintext reached the console, status or disks"
else
	ok "no volume key or plaintext in consoles, status ports, output disks or the broker log"
fi

summary "e2e image"

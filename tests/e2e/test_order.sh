#!/bin/sh
# One order end to end in QEMU (TCG): Debian's kernel boots the initrd built
# by `cvm initrd` from vm-images/default/ with the test build of cvm-agent
# (sim evidence) as PID 1; a swtpm vTPM on tpm-tis; the workload volume from
# `cvm pack` and an empty output disk on virtio-blk; the status port on
# virtio-serial; user networking with restrict=on and one guestfwd to the
# key broker on host loopback (the cmd: form, one socat per connection: the
# chardev form connects once, when QEMU starts, and a broker's idle timeout
# can close it before the guest gets there). Then the negative runs: a policy expecting
# another measurement, a swapped workload volume, a job past its deadline.
# usage: tests/e2e/test_order.sh BUILD_DIR   (CVM_E2E_ONLY=good: the order alone, for `make bench`)
set -u
build=${1:?usage: test_order.sh BUILD_DIR}
top=$(cd "$(dirname "$0")/../.." && pwd)
export PATH="$PATH:/usr/sbin:/sbin"
cvm=$top/$build/cvm
cvmt=$top/$build/cvm-test
tool=$top/$build/e2e/result_tool
tmp=$top/$build/tmp/e2e
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
for f in "$cvm" "$cvmt" "$tool" "$top/$build/cvm-agent-test" "$top/$build/e2e/job_transform"; do
	[ -x "$f" ] || { bad "missing $f (make e2e builds it)"; summary "e2e"; exit 1; }
done
[ -r "$kernel" ] || { bad "no kernel in /boot (scripts/setup-deps installs linux-image-amd64)"; summary "e2e"; exit 1; }


# ---- the test PKI (sim evidence), the broker's TLS certificate, the customer's key ----
pki=$tmp/pki
"$top/scripts/gen-test-pki" "$pki" >/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/tls.key" \
	-out "$tmp/tls.pem" -days 2 -subj /CN=cvm-broker -addext subjectAltName=IP:10.0.2.100 2>/dev/null
recipient=$("$tool" keygen "$tmp/customer.pem") || bad "customer key"
mrtd=$($py -c 'print(bytes(range(48)).hex())')
sim_td
sim_launch=1

# ---- workloads: the job, and a second valid volume to swap in ----
mkworkload() { # DIR ARGV_JSON DEADLINE
	mkdir -p "$1/bin" "$1/data"
	cp "$top/$build/e2e/job_transform" "$1/bin/transform"
	printf 'The quick brown fox\njumps over the lazy dog.\n' >"$1/data/a.txt"
	$py -c "import sys; sys.stdout.buffer.write(bytes((i * 7 + 1) & 255 for i in range(300000)))" >"$1/data/b.bin"
	cat >"$1/cvm-job.json" <<EOJ
{"argv": $2, "cwd": ".", "user": {"uid": 1000, "gid": 1000}, "deadline_seconds": $3,
 "limits": {"cpu_seconds": 60, "memory_bytes": 268435456, "file_size_bytes": 16777216, "processes": 16},
 "output_dir": "/output", "result_recipient": "$recipient"}
EOJ
}
mkworkload "$tmp/wl" '["bin/transform", "data/a.txt", "data/b.bin"]' 120
mkworkload "$tmp/wl2" '["bin/transform", "data/a.txt"]' 120
mkworkload "$tmp/wl3" '["bin/transform", "--hang", "data/a.txt"]' 3
for w in wl wl2 wl3; do
	"$cvm" pack "$tmp/$w" -o "$tmp/$w.img" --key-out "$tmp/$w.key" --source-date-epoch 1 >/dev/null ||
		bad "pack $w"
done
luks() { $py -c "import json,sys; print(json.load(open(sys.argv[1]))['luks_header_sha256'])" "$1"; }

# ---- the broker: one resource per workload, policy = sim MRTD + LUKS header ----
store=$tmp/store
policy() { # RESOURCE KEYFILE MRTD
	echo "{\"reference\":{\"tdx\":{$(echo "$tdx_ref" | sed "s/$mrtd/$3/")},\"luks_header_sha256\":\"$(luks "$2")\"}}" >"$tmp/policy.json"
	"$cvm" kbs add-resource --store "$store" "$1" "$2" >/dev/null &&
		"$cvm" kbs set-policy --store "$store" "$1" "$tmp/policy.json" >/dev/null || bad "store $1"
}
policy default/workload/key "$tmp/wl.key" "$mrtd"
policy default/workload/other "$tmp/wl.key" "$(printf 'ee%.0s' $(seq 48))"
policy default/workload/slow "$tmp/wl3.key" "$mrtd"
port=$(free_port)
cat >"$tmp/kbs.json" <<EOC
{"listen": "127.0.0.1:$port", "tls_cert": "$tmp/tls.pem", "tls_key": "$tmp/tls.key",
 "store": "$store", "timeout": 10, "test_roots": {"snp": "$pki/snp/roots.pem", "tdx": "$pki/tdx/roots.pem"},
 "tdx_without_collateral": true}
EOC
"$cvm" kbs serve --config "$tmp/kbs.json" 2>"$tmp/broker.log" &
bpid=$!
pids="$pids $bpid"
wait_port "$port" && ok "the broker listens on 127.0.0.1:$port" || { bad "the broker did not start"; cat "$tmp/broker.log"; }

# ---- the image: vm-images/default with the test agent, its config and the sim PKI ----
mkimage() { # NAME RESOURCE
	sim_initrd "$tmp/image-$1" "$tmp/initrd-$1.img" "$top/$build/cvm-agent-test" "$2" 2 20000 ||
		bad "initrd $1"
}
mkimage good default/workload/key
if [ "${CVM_E2E_ONLY:-}" != good ]; then
	mkimage deny default/workload/other
	mkimage slow default/workload/slow
fi

# ---- one boot: IMAGE WORKLOAD ORDER_ID NAME ----
boot() {
	run=$tmp/run-$4
	mkdir -p "$run"
	"$tool" init-disk "$run/out.img" --size 67108864 --order-id "$3" >/dev/null || bad "$4: output disk"
	swtpm socket --tpm2 --tpmstate dir="$run" --ctrl type=unixio,path="$run/swtpm.sock" \
		--pid file="$run/swtpm.pid" --flags startup-clear --daemon 2>"$run/swtpm.log" ||
		bad "$4: swtpm"
	pids="$pids $(cat "$run/swtpm.pid" 2>/dev/null)"
	start=$(date +%s)
	timeout 300 qemu-system-x86_64 -accel tcg -cpu max -m 1024 -smp 1 -nographic -no-reboot \
		-kernel "$kernel" -initrd "$tmp/initrd-$1.img" -append "console=ttyS0 panic=-1 quiet" \
		-fw_cfg name=opt/org.cvm/sim-launch,file="$tmp/launch.json" \
		-drive file="$tmp/$2.img",if=virtio,format=raw,readonly=on \
		-drive file="$run/out.img",if=virtio,format=raw \
		-device virtio-serial-pci \
		-chardev file,id=status,path="$run/status" \
		-device virtserialport,chardev=status,name=org.cvm.status \
		-netdev user,id=n0,restrict=on,guestfwd=tcp:10.0.2.100:8443-cmd:"socat - TCP:127.0.0.1:$port" \
		-device virtio-net-pci,netdev=n0 \
		-chardev socket,id=chrtpm,path="$run/swtpm.sock" \
		-tpmdev emulator,id=tpm0,chardev=chrtpm -device tpm-tis,tpmdev=tpm0 \
		>"$run/console" 2>&1
	st=$?
	echo "$4: QEMU exit $st after $(($(date +%s) - start)) s"
	[ $st -eq 0 ] && grep -q '"phase":"poweroff"' "$run/status" &&
		ok "$4: the guest reported and powered off" ||
		{ bad "$4: the guest did not power off cleanly ($st)"; tail -n 30 "$run/console"; }
}
phase() { # RUN PHASE: the status line of that phase (the last one)
	grep "\"phase\":\"$2\"" "$tmp/run-$1/status" | tail -n 1
}

# ---- the order ----
boot good wl order-e2e-1 good
run=$tmp/run-good
cat "$run/status"
phase good key | grep -q '"ok":true' && ok "good: the broker released the key" || bad "good: no key"
phase good job | grep -q '"exit_code":0' && ok "good: the job ran and exited 0" || bad "good: job"
phase good result | grep -q '"ok":true' && ok "good: the result was written" || bad "good: result"
phase good boot | grep -q '"modules_failed":0' && ok "good: every module loaded" || bad "good: modules"
expect "good: the customer opens the bundle" 0 "" -- "$tool" open "$run/out.img" --key "$tmp/customer.pem" -o "$run/opened"
for f in a.txt b.bin; do
	want=$(sha256sum <"$tmp/wl/data/$f" | cut -c1-64)
	[ "$(cat "$run/opened/output/$f.sha256" 2>/dev/null)" = "$want" ] && ok "good: $f digest computed in the guest" ||
		bad "good: $f digest"
	tr a-z A-Z <"$tmp/wl/data/$f" | cmp -s - "$run/opened/output/$f.upper" && ok "good: $f transformed copy" ||
		bad "good: $f transformed copy"
done
grep -q 'data/b.bin: 300000 bytes' "$run/opened/log/stdout" 2>/dev/null && ok "good: stdout captured" || bad "good: stdout"
grep -q '"order_id":"order-e2e-1"' "$tmp/out" && ok "good: the header names the order" || bad "good: header order id"
# the trailer's fresh evidence: genuine (test PKI), the image's MRTD, and binding this bundle
rd=$(sed -n 's/^report_data //p' "$tmp/out")
echo "{\"tdx\": {$tdx_ref}}" >"$tmp/ref.json"
expect "good: the result's evidence verifies and binds the bundle" 0 "" -- "$cvm" verify "$run/opened.evidence" \
	--test-roots "$pki/tdx/roots.pem" --reference "$tmp/ref.json" --report-data "$rd"
expect "good: evidence bound to another bundle is refused" 1 "report_data" -- "$cvm" verify "$run/opened.evidence" \
	--test-roots "$pki/tdx/roots.pem" --reference "$tmp/ref.json" --report-data "$(printf '00%.0s' $(seq 64))"
# the customer's whole check: evidence, binding, runtime log replay, measured events, reference
echo "{\"tdx\": {$tdx_ref}, \"luks_header_sha256\": \"$(luks "$tmp/wl.key")\"}" >"$tmp/ref-full.json"
expect "good: cvm result open verifies everything and extracts" 0 "verified and opened" -- "$cvm" result open "$run/out.img" \
	--key "$tmp/customer.pem" --test-roots "$pki/tdx/roots.pem" --reference "$tmp/ref-full.json" -o "$run/result"
cmp -s "$run/result/output/b.bin.upper" "$run/opened/output/b.bin.upper" && ok "good: cvm result gives the same files" ||
	bad "good: cvm result files differ"
echo "{\"tdx\": {$tdx_ref}, \"luks_header_sha256\": \"$(luks "$tmp/wl2.key")\"}" >"$tmp/ref-other.json"
expect "good: a reference naming another workload is refused" 1 "E_RESULT_REFERENCE" -- "$cvm" result open "$run/out.img" \
	--key "$tmp/customer.pem" --test-roots "$pki/tdx/roots.pem" --reference "$tmp/ref-other.json" -o "$run/result2"
# nothing secret reaches the host: no volume key on the console, status or output disk
vk=$($py -c "import json,sys; print(json.load(open(sys.argv[1]))['volume_key'])" "$tmp/wl.key")
if grep -q -i "$vk" "$run/console" "$run/status" || grep -q 'quick brown fox' "$run/console" "$run/status" "$run/out.img"; then
	bad "good: a key or plaintext reached the host"
else
	ok "good: no volume key or plaintext on the console, status port or output disk"
fi

if [ "${CVM_E2E_ONLY:-}" = good ]; then
	summary "e2e"
	exit $?
fi

# ---- the broker's policy expects another measurement ----
boot deny wl order-e2e-2 deny
phase deny key | grep -q '"code":"E_KEY_RELEASE"' && ok "deny: the status names E_KEY_RELEASE" || { bad "deny: status"; cat "$tmp/run-deny/status"; }
phase deny key | grep -q 'PolicyDeny' && ok "deny: the broker's reason is reported" || bad "deny: reason"
expect "deny: the output disk holds no result" 1 "E_NO_RESULT" -- "$tool" open "$tmp/run-deny/out.img" --key "$tmp/customer.pem" -o "$tmp/run-deny/opened"

# ---- another valid volume in place of the workload ----
boot good wl2 order-e2e-3 swap
phase swap key | grep -q 'LUKS header' && ok "swap: refused at the LUKS header digest" || { bad "swap: status"; cat "$tmp/run-swap/status"; }
expect "swap: the output disk holds no result" 1 "E_NO_RESULT" -- "$tool" open "$tmp/run-swap/out.img" --key "$tmp/customer.pem" -o "$tmp/run-swap/opened"

# ---- the job runs past its deadline ----
boot slow wl3 order-e2e-4 slow
phase slow job | grep -q '"code":"E_JOB_DEADLINE"' && ok "slow: the deadline killed the job and was reported" || { bad "slow: status"; cat "$tmp/run-slow/status"; }
expect "slow: the partial result opens" 0 "" -- "$tool" open "$tmp/run-slow/out.img" --key "$tmp/customer.pem" -o "$tmp/run-slow/opened"
grep -q '"partial":true' "$tmp/out" && ok "slow: the bundle is marked partial" || bad "slow: partial mark"
expect "slow: cvm result open flags the partial result" 0 "PARTIAL result" -- "$cvm" result open "$tmp/run-slow/out.img" \
	--key "$tmp/customer.pem" --test-roots "$pki/tdx/roots.pem" --reference "$tmp/ref.json" -o "$tmp/run-slow/result"
[ -s "$tmp/run-slow/opened/output/a.txt.sha256" ] && ok "slow: output written before the deadline is kept" || bad "slow: partial output"

summary "e2e"

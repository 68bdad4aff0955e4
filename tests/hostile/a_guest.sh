# One sim-TEE guest booted with a hostile kernel command line: proxies
# (https_proxy, HTTPS_PROXY and ALL_PROXY to a recorder on the host),
# SSLKEYLOGFILE on the serial console, CURL_CA_BUNDLE, OPENSSL_CONF,
# LD_PRELOAD, and sysctl words asking for core dumps through a pipe. The
# job (tests/e2e/job_probe.c) reports what it can see and do into its
# sealed output. Each fixed hole is one line: nobody connected to the
# proxy, no TLS secret on the console, the key released anyway, core
# dumps off (core_pattern, suid_dumpable, PID 1's RLIMIT_CORE), and the
# job confined (fixed environment, only lo, the broker unreachable, the
# root read-only, its own /tmp, no disks in /dev, a memory limit).
# shellcheck shell=sh

py=/usr/bin/python3
tool="$top/$build/e2e/result_tool"
# the kernel QEMU boots, and the modules of its version in the initrd
kernel=$(ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1)
kver=${kernel#/boot/vmlinuz-}
mrtd=$($py -c 'print(bytes(range(48)).hex())')
sim_td
sim_launch=1
g_pids=""
g_stop() {
	for p in $g_pids; do kill "$p" 2>/dev/null; done
	for p in $g_pids; do wait "$p" 2>/dev/null; done
	g_pids=""
}

# the broker, its certificate (pinned by the order), the customer's key
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/tls.key" \
	-out "$tmp/tls.pem" -days 2 -subj /CN=cvm-broker -addext subjectAltName=IP:127.0.0.1 2>/dev/null
recipient=$("$tool" keygen "$tmp/customer.pem")
# two solutions: the probe run from the guest's root, and the same probe (linked statically)
# as a container's whole root filesystem ("rootfs": cvm pack --oci's kind of job)
mkdir -p "$tmp/wl-plain/bin" "$tmp/wl-rootfs/bin"
cp "$top/$build/e2e/job_probe" "$tmp/wl-plain/bin/probe"
cat >"$tmp/wl-plain/cvm-job.json" <<EOJ
{"argv": ["bin/probe"], "user": {"uid": 1000, "gid": 1000}, "deadline_seconds": 120,
 "output_dir": "/output"}
EOJ
cc -static -O1 -D_GNU_SOURCE -o "$tmp/wl-rootfs/bin/probe" "$top/tests/e2e/job_probe.c"
(cd "$tmp/wl-rootfs" && mkdir proc dev tmp inputs output)
cat >"$tmp/wl-rootfs/cvm-job.json" <<EOJ
{"rootfs": true, "argv": ["/bin/probe"], "user": {"uid": 1000, "gid": 1000}, "deadline_seconds": 120}
EOJ
store=$tmp/store
for g in plain rootfs; do
	"$cvm" pack "$tmp/wl-$g" -o "$tmp/wl-$g.img" --key-out "$tmp/wl-$g.key" --source-date-epoch 1 >/dev/null
	secret "$($py -c "import json,sys; print(json.load(open(sys.argv[1]))['volume_key'])" "$tmp/wl-$g.key")"
	luks=$($py -c "import json,sys; print(json.load(open(sys.argv[1]))['luks_header_sha256'])" "$tmp/wl-$g.key")
	echo "{\"reference\":{\"tdx\":{$tdx_ref},\"luks_header_sha256\":\"$luks\"}}" >"$tmp/policy-$g.json"
	"$cvm" kbs add-resource --store "$store" default/workload/$g "$tmp/wl-$g.key" >/dev/null
	"$cvm" kbs set-policy --store "$store" default/workload/$g "$tmp/policy-$g.json" >/dev/null
done
port=$(free_port)
cat >"$tmp/kbs.json" <<EOC
{"listen": "127.0.0.1:$port", "tls_cert": "$tmp/tls.pem", "tls_key": "$tmp/tls.key",
 "store": "$store", "timeout": 10, "test_roots": {"snp": "$pki/snp/roots.pem", "tdx": "$pki/tdx/roots.pem"},
 "tdx_without_collateral": true}
EOC
"$cvm" kbs serve --config "$tmp/kbs.json" 2>"$tmp/broker.log" &
g_pids="$g_pids $!"
wait_port "$port"

# the proxy the command line names: it records every connection and answers nothing
pport=$(free_port)
$py - "$pport" "$tmp/proxy.log" <<'PY' &
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(16)
while True:
    c, _ = s.accept()
    c.settimeout(2)
    try:
        data = c.recv(200)
    except OSError:
        data = b""
    with open(sys.argv[2], "ab") as f:
        f.write(b"connection: " + data.split(b"\r\n")[0] + b"\n")
    c.close()
PY
g_pids="$g_pids $!"
wait_port "$pport"
: >"$tmp/proxy.log"

sim_initrd "$tmp/image" "$tmp/initrd.img" "$top/$build/cvm-agent-test" 2 20000 >/dev/null
# restrict=on lets the guest reach only guestfwd addresses, and QEMU keeps 10.0.2.2 (its own
# alias of the host) out of guestfwd: the proxy listens at 10.0.2.101, forwarded to the recorder
proxy="http://10.0.2.101:$pport"
hostile="https_proxy=$proxy HTTPS_PROXY=$proxy ALL_PROXY=$proxy http_proxy=$proxy"
hostile="$hostile SSLKEYLOGFILE=/dev/ttyS0 CURL_CA_BUNDLE=/proc/cmdline OPENSSL_CONF=/proc/cmdline"
hostile="$hostile LD_PRELOAD=/cvm-hostile.so sysctl.kernel.core_pattern=|/init sysctl.fs.suid_dumpable=2"
# g_boot SOLUTION: one guest running that solution's order; its files $tmp/*-SOLUTION, QEMU's exit in g_qemu
g_boot() {
	"$tool" init-disk "$tmp/out-$1.img" --size 67108864 --order-id "order-hostile-$1" >/dev/null
	# the customer's order: the volume, the broker and its CA; its digest is the sim's MRCONFIGID
	$py - "$tmp" "$port" "$1" <<'EOP' >"$tmp/order-$1.unsigned.json"
import hashlib, json, sys
tmp, port, g = sys.argv[1:]
img = open(tmp + "/wl-" + g + ".img", "rb").read()
print(json.dumps({"version": 2, "id": "order-hostile-" + g, "image": "default", "vcpus": 1,
  "memory_mib": 1024, "deadline_seconds": 600,
  "inputs": [{"name": "solution", "role": "solution",
              "volume": {"url": "https://files.example.com/wl.img", "sha256": hashlib.sha256(img).hexdigest(),
                         "size": len(img),
                         "luks_header_sha256": json.load(open(tmp + "/wl-" + g + ".key"))["luks_header_sha256"]},
              "broker": {"url": "https://127.0.0.1:" + port, "resource": "default/workload/" + g,
                         "ca": open(tmp + "/tls.pem").read()}}],
  "result": {"upload_url": "https://files.example.com/r/order-hostile-" + g + ".cvmr"}}))
EOP
	"$cvm" order sign "$tmp/order-$1.unsigned.json" --key "$tmp/customer.pem" -o "$tmp/order-$1.json" >/dev/null
	$py "$top/tests/e2e/order_disk.py" "$tmp/order-$1.json" "$tmp/order-$1.img"
	g_sha384=$("$cvm" order check "$tmp/order-$1.json" | sed -n 's/^sha384 //p')
	$py -c 'import json,sys; l = json.load(open(sys.argv[1])); l["mrconfigid"] = sys.argv[2]
json.dump(l, open(sys.argv[3], "w"))' "$tmp/launch.json" "$g_sha384" "$tmp/launch-$1.json"
	mkdir -p "$tmp/tpm-$1"
	swtpm socket --tpm2 --tpmstate dir="$tmp/tpm-$1" --ctrl type=unixio,path="$tmp/swtpm-$1.sock" \
		--pid file="$tmp/swtpm-$1.pid" --flags startup-clear --daemon 2>"$tmp/swtpm-$1.log"
	g_pids="$g_pids $(cat "$tmp/swtpm-$1.pid" 2>/dev/null)"
	timeout 300 qemu-system-x86_64 -accel tcg -cpu max -m 1024 -smp 1 -nographic -no-reboot \
		-kernel "$kernel" -initrd "$tmp/initrd.img" -append "console=ttyS0 panic=-1 quiet $hostile" \
		-fw_cfg name=opt/org.cvm/sim-launch,file="$tmp/launch-$1.json" \
		-drive file="$tmp/order-$1.img",if=virtio,format=raw,readonly=on \
		-drive file="$tmp/out-$1.img",if=virtio,format=raw \
		-drive file="$tmp/wl-$1.img",if=virtio,format=raw,readonly=on \
		-device virtio-serial-pci \
		-chardev file,id=status,path="$tmp/status-$1" \
		-device virtserialport,chardev=status,name=org.cvm.status \
		-netdev user,id=n0,restrict=on,guestfwd=tcp:10.0.2.100:$port-cmd:"socat - TCP:127.0.0.1:$port",guestfwd=tcp:10.0.2.101:$pport-cmd:"socat - TCP:127.0.0.1:$pport" \
		-device virtio-net-pci,netdev=n0 \
		-chardev socket,id=chrtpm,path="$tmp/swtpm-$1.sock" \
		-tpmdev emulator,id=tpm0,chardev=chrtpm -device tpm-tis,tpmdev=tpm0 \
		>"$tmp/console-$1" 2>&1
	g_qemu=$?
}
g_boot rootfs
g_qemu_rootfs=$g_qemu
g_boot plain
g_stop

g=plain # the guest the records below are of
phase() { grep "\"phase\":\"$1\"" "$tmp/status-$g" 2>/dev/null | tail -n 1; }
ok_of() { phase "$1" | grep -q '"ok":true' && echo ok || echo "$(phase "$1" | grep -Eo '"code":"[A-Z_]+"' || echo missing)"; }
record guest-powered-off "0 ok" "$g_qemu $(ok_of poweroff)"
if [ "$g_qemu $(ok_of poweroff)" != "0 ok" ]; then
	tail -n 15 "$tmp/console-$g" | sed 's/^/    | /'
	tail -n 5 "$tmp/status-$g" 2>/dev/null | sed 's/^/    | /'
fi
record guest-key-released-despite-proxies ok "$(ok_of key)"
# LD_PRELOAD and the rest were in PID 1's environment: it ran itself again without them
record guest-pid1-environment-dropped dropped \
	"$(phase boot | grep -Eo '"environment":"[a-z]+"' | cut -d'"' -f4)"
# counted only when the agent did speak TLS to the broker: a guest that never got there proves nothing
g_tls() { [ "$(ok_of key)" = ok ] && echo "$1" || echo "no key release"; }
g_conn=$(grep -c connection "$tmp/proxy.log")
if [ "$g_conn" -gt 0 ]; then g_conn_seen="$g_conn connections"; else g_conn_seen=$(g_tls "0 connections"); fi
record guest-https-proxy-not-used "0 connections" "$g_conn_seen"
record guest-sslkeylogfile-no-tls-secrets "0 lines" \
	"$(g_tls "$(grep -Ec 'CLIENT_RANDOM|TRAFFIC_SECRET|EXPORTER_SECRET' "$tmp/console-$g") lines")"
record guest-result-written ok "$(ok_of result)"
rm -rf "$tmp/opened"
"$tool" open "$tmp/out-$g.img" --key "$tmp/customer.pem" -o "$tmp/opened" >/dev/null 2>&1
r=$tmp/opened/output/report.txt
val() { sed -n "s/^$1 //p" "$r" 2>/dev/null | head -n 1; }
record guest-job-env-fixed "CVM_WORKLOAD CVM_OUTPUT HOME PATH" "$(val env)"
record guest-core-pattern-no-pipe /dev/null "$(val core-pattern)"
record guest-suid-dumpable-off 0 "$(val suid-dumpable)"
record guest-pid1-rlimit-core-zero 0/0 "$(val pid1-core)"
record guest-pid1-environ-unreadable EACCES "$(val pid1-environ)"
record guest-job-network-only-lo lo "$(val ifaces)"
record guest-job-cannot-reach-broker ENETUNREACH "$(val connect-broker)"
record guest-job-root-readonly "EROFS EROFS EROFS EROFS" \
	"$(val 'write \/') $(val 'write \/etc') $(val 'write \/run') $(val 'write \/dev')"
record guest-job-tmp-own-tmpfs "ok 67108864" "$(val 'write \/tmp') $(val tmp-bytes)"
record guest-job-output-writable ok "$(sed -n 's/^write \/output //p' "$r" 2>/dev/null)"
record guest-job-dev-minimal "fd full null random stderr stdin stdout tty urandom zero / ENOENT" \
	"$(val dev) / $(val open-vda)"
g_mem=$(val memory-max)
# the default is half the guest's memory (1 GiB here), for the whole job: its own cgroup
case "$g_mem" in
'' | max | *[!0-9]*) g_mem_seen="${g_mem:-missing}" ;;
*) [ "$g_mem" -le 536870912 ] && [ "$g_mem" -gt 268435456 ] && g_mem_seen="half the guest" || g_mem_seen="$g_mem" ;;
esac
record guest-job-default-memory-limit "half the guest" "$g_mem_seen"
record guest-job-own-cgroup /cvm-job "$(val cgroup)"
record guest-job-cannot-raise-memory-max EACCES "$(val write-memory-max)"
no_secret guest-no-key-on-console-status-disk "$tmp/console-plain" "$tmp/status-plain" "$tmp/out-plain.img" \
	"$tmp/console-rootfs" "$tmp/status-rootfs" "$tmp/out-rootfs.img" "$tmp/broker.log"

# the container's job: in its own root (from the initramfs: moved over / and chroot'ed),
# it sees its root and the agent's mounts only, nothing of the guest's root, PID 1 or disks
g=rootfs
record guest-rootfs-powered-off "0 ok" "$g_qemu_rootfs $(ok_of poweroff)"
record guest-rootfs-job-ran ok "$(ok_of job)"
rm -rf "$tmp/opened"
"$tool" open "$tmp/out-$g.img" --key "$tmp/customer.pem" -o "$tmp/opened" >/dev/null 2>&1
record guest-rootfs-sees-only-its-root "bin cvm-job.json dev inputs lost+found output proc tmp" "$(val root)"
record guest-rootfs-no-agent-config ENOENT "$(val open-agent-config)"
record guest-rootfs-pid1-invisible ENOENT "$(val pid1-environ)"
record guest-rootfs-no-disks "fd full null random stderr stdin stdout tty urandom zero / ENOENT" \
	"$(val dev) / $(val open-vda)"
record guest-rootfs-cannot-chroot-out EPERM "$(val chroot)"
record guest-rootfs-root-readonly "EROFS EROFS" "$(val 'write \/') $(val 'write \/dev')"
record guest-rootfs-output-writable ok "$(sed -n 's/^write \/output //p' "$r" 2>/dev/null)"
record guest-rootfs-network-only-lo lo "$(val ifaces)"

# Shared by the QEMU tests of one order's kind (test_order.sh, test_tunnel.sh),
# sourced with top and build set.

js() { $py -c "import json,sys; s=json.load(open(sys.argv[1])); print($2)" "$1" 2>/dev/null; }

# e2e_begin DIR LABEL PROGRAM...: (PROGRAM under the build directory) bin, cvm, a fresh tmp (build/tmp/DIR, with
# www/ and up/), tests/cli/lib.sh, py, the pids killed at exit, and the
# newest kernel in /boot ($kernel, $kver); the test ends (summary LABEL)
# when a PROGRAM the build makes, or the kernel, is missing.
e2e_begin() {
	export PATH="$PATH:/usr/sbin:/sbin"
	bin=$top/$build
	cvm=$bin/cvm
	tmp=$bin/tmp/$1
	rm -rf "$tmp" && mkdir -p "$tmp/www" "$tmp/up"
	. "$top/tests/cli/lib.sh"
	py=/usr/bin/python3
	pids=""
	trap e2e_cleanup EXIT INT TERM
	kernel=$(ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1)
	kver=${kernel#/boot/vmlinuz-}
	e_label=$2
	shift 2
	for f in cvm cvm-agent-test "$@"; do
		[ -x "$bin/$f" ] || { bad "missing $bin/$f (make e2e builds it)"; summary "$e_label"; exit 1; }
	done
	[ -r "$kernel" ] ||
		{ bad "no kernel in /boot (scripts/setup-deps installs linux-image-amd64)"; summary "$e_label"; exit 1; }
}

e2e_cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	for p in $pids; do wait "$p" 2>/dev/null; done
	return 0
}

# e2e_image: the generic test image in $tmp/images/default (the test agent:
# sim TDX evidence, the test PKI in $tmp/pki), its manifest signed by
# $tmp/builder.key, whose public key goes in $builder; the launch's RTMR0 in
# $rtmr0 and $tmp/pins.json, the sim's launch file beside the manifest. The
# build's output in $tmp/image.out; its exit status is the function's.
e2e_image() {
	pki=$tmp/pki
	"$top/scripts/gen-test-pki" "$pki" >/dev/null
	builder=$("$cvm" keygen -o "$tmp/builder.key") || return 1
	src=$tmp/src
	mkdir -p "$src/sim-pki/tdx" "$tmp/images"
	cp "$pki/tdx/ak.key" "$pki/tdx/pck.key" "$pki/tdx/pck-chain.pem" "$src/sim-pki/tdx/"
	cp "$top/vm-images/default/initrd.list" "$src/initrd.list"
	printf '\n# test build only: the sim backend and its test PKI\nmodule qemu_fw_cfg\ntree sim-pki /etc/cvm/sim-pki\n' >>"$src/initrd.list"
	cat >"$src/agent.json" <<EOA
{"tee": "sim",
 "broker": {"retries": 1, "backoff_ms": 200, "timeout_ms": 20000},
 "network": {"interface": "eth0", "address": "10.0.2.15/24", "gateway": "10.0.2.2"},
 "sim": {"pki": "/etc/cvm/sim-pki", "platform": "tdx",
         "launch": "/sys/firmware/qemu_fw_cfg/by_name/opt/org.cvm/sim-launch/raw"}}
EOA
	$py -c 'import json,sys
i = json.load(open(sys.argv[1])); i["platforms"]["plain"]["sim_launch"] = "sim-launch.json"
json.dump(i, open(sys.argv[2], "w"))' "$top/vm-images/default/image.json" "$src/image.json"
	"$cvm" image build "$top/vm-images/default" -o "$tmp/images/default" --key "$tmp/builder.key" \
		--platforms tdx --file cvm-agent="$bin/cvm-agent-test" --file agent.json="$src/agent.json" \
		--file initrd.list="$src/initrd.list" --file image.json="$src/image.json" --file sim-pki="$src/sim-pki" \
		--kver "$kver" >"$tmp/image.out" 2>&1 || return 1
	# RTMR0 (the firmware's configuration) is published by the provider; the "hardware" of the sim
	rtmr0=$(printf '5a%.0s' $(seq 48))
	$py -c 'import json,sys
m = json.load(open(sys.argv[1]))
l = [x for x in m["platforms"]["tdx"]["launches"] if x["memory_mib"] == 1024][0]
json.dump({"mrtd": l["mrtd"], "rtmr0": sys.argv[2], "rtmr1": l["rtmr1"], "rtmr2": l["rtmr2"]},
          open(sys.argv[3], "w"))' "$tmp/images/default/manifest.json" "$rtmr0" "$tmp/images/default/sim-launch.json"
	echo "{\"tdx\": {\"rtmr0\": \"$rtmr0\"}}" >"$tmp/pins.json"
}

# e2e_files: the provider's file server on a free port ($wport): GET of
# $tmp/www/NAME, PUT into $tmp/up/NAME; its pid joins $pids.
e2e_files() {
	wport=$(free_port)
	cat >"$tmp/files.py" <<'EOP'
import http.server, os, sys
root = sys.argv[1]
class H(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_PUT(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with open(os.path.join(root, "up", os.path.basename(self.path)), "wb") as f:
            f.write(body)
        self.send_response(201); self.send_header("Content-Length", "0"); self.end_headers()
    def translate_path(self, path):
        return os.path.join(root, "www", os.path.basename(path))
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[2])), H).serve_forever()
EOP
	$py "$tmp/files.py" "$tmp" "$wport" 2>"$tmp/files.log" &
	pids="$pids $!"
	wait_port "$wport"
}

#!/bin/sh
# cvm run: the provider's part of an order, for real under QEMU TCG. The
# image is vm-images/default with the test build of the agent (sim
# evidence, the test PKI) and Debian's kernel; the workload (cvm pack) is
# served over HTTP by python3 -m http.server, the broker is cvm kbs serve
# with the policy the image and the volume need, and a small HTTP server of
# this test takes the uploads (failing when told to) and serves range
# requests. Then: cvm run returns 0, the uploaded bundle opens with cvm
# result open, nothing secret is in the work directory, the logs or the
# summary, and the agent's output disk cut at every 4 KiB boundary is
# refused. The faults: a bad signature and a wrong SHA-256 refused before
# launch, the broker down, slow (once: retried; always: the agent's budget
# ends) or answering garbage (E_KEY_RELEASE), the output disk full
# (E_OUTPUT_FULL), the upload failing (kept, exit 3; the same command again
# uploads it), QEMU killed, cvm run itself stopped, the deadline.
set -u
cvm=${CVM_BIN:?}
bin=$(dirname "$cvm")
pki=${CVM_TEST_PKI:?}
tmp=${CVM_TEST_TMP:?}/cli-run
top=$(cd "$(dirname "$0")/../.." && pwd)
rm -rf "$tmp" && mkdir -p "$tmp/www" "$tmp/up"
. "$top/tests/cli/lib.sh"
py=/usr/bin/python3
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	for p in $pids; do wait "$p" 2>/dev/null; done
	return 0
}
trap cleanup EXIT INT TERM

kernel=$(ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1)
kver=${kernel#/boot/vmlinuz-}
for f in "$bin/cvm-agent-test" "$bin/e2e/job_transform"; do
	[ -x "$f" ] || { bad "missing $f (make check builds it)"; summary "cli run"; exit 1; }
done
[ -r "$kernel" ] || { bad "no kernel in /boot (scripts/setup-deps installs linux-image-amd64)"; summary "cli run"; exit 1; }

# jq-like: the value of a Python expression over the summary (s) in FILE
js() { $py -c "import json,sys; s=json.load(open(sys.argv[1])); print($2)" "$1" 2>/dev/null; }

# ---- the customer's key, a workload, its volume ----
"$cvm" keygen -o "$tmp/customer.key" >"$tmp/customer.pub" || bad "keygen"
recipient=$(cat "$tmp/customer.pub")
mrtd=$($py -c 'print(bytes(range(48)).hex())')
sim_td
sim_launch=1
wl=$tmp/wl
mkdir -p "$wl/bin" "$wl/data"
cp "$bin/e2e/job_transform" "$wl/bin/transform"
printf 'The quick brown fox\njumps over the lazy dog.\n' >"$wl/data/a.txt"
# no memory_bytes: the job's cgroup gets the default memory.max (half the guest's memory), which
# the sanitizer build of the job fits in (its 20 TiB of address space are reserved, not used)
cat >"$wl/cvm-job.json" <<EOJ
{"argv": ["bin/transform", "data/a.txt"], "cwd": ".", "user": {"uid": 1000, "gid": 1000},
 "deadline_seconds": 120,
 "limits": {"cpu_seconds": 60, "file_size_bytes": 16777216, "processes": 16},
 "output_dir": "/output", "result_recipient": "$recipient"}
EOJ
"$cvm" pack "$wl" -o "$tmp/www/workload.img" --key-out "$tmp/volume.key" --source-date-epoch 1 >/dev/null || bad "pack"
wsha=$(sha256sum <"$tmp/www/workload.img" | cut -c1-64)
wsize=$(stat -c %s "$tmp/www/workload.img")
luks=$($py -c "import json,sys; print(json.load(open(sys.argv[1]))['luks_header_sha256'])" "$tmp/volume.key")
vk=$($py -c "import json,sys; print(json.load(open(sys.argv[1]))['volume_key'])" "$tmp/volume.key")

# ---- the broker: the volume key under the policy of the image's (sim) MRTD and the volume ----
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/tls.key" \
	-out "$tmp/tls.pem" -days 2 -subj /CN=cvm-broker -addext subjectAltName=IP:127.0.0.1 2>/dev/null
echo "{\"reference\":{\"tdx\":{$tdx_ref},\"luks_header_sha256\":\"$luks\"}}" >"$tmp/policy.json"
"$cvm" kbs add-resource --store "$tmp/store" default/workload/key "$tmp/volume.key" >/dev/null &&
	"$cvm" kbs set-policy --store "$tmp/store" default/workload/key "$tmp/policy.json" >/dev/null || bad "broker store"
bport=$(free_port)
cat >"$tmp/kbs.json" <<EOC
{"listen": "127.0.0.1:$bport", "tls_cert": "$tmp/tls.pem", "tls_key": "$tmp/tls.key",
 "store": "$tmp/store", "timeout": 10, "test_roots": {"tdx": "$pki/tdx/roots.pem"},
 "tdx_without_collateral": true}
EOC
"$cvm" kbs serve --config "$tmp/kbs.json" 2>"$tmp/broker.log" &
pids="$pids $!"
wait_port "$bport" || { bad "the broker did not start"; cat "$tmp/broker.log"; }

# ---- the files: http.server for the workload; uploads and range requests here ----
wport=$(free_port)
$py -m http.server --bind 127.0.0.1 --directory "$tmp/www" "$wport" >"$tmp/www.log" 2>&1 &
pids="$pids $!"
cat >"$tmp/files.py" <<'EOP'
# PUT /ok/NAME stores; /flaky/NAME answers 503 once, then stores; /fail/NAME
# answers 503 until the file ROOT/healed exists, then stores.
# GET /range/NAME serves www/NAME with RFC 9110 range requests, /chunked/NAME without a length.
# Each request goes to LOG.
import http.server, os, sys
root, log, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
seen = {}
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def note(self, code, extra):
        with open(log, "a") as f: f.write("%s %s %d %s\n" % (self.command, self.path, code, extra))
    def answer(self, code, body=b"", headers=()):
        self.send_response(code)
        for k, v in headers: self.send_header(k, v)
        self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
    def do_PUT(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        kind, name = self.path.strip("/").split("/", 1)
        seen[self.path] = seen.get(self.path, 0) + 1
        if (kind == "fail" and not os.path.exists(os.path.join(root, "healed"))) or \
           (kind == "flaky" and seen[self.path] == 1):
            code = 503
        else:
            open(os.path.join(root, "up", os.path.basename(name)), "wb").write(body); code = 201
        self.note(code, str(len(body))); self.answer(code)
    def do_GET(self):
        data = open(os.path.join(root, "www", os.path.basename(self.path)), "rb").read()
        rng = self.headers.get("Range")
        self.note(206 if rng else 200, rng or "-")
        if self.path.startswith("/chunked/"):
            self.send_response(200); self.send_header("Transfer-Encoding", "chunked"); self.end_headers()
            for i in range(0, len(data), 65536):
                c = data[i:i + 65536]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(c), c))
            return self.wfile.write(b"0\r\n\r\n")
        if not rng: return self.answer(200, data)
        start = int(rng.split("=")[1].split("-")[0])
        self.answer(206, data[start:], [("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))])
http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
EOP
fport=$(free_port)
$py "$tmp/files.py" "$tmp" "$tmp/files.log" "$fport" 2>"$tmp/files.err" &
pids="$pids $!"
wait_port "$wport" && wait_port "$fport" || bad "the file servers did not start"

# ---- the provider's image: vm-images/default with the test agent and the sim PKI ----
mkdir -p "$tmp/images/default"
sim_initrd "$tmp/imgsrc" "$tmp/images/default/initrd.img" "$bin/cvm-agent-test" 1 6000 ||
	bad "initrd"
$py -c 'import json,sys
i = json.load(open(sys.argv[1])); i["platforms"]["plain"]["sim_launch"] = sys.argv[2]
json.dump(i, open(sys.argv[3], "w"))' "$top/vm-images/default/image.json" "$tmp/launch.json" "$tmp/images/default/image.json"
ln -s "$kernel" "$tmp/images/default/vmlinuz"

# ---- orders: ID WORKLOAD_URL UPLOAD_URL [SHA256] [BROKER_PORT] [DEADLINE] [SIZE] -> $tmp/ID.json ----
# one input, the solution (the workload above), its broker pinned by its certificate
order() {
	$py - "$1" "$2" "$3" "${4:-$wsha}" "${5:-$bport}" "${6:-240}" "${7:-$wsize}" "$luks" "$tmp/tls.pem" \
		>"$tmp/$1.unsigned.json" <<'EOP'
import json, sys
oid, url, up, sha, port, deadline, size, luks, ca = sys.argv[1:]
print(json.dumps({"version": 2, "id": oid, "image": "default", "vcpus": 1, "memory_mib": 1024,
  "deadline_seconds": int(deadline),
  "inputs": [{"name": "solution", "role": "solution",
              "volume": {"url": url, "sha256": sha, "size": int(size), "luks_header_sha256": luks},
              "broker": {"url": "https://127.0.0.1:" + port, "resource": "default/workload/key",
                         "ca": open(ca).read()}}],
  "result": {"upload_url": up}}))
EOP
	"$cvm" order sign "$tmp/$1.unsigned.json" --key "$tmp/customer.key" -o "$tmp/$1.json" || bad "sign $1"
}
run() { # ID [options]: cvm run into $tmp/run-ID; summary in $tmp/ID.summary, stderr in $tmp/ID.err
	rid=$1
	shift
	"$cvm" run "$tmp/$rid.json" --workdir "$tmp/run-$rid" --images "$tmp/images" "$@" \
		>"$tmp/$rid.summary" 2>"$tmp/$rid.err"
}
run_bg() { # ID: run ID in the background; its PID in $rpid
	"$cvm" run "$tmp/$1.json" --workdir "$tmp/run-$1" --images "$tmp/images" \
		>"$tmp/$1.summary" 2>"$tmp/$1.err" &
	rpid=$!
}
gone() { # ID: the QEMU and swtpm of that run have ended, and their files are gone
	set -- "$1" $(sed -n 's/.*QEMU started (pid \([0-9]*\), [a-z]*; swtpm pid \([0-9]*\)).*/\1 \2/p' "$tmp/$1.err")
	[ $# -eq 3 ] && ! kill -0 "$2" 2>/dev/null && ! kill -0 "$3" 2>/dev/null &&
		[ ! -e "$tmp/run-$1/qemu.pid" ] && [ ! -e "$tmp/run-$1/swtpm.sock" ] && [ ! -e "$tmp/run-$1/swtpm" ]
}
ref=$tmp/ref.json
echo "{\"tdx\": {$tdx_ref}, \"luks_header_sha256\": \"$luks\"}" >"$ref"
files=http://127.0.0.1:$fport

# ---- usage and refusals before anything starts ----
expect "help" 0 "Usage: cvm run ORDER.json \[--workdir DIR\]" -- "$cvm" run --help
order good "http://127.0.0.1:$wport/workload.img" "$files/flaky/good.cvmr"
sed 's/"vcpus":1/"vcpus":2/' "$tmp/good.json" >"$tmp/badsig.json"
cmp -s "$tmp/good.json" "$tmp/badsig.json" && bad "badsig: the order did not change"
expect "a bad signature is refused" 2 "E_ORDER_SIGNATURE" -- "$cvm" run "$tmp/badsig.json" \
	--workdir "$tmp/run-badsig" --images "$tmp/images"
[ ! -e "$tmp/run-badsig" ] && [ ! -s "$tmp/out" ] && ok "a bad signature: nothing made, no summary" ||
	bad "a bad signature left something"
grep -c "" "$tmp/www.log" >"$tmp/www.before"
order digest "http://127.0.0.1:$wport/workload.img" "$files/ok/digest.cvmr" "$(printf 'ab%.0s' $(seq 32))"
expect "a wrong workload SHA-256 is refused" 2 "E_WORKLOAD_DIGEST" -- "$cvm" run "$tmp/digest.json" \
	--workdir "$tmp/run-digest" --images "$tmp/images"
[ "$(js "$tmp/out" 's["code"]')" = E_WORKLOAD_DIGEST ] && [ "$(js "$tmp/out" 's["qemu"]')" = None ] &&
	ok "a wrong SHA-256: the summary names it, nothing launched" || { bad "digest summary"; cat "$tmp/out"; }
[ ! -e "$tmp/run-digest/console.log" ] && [ ! -e "$tmp/run-digest/output.img" ] &&
	[ ! -e "$tmp/run-digest/order.img" ] && [ ! -e "$tmp/run-digest/inputs/solution.img" ] &&
	[ ! -e "$tmp/run-digest/inputs/solution.img.part" ] &&
	ok "a wrong SHA-256: no disk, no console, no download kept" || { bad "digest: files left"; ls -l "$tmp/run-digest"; }

half=$((wsize / 2))
order big "http://127.0.0.1:$wport/workload.img" "$files/ok/big.cvmr" "" "" "" "$half"
expect "a workload larger than ordered (Content-Length) is refused" 2 "E_WORKLOAD_SIZE: the server's file is $wsize bytes, the order says $half" -- \
	"$cvm" run "$tmp/big.json" --workdir "$tmp/run-big" --images "$tmp/images"
order big2 "$files/chunked/workload.img" "$files/ok/big2.cvmr" "" "" "" "$half"
expect "a workload larger than ordered (no length) is refused" 2 "E_WORKLOAD_SIZE: the server sends more than the order's $half bytes" -- \
	"$cvm" run "$tmp/big2.json" --workdir "$tmp/run-big2" --images "$tmp/images"
[ -z "$(ls -A "$tmp/run-big/inputs")$(ls -A "$tmp/run-big2/inputs")" ] && [ ! -e "$tmp/run-big/output.img" ] &&
	ok "a workload larger than ordered: nothing kept" ||
	{ bad "big: files left"; ls -l "$tmp/run-big" "$tmp/run-big2"; }

# ---- the order ----
run good --upload-retries 2
st=$?
[ $st -eq 0 ] && ok "good: cvm run exits 0" || { bad "good: exit $st"; cat "$tmp/good.err" "$tmp/good.summary"; tail -n 20 "$tmp/run-good/console.log"; }
cat "$tmp/good.err"
cmp -s "$tmp/up/good.cvmr" "$tmp/run-good/result.cvmr" && ok "good: the uploaded bundle is the one kept" ||
	bad "good: upload differs"
[ "$(grep -c '^PUT /flaky/good.cvmr 503' "$tmp/files.log")" = 1 ] &&
	[ "$(grep -c '^PUT /flaky/good.cvmr 201' "$tmp/files.log")" = 1 ] &&
	[ "$(js "$tmp/good.summary" 's["upload"]["attempts"]')" = 2 ] &&
	ok "good: a failed upload was retried" || { bad "good: upload retry"; cat "$tmp/files.log"; }
[ "$(js "$tmp/good.summary" 's["bundle"]["sha256"]')" = "$(sha256sum <"$tmp/up/good.cvmr" | cut -c1-64)" ] &&
	[ "$(js "$tmp/good.summary" '" ".join(p["phase"] for p in s["phases"] if p["ok"] and p["phase"] in ("key", "result", "poweroff"))')" = \
		"key result poweroff" ] && [ "$(js "$tmp/good.summary" 'all(p["ok"] for p in s["phases"])')" = True ] &&
	ok "good: the summary has the phases and the bundle's SHA-256" || { bad "good: summary"; cat "$tmp/good.summary"; }
expect "good: cvm result open verifies and opens the upload" 0 "verified and opened" -- "$cvm" result open \
	"$tmp/up/good.cvmr" --key "$tmp/customer.key" --order "$tmp/good.json" --test-roots "$pki/tdx/roots.pem" --reference "$ref" -o "$tmp/opened"
tr a-z A-Z <"$wl/data/a.txt" | cmp -s - "$tmp/opened/output/a.txt.upper" && ok "good: the job's output" ||
	bad "good: the job's output"
gone good && ok "good: QEMU and swtpm ended, their files removed" || bad "good: processes or files left"
if grep -r -a -q -i -e "$vk" -e 'quick brown fox' -e 'QUICK BROWN FOX' "$tmp/run-good" "$tmp/good.summary" "$tmp/good.err"; then
	bad "good: a key or plaintext in the work directory, logs or summary"
else
	ok "good: no volume key or plaintext in the work directory, logs or summary"
fi

# ---- a power cut while the agent wrote this bundle: its output disk cut at every 4 KiB ----
# truncated (a short copy), or full size with the blocks after the cut never written
cut_open() { # IMAGE: fails when cvm result open refused it and extracted nothing
	rm -rf "$tmp/cut-out"
	"$cvm" result open "$1" --key "$tmp/customer.key" --test-roots "$pki/tdx/roots.pem" --reference "$ref" \
		-o "$tmp/cut-out" ||
		[ -e "$tmp/cut-out" ] || [ -e "$tmp/cut-out.part" ]
}
disk_cuts "$tmp/run-good/output.img" $((8192 + $(js "$tmp/good.summary" 's["bundle"]["bytes"]'))) cut_open
"$cvm" result open "$tmp/run-good/output.img" --key "$tmp/customer.key" --test-roots "$pki/tdx/roots.pem" \
	--reference "$ref" -o "$tmp/whole-out" >/dev/null 2>&1 || failed=$((failed + 1))
[ "$cuts" -ge 5 ] && [ "$failed" -eq 0 ] &&
	ok "the agent's output disk cut at each of $cuts 4 KiB boundaries is refused (E_NO_RESULT), whole it opens" ||
	bad "$failed of $cuts cuts of the agent's disk not refused"

# ---- the broker down; the workload continued from a partial download ----
order nobroker "$files/range/workload.img" "$files/ok/nobroker.cvmr" "" "$(free_port)"
mkdir -p "$tmp/run-nobroker"
mkdir -p "$tmp/run-nobroker/inputs"
head -c 1048576 "$tmp/www/workload.img" >"$tmp/run-nobroker/inputs/solution.img.part"
# TEST ONLY --test-vtpm-state: this run's vTPM keeps its state in $tmp/vtpm
run nobroker --test-vtpm-state "$tmp/vtpm"
st=$?
[ $st -eq 1 ] && [ "$(js "$tmp/nobroker.summary" 's["code"]')" = E_KEY_RELEASE ] && grep -q "E_KEY_RELEASE" "$tmp/nobroker.err" &&
	ok "broker down: exit 1 with the agent's E_KEY_RELEASE" || { bad "broker down: exit $st"; cat "$tmp/nobroker.err" "$tmp/nobroker.summary"; }
grep -q '^GET /range/workload.img 206 bytes=1048576-$' "$tmp/files.log" &&
	[ "$(js "$tmp/nobroker.summary" 's["inputs"][0]["resumed_at"]')" = 1048576 ] &&
	ok "broker down: the download went on from the .part file" || { bad "resume"; cat "$tmp/files.log"; }
[ ! -e "$tmp/run-nobroker/result.cvmr" ] && ! grep -q '^PUT /ok/nobroker' "$tmp/files.log" &&
	ok "broker down: no result, nothing uploaded" || bad "broker down: a result"
gone nobroker && ok "broker down: QEMU and swtpm ended" || bad "broker down: processes or files left"
# the kept vTPM state: its AK is the same each time it is asked, and not a fresh vTPM's
show_ak() { # STATE_DIR: the AK's SHA-256 of a swtpm on that state
	tp=$(swtpm_tcp "$1" "$tmp/ak-swtpm.pid") || return 1
	"$cvm" kbs-client --tee tpm --tcti "swtpm:host=127.0.0.1,port=$tp" --show-ak 2>/dev/null | grep -Eo '[0-9a-f]{64}' | head -n 1
	kill "$(cat "$tmp/ak-swtpm.pid")" 2>/dev/null
	sleep 0.5
}
ls "$tmp/vtpm" | grep -q permall && ok "--test-vtpm-state: the vTPM's state is kept" || bad "--test-vtpm-state: no state kept"
ak1=$(show_ak "$tmp/vtpm")
ak2=$(show_ak "$tmp/vtpm")
mkdir -p "$tmp/vtpm-fresh"
ak3=$(show_ak "$tmp/vtpm-fresh")
[ ${#ak1} -eq 64 ] && [ "$ak1" = "$ak2" ] && [ "$ak1" != "$ak3" ] &&
	ok "--test-vtpm-state: the same AK from the kept state, another from a fresh one" ||
	bad "--test-vtpm-state: AKs '$ak1' '$ak2' '$ak3'"

# ---- the broker slow or answering garbage: a proxy between the guest and the broker ----
cat >"$tmp/badbroker.py" <<'EOP'
# MODE PORT BROKER_PORT CERT KEY LOG. Each connection that sends a byte is
# one line in LOG (slirp may open one that never does, for a retransmitted
# SYN). silent: never answers; once: the first one silent, the next ones
# passed to the broker; garbage: TLS with the broker's own certificate, then
# HTTP 200 with a body that is not the protocol's JSON.
import socket, ssl, sys, threading
mode, port, bport, cert, key, log = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6]
n, lock = [0], threading.Lock()
def note(what):
    with open(log, "a") as f: f.write(what + "\n")
def pipe(a, b):
    try:
        while (d := a.recv(65536)): b.sendall(d)
    except OSError: pass
    for s in (a, b):
        try: s.shutdown(socket.SHUT_RDWR)
        except OSError: pass
def silent(c):
    try:
        while c.recv(65536): pass
    except OSError: pass
    c.close()
def garbage(c):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain(cert, key)
    try:
        t = ctx.wrap_socket(c, server_side=True)
        req = b""
        while b"\r\n\r\n" not in req: req += t.recv(65536) or b"\r\n\r\n"
        body = b'{"nonce": "\xff\xfe", "extra-params": [1, 2, {"'
        t.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        note("garbage")
        t.close()
    except OSError: c.close()
def serve(c):
    c.settimeout(60)
    try: spoke = c.recv(1, socket.MSG_PEEK)
    except OSError: spoke = b""
    if not spoke: return c.close()
    with lock: n[0] += 1; k = n[0]
    if mode == "silent" or (mode == "once" and k == 1):
        note("silent"); return silent(c)
    if mode == "garbage": return garbage(c)
    note("passed")
    b = socket.create_connection(("127.0.0.1", bport))
    threading.Thread(target=pipe, args=(b, c), daemon=True).start(); pipe(c, b)
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", port)); l.listen(16)
while True:
    c, _ = l.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
EOP
badbroker() { # MODE ID: order ID through a MODE proxy, run; the proxy's log in $tmp/MODE.proxy
	pport=$(free_port)
	$py "$tmp/badbroker.py" "$1" "$pport" "$bport" "$tmp/tls.pem" "$tmp/tls.key" "$tmp/$1.proxy" 2>"$tmp/$1.proxy.err" &
	pids="$pids $!"
	wait_port "$pport" || bad "the $1 proxy did not start"
	order "$2" "http://127.0.0.1:$wport/workload.img" "$files/ok/$2.cvmr" "" "$pport"
	run "$2"
}
key_refused() { # ID: exit 1, E_KEY_RELEASE, and the agent powered off
	[ $st -eq 1 ] && [ "$(js "$tmp/$1.summary" 's["code"]')" = E_KEY_RELEASE ] &&
		[ "$(js "$tmp/$1.summary" '[p["phase"] for p in s["phases"]][-1]')" = poweroff ]
}

badbroker once slowonce
st=$?
[ $st -eq 0 ] && [ "$(head -n 1 "$tmp/once.proxy")" = silent ] && grep -q passed "$tmp/once.proxy" &&
	cmp -s "$tmp/up/slowonce.cvmr" "$tmp/run-slowonce/result.cvmr" &&
	ok "broker slow once: the agent timed out, retried, and the order ran" ||
	{ bad "broker slow once: exit $st"; cat "$tmp/slowonce.err" "$tmp/once.proxy"; }
badbroker silent slow
st=$?
key_refused slow && [ "$(grep -c silent "$tmp/silent.proxy")" = 2 ] && grep -q "Timeout" "$tmp/slow.err" &&
	ok "broker always slow: two tries of the agent's budget, E_KEY_RELEASE, powered off, exit 1" ||
	{ bad "broker always slow: exit $st"; cat "$tmp/slow.err" "$tmp/silent.proxy"; }
badbroker garbage garbage
st=$?
key_refused garbage && [ "$(grep -c garbage "$tmp/garbage.proxy")" = 1 ] &&
	ok "broker answering garbage: not retried, E_KEY_RELEASE, powered off, exit 1" ||
	{ bad "broker garbage: exit $st"; cat "$tmp/garbage.err" "$tmp/garbage.proxy"; }
for id in slow garbage; do
	[ ! -e "$tmp/run-$id/result.cvmr" ] && ! grep -q "^PUT /ok/$id.cvmr " "$tmp/files.log" && gone "$id" ||
		bad "$id: a result, an upload, or processes left"
done

# ---- the output disk full ----
order full "http://127.0.0.1:$wport/workload.img" "$files/ok/full.cvmr"
run full --output-size 16384
st=$?
[ $st -eq 1 ] && [ "$(js "$tmp/full.summary" 's["code"]')" = E_OUTPUT_FULL ] &&
	grep -q "E_OUTPUT_FULL: .* does not fit on the 16384-byte output disk" "$tmp/full.err" &&
	[ ! -e "$tmp/run-full/result.cvmr" ] && ! grep -q "^PUT /ok/full.cvmr " "$tmp/files.log" && gone full &&
	ok "output disk full: E_OUTPUT_FULL, no result kept or uploaded, exit 1" ||
	{ bad "output disk full: exit $st"; cat "$tmp/full.err" "$tmp/full.summary"; }

# ---- the upload target failing ----
order upfail "http://127.0.0.1:$wport/workload.img" "$files/fail/upfail.cvmr"
run upfail --upload-retries 2
st=$?
[ $st -eq 3 ] && [ "$(grep -c '^PUT /fail/upfail.cvmr 503' "$tmp/files.log")" = 3 ] &&
	[ "$(js "$tmp/upfail.summary" 's["upload"]["ok"]')" = False ] && grep -q "E_UPLOAD" "$tmp/upfail.err" &&
	ok "upload failing: tried 3 times, exit 3" || { bad "upload failing: exit $st"; cat "$tmp/upfail.err"; }
expect "upload failing: the kept bundle opens" 0 "verified and opened" -- "$cvm" result open \
	"$tmp/run-upfail/result.cvmr" --key "$tmp/customer.key" --test-roots "$pki/tdx/roots.pem" --reference "$ref" \
	-o "$tmp/opened2"
expect "a kept result is not another order's" 2 "E_WORKDIR: $tmp/run-upfail/result.cvmr holds a result that is not this order's (E_RESULT_ORDER" -- \
	"$cvm" run "$tmp/good.json" --workdir "$tmp/run-upfail" --images "$tmp/images"
touch "$tmp/healed"
before=$(stat -c %Y.%s "$tmp/run-upfail/output.img" "$tmp/run-upfail/console.log")
run upfail
st=$?
[ $st -eq 0 ] && cmp -s "$tmp/up/upfail.cvmr" "$tmp/run-upfail/result.cvmr" &&
	grep -q "the result of an earlier run of this order is in .*: uploading it" "$tmp/upfail.err" &&
	[ "$(js "$tmp/upfail.summary" 's["bundle"]["from_earlier_run"] and s["qemu"] is None')" = True ] &&
	[ "$(stat -c %Y.%s "$tmp/run-upfail/output.img" "$tmp/run-upfail/console.log")" = "$before" ] &&
	ok "upload failing: the same command again uploads the kept result, runs nothing" ||
	{ bad "upload again: exit $st"; cat "$tmp/upfail.err" "$tmp/upfail.summary"; }

# ---- QEMU killed mid-run; cvm run stopped; the deadline ----
order killed "http://127.0.0.1:$wport/workload.img" "$files/ok/killed.cvmr"
run_bg killed
i=0
while [ ! -s "$tmp/run-killed/qemu.pid" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
sleep 1
kill -9 "$(cat "$tmp/run-killed/qemu.pid")" 2>/dev/null
wait $rpid
st=$?
[ $st -eq 1 ] && grep -q "E_QEMU: QEMU was killed by signal 9" "$tmp/killed.err" && gone killed &&
	ok "QEMU killed: reported (exit 1), swtpm ended, files removed" || { bad "QEMU killed: exit $st"; cat "$tmp/killed.err"; }

order stopped "http://127.0.0.1:$wport/workload.img" "$files/ok/stopped.cvmr"
run_bg stopped
i=0
while ! grep -q "QEMU started" "$tmp/stopped.err" 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
kill -TERM $rpid
wait $rpid
st=$?
[ $st -eq 1 ] && [ "$(js "$tmp/stopped.summary" 's["code"]')" = E_INTERRUPTED ] && gone stopped &&
	ok "cvm run stopped (SIGTERM): QEMU and swtpm ended, exit 1" || { bad "stopped: exit $st"; cat "$tmp/stopped.err"; }

order late "http://127.0.0.1:$wport/workload.img" "$files/ok/late.cvmr" "" "" 2
run late
st=$?
[ $st -eq 1 ] && [ "$(js "$tmp/late.summary" 's["code"]')" = E_DEADLINE ] &&
	[ "$(js "$tmp/late.summary" 's["qemu"]["stopped_by"]')" = deadline ] && gone late &&
	ok "the deadline: QEMU stopped, E_DEADLINE, exit 1" || { bad "deadline: exit $st"; cat "$tmp/late.err"; }

summary "cli run"

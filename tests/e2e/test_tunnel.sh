#!/bin/sh
# A service order end to end under QEMU (TCG): the solution's job is a small
# HTTP server over its own volume, reached through the agent's attested TLS
# terminator, which `cvm run --tunnel` forwards blindly from a host port.
#   - `cvm connect` checks the endpoint (certificate evidence, key binding,
#     the image's manifest, the order, the session's fresh evidence) and
#     curl reads through its local port; `cvm fetch` makes one request;
#   - a capture of the provider's side of the connection holds no
#     plaintext byte of the service;
#   - 1,000 requests from 50 connections, none lost;
#   - a man in the middle's own certificate, its own with the genuine
#     evidence copied in, and the genuine endpoint taken for another order,
#     are refused by name; the loopback tests
#     (tests/unit/test_tunnel_conn.c) add the replay of a leaked key;
#   - a stop signed by a stranger is refused, the customer's ends the
#     service; its result (the access log) is sealed and opened;
#   - a second order's service ends at its deadline, its result opened; a
#     connection the host opens there and keeps quiet is closed after the
#     manifest's idle_seconds.
# usage: tests/e2e/test_tunnel.sh BUILD_DIR
set -u
build=${1:?usage: test_tunnel.sh BUILD_DIR}
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/e2e/lib.sh"
e2e_begin e2e-tunnel "e2e tunnel" e2e/job_httpd

# ---- the image: the generic one with the test agent (sim TDX evidence) ----
e2e_image || { bad "image build"; cat "$tmp/image.out"; }

customer=$("$cvm" keygen -o "$tmp/customer.key") || bad "customer key"
"$cvm" keygen -o "$tmp/stranger.key" >/dev/null || bad "stranger key"

# ---- the solution: the server and its site; a service of at most MAX seconds ----
marker="plaintext-of-the-service-7f3a9c"
service() { # NAME MAX [IDLE]
	mkdir -p "$tmp/$1/bin" "$tmp/$1/site"
	cp "$bin/e2e/job_httpd" "$tmp/$1/bin/httpd"
	printf 'hello from the enclave: %s\n' "$marker" >"$tmp/$1/site/index.html"
	idle=${3:+", \"idle_seconds\": $3"}
	cat >"$tmp/$1/cvm-job.json" <<EOJ
{"argv": ["bin/httpd", "8080", "site"], "user": {"uid": 1000, "gid": 1000},
 "service": {"port": 8080, "max_seconds": $2$idle}, "output_dir": "/output",
 "limits": {"processes": 16}}
EOJ
	"$cvm" pack "$tmp/$1" -o "$tmp/www/$1.img" --key-out "$tmp/$1.key" --source-date-epoch 1 >/dev/null ||
		bad "pack $1"
}
service svc 900
service svc2 10 2

# ---- broker A: the solutions' keys, to this customer's orders ----
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/a-tls.key" \
	-out "$tmp/a-tls.pem" -days 2 -subj "/CN=broker-a" -addext subjectAltName=IP:127.0.0.1 2>/dev/null
"$cvm" kbs add-image --store "$tmp/store" "$tmp/images/default/manifest.json" >/dev/null || bad "add-image"
for v in svc svc2; do
	cat >"$tmp/policy.json" <<EOP
{"image": {"builder": "$builder", "name": "default"}, "platforms": ["tdx"],
 "reference": {"tdx": {"rtmr0": "$rtmr0"}, "luks_header_sha256": "$(js "$tmp/$v.key" "s['luks_header_sha256']")"},
 "order": {"customer_pubkey": ["$customer"]}}
EOP
	"$cvm" kbs add-resource --store "$tmp/store" "$v/volume/key" "$tmp/$v.key" >/dev/null &&
		"$cvm" kbs set-policy --store "$tmp/store" "$v/volume/key" "$tmp/policy.json" >/dev/null ||
		bad "resource $v"
done
aport=$(free_port)
cat >"$tmp/kbs.json" <<EOC
{"listen": "127.0.0.1:$aport", "tls_cert": "$tmp/a-tls.pem", "tls_key": "$tmp/a-tls.key",
 "store": "$tmp/store", "timeout": 10, "test_roots": {"tdx": "$pki/tdx/roots.pem"},
 "tdx_without_collateral": true}
EOC
"$cvm" kbs serve --config "$tmp/kbs.json" 2>>"$tmp/broker.log" &
pids="$pids $!"
wait_port "$aport" || bad "the broker did not start"

# ---- the provider's files: volumes by GET, results by PUT ----
e2e_files || bad "the file server did not start"

order() { # ID SOLUTION
	$py - "$tmp" "$1" "$2" "$wport" "$aport" <<'EOP' >"$tmp/$1.unsigned.json"
import hashlib, json, os, sys
tmp, oid, sol, wport, aport = sys.argv[1:]
img = open(os.path.join(tmp, "www", sol + ".img"), "rb").read()
key = json.load(open(os.path.join(tmp, sol + ".key")))
vol = {"url": "http://127.0.0.1:%s/%s.img" % (wport, sol), "sha256": hashlib.sha256(img).hexdigest(),
       "size": len(img), "luks_header_sha256": key["luks_header_sha256"]}
print(json.dumps({"version": 2, "id": oid, "image": "default", "vcpus": 1, "memory_mib": 1024,
                  "deadline_seconds": 1200,
                  "inputs": [{"name": "solution", "role": "solution", "volume": vol,
                              "broker": {"url": "https://127.0.0.1:%s" % aport,
                                         "resource": sol + "/volume/key",
                                         "ca": open(os.path.join(tmp, "a-tls.pem")).read()}}],
                  "result": {"upload_url": "http://127.0.0.1:%s/%s.cvmr" % (wport, oid)}}))
EOP
	"$cvm" order sign "$tmp/$1.unsigned.json" --key "$tmp/customer.key" -o "$tmp/$1.json" >/dev/null ||
		bad "order $1: sign"
}
order order-svc-1 svc
order order-svc-2 svc2

check="--reference $tmp/images/default/manifest.json --builder $builder --pins $tmp/pins.json --test-roots $pki/tdx/roots.pem"
wait_tunnel() { # RUN_DIR: until the agent's tunnel line, or the run's end
	for _ in $(seq 600); do
		grep -q '"phase":"tunnel","ok":true' "$1/status" 2>/dev/null && return 0
		grep -q '"phase":"poweroff"' "$1/status" 2>/dev/null && return 1
		sleep 0.5
	done
	return 1
}

# ---- the service order: cvm run with the tunnel forwarded ----
tport=$(free_port)
"$cvm" run "$tmp/order-svc-1.json" --workdir "$tmp/run-1" --images "$tmp/images" --output-size 67108864 \
	--tunnel "127.0.0.1:$tport" >"$tmp/run-1.summary" 2>"$tmp/run-1.stderr" &
run1=$!
pids="$pids $run1"
if wait_tunnel "$tmp/run-1"; then
	ok "the agent opened the tunnel (its key and certificate measured first)"
else
	bad "no tunnel line"; cat "$tmp/run-1/status" "$tmp/run-1.stderr"
fi
# cvm run reads the status file between naps: its line may come a little after the file's
shown=false
for _ in $(seq 40); do
	grep -q "tunnel .*ok (open at 127.0.0.1:$tport)" "$tmp/run-1.stderr" && { shown=true; break; }
	sleep 0.25
done
$shown && ok "cvm run shows the tunnel's address" || { bad "cvm run does not show the tunnel"; cat "$tmp/run-1.stderr"; }

# the provider's side of the connection: a relay in front of the forward, keeping every byte
rport=$(free_port)
cat >"$tmp/relay.py" <<'EOP'
import socket, sys, threading
lport, tport, cap = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
lock = threading.Lock()
out = open(cap, "ab", buffering=0)
def pipe(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            with lock:
                out.write(d)
            b.sendall(d)
    except OSError:
        pass
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", lport)); srv.listen(128)
while True:
    c, _ = srv.accept()
    u = socket.create_connection(("127.0.0.1", tport))
    threading.Thread(target=pipe, args=(c, u), daemon=True).start()
    threading.Thread(target=pipe, args=(u, c), daemon=True).start()
EOP
$py "$tmp/relay.py" "$rport" "$tport" "$tmp/capture.bin" 2>"$tmp/relay.log" &
pids="$pids $!"
wait_port "$rport" || bad "the relay did not start"

# ---- the customer's client ----
# shellcheck disable=SC2086
"$cvm" connect "127.0.0.1:$rport" $check --order "$tmp/order-svc-1.json" --listen 127.0.0.1:0 \
	>"$tmp/connect.out" 2>"$tmp/connect.err" &
pids="$pids $!"
for _ in $(seq 600); do [ -s "$tmp/connect.out" ] && break; sleep 0.2; done
lport=$(sed -n 's/^127\.0\.0\.1:\([0-9]*\)$/\1/p' "$tmp/connect.out")
if [ -n "$lport" ] && grep -q "attested tdx endpoint, fresh in this session, running the order" "$tmp/connect.err"; then
	ok "cvm connect: the endpoint checked (evidence, key, manifest, order, session) before it listens"
else
	bad "cvm connect did not listen"; cat "$tmp/connect.err"
fi
got=$(curl -s --max-time 120 "http://127.0.0.1:$lport/index.html")
case $got in *"$marker"*) ok "curl reads the service through cvm connect's local port" ;;
*) bad "curl through the tunnel: '$got'"; cat "$tmp/connect.err" ;; esac
# shellcheck disable=SC2086
expect "cvm fetch: one request, the endpoint checked first" 0 "$marker" -- \
	"$cvm" fetch "https://127.0.0.1:$rport/index.html" $check --order "$tmp/order-svc-1.json"

# stdin and stdout as the stream: the request, its end, the answer read to its end
# shellcheck disable=SC2086
printf 'GET /index.html HTTP/1.0\r\n\r\n' | "$cvm" connect "127.0.0.1:$rport" $check \
	--order "$tmp/order-svc-1.json" >"$tmp/stdio.out" 2>"$tmp/stdio.err"
st=$?
[ "$st" -eq 0 ] && grep -q "$marker" "$tmp/stdio.out" &&
	ok "cvm connect on stdin and stdout: the answer after the request's end" ||
	{ bad "stdio: exit $st"; cat "$tmp/stdio.err"; }

# 1,000 requests from 50 connections, keep-alive, each connection its own checked tunnel
$py - "$lport" >"$tmp/load.out" 2>&1 <<'EOP'
import http.client, sys, threading
port, good, bad = int(sys.argv[1]), [0], []
lock = threading.Lock()
def worker():
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    for i in range(20):
        try:
            c.request("GET", "/index.html")
            r = c.getresponse()
            body = r.read()
            ok = r.status == 200 and b"enclave" in body
        except Exception as e:
            ok = False
            with lock:
                bad.append(repr(e))
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        with lock:
            good[0] += ok
ts = [threading.Thread(target=worker) for _ in range(50)]
for t in ts: t.start()
for t in ts: t.join()
print("answered", good[0], "of 1000;", len(bad), "errors", bad[:3])
EOP
grep -q "answered 1000 of 1000; 0 errors" "$tmp/load.out" &&
	ok "load: 1000 requests from 50 connections through the tunnel, none lost" ||
	{ bad "load: $(cat "$tmp/load.out")"; }

# the capture: TLS records only, not one plaintext byte of the service
if [ -s "$tmp/capture.bin" ] && ! grep -a -q -e "$marker" -e "enclave" -e "HTTP/1.1" -e "GET /" "$tmp/capture.bin"; then
	ok "the provider's capture ($(wc -c <"$tmp/capture.bin") bytes) holds no plaintext of the service"
else
	bad "the provider's capture holds plaintext (or is empty)"
fi

# ---- a man in the middle ----
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/mitm.key" \
	-out "$tmp/mitm.pem" -days 1 -subj "/CN=mitm" 2>/dev/null
mitm() { # CERT WHAT CODE: the host serves CERT with its own key; cvm connect refuses it
	mport=$(free_port)
	openssl s_server -accept "127.0.0.1:$mport" -cert "$1" -key "$tmp/mitm.key" -tls1_3 -www -quiet \
		>/dev/null 2>&1 &
	pids="$pids $!"
	wait_port "$mport" || bad "the man in the middle did not start ($2)"
	# shellcheck disable=SC2086
	expect "$2: refused" 1 "$3" -- "$cvm" connect "127.0.0.1:$mport" $check
}
mitm "$tmp/mitm.pem" "a man in the middle's own certificate" E_TUNNEL_NO_EVIDENCE
# the genuine certificate, recorded on the way, its evidence carried over into the host's own
openssl s_client -connect "127.0.0.1:$rport" -tls1_3 </dev/null 2>/dev/null |
	openssl x509 -out "$tmp/genuine.pem" 2>/dev/null || bad "the genuine certificate: not recorded"
openssl x509 -in "$tmp/genuine.pem" -x509toreq -copy_extensions copyall -key "$tmp/mitm.key" \
	-out "$tmp/forged.csr" 2>/dev/null &&
	openssl x509 -req -in "$tmp/forged.csr" -key "$tmp/mitm.key" -copy_extensions copyall -days 1 \
		-out "$tmp/forged.pem" 2>/dev/null || bad "the forged certificate: not made"
mitm "$tmp/forged.pem" "the genuine evidence in the host's own certificate" E_TUNNEL_BINDING
# shellcheck disable=SC2086
expect "the genuine endpoint, taken for another order: refused" 1 "E_TUNNEL_ORDER" -- \
	"$cvm" connect "127.0.0.1:$rport" $check --order "$tmp/order-svc-2.json"
echo "{\"tdx\": {\"rtmr0\": \"$(printf '5b%.0s' $(seq 48))\"}}" >"$tmp/pins-other.json"
expect "the endpoint held to another launch's values: refused" 1 "E_TUNNEL_REFERENCE" -- \
	"$cvm" connect "127.0.0.1:$rport" --reference "$tmp/images/default/manifest.json" --builder "$builder" \
	--pins "$tmp/pins-other.json" --test-roots "$pki/tdx/roots.pem" --order "$tmp/order-svc-1.json"

# ---- the host at the terminator's port: garbage, handshakes never finished, a forged stop ----
$py - "$rport" <<'EOP' >"$tmp/junk.out" 2>&1
import os, socket, sys, time
port = int(sys.argv[1])
held = []
for i in range(20):  # bytes that are not TLS
    s = socket.create_connection(("127.0.0.1", port)); s.sendall(os.urandom(600)); s.close()
for i in range(10):  # connections that never send a byte
    held.append(socket.create_connection(("127.0.0.1", port)))
time.sleep(1)
print("sent")
EOP
head -c 64 /dev/zero | timeout 60 openssl s_client -connect "127.0.0.1:$rport" -tls1_3 -alpn cvm-stop/1 -quiet \
	>"$tmp/zerostop.out" 2>/dev/null
# shellcheck disable=SC2086
expect "the host's garbage, stalled handshakes and a zero signature as a stop: the service still serves" 0 "$marker" -- \
	"$cvm" fetch "https://127.0.0.1:$rport/index.html" $check --order "$tmp/order-svc-1.json"
grep -q '"stopped":true' "$tmp/run-1/status" && bad "a forged stop ended the service" ||
	ok "a zero signature as a stop: not taken"

# ---- the end: a stranger's stop refused, the customer's taken ----
# shellcheck disable=SC2086
expect "a stop signed by a stranger: refused" 1 "E_TUNNEL_STOP" -- \
	"$cvm" connect "127.0.0.1:$rport" $check --stop --order "$tmp/order-svc-1.json" --key "$tmp/stranger.key"
# shellcheck disable=SC2086
expect "the customer's stop: the service ends" 0 "the service stops" -- \
	"$cvm" connect "127.0.0.1:$rport" $check --stop --order "$tmp/order-svc-1.json" --key "$tmp/customer.key"
wait "$run1"
st=$?
[ "$st" -eq 0 ] && ok "the service order: cvm run exit 0" || { bad "cvm run exit $st"; cat "$tmp/run-1.stderr"; }
grep -q '"phase":"tunnel","ok":true,"connections"' "$tmp/run-1/status" &&
	grep -q '"stopped":true' "$tmp/run-1/status" && grep -q '"idle":0,' "$tmp/run-1/status" &&
	ok "the agent's status: the tunnel closed, none idle past its limit, the job stopped by the customer" ||
	{ bad "status after the stop"; cat "$tmp/run-1/status"; }
[ "$(js "$tmp/run-1.summary" "s['tunnel']['address']")" = "127.0.0.1:$tport" ] &&
	ok "the summary names the tunnel" || bad "the summary's tunnel"
opener() { # BUNDLE ORDER OUT
	# shellcheck disable=SC2086
	"$cvm" result open "$1" --key "$tmp/customer.key" --order "$2" $check -o "$3"
}
expect "the customer opens the service's result" 0 "verified and opened" -- \
	opener "$tmp/up/order-svc-1.cvmr" "$tmp/order-svc-1.json" "$tmp/result-1"
n=$(wc -l <"$tmp/result-1/output/access.log" 2>/dev/null || echo 0)
[ "$n" -ge 1001 ] && ok "its access log: $n requests served" || bad "access log: $n lines"

# ---- a service that ends at its deadline, with a host's connection that says nothing ----
tport2=$(free_port)
"$cvm" run "$tmp/order-svc-2.json" --workdir "$tmp/run-2" --images "$tmp/images" --output-size 67108864 \
	--tunnel "127.0.0.1:$tport2" >"$tmp/run-2.summary" 2>"$tmp/run-2.stderr" &
run2=$!
pids="$pids $run2"
wait_tunnel "$tmp/run-2" || bad "no tunnel line (deadline run)"
$py - "$tport2" >"$tmp/quiet.out" 2>&1 <<'EOP' &
import socket, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=60))
print("ended" if s.recv(1) == b"" else "data")
EOP
quiet=$!
wait "$run2"
st=$?
wait "$quiet"
[ "$st" -eq 0 ] && grep -q '"timed_out":true' "$tmp/run-2/status" &&
	ok "a service at its deadline: ended, cvm run exit 0" || { bad "deadline run: exit $st"; cat "$tmp/run-2/status"; }
grep -q '"phase":"tunnel","ok":true,"connections":1,.*"idle":1,' "$tmp/run-2/status" &&
	grep -q ended "$tmp/quiet.out" &&
	ok "a connection quiet for the service's idle_seconds: closed by the agent" ||
	{ bad "the quiet connection was not closed as idle"; grep '"tunnel"' "$tmp/run-2/status"; cat "$tmp/quiet.out"; }
expect "its result, sealed and opened" 0 "verified and opened" -- \
	opener "$tmp/up/order-svc-2.cvmr" "$tmp/order-svc-2.json" "$tmp/result-2"

summary "e2e tunnel"

#!/bin/sh
# cvm connect and cvm fetch as a user meets them: usage errors (exit 2, one
# line), an endpoint that cannot be reached (exit 3), and TLS endpoints that
# are not attested tunnels: a plain certificate, a TLS 1.2 server, a peer
# that never answers the handshake (exit 1 or 3, each named). The attested
# endpoint itself: tests/unit/test_tunnel_conn.c on loopback,
# tests/e2e/test_tunnel.sh in QEMU.
set -u
cvm=${CVM_BIN:?}
tmp=${CVM_TEST_TMP:?}/cli-connect
rm -rf "$tmp" && mkdir -p "$tmp"
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	return 0
}
trap cleanup EXIT INT TERM

ref="--accept-unpinned-image"
for v in connect fetch; do
	expect "$v --help" 0 "--reference" -- "$cvm" "$v" --help
	expect "$v: no target" 2 "one target" -- "$cvm" "$v" $ref
	expect "$v: two targets" 2 "one target" -- "$cvm" "$v" 127.0.0.1:1 127.0.0.1:2 $ref
	for t in 127.0.0.1 127.0.0.1:0 127.0.0.1:65536 "a b:80" ":80" "127.0.0.1:8x"; do
		expect "$v: target '$t' refused" 2 "one target" -- "$cvm" "$v" "$t" $ref
	done
	expect "$v: neither --reference nor --accept-unpinned-image" 2 "--reference FILE" -- \
		"$cvm" "$v" 127.0.0.1:9
	expect "$v: both" 2 "not both" -- "$cvm" "$v" 127.0.0.1:9 $ref --reference /nonexistent
	expect "$v: --pins without --reference" 2 "go with --reference" -- \
		"$cvm" "$v" 127.0.0.1:9 $ref --pins x.json
	expect "$v: --timeout-ms 0" 2 "--timeout-ms: 1 to 600000" -- "$cvm" "$v" 127.0.0.1:9 $ref --timeout-ms 0
	expect "$v: an unknown option" 2 "unknown option" -- "$cvm" "$v" 127.0.0.1:9 $ref --bogus
	expect "$v: --reference missing" 2 "nonexistent" -- "$cvm" "$v" 127.0.0.1:9 --reference "$tmp/nonexistent"
	expect "$v: --order missing" 2 "nonexistent" -- "$cvm" "$v" 127.0.0.1:9 $ref --order "$tmp/nonexistent"
done
expect "fetch: --listen is connect's" 2 "cvm connect's" -- "$cvm" fetch https://127.0.0.1:9/ $ref --listen 0
expect "connect: --stop without --order" 2 "--stop needs --order and --key" -- \
	"$cvm" connect 127.0.0.1:9 --stop --key k
expect "connect: --listen not an address" 2 "--listen" -- \
	"$cvm" connect 127.0.0.1:9 $ref --listen nope --timeout-ms 500

# nothing listens: 3, named
dead=$(free_port)
expect "connect: nothing listens" 3 "E_TUNNEL_CONNECT" -- "$cvm" connect "127.0.0.1:$dead" $ref
expect "fetch: nothing listens" 3 "E_TUNNEL_CONNECT" -- "$cvm" fetch "https://127.0.0.1:$dead/x" $ref
expect "connect: a name that does not resolve" 3 "E_TUNNEL_CONNECT" -- \
	"$cvm" connect no-such-host.invalid:443 $ref

# a TLS 1.3 server with an ordinary certificate; a TLS 1.2 one; a peer that never answers
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/k.pem" \
	-out "$tmp/c.pem" -days 1 -subj "/CN=plain" 2>/dev/null
p13=$(free_port)
openssl s_server -accept "127.0.0.1:$p13" -cert "$tmp/c.pem" -key "$tmp/k.pem" -tls1_3 -www -quiet \
	>/dev/null 2>&1 &
pids="$pids $!"
p12=$(free_port)
openssl s_server -accept "127.0.0.1:$p12" -cert "$tmp/c.pem" -key "$tmp/k.pem" -tls1_2 -www -quiet \
	>/dev/null 2>&1 &
pids="$pids $!"
silent=$(free_port)
/usr/bin/python3 -c 'import socket,sys,time
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8)
held=[]
while True:
    c,_=s.accept(); held.append(c)' "$silent" &
pids="$pids $!"
wait_port "$p13" && wait_port "$p12" && wait_port "$silent" || bad "the test servers did not start"
expect "connect: a certificate without evidence" 1 "E_TUNNEL_NO_EVIDENCE" -- "$cvm" connect "127.0.0.1:$p13" $ref
expect "fetch: a certificate without evidence" 1 "E_TUNNEL_NO_EVIDENCE" -- \
	"$cvm" fetch "https://127.0.0.1:$p13/" $ref
expect "connect: TLS 1.2 only" 3 "E_TUNNEL_HANDSHAKE" -- "$cvm" connect "127.0.0.1:$p12" $ref
expect "connect: a peer that never answers the handshake" 3 "E_TUNNEL_HANDSHAKE" -- \
	"$cvm" connect "127.0.0.1:$silent" $ref --timeout-ms 500

summary "cli connect"

# A service order's tunnel as a hostile host presents it to the customer's
# client: TLS endpoints of its own on loopback (openssl s_server) whose
# certificates carry no evidence, an evidence extension that is not an
# OCTET STRING, has bytes after it, is oversized, holds text that is not
# the evidence document, of an unknown tee, or evidence that does not
# parse; a critical extension nobody knows; keys other than P-256; a TLS
# 1.2 endpoint; a peer that never finishes the handshake. cvm connect and
# cvm fetch refuse each by name before a byte goes through. The genuine
# endpoint and the attacks that need one (copied evidence, a leaked key
# replayed, another order): tests/unit/test_tunnel_conn.c,
# tests/e2e/test_tunnel.sh.
# shellcheck shell=sh

oid=2.25.28197913428175295069958585811243785146.1
py=/usr/bin/python3
tls_pids=""

# hexder TEXT: the DER OCTET STRING of TEXT, as openssl's -addext DER: wants it
hexder() {
	printf '%s' "$1" | $py -c 'import sys
b = sys.stdin.buffer.read()
n = len(b)
h = bytes([4, n]) if n < 128 else bytes([4, 0x82, n >> 8, n & 255]) if n < 65536 else bytes([4, 0x83, n >> 16, (n >> 8) & 255, n & 255])
print(":".join("%02X" % x for x in h + b))'
}

hexder_stdin() { hexder "$(cat)"; }

# endpoint NAME KEYALG EXT...: a TLS 1.3 server of its own certificate on a free port ($port)
endpoint() {
	e_name=$1 e_alg=$2
	shift 2
	printf '[req]\ndistinguished_name=dn\nprompt=no\n[dn]\nCN=%s\n[ext]\n' "$e_name" >"$tmp/$e_name.cnf"
	for e in "$@"; do printf '%s\n' "$e" >>"$tmp/$e_name.cnf"; done
	openssl req -x509 -newkey "$e_alg" -nodes -keyout "$tmp/$e_name.key" -out "$tmp/$e_name.pem" \
		-days 1 -config "$tmp/$e_name.cnf" -extensions ext 2>"$tmp/$e_name.err" ||
		{ cat "$tmp/$e_name.err"; return 1; }
	port=$(free_port)
	openssl s_server -accept "127.0.0.1:$port" -cert "$tmp/$e_name.pem" -key "$tmp/$e_name.key" \
		-tls1_3 -www -quiet >/dev/null 2>&1 &
	tls_pids="$tls_pids $!"
	wait_port "$port"
}

conn() { "$cvm" connect "127.0.0.1:$port" --accept-unpinned-image --timeout-ms 3000; }

openssl ecparam -name prime256v1 -out "$tmp/p256.param"
openssl ecparam -name secp384r1 -out "$tmp/p384.param"
endpoint plain ec:"$tmp/p256.param"
attack tunnel-plain-certificate 1 "E_TUNNEL_NO_EVIDENCE" -- conn
attack tunnel-fetch-plain-certificate 1 "E_TUNNEL_NO_EVIDENCE" -- \
	"$cvm" fetch "https://127.0.0.1:$port/" --accept-unpinned-image --timeout-ms 3000
endpoint notoctets ec:"$tmp/p256.param" "$oid=DER:05:00"
attack tunnel-extension-not-an-octet-string 1 "E_TUNNEL_EXTENSION" -- conn
endpoint trailing ec:"$tmp/p256.param" "$oid=DER:04:02:7B:7D:00"
attack tunnel-extension-bytes-after-it 1 "E_TUNNEL_EXTENSION" -- conn
endpoint notjson ec:"$tmp/p256.param" "$oid=DER:$(hexder '{"tee": "tdx", "evidence": ')"
attack tunnel-evidence-not-json 1 "E_TUNNEL_EVIDENCE" -- conn
endpoint extra ec:"$tmp/p256.param" "$oid=DER:$(hexder '{"tee": "tdx", "evidence": {}, "x": 1}')"
attack tunnel-evidence-extra-member 1 "E_TUNNEL_EVIDENCE" -- conn
endpoint sgx ec:"$tmp/p256.param" "$oid=DER:$(hexder '{"tee": "sgx", "evidence": {}}')"
attack tunnel-evidence-unknown-tee 1 "E_TUNNEL_EVIDENCE" -- conn
endpoint badquote ec:"$tmp/p256.param" "$oid=DER:$(hexder '{"tee": "tdx", "evidence": {"quote": "AAAA"}}')"
attack tunnel-evidence-that-does-not-parse 1 "E_TUNNEL_EVIDENCE" -- conn
endpoint badsnp ec:"$tmp/p256.param" "$oid=DER:$(hexder '{"tee": "snp", "evidence": {"attestation_report": 7}}')"
attack tunnel-snp-evidence-that-does-not-parse 1 "E_TUNNEL_EVIDENCE" -- conn
big=$($py -c 'print("{\"tee\": \"tdx\", \"evidence\": {\"pad\": \"" + "a" * 460000 + "\"}}")' | hexder_stdin)
endpoint oversized ec:"$tmp/p256.param" "$oid=DER:$big"
attack tunnel-evidence-oversized 1 "E_TUNNEL_EXTENSION" -- conn
endpoint critical ec:"$tmp/p256.param" "1.2.3.4.5=critical,DER:05:00"
attack tunnel-unknown-critical-extension 1 "E_TUNNEL_EXTENSION" -- conn
endpoint p384 ec:"$tmp/p384.param" "$oid=DER:$(hexder '{"tee": "tdx", "evidence": {}}')"
attack tunnel-p384-key 1 "E_TUNNEL_KEY" -- conn
endpoint rsa rsa:2048 "$oid=DER:$(hexder '{"tee": "tdx", "evidence": {}}')"
attack tunnel-rsa-key 1 "E_TUNNEL_KEY" -- conn
# TLS 1.2 only: no handshake (the client wants 1.3)
port=$(free_port)
openssl s_server -accept "127.0.0.1:$port" -cert "$tmp/plain.pem" -key "$tmp/plain.key" -tls1_2 -www -quiet \
	>/dev/null 2>&1 &
tls_pids="$tls_pids $!"
wait_port "$port"
attack tunnel-tls12-endpoint 3 "E_TUNNEL_HANDSHAKE" -- conn
# a peer that accepts and never answers the handshake
port=$(free_port)
$py -c 'import socket,sys
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8)
held=[]
while True:
    c,_=s.accept(); held.append(c)' "$port" &
tls_pids="$tls_pids $!"
wait_port "$port"
attack tunnel-silent-endpoint 3 "E_TUNNEL_HANDSHAKE" -- conn
for p in $tls_pids; do kill "$p" 2>/dev/null; done
for p in $tls_pids; do wait "$p" 2>/dev/null; done

#!/bin/sh
# cvm connect and cvm fetch as a user meets them: usage errors (exit 2, one
# line) and an endpoint that cannot be reached (exit 3). Endpoints a host
# puts up that are not attested tunnels: tests/hostile/a_tunnel.sh; the
# attested endpoint itself: tests/unit/test_tunnel_conn.c on loopback,
# tests/e2e/test_tunnel.sh in QEMU.
set -u
cvm=${CVM_BIN:?}
tmp=${CVM_TEST_TMP:?}/cli-connect
rm -rf "$tmp" && mkdir -p "$tmp"
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
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

summary "cli connect"

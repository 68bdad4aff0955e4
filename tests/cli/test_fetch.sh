#!/bin/sh
# The workload download of cvm run (host/fetch.c, through tests/e2e/fetch_tool)
# against a hostile file server (fetch_server.py): redirects are followed
# only within the order URL's origin and at most 3 times, never from https
# to http; no proxy of the environment is used; no more than the order's
# size is taken.
set -u
tmp=${CVM_TEST_TMP:?}/cli-fetch
rm -rf "$tmp" && mkdir -p "$tmp"
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
tool=$(dirname "${CVM_TEST_BIN:?}")/e2e/fetch_tool
py=/usr/bin/python3

pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	return 0
}
trap cleanup EXIT INT TERM

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/tls.key" \
	-out "$tmp/tls.pem" -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1,DNS:localhost 2>/dev/null
head -c 100000 /dev/urandom >"$tmp/w.img"
size=100000
sha=$(sha256sum <"$tmp/w.img" | cut -c1-64)
hport=$(free_port)
sport=$(free_port)
pport=$(free_port)
$py "$here/fetch_server.py" "$tmp/w.img" "$hport" "$sport" "$tmp/tls.pem" "$tmp/tls.key" "$tmp/server.log" 2>"$tmp/server.err" &
pids="$pids $!"
# a "proxy" that records whoever comes to it
$py -c 'import socket,sys
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8)
while True:
    c,_=s.accept(); open(sys.argv[2],"a").write("proxied\n"); c.close()' "$pport" "$tmp/proxy.log" &
pids="$pids $!"
wait_port "$hport" && wait_port "$sport" && wait_port "$pport" || bad "the servers did not start"
h=http://127.0.0.1:$hport
s=https://127.0.0.1:$sport
get() { rm -f "$tmp/got" "$tmp/got.part"; "$tool" "$1" "$tmp/got" "${2:-$size}" "$sha" "$tmp/tls.pem"; }

expect "a plain download" 0 "" -- get "$h/w.img"
cmp -s "$tmp/got" "$tmp/w.img" && ok "the download is the file" || bad "download differs"
expect "https download" 0 "" -- get "$s/w.img"
expect "a redirect within the origin is followed" 0 "" -- get "$h/same"
expect "3 redirects within the origin are followed" 0 "" -- get "$h/hops/3"
expect "a redirect to another host is refused" 1 "E_WORKLOAD_FETCH: a redirect to another origin" -- get "$h/other"
expect "a redirect to another port is refused" 1 "E_WORKLOAD_FETCH: a redirect to another origin" -- get "$h/otherport"
expect "a redirect to another scheme is refused" 1 "E_WORKLOAD_FETCH: a redirect to another origin" -- get "$h/tohttps"
expect "a redirect from https to http is refused" 1 "E_WORKLOAD_FETCH: a redirect from https to http" -- get "$s/down"
expect "4 redirects are too many" 1 "E_WORKLOAD_FETCH: .* more than 3 redirects" -- get "$h/hops/4"
expect "an endless redirect loop ends" 1 "E_WORKLOAD_FETCH: .* more than 3 redirects" -- get "$h/loop/0"
grep -q "^localhost" "$tmp/server.log" && bad "the other host was asked" || ok "the other host was never asked"
grep -q "/w.img" "$tmp/server.log" && [ "$(grep -c "^127.0.0.1:$sport /w.img" "$tmp/server.log")" -eq 1 ] &&
	ok "the other port was never asked (only the https download went there)" || bad "the other port was asked"
# what the same request will meet again is not retried; what may pass is
for code in 400 403 404 410 501 505 503 500 429; do
	case $code in 5[0-9][0-9]) case $code in 501|505) n=1 ;; *) n=3 ;; esac ;; 429) n=3 ;; *) n=1 ;; esac
	expect "HTTP $code" 1 "HTTP $code" -- "$tool" "$h/status/$code" "$tmp/got" "$size" "$sha" - 3
	got=$(grep -c " /status/$code\$" "$tmp/server.log")
	[ "$got" = "$n" ] && ok "HTTP $code: $n request(s) of 3 attempts" || bad "HTTP $code: $got requests, expected $n"
done
# presigned S3 URLs, GET for a volume and PUT for the result, against s3rver (npm, an
# S3-compatible server; it does not check signatures: what is proven is that the
# query string goes through whole and S3's answers are taken as they should be)
s3=${CVM_NPM_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/cvm/npm}/node_modules/.bin/s3rver
s3port=$(free_port)
mkdir -p "$tmp/s3"
if [ -x "$s3" ]; then
	"$s3" -d "$tmp/s3" -a 127.0.0.1 -p "$s3port" -s --no-vhost-buckets --configure-bucket orders >"$tmp/s3.log" 2>&1 &
	pids="$pids $!"
	wait_port "$s3port" || bad "s3rver did not start"
	put=$($py "$here/s3_presign.py" PUT "127.0.0.1:$s3port" /orders/w.img)
	expect "S3: a presigned PUT takes the upload" 0 "HTTP 200" -- "$tool" --upload "$put" "$tmp/w.img"
	get=$($py "$here/s3_presign.py" GET "127.0.0.1:$s3port" /orders/w.img)
	expect "S3: a presigned GET fetches it, SHA-256 as ordered" 0 "" -- "$tool" "$get" "$tmp/got" "$size" "$sha" - 3
	cmp -s "$tmp/got" "$tmp/w.img" && ok "S3: the same bytes" || bad "S3: bytes differ"
	missing=$($py "$here/s3_presign.py" GET "127.0.0.1:$s3port" /orders/none.img)
	expect "S3: a missing object is refused (HTTP 404)" 1 "HTTP 404" -- "$tool" "$missing" "$tmp/got-none" "$size" "$sha" - 3
	put2=$($py "$here/s3_presign.py" PUT "127.0.0.1:$s3port" /no-bucket/r.cvmr)
	expect "S3: a PUT to a bucket that is not there is refused (HTTP 404)" 1 "HTTP 404" -- \
		"$tool" --upload "$put2" "$tmp/w.img" 3
else
	bad "S3: no s3rver at $s3 (scripts/setup-deps installs it)"
fi
expect "more than the order's size is refused" 1 "E_WORKLOAD_SIZE: the server sends more than the order's" -- get "$h/big"
[ ! -e "$tmp/got" ] && [ ! -s "$tmp/got.part" ] && ok "an oversized download keeps nothing" || bad "oversized: a file was kept"
: >"$tmp/proxy.log"
expect "the environment's proxies are not used" 0 "" -- env http_proxy="http://127.0.0.1:$pport" HTTP_PROXY="http://127.0.0.1:$pport" \
	https_proxy="http://127.0.0.1:$pport" all_proxy="http://127.0.0.1:$pport" "$tool" "$h/w.img" "$tmp/gotp" "$size" "$sha"
[ ! -s "$tmp/proxy.log" ] && ok "nobody came to the proxy" || bad "the download went through the environment's proxy"

summary "cli fetch"

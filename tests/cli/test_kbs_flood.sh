#!/bin/sh
# cvm kbs serve under flood (docs/kbs.md, "Limits"): while floods of /auth,
# of refused /attest (each with 60 KB of evidence), of guessed session ids
# and of idle connections run on loopback, a genuine guest (cvm-test
# kbs-client, sim TDX evidence) still gets its key, every time; the broker's
# memory stays within FLOOD_RSS_KB of what it was before; a connection that
# trickles is cut; the port of "listen" is parsed strictly.
set -u
cvm=${CVM_BIN:?}
cvmt=${CVM_TEST_BIN:?}
pki=${CVM_TEST_PKI:?}
tmp=${CVM_TEST_TMP:?}/cli-kbs-flood
rm -rf "$tmp" && mkdir -p "$tmp"
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
py=/usr/bin/python3
# The bound on the broker's growth under these floods. Before sessions were
# freed on refusal, 1,000 refused /attest grew it by 200 MB.
bound=${FLOOD_RSS_KB:-32768}
# ASan keeps freed memory in quarantine; a small one keeps the bound meaningful.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=4"

pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	return 0
}
trap cleanup EXIT INT TERM

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/tls.key" \
	-out "$tmp/tls.pem" -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null
store=$tmp/store
head -c 64 /dev/urandom >"$tmp/volkey"
mrtd=$($py -c 'print(bytes(range(48)).hex())')
zero=$(printf '%096d' 0)
echo "{\"reference\":{\"tdx\":{\"mrtd\":\"$mrtd\",\"rtmr0\":\"$zero\",\"rtmr1\":\"$zero\",\"rtmr2\":\"$zero\"}}}" >"$tmp/vol.json"
"$cvm" kbs add-resource --store "$store" default/key/vol "$tmp/volkey" >/dev/null
"$cvm" kbs set-policy --store "$store" default/key/vol "$tmp/vol.json" >/dev/null
# genuine sim evidence that binds other data: parsed by the broker, then refused
"$cvmt" kbs-client --tee sim --sim-pki "$pki" --evidence "$(printf '00%.0s' $(seq 64))" -o "$tmp/ev.json"

# ---- the port of "listen" ----
for p in -1 0 65536 abc 1x ""; do
	cat >"$tmp/badport.json" <<EOC
{"listen": "127.0.0.1:$p", "tls_cert": "$tmp/tls.pem", "tls_key": "$tmp/tls.key", "store": "$store"}
EOC
	expect "listen port '$p' refused" 2 "PORT 1 to 65535" -- "$cvm" kbs serve --config "$tmp/badport.json"
done
for m in 7 65537 '"64"'; do
	cat >"$tmp/badconns.json" <<EOC
{"listen": "127.0.0.1:1", "tls_cert": "$tmp/tls.pem", "tls_key": "$tmp/tls.key", "store": "$store", "max_connections": $m}
EOC
	expect "max_connections $m refused" 2 "max_connections" -- "$cvm" kbs serve --config "$tmp/badconns.json"
done
expect "kbs-client --retries -1 refused" 2 "retries" -- "$cvmt" kbs-client --retries -1 --url https://127.0.0.1:1 --resource a/b/c -o x
expect "kbs-client --timeout abc refused" 2 "timeout" -- "$cvmt" kbs-client --timeout abc --url https://127.0.0.1:1 --resource a/b/c -o x

# ---- a broker with a small session pool, so that the floods overflow it many times ----
port=$(free_port)
cat >"$tmp/kbs.json" <<EOC
{"listen": "127.0.0.1:$port", "tls_cert": "$tmp/tls.pem", "tls_key": "$tmp/tls.key",
 "store": "$store", "timeout": 3, "max_sessions": 400, "max_connections": 128,
 "test_roots": {"snp": "$pki/snp/roots.pem", "tdx": "$pki/tdx/roots.pem"},
 "tdx_without_collateral": true}
EOC
"$cvm" kbs serve --config "$tmp/kbs.json" 2>"$tmp/broker.log" &
bpid=$!
pids="$pids $bpid"
wait_port "$port" && ok "the broker listens" || { bad "the broker did not start"; cat "$tmp/broker.log"; }
url=https://127.0.0.1:$port
rss() { awk '/^VmRSS/ {print $2}' "/proc/$bpid/status"; }
guest() { "$cvmt" kbs-client --url "$url" --cacert "$tmp/tls.pem" --tee sim --sim-pki "$pki" --resource default/key/vol -o "$1"; }
guest "$tmp/warm" && ok "a genuine guest before the flood" || bad "no key before the flood"
sleep 1
rss0=$(rss)

flood() { # NAME MODE N [ARGS]
	f=$1
	shift
	$py "$here/kbs_flood.py" "$port" "$tmp/tls.pem" "$@" >"$tmp/flood.$f" 2>&1 &
	pids="$pids $!"
	eval "fpid_$f=$!"
}
flood auth1 auth 3000
flood auth2 auth 3000
flood keep auth-keep 3000
flood attest attest 600 "$tmp/ev.json" 60000
flood guess guess 3000
sleep 1
# idle connections beyond max_connections (128): the oldest make room
$py "$here/kbs_flood.py" "$port" "$tmp/tls.pem" idle 300 4 >"$tmp/idle.out" 2>&1 &
idle=$!
pids="$pids $idle"
sleep 1
n=0 got=0 worst=0
while [ $n -lt 8 ]; do
	t0=$(date +%s%N)
	rm -f "$tmp/got"
	if guest "$tmp/got" 2>>"$tmp/guest.err" && cmp -s "$tmp/got" "$tmp/volkey"; then
		got=$((got + 1))
	fi
	ms=$((($(date +%s%N) - t0) / 1000000))
	[ $ms -gt $worst ] && worst=$ms
	n=$((n + 1))
done
[ $got -eq $n ] && ok "a genuine guest under flood gets its key ($got of $n, slowest ${worst} ms)" ||
	{ bad "genuine guest under flood: $got of $n released"; cat "$tmp/guest.err"; }
for f in auth1 auth2 keep attest guess; do
	eval "wait \$fpid_$f"
done
wait "$idle"
cat "$tmp/flood.auth1" "$tmp/flood.auth2" "$tmp/flood.keep" "$tmp/flood.attest" "$tmp/flood.guess" "$tmp/idle.out" | sed 's/^/# /'
grep -q '"200": 3000' "$tmp/flood.auth1" && grep -q '"200": 3000' "$tmp/flood.auth2" &&
	ok "every /auth of the flood was answered (no TooManySessions)" || bad "an /auth of the flood was refused"
# on a kept connection each /auth drops the session of the one before: at most one waits
$py -c 'import json,sys; c=json.load(open(sys.argv[1])); sys.exit(0 if c.get("200", 0) > 2900 else 1)' "$tmp/flood.keep" &&
	[ "$(grep -c 'dropped unattested (a new /auth on its connection)' "$tmp/broker.log")" -gt 2800 ] &&
	ok "3000 /auth on a kept connection: each dropped the session before it" ||
	bad "auth on a kept connection: $(cat "$tmp/flood.keep")"
grep -q 'evicted unattested' "$tmp/broker.log" && ok "the flood overflowed the pool: the oldest waiting sessions were evicted" ||
	bad "no eviction: the flood did not reach the limit"
grep -q '"401": 600' "$tmp/flood.attest" && ok "600 refused /attest with 60 KB of evidence each" || bad "attest flood: $(cat "$tmp/flood.attest")"
# (a flooder's connection may be cut to make room for others: it reconnects)
$py -c 'import json,sys; c=json.load(open(sys.argv[1])); c.pop("seconds"); sys.exit(0 if set(c) <= {"401", "closed"} and c.get("401", 0) > 2900 else 1)' "$tmp/flood.guess" &&
	ok "3000 guessed session ids: none accepted" || bad "guess flood: $(cat "$tmp/flood.guess")"
grep -q 'max_connections' "$tmp/broker.log" && ok "300 idle connections: the oldest were cut to make room" || bad "no connection was cut"
guest "$tmp/got" && ok "a genuine guest after the flood" || bad "no key after the flood"
sleep 2 # a sweep gives freed memory back
rss1=$(rss)
echo "# broker RSS before the flood ${rss0} kB, after ${rss1} kB"
[ $((rss1 - rss0)) -lt "$bound" ] && ok "memory after the flood within ${bound} kB of before (+$((rss1 - rss0)) kB)" ||
	bad "memory grew by $((rss1 - rss0)) kB (bound $bound)"

# ---- a connection that trickles one byte a second is cut (connection_ttl = 3 x timeout) ----
$py "$here/kbs_flood.py" "$port" "$tmp/tls.pem" slow 30 >"$tmp/slow.out" 2>&1
after=$($py -c 'import json,sys; print(json.load(open(sys.argv[1]))["closed_after"])' "$tmp/slow.out")
case $after in
None) bad "a trickling connection stayed open 30 s" ;;
*) $py -c "import sys; sys.exit(0 if float('$after') <= 11 else 1)" &&
	ok "a trickling connection is cut after ${after} s" || bad "trickling connection cut only after $after s" ;;
esac

kill "$bpid" && wait "$bpid" 2>/dev/null
grep -q 'stopping on signal 15' "$tmp/broker.log" && ok "the broker stops cleanly after the floods" || bad "no clean stop"
if grep -q -e 'Sanitizer' -e 'runtime error' "$tmp/broker.log"; then
	bad "sanitizer reports in the broker's log"
	grep -e 'Sanitizer' -e 'runtime error' -A5 "$tmp/broker.log" | head -40
else
	ok "no sanitizer report from the broker"
fi

summary "cli kbs flood"

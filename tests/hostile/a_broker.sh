# The key broker under flood, and the host tools' other inputs a host
# controls: floods of /auth, of refused /attest and of guessed session ids
# while a genuine guest must still get its key; the broker's memory after
# them; oversized bodies, silent and trickling connections; bad ports;
# result bundles whose sealed tar is hostile; a workload server that
# redirects elsewhere or sends too much.
# shellcheck shell=sh

py=/usr/bin/python3
cli=$top/tests/cli
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/tls.key" \
	-out "$tmp/tls.pem" -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1,DNS:localhost 2>/dev/null
store=$tmp/store
head -c 64 /dev/urandom >"$tmp/volkey"
secret "$(od -An -v -tx1 "$tmp/volkey" | tr -d ' \n')"
secret "$(base64 -w0 "$tmp/volkey")"
mrtd=$($py -c 'print(bytes(range(48)).hex())')
zero=$(printf '%096d' 0)
echo "{\"reference\":{\"tdx\":{\"mrtd\":\"$mrtd\",\"rtmr0\":\"$zero\",\"rtmr1\":\"$zero\",\"rtmr2\":\"$zero\"}}}" >"$tmp/vol.json"
"$cvm" kbs add-resource --store "$store" default/key/vol "$tmp/volkey" >/dev/null
"$cvm" kbs set-policy --store "$store" default/key/vol "$tmp/vol.json" >/dev/null
"$cvm_test" kbs-client --tee sim --sim-pki "$pki" --evidence "$(printf '00%.0s' $(seq 64))" -o "$tmp/ev.json"

# ---- the port of "listen" ----
for p in -1 0 65536 abc; do
	echo "{\"listen\": \"127.0.0.1:$p\", \"tls_cert\": \"$tmp/tls.pem\", \"tls_key\": \"$tmp/tls.key\", \"store\": \"$store\"}" >"$tmp/port.json"
	attack "broker-listen-port-$p" 2 "PORT 1 to 65535" -- "$cvm" kbs serve --config "$tmp/port.json"
done

# ---- floods, with a genuine guest among them ----
port=$(free_port)
cat >"$tmp/kbs.json" <<EOC
{"listen": "127.0.0.1:$port", "tls_cert": "$tmp/tls.pem", "tls_key": "$tmp/tls.key",
 "store": "$store", "timeout": 3, "max_sessions": 400, "max_connections": 128,
 "test_roots": {"snp": "$pki/snp/roots.pem", "tdx": "$pki/tdx/roots.pem"},
 "tdx_without_collateral": true}
EOC
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=4" "$cvm" kbs serve --config "$tmp/kbs.json" 2>"$tmp/broker.log" &
bpid=$!
wait_port "$port"
rss() { awk '/^VmRSS/ {print $2}' "/proc/$bpid/status"; }
guest() {
	rm -f "$tmp/got"
	"$cvm_test" kbs-client --url "https://127.0.0.1:$port" --cacert "$tmp/tls.pem" --tee sim \
		--sim-pki "$pki" --resource default/key/vol -o "$tmp/got" 2>>"$tmp/guest.err" && cmp -s "$tmp/got" "$tmp/volkey"
}
guest
sleep 1
rss0=$(rss)
flood() { # NAME MODE N [ARGS]
	f=$1
	shift
	$py "$cli/kbs_flood.py" "$port" "$tmp/tls.pem" "$@" >"$tmp/flood.$f" 2>&1 &
	eval "fpid_$f=$!"
}
flood auth1 auth 2500
flood auth2 auth 2500
flood attest attest 500 "$tmp/ev.json" 60000
flood guess guess 2000
sleep 1
n=0 got=0
while [ $n -lt 5 ]; do
	guest && got=$((got + 1))
	n=$((n + 1))
done
record broker-auth-flood-genuine-guest-released "5 of 5" "$got of 5"
for f in auth1 auth2 attest guess; do eval "wait \$fpid_$f"; done
grep -q '"200": 2500' "$tmp/flood.auth1" && grep -q '"200": 2500' "$tmp/flood.auth2" && seen=answered || seen="$(cat "$tmp/flood.auth1")"
record broker-auth-flood-no-toomanysessions answered "$seen"
grep -q 'evicted unattested' "$tmp/broker.log" && seen=evicted || seen="no eviction"
record broker-auth-flood-oldest-evicted evicted "$seen"
grep -q '"401": 500' "$tmp/flood.attest" && seen=refused || seen="$(cat "$tmp/flood.attest")"
record broker-refused-attest-flood-refused refused "$seen"
$py -c 'import json,sys; c=json.load(open(sys.argv[1])); c.pop("seconds"); sys.exit(0 if set(c) <= {"401", "closed"} else 1)' "$tmp/flood.guess" &&
	seen="none accepted" || seen="$(cat "$tmp/flood.guess")"
record broker-session-id-guess "none accepted" "$seen"
sleep 2
rss1=$(rss)
grow=$((rss1 - rss0))
[ "$grow" -lt 32768 ] && seen="under 32 MB" || seen="grew ${grow} kB"
record broker-refused-attest-flood-rss-bound "under 32 MB" "$seen"
echo "    | broker RSS ${rss0} kB before the floods, ${rss1} kB after"

# ---- idle connections beyond the 128 (max_connections) the broker keeps ----
$py "$cli/kbs_flood.py" "$port" "$tmp/tls.pem" idle 300 3 >"$tmp/idle.out" 2>&1 &
idle=$!
sleep 1.5
guest && seen=released || seen=refused
wait "$idle"
record broker-connection-flood-genuine-guest-released released "$seen"

# ---- bodies and slow peers ----
$py "$cli/kbs_flood.py" "$port" "$tmp/tls.pem" body 400000 >"$tmp/body.out" 2>&1
grep -Eq '"(413|closed)": 1' "$tmp/body.out" && seen=refused || seen="$(cat "$tmp/body.out")"
record broker-oversized-body refused "$seen"
cut_within() { # LIMIT FILE: "cut" when the broker closed the connection within LIMIT seconds
	$py -c 'import json,sys; a=json.load(open(sys.argv[2]))["closed_after"]; print("cut" if a is not None and a <= float(sys.argv[1]) else "open %s" % a)' "$1" "$2"
}
$py "$cli/kbs_flood.py" "$port" "$tmp/tls.pem" silent 15 >"$tmp/silent.out" 2>&1
record broker-slowloris-silent-connection cut "$(cut_within 5 "$tmp/silent.out")"
$py "$cli/kbs_flood.py" "$port" "$tmp/tls.pem" slow 20 >"$tmp/slow.out" 2>&1
record broker-slowloris-byte-per-second cut "$(cut_within 11 "$tmp/slow.out")"
kill "$bpid"
wait "$bpid" 2>/dev/null
no_secret broker-log-after-floods "$tmp/broker.log"
grep -q -e 'Sanitizer' -e 'runtime error' "$tmp/broker.log" && seen=reports || seen=none
record broker-floods-no-sanitizer-report none "$seen"

# ---- result bundles whose sealed tar is hostile ----
"$cvm" keygen -o "$tmp/customer.key" >"$tmp/pub"
pub=$(cat "$tmp/pub")
sim_evidence_cmd "$tmp/ev-tdx.sh" "$cvm_test" "$pki" "$mrtd" log
mkdir -p "$tmp/stage"
tarseal() { # KIND [N]
	$py "$cli/craft_tar.py" "$1" "$tmp/$1.tar" ${2:-} &&
		$py "$cli/seal_result.py" --recipient "$pub" --order-id order-tar --stage "$tmp/stage" \
			--evidence-cmd "$tmp/ev-tdx.sh" --tar "$tmp/$1.tar" "$tmp/$1.cvmr" >/dev/null
}
tar_attack() { # NAME PATTERN KIND [options]
	t_name=$1 t_pat=$2 t_kind=$3
	shift 3
	rm -rf "$tmp/res" "$tmp/res.part"
	attack "$t_name" 1 "$t_pat" -- "$cvm" result open "$tmp/$t_kind.cvmr" --test-roots "$pki/tdx/roots.pem" \
		--accept-unpinned-image --key "$tmp/customer.key" -o "$tmp/res" "$@"
	if [ -e "$tmp/res" ] || [ -e "$tmp/res.part" ]; then
		line "$t_name-nothing-extracted" fail "no output directory" "$(du -sh "$tmp/res"* | head -1)"
		rm -rf "$tmp/res" "$tmp/res.part"
	fi
}
for k in sparse big many dotdot abs symlink hardlink device fifo; do tarseal "$k"; done
tar_attack result-tar-sparse-1gib E_RESULT_SPARSE sparse
tar_attack result-tar-declared-beyond-max-size E_RESULT_TOO_LARGE big --max-size 1M
tar_attack result-tar-declared-size-not-there E_RESULT_TAR big
tar_attack result-tar-too-many-entries E_RESULT_TOO_MANY many --max-entries 10
tar_attack result-tar-dotdot "E_RESULT_UNSAFE: entry 3 has an empty, '.' or '..'" dotdot
tar_attack result-tar-absolute-path "E_RESULT_UNSAFE: entry 3 has an absolute path" abs
tar_attack result-tar-symlink "E_RESULT_UNSAFE: entry 3 is a symbolic link" symlink
tar_attack result-tar-hardlink "E_RESULT_UNSAFE: entry 3 is a hard link" hardlink
tar_attack result-tar-device-node "E_RESULT_UNSAFE: entry 3 is a device" device
tar_attack result-tar-fifo "E_RESULT_UNSAFE: entry 3 is a device, FIFO" fifo

# ---- the workload download against a hostile file server ----
fetch_tool="$top/$build/e2e/fetch_tool"
head -c 100000 /dev/urandom >"$tmp/w.img"
wsha=$(sha256sum <"$tmp/w.img" | cut -c1-64)
hport=$(free_port)
sport=$(free_port)
$py "$cli/fetch_server.py" "$tmp/w.img" "$hport" "$sport" "$tmp/tls.pem" "$tmp/tls.key" "$tmp/files.log" 2>/dev/null &
fspid=$!
wait_port "$hport"
wait_port "$sport"
fetch() { # NAME PATTERN URL
	rm -f "$tmp/w.got" "$tmp/w.got.part"
	attack "$1" 1 "$2" -- "$fetch_tool" "$3" "$tmp/w.got" 100000 "$wsha" "$tmp/tls.pem"
}
fetch fetch-redirect-other-host "E_WORKLOAD_FETCH: a redirect to another origin" "http://127.0.0.1:$hport/other"
fetch fetch-redirect-other-port "E_WORKLOAD_FETCH: a redirect to another origin" "http://127.0.0.1:$hport/otherport"
fetch fetch-redirect-https-to-http "E_WORKLOAD_FETCH: a redirect from https to http" "https://127.0.0.1:$sport/down"
fetch fetch-too-many-redirects "E_WORKLOAD_FETCH: .*more than 3 redirects" "http://127.0.0.1:$hport/loop/0"
fetch fetch-oversized-body "E_WORKLOAD_SIZE" "http://127.0.0.1:$hport/big"
grep -q '^localhost' "$tmp/files.log" && seen=asked || seen="never asked"
record fetch-other-host-never-asked "never asked" "$seen"
kill "$fspid"
wait "$fspid" 2>/dev/null

# The key broker as a malicious host attacks it: evidence of another image,
# key or platform, policies that would pin too little, a broker started on
# a bad store, and the protocol spoken by hand (tests/cli/kbs_protocol.py).
# No attack gets the key; the broker's log never holds it.
# shellcheck shell=sh

py=/usr/bin/python3
for n in tls other; do
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/$n.key" \
		-out "$tmp/$n.pem" -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null
done
store=$tmp/store
head -c 64 /dev/urandom >"$tmp/volkey"
secret "$(od -An -v -tx1 "$tmp/volkey" | tr -d ' \n')"
secret "$(base64 -w0 "$tmp/volkey")"
mrtd=$($py -c 'print(bytes(range(48)).hex())')
snpm=$($py -c 'print(bytes(range(0xa0, 0xd0)).hex())')
luks=$(printf 'a LUKS2 header' | sha256sum | cut -c1-64)
zero=$(printf '%096d' 0)
tdxref="\"tdx\":{\"mrtd\":\"$mrtd\",\"rtmr0\":\"$zero\",\"rtmr1\":\"$zero\",\"rtmr2\":\"$zero\"}"
echo "{\"reference\":{$tdxref}}" >"$tmp/vol.json"
echo "{\"reference\":{\"snp\":{\"measurement\":\"$snpm\"}}}" >"$tmp/snp.json"
echo "{\"reference\":{$tdxref,\"luks_header_sha256\":\"$luks\"}}" >"$tmp/tdxluks.json"
for r in vol snp tdxluks; do
	"$cvm" kbs add-resource --store "$store" "default/key/$r" "$tmp/volkey" >/dev/null
	"$cvm" kbs set-policy --store "$store" "default/key/$r" "$tmp/$r.json" >/dev/null
done

# ---- policies that pin too little, refused by set-policy ----
setpol() { # NAME PATTERN JSON
	echo "$3" >"$tmp/p.json"
	attack "$1" 1 "$2" -- "$cvm" kbs set-policy --store "$store" default/key/vol "$tmp/p.json"
}
setpol policy-mrtd-only "rtmr0, rtmr1, rtmr2 not pinned" "{\"reference\":{\"tdx\":{\"mrtd\":\"$mrtd\"}}}"
setpol policy-no-platform "names no platform|platform" '{"reference":{}}'
setpol policy-unknown-member "unknown member" "{\"reference\":{$tdxref},\"allow\":\"all\"}"
setpol policy-short-hex "mrtd" '{"reference":{"tdx":{"mrtd":"00"}}}'
z32=$(printf '%064d' 0)
bootpcrs="\"pcrs\":{\"sha256\":{$(for i in 0 1 2 3 4 5 6 7 9; do printf '"%s":"%s"' $i "$z32"; [ $i = 9 ] || printf ,; done)}}"
setpol policy-tpm-without-ak "ak_sha256" "{\"reference\":{\"tpm\":{$bootpcrs}}}"
setpol policy-luks-without-runtime-register "runtime register" \
	"{\"reference\":{\"snp\":{\"measurement\":\"$snpm\"},\"luks_header_sha256\":\"$luks\"}}"
setpol policy-image-not-in-store "not in the store|no image|image" \
	'{"image":{"manifest_sha256":"'"$z32"'"},"platforms":["tdx"]}'
cmp -s "$tmp/vol.json" "$store/policies/default/key/vol.json"
record policy-refused-leaves-old 0 $?
attack resource-path-dotdot 2 "REPO/TYPE/TAG" -- "$cvm" kbs add-resource --store "$store" default/../x "$tmp/volkey"

# ---- brokers that must not start ----
port=$(free_port)
cat >"$tmp/kbs.json" <<EOC
{"listen": "127.0.0.1:$port", "tls_cert": "$tmp/tls.pem", "tls_key": "$tmp/tls.key",
 "store": "$store", "timeout": 3,
 "test_roots": {"snp": "$pki/snp/roots.pem", "tdx": "$pki/tdx/roots.pem"},
 "tdx_without_collateral": true}
EOC
mkdir -p "$tmp/store2/resources/a/b" && cp "$tmp/volkey" "$tmp/store2/resources/a/b/c"
sed "s|$store|$tmp/store2|" "$tmp/kbs.json" >"$tmp/kbs2.json"
attack broker-resource-without-policy 2 "no policy" -- "$cvm" kbs serve --config "$tmp/kbs2.json"
mkdir -p "$tmp/store2/policies/a/b" && echo '{"reference":{}}' >"$tmp/store2/policies/a/b/c.json"
attack broker-policy-malformed 2 "names no platform" -- "$cvm" kbs serve --config "$tmp/kbs2.json"
sed 's|"timeout": 3|"timeout": 3, "listen_all": true|' "$tmp/kbs.json" >"$tmp/kbs3.json"
attack broker-config-unknown-member 2 "unknown member" -- "$cvm" kbs serve --config "$tmp/kbs3.json"
sed 's|/tls\.key|/other.key|' "$tmp/kbs.json" >"$tmp/kbs3.json"
attack broker-cert-key-mismatch 2 "matching pair" -- "$cvm" kbs serve --config "$tmp/kbs3.json"

# ---- the broker ----
"$cvm" kbs serve --config "$tmp/kbs.json" 2>"$tmp/broker.log" &
bpid=$!
wait_port "$port"
url=https://127.0.0.1:$port
# no core dump of the broker, ever: RLIMIT_CORE 0 (and PR_SET_DUMPABLE 0, host_no_dump)
record broker-core-limit-zero "0 0" "$(awk '/^Max core file size/ {print $5, $6}' "/proc/$bpid/limits")"
cl() { "$cvm_test" kbs-client --url "$url" --cacert "$tmp/tls.pem" --tee sim --sim-pki "$pki" "$@"; }
attack client-other-mrtd 1 "PolicyDeny: mrtd" -- cl --sim-measurement "$(printf 'ee%.0s' $(seq 48))" \
	--resource default/key/vol -o "$tmp/got"
attack client-evidence-binds-other-key 1 "report_data" -- \
	cl --sim-report-data "$(printf '00%.0s' $(seq 64))" --resource default/key/vol -o "$tmp/got"
attack client-snp-against-tdx-policy 1 "PolicyDeny|accepts no snp" -- cl --sim-platform snp \
	--resource default/key/vol -o "$tmp/got"
attack client-no-runtime-log 1 "requires a runtime event log" -- cl --resource default/key/tdxluks -o "$tmp/got"
$py - "$tmp/rt-other.json" <<'EOP'
import hashlib, json, sys
events = [("agent-version", b"cvm-agent 0.1".hex()), ("agent-config", "22" * 32), ("luks-header", "11" * 32)]
json.dump([{"recnum": i, "rtmr": 3, "digests": [{"hashAlg": "sha384",
            "digest": hashlib.sha384(bytes.fromhex(v)).hexdigest()}],
            "content_type": "cvm", "content": {"name": n, "value": v}} for i, (n, v) in enumerate(events)],
          open(sys.argv[1], "w"))
EOP
attack client-other-luks-header 1 "another LUKS header" -- cl --runtime-log "$tmp/rt-other.json" \
	--resource default/key/tdxluks -o "$tmp/got"
attack client-unknown-resource 2 "HTTP 404" -- cl --resource default/key/none -o "$tmp/got"
attack client-broker-cert-not-pinned 2 "SSL" -- "$cvm_test" kbs-client --url "$url" --cacert "$tmp/other.pem" \
	--tee sim --sim-pki "$pki" --retries 0 --resource default/key/vol -o "$tmp/got"
attack client-plain-http 2 "https://" -- "$cvm_test" kbs-client --url "http://127.0.0.1:$port" --tee sim \
	--sim-pki "$pki" --resource default/key/vol -o "$tmp/got"
attack production-without-sim 2 "not in this build" -- "$cvm" kbs-client --url "$url" --tee sim \
	--resource default/key/vol -o "$tmp/got"
[ -e "$tmp/got" ]
record denied-writes-no-key 1 $?

# ---- the protocol by hand: every refusal of kbs_protocol.py is an attack ----
$py "$top/tests/cli/kbs_protocol.py" "$port" "$tmp/tls.pem" "$cvm_test" "$pki" "$store" >"$tmp/proto.out" 2>&1
grep -E '^(not )?ok - ' "$tmp/proto.out" |
	grep -Ev 'answers 200|returns a token|opens with the attested key|alone fetches|is released' >"$tmp/proto.lines"
k=0
while read -r l; do
	k=$((k + 1))
	n=$(echo "${l%%  # *}" | sed -E 's/^(not )?ok - //; s/[^A-Za-z0-9]+/-/g; s/^-//; s/-$//' | cut -c1-34)
	seen=$(echo "$l" | grep -Eo "errors/[A-Za-z]+|'detail': '[^']{0,40}" | head -n1 | sed "s/^errors\///; s/^'detail': '//")
	case "$l" in
	ok*) line "proto$k-$n" ok refused "refused${seen:+ ($seen)}" ;;
	*) line "proto$k-$n" fail refused "accepted: ${l#not ok - }" ;;
	esac
done <"$tmp/proto.lines"

kill "$bpid" && wait "$bpid" 2>/dev/null
no_secret broker-log-holds-no-key "$tmp/broker.log" "$tmp/proto.out"

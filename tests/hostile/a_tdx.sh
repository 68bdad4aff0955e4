# TDX checks a malicious host tries to slip past: a TD without
# SEPT_VE_DISABLE or with DEBUG, TD attributes and XFAM other than pinned,
# platforms out of date, a QE of another signer, a revoked PCK, a broker
# started without collateral, and collateral servers that lie.
# shellcheck shell=sh

py=/usr/bin/python3
tool="$top/tests/cli/tdx_tool.py"
spr="$vectors/tdx/spr-prod-quote-v4.bin"
v5="$vectors/tdx/quote-v5.bin"
tdx_now="--now 2026-06-01T00:00:00Z"
troots="--test-roots $pki/tdx/roots.pem"

# ---- TD attributes and XFAM ----
attack tdx-sept-ve-disable-clear-real 1 "td_attributes: .*lack SEPT_VE_DISABLE" -- "$cvm" verify "$spr" $tdx_now
"$cvm_test" kbs-client --tee sim --sim-pki "$pki" --evidence "$(printf '%0128d' 0)" -o "$tmp/sim.json" 2>/dev/null
$py "$tool" quote "$tmp/sim.json" "$pki/tdx/ak.key" "$tmp/nosept.bin" --clear-sept
$py "$tool" quote "$tmp/sim.json" "$pki/tdx/ak.key" "$tmp/debug.bin" --debug
attack tdx-sept-ve-disable-clear-sim 1 "td_attributes: .*lack SEPT_VE_DISABLE" -- "$cvm" verify "$tmp/nosept.bin" $troots
attack tdx-debug-bit 1 "td_debug" -- "$cvm" verify "$tmp/debug.bin" $troots
printf '{"tdx": {"allow_debug": true}}' >"$tmp/debug-ok.json"
attack tdx-allow-debug-is-not-allow-sept-ve 1 "td_attributes" -- "$cvm" verify "$tmp/nosept.bin" $troots \
	--reference "$tmp/debug-ok.json"
printf '{"tdx": {"td_attributes": "0000005000000000"}}' >"$tmp/pin-attr.json"
attack tdx-td-attributes-off-pin 1 "td_attributes: TD attributes 0000001000000000, the reference pins" -- \
	"$cvm" verify "$v5" $tdx_now --reference "$tmp/pin-attr.json"
printf '{"tdx": {"xfam": "e71a060000000000"}}' >"$tmp/pin-xfam.json"
attack tdx-xfam-off-pin 1 "xfam: XFAM e702060000000000" -- "$cvm" verify "$v5" $tdx_now --reference "$tmp/pin-xfam.json"
printf '{"tdx": {"td_attributes": "0000000000000000"}}' >"$tmp/pin-nosept.json"
attack tdx-pin-clears-sept-ve-unnamed 2 "tdx.td_attributes: pins SEPT_VE_DISABLE" -- \
	"$cvm" verify "$v5" $tdx_now --reference "$tmp/pin-nosept.json"

# ---- collateral of the test PKI: TCB status, QE identity, revocation ----
sim_coll() { # DIR ARGS...: test-PKI collateral for the sim's platform
	d=$1
	shift
	$py "$tool" collateral "$pki" "$d" "$@"
}
sim_coll "$tmp/c-ood" --uptodate-svn 6 # the sim's TEE_TCB_SVN (03 00 05) now matches the OutOfDate level
attack tdx-tcb-out-of-date-by-default 1 "tcb_status: TCB status OutOfDate" -- \
	"$cvm" verify "$tmp/sim.json" $troots --collateral "$tmp/c-ood"
sim_coll "$tmp/c-qe" --qe-mrsigner "$(printf '11%.0s' $(seq 32))"
attack tdx-qe-identity-other-signer 1 "qe_identity: QE MRSIGNER" -- \
	"$cvm" verify "$tmp/sim.json" $troots --collateral "$tmp/c-qe"
sim_coll "$tmp/c-rev" --revoke-pck
attack tdx-pck-revoked 1 "revocation: certificate revoked by the PCK CRL" -- \
	"$cvm" verify "$tmp/sim.json" $troots --collateral "$tmp/c-rev"

# ---- a broker whose policy admits TDX, without collateral ----
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/tls.key" \
	-out "$tmp/tls.pem" -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null
store="$tmp/store"
mkdir -p "$store/resources/default/key"
head -c 32 /dev/urandom >"$store/resources/default/key/vol"
mrtd=$(printf '%02x' $(seq 0 47))
printf '{"platforms": ["tdx"], "reference": {"tdx": {"mrtd": "%s", "rtmr0": "%096d", "rtmr1": "%096d", "rtmr2": "%096d"}}}' \
	"$mrtd" 0 0 0 >"$tmp/policy.json"
"$cvm" kbs set-policy --store "$store" default/key/vol "$tmp/policy.json" >/dev/null 2>&1
cat >"$tmp/kbs.json" <<EOC
{"listen": "127.0.0.1:$(free_port)", "tls_cert": "$tmp/tls.pem", "tls_key": "$tmp/tls.key",
 "store": "$store", "test_roots": {"tdx": "$pki/tdx/roots.pem"}}
EOC
attack broker-tdx-without-collateral 2 "E_TDX_COLLATERAL: the policy of resource default/key/vol admits TDX" -- \
	"$cvm" kbs serve --config "$tmp/kbs.json"

# ---- collateral servers that lie ----
quote_now="--now 2023-06-20T00:00:00Z" # inside the real collateral's validity
$py "$tool" source "$tmp/real" "$spr" "$top/tests/data/tdx/collateral"
cp -r "$tmp/real" "$tmp/resigned" && $py "$tool" resign "$tmp/resigned"
spid=""
serve() { # SOURCE MODE: a PCS stand-in on $url
	[ -n "$spid" ] && kill "$spid" 2>/dev/null && wait "$spid" 2>/dev/null
	port=$(free_port)
	$py "$top/tests/cli/pcs_server.py" "$port" "$tmp/tls.pem" "$tmp/tls.key" "$1" "$2" &
	spid=$!
	wait_port "$port"
	url="https://127.0.0.1:$port"
}
fetch() { "$cvm" collateral fetch --url "$url" --cacert "$tmp/tls.pem" --quote "$spr" -o "$tmp/dir" "$@"; }
serve "$tmp/real" normal
fetch $quote_now >/dev/null 2>&1
cp -r "$tmp/dir" "$tmp/before"
attack collateral-fetch-stale 1 "E_COLLATERAL_STALE" -- fetch --now 2024-06-20T00:00:00Z
attack collateral-fetch-other-fmspc 1 "E_COLLATERAL_CONTENT" -- \
	"$cvm" collateral fetch --url "$url" --cacert "$tmp/tls.pem" --fmspc 00906ed50000 -o "$tmp/dir" $quote_now
attack collateral-fetch-other-ca 1 "E_COLLATERAL_CONTENT: the PCK CRL" -- fetch --ca processor $quote_now
attack collateral-fetch-untrusted-server 1 "E_COLLATERAL_FETCH" -- \
	"$cvm" collateral fetch --url "$url" --quote "$spr" -o "$tmp/dir" $quote_now
serve "$tmp/resigned" normal
attack collateral-fetch-tcb-signed-by-other-key 1 "E_COLLATERAL_SIGNATURE: tcbinfo.json" -- fetch $quote_now
serve "$tmp/real" truncated
attack collateral-fetch-truncated 1 "E_COLLATERAL_FETCH: .*truncated" -- fetch $quote_now
serve "$tmp/real" oversized
attack collateral-fetch-oversized 1 "E_COLLATERAL_SIZE" -- fetch $quote_now
serve "$tmp/real" redirect
attack collateral-fetch-redirect-other-host 1 "E_COLLATERAL_REDIRECT" -- fetch $quote_now
kill "$spid" 2>/dev/null
wait "$spid" 2>/dev/null
if diff -r "$tmp/before" "$tmp/dir" >/dev/null 2>&1 && [ -s "$tmp/dir/tcbinfo.json" ]; then
	record collateral-fetch-refusals-keep-old kept kept
else
	record collateral-fetch-refusals-keep-old kept changed
fi

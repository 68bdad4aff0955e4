#!/bin/sh
# cvm collateral fetch against a local PCS stand-in (tests/cli/pcs_server.py)
# that serves real Intel collateral (tests/vectors/tdx/collateral, the TCB
# signing chain of tests/data/tdx/collateral, the PCK CA of a real quote's
# chain) with the issuer-chain headers; then cvm verify with what was
# fetched. Hostile servers: each refused by name, the old files kept.
set -u
cvm=${CVM_BIN:?}
vec=${CVM_VECTORS:?}
top=${CVM_TOP:?}
pki=${CVM_TEST_PKI:?}
cvmt=${CVM_TEST_BIN:?}
tmp=${CVM_TEST_TMP:?}/cli-collateral
rm -rf "$tmp" && mkdir -p "$tmp"
. "$(dirname "$0")/lib.sh"
py=/usr/bin/python3
tool="$top/tests/cli/tdx_tool.py"
quote="$vec/tdx/spr-prod-quote-v4.bin"
now="--now 2023-06-20T00:00:00Z" # inside the validity of the real collateral
printf '{"tdx": {"allow_sept_ve": true}}' >"$tmp/sept-ve.json"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/tls.key" \
	-out "$tmp/tls.pem" -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null
$py "$tool" source "$tmp/real" "$quote" "$top/tests/data/tdx/collateral"
cp -r "$tmp/real" "$tmp/resigned" && $py "$tool" resign "$tmp/resigned"

pids=""
trap 'for p in $pids; do kill "$p" 2>/dev/null; done' EXIT
serve() { # serve SOURCE MODE: sets $url
	port=$(free_port)
	$py "$top/tests/cli/pcs_server.py" "$port" "$tmp/tls.pem" "$tmp/tls.key" "$1" "$2" &
	pids="$pids $!"
	wait_port "$port" || bad "the PCS stand-in did not start"
	url="https://127.0.0.1:$port"
}
fetch() { "$cvm" collateral fetch --url "$url" --cacert "$tmp/tls.pem" "$@"; }

expect "help" 0 "collateral fetch" -- "$cvm" collateral --help
expect "no subcommand" 2 "" -- "$cvm" collateral
expect "neither --fmspc nor --quote" 2 "one of --fmspc" -- "$cvm" collateral fetch --url https://x -o "$tmp/o"
expect "http:// refused" 2 "https://" -- "$cvm" collateral fetch --url http://127.0.0.1:1 --fmspc 50806f000000 -o "$tmp/o"
expect "bad --fmspc" 2 "fmspc" -- "$cvm" collateral fetch --url https://127.0.0.1:1 --fmspc 5080 -o "$tmp/o"
expect "bad --ca" 2 "processor or platform" -- "$cvm" collateral fetch --url https://127.0.0.1:1 --fmspc 50806f000000 --ca both -o "$tmp/o"

# ---- real collateral: fetched, verified, installed; the quote's FMSPC and CA from the quote ----
serve "$tmp/real" normal
# the environment's proxy is not used
expect "fetch real collateral (FMSPC from the quote)" 0 "FMSPC 50806f000000" -- \
	env https_proxy=http://127.0.0.1:1 HTTPS_PROXY=http://127.0.0.1:1 "$cvm" collateral fetch \
	--url "$url" --cacert "$tmp/tls.pem" --quote "$quote" -o "$tmp/dir" $now
for f in tcbinfo.json qe-identity.json tcb-signing-chain.pem pckcrl rootcrl.der pckcrl-issuer-chain.pem; do
	cmp -s "$tmp/dir/$f" "$tmp/real/$f" || bad "fetched $f differs from what was served"
done
[ -z "$(ls -A "$tmp/dir" | grep -v -e '^tcbinfo.json$' -e '^qe-identity.json$' -e '^tcb-signing-chain.pem$' \
	-e '^pckcrl$' -e '^rootcrl.der$' -e '^pckcrl-issuer-chain.pem$')" ] && ok "no staging file left" || bad "staging left: $(ls -A "$tmp/dir")"
# cvm verify reads the fetched directory as it reads the original one: Intel's
# signatures and CRLs check, the QE is UpToDate, no TCB level matches this quote.
for d in "$tmp/dir" "$top/tests/data/tdx/collateral"; do
	"$cvm" verify "$quote" $now --collateral "$d" --reference "$tmp/sept-ve.json" --json >"$tmp/v.json" 2>/dev/null
	$py -c '
import json, sys
d = json.load(open(sys.argv[1]))
c = {x["name"]: x for x in d["checks"]}
assert d["collateral_checked"] is True and d["verified"] is False, d
assert c["collateral"]["ok"] and c["revocation"]["ok"] and c["qe_identity"]["ok"], c
assert not c["tcb_status"]["ok"] and "no TCB level matches" in c["tcb_status"]["detail"], c
' "$tmp/v.json" && ok "verify with $(basename "$d"): collateral, revocation, QE identity pass" ||
		bad "verify with $(basename "$d")"
done
cp -r "$tmp/dir" "$tmp/before"
expect "another FMSPC than the TCB info's" 1 "E_COLLATERAL_CONTENT" -- fetch --fmspc 00906ed50000 -o "$tmp/dir" $now
expect "--ca processor answered with the platform CA's CRL" 1 "E_COLLATERAL_CONTENT: the PCK CRL comes from 'Intel SGX PCK Platform CA'" -- \
	fetch --quote "$quote" --ca processor -o "$tmp/dir" $now
expect "stale collateral refused" 1 "E_COLLATERAL_STALE" -- fetch --quote "$quote" -o "$tmp/dir" --now 2024-06-20T00:00:00Z
expect "server certificate not trusted" 1 "E_COLLATERAL_FETCH" -- \
	"$cvm" collateral fetch --url "$url" --quote "$quote" -o "$tmp/dir" $now --cacert "$vec/../data/tdx/collateral/tcb-signing-chain.pem"

# ---- hostile servers ----
attack_server() { # NAME SOURCE MODE PATTERN
	serve "$2" "$3"
	expect "$1" 1 "$4" -- fetch --quote "$quote" -o "$tmp/dir" $now
}
attack_server "TCB info signed by another key" "$tmp/resigned" normal "E_COLLATERAL_SIGNATURE: tcbinfo.json"
attack_server "truncated TCB info" "$tmp/real" truncated "E_COLLATERAL_FETCH: .*truncated"
attack_server "oversized TCB info" "$tmp/real" oversized "E_COLLATERAL_SIZE"
attack_server "302 to another host" "$tmp/real" redirect "E_COLLATERAL_REDIRECT: .*another server (https://127.0.0.2"
if diff -r "$tmp/before" "$tmp/dir" >/dev/null; then
	ok "every refusal kept the old collateral"
else
	bad "a refused fetch changed the directory"
fi

# ---- the test PKI: a fetched set verifies a sim quote to UpToDate ----
$py "$tool" collateral "$pki" "$tmp/sim-src"
serve "$tmp/sim-src" normal
fmspc=$(cat "$pki/tdx/fmspc.hex")
expect "test PKI collateral without --test-roots" 1 "E_COLLATERAL_ROOT" -- fetch --fmspc "$fmspc" -o "$tmp/sim"
expect "test PKI collateral" 0 "" -- fetch --fmspc "$fmspc" -o "$tmp/sim" --test-roots "$pki/tdx/roots.pem"
"$cvmt" kbs-client --tee sim --sim-pki "$pki" --evidence "$(printf '%0128d' 0)" -o "$tmp/sim.json" 2>"$tmp/err" ||
	bad "sim evidence: $(cat "$tmp/err")"
"$cvm" verify "$tmp/sim.json" --test-roots "$pki/tdx/roots.pem" --collateral "$tmp/sim" --json >"$tmp/v.json" 2>/dev/null
$py -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["verified"] and d["tcb_status"] == "UpToDate" and d["qe_tcb_status"] == "UpToDate", d
' "$tmp/v.json" && ok "sim quote with fetched test collateral: UpToDate" || bad "sim quote with fetched collateral"

summary "cli collateral"

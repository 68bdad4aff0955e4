#!/bin/sh
# cvm kbs and cvm kbs-client: the broker over HTTPS on 127.0.0.1, started and
# stopped here; the client with sim (TDX, SNP; launch registers from
# --sim-launch) and vTPM (swtpm) evidence; the
# protocol attacked by hand (kbs_protocol.py); store commands and a broker
# that refuses to start on a bad store or configuration.
set -u
cvm=${CVM_BIN:?}
cvmt=${CVM_TEST_BIN:?}
pki=${CVM_TEST_PKI:?}
tmp=${CVM_TEST_TMP:?}/cli-kbs
rm -rf "$tmp" && mkdir -p "$tmp"
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	[ -f "$tmp/swtpm.pid" ] && kill "$(cat "$tmp/swtpm.pid")" 2>/dev/null
	return 0
}
trap cleanup EXIT INT TERM

hex() { od -An -v -tx1 | tr -d ' \n'; }

# ---- a TLS certificate for 127.0.0.1, and another that the client does not trust ----
for n in tls other; do
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$tmp/$n.key" -out "$tmp/$n.pem" -days 2 -subj /CN=127.0.0.1 \
		-addext subjectAltName=IP:127.0.0.1 2>/dev/null
done

# ---- the store ----
store=$tmp/store
head -c 64 /dev/urandom >"$tmp/volkey"
mrtd=$(/usr/bin/python3 -c 'print(bytes(range(48)).hex())')
snpm=$(/usr/bin/python3 -c 'print(bytes(range(0xa0, 0xd0)).hex())')
luks=$(printf 'a LUKS2 header' | sha256sum | cut -c1-64)
# A policy pins every launch register: the sim's MRTD and, with no launch file,
# its RTMR0-2 of zeros.
zero=$(printf '%096d' 0)
tdxref="\"tdx\":{\"mrtd\":\"$mrtd\",\"rtmr0\":\"$zero\",\"rtmr1\":\"$zero\",\"rtmr2\":\"$zero\"}"
echo "{\"reference\":{$tdxref}}" >"$tmp/tdx.json"
echo "{\"reference\":{\"snp\":{\"measurement\":\"$snpm\"}}}" >"$tmp/snp.json"
echo "{\"reference\":{$tdxref,\"luks_header_sha256\":\"$luks\"}}" >"$tmp/tdxluks.json"
# the launch registers a host hands the sim (--sim-launch; fw_cfg in a QEMU guest), and their policy
/usr/bin/python3 - "$tmp/sim-launch.json" "$tmp/launch.json" <<'EOP'
import json, sys
regs = {n: bytes(range(f, f + 48)).hex() for n, f in
        (("mrtd", 0x10), ("rtmr0", 0x40), ("rtmr1", 0x70), ("rtmr2", 0xa0))}
json.dump(regs, open(sys.argv[1], "w"))
json.dump({"reference": {"tdx": regs}}, open(sys.argv[2], "w"))
EOP
for r in vol:tdx snp:snp tdxluks:tdxluks launch:launch; do
	expect "add-resource default/key/${r%%:*}" 0 "" -- "$cvm" kbs add-resource --store "$store" "default/key/${r%%:*}" "$tmp/volkey"
	expect "set-policy default/key/${r%%:*}" 0 "" -- "$cvm" kbs set-policy --store "$store" "default/key/${r%%:*}" "$tmp/${r#*:}.json"
done
# ---- orders (docs/order.md): resources of an order's inputs, policies on the order ----
"$cvm" keygen -o "$tmp/customer.key" >"$tmp/customer.pub" && "$cvm" keygen -o "$tmp/stranger.key" >"$tmp/stranger.pub" ||
	bad "keygen"
solA=$(printf 'solution A' | sha256sum | cut -c1-64)
solB=$(printf 'solution B' | sha256sum | cut -c1-64)
# order NAME SOLUTION_HEADER: three inputs, at this broker: sol, ord (the data), cust
korder() {
	/usr/bin/python3 - "$2" "$tmp/sim-launch.json" >"$tmp/$1.u.json" <<'EOP'
import json, sys
sol, launch = sys.argv[1], sys.argv[2]
def inp(name, role, header, res):
    return {"name": name, "role": role, "volume": {"url": "https://f.example.com/%s.img" % name,
            "sha256": "00" * 32, "size": 4096, "luks_header_sha256": header},
            "broker": {"url": "https://127.0.0.1:1", "resource": res, "spki_sha256": "11" * 32}}
print(json.dumps({"version": 2, "id": "order-kbs", "image": "default", "vcpus": 1, "memory_mib": 1024,
  "deadline_seconds": 60, "inputs": [inp("sol", "solution", sol, "default/key/sol"),
  inp("ord", "data", "22" * 32, "default/key/ord"), inp("cust", "data", "33" * 32, "default/key/cust")],
  "result": {"upload_url": "https://f.example.com/r"}}))
EOP
	"$cvm" order sign "$tmp/$1.u.json" --key "$tmp/customer.key" -o "$tmp/$1.json" >/dev/null || bad "order $1"
	# the launch the host makes for it: the sim's registers with the order's MRCONFIGID
	/usr/bin/python3 -c 'import json,sys; l = json.load(open(sys.argv[1])); l["mrconfigid"] = sys.argv[2]
json.dump(l, open(sys.argv[3], "w"))' "$tmp/sim-launch.json" \
		"$("$cvm" order check "$tmp/$1.json" | sed -n 's/^sha384 //p')" "$tmp/$1-launch.json"
}
korder orderA "$solA"
korder orderB "$solB"
/usr/bin/python3 - "$tmp/launch.json" "$solA" "$(cat "$tmp/stranger.pub")" "$tmp" <<'EOP'
import json, sys
base, sol, stranger, tmp = sys.argv[1:]
p = json.load(open(base))
for name, order in (("ord", {"solution_luks_header_sha256": [sol]}), ("cust", {"customer_pubkey": [stranger]}),
                    ("sol", {})):
    json.dump(dict(p, order=order), open("%s/pol-%s.json" % (tmp, name), "w"))
EOP
for r in ord cust sol; do
	expect "set-policy default/key/$r: a policy on the order" 0 "" -- sh -c \
		"'$cvm' kbs add-resource --store '$store' default/key/$r '$tmp/volkey' && '$cvm' kbs set-policy --store '$store' default/key/$r '$tmp/pol-$r.json'"
done
echo '{"reference":{'"$tdxref"'},"order":{"customer_pubkey":["zz"]}}' >"$tmp/bad.json"
expect "set-policy refuses an order rule that is not a key" 1 "order.customer_pubkey" -- "$cvm" kbs set-policy --store "$store" default/key/vol "$tmp/bad.json"
echo '{"reference":{'"$tdxref"'},"order":{"solution":"x"}}' >"$tmp/bad.json"
expect "set-policy refuses an unknown order rule" 1 "unknown member" -- "$cvm" kbs set-policy --store "$store" default/key/vol "$tmp/bad.json"

mode=$(stat -c %a "$store/resources/default/key/vol")
[ "$mode" = 600 ] && ok "resources are written mode 0600" || bad "resource mode $mode"

expect "add-resource refuses a path with .." 2 "REPO/TYPE/TAG" -- "$cvm" kbs add-resource --store "$store" default/../x "$tmp/volkey"
expect "add-resource refuses two parts" 2 "REPO/TYPE/TAG" -- "$cvm" kbs add-resource --store "$store" default/key "$tmp/volkey"
echo '{"reference":{"tdx":{"mrtd":"00"}}}' >"$tmp/bad.json"
expect "set-policy refuses a malformed policy" 1 "mrtd" -- "$cvm" kbs set-policy --store "$store" default/key/vol "$tmp/bad.json"
echo '{"reference":{'"$tdxref"'},"allow":"all"}' >"$tmp/bad.json"
expect "set-policy refuses an unknown member" 1 "unknown member" -- "$cvm" kbs set-policy --store "$store" default/key/vol "$tmp/bad.json"
echo '{"reference":{"tdx":{"mrtd":"'"$mrtd"'"}}}' >"$tmp/bad.json"
expect "set-policy refuses a TDX policy leaving RTMR0-2 open" 1 "rtmr0, rtmr1, rtmr2 not pinned" -- "$cvm" kbs set-policy --store "$store" default/key/vol "$tmp/bad.json"
# the boot PCRs of a fresh swtpm: zeros (nothing measured a boot into it)
z32=$(printf '%064d' 0)
bootpcrs="\"pcrs\":{\"sha256\":{$(for i in 0 1 2 3 4 5 6 7 9; do printf '"%s":"%s"' $i "$z32"; [ $i = 9 ] || printf ,; done)}}"
echo "{\"reference\":{\"tpm\":{$bootpcrs}}}" >"$tmp/bad.json"
expect "set-policy refuses a TPM policy without a pinned AK" 1 "ak_sha256" -- "$cvm" kbs set-policy --store "$store" default/key/vol "$tmp/bad.json"
echo '{"reference":{"snp":{"measurement":"'"$snpm"'"},"luks_header_sha256":"'"$luks"'"}}' >"$tmp/bad.json"
expect "set-policy refuses a LUKS digest with no runtime register" 1 "runtime register" -- "$cvm" kbs set-policy --store "$store" default/key/vol "$tmp/bad.json"
cmp -s "$tmp/tdx.json" "$store/policies/default/key/vol.json" && ok "a refused policy leaves the old one" || bad "policy changed"
# a policy's LUKS header and the volume key stored beside it must agree, whichever comes second
other=$(printf 'another header' | sha256sum | cut -c1-64)
printf '{"version": 1, "volume_key": "%s", "luks_header_sha256": "%s"}' "$z32" "$luks" >"$tmp/vk-a.json"
printf '{"version": 1, "volume_key": "%s", "luks_header_sha256": "%s"}' "$z32" "$other" >"$tmp/vk-b.json"
echo "{\"reference\":{$tdxref,\"luks_header_sha256\":\"$other\"}}" >"$tmp/tdxother.json"
expect "agree: a volume key" 0 "" -- "$cvm" kbs add-resource --store "$store" default/vk/a "$tmp/vk-a.json"
expect "agree: a policy for another volume's header is refused, both named" 1 "luks_header_sha256 $other is not the key's $luks" -- \
	"$cvm" kbs set-policy --store "$store" default/vk/a "$tmp/tdxother.json"
expect "agree: the key's own header is taken" 0 "" -- "$cvm" kbs set-policy --store "$store" default/vk/a "$tmp/tdxluks.json"
expect "agree: then another volume's key under it is refused" 1 "is not the key's $other" -- \
	"$cvm" kbs add-resource --store "$store" default/vk/a "$tmp/vk-b.json"
cmp -s "$tmp/vk-a.json" "$store/resources/default/vk/a" && ok "agree: the stored key is unchanged" || bad "agree: key replaced"

port=$(free_port)
cat >"$tmp/kbs.json" <<EOC
{"listen": "127.0.0.1:$port", "tls_cert": "$tmp/tls.pem", "tls_key": "$tmp/tls.key",
 "store": "$store", "timeout": 3,
 "test_roots": {"snp": "$pki/snp/roots.pem", "tdx": "$pki/tdx/roots.pem"},
 "tdx_without_collateral": true}
EOC

# ---- a broker that must not start ----
mkdir -p "$tmp/store2/resources/a/b" && cp "$tmp/volkey" "$tmp/store2/resources/a/b/c"
sed "s|$store|$tmp/store2|" "$tmp/kbs.json" >"$tmp/kbs2.json"
"$cvm" kbs serve --config "$tmp/kbs2.json" >"$tmp/out" 2>&1
st=$?
[ $st -eq 2 ] && grep -q 'resource a/b/c: no policy' "$tmp/out" && ok "no policy: the broker refuses to start and says why" || { bad "started without a policy ($st)"; cat "$tmp/out"; }
mkdir -p "$tmp/store2/policies/a/b" && echo '{"reference":{}}' >"$tmp/store2/policies/a/b/c.json"
"$cvm" kbs serve --config "$tmp/kbs2.json" >"$tmp/out" 2>&1
st=$?
[ $st -eq 2 ] && grep -q 'names no platform' "$tmp/out" && ok "malformed policy: the broker refuses to start and says why" || { bad "started with a bad policy ($st)"; cat "$tmp/out"; }
sed 's|"timeout": 3|"timeout": 3, "listen_all": true|' "$tmp/kbs.json" >"$tmp/kbs3.json"
expect "unknown configuration member" 2 "unknown member" -- "$cvm" kbs serve --config "$tmp/kbs3.json"
sed 's|/tls\.key|/other.key|' "$tmp/kbs.json" >"$tmp/kbs3.json"
expect "certificate and key that do not match" 2 "matching pair" -- "$cvm" kbs serve --config "$tmp/kbs3.json"
# a policy admits TDX: collateral, or the named opt-out, or no start
/usr/bin/python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); del d["tdx_without_collateral"]; json.dump(d, open(sys.argv[2], "w"))' \
	"$tmp/kbs.json" "$tmp/kbs3.json"
expect "TDX admitted without collateral or tdx_without_collateral" 2 "E_TDX_COLLATERAL: the policy of resource default/key/" -- \
	"$cvm" kbs serve --config "$tmp/kbs3.json"
sed 's|"tdx_without_collateral": true|"tdx_without_collateral": "yes"|' "$tmp/kbs.json" >"$tmp/kbs3.json"
expect "tdx_without_collateral not a boolean" 2 "must be true or false" -- "$cvm" kbs serve --config "$tmp/kbs3.json"

# ---- the broker ----
"$cvm" kbs serve --config "$tmp/kbs.json" 2>"$tmp/broker.log" &
bpid=$!
pids="$pids $bpid"
wait_port "$port" && ok "the broker listens" || { bad "the broker did not start"; cat "$tmp/broker.log"; }
url=https://127.0.0.1:$port
cl() { "$cvmt" kbs-client --url "$url" --cacert "$tmp/tls.pem" --tee sim --sim-pki "$pki" "$@"; }

expect "client, sim TDX: released" 0 "" -- cl --resource default/key/vol -o "$tmp/got"
cmp -s "$tmp/got" "$tmp/volkey" && ok "the released resource is the stored one" || bad "resource differs"
[ "$(stat -c %a "$tmp/got")" = 600 ] && ok "the output file is mode 0600" || bad "output mode"
expect "client, sim SNP: released" 0 "" -- cl --sim-platform snp --resource default/key/snp -o "$tmp/got2"
cmp -s "$tmp/got2" "$tmp/volkey" && ok "SNP: the released resource is the stored one" || bad "SNP resource differs"
rm -f "$tmp/got3"
expect "client: another MRTD is denied" 1 "PolicyDeny: mrtd" -- cl --sim-measurement "$(printf 'ee%.0s' $(seq 48))" --resource default/key/vol -o "$tmp/got3"
[ ! -e "$tmp/got3" ] && ok "a denied resource writes no file" || bad "file written on denial"
expect "client, sim TDX --sim-launch: released to the policy of its MRTD and RTMR0-2" 0 "" -- cl --sim-launch "$tmp/sim-launch.json" --resource default/key/launch -o "$tmp/got6"
cmp -s "$tmp/got6" "$tmp/volkey" && ok "--sim-launch: the released resource is the stored one" || bad "--sim-launch resource differs"
expect "client: its MRTD without its RTMR0-2 is denied" 1 "PolicyDeny: rtmr" -- cl --sim-measurement "$(/usr/bin/python3 -c 'print(bytes(range(0x10, 0x40)).hex())')" --resource default/key/launch -o "$tmp/got3"
expect "client: --sim-launch and --sim-measurement together" 2 "not both" -- cl --sim-launch "$tmp/sim-launch.json" --sim-measurement "$mrtd" --resource default/key/launch -o "$tmp/got3"
expect "client: report_data of another key" 1 "report_data" -- cl --sim-report-data "$(printf '00%.0s' $(seq 64))" --resource default/key/vol -o "$tmp/got3"
expect "client: unknown resource" 2 "HTTP 404" -- cl --resource default/key/none -o "$tmp/got3"
expect "client: bad resource path" 2 "resource path" -- cl --resource default/../vol -o "$tmp/got3"
expect "client: http:// refused" 2 "https://" -- "$cvmt" kbs-client --url "http://127.0.0.1:$port" --tee sim --sim-pki "$pki" --resource default/key/vol -o "$tmp/got3"
expect "client: a broker certificate not pinned" 2 "SSL" -- "$cvmt" kbs-client --url "$url" --cacert "$tmp/other.pem" --tee sim --sim-pki "$pki" --retries 0 --resource default/key/vol -o "$tmp/got3"
expect "client: nobody listening" 2 "connect" -- "$cvmt" kbs-client --url "https://127.0.0.1:1" --cacert "$tmp/tls.pem" --tee sim --sim-pki "$pki" --retries 1 --resource default/key/vol -o "$tmp/got3"
expect "production cvm has no sim backend" 2 "not in this build" -- "$cvm" kbs-client --url "$url" --tee sim --resource default/key/vol -o "$tmp/got3"

# orders: the order in /attest (init-data), bound by the sim's MRCONFIGID, and the policies on it
expect "order: bound by MRCONFIGID, its solution the one the data's policy names: released" 0 "" -- \
	cl --sim-launch "$tmp/orderA-launch.json" --order "$tmp/orderA.json" --resource default/key/ord -o "$tmp/got-ord"
cmp -s "$tmp/got-ord" "$tmp/volkey" && ok "order: the released resource is the stored one" || bad "order: resource differs"
expect "order: another solution is refused by the data's policy" 1 "PolicyDeny: order: the solution input (sol) is not one" -- \
	cl --sim-launch "$tmp/orderB-launch.json" --order "$tmp/orderB.json" --resource default/key/ord -o "$tmp/got3"
expect "order: evidence launched for another order is refused at attest" 1 "AttestationFailed: E_ORDER_BINDING: mrconfigid" -- \
	cl --sim-launch "$tmp/orderB-launch.json" --order "$tmp/orderA.json" --resource default/key/ord -o "$tmp/got3"
expect "order: evidence launched for no order is refused at attest" 1 "E_ORDER_BINDING" -- \
	cl --sim-launch "$tmp/sim-launch.json" --order "$tmp/orderA.json" --resource default/key/sol -o "$tmp/got3"
expect "order: a resource the order does not name is refused" 1 "PolicyDeny: order: the order names no input with resource default/key/launch" -- \
	cl --sim-launch "$tmp/orderA-launch.json" --order "$tmp/orderA.json" --resource default/key/launch -o "$tmp/got3"
expect "order: a customer the policy does not name is refused" 1 "PolicyDeny: order: customer_pubkey" -- \
	cl --sim-launch "$tmp/orderA-launch.json" --order "$tmp/orderA.json" --resource default/key/cust -o "$tmp/got3"
expect "order: a policy that needs an order refuses a session without one" 1 "requires an order" -- \
	cl --sim-launch "$tmp/sim-launch.json" --resource default/key/sol -o "$tmp/got3"
sed 's/"signature":"\(..\)/"signature":"00/' "$tmp/orderA.json" >"$tmp/orderA-badsig.json"
expect "order: a changed signature is refused by the client first" 2 "E_ORDER_SIGNATURE" -- \
	cl --sim-launch "$tmp/orderA-launch.json" --order "$tmp/orderA-badsig.json" --resource default/key/ord -o "$tmp/got3"

# runtime log on TDX: the sim's RTMR3 is the log's replay
# (a log starts with the agent: agent-version and agent-config, then what it measured)
/usr/bin/python3 - "$luks" "$tmp/rt-good.json" "$tmp/rt-other.json" <<'EOP'
import hashlib, json, sys
def log(luks):
    events = [("agent-version", b"cvm-agent 0.1".hex()), ("agent-config", "22" * 32),
              ("luks-header", luks)]
    return [{"recnum": i, "rtmr": 3, "digests": [{"hashAlg": "sha384",
             "digest": hashlib.sha384(bytes.fromhex(v)).hexdigest()}],
             "content_type": "cvm", "content": {"name": n, "value": v}}
            for i, (n, v) in enumerate(events)]
json.dump(log(sys.argv[1]), open(sys.argv[2], "w"))
json.dump(log("11" * 32), open(sys.argv[3], "w"))
EOP
expect "TDX: runtime log with the expected LUKS header: released" 0 "" -- cl --runtime-log "$tmp/rt-good.json" --resource default/key/tdxluks -o "$tmp/got4"
expect "TDX: no runtime log where the policy needs one" 1 "requires a runtime event log" -- cl --resource default/key/tdxluks -o "$tmp/got4"
expect "TDX: runtime log of another LUKS header" 1 "another LUKS header" -- cl --runtime-log "$tmp/rt-other.json" --resource default/key/tdxluks -o "$tmp/got4"

# the protocol by hand
if /usr/bin/python3 "$here/kbs_protocol.py" "$port" "$tmp/tls.pem" "$cvmt" "$pki" "$store" >"$tmp/proto.out" 2>&1; then
	ok "protocol attacks ($(grep -c '^ok' "$tmp/proto.out") checks)"
else
	bad "protocol attacks"
	grep -v '^ok' "$tmp/proto.out"
fi

# ---- vTPM (swtpm) ----
mkdir -p "$tmp/tpmstate"
tport=$(swtpm_tcp "$tmp/tpmstate" "$tmp/swtpm.pid") && ok "swtpm listens" || bad "swtpm did not start"
tcti=swtpm:host=127.0.0.1,port=$tport
ak=$("$cvmt" kbs-client --tee tpm --tcti "$tcti" --show-ak)
[ ${#ak} -eq 64 ] && ok "the AK's SHA-256: $ak" || bad "no AK ($ak)"
[ "$("$cvm" kbs-client --tee tpm --tcti "$tcti" --show-ak)" = "$ak" ] && ok "the same AK every time" || bad "AK changed"
/usr/bin/python3 - "$luks" "$tmp/rt-tpm.json" "$tmp/rt-tpm-bad.json" >"$tmp/pcr15-digests" <<'EOP'
import hashlib, json, sys
events = [("agent-version", b"cvm-agent 0.1".hex()), ("agent-config", "22" * 32),
          ("luks-header", sys.argv[1])]
log = [{"recnum": i, "pcr": 15, "digests": [{"hashAlg": "sha256",
        "digest": hashlib.sha256(bytes.fromhex(v)).hexdigest()}],
        "content_type": "cvm", "content": {"name": n, "value": v}}
       for i, (n, v) in enumerate(events)]
json.dump(log, open(sys.argv[2], "w"))
json.dump(log + [dict(log[2], recnum=3)], open(sys.argv[3], "w"))
for rec in log:
    print(rec["digests"][0]["digest"])
EOP
n=0
for d in $(cat "$tmp/pcr15-digests"); do
	TPM2TOOLS_TCTI=$tcti tpm2_pcrextend "15:sha256=$d" && n=$((n + 1))
done
[ $n -eq 3 ] && ok "PCR 15 extended with the agent's events and the LUKS header" || bad "pcrextend ($n of 3)"
echo "{\"reference\":{\"tpm\":{\"ak_sha256\":\"$ak\",$bootpcrs},\"luks_header_sha256\":\"$luks\"}}" >"$tmp/tpm.json"
echo "{\"reference\":{\"tpm\":{\"ak_sha256\":\"$(printf '00%.0s' $(seq 32))\",$bootpcrs}}}" >"$tmp/tpm-otherak.json"
"$cvm" kbs add-resource --store "$store" default/key/tpm "$tmp/volkey" >/dev/null
"$cvm" kbs set-policy --store "$store" default/key/tpm "$tmp/tpm.json" >/dev/null
"$cvm" kbs add-resource --store "$store" default/key/tpm2 "$tmp/volkey" >/dev/null
"$cvm" kbs set-policy --store "$store" default/key/tpm2 "$tmp/tpm-otherak.json" >/dev/null
ctpm() { "$cvm" kbs-client --url "$url" --cacert "$tmp/tls.pem" --tee tpm --tcti "$tcti" "$@"; }
expect "vTPM: quote, PCR 15 replay and LUKS header: released" 0 "" -- ctpm --runtime-log "$tmp/rt-tpm.json" --resource default/key/tpm -o "$tmp/got5"
cmp -s "$tmp/got5" "$tmp/volkey" && ok "vTPM: the released resource is the stored one" || bad "vTPM resource differs"
expect "vTPM: a log that does not replay to PCR 15" 1 "does not replay to PCR15" -- ctpm --runtime-log "$tmp/rt-tpm-bad.json" --resource default/key/tpm -o "$tmp/got5"
expect "vTPM: another AK than the pinned one" 1 "AK (sha256 [0-9a-f]\{64\}) is not the pinned one" -- ctpm --resource default/key/tpm2 -o "$tmp/got5"
expect "vTPM: TPM evidence against a TDX policy" 1 "accepts no tpm evidence" -- ctpm --resource default/key/vol -o "$tmp/got5"

# ---- an expired session (a second broker, sessions of 1 s) ----
port2=$(free_port)
sed -e "s|127.0.0.1:$port|127.0.0.1:$port2|" -e 's|"timeout": 3|"timeout": 3, "session_ttl": 1|' "$tmp/kbs.json" >"$tmp/kbs4.json"
"$cvm" kbs serve --config "$tmp/kbs4.json" 2>"$tmp/broker2.log" &
b2pid=$!
pids="$pids $b2pid"
wait_port "$port2"
# the expiry check is the last part of the protocol script, given a second port
if /usr/bin/python3 "$here/kbs_protocol.py" "$port" "$tmp/tls.pem" "$cvmt" "$pki" "$store" "$port2" >"$tmp/proto2.out" 2>&1 &&
	grep -q '^ok - attest on an expired session is refused' "$tmp/proto2.out"; then
	ok "an expired session is refused"
else
	bad "expired session"
	grep -v '^ok' "$tmp/proto2.out"
fi

# ---- the broker's log: each decision with its reason, never a secret ----
kill "$bpid" && wait "$bpid" 2>/dev/null
kill "$b2pid" && wait "$b2pid" 2>/dev/null
grep -q 'released' "$tmp/broker.log" && grep -q 'denied: mrtd' "$tmp/broker.log" &&
	grep -q 'refused: nonce already used' "$tmp/broker.log" && ok "decisions are logged with reasons" || bad "decisions missing from the log"
secret_hex=$(hex <"$tmp/volkey")
b64=$(base64 -w0 <"$tmp/volkey")
if grep -q -F -e "$b64" "$tmp/broker.log" || hex <"$tmp/broker.log" | grep -q "$secret_hex"; then
	bad "the broker log holds the secret"
else
	ok "the broker log holds no secret"
fi
grep -q 'stopping on signal 15' "$tmp/broker.log" && ok "the broker stops cleanly on SIGTERM" || bad "no clean stop"
if grep -q -e 'Sanitizer' -e 'runtime error' "$tmp"/broker*.log; then
	bad "sanitizer reports in the broker's log"
	grep -e 'Sanitizer' -e 'runtime error' -A5 "$tmp"/broker*.log | head -40
else
	ok "no sanitizer report from the broker"
fi

summary "cli kbs"

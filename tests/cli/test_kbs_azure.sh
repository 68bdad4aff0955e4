#!/bin/sh
# The broker and Azure's vTPM evidence: `cvm kbs serve` on 127.0.0.1 and the
# sim backend's az-snp-vtpm and az-tdx-vtpm evidence (an HCL report signed
# by the test PKI, a vTPM quote by a fresh AK, bound to the broker's nonce),
# released by a policy that pins the paravisor and the vTPM's boot PCRs,
# and refused when they differ, when the policy names another platform, or
# when the broker trusts only the vendors' roots.
set -u
cvm=${CVM_BIN:?}
cvmt=${CVM_TEST_BIN:?}
pki=${CVM_TEST_PKI:?}
tmp=${CVM_TEST_TMP:?}/cli-kbs-azure
rm -rf "$tmp" && mkdir -p "$tmp"
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	return 0
}
trap cleanup EXIT INT TERM

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/tls.key" \
	-out "$tmp/tls.pem" -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null
head -c 64 /dev/urandom >"$tmp/key"

# Policies: the sim's paravisor measurement (SNP) or MRTD (TDX) and its vTPM's
# boot PCRs (tests/../agent/tee_sim.h: SHA-256("cvm-sim-vtpm-pcr" || i || measurement)).
/usr/bin/python3 - "$tmp" <<'EOP'
import hashlib, json, sys
t = sys.argv[1]
def pcrs(m, skew=0):
    return {str(i): hashlib.sha256(b"cvm-sim-vtpm-pcr" + bytes([i]) + m).hexdigest()
            if i != 7 or not skew else "00" * 32 for i in list(range(8)) + [9]}
snp, tdx = bytes(range(0xa0, 0xd0)), bytes(range(48))
def put(name, pol):
    json.dump(pol, open(f"{t}/{name}.json", "w"))
put("azsnp", {"platforms": ["az-snp-vtpm"],
              "reference": {"snp": {"measurement": snp.hex()}, "tpm": {"pcrs": {"sha256": pcrs(snp)}}}})
put("azsnp-pcr7", {"platforms": ["az-snp-vtpm"],
                   "reference": {"snp": {"measurement": snp.hex()},
                                 "tpm": {"pcrs": {"sha256": pcrs(snp, 1)}}}})
put("aztdx", {"platforms": ["az-tdx-vtpm"],
              "reference": {"tdx": {"mrtd": tdx.hex()},
                            "tpm": {"pcrs": {"sha256": pcrs(tdx)}}}})
put("snp", {"reference": {"snp": {"measurement": snp.hex()}}})
luks = hashlib.sha256(b"a LUKS2 header").hexdigest()
put("azluks", {"platforms": ["az-snp-vtpm"],
               "reference": {"snp": {"measurement": snp.hex()}, "tpm": {"pcrs": {"sha256": pcrs(snp)}},
                             "luks_header_sha256": luks}})
# cvm-agent's runtime log in the vTPM's PCR 15 (the sim's PCR 15 is its replay)
def log(v):
    ev = [("agent-version", b"cvm-agent 0.1".hex()), ("agent-config", "22" * 32), ("luks-header", v)]
    return [{"recnum": i, "pcr": 15, "digests": [{"hashAlg": "sha256",
             "digest": hashlib.sha256(bytes.fromhex(x)).hexdigest()}],
             "content_type": "cvm", "content": {"name": n, "value": x}} for i, (n, x) in enumerate(ev)]
put("rt-good", log(luks))
put("rt-other", log("11" * 32))
put("open", {"platforms": ["az-snp-vtpm"], "reference": {"tpm": {"pcrs": {"sha256": pcrs(snp)}}}})
put("nopcrs", {"platforms": ["az-snp-vtpm"],
               "reference": {"snp": {"measurement": snp.hex()}, "tpm": {}}})
EOP
store=$tmp/store
for r in azsnp azsnp-pcr7 aztdx snp azluks; do
	expect "set-policy default/key/$r" 0 "" -- "$cvm" kbs set-policy --store "$store" "default/key/$r" "$tmp/$r.json"
	"$cvm" kbs add-resource --store "$store" "default/key/$r" "$tmp/key" >/dev/null
done
expect "set-policy refuses an az-snp-vtpm policy without snp" 1 "az-snp-vtpm has no reference values" -- \
	"$cvm" kbs set-policy --store "$store" default/key/x "$tmp/open.json"
expect "set-policy refuses an az-snp-vtpm policy leaving the boot PCRs open" 1 "pcr0, pcr1" -- \
	"$cvm" kbs set-policy --store "$store" default/key/x "$tmp/nopcrs.json"

port=$(free_port)
cat >"$tmp/kbs.json" <<EOC
{"listen": "127.0.0.1:$port", "tls_cert": "$tmp/tls.pem", "tls_key": "$tmp/tls.key",
 "store": "$store", "timeout": 3,
 "test_roots": {"snp": "$pki/snp/roots.pem", "tdx": "$pki/tdx/roots.pem"},
 "tdx_without_collateral": true}
EOC
"$cvm" kbs serve --config "$tmp/kbs.json" 2>"$tmp/broker.log" &
pids="$pids $!"
wait_port "$port" && ok "the broker listens" || { bad "the broker did not start"; cat "$tmp/broker.log"; }
cl() { "$cvmt" kbs-client --url "https://127.0.0.1:$port" --cacert "$tmp/tls.pem" --tee sim --sim-pki "$pki" "$@"; }

expect "az-snp-vtpm: released" 0 "" -- cl --sim-platform az-snp-vtpm --resource default/key/azsnp -o "$tmp/got1"
cmp -s "$tmp/got1" "$tmp/key" && ok "az-snp-vtpm: the released resource is the stored one" || bad "az-snp-vtpm resource differs"
expect "az-tdx-vtpm: released" 0 "" -- cl --sim-platform az-tdx-vtpm --resource default/key/aztdx -o "$tmp/got2"
cmp -s "$tmp/got2" "$tmp/key" && ok "az-tdx-vtpm: the released resource is the stored one" || bad "az-tdx-vtpm resource differs"
expect "az-snp-vtpm: another paravisor is denied" 1 "PolicyDeny: measurement" -- \
	cl --sim-platform az-snp-vtpm --sim-measurement "$(printf 'ee%.0s' $(seq 48))" --resource default/key/azsnp -o "$tmp/got3"
expect "az-snp-vtpm: another PCR 7 is denied" 1 "PolicyDeny: pcr: PCR7" -- \
	cl --sim-platform az-snp-vtpm --resource default/key/azsnp-pcr7 -o "$tmp/got3"
expect "az-tdx-vtpm: another MRTD is denied" 1 "PolicyDeny: mrtd" -- \
	cl --sim-platform az-tdx-vtpm --sim-measurement "$(printf 'ee%.0s' $(seq 48))" --resource default/key/aztdx -o "$tmp/got3"
expect "az-snp-vtpm evidence for an az-tdx-vtpm policy is denied" 1 "accepts no az-snp-vtpm evidence" -- \
	cl --sim-platform az-snp-vtpm --resource default/key/aztdx -o "$tmp/got3"
expect "SNP evidence for an az-snp-vtpm policy is denied" 1 "accepts no snp evidence" -- \
	cl --sim-platform snp --resource default/key/azsnp -o "$tmp/got3"
expect "az-snp-vtpm evidence for an SNP policy is denied" 1 "accepts no az-snp-vtpm evidence" -- \
	cl --sim-platform az-snp-vtpm --resource default/key/snp -o "$tmp/got3"
expect "az-snp-vtpm: report_data of another key" 1 "report_data: TPM quote qualifying data" -- \
	cl --sim-platform az-snp-vtpm --sim-report-data "$(printf '00%.0s' $(seq 64))" --resource default/key/azsnp -o "$tmp/got3"
[ ! -e "$tmp/got3" ] && ok "a denied resource writes no file" || bad "file written on denial"
expect "az-snp-vtpm: runtime log in PCR 15 with the expected LUKS header: released" 0 "" -- \
	cl --sim-platform az-snp-vtpm --runtime-log "$tmp/rt-good.json" --resource default/key/azluks -o "$tmp/got5"
expect "az-snp-vtpm: no runtime log where the policy needs one" 1 "requires a runtime event log" -- \
	cl --sim-platform az-snp-vtpm --resource default/key/azluks -o "$tmp/got6"
expect "az-snp-vtpm: runtime log of another LUKS header" 1 "another LUKS header" -- \
	cl --sim-platform az-snp-vtpm --runtime-log "$tmp/rt-other.json" --resource default/key/azluks -o "$tmp/got6"
grep -q 'accepted az-tdx-vtpm evidence' "$tmp/broker.log" && ok "the broker logs the platform" || bad "broker log"

# Without test roots, as in production: the test PKI's SEV-SNP and TDX signers are not trusted.
port2=$(free_port)
/usr/bin/python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); del d["test_roots"]; d["listen"] = "127.0.0.1:" + sys.argv[3]; json.dump(d, open(sys.argv[2], "w"))' \
	"$tmp/kbs.json" "$tmp/kbs2.json" "$port2"
"$cvm" kbs serve --config "$tmp/kbs2.json" 2>"$tmp/broker2.log" &
pids="$pids $!"
wait_port "$port2" || bad "the second broker did not start"
cl2() { "$cvmt" kbs-client --url "https://127.0.0.1:$port2" --cacert "$tmp/tls.pem" --tee sim --sim-pki "$pki" "$@"; }
expect "az-snp-vtpm under the vendors' roots only" 1 "root_pinned" -- \
	cl2 --sim-platform az-snp-vtpm --resource default/key/azsnp -o "$tmp/got4"
expect "az-tdx-vtpm under the vendors' roots only" 1 "root_pinned" -- \
	cl2 --sim-platform az-tdx-vtpm --resource default/key/aztdx -o "$tmp/got4"

summary test_kbs_azure

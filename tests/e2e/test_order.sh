#!/bin/sh
# A three-party order end to end, under QEMU (TCG), with `cvm run` as the
# provider's controller:
#   - the customer signs the order and opens the result;
#   - the solution owner packs the code (cvm pack) and keeps its key in
#     broker A, released to the signed image running an order of this
#     customer;
#   - the data owner packs the data and keeps its key in broker B, released
#     only to orders whose solution input is that solution's volume.
# One generic image (vm-images/default with the test agent: sim TDX
# evidence, the test PKI) serves every order: the order names the brokers
# and their TLS trust (a CA for A, an SPKI pin for B). The runs that must
# fail: the same order with another solution (broker B refuses, the status
# names the input and the broker); a host that rewrites the order disk
# (tampered text; another genuine order of the same customer under the
# first order's launch binding): refused before any key request; the result
# of one order opened as another (cvm result open --order refuses it); a
# broker that cannot be reached (named; power-off); and a job past its
# deadline (a partial result, sealed and marked).
# usage: tests/e2e/test_order.sh BUILD_DIR   (CVM_E2E_ONLY=good: the order alone, for `make bench`)
set -u
build=${1:?usage: test_order.sh BUILD_DIR}
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/e2e/lib.sh"
e2e_begin e2e "e2e" e2e/job_transform
luks() { js "$1" "s['luks_header_sha256']"; }
phase() { grep "\"phase\":\"$2\"" "$tmp/run-$1/status" 2>/dev/null | tail -n 1; }

# ---- the image builder: one generic image, its signed manifest ----
if e2e_image && grep -q manifest_sha256 "$tmp/image.out"; then
	ok "image: one generic image for every order, its manifest signed"
else
	bad "image: the build"; cat "$tmp/image.out"
fi
if grep -a -q -e 'broker.pem' -e '"resource"' "$tmp/images/default/initrd.img" "$src/agent.json"; then
	bad "image: the image names a broker"
else
	ok "image: no broker URL, CA or resource in the image"
fi

# ---- the customer ----
customer=$("$cvm" keygen -o "$tmp/customer.key") || bad "customer key"
"$cvm" keygen -o "$tmp/stranger.key" >"$tmp/stranger.pub" || bad "stranger key"

# ---- the solution owner: the code, packed; broker A ----
solution() { # DIR ARGV_JSON DEADLINE
	mkdir -p "$1/bin" "$1/data"
	cp "$bin/e2e/job_transform" "$1/bin/transform"
	printf 'solution notes\n' >"$1/data/own.txt"
	cat >"$1/cvm-job.json" <<EOJ
{"argv": $2, "cwd": ".", "user": {"uid": 1000, "gid": 1000}, "deadline_seconds": $3,
 "limits": {"cpu_seconds": 60, "file_size_bytes": 16777216, "processes": 16},
 "output_dir": "/output"}
EOJ
}
solution "$tmp/sol" '["bin/transform", "/inputs/data/ledger.txt", "/inputs/data/big.bin"]' 120
solution "$tmp/sol2" '["bin/transform", "/inputs/data/ledger.txt"]' 120
solution "$tmp/sol3" '["bin/transform", "--hang", "data/own.txt"]' 3
# ---- the data owner: the data, packed; broker B ----
mkdir -p "$tmp/data"
printf 'Confidential ledger, Q3\nalice 120\nbob 75\n' >"$tmp/data/ledger.txt"
$py -c "import sys; sys.stdout.buffer.write(bytes((i * 7 + 1) & 255 for i in range(300000)))" >"$tmp/data/big.bin"
for v in sol sol2 sol3 data; do
	"$cvm" pack "$tmp/$v" -o "$tmp/www/$v.img" --key-out "$tmp/$v.key" --source-date-epoch 1 >/dev/null ||
		bad "pack $v"
done

broker() { # NAME: a TLS key and certificate for 127.0.0.1, a store, a port
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/$1-tls.key" \
		-out "$tmp/$1-tls.pem" -days 2 -subj "/CN=broker-$1" -addext subjectAltName=IP:127.0.0.1 2>/dev/null
	"$cvm" kbs add-image --store "$tmp/store-$1" "$tmp/images/default/manifest.json" >/dev/null ||
		bad "broker $1: add-image"
}
serve() { # NAME PORT
	cat >"$tmp/kbs-$1.json" <<EOC
{"listen": "127.0.0.1:$2", "tls_cert": "$tmp/$1-tls.pem", "tls_key": "$tmp/$1-tls.key",
 "store": "$tmp/store-$1", "timeout": 10, "test_roots": {"tdx": "$pki/tdx/roots.pem"},
 "tdx_without_collateral": true}
EOC
	"$cvm" kbs serve --config "$tmp/kbs-$1.json" 2>>"$tmp/broker-$1.log" &
	pids="$pids $!"
	eval "pid_$1=$!"
	wait_port "$2" && ok "broker $1 listens on 127.0.0.1:$2" || { bad "broker $1 did not start"; cat "$tmp/broker-$1.log"; }
}
resource() { # BROKER RESOURCE KEYFILE ORDER_RULES
	cat >"$tmp/policy.json" <<EOP
{"image": {"builder": "$builder", "name": "default"}, "platforms": ["tdx"],
 "reference": {"tdx": {"rtmr0": "$rtmr0"}, "luks_header_sha256": "$(luks "$3")"},
 "order": $4}
EOP
	"$cvm" kbs add-resource --store "$tmp/store-$1" "$2" "$3" >/dev/null &&
		"$cvm" kbs set-policy --store "$tmp/store-$1" "$2" "$tmp/policy.json" >/dev/null ||
		bad "broker $1: resource $2"
}
broker a
broker b
# A: the solution's keys, to orders of this customer
resource a sol/volume/key "$tmp/sol.key" "{\"customer_pubkey\": [\"$customer\"]}"
resource a sol/volume/key2 "$tmp/sol2.key" "{\"customer_pubkey\": [\"$customer\"]}"
resource a sol/volume/key3 "$tmp/sol3.key" "{\"customer_pubkey\": [\"$customer\"]}"
# B: the data's key, to orders whose solution is the first solution's volume
resource b data/volume/key "$tmp/data.key" "{\"solution_luks_header_sha256\": [\"$(luks "$tmp/sol.key")\"]}"
# bring your own container: solutions packed from images made here (busybox
# as docker save writes it, Python from Debian's packages as an OCI layout)
$py "$top/tests/e2e/oci_image.py" busybox "$tmp/bb.tar" --docker || bad "the busybox image"
$py "$top/tests/e2e/oci_image.py" python "$tmp/pyimg" || bad "the python image"
# a container whose command the image lacks: the guest must say why the job did not start
printf '{"config": {"Entrypoint": ["no-such-tool"], "User": "1000"}, "layers": [[{"path": "bin", "type": "dir"}, {"path": "bin/busybox", "from": "/bin/busybox", "mode": 493}]]}' >"$tmp/nx.spec"
$py "$top/tests/e2e/oci_image.py" spec "$tmp/nx.spec" "$tmp/nximg" || bad "the image without its command"
# an image with a cvm-job.json of its own, valid, whose result_recipient is not the order's customer
$py - "$tmp/mf.spec" "$(cat "$tmp/stranger.pub")" <<'EOP'
import json, sys
job = {"rootfs": True, "argv": ["/bin/busybox", "true"], "user": {"uid": 1000, "gid": 1000},
       "result_recipient": sys.argv[2]}
json.dump({"config": {"Cmd": ["/bin/busybox"]},
           "layers": [[{"path": "bin", "type": "dir"}, {"path": "bin/busybox", "from": "/bin/busybox", "mode": 493},
                       {"path": "cvm-job.json", "data": json.dumps(job)}]]}, open(sys.argv[1], "w"))
EOP
$py "$top/tests/e2e/oci_image.py" spec "$tmp/mf.spec" "$tmp/mfimg" || bad "the image with its own manifest"
for v in bb:bb.tar py:pyimg nx:nximg mf:mfimg; do
	"$cvm" pack --oci "$tmp/${v#*:}" -o "$tmp/www/${v%%:*}.img" --key-out "$tmp/${v%%:*}.key" \
		--source-date-epoch 1 >/dev/null || bad "pack --oci ${v#*:}"
	resource a "oci/volume/${v%%:*}" "$tmp/${v%%:*}.key" "{\"customer_pubkey\": [\"$customer\"]}"
done
resource b data/volume/oci "$tmp/data.key" \
	"{\"solution_luks_header_sha256\": [\"$(luks "$tmp/bb.key")\", \"$(luks "$tmp/py.key")\", \"$(luks "$tmp/nx.key")\", \"$(luks "$tmp/mf.key")\"]}"
aport=$(free_port)
bport=$(free_port)
serve a "$aport"
serve b "$bport"
# B's SPKI pin, as the data owner publishes it
bspki=$(openssl x509 -in "$tmp/b-tls.pem" -pubkey -noout | openssl pkey -pubin -outform DER | sha256sum | cut -c1-64)
dead=$(free_port)

# ---- the provider's files: volumes by GET, results by PUT ----
e2e_files || bad "the file server did not start"

# ---- the customer's orders ----
# order ID SOLUTION SOLUTION_RESOURCE DATA_BROKER_PORT|- [DATA_RESOURCE] : $tmp/ID.json, signed
order() {
	$py - "$tmp" "$1" "$2" "$3" "$4" "$wport" "$aport" "$bspki" "${5:-data/volume/key}" <<'EOP' >"$tmp/$1.unsigned.json"
import hashlib, json, os, sys
tmp, oid, sol, res, dport, wport, aport, bspki, dres = sys.argv[1:]
def vol(name):
    img = open(os.path.join(tmp, "www", name + ".img"), "rb").read()
    key = json.load(open(os.path.join(tmp, name + ".key")))
    return {"url": "http://127.0.0.1:%s/%s.img" % (wport, name), "sha256": hashlib.sha256(img).hexdigest(),
            "size": len(img), "luks_header_sha256": key["luks_header_sha256"]}
inputs = [{"name": "solution", "role": "solution", "volume": vol(sol),
           "broker": {"url": "https://127.0.0.1:%s" % aport, "resource": res,
                      "ca": open(os.path.join(tmp, "a-tls.pem")).read()}}]
if dport != "-":
    inputs.append({"name": "data", "role": "data", "volume": vol("data"),
                   "broker": {"url": "https://127.0.0.1:%s" % dport, "resource": dres,
                              "spki_sha256": bspki}})
print(json.dumps({"version": 2, "id": oid, "image": "default", "vcpus": 1, "memory_mib": 1024,
                  "deadline_seconds": 300, "inputs": inputs,
                  "result": {"upload_url": "http://127.0.0.1:%s/%s.cvmr" % (wport, oid)}}, indent=1))
EOP
	"$cvm" order sign "$tmp/$1.unsigned.json" --key "$tmp/customer.key" -o "$tmp/$1.json" >/dev/null ||
		bad "order $1: sign"
}
order order-e2e-1 sol sol/volume/key "$bport"
order order-e2e-2 sol2 sol/volume/key2 "$bport"
order order-e2e-3 sol sol/volume/key "$bport" # never run: the replay's other order
order order-e2e-4 sol sol/volume/key "$dead"
order order-e2e-5 sol3 sol/volume/key3 -
order order-e2e-bb bb oci/volume/bb "$bport" data/volume/oci
order order-e2e-py py oci/volume/py "$bport" data/volume/oci
order order-e2e-nx nx oci/volume/nx "$bport" data/volume/oci
order order-e2e-mf mf oci/volume/mf "$bport" data/volume/oci

# run ORDER NAME [QEMU]: cvm run, its summary in $tmp/NAME.summary, its exit in $st
run() {
	"$cvm" run "$tmp/$1.json" --workdir "$tmp/run-$2" --images "$tmp/images" --output-size 67108864 \
		${3:+--qemu "$3"} >"$tmp/$2.summary" 2>"$tmp/$2.stderr"
	st=$?
	echo "$2: cvm run exit $st"
}
requests() { grep -c ' auth:' "$tmp/broker-$1.log"; }

opener() { # BUNDLE ORDER OUT
	"$cvm" result open "$1" --key "$tmp/customer.key" --order "$2" \
		--reference "$tmp/images/default/manifest.json" --builder "$builder" --pins "$tmp/pins.json" \
		--test-roots "$pki/tdx/roots.pem" -o "$3"
}

# containers: bring your own container, the job in the image's own root
containers() {
	for c in bb py; do
		run "order-e2e-$c" "$c"
		[ "$st" -eq 0 ] && ok "$c: a container solution over the data owner's input, cvm run exit 0" ||
			{ bad "$c: cvm run exit $st"; cat "$tmp/run-$c/status" "$tmp/$c.stderr"; }
		expect "$c: the customer opens its result" 0 "verified and opened" -- \
			opener "$tmp/up/order-e2e-$c.cvmr" "$tmp/order-e2e-$c.json" "$tmp/result-$c"
	done
	[ "$(cat "$tmp/result-bb/output/words.txt" 2>/dev/null)" = 7 ] &&
		ok "busybox: wc -w of /inputs/data/ledger.txt, written to /output" || bad "busybox: words.txt"
	[ "$(cat "$tmp/result-bb/output/uid.txt" 2>/dev/null)" = 1001 ] &&
		ok "busybox: run as the image's User (worker, uid 1001 by its /etc/passwd)" || bad "busybox: uid"
	[ "$(cat "$tmp/result-py/output/count.txt" 2>/dev/null)" = "python 3.11: 3 lines, 7 words" ] &&
		ok "python: Debian's python3.11 in its own root read the input" ||
		{ bad "python: count.txt"; cat "$tmp/result-py/output/count.txt" "$tmp/run-py/status"; }
	run order-e2e-nx nx
	phase nx job | grep -q '"code":"E_JOB_START","detail":"argv\[0\]: not found in the solution (looked up in PATH)"' &&
		ok "a missing command: E_JOB_START says why in the guest's status line" ||
		{ bad "nx: the job phase"; cat "$tmp/run-nx/status"; }
	grep -q 'job        FAILED E_JOB_START: argv\[0\]: not found' "$tmp/nx.stderr" &&
		ok "and cvm run shows it" || bad "nx: cvm run's line"
	run order-e2e-mf mf
	phase mf manifest | grep -q '"code":"E_MANIFEST","detail":"result_recipient is not the order' &&
		ok "the image's own manifest is read; its refusal in the guest names the member" ||
		{ bad "mf: the manifest phase"; cat "$tmp/run-mf/status"; }
}

if [ "${CVM_E2E_ONLY:-}" = oci ]; then
	containers
	summary "e2e"
	exit $?
fi

# ---- the order ----
run order-e2e-1 good
[ "$st" -eq 0 ] && ok "good: cvm run exit 0, the result uploaded" ||
	{ bad "good: cvm run exit $st"; cat "$tmp/run-good/status" "$tmp/good.stderr"; tail -n 20 "$tmp/run-good/console.log"; }
phase good order | grep -q '"ok":true' && ok "good: the agent checked the order's signature and binding" || bad "good: order"
n=$(grep -c '"phase":"key","ok":true' "$tmp/run-good/status")
[ "$n" -eq 2 ] && ok "good: two keys released, one by each owner's broker" || bad "good: $n keys released"
phase good job | grep -q '"exit_code":0' && ok "good: the job ran and exited 0" || bad "good: job"
phase good boot | grep -q '"modules_failed":0' && ok "good: every module loaded" || bad "good: modules"
phase good boot | grep -q '"environment":"kernel"' &&
	ok "good: PID 1 started once (the kernel's own HOME and TERM only)" || bad "good: environment"
grep -q 'released' "$tmp/broker-a.log" && grep -q 'released' "$tmp/broker-b.log" &&
	ok "good: both brokers logged their release" || bad "good: releases not logged"
expect "good: the customer verifies the result against the image and the order, and opens it" 0 "verified and opened" -- \
	opener "$tmp/up/order-e2e-1.cvmr" "$tmp/order-e2e-1.json" "$tmp/result"
for f in ledger.txt big.bin; do
	want=$(sha256sum <"$tmp/data/$f" | cut -c1-64)
	[ "$(cat "$tmp/result/output/$f.sha256" 2>/dev/null)" = "$want" ] &&
		ok "good: the solution read $f of the data owner's volume" || bad "good: $f digest"
done
tr a-z A-Z <"$tmp/data/ledger.txt" | cmp -s - "$tmp/result/output/ledger.txt.upper" &&
	ok "good: the transformed copy" || bad "good: the transformed copy"
osha=$($cvm order check "$tmp/order-e2e-1.json" | sed -n 's/^sha256 //p')
grep -q "$osha" "$tmp/out" && ok "good: the result names the order's digest" || bad "good: order digest not shown"

# ---- the replay: a genuine result, opened as another order of the same customer ----
expect "replay: the result of order-e2e-1 opened as order-e2e-3 is refused" 1 "E_RESULT_ORDER" -- \
	opener "$tmp/up/order-e2e-1.cvmr" "$tmp/order-e2e-3.json" "$tmp/result-replay"
[ ! -e "$tmp/result-replay/output" ] && ok "replay: nothing extracted" || bad "replay: files extracted"

# nothing secret reaches the host
leak=""
for k in sol data; do
	vk=$(js "$tmp/$k.key" "s['volume_key']")
	grep -r -a -q -i "$vk" "$tmp"/run-good "$tmp/good.summary" "$tmp/broker-a.log" "$tmp/broker-b.log" && leak="$leak $k"
done
grep -r -a -q -e 'Confidential ledger' -e 'CONFIDENTIAL LEDGER' "$tmp"/run-good "$tmp/up" && leak="$leak plaintext"
[ -z "$leak" ] && ok "good: no volume key or plaintext in the work directory, summary or broker logs" ||
	bad "good: leaked:$leak"

if [ "${CVM_E2E_ONLY:-}" = good ]; then
	summary "e2e"
	exit $?
fi

# ---- another solution: broker A releases its key, broker B refuses ----
run order-e2e-2 other
[ "$st" -eq 1 ] && ok "other: cvm run exit 1, no result" || bad "other: exit $st"
phase other key | grep -q '"code":"E_KEY_RELEASE"' && phase other key | grep -q "input data" &&
	phase other key | grep -q "127.0.0.1:$bport" &&
	ok "other: E_KEY_RELEASE names the input and its broker: $(phase other key | sed 's/.*"detail":"//' | cut -c1-90)" ||
	{ bad "other: status"; cat "$tmp/run-other/status"; }
grep 'denied' "$tmp/broker-b.log" | tail -n 1 | grep -q 'solution' &&
	ok "other: broker B's denial names the solution rule" || { bad "other: broker B's reason"; tail -n 3 "$tmp/broker-b.log"; }
[ ! -e "$tmp/up/order-e2e-2.cvmr" ] && ok "other: nothing uploaded" || bad "other: uploaded"

# ---- a host that rewrites the order disk before QEMU starts ----
# a QEMU wrapper: the provider's host, changing the order disk cvm run wrote
cat >"$tmp/hostile-qemu" <<EOS
#!/bin/sh
for a in "\$@"; do
	case \$a in *order.img*) disk=\${a#file=}; disk=\${disk%%,*} ;; esac
done
$py - "\$disk" "\$CVM_E2E_REWRITE" <<'EOP'
import struct, sys
disk, how = sys.argv[1], sys.argv[2]
raw = open(disk, "rb").read()
n = struct.unpack("<I", raw[8:12])[0]
text = raw[12:12 + n]
if how == "tamper":
    text = text.replace(b'"deadline_seconds":300', b'"deadline_seconds":900')
else:
    text = open(how, "rb").read()
out = b"CVMO" + struct.pack("<II", 2, len(text)) + text
out += b"\\0" * (-len(out) % 4096)
open(disk, "wb").write(out)
EOP
exec qemu-system-x86_64 "\$@"
EOS
chmod +x "$tmp/hostile-qemu"
for how in tamper swap; do
	a0=$(requests a)
	b0=$(requests b)
	if [ $how = tamper ]; then CVM_E2E_REWRITE=tamper; else CVM_E2E_REWRITE=$tmp/order-e2e-3.json; fi
	export CVM_E2E_REWRITE
	run order-e2e-1 "$how" "$tmp/hostile-qemu"
	code=$(phase "$how" order | sed -n 's/.*"code":"\([A-Z_]*\)".*/\1/p')
	case $how in tamper) want=E_ORDER_SIGNATURE ;; swap) want=E_ORDER_BINDING ;; esac
	[ "$code" = "$want" ] && ok "$how: the agent refuses the rewritten order ($code)" ||
		{ bad "$how: want $want, got '$code'"; cat "$tmp/run-$how/status"; }
	[ "$(requests a)" = "$a0" ] && [ "$(requests b)" = "$b0" ] &&
		ok "$how: before any key request" || bad "$how: a broker was asked"
	grep -q '"phase":"poweroff"' "$tmp/run-$how/status" && ok "$how: power-off" || bad "$how: no power-off"
done
unset CVM_E2E_REWRITE

# ---- a broker that cannot be reached ----
run order-e2e-4 unreachable
phase unreachable key | grep -q '"code":"E_KEY_RELEASE"' && phase unreachable key | grep -q "input data" &&
	phase unreachable key | grep -q "127.0.0.1:$dead" &&
	ok "unreachable: named: $(phase unreachable key | sed 's/.*"detail":"//' | cut -c1-90)" ||
	{ bad "unreachable: status"; cat "$tmp/run-unreachable/status"; }
grep -q '"phase":"poweroff"' "$tmp/run-unreachable/status" && ok "unreachable: power-off" || bad "unreachable: no power-off"
grep -q '"phase":"unlock","ok":true' "$tmp/run-unreachable/status" &&
	! grep -q '"phase":"job"' "$tmp/run-unreachable/status" &&
	ok "unreachable: the solution was unlocked, no job ran" || bad "unreachable: phases"

# ---- the job runs past its deadline ----
run order-e2e-5 slow
phase slow job | grep -q '"code":"E_JOB_DEADLINE"' && ok "slow: the deadline killed the job and was reported" ||
	{ bad "slow: status"; cat "$tmp/run-slow/status"; }
expect "slow: cvm result open flags the partial result" 0 "PARTIAL result" -- \
	opener "$tmp/up/order-e2e-5.cvmr" "$tmp/order-e2e-5.json" "$tmp/result-slow"
[ -s "$tmp/result-slow/output/own.txt.sha256" ] && ok "slow: output written before the deadline is kept" ||
	bad "slow: partial output"

containers
summary "e2e"

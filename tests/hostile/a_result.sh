# Result bundles a malicious host hands to the customer: sealed by the
# independent writer of docs/result.md (tests/cli/seal_result.py) with sim
# TDX evidence, then tampered with. cvm result open must refuse each by
# name, extract nothing, and never show the plaintext of a refused bundle.
# shellcheck shell=sh

py=/usr/bin/python3
seal_py="$top/tests/cli/seal_result.py"
tool="$top/$build/e2e/result_tool"
roots="--test-roots $pki/tdx/roots.pem"
mrtd=$($py -c 'print(bytes(range(48)).hex())')
"$cvm" keygen -o "$tmp/customer.key" >"$tmp/pub"
pub=$(cat "$tmp/pub")
"$cvm" keygen -o "$tmp/other.key" >/dev/null
sim_evidence_cmd "$tmp/ev-tdx.sh" "$cvm_test" "$pki" "$mrtd" log
mkdir -p "$tmp/stage/output"
plain=$($py -c 'import os; print(os.urandom(24).hex())')
echo "customer plaintext $plain" >"$tmp/stage/output/answer.txt"
secret "customer plaintext $plain"
seal() { # OUT [seal_result.py options]
	$py "$seal_py" --recipient "$pub" --order-id order-hostile --stage "$tmp/stage" \
		--evidence-cmd "$tmp/ev-tdx.sh" "$@" >/dev/null
}
# open_ NAME PATTERN BUNDLE [options]: refused (exit 1), nothing extracted
open_() {
	o_name=$1 o_pat=$2 o_bundle=$3
	shift 3
	rm -rf "$tmp/res"
	attack "$o_name" 1 "$o_pat" -- "$cvm" result open "$o_bundle" --key "$tmp/customer.key" \
		-o "$tmp/res" "$@"
	if [ -e "$tmp/res" ] || [ -e "$tmp/res.part" ]; then
		line "$o_name-nothing-extracted" fail "no output directory" "$(ls "$tmp/res"* | head -1)"
		rm -rf "$tmp/res" "$tmp/res.part"
	fi
}
unpinned="--accept-unpinned-image"

seal "$tmp/good.cvmr"
size=$(stat -c %s "$tmp/good.cvmr")
cp "$tmp/good.cvmr" "$tmp/flip.cvmr"
printf '\001' | dd of="$tmp/flip.cvmr" bs=1 seek=$((size / 3)) conv=notrunc status=none
open_ result-flipped-ciphertext "E_RESULT_SIGNATURE" "$tmp/flip.cvmr" $roots $unpinned
head -c $((size - 100)) "$tmp/good.cvmr" >"$tmp/cut.cvmr"
open_ result-cut-short "E_RESULT_[A-Z]+" "$tmp/cut.cvmr" $roots $unpinned
open_ result-untrusted-root "E_RESULT_EVIDENCE: root_pinned" "$tmp/good.cvmr" $unpinned
rm -rf "$tmp/res"
attack result-other-recipient 1 "E_RESULT_RECIPIENT" -- "$cvm" result open "$tmp/good.cvmr" $roots \
	$unpinned --key "$tmp/other.key" -o "$tmp/res"
# another genuine order of the same customer: a host replaying one order's result as another's
cat >"$tmp/order.u.json" <<EOO
{"version": 2, "id": "order-other", "image": "default", "vcpus": 1, "memory_mib": 1024, "deadline_seconds": 60,
 "inputs": [{"name": "solution", "role": "solution",
             "volume": {"url": "https://f.example.com/s.img", "sha256": "$(printf '%064d' 0)", "size": 4096,
                        "luks_header_sha256": "$(printf 'a LUKS2 header' | sha256sum | cut -c1-64)"},
             "broker": {"url": "https://b.example.com", "resource": "a/b/c", "spki_sha256": "$(printf '%064d' 1)"}}],
 "result": {"upload_url": "https://f.example.com/r"}}
EOO
"$cvm" order sign "$tmp/order.u.json" --key "$tmp/customer.key" -o "$tmp/order-other.json" >/dev/null
open_ result-other-order "E_RESULT_ORDER" "$tmp/good.cvmr" $roots $unpinned --order "$tmp/order-other.json"
printf '{"tdx":{"mrtd":"%096d"}}' 0 >"$tmp/ref-mrtd.json"
open_ result-other-image "E_RESULT_REFERENCE: mrtd" "$tmp/good.cvmr" $roots --reference "$tmp/ref-mrtd.json"
printf '{"tdx":{"mrtd":"%s"},"luks_header_sha256":"%064d"}' "$mrtd" 0 >"$tmp/ref-luks.json"
open_ result-other-workload "E_RESULT_REFERENCE: luks_header" "$tmp/good.cvmr" $roots --reference "$tmp/ref-luks.json"
rm -rf "$tmp/res"
attack result-unpinned-refused 2 "--reference|accept-unpinned" -- "$cvm" result open "$tmp/good.cvmr" \
	$roots --key "$tmp/customer.key" -o "$tmp/res"

# the evidence of one genuine bundle in another genuine bundle's trailer
seal "$tmp/second.cvmr"
$py "$top/tests/cli/swap_evidence.py" "$tmp/good.cvmr" "$tmp/second.cvmr" "$tmp/swapped.cvmr"
open_ result-evidence-of-another "E_RESULT_BINDING" "$tmp/swapped.cvmr" $roots $unpinned
seal "$tmp/replay.cvmr" --strip-evidence-log --trailer-log-extra
open_ result-log-no-replay "E_RESULT_EVENTLOG" "$tmp/replay.cvmr" $roots $unpinned
seal "$tmp/twologs.cvmr" --trailer-log-extra
open_ result-log-other-than-evidence "E_RESULT_EVENTLOG" "$tmp/twologs.cvmr" $roots $unpinned
for ev in result-key order luks-header job-manifest; do
	seal "$tmp/drop-$ev.cvmr" --drop "$ev"
	open_ "result-no-$ev-event" "E_RESULT_EVENT" "$tmp/drop-$ev.cvmr" $roots $unpinned
	seal "$tmp/alter-$ev.cvmr" --alter "$ev"
	open_ "result-other-$ev-event" "E_RESULT_EVENT" "$tmp/alter-$ev.cvmr" $roots $unpinned
done
seal "$tmp/twice.cvmr" --twice result-key
open_ result-key-measured-twice "E_RESULT_EVENT" "$tmp/twice.cvmr" $roots $unpinned
seal "$tmp/noagent.cvmr" --drop agent-version
open_ result-log-not-started-by-agent "E_RESULT_EVENTLOG" "$tmp/noagent.cvmr" $roots $unpinned

# output disks: no commit record, a record over another bundle
"$tool" init-disk "$tmp/disk.img" --size 2097152 --order-id order-hostile
seal "$tmp/disk.cvmr" --disk "$tmp/disk.img"
cp "$tmp/disk.img" "$tmp/norecord.img"
dd if=/dev/zero of="$tmp/norecord.img" bs=4096 count=1 conv=notrunc status=none
open_ result-disk-no-commit-record "E_NO_RESULT" "$tmp/norecord.img" $roots $unpinned
cp "$tmp/disk.img" "$tmp/recflip.img"
printf '\001' | dd of="$tmp/recflip.img" bs=1 seek=20 conv=notrunc status=none
open_ result-disk-commit-record-altered "E_NO_RESULT|E_RESULT_[A-Z]+" "$tmp/recflip.img" $roots $unpinned
no_secret result-no-plaintext-on-host "$tmp/good.cvmr" "$tmp/disk.img"
rm -rf "$tmp/res"

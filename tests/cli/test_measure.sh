#!/bin/sh
# cvm measure replay as a user runs it. Needs CVM_BIN, CVM_VECTORS, CVM_TEST_TMP.
set -u
cvm=${CVM_BIN:?}
vec=${CVM_VECTORS:?}
tmp=${CVM_TEST_TMP:?}/cli-measure
rm -rf "$tmp" && mkdir -p "$tmp"
gcp="$vec/tdx/gcp-cos-ccel"
. "$(dirname "$0")/lib.sh"


printf 'not an event log, not JSON either: 0123456789abcdef0123456789' >"$tmp/random.bin"
printf '[{"pcr": 1, "digests": [{"hashAlg": "sha256", "digest": "00"}]}]' >"$tmp/bad.json"

expect "help" 0 "" -- "$cvm" measure --help
expect "no verb" 2 "" -- "$cvm" measure
expect "unknown verb" 2 "not a measure command" -- "$cvm" measure frob
expect "GCP CCEL replays to its quote" 0 "equal the quote" -- \
	"$cvm" measure replay "$gcp/ccel-data.bin" --quote "$gcp/quote.bin"
expect "GCP CCEL against another quote" 1 "RTMR0" -- \
	"$cvm" measure replay "$gcp/ccel-data.bin" --quote "$vec/tdx/spr-prod-quote-v4.bin"
expect "random bytes" 2 "event 0" -- "$cvm" measure replay "$tmp/random.bin"
expect "bad CEL-JSON" 2 "record 0" -- "$cvm" measure replay "$tmp/bad.json"
expect "bad --format" 2 "--format" -- "$cvm" measure replay --format xml "$gcp/ccel-data.bin"
expect "TPM format names PCRs" 0 "PCR1" -- "$cvm" measure replay --format tcg2 "$gcp/ccel-data.bin"

"$cvm" measure replay "$vec/eventlog/ccel-ovmf.bin" --json >"$tmp/ovmf.json" 2>/dev/null
if python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
want = json.load(open(sys.argv[2]))["uefi_event_logs"]
assert d["format"] == "ccel" and len(d["events"]) == len(want) == 20
for a, b in zip(d["events"], want):
    assert a["index"] == b["index"] and a["type_name"] == b["type_name"], (a, b)
    assert a["digests"][0]["digest"] == b["digests"][0]["digest"]
    assert a["event"] == b["event"]
assert {"RTMR0", "RTMR1"} <= set(d["registers"]["sha384"])
' "$tmp/ovmf.json" "$vec/eventlog/ccel-ovmf.expected.json"; then
	ok "--json agrees with Trustee's parse"
else
	bad "--json agrees with Trustee's parse"
fi

# diff: logs event by event, a log against a quote, reference JSON member by member.
cp "$gcp/ccel-data.bin" "$tmp/changed.bin"
printf '\001' | dd of="$tmp/changed.bin" bs=1 seek=90 conv=notrunc 2>/dev/null
printf '{"snp": {"measurement": "aa", "policy": 1}}' >"$tmp/a.json"
printf '{"snp": {"measurement": "aa", "policy": 2}}' >"$tmp/b.json"
expect "diff: the same log" 0 "the same 43 events" -- "$cvm" measure diff "$gcp/ccel-data.bin" "$gcp/ccel-data.bin"
expect "diff: one digest changed" 1 "first difference at event 1 (RTMR0 EV_EFI_HANDOFF_TABLES2" -- \
	"$cvm" measure diff "$gcp/ccel-data.bin" "$tmp/changed.bin"
expect "diff: two firmwares" 1 "first difference at event 1" -- \
	"$cvm" measure diff "$vec/eventlog/ccel-ovmf.bin" "$gcp/ccel-data.bin"
expect "diff: log against its quote" 0 "replays to the RTMRs" -- \
	"$cvm" measure diff "$gcp/quote.bin" "$gcp/ccel-data.bin"
expect "diff: changed log against the quote" 1 "RTMR0 differs" -- \
	"$cvm" measure diff "$tmp/changed.bin" "$gcp/quote.bin"
expect "diff: reference values" 1 "first difference at snp.policy" -- \
	"$cvm" measure diff "$tmp/a.json" "$tmp/b.json"
expect "diff: a JSON and a log" 2 "cannot compare" -- "$cvm" measure diff "$tmp/a.json" "$gcp/ccel-data.bin"

# Authenticode: our SHA-256 of Debian's signed kernel equals the digest its
# signature carries (SpcIndirectDataContent), computed by Debian's signer.
kernel=$(ls /boot/vmlinuz-* 2>/dev/null | sort | tail -n 1)
if [ -z "$kernel" ]; then
	bad "no kernel in /boot (scripts/setup-deps installs linux-image-amd64)"
else
	signed=$(python3 - "$kernel" "$tmp/sig.der" <<'PY'
import struct, subprocess, sys
d = open(sys.argv[1], "rb").read()
pe = struct.unpack_from("<I", d, 0x3C)[0]
opt = pe + 24
dirs = opt + (112 if struct.unpack_from("<H", d, opt)[0] == 0x20B else 96)
off, size = struct.unpack_from("<II", d, dirs + 32)
open(sys.argv[2], "wb").write(d[off + 8:off + size])
lines = subprocess.run(["openssl", "asn1parse", "-inform", "der", "-in", sys.argv[2]],
                       capture_output=True, text=True).stdout.splitlines()
for i, line in enumerate(lines):
    if ":sha256" in line:
        for nxt in lines[i + 1:i + 4]:
            if "OCTET STRING" in nxt and "HEX DUMP" in nxt:
                print(nxt.split(":")[-1].lower())
                sys.exit(0)
PY
)
	ours=$("$cvm" measure authenticode "$kernel" | sed -n 's/^sha256 //p')
	if [ -n "$signed" ] && [ "$ours" = "$signed" ]; then
		ok "Authenticode SHA-256 of $(basename "$kernel") equals its signed digest"
	else
		bad "Authenticode: ours '$ours', signed '$signed'"
	fi
fi
expect "authenticode of a non-PE file" 2 "not a PE image" -- "$cvm" measure authenticode "$tmp/a.json"

summary "cli measure"

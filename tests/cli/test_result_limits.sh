#!/bin/sh
# cvm result open on properly sealed bundles (seal_result.py, sim TDX
# evidence) whose tar is hostile: a sparse entry declaring 1 GiB, an entry
# declaring more than --max-size, more entries than --max-entries, names
# with '..' or a leading '/', links, devices, FIFOs. Each is refused with
# its E_RESULT_ code on one line, exit 1, and nothing is left on disk; a
# tar within the limits opens.
set -u
cvm=${CVM_BIN:?}
cvmt=${CVM_TEST_BIN:?}
pki=${CVM_TEST_PKI:?}
tmp=${CVM_TEST_TMP:?}/cli-result-limits
rm -rf "$tmp" && mkdir -p "$tmp"
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
py=/usr/bin/python3
roots="--test-roots $pki/tdx/roots.pem"

mrtd=$($py -c 'print(bytes(range(48)).hex())')
"$cvm" keygen -o "$tmp/customer.key" >"$tmp/pub"
pub=$(cat "$tmp/pub")
sim_evidence_cmd "$tmp/ev-tdx.sh" "$cvmt" "$pki" "$mrtd" log
mkdir -p "$tmp/stage"
seal() { # KIND [N]
	$py "$here/craft_tar.py" "$1" "$tmp/$1.tar" ${2:-} &&
		$py "$here/seal_result.py" --recipient "$pub" --order-id order-limits --stage "$tmp/stage" \
			--evidence-cmd "$tmp/ev-tdx.sh" --tar "$tmp/$1.tar" "$tmp/$1.cvmr" >/dev/null
}
open_() { "$cvm" result open "$@" $roots --accept-unpinned-image --key "$tmp/customer.key" -o "$tmp/res"; }
# refused NAME PATTERN BUNDLE [options]: exit 1, one line naming the code, nothing on disk
refused() {
	rname=$1 rpat=$2
	shift 2
	expect "$rname" 1 "$rpat" -- open_ "$@"
	[ ! -e "$tmp/res" ] && [ ! -e "$tmp/res.part" ] && ok "$rname: nothing extracted" ||
		bad "$rname: an output directory was left ($(du -sh "$tmp/res.part" 2>/dev/null))"
	rm -rf "$tmp/res" "$tmp/res.part"
}

for k in good sparse big many dotdot abs symlink hardlink device fifo; do
	seal "$k" || bad "sealing $k"
done
echo "# the sparse bundle: $(stat -c %s "$tmp/sparse.cvmr") bytes"
expect "a tar within the limits opens" 0 "verified and opened" -- open_ "$tmp/good.cvmr"
rm -rf "$tmp/res"
refused "sparse entry declaring 1 GiB" "E_RESULT_SPARSE" "$tmp/sparse.cvmr"
refused "entry declaring 64 MiB beyond --max-size 1M" "E_RESULT_TOO_LARGE" "$tmp/big.cvmr" --max-size 1M
refused "entry declaring 64 MiB with only 4 KiB behind it" "E_RESULT_TAR" "$tmp/big.cvmr"
refused "22 entries beyond --max-entries 10" "E_RESULT_TOO_MANY" "$tmp/many.cvmr" --max-entries 10
expect "22 entries within --max-entries 22" 0 "verified and opened" -- open_ "$tmp/many.cvmr" --max-entries 22
rm -rf "$tmp/res"
refused "a name with .." "E_RESULT_UNSAFE: entry 3 has an empty, '.' or '..' component" "$tmp/dotdot.cvmr"
refused "an absolute name" "E_RESULT_UNSAFE: entry 3 has an absolute path" "$tmp/abs.cvmr"
refused "a symbolic link" "E_RESULT_UNSAFE: entry 3 is a symbolic link" "$tmp/symlink.cvmr"
refused "a hard link" "E_RESULT_UNSAFE: entry 3 is a hard link" "$tmp/hardlink.cvmr"
refused "a character device" "E_RESULT_UNSAFE: entry 3 is a device" "$tmp/device.cvmr"
refused "a FIFO" "E_RESULT_UNSAFE: entry 3 is a device, FIFO" "$tmp/fifo.cvmr"
[ ! -e /tmp/escape ] && ok "nothing escaped to /tmp/escape" || bad "/tmp/escape exists"
expect "--max-size 0 refused" 2 "max-size" -- open_ "$tmp/good.cvmr" --max-size 0
expect "--max-size -1 refused" 2 "max-size" -- open_ "$tmp/good.cvmr" --max-size -1
expect "--max-size 5T refused" 2 "max-size" -- open_ "$tmp/good.cvmr" --max-size 5T
expect "--max-entries abc refused" 2 "max-entries" -- open_ "$tmp/good.cvmr" --max-entries abc
expect "--max-size with inspect refused" 2 "max-size" -- "$cvm" result inspect "$tmp/good.cvmr" $roots --max-size 1M

summary "cli result limits"

# The host's disks fail under the agent: the failure-injection shim
# ($build/hostile/failinject.so, LD_PRELOAD) makes the Nth write, read,
# flush or open on one file fail with ENOSPC, EIO or EINTR, or move half
# the bytes. On the write path (result sealing to the output disk,
# agent/result.c, run on the host by result_tool seal) every failure must
# end in a named error with no result on the disk (or, after the commit
# record went out, a whole one), never a half-written result taken as
# whole and never the plaintext on the disk; EINTR and short writes are
# retried and give the whole result. On the unlock path (agent/volume.c:
# header read, in-memory copy, libcryptsetup's header and keyslot reads)
# the same, with the volume key never in any output.
# shellcheck shell=sh

py=/usr/bin/python3
tool="$top/$build/e2e/result_tool"
vcheck="$top/$build/e2e/volume_check"
shim="$top/$build/hostile/failinject.so"
# a sanitized binary wants its runtime first; the shim only wraps libc beneath it
export ASAN_OPTIONS="${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}verify_asan_link_order=0"
mrtd=$($py -c 'print(bytes(range(48)).hex())')

# ---- the write path ----
"$tool" keygen "$tmp/customer.pem" >"$tmp/pub"
pub=$(cat "$tmp/pub")
sim_evidence_cmd "$tmp/ev-tdx.sh" "$cvm_test" "$pki" "$mrtd"
mkdir -p "$tmp/stage/output" "$tmp/stage/log"
plain=$($py -c 'import os; print(os.urandom(24).hex())')
# more than one chunk of the bundle, so that writes in the middle can fail
$py -c "import sys; sys.stdout.write(('customer plaintext $plain\n') * 8000)" >"$tmp/stage/output/answer.txt"
secret "customer plaintext $plain"

# fi VAR=VALUE... -- cmd...: cmd under the shim, its log in $tmp/fi.log
fi_run() {
	rm -f "$tmp/fi.log" "$tmp/fi.tally"
	env LD_PRELOAD="$shim" FAILINJECT_LOG="$tmp/fi.log" FAILINJECT_TALLY="$tmp/fi.tally" "$@"
}

seal_under() { # DISK VAR=VALUE...
	s_disk=$1
	shift
	"$tool" init-disk "$s_disk" --size 8388608 --order-id order-fail >/dev/null
	fi_run "$@" "$tool" seal "$s_disk" --stage "$tmp/stage" --recipient "$pub" --tee tdx \
		--evidence-cmd "$tmp/ev-tdx.sh" >"$tmp/seal.out" 2>"$tmp/seal.err"
}

# disk_state DISK: whole (opens, every byte of the plaintext back), none (E_NO_RESULT), or what else
disk_state() {
	rm -rf "$tmp/opened"
	if "$tool" open "$1" --key "$tmp/customer.pem" -o "$tmp/opened" >"$tmp/open.out" 2>"$tmp/open.err"; then
		cmp -s "$tmp/opened/output/answer.txt" "$tmp/stage/output/answer.txt" && echo whole || echo PARTIAL
	elif grep -q E_NO_RESULT "$tmp/open.err"; then
		echo none
	else
		echo "OTHER:$(grep -Eo 'E_[A-Z_]+' "$tmp/open.err" | head -n1)"
	fi
}

# write_case NAME WANT_CODE WANT_DISK VAR=VALUE...: one line: the code the
# seal ended with (ok when it succeeded), whether the failure was injected,
# the disk afterwards, and no plaintext on it
write_case() {
	w_name=$1 w_code=$2 w_disk=$3
	shift 3
	seal_under "$tmp/out.img" "$@"
	w_seen=ok
	if [ -s "$tmp/seal.err" ] || ! [ -s "$tmp/seal.out" ]; then
		w_seen=$(grep -Eo 'E_[A-Z_]+' "$tmp/seal.err" | head -n1)
		[ -n "$w_seen" ] || w_seen="unnamed($(head -c 60 "$tmp/seal.err"))"
	fi
	[ -s "$tmp/fi.log" ] && w_fired=fired || w_fired=not-fired
	w_state=$(disk_state "$tmp/out.img")
	[ -z "$(scan "$tmp/out.img" "$tmp/seal.err" "$tmp/seal.out")" ] && w_clean=clean || w_clean=LEAK
	record "$w_name" "$w_code/fired/$w_disk/clean" "$w_seen/$w_fired/$w_state/$w_clean"
}

disk="FAILINJECT_PATH=$tmp/out.img"
# dry runs: how many writes and flushes reach the disk (the last write is the commit record)
seal_under "$tmp/out.img" FAILINJECT_CALLS=pwrite "$disk" FAILINJECT_TIMES=0
writes=$(cat "$tmp/fi.tally" 2>/dev/null || echo 0)
seal_under "$tmp/out.img" FAILINJECT_CALLS=fdatasync,fsync "$disk" FAILINJECT_TIMES=0
flushes=$(cat "$tmp/fi.tally" 2>/dev/null || echo 0)
record write-path-dry-run "whole, >3 writes, 3 flushes" \
	"$(disk_state "$tmp/out.img"), $([ "$writes" -gt 3 ] && echo '>3' || echo "$writes") writes, $flushes flushes"
mid=$((writes / 2))

write_case write-enospc-block0 E_OUTPUT_FULL none FAILINJECT_CALLS=pwrite "$disk" FAILINJECT_ERR=ENOSPC
write_case write-eio-block0 E_OUTPUT_WRITE none FAILINJECT_CALLS=pwrite "$disk" FAILINJECT_ERR=EIO
write_case write-enospc-first-chunk E_OUTPUT_FULL none FAILINJECT_CALLS=pwrite "$disk" FAILINJECT_NTH=2 FAILINJECT_ERR=ENOSPC
write_case write-eio-mid-bundle E_OUTPUT_WRITE none FAILINJECT_CALLS=pwrite "$disk" FAILINJECT_NTH=$mid FAILINJECT_ERR=EIO
write_case write-enospc-mid-bundle E_OUTPUT_FULL none FAILINJECT_CALLS=pwrite "$disk" FAILINJECT_NTH=$mid FAILINJECT_ERR=ENOSPC
write_case write-eio-commit-record E_OUTPUT_WRITE none FAILINJECT_CALLS=pwrite "$disk" FAILINJECT_NTH=$writes FAILINJECT_ERR=EIO
write_case write-eio-from-mid-on E_OUTPUT_WRITE none FAILINJECT_CALLS=pwrite "$disk" FAILINJECT_NTH=$mid FAILINJECT_TIMES=100000 FAILINJECT_ERR=EIO
write_case write-eintr-every-write ok whole FAILINJECT_CALLS=pwrite "$disk" FAILINJECT_TIMES=2 FAILINJECT_ERR=EINTR
write_case write-eintr-mid-bundle ok whole FAILINJECT_CALLS=pwrite "$disk" FAILINJECT_NTH=$mid FAILINJECT_ERR=EINTR
write_case write-short-every-write ok whole FAILINJECT_CALLS=pwrite "$disk" FAILINJECT_TIMES=100000 FAILINJECT_ERR=SHORT
write_case write-short-commit-record ok whole FAILINJECT_CALLS=pwrite "$disk" FAILINJECT_NTH=$writes FAILINJECT_ERR=SHORT
write_case flush-eio-block0 E_OUTPUT_FLUSH none FAILINJECT_CALLS=fdatasync,fsync "$disk" FAILINJECT_ERR=EIO
write_case flush-eio-before-commit E_OUTPUT_FLUSH none FAILINJECT_CALLS=fdatasync,fsync "$disk" FAILINJECT_NTH=2 FAILINJECT_ERR=EIO
# the commit record is on the (host's) disk but not known to be: reported, and what is there is whole
write_case flush-eio-after-commit E_OUTPUT_FLUSH whole FAILINJECT_CALLS=fdatasync,fsync "$disk" FAILINJECT_NTH=$flushes FAILINJECT_ERR=EIO
write_case flush-eintr-retried ok whole FAILINJECT_CALLS=fdatasync,fsync "$disk" FAILINJECT_TIMES=3 FAILINJECT_ERR=EINTR
# the first open reads the host's order block, the second is for writing
write_case open-eio-order-block E_ORDER none FAILINJECT_CALLS=open,openat "$disk" FAILINJECT_ERR=EIO
write_case open-eio-output-disk E_OUTPUT_OPEN none FAILINJECT_CALLS=open,openat "$disk" FAILINJECT_NTH=2 FAILINJECT_ERR=EIO
write_case read-eio-staged-file E_OUTPUT_TAR none FAILINJECT_CALLS=read "FAILINJECT_PATH=$tmp/stage/output" FAILINJECT_ERR=EIO
write_case read-eintr-staged-file ok whole FAILINJECT_CALLS=read "FAILINJECT_PATH=$tmp/stage/output" FAILINJECT_ERR=EINTR
write_case read-short-staged-file ok whole FAILINJECT_CALLS=read "FAILINJECT_PATH=$tmp/stage/output" FAILINJECT_TIMES=100000 FAILINJECT_ERR=SHORT
write_case open-eio-staged-file E_OUTPUT_TAR none FAILINJECT_CALLS=open,openat "FAILINJECT_PATH=$tmp/stage/output" FAILINJECT_TIMES=100 FAILINJECT_ERR=EIO

# ---- the unlock path ----
mkdir -p "$tmp/wl/bin"
echo "workload $plain" >"$tmp/wl/bin/job"
printf '{"argv":["bin/job"],"user":{"uid":1000,"gid":1000},"result_recipient":"%s"}' "$pub" >"$tmp/wl/cvm-job.json"
"$cvm" pack "$tmp/wl" -o "$tmp/wl.img" --key-out "$tmp/wl.key" --source-date-epoch 1 >/dev/null
secret "$($py -c "import json,sys; print(json.load(open(sys.argv[1]))['volume_key'])" "$tmp/wl.key")"
img="FAILINJECT_PATH=$tmp/wl.img"
memfd="FAILINJECT_PATH=memfd:cvm-luks-header"

# unlock_case NAME EXIT PATTERN VAR=VALUE...: volume_check under the shim; the failure must have fired
unlock_case() {
	u_name=$1 u_exit=$2 u_pat=$3
	shift 3
	attack "$u_name" "$u_exit" "$u_pat" -- fi_run "$@" "$vcheck" "$tmp/wl.img" "$tmp/wl.key"
	[ -s "$tmp/fi.log" ] || line "$u_name-injected" fail "the failure injected" "never reached"
}
attack unlock-no-failure 0 "^unlocked" -- "$vcheck" "$tmp/wl.img" "$tmp/wl.key"
unlock_case unlock-open-eio 1 "E_VOLUME_OPEN: .*Input/output error" FAILINJECT_CALLS=open,openat "$img"
unlock_case unlock-header-read-eio 1 "E_VOLUME_OPEN: .*read: Input/output error" FAILINJECT_CALLS=read,pread "$img"
unlock_case unlock-header-read-enospc 1 "E_VOLUME_OPEN: .*read: No space" FAILINJECT_CALLS=read,pread "$img" FAILINJECT_ERR=ENOSPC
unlock_case unlock-header-read-eintr 0 "^unlocked" FAILINJECT_CALLS=read,pread "$img" FAILINJECT_ERR=EINTR
unlock_case unlock-header-read-short 0 "^unlocked" FAILINJECT_CALLS=read,pread "$img" FAILINJECT_TIMES=1000 FAILINJECT_ERR=SHORT
unlock_case unlock-memfd-write-enospc 1 "E_VOLUME_OPEN: cannot keep the header" FAILINJECT_CALLS=write "$memfd" FAILINJECT_ERR=ENOSPC
unlock_case unlock-memfd-write-eintr 0 "^unlocked" FAILINJECT_CALLS=write "$memfd" FAILINJECT_ERR=EINTR
unlock_case unlock-memfd-write-short 0 "^unlocked" FAILINJECT_CALLS=write "$memfd" FAILINJECT_TIMES=1000 FAILINJECT_ERR=SHORT
unlock_case unlock-luks-load-eio 1 "E_VOLUME_LOAD" FAILINJECT_CALLS=read,pread "$memfd" FAILINJECT_TIMES=100000
# from the keyslot's read on: the header was loaded, the key material cannot be read
fi_run FAILINJECT_CALLS=read,pread "$memfd" FAILINJECT_TIMES=0 "$vcheck" "$tmp/wl.img" "$tmp/wl.key" >/dev/null 2>&1
reads=$(cat "$tmp/fi.tally" 2>/dev/null || echo 1)
unlock_case unlock-keyslot-read-eio 1 "E_VOLUME_ACTIVATE: Input/output error" FAILINJECT_CALLS=read,pread "$memfd" FAILINJECT_NTH=$reads FAILINJECT_TIMES=100000
unlock_case unlock-luks-read-eintr 0 "^unlocked" FAILINJECT_CALLS=read,pread "$memfd" FAILINJECT_TIMES=100000 FAILINJECT_ERR=EINTR
unlock_case unlock-luks-read-short 0 "^unlocked" FAILINJECT_CALLS=read,pread "$memfd" FAILINJECT_TIMES=100000 FAILINJECT_ERR=SHORT

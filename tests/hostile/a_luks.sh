# LUKS2 headers of a workload volume rewritten by a host (tests/hostile/
# luks_mutate.c): each change made to both metadata copies with their
# SHA-256 checksums recomputed, so that it reaches the allow-list behind the
# checksum. luks_mutate check runs the guest's header check
# (luks2_header_validate, default allow-list, the bytes the agent reads).
# shellcheck shell=sh

lm="$top/$build/hostile/luks_mutate"
mkdir -p "$tmp/wl"
echo job >"$tmp/wl/job"
"$cvm" pack "$tmp/wl" -o "$tmp/good.img" --key-out "$tmp/good.key" >/dev/null 2>&1

# mutation NAME CODE: the named change must be refused with CODE
mutation() {
	"$lm" "$tmp/good.img" "$tmp/$1.img" "$1"
	attack "luks-$1" 1 "$2" -- "$lm" check "$tmp/$1.img"
	rm -f "$tmp/$1.img"
}

mutation keyslots-size-huge E_LUKS_CONFIG
mutation keyslots-size-past-area E_LUKS_CONFIG
mutation keyslot-on-data E_LUKS_KEYSLOT_AREA
mutation keyslot-on-header E_LUKS_KEYSLOT_AREA
mutation keyslot-size-wrap E_LUKS_KEYSLOT_AREA
mutation iterations-huge E_LUKS_KDF
mutation iterations-negative E_LUKS_KDF
mutation iterations-fractional E_LUKS_KDF
mutation iterations-string E_LUKS_KDF
mutation area-key-size E_LUKS_KEYSLOT
mutation stripes-huge E_LUKS_KEYSLOT
mutation segment-unaligned E_LUKS_SEGMENT
mutation segment-size-wrap E_LUKS_SEGMENT
mutation segment-past-file E_VOLUME_TRUNCATED
mutation segment-on-keyslots E_LUKS_OVERLAP
mutation sector-size-fractional E_LUKS_SECTOR
mutation json-size-wrong E_LUKS_CONFIG
mutation hdr-size-wrong 'E_LUKS_(MAGIC|CONFIG|CHECKSUM)'
mutation copies-disagree E_LUKS_COPIES
mutation second-offset-wrong E_LUKS_HDR_OFFSET
# the unmodified volume passes the same check (the refusals above are the changes')
"$lm" check "$tmp/good.img" >/dev/null 2>&1
record luks-genuine-volume-valid 0 "$?"

# A reproducible volume (cvm pack --seed: the header written by
# measurement/luks2_format.c from derived bytes) gets the same allow-list:
# the host's rewrites of its header are refused as those of any volume.
(umask 077 && head -c 32 /dev/urandom >"$tmp/owner.seed")
"$cvm" pack "$tmp/wl" -o "$tmp/seeded.img" --key-out "$tmp/seeded.key" --seed "$tmp/owner.seed" >/dev/null 2>&1
seeded() {
	"$lm" "$tmp/seeded.img" "$tmp/s-$1.img" "$1"
	attack "luks-seeded-$1" 1 "$2" -- "$lm" check "$tmp/s-$1.img"
	rm -f "$tmp/s-$1.img"
}
seeded keyslot-on-data E_LUKS_KEYSLOT_AREA
seeded iterations-huge E_LUKS_KDF
seeded segment-on-keyslots E_LUKS_OVERLAP
seeded copies-disagree E_LUKS_COPIES
"$lm" check "$tmp/seeded.img" >/dev/null 2>&1
record luks-seeded-genuine-volume-valid 0 "$?"

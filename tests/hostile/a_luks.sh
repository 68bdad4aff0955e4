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

# The agent reads an input's two metadata copies first, then the rest of the
# header area they describe (agent/volume.c, volume_open, run
# here by volume_check): a host's volume that claims a larger area, with
# cryptsetup's own 16 MiB layout, is read on and checked whole; cut inside
# that area, or claiming more than the agent's bound, it is refused.
vcheck="$top/$build/e2e/volume_check"
/usr/bin/python3 -c "import json,sys; sys.stdout.buffer.write(bytes.fromhex(json.load(open(sys.argv[1]))['volume_key']))" \
	"$tmp/good.key" >"$tmp/big.pass"
luks_big() { # FILE SIZE [cryptsetup options]: a volume cryptsetup formats for the same passphrase
	lb_file=$1 lb_size=$2
	shift 2
	rm -f "$lb_file" && truncate -s "$lb_size" "$lb_file" &&
		cryptsetup luksFormat --batch-mode --type luks2 --cipher aes-xts-plain64 --key-size 512 \
			--sector-size 4096 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
			--key-file "$tmp/big.pass" "$@" "$lb_file" >/dev/null 2>&1
}
luks_big "$tmp/big.img" 20M
attack luks-large-area-genuine 0 unlocked -- "$vcheck" "$tmp/big.img" "$tmp/good.key"
head -c 8388608 "$tmp/big.img" >"$tmp/big-cut.img"
attack luks-large-area-cut-short 1 E_VOLUME_TRUNCATED -- "$vcheck" "$tmp/big-cut.img" "$tmp/good.key"
luks_big "$tmp/huge.img" 40M --offset 65536 --luks2-keyslots-size 1M
attack luks-area-past-the-bound 1 E_LUKS_HDR_SIZE -- "$vcheck" "$tmp/huge.img" "$tmp/good.key"
rm -f "$tmp/big.pass" "$tmp/big.img" "$tmp/big-cut.img" "$tmp/huge.img"

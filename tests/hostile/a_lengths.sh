# Length fields of real evidence set to 0, one below, one above, the maximum
# of their type and one past the end (tests/hostile/len_mutate.c): TDX
# quotes v4 and v5, SEV-SNP reports, a TCG2 event log (a CCEL). Each variant
# must be refused as malformed, by name.
# shellcheck shell=sh

lm="$top/$build/hostile/len_mutate"
tdx_now="--now 2026-06-01T00:00:00Z"
snp_now="--now 2024-01-01T00:00:00Z"
ccel="$vectors/tdx/gcp-cos-ccel"

mkdir -p "$tmp/tdx4" "$tmp/tdx5"
for v in $("$lm" tdx "$vectors/tdx/spr-prod-quote-v4.bin" "$tmp/tdx4"); do
	attack "tdx4-len-$v" 1 "(format|certification_data): " -- "$cvm" verify "$tmp/tdx4/$v.bin" $tdx_now
done
for v in $("$lm" tdx "$vectors/tdx/quote-v5.bin" "$tmp/tdx5"); do
	attack "tdx5-len-$v" 1 "(format|certification_data): " -- "$cvm" verify "$tmp/tdx5/$v.bin" $tdx_now
done
mkdir -p "$tmp/snp"
for v in $("$lm" snp "$vectors/snp/milan/report.bin" "$tmp/snp"); do
	attack "snp-len-$v" 1 "(format|signature_algorithm): " -- "$cvm" verify "$tmp/snp/$v.bin" \
		--certs "$vectors/snp/milan" $snp_now
done
# The event log: `cvm measure replay` refuses a malformed log as unreadable (exit 2).
mkdir -p "$tmp/tcg2"
for v in $("$lm" tcg2 "$ccel/ccel-data.bin" "$tmp/tcg2"); do
	# The last event grown by one byte into the 0xFF padding is a log whose last
	# event data ends in 0xFF: indistinguishable, and its digests are unchanged.
	[ "$v" = last-event-size-plus1 ] && continue
	attack "ccel-len-$v" 2 "event [0-9]+: " -- "$cvm" measure replay "$tmp/tcg2/$v.bin" \
		--quote "$ccel/quote.bin"
done
# bytes hidden after the end marker of the log
/usr/bin/python3 -c '
import sys
d = bytearray(open(sys.argv[1], "rb").read()); d[-100] = 0x41
open(sys.argv[2], "wb").write(d)' "$ccel/ccel-data.bin" "$tmp/ccel-trailing.bin"
attack ccel-bytes-after-end 2 "bytes after the log's end" -- "$cvm" measure replay \
	"$tmp/ccel-trailing.bin" --quote "$ccel/quote.bin"

#!/bin/sh
# The measured image rebuilt bit for bit: two clean clones of this commit,
# in different directories, built by different users (root and nobody, when
# run as root), with different umask, locale, time zone and
# SOURCE_DATE_EPOCH unset, each building its own static libcurl and cJSON
# from Debian's sources (scripts/build-tcb-deps), then the agent, then the
# default image with its signed manifest (cvm image build). The agent, the
# initrd, the manifest and its signature must be the same bytes; so must
# the listing of the trusted base (cvm initrd tcb).
# usage: tests/e2e/test_repro.sh BUILD_DIR
set -u
build=${1:?usage: test_repro.sh BUILD_DIR}
top=$(cd "$(dirname "$0")/../.." && pwd)
tmp="$top/$build/tmp/repro"
. "$top/tests/cli/lib.sh"
rm -rf "$tmp" && mkdir -p "$tmp"
kver=$(ls /lib/modules 2>/dev/null | sort | tail -n 1)
head=$(git -C "$top" rev-parse HEAD)

"$top/$build/cvm" keygen -o "$tmp/builder.key" >/dev/null || bad "builder key"

# one build: DIR USER UMASK LOCALE TZ
one() {
	dir=$1 user=$2
	mkdir -p "$dir/home"
	git clone -q "$top" "$dir/src" && git -C "$dir/src" checkout -q "$head" || return 1
	cp "$tmp/builder.key" "$dir/builder.key"
	[ "$user" = root ] || chown -R "$user" "$dir"
	cat >"$dir/build.sh" <<-EOF
		umask $3
		export HOME=$dir/home LC_ALL=$4 TZ=$5 CVM_TCB_DEPS=$dir/tcb-deps
		unset SOURCE_DATE_EPOCH XDG_CACHE_HOME
		cd $dir/src
		make -j2 all >$dir/make.log 2>&1 &&
		build/cvm image build vm-images/default -o $dir/img --key $dir/builder.key \
			--file cvm-agent=build/cvm-agent --kver $kver --platforms tdx >$dir/image.log 2>&1
	EOF
	if [ "$user" = root ]; then
		sh "$dir/build.sh"
	else
		su "$user" -s /bin/sh -c "sh $dir/build.sh"
	fi
}

other=root
[ "$(id -u)" -eq 0 ] && other=nobody
one "$tmp/a" root 022 C UTC || { bad "build a"; tail -5 "$tmp/a"/*.log; }
sleep 1 # another second on the clock
one "$tmp/b/deeper/than/a" "$other" 077 C.UTF-8 Asia/Tokyo || { bad "build b"; tail -5 "$tmp/b/deeper/than/a"/*.log; }
[ "$other" = nobody ] && ok "the second build ran as nobody" || ok "not root: both builds ran as $(id -un)"

b="$tmp/b/deeper/than/a"
for f in src/build/cvm-agent img/initrd.img img/tcb.json img/manifest.json img/manifest.sig; do
	if [ -s "$tmp/a/$f" ] && cmp -s "$tmp/a/$f" "$b/$f"; then
		ok "the same $f from both ($(sha256sum <"$b/$f" | cut -c1-16))"
	else
		bad "$f differs between the two builds"
	fi
done
cmp -s "$tmp/a/tcb-deps/lib/libcurl.a" "$b/tcb-deps/lib/libcurl.a" &&
	ok "the same static libcurl from Debian's sources" || bad "libcurl.a differs"
# the image meets its size goal
size=$(stat -c %s "$b/img/initrd.img")
[ "$size" -le 8000000 ] && ok "the default initrd is $size bytes (goal: at most 8 MB)" ||
	bad "the default initrd is $size bytes, over 8 MB"
summary "e2e repro"

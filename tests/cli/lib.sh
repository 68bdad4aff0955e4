# Shared by the command-line tests (sourced): counters and checks.
# shellcheck shell=sh
pass=0
fail=0

ok() { echo "ok - $1"; pass=$((pass + 1)); }
bad() { echo "not ok - $1"; fail=$((fail + 1)); }

# expect NAME STATUS PATTERN -- command...
# The command must exit with STATUS; PATTERN (if not empty) must appear in
# its output; a failing command with a PATTERN must say why in one line.
expect() {
	name=$1 want=$2 pattern=$3
	shift 4
	"$@" >"$tmp/out" 2>"$tmp/err"
	got=$?
	if [ "$got" -ne "$want" ]; then
		bad "$name: exit $got, expected $want"
		cat "$tmp/err"
	elif [ -n "$pattern" ] && ! grep -q -- "$pattern" "$tmp/err" "$tmp/out"; then
		bad "$name: output lacks '$pattern'"
		cat "$tmp/err"
	elif [ "$want" -ne 0 ] && [ -n "$pattern" ] && [ "$(wc -l <"$tmp/err")" -ne 1 ]; then
		bad "$name: $(wc -l <"$tmp/err") lines on stderr, expected one"
		cat "$tmp/err"
	else
		ok "$name"
	fi
}

# summary LABEL: prints the counts; the exit status of the test.
summary() {
	echo "$1: $pass passed, $fail failed"
	[ "$fail" -eq 0 ]
}

# sim_evidence_cmd OUT CVM_TEST PKI MRTD [log]: writes the program OUT that
# seal_result.py and result_tool run for evidence (REPORT_DATA_HEX OUT_FILE
# [RUNTIME_LOG]): a sim TDX quote of MRTD signed by the test PKI, with the
# runtime log when "log" is given.
sim_evidence_cmd() {
	se_log=""
	[ "${5:-}" = log ] && se_log='--runtime-log "$3" '
	printf '#!/bin/sh\nexec "%s" kbs-client --tee sim --sim-pki "%s" --sim-measurement %s %s--evidence "$1" -o "$2"\n' \
		"$2" "$3" "$4" "$se_log" >"$1"
	chmod +x "$1"
}

# free_port: a TCP port of 127.0.0.1 that nothing listens on now, drawn below
# the kernel's ephemeral range so that no client connection holds it next
free_port() {
	/usr/bin/python3 -c '
import random, socket
lo = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
while True:
    p = random.randrange(max(1024, lo - 12000), lo)
    try:
        socket.socket().bind(("127.0.0.1", p))
        print(p)
        break
    except OSError:
        pass
'
}

# swtpm_tcp STATE_DIR PID_FILE: a swtpm daemon on STATE_DIR listening on
# 127.0.0.1; prints its TPM port (swtpm_tcp.sh says how it is drawn)
swtpm_tcp() {
	sh "${here:-${top:-$CVM_TOP}/tests/cli}/swtpm_tcp.sh" "$@"
}

# wait_port PORT: until something listens on 127.0.0.1:PORT (at most 10 s)
wait_port() {
	i=0
	while ! /usr/bin/python3 -c "import socket; socket.create_connection(('127.0.0.1',$1),0.2)" 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt 100 ] && return 1
		sleep 0.1
	done
}

# sim_initrd DIR OUT AGENT RETRIES TIMEOUT_MS: builds in DIR the initrd OUT
# of vm-images/default with the test build AGENT of cvm-agent (the sim TEE,
# signing with the test PKI $pki, reporting MRTD $mrtd), the brokers the
# order names tried RETRIES times after TIMEOUT_MS. Also needs $top, $cvm and
# $kver. With $sim_launch set (non-empty), the sim reports instead the launch
# registers the host hands over by fw_cfg: image.json's "plain":
# {"sim_launch": FILE} (docs/order.md), with the order's MRCONFIGID.
sim_initrd() {
	sim_reg="\"measurement\": \"$mrtd\""
	if [ -n "${sim_launch:-}" ]; then
		sim_reg='"launch": "/sys/firmware/qemu_fw_cfg/by_name/opt/org.cvm/sim-launch/raw"'
	fi
	mkdir -p "$1/sim-pki/tdx"
	cp "$top/vm-images/default/initrd.list" "$1/"
	cp "$3" "$1/cvm-agent"
	cp "$pki/tdx/ak.key" "$pki/tdx/pck.key" "$pki/tdx/pck-chain.pem" "$1/sim-pki/tdx/"
	cat >"$1/agent.json" <<EOA
{"tee": "sim",
 "broker": {"retries": $4, "backoff_ms": 200, "timeout_ms": $5},
 "network": {"interface": "eth0", "address": "10.0.2.15/24", "gateway": "10.0.2.2"},
 "sim": {"pki": "/etc/cvm/sim-pki", "platform": "tdx", $sim_reg}}
EOA
	printf '\n# test build only: the sim backend, its test PKI, and fw_cfg for its launch registers\ntree sim-pki /etc/cvm/sim-pki\nmodule qemu_fw_cfg\n' >>"$1/initrd.list"
	"$cvm" initrd build "$1/initrd.list" -o "$2" --kver "$kver" >/dev/null
}

# disk_cuts DISK END OPENER: DISK, an output disk whose bundle ends at END,
# cut at every 4 KiB boundary below END as a short copy leaves it
# ($tmp/cut.img, truncated) and as a power cut does ($tmp/zeroed.img, zeros
# from the cut to DISK's size, the commit record in place). "OPENER IMAGE"
# must fail for each, and say E_NO_RESULT on stderr ($tmp/cut.err); an
# opener fails only when it refused and extracted nothing. Sets $cuts and
# $failed.
disk_cuts() {
	cuts=0 failed=0
	k=4096
	while [ "$k" -lt "$2" ]; do
		head -c "$k" "$1" >"$tmp/cut.img"
		cp "$tmp/cut.img" "$tmp/zeroed.img" && truncate -s "$(stat -c %s "$1")" "$tmp/zeroed.img"
		for img in cut.img zeroed.img; do
			if "$3" "$tmp/$img" >"$tmp/cut.out" 2>"$tmp/cut.err" || ! grep -q E_NO_RESULT "$tmp/cut.err"; then
				failed=$((failed + 1))
				echo "cut $img at $k: $(cat "$tmp/cut.err")"
			fi
		done
		cuts=$((cuts + 1))
		k=$((k + 4096))
	done
}

# sim_td: the launch registers the sim reports when $sim_launch is set (MRTD
# $mrtd, RTMR0-2 fixed test values), written to $tmp/launch.json for QEMU's
# fw_cfg, and $tdx_ref, the members of a "tdx" reference that pins all four
# (a policy must leave no launch register open: docs/kbs.md).
sim_td() {
	rtmr0=$(printf '10%.0s' $(seq 48))
	rtmr1=$(printf '11%.0s' $(seq 48))
	rtmr2=$(printf '12%.0s' $(seq 48))
	tdx_ref="\"mrtd\": \"$mrtd\", \"rtmr0\": \"$rtmr0\", \"rtmr1\": \"$rtmr1\", \"rtmr2\": \"$rtmr2\""
	echo "{$tdx_ref}" >"$tmp/launch.json"
}

# anvil_path NPM_DIR: the anvil binary of the npm package @foundry-rs/anvil,
# to be run directly: its node wrapper (.bin/anvil) does not always pass a
# signal on, and a killed wrapper can leave the node listening
anvil_path() {
	for ap in "$1"/node_modules/@foundry-rs/anvil-linux-*/bin/anvil; do
		[ -x "$ap" ] && { echo "$ap"; return 0; }
	done
	echo "$1/node_modules/.bin/anvil"
}

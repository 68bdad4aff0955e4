#!/bin/sh
# swtpm_tcp.sh STATE_DIR PID_FILE: starts a swtpm daemon on STATE_DIR (a TPM
# 2.0, startup-clear) that listens on 127.0.0.1, its TPM port and, one above,
# its control port, as tpm2-tss's swtpm TCTI wants them; prints the TPM port
# once it answers. The two ports are drawn below the kernel's ephemeral range,
# so no client connection of another test holds one, and drawn again when
# another server took one meanwhile. Exit 1 when no swtpm could start.
set -u
state=${1:?usage: swtpm_tcp.sh STATE_DIR PID_FILE}
pidfile=${2:?usage: swtpm_tcp.sh STATE_DIR PID_FILE}
try=0
while [ $try -lt 20 ]; do
	try=$((try + 1))
	port=$(/usr/bin/python3 -c '
import random, socket
lo = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
while True:
    p = random.randrange(max(1024, lo - 12000), lo - 2, 2)
    try:
        for q in (p, p + 1):
            s = socket.socket()
            s.bind(("127.0.0.1", q))
            s.close()
        print(p)
        break
    except OSError:
        pass
') || exit 1
	rm -f "$pidfile"
	if swtpm socket --tpm2 --tpmstate dir="$state" --flags startup-clear \
		--server type=tcp,port="$port",bindaddr=127.0.0.1 \
		--ctrl type=tcp,port=$((port + 1)),bindaddr=127.0.0.1 \
		--daemon --pid file="$pidfile" 2>/dev/null; then
		i=0
		while [ $i -lt 100 ]; do
			if /usr/bin/python3 -c "import socket; socket.create_connection(('127.0.0.1',$port),0.2)" 2>/dev/null; then
				echo "$port"
				exit 0
			fi
			i=$((i + 1))
			sleep 0.1
		done
		[ -s "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null
	fi
done
echo "swtpm_tcp.sh: no swtpm started on $state" >&2
exit 1

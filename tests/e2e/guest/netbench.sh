#!/bin/sh
# The network benchmark (tests/e2e/bench_net.py): an address by DHCP, then
# SPLITVM_mib MiB of zeros over TCP to the host's sink, which listens on the
# host's loopback at port SPLITVM_sink_port (the DHCP router's address here).
. /e2e/lib.sh

ip link set lo up
if ! wait_for 10 ls /sys/class/net/eth0; then
	fail dhcp "no network interface: $(ls /sys/class/net)"
	done_test netbench
	exit
fi
if udhcpc -i eth0 -n -q -t 5 -T 2 -s /e2e/udhcpc.sh >/tmp/udhcpc.log 2>&1 &&
	[ -s /run/dhcp.env ]; then
	. /run/dhcp.env
	ok dhcp "$ip"
else
	fail dhcp "$(tail -n 3 /tmp/udhcpc.log | tr '\n' ' ')"
	done_test netbench
	exit
fi

# busybox nc half-closes when its input ends and exits when the sink closes
if dd if=/dev/zero bs=64k count=$((SPLITVM_mib * 16)) 2>/dev/null |
	timeout 900 nc "$router" "$SPLITVM_sink_port"; then
	ok send "$SPLITVM_mib"
else
	fail send "nc ended with status $?"
fi
done_test netbench

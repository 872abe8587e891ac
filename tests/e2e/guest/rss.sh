#!/bin/sh
# The memory benchmark's test (bench_rss.py): one disk and one NIC in use,
# then a pause in which the host samples the VMM's resident set.
. /e2e/lib.sh

ip link set lo up
if wait_for 10 test -b /dev/vda && dd if=/dev/vda of=/dev/null bs=1M 2>/dev/null; then
	ok disk
else
	fail disk "cannot read /dev/vda"
fi
if wait_for 10 ls /sys/class/net/eth0 &&
	udhcpc -i eth0 -n -q -t 5 -T 2 -s /e2e/udhcpc.sh >/tmp/udhcpc.log 2>&1; then
	ok dhcp
else
	fail dhcp "$(tail -n 3 /tmp/udhcpc.log | tr '\n' ' ')"
fi
info settled
sleep 2
done_test rss

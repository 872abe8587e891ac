#!/bin/sh
# Networking (issue 5): DHCP, a page from the host's HTTP server through
# user-mode networking (splitvm.http_port=PORT on the DHCP router's address),
# and a server in the guest the host reaches through a forwarded port.
. /e2e/lib.sh

ip link set lo up
dev=""
wait_for 10 ls /sys/class/net/eth0 && dev=eth0
if [ -z "$dev" ]; then
	fail dhcp "no network interface: $(ls /sys/class/net)"
	done_test net
	exit
fi

if udhcpc -i "$dev" -n -q -t 5 -T 2 -s /e2e/udhcpc.sh >/tmp/udhcpc.log 2>&1 &&
	[ -s /run/dhcp.env ]; then
	. /run/dhcp.env
	ok dhcp "$ip/$mask router=$router dns=$dns"
else
	fail dhcp "$(tail -n 3 /tmp/udhcpc.log | tr '\n' ' ')"
fi

url="http://$router:$SPLITVM_http_port/data.bin"
# (Debian's busybox 1.35 wget crashes with -T: timeout bounds it instead)
if timeout 60 wget -q -O /tmp/page "$url" 2>/tmp/wget.err; then
	check wget "$(sha256 /tmp/page)" "$E2E_DATA_SHA256"
else
	fail wget "$url: $(cat /tmp/wget.err)"
fi

httpd -p 8080 -h /e2e/www
host_wait hostfwd
check hostfwd "$reply" fetched

done_test net

#!/bin/sh
# Networking through a tap (issue 5): the host side of the tap is 10.11.0.1
# in a network namespace of the test's own; the guest takes 10.11.0.2,
# fetches data.bin from the host's HTTP server (SPLITVM_http_port), then
# serves it back for the host to fetch and compare (large frames both ways:
# the checksum and TSO offloads pass through the tap).
. /e2e/lib.sh

ip link set lo up
if ! wait_for 10 ls /sys/class/net/eth0; then
	fail link "no network interface: $(ls /sys/class/net)"
	done_test nettap
	exit
fi
ip addr add 10.11.0.2/24 dev eth0
ip link set eth0 up
ok link "$(cat /sys/class/net/eth0/address)"

url="http://10.11.0.1:$SPLITVM_http_port/data.bin"
if timeout 60 wget -q -O /tmp/page "$url" 2>/tmp/wget.err; then
	check wget "$(sha256 /tmp/page)" "$E2E_DATA_SHA256"
else
	fail wget "$url: $(cat /tmp/wget.err)"
fi

mkdir -p /tmp/www
cp /tmp/page /tmp/www/data.bin
httpd -p 8080 -h /tmp/www
host_wait host-fetch
check host-fetch "$reply" fetched

done_test nettap

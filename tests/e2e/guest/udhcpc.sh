#!/bin/sh
# udhcpc's event script: configures the interface from the lease and
# records it in /run/dhcp.env for the test scripts.
case $1 in
deconfig)
	ip addr flush dev "$interface"
	ip link set "$interface" up
	;;
bound | renew)
	router=${router%% *}
	ip addr flush dev "$interface"
	ip addr add "$ip/${mask:-24}" dev "$interface"
	[ -n "$router" ] && ip route add default via "$router" dev "$interface"
	[ -n "$dns" ] && echo "nameserver ${dns%% *}" >/etc/resolv.conf
	printf "ip=%s\nmask=%s\nrouter=%s\ndns='%s'\n" "$ip" "$mask" "$router" "$dns" >/run/dhcp.env
	;;
esac
exit 0

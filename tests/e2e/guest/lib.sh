# Helpers for the test scripts: source with `. /e2e/lib.sh`.
#
# Each check prints one line the host parses:
#   E2E-OK NAME [VALUE...]    the check passed; the host may compare VALUE
#   E2E-FAIL NAME DETAIL      the check failed
#   E2E-INFO NAME TEXT        information only
#   E2E-READY NAME            the guest waits for the host (see host_wait)
#   E2E-DONE TEST             the script ran to its end
. /e2e/expect.sh

ok() {
	name=$1
	shift
	echo "E2E-OK $name $*"
}

fail() {
	name=$1
	shift
	echo "E2E-FAIL $name $*"
}

info() {
	name=$1
	shift
	echo "E2E-INFO $name $*"
}

# check NAME GOT WANT: ok when the strings are equal
check() {
	if [ "$2" = "$3" ]; then
		ok "$1" "$2"
	else
		fail "$1" "got '$2', expected '$3'"
	fi
}

# sha256 FILE: the file's SHA-256 in hex
sha256() {
	# shellcheck disable=SC2046 # the hash is the first word
	set -- $(sha256sum "$1")
	echo "$1"
}

# host_wait NAME: tells the host the guest is ready for NAME, then waits
# (at most 60 s) for the host's reply line on the console; sets $reply
host_wait() {
	stty -echo 2>/dev/null
	echo "E2E-READY $1"
	reply=""
	# shellcheck disable=SC2034 # the caller reads $reply
	read -r -t 60 reply
	stty echo 2>/dev/null
}

# wait_for SECONDS COMMAND...: runs COMMAND every 0.1 s until it succeeds
wait_for() {
	n=$(($1 * 10))
	shift
	while ! "$@" >/dev/null 2>&1; do
		n=$((n - 1))
		[ $n -gt 0 ] || return 1
		usleep 100000
	done
}

# msix_check: with splitvm.msix=1, virtio devices must have taken MSI-X
# interrupts (an isolated device's vectors travel on the VMM's routes)
msix_count() {
	# shellcheck disable=SC2016 # awk's own fields
	awk '/MSI/ && /virtio/ { for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) s += $i }
		END { print s + 0 }' /proc/interrupts
}

msix_taken() {
	[ "$(msix_count)" -gt 0 ]
}

msix_check() {
	[ -n "$SPLITVM_msix" ] || return 0
	# the last request's interrupt may still be on its way
	wait_for 5 msix_taken
	n=$(msix_count)
	if [ "$n" -gt 0 ]; then
		ok msix "$n"
	else
		fail msix "no virtio MSI-X interrupt counted: $(grep virtio /proc/interrupts)"
	fi
}

# pci_by_id VENDOR DEVICE: the sysfs directory of the last such function
pci_by_id() {
	for d in /sys/bus/pci/devices/*; do
		if [ "$(cat "$d/vendor")" = "$1" ] && [ "$(cat "$d/device")" = "$2" ]; then
			echo "$d"
		fi
	done | tail -n 1
}

done_test() {
	msix_check
	echo "E2E-DONE $1"
}

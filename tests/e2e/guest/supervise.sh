#!/bin/sh
# Supervision (issue 7): four virtio disks, each in a device process of its
# own (isolated=on), found by serial while all are alive.
#  kill: the host kills its process (SIGKILL) while dd reads it;
#  hang: the host stops its process (SIGSTOP); the next request times out;
#  beat: heartbeat=200,timeout=1000; the host stops its process and waits:
#        the heartbeat finds it out before the guest touches the disk;
#  back: restart=on; the host kills its process while idle, the VMM starts
#        another, the guest rebinds the driver and reads its file again.
# A failed device reads all ones: vendor ffff, virtio status 0xff (which has
# DEVICE_NEEDS_RESET, 0x40). The VMM answers the dead process's requests,
# and every later one, with I/O errors (LINK_F_INFLIGHT): the reader gets
# an error, and a read of the disk's sysfs "serial" (a GET_ID request)
# ends at once, empty. The run then ends as usual (reboot -f).
. /e2e/lib.sh

dev_of() {
	for s in /sys/block/*/serial; do
		if [ "$(cat "$s" 2>/dev/null)" = "$1" ]; then
			b=${s%/serial}
			echo "/dev/${b##*/}"
		fi
	done
}

has_disk() {
	[ -n "$(dev_of "$1")" ]
}

# the disk of a PCI function, by sysfs links only
dev_at() {
	for b in /sys/bus/pci/devices/"$1"/virtio*/block/*; do
		[ -e "$b" ] && echo "/dev/${b##*/}"
	done
}

has_disk_at() {
	[ -n "$(dev_at "$1")" ]
}

# virtio_of /dev/vdX: virtioN; pci_of: its PCI function (0000:00:0N.0)
virtio_of() {
	v=$(readlink -f "/sys/block/${1#/dev/}/device")
	echo "${v##*/}"
}

pci_of() {
	v=$(readlink -f "/sys/block/${1#/dev/}/device")
	v=${v%/*}
	echo "${v##*/}"
}

vendor() {
	dd if="/sys/bus/pci/devices/$1/config" bs=2 count=1 2>/dev/null | od -An -tx2 | tr -d ' '
}

# the virtio status byte & DEVICE_NEEDS_RESET (0x40): 64 when set
needs_reset() {
	st=$(cat "/sys/bus/virtio/devices/$1/status")
	echo $((st & 0x40))
}

# failed_view NAME VIRTIO PCI: what the guest sees of a failed device
failed_view() {
	check "$1-vendor" "$(vendor "$3")" ffff
	check "$1-needs-reset" "$(needs_reset "$2")" 64
}

wait_for 20 has_disk back
kill_dev=$(dev_of kill)
hang_dev=$(dev_of hang)
beat_dev=$(dev_of beat)
back_dev=$(dev_of back)
info disks "kill=$kill_dev hang=$hang_dev beat=$beat_dev back=$back_dev"
kill_virtio=$(virtio_of "$kill_dev")
kill_pci=$(pci_of "$kill_dev")
hang_virtio=$(virtio_of "$hang_dev")
hang_pci=$(pci_of "$hang_dev")
beat_virtio=$(virtio_of "$beat_dev")
beat_pci=$(pci_of "$beat_dev")
back_pci=$(pci_of "$back_dev")

if mount -o ro "$back_dev" /mnt; then
	check back-read "$(sha256 /mnt/data.bin)" "$E2E_DATA_SHA256"
	umount /mnt
else
	fail back-read "cannot mount $back_dev"
fi

# -- kill -9 during I/O: reads in a loop, the device process dies under them
(
	while dd if="$kill_dev" of=/dev/null bs=64k iflag=direct 2>/run/kill.err; do
		echo pass >>/run/kill.passes
	done
	echo end >/run/kill.end
) &
wait_for 20 test -s /run/kill.passes
host_wait kill
check kill-host "$reply" killed
failed_view kill "$kill_virtio" "$kill_pci"
# The read the dead process had taken ends with an I/O error.
if wait_for 20 test -e /run/kill.end; then
	ok kill-io "$(tail -n 1 /run/kill.err)"
else
	fail kill-io "the reader still waits"
fi
# A new request (GET_ID) is answered by the VMM too: Linux 6.1 shows a
# GET_ID that failed with an I/O error as an empty serial (serial_show()).
(cat "/sys/block/${kill_dev#/dev/}/serial" >/run/kill.serial 2>&1
	echo $? >/run/kill.serial.rc) &
if ! wait_for 20 test -s /run/kill.serial.rc; then
	fail kill-serial "the serial read still waits"
elif [ "$(cat /run/kill.serial.rc)" = 0 ] && [ ! -s /run/kill.serial ]; then
	ok kill-serial empty
else
	ok kill-serial "status $(cat /run/kill.serial.rc): $(cat /run/kill.serial)"
fi

# -- a hung device process: the next request times out in the VMM
host_wait stop
check stop-host "$reply" stopped
(dd if="$hang_dev" of=/dev/null bs=4k count=1 skip=7 iflag=direct 2>/dev/null
	echo $? >/run/hang.end) &
hang_failed() {
	[ "$(needs_reset "$hang_virtio")" = 64 ]
}
wait_for 30 hang_failed
failed_view hang "$hang_virtio" "$hang_pci"
# Its process killed and reaped, the VMM answers the read it had taken.
if wait_for 20 test -s /run/hang.end; then
	ok hang-io "status $(cat /run/hang.end)"
else
	fail hang-io "the reader still waits"
fi

# -- a hung device process with a heartbeat: failed before the guest looks
host_wait stop-beat
check beat-host "$reply" stopped
failed_view beat "$beat_virtio" "$beat_pci"

# -- restart=on: a new device process; the guest resets the device by
# rebinding its driver (Linux does not act on DEVICE_NEEDS_RESET)
host_wait kill-back
check back-host "$reply" restarted
check back-vendor "$(vendor "$back_pci")" 1af4
echo "$back_pci" >/sys/bus/pci/drivers/virtio-pci/unbind
echo "$back_pci" >/sys/bus/pci/drivers/virtio-pci/bind
if wait_for 20 has_disk_at "$back_pci" && mount -o ro "$(dev_at "$back_pci")" /mnt; then
	check back-reread "$(sha256 /mnt/data.bin)" "$E2E_DATA_SHA256"
	umount /mnt
else
	fail back-reread "the disk did not come back"
fi

done_test supervise

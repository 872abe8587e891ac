#!/bin/sh
# Disks (issue 5): two ext4 file systems the host built, found by label.
# e2e-rw: read a file and check its sha256, write a file for the host to read
# back after the run. e2e-ro (a read-only disk): the guest cannot write it.
# splitvm.bus=virtio (default) also checks the disks' serial numbers;
# splitvm.bus=scsi expects them on a SCSI controller.
. /e2e/lib.sh

bus=${SPLITVM_bus:-virtio}

disk() {
	wait_for 20 findfs "LABEL=$1" && findfs "LABEL=$1"
}

rw=$(disk e2e-rw)
ro=$(disk e2e-ro)
info disks "rw=$rw ro=$ro bus=$bus"
case $bus in
virtio)
	serials="$(cat "/sys/block/${rw#/dev/}/serial") $(cat "/sys/block/${ro#/dev/}/serial")"
	check serial "$serials" "e2e-rw e2e-ro"
	;;
scsi) check scsi-disks "${rw%[a-z]} ${ro%[a-z]}" "/dev/sd /dev/sd" ;;
esac

if [ -n "$rw" ] && mount -t ext4 "$rw" /mnt; then
	check rw-read "$(sha256 /mnt/data.bin)" "$E2E_DATA_SHA256"
	echo "written by the guest $SPLITVM_nonce" >/mnt/written.txt
	sync
	check rw-write "$(cat /mnt/written.txt)" "written by the guest $SPLITVM_nonce"
	umount /mnt && ok rw-umount
else
	fail rw-mount "cannot mount '$rw'"
fi

if [ -n "$ro" ]; then
	check ro-flag "$(blockdev --getro "$ro")" 1
	if dd if=/dev/zero of="$ro" bs=4096 seek=16 count=1 conv=fsync 2>/dev/null; then
		fail ro-write "a write to $ro succeeded"
	else
		ok ro-write refused
	fi
	if mount -t ext4 -o ro "$ro" /mnt; then
		check ro-read "$(sha256 /mnt/data.bin)" "$E2E_DATA_SHA256"
		umount /mnt
	else
		fail ro-read "cannot mount $ro"
	fi
else
	fail ro-flag "no disk labelled e2e-ro"
fi

done_test disk

#!/bin/sh
# Disk throughput (tests/e2e/bench_io.py, bench_remote.py): sequential
# O_DIRECT writes, then reads, of whole disks found by serial, with dd. The
# host times each phase from its E2E-INFO bench-start line to its E2E-OK
# line, which carries dd's count of records (busybox here prints no rate).
# splitvm.mib=N: each disk's size in MiB; splitvm.bs_kib=N: dd's block size;
# splitvm.passes=N: reads of the whole disk in the read phase (reads are
# much faster than writes: several passes make a measurable time).
# splitvm.serials=A,B: the disks (default: the one with serial "bench"; its
# phases are "write" and "read", with several disks "write-A", "read-A", ...);
# splitvm.rounds=N: the phases of every disk, in turn, N times (default 1).
. /e2e/lib.sh

mib=${SPLITVM_mib:-64}
bs_kib=${SPLITVM_bs_kib:-1024}
passes=${SPLITVM_passes:-1}
serials=$(echo "${SPLITVM_serials:-bench}" | tr , ' ')
rounds=${SPLITVM_rounds:-1}
count=$((mib * 1024 / bs_kib))

# disk_of SERIAL: the block device whose serial it is
disk_of() {
	for s in /sys/block/*/serial; do
		blk=${s%/serial}
		if [ "$(cat "$s" 2>/dev/null)" = "$1" ]; then
			echo "/dev/${blk##*/}"
			return
		fi
	done
}

# timed NAME COMMAND...: COMMAND between the two lines the host times
timed() {
	phase=$1
	shift
	info bench-start "$phase"
	if out=$("$@" 2>&1); then
		ok "$phase" "$(echo "$out" | tail -n 1)"
	else
		fail "$phase" "$(echo "$out" | tail -n 1)"
	fi
}

write_disk() {
	dd if=/dev/zero of="$1" oflag=direct bs="${bs_kib}k" count="$count"
}

read_disk() {
	i=0
	while [ $i -lt "$passes" ]; do
		dd if="$1" of=/dev/null iflag=direct bs="${bs_kib}k" count="$count" || return
		i=$((i + 1))
	done
}

for serial in $serials; do
	dev=$(disk_of "$serial")
	if [ -z "$dev" ]; then
		fail bench-disk "no disk with serial $serial"
		done_test diskbench
		exit 0
	fi
	info bench-disk "$serial: $dev $mib MiB, ${bs_kib} KiB blocks, $passes read passes"
done

r=0
while [ $r -lt "$rounds" ]; do
	for serial in $serials; do
		dev=$(disk_of "$serial")
		suffix=""
		[ "$serials" = bench ] || suffix="-$serial"
		timed "write$suffix" write_disk "$dev"
		timed "read$suffix" read_disk "$dev"
	done
	r=$((r + 1))
done

done_test diskbench

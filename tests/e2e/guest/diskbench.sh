#!/bin/sh
# Disk throughput (tests/e2e/bench_io.py): sequential O_DIRECT writes, then
# reads, of the whole disk whose serial is "bench", with dd. The host times
# each phase from its E2E-INFO bench-start line to its E2E-OK line, which
# carries dd's count of records (busybox here prints no rate).
# splitvm.mib=N: the disk's size in MiB; splitvm.bs_kib=N: dd's block size;
# splitvm.passes=N: reads of the whole disk in the read phase (reads are
# much faster than writes: several passes make a measurable time).
. /e2e/lib.sh

mib=${SPLITVM_mib:-64}
bs_kib=${SPLITVM_bs_kib:-1024}
passes=${SPLITVM_passes:-1}
count=$((mib * 1024 / bs_kib))

dev=""
for s in /sys/block/*/serial; do
	blk=${s%/serial}
	[ "$(cat "$s" 2>/dev/null)" = bench ] && dev=/dev/${blk##*/}
done

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
	dd if=/dev/zero of="$dev" oflag=direct bs="${bs_kib}k" count="$count"
}

read_disk() {
	i=0
	while [ $i -lt "$passes" ]; do
		dd if="$dev" of=/dev/null iflag=direct bs="${bs_kib}k" count="$count" || return
		i=$((i + 1))
	done
}

if [ -n "$dev" ]; then
	info bench-disk "$dev $mib MiB, ${bs_kib} KiB blocks, $passes read passes"
	timed write write_disk
	timed read read_disk
else
	fail bench-disk "no disk with serial bench"
fi

done_test diskbench

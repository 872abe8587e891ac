#!/bin/sh
# virtio-rng (issue 5): the kernel picks it for /dev/hwrng, which gives bytes.
. /e2e/lib.sh

wait_for 10 grep -q virtio /sys/class/misc/hw_random/rng_current
check rng-current "$(cut -c1-10 /sys/class/misc/hw_random/rng_current)" virtio_rng
a=$(head -c 64 /dev/hwrng | sha256sum)
b=$(head -c 64 /dev/hwrng | sha256sum)
check rng-bytes "$(head -c 64 /dev/hwrng | wc -c)" 64
if [ "$a" != "$b" ]; then
	ok rng-differ
else
	fail rng-differ "two reads gave the same bytes"
fi

done_test rng

#!/bin/sh
# PCI access latency (tests/e2e/bench_remote.py): /e2e/pcilat (pcilat.c)
# times config-space and BAR reads of the virtio device
# splitvm.vendor:splitvm.device. No driver is bound (splitvm.modules=none):
# nothing else touches the device, and it needs no interrupts (QEMU 7.2's
# proxy delivers none under TCG).
#   splitvm.batches, splitvm.per: batches of reads, reads per batch
. /e2e/lib.sh

dev=$(pci_by_id "$SPLITVM_vendor" "$SPLITVM_device")
if [ -z "$dev" ]; then
	fail lat-found "no PCI device $SPLITVM_vendor:$SPLITVM_device"
	done_test pcilat
	exit 0
fi
ok lat-found "${dev##*/}"

info bench-start lat
if out=$(/e2e/pcilat "$dev" "${SPLITVM_batches:-101}" "${SPLITVM_per:-64}"); then
	echo "$out" | while read -r name rest; do
		ok "lat-$name" "$rest"
	done
else
	fail lat "$out"
fi
done_test pcilat

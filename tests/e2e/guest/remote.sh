#!/bin/sh
# A device in `splitvm remote` behind QEMU's x-pci-proxy-dev (issue 6): the
# guest finds it in sysfs (IDs, class, BAR sizes) and reads and writes its
# registers through /dev/mem. No driver is bound (splitvm.modules=none):
# QEMU 7.2's proxy under TCG delivers no interrupts, and /dev/mem stays
# open to a BAR no driver claimed.
#   splitvm.vendor, splitvm.device: the IDs to look for
#   splitvm.bar: the virtio structures' BAR (common configuration at 0)
#   splitvm.msix_bar: the MSI-X table's BAR
. /e2e/lib.sh

dev=$(pci_by_id "$SPLITVM_vendor" "$SPLITVM_device")
if [ -z "$dev" ]; then
	fail remote-found "no PCI device $SPLITVM_vendor:$SPLITVM_device"
	done_test remote
	exit 0
fi
ok remote-found "${dev##*/}"
ok remote-ids "$(cat "$dev/vendor") $(cat "$dev/device")" \
	"$(cat "$dev/subsystem_vendor") $(cat "$dev/subsystem_device")"
ok remote-class "$(cat "$dev/class")"

# resource: "start end flags" for BARs 0-5, then the ROM; sizes of those in use
sizes=""
i=0
while read -r start end _flags; do
	if [ $i -le 6 ] && [ $((start)) -ne 0 ]; then
		sizes="$sizes $i:$(printf '0x%x' $((end - start + 1)))"
	fi
	i=$((i + 1))
done <"$dev/resource"
ok remote-bars "${sizes# }"

# bar_base N: where the guest's firmware put BAR N
bar_base() {
	# shellcheck disable=SC2046 # the line's words: start end flags
	set -- $(sed -n "$(($1 + 1))p" "$dev/resource")
	echo $(($1))
}

common=$(bar_base "$SPLITVM_bar")
msix=$(bar_base "$SPLITVM_msix_bar")
if [ "$common" -eq 0 ] || [ "$msix" -eq 0 ]; then
	fail remote-read "BAR $SPLITVM_bar or $SPLITVM_msix_bar has no address"
	done_test remote
	exit 0
fi
# num_queues (offset 0x12) of the common configuration
ok remote-read "$(devmem $((common + 0x12)) 16)"
# device_feature_select = 1, read back, then device_feature's second word
devmem "$common" 32 1
ok remote-write "$(devmem "$common" 32) $(devmem $((common + 4)) 32)"
devmem "$common" 32 0
# MSI-X table entry 0, message data: a plain register in the other BAR
devmem $((msix + 8)) 32 0x12345678
ok remote-msix "$(devmem $((msix + 8)) 32)"

done_test remote

/*
 * The virtio 1.x modern PCI transport (virtio 1.2, 4.1): a non-transitional
 * PCI function per struct virtio_dev.
 *
 * BAR 1 (32-bit memory, 4 KiB) holds the MSI-X table and PBA: one vector
 * per queue plus one for configuration changes. BAR 4 (64-bit prefetchable
 * memory, 16 KiB) holds the virtio structures, 4 KiB each: common
 * configuration, ISR status, device configuration, notifications (one
 * doorbell every 4 bytes, queue_notify_off = the queue's index). INTA is the
 * fallback when the driver does not enable MSI-X.
 */
#ifndef HW_VIRTIO_VIRTIO_PCI_H
#define HW_VIRTIO_VIRTIO_PCI_H

#define VIRTIO_PCI_VENDOR 0x1af4
#define VIRTIO_PCI_DEVICE_BASE 0x1040 /* + VIRTIO_ID_* for modern devices */
#define VIRTIO_PCI_SUBSYS_VENDOR 0x1af4
#define VIRTIO_PCI_SUBSYS 0x1100 /* as QEMU: guests carry no quirks for it */

#define VIRTIO_PCI_BAR_MSIX 1
#define VIRTIO_PCI_BAR 4
#define VIRTIO_PCI_BAR_SIZE 0x4000
#define VIRTIO_PCI_COMMON_OFF 0x0000
#define VIRTIO_PCI_ISR_OFF 0x1000
#define VIRTIO_PCI_DEVICE_OFF 0x2000
#define VIRTIO_PCI_NOTIFY_OFF 0x3000
#define VIRTIO_PCI_REGION_SIZE 0x1000
#define VIRTIO_PCI_NOTIFY_MULT 4

/*
 * The entry point, virtio_pci_attach() (declared in virtio.h, called by
 * virtio_dev_attach()), creates the PCI function for vdev, adds it to
 * vdev->host->pci and sets vdev->transport and transport_opaque; it returns
 * 0 or -errno (logged). The transport's destroy takes the function off the
 * bus again.
 */

#endif

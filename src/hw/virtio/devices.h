/* The virtio device kinds, for the registry (src/hw/device.c). */
#ifndef HW_VIRTIO_DEVICES_H
#define HW_VIRTIO_DEVICES_H

#include "hw/device.h"

extern const struct device_kind virtio_blk_kind;

#endif

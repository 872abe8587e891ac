/* The virtio device kinds (src/hw/device.h), for the registry. */
#ifndef HW_VIRTIO_DEVICES_H
#define HW_VIRTIO_DEVICES_H

#include "hw/device.h"

extern const struct device_kind virtio_blk_kind;
extern const struct device_kind virtio_net_kind;
extern const struct device_kind virtio_rng_kind;
extern const struct device_kind virtio_console_kind;

#endif

/*
 * virtio-net outside the device registry (virtio_net_kind in devices.h is
 * how the VMM makes one): a device not yet plugged into a transport, so
 * tests can drive its queues directly.
 */
#ifndef HW_VIRTIO_NET_H
#define HW_VIRTIO_NET_H

struct dev_host;
struct net_config;
struct virtio_dev;
struct virtio_net;

/* The device and its backend (cfg as net_config_parse() left it), unattached. */
int virtio_net_new(const struct dev_host *host, struct net_config *cfg, struct virtio_net **out);
struct virtio_dev *virtio_net_vdev(struct virtio_net *n);
/* Stops the backend, then frees the device. */
void virtio_net_free(struct virtio_net *n);

#endif

/*
 * virtio-net outside the device registry (virtio_net_kind in devices.h is
 * how the VMM makes one): a device not yet plugged into a transport, so
 * tests can drive its queues directly.
 */
#ifndef HW_VIRTIO_NET_H
#define HW_VIRTIO_NET_H

struct dev_host;
struct evloop;
struct logger;
struct net_backend;
struct net_config;
struct net_peer;
struct virtio_dev;
struct virtio_net;

/* Makes the backend cfg names; net_backend_create() unless a test brings its own. */
typedef int (*net_backend_maker)(struct net_config *cfg, const struct net_peer *peer,
				 struct evloop *loop, const struct logger *log,
				 struct net_backend **out);

/* The device and its backend (cfg as net_config_parse() left it), unattached. */
int virtio_net_new(const struct dev_host *host, struct net_config *cfg, net_backend_maker make,
		   struct virtio_net **out);
struct virtio_dev *virtio_net_vdev(struct virtio_net *n);
/* Stops the backend, then frees the device. */
void virtio_net_free(struct virtio_net *n);

#endif

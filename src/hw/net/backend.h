/*
 * Network backends for virtio-net: user-mode networking (libslirp) and tap.
 *
 * A backend carries Ethernet frames between the device model (its peer) and
 * the host. Everything here runs on the thread of the dev_host event loop:
 * the backend's own fds are watched there, and the peer calls send() and
 * rx_ready() from there. A backend may call peer->receive() from inside
 * send() or rx_ready() (slirp answers an ARP request at once), so the peer
 * must cope with being re-entered while it is busy.
 */
#ifndef HW_NET_BACKEND_H
#define HW_NET_BACKEND_H

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "hw/device_sandbox.h"

struct devspec;
struct evloop;
struct lib_loader;
struct logger;

#define NET_MAX_HOSTFWD 16
#define NET_VNET_HDR_LEN 12 /* struct virtio_net_hdr_v1 */
#define NET_MAX_FRAME (65536 + 14) /* a GSO frame: 64 KiB of IP plus Ethernet */

struct net_hostfwd {
	bool udp;
	struct in_addr host_addr; /* INADDR_ANY when not given */
	uint16_t host_port;
	struct in_addr guest_addr; /* INADDR_ANY: the guest's DHCP address */
	uint16_t guest_port;
};

enum net_backend_type { NET_BACKEND_USER, NET_BACKEND_TAP };

/* What `--device virtio-net,...` asked for; checked (and tap opened) at parse. */
struct net_config {
	enum net_backend_type type;
	uint8_t mac[6];
	unsigned nhostfwd;
	struct net_hostfwd hostfwd[NET_MAX_HOSTFWD];
	char tap_name[IFNAMSIZ];
	int tap_fd; /* -1 unless tap */
	unsigned tap_offloads; /* TUN_F_* the tap can hand the guest */
};

/* The device model side. */
struct net_peer {
	/*
	 * A frame for the guest (with a virtio_net_hdr_v1 first when the
	 * backend has vnet_hdr). Returns 1 when taken (or dropped for good),
	 * 0 when the guest has no buffer for it now: the backend then keeps or
	 * drops it, and offers frames again after net_backend->ops->rx_ready().
	 */
	int (*receive)(void *opaque, const struct iovec *iov, int iovcnt);
	void *opaque;
};

struct net_backend;

struct net_backend_ops {
	/* A frame from the guest (header first when vnet_hdr); 0 or -errno (dropped). */
	int (*send)(struct net_backend *be, const struct iovec *iov, int iovcnt);
	/* The end of a burst of send() calls. Optional. */
	void (*flush)(struct net_backend *be);
	/* The guest gave receive buffers again. */
	void (*rx_ready)(struct net_backend *be);
	/*
	 * Which TUN_F_* offloads the guest takes on receive (vnet_hdr only).
	 * Any thread: the device calls it on reset and DRIVER_OK (an ioctl).
	 */
	int (*set_offloads)(struct net_backend *be, unsigned tun_flags);
	void (*destroy)(struct net_backend *be);
};

struct net_backend {
	const struct net_backend_ops *ops;
	bool vnet_hdr;         /* frames both ways carry a virtio_net_hdr_v1 */
	bool rx_csum_complete; /* frames to the guest carry valid checksums */
	unsigned tun_offloads; /* TUN_F_* that set_offloads() can turn on */
	struct net_peer peer;
};

/* Parses "KIND,user[,hostfwd=...]...[,mac=...]" or "KIND,tap=NAME[,mac=...]". */
int net_config_parse(struct devspec *spec, struct net_config *cfg, const struct logger *log);
void net_config_free(struct net_config *cfg);

/* "[tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT" (QEMU's syntax): 0 or -EINVAL. */
int net_parse_hostfwd(const char *text, struct net_hostfwd *out);
/* "52:54:00:12:34:56": a unicast address; 0 or -EINVAL. */
int net_parse_mac(const char *text, uint8_t mac[6]);

/* The backend cfg asks for; the tap fd moves from cfg into it. */
/*
 * What each backend needs in a sandboxed device process (hw/device_sandbox.h):
 * slirp opens host sockets in the host's network namespace and reads the
 * host's resolver; tap has its fd, opened at parse, and nothing else.
 */
extern const struct device_sandbox net_slirp_sandbox;
extern const struct device_sandbox net_tap_sandbox;

int net_backend_create(struct net_config *cfg, const struct net_peer *peer, struct evloop *loop,
		       const struct logger *log, struct net_backend **out);

/* Backends (slirp.c, tap.c). */
int net_slirp_create(const struct net_config *cfg, const struct net_peer *peer,
		     struct evloop *loop, const struct logger *log, struct net_backend **out);
/* The same with libslirp opened through loader (slirp_lib.h); the above uses dlopen. */
int net_slirp_create_with(const struct lib_loader *loader, const struct net_config *cfg,
			  const struct net_peer *peer, struct evloop *loop,
			  const struct logger *log, struct net_backend **out);
/* Opens /dev/net/tun as a tap named name with a vnet header: fd or -errno. */
int net_tap_open(const char *name, const struct logger *log);
/* The TUN_F_* receive offloads this kernel's tap can hand the guest. */
unsigned net_tap_probe_offloads(int fd);
/* tun_offloads: from net_tap_probe_offloads(). */
int net_tap_create(int fd, unsigned tun_offloads, const struct net_peer *peer, struct evloop *loop,
		   const struct logger *log, struct net_backend **out);

#endif

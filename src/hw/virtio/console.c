/*
 * virtio-console (virtio 1.2, 5.3) with one port and no MULTIPORT: the
 * guest sees it as /dev/hvc0.
 *
 *   virtio-console,file=PATH    guest output goes to PATH (created or
 *                               truncated); no input.
 *   virtio-console,socket=PATH  splitvm listens on a UNIX socket at PATH
 *                               (as QEMU's server=on,wait=off and Cloud
 *                               Hypervisor's socket= do): one client at a
 *                               time gets the guest's output and feeds its
 *                               input; output while nobody is connected is
 *                               dropped. A stale socket file is replaced; the
 *                               file is removed at exit.
 *
 * Nothing blocks the device loop: a slow client holds the transmit request
 * until the socket takes more, and the receive side stops reading while the
 * guest has no buffers posted.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_ids.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/evloop.h"
#include "core/log.h"
#include "hw/device.h"
#include "hw/virtio/devices.h"
#include "hw/virtio/virtio.h"

#define CON_QUEUE_SIZE 128
#define RXQ 0 /* receiveq of port 0: host to guest */
#define TXQ 1 /* transmitq of port 0: guest to host */

struct console_config {
	char *path;
	bool socket;
	bool bound; /* we created the socket file: removed at the end */
	int fd;     /* the output file, or the listening socket */
};

struct console {
	struct virtio_dev vdev;
	const struct dev_host *host;
	struct console_config *cfg;
	struct ev_watch listen_watch;
	struct ev_watch client_watch; /* fd -1: no client */
	uint32_t client_events;
	bool tx_held; /* tx is partly written, waiting for the socket */
	size_t tx_done;
	struct virtq_req tx;
	bool rx_held; /* rx is posted but nothing came to fill it yet */
	struct virtq_req rx;
};

static int out_fd(const struct console *con)
{
	return con->cfg->socket ? con->client_watch.fd : con->cfg->fd;
}

/* ---- the client connection (socket mode) ---- */

static void client_events(struct console *con, uint32_t events)
{
	if (con->client_watch.fd < 0 || events == con->client_events)
		return;
	if (evloop_mod(con->host->loop, &con->client_watch, events) == 0)
		con->client_events = events;
}

static void drop_client(struct console *con)
{
	if (con->client_watch.fd < 0)
		return;
	evloop_del(con->host->loop, &con->client_watch);
	close(con->client_watch.fd);
	con->client_watch.fd = -1;
	con->client_events = 0;
	/* What was half sent is gone with the client. */
	con->tx_done = 0;
	evloop_mod(con->host->loop, &con->listen_watch, EPOLLIN);
	log_debug(con->host->log, "virtio-console: %s: client left", con->cfg->path);
}

/* ---- guest to host ---- */

/*
 * Writes what is left of con->tx: 0 when all of it went (or was dropped:
 * nobody listens, the file failed), -EAGAIN when the socket is full.
 */
static int tx_write(struct console *con)
{
	struct iovec iov[VIRTQ_MAX_SEGS];
	struct msghdr msg = { .msg_iov = iov };
	size_t skip = con->tx_done;
	ssize_t n;

	for (unsigned i = 0; i < con->tx.nout; i++) {
		const struct iovec *s = &con->tx.iov[i];

		if (skip >= s->iov_len) {
			skip -= s->iov_len;
			continue;
		}
		iov[msg.msg_iovlen++] = (struct iovec){ (char *)s->iov_base + skip,
							s->iov_len - skip };
		skip = 0;
	}
	while (msg.msg_iovlen && out_fd(con) >= 0) {
		if (con->cfg->socket)
			n = sendmsg(out_fd(con), &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
		else
			n = writev(out_fd(con), iov, (int)msg.msg_iovlen);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return -EAGAIN;
		if (n < 0) {
			log_warn(con->host->log, "virtio-console: %s: %s", con->cfg->path,
				 strerror(errno));
			if (con->cfg->socket)
				drop_client(con);
			return 0;
		}
		con->tx_done += (size_t)n;
		while (msg.msg_iovlen && (size_t)n >= msg.msg_iov->iov_len) {
			n -= (ssize_t)msg.msg_iov->iov_len;
			msg.msg_iov++;
			msg.msg_iovlen--;
		}
		if (msg.msg_iovlen) {
			msg.msg_iov->iov_base = (char *)msg.msg_iov->iov_base + n;
			msg.msg_iov->iov_len -= (size_t)n;
		}
	}
	return 0;
}

/* Drains the transmit queue (vdev->lock held). */
static void tx_serve(struct console *con)
{
	struct virtq *vq = &con->vdev.vqs[TXQ];
	bool pushed = false;

	for (;;) {
		if (!con->tx_held) {
			if (virtq_pop(vq, &con->tx) != 1)
				break;
			con->tx_held = true;
			con->tx_done = 0;
		}
		if (tx_write(con) == -EAGAIN) {
			client_events(con, con->client_events | EPOLLOUT);
			break;
		}
		virtq_push(vq, &con->tx, 0);
		con->tx_held = false;
		pushed = true;
	}
	if (!con->tx_held)
		client_events(con, con->client_events & ~(uint32_t)EPOLLOUT);
	if (pushed)
		virtq_notify(vq);
}

/* ---- host to guest ---- */

/* Fills receive buffers while the client has bytes (vdev->lock held). */
static void rx_serve(struct console *con)
{
	struct virtq *vq = &con->vdev.vqs[RXQ];
	bool pushed = false;
	ssize_t n;

	while (con->client_watch.fd >= 0) {
		if (!con->rx_held) {
			if (virtq_pop(vq, &con->rx) != 1) {
				/* No buffers: leave the bytes in the socket until some come. */
				client_events(con, con->client_events & ~(uint32_t)EPOLLIN);
				break;
			}
			con->rx_held = true;
		}
		if (!con->rx.in_len) {
			virtq_push(vq, &con->rx, 0);
			con->rx_held = false;
			pushed = true;
			continue;
		}
		n = readv(con->client_watch.fd, &con->rx.iov[con->rx.nout], (int)con->rx.nin);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			client_events(con, con->client_events | EPOLLIN);
			break;
		}
		if (n <= 0) {
			drop_client(con);
			break;
		}
		virtq_push(vq, &con->rx, (uint32_t)n);
		con->rx_held = false;
		pushed = true;
	}
	if (pushed)
		virtq_notify(vq);
}

/* ---- loop handlers ---- */

static void on_client(void *opaque, uint32_t events)
{
	struct console *con = opaque;

	pthread_mutex_lock(&con->vdev.lock);
	if (events & EPOLLOUT)
		tx_serve(con);
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		rx_serve(con);
	/* Hung up with nothing left to read (or no buffers to read into). */
	if ((events & (EPOLLHUP | EPOLLERR)) && con->client_watch.fd >= 0 &&
	    !(con->client_events & EPOLLIN))
		drop_client(con);
	pthread_mutex_unlock(&con->vdev.lock);
}

static void on_listen(void *opaque, uint32_t events)
{
	struct console *con = opaque;
	int fd = accept4(con->cfg->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	pthread_mutex_lock(&con->vdev.lock);
	if (con->client_watch.fd >= 0) {
		close(fd); /* the listen watch is off while a client is there */
	} else {
		con->client_watch.fd = fd;
		con->client_events = EPOLLIN;
		if (evloop_add(con->host->loop, &con->client_watch, EPOLLIN)) {
			close(fd);
			con->client_watch.fd = -1;
		} else {
			/* One client at a time: others wait in the backlog. */
			evloop_mod(con->host->loop, &con->listen_watch, 0);
			log_debug(con->host->log, "virtio-console: %s: client connected",
				  con->cfg->path);
			rx_serve(con);
		}
	}
	pthread_mutex_unlock(&con->vdev.lock);
}

/* ---- virtio device ---- */

static void con_queue_notify(struct virtio_dev *vdev, struct virtq *vq)
{
	struct console *con = vdev->opaque;

	if (vq->index == TXQ)
		tx_serve(con);
	else
		rx_serve(con);
}

static void con_reset(struct virtio_dev *vdev)
{
	struct console *con = vdev->opaque;

	con->tx_held = con->rx_held = false;
	con->tx_done = 0;
	client_events(con, EPOLLIN);
}

static const struct virtio_dev_ops con_ops = {
	.queue_notify = con_queue_notify,
	.reset = con_reset,
};

/* ---- the kind ---- */

static int open_file(struct console_config *cfg, const struct logger *log)
{
	cfg->fd = open(cfg->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0644);
	if (cfg->fd < 0) {
		log_error(log, "virtio-console: cannot create %s: %s", cfg->path, strerror(errno));
		return -EINVAL;
	}
	return 0;
}

static int listen_socket(struct console_config *cfg, const struct logger *log)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;

	if (strlen(cfg->path) >= sizeof(sa.sun_path)) {
		log_error(log, "virtio-console: socket path too long: %s", cfg->path);
		return -EINVAL;
	}
	strcpy(sa.sun_path, cfg->path);
	/* A socket left by an earlier run is replaced; anything else is not ours. */
	if (lstat(cfg->path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(cfg->path);
	cfg->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (cfg->fd >= 0 && bind(cfg->fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		cfg->bound = true;
	if (!cfg->bound || listen(cfg->fd, 4) < 0) {
		log_error(log, "virtio-console: cannot listen on %s: %s", cfg->path,
			  strerror(errno));
		return -EINVAL;
	}
	return 0;
}

static int con_parse(struct devspec *spec, void *config, const struct logger *log)
{
	struct console_config *cfg = config;
	const char *file = devspec_get(spec, "file"), *sock = devspec_get(spec, "socket");

	cfg->fd = -1;
	if (!file == !sock || (file && !*file) || (sock && !*sock)) {
		log_error(log, "--device %s: give one of file=PATH or socket=PATH", spec->text);
		return -EINVAL;
	}
	cfg->socket = sock != NULL;
	cfg->path = strdup(sock ? sock : file);
	if (!cfg->path)
		return -ENOMEM;
	return cfg->socket ? listen_socket(cfg, log) : open_file(cfg, log);
}

static void con_config_free(void *config)
{
	struct console_config *cfg = config;
	if (cfg->fd >= 0)
		close(cfg->fd);
	if (cfg->bound)
		unlink(cfg->path);
	cfg->bound = false;
	free(cfg->path);
	cfg->path = NULL;
	cfg->fd = -1;
}

static void con_free(struct console *con)
{
	if (con->cfg->socket) {
		drop_client(con);
		evloop_del(con->host->loop, &con->listen_watch);
	}
	free(con);
}

static int con_create(const struct dev_host *host, void *config, void **state)
{
	struct console *con = calloc(1, sizeof(*con));
	struct console_config *cfg = config;
	int err;

	if (!con)
		return -ENOMEM;
	con->host = host;
	con->cfg = cfg;
	con->client_watch = (struct ev_watch){ .fd = -1, .fn = on_client, .opaque = con };
	con->listen_watch = (struct ev_watch){ .fd = cfg->fd, .fn = on_listen, .opaque = con };
	err = virtio_dev_init(&con->vdev, "virtio-console", VIRTIO_ID_CONSOLE, &con_ops, con,
			      host, 2, CON_QUEUE_SIZE, 0, 0);
	if (err) {
		free(con);
		return err;
	}
	if (cfg->socket)
		err = evloop_add(host->loop, &con->listen_watch, EPOLLIN);
	if (!err)
		err = virtio_dev_attach(&con->vdev);
	if (err) {
		virtio_dev_destroy(&con->vdev);
		con_free(con);
		return err;
	}
	*state = con;
	return 0;
}

static void con_destroy(void *state)
{
	struct console *con = state;

	virtio_dev_destroy(&con->vdev);
	con_free(con);
}

/*
 * In a device process: the file or the client socket is written and read
 * with the machine's calls; clients are accepted on the listening socket.
 * The socket file cannot be removed from the empty root at the end (a stale
 * one is replaced by the next run).
 */
static const struct sandbox_rule console_rules[] = {
	SANDBOX_ALLOW("accept4"),
	SANDBOX_FAIL("unlink", EACCES),
	SANDBOX_FAIL("unlinkat", EACCES),
};

static const struct device_sandbox console_sandbox = { SANDBOX_RULES(console_rules) };

static const struct device_sandbox *con_sandbox(const void *config)
{
	return &console_sandbox;
}

const struct device_kind virtio_console_kind = {
	.name = "virtio-console",
	.usage = "virtio-console,file=PATH | virtio-console,socket=PATH",
	.config_size = sizeof(struct console_config),
	.parse = con_parse,
	.config_free = con_config_free,
	.create = con_create,
	.destroy = con_destroy,
	.sandbox = con_sandbox,
};

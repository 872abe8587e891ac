/*
 * User-mode networking through libslirp: the guest's 10.0.2.0/24 network
 * (gateway 10.0.2.2, DNS 10.0.2.3 forwarded to the host's resolver, DHCP
 * handing out 10.0.2.15 first), as QEMU's -netdev user sets it up.
 *
 * slirp wants a poll() loop: slirp_pollfds_fill() before sleeping says which
 * sockets to watch and for how long to sleep at most, slirp_pollfds_poll()
 * after it handles what is ready and its TCP timers. Here the sockets sit in
 * a private epoll fd watched by the device loop, and a timerfd wakes the
 * loop for slirp's timeouts and timers (no change to struct evloop). One
 * "cycle" runs whenever either fires: poll the sockets of the last fill
 * without waiting, let slirp handle them, fill again, then bring the epoll
 * set and the timerfd up to date. A burst of guest frames asks for a cycle
 * soon by arming the timerfd to fire at once.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "core/evloop.h"
#include "core/log.h"
#include "hw/net/backend.h"
#include "hw/net/slirp_lib.h"

#define RXQ_MAX_FRAMES 256 /* frames held while the guest has no buffers */

struct held_frame {
	struct held_frame *next;
	size_t len;
	uint8_t data[];
};

struct slirp_timer {
	struct slirp_timer *next;
	SlirpTimerId id;
	void *cb_opaque;
	int64_t expire_ms; /* -1: not armed */
};

struct net_slirp {
	struct net_backend be;
	const struct logger *log;
	struct evloop *loop;
	struct slirp_lib lib;
	Slirp *slirp;
	int epfd; /* slirp's sockets */
	int timer_fd;
	struct ev_watch ep_watch, timer_watch;
	bool ep_added, timer_added;
	struct pollfd *pfds; /* the last fill */
	unsigned npfds, pfds_cap;
	struct epoll_event *reg; /* what epfd holds (data.fd) */
	unsigned nreg, reg_cap;
	struct slirp_timer *timers;
	struct held_frame *rxq, **rxq_tail;
	unsigned rxq_len;
	uint8_t *txbuf; /* a private copy of each guest frame */
};

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- frames for the guest ------------------------------------------------ */

static int deliver(struct net_slirp *s, const void *buf, size_t len)
{
	struct iovec iov = { (void *)buf, len };

	return s->be.peer.receive(s->be.peer.opaque, &iov, 1);
}

static ssize_t cb_send_packet(const void *buf, size_t len, void *opaque)
{
	struct net_slirp *s = opaque;
	struct held_frame *f;

	if (!s->rxq && deliver(s, buf, len) != 0)
		return (ssize_t)len;
	if (s->rxq_len >= RXQ_MAX_FRAMES)
		return (ssize_t)len; /* dropped: TCP sends it again */
	f = malloc(sizeof(*f) + len);
	if (!f)
		return (ssize_t)len;
	f->next = NULL;
	f->len = len;
	memcpy(f->data, buf, len);
	*s->rxq_tail = f;
	s->rxq_tail = &f->next;
	s->rxq_len++;
	return (ssize_t)len;
}

static void drop_held(struct net_slirp *s)
{
	while (s->rxq) {
		struct held_frame *f = s->rxq;

		s->rxq = f->next;
		free(f);
	}
	s->rxq_tail = &s->rxq;
	s->rxq_len = 0;
}

static void slirp_rx_ready(struct net_backend *be)
{
	struct net_slirp *s = (struct net_slirp *)be;

	while (s->rxq && deliver(s, s->rxq->data, s->rxq->len) != 0) {
		struct held_frame *f = s->rxq;

		s->rxq = f->next;
		free(f);
		s->rxq_len--;
	}
	if (!s->rxq)
		s->rxq_tail = &s->rxq;
}

/* ---- timers ----------------------------------------------------------------- */

static void arm_at(struct net_slirp *s, int64_t at_ns)
{
	struct itimerspec its = { 0 };

	if (at_ns >= 0) {
		its.it_value.tv_sec = at_ns / 1000000000;
		its.it_value.tv_nsec = at_ns % 1000000000;
		if (!its.it_value.tv_sec && !its.it_value.tv_nsec)
			its.it_value.tv_nsec = 1;
	}
	timerfd_settime(s->timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
}

/* A cycle as soon as the loop gets to it. */
static void cycle_soon(struct net_slirp *s)
{
	arm_at(s, 1);
}

static int64_t cb_clock_get_ns(void *opaque)
{
	return now_ns();
}

static void *cb_timer_new_opaque(SlirpTimerId id, void *cb_opaque, void *opaque)
{
	struct net_slirp *s = opaque;
	struct slirp_timer *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->id = id;
	t->cb_opaque = cb_opaque;
	t->expire_ms = -1;
	t->next = s->timers;
	s->timers = t;
	return t;
}

static void cb_timer_free(void *timer, void *opaque)
{
	struct net_slirp *s = opaque;

	for (struct slirp_timer **p = &s->timers; *p; p = &(*p)->next) {
		if (*p == timer) {
			*p = ((struct slirp_timer *)timer)->next;
			free(timer);
			return;
		}
	}
}

static void cb_timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
	struct slirp_timer *t = timer;

	if (t)
		t->expire_ms = expire_ms;
	cycle_soon(opaque); /* the cycle rearms the timerfd for it */
}

/* Runs the expired timers; returns the earliest pending expiry in ns, or -1. */
static int64_t run_timers(struct net_slirp *s)
{
	int64_t now_ms = now_ns() / 1000000, next = -1;

	for (struct slirp_timer *t = s->timers; t; t = t->next) {
		if (t->expire_ms >= 0 && t->expire_ms <= now_ms) {
			t->expire_ms = -1;
			s->lib.handle_timer(s->slirp, t->id, t->cb_opaque);
			break; /* the list may have changed: the rest wait a cycle */
		}
	}
	for (struct slirp_timer *t = s->timers; t; t = t->next)
		if (t->expire_ms >= 0 && (next < 0 || t->expire_ms * 1000000 < next))
			next = t->expire_ms * 1000000;
	return next;
}

/* ---- sockets ---------------------------------------------------------------- */

static int cb_add_poll(int fd, int events, void *opaque)
{
	struct net_slirp *s = opaque;
	short ev = 0;

	if (s->npfds == s->pfds_cap) {
		unsigned cap = s->pfds_cap ? 2 * s->pfds_cap : 16;
		struct pollfd *p = realloc(s->pfds, cap * sizeof(*p));

		if (!p)
			return -1;
		s->pfds = p;
		s->pfds_cap = cap;
	}
	if (events & SLIRP_POLL_IN)
		ev |= POLLIN;
	if (events & SLIRP_POLL_OUT)
		ev |= POLLOUT;
	if (events & SLIRP_POLL_PRI)
		ev |= POLLPRI;
	s->pfds[s->npfds] = (struct pollfd){ .fd = fd, .events = ev };
	return (int)s->npfds++;
}

static int cb_get_revents(int idx, void *opaque)
{
	struct net_slirp *s = opaque;
	short r;
	int ev = 0;

	if (idx < 0 || (unsigned)idx >= s->npfds)
		return 0;
	r = s->pfds[idx].revents;
	if (r & POLLIN)
		ev |= SLIRP_POLL_IN;
	if (r & POLLOUT)
		ev |= SLIRP_POLL_OUT;
	if (r & POLLPRI)
		ev |= SLIRP_POLL_PRI;
	if (r & POLLERR)
		ev |= SLIRP_POLL_ERR;
	if (r & POLLHUP)
		ev |= SLIRP_POLL_HUP;
	return ev;
}

static uint32_t epoll_events(short ev)
{
	return (ev & POLLIN ? EPOLLIN : 0) | (ev & POLLOUT ? EPOLLOUT : 0) |
	       (ev & POLLPRI ? EPOLLPRI : 0);
}

/*
 * Makes epfd watch exactly the sockets of the last fill. Every one is
 * (re)registered: slirp may have closed a socket and opened another under
 * the same number since, which epoll would not know.
 */
static void sync_epoll(struct net_slirp *s)
{
	for (unsigned i = 0; i < s->nreg; i++) {
		bool keep = false;

		for (unsigned j = 0; j < s->npfds && !keep; j++)
			keep = s->pfds[j].fd == s->reg[i].data.fd;
		if (!keep)
			epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->reg[i].data.fd, NULL);
	}
	if (s->npfds > s->reg_cap) {
		struct epoll_event *r = realloc(s->reg, s->pfds_cap * sizeof(*r));

		if (!r) {
			s->nreg = 0;
			return;
		}
		s->reg = r;
		s->reg_cap = s->pfds_cap;
	}
	s->nreg = 0;
	for (unsigned j = 0; j < s->npfds; j++) {
		struct epoll_event ev = { .events = epoll_events(s->pfds[j].events),
					  .data.fd = s->pfds[j].fd };

		if (epoll_ctl(s->epfd, EPOLL_CTL_MOD, ev.data.fd, &ev) < 0 &&
		    epoll_ctl(s->epfd, EPOLL_CTL_ADD, ev.data.fd, &ev) < 0)
			continue;
		s->reg[s->nreg++] = ev;
	}
}

static void cycle(struct net_slirp *s)
{
	uint32_t timeout = UINT32_MAX;
	int64_t next, at;
	int n = s->npfds ? poll(s->pfds, s->npfds, 0) : 0;

	s->lib.pollfds_poll(s->slirp, n < 0, cb_get_revents, s);
	next = run_timers(s);
	s->npfds = 0;
	s->lib.pollfds_fill(s->slirp, &timeout, cb_add_poll, s);
	sync_epoll(s);
	at = timeout == UINT32_MAX ? -1 : now_ns() + (int64_t)timeout * 1000000;
	if (next >= 0 && (at < 0 || next < at))
		at = next;
	arm_at(s, at < 0 ? -1 : at);
}

static void on_sockets(void *opaque, uint32_t events)
{
	cycle(opaque);
}

static void on_timer(void *opaque, uint32_t events)
{
	struct net_slirp *s = opaque;
	uint64_t ticks;

	if (read(s->timer_fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		log_debug(s->log, "slirp: timerfd: %s", strerror(errno));
	cycle(s);
}

static void cb_guest_error(const char *msg, void *opaque)
{
	struct net_slirp *s = opaque;

	log_debug(s->log, "virtio-net user: guest error: %s", msg);
}

static void cb_notify(void *opaque)
{
	cycle_soon(opaque);
}

static void cb_register_poll_fd(int fd, void *opaque)
{
}

static void cb_unregister_poll_fd(int fd, void *opaque)
{
}

static const SlirpCb slirp_callbacks = {
	.send_packet = cb_send_packet,
	.guest_error = cb_guest_error,
	.clock_get_ns = cb_clock_get_ns,
	.timer_free = cb_timer_free,
	.timer_mod = cb_timer_mod,
	.register_poll_fd = cb_register_poll_fd,
	.unregister_poll_fd = cb_unregister_poll_fd,
	.notify = cb_notify,
	.timer_new_opaque = cb_timer_new_opaque,
};

/* ---- the backend --------------------------------------------------------- */

static int slirp_send(struct net_backend *be, const struct iovec *iov, int iovcnt)
{
	struct net_slirp *s = (struct net_slirp *)be;
	size_t len = 0;

	/* A copy: slirp reads headers more than once, the guest may change them. */
	for (int i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len > NET_MAX_FRAME - len)
			return -EMSGSIZE;
		memcpy(s->txbuf + len, iov[i].iov_base, iov[i].iov_len);
		len += iov[i].iov_len;
	}
	s->lib.input(s->slirp, s->txbuf, (int)len);
	return 0;
}

static void slirp_flush(struct net_backend *be)
{
	cycle_soon((struct net_slirp *)be);
}

static void slirp_destroy(struct net_backend *be)
{
	struct net_slirp *s = (struct net_slirp *)be;

	if (s->timer_added)
		evloop_del(s->loop, &s->timer_watch);
	if (s->ep_added)
		evloop_del(s->loop, &s->ep_watch);
	if (s->timer_fd >= 0)
		close(s->timer_fd);
	if (s->epfd >= 0)
		close(s->epfd);
	if (s->slirp)
		s->lib.cleanup(s->slirp); /* frees its timers through cb_timer_free */
	slirp_lib_unload(&s->lib);
	drop_held(s);
	free(s->pfds);
	free(s->reg);
	free(s->txbuf);
	free(s);
}

/*
 * In a device process: slirp's sockets towards the host's network (IPv4 and
 * IPv6 only: no UNIX or netlink sockets), FIONREAD on them, its timer, and
 * the host's /etc/resolv.conf (bound read-only into the empty root) for the
 * DNS it forwards. if_nametoindex() (a nameserver with a %scope) asks for
 * an interface index through a socket; its UNIX socket attempt fails.
 */
static const struct sandbox_rule slirp_rules[] = {
	SANDBOX_ALLOW_EQ("socket", 0, AF_INET),
	SANDBOX_ALLOW_EQ("socket", 0, AF_INET6),
	{ .syscall = "socket", .err = EAFNOSUPPORT, .cmp = SANDBOX_EQ, .arg = 0,
	  .value = AF_UNIX },
	SANDBOX_ALLOW("connect"),
	SANDBOX_ALLOW("bind"),
	SANDBOX_ALLOW("listen"),
	SANDBOX_ALLOW("accept"),
	SANDBOX_ALLOW("accept4"),
	SANDBOX_ALLOW("shutdown"),
	SANDBOX_ALLOW("setsockopt"),
	SANDBOX_ALLOW("getsockopt"),
	SANDBOX_ALLOW("getsockname"),
	SANDBOX_ALLOW("getpeername"),
	SANDBOX_ALLOW("sendto"),
	SANDBOX_ALLOW("recvfrom"),
	SANDBOX_ALLOW_EQ("ioctl", 1, FIONREAD),
	SANDBOX_ALLOW_EQ("ioctl", 1, SIOCGIFINDEX),
	SANDBOX_ALLOW("timerfd_settime"),
	/* Reading /etc/resolv.conf: read-only opens, stat, lseek. */
	SANDBOX_ALLOW_MASKED("openat", 2, O_ACCMODE | O_CREAT | O_TRUNC, O_RDONLY),
	SANDBOX_ALLOW("newfstatat"),
	SANDBOX_ALLOW("lseek"),
};

static const char *const slirp_files[] = { "/etc/resolv.conf", NULL };

const struct device_sandbox net_slirp_sandbox = {
	SANDBOX_RULES(slirp_rules),
	.host_net = true,
	.ro_files = slirp_files,
	.max_files = 1024, /* a socket per guest connection */
	.heap_mib = 256,   /* socket buffers */
};

static const struct net_backend_ops slirp_ops = {
	.send = slirp_send,
	.flush = slirp_flush,
	.rx_ready = slirp_rx_ready,
	.destroy = slirp_destroy,
};

static Slirp *new_stack(struct net_slirp *s)
{
	SlirpConfig c = { .version = 4, .in_enabled = true, .in6_enabled = true };

	inet_pton(AF_INET, "10.0.2.0", &c.vnetwork);
	inet_pton(AF_INET, "255.255.255.0", &c.vnetmask);
	inet_pton(AF_INET, "10.0.2.2", &c.vhost);
	inet_pton(AF_INET, "10.0.2.15", &c.vdhcp_start);
	inet_pton(AF_INET, "10.0.2.3", &c.vnameserver);
	inet_pton(AF_INET6, "fec0::", &c.vprefix_addr6);
	c.vprefix_len = 64;
	inet_pton(AF_INET6, "fec0::2", &c.vhost6);
	inet_pton(AF_INET6, "fec0::3", &c.vnameserver6);
	return s->lib.new_stack(&c, &slirp_callbacks, s);
}

static int add_hostfwds(struct net_slirp *s, const struct net_config *cfg)
{
	struct in_addr guest_default;

	inet_pton(AF_INET, "10.0.2.15", &guest_default);
	for (unsigned i = 0; i < cfg->nhostfwd; i++) {
		const struct net_hostfwd *h = &cfg->hostfwd[i];
		struct in_addr guest = h->guest_addr.s_addr ? h->guest_addr : guest_default;

		if (s->lib.add_hostfwd(s->slirp, h->udp, h->host_addr, h->host_port, guest,
				      h->guest_port) < 0) {
			log_error(s->log, "virtio-net: cannot forward host %s port %u: %s",
				  h->udp ? "udp" : "tcp", h->host_port, strerror(errno));
			return -EADDRINUSE;
		}
	}
	return 0;
}

static int slirp_setup(struct net_slirp *s, const struct net_config *cfg,
		       const struct lib_loader *loader)
{
	int err = slirp_lib_load(&s->lib, loader, s->log);

	if (err)
		return err;
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (s->epfd < 0)
		return -errno;
	s->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (s->timer_fd < 0)
		return -errno;
	s->txbuf = malloc(NET_MAX_FRAME);
	s->slirp = s->txbuf ? new_stack(s) : NULL;
	if (!s->slirp)
		return -ENOMEM;
	err = add_hostfwds(s, cfg);
	if (err)
		return err;
	s->ep_watch = (struct ev_watch){ s->epfd, on_sockets, s };
	s->timer_watch = (struct ev_watch){ s->timer_fd, on_timer, s };
	err = evloop_add(s->loop, &s->ep_watch, EPOLLIN);
	if (err)
		return err;
	s->ep_added = true;
	err = evloop_add(s->loop, &s->timer_watch, EPOLLIN);
	if (err)
		return err;
	s->timer_added = true;
	cycle_soon(s);
	return 0;
}

int net_slirp_create(const struct net_config *cfg, const struct net_peer *peer,
		     struct evloop *loop, const struct logger *log, struct net_backend **out)
{
	return net_slirp_create_with(&lib_loader_dl, cfg, peer, loop, log, out);
}

int net_slirp_create_with(const struct lib_loader *loader, const struct net_config *cfg,
			  const struct net_peer *peer, struct evloop *loop,
			  const struct logger *log, struct net_backend **out)
{
	struct net_slirp *s = calloc(1, sizeof(*s));
	int err;

	if (!s)
		return -ENOMEM;
	s->be = (struct net_backend){ .ops = &slirp_ops, .rx_csum_complete = true,
				      .peer = *peer };
	s->log = log;
	s->loop = loop;
	s->rxq_tail = &s->rxq;
	s->epfd = s->timer_fd = -1;
	err = slirp_setup(s, cfg, loader);
	if (err) {
		slirp_destroy(&s->be);
		return err;
	}
	*out = &s->be;
	return 0;
}
